//! Context values inside one function: where a context is derived
//! (`ctx, cancel := context.WithTimeout(parent, d)`), where the cancel
//! function goes, which goroutines capture the context, and which contexts a
//! function has at hand (its `context.Context` and `*http.Request` parameters).
//!
//! Everything here is syntax plus the front end's type inference; the rules
//! decide what is worth reporting.

use crate::ast::*;
use crate::types::{Scope, Ty};
use crate::walk::{self, Func, Node};

/// `ctx, cancel := context.WithX(...)` (or `=`), directly in a statement list.
#[derive(Clone, Copy, Debug)]
pub struct Derivation<'a> {
    /// The innermost function the statement runs in.
    pub func: Func<'a>,
    pub body: &'a Block,
    pub stmt: &'a Stmt,
    pub assign: &'a AssignStmt,
    pub call: &'a CallExpr,
}

impl<'a> Derivation<'a> {
    /// The derived context variable (`None` for `_` or a non-identifier).
    pub fn ctx(&self) -> Option<&'a Ident> {
        self.assign
            .lhs
            .first()
            .and_then(|e| e.as_ident())
            .filter(|i| !i.is_blank())
    }
    /// The left-hand side that receives the cancel function.
    pub fn cancel(&self) -> &'a Expr {
        &self.assign.lhs[1]
    }
}

/// The `context` functions that derive a context with a cancel function.
pub const CANCEL_DERIVERS: &[&str] = &[
    "WithCancel",
    "WithTimeout",
    "WithDeadline",
    "WithCancelCause",
    "WithTimeoutCause",
    "WithDeadlineCause",
];

/// Every two-value assignment of the file whose right side is one call that
/// `is_deriver` accepts, when the statement sits directly in a statement list.
pub fn derivations<'a>(
    file: &'a File,
    is_deriver: &dyn Fn(&'a CallExpr) -> bool,
) -> Vec<Derivation<'a>> {
    let mut out = Vec::new();
    walk::walk_file(file, &mut |n, anc| {
        if let Node::Stmt(s @ Stmt::Assign(a)) = n {
            let in_list = matches!(
                anc.last(),
                Some(Node::Block(_) | Node::Case(_) | Node::Comm(_))
            );
            if a.lhs.len() == 2 && a.rhs.len() == 1 && (a.op == ":=" || a.op == "=") && in_list {
                if let (Some(call), Some(func)) = (a.rhs[0].as_call(), walk::enclosing_func(anc)) {
                    if let Some(body) = func.body() {
                        if is_deriver(call) {
                            out.push(Derivation {
                                func,
                                body,
                                stmt: s,
                                assign: a,
                                call,
                            });
                        }
                    }
                }
            }
        }
        true
    });
    out
}

/// The context-bearing parameters of a function: `(name, is_request)` for each
/// named parameter of type `context.Context` or `*http.Request`.
pub fn context_params<'a>(sc: &Scope<'a>, ty: &'a FuncType) -> Vec<(&'a Ident, bool)> {
    let mut out = Vec::new();
    for p in &ty.params {
        let t = sc.type_expr(&p.ty);
        let is_ctx = t.is_named("context", "Context");
        let is_req = matches!(&t, Ty::Pointer(inner) if inner.is_named("net/http", "Request"));
        if !is_ctx && !is_req {
            continue;
        }
        for n in p.names.iter().filter(|n| !n.is_blank()) {
            out.push((n, is_req));
        }
    }
    out
}

/// Whether `ty` is an HTTP handler signature: `(http.ResponseWriter, *http.Request)`.
/// Returns the writer's and the request's names.
pub fn handler_params<'a>(
    sc: &Scope<'a>,
    ty: &'a FuncType,
) -> Option<(Option<&'a Ident>, Option<&'a Ident>)> {
    let mut names: Vec<(Option<&'a Ident>, Ty<'a>)> = Vec::new();
    for p in &ty.params {
        let t = sc.type_expr(&p.ty);
        if p.names.is_empty() {
            names.push((None, t));
        } else {
            for n in &p.names {
                names.push((Some(n).filter(|n| !n.is_blank()), t.clone()));
            }
        }
    }
    if names.len() != 2 {
        return None;
    }
    let w_ok = names[0].1.is_named("net/http", "ResponseWriter");
    let r_ok = matches!(&names[1].1, Ty::Pointer(inner) if inner.is_named("net/http", "Request"));
    (w_ok && r_ok).then(|| (names[0].0, names[1].0))
}

/// Whether an identifier named `name` is used anywhere below `n`, function
/// literals included, as a value (not as the field name of a selector).
pub fn uses(n: Node<'_>, name: &str) -> bool {
    crate::flow::mentions(n, name)
}

/// Whether `body` waits for something (see [`waits`]) in a statement that
/// starts at or after `pos`, outside closures: e.g. after a `go` statement.
pub fn waits_after(body: &Block, pos: u32) -> bool {
    let mut found = false;
    walk::walk_body(body, &mut |n, _| {
        if found {
            return false;
        }
        if n.span().end <= pos {
            return true;
        }
        if n.span().start >= pos {
            if let Some(s) = n.as_stmt() {
                found = waits(std::slice::from_ref(s));
                return false;
            }
        }
        true
    });
    found
}

/// Whether the statements contain something that waits for a goroutine:
/// a `Wait()` call (`sync.WaitGroup`, `errgroup.Group`), a receive, a `select`,
/// or a `range` over a value (channels included). Function literals are not
/// entered.
pub fn waits(stmts: &[Stmt]) -> bool {
    let mut found = false;
    for s in stmts {
        walk::walk(Node::Stmt(s), &mut |n, _| {
            if found {
                return false;
            }
            match n {
                Node::Expr(Expr::FuncLit(_)) => return false,
                Node::Expr(Expr::Unary(u)) if u.op == "<-" => found = true,
                Node::Stmt(Stmt::Select(_) | Stmt::Range(_)) => found = true,
                Node::Expr(Expr::Call(c)) => {
                    if matches!(c.method_name(), Some("Wait" | "WaitContext")) {
                        found = true;
                    }
                }
                _ => {}
            }
            true
        });
        if found {
            return true;
        }
    }
    found
}

/// The code a `go` statement runs: the literal's body, or `None` for a named
/// function (its arguments are evaluated before the goroutine starts).
pub fn go_body(go: &CallStmt) -> Option<&FuncLit> {
    match go.call.as_call()?.fun.unparen() {
        Expr::FuncLit(l) => Some(l),
        _ => None,
    }
}

/// Whether `name` (a context variable) is handed to a call inside `n`:
/// `f(ctx)`, `x.M(ctx, ...)`, `context.WithTimeout(ctx, ...)`. Uses that only
/// watch it (`ctx.Done()`, `ctx.Err()`) do not count.
pub fn passes_to_call(n: Node<'_>, name: &str) -> bool {
    let mut found = false;
    walk::walk(n, &mut |n, _| {
        if found {
            return false;
        }
        if let Node::Expr(Expr::Call(c)) = n {
            if c.args.iter().any(|a| a.ident_name() == Some(name)) {
                found = true;
            }
        }
        true
    });
    found
}

/// In package `main`: the package-level functions that only ever run at
/// startup — `main`, `init`, and functions reachable from them through direct
/// calls, unless some code also uses them as a value (a handler registered
/// with a router runs per request). Empty for other packages.
pub fn startup_only_funcs<'a>(
    pkg: &crate::index::Package<'a>,
) -> std::collections::HashSet<&'a str> {
    use std::collections::{HashMap, HashSet};
    let mut out = HashSet::new();
    if pkg.src.name != "main" {
        return out;
    }
    let mut callees: HashMap<&'a str, Vec<&'a str>> = HashMap::new();
    let mut as_value: HashSet<&'a str> = HashSet::new();
    let mut roots = Vec::new();
    for file in pkg.files().iter().filter(|f| !f.is_test) {
        for decl in &file.ast.decls {
            let Decl::Func(fd) = decl else { continue };
            let Some(body) = &fd.body else { continue };
            let name = fd.name.name.as_str();
            if fd.recv.is_none() && (name == "main" || name == "init") {
                roots.push(name);
            }
            let mut calls = Vec::new();
            let mut called_idents: HashSet<Span> = HashSet::new();
            walk::walk(Node::Block(body), &mut |n, _| {
                if let Node::Expr(Expr::Call(c)) = n {
                    if let Expr::Ident(id) = c.fun.unparen() {
                        called_idents.insert(id.span);
                        if pkg.funcs.contains_key(id.name.as_str()) {
                            calls.push(id.name.as_str());
                        }
                    }
                }
                if let Node::Expr(Expr::Ident(id)) = n {
                    if !called_idents.contains(&id.span) && pkg.funcs.contains_key(id.name.as_str())
                    {
                        as_value.insert(id.name.as_str());
                    }
                }
                true
            });
            if fd.recv.is_none() {
                callees.entry(name).or_default().extend(calls);
            }
        }
    }
    let mut stack = roots;
    while let Some(f) = stack.pop() {
        if as_value.contains(f) || !out.insert(f) {
            continue;
        }
        if let Some(cs) = callees.get(f) {
            stack.extend(cs.iter().copied());
        }
    }
    out
}
