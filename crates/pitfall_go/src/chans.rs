//! The channel model of one function: which local channels it makes, with
//! what buffer, and every place that sends on, receives from, closes or hands
//! off each of them — inside the function, inside the closures it starts with
//! `go`, and inside the same-package functions it passes the channel to.
//!
//! It is syntax-level and conservative: a channel is identified by the local
//! variable that holds it (resolved through [`Env`], so shadowing is handled),
//! or by a struct field of the package's own type (`p.tasks`). Any use it does
//! not understand is an [`OpKind::Other`], and rules treat such a channel as
//! escaping (someone else may close it or drain it) and stay silent.

use crate::ast::*;
use crate::engine::cfg::{Cfg, Elem};
use crate::engine::life::Life;
use crate::index::{FuncDef, Package};
use crate::types::{Env, Scope};
use crate::walk::{walk, Node};

/// The buffer of a `make(chan T, n)`.
#[derive(Clone, Copy, Debug)]
pub enum Cap<'a> {
    /// `make(chan T)` or a constant 0.
    Zero,
    /// A constant capacity.
    Known(u64),
    /// A capacity computed at run time.
    Dynamic(&'a Expr),
}

impl Cap<'_> {
    pub fn is_zero(&self) -> bool {
        matches!(self, Cap::Zero)
    }
}

/// `make(chan T[, n])` with the builtin `make`: its capacity.
pub fn chan_make<'a>(sc: &Scope<'a>, env: &Env<'a>, e: &'a Expr) -> Option<Cap<'a>> {
    let call = e.as_call()?;
    let make = call.fun.as_ident()?;
    if make.name != "make" || env.resolve(make).is_some() {
        return None;
    }
    if !matches!(
        call.args.first().map(|a| a.unparen()),
        Some(Expr::ChanType(_))
    ) {
        return None;
    }
    Some(match call.args.get(1) {
        None => Cap::Zero,
        Some(n) => match sc.const_int(n) {
            Some(0) => Cap::Zero,
            Some(k) => Cap::Known(k),
            None => Cap::Dynamic(n),
        },
    })
}

/// A local channel variable initialised by `make`.
#[derive(Clone, Copy, Debug)]
pub struct LocalChan<'a> {
    pub name: &'a str,
    /// The declaring identifier.
    pub decl: Span,
    /// The `make(...)` expression.
    pub make: &'a Expr,
    pub cap: Cap<'a>,
}

/// More local channels than this in one top-level function (generated code)
/// and [`local_chans`] gives up: each channel's analysis walks the function.
pub const MAX_LOCAL_CHANS: usize = 64;

/// Every local variable of `env` whose declaration makes a channel (none when
/// there are more than [`MAX_LOCAL_CHANS`]).
pub fn local_chans<'a>(sc: &Scope<'a>, env: &Env<'a>) -> Vec<LocalChan<'a>> {
    let mut out = Vec::new();
    for b in env.bindings() {
        let Some(init) = b.init else { continue };
        if let Some(cap) = chan_make(sc, env, init) {
            out.push(LocalChan {
                name: b.name,
                decl: b.decl,
                make: init,
                cap,
            });
        }
    }
    if out.len() > MAX_LOCAL_CHANS {
        out.clear();
    }
    out
}

/// What a use of a channel does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// `ch <- v` (span: the send statement).
    Send,
    /// `<-ch` (span: the receive expression).
    Recv,
    /// `for v := range ch` (span: the range statement).
    Range,
    /// `close(ch)` (span: the call).
    Close,
    /// `len(ch)`, `cap(ch)`, `ch == nil`, `ch != nil`: no effect.
    Inspect,
    /// Passed as argument `index` of a call (span: the call).
    Arg(usize),
    /// The variable is assigned again (span: the assignment).
    Reassign,
    /// Anything else: returned, stored, sent, captured by a `go`/`defer`
    /// argument of another function... (span: the use).
    Other,
}

/// One use of a channel.
#[derive(Clone, Copy, Debug)]
pub struct Op<'a> {
    pub kind: OpKind,
    pub span: Span,
    /// The channel expression itself (`ch` or `p.tasks`).
    pub expr: &'a Expr,
    /// The call, for [`OpKind::Arg`] and [`OpKind::Close`].
    pub call: Option<&'a CallExpr>,
    /// `defer close(ch)` / `defer f(ch)`.
    pub deferred: bool,
    /// The `select` whose case this send or receive is.
    pub select: Option<&'a SelectStmt>,
    /// The innermost function literal around the use (`None`: the function itself).
    pub closure: Option<&'a FuncLit>,
    /// The `go` statement that runs `closure` (when it is `go func(){...}()`),
    /// or the `go` statement whose call this argument is.
    pub go: Option<&'a Stmt>,
    /// Whether the use is inside a loop of its own function (or closure).
    pub in_loop: bool,
    /// Whether some function literal around the use (not only the innermost)
    /// is run by a `go` statement.
    pub in_goroutine: bool,
    /// For a receive: its value is dropped (`<-ch` as a statement, a bare
    /// `case <-ch:`).
    pub dropped: bool,
    /// For a send: the value sent.
    pub sent: Option<&'a Expr>,
}

impl<'a> Op<'a> {
    /// Whether the op runs in the function's own goroutine (not in a closure).
    pub fn in_body(&self) -> bool {
        self.closure.is_none()
    }

    /// A send or receive that can wait forever: not a case of a `select` that
    /// has a `default` or another case to take.
    pub fn is_bare(&self) -> bool {
        match self.select {
            None => true,
            Some(s) => s.cases.len() <= 1,
        }
    }
}

/// Whether a select has a `default` clause.
pub fn has_default(sel: &SelectStmt) -> bool {
    sel.cases.iter().any(|c| c.comm.is_none())
}

/// Every use under `root` of the channel that `is_chan` recognises.
pub fn ops<'a>(root: Node<'a>, is_chan: &dyn Fn(&'a Expr) -> bool) -> Vec<Op<'a>> {
    let mut out = Vec::new();
    walk(root, &mut |n, anc| {
        let Node::Expr(e) = n else { return true };
        if !is_chan(e) {
            return true;
        }
        out.push(classify(e, anc));
        false
    });
    out
}

/// The uses of local variable `decl` (a channel) under `root`.
pub fn local_ops<'a>(root: Node<'a>, env: &Env<'a>, decl: Span) -> Vec<Op<'a>> {
    ops(root, &|e| match e {
        Expr::Ident(id) => id.span != decl && env.resolve(id).is_some_and(|b| b.decl == decl),
        _ => false,
    })
}

/// The uses of field `field` of the receiver variable `recv` under `root`.
pub fn field_ops<'a>(root: Node<'a>, recv: &str, field: &str) -> Vec<Op<'a>> {
    ops(root, &|e| match e {
        Expr::Selector(s) => s.sel.name == field && s.x.ident_name() == Some(recv),
        _ => false,
    })
}

fn classify<'a>(e: &'a Expr, anc: &[Node<'a>]) -> Op<'a> {
    let mut op = Op {
        kind: OpKind::Other,
        span: e.span(),
        expr: e,
        call: None,
        deferred: false,
        select: None,
        closure: None,
        go: None,
        in_loop: false,
        in_goroutine: false,
        dropped: false,
        sent: None,
    };
    // Skip parentheses around the channel.
    let mut i = anc.len();
    while i > 0 && matches!(anc[i - 1], Node::Expr(Expr::Paren(_))) {
        i -= 1;
    }
    let parent = if i > 0 { Some(anc[i - 1]) } else { None };
    let grand = if i > 1 { Some(anc[i - 2]) } else { None };
    match parent {
        Some(Node::Stmt(s @ Stmt::Send(snd))) if snd.chan.span().encloses(e.span()) => {
            op.kind = OpKind::Send;
            op.span = s.span();
            op.sent = Some(&snd.value);
            // A case of the select, not a statement in a clause's body.
            if let Some(Node::Comm(c)) = grand {
                if c.comm.as_ref().is_some_and(|x| x.span() == s.span()) {
                    op.select = select_of(anc, i - 2);
                }
            }
        }
        Some(Node::Expr(u @ Expr::Unary(un))) if un.op == "<-" => {
            op.kind = OpKind::Recv;
            op.span = u.span();
            // `<-ch`, `v := <-ch`, `v, ok = <-ch` as a select case.
            let mut j = i - 1;
            op.dropped = j > 0 && matches!(anc[j - 1], Node::Stmt(Stmt::Expr(_)));
            if j > 0 && matches!(anc[j - 1], Node::Stmt(Stmt::Expr(_) | Stmt::Assign(_))) {
                j -= 1;
                if j > 0
                    && matches!(anc[j - 1], Node::Comm(c) if c.comm.as_ref().is_some_and(|s| s.span() == anc[j].span()))
                {
                    op.select = select_of(anc, j - 1);
                }
            }
        }
        Some(Node::Stmt(s @ Stmt::Range(r))) if r.x.span().encloses(e.span()) => {
            op.kind = OpKind::Range;
            op.span = s.span();
        }
        Some(Node::Expr(Expr::Call(c))) if c.args.iter().any(|a| a.span().encloses(e.span())) => {
            op.call = Some(c);
            op.span = c.span;
            let index = c
                .args
                .iter()
                .position(|a| a.span().encloses(e.span()))
                .unwrap_or(0);
            op.kind = match c.fun.ident_name() {
                Some("close") if c.args.len() == 1 => OpKind::Close,
                Some("len" | "cap") => OpKind::Inspect,
                _ => OpKind::Arg(index),
            };
            if let Some(Node::Stmt(Stmt::Defer(_))) = grand {
                op.deferred = true;
            }
            if let Some(Node::Stmt(g @ Stmt::Go(_))) = grand {
                op.go = Some(g);
            }
        }
        Some(Node::Expr(Expr::Binary(b))) if matches!(b.op, "==" | "!=") => {
            op.kind = OpKind::Inspect;
        }
        Some(Node::Stmt(s @ Stmt::Assign(a))) if a.lhs.iter().any(|l| l.span() == e.span()) => {
            op.kind = OpKind::Reassign;
            op.span = s.span();
        }
        _ => {}
    }
    // The function the use runs in, and whether a `go` starts it.
    for k in (0..anc.len()).rev() {
        match anc[k] {
            // The range statement of a Range op is not a loop around it.
            Node::Stmt(Stmt::For(_) | Stmt::Range(_))
                if op.closure.is_none()
                    && !(op.kind == OpKind::Range && anc[k].span() == op.span) =>
            {
                op.in_loop = true;
            }
            Node::Expr(Expr::FuncLit(l)) => {
                if op.closure.is_none() {
                    op.closure = Some(l);
                    if k >= 2 {
                        if let (Node::Expr(Expr::Call(c)), Node::Stmt(g @ Stmt::Go(_))) =
                            (anc[k - 1], anc[k - 2])
                        {
                            if c.fun.span() == l.span {
                                op.go = Some(g);
                            }
                        }
                    }
                }
                if k >= 2 {
                    if let (Node::Expr(Expr::Call(c)), Node::Stmt(Stmt::Go(_))) =
                        (anc[k - 1], anc[k - 2])
                    {
                        if c.fun.span() == l.span {
                            op.in_goroutine = true;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    op
}

fn select_of<'a>(anc: &[Node<'a>], comm_idx: usize) -> Option<&'a SelectStmt> {
    if comm_idx == 0 {
        return None;
    }
    match anc[comm_idx - 1] {
        Node::Stmt(Stmt::Select(s)) => Some(s),
        _ => None,
    }
}

/// A same-package function (not a method) called by name, with its parameter
/// at `index` (its name; `None` for an unnamed or variadic parameter).
pub fn callee_param<'a>(
    pkg: &'a Package<'a>,
    env: &Env<'a>,
    call: &'a CallExpr,
    index: usize,
) -> Option<(FuncDef<'a>, &'a Ident)> {
    let id = call.fun.as_ident()?;
    if env.resolve(id).is_some() {
        return None;
    }
    let def = pkg.funcs.get(id.name.as_str())?;
    nth_param(def, index).map(|p| (*def, p))
}

/// A same-package method called on a value of the package's own type
/// (`s.consume(ch)`), with its parameter at `index`.
pub fn method_param<'a>(
    sc: &Scope<'a>,
    env: &Env<'a>,
    call: &'a CallExpr,
    index: usize,
) -> Option<(FuncDef<'a>, &'a Ident)> {
    let Expr::Selector(sel) = call.fun.unparen() else {
        return None;
    };
    if env.pkg_member(sc.file, &call.fun).is_some() {
        return None;
    }
    let crate::types::Ty::Named(path, tname) = env.type_of(sc, &sel.x).deref().clone() else {
        return None;
    };
    if path != sc.pkg.import_path() {
        return None;
    }
    let def = sc.pkg.methods.get(&(tname, sel.sel.name.as_str()))?;
    nth_param(def, index).map(|p| (*def, p))
}

fn nth_param<'a>(def: &FuncDef<'a>, index: usize) -> Option<&'a Ident> {
    let mut i = 0;
    for f in &def.decl.ty.params {
        if f.names.is_empty() {
            if i == index {
                return None;
            }
            i += 1;
            continue;
        }
        for n in &f.names {
            if i == index {
                if f.variadic || n.is_blank() {
                    return None;
                }
                return Some(n);
            }
            i += 1;
        }
    }
    None
}

/// The uses of parameter `param` of a function declaration, with the
/// environment built for its file.
pub fn param_ops<'a>(sc: &Scope<'a>, def: FuncDef<'a>, param: &'a Ident) -> Vec<Op<'a>> {
    let sc = Scope {
        project: sc.project,
        pkg: sc.pkg,
        file: def.file,
    };
    let env = Env::build(&sc, Node::FuncDecl(def.decl));
    local_ops(Node::FuncDecl(def.decl), &env, param.span)
}

/// The life of the variable at the root of a channel expression (`s` in
/// `s.ch`, `ch` itself): the statement list that declares it; the whole body
/// for parameters, receivers and package variables.
pub fn root_life<'a>(cfg: &Cfg<'a>, env: &Env<'a>, ch: &'a Expr) -> Life {
    let decl = crate::engine::object::split_path(ch).and_then(|(base, _)| env.resolve(base));
    match decl {
        Some(b) => Life::of_decl(cfg, b.decl),
        None => Life::new(cfg, cfg.body.span),
    }
}

/// Whether a CFG element gives `name` (a dotted path, `ch` or `s.ch`) or one
/// of its prefixes a new value: `ch = ...`, `s = ...`, `s := ...`,
/// `var s = ...`, `for _, s = range ...` (closures not entered).
pub fn elem_assigns(e: &Elem<'_>, name: &str) -> bool {
    let hits = |d: &str| d == name || name.strip_prefix(d).is_some_and(|r| r.starts_with('.'));
    match e {
        Elem::Stmt(Stmt::Assign(a)) => a
            .lhs
            .iter()
            .any(|l| l.dotted_name().is_some_and(|d| hits(&d))),
        Elem::Stmt(Stmt::Decl(g)) => g.specs.iter().any(|sp| match sp {
            Spec::Value(v) => v.names.iter().any(|n| hits(&n.name)),
            _ => false,
        }),
        Elem::RangeNext(r) => [&r.key, &r.value]
            .into_iter()
            .flatten()
            .any(|k| k.dotted_name().is_some_and(|d| hits(&d))),
        Elem::TypeSwitchBind(sw) => sw.bind.as_ref().is_some_and(|b| hits(&b.name)),
        _ => false,
    }
}

/// Whether the body of a function literal is the function a `go` statement runs.
pub fn go_literal(s: &Stmt) -> Option<&FuncLit> {
    let Stmt::Go(g) = s else { return None };
    match g.call.as_call()?.fun.unparen() {
        Expr::FuncLit(l) => Some(l),
        _ => None,
    }
}

/// A use of the channel inside a same-package function it was passed to.
#[derive(Clone, Copy, Debug)]
pub struct CalleeOp<'a> {
    pub op: Op<'a>,
    pub callee: FuncDef<'a>,
    /// The call in the analysed function that leads there.
    pub via: &'a CallExpr,
    /// Whether that call is the call of a `go` statement.
    pub via_go: bool,
}

/// Everything the package does with one local channel.
#[derive(Debug, Default)]
pub struct Uses<'a> {
    /// Uses in the function itself (closures included).
    pub ops: Vec<Op<'a>>,
    /// Uses inside same-package functions the channel is passed to.
    pub callee_ops: Vec<CalleeOp<'a>>,
    /// The channel reaches code the model does not follow (stored, returned,
    /// reassigned, passed to another package or a method...).
    pub escapes: bool,
}

impl<'a> Uses<'a> {
    /// Whether some use anywhere closes the channel.
    pub fn closed(&self) -> bool {
        self.ops.iter().any(|o| o.kind == OpKind::Close)
            || self.callee_ops.iter().any(|o| o.op.kind == OpKind::Close)
    }
}

/// How deep channel arguments are followed into same-package functions.
const CALL_DEPTH: usize = 3;

/// The uses of local channel `decl` under `root`, following it into the
/// same-package functions it is passed to.
pub fn local_uses<'a>(sc: &Scope<'a>, env: &Env<'a>, root: Node<'a>, decl: Span) -> Uses<'a> {
    let mut uses = Uses {
        ops: local_ops(root, env, decl),
        ..Default::default()
    };
    let first: Vec<Op<'a>> = uses.ops.clone();
    for op in first {
        follow(sc, env, &op, None, 0, &mut uses);
    }
    uses
}

fn follow<'a>(
    sc: &Scope<'a>,
    env: &Env<'a>,
    op: &Op<'a>,
    outer: Option<(&'a CallExpr, bool)>,
    depth: usize,
    uses: &mut Uses<'a>,
) {
    match op.kind {
        OpKind::Send | OpKind::Recv | OpKind::Range | OpKind::Close | OpKind::Inspect => {}
        OpKind::Reassign | OpKind::Other => uses.escapes = true,
        OpKind::Arg(i) => {
            let call = op.call.expect("Arg has its call");
            let Some((def, param)) = (depth < CALL_DEPTH)
                .then(|| {
                    callee_param(sc.pkg, env, call, i).or_else(|| method_param(sc, env, call, i))
                })
                .flatten()
            else {
                uses.escapes = true;
                return;
            };
            let (via, via_go) = outer.unwrap_or((call, op.go.is_some()));
            let csc = Scope {
                project: sc.project,
                pkg: sc.pkg,
                file: def.file,
            };
            let cenv = Env::build(&csc, Node::FuncDecl(def.decl));
            for cop in local_ops(Node::FuncDecl(def.decl), &cenv, param.span) {
                uses.callee_ops.push(CalleeOp {
                    op: cop,
                    callee: def,
                    via,
                    via_go,
                });
                follow(&csc, &cenv, &cop, Some((via, via_go)), depth + 1, uses);
            }
        }
    }
}

/// What the package does with a channel-typed struct field, by field name.
#[derive(Debug, Default)]
pub struct FieldUses {
    /// `close(x.f)` somewhere in the package.
    pub closed: bool,
    /// The field is set from something other than `make(...)`, copied out,
    /// passed on or otherwise handled in a way the model does not follow.
    pub escapes: bool,
}

/// The uses of field `field` (on any value) across the package's files.
pub fn field_uses<'a>(sc: &Scope<'a>, pkg: &'a Package<'a>, field: &str) -> FieldUses {
    let mut out = FieldUses::default();
    for (_, file) in pkg.files_mentioning(field) {
        let fsc = Scope {
            project: sc.project,
            pkg,
            file,
        };
        for root in crate::walk::top_level_roots(&file.ast) {
            let mut env: Option<Env<'a>> = None;
            // Composite literal keys: `T{f: make(chan X)}`.
            walk(root, &mut |n, _| {
                if let Node::Expr(Expr::KeyValue(kv)) = n {
                    if kv.key.ident_name() == Some(field) {
                        let env = env.get_or_insert_with(|| Env::build(&fsc, root));
                        if chan_make(&fsc, env, &kv.value).is_none()
                            && kv.value.ident_name() != Some("nil")
                        {
                            out.escapes = true;
                        }
                    }
                }
                true
            });
            let ops = ops(
                root,
                &|e| matches!(e, Expr::Selector(s) if s.sel.name == field),
            );
            for op in ops {
                match op.kind {
                    OpKind::Close => out.closed = true,
                    OpKind::Send | OpKind::Recv | OpKind::Range | OpKind::Inspect => {}
                    OpKind::Reassign => {
                        // Only `x.f = make(...)` keeps the channel ours.
                        let env = env.get_or_insert_with(|| Env::build(&fsc, root));
                        if !assigned_make(&fsc, env, root, op.span) {
                            out.escapes = true;
                        }
                    }
                    OpKind::Arg(_) | OpKind::Other => out.escapes = true,
                }
            }
        }
    }
    out
}

/// Whether the assignment statement at `span` assigns only `make(chan ...)` values.
fn assigned_make<'a>(sc: &Scope<'a>, env: &Env<'a>, root: Node<'a>, span: Span) -> bool {
    let mut ok = false;
    walk(root, &mut |n, _| {
        if let Node::Stmt(Stmt::Assign(a)) = n {
            if a.span == span {
                ok = a.lhs.len() == a.rhs.len() && a.rhs.iter().all(|r| makes_only(sc, env, r));
                return false;
            }
        }
        n.span().encloses(span)
    });
    ok
}

/// Whether every path of `body` after `stmt` (typically the `go` statement
/// that starts the channel's partner) mentions the variable `name` again —
/// receives from it, sends on it, closes it, defers or hands it off.
/// [`crate::flow::Verdict::Leaks`] names the first exit (in source order) that
/// does not: a `return`, falling off the end, or leaving the statement list
/// that declares the variable (`decl`, its declaring identifier; a parameter
/// or an unknown declaration is in scope for the whole body).
///
/// Runs on the engine: the function's CFG and the forward solver with one bit
/// of state ("some path here has not touched the channel yet").
pub fn touched_on_every_path<'a>(
    body: &'a Block,
    stmt: &'a Stmt,
    name: &str,
    decl: Span,
) -> crate::flow::Verdict {
    use crate::engine::cfg::{BlockId, Edge, Elem};
    use crate::engine::life::{Leaks, Life};
    use crate::engine::{build, forward, Analysis};
    use crate::flow::{mentions, Verdict};

    struct Untouched<'n> {
        name: &'n str,
        life: Life,
        leaks: Leaks,
        bad: bool,
    }
    impl<'a> Analysis<'a> for Untouched<'_> {
        /// Some path reaching this point has not touched the variable.
        type State = bool;
        fn bottom(&self) -> bool {
            false
        }
        fn join(&self, into: &mut bool, other: &bool) {
            *into |= *other;
        }
        fn transfer(&mut self, e: &Elem<'a>, open: bool) -> bool {
            let touched = match e {
                Elem::Stmt(s) => mentions(Node::Stmt(s), self.name),
                Elem::Cond(x) | Elem::Expr(x) => mentions(Node::Expr(x), self.name),
                Elem::Bad(_) => {
                    self.bad = true;
                    false
                }
                Elem::RangeNext(_) | Elem::TypeSwitchBind(_) | Elem::Select(_) => false,
            };
            open && !touched
        }
        fn edge(&mut self, _from: BlockId, edge: &Edge<'a>, open: &bool) -> bool {
            if !*open {
                return false;
            }
            match self.life.exit(edge) {
                // Past the variable's life: nothing further to say on this path.
                Some(l) => {
                    self.leaks.push(l);
                    false
                }
                None => true,
            }
        }
    }

    let cfg = build(body);
    if cfg.unresolved {
        return Verdict::Unknown;
    }
    let Some((b, i)) = cfg.find(stmt.span()) else {
        return Verdict::Unknown;
    };
    let mut an = Untouched {
        name,
        life: Life::of_decl(&cfg, decl),
        leaks: Leaks::default(),
        bad: false,
    };
    let sol = forward(&cfg, &mut an, (b, i + 1), true);
    if !sol.converged || an.bad {
        return Verdict::Unknown;
    }
    an.leaks.verdict()
}

// ---------------------------------------------------------------------------
// Channels held in struct fields: one object per field name of the package.

/// How the package's struct types hold channels in a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldShape {
    /// `f chan T` (or a direction): the field is the channel.
    Chan,
    /// `f []chan T`, `f [N]chan T`, `f map[K]chan T`: every element is one
    /// object (the channels are told apart nowhere, so they are all one).
    Elems,
}

/// The struct type of the package that declares field `field` for a value
/// of type `ty` (the type itself or a type it embeds, a few levels deep).
pub fn field_owner<'a>(pkg: &Package<'a>, ty: &str, field: &str) -> Option<&'a str> {
    fn go<'a>(pkg: &Package<'a>, ty: &str, field: &str, depth: usize) -> Option<&'a str> {
        let (spec, _) = pkg.types.get(ty)?;
        let Expr::StructType(st) = spec.ty.unparen() else {
            return None;
        };
        if st
            .fields
            .iter()
            .any(|f| f.names.iter().any(|n| n.name == field))
        {
            return Some(spec.name.name.as_str());
        }
        if depth == 0 {
            return None;
        }
        st.fields
            .iter()
            .filter(|f| f.names.is_empty())
            .find_map(|f| {
                let base = match f.ty.unparen() {
                    Expr::Star(s) => s.x.ident_name(),
                    e => e.ident_name(),
                }?;
                go(pkg, base, field, depth - 1)
            })
    }
    go(pkg, ty, field, 3)
}

/// The shape of field `field` of struct type `ty` when it holds channels.
pub fn chan_field_shape(pkg: &Package, ty: &str, field: &str) -> Option<FieldShape> {
    let (spec, _) = pkg.types.get(ty)?;
    let Expr::StructType(st) = spec.ty.unparen() else {
        return None;
    };
    let f = st
        .fields
        .iter()
        .find(|f| f.names.iter().any(|n| n.name == field))?;
    match f.ty.unparen() {
        Expr::ChanType(_) => Some(FieldShape::Chan),
        Expr::ArrayType(a) if matches!(a.elem.unparen(), Expr::ChanType(_)) => {
            Some(FieldShape::Elems)
        }
        Expr::MapType(m) if matches!(m.value.unparen(), Expr::ChanType(_)) => {
            Some(FieldShape::Elems)
        }
        _ => None,
    }
}

/// Whether a value of type `t` may hold field `field` of struct `owner`:
/// its type is `owner` or embeds it, or the syntax cannot tell.
pub fn may_be_owner(pkg: &Package, t: &crate::types::Ty, owner: &str, field: &str) -> bool {
    match t.deref() {
        crate::types::Ty::Named(p, name) => {
            *p == pkg.import_path() && field_owner(pkg, name, field) == Some(owner)
        }
        crate::types::Ty::Unknown => true,
        _ => false,
    }
}

/// The struct type and field a channel expression names: `x.f`, `x.f[k]`
/// (element), `x.Getter()`; `None` when the type of `x` is not a struct of the
/// package that declares a channel field (directly or through a getter).
pub fn chan_field_of<'a>(sc: &Scope<'a>, env: &Env<'a>, e: &'a Expr) -> Option<(&'a str, &'a str)> {
    let pkg = sc.pkg;
    let named = |x: &'a Expr| match env.type_of(sc, x).deref().clone() {
        crate::types::Ty::Named(p, n) if p == pkg.import_path() => Some(n),
        _ => None,
    };
    match e.unparen() {
        Expr::Selector(s) => {
            let owner = field_owner(pkg, named(&s.x)?, &s.sel.name)?;
            (chan_field_shape(pkg, owner, &s.sel.name) == Some(FieldShape::Chan))
                .then_some((owner, s.sel.name.as_str()))
        }
        Expr::Index(i) => {
            let Expr::Selector(s) = i.x.unparen() else {
                return None;
            };
            let owner = field_owner(pkg, named(&s.x)?, &s.sel.name)?;
            (chan_field_shape(pkg, owner, &s.sel.name) == Some(FieldShape::Elems))
                .then_some((owner, s.sel.name.as_str()))
        }
        // The value variable of `for _, ch := range x.f`.
        // (The environment records it: walking the function for the `range`
        // per channel operation made a long function quadratic.)
        Expr::Ident(id) => {
            let Expr::Selector(s) = env.resolve(id)?.elem_of?.unparen() else {
                return None;
            };
            let owner = field_owner(pkg, named(&s.x)?, &s.sel.name)?;
            (chan_field_shape(pkg, owner, &s.sel.name) == Some(FieldShape::Elems))
                .then_some((owner, s.sel.name.as_str()))
        }
        Expr::Call(c) if c.args.is_empty() => {
            let s = c.fun.as_selector()?;
            let t = named(&s.x)?;
            // The method may be promoted from an embedded type: try the type's own first.
            let def = pkg.methods.get(&(t, s.sel.name.as_str()))?;
            let field = getter_field(def)?;
            let owner = field_owner(pkg, t, field)?;
            (chan_field_shape(pkg, owner, field) == Some(FieldShape::Chan))
                .then_some((owner, field))
        }
        _ => None,
    }
}

/// The field a getter method returns (`return s.f`, every return `s.f` or `nil`).
fn getter_field<'a>(def: &FuncDef<'a>) -> Option<&'a str> {
    let d = def.decl;
    let [res] = d.ty.results.as_slice() else {
        return None;
    };
    if !matches!(res.ty.unparen(), Expr::ChanType(_))
        || res.names.len() > 1
        || !d.ty.params.is_empty()
    {
        return None;
    }
    let body = d.body.as_ref()?;
    let mut ok = true;
    let mut fname: Option<&'a str> = None;
    walk(Node::Block(body), &mut |n, _| {
        match n {
            Node::Expr(Expr::FuncLit(_)) => return false,
            Node::Stmt(Stmt::Return(r)) => match r.results.as_slice() {
                [Expr::Selector(s)] if s.x.as_ident().is_some() => {
                    if fname.is_some_and(|f| f != s.sel.name) {
                        ok = false;
                    }
                    fname = Some(s.sel.name.as_str());
                }
                [e] if e.ident_name() == Some("nil") => {}
                _ => ok = false,
            },
            _ => {}
        }
        true
    });
    fname.filter(|_| ok)
}

/// A method that returns a channel field (`func (s *S) Done() <-chan struct{} { return s.done }`).
#[derive(Clone, Copy, Debug)]
pub struct Getter<'a> {
    /// Receiver base type name.
    pub ty: &'a str,
    pub name: &'a str,
    pub field: &'a str,
    /// The result is receive-only: callers cannot send on or close it.
    pub recv_only: bool,
    pub def: FuncDef<'a>,
}

/// The package's methods that return channel field `field` of struct `owner`
/// (declared on `owner` or on a type that embeds it).
pub fn chan_getters<'a>(pkg: &Package<'a>, owner: &str, field: &str) -> Vec<Getter<'a>> {
    let mut out = Vec::new();
    for (&(ty, name), def) in &pkg.methods {
        if getter_field(def) != Some(field) || field_owner(pkg, ty, field) != Some(owner) {
            continue;
        }
        let recv_only = matches!(def.decl.ty.results[0].ty.unparen(), Expr::ChanType(ct) if ct.dir == ChanDir::Recv);
        out.push(Getter {
            ty,
            name,
            field: getter_field(def).unwrap_or_default(),
            recv_only,
            def: *def,
        });
    }
    out
}

/// One use of a field channel somewhere in the package.
#[derive(Clone, Copy, Debug)]
pub struct FieldOp<'a> {
    pub op: Op<'a>,
    pub file: &'a crate::GoFile,
    /// The result of a receive-only getter handed on (`ch := s.Done()`,
    /// `wait(s.Done())`): a possible receive somewhere, not a place to report.
    pub aliased: bool,
}

/// Everything the package does with the channel(s) of one struct field.
#[derive(Debug, Default)]
pub struct FieldChan<'a> {
    /// Sends, receives, ranges, closes and inspections of the channel (for
    /// [`FieldShape::Elems`], of its elements).
    pub ops: Vec<FieldOp<'a>>,
    /// Code the model does not see can use the channel: an exported field or
    /// a getter returning it for sending outside a `main` package, the field
    /// set from something other than `make`, the channel passed to a call,
    /// stored or returned...
    pub escapes: bool,
    /// Code outside the package can receive from the channel (an exported
    /// receive-only getter outside a `main` package).
    pub outside_receivers: bool,
    /// Some `make` of the channel has a buffer (constant or sized at run time).
    pub buffered: bool,
}

impl<'a> FieldChan<'a> {
    pub fn of(&self, kinds: &[OpKind]) -> impl Iterator<Item = &FieldOp<'a>> {
        let kinds = kinds.to_vec();
        self.ops.iter().filter(move |o| kinds.contains(&o.op.kind))
    }
}

/// Whether `name` is exported (starts with an upper-case letter).
fn exported(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_uppercase())
}

/// The uses of channel field `field` of struct `owner` across the package
/// (`None` when it is not a channel field, see [`chan_field_shape`]). A use
/// on a value whose type the syntax cannot tell counts as a use of it.
pub fn field_chan<'a>(sc: &Scope<'a>, owner: &str, field: &str) -> Option<FieldChan<'a>> {
    let pkg = sc.pkg;
    let shape = chan_field_shape(pkg, owner, field)?;
    let is_main = pkg.src.name == "main";
    let getters = chan_getters(pkg, owner, field);
    let mut out = FieldChan {
        escapes: !is_main && exported(field),
        ..Default::default()
    };
    for g in &getters {
        if !is_main && exported(g.name) {
            if g.recv_only {
                out.outside_receivers = true;
            } else {
                out.escapes = true;
            }
        }
    }
    let in_getter = |span: Span| getters.iter().any(|g| g.def.decl.span.contains(span.start));
    // Code that can touch the field: it names the field, a getter, or the
    // owner type (an unkeyed literal `T{a, b}` sets fields without naming them).
    let names_field =
        |text: &str| text.contains(field) || getters.iter().any(|g| text.contains(g.name));
    let relevant = |text: &str| names_field(text) || text.contains(owner);
    // The roots that can use a channel field are looked up in a package-wide
    // index instead of typing every root that spells its name: with one query
    // per field per file, that made the model quadratic in the package's
    // functions (4,000 one-field types in one package: 35 s). Visited: per
    // file, the listed roots (`None`: every root that names the field or a
    // getter).
    let visit: Vec<(usize, Option<Vec<usize>>)> = if shape == FieldShape::Chan {
        let idx = pkg.fact::<FieldUseIndex>(sc.project);
        // An unkeyed literal `T{a, b}` sets the field from values the model
        // does not follow.
        out.escapes |= idx.unkeyed.contains_key(owner);
        idx.candidates(owner, field, getters.iter().map(|g| g.name))
            .into_iter()
            .map(|(fi, roots)| (fi, Some(roots)))
            .collect()
    } else {
        (0..pkg.files().len()).map(|fi| (fi, None)).collect()
    };
    for (fi, listed) in visit {
        let file = &pkg.files()[fi];
        if !relevant(&file.src) {
            continue;
        }
        let fsc = Scope {
            project: sc.project,
            pkg,
            file,
        };
        let roots = crate::walk::top_level_roots(&file.ast);
        let picked: Vec<Node<'a>> = match &listed {
            Some(ris) => ris
                .iter()
                .filter_map(|&ri| roots.get(ri).copied())
                .collect(),
            None => roots,
        };
        for root in picked {
            let text = file.text(root.span());
            if listed.is_none() && !names_field(text) {
                // Every use below names the field or a getter; code that names
                // neither can only set the field through an unkeyed literal of
                // the owner. Deciding that needs no types, and skipping the
                // scope walk keeps this query cheap in a package whose owner
                // type is named everywhere (it runs for every file using the
                // field: nats-server's `server` package spent 40% of a check here).
                if may_spell_literal_of(text, owner) && unkeyed_literal_of(root, owner) {
                    out.escapes = true;
                }
                continue;
            }
            let env = Env::build(&fsc, root);
            let env = &env;
            // Composite literal keys: `T{f: make(chan X)}`.
            walk(root, &mut |n, _| {
                if let Node::Expr(Expr::KeyValue(kv)) = n {
                    if kv.key.ident_name() == Some(field) {
                        if !makes_only(&fsc, env, &kv.value) {
                            out.escapes = true;
                        }
                        out.buffered |= makes_buffered(&fsc, env, &kv.value);
                    }
                }
                // An unkeyed literal of the owner (`&T{a, b, c}`) sets every
                // field from values the model does not follow.
                if let Node::Expr(Expr::CompositeLit(c)) = n {
                    if is_unkeyed_literal_of(c, owner) {
                        out.escapes = true;
                    }
                }
                if let Node::Stmt(Stmt::Assign(a)) = n {
                    if a.lhs
                        .iter()
                        .any(|l| matches!(l.unparen(), Expr::Selector(s) if s.sel.name == field))
                    {
                        out.buffered |= a.rhs.iter().any(|r| makes_buffered(&fsc, env, r));
                    }
                }
                true
            });
            let is_sel = |e: &'a Expr| {
                matches!(e, Expr::Selector(s) if s.sel.name == field
                    && may_be_owner(pkg, &env.type_of(&fsc, &s.x), owner, field))
            };
            // `x.Getter()` on a value of the getter's type (or of a type the
            // syntax cannot tell, when no other package type has the method).
            let is_getter_call = |e: &'a Expr| match e {
                Expr::Call(c) if c.args.is_empty() => c.fun.as_selector().is_some_and(|s| {
                    getters.iter().any(|g| {
                        g.name == s.sel.name
                            && match env.type_of(&fsc, &s.x).deref() {
                                crate::types::Ty::Unknown => {
                                    unique_method(pkg, g.name) && g.name != "Done"
                                }
                                t => {
                                    may_be_owner(pkg, t, owner, field)
                                        || interface_declares(sc, t, g.name)
                                }
                            }
                    })
                }),
                _ => false,
            };
            match shape {
                FieldShape::Chan => {
                    for op in ops(root, &|e| is_sel(e) || is_getter_call(e)) {
                        if in_getter(op.span) && op.kind == OpKind::Other {
                            continue; // the getter's own `return s.f`
                        }
                        let via_getter = is_getter_call(op.expr);
                        match op.kind {
                            OpKind::Reassign if !via_getter => {
                                if !assigned_make(&fsc, env, root, op.span) {
                                    out.escapes = true;
                                }
                            }
                            OpKind::Reassign | OpKind::Arg(_) | OpKind::Other => {
                                // A receive-only getter's result cannot be
                                // sent on or closed: where it goes, it can
                                // at most be received from.
                                let recv_only = via_getter && getters.iter().all(|g| g.recv_only);
                                if recv_only {
                                    out.ops.push(FieldOp {
                                        op: Op {
                                            kind: OpKind::Recv,
                                            select: None,
                                            ..op
                                        },
                                        file,
                                        aliased: true,
                                    });
                                } else {
                                    out.escapes = true;
                                }
                            }
                            _ => out.ops.push(FieldOp {
                                op,
                                file,
                                aliased: false,
                            }),
                        }
                    }
                }
                FieldShape::Elems => {
                    elem_ops(&fsc, env, root, owner, field, file, &mut out);
                }
            }
        }
    }
    Some(out)
}

/// Whether `text` may hold a composite literal of type `owner`: the name
/// followed by `{` (spaces between allowed). A cheap test before the walk.
fn may_spell_literal_of(text: &str, owner: &str) -> bool {
    text.match_indices(owner)
        .any(|(i, _)| text[i + owner.len()..].trim_start().starts_with('{'))
}

/// Whether `root` holds an unkeyed composite literal of type `owner`
/// (`&T{a, b}`): it sets every field from values the model does not follow.
fn unkeyed_literal_of(root: Node, owner: &str) -> bool {
    let mut found = false;
    walk(root, &mut |n, _| {
        if let Node::Expr(Expr::CompositeLit(c)) = n {
            found |= is_unkeyed_literal_of(c, owner);
        }
        !found
    });
    found
}

fn is_unkeyed_literal_of(c: &CompositeLit, owner: &str) -> bool {
    c.ty.as_ref().and_then(|t| t.ident_name()) == Some(owner)
        && c.elts
            .first()
            .is_some_and(|e| !matches!(e, Expr::KeyValue(_)))
}

/// Whether `e` makes a buffered channel (`make(chan T, n)`, n not 0), also
/// inside a composite or an `append`.
fn makes_buffered<'a>(sc: &Scope<'a>, env: &Env<'a>, e: &'a Expr) -> bool {
    if let Some(cap) = chan_make(sc, env, e) {
        return !cap.is_zero();
    }
    match e.unparen() {
        Expr::CompositeLit(c) => c.elts.iter().any(|x| makes_buffered(sc, env, x)),
        Expr::KeyValue(kv) => makes_buffered(sc, env, &kv.value),
        Expr::Call(c) if c.fun.ident_name() == Some("append") => {
            c.args.iter().skip(1).any(|x| makes_buffered(sc, env, x))
        }
        _ => false,
    }
}

/// Whether only one type of the package has a method called `name`.
fn unique_method(pkg: &Package, name: &str) -> bool {
    pkg.methods.keys().filter(|(_, m)| *m == name).count() == 1
}

/// Whether `e` is `make(chan ...)` or `nil` (or a composite of them for
/// element fields: `[]chan T{make(...)}`, `append(x.f, make(...))`).
fn makes_only<'a>(sc: &Scope<'a>, env: &Env<'a>, e: &'a Expr) -> bool {
    if chan_make(sc, env, e).is_some() || e.ident_name() == Some("nil") {
        return true;
    }
    match e.unparen() {
        Expr::CompositeLit(c) => c.elts.iter().all(|x| makes_only(sc, env, x)),
        Expr::Call(c) => match c.fun.ident_name() {
            Some("make") => !matches!(c.args.first().map(|a| a.unparen()), Some(Expr::ChanType(_))),
            Some("append") => c.args.iter().skip(1).all(|x| makes_only(sc, env, x)),
            _ => false,
        },
        _ => false,
    }
}

/// The uses of the elements of channel-collection field `field` under `root`:
/// `x.f[k]` and the value variable of `for _, ch := range x.f`.
fn elem_ops<'a>(
    sc: &Scope<'a>,
    env: &Env<'a>,
    root: Node<'a>,
    owner: &str,
    field: &str,
    file: &'a crate::GoFile,
    out: &mut FieldChan<'a>,
) {
    let is_sel = |e: &'a Expr| {
        matches!(e.unparen(), Expr::Selector(s) if s.sel.name == field
            && may_be_owner(sc.pkg, &env.type_of(sc, &s.x), owner, field))
    };
    // The range variables bound to the elements.
    let mut elem_vars: Vec<Span> = Vec::new();
    walk(root, &mut |n, _| {
        if let Node::Stmt(Stmt::Range(r)) = n {
            if r.define && is_sel(&r.x) {
                if let Some(Expr::Ident(v)) = &r.value {
                    elem_vars.push(v.span);
                }
            }
        }
        true
    });
    let is_elem = |e: &'a Expr| match e {
        Expr::Index(i) => is_sel(&i.x),
        Expr::Ident(id) => {
            !elem_vars.contains(&id.span)
                && env.resolve(id).is_some_and(|b| elem_vars.contains(&b.decl))
        }
        _ => false,
    };
    for op in ops(root, &|e| is_elem(e)) {
        match op.kind {
            OpKind::Send | OpKind::Recv | OpKind::Range | OpKind::Close | OpKind::Inspect => {
                out.ops.push(FieldOp {
                    op,
                    file,
                    aliased: false,
                })
            }
            _ => out.escapes = true,
        }
    }
    // The field itself: ranged over, appended to, measured, reset with makes.
    for op in ops(root, &|e| is_sel(e)) {
        match op.kind {
            OpKind::Range | OpKind::Inspect => {}
            OpKind::Arg(0)
                if op
                    .call
                    .is_some_and(|c| c.fun.ident_name() == Some("append")) => {}
            OpKind::Reassign => {
                if !assigned_make(sc, env, root, op.span) {
                    out.escapes = true;
                }
            }
            OpKind::Other
                if matches!(op.expr, Expr::Selector(_)) && is_index_base(root, op.span) => {}
            _ => out.escapes = true,
        }
    }
}

/// Whether the expression at `span` is the base of an index expression (`x.f[k]`).
fn is_index_base(root: Node, span: Span) -> bool {
    let mut found = false;
    walk(root, &mut |n, _| {
        if let Node::Expr(Expr::Index(i)) = n {
            if i.x.span() == span {
                found = true;
            }
        }
        !found && n.span().encloses(span)
    });
    found
}

/// Whether a select clause's body leaves the function or the loop around the
/// select: a `return`, a labelled `break`/`continue`, a `goto`, or a
/// terminator (a plain `break` only leaves the select).
pub fn clause_leaves(body: &[Stmt]) -> bool {
    body.iter().any(|s| match s {
        Stmt::Return(_) => true,
        Stmt::Branch(b) => b.label.is_some() || matches!(b.kind, BranchKind::Goto),
        Stmt::Expr(e) => crate::flow::is_terminator(e),
        _ => false,
    })
}

/// The received channel of a select case (`<-x`, `v := <-x`, `v, ok = <-x`).
pub fn comm_recv(s: &Stmt) -> Option<&Expr> {
    let e = match s {
        Stmt::Expr(e) => e,
        Stmt::Assign(a) if a.rhs.len() == 1 => &a.rhs[0],
        _ => return None,
    };
    match e.unparen() {
        Expr::Unary(u) if u.op == "<-" => Some(&u.x),
        _ => None,
    }
}

/// The way out of a select: a receive case (other than the one holding
/// `span`) whose body leaves (`case <-ctx.Done(): return`).
pub fn select_exit(sel: &SelectStmt, span: Span) -> Option<&CommClause> {
    sel.cases.iter().find(|c| {
        !c.span.encloses(span)
            && c.comm.as_ref().and_then(comm_recv).is_some()
            && clause_leaves(&c.body)
    })
}

/// Whether a channel field is a semaphore (or token pool): it is buffered, and
/// some function takes a token and gives one back on it — a send of a token
/// value followed by a receive whose value is dropped (`sem <- struct{}{}`
/// ... `<-sem`), or the reverse (`<-slots` ... `slots <- struct{}{}`). Giving
/// a token back never waits for a partner: the taker made room for it.
pub fn is_semaphore(m: &FieldChan) -> bool {
    if !m.buffered {
        return false;
    }
    let tokens: Vec<(&FieldOp, Span)> = m
        .ops
        .iter()
        .filter(|o| !o.aliased && is_token_op(o))
        .filter_map(|o| {
            Some((
                o,
                crate::walk::top_level_root_at(&o.file.ast, o.op.span.start)?.span(),
            ))
        })
        .collect();
    tokens.iter().any(|(a, root)| {
        tokens.iter().any(|(b, root_b)| {
            std::ptr::eq(a.file, b.file)
                && root == root_b
                && a.op.kind != b.op.kind
                && a.op.span.start < b.op.span.start
        })
    })
}

/// A send of a token value (`struct{}{}`, `true`, a literal) or a receive
/// whose value is dropped (`<-sem` as a statement or a bare `case <-sem:`).
pub fn is_token_op(o: &FieldOp) -> bool {
    match o.op.kind {
        OpKind::Send => match o.op.sent.map(|v| v.unparen()) {
            Some(Expr::CompositeLit(c)) => c.elts.is_empty(),
            Some(Expr::Ident(id)) => matches!(id.name.as_ref(), "true" | "false"),
            Some(Expr::BasicLit(l)) => l.raw.chars().all(|c| c.is_ascii_digit()),
            _ => false,
        },
        OpKind::Recv => o.op.dropped,
        _ => false,
    }
}

/// Whether `t` names an interface type of the tree that declares method `name`
/// (a call through it may reach the owner's getter).
fn interface_declares(sc: &Scope, t: &crate::types::Ty, name: &str) -> bool {
    let crate::types::Ty::Named(path, tname) = t else {
        return false;
    };
    let Some((spec, _)) = sc.project.package(path).and_then(|p| p.types.get(tname)) else {
        return false;
    };
    match spec.ty.unparen() {
        Expr::InterfaceType(it) => it
            .elems
            .iter()
            .any(|f| f.names.iter().any(|n| n.name == name)),
        _ => false,
    }
}

/// Where each top-level declaration of a package (by file and root index, as
/// [`crate::walk::top_level_roots`] lists them) can touch a struct field:
/// selectors `x.f` by the type of `x` (a package type, or unknown), keys
/// `f: v`, assignments to `x.f` and calls `x.m()` without arguments. Built
/// once per package, it tells [`field_chan`] which roots to type.
#[derive(Default)]
pub struct FieldUseIndex {
    /// (field, the struct type declaring it for the type of `x`) -> (file, root).
    selectors: std::collections::HashMap<(String, String), Vec<(usize, usize)>>,
    /// field -> (file, root) of selectors `x.f` where the type of `x` is unknown.
    untyped: std::collections::HashMap<String, Vec<(usize, usize)>>,
    /// name -> (file, root) for keys, assigned fields and zero-argument calls.
    keys: std::collections::HashMap<String, Vec<(usize, usize)>>,
    assigned: std::collections::HashMap<String, Vec<(usize, usize)>>,
    calls: std::collections::HashMap<String, Vec<(usize, usize)>>,
    /// type name -> (file, root) holding an unkeyed literal of it (`T{a, b}`).
    unkeyed: std::collections::HashMap<String, Vec<(usize, usize)>>,
}

impl crate::facts::PackageFact for FieldUseIndex {
    fn compute<'a>(pkg: &'a Package<'a>, project: &'a crate::index::ProjectIndex<'a>) -> Self {
        let mut out = FieldUseIndex::default();
        for (fi, file) in pkg.files().iter().enumerate() {
            let fsc = Scope { project, pkg, file };
            for (ri, root) in crate::walk::top_level_roots(&file.ast)
                .into_iter()
                .enumerate()
            {
                let env = Env::build(&fsc, root);
                walk(root, &mut |n, _| {
                    match n {
                        Node::Expr(Expr::Selector(s)) => {
                            let field = s.sel.name.as_str();
                            match env.type_of(&fsc, &s.x).deref() {
                                crate::types::Ty::Named(p, t) if *p == pkg.import_path() => {
                                    if let Some(owner) = field_owner(pkg, t, field) {
                                        out.selectors
                                            .entry((field.to_string(), owner.to_string()))
                                            .or_default()
                                            .push((fi, ri));
                                    }
                                }
                                crate::types::Ty::Unknown => {
                                    out.untyped
                                        .entry(field.to_string())
                                        .or_default()
                                        .push((fi, ri));
                                }
                                _ => {}
                            }
                        }
                        Node::Expr(Expr::CompositeLit(c)) => {
                            if let Some(t) = c.ty.as_ref().and_then(|t| t.ident_name()) {
                                if is_unkeyed_literal_of(c, t) {
                                    out.unkeyed.entry(t.to_string()).or_default().push((fi, ri));
                                }
                            }
                        }
                        Node::Expr(Expr::KeyValue(kv)) => {
                            if let Some(k) = kv.key.ident_name() {
                                out.keys.entry(k.to_string()).or_default().push((fi, ri));
                            }
                        }
                        Node::Expr(Expr::Call(c)) if c.args.is_empty() => {
                            if let Some(f) = c.fun.as_selector() {
                                out.calls
                                    .entry(f.sel.name.to_string())
                                    .or_default()
                                    .push((fi, ri));
                            }
                        }
                        Node::Stmt(Stmt::Assign(a)) => {
                            for l in &a.lhs {
                                if let Expr::Selector(s) = l.unparen() {
                                    out.assigned
                                        .entry(s.sel.name.to_string())
                                        .or_default()
                                        .push((fi, ri));
                                }
                            }
                        }
                        _ => {}
                    }
                    true
                });
            }
        }
        out
    }
}

impl FieldUseIndex {
    /// The roots that may use field `field` of `owner` (directly, through a
    /// getter, in a literal key or an assignment), grouped by file in file
    /// and declaration order.
    fn candidates<'g>(
        &self,
        owner: &str,
        field: &str,
        getters: impl Iterator<Item = &'g str>,
    ) -> Vec<(usize, Vec<usize>)> {
        let mut all: Vec<(usize, usize)> = self
            .selectors
            .get(&(field.to_string(), owner.to_string()))
            .into_iter()
            .flatten()
            .copied()
            .collect();
        for m in [&self.untyped, &self.keys, &self.assigned] {
            all.extend(m.get(field).into_iter().flatten().copied());
        }
        for g in getters {
            all.extend(self.calls.get(g).into_iter().flatten().copied());
        }
        all.sort_unstable();
        all.dedup();
        let mut grouped: Vec<(usize, Vec<usize>)> = Vec::new();
        for (fi, ri) in all {
            match grouped.last_mut() {
                Some((f, roots)) if *f == fi => roots.push(ri),
                _ => grouped.push((fi, vec![ri])),
            }
        }
        grouped
    }
}
