//! `wg.Add` inside the goroutine that the WaitGroup is meant to count.
use crate::prelude::*;
use pitfall_go::chans::go_literal;

pub static RULE: Rule = Rule {
    name: "waitgroup-add-in-goroutine",
    category: Category::Goroutine,
    severity: Severity::Error,
    summary: "wg.Add inside the goroutine it counts races with wg.Wait",
    reports_on: "the `wg.Add` call inside the goroutine",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
A `go func() { ... }()` whose body calls `wg.Add(n)` and also `wg.Done()` (directly
or deferred) on the same `sync.WaitGroup`: the goroutine counts itself from the
inside. It is not reported when the function that starts the goroutine calls
`wg.Add` itself (the goroutine is then already counted, and adding for its own
children from inside is safe). Closures nested in the goroutine are not searched.
Reported on the `wg.Add` call.

## Why it matters in production
`go` only schedules the goroutine; it may not run for a while. If `wg.Wait()` runs
before the goroutine reaches its `wg.Add(1)`, the counter is still zero and `Wait`
returns at once: shutdown proceeds while work is still running, results are read
before they are written, and a later `Add` on a reused WaitGroup can panic with
"WaitGroup is reused before previous Wait has returned". The race detector does
not always catch it, and it shows up only under load.

## Bad
```go
var wg sync.WaitGroup
for _, job := range jobs {
	go func() {
		wg.Add(1)
		defer wg.Done()
		run(job)
	}()
}
wg.Wait()
```

## Good
```go
var wg sync.WaitGroup
for _, job := range jobs {
	wg.Add(1)
	go func() {
		defer wg.Done()
		run(job)
	}()
}
wg.Wait()
```

## How to fix
Call `wg.Add` in the goroutine that will call `wg.Wait`, before the `go`
statement (or use `wg.Go(f)` on Go 1.25+, or an `errgroup.Group`).

## How to suppress
`//nolint:waitgroup-add-in-goroutine // reason` on the line, or on its own line
before the statement/function; `//nolint:goroutine` for the whole category; see
`pitfall rule`.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    let file = cx.file;
    if !file.src.contains(".Add(") {
        return;
    }
    // (go statement, enclosing function body) pairs.
    let mut gos: Vec<(&Stmt, &FuncLit, Func)> = Vec::new();
    walk::walk_file(&file.ast, &mut |n, anc| {
        if let Node::Stmt(s) = n {
            if let (Some(lit), Some(f)) = (go_literal(s), enclosing_func(anc)) {
                gos.push((s, lit, f));
            }
        }
        true
    });
    for (go, lit, outer) in gos {
        // A statement of the literal's own body (not nested in an `if`, a loop...).
        let top = |c: &CallExpr| {
            lit.body.stmts.iter().any(|s| match s {
                Stmt::Expr(e) => e.span() == c.span,
                Stmt::Defer(d) => d.call.span() == c.span,
                _ => false,
            })
        };
        let first = |c: &CallExpr| {
            matches!(lit.body.stmts.first(), Some(Stmt::Expr(e)) if e.span() == c.span)
        };
        let mut adds: Vec<(&CallExpr, String)> = Vec::new();
        let mut dones: Vec<String> = Vec::new();
        let mut waits: Vec<String> = Vec::new();
        walk::walk_body(&lit.body, &mut |n, _| {
            if let Node::Expr(Expr::Call(c)) = n {
                if let (Some(m), Some(recv)) = (c.method_name(), c.receiver()) {
                    if let Some(name) = recv.dotted_name() {
                        match m {
                            "Add" if c.args.len() == 1 => adds.push((c, name)),
                            // Only the goroutine's own Done counts: a Done in
                            // an `if` rolls back an Add for a child that failed to start.
                            "Done" if c.args.is_empty() && top(c) => dones.push(name),
                            "Wait" if c.args.is_empty() => waits.push(name),
                            _ => {}
                        }
                    }
                }
            }
            true
        });
        for (add, name) in adds {
            // `wg.Add` first thing in the goroutine (staticcheck SA2000), or
            // at its top level beside its own Done.
            if !(first(add) || (top(add) && dones.contains(&name))) {
                continue;
            }
            // The goroutine waits on it itself: Add runs before that Wait.
            if waits.contains(&name) {
                continue;
            }
            let Some(recv) = add.receiver() else { continue };
            if !cx.type_of(recv).deref().is_named("sync", "WaitGroup") {
                continue;
            }
            // A WaitGroup declared inside the goroutine is waited on there.
            if let Some(id) = recv.as_ident() {
                if cx
                    .env_at(id.span.start)
                    .resolve(id)
                    .is_some_and(|b| lit.span.contains(b.decl.start))
                {
                    continue;
                }
            }
            if parent_adds(outer, go, &name) {
                continue;
            }
            cx.report(
                add.span,
                format!("`{name}.Add` runs inside the goroutine it counts: `{name}.Wait()` can return before this goroutine has started"),
            )
            .fix(format!("call `{name}.Add(1)` before the `go` statement, in the goroutine that waits"));
        }
    }
}

/// Whether the function that runs `go` calls `name.Add(...)` itself (outside
/// the goroutine's literal): the goroutine is then counted before it starts.
fn parent_adds(outer: Func, go: &Stmt, name: &str) -> bool {
    let Some(body) = outer.body() else {
        return false;
    };
    let mut found = false;
    walk::walk_body(body, &mut |n, _| {
        if found || n.span() == go.span() {
            return false;
        }
        if let Node::Expr(Expr::Call(c)) = n {
            if c.method_name() == Some("Add")
                && c.receiver().and_then(|r| r.dotted_name()).as_deref() == Some(name)
            {
                found = true;
            }
        }
        true
    });
    found
}
