//! Mutexes inside one function: which calls lock and unlock which mutex
//! (fields, locals, embedded mutexes, and methods of the package's own types
//! that lock or unlock a field of their receiver), and the lock state of one
//! mutex along every path of a function body (`defer Unlock` included).
//!
//! A mutex is named by the expression that reaches it (`s.mu`, `mu`, `c`
//! for an embedded mutex). The path engine is syntax-level like
//! [`crate::flow`]: it follows sequences, branches, loops (to a fixed point),
//! `break`/`continue`/`return`, and `if m.TryLock()`; it does not correlate
//! conditions, so rules only report states that hold on *every* path.

use crate::ast::*;
use crate::engine::cfg::{is_terminator, BlockId, Edge, Elem, Jump, ENTRY, EXIT};
use crate::engine::object::{Obj, Root};
use crate::engine::{forward, Analysis, Cfg};
use crate::index::FuncDef;
use crate::types::{Env, Scope, Ty};
use crate::walk::{self, Node};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lock,
    RLock,
    Unlock,
    RUnlock,
    TryLock,
}

impl Op {
    fn from_name(n: &str) -> Option<Op> {
        Some(match n {
            "Lock" => Op::Lock,
            "RLock" => Op::RLock,
            "Unlock" => Op::Unlock,
            "RUnlock" => Op::RUnlock,
            "TryLock" | "TryRLock" => Op::TryLock,
            _ => return None,
        })
    }
    pub fn is_acquire(self) -> bool {
        matches!(self, Op::Lock | Op::RLock)
    }
    pub fn is_release(self) -> bool {
        matches!(self, Op::Unlock | Op::RUnlock)
    }
}

/// One mutex operation found in code.
#[derive(Clone, Debug)]
pub struct MutexOp<'a> {
    /// The mutex, as written at the call (`s.mu`).
    pub key: String,
    pub op: Op,
    /// `Some(method)` when the operation happens inside a method of the
    /// package's own type called here (`s.lockedHelper()`).
    pub via: Option<&'a str>,
    /// The method acquires and also releases the mutex before returning: the
    /// mutex must be free at the call, and is free again after it.
    pub transient: bool,
    /// The mutex as a program-wide lock class: `T.mu` for a field `mu` of the
    /// package's type `T` (whatever the variable), `T` for a mutex embedded in
    /// `T`, the name of a package-level variable; `None` for locals.
    pub class: Option<String>,
    /// Further operations of the same call, on other mutexes (a callee that
    /// touches several), applied after this one.
    pub also: Vec<MutexOp<'a>>,
}

fn is_mutex_type(t: &Ty<'_>) -> bool {
    let t = t.deref();
    t.is_named("sync", "Mutex") || t.is_named("sync", "RWMutex")
}

/// Whether values of `t` have a promoted `Lock` from an embedded
/// `sync.Mutex`/`RWMutex` (and the type declares no `Lock` of its own).
fn embeds_mutex<'a>(sc: &Scope<'a>, t: &Ty<'a>) -> bool {
    // `mu struct{ sync.RWMutex; ... }`: an anonymous struct embedding one.
    if let Ty::Struct(st, file, path) = t.deref() {
        let Some(pkg) = sc.project.package(path) else {
            return false;
        };
        let fsc = Scope {
            project: sc.project,
            pkg,
            file,
        };
        return st
            .fields
            .iter()
            .filter(|f| f.names.is_empty())
            .any(|f| is_mutex_type(&fsc.type_expr(&f.ty)));
    }
    let Ty::Named(path, name) = t.deref() else {
        return false;
    };
    let Some(pkg) = sc.project.package(path) else {
        return false;
    };
    if pkg.methods.contains_key(&(*name, "Lock")) {
        return false;
    }
    let Some((spec, file)) = pkg.types.get(name) else {
        return false;
    };
    let Expr::StructType(st) = &spec.ty else {
        return false;
    };
    let fsc = Scope {
        project: sc.project,
        pkg,
        file,
    };
    st.fields
        .iter()
        .filter(|f| f.names.is_empty())
        .any(|f| is_mutex_type(&fsc.type_expr(&f.ty)))
}

/// The mutex operation `call` performs directly (`x.Lock()` on a
/// `sync.Mutex`/`RWMutex` value or an embedding struct).
pub fn direct_op<'a>(sc: &Scope<'a>, env: &Env<'a>, call: &'a CallExpr) -> Option<MutexOp<'a>> {
    let Expr::Selector(sel) = call.fun.unparen() else {
        return None;
    };
    let op = Op::from_name(&sel.sel.name)?;
    if !call.args.is_empty() {
        return None;
    }
    if let Some(op) = cond_locker_op(sc, env, &sel.x, op) {
        return Some(op);
    }
    let key = key_of(&sel.x)?;
    let t = env.type_of(sc, &sel.x);
    if is_mutex_type(&t) || embeds_mutex(sc, &t) {
        let class = lock_class(sc, env, &sel.x, &t);
        Some(MutexOp {
            key,
            op,
            via: None,
            transient: false,
            class,
            also: Vec::new(),
        })
    } else {
        None
    }
}

/// `c.L.Lock()` on a `sync.Cond` whose locker the package sets with
/// `sync.NewCond(&m)` or `sync.NewCond(m.RLocker())`: the operation on `m`
/// (a read lock through `RLocker`). The Cond is a local initialised with
/// `NewCond`, or a field `x.f` that some statement of the package assigns as
/// `y.f = sync.NewCond(...y.g...)` — the locker is then `x.g`.
fn cond_locker_op<'a>(sc: &Scope<'a>, env: &Env<'a>, x: &'a Expr, op: Op) -> Option<MutexOp<'a>> {
    let Expr::Selector(l) = x.unparen() else {
        return None;
    };
    if l.sel.name != "L" {
        return None;
    }
    let cond = l.x.unparen();
    let (locker, read, class) = match cond {
        // `c := sync.NewCond(...)`: the initialiser says it is a Cond.
        Expr::Ident(id) => {
            let init = env.resolve(id)?.init?;
            let (arg, read) = new_cond_locker(init)?;
            let t = env.type_of(sc, arg);
            (key_of(arg)?, read, lock_class(sc, env, arg, &t))
        }
        Expr::Selector(f) if env.type_of(sc, cond).deref().is_named("sync", "Cond") => {
            let base = key_of(&f.x)?;
            let (path, read) = field_cond_locker(sc, &f.sel.name)?;
            let class = crate::engine::object::class_of(sc, env, cond).and_then(|o| match o.root {
                Root::Type(t) => {
                    let owner = o
                        .path
                        .rsplit_once('.')
                        .map(|(p, _)| format!("{p}."))
                        .unwrap_or_default();
                    Some(format!("{t}.{owner}{path}"))
                }
                _ => None,
            });
            (format!("{base}.{path}"), read, class)
        }
        _ => return None,
    };
    let op = match (op, read) {
        (Op::Lock, true) => Op::RLock,
        (Op::Unlock, true) => Op::RUnlock,
        (op, _) => op,
    };
    Some(MutexOp {
        key: locker,
        op,
        via: None,
        transient: false,
        class,
        also: Vec::new(),
    })
}

/// The locker of `sync.NewCond(arg)`: `&m` or `m` (write), `m.RLocker()` (read).
fn new_cond_locker(e: &Expr) -> Option<(&Expr, bool)> {
    let c = e.unparen().as_call()?;
    let Expr::Selector(f) = c.fun.unparen() else {
        return None;
    };
    if f.sel.name != "NewCond" || !matches!(f.x.unparen(), Expr::Ident(p) if p.name == "sync") {
        return None;
    }
    let arg = c.args.first()?.unparen();
    Some(match arg {
        Expr::Unary(u) if u.op == "&" => (&u.x, false),
        Expr::Call(rc) if rc.args.is_empty() => match rc.fun.unparen() {
            Expr::Selector(r) if r.sel.name == "RLocker" => (&r.x, true),
            _ => return None,
        },
        a => (a, false),
    })
}

/// For a `sync.Cond` field named `field`: the field path (relative to the
/// struct holding the Cond) of the mutex that every assignment
/// `y.field = sync.NewCond(...)` in the package gives it, and whether it is
/// the read side; `None` when there is none or they disagree.
fn field_cond_locker(sc: &Scope<'_>, field: &str) -> Option<(String, bool)> {
    // Once per field and package: each `x.L.Lock()` asking again re-walked
    // every file that makes a Cond.
    struct CondLockers;
    sc.pkg
        .memo::<CondLockers, _, _>(sc.project, field.to_string(), || {
            scan_cond_locker(sc, field)
        })
}

/// The functions of the package that write field `field` (by name, any
/// owner): (file index, declaration index, the package types whose `field`
/// they assign, `x.field = ...`, or key in a literal, `T{field: ...}`).
type FieldWrites = Vec<(usize, usize, Vec<String>)>;

/// Once per field name and package: a callback field's summary is asked per
/// owner type, and each asking walked and typed every function naming the
/// field (quadratic when every type of a package has a callback field of the
/// same name).
fn field_writers(sc: &Scope<'_>, field: &str) -> Arc<FieldWrites> {
    struct FieldWriters;
    sc.pkg
        .memo::<FieldWriters, _, _>(sc.project, field.to_string(), || {
            Arc::new(find_field_writers(sc, field))
        })
}

/// Every function declaration of the package whose text mentions `needle`:
/// (file index, file, declaration index, declaration), in file order.
fn funcs_mentioning<'a, 's>(
    pkg: &'a crate::index::Package<'a>,
    needle: &'s str,
) -> impl Iterator<Item = (usize, &'a crate::GoFile, usize, &'a FuncDecl)> + 's
where
    'a: 's,
{
    pkg.files_mentioning(needle).flat_map(move |(fi, file)| {
        file.ast
            .decls
            .iter()
            .enumerate()
            .filter_map(move |(di, d)| match d {
                Decl::Func(fd) if file.text(fd.span).contains(needle) => Some((fi, file, di, fd)),
                _ => None,
            })
    })
}

fn find_field_writers(sc: &Scope<'_>, field: &str) -> FieldWrites {
    let pkg = sc.pkg;
    let mut out = Vec::new();
    for (fi, file, di, fd) in funcs_mentioning(pkg, field) {
        let fsc = Scope { file, ..*sc };
        let mut env: Option<Env<'_>> = None;
        let mut types: Vec<String> = Vec::new();
        let mut note = |t: &Ty<'_>| {
            if let Ty::Named(p, n) = t.deref() {
                if *p == pkg.import_path() && !types.iter().any(|x| x == n) {
                    types.push(n.to_string());
                }
            }
        };
        walk::walk(Node::FuncDecl(fd), &mut |n, _| {
            match n {
                Node::Stmt(Stmt::Assign(a)) if !a.is_define() => {
                    for l in &a.lhs {
                        if let Expr::Selector(ls) = l.unparen() {
                            if ls.sel.name == field {
                                let env =
                                    env.get_or_insert_with(|| Env::build(&fsc, Node::FuncDecl(fd)));
                                note(&env.type_of(&fsc, &ls.x));
                            }
                        }
                    }
                }
                Node::Expr(Expr::CompositeLit(c)) => {
                    let keyed = c.elts.iter().any(|e| {
                            matches!(e, Expr::KeyValue(kv) if matches!(kv.key.unparen(), Expr::Ident(k) if k.name == field))
                        });
                    if let (true, Some(t)) = (keyed, &c.ty) {
                        note(&fsc.type_expr(t));
                    }
                }
                _ => {}
            }
            true
        });
        if !types.is_empty() {
            out.push((fi, di, types));
        }
    }
    out
}

fn scan_cond_locker(sc: &Scope<'_>, field: &str) -> Option<(String, bool)> {
    let mut found: Option<(String, bool)> = None;
    let mut agree = true;
    for (_, file) in sc.pkg.files_mentioning("NewCond") {
        walk::walk_file(&file.ast, &mut |n, _| {
            let Node::Stmt(Stmt::Assign(a)) = n else {
                return true;
            };
            for (l, r) in a.lhs.iter().zip(&a.rhs) {
                let Expr::Selector(ls) = l.unparen() else {
                    continue;
                };
                if ls.sel.name != field {
                    continue;
                }
                let Some((arg, read)) = new_cond_locker(r) else {
                    continue;
                };
                let (Some(base), Some(k)) = (key_of(&ls.x), key_of(arg)) else {
                    agree = false;
                    continue;
                };
                let Some(path) = k.strip_prefix(&format!("{base}.")) else {
                    agree = false;
                    continue;
                };
                match &found {
                    Some(f) if f.0 != path || f.1 != read => agree = false,
                    Some(_) => {}
                    None => found = Some((path.to_string(), read)),
                }
            }
            true
        });
    }
    found.filter(|_| agree)
}

/// The lock class of the mutex reached by `x` (of type `t`); see [`MutexOp::class`].
fn lock_class<'a>(sc: &Scope<'a>, env: &Env<'a>, x: &'a Expr, t: &Ty<'a>) -> Option<String> {
    // A value of the package's type embedding the mutex: the type is the class.
    // A field of anonymous struct type embedding the mutex (`mu struct{
    // sync.RWMutex; ... }`) is classed by its field path below.
    if !is_mutex_type(t) && !matches!(t.deref(), Ty::Struct(..)) {
        return match t.deref() {
            Ty::Named(p, n) if *p == sc.pkg.import_path() => Some(n.to_string()),
            _ => None,
        };
    }
    // `v.Mutex` names the embedded mutex of `v` explicitly.
    if let Expr::Selector(s) = x.unparen() {
        if matches!(s.sel.name.as_str(), "Mutex" | "RWMutex") {
            let inner = env.type_of(sc, &s.x);
            if let Ty::Named(p, n) = inner.deref() {
                if *p == sc.pkg.import_path() {
                    return Some(n.to_string());
                }
            }
        }
    }
    // A field path from a local: the innermost owner of the package's type
    // names the class (`r.store.mu` is `Store.mu`, `s.replicas[i].mu` is `Replica.mu`).
    if let Some(Obj {
        root: Root::Type(t),
        path,
    }) = crate::engine::object::class_of(sc, env, x)
    {
        return Some(if path.is_empty() {
            t
        } else {
            format!("{t}.{path}")
        });
    }
    // Split `base.f.g` into the base identifier and the field path.
    let mut path = Vec::new();
    let mut e = x.unparen();
    while let Expr::Selector(s) = e {
        path.push(s.sel.name.as_str());
        e = s.x.unparen();
    }
    let Expr::Ident(base) = e else {
        return None;
    };
    path.reverse();
    let local = env.resolve(base).is_some();
    if path.is_empty() {
        if !local {
            return sc
                .pkg
                .vars
                .contains_key(base.name.as_str())
                .then(|| format!("var {}", base.name));
        }
        // A local mutex variable: no class.
        return None;
    }
    if !local {
        // A field of a package-level variable.
        return sc
            .pkg
            .vars
            .contains_key(base.name.as_str())
            .then(|| format!("var {}.{}", base.name, path.join(".")));
    }
    match env.type_of(sc, e).deref() {
        Ty::Named(p, n) if *p == sc.pkg.import_path() => Some(format!("{n}.{}", path.join("."))),
        _ => None,
    }
}

/// A mutex's state on a path: free, write-held or read-held, each with or
/// without a deferred unlock registered. Sets of states are bitsets.
pub type States = u8;
const FREE: u8 = 0;
const W: u8 = 1;
const R: u8 = 2;

fn code(mode: u8, deferred: bool) -> u8 {
    mode * 2 + deferred as u8
}
fn bit(mode: u8, deferred: bool) -> States {
    1 << code(mode, deferred)
}
fn each(st: States) -> impl Iterator<Item = (u8, bool)> {
    (0..6u8)
        .filter(move |c| st & (1 << c) != 0)
        .map(|c| (c / 2, c % 2 == 1))
}
fn map(st: States, f: impl Fn(u8, bool) -> (u8, bool)) -> States {
    each(st).fold(0, |acc, (m, d)| {
        let (m2, d2) = f(m, d);
        acc | bit(m2, d2)
    })
}

/// Whether every state of the set holds the mutex (for writing or reading).
pub fn always_held(st: States) -> bool {
    st != 0 && each(st).all(|(m, _)| m != FREE)
}
/// Whether no state holds it.
pub fn never_held(st: States) -> bool {
    st != 0 && each(st).all(|(m, _)| m == FREE)
}
/// Whether every state holds it for reading.
pub fn always_read_held(st: States) -> bool {
    st != 0 && each(st).all(|(m, _)| m == R)
}
/// Whether every state holds it with no deferred unlock registered.
pub fn always_held_undeferred(st: States) -> bool {
    st != 0 && each(st).all(|(m, d)| m != FREE && !d)
}

/// What the engine saw while following one mutex through a body.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// Acquisitions of the mutex: span of the call, the op, the method it
    /// went through, and the states reaching it (union over paths).
    pub acquires: Vec<(Span, Op, Option<String>, States)>,
    /// Acquisitions of other mutexes, with this mutex's states there.
    pub others: Vec<(Span, String, States)>,
    /// Exits (`return` statements, and the end of the body) with their states.
    pub exits: Vec<(Span, States)>,
    /// Releases of the mutex (not deferred), by position.
    pub releases: Vec<Span>,
    /// `break` statements that leave a loop: the break, the states it leaves
    /// the loop in, and the loop statement's span.
    pub breaks: Vec<(Span, States, Span)>,
    /// The function releases the mutex before acquiring it: it runs with the
    /// lock held on entry (write `W` = 1 or read `R` = 2 mode), and the trace
    /// started from that state.
    pub entry_held: Option<u8>,
    /// Something was not followed (code that did not parse, a `TryLock`
    /// outside an `if`): the trace says nothing.
    pub unknown: bool,
    /// The states reaching each element of the body's CFG (a statement, a
    /// condition, a select...), by the element's span: the lock state at any
    /// point is that of the innermost element containing it ([`Trace::held_at`]).
    pub at: HashMap<Span, States>,
    /// The mutex's lock class ([`MutexOp::class`]) as the first operation on
    /// it that names one reports it.
    pub class: Option<String>,
}

impl Trace {
    /// The states reaching the innermost CFG element that contains `span`
    /// (0 when no element does).
    pub fn held_at(&self, span: Span) -> States {
        self.at
            .iter()
            .filter(|(s, _)| s.start <= span.start && span.end <= s.end)
            .min_by_key(|(s, _)| s.end - s.start)
            .map(|(_, st)| *st)
            .unwrap_or(0)
    }
    fn merge_acquire(&mut self, span: Span, op: Op, via: Option<&str>, st: States) {
        match self.acquires.iter_mut().find(|a| a.0 == span) {
            Some(a) => a.3 |= st,
            None => self.acquires.push((span, op, via.map(String::from), st)),
        }
    }
    fn merge_exit(&mut self, span: Span, st: States) {
        match self.exits.iter_mut().find(|a| a.0 == span) {
            Some(a) => a.1 |= st,
            None => self.exits.push((span, st)),
        }
    }
    fn merge_other(&mut self, span: Span, key: String, st: States) {
        match self.others.iter_mut().find(|a| a.0 == span) {
            Some(a) => a.2 |= st,
            None => self.others.push((span, key, st)),
        }
    }
}

/// Classifies a call: the mutex operations it performs.
pub type Classify<'c, 'a> = &'c dyn Fn(&'a CallExpr) -> Option<MutexOp<'a>>;

/// Every mutex (by key) that `body` acquires outside closures.
pub fn acquired_keys<'a>(body: &'a Block, classify: Classify<'_, 'a>) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    walk::walk_body(body, &mut |n, _| {
        if let Node::Expr(Expr::Call(c)) = n {
            if let Some(op) = classify(c) {
                if op.op.is_acquire() && !keys.contains(&op.key) {
                    keys.push(op.key);
                }
            }
        }
        true
    });
    keys
}

/// Follows the mutex `key` through `body` from a free state — or, when the
/// function releases the mutex before ever acquiring it (it runs with the lock
/// held: "unlock, call out, lock again"), from the held state that release implies.
pub fn trace<'a>(body: &'a Block, key: &str, classify: Classify<'_, 'a>) -> Trace {
    let cfg = crate::engine::build(body);
    trace_in(&cfg, key, classify)
}

/// [`trace`] on a CFG built once by the caller.
pub fn trace_in<'a>(cfg: &Cfg<'a>, key: &str, classify: Classify<'_, 'a>) -> Trace {
    let (t, free_release) = run(cfg, key, classify, bit(FREE, false));
    // A release reached with the mutex free on some path: if some path from
    // the entry reaches a release with no acquire before it, the function
    // runs with the lock held on entry.
    let entry_held = free_release
        .filter(|_| released_before_acquired(cfg, key, classify))
        .map(|op| if op == Op::Unlock { W } else { R });
    match entry_held {
        Some(mode) => {
            let (mut t2, _) = run(cfg, key, classify, bit(mode, false));
            t2.entry_held = Some(mode);
            t2
        }
        None => t,
    }
}

fn run<'a>(
    cfg: &Cfg<'a>,
    key: &str,
    classify: Classify<'_, 'a>,
    init: States,
) -> (Trace, Option<Op>) {
    let mut an = LockFlow {
        key,
        classify,
        end: cfg.end,
        trace: Trace::default(),
        free_release: None,
    };
    let sol = forward(cfg, &mut an, (ENTRY, 0), init);
    if !sol.converged || cfg.unresolved {
        an.trace.unknown = true;
    }
    (an.trace, an.free_release)
}

/// Whether the function was called with `key` held: some path releases it
/// first, and no path acquires it first (that would be conditional locking
/// with correlated conditions, not a function entered with the lock held).
fn released_before_acquired<'a>(cfg: &Cfg<'a>, key: &str, classify: Classify<'_, 'a>) -> bool {
    pristine(cfg, key, classify).0
}

/// (some release is reached only by paths that never acquired `key`; some
/// path leaves the function without acquiring it).
fn pristine<'a>(cfg: &Cfg<'a>, key: &str, classify: Classify<'_, 'a>) -> (bool, bool) {
    /// Paths that have not acquired the mutex yet (bit 1) / have (bit 2).
    const PRISTINE: u8 = 1;
    const TOUCHED: u8 = 2;
    struct Pristine<'k, 'c, 'a> {
        key: &'k str,
        classify: Classify<'c, 'a>,
        /// Per release site: the union of states reaching it.
        releases: Vec<(Span, u8)>,
        /// Some path's first operation on the mutex is an acquisition.
        acquired_first: bool,
    }
    impl<'a> Analysis<'a> for Pristine<'_, '_, 'a> {
        type State = u8;
        fn bottom(&self) -> u8 {
            0
        }
        fn join(&self, into: &mut u8, other: &u8) {
            *into |= *other;
        }
        fn transfer(&mut self, e: &Elem<'a>, mut st: u8) -> u8 {
            if let Elem::Stmt(d @ Stmt::Defer(c)) = e {
                if defers_release(self.classify, self.key, &c.call) {
                    let span = d.span();
                    match self.releases.iter_mut().find(|r| r.0 == span) {
                        Some(r) => r.1 |= st,
                        None => self.releases.push((span, st)),
                    }
                }
            }
            let mut calls = Vec::new();
            elem_calls(e, &mut calls);
            for c in calls {
                let Some(op) = (self.classify)(c) else {
                    continue;
                };
                if op.key != self.key {
                    continue;
                }
                if op.op.is_release() {
                    match self.releases.iter_mut().find(|r| r.0 == c.span) {
                        Some(r) => r.1 |= st,
                        None => self.releases.push((c.span, st)),
                    }
                } else if st & PRISTINE != 0 {
                    self.acquired_first = true;
                }
                if st != 0 {
                    st = TOUCHED;
                }
            }
            st
        }
    }
    let mut p = Pristine {
        key,
        classify,
        releases: Vec::new(),
        acquired_first: false,
    };
    let sol = forward(cfg, &mut p, (ENTRY, 0), PRISTINE);
    // Entered with the lock held: every path's first operation on the mutex
    // is a release (loops that unlock and relock included); a path whose first
    // operation is an acquisition means conditional locking instead.
    (
        !p.acquired_first && p.releases.iter().any(|r| r.1 & PRISTINE != 0),
        sol.ins[EXIT] & PRISTINE != 0,
    )
}

/// `defer` of an unlock of `key` (direct, through a function, or in a closure).
fn defers_release<'a>(classify: Classify<'_, 'a>, key: &str, call: &'a Expr) -> bool {
    let Some(c) = call.as_call() else {
        return false;
    };
    if let Some(op) = classify(c) {
        return std::iter::once(&op)
            .chain(&op.also)
            .any(|o| o.key == key && o.op.is_release());
    }
    if let Expr::FuncLit(l) = c.fun.unparen() {
        // The closure must release a lock it did not take (a closure that
        // locks and unlocks does not); a guarded release (`if !unlocked {
        // mu.Unlock() }`) counts.
        let t = trace(&l.body, key, classify);
        return !t.unknown && t.entry_held.is_some();
    }
    false
}

/// The calls inside `e` in evaluation order — arguments run before the call,
/// so inner calls come first; function literals are not entered.
fn calls_in_eval_order<'a>(e: &'a Expr) -> Vec<&'a CallExpr> {
    let mut calls = Vec::new();
    walk::walk(Node::Expr(e), &mut |n, _| match n {
        Node::Expr(Expr::FuncLit(_)) => false,
        Node::Expr(Expr::Call(c)) => {
            calls.push(&**c);
            true
        }
        _ => true,
    });
    calls.reverse();
    calls
}

/// The calls an element makes in evaluation order (closures and deferred or
/// started calls not entered; their arguments are).
fn elem_calls<'a>(e: &Elem<'a>, out: &mut Vec<&'a CallExpr>) {
    let mut push = |x: &'a Expr| out.extend(calls_in_eval_order(x));
    match e {
        Elem::Stmt(Stmt::Go(c) | Stmt::Defer(c)) => {
            if let Some(call) = c.call.as_call() {
                call.args.iter().for_each(&mut push);
            }
        }
        Elem::Stmt(s) => {
            walk::for_each_child(Node::Stmt(s), &mut |n| {
                if let Node::Expr(x) = n {
                    push(x)
                }
            });
        }
        Elem::Cond(x) | Elem::Expr(x) => push(x),
        _ => {}
    }
}

/// The lock state of one mutex as a dataflow analysis over the engine's CFG.
struct LockFlow<'k, 'c, 'a> {
    key: &'k str,
    classify: Classify<'c, 'a>,
    end: Span,
    trace: Trace,
    /// A release reached with the mutex free on some path.
    free_release: Option<Op>,
}

impl<'a> Analysis<'a> for LockFlow<'_, '_, 'a> {
    type State = States;
    fn bottom(&self) -> States {
        0
    }
    fn join(&self, into: &mut States, other: &States) {
        *into |= *other;
    }
    fn transfer(&mut self, e: &Elem<'a>, st: States) -> States {
        *self.trace.at.entry(e.span()).or_insert(0) |= st;
        match e {
            Elem::Stmt(s) => self.simple(s, st),
            Elem::Cond(c) => {
                if self.try_lock_cond(c, st).is_some() {
                    st
                } else {
                    self.expr(c, st)
                }
            }
            Elem::Expr(x) => self.expr(x, st),
            Elem::RangeNext(_) | Elem::TypeSwitchBind(_) | Elem::Select(_) => st,
            Elem::Bad(_) => {
                self.trace.unknown = true;
                st
            }
        }
    }
    fn edge(&mut self, _from: BlockId, edge: &Edge<'a>, st: &States) -> States {
        if edge.to == EXIT && edge.jump.is_none() {
            self.trace.merge_exit(self.end, *st);
        }
        if let (Some(Jump::Branch(b)), Some(Stmt::For(_) | Stmt::Range(_))) =
            (edge.jump, edge.target)
        {
            if b.kind == BranchKind::Break {
                let lp = edge.target.map(|t| t.span()).unwrap_or_default();
                match self.trace.breaks.iter_mut().find(|x| x.0 == b.span) {
                    Some(x) => x.1 |= *st,
                    None => self.trace.breaks.push((b.span, *st, lp)),
                }
            }
        }
        if let Some((c, val)) = edge.cond {
            if let Some((t, e)) = self.try_lock_cond(c, *st) {
                return if val { t } else { e };
            }
        }
        *st
    }
}

impl<'k, 'c, 'a> LockFlow<'k, 'c, 'a> {
    /// Applies the mutex calls inside `e` (closures not entered), in source order.
    fn expr(&mut self, e: &'a Expr, mut st: States) -> States {
        for c in calls_in_eval_order(e) {
            st = self.call(c, st);
        }
        st
    }

    fn call(&mut self, c: &'a CallExpr, st: States) -> States {
        let Some(mut op) = (self.classify)(c) else {
            return st;
        };
        let also = std::mem::take(&mut op.also);
        let st = self.apply(c, op, st);
        also.into_iter().fold(st, |st, op| self.apply(c, op, st))
    }

    fn apply(&mut self, c: &'a CallExpr, op: MutexOp<'a>, st: States) -> States {
        if op.key != self.key {
            if op.op.is_acquire() {
                self.trace.merge_other(c.span, op.key, st);
            }
            return st;
        }
        if self.trace.class.is_none() {
            self.trace.class = op.class.clone();
        }
        match op.op {
            Op::Lock | Op::RLock => {
                self.trace.merge_acquire(c.span, op.op, op.via, st);
                if op.transient {
                    return st;
                }
                let mode = if op.op == Op::Lock { W } else { R };
                map(st, |_, d| (mode, d))
            }
            Op::Unlock | Op::RUnlock => {
                if !self.trace.releases.contains(&c.span) {
                    self.trace.releases.push(c.span);
                }
                if st & (bit(FREE, false) | bit(FREE, true)) != 0 {
                    self.free_release = Some(op.op);
                }
                map(st, |_, d| (FREE, d))
            }
            Op::TryLock => {
                self.trace.unknown = true;
                st
            }
        }
    }

    /// `TryLock` of this mutex as an `if` condition: (then, else) states.
    fn try_lock_cond(&self, cond: &'a Expr, st: States) -> Option<(States, States)> {
        let (c, neg) = match cond.unparen() {
            Expr::Unary(u) if u.op == "!" => (u.x.as_call()?, true),
            e => (e.as_call()?, false),
        };
        let op = (self.classify)(c)?;
        if op.key != self.key || op.op != Op::TryLock {
            return None;
        }
        let locked = map(st, |_, d| (W, d));
        Some(if neg { (st, locked) } else { (locked, st) })
    }

    fn simple(&mut self, s: &'a Stmt, st: States) -> States {
        match s {
            Stmt::Expr(e) => {
                if is_terminator(e) {
                    return 0;
                }
                self.expr(e, st)
            }
            Stmt::Assign(a) => {
                let mut st = st;
                for r in &a.rhs {
                    st = self.expr(r, st);
                }
                for l in &a.lhs {
                    st = self.expr(l, st);
                }
                st
            }
            Stmt::IncDec(i) => self.expr(&i.x, st),
            Stmt::Send(snd) => {
                let st = self.expr(&snd.chan, st);
                self.expr(&snd.value, st)
            }
            Stmt::Go(c) => {
                // Arguments are evaluated now; the call itself runs elsewhere.
                match c.call.as_call() {
                    Some(call) => call.args.iter().fold(st, |st, a| self.expr(a, st)),
                    None => st,
                }
            }
            Stmt::Defer(c) => {
                let st = match c.call.as_call() {
                    Some(call) => call.args.iter().fold(st, |st, a| self.expr(a, st)),
                    None => st,
                };
                if defers_release(self.classify, self.key, &c.call) {
                    if st & (bit(FREE, false) | bit(FREE, true)) != 0 {
                        self.free_release = Some(Op::Unlock);
                    }
                    map(st, |m, _| (m, true))
                } else {
                    st
                }
            }
            Stmt::Decl(g) => {
                let mut st = st;
                for spec in &g.specs {
                    if let Spec::Value(v) = spec {
                        for x in &v.values {
                            st = self.expr(x, st);
                        }
                    }
                }
                st
            }
            Stmt::Return(r) => {
                let mut st = st;
                for x in &r.results {
                    st = self.expr(x, st);
                }
                self.trace.merge_exit(r.span, st);
                st
            }
            _ => st,
        }
    }
}

/// Whether the return at `ret` is an early return after the acquisition at
/// `lock`: both sit in one statement list, the lock in an earlier statement,
/// the return nested inside a later compound statement (an error branch).
pub fn is_early_return(body: &Block, lock: Span, ret: Span) -> bool {
    let mut lists: Vec<&[Stmt]> = vec![&body.stmts];
    while let Some(list) = lists.pop() {
        let li = list.iter().position(|s| s.span().encloses(lock));
        let ri = list.iter().position(|s| s.span().encloses(ret));
        match (li, ri) {
            (Some(l), Some(r)) if l < r => {
                return !matches!(list[r], Stmt::Return(_));
            }
            (Some(l), Some(r)) if l == r => child_lists(&list[l], &mut lists),
            _ => {}
        }
    }
    false
}

/// The statement lists directly inside a statement (not inside closures).
fn child_lists<'a>(s: &'a Stmt, out: &mut Vec<&'a [Stmt]>) {
    match s {
        Stmt::Block(b) => out.push(&b.stmts),
        Stmt::Labeled(l) => child_lists(&l.stmt, out),
        Stmt::If(i) => {
            out.push(&i.then.stmts);
            let mut els = i.els.as_ref();
            while let Some(e) = els {
                match e {
                    Stmt::If(i2) => {
                        out.push(&i2.then.stmts);
                        els = i2.els.as_ref();
                    }
                    Stmt::Block(b) => {
                        out.push(&b.stmts);
                        els = None;
                    }
                    _ => els = None,
                }
            }
        }
        Stmt::For(f) => out.push(&f.body.stmts),
        Stmt::Range(r) => out.push(&r.body.stmts),
        Stmt::Switch(sw) => sw.cases.iter().for_each(|c| out.push(&c.body)),
        Stmt::TypeSwitch(sw) => sw.cases.iter().for_each(|c| out.push(&c.body)),
        Stmt::Select(sel) => sel.cases.iter().for_each(|c| out.push(&c.body)),
        _ => {}
    }
}

/// All mutex operations of a function body by key, for quick filtering.
pub fn ops_by_key<'a>(body: &'a Block, classify: Classify<'_, 'a>) -> HashMap<String, Vec<Op>> {
    let mut out: HashMap<String, Vec<Op>> = HashMap::new();
    walk::walk_body(body, &mut |n, _| {
        if let Node::Expr(Expr::Call(c)) = n {
            if let Some(op) = classify(c) {
                out.entry(op.key).or_default().push(op.op);
            }
        }
        true
    });
    out
}

/// The mutex operation of a call: a direct `Lock`/`Unlock`/... on a mutex, or
/// the summarized effect of a call to a function, method or local closure of
/// the package (see [`Summaries`]; rules that classify many calls keep one
/// `Summaries` so each callee is summarized once).
pub fn mutex_op<'a>(sc: &Scope<'a>, env: &Env<'a>, call: &'a CallExpr) -> Option<MutexOp<'a>> {
    Summaries::default().classify(sc, env, call)
}

/// Two mutexes held together: `second` acquired while `first` is held on
/// every path, in function `func`.
#[derive(Clone, Debug)]
pub struct OrderEdge {
    pub first: String,
    pub second: String,
    /// Where `second` is acquired.
    pub at: Span,
    /// Where `first` was acquired (the nearest earlier acquisition).
    pub first_at: Option<Span>,
    pub func: String,
}

/// The lock-order edges of a function body, by lock class.
pub fn order_edges<'a>(body: &'a Block, func: &str, classify: Classify<'_, 'a>) -> Vec<OrderEdge> {
    let mut classes: HashMap<String, String> = HashMap::new();
    let mut any_two = 0;
    walk::walk_body(body, &mut |n, _| {
        if let Node::Expr(Expr::Call(c)) = n {
            if let Some(op) = classify(c) {
                if let (true, Some(class)) = (op.op.is_acquire(), op.class) {
                    if let std::collections::hash_map::Entry::Vacant(v) = classes.entry(op.key) {
                        any_two += 1;
                        v.insert(class);
                    }
                }
            }
        }
        true
    });
    let mut out = Vec::new();
    if any_two < 2 {
        return out;
    }
    for (key, class) in &classes {
        let t = trace(body, key, classify);
        if t.unknown {
            continue;
        }
        for (span, other, st) in &t.others {
            let Some(other_class) = classes.get(other) else {
                continue;
            };
            if other_class == class || !always_held(*st) {
                continue;
            }
            let first_at = t
                .acquires
                .iter()
                .filter(|a| a.0.start < span.start)
                .max_by_key(|a| a.0.start)
                .map(|a| a.0);
            out.push(OrderEdge {
                first: class.clone(),
                second: other_class.clone(),
                at: *span,
                first_at,
                func: func.to_string(),
            });
        }
    }
    out.sort_by_key(|e| e.at.start);
    out
}

/// The text that names a mutex within one function: `s.mu`, `mu`,
/// `s.replicas[i].mu` (an index by a name or literal is kept; other indices
/// make the mutex unnamed).
pub fn key_of(e: &Expr) -> Option<String> {
    match e.unparen() {
        Expr::Ident(i) => Some(i.name.to_string()),
        Expr::Selector(s) => Some(format!("{}.{}", key_of(&s.x)?, s.sel.name)),
        Expr::Star(s) => key_of(&s.x),
        Expr::Index(i) if i.indices.len() == 1 => {
            let idx = match i.indices[0].unparen() {
                Expr::Ident(id) => id.name.clone(),
                Expr::BasicLit(l) => l.raw.clone(),
                _ => return None,
            };
            Some(format!("{}[{idx}]", key_of(&i.x)?))
        }
        _ => None,
    }
}

/// How deep calls are followed for summaries.
pub const MAX_DEPTH: u32 = 8;

/// Where a callee's mutex lives, relative to the callee.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Slot {
    /// The receiver (`""`) or a field path of it.
    Recv(String),
    /// The i-th parameter or a field path of it.
    Param(usize, String),
    /// As written: a package variable, or (for closures) a captured name.
    Same(String),
}

/// The net effect of calling a function on one mutex.
#[derive(Clone, Debug)]
struct Effect {
    slot: Slot,
    op: Op,
    /// Acquires and releases inside (the mutex must be free at the call).
    transient: bool,
    class: Option<String>,
}

/// What calling a function does to the mutexes it can reach.
#[derive(Clone, Debug, Default)]
pub struct LockSummary {
    effects: Vec<Effect>,
}

/// A memoized summary: its value, whether a cut shaped it (a recursive call,
/// or calls deeper than [`MAX_DEPTH`]), and how many call levels below the
/// summarized function its computation looked.
struct Memo<T> {
    value: Option<Arc<T>>,
    tainted: bool,
    height: u32,
}

/// A cut-free summary and its height (see [`Memo`]).
type SharedMemo<T> = (Option<Arc<T>>, u32);

/// (type name, field name).
type TypeField = (String, String);

/// The lock summaries of a package that no cut shaped, shared by every file
/// of the package (a package fact): such a summary is what any computation
/// of it would give, wherever it starts, as long as the calls it follows
/// stay within [`MAX_DEPTH`] from there (its `height` says how deep they go).
/// Without it, every file re-summarized the functions it calls: quadratic
/// when the files of a package all call into a call graph that grows with
/// the package.
#[derive(Default)]
pub struct SharedSummaries {
    /// Function or method declaration (by address) -> (summary, height).
    funcs: Mutex<HashMap<usize, SharedMemo<LockSummary>>>,
    /// (type, function-valued field) -> (effects of its callbacks, height).
    callbacks: Mutex<HashMap<TypeField, SharedMemo<Vec<Effect>>>>,
}

impl crate::facts::PackageFact for SharedSummaries {
    fn compute<'a>(
        _: &'a crate::index::Package<'a>,
        _: &'a crate::index::ProjectIndex<'a>,
    ) -> Self {
        SharedSummaries::default()
    }
}

/// Memoized lock summaries of a package's functions, methods and local
/// closures, followed through calls up to [`MAX_DEPTH`] levels; a recursive
/// call (a function whose summary is being computed) is cut: it says nothing.
/// Summaries no cut shaped are shared with the package's other files through
/// [`SharedSummaries`] (see [`Summaries::shared`]); the others stay in this
/// memo, so the findings do not depend on which file or thread came first.
pub struct Summaries<'a> {
    cache: RefCell<HashMap<usize, Memo<LockSummary>>>,
    busy: RefCell<HashSet<usize>>,
    envs: RefCell<HashMap<usize, Rc<Env<'a>>>>,
    /// Per `(type, field)`: what every callback installed in that
    /// function-valued field does to its owner's mutexes ([`Summaries::callback`]).
    callbacks: RefCell<HashMap<TypeField, Memo<Vec<Effect>>>>,
    callbacks_busy: RefCell<HashSet<TypeField>>,
    shared: Option<Arc<SharedSummaries>>,
    /// The computation in progress: whether a cut shaped it, and the deepest
    /// call level it classified a call at.
    frame: Cell<(bool, u32)>,
}

impl Default for Summaries<'_> {
    fn default() -> Self {
        Summaries {
            cache: RefCell::new(HashMap::new()),
            busy: RefCell::new(HashSet::new()),
            envs: RefCell::new(HashMap::new()),
            callbacks: RefCell::new(HashMap::new()),
            callbacks_busy: RefCell::new(HashSet::new()),
            shared: None,
            frame: Cell::new((false, 0)),
        }
    }
}

impl<'a> Summaries<'a> {
    /// A memo for one file of `pkg` that shares cut-free summaries with the
    /// package's other files.
    pub fn shared(
        pkg: &'a crate::index::Package<'a>,
        project: &'a crate::index::ProjectIndex<'a>,
    ) -> Self {
        Summaries {
            shared: Some(pkg.fact::<SharedSummaries>(project)),
            ..Summaries::default()
        }
    }

    /// Starts computing a summary at call depth `depth`; the previous frame.
    fn enter(&self, depth: u32) -> (bool, u32) {
        self.frame.replace((false, depth))
    }

    /// Ends the computation started at `depth` (restoring `outer`, which it
    /// taints and deepens): (tainted, height) of what was computed.
    fn leave(&self, outer: (bool, u32), depth: u32) -> (bool, u32) {
        let (tainted, deepest) = self.frame.get();
        self.frame.set((outer.0 || tainted, outer.1.max(deepest)));
        (tainted, deepest.saturating_sub(depth))
    }

    /// Uses a memo computed for a call at `depth`: its cuts and depth count
    /// toward the computation in progress.
    fn absorb(&self, tainted: bool, height: u32, depth: u32) {
        let (t, d) = self.frame.get();
        self.frame.set((t || tainted, d.max(depth + height)));
    }

    /// Whether a memo can stand for a computation at `depth`: a cut one as
    /// the memo always did; a cut-free one when its calls stay within
    /// [`MAX_DEPTH`] from there (else computing it now would cut).
    fn usable<T>(m: &Memo<T>, depth: u32) -> bool {
        m.tainted || depth + m.height < MAX_DEPTH
    }

    /// The mutex operations of `call` (in function scope `sc`/`env`): a direct
    /// `Lock`/`Unlock`/..., or the summarized effect of a call to a local
    /// closure or to a function or method of the package.
    pub fn classify(
        &self,
        sc: &Scope<'a>,
        env: &Env<'a>,
        call: &'a CallExpr,
    ) -> Option<MutexOp<'a>> {
        self.classify_at(sc, env, call, 0)
    }

    fn classify_at(
        &self,
        sc: &Scope<'a>,
        env: &Env<'a>,
        call: &'a CallExpr,
        depth: u32,
    ) -> Option<MutexOp<'a>> {
        let mut op = self.classify_raw(sc, env, call, depth)?;
        let pos = call.span.start;
        if let Some(k) = owner_alias(sc, env, pos, &op.key) {
            op.key = k;
        }
        for o in op.also.iter_mut() {
            if let Some(k) = owner_alias(sc, env, pos, &o.key) {
                o.key = k;
            }
        }
        Some(op)
    }

    fn classify_raw(
        &self,
        sc: &Scope<'a>,
        env: &Env<'a>,
        call: &'a CallExpr,
        depth: u32,
    ) -> Option<MutexOp<'a>> {
        if let Some(op) = direct_op(sc, env, call) {
            return Some(op);
        }
        self.absorb(false, 0, depth);
        if depth >= MAX_DEPTH {
            self.absorb(true, 0, depth);
            return None;
        }
        match call.fun.unparen() {
            Expr::Ident(id) => {
                // A local closure: `unlock := func() { mu.Unlock() }; unlock()`.
                if let Some(b) = env.resolve(id) {
                    let Some(Expr::FuncLit(lit)) = b.init.map(|e| e.unparen()) else {
                        return None;
                    };
                    let sum = self.summarize_lit(sc, env, lit, depth + 1)?;
                    return apply(&sum, None, &[], None);
                }
                let def = sc.pkg.funcs.get(id.name.as_str())?;
                let sum = self.summarize(sc, def, depth + 1)?;
                apply(&sum, None, &call.args, Some(&def.decl.name.name))
            }
            Expr::Selector(sel) => {
                let t = env.type_of(sc, &sel.x);
                let Ty::Named(path, tname) = t.deref() else {
                    return None;
                };
                if *path != sc.pkg.import_path() {
                    return None;
                }
                let Some(def) = sc.pkg.methods.get(&(*tname, sel.sel.name.as_str())) else {
                    // `x.onEvent(...)`: a call through a function-valued field.
                    if !matches!(sc.underlying(&sc.field(&t, &sel.sel.name)), Ty::Func(_)) {
                        return None;
                    }
                    let sum = LockSummary {
                        effects: self.callback(sc, tname, &sel.sel.name, depth + 1)?.to_vec(),
                    };
                    let recv = key_of(&sel.x)?;
                    return apply(&sum, Some(&recv), &[], Some(&sel.sel.name));
                };
                let sum = self.summarize(sc, def, depth + 1)?;
                let recv = key_of(&sel.x)?;
                apply(&sum, Some(&recv), &call.args, Some(&def.decl.name.name))
            }
            _ => None,
        }
    }

    fn env_for(&self, sc: &Scope<'a>, decl: &'a FuncDecl) -> Rc<Env<'a>> {
        let k = decl as *const FuncDecl as usize;
        if let Some(e) = self.envs.borrow().get(&k) {
            return e.clone();
        }
        let env = Rc::new(Env::build(sc, Node::FuncDecl(decl)));
        self.envs.borrow_mut().insert(k, env.clone());
        env
    }

    /// Calls `f` with every function declaration of the package that assigns
    /// field `field` of a value of the package's type `tname` (`x.field =
    /// ...`) or keys it in a `tname{field: ...}` literal, in file order, with
    /// its file's scope and its environment (see [`field_writers`]).
    fn each_func_writing(
        &self,
        sc: &Scope<'a>,
        field: &str,
        tname: &str,
        f: &mut dyn FnMut(Scope<'a>, &'a FuncDecl, Rc<Env<'a>>),
    ) {
        for (fi, di, types) in field_writers(sc, field).iter() {
            if !types.iter().any(|t| t == tname) {
                continue;
            }
            let file = &sc.pkg.files()[*fi];
            let Some(Decl::Func(fd)) = file.ast.decls.get(*di) else {
                continue;
            };
            let fsc = Scope {
                project: sc.project,
                pkg: sc.pkg,
                file,
            };
            f(fsc, fd, self.env_for(&fsc, fd));
        }
    }

    /// Calls `f` with every function declaration of the package whose text
    /// mentions `needle`, its file's scope and its environment.
    fn each_func_mentioning(
        &self,
        sc: &Scope<'a>,
        needle: &str,
        f: &mut dyn FnMut(Scope<'a>, &'a FuncDecl, Rc<Env<'a>>),
    ) {
        for (_, file, _, fd) in funcs_mentioning(sc.pkg, needle) {
            let fsc = Scope { file, ..*sc };
            f(fsc, fd, self.env_for(&fsc, fd));
        }
    }

    /// The memoized answer for `key` at call depth `depth`: this file's
    /// memo, else the package's cut-free one, else computed (a key being
    /// computed, or `cut`, gives a cut `None`). What was computed goes to the
    /// file's memo, and to the package's when no cut shaped it.
    #[allow(clippy::too_many_arguments)]
    fn memoized<K: std::hash::Hash + Eq + Clone, T>(
        &self,
        key: K,
        depth: u32,
        cut: bool,
        local: &RefCell<HashMap<K, Memo<T>>>,
        busy: &RefCell<HashSet<K>>,
        shared: Option<&Mutex<HashMap<K, SharedMemo<T>>>>,
        compute: impl FnOnce() -> Option<T>,
    ) -> Option<Arc<T>> {
        if let Some(m) = local.borrow().get(&key).filter(|m| Self::usable(m, depth)) {
            self.absorb(m.tainted, m.height, depth);
            return m.value.clone();
        }
        if let Some(shared) = shared {
            let hit = shared
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&key)
                .cloned();
            if let Some((value, height)) = hit.filter(|(_, h)| depth + h < MAX_DEPTH) {
                self.absorb(false, height, depth);
                return value;
            }
        }
        if cut || !busy.borrow_mut().insert(key.clone()) {
            self.absorb(true, 0, depth);
            return None; // too deep, or recursion: cut
        }
        let outer = self.enter(depth);
        let value = compute().map(Arc::new);
        let (tainted, height) = self.leave(outer, depth);
        busy.borrow_mut().remove(&key);
        if let (false, Some(shared)) = (tainted, shared) {
            shared
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key.clone(), (value.clone(), height));
        }
        local.borrow_mut().insert(
            key,
            Memo {
                value: value.clone(),
                tainted,
                height,
            },
        );
        value
    }

    /// The summary of a package function or method (memoized).
    fn summarize(&self, sc: &Scope<'a>, def: &FuncDef<'a>, depth: u32) -> Option<Arc<LockSummary>> {
        let k = def.decl as *const FuncDecl as usize;
        let shared = self.shared.as_deref().map(|s| &s.funcs);
        self.memoized(k, depth, false, &self.cache, &self.busy, shared, || {
            self.compute(sc, def, depth)
        })
    }

    fn compute(&self, sc: &Scope<'a>, def: &FuncDef<'a>, depth: u32) -> Option<LockSummary> {
        let body = def.decl.body.as_ref()?;
        let fsc = Scope {
            project: sc.project,
            pkg: sc.pkg,
            file: def.file,
        };
        let env = self.env_for(&fsc, def.decl);
        let recv = def.decl.recv_name().filter(|n| *n != "_");
        let params = def.decl.param_names();
        let classify = |c: &'a CallExpr| self.classify_at(&fsc, &env, c, depth);
        let slot = |key: &str| -> Option<Slot> {
            let (head, rest) = match key.find(['.', '[']) {
                Some(i) => (&key[..i], key[i..].trim_start_matches('.')),
                None => (key, ""),
            };
            if Some(head) == recv {
                return Some(Slot::Recv(rest.to_string()));
            }
            if let Some(i) = params.iter().position(|p| *p == head) {
                return Some(Slot::Param(i, rest.to_string()));
            }
            fsc.pkg
                .vars
                .contains_key(head)
                .then(|| Slot::Same(key.to_string()))
        };
        effects(body, &classify, &slot)
    }

    /// What calling the function-valued field `field` of the package's type
    /// `tname` does to the mutexes of the value holding it, as effects on
    /// [`Slot::Recv`]: known when every installation of the field in the
    /// package is a closure (assigned directly, `x.f = func() {...}`, or
    /// through a setter method, `x.SetF(func() {...})`) and all of them have
    /// the same effect on the mutexes of the `x` they are installed in.
    fn callback(
        &self,
        sc: &Scope<'a>,
        tname: &str,
        field: &str,
        depth: u32,
    ) -> Option<Arc<Vec<Effect>>> {
        let k = (tname.to_string(), field.to_string());
        let shared = self.shared.as_deref().map(|s| &s.callbacks);
        let cut = depth >= MAX_DEPTH;
        self.memoized(
            k,
            depth,
            cut,
            &self.callbacks,
            &self.callbacks_busy,
            shared,
            || self.compute_callback(sc, tname, field, depth),
        )
    }

    fn compute_callback(
        &self,
        sc: &Scope<'a>,
        tname: &str,
        field: &str,
        depth: u32,
    ) -> Option<Vec<Effect>> {
        let is_t = |env: &Env<'a>, fsc: &Scope<'a>, x: &'a Expr| matches!(env.type_of(fsc, x).deref(), Ty::Named(p, n) if *p == sc.pkg.import_path() && *n == tname);
        // The closure a value names: a literal, or a local bound to one.
        fn lit_of<'a>(env: &Env<'a>, v: &'a Expr) -> Option<&'a FuncLit> {
            match v.unparen() {
                Expr::FuncLit(l) => Some(l),
                Expr::Ident(id) => match env.resolve(id)?.init?.unparen() {
                    Expr::FuncLit(l) => Some(l),
                    _ => None,
                },
                _ => None,
            }
        }
        // Installations: (owner key, closure, scope, env).
        let mut installs: Vec<(String, &'a FuncLit, Scope<'a>, Rc<Env<'a>>)> = Vec::new();
        // Setter methods: (method name, parameter index).
        let mut setters: Vec<(&'a str, usize)> = Vec::new();
        let mut unknown = false;
        self.each_func_writing(sc, field, tname, &mut |fsc, fd, env| {
                let recv = fd.recv_name();
                let params = fd.param_names();
                walk::walk(Node::FuncDecl(fd), &mut |n, _| {
                    match n {
                        Node::Stmt(Stmt::Assign(a)) if !a.is_define() => {
                            for (l, r) in a.lhs.iter().zip(&a.rhs) {
                                let Expr::Selector(ls) = l.unparen() else {
                                    continue;
                                };
                                if ls.sel.name != field || !is_t(&env, &fsc, &ls.x) {
                                    continue;
                                }
                                if let (Some(lit), Some(owner)) = (lit_of(&env, r), key_of(&ls.x)) {
                                    installs.push((owner, lit, fsc, env.clone()));
                                    continue;
                                }
                                // `r.f = p` in a method of T with parameter p: a setter.
                                let setter = match (r.unparen(), key_of(&ls.x)) {
                                    (Expr::Ident(p), Some(owner))
                                        if Some(owner.as_str()) == recv =>
                                    {
                                        params.iter().position(|q| *q == p.name)
                                    }
                                    _ => None,
                                };
                                match setter {
                                    Some(i) if fd.recv.is_some() => {
                                        setters.push((fd.name.name.as_str(), i))
                                    }
                                    _ => unknown = true,
                                }
                            }
                        }
                        Node::Expr(Expr::CompositeLit(c)) => {
                            let keyed = c.elts.iter().any(|e| {
                                matches!(e, Expr::KeyValue(kv) if matches!(kv.key.unparen(), Expr::Ident(k) if k.name == field))
                            });
                            let of_t = c.ty.as_ref().is_some_and(|t| {
                                matches!(fsc.type_expr(t).deref(), Ty::Named(p, n) if *p == sc.pkg.import_path() && *n == tname)
                            });
                            if keyed && of_t {
                                unknown = true;
                            }
                        }
                        _ => {}
                    }
                    true
                });
        });
        if unknown {
            return None;
        }
        // Calls of the setters: `x.SetF(closure)`.
        for (name, i) in &setters {
            self.each_func_mentioning(sc, name, &mut |fsc, fd, env| {
                walk::walk(Node::FuncDecl(fd), &mut |n, _| {
                    if let Node::Expr(Expr::Call(c)) = n {
                        if let Expr::Selector(f) = c.fun.unparen() {
                            if f.sel.name == *name && is_t(&env, &fsc, &f.x) {
                                match (c.args.get(*i).and_then(|a| lit_of(&env, a)), key_of(&f.x)) {
                                    (Some(lit), Some(owner)) => {
                                        installs.push((owner, lit, fsc, env.clone()))
                                    }
                                    _ => unknown = true,
                                }
                            }
                        }
                    }
                    true
                });
            });
        }
        if unknown || installs.is_empty() {
            return None;
        }
        // Each closure's effects on its owner's mutexes, relative to the owner.
        let mut common: Option<Vec<Effect>> = None;
        for (owner, lit, fsc, env) in &installs {
            let sum = self.summarize_lit(fsc, env, lit, depth + 1);
            let prefix = format!("{owner}.");
            let mine: Vec<Effect> = sum
                .iter()
                .flat_map(|s| s.effects.iter())
                .filter_map(|e| match &e.slot {
                    Slot::Same(key) => key.strip_prefix(&prefix).map(|path| Effect {
                        slot: Slot::Recv(path.to_string()),
                        ..e.clone()
                    }),
                    _ => None,
                })
                .collect();
            common = Some(match common {
                None => mine,
                Some(c) => c
                    .into_iter()
                    .filter(|e| {
                        mine.iter()
                            .any(|m| m.slot == e.slot && m.op == e.op && m.transient == e.transient)
                    })
                    .collect(),
            });
        }
        common.filter(|c| !c.is_empty())
    }

    /// The summary of a local closure, in the names of the enclosing function.
    fn summarize_lit(
        &self,
        sc: &Scope<'a>,
        env: &Env<'a>,
        lit: &'a FuncLit,
        depth: u32,
    ) -> Option<Arc<LockSummary>> {
        let k = lit as *const FuncLit as usize;
        self.memoized(k, depth, false, &self.cache, &self.busy, None, || {
            let classify = |c: &'a CallExpr| self.classify_at(sc, env, c, depth);
            let slot = |key: &str| Some(Slot::Same(key.to_string()));
            effects(&lit.body, &classify, &slot)
        })
    }
}

/// A mutex reached from an element back to the owner of its collection:
/// in `for _, r := range s.replicas { ... r.store.mu ... }` (or `r :=
/// s.replicas[i]`), `r.store` is `s` when the element's type has exactly one
/// field of `s`'s type (a back-pointer to its owner) and is not that type
/// itself (a tree's `sibling` is no owner). Returns the key rewritten onto
/// the owner (`s.mu`).
fn owner_alias<'a>(sc: &Scope<'a>, env: &Env<'a>, pos: u32, key: &str) -> Option<String> {
    let (head, rest) = key.split_once('.')?;
    let (field, tail) = rest.split_once('.')?;
    if head.contains('[') || field.contains('[') {
        return None;
    }
    let b = env.lookup(head, pos)?;
    let coll = match (b.elem_of, b.init.map(|e| e.unparen())) {
        (Some(x), _) => x,
        (None, Some(Expr::Index(i))) => &i.x,
        _ => return None,
    };
    let Expr::Selector(cs) = coll.unparen() else {
        return None;
    };
    let owner = key_of(&cs.x)?;
    let Ty::Named(op, on) = env.type_of(sc, &cs.x).deref().clone() else {
        return None;
    };
    let Ty::Named(ep, en) = b.ty.deref().clone() else {
        return None;
    };
    if op != sc.pkg.import_path() || (ep, en) == (op, on) {
        return None;
    }
    if !matches!(sc.field(&b.ty, field).deref(), Ty::Named(p, n) if (*p, *n) == (op, on)) {
        return None;
    }
    // Exactly one field of the owner's type: the back-pointer.
    let Ty::Struct(st, file, path) = sc.underlying(b.ty.deref()) else {
        return None;
    };
    let pkg = sc.project.package(path)?;
    let fsc = Scope {
        project: sc.project,
        pkg,
        file,
    };
    let owners = st
        .fields
        .iter()
        .filter(|f| matches!(fsc.type_expr(&f.ty).deref(), Ty::Named(p, n) if (*p, *n) == (op, on)))
        .map(|f| f.names.len().max(1))
        .sum::<usize>();
    (owners == 1).then(|| format!("{owner}.{tail}"))
}

/// Maps a callee's effects onto the caller's names.
fn apply<'a>(
    sum: &LockSummary,
    recv: Option<&str>,
    args: &'a [Expr],
    via: Option<&'a str>,
) -> Option<MutexOp<'a>> {
    let join = |base: &str, path: &str| {
        if path.is_empty() {
            base.to_string()
        } else if path.starts_with('[') {
            format!("{base}{path}")
        } else {
            format!("{base}.{path}")
        }
    };
    let mut ops: Vec<MutexOp<'a>> = Vec::new();
    for e in &sum.effects {
        let key = match &e.slot {
            Slot::Recv(path) => match recv {
                Some(r) => join(r, path),
                None => continue,
            },
            Slot::Param(i, path) => match args.get(*i).and_then(key_of) {
                Some(k) => join(&k, path),
                None => continue,
            },
            Slot::Same(k) => k.clone(),
        };
        ops.push(MutexOp {
            key,
            op: e.op,
            via,
            transient: e.transient,
            class: e.class.clone(),
            also: Vec::new(),
        });
    }
    let mut it = ops.into_iter();
    let mut first = it.next()?;
    first.also = it.collect();
    Some(first)
}

/// Traces every mutex a body touches and keeps the net effects that hold on
/// every path: acquired (held on every exit), released (the function runs
/// with it held and every exit has let it go), or transient (taken and let go).
fn effects<'a>(
    body: &'a Block,
    classify: Classify<'_, 'a>,
    slot: &dyn Fn(&str) -> Option<Slot>,
) -> Option<LockSummary> {
    let mut keys: Vec<(String, Option<String>)> = Vec::new();
    // Closures included: a deferred closure's unlock is part of the effect.
    walk::walk(Node::Block(body), &mut |n, _| {
        if let Node::Expr(Expr::Call(c)) = n {
            if let Some(op) = classify(c) {
                for o in std::iter::once(&op).chain(&op.also) {
                    if !keys.iter().any(|k| k.0 == o.key) {
                        keys.push((o.key.clone(), o.class.clone()));
                    }
                }
            }
        }
        true
    });
    if keys.is_empty() {
        return None;
    }
    let cfg = crate::engine::build(body);
    let mut effects = Vec::new();
    for (key, class) in keys {
        let Some(sl) = slot(&key) else { continue };
        let t = trace_in(&cfg, &key, classify);
        if t.unknown || t.exits.is_empty() {
            continue;
        }
        let exits_free = t.exits.iter().all(|(_, st)| released_at_exit(*st));
        let exits_held = t.exits.iter().all(|(_, st)| always_held_undeferred(*st));
        let first_acq = t.acquires.iter().min_by_key(|a| a.0.start).map(|a| a.1);
        let (op, transient) = match (t.entry_held, first_acq) {
            (Some(mode), _) if exits_free => {
                (if mode == R { Op::RUnlock } else { Op::Unlock }, false)
            }
            (None, Some(acq)) if exits_held => (acq, false),
            // Transient only when every path takes it (`if shouldLock {
            // mu.Lock(); defer mu.Unlock() }` is conditional: no effect).
            (None, Some(acq)) if exits_free && !pristine(&cfg, &key, classify).1 => (acq, true),
            _ => continue,
        };
        effects.push(Effect {
            slot: sl,
            op,
            transient,
            class,
        });
    }
    (!effects.is_empty()).then_some(LockSummary { effects })
}

/// Whether every state is free or held with a deferred release (released
/// when the function returns).
fn released_at_exit(st: States) -> bool {
    st != 0 && each(st).all(|(m, d)| m == FREE || d)
}
