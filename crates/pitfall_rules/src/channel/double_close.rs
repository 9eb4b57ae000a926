//! A channel closed twice: panics with "close of closed channel".
use crate::prelude::*;
use pitfall_go::chans::{ends_path, stmt_chain, straight_after};

pub static RULE: Rule = Rule {
    name: "double-close",
    category: Category::Channel,
    severity: Severity::Error,
    summary: "a channel can be closed twice, which panics",
    reports_on: "the close that runs second (for a deferred close, the `defer` line)",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
A channel that one function can close twice:
- two `close(ch)` statements on one straight path (no `return`, no reassignment of
  `ch` between them);
- `close(ch)` directly in the body of a loop, on a channel the loop does not
  replace (the second iteration closes it again);
- `defer close(ch)` together with an explicit `close(ch)` later in the function;
- a method of the package's own type that closes a field unconditionally, called
  both with `defer x.Stop()` and explicitly (`x.Stop()`) in one function.

Closes guarded by `sync.Once`, by a `select` with `default`, or by any condition
are not reported. Reported on the close that runs second — for a deferred close, the
`defer` line — naming the first.

## Why it matters in production
Closing a closed channel panics. The panic happens on a shutdown or error path, the
path tests exercise least, and takes the whole process down exactly when it was
trying to stop cleanly: in-flight requests are cut and Kubernetes records a crash.

## Bad
```go
func (p *Pool) Shutdown() {
	close(p.tasks)
	p.wg.Wait()
}

func run(p *Pool) error {
	defer p.Shutdown()
	if err := work(p); err != nil {
		return err
	}
	p.Shutdown() // the deferred Shutdown closes p.tasks again
	return nil
}
```

## Good
```go
func (p *Pool) Shutdown() {
	p.once.Do(func() { close(p.tasks) })
	p.wg.Wait()
}
```

## How to fix
Give each channel exactly one closer. When several paths may stop a component,
make the stop idempotent with `sync.Once`, or drop the explicit call and keep the
deferred one.

## How to suppress
`//nolint:double-close // reason` on the line, or on its own line before the
statement/function; `//nolint:channel` for the whole category; see `pitfall rule`.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    let file = cx.file;
    if !file.src.contains("close(") && !file.src.contains("defer ") {
        return;
    }
    for f in walk::funcs(&file.ast) {
        let Some(body) = f.body() else { continue };
        check_func(cx, body);
    }
}

/// A `close(x)` statement directly in a statement list of the function.
struct CloseStmt<'a> {
    stmt: &'a Stmt,
    arg: &'a Expr,
    key: String,
    deferred: bool,
}

fn check_func<'a>(cx: &mut Checker<'a>, body: &'a Block) {
    let mut closes: Vec<CloseStmt<'a>> = Vec::new();
    let mut defers: Vec<(&'a Stmt, &'a CallExpr)> = Vec::new();
    let mut calls: Vec<(&'a Stmt, &'a CallExpr)> = Vec::new();
    walk::walk_body(body, &mut |n, _| {
        let Node::Stmt(s) = n else { return true };
        let (call, deferred) = match s {
            Stmt::Expr(e) => match e.as_call() {
                Some(c) => (c, false),
                None => return true,
            },
            Stmt::Defer(d) => match d.call.as_call() {
                Some(c) => (c, true),
                None => return true,
            },
            _ => return true,
        };
        if call.fun.ident_name() == Some("close") && call.args.len() == 1 {
            if let Some(key) = key_of(cx, &call.args[0]) {
                closes.push(CloseStmt {
                    stmt: s,
                    arg: &call.args[0],
                    key,
                    deferred,
                });
            }
        } else if call.args.is_empty() && matches!(call.fun.unparen(), Expr::Selector(_)) {
            if deferred {
                defers.push((s, call));
            } else {
                calls.push((s, call));
            }
        }
        true
    });

    let mut reported: Vec<Span> = Vec::new();
    // Explicit closes: a second close straight after, or a loop around.
    for a in closes.iter().filter(|c| !c.deferred) {
        let (after, looped) = straight_after(body, a.stmt.span());
        let mut second = None;
        let mut reassigned = false;
        for s in &after {
            if assigns_to(s, &a.key) {
                reassigned = true;
                break;
            }
            if let Some(b) = closes
                .iter()
                .find(|b| !b.deferred && b.stmt.span() == s.span() && b.key == a.key)
            {
                second = Some(b);
                break;
            }
        }
        if let Some(b) = second {
            if !reported.contains(&b.stmt.span()) {
                reported.push(b.stmt.span());
                let (line, _) = cx.file.line_col(a.stmt.span().start);
                cx.report(b.stmt.span(), format!("`{}` is closed again here after the close at line {line} on the same path: closing a closed channel panics", text(cx, b.arg)))
                    .fix("close each channel once; remove one of the closes or guard it with sync.Once");
            }
            continue;
        }
        if looped && !reassigned && directly_in_loop(body, a.stmt) && loop_invariant(cx, body, a) {
            reported.push(a.stmt.span());
            cx.report(a.stmt.span(), format!("`{}` is closed in every iteration of the loop: the second iteration closes a closed channel and panics", text(cx, a.arg)))
                .fix("close the channel once, after the loop (or leave the loop right after closing it)");
        }
    }
    // `defer close(ch)` plus an explicit close that runs before it.
    for d in closes.iter().filter(|c| c.deferred) {
        for a in closes.iter().filter(|c| !c.deferred && c.key == d.key) {
            if dominated_by(body, d.stmt, a.stmt.span()) && !reported.contains(&d.stmt.span()) {
                reported.push(d.stmt.span());
                let (line, _) = cx.file.line_col(a.stmt.span().start);
                cx.report(d.stmt.span(), format!("deferred close of `{}` runs after the explicit close at line {line}: closing a closed channel panics", text(cx, d.arg)))
                    .fix("keep one of the two closes (usually the deferred one)");
                break;
            }
        }
    }
    // `defer x.Stop()` plus `x.Stop()` where Stop closes a field unconditionally.
    for (ds, dc) in &defers {
        let Some(dkey) = dc.fun.dotted_name() else {
            continue;
        };
        let Some((closed, method)) = closing_method(cx, dc) else {
            continue;
        };
        for (es, ec) in &calls {
            if ec.fun.dotted_name().as_deref() != Some(dkey.as_str()) {
                continue;
            }
            if !dominated_by(body, ds, es.span()) || reported.contains(&ds.span()) {
                continue;
            }
            reported.push(ds.span());
            let (line, _) = cx.file.line_col(es.span().start);
            cx.report(ds.span(), format!("deferred `{dkey}()` runs after the explicit call at line {line}; `{method}` closes `{closed}` without a guard, so the second call panics on a closed channel"))
                .fix(format!("drop the explicit call, or make `{method}` idempotent (close under sync.Once)"));
            break;
        }
    }
}

/// Identity of a close target: its text plus the declaration of its root
/// variable (so shadowed names differ). `None` for index expressions and calls.
fn key_of<'a>(cx: &Checker<'a>, e: &'a Expr) -> Option<String> {
    let name = e.dotted_name()?;
    let mut root = e.unparen();
    while let Expr::Selector(s) = root {
        root = s.x.unparen();
    }
    let Expr::Ident(id) = root else { return None };
    let decl = cx
        .env_at(id.span.start)
        .resolve(id)
        .map(|b| b.decl.start)
        .unwrap_or(0);
    Some(format!("{name}@{decl}"))
}

fn text<'a>(cx: &Checker<'a>, e: &Expr) -> &'a str {
    cx.file.text(e.span())
}

/// Whether statement `s` (anywhere inside, closures excluded) assigns to the
/// close target or to its root variable.
fn assigns_to(s: &Stmt, key: &str) -> bool {
    let name = key.split('@').next().unwrap_or("");
    let root = name.split('.').next().unwrap_or("");
    let mut found = false;
    walk::walk(Node::Stmt(s), &mut |n, _| {
        if found || matches!(n, Node::Expr(Expr::FuncLit(_))) {
            return false;
        }
        match n {
            Node::Stmt(Stmt::Assign(a)) => {
                for l in &a.lhs {
                    if let Some(d) = l.dotted_name() {
                        if d == name || d == root || name.starts_with(&format!("{d}.")) {
                            found = true;
                        }
                    }
                }
            }
            Node::Stmt(Stmt::Range(r)) => {
                for k in [&r.key, &r.value].into_iter().flatten() {
                    if k.ident_name() == Some(root) {
                        found = true;
                    }
                }
            }
            _ => {}
        }
        true
    });
    found
}

/// Whether `close` sits directly in the body of its innermost loop (not under
/// an `if`, `switch` or `select` of that body).
fn directly_in_loop(body: &Block, close: &Stmt) -> bool {
    let chain = stmt_chain(body, close.span());
    matches!(
        chain.last(),
        Some((_, _, Some(Stmt::For(_) | Stmt::Range(_))))
    )
}

/// Whether the closed channel is the same in every iteration: its root
/// variable is neither declared nor assigned inside the innermost loop.
fn loop_invariant<'a>(cx: &Checker<'a>, body: &'a Block, c: &CloseStmt<'a>) -> bool {
    let chain = stmt_chain(body, c.stmt.span());
    let Some((_, _, Some(lp))) = chain.last() else {
        return false;
    };
    if assigns_to(lp, &c.key) {
        return false;
    }
    let mut root = c.arg.unparen();
    while let Expr::Selector(s) = root {
        root = s.x.unparen();
    }
    let Expr::Ident(id) = root else { return false };
    match cx.env_at(id.span.start).resolve(id) {
        Some(b) => !lp.span().contains(b.decl.start),
        None => true,
    }
}

/// Whether the statement at `later` runs only after `first` has run: `first`
/// is in a statement list and `later` is inside a subsequent statement of it.
fn dominated_by(body: &Block, first: &Stmt, later: Span) -> bool {
    let chain = stmt_chain(body, first.span());
    let Some((list, idx, _)) = chain.last() else {
        return false;
    };
    if list[*idx].span() != first.span() {
        return false;
    }
    list[idx + 1..].iter().any(|s| s.span().encloses(later))
}

/// For `x.M()` with `M` a method of the package's own type whose body closes
/// a receiver field unconditionally (a `close(r.f)` statement at the top of the
/// body, with no `return` before it): the closed field and the method name.
fn closing_method<'a>(cx: &Checker<'a>, call: &'a CallExpr) -> Option<(String, String)> {
    let Expr::Selector(sel) = call.fun.unparen() else {
        return None;
    };
    if cx.pkg_member(&call.fun).is_some() {
        return None;
    }
    let ty = cx.type_of(&sel.x);
    let Ty::Named(path, tname) = ty.deref() else {
        return None;
    };
    if *path != cx.pkg.import_path() {
        return None;
    }
    let def = cx.pkg.methods.get(&(*tname, sel.sel.name.as_str()))?;
    let recv = def.decl.recv.as_ref()?.names.first()?.name.as_str();
    let body = def.decl.body.as_ref()?;
    for s in &body.stmts {
        if let Stmt::Expr(e) = s {
            if let Some(c) = e.as_call() {
                if c.fun.ident_name() == Some("close") && c.args.len() == 1 {
                    if let Expr::Selector(f) = c.args[0].unparen() {
                        if f.x.ident_name() == Some(recv) {
                            return Some((
                                format!("{recv}.{}", f.sel.name),
                                format!("{tname}.{}", sel.sel.name),
                            ));
                        }
                    }
                }
            }
        }
        if ends_path(s) || contains_return(s) {
            return None;
        }
    }
    None
}

fn contains_return(s: &Stmt) -> bool {
    let mut found = false;
    walk::walk(Node::Stmt(s), &mut |n, _| {
        if found || matches!(n, Node::Expr(Expr::FuncLit(_))) {
            return false;
        }
        if matches!(n, Node::Stmt(Stmt::Return(_))) {
            found = true;
        }
        true
    });
    found
}
