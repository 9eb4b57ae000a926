//! A service that serves HTTP/gRPC from `main` but never shuts down gracefully.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "missing-graceful-shutdown",
    category: Category::Http,
    severity: Severity::Warning,
    summary: "HTTP/gRPC server without graceful shutdown, or Shutdown without a deadline",
    reports_on: "the serving call (`ListenAndServe`/`Serve`), or the `Shutdown(context.Background())` call",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
1. A program (a `main` package, together with the packages of the tree it imports)
   that serves HTTP (`http.ListenAndServe[TLS]`, `http.Serve[TLS]`,
   `(*http.Server).ListenAndServe/Serve`) or gRPC (`grpc.NewServer()` then `Serve`)
   but never calls `Shutdown` or `GracefulStop` anywhere. Reported on the serving
   call. Listeners on a loopback address (`localhost:6060`, `127.0.0.1:...`) — a
   pprof or debug port — are ignored. Code in packages no `main` imports is not
   judged (it may be shut down by its caller).
2. `srv.Shutdown(context.Background())` (or `context.TODO()`, directly or through a
   variable) on an `*http.Server`: a shutdown without a deadline. Reported on the
   `Shutdown` call.
3. A stop that can never run while the server serves: a blocking
   `s.Serve(lis)` / `srv.ListenAndServe()` in a function (not in a goroutine)
   whose only `GracefulStop`/`Shutdown`/`Stop`/`Close` calls on that local
   server come after it or are deferred. Serve returns only once the server
   has stopped, so on SIGTERM nothing stops it. Reported on the serving call.
   Silent when the server escapes the function (captured by a goroutine,
   handed to a helper other than `Register...(s, ...)`, stored), since the
   helper may stop it on a signal. A gRPC server is one made by
   `grpc.NewServer` or declared a `*grpc.Server`.

## Why it matters in production
Kubernetes sends SIGTERM, waits `terminationGracePeriodSeconds`, then SIGKILLs.
Without a graceful shutdown the process dies on SIGTERM with requests in flight:
clients see connection resets and 502s on every deploy and every scale-down. A
`Shutdown` without a deadline waits for the slowest connection (a long poll, a
stuck upstream): the pod overruns the grace period and is killed anyway, and the
cleanup after `Shutdown` (flushing logs, closing the DB) never runs.

## Bad
```go
func main() {
	srv := &http.Server{Addr: ":8080", Handler: newRouter()}
	log.Fatal(srv.ListenAndServe())
}
```

## Good
```go
func main() {
	srv := &http.Server{Addr: ":8080", Handler: newRouter()}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()
	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Printf("shutdown: %v", err)
	}
}
```

## How to fix
Serve in a goroutine, wait for SIGTERM (`signal.NotifyContext`), then call
`srv.Shutdown(ctx)` (HTTP) with a context whose timeout is a few seconds shorter
than the pod's grace period, or `GracefulStop()` (gRPC) raced with a timer that
calls `Stop()` (`pitfall rule shutdown-exceeds-grace-period`). Treat `http.ErrServerClosed`
from `ListenAndServe` as the normal exit.

## How to suppress
`//nolint:missing-graceful-shutdown // reason` on the line, or on its own line
before the statement/function; `//nolint:http` for the whole category; see
`pitfall rule`.
"#,
    check: Check::Go(check),
};

const SERVE: &[&str] = &["ListenAndServe", "ListenAndServeTLS", "Serve", "ServeTLS"];

fn check(cx: &mut Checker) {
    let file = cx.file;
    let mut calls: Vec<&CallExpr> = Vec::new();
    // Serving calls that block their function declaration: (call, declaration).
    let mut blocking: Vec<(&CallExpr, &FuncDecl)> = Vec::new();
    walk::walk_file(&file.ast, &mut |n, anc| {
        if let Node::Expr(Expr::Call(c)) = n {
            calls.push(c);
            let in_go = matches!(anc.last(), Some(Node::Stmt(Stmt::Go(_))));
            if let (false, Some(Func::Decl(fd))) = (in_go, enclosing_func(anc)) {
                blocking.push((c, fd));
            }
        }
        true
    });
    let mut serving = Vec::new();
    let mut no_deadline = Vec::new();
    for call in calls {
        if cx.is_method_call(call, "net/http", "Server", &["Shutdown"]) {
            if call.args.first().is_some_and(|a| is_background(cx, a)) {
                no_deadline.push(call.span);
            }
            continue;
        }
        let http_pkg = cx.is_pkg_call(call, "net/http", SERVE);
        let http_srv = !http_pkg && cx.is_method_call(call, "net/http", "Server", SERVE);
        let grpc = !http_pkg && !http_srv && call.method_name() == Some("Serve") && is_grpc_server(cx, call);
        if !(http_pkg || http_srv || grpc) {
            continue;
        }
        if let Some(addr) = serve_addr(cx, call, http_pkg) {
            if pitfall_go::http_facts::is_loopback_addr(&addr) == Some(true) {
                continue;
            }
        }
        let kind = if grpc { "gRPC" } else { "HTTP" };
        if let Some((_, fd)) = blocking.iter().find(|(c, _)| c.span == call.span) {
            if let Some(stop) = stop_only_after(cx, call, fd) {
                let (line, _) = cx.file.line_col(stop.start);
                let what = if grpc { "GracefulStop" } else { "Shutdown" };
                cx.report(call.span, format!("this {kind} server's {what} (line {line}) runs only after this call returns, and it returns only once the server has stopped: on SIGTERM the process dies with requests in flight"))
                    .fix(format!("serve in a goroutine, wait for SIGTERM with signal.NotifyContext, then call {what}"));
                continue;
            }
        }
        serving.push((call.span, kind));
    }
    for span in no_deadline {
        cx.report(span, "Shutdown is given a context without a deadline: a slow connection keeps the pod alive until Kubernetes SIGKILLs it")
            .fix("pass a context from context.WithTimeout, a few seconds shorter than terminationGracePeriodSeconds");
    }
    if serving.is_empty() {
        return;
    }
    // Judge only packages some `main` reaches; silent when one of those mains shuts down.
    let me = cx.pkg.import_path();
    let mains = cx.project_fact::<MainsReach>();
    if !mains.reached.contains(me) || mains.shut_down.contains(me) {
        return;
    }
    for (span, kind) in serving {
        let stop = if kind == "gRPC" { "GracefulStop()" } else { "Shutdown(ctx)" };
        cx.report(span, format!("this {kind} server is never shut down gracefully: on SIGTERM in-flight requests are dropped"))
            .fix(format!("serve in a goroutine, wait for SIGTERM with signal.NotifyContext, then call {stop} with a timeout"));
    }
}

/// `context.Background()` / `context.TODO()`, directly or via a local initialised with it.
fn is_background<'a>(cx: &Checker<'a>, e: &'a Expr) -> bool {
    let e = match e.as_ident() {
        Some(id) => {
            let env = cx.env_at(id.span.start);
            match env.resolve(id).and_then(|b| b.init) {
                Some(init) => init,
                None => return false,
            }
        }
        None => e,
    };
    e.as_call().is_some_and(|c| cx.is_pkg_call(c, "context", &["Background", "TODO"]))
}

/// `s.Serve(...)` where `s` was initialised with `grpc.NewServer(...)` or is
/// declared a `*grpc.Server`.
fn is_grpc_server<'a>(cx: &Checker<'a>, call: &'a CallExpr) -> bool {
    let Some(recv) = call.receiver() else { return false };
    if cx.type_of(recv).deref().is_named("google.golang.org/grpc", "Server") {
        return true;
    }
    let Some(id) = recv.as_ident() else { return false };
    let env = cx.env_at(id.span.start);
    let Some(init) = env.resolve(id).and_then(|b| b.init) else { return false };
    init.as_call().is_some_and(|c| cx.is_pkg_call(c, "google.golang.org/grpc", &["NewServer"]))
}

const STOPS: &[&str] = &["GracefulStop", "Shutdown", "Stop", "Close"];

/// The first stop call (`s.GracefulStop()`, `s.Shutdown(ctx)`) on the local
/// server `s` of a blocking `s.Serve(...)` when every stop of `s` in the
/// function comes after that call or is deferred: none can run while it
/// serves. `None` when `s` escapes — captured by a function literal that is
/// not deferred, passed to a call other than `Register...(s, ...)`, stored —
/// since a signal handler elsewhere may stop it.
fn stop_only_after<'a>(cx: &Checker<'a>, serve: &'a CallExpr, fd: &'a FuncDecl) -> Option<Span> {
    let id = serve.receiver()?.as_ident()?;
    let env = cx.env_at(id.span.start);
    let decl = env.resolve(id)?.decl;
    let is_s = |e: &Expr| {
        e.as_ident()
            .is_some_and(|i| i.name == id.name && env.resolve(i).map(|b| b.decl) == Some(decl))
    };
    let mut stops = Vec::new();
    let mut escapes = false;
    walk::walk(Node::FuncDecl(fd), &mut |n, anc| {
        let Node::Expr(e) = n else { return !escapes };
        if !is_s(e) {
            return !escapes;
        }
        let in_lit = anc.iter().rposition(|a| matches!(a, Node::Expr(Expr::FuncLit(_))));
        let deferred = anc.iter().any(|a| matches!(a, Node::Stmt(Stmt::Defer(_))));
        if in_lit.is_some() && !deferred {
            escapes = true;
            return false;
        }
        // How `s` is used: as the receiver of a call, or an argument.
        let parent = anc.iter().rev().find_map(|a| match a {
            Node::Expr(Expr::Selector(_)) | Node::Expr(Expr::Call(_)) => Some(*a),
            Node::Expr(Expr::Paren(_)) => None,
            _ => Some(*a),
        });
        match parent {
            Some(Node::Expr(Expr::Selector(sel))) if sel.x.span() == e.span() => {
                let name = sel.sel.name.as_str();
                if STOPS.contains(&name) {
                    stops.push((sel.span, deferred));
                }
            }
            Some(Node::Expr(Expr::Call(c))) => {
                let registers = c
                    .fun
                    .as_selector()
                    .map(|s| s.sel.name.as_str())
                    .or_else(|| c.fun.ident_name())
                    .is_some_and(|n| n.starts_with("Register") || n.starts_with("register"));
                if !registers {
                    escapes = true;
                }
            }
            Some(Node::Stmt(Stmt::Assign(a))) if a.lhs.iter().any(|l| l.span() == e.span()) => {}
            Some(Node::ValueSpec(_)) => {}
            _ => escapes = true,
        }
        !escapes
    });
    if escapes || stops.is_empty() {
        return None;
    }
    let all_after = stops
        .iter()
        .all(|(span, deferred)| *deferred || span.start > serve.span.end);
    all_after.then(|| stops[0].0)
}

/// The listening address when it is written in the code.
fn serve_addr<'a>(cx: &Checker<'a>, call: &'a CallExpr, pkg_call: bool) -> Option<String> {
    let name = call.method_name()?;
    if pkg_call && name.starts_with("ListenAndServe") {
        return string_value(cx, call.args.first()?);
    }
    if name.starts_with("ListenAndServe") {
        // srv := &http.Server{Addr: "..."}
        let id = call.receiver()?.as_ident()?;
        let env = cx.env_at(id.span.start);
        let mut init = env.resolve(id)?.init?;
        if let Expr::Unary(u) = init.unparen() {
            init = &u.x;
        }
        let Expr::CompositeLit(lit) = init.unparen() else { return None };
        return string_value(cx, pitfall_go::http_facts::field(lit, "Addr")?);
    }
    // Serve(ln): ln from net.Listen("tcp", "...") in the same function.
    // Both http.Serve(ln, h) and srv.Serve(ln) take the listener first.
    let arg = call.args.first()?;
    let id = arg.as_ident()?;
    let env = cx.env_at(id.span.start);
    let decl = env.resolve(id)?.decl;
    let mut addr = None;
    walk::walk_file(&cx.file.ast, &mut |n, _| {
        if !n.span().encloses(decl) || addr.is_some() {
            return false;
        }
        if let Node::Stmt(Stmt::Assign(a)) = n {
            if a.lhs.first().map(|l| l.span()) == Some(decl) && a.rhs.len() == 1 {
                if let Some(c) = a.rhs[0].as_call() {
                    if c.method_name() == Some("Listen") && c.args.len() == 2 {
                        addr = c.args[1].as_string_lit();
                    }
                }
            }
        }
        true
    });
    addr
}

fn string_value<'a>(cx: &Checker<'a>, e: &'a Expr) -> Option<String> {
    if let Some(s) = e.as_string_lit() {
        return Some(s);
    }
    let id = e.as_ident()?;
    let env = cx.env_at(id.span.start);
    if let Some(b) = env.resolve(id) {
        return b.init?.as_string_lit();
    }
    let def = cx.pkg.vars.get(id.name.as_str())?;
    def.spec.values.get(def.index)?.as_string_lit()
}

/// Which packages some `main` reaches, and which of those are reached by a
/// main whose program shuts down (computed once per run, from the import
/// graph: a package "shuts down" when a non-test file calls `x.Shutdown(...)`
/// or `x.GracefulStop()`).
struct MainsReach {
    reached: std::collections::HashSet<String>,
    shut_down: std::collections::HashSet<String>,
}

impl ProjectFact for MainsReach {
    fn compute(graph: &ImportGraph) -> Self {
        let mut out = MainsReach { reached: Default::default(), shut_down: Default::default() };
        let pkgs = graph.packages();
        for main in (0..pkgs.len()).filter(|&i| pkgs[i].name == "main") {
            let set = graph.reachable_from(main);
            let stops = set.iter().any(|&p| pkgs[p].stops_servers);
            for p in set {
                out.reached.insert(pkgs[p].import_path.clone());
                if stops {
                    out.shut_down.insert(pkgs[p].import_path.clone());
                }
            }
        }
        out
    }
}
