//! A goroutine blocks on a channel while holding a mutex that every partner
//! able to unblock it must lock first.
use crate::prelude::*;
use pitfall_go::chans::{self, FieldShape, OpKind};
use pitfall_go::engine::object::{class_of, Root};
use pitfall_go::locks::{self, Op as LockOp};
use pitfall_go::types::{Env, Scope};
use std::rc::Rc;

pub static RULE: Rule = Rule {
    name: "lock-held-while-blocking",
    category: Category::Sync,
    severity: Severity::Error,
    summary: "a goroutine blocks on a channel or WaitGroup while holding a mutex its partner must lock first (deadlock)",
    reports_on: "the blocking send, receive or `Wait`",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
A send, a receive or a `range` on a channel field of one of the package's
types, run while a mutex is held on every path, when every piece of code in
the package that could unblock it (the sends and `close` for a receive, the
receives for a send) first locks the same mutex class — directly, or through
a method or function of the package that locks it. The same for a
`wg.Wait()` on a WaitGroup field while a mutex is held, when every `Done` on
that field comes after a lock of the same class, and for `c.Wait()` on a
`sync.Cond` built on another mutex when every `Signal`/`Broadcast` does. The
blocked goroutine
waits for its partner; the partner waits for the mutex; neither moves.

Mutexes are compared by lock class (`T.mu` for a field `mu` of the package's
type `T`). Only unbuffered channels whose every use the package can see are
considered (no exported field, not passed or returned elsewhere), and only a
send or receive that stands alone: one case of a `select` with a `default`
or other cases (a `ctx.Done()`, a timer) is not reported. The finding names
the mutex and the partner's `Lock` line.

## Why it matters in production
The deadlock needs both goroutines at the wrong moment: a shutdown that
waits for a worker while the worker waits for the lock, a keepalive loop
that waits for the first stream while the stream waits for the lock. Tests
pass; under load the service stops answering and the goroutine dump shows a
goroutine parked on `chan receive` and another on `sync.Mutex.Lock`.

## Bad
```go
func (w *Watcher) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.updates)
	<-w.done // the loop below needs w.mu before it can close done
}

func (w *Watcher) loop() {
	defer close(w.done)
	for u := range w.updates {
		w.mu.Lock()
		w.apply(u)
		w.mu.Unlock()
	}
}
```

## Good
```go
func (w *Watcher) stop() {
	w.mu.Lock()
	close(w.updates)
	w.mu.Unlock()
	<-w.done // wait without the lock
}
```

## How to fix
Release the mutex before blocking (copy what you need under the lock, unlock,
then send or wait), or make the operation non-blocking (`select` with a
`default` or a buffered channel sized for the senders), or let the partner
unblock the waiter without taking the mutex.

## How to suppress
`//nolint:lock-held-while-blocking // partner never locks while we wait` on
the reported line, or on its own line before the statement or the function;
`//nolint:sync` for the whole category.

## Differences from peer linters
go vet and staticcheck have no such check; goleak and Go's goroutine-leak
profile see the deadlock only when a test runs into it. This rule reasons on
the code: it is silent when it cannot tell the channel or the mutex for sure.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    let fact = cx.package_fact::<Blocks>();
    let me = cx.pkg.files().iter().position(|f| std::ptr::eq(f, cx.file));
    for b in fact.0.iter().filter(|b| Some(b.file) == me) {
        let rel = &cx.pkg.files()[b.partner_file];
        cx.report(b.at, b.msg.clone())
            .fix("release the mutex before blocking, or let the partner proceed without it")
            .related_in(rel, b.partner_lock, b.note.clone());
    }
}

struct Found {
    file: usize,
    at: Span,
    msg: String,
    partner_file: usize,
    partner_lock: Span,
    note: String,
}

/// The findings of the package, computed once.
struct Blocks(Vec<Found>);

/// One function body (declaration or literal) of the package.
struct Body<'a> {
    file: usize,
    name: String,
    span: Span,
    /// Mutex acquisitions outside closures and defers: class, op, call span.
    acquires: Vec<(String, LockOp, Span)>,
    /// Sends, receives, ranges and closes of channel fields: `T.f`, the op.
    chan_ops: Vec<(String, chans::Op<'a>)>,
    /// Locks held on every path at each blocking op: class, key as written.
    held: Vec<(usize, String, String, bool)>,
    /// `Wait`/`Done` on WaitGroup fields (`T.f`), address-taken ones (`&x.wg`)
    /// as `Addr`: class, what, span, deferred.
    wg_ops: Vec<(String, WgOp, Span, bool)>,
    /// Locks held on every path at each `Wait`: index in `wg_ops`, class, key, write.
    wg_held: Vec<(usize, String, String, bool)>,
    /// The lock class of each `sync.NewCond(&x.mu)` argument (`None`: unknown).
    cond_locks: Vec<Option<String>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum WgOp {
    Wait,
    /// `c.Wait()` on a `sync.Cond`.
    CondWait,
    Done,
    Addr,
}

impl PackageFact for Blocks {
    fn compute<'a>(pkg: &'a Package<'a>, project: &'a ProjectIndex<'a>) -> Self {
        let summaries = locks::Summaries::shared(pkg, project);
        let mut bodies: Vec<Body<'a>> = Vec::new();
        for (fi, file) in pkg.files().iter().enumerate().filter(|(_, f)| !f.is_test) {
            let src = &file.src;
            if !["chan ", "<-", "close(", "Done()", "Signal()", "Broadcast()"].iter().any(|k| src.contains(k)) {
                continue;
            }
            let sc = Scope { project, pkg, file };
            for decl in &file.ast.decls {
                let Decl::Func(fd) = decl else { continue };
                let text = file.text(fd.span);
                if !text.contains('.') {
                    continue;
                }
                let env = Rc::new(Env::build(&sc, Node::FuncDecl(fd)));
                let fname = match fd.recv_type_name() {
                    Some(t) => format!("{t}.{}", fd.name.name),
                    None => fd.name.name.to_string(),
                };
                walk::walk(Node::FuncDecl(fd), &mut |n, _| {
                    let Some(func) = n.as_func() else { return true };
                    let Some(body) = func.body() else { return true };
                    let name = match func {
                        Func::Decl(_) => fname.clone(),
                        Func::Lit(_) => format!("a closure in {fname}"),
                    };
                    bodies.push(body_of(&sc, &env, &summaries, fi, name, func.span(), body));
                    true
                });
            }
        }
        let mut out = Vec::new();
        for b in &bodies {
            for &(i, ref class, ref key, write) in &b.held {
                let (chan, op) = &b.chan_ops[i];
                if let Some(f) = judge(project, pkg, &bodies, b, chan, op, class, key, write) {
                    out.push(f);
                }
            }
            for &(i, ref class, ref key, write) in &b.wg_held {
                if let Some(f) = judge_wait(pkg, &bodies, b, i, class, key, write) {
                    out.push(f);
                }
            }
        }
        Blocks(out)
    }
}

fn body_of<'a>(
    sc: &Scope<'a>,
    env: &Env<'a>,
    summaries: &locks::Summaries<'a>,
    file: usize,
    name: String,
    span: Span,
    body: &'a Block,
) -> Body<'a> {
    let classify = |c: &'a CallExpr| summaries.classify(sc, env, c);
    let mut acquires = Vec::new();
    walk::walk(Node::Block(body), &mut |n, _| match n {
        Node::Expr(Expr::FuncLit(_)) | Node::Stmt(Stmt::Defer(_)) => false,
        Node::Expr(Expr::Call(c)) => {
            if let Some(op) = classify(c) {
                for o in std::iter::once(&op).chain(op.also.iter()) {
                    if let (true, Some(cl)) = (o.op.is_acquire(), &o.class) {
                        acquires.push((cl.clone(), o.op, c.span));
                    }
                }
            }
            true
        }
        _ => true,
    });
    let chan_class = |e: &'a Expr| -> Option<String> {
        let Expr::Selector(_) = e.unparen() else { return None };
        let o = class_of(sc, env, e)?;
        let Root::Type(t) = &o.root else { return None };
        if o.path.contains('.') {
            return None;
        }
        matches!(chans::chan_field_shape(sc.pkg, t, &o.path), Some(FieldShape::Chan))
            .then(|| format!("{t}.{}", o.path))
    };
    let chan_ops: Vec<(String, chans::Op<'a>)> = chans::ops(Node::Block(body), &|e| chan_class(e).is_some())
        .into_iter()
        .filter(|o| o.closure.is_none())
        .filter(|o| matches!(o.kind, OpKind::Send | OpKind::Recv | OpKind::Range | OpKind::Close))
        .filter_map(|o| Some((chan_class(o.expr)?, o)))
        .collect();
    let mut wg_ops = Vec::new();
    let mut cond_locks = Vec::new();
    walk::walk(Node::Block(body), &mut |n, anc| {
        let (x, name, span) = match n {
            Node::Expr(Expr::FuncLit(_)) => return false,
            Node::Expr(Expr::Call(c)) => {
                let Expr::Selector(sel) = c.fun.unparen() else { return true };
                if sel.sel.name == "NewCond" && matches!(sel.x.unparen(), Expr::Ident(p) if p.name == "sync") {
                    let arg = c.args.first().map(|a| match a.unparen() {
                        Expr::Unary(u) if u.op == "&" => &u.x,
                        a => a,
                    });
                    cond_locks.push(arg.and_then(|a| class_of(sc, env, a)).map(|o| match &o.root {
                        Root::Type(t) => format!("{t}.{}", o.path),
                        _ => pitfall_go::engine::object::describe(&o),
                    }));
                    return true;
                }
                (&sel.x, sel.sel.name.as_str(), c.span)
            }
            Node::Expr(Expr::Unary(u)) if u.op == "&" => (&u.x, "&", u.span),
            _ => return true,
        };
        let ty = env.type_of(sc, x);
        let what = if ty.deref().is_named("sync", "WaitGroup") {
            match name {
                "Wait" => WgOp::Wait,
                "Done" => WgOp::Done,
                "&" => WgOp::Addr,
                _ => return true,
            }
        } else if ty.deref().is_named("sync", "Cond") {
            match name {
                "Wait" => WgOp::CondWait,
                "Signal" | "Broadcast" => WgOp::Done,
                "&" => WgOp::Addr,
                _ => return true,
            }
        } else {
            return true;
        };
        if let Some(o) = class_of(sc, env, x) {
            if let Root::Type(t) = &o.root {
                let deferred = anc.iter().any(|a| matches!(a, Node::Stmt(Stmt::Defer(_))));
                wg_ops.push((format!("{t}.{}", o.path), what, span, deferred));
            }
        }
        true
    });
    // Locks held at each blocking op that stands alone.
    let mut held = Vec::new();
    let blocking: Vec<usize> = chan_ops
        .iter()
        .enumerate()
        .filter(|(_, (_, o))| {
            matches!(o.kind, OpKind::Send | OpKind::Recv | OpKind::Range)
                && o.select.is_none_or(|s| s.cases.len() == 1 && !chans::has_default(s))
        })
        .map(|(i, _)| i)
        .collect();
    let mut wg_held = Vec::new();
    let waits: Vec<usize> = (0..wg_ops.len())
        .filter(|&i| matches!(wg_ops[i].1, WgOp::Wait | WgOp::CondWait))
        .collect();
    if (!blocking.is_empty() || !waits.is_empty()) && !acquires.is_empty() {
        let cfg = pitfall_go::engine::build(body);
        for key in locks::acquired_keys(body, &classify) {
            let t = locks::trace_in(&cfg, &key, &classify);
            if t.unknown {
                continue;
            }
            let Some(class) = key_class(sc, env, body, &classify, &key) else { continue };
            for &i in &blocking {
                let st = t.held_at(chan_ops[i].1.span);
                if locks::always_held(st) {
                    held.push((i, class.clone(), key.clone(), !locks::always_read_held(st)));
                }
            }
            for &i in &waits {
                let st = t.held_at(wg_ops[i].2);
                if locks::always_held(st) {
                    wg_held.push((i, class.clone(), key.clone(), !locks::always_read_held(st)));
                }
            }
        }
    }
    Body {
        file,
        name,
        span,
        acquires,
        chan_ops,
        held,
        wg_ops,
        wg_held,
        cond_locks,
    }
}

/// The lock class of the mutex written `key` in `body`.
fn key_class<'a>(
    _sc: &Scope<'a>,
    _env: &Env<'a>,
    body: &'a Block,
    classify: locks::Classify<'_, 'a>,
    key: &str,
) -> Option<String> {
    let mut class = None;
    walk::walk_body(body, &mut |n, _| {
        if let Node::Expr(Expr::Call(c)) = n {
            if let Some(op) = classify(c) {
                for o in std::iter::once(&op).chain(op.also.iter()) {
                    if o.key == key && o.op.is_acquire() && o.class.is_some() {
                        class = o.class.clone();
                    }
                }
            }
        }
        class.is_none()
    });
    class
}

#[allow(clippy::too_many_arguments)]
fn judge<'a>(
    project: &'a ProjectIndex<'a>,
    pkg: &'a Package<'a>,
    bodies: &[Body<'a>],
    me: &Body<'a>,
    chan: &str,
    op: &chans::Op<'a>,
    class: &str,
    key: &str,
    write: bool,
) -> Option<Found> {
    let (owner, field) = chan.split_once('.')?;
    let file = &pkg.files()[me.file];
    let sc = Scope { project, pkg, file };
    let fc = chans::field_chan(&sc, owner, field)?;
    if fc.escapes || fc.buffered || fc.outside_receivers {
        return None;
    }
    let partner_kinds: &[OpKind] = match op.kind {
        OpKind::Send => &[OpKind::Recv, OpKind::Range],
        _ => &[OpKind::Send, OpKind::Close],
    };
    // Every complementary use the package has, found in a body we read.
    let mut partners = Vec::new();
    for fo in fc.of(partner_kinds) {
        if fo.aliased || fo.file.is_test {
            return None;
        }
        let fi = pkg.files().iter().position(|f| std::ptr::eq(f, fo.file))?;
        let body = bodies
            .iter()
            .filter(|b| b.file == fi && b.chan_ops.iter().any(|(c, o)| c == chan && o.span == fo.op.span))
            .min_by_key(|b| b.span.end - b.span.start)?;
        if std::ptr::eq(body, me) {
            return None;
        }
        // It must lock the class before its operation.
        let lock = body.acquires.iter().find(|(c, o, s)| {
            c == class && (write || *o == LockOp::Lock) && (s.start < fo.op.span.start || fo.op.deferred)
        })?;
        partners.push((body, lock.2));
    }
    let (pb, lock) = *partners.first()?;
    let pfile = &pkg.files()[pb.file];
    let (pline, _) = pfile.line_col(lock.start);
    let what = match op.kind {
        OpKind::Send => "send on",
        OpKind::Range => "range over",
        _ => "receive from",
    };
    let partner_does = match op.kind {
        OpKind::Send => "receive from it",
        _ => "send on or close it",
    };
    let chan_text = file.text(op.expr.span());
    Some(Found {
        file: me.file,
        at: op.span,
        msg: format!(
            "{} blocks on a {what} `{chan_text}` while holding `{key}`, but {} — the only code that can {partner_does} — must lock `{class}` first ({}:{pline}): deadlock",
            me.name, pb.name, pfile.path
        ),
        partner_file: pb.file,
        partner_lock: lock,
        note: format!("{} locks `{class}` here before it can unblock the waiter", pb.name),
    })
}

/// A `wg.Wait()` on a WaitGroup field (or `c.Wait()` on a Cond built on
/// another mutex) while `key` is held: reported when every
/// `Done` of that field in the package comes after a lock of the same class
/// (and the WaitGroup's address is never handed out).
fn judge_wait<'a>(
    pkg: &'a Package<'a>,
    bodies: &[Body<'a>],
    me: &Body<'a>,
    i: usize,
    class: &str,
    key: &str,
    write: bool,
) -> Option<Found> {
    let (wg, kind, at, _) = &me.wg_ops[i];
    // `Cond.Wait` releases the Cond's own mutex: only a Cond built on some
    // other, known mutex counts.
    if *kind == WgOp::CondWait
        && bodies
            .iter()
            .flat_map(|b| &b.cond_locks)
            .any(|l| l.as_deref().is_none_or(|l| l == class))
    {
        return None;
    }
    let mut partners = Vec::new();
    for b in bodies {
        for (c, what, span, deferred) in &b.wg_ops {
            if c != wg {
                continue;
            }
            match what {
                WgOp::Addr => return None,
                WgOp::Wait | WgOp::CondWait => continue,
                WgOp::Done => {}
            }
            if std::ptr::eq(b, me) {
                return None;
            }
            let lock = b.acquires.iter().find(|(c, o, s)| {
                c == class && (write || *o == LockOp::Lock) && (s.start < span.start || *deferred)
            })?;
            partners.push((b, lock.2));
        }
    }
    // Every `.wg.Done()` written in the package must be one we read (not in
    // a test file, a package-level function value...).
    let field = wg.split_once('.')?.1;
    let written: usize = pkg
        .files()
        .iter()
        .map(|f| {
            ["Done", "Signal", "Broadcast"]
                .iter()
                .map(|m| f.src.matches(&format!(".{field}.{m}()")).count())
                .sum::<usize>()
        })
        .sum();
    let suffix = format!(".{field}");
    let read = bodies
        .iter()
        .flat_map(|b| &b.wg_ops)
        .filter(|(c, what, _, _)| *what == WgOp::Done && c.ends_with(&suffix))
        .count();
    if written != read {
        return None;
    }
    let (pb, lock) = *partners.first()?;
    let file = &pkg.files()[me.file];
    let pfile = &pkg.files()[pb.file];
    let (pline, _) = pfile.line_col(lock.start);
    let text = file.text(*at);
    Some(Found {
        file: me.file,
        at: *at,
        msg: format!(
            "{} waits in `{text}` while holding `{key}`, but {} — which calls `Done`/`Signal` on it — must lock `{class}` first ({}:{pline}): deadlock",
            me.name, pb.name, pfile.path
        ),
        partner_file: pb.file,
        partner_lock: lock,
        note: format!("{} locks `{class}` here before it can call Done/Signal", pb.name),
    })
}
