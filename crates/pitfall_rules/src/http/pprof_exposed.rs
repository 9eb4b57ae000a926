//! pprof endpoints reachable on a public listener.
use crate::prelude::*;
use pitfall_go::http_facts::{self, is_loopback_addr, ServeSite};
use pitfall_go::types::{Env, Scope};

pub static RULE: Rule = Rule {
    name: "pprof-exposed",
    category: Category::Http,
    severity: Severity::Error,
    summary: "net/http/pprof handlers served on a non-loopback address",
    reports_on: "the `net/http/pprof` import (DefaultServeMux case) or the explicit pprof handler registration (custom mux case)",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
Importing `net/http/pprof` registers `/debug/pprof/*` on `http.DefaultServeMux`.
This rule reports the import when the same package serves the DefaultServeMux
(`http.ListenAndServe(addr, nil)`, `ListenAndServeTLS(..., nil)`,
`http.Serve(l, nil)`, or an `http.Server` without a `Handler`) on a literal or
constant address that is not loopback — the serving call may be in another file of
the package. It also reports explicit registrations such as
`mux.HandleFunc("/debug/pprof/", pprof.Index)` on a mux that is served on such an
address. Addresses like `localhost:6060`, `127.0.0.1:6060` or `[::1]:6060` are
fine; an address pitfall cannot read (flags, environment) is not reported.

## Why it matters in production
Anyone who can reach the port can download heap dumps (with secrets in memory),
read command lines, and start 30-second CPU profiles or execution traces that
slow the service down — a free denial-of-service and information leak.

## Bad
```go
import _ "net/http/pprof"

func main() {
	http.HandleFunc("/orders", listOrders)
	log.Fatal(http.ListenAndServe(":8080", nil))
}
```

## Good
```go
import _ "net/http/pprof"

func main() {
	go func() { log.Print(http.ListenAndServe("localhost:6060", nil)) }()
	api := http.NewServeMux()
	api.HandleFunc("/orders", listOrders)
	srv := &http.Server{Addr: ":8080", Handler: api, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
```

## How to fix
Serve the application on its own `http.ServeMux`, and serve pprof (the
DefaultServeMux, or a dedicated debug mux) on a loopback address reached with
`kubectl port-forward`, or behind authentication.

## How to suppress
`//nolint:pprof-exposed // reason` on the line, or on its own line before the
statement/function; `//nolint:http` for the whole category; see `pitfall rule`.
"#,
    check: Check::Go(check),
};

const PPROF: &str = "net/http/pprof";

fn check(cx: &mut Checker) {
    if !cx.file.imports(PPROF) {
        return;
    }
    // 1. The import registers /debug/pprof/ on DefaultServeMux.
    if let Some(addr) = cx.package_fact::<PublicDefaultMux>().0.clone() {
        let spans: Vec<Span> = cx.file.ast.imports.iter().filter(|i| i.path == PPROF).map(|i| i.span).collect();
        for span in spans {
            cx.report(
                span,
                format!("net/http/pprof registers /debug/pprof/ on DefaultServeMux, which this package serves on {addr:?}: profiles and heap dumps are public"),
            )
            .fix("serve your API on its own http.ServeMux and DefaultServeMux (pprof) on a loopback address such as \"localhost:6060\"");
        }
    }
    // 2. pprof handlers registered on a custom mux served on a public address.
    let file = cx.file;
    for decl in &file.ast.decls {
        let Decl::Func(fd) = decl else { continue };
        let env = cx.env_at(fd.span.start);
        let sc = cx.scope();
        let sites = http_facts::serve_sites(&sc, &env, Node::FuncDecl(fd));
        let mut found = Vec::new();
        walk::walk(Node::FuncDecl(fd), &mut |n, _| {
            let Node::Expr(Expr::Call(call)) = n else { return true };
            let Some(mux) = pprof_registration(&sc, &env, call) else { return true };
            let Some(mux_decl) = env.resolve(mux).map(|b| b.decl) else { return true };
            let served = sites.iter().find_map(|site| {
                let h = site.handler?.as_ident()?;
                if env.resolve(h).map(|b| b.decl) != Some(mux_decl) {
                    return None;
                }
                public_addr(site)
            });
            if let Some(addr) = served {
                found.push((call.span, mux.name.clone(), addr));
            }
            true
        });
        for (span, mux, addr) in found {
            cx.report(span, format!("pprof handler registered on `{mux}`, which is served on {addr:?}: profiles and heap dumps are public"))
                .fix(format!("register pprof on a separate mux served on a loopback address (e.g. \"localhost:6060\"), not on `{mux}`"));
        }
    }
}

/// The listen address when some non-test file of the package serves the
/// DefaultServeMux on a readable, non-loopback address (the first in file
/// order); computed once per package.
struct PublicDefaultMux(Option<String>);

impl PackageFact for PublicDefaultMux {
    fn compute<'a>(pkg: &'a Package<'a>, project: &'a ProjectIndex<'a>) -> Self {
        let addr = pkg
            .files()
            .iter()
            .filter(|f| !f.is_test)
            .find_map(|file| public_default_mux_in_file(&Scope { project, pkg, file }));
        PublicDefaultMux(addr)
    }
}

fn public_default_mux_in_file<'a>(sc: &Scope<'a>) -> Option<String> {
    for decl in &sc.file.ast.decls {
        let Decl::Func(fd) = decl else { continue };
        let env = Env::build(sc, Node::FuncDecl(fd));
        let sites = http_facts::serve_sites(sc, &env, Node::FuncDecl(fd));
        for site in sites {
            if !site.default_mux {
                continue;
            }
            if site.kind == http_facts::ServeKind::ServerLiteral && assigns_handler_later(fd, site.span) {
                continue;
            }
            if let Some(addr) = public_addr(&site) {
                return Some(addr);
            }
        }
    }
    None
}

/// A readable address that is not loopback.
fn public_addr(site: &ServeSite) -> Option<String> {
    let addr = site.addr.as_ref()?;
    (is_loopback_addr(addr) == Some(false)).then(|| addr.clone())
}

/// Whether the function sets a `.Handler` field after the server literal.
fn assigns_handler_later(fd: &FuncDecl, lit: Span) -> bool {
    let mut found = false;
    walk::walk(Node::FuncDecl(fd), &mut |n, _| {
        if let Node::Stmt(Stmt::Assign(a)) = n {
            if a.span.start > lit.start && a.lhs.iter().any(|l| l.as_selector().is_some_and(|s| s.sel.name == "Handler")) {
                found = true;
            }
        }
        !found
    });
    found
}

/// The mux variable when `call` is `mux.HandleFunc(pattern, pprof.X)` or
/// `mux.Handle(pattern, pprof.Handler(name))`.
fn pprof_registration<'a>(sc: &Scope<'a>, env: &Env<'a>, call: &'a CallExpr) -> Option<&'a Ident> {
    let method = call.method_name()?;
    if !matches!(method, "HandleFunc" | "Handle") {
        return None;
    }
    let mux = call.receiver()?.as_ident()?;
    env.resolve(mux)?;
    let handler = call.args.get(1)?;
    let is_pprof = match handler.unparen() {
        Expr::Call(inner) => env.pkg_member(sc.file, &inner.fun).is_some_and(|(p, _)| p == PPROF),
        e => env.pkg_member(sc.file, e).is_some_and(|(p, _)| p == PPROF),
    };
    is_pprof.then_some(mux)
}
