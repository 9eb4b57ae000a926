//! Finds `log.Fatal*` / `os.Exit` in the body a `go` statement runs.
use crate::prelude::*;
use pitfall_go::types::{Env, Scope};
use pitfall_go::exits::is_process_exit;
use pitfall_go::index::{Package, ProjectIndex};
use pitfall_go::walk::{walk, walk_body};

pub static RULE: Rule = Rule {
    name: "fatal-in-goroutine",
    category: Category::Goroutine,
    severity: Severity::Warning,
    summary: "log.Fatal or os.Exit inside a goroutine kills the process without graceful shutdown",
    reports_on: "the `log.Fatal*` / `os.Exit` / `(*log.Logger).Fatal*` call",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
A call to `os.Exit`, `log.Fatal`, `log.Fatalf`, `log.Fatalln` or `Fatal*` on a
`*log.Logger` directly in the body a `go` statement runs: a `go func() { ... }()`
literal, or a function or method of the same package started with `go name(...)` /
`go recv.method(...)`. Closures merely defined inside that body are not searched,
and `log.Panic*` is not reported (a panic can be recovered and runs the defers).
`t.Fatal` in a goroutine is go vet's `testinggoroutine` check. In `_test.go`
files, `os.Exit` (helper processes exit on purpose) and `Example` functions are
left alone. Reported on the exit call.

## Why it matters in production
Exiting from a background goroutine ends the process on the spot: `main`'s deferred
calls never run, so the HTTP server is not shut down gracefully (in-flight requests
get reset connections during a rollout), buffered logs and traces are not flushed,
and database transactions are cut. Kubernetes then sees a crash, not a clean stop.

## Bad
```go
func main() {
	defer tracer.Flush()
	srv := &http.Server{Addr: ":8080", Handler: mux}
	go func() {
		log.Fatal(srv.ListenAndServe())
	}()
	waitForSignal()
	srv.Shutdown(context.Background())
}
```
## Good
```go
func main() {
	defer tracer.Flush()
	srv := &http.Server{Addr: ":8080", Handler: mux}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		log.Printf("server stopped: %v", err)
	case <-signalled():
		srv.Shutdown(context.Background())
	}
}
```

## How to fix
Send the error back to the goroutine that owns the process (a channel, an
`errgroup.Group`, a cancel function) and let `main` return or exit after its
cleanup has run.

## How to suppress
`//nolint:fatal-in-goroutine // reason` on the line, or on its own line before the
statement/function; `//nolint:goroutine` for the whole category; see `pitfall rule`.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    let sc = cx.scope();
    let mut hits: Vec<(&CallExpr, String)> = Vec::new();

    // 1. `go func() { ... }()` literals of this file.
    for decl in &cx.file.ast.decls {
        if let Decl::Func(f) = decl {
            // Examples use log.Fatal as shorthand for "handle the error".
            if cx.file.is_test && f.recv.is_none() && f.name.name.starts_with("Example") {
                continue;
            }
        }
        for_each_root(decl, &mut |root| {
            let env = cx.env_at(root.span().start);
            walk(root, &mut |n, _| {
                if let Node::Stmt(Stmt::Go(g)) = n {
                    if let Some(Expr::FuncLit(lit)) = g.call.as_call().map(|c| c.fun.unparen()) {
                        let after = graceful_signal_exit(cx, root, lit);
                        for c in direct_exits(&sc, &env, &lit.body) {
                            if after.is_some_and(|at| c.span.start > at) {
                                continue;
                            }
                            hits.push((c, "a goroutine started by `go func() {...}()`".to_string()));
                        }
                    }
                }
                true
            });
        });
    }

    // 2. Functions and methods of this file that the package starts with `go`.
    let mut started: Option<std::sync::Arc<GoTargets>> = None;
    for decl in &cx.file.ast.decls {
        let Decl::Func(f) = decl else { continue };
        let Some(body) = &f.body else { continue };
        let env = cx.env_at(f.span.start);
        let exits = direct_exits(&sc, &env, body);
        if exits.is_empty() {
            continue;
        }
        let targets = &started.get_or_insert_with(|| cx.package_fact::<GoTargets>()).0;
        let me = Target { recv: f.recv_type_name().map(str::to_string), name: f.name.name.to_string() };
        let Some(t) = targets.iter().find(|t| **t == me) else { continue };
        let how = match &t.recv {
            Some(r) => format!("`{}`, which the package runs as a goroutine (`go x.{}(...)` on a {r})", t.name, t.name),
            None => format!("`{}`, which the package runs as a goroutine (`go {}(...)`)", t.name, t.name),
        };
        for c in exits {
            hits.push((c, how.clone()));
        }
    }

    for (call, where_) in hits {
        // Test helper processes exit from goroutines on purpose, with a chosen
        // code; log.Fatal in a test goroutine still kills the whole test binary.
        if cx.file.is_test && matches!(cx.pkg_member(&call.fun), Some(("os", "Exit"))) {
            continue;
        }
        let exit = cx.file.text(call.fun.span()).to_string();
        cx.report(call.span, format!("{exit} in {where_} ends the whole process: main's deferred cleanup and graceful shutdown never run"))
            .fix("send the error to the owner of the process (a channel, errgroup or cancel func) and let main shut down and exit");
    }
}

/// A signal handler that shuts down gracefully, then exits on purpose:
/// the goroutine waits for a channel registered with `signal.Notify` (or the
/// context of `signal.NotifyContext`) and then calls a `Shutdown`,
/// `GracefulStop`, `Stop` or `Close` method. Returns the position after which
/// an exit is that deliberate one.
fn graceful_signal_exit<'a>(cx: &Checker<'a>, root: Node<'a>, lit: &'a FuncLit) -> Option<u32> {
    if !cx.file.src.contains("signal.Notify") {
        return None;
    }
    // Variables that receive signals: `signal.Notify(ch, ...)`, `ctx, stop := signal.NotifyContext(...)`.
    let mut sig: Vec<String> = Vec::new();
    walk(root, &mut |n, _| {
        match n {
            Node::Expr(Expr::Call(c)) => {
                if matches!(cx.pkg_member(&c.fun), Some(("os/signal", "Notify"))) {
                    if let Some(name) = c.args.first().and_then(|a| a.ident_name()) {
                        sig.push(name.to_string());
                    }
                }
            }
            Node::Stmt(Stmt::Assign(a)) if a.rhs.len() == 1 => {
                if let Some(c) = a.rhs[0].as_call() {
                    if matches!(cx.pkg_member(&c.fun), Some(("os/signal", "NotifyContext"))) {
                        if let Some(name) = a.lhs.first().and_then(|l| l.ident_name()) {
                            sig.push(name.to_string());
                        }
                    }
                }
            }
            _ => {}
        }
        true
    });
    if sig.is_empty() {
        return None;
    }
    let is_sig = |e: &Expr| {
        let e = match e.unparen() {
            Expr::Call(c) if c.method_name() == Some("Done") => c.receiver(),
            e => Some(e),
        };
        e.and_then(|e| e.ident_name()).is_some_and(|n| sig.iter().any(|s| s == n))
    };
    let mut waited: Option<u32> = None;
    let mut shut: Option<u32> = None;
    walk_body(&lit.body, &mut |n, _| {
        match n {
            Node::Expr(Expr::Unary(u)) if u.op == "<-" && is_sig(&u.x) => {
                waited.get_or_insert(u.span.end);
            }
            Node::Stmt(Stmt::Range(r)) if is_sig(&r.x) => {
                waited.get_or_insert(r.x.span().end);
            }
            Node::Expr(Expr::Call(c))
                if matches!(c.method_name(), Some("Shutdown" | "GracefulStop" | "Stop" | "Close"))
                    && waited.is_some_and(|w| c.span.start > w) =>
            {
                shut.get_or_insert(c.span.end);
            }
            _ => {}
        }
        true
    });
    shut
}

/// Calls `f` with each function or package-level value spec of a declaration.
fn for_each_root<'a>(decl: &'a Decl, f: &mut dyn FnMut(Node<'a>)) {
    match decl {
        Decl::Func(d) => f(Node::FuncDecl(d)),
        Decl::Gen(g) => {
            for s in &g.specs {
                if let Spec::Value(v) = s {
                    f(Node::ValueSpec(v));
                }
            }
        }
        Decl::Bad(_) => {}
    }
}

/// Process exits directly in `body` (closures defined there are not entered).
fn direct_exits<'a>(sc: &Scope<'a>, env: &Env<'a>, body: &'a Block) -> Vec<&'a CallExpr> {
    let mut out = Vec::new();
    walk_body(body, &mut |n, _| {
        if let Node::Expr(Expr::Call(c)) = n {
            if is_process_exit(sc, env, c) {
                out.push(c.as_ref());
            }
        }
        true
    });
    out
}

/// A function (`recv` = None) or method of the package named in a `go` statement.
#[derive(PartialEq, Debug)]
struct Target {
    recv: Option<String>,
    name: String,
}

/// Every same-package function or method that some `go` statement of the
/// package starts (computed once per package). A method counts only when the
/// receiver's type is known.
struct GoTargets(Vec<Target>);

impl PackageFact for GoTargets {
    fn compute<'a>(pkg: &'a Package<'a>, project: &'a ProjectIndex<'a>) -> Self {
        GoTargets(go_targets(pkg, project))
    }
}

fn go_targets<'a>(pkg: &'a Package<'a>, project: &'a ProjectIndex<'a>) -> Vec<Target> {
    let mut out = Vec::new();
    for file in pkg.files() {
        if !file.src.contains("go ") {
            continue;
        }
        let sc = Scope { project, pkg, file };
        for decl in &file.ast.decls {
            for_each_root(decl, &mut |root| {
                let mut env: Option<Env> = None;
                walk(root, &mut |n, _| {
                    let Node::Stmt(Stmt::Go(g)) = n else { return true };
                    let Some(call) = g.call.as_call() else { return true };
                    let env = env.get_or_insert_with(|| Env::build(&sc, root));
                    match call.fun.unparen() {
                        Expr::Ident(id)
                            if env.resolve(id).is_none() && pkg.funcs.contains_key(id.name.as_str()) => {
                                out.push(Target { recv: None, name: id.name.to_string() });
                            }
                        Expr::Selector(sel) => {
                            if env.pkg_member(file, &call.fun).is_some() {
                                return true;
                            }
                            if let Ty::Named(path, tname) = env.type_of(&sc, &sel.x).deref() {
                                if *path == pkg.import_path() && pkg.methods.contains_key(&(*tname, sel.sel.name.as_str())) {
                                    out.push(Target { recv: Some(tname.to_string()), name: sel.sel.name.to_string() });
                                }
                            }
                        }
                        _ => {}
                    }
                    true
                });
            });
        }
    }
    out
}
