//! A send that can run after the channel was closed: panics.
use crate::prelude::*;
use pitfall_go::chans;
use pitfall_go::engine::{self, cfg::Elem, reach::{reach_from, From, Step}};

pub static RULE: Rule = Rule {
    name: "send-on-closed-channel",
    category: Category::Channel,
    severity: Severity::Error,
    summary: "a send can follow a close of the same channel, which panics",
    reports_on: "the send statement",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
- In one function: `ch <- v` that can run after `close(ch)` — later on the same
  path, or earlier in the loop that the close is in — with no reassignment of `ch`
  in between.
- On one of the package's own types: an exported method that sends on a channel
  field of its receiver (`p.tasks <- t`), while another method of the type closes
  that field (`close(p.tasks)`), and the sending method neither checks a receiver
  state before the send (an `if` on the receiver that returns) nor recovers.
  Calling the sender after the closer — a `Submit` after `Shutdown` — panics.
  A closer that swaps in a fresh channel after closing the old one (`close(c.wake);
  c.wake = make(chan struct{})`, a broadcast by close) leaves no closed channel
  behind and is not counted.

Sends inside a `select` are reported too: a `select` does not protect a send on a
closed channel. Reported on the send.

## Why it matters in production
A send on a closed channel panics and kills the process. It typically happens
during shutdown, when one goroutine stops a component while request handlers are
still submitting work to it: every rollout or scale-down risks a crash with
requests in flight.

## Bad
```go
func (p *Pool) Submit(t Task) {
	p.tasks <- t // panics after Shutdown
}

func (p *Pool) Shutdown() {
	close(p.tasks)
	p.wg.Wait()
}
```

## Good
```go
func (p *Pool) Submit(t Task) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrPoolClosed
	}
	p.tasks <- t
	return nil
}

func (p *Pool) Shutdown() {
	p.mu.Lock()
	p.closed = true
	close(p.tasks)
	p.mu.Unlock()
	p.wg.Wait()
}
```

## How to fix
Only the sender should close a channel. When several goroutines send, signal
shutdown on a separate `done` channel (or a context) that senders select on, or
guard sends and the close with a mutex and a `closed` flag.

## How to suppress
`//nolint:send-on-closed-channel // reason` on the line, or on its own line before
the statement/function; `//nolint:channel` for the whole category; see `pitfall rule`.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    let file = cx.file;
    if !file.src.contains("<-") {
        return;
    }
    for f in walk::funcs(&file.ast) {
        if let Some(body) = f.body() {
            after_close_in_func(cx, body);
        }
    }
    for decl in &file.ast.decls {
        if let Decl::Func(f) = decl {
            method_sends(cx, f);
        }
    }
}

/// `close(ch)` followed (on a path) by `ch <- v` in one function.
fn after_close_in_func<'a>(cx: &mut Checker<'a>, body: &'a Block) {
    let mut closes: Vec<(&'a Stmt, &'a Expr, String)> = Vec::new();
    walk::walk_body(body, &mut |n, _| {
        if let Node::Stmt(s @ Stmt::Expr(e)) = n {
            if let Some(c) = e.as_call() {
                if c.fun.ident_name() == Some("close") && c.args.len() == 1 {
                    if let Some(k) = c.args[0].dotted_name() {
                        closes.push((s, &c.args[0], k));
                    }
                }
            }
        }
        true
    });
    if closes.is_empty() {
        return;
    }
    let cfg = engine::build(body);
    for (close, ch, key) in closes {
        // Every path from the close, around loops too, while the channel's
        // variable lives and is not given another channel.
        let life = chans::root_life(&cfg, &cx.env_at(ch.span().start), ch);
        let reach = reach_from(&cfg, From::After(close.span()), Some(&life), &mut |e| match e {
            Elem::Stmt(Stmt::Send(snd)) if snd.chan.dotted_name().as_deref() == Some(key.as_str()) => Step::Hit,
            e if chans::elem_assigns(e, &key) => Step::Stop,
            _ => Step::Pass,
        });
        if reach.unknown {
            continue;
        }
        if let Some(send) = reach.first_hit() {
            let (line, _) = cx.file.line_col(close.span().start);
            cx.report(send, format!("send on `{key}` can run after `close({key})` at line {line}: sending on a closed channel panics"))
                .fix("close a channel only after its last send (the sender closes), or stop sending once it is closed");
        }
    }
}

/// An exported method sending on a receiver field that another method closes.
fn method_sends<'a>(cx: &mut Checker<'a>, m: &'a FuncDecl) {
    let (Some(tname), Some(body)) = (m.recv_type_name(), m.body.as_ref()) else {
        return;
    };
    if !m.name.name.starts_with(|c: char| c.is_ascii_uppercase()) {
        return;
    }
    let Some(recv) = m.recv_name() else {
        return;
    };
    if cx.file.text(body.span).contains("recover()") {
        return;
    }
    let mut sends: Vec<(&'a SendStmt, &'a str)> = Vec::new();
    walk::walk_body(body, &mut |n, _| {
        if let Node::Stmt(Stmt::Send(s)) = n {
            if let Expr::Selector(sel) = s.chan.unparen() {
                if sel.x.ident_name() == Some(recv) {
                    sends.push((s, sel.sel.name.as_str()));
                }
            }
        }
        true
    });
    for (snd, field) in sends {
        if closes_field(body, recv, field)
            || receives_field(body, recv, field)
            || guarded(body, snd.span, recv)
        {
            continue;
        }
        let Some((closer, line, other_file)) = closing_method(cx, tname, &m.name.name, field)
        else {
            continue;
        };
        let place = match other_file {
            Some(f) => format!("{f}:{line}"),
            None => format!("line {line}"),
        };
        cx.report(snd.span, format!("`{}` sends on `{recv}.{field}`, which `{closer}` closes ({place}): a call after `{closer}` panics with send on closed channel", m.name.name))
            .fix(format!("signal shutdown on a separate done channel or context that `{}` selects on, or guard the send and the close with a mutex and a closed flag", m.name.name));
    }
}

/// Whether `body` itself closes `recv.field` (the method is the sender and closer).
fn closes_field(body: &Block, recv: &str, field: &str) -> bool {
    let mut found = false;
    walk::walk(Node::Block(body), &mut |n, _| {
        if let Node::Expr(Expr::Call(c)) = n {
            if c.fun.ident_name() == Some("close") && c.args.len() == 1 {
                if let Expr::Selector(s) = c.args[0].unparen() {
                    if s.sel.name == field && s.x.ident_name() == Some(recv) {
                        found = true;
                    }
                }
            }
        }
        !found
    });
    found
}

/// Whether the method also receives from `recv.field`: the channel carries a
/// token that the closer must hold too, so the send cannot follow the close.
fn receives_field(body: &Block, recv: &str, field: &str) -> bool {
    let mut found = false;
    walk::walk(Node::Block(body), &mut |n, _| {
        if let Node::Expr(Expr::Unary(u)) = n {
            if u.op == "<-" {
                if let Expr::Selector(s) = u.x.unparen() {
                    if s.sel.name == field && s.x.ident_name() == Some(recv) {
                        found = true;
                    }
                }
            }
        }
        !found
    });
    found
}

/// Whether an `if` before the send (in the method's top-level statements)
/// checks the receiver's state and leaves: `if p.closed { return ... }` — its
/// branch never reaches the send.
fn guarded(body: &Block, send: Span, recv: &str) -> bool {
    let mut cfg = None;
    for s in &body.stmts {
        if s.span().start >= send.start {
            break;
        }
        if let Stmt::If(i) = s {
            let cond_mentions = pitfall_go::flow::mentions(Node::Expr(&i.cond), recv)
                || i.init
                    .as_ref()
                    .is_some_and(|init| pitfall_go::flow::mentions(Node::Stmt(init), recv));
            if !cond_mentions {
                continue;
            }
            let cfg = cfg.get_or_insert_with(|| engine::build(body));
            let r = reach_from(cfg, From::Taken(i.cond.span(), true), None, &mut |e| {
                if e.span() == send {
                    Step::Hit
                } else {
                    Step::Pass
                }
            });
            if !r.unknown && r.hits.is_empty() {
                return true;
            }
        }
    }
    // A select whose other case watches a receiver channel does not help
    // (a closed channel's send is always ready), so nothing else guards.
    false
}

/// Another method of `tname` that closes its receiver's `field`: its name, the
/// line of the close, and the file name when it is not this file.
fn closing_method<'a>(
    cx: &Checker<'a>,
    tname: &str,
    sender: &str,
    field: &str,
) -> Option<(String, u32, Option<String>)> {
    let mut best: Option<(String, u32, Option<String>)> = None;
    for ((t, name), def) in &cx.pkg.methods {
        if *t != tname || *name == sender {
            continue;
        }
        let Some(recv) = def.decl.recv_name() else {
            continue;
        };
        let Some(body) = &def.decl.body else { continue };
        let mut at = None;
        walk::walk(Node::Block(body), &mut |n, _| {
            if let Node::Expr(Expr::Call(c)) = n {
                if c.fun.ident_name() == Some("close") && c.args.len() == 1 {
                    if let Expr::Selector(s) = c.args[0].unparen() {
                        if s.sel.name == field && s.x.ident_name() == Some(recv) {
                            at.get_or_insert(c.span.start);
                        }
                    }
                }
            }
            at.is_none()
        });
        // `close(c.ch); c.ch = make(chan T)`: the closer swaps in a fresh
        // channel, so the field never stays closed.
        if at.is_some_and(|pos| reassigns_after(body, recv, field, pos)) {
            continue;
        }
        if let Some(pos) = at {
            let (line, _) = def.file.line_col(pos);
            let other = (!std::ptr::eq(def.file, cx.file))
                .then(|| def.file.path.rsplit('/').next().unwrap_or("").to_string());
            let cand = (format!("{tname}.{name}"), line, other);
            // Deterministic pick across the hash map: the smallest name.
            if best.as_ref().is_none_or(|b| cand.0 < b.0) {
                best = Some(cand);
            }
        }
    }
    best
}

/// Whether `body` assigns `recv.field` after offset `pos` (closures excluded).
fn reassigns_after(body: &Block, recv: &str, field: &str, pos: u32) -> bool {
    let mut found = false;
    walk::walk_body(body, &mut |n, _| {
        if let Node::Stmt(Stmt::Assign(a)) = n {
            if a.span.start > pos
                && a.lhs.iter().any(|l| {
                    matches!(l.unparen(), Expr::Selector(s)
                        if s.sel.name == field && s.x.ident_name() == Some(recv))
                })
            {
                found = true;
            }
        }
        !found
    });
    found
}
