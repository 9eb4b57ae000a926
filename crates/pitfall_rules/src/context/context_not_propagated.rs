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

Also reported: in such a function, a call to a package function without a context
parameter that makes its own root context (directly, or through up to three such
calls), on the call (the helper should take the context); and an unconditional
`ctx = context.Background()` that throws the caller's context away for the rest of
the function.

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
    let mut roots = RootMakers::default();
    walk::walk_file(&file.ast, &mut |n, anc| {
        let Node::Expr(Expr::Call(call)) = n else {
            return true;
        };
        if let Some(callee) = roots.makes_root(cx, call) {
            if let Some(((param, is_req), _)) = context_at_hand(&sc, anc) {
                if !detached(anc) {
                    let pass = if is_req { format!("{}.Context()", param.name) } else { param.name.to_string() };
                    out.push((
                        call.span,
                        format!("{callee}() starts its own root context (context.Background/TODO) although `{}` is at hand here: the caller's cancellation and deadline do not reach it", param.name),
                        format!("give {callee} a `ctx context.Context` parameter and pass `{pass}`"),
                    ));
                }
            }
            return true;
        }
        if !cx.is_pkg_call(call, "context", &["Background", "TODO"]) {
            return true;
        }
        if detached(anc) || stored(anc) {
            return true;
        }
        let Some(((param, is_req), func)) = context_at_hand(&sc, anc) else {
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

/// The context parameter of the innermost enclosing function that has one.
fn context_at_hand<'a>(
    sc: &pitfall_go::types::Scope<'a>,
    anc: &[Node<'a>],
) -> Option<((&'a Ident, bool), Func<'a>)> {
    anc.iter().rev().filter_map(|a| a.as_func()).find_map(|f| {
        ctxflow::context_params(sc, f.ty()).first().map(|p| (*p, f))
    })
}

/// Package functions without a context parameter that make a root context
/// (`context.Background()`/`TODO()`) themselves or through such a function
/// they call, up to [`RootMakers::DEPTH`] calls deep; memoised per file.
#[derive(Default)]
struct RootMakers<'a> {
    known: std::collections::HashMap<&'a str, bool>,
}

impl<'a> RootMakers<'a> {
    const DEPTH: u32 = 3;

    /// The callee's name when `call` calls such a function.
    fn makes_root(&mut self, cx: &Checker<'a>, call: &'a CallExpr) -> Option<&'a str> {
        let Expr::Ident(id) = call.fun.unparen() else { return None };
        if cx.env_at(id.span.start).resolve(id).is_some() {
            return None;
        }
        self.func(cx, id.name.as_str(), 0).then_some(id.name.as_str())
    }

    fn func(&mut self, cx: &Checker<'a>, name: &'a str, depth: u32) -> bool {
        if let Some(&k) = self.known.get(name) {
            return k;
        }
        let Some(def) = cx.pkg.funcs.get(name) else { return false };
        let Some(body) = &def.decl.body else { return false };
        let fsc = pitfall_go::types::Scope { file: def.file, ..cx.scope() };
        if depth >= Self::DEPTH || !ctxflow::context_params(&fsc, &def.decl.ty).is_empty() {
            return false;
        }
        self.known.insert(name, false); // recursion guard
        let mut found = false;
        let mut callees = Vec::new();
        walk::walk(Node::Block(body), &mut |n, _| {
            if found {
                return false;
            }
            match n {
                // Function literals and `go`/`defer` run on their own.
                Node::Expr(Expr::FuncLit(_)) | Node::Stmt(Stmt::Go(_) | Stmt::Defer(_)) => false,
                Node::Expr(Expr::Call(c)) => {
                    if matches!(def.file.pkg_member_unscoped(&c.fun), Some(("context", "Background" | "TODO"))) {
                        found = true;
                    } else if let Expr::Ident(f) = c.fun.unparen() {
                        callees.push(f.name.as_str());
                    }
                    true
                }
                _ => true,
            }
        });
        if !found {
            found = callees.into_iter().any(|c| self.func(cx, c, depth + 1));
        }
        self.known.insert(name, found);
        found
    }
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

/// `if ctx == nil { ctx = context.Background() }` (a default for a missing
/// context). An unconditional `ctx = context.Background()` is not one: it
/// throws the caller's context away for everything after it.
fn nil_default(anc: &[Node<'_>], name: &str) -> bool {
    anc.iter().any(|a| match a {
        Node::Stmt(Stmt::If(i)) => mentions_nil_check(&i.cond, name),
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
