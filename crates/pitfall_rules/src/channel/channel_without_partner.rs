//! A blocking send or receive on a struct field's channel that nothing in the
//! package can complete.
use crate::prelude::*;
use pitfall_go::chans::{
    chan_field_of, field_chan, select_exit, FieldChan, FieldOp, OpKind,
};
use std::collections::HashMap;

pub static RULE: Rule = Rule {
    name: "channel-without-partner",
    category: Category::Channel,
    severity: Severity::Warning,
    summary: "a send or receive on a struct's channel that nothing in the package completes (no partner, or every partner can leave first)",
    reports_on: "the blocking send or receive",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
A plain send (`s.ch <- v`) or receive (`<-s.ch`, also through a getter such as
`<-s.Stopped()`, and on the elements of a `[]chan T` / `map[K]chan T` field) that
waits for a partner nothing in the package provides:
- **no partner**: nothing in the package receives from the channel (for a send),
  or nothing sends on it or closes it (for a receive);
- **only polled**: every receive is a non-blocking `select` with `default` — once
  the buffer is full the send waits for a poll that may never come;
- **every partner can leave first**: every partner sits in a `select` with a way
  out (`case <-ctx.Done(): return`, `case <-s.stop: return`) and nothing closes the
  channel, so once the partner has left this operation waits forever.

Only channels the package fully sees are judged: unexported fields (or any field
in a `main` package) that are set from `make(...)` and never handed to other code
(passed to a call, stored elsewhere, returned — a getter that returns a
receive-only channel is followed, also when it is called through an interface
that declares it). Reported on the blocking operation, naming the partner that
can leave.

A `main` that parks itself on purpose is not reported either: its last statement
receives from a channel it made and uses nowhere else (`finish := make(chan bool)`
... `<-finish`), the same as `select {}`.

A buffered channel used as a semaphore or token pool is not a conversation: when
some function takes a token and gives it back on the same channel (`sem <-
struct{}{}` ... `<-sem`, or `<-slots` ... `slots <- struct{}{}`), taking and
returning tokens wait for capacity, not for a partner, and are never reported.

## Why it matters in production
The goroutine that runs this operation parks for good: after a shutdown, a
cancellation or an error, every request that reaches it adds one more stuck
goroutine (and whatever it holds: locks, connections, memory). A stop or status
method that hangs after the loop it talks to has exited also hangs the shutdown.

## Bad
```go
func (n *node) Status() Status {
	c := make(chan Status)
	n.status <- c // run() may already have returned on n.stop
	return <-c
}

func (n *node) run() {
	for {
		select {
		case c := <-n.status:
			c <- n.snapshot()
		case <-n.stop:
			return
		}
	}
}
```

## Good
```go
func (n *node) Status() Status {
	c := make(chan Status)
	select {
	case n.status <- c:
		return <-c
	case <-n.done: // closed by run() when it returns
		return Status{}
	}
}
```

## How to fix
Give the blocked side the same way out its partner has: make the operation a case
of a `select` with the stop channel or `ctx.Done()`, and close a `done` channel
when the partner's loop exits. A channel nothing sends on should be closed where
its producer finishes; a channel nothing receives from should be removed or
drained.

## How to suppress
`//nolint:channel-without-partner // reason` on the line, or on its own line before
the statement/function; `//nolint:channel` for the whole category.

## Compared with other tools
`go vet` and staticcheck do not look for partners of a channel operation; Go 1.26's
goroutine leak profile finds these goroutines only once they have leaked at run time.
"#,
    check: Check::Go(check),
};

/// How a partner operation waits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Partner {
    /// A plain operation or a range: it stays until served.
    Stays,
    /// A case of a select with `default`: it does not wait.
    Polls,
    /// A case of a select that also leaves on another case.
    Leaves,
}

fn partner_kind(o: &FieldOp) -> Partner {
    match o.op.select {
        Some(sel) if pitfall_go::chans::has_default(sel) => Partner::Polls,
        Some(sel) if select_exit(sel, o.op.span).is_some() => Partner::Leaves,
        _ => Partner::Stays,
    }
}

fn check(cx: &mut Checker) {
    let file = cx.file;
    if !file.src.contains("<-") {
        return;
    }
    let sc = cx.scope();
    // The channel fields this file sends on or receives from, bare.
    let mut fields: Vec<(&str, &str)> = Vec::new();
    for root in walk::top_level_roots(&file.ast) {
        let env = cx.env_at(root.span().start);
        walk::walk(root, &mut |n, _| {
            let ch = match n {
                Node::Stmt(Stmt::Send(s)) => &s.chan,
                Node::Expr(Expr::Unary(u)) if u.op == "<-" => &u.x,
                _ => return true,
            };
            if let Some(k) = chan_field_of(&sc, &env, ch) {
                if !fields.contains(&k) {
                    fields.push(k);
                }
            }
            true
        });
    }
    let mut models: HashMap<(&str, &str), FieldChan> = HashMap::new();
    for (owner, field) in fields {
        if let Some(m) = field_chan(&sc, owner, field) {
            models.insert((owner, field), m);
        }
    }
    let mut reports: Vec<(Span, String, String)> = Vec::new();
    for ((_, field), m) in &models {
        if m.escapes {
            continue;
        }
        // Taking and giving back tokens of a semaphore waits for capacity,
        // not for a partner.
        let semaphore = pitfall_go::chans::is_semaphore(m);
        for o in &m.ops {
            if !std::ptr::eq(o.file, file) || o.aliased {
                continue;
            }
            if semaphore && pitfall_go::chans::is_token_op(o) {
                continue;
            }
            if !o.op.is_bare() {
                if let Some((span, msg, fix)) = dead_case(cx, field, m, o) {
                    if !reports.iter().any(|(s, _, _)| *s == span) {
                        reports.push((span, msg, fix));
                    }
                }
                continue;
            }
            let verdict = match o.op.kind {
                OpKind::Send => send_verdict(cx, field, m),
                OpKind::Recv => recv_verdict(cx, field, m),
                _ => None,
            };
            if let Some((msg, fix)) = verdict {
                if !reports.iter().any(|(s, _, _)| *s == o.op.span) {
                    reports.push((o.op.span, msg, fix));
                }
            }
        }
    }
    local_orphans(cx, &mut reports);
    reports.sort_by_key(|(s, _, _)| s.start);
    for (span, msg, fix) in reports {
        cx.report(span, msg).fix(fix);
    }
}

/// Where a partner is, for messages: `file.go:12` (or `line 12` in this file).
fn place(cx: &Checker, o: &FieldOp) -> String {
    let (line, _) = o.file.line_col(o.op.span.start);
    if std::ptr::eq(o.file, cx.file) {
        format!("line {line}")
    } else {
        let name = o.file.path.rsplit('/').next().unwrap_or(&o.file.path);
        format!("{name}:{line}")
    }
}

/// The way out a leaving partner takes, for messages.
fn exit_text(o: &FieldOp) -> String {
    o.op.select
        .and_then(|sel| select_exit(sel, o.op.span))
        .and_then(|c| c.comm.as_ref())
        .map(|c| format!("`case {}`", o.file.text(c.span())))
        .unwrap_or_else(|| "another case".to_string())
}

fn send_verdict(cx: &Checker, field: &str, m: &FieldChan) -> Option<(String, String)> {
    if m.outside_receivers {
        return None;
    }
    let recvs: Vec<&FieldOp> = m.of(&[OpKind::Recv, OpKind::Range]).collect();
    if recvs.is_empty() {
        return Some((
            format!("nothing in the package receives from `{field}`: this send blocks for good once the channel's buffer (if any) is full"),
            format!("receive from `{field}` where its values are meant to go, or drop the send"),
        ));
    }
    let kinds: Vec<Partner> = recvs.iter().map(|o| partner_kind(o)).collect();
    if kinds.iter().all(|k| *k == Partner::Polls) {
        return Some((
            format!("`{field}` is only ever polled (every receive, e.g. {}, is a `select` with `default`): once its buffer is full this send waits for a poll that may never come", place(cx, recvs[0])),
            "make this send a `select` with `default` (drop or count when full), or give the channel a receiver that waits".to_string(),
        ));
    }
    // A buffer absorbs sends after the receivers left; it is assumed sized for them.
    if !m.buffered && kinds.iter().all(|k| *k != Partner::Stays) {
        let leaver = recvs
            .iter()
            .zip(&kinds)
            .find(|(_, k)| **k == Partner::Leaves)
            .map(|(o, _)| *o)?;
        return Some((
            format!("every receiver of `{field}` can leave first: the one at {} also waits on {} and stops receiving after it — then this send blocks for good", place(cx, leaver), exit_text(leaver)),
            format!("make the send a case of a `select` with the same way out ({}), or close a `done` channel when the receiver exits and select on it", exit_text(leaver)),
        ));
    }
    None
}

/// A receive case of a select (without `default`) on a channel that nothing
/// sends on or closes: the case can never fire, so the select waits on its
/// other cases alone — typically a stop channel nobody closes. Reported on the
/// select.
fn dead_case(
    cx: &Checker,
    field: &str,
    m: &FieldChan,
    o: &FieldOp,
) -> Option<(Span, String, String)> {
    let sel = o.op.select?;
    if o.op.kind != OpKind::Recv || pitfall_go::chans::has_default(sel) {
        return None;
    }
    if m.of(&[OpKind::Send, OpKind::Close]).next().is_some() {
        return None;
    }
    let case = sel
        .cases
        .iter()
        .find(|c| c.span.encloses(o.op.span))
        .and_then(|c| c.comm.as_ref())
        .map(|c| cx.file.text(c.span()).to_string())?;
    Some((
        sel.span,
        format!("`case {case}` can never fire: nothing in the package sends on or closes `{field}`, so this select waits on its other cases alone and the stop it was written for never comes"),
        format!("close `{field}` where the owner shuts down (Stop/Close), or drop the dead case"),
    ))
}

fn recv_verdict(cx: &Checker, field: &str, m: &FieldChan) -> Option<(String, String)> {
    if m.of(&[OpKind::Close]).next().is_some() {
        return None;
    }
    let sends: Vec<&FieldOp> = m.of(&[OpKind::Send]).collect();
    if sends.is_empty() {
        return Some((
            format!("nothing in the package sends on or closes `{field}`: this receive blocks for good"),
            format!("close `{field}` where the event it waits for happens (e.g. in Stop/Close), or remove the wait"),
        ));
    }
    if sends.iter().all(|o| partner_kind(o) == Partner::Leaves) {
        let leaver = sends[0];
        return Some((
            format!("every sender on `{field}` can leave first: the one at {} also waits on {} and nothing closes `{field}` — then this receive blocks for good", place(cx, leaver), exit_text(leaver)),
            format!("receive in a `select` with the same way out ({}), or close `{field}` when the sender gives up", exit_text(leaver)),
        ));
    }
    None
}

/// Local channels (`ch := make(chan T)`) that the function and the
/// same-package functions it hands them to only receive from (no send, no
/// close anywhere): every plain receive blocks for good.
fn local_orphans(cx: &Checker, reports: &mut Vec<(Span, String, String)>) {
    let file = cx.file;
    if !file.src.contains("make(chan") {
        return;
    }
    for (ch, uses) in cx.local_channels() {
        if uses.escapes {
            continue;
        }
        let all = uses
            .ops
            .iter()
            .chain(uses.callee_ops.iter().map(|c| &c.op));
        if all
            .clone()
            .any(|o| matches!(o.kind, OpKind::Send | OpKind::Close))
        {
            continue;
        }
        for o in uses.ops.iter().filter(|o| o.kind == OpKind::Recv && o.is_bare()) {
            if reports.iter().any(|(s, _, _)| *s == o.span) {
                continue;
            }
            if uses.ops.len() == 1 && uses.callee_ops.is_empty() && parks_main(cx, o.span) {
                continue;
            }
            reports.push((
                o.span,
                format!("nothing sends on or closes `{}` (neither here nor in the functions it is passed to): this receive blocks for good", ch.name),
                format!("close `{}` (or send on it) where the work it waits for ends — e.g. `defer close({})` in the goroutine", ch.name, ch.name),
            ));
        }
    }
}

/// Whether `recv` is the last statement of `func main` in a main package: a
/// program that parks its main goroutine on purpose (`<-finish` with nothing
/// ever sent, like `select {}`) while its servers run in goroutines.
fn parks_main(cx: &Checker, recv: Span) -> bool {
    if cx.pkg.src.name != "main" {
        return false;
    }
    cx.file.ast.decls.iter().any(|d| match d {
        Decl::Func(f) if f.recv.is_none() && f.name.name == "main" => f
            .body
            .as_ref()
            .and_then(|b| b.stmts.last())
            .is_some_and(|s| matches!(s, Stmt::Expr(e) if e.span().contains(recv.start))),
        _ => false,
    })
}
