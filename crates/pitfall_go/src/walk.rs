//! Walking the AST, with the chain of ancestors at hand.
//!
//! `walk(root, |node, ancestors| -> bool)` is the Rust twin of go/ast.Inspect:
//! the callback sees each node in source order together with its ancestors
//! (outermost first) and returns whether to descend into it. Type expressions
//! (parameter types, composite literal types) are not visited: rules look at
//! them through the nodes that hold them.
//!
//! Recursion depth is bounded by the nesting limit enforced at parse time.

use crate::ast::*;

#[derive(Clone, Copy, Debug)]
pub enum Node<'a> {
    FuncDecl(&'a FuncDecl),
    /// A package-level or local `var`/`const` spec.
    ValueSpec(&'a ValueSpec),
    Block(&'a Block),
    Stmt(&'a Stmt),
    Expr(&'a Expr),
    Case(&'a CaseClause),
    Comm(&'a CommClause),
}

impl<'a> Node<'a> {
    pub fn span(&self) -> Span {
        match self {
            Node::FuncDecl(f) => f.span,
            Node::ValueSpec(v) => v.span,
            Node::Block(b) => b.span,
            Node::Stmt(s) => s.span(),
            Node::Expr(e) => e.span(),
            Node::Case(c) => c.span,
            Node::Comm(c) => c.span,
        }
    }

    pub fn as_stmt(&self) -> Option<&'a Stmt> {
        match self {
            Node::Stmt(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_expr(&self) -> Option<&'a Expr> {
        match self {
            Node::Expr(e) => Some(e),
            _ => None,
        }
    }

    /// The function this node starts, if it is a function declaration or literal.
    pub fn as_func(&self) -> Option<Func<'a>> {
        match self {
            Node::FuncDecl(f) => Some(Func::Decl(f)),
            Node::Expr(Expr::FuncLit(l)) => Some(Func::Lit(l)),
            _ => None,
        }
    }

    /// Whether this node is a `for` or `range` loop.
    pub fn is_loop(&self) -> bool {
        matches!(self, Node::Stmt(Stmt::For(_) | Stmt::Range(_)))
    }
}

/// A function declaration or a function literal.
#[derive(Clone, Copy, Debug)]
pub enum Func<'a> {
    Decl(&'a FuncDecl),
    Lit(&'a FuncLit),
}

impl<'a> Func<'a> {
    pub fn ty(&self) -> &'a FuncType {
        match self {
            Func::Decl(d) => &d.ty,
            Func::Lit(l) => &l.ty,
        }
    }
    pub fn body(&self) -> Option<&'a Block> {
        match self {
            Func::Decl(d) => d.body.as_ref(),
            Func::Lit(l) => Some(&l.body),
        }
    }
    pub fn span(&self) -> Span {
        match self {
            Func::Decl(d) => d.span,
            Func::Lit(l) => l.span,
        }
    }
    pub fn name(&self) -> Option<&'a str> {
        match self {
            Func::Decl(d) => Some(&d.name.name),
            Func::Lit(_) => None,
        }
    }
}

/// The units that own their local names: each function declaration and each
/// package-level `var`/`const` spec (whose initialisers may hold closures).
pub fn top_level_roots(file: &File) -> Vec<Node<'_>> {
    let mut out = Vec::new();
    for decl in &file.decls {
        match decl {
            Decl::Func(f) => out.push(Node::FuncDecl(f)),
            Decl::Gen(g) => out.extend(g.specs.iter().filter_map(|s| match s {
                Spec::Value(v) => Some(Node::ValueSpec(v)),
                Spec::Type(_) => None,
            })),
            Decl::Bad(_) => {}
        }
    }
    out
}

/// The top-level declaration (see [`top_level_roots`]) that holds offset `pos`.
pub fn top_level_root_at(file: &File, pos: u32) -> Option<Node<'_>> {
    top_level_roots(file)
        .into_iter()
        .find(|r| r.span().contains(pos))
}

/// Visits every top-level declaration of a file.
pub fn walk_file<'a>(file: &'a File, f: &mut dyn FnMut(Node<'a>, &[Node<'a>]) -> bool) {
    let mut stack = Vec::with_capacity(32);
    for decl in &file.decls {
        match decl {
            Decl::Func(fd) => walk_rec(Node::FuncDecl(fd), &mut stack, f),
            Decl::Gen(g) => {
                for spec in &g.specs {
                    if let Spec::Value(v) = spec {
                        walk_rec(Node::ValueSpec(v), &mut stack, f);
                    }
                }
            }
            Decl::Bad(_) => {}
        }
    }
}

/// Visits `root` and everything below it.
pub fn walk<'a>(root: Node<'a>, f: &mut dyn FnMut(Node<'a>, &[Node<'a>]) -> bool) {
    let mut stack = Vec::with_capacity(32);
    walk_rec(root, &mut stack, f);
}

/// Visits the statements of a function body without entering nested function
/// literals (their code runs at another time, maybe in another goroutine).
pub fn walk_body<'a>(body: &'a Block, f: &mut dyn FnMut(Node<'a>, &[Node<'a>]) -> bool) {
    walk(Node::Block(body), &mut |n, anc| {
        if matches!(n, Node::Expr(Expr::FuncLit(_))) {
            return false;
        }
        f(n, anc)
    });
}

fn walk_rec<'a>(
    n: Node<'a>,
    stack: &mut Vec<Node<'a>>,
    f: &mut dyn FnMut(Node<'a>, &[Node<'a>]) -> bool,
) {
    if !f(n, stack) {
        return;
    }
    stack.push(n);
    for_each_child(n, &mut |c| walk_rec(c, stack, f));
    stack.pop();
}

/// Calls `f` on each direct child of `n`, in source order.
pub fn for_each_child<'a>(n: Node<'a>, f: &mut dyn FnMut(Node<'a>)) {
    let e = |x: &'a Expr, f: &mut dyn FnMut(Node<'a>)| f(Node::Expr(x));
    match n {
        Node::FuncDecl(d) => {
            if let Some(b) = &d.body {
                f(Node::Block(b));
            }
        }
        Node::ValueSpec(v) => v.values.iter().for_each(|x| e(x, f)),
        Node::Block(b) => b.stmts.iter().for_each(|s| f(Node::Stmt(s))),
        Node::Case(c) => {
            c.list.iter().for_each(|x| e(x, f));
            c.body.iter().for_each(|s| f(Node::Stmt(s)));
        }
        Node::Comm(c) => {
            if let Some(s) = &c.comm {
                f(Node::Stmt(s));
            }
            c.body.iter().for_each(|s| f(Node::Stmt(s)));
        }
        Node::Stmt(s) => match s {
            Stmt::Expr(x) => e(x, f),
            Stmt::Assign(a) => {
                a.lhs.iter().for_each(|x| e(x, f));
                a.rhs.iter().for_each(|x| e(x, f));
            }
            Stmt::IncDec(i) => e(&i.x, f),
            Stmt::Send(s) => {
                e(&s.chan, f);
                e(&s.value, f);
            }
            Stmt::Go(c) | Stmt::Defer(c) => e(&c.call, f),
            Stmt::Return(r) => r.results.iter().for_each(|x| e(x, f)),
            Stmt::Branch(_) | Stmt::Empty(_) | Stmt::Bad(_) => {}
            Stmt::Block(b) => b.stmts.iter().for_each(|s| f(Node::Stmt(s))),
            Stmt::If(i) => {
                if let Some(init) = &i.init {
                    f(Node::Stmt(init));
                }
                e(&i.cond, f);
                f(Node::Block(&i.then));
                if let Some(els) = &i.els {
                    f(Node::Stmt(els));
                }
            }
            Stmt::For(l) => {
                if let Some(init) = &l.init {
                    f(Node::Stmt(init));
                }
                if let Some(c) = &l.cond {
                    e(c, f);
                }
                if let Some(p) = &l.post {
                    f(Node::Stmt(p));
                }
                f(Node::Block(&l.body));
            }
            Stmt::Range(r) => {
                if let Some(k) = &r.key {
                    e(k, f);
                }
                if let Some(v) = &r.value {
                    e(v, f);
                }
                e(&r.x, f);
                f(Node::Block(&r.body));
            }
            Stmt::Switch(s) => {
                if let Some(init) = &s.init {
                    f(Node::Stmt(init));
                }
                if let Some(t) = &s.tag {
                    e(t, f);
                }
                s.cases.iter().for_each(|c| f(Node::Case(c)));
            }
            Stmt::TypeSwitch(s) => {
                if let Some(init) = &s.init {
                    f(Node::Stmt(init));
                }
                e(&s.x, f);
                s.cases.iter().for_each(|c| f(Node::Case(c)));
            }
            Stmt::Select(s) => s.cases.iter().for_each(|c| f(Node::Comm(c))),
            Stmt::Labeled(l) => f(Node::Stmt(&l.stmt)),
            Stmt::Decl(g) => {
                for spec in &g.specs {
                    if let Spec::Value(v) = spec {
                        f(Node::ValueSpec(v));
                    }
                }
            }
        },
        Node::Expr(x) => match x {
            Expr::Ident(_) | Expr::BasicLit(_) | Expr::Ellipsis(_) | Expr::Bad(_) => {}
            Expr::CompositeLit(c) => c.elts.iter().for_each(|x| e(x, f)),
            Expr::FuncLit(l) => f(Node::Block(&l.body)),
            Expr::Paren(p) => e(&p.x, f),
            Expr::Selector(s) => e(&s.x, f),
            Expr::Index(i) => {
                e(&i.x, f);
                i.indices.iter().for_each(|x| e(x, f));
            }
            Expr::Slice(s) => {
                e(&s.x, f);
                for x in [&s.lo, &s.hi, &s.max].into_iter().flatten() {
                    e(x, f);
                }
            }
            Expr::TypeAssert(t) => e(&t.x, f),
            Expr::Call(c) => {
                e(&c.fun, f);
                c.args.iter().for_each(|x| e(x, f));
            }
            Expr::Star(s) => e(&s.x, f),
            Expr::Unary(u) => e(&u.x, f),
            Expr::Binary(b) => {
                e(&b.x, f);
                e(&b.y, f);
            }
            Expr::KeyValue(k) => {
                e(&k.key, f);
                e(&k.value, f);
            }
            Expr::ArrayType(_)
            | Expr::MapType(_)
            | Expr::ChanType(_)
            | Expr::FuncType(_)
            | Expr::StructType(_)
            | Expr::InterfaceType(_) => {}
        },
    }
}

/// The innermost function (declaration or literal) among `ancestors`.
pub fn enclosing_func<'a>(ancestors: &[Node<'a>]) -> Option<Func<'a>> {
    ancestors.iter().rev().find_map(|n| n.as_func())
}

/// The innermost loop among `ancestors` that belongs to the same function as
/// the node (a function literal boundary stops the search).
pub fn enclosing_loop<'a>(ancestors: &[Node<'a>]) -> Option<&'a Stmt> {
    for n in ancestors.iter().rev() {
        if n.as_func().is_some() {
            return None;
        }
        if n.is_loop() {
            return n.as_stmt();
        }
    }
    None
}

/// Every function (declarations and literals) of a file, outermost first.
pub fn funcs(file: &File) -> Vec<Func<'_>> {
    let mut out = Vec::new();
    walk_file(file, &mut |n, _| {
        if let Some(f) = n.as_func() {
            out.push(f);
        }
        true
    });
    out
}

/// Calls `f` on every call expression below `root` (including nested closures).
pub fn calls<'a>(root: Node<'a>, f: &mut dyn FnMut(&'a CallExpr, &[Node<'a>])) {
    walk(root, &mut |n, anc| {
        if let Node::Expr(Expr::Call(c)) = n {
            f(c, anc);
        }
        true
    });
}

/// Every call whose first result is thrown away where it is made: an
/// expression statement `f(x)` or an assignment whose first target is blank
/// (`_, err := f(x)`, `_, _ = f(x)`, `_ = f(x)`). Calls under `go`/`defer`
/// are not included (their results cannot be used at all).
pub fn first_result_discarded(file: &File) -> Vec<&Expr> {
    let mut out = Vec::new();
    walk_file(file, &mut |n, _| {
        match n {
            Node::Stmt(Stmt::Expr(e)) if e.unparen().as_call().is_some() => out.push(e.unparen()),
            Node::Stmt(Stmt::Assign(a)) if a.rhs.len() == 1 => {
                let blank = a
                    .lhs
                    .first()
                    .and_then(|l| l.as_ident())
                    .is_some_and(|i| i.is_blank());
                let call = a.rhs[0].unparen();
                if blank && (a.op == "=" || a.op == ":=") && call.as_call().is_some() {
                    out.push(call);
                }
            }
            _ => {}
        }
        true
    });
    out
}

/// Where a statement sits, by syntax (no paths): the chain of statement
/// lists from `body` down to the statement that encloses `span` most closely,
/// as (list, index of the statement in it, the statement owning the list —
/// `None` for `body` itself). An `else` branch and a labelled statement count
/// as one-statement lists. Questions about paths (what runs after, what runs
/// again) are the engine's ([`crate::engine::reach`]).
pub fn enclosing_lists<'a>(
    body: &'a Block,
    span: Span,
) -> Vec<(&'a [Stmt], usize, Option<&'a Stmt>)> {
    let mut out = Vec::new();
    let mut list: &'a [Stmt] = &body.stmts;
    let mut owner: Option<&'a Stmt> = None;
    'outer: while let Some(idx) = list.iter().position(|s| s.span().encloses(span)) {
        out.push((list, idx, owner));
        let s = &list[idx];
        if s.span() == span {
            break;
        }
        let inner: Vec<&'a [Stmt]> = match s {
            Stmt::Block(b) => vec![&b.stmts],
            Stmt::If(i) => {
                let mut v: Vec<&'a [Stmt]> = vec![&i.then.stmts];
                // The else branch (a block or an `else if`) as a one-statement list.
                if let Some(e) = &i.els {
                    v.push(std::slice::from_ref(e));
                }
                v
            }
            Stmt::For(f) => vec![&f.body.stmts],
            Stmt::Range(r) => vec![&r.body.stmts],
            Stmt::Switch(sw) => sw.cases.iter().map(|c| c.body.as_slice()).collect(),
            Stmt::TypeSwitch(sw) => sw.cases.iter().map(|c| c.body.as_slice()).collect(),
            Stmt::Select(sel) => sel.cases.iter().map(|c| c.body.as_slice()).collect(),
            Stmt::Labeled(l) => vec![std::slice::from_ref(&l.stmt)],
            _ => break,
        };
        for l in inner {
            if l.iter().any(|x| x.span().encloses(span)) {
                list = l;
                owner = Some(s);
                continue 'outer;
            }
        }
        break;
    }
    out
}
