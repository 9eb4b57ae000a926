//! "Is this resource released on every path from where it was acquired?" —
//! one dataflow analysis on the engine ([`crate::engine`]), configured per rule
//! by a [`Resource`] (the variable) and a [`Policy`] (what releases it, what a
//! callee does with it): response bodies, SQL rows and statements, spans,
//! cancel functions.
//!
//! Starting right after the statement that defines a variable `v`
//! (`resp, err := client.Do(req)`), the solver follows every path of the
//! function's CFG while `v` lives (the statement list that declares it) and
//! asks whether `v` is still open when the path leaves: a `return`, the end of
//! the function or of the block, a `break`/`continue` out of the block
//! ([`crate::engine::life`]).
//!
//! The state of a point is the set of ways `v` can still be open there: with
//! the error variable still holding the acquisition's error (so `err != nil`
//! means `v` is nil), or not. The resource stops mattering on a path when it is
//! released (the policy's `releases` call, directly, in a `defer`, or in a
//! deferred closure), when its ownership moves (`return v`, `f(v)`, `f(v.Body)`
//! unless the policy says the callee only borrows it, `x.f = v`, `ch <- v`,
//! captured by a closure), when the path is known to hold a nil resource
//! (`if err != nil` right after the acquisition, `if v == nil`, also as a loop
//! condition), or when it ends in `panic`/`log.Fatal`/`os.Exit`. Assigning `v`
//! a new value while it is open loses the resource ([`ExitKind::Overwritten`]).
//! Whatever it does not follow (`goto`, `fallthrough` with the resource open,
//! redeclaring its name) makes the answer [`Verdict::Unknown`].

use crate::ast::*;
use crate::engine::cfg::{BlockId, Cfg, Edge, Elem, Jump};
use crate::engine::life::{Leaks, Life};
use crate::engine::{build, forward, Analysis};
use crate::walk::{for_each_child, walk, Node};

pub use crate::engine::life::{ExitKind, Leak, Verdict};

/// The tracked variable.
pub struct Resource<'r> {
    /// The variable holding the resource.
    pub var: &'r str,
    /// The error variable defined by the same statement (`err` in `resp, err := ...`).
    pub err: Option<&'r str>,
    /// Fields through which the resource is also handed off (`Body` of an
    /// `*http.Response`): `f(resp.Body)` moves it like `f(resp)`.
    pub fields: &'r [&'r str],
}

/// What counts as a release, and what a callee does with the resource.
pub struct Policy<'a, 'p> {
    /// Whether this call releases the resource (`v.Close()`, `v.Body.Close()`, `v.End()`).
    pub releases: &'p dyn Fn(&'a CallExpr) -> bool,
    /// Whether passing the resource to this call leaves it with the caller
    /// (`io.ReadAll(resp.Body)` reads but does not close).
    pub borrows: &'p dyn Fn(&'a CallExpr) -> bool,
    /// Whether a `return` reached with the resource open is a leak worth
    /// reporting (all of them for most rules).
    pub return_matters: &'p dyn Fn(&'a ReturnStmt) -> bool,
    /// Whether leaving the variable's scope without a `return` (end of the
    /// function or block, `break`/`continue`) counts as a leak.
    pub scope_exits: bool,
    /// Whether a loop ending because this condition became false releases the
    /// resource (`for rows.Next()` closes the rows when it returns false).
    pub exhausted_by: &'p dyn Fn(&'a Expr) -> bool,
}

/// Analyses the paths after `def` (a statement directly inside `body` or one of
/// its nested blocks, not inside a function literal) for the variable it defines.
pub fn analyze<'a>(
    body: &'a Block,
    def: &'a Stmt,
    res: &Resource<'_>,
    policy: &Policy<'a, '_>,
) -> Verdict {
    let cfg = build(body);
    if cfg.unresolved {
        return Verdict::Unknown;
    }
    let Some(at) = cfg.find(def.span()) else {
        return Verdict::Unknown;
    };
    let mut an = Open {
        res,
        policy,
        life: Life::of_stmt(&cfg, at),
        leaks: Leaks::default(),
        unknown: false,
        redeclaring: redeclaring_operands(&cfg, res.var),
    };
    let start = if res.err.is_some() { FRESH } else { STALE };
    let sol = forward(&cfg, &mut an, (at.0, at.1 + 1), start);
    if !sol.converged || an.unknown {
        return Verdict::Unknown;
    }
    an.leaks.verdict()
}

/// Whether `call` is `var.m(...)` or `var.f.m(...)` with `f` in `fields` and `m` in `methods`.
pub fn is_method_on(call: &CallExpr, var: &str, fields: &[&str], methods: &[&str]) -> bool {
    let Expr::Selector(s) = call.fun.unparen() else {
        return false;
    };
    if !methods.contains(&s.sel.name.as_str()) {
        return false;
    }
    match s.x.unparen() {
        Expr::Ident(id) => id.name == var,
        Expr::Selector(inner) => {
            fields.contains(&inner.sel.name.as_str()) && inner.x.ident_name() == Some(var)
        }
        _ => false,
    }
}

/// Whether `name` occurs as an identifier anywhere below `n` (closures included).
pub fn mentions(n: Node<'_>, name: &str) -> bool {
    let mut found = false;
    walk(n, &mut |n, _| {
        if found {
            return false;
        }
        if let Node::Expr(Expr::Ident(id)) = n {
            if id.name == name {
                found = true;
            }
        }
        true
    });
    found
}

/// Whether this expression statement ends the path without returning (one
/// definition, shared with the engine's CFG).
pub use crate::engine::cfg::is_terminator;

/// Open on a path where the error variable still holds the acquisition's error.
const FRESH: u8 = 1;
/// Open on a path where the error variable was reassigned (or there is none).
const STALE: u8 = 2;

/// The analysis: the state is the set of {FRESH, STALE} ways the resource is
/// still open (0: released, handed off, nil, or the path ended).
struct Open<'r, 'a, 'p> {
    res: &'r Resource<'r>,
    policy: &'r Policy<'a, 'p>,
    life: Life,
    leaks: Leaks,
    unknown: bool,
    /// The operands of the `range` loops and type switches that redeclare the
    /// variable (`for _, v := range v.Items`, `switch v := v.(type)`).
    redeclaring: Vec<Span>,
}

/// The operand spans of the statements that redeclare `var` for their body: the
/// name is not followed from there on (the path's verdict is unknown), even
/// when the operand itself would hand the resource off.
fn redeclaring_operands(cfg: &Cfg<'_>, var: &str) -> Vec<Span> {
    let is_var = |e: &Option<Expr>| e.as_ref().and_then(|e| e.ident_name()) == Some(var);
    let mut out = Vec::new();
    for e in cfg.blocks.iter().flat_map(|b| &b.elems) {
        match e {
            Elem::RangeNext(r) if r.define && (is_var(&r.key) || is_var(&r.value)) => {
                out.push(r.x.span())
            }
            Elem::TypeSwitchBind(sw) if sw.bind.as_ref().is_some_and(|b| b.name == var) => {
                out.push(sw.x.span())
            }
            _ => {}
        }
    }
    out
}

impl<'a> Analysis<'a> for Open<'_, 'a, '_> {
    type State = u8;

    fn bottom(&self) -> u8 {
        0
    }

    fn join(&self, into: &mut u8, other: &u8) {
        *into |= *other;
    }

    fn transfer(&mut self, e: &Elem<'a>, st: u8) -> u8 {
        if st == 0 {
            return 0;
        }
        match e {
            Elem::Stmt(Stmt::Return(r)) => {
                let mut done = false;
                for x in &r.results {
                    done |= self.expr(x);
                }
                if !done && (self.policy.return_matters)(r) {
                    self.leak(r.span, ExitKind::Return);
                }
                0
            }
            Elem::Stmt(s) => self.simple(s, st),
            Elem::Expr(x) if self.redeclaring.contains(&x.span()) => {
                self.unknown = true;
                0
            }
            Elem::Cond(x) | Elem::Expr(x) => {
                if self.expr(x) {
                    0
                } else {
                    st
                }
            }
            // Checked on the operand, which comes first (`redeclaring`).
            Elem::RangeNext(_) | Elem::TypeSwitchBind(_) | Elem::Select(_) => st,
            Elem::Bad(_) => {
                self.unknown = true;
                0
            }
        }
    }

    fn edge(&mut self, _from: BlockId, edge: &Edge<'a>, st: &u8) -> u8 {
        let mut st = *st;
        if st == 0 {
            return 0;
        }
        if let Some(Jump::Branch(b)) = edge.jump {
            if matches!(b.kind, BranchKind::Goto | BranchKind::Fallthrough) {
                self.unknown = true;
                return 0;
            }
        }
        if let Some((cond, outcome)) = edge.cond {
            let (then, els) = self.branch(cond, st);
            st = if outcome { then } else { els };
        }
        if st != 0 {
            if let Some(l) = self.life.exit(edge) {
                self.leak(l.span, l.kind);
                return 0;
            }
        }
        st
    }
}

impl<'a> Open<'_, 'a, '_> {
    fn leak(&mut self, span: Span, kind: ExitKind) {
        if kind != ExitKind::Return && !self.policy.scope_exits {
            return;
        }
        self.leaks.push(Leak { span, kind });
    }

    fn is_var(&self, e: &Expr) -> bool {
        e.ident_name() == Some(self.res.var)
    }

    /// `v` or `v.F` with `F` among the resource's fields (also `&v`).
    fn is_handle(&self, e: &Expr) -> bool {
        match e.unparen() {
            Expr::Ident(id) => id.name == self.res.var,
            Expr::Selector(s) => {
                self.is_var(&s.x) && self.res.fields.contains(&s.sel.name.as_str())
            }
            Expr::Unary(u) if u.op == "&" => self.is_handle(&u.x),
            _ => false,
        }
    }

    /// Whether evaluating `e` releases the resource or hands it off.
    fn expr(&mut self, e: &'a Expr) -> bool {
        match e {
            Expr::Call(c) => {
                if (self.policy.releases)(c) {
                    return true;
                }
                let mut done = false;
                for a in &c.args {
                    if self.is_handle(a) {
                        if !(self.policy.borrows)(c) {
                            done = true;
                        }
                    } else {
                        done |= self.expr(a);
                    }
                }
                // A method call on the resource (`v.Next()`, `v.Body.Read(p)`) keeps it here.
                let fun_done = match c.fun.unparen() {
                    Expr::Selector(s) if self.is_handle(&s.x) || self.is_var(&s.x) => false,
                    f => self.expr(f),
                };
                done || fun_done
            }
            Expr::FuncLit(l) => mentions(Node::Block(&l.body), self.res.var),
            Expr::Ident(id) => id.name == self.res.var,
            Expr::Selector(s) => {
                if self.is_handle(e) {
                    return true;
                }
                if self.is_handle(&s.x) || self.is_var(&s.x) {
                    return false;
                }
                self.expr(&s.x)
            }
            Expr::Binary(b) if (b.op == "==" || b.op == "!=") && (is_nil(&b.x) || is_nil(&b.y)) => {
                let other = if is_nil(&b.x) { &b.y } else { &b.x };
                if self.is_handle(other) {
                    false
                } else {
                    self.expr(other)
                }
            }
            Expr::KeyValue(kv) => self.expr(&kv.value),
            _ => {
                let mut done = false;
                for_each_child(Node::Expr(e), &mut |c| {
                    if let Node::Expr(x) = c {
                        done |= self.expr(x);
                    }
                });
                done
            }
        }
    }

    /// Effects of assigning to `lhs`: overwriting the open variable loses the
    /// resource (the path ends there as a leak), reassigning the error variable
    /// makes error checks say nothing about it.
    fn assign_target(&mut self, lhs: &'a Expr, st: u8) -> (u8, bool) {
        if let Some(name) = lhs.ident_name() {
            if name == self.res.var {
                if st != 0 {
                    self.leak(lhs.span(), ExitKind::Overwritten);
                }
                return (0, false);
            }
            if Some(name) == self.res.err {
                return (if st != 0 { STALE } else { 0 }, false);
            }
            return (st, false);
        }
        (st, self.expr(lhs))
    }

    fn simple(&mut self, s: &'a Stmt, mut st: u8) -> u8 {
        match s {
            Stmt::Expr(e) => {
                if self.expr(e) || is_terminator(e) {
                    return 0;
                }
                st
            }
            Stmt::Assign(a) => {
                let mut done = false;
                for r in &a.rhs {
                    done |= self.expr(r);
                }
                if done {
                    // `v = wrap(v)`: handed off before it is overwritten.
                    return 0;
                }
                if a.is_define() && a.lhs.iter().any(|l| self.is_var(l)) {
                    // `v := ...` again: maybe a new variable in an inner
                    // scope that shadows this one; not followed.
                    self.unknown = true;
                    return 0;
                }
                for l in &a.lhs {
                    let (s2, d) = self.assign_target(l, st);
                    st = s2;
                    done |= d;
                }
                if done {
                    0
                } else {
                    st
                }
            }
            Stmt::IncDec(i) => {
                if self.expr(&i.x) {
                    0
                } else {
                    st
                }
            }
            Stmt::Send(snd) => {
                if self.expr(&snd.chan) | self.expr(&snd.value) {
                    0
                } else {
                    st
                }
            }
            Stmt::Go(c) | Stmt::Defer(c) => {
                if self.expr(&c.call) {
                    0
                } else {
                    st
                }
            }
            Stmt::Decl(g) => {
                let mut done = false;
                for spec in &g.specs {
                    if let Spec::Value(v) = spec {
                        for x in &v.values {
                            done |= self.expr(x);
                        }
                        for n in &v.names {
                            if n.name == self.res.var {
                                self.unknown = true;
                                return 0;
                            }
                            if Some(n.name.as_str()) == self.res.err && st != 0 {
                                st = STALE;
                            }
                        }
                    }
                }
                if done {
                    0
                } else {
                    st
                }
            }
            _ => st,
        }
    }

    /// Entry states of the then- and else-branches of `cond`.
    fn branch(&self, cond: &'a Expr, st: u8) -> (u8, u8) {
        let (fresh_then_nil, fresh_else_nil) = self.nilness(cond, true);
        let (stale_then_nil, stale_else_nil) = self.nilness(cond, false);
        let keep = |bit: u8, nil: bool| if nil { 0 } else { st & bit };
        (
            keep(FRESH, fresh_then_nil) | keep(STALE, stale_then_nil),
            keep(FRESH, fresh_else_nil) | keep(STALE, stale_else_nil),
        )
    }

    /// Whether the resource is known nil when `cond` is true / false.
    fn nilness(&self, cond: &'a Expr, err_fresh: bool) -> (bool, bool) {
        if (self.policy.exhausted_by)(cond.unparen()) {
            return (false, true);
        }
        match cond.unparen() {
            Expr::Unary(u) if u.op == "!" => {
                let (t, f) = self.nilness(&u.x, err_fresh);
                (f, t)
            }
            Expr::Binary(b) if b.op == "&&" => {
                let (xt, _) = self.nilness(&b.x, err_fresh);
                let (yt, _) = self.nilness(&b.y, err_fresh);
                (xt || yt, false)
            }
            Expr::Binary(b) if b.op == "||" => {
                let (xt, xf) = self.nilness(&b.x, err_fresh);
                let (yt, yf) = self.nilness(&b.y, err_fresh);
                (xt && yt, xf || yf)
            }
            Expr::Binary(b) if (b.op == "==" || b.op == "!=") && (is_nil(&b.x) || is_nil(&b.y)) => {
                let other = if is_nil(&b.x) { &b.y } else { &b.x };
                let eq = b.op == "==";
                if self.is_var(other) {
                    return (eq, !eq);
                }
                if err_fresh && self.res.err.is_some() && other.ident_name() == self.res.err {
                    return (!eq, eq);
                }
                (false, false)
            }
            _ => (false, false),
        }
    }
}

fn is_nil(e: &Expr) -> bool {
    e.ident_name() == Some("nil")
}

/// A `v := call(...)` / `v, err := call(...)` statement directly in a statement
/// list, with the body of the function (declaration or literal) it runs in.
#[derive(Clone, Copy, Debug)]
pub struct Def<'a> {
    pub body: &'a Block,
    pub stmt: &'a Stmt,
    pub assign: &'a AssignStmt,
    pub call: &'a CallExpr,
}

impl<'a> Def<'a> {
    /// The i-th name on the left, unless blank.
    pub fn name(&self, i: usize) -> Option<&'a Ident> {
        self.assign
            .lhs
            .get(i)
            .and_then(|e| e.as_ident())
            .filter(|id| !id.is_blank())
    }
}

/// Every `:=` statement of the file whose right side is one call.
pub fn defining_calls(file: &File) -> Vec<Def<'_>> {
    let mut defs = assigning_calls(file);
    defs.retain(|d| d.assign.is_define());
    defs
}

/// Every `v, err := call(...)` of [`defining_calls`], and also the plain
/// assignments `v, err = call(...)` whose left side names only variables.
pub fn assigning_calls(file: &File) -> Vec<Def<'_>> {
    let mut out = Vec::new();
    crate::walk::walk_file(file, &mut |n, anc| {
        if let Node::Stmt(s @ Stmt::Assign(a)) = n {
            let in_list = matches!(
                anc.last(),
                Some(Node::Block(_) | Node::Case(_) | Node::Comm(_))
            );
            let names_only = a.lhs.iter().all(|l| l.as_ident().is_some());
            let plain = a.op == "=" && names_only;
            if (a.is_define() || plain) && a.rhs.len() == 1 && in_list {
                if let (Some(call), Some(body)) = (
                    a.rhs[0].as_call(),
                    crate::walk::enclosing_func(anc).and_then(|f| f.body()),
                ) {
                    out.push(Def {
                        body,
                        stmt: s,
                        assign: a,
                        call,
                    });
                }
            }
        }
        true
    });
    out
}

/// The statements after `stmt` in its statement list (`None` when `stmt` is not
/// directly in a list of `body`, e.g. an `if` init or inside a closure).
pub fn following<'a>(body: &'a Block, stmt: &'a Stmt) -> Option<&'a [Stmt]> {
    let chain = crate::walk::enclosing_lists(body, stmt.span());
    let &(list, idx, owner) = chain.last()?;
    if list[idx].span() != stmt.span() {
        return None;
    }
    // A labelled statement and an `else` branch are not statement lists.
    match owner {
        Some(Stmt::Labeled(_)) => None,
        Some(Stmt::If(i)) if !i.then.span.encloses(stmt.span()) => None,
        _ => Some(&list[idx + 1..]),
    }
}
