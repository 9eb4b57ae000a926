//! Using an `*http.Response` before checking the error of the same call.
use crate::prelude::*;
use pitfall_go::flow;

pub static RULE: Rule = Rule {
    name: "response-used-before-error-check",
    category: Category::Http,
    severity: Severity::Error,
    summary: "HTTP response used before the call's error is checked (nil pointer panic on failure)",
    reports_on: "the first use of the response (e.g. `defer resp.Body.Close()`)",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
After `resp, err := client.Do(req)` (or `http.Get`, `http.Post`, ...), a statement
that reads a field or calls a method of `resp` before any statement looks at `err`.
The classic form is `defer resp.Body.Close()` written directly under the call. The
finding is on that first use.

It stays silent when the statement checks `resp` against nil, when `err` is looked
at first (in any way), and when `resp` is only passed along or used inside a closure.

## Why it matters in production
When the request fails (DNS error, connection refused, timeout, cancelled context)
the client returns a nil response. The `defer resp.Body.Close()` then dereferences
nil and the goroutine panics: the service crashes exactly when a dependency has an
outage, turning one failing upstream into a cascading failure.

## Bad
```go
func ping(ctx context.Context, c *http.Client, url string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.Do(req)
	defer resp.Body.Close() // panics when err != nil
	if err != nil {
		return err
	}
	return expectOK(resp.StatusCode)
}
```

## Good
```go
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
```

## How to fix
Check `err` first and only then touch the response; move the `defer` below the error
check.

## How to suppress
`//nolint:response-used-before-error-check // reason` on the reported line, or on its
own line before the statement or the function; `//nolint:http` for the whole category.
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
        let (Some(resp), Some(err)) = (d.name(0), d.name(1)) else { continue };
        if d.assign.lhs.len() != 2 || super::unclosed_response_body::client_call(cx, d.call).is_none() {
            continue;
        }
        let Some(rest) = flow::following(d.body, d.stmt) else { continue };
        for s in rest {
            // For an `if`, only its condition runs before anything else can check err.
            let node = match s {
                Stmt::If(i) if i.init.is_none() => Node::Expr(&i.cond),
                _ => Node::Stmt(s),
            };
            if flow::mentions(Node::Stmt(s), &err.name) && !matches!(node, Node::Expr(_)) {
                break;
            }
            if flow::mentions(node, &err.name) {
                break;
            }
            if !flow::mentions(node, &resp.name) {
                if !matches!(s, Stmt::Expr(_) | Stmt::Assign(_) | Stmt::Decl(_) | Stmt::IncDec(_) | Stmt::Send(_)) {
                    break;
                }
                continue;
            }
            if let Some(use_span) = first_deref(node, &resp.name) {
                let what = file.text(use_span).to_string();
                out.push((
                    use_span,
                    format!(
                        "`{what}` is used before `{}` is checked: `{}` is nil when the request fails, so this panics",
                        err.name, resp.name
                    ),
                    format!("check `if {} != nil` first, then use the response", err.name),
                ));
            }
            break;
        }
    }
    out
}

/// The first `resp.X` in the statement, unless the statement compares `resp`
/// with nil, uses it inside a closure, or uses it otherwise first.
fn first_deref(node: Node<'_>, name: &str) -> Option<Span> {
    let mut first: Option<Span> = None;
    let mut guarded = false;
    walk::walk(node, &mut |n, anc| {
        if guarded {
            return false;
        }
        if let Node::Expr(Expr::FuncLit(l)) = n {
            if flow::mentions(Node::Block(&l.body), name) {
                guarded = true;
            }
            return false;
        }
        let Node::Expr(Expr::Ident(id)) = n else { return true };
        if id.name != name {
            return true;
        }
        match anc.last() {
            Some(Node::Expr(e @ Expr::Selector(sel))) if sel.x.as_ident().is_some_and(|x| x.span == id.span) => {
                if first.is_none() {
                    first = Some(e.span());
                }
            }
            Some(Node::Expr(Expr::Binary(b))) if b.op == "==" || b.op == "!=" => guarded = true,
            _ => {
                if first.is_none() {
                    guarded = true;
                }
            }
        }
        true
    });
    if guarded {
        None
    } else {
        first
    }
}
