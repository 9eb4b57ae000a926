//! The cancel function of a derived context not used on every path.
use crate::prelude::*;
use pitfall_go::flow::{self, ExitKind, Policy, Resource, Verdict};

pub static RULE: Rule = Rule {
    name: "lost-cancel",
    category: Category::Context,
    severity: Severity::Warning,
    summary: "cancel function of context.WithCancel/WithTimeout/WithDeadline not used on every path (context leak)",
    reports_on: "the assignment that derives the context, and the return that leaks its cancel function",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
A context derived with `context.WithCancel`, `WithTimeout`, `WithDeadline` (or
their `...Cause` variants) whose cancel function is discarded (`_`) or is not used
on some path out of the function. It follows go vet's *lostcancel* check: any use
of the cancel variable counts (calling it, deferring it, returning it, storing it,
passing it on, capturing it in a closure), and only paths that reach a `return` (or
the end of the function) without any use are reported.

Two findings are reported: one on the assignment that derives the context, and one
on the `return` that is reached without using the cancel function. A cancel
function stored in a struct field (`s.cancel`) is not followed. Paths that end in
`panic`, `log.Fatal` or `os.Exit` do not count, and neither does returning from
`main` (the process ends). `var ctx, cancel = ...` is followed like `:=`; a named
result assigned with `=` is handed to the caller by a bare `return`.

## Why it matters in production
Until it is cancelled, a derived context stays registered in its parent: its timer
(for `WithTimeout`/`WithDeadline`) and the parent's child map keep it alive. In a
request path this leaks memory and timers per request until the parent itself is
cancelled — for a context derived from `context.Background()`, never.

## Bad
```go
func lookup(parent context.Context, key string) (string, error) {
	ctx, cancel := context.WithTimeout(parent, time.Second)
	if key == "" {
		return "", errEmptyKey // cancel is never called on this path
	}
	defer cancel()
	return store.Get(ctx, key)
}
```

## Good
```go
func lookup(parent context.Context, key string) (string, error) {
	ctx, cancel := context.WithTimeout(parent, time.Second)
	defer cancel()
	if key == "" {
		return "", errEmptyKey
	}
	return store.Get(ctx, key)
}
```

## How to fix
Write `defer cancel()` on the line right after the derivation. When the context
must outlive the function, return the cancel function to the caller or store it
where the owner will call it.

## How to suppress
`//nolint:lost-cancel // cancelled by the watcher goroutine` on the reported line,
or on its own line before the statement or the function; `//nolint:context` for
the whole category.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    // Cheap filter before any type inference.
    if !cx.file.imports("context") {
        return;
    }
    for (span, msg, fix, edits) in find(cx) {
        let (applicability, edits) = edits.unwrap_or((Applicability::Unsafe, Vec::new()));
        cx.report(span, msg).fix(fix).edits(applicability, edits);
    }
}

type Edits = Option<(Applicability, Vec<TextEdit>)>;

fn find<'a>(cx: &Checker<'a>) -> Vec<(Span, String, String, Edits)> {
    let mut out = Vec::new();
    for d in cx.cancel_derivations() {
        let what = format!("context.{}", d.call.method_name().unwrap_or("WithCancel"));
        let Some(cancel) = d.cancel().as_ident() else {
            continue;
        };
        let (line, _) = cx.file.line_col(d.stmt.span().start);
        if cancel.is_blank() {
            out.push((
                d.stmt.span(),
                format!("the cancel function returned by {what} is discarded: the context leaks until its parent is cancelled"),
                "keep the cancel function and `defer cancel()`".to_string(),
                None,
            ));
            continue;
        }
        // A variable assigned with `=` lives beyond the statement's block;
        // the path helper follows one block, so only the function's own
        // top-level statements are judged.
        let top_level = d.body.stmts.iter().any(|s| std::ptr::eq(s, d.stmt));
        if !d.assign.is_define() && (!top_level || !cx.declared_in(d.body, cancel)) {
            continue;
        }
        // Returning from `main` ends the program: nothing is left to leak.
        if is_main(cx, d.func) {
            continue;
        }
        let name = cancel.name.as_str();
        let res = Resource {
            var: name,
            err: None,
            fields: &[],
        };
        let policy = Policy {
            releases: &|_| false,
            borrows: &|_| false,
            return_matters: &|_| true,
            scope_exits: true,
            exhausted_by: &|_| false,
        };
        let Verdict::Leaks(leak) = flow::analyze(d.body, d.stmt, &res, &policy) else {
            continue;
        };
        let (leak_line, _) = cx.file.line_col(leak.span.start);
        out.push((
            d.stmt.span(),
            format!(
                "the {name} function from {what} is not used on all paths: it leaks {} at line {leak_line} (possible context leak)",
                leak.describe()
            ),
            format!("add `defer {name}()` right after this line"),
            defer_cancel(cx, &d, name),
        ));
        if matches!(leak.kind, ExitKind::Return | ExitKind::EndOfFunction) {
            out.push((
                leak.span,
                format!("this return can be reached without using the {name} function defined on line {line}"),
                format!("call `{name}()` before returning, or `defer {name}()` where it is defined"),
                None,
            ));
        }
    }
    out
}

/// Whether `func` is `main` of package `main`.
fn is_main(cx: &Checker, func: Func) -> bool {
    cx.pkg.src.name == "main"
        && matches!(func, Func::Decl(fd) if fd.recv.is_none() && fd.name.name == "main")
}

/// `defer cancel()` on a new line after the derivation. Safe when neither the
/// context nor the cancel function can outlive the function (not returned,
/// stored, captured by a closure or a goroutine) and the call is not in a
/// loop: then cancelling at return ends nothing still in use, at the right
/// time. Otherwise offered as unsafe.
fn defer_cancel(cx: &Checker, d: &pitfall_go::ctxflow::Derivation, name: &str) -> Edits {
    let cause = d.call.method_name().is_some_and(|m| m.ends_with("Cause"));
    let code = if cause {
        format!("defer {name}(nil)")
    } else {
        format!("defer {name}()")
    };
    let edit = crate::fixes::line_after(&cx.file.src, d.stmt.span(), &code)?;
    let mut names = vec![name];
    names.extend(d.ctx().map(|c| c.name.as_str()));
    // In a loop, a deferred cancel runs only when the function returns.
    let escapes = crate::fixes::may_escape(d.body, d.stmt, &names) || crate::fixes::in_loop(d.body, d.stmt);
    let applicability = if escapes {
        Applicability::Unsafe
    } else {
        Applicability::Safe
    };
    Some((applicability, vec![edit]))
}
