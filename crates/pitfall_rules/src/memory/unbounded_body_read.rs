//! Request bodies read whole into memory with no size limit.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "unbounded-body-read",
    category: Category::Memory,
    severity: Severity::Warning,
    summary: "Request body read or decoded without a size limit (one request can exhaust memory)",
    reports_on: "the `io.ReadAll` / `ioutil.ReadAll` / `json.NewDecoder` / `xml.NewDecoder` call",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
`io.ReadAll(r.Body)`, `ioutil.ReadAll(r.Body)`, `json.NewDecoder(r.Body)` and
`xml.NewDecoder(r.Body)` where `r` is a request the server received — a
`*http.Request` parameter of a handler (a function that also takes an
`http.ResponseWriter`, or a closure inside one), or of a package helper that
such a handler calls with its request — and nothing caps the body: no
`r.Body = http.MaxBytesReader(...)` earlier in the function, no `io.LimitReader` /
`http.MaxBytesReader` around the argument, and no body-limiting middleware in the
package (`http.MaxBytesHandler`, a wrapper that sets `r.Body = http.MaxBytesReader`
before `next.ServeHTTP`, a router's `RequestSize`/`BodyLimit`). Import aliases are
followed. Client-side bodies (`resp.Body`, a `RoundTrip` method's request) are not
reported. A `r.ContentLength` check is not a limit: chunked bodies have no length.
The finding is on the read or decoder call. Test code is skipped (`_test.go` files
and test-helper packages, whose functions take `*testing.T`), and so is a handler
written inside `httptest.NewServer(...)` (or `NewTLSServer`/`NewUnstartedServer`) in
any file: that server listens on loopback and its only client is the test.

## Why it matters in production
The server reads whatever the client sends. One request with a multi-gigabyte
(or never-ending chunked) body makes `ReadAll` grow its buffer until the pod is
OOM-killed, taking every other in-flight request with it. A JSON decoder on an
unlimited body has the same problem with one huge string or array.

## Bad
```go
func createInvoice(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read failed", http.StatusBadRequest)
		return
	}
	process(raw)
}
```

## Good
```go
const maxInvoiceBytes = 1 << 20

func createInvoice(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxInvoiceBytes)
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	process(raw)
}
```

## How to fix
Wrap the body with `http.MaxBytesReader(w, r.Body, limit)` before reading (it also
tells the server to close the connection when the limit is hit), or wrap the whole
router once with `http.MaxBytesHandler(mux, limit)`. Pick a limit that fits the
endpoint: small for JSON APIs, larger for uploads.

## How to suppress
`//nolint:unbounded-body-read // reason` on the line, or on its own line before the
statement/function; `//nolint:memory` for the whole category; see `pitfall rule`.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    let file = cx.file;
    let mut candidates = Vec::new();
    walk::walk_file(&file.ast, &mut |n, anc| {
        if let Node::Expr(Expr::Call(call)) = n {
            candidates.push((call, anc.to_vec()));
        }
        true
    });
    for (call, anc) in candidates {
        let Some((pkg, name)) = cx.pkg_member(&call.fun) else { continue };
        let reader = match (pkg, name) {
            ("io" | "io/ioutil", "ReadAll") => "ReadAll",
            ("encoding/json" | "encoding/xml", "NewDecoder") => "NewDecoder",
            _ => continue,
        };
        let Some(req) = call.args.first().and_then(|a| request_body_of(cx, a, &anc)) else { continue };
        if body_replaced_before(cx, req, call.span.start, &anc) || served_by_httptest(cx, &anc) {
            continue;
        }
        // Body-limiting middleware anywhere in the package caps every body.
        if cx.package_fact::<LimitsBodies>().0 {
            continue;
        }
        let callee = cx.file.text(call.fun.span()).to_string();
        let what = if reader == "ReadAll" { "reads" } else { "decodes" };
        cx.report(
            call.span,
            format!("{callee} {what} the whole body of request `{}` with no size limit; one large request can exhaust memory", req.name),
        )
        .fix(format!(
            "cap the body first: `{r}.Body = http.MaxBytesReader(w, {r}.Body, maxBytes)` (or wrap the router in http.MaxBytesHandler)",
            r = req.name
        ));
    }
}

/// `r` when `arg` is `r.Body` and `r` is a `*http.Request` parameter that the
/// server received: a parameter of a handler (a function that also takes an
/// `http.ResponseWriter`, or a closure inside one), or of a package function
/// that some handler of the package calls with its unlimited request.
/// A `RoundTrip` method or a request signer gets client requests: silent.
fn request_body_of<'a>(cx: &Checker<'a>, arg: &'a Expr, anc: &[Node<'a>]) -> Option<&'a Ident> {
    let sel = arg.as_selector()?;
    if sel.sel.name != "Body" {
        return None;
    }
    let req = sel.x.as_ident()?;
    let env = cx.env_at(req.span.start);
    let binding = env.resolve(req)?;
    if !binding.ty.is_named("net/http", "Request") {
        return None;
    }
    let funcs: Vec<Func<'a>> = anc.iter().filter_map(|n| n.as_func()).collect();
    let declaring = funcs.iter().position(|f| param_index(f.ty(), binding.decl).is_some())?;
    let sc = cx.scope();
    let is_handler = funcs[..=declaring].iter().any(|f| has_response_writer(&sc, f.ty()));
    if is_handler {
        return Some(req);
    }
    let Func::Decl(fd) = funcs[declaring] else { return None };
    if fd.recv.is_some() {
        return None;
    }
    let index = param_index(&fd.ty, binding.decl)?;
    let called = cx.package_fact::<UnlimitedHandlerCalls>();
    called.0.contains(&(fd.name.name.to_string(), index)).then_some(req)
}

/// Whether the read sits in a handler written inside an `httptest.NewServer(...)`
/// (`NewTLSServer`, `NewUnstartedServer`) call: a test server on a loopback
/// port, whose only client is the test that started it.
fn served_by_httptest<'a>(cx: &Checker<'a>, anc: &[Node<'a>]) -> bool {
    anc.iter().any(|n| match n {
        Node::Expr(Expr::Call(c)) => {
            cx.is_pkg_call(c, "net/http/httptest", &["NewServer", "NewTLSServer", "NewUnstartedServer"])
        }
        _ => false,
    })
}

/// Position of the parameter declared at `decl` (counting names).
fn param_index(ty: &FuncType, decl: Span) -> Option<usize> {
    ty.params.iter().flat_map(|p| p.names.iter()).position(|n| n.span == decl)
}

fn has_response_writer<'a>(sc: &pitfall_go::types::Scope<'a>, ty: &'a FuncType) -> bool {
    ty.params.iter().any(|p| sc.type_expr(&p.ty).is_named("net/http", "ResponseWriter"))
}

/// Every `(function name, argument position)` such that a non-test file of
/// the package calls package function `name` passing, at that position, the
/// request parameter of a handler that did not limit the body before the call.
/// Computed once per package.
struct UnlimitedHandlerCalls(std::collections::HashSet<(String, usize)>);

impl PackageFact for UnlimitedHandlerCalls {
    fn compute<'a>(pkg: &'a Package<'a>, project: &'a ProjectIndex<'a>) -> Self {
        let mut out = std::collections::HashSet::new();
        for file in pkg.files().iter().filter(|f| !f.is_test) {
            let sc = pitfall_go::types::Scope { project, pkg, file };
            for decl in &file.ast.decls {
                let Decl::Func(fd) = decl else { continue };
                // Cheap filter: a call of a plain name with a plain-name argument.
                let mut candidate = false;
                walk::calls(Node::FuncDecl(fd), &mut |c, _| {
                    candidate |= c.fun.as_ident().is_some() && c.args.iter().any(|a| a.as_ident().is_some());
                });
                if !candidate {
                    continue;
                }
                let env = pitfall_go::types::Env::build(&sc, Node::FuncDecl(fd));
                walk::walk(Node::FuncDecl(fd), &mut |n, anc| {
                    let Node::Expr(Expr::Call(c)) = n else { return true };
                    let Some(f) = c.fun.as_ident() else { return true };
                    if env.resolve(f).is_some() {
                        return true;
                    }
                    for (index, arg) in c.args.iter().enumerate() {
                        let Some(arg) = arg.as_ident() else { continue };
                        if out.contains(&(f.name.to_string(), index)) {
                            continue;
                        }
                        let Some(b) = env.resolve(arg) else { continue };
                        if !b.ty.is_named("net/http", "Request") {
                            continue;
                        }
                        let funcs: Vec<Func> = anc.iter().filter_map(|n| n.as_func()).collect();
                        let Some(declaring) = funcs.iter().position(|f| param_index(f.ty(), b.decl).is_some()) else {
                            continue;
                        };
                        if !funcs[..=declaring].iter().any(|f| has_response_writer(&sc, f.ty())) {
                            continue;
                        }
                        if !replaced_in(&env, funcs[declaring], b.decl, c.span.start) {
                            out.insert((f.name.to_string(), index));
                        }
                    }
                    true
                });
            }
        }
        UnlimitedHandlerCalls(out)
    }
}

/// Whether `req.Body` is assigned (e.g. `req.Body = http.MaxBytesReader(...)`)
/// before `pos` in the function that declares `req`.
fn body_replaced_before<'a>(cx: &Checker<'a>, req: &'a Ident, pos: u32, anc: &[Node<'a>]) -> bool {
    let env = cx.env_at(req.span.start);
    let Some(decl) = env.resolve(req).map(|b| b.decl) else { return false };
    let Some(func) = anc.iter().filter_map(|n| n.as_func()).find(|f| param_index(f.ty(), decl).is_some()) else {
        return false;
    };
    replaced_in(&env, func, decl, pos)
}

fn replaced_in(env: &pitfall_go::types::Env, func: Func, decl: Span, pos: u32) -> bool {
    let Some(body) = func.body() else { return false };
    let mut replaced = false;
    walk::walk(Node::Block(body), &mut |n, _| {
        if let Node::Stmt(Stmt::Assign(a)) = n {
            if a.span.start < pos && a.lhs.iter().any(|l| is_body_of(env, l, decl)) {
                replaced = true;
            }
        }
        !replaced
    });
    replaced
}

fn is_body_of(env: &pitfall_go::types::Env, e: &Expr, decl: Span) -> bool {
    let Some(sel) = e.as_selector() else { return false };
    sel.sel.name == "Body" && sel.x.as_ident().and_then(|id| env.resolve(id)).map(|b| b.decl) == Some(decl)
}

/// Whether the package installs body-limiting middleware: `http.MaxBytesHandler`,
/// a handler wrapper that sets `r.Body = http.MaxBytesReader(...)` and then calls
/// `next.ServeHTTP`, or a router's size-limit middleware (`RequestSize`,
/// `BodyLimit` from a `.../middleware` package). Computed once per package.
struct LimitsBodies(bool);

impl PackageFact for LimitsBodies {
    fn compute<'a>(pkg: &'a Package<'a>, _: &'a ProjectIndex<'a>) -> Self {
        LimitsBodies(package_limits_bodies(pkg))
    }
}

fn package_limits_bodies(pkg: &Package) -> bool {
    if pkg.calls_pkg_func("net/http", "MaxBytesHandler") {
        return true;
    }
    pkg.files().iter().filter(|f| !f.is_test).any(|file| {
        let mut limits = false;
        for decl in &file.ast.decls {
            let Decl::Func(fd) = decl else { continue };
            let mut sets_limit = false;
            let mut serves_next = false;
            walk::walk(Node::FuncDecl(fd), &mut |n, _| {
                match n {
                    Node::Stmt(Stmt::Assign(a)) => {
                        let lhs_body = a.lhs.iter().any(|l| l.as_selector().is_some_and(|s| s.sel.name == "Body"));
                        let rhs_limit = a.rhs.iter().any(|r| {
                            r.as_call().is_some_and(|c| file.pkg_member_unscoped(&c.fun) == Some(("net/http", "MaxBytesReader")))
                        });
                        sets_limit |= lhs_body && rhs_limit;
                    }
                    Node::Expr(Expr::Call(c)) => {
                        serves_next |= c.method_name() == Some("ServeHTTP") && c.receiver().is_some();
                        if let Some((path, name)) = file.pkg_member_unscoped(&c.fun) {
                            if path.ends_with("/middleware") && matches!(name, "RequestSize" | "BodyLimit") {
                                limits = true;
                            }
                        }
                    }
                    _ => {}
                }
                !limits
            });
            if limits || (sets_limit && serves_next) {
                return true;
            }
        }
        false
    })
}
