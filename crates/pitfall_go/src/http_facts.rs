//! Facts about `net/http` servers that several rules share: which calls serve
//! HTTP, on which address, with which handler, and whether an address is
//! loopback-only.
//!
//! Everything here reads syntax only. An address is known only when it is a
//! string literal, a constant, or a local initialised from one; whatever cannot
//! be read is `None`, and rules treat that as "stay silent".

use crate::ast::*;
use crate::types::{Env, Scope};
use crate::walk::{self, Node};

/// Whether a `host:port` listen address only accepts connections from the
/// machine itself. `None` when the text is not a `host:port` address.
pub fn is_loopback_addr(addr: &str) -> Option<bool> {
    let colon = addr.rfind(':')?;
    let host = &addr[..colon];
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let host = host.to_ascii_lowercase();
    Some(
        host == "localhost"
            || host.ends_with(".localhost")
            || host == "::1"
            || host.starts_with("127.")
            || host == "0:0:0:0:0:0:0:1",
    )
}

/// The value of a string expression when pitfall can read it: a literal, a
/// constant of the package, a local initialised from one (`addr := ":8080"`),
/// or a `+` of those.
pub fn const_string<'a>(sc: &Scope<'a>, env: &Env<'a>, e: &'a Expr) -> Option<String> {
    const_string_depth(sc, env, e, 0)
}

fn const_string_depth<'a>(
    sc: &Scope<'a>,
    env: &Env<'a>,
    e: &'a Expr,
    depth: u32,
) -> Option<String> {
    if depth > 8 {
        return None;
    }
    match e.unparen() {
        Expr::BasicLit(l) => l.string_value(),
        Expr::Binary(b) if b.op == "+" => Some(
            const_string_depth(sc, env, &b.x, depth + 1)?
                + &const_string_depth(sc, env, &b.y, depth + 1)?,
        ),
        Expr::Ident(id) => {
            if let Some(b) = env.resolve(id) {
                // A local: only a `:=`/`var` initialiser that nothing reassigns
                // is trusted; the caller's env has no record of assignments, so
                // accept literals only (flags and env lookups are calls).
                let init = b.init?;
                return match init.unparen() {
                    Expr::BasicLit(_) | Expr::Binary(_) => {
                        const_string_depth(sc, &Env::default(), init, depth + 1)
                    }
                    Expr::Ident(_) => const_string_depth(sc, env, init, depth + 1),
                    _ => None,
                };
            }
            let def = sc.pkg.vars.get(id.name.as_str())?;
            if !def.is_const {
                return None;
            }
            let v = def.spec.values.get(def.index)?;
            let fsc = Scope {
                file: def.file,
                ..*sc
            };
            const_string_depth(&fsc, &Env::default(), v, depth + 1)
        }
        _ => None,
    }
}

/// How a server is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServeKind {
    /// `http.ListenAndServe` / `http.ListenAndServeTLS`.
    ListenHelper,
    /// `http.Serve` / `http.ServeTLS` on a listener.
    ServeHelper,
    /// An `http.Server{...}` composite literal.
    ServerLiteral,
}

/// One place that serves HTTP.
#[derive(Debug)]
pub struct ServeSite<'a> {
    pub kind: ServeKind,
    /// The call, or the composite literal.
    pub span: Span,
    /// The listen address when it can be read (for `Serve`, the address of a
    /// `net.Listen`/`tls.Listen` in the same function that made the listener).
    pub addr: Option<String>,
    /// The handler expression; `None` when it is `nil` or absent, i.e. the
    /// DefaultServeMux.
    pub handler: Option<&'a Expr>,
    /// Whether the handler is the DefaultServeMux (`nil`, absent, or
    /// `http.DefaultServeMux`).
    pub default_mux: bool,
}

/// Every serving site under `root` (a function declaration), with `env` built
/// for that declaration.
pub fn serve_sites<'a>(sc: &Scope<'a>, env: &Env<'a>, root: Node<'a>) -> Vec<ServeSite<'a>> {
    let mut out = Vec::new();
    walk::walk(root, &mut |n, _| {
        let Node::Expr(e) = n else { return true };
        match e {
            Expr::Call(call) => {
                let Some(("net/http", name)) = env.pkg_member(sc.file, &call.fun) else {
                    return true;
                };
                let (kind, handler_idx) = match name {
                    "ListenAndServe" => (ServeKind::ListenHelper, 1),
                    "ListenAndServeTLS" => (ServeKind::ListenHelper, 3),
                    "Serve" | "ServeTLS" => (ServeKind::ServeHelper, 1),
                    _ => return true,
                };
                let Some(handler) = call.args.get(handler_idx) else {
                    return true;
                };
                let addr = match (kind, call.args.first()) {
                    (ServeKind::ListenHelper, Some(a)) => const_string(sc, env, a),
                    (ServeKind::ServeHelper, Some(l)) => listener_addr(sc, env, root, l),
                    _ => None,
                };
                let default_mux = is_default_mux(sc, env, handler);
                out.push(ServeSite {
                    kind,
                    span: call.span,
                    addr,
                    handler: (!default_mux).then_some(handler),
                    default_mux,
                });
            }
            Expr::CompositeLit(lit) => {
                let Some(ty) = &lit.ty else { return true };
                if !is_http_server_type(sc, ty) {
                    return true;
                }
                let addr = field(lit, "Addr").and_then(|a| const_string(sc, env, a));
                let handler = field(lit, "Handler");
                let default_mux = match handler {
                    None => true,
                    Some(h) => is_default_mux(sc, env, h),
                };
                out.push(ServeSite {
                    kind: ServeKind::ServerLiteral,
                    span: lit.span,
                    addr,
                    handler: if default_mux { None } else { handler },
                    default_mux,
                });
            }
            _ => {}
        }
        true
    });
    out
}

/// Whether a type expression names `net/http.Server`.
pub fn is_http_server_type<'a>(sc: &Scope<'a>, ty: &'a Expr) -> bool {
    matches!(
        sc.type_expr(ty),
        crate::types::Ty::Named("net/http", "Server")
    )
}

/// The value of keyed field `name` in a composite literal.
pub fn field<'a>(lit: &'a CompositeLit, name: &str) -> Option<&'a Expr> {
    lit.elts.iter().find_map(|e| match e {
        Expr::KeyValue(kv) if kv.key.ident_name() == Some(name) => Some(&kv.value),
        _ => None,
    })
}

fn is_default_mux<'a>(sc: &Scope<'a>, env: &Env<'a>, h: &'a Expr) -> bool {
    if let Some(id) = h.as_ident() {
        return id.name == "nil" && env.resolve(id).is_none();
    }
    env.pkg_member(sc.file, h) == Some(("net/http", "DefaultServeMux"))
}

/// The address of the listener `l`, when `l` is a local assigned from
/// `net.Listen(network, addr)` / `tls.Listen(network, addr, cfg)` in `root`.
fn listener_addr<'a>(sc: &Scope<'a>, env: &Env<'a>, root: Node<'a>, l: &'a Expr) -> Option<String> {
    listener_addr_expr(sc, env, root, l).and_then(|a| const_string(sc, env, a))
}

/// The address expression given to `net.Listen`/`tls.Listen` when the
/// listener `l` is a local assigned exactly once, from such a call, in `root`.
pub fn listener_addr_expr<'a>(
    sc: &Scope<'a>,
    env: &Env<'a>,
    root: Node<'a>,
    l: &'a Expr,
) -> Option<&'a Expr> {
    let id = l.as_ident()?;
    let binding = env.resolve(id)?;
    let mut addr = None;
    let mut assignments = 0;
    walk::walk(root, &mut |n, _| {
        if let Node::Stmt(Stmt::Assign(a)) = n {
            let Some(first) = a.lhs.first().and_then(|x| x.as_ident()) else {
                return true;
            };
            if first.name != id.name || env.resolve(first).map(|b| b.decl) != Some(binding.decl) {
                return true;
            }
            assignments += 1;
            if let [rhs] = a.rhs.as_slice() {
                if let Some(call) = rhs.as_call() {
                    if matches!(
                        env.pkg_member(sc.file, &call.fun),
                        Some(("net" | "crypto/tls", "Listen"))
                    ) {
                        addr = call.args.get(1);
                    }
                }
            }
        }
        true
    });
    if assignments == 1 {
        addr
    } else {
        None
    }
}

/// Whether an address expression is loopback as far as pitfall can tell: a
/// readable loopback constant, or a command-line flag whose default is one
/// (`*httpAddr` with `var httpAddr = flag.String("http", "localhost:0", ...)`).
/// Used only to keep rules quiet, never to report.
pub fn looks_loopback<'a>(sc: &Scope<'a>, env: &Env<'a>, e: &'a Expr) -> bool {
    if let Some(a) = const_string(sc, env, e) {
        return is_loopback_addr(&a) == Some(true);
    }
    let Expr::Star(star) = e.unparen() else {
        return false;
    };
    let Some(id) = star.x.as_ident() else {
        return false;
    };
    if env.resolve(id).is_some() {
        return false;
    }
    let Some(def) = sc.pkg.vars.get(id.name.as_str()) else {
        return false;
    };
    let Some(init) = def.spec.values.get(def.index).and_then(|v| v.as_call()) else {
        return false;
    };
    let fsc = Scope {
        file: def.file,
        ..*sc
    };
    let empty = Env::default();
    if !matches!(
        empty.pkg_member(def.file, &init.fun),
        Some(("flag", "String"))
    ) {
        return false;
    }
    init.args
        .get(1)
        .and_then(|d| const_string(&fsc, &empty, d))
        .is_some_and(|a| is_loopback_addr(&a) == Some(true))
}

#[cfg(test)]
mod tests {
    use super::is_loopback_addr;

    #[test]
    fn loopback_addresses() {
        assert_eq!(is_loopback_addr("localhost:6060"), Some(true));
        assert_eq!(is_loopback_addr("127.0.0.1:6060"), Some(true));
        assert_eq!(is_loopback_addr("[::1]:6060"), Some(true));
        assert_eq!(is_loopback_addr(":8080"), Some(false));
        assert_eq!(is_loopback_addr("0.0.0.0:8080"), Some(false));
        assert_eq!(is_loopback_addr("[::]:8080"), Some(false));
        assert_eq!(is_loopback_addr("8080"), None);
    }
}
