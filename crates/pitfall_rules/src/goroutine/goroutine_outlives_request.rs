//! A goroutine started in an HTTP handler that keeps using the request or writer.
use crate::prelude::*;
use pitfall_go::ctxflow;

pub static RULE: Rule = Rule {
    name: "goroutine-outlives-request",
    category: Category::Goroutine,
    severity: Severity::Warning,
    summary: "goroutine started in an HTTP handler uses the ResponseWriter, the *http.Request or r.Context() after the handler can return",
    reports_on: "the `go` statement",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
A `go` statement in an HTTP handler (a function or closure with the signature
`(http.ResponseWriter, *http.Request)`) whose goroutine uses the writer or the
request — directly, through `r.Context()`, or by receiving them as arguments —
while nothing in the handler waits for it (no `wg.Wait()`, receive, `select` or
`range` after the `go` statement).

Values copied out before the `go` statement (`id := r.URL.Query().Get("id")`, or
`go audit(r.URL.Path)`, whose arguments are evaluated before the goroutine starts)
are fine and not reported.

## Why it matters in production
When the handler returns, the server finishes the response and may reuse the
request's memory; `r.Context()` is cancelled. The goroutine then writes to a
finished response (lost or garbled output, a panic in some middleware), reads a
body that was closed, or has its work cancelled immediately. These failures depend
on timing and show up only under load.

## Bad
```go
func (h *Handler) Upload(w http.ResponseWriter, r *http.Request) {
	go func() {
		if err := h.store.Save(r.Context(), r.Body); err != nil {
			log.Print(err)
		}
	}()
	w.WriteHeader(http.StatusAccepted)
}
```

## Good
```go
func (h *Handler) Upload(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ctx := context.WithoutCancel(r.Context())
	go func() {
		if err := h.store.Save(ctx, bytes.NewReader(data)); err != nil {
			log.Print(err)
		}
	}()
	w.WriteHeader(http.StatusAccepted)
}
```

## How to fix
Copy what the goroutine needs before starting it, and give it its own context
(`context.WithoutCancel(r.Context())` keeps the values, drops the cancellation). If
the response depends on the goroutine, wait for it before returning.

## How to suppress
`//nolint:goroutine-outlives-request // waited for by the middleware` on the
reported line, or on its own line before the statement or the function;
`//nolint:goroutine` for the whole category.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    // Cheap filter before any type inference.
    if !cx.file.imports("net/http") {
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
    for f in walk::funcs(&file.ast) {
        let Some(body) = f.body() else { continue };
        let Some((w, r)) = ctxflow::handler_params(&sc, f.ty()) else {
            continue;
        };
        let names: Vec<&Ident> = [w, r].into_iter().flatten().collect();
        if names.is_empty() {
            continue;
        }
        let mut gos = Vec::new();
        walk::walk_body(body, &mut |n, _| {
            if let Node::Stmt(s @ Stmt::Go(g)) = n {
                gos.push((s, g));
            }
            true
        });
        for (s, g) in gos {
            let Some(used) = names.iter().find(|p| goroutine_uses(cx, g, p)) else {
                continue;
            };
            if ctxflow::waits_after(body, s.span().end) {
                continue;
            }
            let what = if r.is_some_and(|r| r.name == used.name) {
                format!("the request `{}`", used.name)
            } else {
                format!("the ResponseWriter `{}`", used.name)
            };
            out.push((
                s.span(),
                format!("this goroutine uses {what} but nothing in the handler waits for it: it can run after the handler returns, when the response is finished and r.Context() is cancelled"),
                "copy the values it needs before the go statement and give it context.WithoutCancel(r.Context()), or wait for it".to_string(),
            ));
        }
    }
    out
}

/// Whether the goroutine keeps `p` itself (the writer or the request): the
/// closure refers to it, or it is passed as an argument (not a value read
/// out of it, which is copied before the goroutine starts).
fn goroutine_uses<'a>(cx: &Checker<'a>, g: &'a CallStmt, p: &'a Ident) -> bool {
    let Some(call) = g.call.as_call() else {
        return false;
    };
    let refers = |e: &'a Expr| -> bool {
        let mut found = false;
        walk::walk(Node::Expr(e), &mut |n, _| {
            if found {
                return false;
            }
            if let Node::Expr(Expr::Ident(id)) = n {
                if id.name == p.name {
                    let env = cx.env_at(id.span.start);
                    found = env.resolve(id).map(|b| b.decl) == Some(p.span);
                }
            }
            true
        });
        found
    };
    if let Expr::FuncLit(l) = call.fun.unparen() {
        if l.body.stmts.iter().any(|s| {
            let mut f = false;
            walk::walk(Node::Stmt(s), &mut |n, _| {
                if let Node::Expr(e @ Expr::Ident(_)) = n {
                    f |= refers(e);
                }
                !f
            });
            f
        }) {
            return true;
        }
    }
    call.args.iter().any(|a| match a.unparen() {
        Expr::Ident(_) => refers(a),
        // `r.Context()` evaluated now is still cancelled with the request.
        Expr::Call(c) => c.method_name() == Some("Context") && c.receiver().is_some_and(refers),
        _ => false,
    }) || matches!(call.fun.unparen(), Expr::Selector(s) if s.x.ident_name().is_some() && refers(&s.x))
}

