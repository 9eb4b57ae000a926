//! An endless loop that sleeps or waits on timers in a function that has a
//! context, without ever looking at it.
use crate::prelude::*;
use pitfall_go::ctxflow;

pub static RULE: Rule = Rule {
    name: "loop-ignores-context",
    category: Category::Goroutine,
    severity: Severity::Warning,
    summary: "unbounded loop with sleeps or timer waits in a function with a context that it never checks",
    reports_on: "the `for` statement",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
A `for { ... }` loop (no condition: only a `return` or `break` ends it) in a function
that receives a `context.Context` (or in a closure inside one), whose body blocks on
time — `time.Sleep`, a receive from `time.After`/`time.Tick`, or from a ticker's or
timer's `C` — and never refers to the context at all: no `ctx.Done()`, no
`ctx.Err()`, no passing `ctx` on.

Loops with a `select` are not reported (one of its cases is usually the stop
signal), nor are loops that mention the context in any way.

## Why it matters in production
Cancellation cannot stop the loop: a poller or retry loop keeps running after its
request was abandoned or after shutdown began, holding connections and goroutines.
Graceful shutdown then waits for its whole timeout, or the process is killed in the
middle of the work.

## Bad
```go
func (p *Poller) Run(ctx context.Context) {
	for {
		p.poll()
		time.Sleep(p.interval)
	}
}
```

## Good
```go
func (p *Poller) Run(ctx context.Context) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		p.poll()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
```

## How to fix
Replace the sleep by a `select` on `ctx.Done()` and a timer or ticker, or check
`ctx.Err()` at the top of each iteration and pass `ctx` to the calls inside.

## How to suppress
`//nolint:loop-ignores-context // runs for the life of the process` on the reported
line, or on its own line before the statement or the function;
`//nolint:goroutine` for the whole category.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    // Cheap filter before any type inference.
    if !cx.file.imports("context") || !cx.file.imports("time") {
        return;
    }
    for (span, msg, fix) in find(cx) {
        cx.report(span, msg).fix(fix);
    }
}

fn find<'a>(cx: &Checker<'a>) -> Vec<(Span, String, String)> {
    let file: &'a pitfall_go::GoFile = cx.file;
    let sc = cx.scope();
    let mut out = Vec::new();
    walk::walk_file(&file.ast, &mut |n, anc| {
        let Node::Stmt(s @ Stmt::For(f)) = n else {
            return true;
        };
        if f.post.is_some() || f.init.is_some() || f.cond.is_some() {
            return true;
        }
        // The nearest enclosing function with a context parameter.
        let Some((ctx, _)) = anc.iter().rev().find_map(|a| {
            a.as_func().and_then(|func| {
                ctxflow::context_params(&sc, func.ty())
                    .into_iter()
                    .find(|(_, req)| !req)
            })
        }) else {
            return true;
        };
        if ctxflow::uses(Node::Stmt(s), &ctx.name) {
            return true;
        }
        let Some(blocking) = time_block(cx, &f.body) else {
            return true;
        };
        out.push((
            Span {
                start: s.span().start,
                end: f.body.span.start + 1,
            },
            format!(
                "this endless loop waits on {blocking} and never checks `{}`: cancelling the context cannot stop it",
                ctx.name
            ),
            format!("select on `{}.Done()` together with a timer instead of sleeping, or check `{}.Err()` each iteration", ctx.name, ctx.name),
        ));
        true
    });
    out
}

/// The time-based blocking operation in the loop body ("time.Sleep", ...),
/// unless the body has a `select` (it usually carries a stop signal).
fn time_block<'a>(cx: &Checker<'a>, body: &'a Block) -> Option<&'static str> {
    let mut found = None;
    let mut has_select = false;
    walk::walk_body(body, &mut |n, _| {
        match n {
            Node::Stmt(Stmt::Select(_)) => has_select = true,
            Node::Expr(Expr::Call(c)) if cx.is_pkg_call(c, "time", &["Sleep"]) => {
                found.get_or_insert("time.Sleep");
            }
            Node::Expr(Expr::Unary(u)) if u.op == "<-" => match u.x.unparen() {
                Expr::Call(c) if cx.is_pkg_call(c, "time", &["After", "Tick"]) => {
                    found.get_or_insert("a time.After receive");
                }
                Expr::Selector(sel) if sel.sel.name == "C" => {
                    let t = cx.type_of(&sel.x);
                    if t.is_named("time", "Ticker") || t.is_named("time", "Timer") {
                        found.get_or_insert("a ticker receive");
                    }
                }
                _ => {}
            },
            _ => {}
        }
        true
    });
    if has_select {
        None
    } else {
        found
    }
}
