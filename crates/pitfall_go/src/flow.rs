//! A small, conservative path analysis over one function body: "is this
//! resource released on every path from where it was acquired?"
//!
//! It is syntax-level. Starting right after the statement that defines a
//! variable `v` (`resp, err := client.Do(req)`), it follows every path through
//! the rest of `v`'s block — sequences, `if`/`else`, `switch`/`select` cases,
//! loops that may run zero times, `break`/`continue`/`return` — and asks
//! whether `v` is still open when the path leaves the function (or `v`'s scope).
//!
//! The resource stops mattering on a path when it is released (the policy's
//! `releases` call, directly, in a `defer`, or in a deferred closure), when its
//! ownership moves (`return v`, `f(v)`, `f(v.Body)` unless the policy says the
//! callee only borrows it, `x.f = v`, `ch <- v`, captured by a closure), when
//! the path is known to hold a nil resource (`if err != nil` right after the
//! acquisition, `if v == nil`), or when it ends in `panic`/`log.Fatal`/`os.Exit`.
//! Assigning `v` a new value while it is open loses the resource
//! ([`ExitKind::Overwritten`]). Whatever it does not follow (`goto`,
//! `fallthrough` with the resource open, redeclaring its name) makes the answer
//! [`Verdict::Unknown`].

use crate::ast::*;
use crate::walk::{for_each_child, walk, Node};

/// How a leaking path leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitKind {
    /// A `return` statement (span of the statement).
    Return,
    /// Falling off the end of the function (span of the closing brace).
    EndOfFunction,
    /// Falling off the end of the block that declares the variable.
    EndOfScope,
    /// A `break` or `continue` that leaves the variable's block.
    Branch,
    /// The variable is assigned a new value while it still holds the open
    /// resource (`resp, err = c.Do(req)` again): the old one is lost.
    Overwritten,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leak {
    pub span: Span,
    pub kind: ExitKind,
}

impl Leak {
    /// "on the return", "at the end of the function", ... for messages
    /// ("leaks {describe} at line N").
    pub fn describe(&self) -> &'static str {
        match self.kind {
            ExitKind::Return => "on the return",
            ExitKind::EndOfFunction => "at the end of the function",
            ExitKind::EndOfScope => "at the end of its block",
            ExitKind::Branch => "on the break/continue",
            ExitKind::Overwritten => "when the variable is overwritten",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every path releases (or hands off) the resource.
    Released,
    /// The first exit (in source order) reached with the resource still open.
    Leaks(Leak),
    /// The helper did not understand some path: stay silent.
    Unknown,
}

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
    let Some((list, idx, end, is_body)) = find_list(body, def.span()) else {
        return Verdict::Unknown;
    };
    let mut en = Engine {
        res,
        policy,
        leaks: Vec::new(),
        unknown: false,
        targets: Vec::new(),
    };
    let start = if res.err.is_some() { FRESH } else { STALE };
    let out = en.list(&list[idx + 1..], start);
    if out != 0 && policy.scope_exits {
        let span = Span {
            start: end.saturating_sub(1),
            end,
        };
        let kind = if is_body {
            ExitKind::EndOfFunction
        } else {
            ExitKind::EndOfScope
        };
        en.leaks.push(Leak { span, kind });
    }
    if en.unknown {
        return Verdict::Unknown;
    }
    match en.leaks.iter().min_by_key(|l| l.span.start) {
        Some(l) => Verdict::Leaks(*l),
        None => Verdict::Released,
    }
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

struct Target {
    label: Option<String>,
    is_loop: bool,
    brk: u8,
    cont: u8,
}

struct Engine<'r, 'a, 'p> {
    res: &'r Resource<'r>,
    policy: &'r Policy<'a, 'p>,
    leaks: Vec<Leak>,
    unknown: bool,
    targets: Vec<Target>,
}

/// A statement list, the index of a statement in it, the end offset of the
/// list's block, and whether that block is the function body.
type Found<'a> = (&'a [Stmt], usize, u32, bool);

/// Finds the statement list holding the statement at `span`.
fn find_list(body: &Block, span: Span) -> Option<Found<'_>> {
    fn in_list(list: &[Stmt], end: u32, span: Span, is_body: bool) -> Option<Found<'_>> {
        for (i, s) in list.iter().enumerate() {
            if s.span() == span {
                return Some((list, i, end, is_body));
            }
            if s.span().encloses(span) {
                return in_stmt(s, span);
            }
        }
        None
    }
    fn in_stmt(s: &Stmt, span: Span) -> Option<Found<'_>> {
        match s {
            Stmt::Block(b) => in_list(&b.stmts, b.span.end, span, false),
            Stmt::If(i) => {
                if i.then.span.encloses(span) {
                    return in_list(&i.then.stmts, i.then.span.end, span, false);
                }
                i.els.as_ref().and_then(|e| in_stmt(e, span))
            }
            Stmt::For(f) => in_list(&f.body.stmts, f.body.span.end, span, false),
            Stmt::Range(r) => in_list(&r.body.stmts, r.body.span.end, span, false),
            Stmt::Switch(sw) => sw
                .cases
                .iter()
                .find(|c| c.span.encloses(span))
                .and_then(|c| in_list(&c.body, c.span.end, span, false)),
            Stmt::TypeSwitch(sw) => sw
                .cases
                .iter()
                .find(|c| c.span.encloses(span))
                .and_then(|c| in_list(&c.body, c.span.end, span, false)),
            Stmt::Select(sel) => sel
                .cases
                .iter()
                .find(|c| c.span.encloses(span))
                .and_then(|c| in_list(&c.body, c.span.end, span, false)),
            Stmt::Labeled(l) => {
                if l.stmt.span() == span {
                    None
                } else {
                    in_stmt(&l.stmt, span)
                }
            }
            _ => None,
        }
    }
    in_list(&body.stmts, body.span.end, span, true)
}

impl<'r, 'a, 'p> Engine<'r, 'a, 'p> {
    fn list(&mut self, stmts: &'a [Stmt], mut st: u8) -> u8 {
        for s in stmts {
            if st == 0 {
                break;
            }
            st = self.stmt(s, st, None);
        }
        st
    }

    fn leak(&mut self, span: Span, kind: ExitKind) {
        if kind != ExitKind::Return && !self.policy.scope_exits {
            return;
        }
        if !self.leaks.iter().any(|l| l.span == span) {
            self.leaks.push(Leak { span, kind });
        }
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

    fn init(&mut self, init: &'a Option<Stmt>, st: u8) -> u8 {
        match init {
            Some(s) => self.simple(s, st),
            None => st,
        }
    }

    fn stmt(&mut self, s: &'a Stmt, st: u8, label: Option<&str>) -> u8 {
        if st == 0 {
            return 0;
        }
        match s {
            Stmt::Return(r) => {
                let mut done = false;
                for x in &r.results {
                    done |= self.expr(x);
                }
                if !done && (self.policy.return_matters)(r) {
                    self.leak(r.span, ExitKind::Return);
                }
                0
            }
            Stmt::Branch(b) => {
                match b.kind {
                    BranchKind::Goto | BranchKind::Fallthrough => self.unknown = true,
                    BranchKind::Break | BranchKind::Continue => {
                        let want = b.label.as_ref().map(|l| l.name.as_str());
                        let is_cont = b.kind == BranchKind::Continue;
                        let t = self.targets.iter_mut().rev().find(|t| {
                            (!is_cont || t.is_loop)
                                && match want {
                                    Some(l) => t.label.as_deref() == Some(l),
                                    None => true,
                                }
                        });
                        match t {
                            Some(t) if is_cont => t.cont |= st,
                            Some(t) => t.brk |= st,
                            None => self.leak(b.span, ExitKind::Branch),
                        }
                    }
                }
                0
            }
            Stmt::Block(b) => self.list(&b.stmts, st),
            Stmt::Labeled(l) => self.stmt(&l.stmt, st, Some(&l.label.name)),
            Stmt::If(i) => {
                let st = self.init(&i.init, st);
                if st == 0 || self.expr(&i.cond) {
                    return 0;
                }
                let (t, e) = self.branch(&i.cond, st);
                let mut out = self.list(&i.then.stmts, t);
                out |= match &i.els {
                    Some(els) => self.stmt(els, e, None),
                    None => e,
                };
                out
            }
            Stmt::For(f) => {
                let st = self.init(&f.init, st);
                if st == 0 {
                    return 0;
                }
                self.targets.push(Target {
                    label: label.map(String::from),
                    is_loop: true,
                    brk: 0,
                    cont: 0,
                });
                let mut entry = st;
                let mut exit = 0;
                for _ in 0..4 {
                    let mut body_in = entry;
                    if let Some(c) = &f.cond {
                        if self.expr(c) {
                            body_in = 0;
                        }
                        exit = if (self.policy.exhausted_by)(c) {
                            0
                        } else {
                            body_in
                        };
                    }
                    let end = self.list(&f.body.stmts, body_in);
                    let cont = self.targets.last().map(|t| t.cont).unwrap_or(0);
                    let mut back = end | cont;
                    if let Some(p) = &f.post {
                        back = self.simple(p, back);
                    }
                    let next = entry | back;
                    if next == entry {
                        break;
                    }
                    entry = next;
                }
                let t = self.targets.pop().expect("pushed");
                exit | t.brk
            }
            Stmt::Range(r) => {
                if r.define
                    && [&r.key, &r.value]
                        .into_iter()
                        .flatten()
                        .any(|k| self.is_var(k))
                {
                    self.unknown = true;
                    return 0;
                }
                if self.expr(&r.x) {
                    return 0;
                }
                self.targets.push(Target {
                    label: label.map(String::from),
                    is_loop: true,
                    brk: 0,
                    cont: 0,
                });
                let mut entry = st;
                for _ in 0..4 {
                    let end = self.list(&r.body.stmts, entry);
                    let cont = self.targets.last().map(|t| t.cont).unwrap_or(0);
                    let next = entry | end | cont;
                    if next == entry {
                        break;
                    }
                    entry = next;
                }
                let t = self.targets.pop().expect("pushed");
                entry | t.brk
            }
            Stmt::Switch(sw) => {
                let st = self.init(&sw.init, st);
                if st == 0 {
                    return 0;
                }
                if let Some(tag) = &sw.tag {
                    if self.expr(tag) {
                        return 0;
                    }
                }
                self.cases(&sw.cases, st, label, sw.tag.is_none())
            }
            Stmt::TypeSwitch(sw) => {
                let st = self.init(&sw.init, st);
                if st == 0 {
                    return 0;
                }
                if sw.bind.as_ref().is_some_and(|b| b.name == self.res.var) {
                    self.unknown = true;
                    return 0;
                }
                if self.expr(&sw.x) {
                    return 0;
                }
                self.cases(&sw.cases, st, label, false)
            }
            Stmt::Select(sel) => {
                self.targets.push(Target {
                    label: label.map(String::from),
                    is_loop: false,
                    brk: 0,
                    cont: 0,
                });
                let mut out = 0;
                for c in &sel.cases {
                    let mut entry = st;
                    if let Some(comm) = &c.comm {
                        entry = self.simple(comm, entry);
                    }
                    out |= self.list(&c.body, entry);
                }
                let t = self.targets.pop().expect("pushed");
                out | t.brk
            }
            Stmt::Bad(_) => {
                self.unknown = true;
                0
            }
            other => self.simple(other, st),
        }
    }

    fn cases(&mut self, cases: &'a [CaseClause], st: u8, label: Option<&str>, tagless: bool) -> u8 {
        self.targets.push(Target {
            label: label.map(String::from),
            is_loop: false,
            brk: 0,
            cont: 0,
        });
        let mut out = 0;
        let mut has_default = false;
        for c in cases {
            has_default |= c.is_default;
            let mut entry = st;
            for x in &c.list {
                if self.expr(x) {
                    entry = 0;
                }
            }
            if tagless && c.list.len() == 1 && entry != 0 {
                entry = self.branch(&c.list[0], entry).0;
            }
            out |= self.list(&c.body, entry);
        }
        if !has_default {
            out |= st;
        }
        let t = self.targets.pop().expect("pushed");
        out | t.brk
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
    let (list, idx, _, _) = find_list(body, stmt.span())?;
    Some(&list[idx + 1..])
}
