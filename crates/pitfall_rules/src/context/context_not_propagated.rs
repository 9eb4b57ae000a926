//! `context.Background()` / `TODO()` where a context is at hand.
use crate::prelude::*;
use pitfall_go::ctxflow;

pub static RULE: Rule = Rule {
    name: "context-not-propagated",
    category: Category::Context,
    severity: Severity::Warning,
    summary:
        "context.Background()/TODO() in a function that already has a context or *http.Request",
    reports_on: "the context.Background() or context.TODO() call",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
A call to `context.Background()` or `context.TODO()` inside a function (or a closure
inside one) that receives a `context.Context` or an `*http.Request`: the new root
context drops the caller's cancellation, deadline and values.

It stays silent where a fresh context is usually deliberate: the `if ctx == nil {
ctx = context.Background() }` default, goroutines started with `go` (work meant to
outlive the caller), deferred cleanup, and code that runs after the function has
seen its context end (`<-ctx.Done()`, `ctx.Err()`), such as a graceful shutdown
with its own timeout, and contexts stored in a struct field or literal (they
belong to a longer-lived object). Test files are skipped.

## Why it matters in production
When the client disconnects or the caller's deadline passes, the work started under
`Background()` keeps running: database queries, outgoing calls and retries continue
for requests nobody is waiting for. Under load this turns a slow dependency into an
outage, and request-scoped values (trace IDs, auth) disappear from the logs.

## Bad
```go
func (s *Server) handleOrder(w http.ResponseWriter, r *http.Request) {
	order, err := s.store.Load(context.Background(), r.URL.Query().Get("id"))
	// ...
}
```

## Good
```go
func (s *Server) handleOrder(w http.ResponseWriter, r *http.Request) {
	order, err := s.store.Load(r.Context(), r.URL.Query().Get("id"))
	// ...
}
```

## How to fix
Pass the context you have (`ctx`, or `r.Context()` in a handler). If the work must
outlive the caller on purpose, use `context.WithoutCancel(ctx)` (Go 1.21+) so values
are kept and the intent is visible.

## How to suppress
`//nolint:context-not-propagated // must finish even if the client goes away` on
the reported line, or on its own line before the statement or the function;
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
    let file: &'a pitfall_go::GoFile = cx.file;
    let sc = cx.scope();
    let mut out = Vec::new();
    walk::walk_file(&file.ast, &mut |n, anc| {
        let Node::Expr(Expr::Call(call)) = n else {
            return true;
        };
        if !cx.is_pkg_call(call, "context", &["Background", "TODO"]) {
            return true;
        }
        if detached(anc) || stored(anc) {
            return true;
        }
        // The innermost enclosing function with a context parameter.
        let mut at_hand = None;
        for a in anc.iter().rev() {
            if let Some(f) = a.as_func() {
                let params = ctxflow::context_params(&sc, f.ty());
                if let Some(p) = params.first() {
                    at_hand = Some((*p, f));
                    break;
                }
            }
        }
        let Some(((param, is_req), func)) = at_hand else {
            return true;
        };
        let name = param.name.as_str();
        // Shadowed or reassigned names are not followed.
        let env = cx.env_at(call.span.start);
        if env.lookup(name, call.span.start).map(|b| b.decl) != Some(param.span) {
            return true;
        }
        if nil_default(anc, name) || after_done(func, name, call.span.start) {
            return true;
        }
        let what = cx.file.text(call.fun.span()).to_string();
        let pass = if is_req {
            format!("{name}.Context()")
        } else {
            name.to_string()
        };
        out.push((
            call.span,
            format!("{what}() starts a new root context although `{name}` is at hand: the caller's cancellation, deadline and values are lost"),
            format!("pass `{pass}` instead (or context.WithoutCancel({pass}) if the work must outlive the caller)"),
        ));
        true
    });
    out
}

/// Inside a `go` statement or a `defer` (work meant to run on its own).
fn detached(anc: &[Node<'_>]) -> bool {
    anc.iter()
        .any(|a| matches!(a, Node::Stmt(Stmt::Go(_) | Stmt::Defer(_))))
}

/// The new context goes into a struct (a field assignment or a composite
/// literal): it belongs to a longer-lived object, not to this call.
fn stored(anc: &[Node<'_>]) -> bool {
    anc.iter().any(|a| match a {
        Node::Expr(Expr::CompositeLit(_)) => true,
        Node::Stmt(Stmt::Assign(a)) => a
            .lhs
            .iter()
            .any(|l| matches!(l.unparen(), Expr::Selector(_))),
        _ => false,
    })
}

/// `if ctx == nil { ctx = context.Background() }`, or an assignment to `ctx` itself.
fn nil_default(anc: &[Node<'_>], name: &str) -> bool {
    anc.iter().any(|a| match a {
        Node::Stmt(Stmt::If(i)) => mentions_nil_check(&i.cond, name),
        Node::Stmt(Stmt::Assign(a)) => a.lhs.iter().any(|l| l.ident_name() == Some(name)),
        Node::Expr(Expr::Binary(b)) => b.op == "||" || b.op == "&&",
        _ => false,
    })
}

fn mentions_nil_check(e: &Expr, name: &str) -> bool {
    match e.unparen() {
        Expr::Binary(b) if b.op == "==" || b.op == "!=" => {
            let is =
                |x: &Expr, y: &Expr| x.ident_name() == Some(name) && y.ident_name() == Some("nil");
            is(&b.x, &b.y) || is(&b.y, &b.x)
        }
        Expr::Binary(b) => mentions_nil_check(&b.x, name) || mentions_nil_check(&b.y, name),
        Expr::Unary(u) => mentions_nil_check(&u.x, name),
        _ => false,
    }
}

/// Whether the function watches `name` end (`name.Done()` / `name.Err()`)
/// before `pos`: a fresh context afterwards is for cleanup.
fn after_done(func: Func<'_>, name: &str, pos: u32) -> bool {
    let Some(body) = func.body() else {
        return false;
    };
    let mut found = false;
    walk::walk(Node::Block(body), &mut |n, _| {
        if found {
            return false;
        }
        if let Node::Expr(Expr::Call(c)) = n {
            if c.span.start < pos
                && matches!(c.method_name(), Some("Done" | "Err"))
                && c.receiver().and_then(|r| r.ident_name()) == Some(name)
            {
                found = true;
            }
        }
        true
    });
    found
}
