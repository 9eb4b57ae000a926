//! A bare channel send that can stall for good.
use crate::prelude::*;
use pitfall_go::chans::{
    clause_leaves, comm_recv, go_literal, local_chans, local_uses, touched_on_every_path, Cap, LocalChan, Op, OpKind, Uses,
};
use pitfall_go::flow::Verdict;

pub static RULE: Rule = Rule {
    name: "blocking-send",
    category: Category::Channel,
    severity: Severity::Warning,
    summary: "a bare channel send that can stall for good (broadcast, ignored context, producer/consumer deadlock)",
    reports_on: "the send statement",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
A plain `ch <- v` (not a case of a `select` with another case or a `default`) in
one of three situations where it can stall for good:
- **broadcast**: a loop over a slice or map of receivers sends to each receiver's
  channel in turn (`for _, s := range subs { s.ch <- ev }`): one slow or vanished
  receiver stalls the loop and every receiver after it;
- **ignored context**: a goroutine that watches `ctx.Done()` in a `select` elsewhere
  sends without selecting on it, so once the receiver has given up on the same
  cancellation the goroutine blocks forever (sends that fit a visible buffer are
  not reported, nor a token given back to a semaphore field it took from:
  `<-p.slots` ... `go func() { ...; p.slots <- struct{}{} }()`);
- **producer/consumer ordering**: a function sends everything on an unbuffered
  channel to a worker goroutine and only afterwards receives the worker's results
  from another unbuffered channel: the worker blocks on its first result, and the
  function blocks on its second send — a deadlock.

A plain send to a consumer that loops until the channel is closed is everyday Go
and is not reported. Reported on the send.

## Why it matters in production
A send without a way out holds its goroutine until a receiver comes. In a broadcast
loop one stuck subscriber freezes every other subscriber's updates; in a goroutine
that ignored cancellation it is a leak per cancelled request; in the ordering
deadlock the whole request hangs (and with it, its client and its connection slot).

## Bad
```go
func broadcast(ev Event, subs []*Sub) {
	for _, s := range subs {
		s.ch <- ev // one stuck subscriber stalls everybody
	}
}
```

## Good
```go
func broadcast(ctx context.Context, ev Event, subs []*Sub) {
	for _, s := range subs {
		select {
		case s.ch <- ev:
		case <-ctx.Done():
			return
		default:
			// subscriber is behind: drop, count, or disconnect it
		}
	}
}
```

## How to fix
Put the send in a `select` with `ctx.Done()` (or a timeout, or a `default` that
drops); give each receiver a buffer and drop when it is full; for pipelines, receive
results concurrently with sending (start the collector first, or send from a
separate goroutine).

## How to suppress
`//nolint:blocking-send // reason` on the line, or on its own line before the
statement/function; `//nolint:channel` for the whole category; see `pitfall rule`.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    let file = cx.file;
    if !file.src.contains("<-") {
        return;
    }
    let mut reported: Vec<Span> = Vec::new();
    broadcast(cx, &mut reported);
    select_clause_body(cx, &mut reported);
    ignored_context(cx, &mut reported);
    ordering(cx, &mut reported);
}

/// Whether the send statement `s` (with its ancestors) can wait on its own:
/// a statement, a statement in the *body* of a select clause or of its
/// `default:` (those are not cases of the select), or the only case of a select.
fn is_bare_send(s: &SendStmt, anc: &[Node]) -> bool {
    match anc.last() {
        Some(Node::Comm(c)) if c.comm.as_ref().is_some_and(|x| x.span() == s.span) => {
            match anc.get(anc.len().wrapping_sub(2)) {
                Some(Node::Stmt(Stmt::Select(sel))) => sel.cases.len() <= 1,
                _ => false,
            }
        }
        _ => true,
    }
}

/// The root identifier of `a.b.c`, `a[i].b`, `*a`.
fn root_ident(e: &Expr) -> Option<&Ident> {
    let mut e = e.unparen();
    loop {
        match e {
            Expr::Ident(id) => return Some(id),
            Expr::Selector(s) => e = s.x.unparen(),
            Expr::Index(i) => e = i.x.unparen(),
            Expr::Star(s) => e = s.x.unparen(),
            _ => return None,
        }
    }
}

/// `for _, s := range subs { s.ch <- v }`: a send per receiver.
fn broadcast(cx: &mut Checker, reported: &mut Vec<Span>) {
    let file = cx.file;
    let mut hits: Vec<(&SendStmt, &RangeStmt)> = Vec::new();
    walk::walk_file(&file.ast, &mut |n, anc| {
        let Node::Stmt(Stmt::Send(s)) = n else {
            return true;
        };
        if !is_bare_send(s, anc) {
            return true;
        }
        let Some(Node::Stmt(Stmt::Range(r))) = enclosing_loop(anc).map(Node::Stmt) else {
            return true;
        };
        if !r.define {
            return true;
        }
        let vars: Vec<&str> = [&r.key, &r.value]
            .into_iter()
            .flatten()
            .filter_map(|k| k.ident_name())
            .collect();
        // The channel is the loop's element (or selected from it / indexed by its key).
        let per_elem = match s.chan.unparen() {
            Expr::Index(i) => i
                .indices
                .iter()
                .any(|x| x.ident_name().is_some_and(|n| vars.contains(&n))),
            other => root_ident(other).is_some_and(|id| vars.contains(&id.name.as_str())),
        };
        if per_elem {
            hits.push((s, r));
        }
        true
    });
    for (s, r) in hits {
        let t = cx.scope().underlying(&cx.type_of(&r.x));
        if !matches!(t, Ty::Slice(_) | Ty::Array(..) | Ty::Map(..)) {
            continue;
        }
        // Receivers' channels that the package makes buffered (one result
        // slot per receiver) do not stall the loop.
        let elem = match cx.scope().underlying(&cx.type_of(&s.chan)) {
            Ty::Chan(_, e) => *e,
            _ => Ty::Unknown,
        };
        if package_buffers(cx, &elem) && !subscriber_stream(cx, &s.chan) {
            continue;
        }
        reported.push(s.span);
        let (line, _) = cx.file.line_col(r.span.start);
        cx.report(s.span, format!("send to `{}` for each receiver of the loop at line {line}: one slow or gone receiver blocks this send and stalls every receiver after it", cx.file.text(s.chan.span())))
            .fix("select on the send with `ctx.Done()`, a timeout or a `default` that drops for a slow receiver");
    }
}

/// A goroutine that selects on `ctx.Done()` somewhere but sends bare elsewhere.
fn ignored_context(cx: &mut Checker, reported: &mut Vec<Span>) {
    let file = cx.file;
    let mut lits: Vec<(&Stmt, &FuncLit, Option<Func>)> = Vec::new();
    walk::walk_file(&file.ast, &mut |n, anc| {
        if let Node::Stmt(s) = n {
            if let Some(l) = go_literal(s) {
                lits.push((s, l, enclosing_func(anc)));
            }
        }
        true
    });
    for (go, lit, outer) in lits {
        // The context the goroutine watches.
        let mut ctx_text: Option<String> = None;
        let mut sends: Vec<(&SendStmt, bool)> = Vec::new();
        walk::walk_body(&lit.body, &mut |n, anc| {
            match n {
                Node::Comm(c) => {
                    if let Some(x) = c.comm.as_ref().and_then(comm_recv) {
                        if let Some(call) = x.as_call() {
                            if call.method_name() == Some("Done") && call.args.is_empty() {
                                if let Some(recv) = call.receiver() {
                                    if cx.type_of(recv).is_named("context", "Context") {
                                        ctx_text.get_or_insert_with(|| {
                                            cx.file.text(recv.span()).to_string()
                                        });
                                    }
                                }
                            }
                        }
                    }
                }
                Node::Stmt(Stmt::Send(s)) if is_bare_send(s, anc) => {
                    sends.push((s, enclosing_loop(anc).is_some()));
                }
                _ => {}
            }
            true
        });
        let Some(ctx) = ctx_text else { continue };
        for (s, in_loop) in sends {
            if reported.contains(&s.span) || fits_buffer(cx, &s.chan, in_loop) {
                continue;
            }
            // A channel of the enclosing function that it receives from (or
            // closes, or hands on) on every path after the `go`: always served.
            if let (Some(id), Some(body)) = (s.chan.as_ident(), outer.and_then(|f| f.body())) {
                let decl = cx
                    .env_at(id.span.start)
                    .resolve(id)
                    .map(|b| b.decl)
                    .filter(|d| !lit.span.contains(d.start) && body.span.contains(d.start));
                if decl.is_some_and(|d| {
                    matches!(
                        touched_on_every_path(body, go, &id.name, d),
                        Verdict::Released
                    )
                }) {
                    continue;
                }
            }
            if gives_back_token(cx, s) {
                continue;
            }
            reported.push(s.span);
            cx.report(s.span, format!("this goroutine watches `{ctx}.Done()` elsewhere but sends on `{}` without it: once the receiver gives up on cancellation, this send blocks forever", cx.file.text(s.chan.span())))
                .fix(format!("select on the send and `<-{ctx}.Done()`"));
        }
    }
}

/// A select with a way out (a receive case that leaves: `case <-stop: return`)
/// whose `default:` sends bare in its body: while that send waits, the way out
/// cannot be taken. (Sends in the bodies of the other clauses are plain sends
/// for the partner analyses: goroutine-leak, channel-without-partner.)
fn select_clause_body(cx: &mut Checker, reported: &mut Vec<Span>) {
    let file = cx.file;
    let mut hits: Vec<(&SendStmt, &CommClause, &CommClause, bool)> = Vec::new();
    walk::walk_file(&file.ast, &mut |n, anc| {
        let Node::Stmt(Stmt::Select(sel)) = n else {
            return true;
        };
        let Some(exit) = sel.cases.iter().find(|c| {
            c.comm.as_ref().and_then(comm_recv).is_some() && clause_leaves(&c.body)
        }) else {
            return true;
        };
        let in_loop = enclosing_loop(anc).is_some();
        // The `default:` body: the select was meant not to wait, and the stop
        // case was checked just before; a send there waits anyway.
        for c in sel.cases.iter().filter(|c| c.comm.is_none()) {
            for st in &c.body {
                walk::walk(Node::Stmt(st), &mut |m, a| {
                    if matches!(m, Node::Expr(Expr::FuncLit(_)) | Node::Stmt(Stmt::Select(_))) {
                        return false;
                    }
                    if let Node::Stmt(Stmt::Send(snd)) = m {
                        if is_bare_send(snd, a) {
                            hits.push((snd, c, exit, in_loop || enclosing_loop(a).is_some()));
                        }
                    }
                    true
                });
            }
        }
        true
    });
    for (snd, clause, exit, in_loop) in hits {
        if reported.contains(&snd.span) || fits_buffer(cx, &snd.chan, in_loop) {
            continue;
        }
        reported.push(snd.span);
        let which = match &clause.comm {
            None => "`default:`".to_string(),
            Some(c) => format!("`case {}:`", cx.file.text(c.span())),
        };
        let (line, _) = cx.file.line_col(exit.span.start);
        let exit_text = exit
            .comm
            .as_ref()
            .map(|c| cx.file.text(c.span()).to_string())
            .unwrap_or_default();
        let chan = cx.file.text(snd.chan.span()).to_string();
        cx.report(snd.span, format!("this send on `{chan}` is in the body of the select's {which}, not one of its cases: while it waits for a receiver, the `case {exit_text}` at line {line} cannot be taken, so once the receiver is gone the goroutine blocks here for good"))
            .fix(format!("make the send a case of a select beside `{exit_text}` (`select {{ case {chan} <- v: case {exit_text}: return }}`)"));
    }
}

/// Whether the send goes to a local channel with a visible buffer that a
/// single send (not in a loop) always fits into, or a buffer sized at run time.
fn fits_buffer<'a>(cx: &Checker<'a>, ch: &'a Expr, in_loop: bool) -> bool {
    let Some(id) = ch.as_ident() else {
        return false;
    };
    let env = cx.env_at(id.span.start);
    let Some(b) = env.resolve(id) else {
        return false;
    };
    let sc = cx.scope();
    match local_chans(&sc, &env)
        .into_iter()
        .find(|c| c.decl == b.decl)
        .map(|c| c.cap)
    {
        Some(Cap::Known(_)) => !in_loop,
        Some(Cap::Dynamic(_)) => true,
        _ => false,
    }
}

/// The goroutine (its `go` statement) an op runs in, if it runs directly in one.
fn go_of(op: &Op) -> Option<Span> {
    op.go.filter(|_| op.closure.is_some()).map(|g| g.span())
}

/// Send everything on unbuffered `in`, then receive from unbuffered `out`,
/// while one worker goroutine reads `in` and writes `out`.
fn ordering(cx: &mut Checker, reported: &mut Vec<Span>) {
    let file = cx.file;
    if !file.src.contains("go ") {
        return;
    }
    let sc = cx.scope();
    for root in walk::top_level_roots(&file.ast) {
        let env = cx.env_at(root.span().start);
        let chans: Vec<LocalChan> = local_chans(&sc, &env)
            .into_iter()
            .filter(|c| c.cap.is_zero() && root.span().contains(c.decl.start))
            .collect();
        if chans.len() < 2 {
            continue;
        }
        let all: Vec<(LocalChan, Uses)> = chans
            .iter()
            .map(|c| (*c, local_uses(&sc, &env, root, c.decl)))
            .collect();
        for (cin, uin) in &all {
            if uin.escapes {
                continue;
            }
            for (cout, uout) in &all {
                if cin.decl == cout.decl || uout.escapes {
                    continue;
                }
                let body = match root {
                    Node::FuncDecl(fd) => fd.body.as_ref(),
                    _ => None,
                };
                let Some(body) = body else { continue };
                if let Some(send) = deadlock(body, uin, uout) {
                    if reported.contains(&send.span) {
                        continue;
                    }
                    reported.push(send.span);
                    cx.report(send.span, format!("every value is sent on the unbuffered `{}` before anything receives from the unbuffered `{}`: the worker blocks sending its first result and this send blocks on the second value (deadlock)", cin.name, cout.name))
                        .fix(format!("receive from `{}` concurrently (start the collector before sending, or send from its own goroutine), or buffer `{}`", cout.name, cout.name));
                }
            }
        }
    }
}

/// The parent's looping send on `in` when the deadlock shape holds.
fn deadlock<'a>(body: &'a Block, uin: &Uses<'a>, uout: &Uses<'a>) -> Option<Op<'a>> {
    // Worker: the one goroutine (a literal, or a same-package function started
    // with `go f(in, out)`) that receives from `in` and sends on `out`.
    let (g, worker_in) = worker_side(uin)?;
    let (g2, worker_out) = worker_side(uout)?;
    if g != g2 {
        return None;
    }
    if !worker_in
        .iter()
        .all(|o| matches!(o.kind, OpKind::Recv | OpKind::Range))
    {
        return None;
    }
    // The worker handles many values (a worker per value does not deadlock).
    if !worker_in
        .iter()
        .any(|o| o.kind == OpKind::Range || o.in_loop)
    {
        return None;
    }
    if !worker_out
        .iter()
        .any(|o| o.kind == OpKind::Send && o.is_bare())
        || !worker_out
            .iter()
            .all(|o| matches!(o.kind, OpKind::Send | OpKind::Close))
    {
        return None;
    }
    // Parent: a bare send on `in` in a loop, and every receive from `out` after it.
    let parent_in = parent_side(uin);
    let parent_out = parent_side(uout);
    let send = parent_in
        .iter()
        .find(|o| o.kind == OpKind::Send && o.in_loop && o.is_bare())?;
    if !parent_in
        .iter()
        .all(|o| matches!(o.kind, OpKind::Send | OpKind::Close))
    {
        return None;
    }
    // Every receive from `out` comes after the whole sending loop.
    let chain = pitfall_go::walk::enclosing_lists(body, send.span);
    let loop_end = chain.iter().rev().find_map(|(_, _, o)| match o {
        Some(s @ (Stmt::For(_) | Stmt::Range(_))) => Some(s.span().end),
        _ => None,
    })?;
    if parent_out.is_empty()
        || !parent_out
            .iter()
            .all(|o| matches!(o.kind, OpKind::Recv | OpKind::Range) && o.span.start > loop_end)
    {
        return None;
    }
    // The worker must be started before the sends (else it is not a worker of them).
    if g.start > send.span.start {
        return None;
    }
    Some(*send)
}

/// The ops of the function itself (the `go f(ch)` hand-off excluded).
fn parent_side<'a>(u: &Uses<'a>) -> Vec<Op<'a>> {
    u.ops
        .iter()
        .filter(|o| o.closure.is_none() && !(matches!(o.kind, OpKind::Arg(_)) && o.go.is_some()))
        .copied()
        .collect()
}

/// The single goroutine that uses the channel besides the function: its `go`
/// statement and its ops. `None` when there are several, or other closures.
fn worker_side<'a>(u: &Uses<'a>) -> Option<(Span, Vec<Op<'a>>)> {
    let lit: Vec<Op<'a>> = u
        .ops
        .iter()
        .filter(|o| o.closure.is_some())
        .copied()
        .collect();
    let handoffs: Vec<&Op<'a>> = u
        .ops
        .iter()
        .filter(|o| matches!(o.kind, OpKind::Arg(_)))
        .collect();
    if !u.callee_ops.is_empty() {
        // `go f(ch)`: exactly one hand-off, to a goroutine, and nothing in closures.
        let [h] = handoffs.as_slice() else {
            return None;
        };
        let g = h.go?;
        if !lit.is_empty()
            || u.callee_ops
                .iter()
                .any(|c| !c.via_go || c.op.closure.is_some())
        {
            return None;
        }
        return Some((g.span(), u.callee_ops.iter().map(|c| c.op).collect()));
    }
    if !handoffs.is_empty() {
        return None;
    }
    let g = go_of(lit.first()?)?;
    if lit.iter().any(|o| go_of(o) != Some(g)) {
        return None;
    }
    Some((g, lit))
}

/// Whether the package makes a buffered channel of element type `elem`
/// somewhere (`make(chan T, n)` with n > 0); true when `elem` is unknown.
fn package_buffers(cx: &Checker, elem: &Ty) -> bool {
    let Some(want) = ty_key(elem) else {
        return true;
    };
    cx.package_fact::<BufferedElems>().0.contains(&want)
}

/// The element types (by [`ty_key`]) of every buffered channel the package
/// makes; computed once per package.
struct BufferedElems(std::collections::HashSet<String>);

impl PackageFact for BufferedElems {
    fn compute<'a>(pkg: &'a Package<'a>, project: &'a ProjectIndex<'a>) -> Self {
        let mut out = std::collections::HashSet::new();
        for f in pkg.files() {
            let sc = pitfall_go::types::Scope { project, pkg, file: f };
            walk::walk_file(&f.ast, &mut |n, _| {
                if let Node::Expr(Expr::Call(c)) = n {
                    if c.fun.ident_name() == Some("make")
                        && c.args.len() == 2
                        && sc.const_int(&c.args[1]) != Some(0)
                    {
                        // `make(chan T, n)`, or `make(replyChan, n)` of a
                        // named channel type.
                        let elem = match c.args[0].unparen() {
                            Expr::ChanType(ct) => Some(sc.type_expr(&ct.elem)),
                            named => match sc.underlying(&sc.type_expr(named)) {
                                Ty::Chan(_, e) => Some(*e),
                                _ => None,
                            },
                        };
                        if let Some(k) = elem.as_ref().and_then(ty_key) {
                            out.insert(k);
                        }
                    }
                }
                true
            });
        }
        BufferedElems(out)
    }
}

/// Whether the channel is a field (`h.inbox`) that the package consumes in a
/// loop (`for m := range h.inbox`, `<-h.inbox` inside a `for`): a long-lived
/// subscriber, whose buffer fills when it falls behind.
fn subscriber_stream(cx: &Checker, ch: &Expr) -> bool {
    let Expr::Selector(sel) = ch.unparen() else {
        return false;
    };
    let field = sel.sel.name.as_str();
    let is_field = |e: &Expr| matches!(e.unparen(), Expr::Selector(s) if s.sel.name == field);
    cx.pkg.files().iter().any(|f| {
        // How a test drives the channel says nothing about production use.
        if f.is_test || !f.src.contains(field) {
            return false;
        }
        let mut found = false;
        walk::walk_file(&f.ast, &mut |n, anc| {
            if found {
                return false;
            }
            match n {
                Node::Stmt(Stmt::Range(r)) if is_field(&r.x) => found = true,
                Node::Expr(Expr::Unary(u)) if u.op == "<-" && is_field(&u.x) => {
                    found = enclosing_loop(anc).is_some();
                }
                _ => {}
            }
            true
        });
        found
    })
}

/// A short comparable name for simple types (`None` for the others).
fn ty_key(t: &Ty) -> Option<String> {
    Some(match t {
        Ty::Named(p, n) => format!("{p}.{n}"),
        Ty::Basic(b) => b.to_string(),
        Ty::Pointer(x) => format!("*{}", ty_key(x)?),
        Ty::Slice(x) => format!("[]{}", ty_key(x)?),
        Ty::Struct(st, _, _) if st.fields.is_empty() => "struct{}".to_string(),
        Ty::Interface => "interface".to_string(),
        _ => return None,
    })
}

/// Whether the send gives a token back to a semaphore field (see
/// [`pitfall_go::chans::is_semaphore`]): it waits for capacity the taker made,
/// not for a receiver.
fn gives_back_token(cx: &Checker, s: &SendStmt) -> bool {
    let sc = cx.scope();
    let env = cx.env_at(s.span.start);
    let Some((owner, field)) = pitfall_go::chans::chan_field_of(&sc, &env, &s.chan) else {
        return false;
    };
    let Some(m) = pitfall_go::chans::field_chan(&sc, owner, field) else {
        return false;
    };
    pitfall_go::chans::is_semaphore(&m)
        && m.ops
            .iter()
            .any(|o| o.op.span == s.span && pitfall_go::chans::is_token_op(o))
}
