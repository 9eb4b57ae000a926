//! A goroutine per iteration of a loop that outside input drives, with no bound.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "unbounded-goroutines",
    category: Category::Goroutine,
    severity: Severity::Warning,
    summary: "a goroutine per accepted connection / received message with no limit",
    reports_on: "the `go` statement",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
A `go` statement directly in a loop whose iterations come from outside input:
- a `for` without a condition (or with a scanner's `Scan()` as condition) that
  accepts connections (`Accept`), reads messages (`Recv`, `ReadMessage`,
  `ReadFrom`, `ReadRequest`, ...) or receives from a channel;
- a `for ... range ch` over a channel;

with no bound in sight: no semaphore send before the `go` (or a send and a receive
on one channel inside the goroutine), no semaphore acquire (`Acquire`, `TryAcquire`, ...) or `Wait` call in the
loop, no `errgroup.SetLimit` in the function. Loops over slices, maps or counters
(`for i := 0; i < workers; i++`) are bounded by the data and are not reported;
receiving from timers (`time.After`, `ticker.C`) and `Done()` channels is not
input. Reported on the `go` statement.

## Why it matters in production
Each goroutine is cheap, but what it does is not: a burst of clients or a backlog of
messages starts as many goroutines as arrive, each holding buffers, database
connections and memory. Under load the service runs out of file descriptors or
memory and the pod is OOM-killed — exactly when traffic is highest — and a slow
dependency turns into an unbounded pile of waiting goroutines.

## Bad
```go
for {
	conn, err := ln.Accept()
	if err != nil {
		return err
	}
	go handle(conn)
}
```

## Good
```go
sem := make(chan struct{}, 256)
for {
	conn, err := ln.Accept()
	if err != nil {
		return err
	}
	sem <- struct{}{}
	go func() {
		defer func() { <-sem }()
		handle(conn)
	}()
}
```

## How to fix
Bound the concurrency: a semaphore channel acquired before `go`, a fixed pool of
workers reading from a channel, `errgroup.Group.SetLimit`, or
`golang.org/x/sync/semaphore`. For servers, a connection limit such as
`netutil.LimitListener` also works.

## How to suppress
`//nolint:unbounded-goroutines // reason` on the line, or on its own line before
the statement/function; `//nolint:goroutine` for the whole category; see `pitfall rule`.
"#,
    check: Check::Go(check),
};

/// Methods whose call in a loop means "one more piece of outside input".
const INPUT_METHODS: &[&str] = &[
    "Accept",
    "AcceptTCP",
    "AcceptUnix",
    "Recv",
    "RecvMsg",
    "ReadMessage",
    "ReadJSON",
    "ReadFrom",
    "ReadFromUDP",
    "ReadFromUDPAddrPort",
    "ReadMsgUDP",
    "ReadRequest",
    "Receive",
    "FetchMessage",
];

fn check(cx: &mut Checker) {
    let file = cx.file;
    if !file.src.contains("go ") {
        return;
    }
    let mut found: Vec<(&Stmt, &Stmt, Func)> = Vec::new();
    walk::walk_file(&file.ast, &mut |n, anc| {
        if let Node::Stmt(s @ Stmt::Go(_)) = n {
            if let (Some(lp), Some(f)) = (enclosing_loop(anc), enclosing_func(anc)) {
                found.push((s, lp, f));
            }
        }
        true
    });
    for (go, lp, func) in found {
        let Some(input) = input_of(cx, lp, go) else {
            continue;
        };
        if bounded(cx, lp, go, func) {
            continue;
        }
        cx.report(go.span(), format!("a goroutine per {input} with no limit: a burst of input starts unbounded goroutines"))
            .fix("bound the concurrency: a semaphore channel acquired before `go`, a fixed worker pool, or errgroup.SetLimit");
    }
}

/// What drives the loop, when it is outside input (for the message).
fn input_of<'a>(cx: &Checker<'a>, lp: &'a Stmt, go: &'a Stmt) -> Option<String> {
    let (body, cond_ok) = match lp {
        Stmt::Range(r) => {
            if matches!(cx.scope().underlying(&cx.type_of(&r.x)), Ty::Chan(..))
                && !is_timer(cx, &r.x)
            {
                return Some(format!(
                    "value received from `{}`",
                    cx.file.text(r.x.span())
                ));
            }
            return None;
        }
        Stmt::For(f) => (
            &f.body,
            f.cond
                .as_ref()
                .is_none_or(|c| matches!(c.unparen(), Expr::Call(_))),
        ),
        _ => return None,
    };
    if !cond_ok {
        return None;
    }
    if let Stmt::For(f) = lp {
        if let Some(Expr::Call(c)) = f.cond.as_ref().map(|c| c.unparen()) {
            if c.method_name() == Some("Scan") && c.args.is_empty() {
                return Some(format!("item of `{}`", cx.file.text(c.span)));
            }
        }
    }
    // A `go` in one case of a select: only that case's receive drives it.
    let mut case_comm: Option<Option<&'a Stmt>> = None;
    walk::walk_body(body, &mut |n, _| {
        if let Node::Comm(c) = n {
            if c.span.encloses(go.span()) {
                case_comm = Some(c.comm.as_ref());
            }
        }
        true
    });
    let mut what = None;
    let scan: Node<'a> = match case_comm {
        Some(Some(comm)) => Node::Stmt(comm),
        Some(None) => return None,
        None => Node::Block(body),
    };
    walk::walk(scan, &mut |n, _| {
        if matches!(n, Node::Expr(Expr::FuncLit(_))) {
            return false;
        }
        if what.is_some() || n.span() == go.span() {
            return false;
        }
        match n {
            Node::Expr(Expr::Call(c)) => {
                if let Some(m) = c.method_name() {
                    let method = c.receiver().is_some() && cx.pkg_member(&c.fun).is_none();
                    if (method && INPUT_METHODS.contains(&m)) || reads_input(m) {
                        let (l, _) = cx.file.line_col(c.span.start);
                        what = Some(format!(
                            "call of `{}` (line {l})",
                            cx.file.text(c.fun.span())
                        ));
                    }
                }
            }
            Node::Expr(Expr::Unary(u)) if u.op == "<-" && !is_timer(cx, &u.x) && !is_done(&u.x) => {
                let (l, _) = cx.file.line_col(u.span.start);
                what = Some(format!(
                    "value received from `{}` (line {l})",
                    cx.file.text(u.x.span())
                ));
            }
            _ => {}
        }
        true
    });
    what
}

/// A call named like a read of the next request or message: `readRequest`,
/// `ReadMsg`, `recvFrame`, `acceptConn`, `receiveMessage`.
fn reads_input(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [
        "readrequest",
        "readmessage",
        "readmsg",
        "readframe",
        "readpacket",
        "recv",
        "receive",
        "accept",
    ]
    .iter()
    .any(|p| lower.starts_with(p))
}

/// `time.After(...)`, `time.Tick(...)`, `t.C`, `ticker.C`: a clock, not input.
fn is_timer<'a>(cx: &Checker<'a>, e: &'a Expr) -> bool {
    // A channel of time.Time is a clock, whatever holds it.
    if let Ty::Chan(_, elem) = cx.scope().underlying(&cx.type_of(e)) {
        if elem.is_named("time", "Time") {
            return true;
        }
    }
    match e.unparen() {
        Expr::Call(c) => cx.is_pkg_call(c, "time", &["After", "Tick"]),
        Expr::Selector(s) => s.sel.name == "C",
        _ => false,
    }
}

/// `ctx.Done()`, `x.done`, `quit`, `stop`: shutdown signals.
fn is_done(e: &Expr) -> bool {
    match e.unparen() {
        Expr::Call(c) => c.method_name() == Some("Done"),
        other => other
            .dotted_name()
            .map(|n| n.rsplit('.').next().unwrap_or("").to_ascii_lowercase())
            .is_some_and(|n| {
                matches!(
                    n.as_str(),
                    "done"
                        | "quit"
                        | "stop"
                        | "closed"
                        | "shutdown"
                        | "closing"
                        | "exit"
                        | "stopch"
                        | "donech"
                        | "quitch"
                )
            }),
    }
}

/// Whether some bound on the number of goroutines is in sight.
fn bounded<'a>(cx: &Checker<'a>, lp: &'a Stmt, go: &'a Stmt, func: Func<'a>) -> bool {
    // errgroup.SetLimit / semaphore in the function.
    if let Some(body) = func.body() {
        let text = cx.file.text(body.span);
        if text.contains("SetLimit(") || text.contains("LimitListener(") {
            return true;
        }
    }
    let body = match lp {
        Stmt::For(f) => &f.body,
        Stmt::Range(r) => &r.body,
        _ => return true,
    };
    let mut bound = false;
    walk::walk_body(body, &mut |n, _| {
        if bound {
            return false;
        }
        match n {
            // A semaphore acquired in the loop before the goroutine starts.
            Node::Stmt(Stmt::Send(s)) if s.span.start < go.span().start => bound = true,
            Node::Expr(Expr::Call(c))
                if c.method_name()
                    .is_some_and(|m| m == "Wait" || is_acquire(m))
                    && c.receiver().is_some() =>
            {
                bound = true;
            }
            _ => {}
        }
        true
    });
    if bound {
        return true;
    }
    // A semaphore inside the goroutine: a send and a receive on one channel.
    if let Some(lit) = pitfall_go::chans::go_literal(go) {
        let mut sends: Vec<String> = Vec::new();
        let mut recvs: Vec<String> = Vec::new();
        walk::walk(Node::Block(&lit.body), &mut |n, _| {
            match n {
                Node::Stmt(Stmt::Send(s)) => sends.extend(s.chan.dotted_name()),
                Node::Expr(Expr::Unary(u)) if u.op == "<-" => recvs.extend(u.x.dotted_name()),
                Node::Expr(Expr::Call(c)) if c.method_name().is_some_and(is_acquire) => {
                    bound = true;
                }
                _ => {}
            }
            true
        });
        if bound || sends.iter().any(|s| recvs.contains(s)) {
            return true;
        }
    }
    false
}

/// `Acquire`, `TryAcquire`, `AcquireMaybe`, `acquireSlot`...: a semaphore.
fn is_acquire(name: &str) -> bool {
    name.to_ascii_lowercase().contains("acquire")
}
