//! A goroutine that blocks forever on a channel its parent can stop serving.
use crate::prelude::*;
use pitfall_go::chans::{
    local_chans, local_uses, touched_on_every_path, Cap, LocalChan, Op, OpKind,
};
use pitfall_go::flow::{ExitKind, Verdict};

pub static RULE: Rule = Rule {
    name: "goroutine-leak",
    category: Category::Goroutine,
    severity: Severity::Error,
    summary: "a goroutine can block forever on a channel its parent stops serving",
    reports_on: "the send or receive in the goroutine that blocks",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
A goroutine started by a function, talking to it over a local channel that nobody
else uses, that can wait on that channel forever:
- **premature return / timeout**: the goroutine makes one plain send on an
  unbuffered channel (or one plain receive), and the parent has a path that returns
  without receiving (or sending, or closing) — an error return before the receive,
  or a `select` whose `time.After` / `ctx.Done()` case returns;
- **N senders, fewer receives**: a goroutine started in a loop sends once on an
  unbuffered channel, and the parent receives only once (first answer wins).

Sends and receives inside a `select` with another case or a `default` do not block
for good and are not reported; neither are channels that leave the function in a
way the analysis does not follow (stored, returned, passed to another package).
Channels passed to a same-package function started with `go f(ch)` are followed
into that function. Reported on the goroutine's blocking send or receive; the
message names the return (or loop) that abandons it.

## Why it matters in production
A blocked goroutine is never collected: its stack and everything it references stay
in memory. When the abandoning path runs per request — a timeout, a client that
went away, an error — the service leaks a goroutine each time, and memory and
goroutine counts climb until the pod is OOM-killed or slows to a crawl. Dumps of
such services show thousands of goroutines parked on `chan send`.

## Bad
```go
func lookup(ctx context.Context, key string) (string, error) {
	ch := make(chan string)
	go func() {
		ch <- slowLookup(key) // blocks forever after a timeout
	}()
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
```

## Good
```go
func lookup(ctx context.Context, key string) (string, error) {
	ch := make(chan string, 1) // the send always completes
	go func() {
		ch <- slowLookup(key)
	}()
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
```

## How to fix
Give the channel a buffer as large as the number of sends (`make(chan T, 1)` for
one result, `make(chan T, len(items))` for one per item), or let the goroutine
`select` on the send and on `ctx.Done()`, or make the parent receive (or close) on
every path.

## How to suppress
`//nolint:goroutine-leak // reason` on the line, or on its own line before the
statement/function; `//nolint:goroutine` for the whole category; see `pitfall rule`.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    let file = cx.file;
    if !file.src.contains("go ") || !file.src.contains("chan ") {
        return;
    }
    let sc = cx.scope();
    for root in walk::top_level_roots(&file.ast) {
        let env = cx.env_at(root.span().start);
        let chans = local_chans(&sc, &env);
        if chans.is_empty() {
            continue;
        }
        // The functions (declaration and literals) of this root only.
        let mut funcs: Vec<Func> = Vec::new();
        walk::walk(root, &mut |n, _| {
            if let Some(f) = n.as_func() {
                funcs.push(f);
            }
            true
        });
        for ch in chans {
            if !root.span().contains(ch.decl.start) {
                continue;
            }
            // The function that makes the channel.
            let Some(owner) = funcs
                .iter()
                .filter(|f| f.body().is_some_and(|b| b.span.contains(ch.decl.start)))
                .min_by_key(|f| f.span().end - f.span().start)
                .copied()
            else {
                continue;
            };
            check_chan(cx, root, &env, ch, owner);
        }
    }
}

/// A goroutine's single use of the channel.
struct GoSide<'a> {
    go: &'a Stmt,
    /// The body the op is in (the literal's or the callee's).
    body: &'a Block,
    op: Op<'a>,
    /// Set when the op is in a same-package function started by `go f(ch)`.
    callee: Option<&'a str>,
}

fn check_chan<'a>(
    cx: &mut Checker<'a>,
    root: Node<'a>,
    env: &pitfall_go::types::Env<'a>,
    ch: LocalChan<'a>,
    owner: Func<'a>,
) {
    let sc = cx.scope();
    let uses = local_uses(&sc, env, root, ch.decl);
    if uses.escapes {
        return;
    }
    if consumer_leaves_early(cx, ch, &uses, owner) {
        return;
    }
    let owner_span = owner.span();
    let owner_lit = matches!(owner, Func::Lit(_));
    let in_owner = |o: &Op| match o.closure {
        None => !owner_lit,
        Some(l) => l.span == owner_span,
    };
    let mut parent: Vec<Op<'a>> = Vec::new();
    let mut sides: Vec<GoSide<'a>> = Vec::new();
    for op in &uses.ops {
        if in_owner(op) {
            match op.kind {
                OpKind::Arg(_) if op.go.is_some() => {}
                OpKind::Arg(_) => return, // a synchronous callee: not modelled here
                _ => parent.push(*op),
            }
            continue;
        }
        // Directly inside a `go func(){...}()` started by the owner.
        let Some(go) = op.go else { return };
        if op.kind == OpKind::Inspect {
            continue;
        }
        let Some(lit) = op.closure else { return };
        sides.push(GoSide {
            go,
            body: &lit.body,
            op: *op,
            callee: None,
        });
    }
    for cop in &uses.callee_ops {
        if !cop.via_go || cop.op.closure.is_some() {
            return;
        }
        if cop.op.kind == OpKind::Inspect {
            continue;
        }
        if !std::ptr::eq(cop.callee.file, cx.file) {
            return; // the blocking line is in another file
        }
        let Some(go) = uses
            .ops
            .iter()
            .find(|o| o.call.is_some_and(|c| std::ptr::eq(c, cop.via)))
            .and_then(|o| o.go)
        else {
            return;
        };
        let Some(body) = cop.callee.decl.body.as_ref() else {
            return;
        };
        sides.push(GoSide {
            go,
            body,
            op: cop.op,
            callee: Some(&cop.callee.decl.name.name),
        });
    }
    // Exactly one goroutine: one use, or several sends on alternative
    // branches (`if err != nil { ch <- err; return }; ch <- v`).
    let Some(side) = sides.first() else { return };
    if sides.len() > 1
        && !(sides
            .iter()
            .all(|s| s.go.span() == side.go.span() && s.op.kind == OpKind::Send)
            && sends_exclusive(&sides))
    {
        return;
    }
    let op = side.op;
    if sides.iter().any(|s| s.op.in_loop || !s.op.is_bare()) {
        return;
    }
    let sending = match op.kind {
        OpKind::Send => true,
        OpKind::Recv => false,
        _ => return,
    };
    if sending && !ch.cap.is_zero() {
        return;
    }
    // A deferred close (or hand-off) serves the goroutine on every exit.
    if parent.iter().any(|o| o.deferred) {
        return;
    }
    let Some(body) = owner.body() else { return };
    // A channel made inside the loop that starts the goroutine is a fresh
    // channel per iteration: one goroutine per channel, as without the loop.
    let go_loop = loop_around(body, side.go.span()).filter(|lp| !lp.contains(ch.decl.start));
    let who = match side.callee {
        Some(f) => format!("`{f}` (started with `go`)"),
        None => "the goroutine".to_string(),
    };
    if let Some(lp) = go_loop {
        // N senders, fewer receives.
        if !sending || !matches!(ch.cap, Cap::Zero) {
            return;
        }
        if parent.iter().any(|o| o.in_loop || o.kind != OpKind::Recv) || parent.is_empty() {
            return;
        }
        // `for i := 0; i < 2; i++` with two receives: one per sender.
        if constant_trips(cx, body, lp).is_some_and(|n| parent.len() as u64 >= n) {
            return;
        }
        let (loop_line, _) = cx.file.line_col(lp.start);
        let (recv_line, _) = cx.file.line_col(parent[0].span.start);
        let n = if parent.len() == 1 {
            "once".to_string()
        } else {
            format!("{} times", parent.len())
        };
        for side in &sides {
            cx.report(side.op.span, format!("{who} is started once per iteration of the loop at line {loop_line}, but the unbuffered `{}` is received only {n} (line {recv_line}): the other senders block here forever", ch.name))
                .fix("make the channel buffered for every sender (`make(chan T, n)`), or receive once per goroutine")
                .related(parent[0].span, "the only receive")
                .related(side.go.span(), "the goroutines are started here");
        }
        return;
    }
    // Premature return / timeout: a path after the `go` that never touches the channel.
    let Verdict::Leaks(leak) = touched_on_every_path(body, side.go, ch.name, ch.decl) else {
        return;
    };
    if parent.is_empty() {
        return; // nothing ever serves it: not a "partner stops listening" case
    }
    let (line, _) = cx.file.line_col(leak.span.start);
    let how = match leak.kind {
        ExitKind::Return => format!(
            "the return at line {line}{}",
            select_case_note(cx, body, leak.span, side.go.span(), ch.name)
        ),
        ExitKind::EndOfFunction => format!(
            "the end of the function{}",
            select_case_note(cx, body, leak.span, side.go.span(), ch.name)
        ),
        ExitKind::EndOfScope | ExitKind::Branch | ExitKind::Overwritten => format!("the exit at line {line}"),
    };
    let partner = if sending {
        "receiving from"
    } else {
        "sending on or closing"
    };
    let what = if sending {
        format!("send on the unbuffered `{}`", ch.name)
    } else {
        format!("receive from `{}`", ch.name)
    };
    // Every abandoned send is reported (alternative sends of one goroutine).
    for (i, side) in sides.iter().enumerate() {
        // The buffer edit once: it serves every send of the goroutine.
        let buffer = if sending && i == 0 { crate::fixes::buffer_of_one(ch.make) } else { Vec::new() };
        cx.report(side.op.span, format!("{who} can block forever on this {what}: the parent leaves by {how} without {partner} it"))
            .fix(if sending {
                format!("give `{}` a buffer of 1 (`make(chan T, 1)`), or select on the send and `ctx.Done()`", ch.name)
            } else {
                format!("close `{}` on every path (e.g. `defer close({})` right after starting the goroutine)", ch.name, ch.name)
            })
            .edits(Applicability::Safe, buffer)
            .related(leak.span, format!("the parent leaves here without {partner} `{}`", ch.name))
            .related(side.go.span(), "the goroutine is started here");
    }
}

/// A producer goroutine that sends many values (in a loop, bare) while the
/// function consumes them in a loop it can leave early (`return` or `break`
/// inside `for v := range ch`): the rest of the sends block forever once the
/// buffer is full. Reports every such send; returns whether it did.
fn consumer_leaves_early<'a>(
    cx: &mut Checker<'a>,
    ch: LocalChan<'a>,
    uses: &pitfall_go::chans::Uses<'a>,
    owner: Func<'a>,
) -> bool {
    let owner_lit = match owner {
        Func::Lit(l) => Some(l.span),
        Func::Decl(_) => None,
    };
    let in_owner = |o: &Op| o.closure.map(|l| l.span) == owner_lit;
    // The function's side: one consuming loop (a range, or receives in one loop).
    let parent: Vec<&Op<'a>> = uses
        .ops
        .iter()
        .filter(|o| in_owner(o) && !(matches!(o.kind, OpKind::Arg(_)) && o.go.is_some()))
        .filter(|o| o.kind != OpKind::Inspect)
        .collect();
    let [consume] = parent.as_slice() else {
        return false;
    };
    if consume.kind != OpKind::Range {
        return false;
    }
    // The producer: bare sends in a loop, in one goroutine (a literal, or the
    // same-package functions it calls), the channel closed only there.
    let mut sends: Vec<(Span, &'a pitfall_go::GoFile)> = Vec::new();
    let mut gos: Vec<Span> = Vec::new();
    for o in uses.ops.iter().filter(|o| !in_owner(o)) {
        let Some(g) = o.go else { return false };
        gos.push(g.span());
        match o.kind {
            OpKind::Send if o.is_bare() && o.in_loop => sends.push((o.span, cx.file)),
            OpKind::Send => return false,
            OpKind::Close | OpKind::Arg(_) | OpKind::Inspect => {}
            _ => return false,
        }
    }
    for c in &uses.callee_ops {
        match c.op.kind {
            OpKind::Send if c.op.is_bare() && c.op.in_loop && c.op.closure.is_none() => {
                sends.push((c.op.span, c.callee.file))
            }
            OpKind::Send => return false,
            OpKind::Close | OpKind::Arg(_) | OpKind::Inspect => {}
            _ => return false,
        }
        if !uses.ops.iter().any(|o| o.call.is_some_and(|x| std::ptr::eq(x, c.via)) && o.go.is_some()) {
            return false;
        }
    }
    gos.dedup();
    if sends.is_empty() || gos.len() != 1 {
        return false;
    }
    // Only sends of this file are reported (the line must be in the file checked).
    sends.retain(|(_, f)| std::ptr::eq(*f, cx.file));
    if sends.is_empty() {
        return false;
    }
    let Some(body) = owner.body() else {
        return false;
    };
    let mut range_body: Option<&'a Block> = None;
    walk::walk_body(body, &mut |n, _| {
        if let Node::Stmt(Stmt::Range(r)) = n {
            if r.span == consume.span {
                range_body = Some(&r.body);
            }
        }
        range_body.is_none()
    });
    let Some(exit) = range_body.and_then(early_exit) else {
        return false;
    };
    let (line, _) = cx.file.line_col(exit.start);
    let room = match ch.cap {
        Cap::Known(k) => format!(" (after its {k} buffered values)"),
        _ => String::new(),
    };
    for (span, _) in sends {
        cx.report(span, format!("the function stops receiving from `{}` at line {line} (it leaves the range over it early) while this goroutine keeps sending: the send blocks forever{room}", ch.name))
            .fix(format!("select on the send and `ctx.Done()` (or a done channel closed on the way out), or drain `{}` before leaving", ch.name));
    }
    true
}

/// A `return` (or a `break`/`goto` that leaves the loop) in a range body,
/// outside nested loops, switches, selects and function literals.
fn early_exit(body: &Block) -> Option<Span> {
    let mut out = None;
    walk::walk_body(body, &mut |n, anc| {
        if out.is_some() {
            return false;
        }
        match n {
            Node::Stmt(Stmt::Return(r)) => out = Some(r.span),
            Node::Stmt(Stmt::Branch(b)) => {
                let nested = anc.iter().any(|a| {
                    matches!(
                        a,
                        Node::Stmt(
                            Stmt::For(_)
                                | Stmt::Range(_)
                                | Stmt::Switch(_)
                                | Stmt::TypeSwitch(_)
                                | Stmt::Select(_)
                        )
                    )
                });
                let leaves = match b.kind {
                    BranchKind::Break => b.label.is_some() || !nested,
                    BranchKind::Goto => true,
                    _ => false,
                };
                if leaves {
                    out = Some(b.span);
                }
            }
            _ => {}
        }
        true
    });
    out
}

/// The loop (its span) of the owner body around the `go` statement, if any.
fn loop_around(body: &Block, go: Span) -> Option<Span> {
    let chain = pitfall_go::walk::enclosing_lists(body, go);
    chain.iter().rev().find_map(|(_, _, owner)| match owner {
        Some(s @ (Stmt::For(_) | Stmt::Range(_))) => Some(s.span()),
        _ => None,
    })
}

/// Which select case the abandoning path takes, for the message: the case
/// that holds the exit, or else (exit after a select) the first case after the
/// `go` statement that does not touch the channel in a select that does,
/// preferring one that leaves (`return`/`break`).
fn select_case_note(cx: &Checker, body: &Block, exit: Span, go: Span, name: &str) -> String {
    let mut holding: Option<Span> = None;
    let mut other: Option<(Span, bool)> = None;
    walk::walk_body(body, &mut |n, _| {
        let Node::Stmt(Stmt::Select(sel)) = n else {
            return true;
        };
        if sel.span.start < go.end {
            return true;
        }
        let touches = |c: &CommClause| pitfall_go::flow::mentions(Node::Comm(c), name);
        let any_touch = sel.cases.iter().any(&touches);
        for c in &sel.cases {
            let Some(comm) = &c.comm else { continue };
            if c.span.encloses(exit) {
                holding = Some(comm.span());
            } else if any_touch && !touches(c) {
                let leaves = c.body.iter().any(|s| {
                    let mut found = false;
                    walk::walk(Node::Stmt(s), &mut |m, _| {
                        found |=
                            matches!(m, Node::Stmt(Stmt::Return(_)) | Node::Stmt(Stmt::Branch(_)));
                        !found && !matches!(m, Node::Expr(Expr::FuncLit(_)))
                    });
                    found
                });
                if other.is_none_or(|(_, l)| leaves && !l) {
                    other = Some((comm.span(), leaves));
                }
            }
        }
        true
    });
    match holding.or(other.map(|(s, _)| s)) {
        Some(comm) => {
            let (l, _) = cx.file.line_col(comm.start);
            let how = if holding.is_some() { "in" } else { "after" };
            format!(" ({how} the `case {}` at line {l})", cx.file.text(comm))
        }
        None => String::new(),
    }
}

/// Whether the sends are on mutually exclusive paths: they are in one body and
/// no path from one of them reaches another (or itself again).
fn sends_exclusive(sides: &[GoSide]) -> bool {
    use pitfall_go::engine::reach::{reach_from, From, Step};
    let Some(body) = sides.first().map(|s| s.body) else { return false };
    if sides.iter().any(|s| !std::ptr::eq(s.body, body)) {
        return false;
    }
    let cfg = pitfall_go::engine::build(body);
    let sends: Vec<Span> = sides.iter().map(|s| s.op.span).collect();
    sends.iter().all(|&from| {
        let r = reach_from(&cfg, From::After(from), None, &mut |e| {
            if sends.contains(&e.span()) {
                Step::Hit
            } else {
                Step::Pass
            }
        });
        !r.unknown && !r.again && r.hits.is_empty()
    })
}

/// The number of iterations of `for i := 0; i < N; i++` with a constant `N`
/// (the loop statement at `lp` in `body`).
fn constant_trips(cx: &Checker, body: &Block, lp: Span) -> Option<u64> {
    let mut out = None;
    walk::walk_body(body, &mut |n, _| {
        if let Node::Stmt(Stmt::For(f)) = n {
            if f.span == lp {
                let start_zero = matches!(&f.init, Some(Stmt::Assign(a)) if a.rhs.len() == 1 && a.rhs[0].as_string_lit().is_none() && cx.scope().const_int(&a.rhs[0]) == Some(0));
                if let Some(Expr::Binary(b)) = f.cond.as_ref().map(|c| c.unparen()) {
                    if start_zero {
                        out = match b.op {
                            "<" => cx.scope().const_int(&b.y),
                            "<=" => cx.scope().const_int(&b.y).map(|n| n + 1),
                            _ => None,
                        };
                    }
                }
            }
        }
        out.is_none()
    });
    out
}
