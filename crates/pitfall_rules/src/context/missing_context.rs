//! Calls that have a context-taking twin, in request-serving code.
use crate::prelude::*;
use pitfall_go::ctxflow;

pub static RULE: Rule = Rule {
    name: "missing-context",
    category: Category::Context,
    severity: Severity::Warning,
    summary: "call without a context where a context-taking twin exists (QueryContext, NewRequestWithContext, ...)",
    reports_on: "the call",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
Calls that cannot be cancelled although the library offers a twin that takes a
`context.Context`:

| call | twin |
|---|---|
| `sql.DB`/`Tx`/`Conn`/`Stmt` `Query`, `QueryRow`, `Exec`, `Prepare`, `Ping`; `DB.Begin`; `Tx.Stmt` | `QueryContext`, `QueryRowContext`, `ExecContext`, `PrepareContext`, `PingContext`; `BeginTx`; `StmtContext` |
| `http.Get`, `Head`, `Post`, `PostForm` and the same methods of `*http.Client` | `http.NewRequestWithContext` + `Client.Do` |
| `http.NewRequest` | `http.NewRequestWithContext` |
| `net.Dial`, `net.DialTimeout`, `tls.Dial`, `tls.DialWithDialer` | `net.Dialer.DialContext`, `tls.Dialer.DialContext` |
| `net.Listen`, `net.ListenPacket` | `net.ListenConfig.Listen`, `ListenPacket` |
| `tls.Conn.Handshake` | `tls.Conn.HandshakeContext` |
| `net.LookupHost`, `LookupIP`, `LookupAddr`, ... | the same methods of `net.Resolver` (`net.DefaultResolver.LookupHost(ctx, ...)`) |
| `exec.Command` | `exec.CommandContext` |

HTTP requests and SQL calls wait on another service, so they are reported in all
service code, context at hand or not: a helper without a context parameter is
where the chain of cancellation breaks, and the fix is a `ctx` parameter. Dials,
listens, DNS lookups, TLS handshakes and `exec.Command` are reported only where a
context is at hand (a `context.Context` parameter, the `*http.Request`, or a
local context variable in scope): libraries and tools often have none to pass.
Everywhere, `main` and `init` of package `main` and the functions reachable only
from them, `_test.go` files and test-helper packages (a package whose functions
take `*testing.T`) are skipped, and so is a package named for test support (its
name starts with `test`: `testutil`, `testhelpers`) that no non-test file of another
package imports. A package function reached through a local name
(`get := http.Get; get(u)`) is the same call. The message names the twin to use.

## Why it matters in production
Without a context, a slow database, DNS server or upstream keeps the goroutine
busy after the client has gone and after the request's deadline: connections and
goroutines pile up exactly when a dependency is struggling, and shutdown has to
wait for them.

## Bad
```go
func (s *Server) handleUser(w http.ResponseWriter, r *http.Request) {
	row := s.db.QueryRow("SELECT name FROM users WHERE id = $1", r.PathValue("id"))
	// ...
}
```

## Good
```go
func (s *Server) handleUser(w http.ResponseWriter, r *http.Request) {
	row := s.db.QueryRowContext(r.Context(), "SELECT name FROM users WHERE id = $1", r.PathValue("id"))
	// ...
}
```

## How to fix
Call the twin and pass the request's context (`r.Context()`, or the `ctx` your
function receives). If the function has no context, add a `ctx context.Context`
parameter and thread it from the caller.

## Compared with noctx
noctx reports every such call wherever it is. pitfall skips startup code (reachable
only from `main`/`init`), test code, and dials, lookups and commands where no
context is at hand; it also does not report `httptest.NewRequest` (test code by
purpose) or a package-level variable holding `http.NewRequest`.

## How to suppress
`//nolint:missing-context // bounded by the driver's own timeout` on the reported
line, or on its own line before the statement or the function; `//nolint:context`
for the whole category.
"#,
    check: Check::Go(check),
};

const SQL_TYPES: &[&str] = &["DB", "Tx", "Conn", "Stmt"];

fn sql_twin(method: &str, ty: &str) -> Option<&'static str> {
    Some(match method {
        "Query" => "QueryContext",
        "QueryRow" => "QueryRowContext",
        "Exec" => "ExecContext",
        "Prepare" if ty != "Stmt" => "PrepareContext",
        "Ping" if ty == "DB" => "PingContext",
        "Begin" if ty == "DB" => "BeginTx",
        "Stmt" if ty == "Tx" => "StmtContext",
        _ => return None,
    })
}

/// Where a call without its context twin is reported.
#[derive(Clone, Copy, PartialEq)]
enum Reach {
    /// Requests and queries: in all service code (every function not
    /// reachable only from `main`/`init`), context at hand or not — a call
    /// that waits on another service must be cancellable.
    Service,
    /// Dials, listens, DNS lookups, handshakes and commands: only where a
    /// context is at hand (a parameter, the request, or a local context), as
    /// libraries and tools often have none to pass.
    CtxAtHand,
}

struct Twin {
    what: String,
    twin: &'static str,
    reach: Reach,
}

fn check(cx: &mut Checker) {
    // Cheap filter before any type inference.
    if !["database/sql", "net/http", "net", "crypto/tls", "os/exec"]
        .iter()
        .any(|p| cx.file.imports(p))
    {
        return;
    }
    if test_support_package(cx) {
        return;
    }
    for (span, msg, fix) in find(cx) {
        cx.report(span, msg).fix(fix);
    }
}

/// The function a call calls: `fun` itself, or the package function or method
/// value a local name was initialised with (`get := http.Get; get(u)`).
fn callee<'a>(cx: &Checker<'a>, fun: &'a Expr) -> &'a Expr {
    if let Expr::Ident(id) = fun.unparen() {
        let env = cx.env_at(id.span.start);
        if let Some(init) = env.resolve(id).and_then(|b| b.init) {
            if matches!(init.unparen(), Expr::Selector(_)) {
                return init;
            }
        }
    }
    fun
}

fn twin<'a>(cx: &Checker<'a>, call: &'a CallExpr) -> Option<Twin> {
    let fun = callee(cx, &call.fun);
    if let Some((pkg, name)) = cx.pkg_member(fun) {
        use Reach::*;
        let (t, reach) = match (pkg, name) {
            ("net/http", "Get" | "Head" | "Post" | "PostForm") => {
                ("http.NewRequestWithContext and Client.Do", Service)
            }
            ("net/http", "NewRequest") => ("http.NewRequestWithContext", Service),
            ("net", "Dial" | "DialTimeout") => ("net.Dialer.DialContext", CtxAtHand),
            ("crypto/tls", "Dial" | "DialWithDialer") => ("tls.Dialer.DialContext", CtxAtHand),
            ("net", "Listen" | "ListenPacket") => ("the net.ListenConfig method of the same name", CtxAtHand),
            ("net", n) if n.starts_with("Lookup") => {
                ("the net.Resolver method of the same name", CtxAtHand)
            }
            ("os/exec", "Command") => ("exec.CommandContext", CtxAtHand),
            _ => return None,
        };
        let short = pkg.rsplit('/').next().unwrap_or(pkg);
        return Some(Twin {
            what: format!("{short}.{name}"),
            twin: t,
            reach,
        });
    }
    let Expr::Selector(sel) = fun.unparen() else {
        return None;
    };
    let method = sel.sel.name.as_str();
    let recv = cx.type_of(&sel.x);
    for ty in SQL_TYPES {
        if let Some(t) = sql_twin(method, ty) {
            if recv.is_named("database/sql", ty) {
                return Some(Twin {
                    what: format!("sql.{ty}.{method}"),
                    twin: t,
                    reach: Reach::Service,
                });
            }
        }
    }
    if recv.is_named("net/http", "Client")
        && ["Get", "Head", "Post", "PostForm"].contains(&method)
    {
        return Some(Twin {
            what: format!("http.Client.{method}"),
            twin: "http.NewRequestWithContext and Client.Do",
            reach: Reach::Service,
        });
    }
    if recv.is_named("crypto/tls", "Conn") && method == "Handshake" {
        return Some(Twin {
            what: "tls.Conn.Handshake".into(),
            twin: "tls.Conn.HandshakeContext",
            reach: Reach::CtxAtHand,
        });
    }
    None
}

/// A context the code at `pos` could pass: a context parameter or the
/// request of the enclosing function, else a local context variable in scope.
fn context_at_hand<'a>(cx: &Checker<'a>, fd: &'a FuncDecl, func: Option<Func<'a>>, pos: u32) -> Option<String> {
    let sc = cx.scope();
    let param = func
        .and_then(|f| ctxflow::context_params(&sc, f.ty()).first().copied())
        .or_else(|| ctxflow::context_params(&sc, &fd.ty).first().copied());
    match param {
        Some((p, true)) => return Some(format!("`{}.Context()`", p.name)),
        Some((p, false)) => return Some(format!("`{}`", p.name)),
        None => {}
    }
    let env = cx.env_at(pos);
    env.bindings()
        .iter()
        .filter(|b| b.scope.contains(pos) && b.decl.start <= pos)
        .find(|b| b.ty.is_named("context", "Context"))
        .map(|b| format!("`{}`", b.name))
}

fn find<'a>(cx: &Checker<'a>) -> Vec<(Span, String, String)> {
    let file: &'a pitfall_go::GoFile = cx.file;
    let mut out = Vec::new();
    let mut startup = None;
    for decl in &file.ast.decls {
        let Decl::Func(fd) = decl else { continue };
        let mut hits = Vec::new();
        walk::calls(Node::FuncDecl(fd), &mut |c, anc| {
            if let Some(t) = twin(cx, c) {
                hits.push((c, t, walk::enclosing_func(anc)));
            }
        });
        if hits.is_empty() {
            continue;
        }
        if fd.recv.is_none() {
            let startup = startup.get_or_insert_with(|| ctxflow::startup_only_funcs(cx.pkg));
            if startup.contains(fd.name.name.as_str()) {
                continue;
            }
        }
        for (c, t, func) in hits {
            let pass = match (context_at_hand(cx, fd, func, c.span.start), t.reach) {
                (Some(pass), _) => format!("call {} with {pass}", t.twin),
                // Service code with no context at hand: the function should
                // take one from its caller.
                (None, Reach::Service) => format!(
                    "add a `ctx context.Context` parameter, pass it from the caller and call {}",
                    t.twin
                ),
                (None, Reach::CtxAtHand) => continue,
            };
            out.push((
                c.span,
                format!(
                    "{} cannot be cancelled: use {} so the caller's deadline and cancellation reach it",
                    t.what, t.twin
                ),
                pass,
            ));
        }
    }
    out
}

/// A test-support package that takes no `*testing.T`: its name says so
/// (`testutil`, `testhelpers`, `testenv`: it starts with `test`) and no
/// non-test file of another package of the run imports it. Its requests are
/// made by tests only.
fn test_support_package(cx: &Checker) -> bool {
    if !cx.pkg.src.name.starts_with("test") {
        return false;
    }
    let path = cx.pkg.import_path();
    !cx.project
        .graph()
        .packages()
        .iter()
        .any(|p| p.import_path != path && p.imports.iter().any(|i| i == path))
}
