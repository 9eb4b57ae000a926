//! `defer cancel()` in a function that leaves a goroutine running on that context.
use crate::prelude::*;
use pitfall_go::ctxflow;

pub static RULE: Rule = Rule {
    name: "premature-cancel",
    category: Category::Context,
    severity: Severity::Warning,
    summary: "defer cancel() cancels the context of a goroutine the function starts and does not wait for",
    reports_on: "the `defer cancel()` statement",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
A function that derives a context (`ctx, cancel := context.WithCancel/WithTimeout/...`),
defers `cancel()`, and starts a goroutine that hands `ctx` to a call (`go
fetch(ctx, ...)`, or a closure calling `db.QueryContext(ctx, ...)`), then returns
without waiting for it — no `wg.Wait()`, `g.Wait()`, receive, `select` or `range`
after the `go` statement. The deferred cancel fires as the function returns, so the
goroutine's work is cancelled the moment it starts being useful.

Goroutines that only watch the context (`<-ctx.Done()`) are meant to stop when the
function returns and are not reported.

## Why it matters in production
The background work fails with `context canceled` — usually silently, because
nobody reads its error: the cache is never warmed, the audit event never written,
the asynchronous reply never sent. It passes tests that return early and fails
only under real timing.

## Bad
```go
func (s *Service) Publish(parent context.Context, ev Event) {
	ctx, cancel := context.WithTimeout(parent, 5*time.Second)
	defer cancel()
	go s.bus.Send(ctx, ev) // cancelled as soon as Publish returns
}
```

## Good
```go
func (s *Service) Publish(parent context.Context, ev Event) {
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), 5*time.Second)
		defer cancel()
		s.bus.Send(ctx, ev)
	}()
}
```

## How to fix
Let the goroutine own the context: derive it (and `defer cancel()`) inside the
goroutine. Or wait for the goroutine before returning (`sync.WaitGroup`,
`errgroup`, a result channel).

## How to suppress
`//nolint:premature-cancel // the goroutine only needs to run while we wait` on the
reported line, or on its own line before the statement or the function;
`//nolint:context` for the whole category.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    // Cheap filter before any type inference.
    if !cx.file.imports("context") {
        return;
    }
    for (span, msg, fix) in find(cx) {
        cx.report(span, msg).fix(fix);
    }
}

fn find<'a>(cx: &Checker<'a>) -> Vec<(Span, String, String)> {
    let mut out = Vec::new();
    for d in cx.cancel_derivations() {
        let (Some(ctx), Some(cancel)) = (d.ctx(), d.cancel().as_ident()) else {
            continue;
        };
        if cancel.is_blank() || !d.assign.is_define() {
            continue;
        }
        let Some(rest) = pitfall_go::flow::following(d.body, d.stmt) else {
            continue;
        };
        let Some(defer) = rest.iter().find(|s| is_defer_call_of(s, &cancel.name)) else {
            continue;
        };
        // A `go` statement of this function (not of a nested closure) that
        // hands the context to a call.
        let mut go_stmt = None;
        walk::walk_body(d.body, &mut |n, _| {
            if go_stmt.is_some() {
                return false;
            }
            if let Node::Stmt(s @ Stmt::Go(g)) = n {
                if s.span().start > d.stmt.span().end
                    && ctxflow::passes_to_call(Node::Expr(&g.call), &ctx.name)
                {
                    go_stmt = Some(s);
                }
            }
            true
        });
        let Some(go_stmt) = go_stmt else { continue };
        if ctxflow::waits_after(d.body, go_stmt.span().end) || redefined(cx, ctx, go_stmt) {
            continue;
        }
        let (line, _) = cx.file.line_col(go_stmt.span().start);
        out.push((
            defer.span(),
            format!(
                "`defer {}()` cancels `{}` when the function returns, but the goroutine started at line {line} keeps using it and nothing waits for it",
                cancel.name, ctx.name
            ),
            "derive the context (and defer its cancel) inside the goroutine, or wait for the goroutine before returning".to_string(),
        ));
    }
    out
}

fn is_defer_call_of(s: &Stmt, name: &str) -> bool {
    let Stmt::Defer(d) = s else { return false };
    d.call
        .as_call()
        .is_some_and(|c| c.args.is_empty() && c.fun.ident_name() == Some(name))
}

/// Whether the context name the goroutine uses is rebound between the
/// derivation and the `go` statement.
fn redefined<'a>(cx: &Checker<'a>, ctx: &'a Ident, go: &'a Stmt) -> bool {
    let env = cx.env_at(go.span().start);
    env.lookup(&ctx.name, go.span().start).map(|b| b.decl) != Some(ctx.span)
}
