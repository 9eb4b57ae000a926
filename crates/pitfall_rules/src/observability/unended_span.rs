//! A tracing span that is not ended on every path.
use crate::prelude::*;
use pitfall_go::flow::{self, Policy, Resource, Verdict};

pub static RULE: Rule = Rule {
    name: "unended-span",
    category: Category::Observability,
    severity: Severity::Warning,
    summary: "Tracing span started but not ended on every path",
    reports_on: "the `Start` / `StartSpan` call",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
A span started with OpenTelemetry (`tracer.Start(ctx, name)`, `otel.Tracer("x").Start`)
or OpenCensus (`trace.StartSpan(ctx, name)`) that is not ended on some path out of
the function, or whose span value is thrown away (with `_`, or a bare `Start(...)`
statement). `var ctx, span = tracer.Start(...)`, a span variable given a new span
while the old one is open, and OpenCensus `StartSpanWithRemoteParent` count too. The finding is on the
`Start` call and names the exit that misses `span.End()`.

It stays silent when the span is ended directly, with `defer span.End()` or in a
deferred closure, when it is returned, stored or passed to another function, and on
paths that end in `panic` or `log.Fatal`. Test files are skipped.

## Why it matters in production
An unended span is never exported: the trace shows a gap exactly where the slow or
failing request went, which is the trace you needed. The SDK also keeps the span and
its attributes in memory, and child spans are orphaned in the trace view.

## Bad
```go
func (s *Store) Load(ctx context.Context, id string) (*Item, error) {
	ctx, span := s.tracer.Start(ctx, "Store.Load")
	item, err := s.cache.Get(ctx, id)
	if err == nil {
		return item, nil // span never ended on the cache-hit path
	}
	defer span.End()
	return s.db.Load(ctx, id)
}
```

## Good
```go
	ctx, span := s.tracer.Start(ctx, "Store.Load")
	defer span.End()
```

## How to fix
Write `defer span.End()` on the line after `Start`. If the span must end earlier than
the function, end it explicitly on every path (including early returns).

## Compared with spancheck
spancheck does not look into a deferred closure's own `defer` and reports
`defer func() { defer span.End() }()`; pitfall counts it as ending the span (the
inner defer runs when the closure returns). spancheck also reports on the `return`
that misses `End`; pitfall reports once, on the `Start` call, naming that return.

## How to suppress
`//nolint:unended-span // ended by the caller` on the reported line, or on its own line
before the statement or the function; `//nolint:observability` for the whole category.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    for (span, msg, fix) in find(cx) {
        cx.report(span, msg).fix(fix);
    }
}

/// Whether `call` starts a span (`ctx, span := <call>`).
pub(crate) fn is_span_start<'a>(cx: &Checker<'a>, call: &'a CallExpr) -> bool {
    if cx.is_pkg_call(call, "go.opencensus.io/trace", &["StartSpan", "StartSpanWithRemoteParent"]) {
        return true;
    }
    let uses_otel = cx.file.ast.imports.iter().any(|i| i.path.starts_with("go.opentelemetry.io/otel"));
    if !uses_otel || call.args.len() < 2 || call.method_name() != Some("Start") || cx.pkg_member(&call.fun).is_some() {
        return false;
    }
    let Some(recv) = call.receiver() else { return false };
    if cx.type_of(recv).is_named("go.opentelemetry.io/otel/trace", "Tracer") {
        return true;
    }
    match recv.unparen() {
        // otel.Tracer("x").Start(...), provider.Tracer("x").Start(...)
        Expr::Call(c) => c.method_name() == Some("Tracer"),
        Expr::Ident(id) => id.name.to_ascii_lowercase().contains("tracer"),
        Expr::Selector(s) => s.sel.name.to_ascii_lowercase().contains("tracer"),
        _ => false,
    }
}

fn find<'a>(cx: &Checker<'a>) -> Vec<(Span, String, String)> {
    let file: &'a pitfall_go::GoFile = cx.file;
    let mut out = Vec::new();
    walk::walk_file(&file.ast, &mut |n, _| {
        if let Node::Stmt(Stmt::Expr(Expr::Call(c))) = n {
            if is_span_start(cx, c) {
                out.push((
                    c.span,
                    "the span started here is thrown away, so it is never ended".to_string(),
                    "keep the span and add `defer span.End()` on the next line".to_string(),
                ));
            }
        }
        true
    });
    for d in flow::assigning_calls(&file.ast) {
        let local = d.assign.is_define() || d.name(1).is_some_and(|v| cx.follows_def(&d, v));
        if d.assign.lhs.len() != 2 || !local || !is_span_start(cx, d.call) {
            continue;
        }
        let Some(v) = d.name(1) else {
            out.push((
                d.call.span,
                "the span started here is discarded with `_`, so it is never ended".to_string(),
                "name the span and add `defer span.End()` on the next line".to_string(),
            ));
            continue;
        };
        let var = v.name.as_str();
        let res = Resource { var, err: None, fields: &[] };
        let releases = |c: &'a CallExpr| flow::is_method_on(c, var, &[], &["End"]);
        let borrows = |c: &'a CallExpr| matches!(cx.pkg_member(&c.fun), Some(("fmt" | "log", _)));
        let policy = Policy {
            releases: &releases,
            borrows: &borrows,
            return_matters: &|_| true,
            scope_exits: true,
            exhausted_by: &|_| false,
        };
        if let Verdict::Leaks(l) = flow::analyze(d.body, d.stmt, &res, &policy) {
            let (line, _) = file.line_col(l.span.start);
            out.push((
                d.call.span,
                format!("span `{var}` is not ended on every path: it is left open {} at line {line}", l.describe()),
                format!("add `defer {var}.End()` right after the Start call"),
            ));
        }
    }
    out
}
