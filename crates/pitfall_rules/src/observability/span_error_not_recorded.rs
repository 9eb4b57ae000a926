//! An error returned from a traced function without recording it on the span.
use crate::prelude::*;
use pitfall_go::flow::{self, Policy, Resource, Verdict};

pub static RULE: Rule = Rule {
    name: "span-error-not-recorded",
    category: Category::Observability,
    severity: Severity::Info,
    summary: "Error returned from a traced function without RecordError/SetStatus on its span",
    reports_on: "the first `return` of a non-nil error that misses the span",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
In a function that starts a span (`tracer.Start`, `trace.StartSpan`), a `return` that
returns a non-nil error — `return ..., err` inside `if err != nil`, or a freshly built
`fmt.Errorf`/`errors.New` — on a path where neither `span.RecordError(...)` nor
`span.SetStatus(codes.Error, ...)` happened. The finding is on that `return` (the
first such one in the function).

It stays silent when a deferred closure or a helper receives the span (it may record
the error there), and for returns whose error may be nil.

## Why it matters in production
A span that ends without an error status is shown as a success. Error-rate panels
built from traces undercount, tail-sampling that keeps failed traces drops these, and
the trace of the failing request looks perfectly healthy.

## Bad
```go
func (s *Store) Save(ctx context.Context, it Item) error {
	ctx, span := s.tracer.Start(ctx, "Store.Save")
	defer span.End()
	if err := s.db.Insert(ctx, it); err != nil {
		return fmt.Errorf("save %s: %w", it.ID, err) // span still says OK
	}
	return nil
}
```

## Good
```go
	if err := s.db.Insert(ctx, it); err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "insert failed")
		return fmt.Errorf("save %s: %w", it.ID, err)
	}
```

## How to fix
Call `span.RecordError(err)` and `span.SetStatus(codes.Error, msg)` before returning
the error, or record it once in a deferred closure over a named error result.

## How to suppress
`//nolint:span-error-not-recorded // expected error, not a failure` on the return, or
on its own line before it or the function; `//nolint:observability` for the category.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    for (span, msg, fix) in find(cx) {
        cx.report(span, msg).fix(fix);
    }
}

fn find<'a>(cx: &Checker<'a>) -> Vec<(Span, String, String)> {
    let file: &'a pitfall_go::GoFile = cx.file;
    let mut out = Vec::new();
    for d in flow::defining_calls(&file.ast) {
        if d.assign.lhs.len() != 2 || !super::unended_span::is_span_start(cx, d.call) {
            continue;
        }
        let Some(v) = d.name(1) else { continue };
        let var = v.name.as_str();
        let error_returns = error_returns(cx, d.body);
        if error_returns.is_empty() {
            continue;
        }
        let res = Resource { var, err: None, fields: &[] };
        let releases = |c: &'a CallExpr| {
            flow::is_method_on(c, var, &[], &["RecordError"])
                || (flow::is_method_on(c, var, &[], &["SetStatus"])
                    && !c.args.first().and_then(|a| a.dotted_name()).is_some_and(|n| n.ends_with(".Ok") || n.ends_with(".Unset")))
        };
        let borrows = |c: &'a CallExpr| matches!(cx.pkg_member(&c.fun), Some(("fmt" | "log", _)));
        let matters = |r: &'a ReturnStmt| error_returns.contains(&r.span);
        let policy = Policy {
            releases: &releases,
            borrows: &borrows,
            return_matters: &matters,
            scope_exits: false,
            exhausted_by: &|_| false,
        };
        if let Verdict::Leaks(l) = flow::analyze(d.body, d.stmt, &res, &policy) {
            out.push((
                l.span,
                format!("error returned without recording it on span `{var}`: the trace will show this request as a success"),
                format!("call `{var}.RecordError(err)` and `{var}.SetStatus(codes.Error, ...)` before returning"),
            ));
        }
    }
    out
}

/// Returns (outside closures) whose last result is certainly a non-nil error.
fn error_returns<'a>(cx: &Checker<'a>, body: &'a Block) -> Vec<Span> {
    let mut out = Vec::new();
    walk::walk_body(body, &mut |n, anc| {
        let Node::Stmt(Stmt::Return(r)) = n else { return true };
        let Some(last) = r.results.last() else { return true };
        let non_nil = match last.unparen() {
            Expr::Call(c) => {
                matches!(cx.pkg_member(&c.fun), Some(("fmt", "Errorf") | ("errors", "New")))
            }
            Expr::Ident(id) => in_non_nil_branch(&id.name, r.span, anc),
            _ => false,
        };
        if non_nil {
            out.push(r.span);
        }
        true
    });
    out
}

/// Whether the return at `at` is in the then-block of an `if <name> != nil`.
fn in_non_nil_branch(name: &str, at: Span, anc: &[Node<'_>]) -> bool {
    anc.iter().rev().any(|a| match a {
        Node::Stmt(Stmt::If(i)) if i.then.span.encloses(at) => match i.cond.unparen() {
            Expr::Binary(b) if b.op == "!=" => {
                b.x.ident_name() == Some(name) && b.y.ident_name() == Some("nil")
            }
            _ => false,
        },
        _ => false,
    })
}
