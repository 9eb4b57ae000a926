//! A channel closed twice: panics with "close of closed channel".
use crate::prelude::*;
use pitfall_go::chans;
use pitfall_go::engine::{self, cfg::Elem, life::Life, reach::{dominates, reach_from, From, Step}};

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

    if closes.is_empty() && defers.is_empty() {
        return;
    }
    let cfg = engine::build(body);
    let mut reported: Vec<Span> = Vec::new();
    // Explicit closes: a second close straight after, or a loop around.
    for a in closes.iter().filter(|c| !c.deferred) {
        let name = a.key.split('@').next().unwrap_or("");
        let root = chans::root_life(&cfg, &cx.env_at(a.arg.span().start), a.arg);
        let is_second = |sp: Span| closes.iter().any(|b| !b.deferred && b.stmt.span() == sp && b.key == a.key);
        // Hits: a second close, or an assignment that gives the variable another channel.
        let mut step = |e: &Elem<'a>| {
            if is_second(e.span()) || chans::elem_assigns(e, name) {
                Step::Hit
            } else {
                Step::Pass
            }
        };
        // The straight path: the closes's statement list and those around it,
        // up to its innermost loop body; a `return`, a jump out or a panic
        // ends it, falling through out of it (the loop going round) does not.
        let straight = Life::new(&cfg, innermost_loop_body(body, a.stmt).unwrap_or(body.span));
        let r = reach_from(&cfg, From::After(a.stmt.span()), Some(&straight), &mut step);
        let on_every_path = !r.unknown && !r.falls_off && !r.leaves && !r.again;
        let assigned = r.hits.iter().any(|h| !is_second(*h));
        let second = r.first_hit().filter(|h| on_every_path && is_second(*h) && !assigned);
        if let Some(b) = second.and_then(|s| closes.iter().find(|b| b.stmt.span() == s)) {
            if !reported.contains(&b.stmt.span()) {
                reported.push(b.stmt.span());
                let (line, _) = cx.file.line_col(a.stmt.span().start);
                cx.report(b.stmt.span(), format!("`{}` is closed again here after the close at line {line} on the same path: closing a closed channel panics", text(cx, b.arg)))
                    .fix("close each channel once; remove one of the closes or guard it with sync.Once");
            }
            continue;
        }
        if !r.hits.is_empty() || !directly_in_loop(body, a.stmt) {
            continue;
        }
        // Round the loop, while the channel's variable lives and keeps its value.
        let r = reach_from(&cfg, From::After(a.stmt.span()), Some(&root), &mut step);
        if !r.unknown && r.again && r.hits.is_empty() {
            reported.push(a.stmt.span());
            cx.report(a.stmt.span(), format!("`{}` is closed in every iteration of the loop: the second iteration closes a closed channel and panics", text(cx, a.arg)))
                .fix("close the channel once, after the loop (or leave the loop right after closing it)");
        }
    }
    // `defer close(ch)` plus an explicit close that runs before it.
    for d in closes.iter().filter(|c| c.deferred) {
        for a in closes.iter().filter(|c| !c.deferred && c.key == d.key) {
            if dominates(&cfg, d.stmt.span(), a.stmt.span()) && !reported.contains(&d.stmt.span()) {
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
            if !dominates(&cfg, ds.span(), es.span()) || reported.contains(&ds.span()) {
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

/// The body of the innermost loop whose body holds `stmt` directly, or through
/// `if`/`switch`/`select`/blocks (syntax: where the statement sits).
fn innermost_loop_body(body: &Block, stmt: &Stmt) -> Option<Span> {
    walk::enclosing_lists(body, stmt.span())
        .iter()
        .rev()
        .find_map(|(_, _, owner)| match owner {
            Some(Stmt::For(f)) => Some(f.body.span),
            Some(Stmt::Range(r)) => Some(r.body.span),
            _ => None,
        })
}

/// Whether `close` sits directly in the body of its innermost loop (not under
/// an `if`, `switch` or `select` of that body): it runs in every iteration.
fn directly_in_loop(body: &Block, close: &Stmt) -> bool {
    matches!(
        walk::enclosing_lists(body, close.span()).last(),
        Some((_, _, Some(Stmt::For(_) | Stmt::Range(_))))
    )
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
    // The receiver fields the method closes with a `close(r.f)` statement.
    let mut fields: Vec<&str> = Vec::new();
    walk::walk_body(body, &mut |n, _| {
        if let Node::Stmt(Stmt::Expr(e)) = n {
            if let Some(f) = closed_field(e, recv) {
                if !fields.contains(&f) {
                    fields.push(f);
                }
            }
        }
        true
    });
    if fields.is_empty() {
        return None;
    }
    // Unconditionally: every path through the method that does not panic
    // closes the field.
    let cfg = engine::build(body);
    let field = fields.into_iter().find(|f| {
        let r = reach_from(&cfg, From::Entry, None, &mut |e| match e {
            Elem::Stmt(Stmt::Expr(x)) if closed_field(x, recv) == Some(*f) => Step::Hit,
            _ => Step::Pass,
        });
        !r.unknown && !r.hits.is_empty() && !r.returns && !r.falls_off
    })?;
    Some((format!("{recv}.{field}"), format!("{tname}.{}", sel.sel.name)))
}

/// `f` when `e` is `close(recv.f)`.
fn closed_field<'a>(e: &'a Expr, recv: &str) -> Option<&'a str> {
    let c = e.as_call()?;
    if c.fun.ident_name() != Some("close") || c.args.len() != 1 {
        return None;
    }
    match c.args[0].unparen() {
        Expr::Selector(f) if f.x.ident_name() == Some(recv) => Some(f.sel.name.as_str()),
        _ => None,
    }
}
