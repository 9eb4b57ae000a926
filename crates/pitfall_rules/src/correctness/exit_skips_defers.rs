//! Finds `os.Exit` / `log.Fatal*` after a `defer` of the same function.
use crate::prelude::*;
use pitfall_go::types::{Env, Scope};
use pitfall_go::exits::is_process_exit;
use pitfall_go::engine::{self, cfg::{Elem, ENTRY}};
use pitfall_go::walk::walk;
use pitfall_go::GoFile;

pub static RULE: Rule = Rule {
    name: "exit-skips-defers",
    category: Category::Correctness,
    severity: Severity::Warning,
    summary: "os.Exit or log.Fatal after a defer: the deferred calls never run",
    reports_on: "the `os.Exit` / `log.Fatal*` call (the message names the line of the skipped `defer`)",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
A call to `os.Exit`, `log.Fatal`, `log.Fatalf`, `log.Fatalln` or `Fatal*` on a
`*log.Logger` that comes after a `defer` statement of the same function body (func
literals are separate bodies), including
`func TestMain(m *testing.M) { defer cleanup(); os.Exit(m.Run()) }`.
Reported once per function, on the first such exit; the message names the line of
the skipped `defer` and counts the later exits.

Only defers whose loss matters count: flushes, temp-file removal, profile and trace
stops, compressor/archive `Close`, output (`println`, `fmt.Print…`, logging), and
calls it cannot see into. Harmless at exit:
`Unlock`, `wg.Done()`, `cancel()`/`stop()`, `close(ch)`, `Close()` of files,
connections and rows (the kernel closes them), `Rollback`, closures that only
restore variables or handle a panic. Also silent: an exit before any defer, a
defer in a branch that returns first, `log.Panic*`/`t.Fatal` (they unwind), and
in `_test.go` files `os.Exit` outside `TestMain` (helper processes) and `Example`
functions.

## Why it matters in production
`os.Exit` ends the process immediately; `log.Fatal` is `os.Exit(1)` after printing.
Deferred calls are not run: files are not flushed or closed, temp directories stay
behind, transactions are not rolled back, trace exporters lose their last batch, and
in `TestMain` the test database or containers leak on every run.

## Bad
```go
func main() {
	db := mustOpen()
	defer db.Close()
	if err := migrate(db); err != nil {
		log.Fatalf("migrate: %v", err)
	}
}
```
## Good
```go
func main() {
	if err := run(); err != nil {
		log.Fatal(err) // no defers in main; run's defers already ran
	}
}

func run() error {
	db := mustOpen()
	defer db.Close()
	return migrate(db)
}
```

## How to fix
Move the work into a `run() error` (or `run() int`) function that owns the defers
and exit in `main` only after it returns. In `TestMain`, compute the code first:
`code := m.Run(); cleanup(); os.Exit(code)`, or let `TestMain` return (Go 1.15+).

## How to suppress
`//nolint:exit-skips-defers // reason` on the line, or on its own line before the
statement/function; `//nolint:correctness` for the whole category; see `pitfall rule`.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    let sc = cx.scope();
    let mut hits = Vec::new();
    for root in walk::top_level_roots(&cx.file.ast) {
        // Examples use log.Fatal as shorthand for "handle the error".
        if let Node::FuncDecl(f) = root {
            if cx.file.is_test && f.recv.is_none() && f.name.name.starts_with("Example") {
                continue;
            }
        }
        let env = cx.env_at(root.span().start);
        let cancels = cancel_funcs(&sc, &env, root);
        // Each function (the declaration and every literal in it) is its own body.
        walk(root, &mut |n, _| {
            if let Some(func) = n.as_func() {
                if let Some(body) = func.body() {
                    let mut flow = registered_at_exits(&sc, &env, &cancels, body);
                    let test_main = func.name() == Some("TestMain");
                    if cx.file.is_test && !test_main {
                        // Helper processes exit on purpose; keep log.Fatal only.
                        flow.hits.retain(|h| !matches!(env.pkg_member(cx.file, &h.exit.fun), Some(("os", "Exit"))));
                    }
                    // One finding per function, on the first exit: the fix
                    // (move the work into run()) is the same for all of them.
                    let more = flow.hits.len().saturating_sub(1);
                    if let Some(first) = flow.hits.into_iter().min_by_key(|h| h.exit.span.start) {
                        hits.push((first, test_main, more));
                    }
                }
            }
            true
        });
    }
    for (hit, test_main, more_exits) in hits {
        let exit = cx.file.text(hit.exit.fun.span()).to_string();
        let first = hit.defers[0];
        let (line, _) = cx.file.line_col(first.span.start);
        let what = deferred_text(cx.file, first);
        let more = match hit.defers.len() {
            1 => String::new(),
            2 => " and 1 other deferred call".to_string(),
            n => format!(" and {} other deferred calls", n - 1),
        };
        let verb = if hit.defers.len() == 1 { "never runs" } else { "never run" };
        let later = match more_exits {
            0 => String::new(),
            1 => " (1 more exit after it in this function)".to_string(),
            n => format!(" ({n} more exits after it in this function)"),
        };
        let msg = format!("{exit} ends the process here, so the deferred {what} (line {line}){more} {verb}{later}");
        let fix = if test_main {
            "store the result (`code := m.Run()`), run the cleanup explicitly, then `os.Exit(code)` — or just return from TestMain (Go 1.15+)".to_string()
        } else {
            format!("return an error to the caller instead of calling {exit}, or move the deferred work into a `run() error` function and exit only after it returns")
        };
        cx.report(hit.exit.span, msg).fix(fix);
    }
}

/// The `cancel` of `ctx, cancel := context.WithTimeout(...)` and the `stop` of
/// `ctx, stop := signal.NotifyContext(...)`, by declaration span.
fn cancel_funcs<'a>(sc: &Scope<'a>, env: &Env<'a>, root: Node<'a>) -> Vec<Span> {
    let mut out = Vec::new();
    walk(root, &mut |n, _| {
        if let Node::Stmt(Stmt::Assign(a)) = n {
            if let ([_, second], [rhs]) = (a.lhs.as_slice(), a.rhs.as_slice()) {
                let makes_cancel = rhs.as_call().is_some_and(|c| {
                    matches!(env.pkg_member(sc.file, &c.fun),
                        Some(("context", name)) if name.starts_with("With"))
                        || matches!(env.pkg_member(sc.file, &c.fun), Some(("os/signal", "NotifyContext")))
                });
                if makes_cancel {
                    if let Some(b) = second.as_ident().and_then(|id| env.resolve(id)) {
                        out.push(b.decl);
                    }
                }
            }
        }
        true
    });
    out
}

/// `f.Close()` for `defer f.Close()`; `func literal` for `defer func() {...}()`.
fn deferred_text(file: &GoFile, d: &CallStmt) -> String {
    match d.call.as_call() {
        Some(c) if matches!(c.fun.unparen(), Expr::FuncLit(_)) => "function literal".to_string(),
        Some(c) => {
            let fun = file.text(c.fun.span());
            if c.args.is_empty() {
                format!("{fun}()")
            } else {
                format!("{fun}(...)")
            }
        }
        None => "call".to_string(),
    }
}

struct Hit<'a> {
    exit: &'a CallExpr,
    /// The defers registered on some path to the exit, in source order.
    defers: Vec<&'a CallStmt>,
}

/// The process exits of one function body, each with the defers (that matter
/// at exit) registered on some path to it: a forward dataflow on the engine's
/// CFG whose state is the set of registered defers. Paths that return, panic
/// or exit take their defers with them; loops go round.
struct Exits<'a> {
    hits: Vec<Hit<'a>>,
}

fn registered_at_exits<'a>(sc: &Scope<'a>, env: &Env<'a>, cancels: &[Span], body: &'a Block) -> Exits<'a> {
    let cfg = engine::build(body);
    let mut an = Registered { cx: Ctx { sc, env, cancels }, defers: Vec::new(), exits: Vec::new() };
    let sol = engine::forward(&cfg, &mut an, (ENTRY, 0), Some(Vec::new()));
    if !sol.converged {
        return Exits { hits: Vec::new() };
    }
    let Registered { defers, exits, .. } = an;
    let hits = exits
        .into_iter()
        .map(|(exit, set)| {
            let mut ds: Vec<&'a CallStmt> = set.into_iter().map(|i| defers[i]).collect();
            ds.sort_by_key(|d| d.span.start);
            Hit { exit, defers: ds }
        })
        .collect();
    Exits { hits }
}

/// Indices (into `Registered::defers`) of the defers registered on some path;
/// `None` where no path reaches.
type Set = Option<Vec<usize>>;

struct Registered<'s, 'a> {
    cx: Ctx<'s, 'a>,
    /// The defer statements that matter at exit, in the order first met.
    defers: Vec<&'a CallStmt>,
    /// Each process exit reached with some defer registered, with those defers.
    exits: Vec<(&'a CallExpr, Vec<usize>)>,
}

impl<'a> engine::Analysis<'a> for Registered<'_, 'a> {
    type State = Set;

    fn bottom(&self) -> Set {
        None
    }

    fn join(&self, into: &mut Set, other: &Set) {
        match (into.as_mut(), other) {
            (_, None) => {}
            (None, Some(o)) => *into = Some(o.clone()),
            (Some(a), Some(o)) => {
                for i in o {
                    if !a.contains(i) {
                        a.push(*i);
                    }
                }
                a.sort_unstable();
            }
        }
    }

    fn transfer(&mut self, e: &Elem<'a>, st: Set) -> Set {
        let mut set = st?;
        let exprs: Vec<&'a Expr> = match *e {
            Elem::Stmt(Stmt::Defer(d)) => {
                if matters_at_exit(&self.cx, d) {
                    let i = match self.defers.iter().position(|x| std::ptr::eq(*x, d.as_ref())) {
                        Some(i) => i,
                        None => {
                            self.defers.push(d);
                            self.defers.len() - 1
                        }
                    };
                    if !set.contains(&i) {
                        set.push(i);
                        set.sort_unstable();
                    }
                }
                Vec::new()
            }
            Elem::Stmt(Stmt::Expr(x)) | Elem::Cond(x) | Elem::Expr(x) => vec![x],
            Elem::Stmt(Stmt::Assign(a)) => a.lhs.iter().chain(&a.rhs).collect(),
            Elem::Stmt(Stmt::IncDec(x)) => vec![&x.x],
            Elem::Stmt(Stmt::Send(x)) => vec![&x.chan, &x.value],
            // The arguments are evaluated here; the function runs elsewhere.
            Elem::Stmt(Stmt::Go(g)) => g.call.as_call().map(|c| c.args.iter().collect()).unwrap_or_default(),
            Elem::Stmt(Stmt::Return(r)) => r.results.iter().collect(),
            Elem::Stmt(Stmt::Decl(g)) => g
                .specs
                .iter()
                .flat_map(|spec| match spec {
                    Spec::Value(v) => v.values.iter().collect(),
                    _ => Vec::new(),
                })
                .collect(),
            _ => Vec::new(),
        };
        if !set.is_empty() {
            for x in exprs {
                self.record_exits(x, &set);
            }
        }
        Some(set)
    }
}

impl<'a> Registered<'_, 'a> {
    /// Records the process exits `x` calls (not inside function literals).
    fn record_exits(&mut self, x: &'a Expr, set: &[usize]) {
        let (sc, env) = (self.cx.sc, self.cx.env);
        let exits = &mut self.exits;
        walk(Node::Expr(x), &mut |n, _| match n {
            Node::Expr(Expr::FuncLit(_)) => false,
            Node::Expr(Expr::Call(c)) => {
                if is_process_exit(sc, env, c) {
                    match exits.iter_mut().find(|(e, _)| std::ptr::eq(*e, c.as_ref())) {
                        Some((_, have)) => {
                            for i in set {
                                if !have.contains(i) {
                                    have.push(*i);
                                }
                            }
                        }
                        None => exits.push((c, set.to_vec())),
                    }
                }
                true
            }
            _ => true,
        });
    }
}

/// Whether skipping this deferred call at process exit loses anything. The
/// kernel closes descriptors and connections and the database rolls back a
/// dropped transaction; releasing a lock, cancelling a context, `wg.Done()`,
/// closing a channel, restoring a variable or a recover handler only matter to
/// a process that keeps running. What is lost: flushes, temp-file removal,
/// profile and trace stops, and calls we know nothing about.
fn matters_at_exit<'a>(cx: &Ctx<'_, 'a>, d: &'a CallStmt) -> bool {
    let Some(call) = d.call.as_call() else { return true };
    call_matters(cx, call, 0)
}

/// What the deferral rules need besides the scope and the environment.
struct Ctx<'s, 'a> {
    sc: &'s Scope<'a>,
    env: &'s Env<'a>,
    /// Declarations of `cancel`/`stop` functions from context.With* and
    /// signal.NotifyContext.
    cancels: &'s [Span],
}

fn call_matters<'a>(cx: &Ctx<'_, 'a>, call: &'a CallExpr, depth: u32) -> bool {
    let (sc, env) = (cx.sc, cx.env);
    if is_process_exit(sc, env, call) {
        return false;
    }
    match call.fun.unparen() {
        Expr::FuncLit(lit) => depth > 2 || body_matters(cx, &lit.body.stmts, depth + 1),
        Expr::Ident(id) => {
            let Some(b) = env.resolve(id) else {
                // `print`/`println` write a line the exit loses, like a deferred
                // `fmt.Println` or log call.
                if matches!(id.name.as_str(), "close" | "recover" | "panic") {
                    return false;
                }
                // A function of this package: look at what it does.
                return match sc.pkg.funcs.get(id.name.as_str()) {
                    Some(def) if depth < 2 && call.args.is_empty() => {
                        let fsc = Scope { file: def.file, ..*sc };
                        let fenv = Env::build(&fsc, Node::FuncDecl(def.decl));
                        let fcx = Ctx { sc: &fsc, env: &fenv, cancels: &[] };
                        def.decl.body.as_ref().is_none_or(|body| body_matters(&fcx, &body.stmts, depth + 1))
                    }
                    _ => true,
                };
            };
            !(b.ty.is_named("context", "CancelFunc") || cx.cancels.contains(&b.decl))
        }
        Expr::Selector(sel) => {
            if let Some(member) = env.pkg_member(sc.file, &call.fun) {
                return !matches!(member, ("os/signal", "Stop" | "Reset"));
            }
            match sel.sel.name.as_str() {
                "Unlock" | "RUnlock" | "Done" | "Rollback" => false,
                "Close" if call.args.is_empty() => buffers_on_close(sc, env, &sel.x),
                "Stop" => {
                    let t = env.type_of(sc, &sel.x);
                    !(t.is_named("time", "Ticker") || t.is_named("time", "Timer"))
                }
                _ => true,
            }
        }
        _ => true,
    }
}

/// Whether a deferred body does anything that matters at exit (see
/// [`matters_at_exit`]). Unknown statements matter.
fn body_matters<'a>(cx: &Ctx<'_, 'a>, stmts: &'a [Stmt], depth: u32) -> bool {
    stmts.iter().any(|s| stmt_matters(cx, s, depth))
}

fn stmt_matters<'a>(cx: &Ctx<'_, 'a>, s: &'a Stmt, depth: u32) -> bool {
    match s {
        Stmt::Assign(a) => a.rhs.iter().any(|e| expr_matters(cx, e, depth)),
        Stmt::Expr(e) => expr_matters(cx, e, depth),
        Stmt::Send(_) | Stmt::Empty(_) | Stmt::Return(_) => false,
        Stmt::If(i) => {
            // `if r := recover(); r != nil { ... }`: a panic handler.
            let handler = i.init.as_ref().is_some_and(|s| mentions_recover(Node::Stmt(s)))
                || mentions_recover(Node::Expr(&i.cond));
            if handler {
                return false;
            }
            i.init.as_ref().is_some_and(|s| stmt_matters(cx, s, depth))
                || expr_matters(cx, &i.cond, depth)
                || body_matters(cx, &i.then.stmts, depth)
                || i.els.as_ref().is_some_and(|e| stmt_matters(cx, e, depth))
        }
        Stmt::Block(b) => body_matters(cx, &b.stmts, depth),
        _ => true,
    }
}

/// Whether evaluating `e` makes a call that matters.
fn expr_matters<'a>(cx: &Ctx<'_, 'a>, e: &'a Expr, depth: u32) -> bool {
    let mut matters = false;
    walk(Node::Expr(e), &mut |n, _| match n {
        Node::Expr(Expr::FuncLit(_)) => false,
        Node::Expr(Expr::Call(c)) => {
            if call_matters(cx, c, depth) {
                matters = true;
            }
            !matters
        }
        _ => !matters,
    });
    matters
}

fn mentions_recover(n: Node) -> bool {
    let mut found = false;
    walk(n, &mut |n, _| {
        if let Node::Expr(Expr::Call(c)) = n {
            if c.fun.ident_name() == Some("recover") {
                found = true;
            }
        }
        !found
    });
    found
}

/// Packages whose writers hold data until `Close` (compressors, archives).
const BUFFERING: &[&str] =
    &["compress/gzip", "compress/zlib", "compress/flate", "compress/lzw", "archive/zip", "archive/tar"];

/// Whether `x.Close()` flushes something: `x` is a compressor or archive writer
/// (by its type, or by the constructor that made it).
fn buffers_on_close<'a>(sc: &Scope<'a>, env: &Env<'a>, x: &'a Expr) -> bool {
    if let Ty::Named(pkg, _) = env.type_of(sc, x).deref() {
        if BUFFERING.contains(pkg) {
            return true;
        }
    }
    let Some(b) = x.as_ident().and_then(|id| env.resolve(id)) else { return false };
    let Some(init) = b.init.and_then(|i| i.as_call()) else {
        // `zw, err := gzip.NewWriterLevel(...)`: the binding has no single init.
        return false;
    };
    matches!(env.pkg_member(sc.file, &init.fun), Some((pkg, _)) if BUFFERING.contains(&pkg))
}
