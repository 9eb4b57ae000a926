//! Finds goroutine-leak tests that compare `runtime.NumGoroutine()` across a fixed sleep.
use crate::prelude::*;
use pitfall_go::types::{Env, Scope};
use pitfall_go::walk::{walk, walk_body};

pub static RULE: Rule = Rule {
    name: "sleep-based-leak-test",
    category: Category::Testing,
    severity: Severity::Warning,
    summary: "Leak test compares runtime.NumGoroutine() across a time.Sleep (flaky and blind)",
    reports_on: "the `time.Sleep` call between the two `runtime.NumGoroutine()` reads",
    test_files: TestFiles::Only,
    options: &[],
    doc: r#"
## What it finds
In a `_test.go` file, a function that reads `runtime.NumGoroutine()`, sleeps with
`time.Sleep`, reads it again and compares the two counts (`>`, `!=`, an assert
helper). Polling loops that re-read the count until a deadline, counts that are only
logged, and benchmarks stay silent. Reported on the last `time.Sleep` before the
compared re-read.

## Why it matters in production
The sleep is a guess: on a loaded CI machine the goroutine has not exited yet and the
test fails for nothing; on a fast one a different goroutine (a timer, the HTTP
client's idle connection reaper, a parallel test) finishing or starting hides the
leak you meant to catch. Counting also says nothing about *which* goroutine leaked,
so a red run is hard to act on. Leaks then reach production and show up as slowly
growing memory.

## Bad
```go
func TestPoolClose(t *testing.T) {
	n := runtime.NumGoroutine()
	p := NewPool(4)
	p.Close()
	time.Sleep(100 * time.Millisecond)
	if runtime.NumGoroutine() > n {
		t.Fatal("pool leaked goroutines")
	}
}
```
## Good
```go
func TestPoolClose(t *testing.T) {
	defer goleak.VerifyNone(t) // go.uber.org/goleak: retries, prints leaked stacks
	p := NewPool(4)
	p.Close()
}
```

## How to fix
Use `go.uber.org/goleak` (`goleak.VerifyNone(t)` or `goleak.VerifyTestMain(m)`),
or on Go 1.25+ run the test in a `testing/synctest` bubble, where `synctest.Wait`
waits until every goroutine of the bubble is blocked. If you must count, poll with
a deadline and re-read the count on every round.

## How to suppress
`//nolint:sleep-based-leak-test // reason` on the line, or on its own line before the
statement/function; `//nolint:testing` for the whole category; see `pitfall rule`.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    let sc = cx.scope();
    let mut hits: Vec<&CallExpr> = Vec::new();
    for decl in &cx.file.ast.decls {
        let Decl::Func(f) = decl else { continue };
        let name = f.name.name.as_str();
        if f.recv.is_none() && (name.starts_with("Benchmark") || name.starts_with("Fuzz") || name.starts_with("Example")) {
            continue;
        }
        if !cx.file.text(f.span).contains("NumGoroutine") {
            continue;
        }
        let env = cx.env_at(f.span.start);
        walk(Node::FuncDecl(f), &mut |n, _| {
            if let Some(func) = n.as_func() {
                if let Some(body) = func.body() {
                    hits.extend(check_body(&sc, &env, body));
                }
            }
            true
        });
    }
    for sleep in hits {
        let sleep_text = cx.file.text(sleep.fun.span()).to_string();
        cx.report(
            sleep.span,
            format!("leak check compares runtime.NumGoroutine() across {sleep_text}: flaky when the machine is slow, blind when another goroutine starts or ends meanwhile"),
        )
        .fix("use go.uber.org/goleak (`defer goleak.VerifyNone(t)`) or, on Go 1.25+, testing/synctest; if you must count, poll with a deadline");
    }
}

struct Read<'a> {
    span: Span,
    polling: bool,
    compared: bool,
    _call: &'a CallExpr,
}

/// The sleeps of one function body (closures excluded) that sit between a
/// baseline `runtime.NumGoroutine()` and a later read that is compared.
fn check_body<'a>(sc: &Scope<'a>, env: &Env<'a>, body: &'a Block) -> Vec<&'a CallExpr> {
    let mut reads: Vec<Read<'a>> = Vec::new();
    let mut sleeps: Vec<(&'a CallExpr, bool)> = Vec::new();
    // Names bound to a read (`after := runtime.NumGoroutine()`), by declaration span.
    let mut bound: Vec<(Span, usize)> = Vec::new();
    walk_body(body, &mut |n, anc| {
        let Node::Expr(Expr::Call(c)) = n else { return true };
        match env.pkg_member(sc.file, &c.fun) {
            Some(("runtime", "NumGoroutine")) => {
                let polling = in_polling_loop(sc, env, anc);
                let compared = compared_here(sc, env, anc);
                if let Some(b) = bound_name(n, anc).and_then(|id| env.resolve(id)) {
                    bound.push((b.decl, reads.len()));
                }
                reads.push(Read { span: c.span, polling, compared, _call: c });
            }
            Some(("time", "Sleep")) => sleeps.push((c.as_ref(), in_polling_loop(sc, env, anc))),
            _ => {}
        }
        true
    });
    if reads.len() < 2 || sleeps.is_empty() {
        return Vec::new();
    }
    // A read stored in a variable counts as compared when the variable is.
    if !bound.is_empty() {
        walk_body(body, &mut |n, anc| {
            if let Node::Expr(Expr::Ident(id)) = n {
                if let Some(b) = env.resolve(id) {
                    if b.decl != id.span {
                        if let Some((_, i)) = bound.iter().find(|(d, _)| *d == b.decl) {
                            if compared_here(sc, env, anc) {
                                reads[*i].compared = true;
                            }
                        }
                    }
                }
            }
            true
        });
    }
    let mut out: Vec<&'a CallExpr> = Vec::new();
    let first = reads[0].span;
    for r in reads.iter().filter(|r| r.compared && !r.polling) {
        let last_sleep = sleeps
            .iter()
            .filter(|(s, polling)| !polling && s.span.start >= first.end && s.span.end <= r.span.start)
            .map(|(s, _)| *s)
            .next_back();
        if let Some(s) = last_sleep {
            if !out.iter().any(|o| std::ptr::eq(*o, s)) {
                out.push(s);
            }
        }
    }
    out
}

/// Whether the node sits in a polling loop (of the same function): one whose
/// condition re-reads the goroutine count, or whose body leaves (`break`,
/// `return`) when a re-read count says so. That is the right way to wait.
fn in_polling_loop<'a>(sc: &Scope<'a>, env: &Env<'a>, anc: &[Node<'a>]) -> bool {
    for a in anc.iter().rev() {
        if a.as_func().is_some() {
            return false;
        }
        let polling = match a {
            Node::Stmt(Stmt::For(f)) => {
                f.cond.as_ref().is_some_and(|c| reads_goroutines(sc, env, Node::Expr(c)))
                    || exits_on_count(sc, env, &f.body)
            }
            Node::Stmt(Stmt::Range(r)) => exits_on_count(sc, env, &r.body),
            _ => false,
        };
        if polling {
            return true;
        }
    }
    false
}

/// `if runtime.NumGoroutine() <= before { break }` (or `return`) in the loop body.
fn exits_on_count<'a>(sc: &Scope<'a>, env: &Env<'a>, body: &'a Block) -> bool {
    let mut found = false;
    walk_body(body, &mut |n, _| {
        if let Node::Stmt(Stmt::If(i)) = n {
            let reads = reads_goroutines(sc, env, Node::Expr(&i.cond))
                || i.init.as_ref().is_some_and(|s| reads_goroutines(sc, env, Node::Stmt(s)));
            if reads && leaves(&i.then) {
                found = true;
            }
        }
        !found
    });
    found
}

fn leaves(b: &Block) -> bool {
    let mut found = false;
    walk_body(b, &mut |n, _| {
        if matches!(n, Node::Stmt(Stmt::Return(_)))
            || matches!(n, Node::Stmt(Stmt::Branch(br)) if br.kind == BranchKind::Break || br.kind == BranchKind::Goto)
        {
            found = true;
        }
        !found
    });
    found
}

fn reads_goroutines<'a>(sc: &Scope<'a>, env: &Env<'a>, n: Node<'a>) -> bool {
    let mut found = false;
    walk(n, &mut |n, _| {
        if let Node::Expr(Expr::Call(c)) = n {
            if env.pkg_member(sc.file, &c.fun) == Some(("runtime", "NumGoroutine")) {
                found = true;
            }
        }
        !found
    });
    found
}

/// Whether the value at this position flows into a comparison (`>`, `!=`, ...,
/// possibly after arithmetic) or into a call that is not just logging it.
fn compared_here<'a>(sc: &Scope<'a>, env: &Env<'a>, anc: &[Node<'a>]) -> bool {
    for a in anc.iter().rev() {
        match a {
            Node::Expr(Expr::Paren(_)) => continue,
            Node::Expr(Expr::Binary(b)) => match b.op {
                "==" | "!=" | "<" | "<=" | ">" | ">=" => return true,
                "+" | "-" | "*" | "/" | "%" => continue,
                _ => return false,
            },
            Node::Expr(Expr::Call(c)) => return !is_logging(sc, env, c),
            _ => return false,
        }
    }
    false
}

/// `t.Logf(...)`, `fmt.Println(...)`, `log.Printf(...)`: output, not a check.
fn is_logging<'a>(sc: &Scope<'a>, env: &Env<'a>, c: &'a CallExpr) -> bool {
    if let Some((pkg, _)) = env.pkg_member(sc.file, &c.fun) {
        if matches!(pkg, "fmt" | "log" | "log/slog") {
            return true;
        }
    }
    let Some(name) = c.method_name() else { return false };
    const LOGGING: &[&str] = &["Log", "Print", "Sprint", "Fprint", "Error", "Fatal", "Skip", "Info", "Debug", "Warn", "Trace", "Append"];
    LOGGING.iter().any(|p| name.starts_with(p))
}

/// `x` in `x := runtime.NumGoroutine()` (also in an if/switch init),
/// `x = runtime.NumGoroutine()` or `var x = runtime.NumGoroutine()`.
fn bound_name<'a>(n: Node<'a>, anc: &[Node<'a>]) -> Option<&'a Ident> {
    let span = n.span();
    match anc.last()? {
        Node::Stmt(Stmt::Assign(a)) => {
            let i = a.rhs.iter().position(|r| r.span() == span)?;
            if a.lhs.len() != a.rhs.len() {
                return None;
            }
            a.lhs.get(i)?.as_ident()
        }
        Node::ValueSpec(v) => {
            let i = v.values.iter().position(|r| r.span() == span)?;
            v.names.get(i)
        }
        _ => None,
    }
}
