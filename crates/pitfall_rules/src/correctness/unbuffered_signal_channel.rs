//! signal.Notify on an unbuffered channel.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "unbuffered-signal-channel",
    category: Category::Correctness,
    severity: Severity::Error,
    summary: "signal.Notify on an unbuffered channel can drop the signal",
    reports_on: "the `signal.Notify` call",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
`signal.Notify(c, ...)` where `c` is visibly made unbuffered — `make(chan os.Signal)`
or `make(chan os.Signal, 0)` — in the same function (including an enclosing
function of a closure) or as a package-level variable. Channels whose `make` is
not visible (parameters, struct fields) or whose capacity is not a literal zero
are not reported. Reported on the `signal.Notify` call.

## Why it matters in production
The signal package never blocks when it delivers: if nobody is receiving on the
channel at that exact moment, the signal is dropped. A SIGTERM from Kubernetes that
arrives while `main` is still starting up (or busy elsewhere) is lost, the
graceful shutdown never runs, and the pod is SIGKILLed after the grace period with
requests in flight.

## Bad
```go
func main() {
	stop := make(chan os.Signal)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	startWorkers()
	<-stop
	shutdown()
}
```

## Good
```go
func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	startWorkers()
	<-stop
	shutdown()
}
```

## How to fix
Give the channel a buffer of at least 1 (one slot per signal you must not miss),
or use `signal.NotifyContext`, which manages a buffered channel for you.

## How to suppress
`//nolint:unbuffered-signal-channel // reason` on the line, or on its own line
before the statement/function; `//nolint:correctness` for the whole category; see
`pitfall rule`.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    let file = cx.file;
    let mut notify_calls = Vec::new();
    walk::walk_file(&file.ast, &mut |n, _| {
        if let Node::Expr(Expr::Call(call)) = n {
            notify_calls.push(call);
        }
        true
    });
    for call in notify_calls {
        if !cx.is_pkg_call(call, "os/signal", &["Notify"]) {
            continue;
        }
        let Some(ch) = call.args.first().and_then(|a| a.as_ident()) else { continue };
        if !visibly_unbuffered(cx, ch) {
            continue;
        }
        let edits = buffer_edits(cx, ch);
        cx.report(
            call.span,
            format!("signal.Notify delivers to `{}`, an unbuffered channel: a signal sent while nobody is receiving is dropped", ch.name),
        )
        .fix(format!("give the channel a buffer: `{} := make(chan os.Signal, 1)` (or use signal.NotifyContext)", ch.name))
        .edits(Applicability::Safe, edits);
    }
}

/// `make(chan T)` / `make(chan T, 0)` -> `make(chan T, 1)`, when the channel's
/// only value is that `make` in its declaration.
fn buffer_edits<'a>(cx: &Checker<'a>, ch: &'a Ident) -> Vec<TextEdit> {
    let env = cx.env_at(ch.span.start);
    let Some(binding) = env.resolve(ch) else { return Vec::new() };
    let (decl, Some(init)) = (binding.decl, binding.init) else { return Vec::new() };
    let mut reassigned = false;
    for_each_assignment(cx, &ch.name, |lhs, _| {
        if env.resolve(lhs).map(|b| b.decl) == Some(decl) && lhs.span != decl {
            reassigned = true;
        }
    });
    if reassigned || !is_unbuffered_make(cx, init) {
        return Vec::new();
    }
    crate::fixes::buffer_of_one(init)
}

/// Whether every value `ch` can hold at this point is a visible
/// `make(chan T)` / `make(chan T, 0)`. Unknown values keep the rule silent.
fn visibly_unbuffered<'a>(cx: &Checker<'a>, ch: &'a Ident) -> bool {
    let env = cx.env_at(ch.span.start);
    let mut values: Vec<&'a Expr> = Vec::new();
    match env.resolve(ch) {
        Some(binding) => {
            let decl = binding.decl;
            match binding.init {
                Some(init) => values.push(init),
                None if !declared_by_bare_var(cx, decl) => return false,
                None => {}
            }
            // Later assignments to the same variable anywhere in the function.
            let mut unknown = false;
            for_each_assignment(cx, &ch.name, |lhs, rhs| {
                if env.resolve(lhs).map(|b| b.decl) != Some(decl) || lhs.span == decl {
                    return;
                }
                match rhs {
                    Some(v) => values.push(v),
                    None => unknown = true,
                }
            });
            if unknown {
                return false;
            }
        }
        None => {
            let Some(def) = cx.pkg.vars.get(ch.name.as_str()) else { return false };
            if def.is_const {
                return false;
            }
            let Some(init) = def.spec.values.get(def.index) else { return false };
            if def.spec.values.len() != def.spec.names.len() {
                return false;
            }
            values.push(init);
            // Any package-level reassignment seen in this file: stay silent.
            let mut reassigned = false;
            for_each_assignment(cx, &ch.name, |lhs, _| {
                if cx.env_at(lhs.span.start).resolve(lhs).is_none() {
                    reassigned = true;
                }
            });
            if reassigned {
                return false;
            }
        }
    }
    !values.is_empty() && values.iter().all(|v| is_unbuffered_make(cx, v))
}

/// `make(chan T)` or `make(chan T, 0)` with the builtin `make`.
fn is_unbuffered_make<'a>(cx: &Checker<'a>, e: &'a Expr) -> bool {
    let Some(call) = e.as_call() else { return false };
    let Some(make) = call.fun.as_ident() else { return false };
    if make.name != "make" || cx.env_at(make.span.start).resolve(make).is_some() {
        return false;
    }
    if !matches!(call.args.first().map(|a| a.unparen()), Some(Expr::ChanType(_))) {
        return false;
    }
    match call.args.get(1) {
        None => true,
        Some(Expr::BasicLit(l)) => l.int_value() == Some(0),
        Some(_) => false,
    }
}

/// Whether the identifier at `decl` is declared by `var x T` with no value.
fn declared_by_bare_var(cx: &Checker, decl: Span) -> bool {
    let mut found = false;
    walk::walk_file(&cx.file.ast, &mut |n, _| {
        if let Node::ValueSpec(v) = n {
            if v.values.is_empty() && v.names.iter().any(|id| id.span == decl) {
                found = true;
            }
        }
        !found
    });
    found
}

/// Calls `f(lhs ident, value)` for every assignment (`=` or `:=`) to a plain
/// identifier called `name` in the file; `value` is `None` when the right-hand
/// side is a multi-value call.
fn for_each_assignment<'a>(cx: &Checker<'a>, name: &str, mut f: impl FnMut(&'a Ident, Option<&'a Expr>)) {
    let file = cx.file;
    walk::walk_file(&file.ast, &mut |n, _| {
        if let Node::Stmt(Stmt::Assign(a)) = n {
            for (i, lhs) in a.lhs.iter().enumerate() {
                let Some(id) = lhs.as_ident() else { continue };
                if id.name != name {
                    continue;
                }
                let value = if a.lhs.len() == a.rhs.len() { a.rhs.get(i) } else { None };
                f(id, value);
            }
        }
        true
    });
}
