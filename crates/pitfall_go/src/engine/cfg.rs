//! The control-flow graph of one function body (see the design note in
//! [`crate::engine`]).

use crate::ast::*;
use std::collections::HashMap;

pub type BlockId = usize;
/// The entry block of every CFG.
pub const ENTRY: BlockId = 0;
/// The single exit block: every `return` and the fall-off edge lead here.
pub const EXIT: BlockId = 1;

/// One step of a basic block, executed in order.
#[derive(Clone, Copy, Debug)]
pub enum Elem<'a> {
    /// A simple statement: expression, assignment, `x++`, send, `go`, `defer`,
    /// `var` declaration, `return`, or a select clause's communication.
    Stmt(&'a Stmt),
    /// An `if` or `for` condition; the block's out-edges carry its outcome.
    Cond(&'a Expr),
    /// An expression evaluated for its effects or value: a switch tag, a case
    /// value, a range operand, a type switch operand.
    Expr(&'a Expr),
    /// The head of a `range` loop: takes the next element (assigns key/value) or ends.
    RangeNext(&'a RangeStmt),
    /// `switch v := x.(type)`: binds `v` in each clause.
    TypeSwitchBind(&'a TypeSwitchStmt),
    /// The goroutine blocks here until one of the select's cases can proceed.
    Select(&'a SelectStmt),
    /// Code that did not parse: analyses should give up on the function.
    Bad(Span),
}

impl Elem<'_> {
    pub fn span(&self) -> Span {
        match self {
            Elem::Stmt(s) => s.span(),
            Elem::Cond(e) | Elem::Expr(e) => e.span(),
            Elem::RangeNext(r) => r.span,
            Elem::TypeSwitchBind(t) => t.span,
            Elem::Select(s) => s.span,
            Elem::Bad(s) => *s,
        }
    }
}

/// The statement that made an edge jump.
#[derive(Clone, Copy, Debug)]
pub enum Jump<'a> {
    Branch(&'a BranchStmt),
    Return(&'a ReturnStmt),
}

impl Jump<'_> {
    pub fn span(&self) -> Span {
        match self {
            Jump::Branch(b) => b.span,
            Jump::Return(r) => r.span,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Edge<'a> {
    pub to: BlockId,
    /// The condition this edge is taken on, and its value (`if`, `for`, tagless `case`).
    pub cond: Option<(&'a Expr, bool)>,
    /// The `break`/`continue`/`goto`/`fallthrough`/`return` that made the jump.
    pub jump: Option<Jump<'a>>,
    /// For `break`/`continue`: the loop, switch or select statement it targets.
    pub target: Option<&'a Stmt>,
}

#[derive(Clone, Debug)]
pub struct Block<'a> {
    pub elems: Vec<Elem<'a>>,
    pub succs: Vec<Edge<'a>>,
    /// The innermost statement list (block, case or comm clause) the block's code is in.
    pub scope: Span,
}

#[derive(Debug)]
pub struct Cfg<'a> {
    pub blocks: Vec<Block<'a>>,
    /// The function body.
    pub body: &'a Block_,
    /// The closing brace of the body: where falling off the end happens.
    pub end: Span,
    /// Number of predecessors of each block.
    pub preds: Vec<u32>,
    /// A `break`/`continue`/`goto` whose target was not found (code that does not compile).
    pub unresolved: bool,
}

/// The AST block type (named apart from the CFG's basic [`Block`]).
pub type Block_ = crate::ast::Block;

impl<'a> Cfg<'a> {
    /// Where an element sits: (block, index in the block), found by span.
    pub fn find(&self, span: Span) -> Option<(BlockId, usize)> {
        for (b, blk) in self.blocks.iter().enumerate() {
            if let Some(i) = blk.elems.iter().position(|e| e.span() == span) {
                return Some((b, i));
            }
        }
        None
    }

    /// Whether any path from the entry reaches block `b`.
    pub fn reachable(&self) -> Vec<bool> {
        let mut seen = vec![false; self.blocks.len()];
        let mut stack = vec![ENTRY];
        while let Some(b) = stack.pop() {
            if std::mem::replace(&mut seen[b], true) {
                continue;
            }
            stack.extend(self.blocks[b].succs.iter().map(|e| e.to));
        }
        seen
    }
}

/// Whether this expression ends the path without returning:
/// `panic(...)`, `log.Fatal*`, `os.Exit`, `t.Fatal*`, `runtime.Goexit()`.
pub fn is_terminator(e: &Expr) -> bool {
    let Some(call) = e.as_call() else {
        return false;
    };
    match call.fun.unparen() {
        Expr::Ident(id) => id.name == "panic",
        Expr::Selector(s) => matches!(
            s.sel.name.as_str(),
            "Fatal"
                | "Fatalf"
                | "Fatalln"
                | "Exit"
                | "Goexit"
                | "FailNow"
                | "Panic"
                | "Panicf"
                | "Panicln"
                | "Skip"
                | "Skipf"
                | "SkipNow"
        ),
        _ => false,
    }
}

/// Builds the CFG of a function body.
pub fn build(body: &Block_) -> Cfg<'_> {
    let mut b = Builder {
        blocks: Vec::new(),
        cur: ENTRY,
        scopes: vec![body.span],
        targets: Vec::new(),
        labels: HashMap::new(),
        fallthrough: None,
        unresolved: false,
    };
    b.new_block(); // ENTRY
    b.new_block(); // EXIT
    b.cur = ENTRY;
    let end = b.list_into(ENTRY, &body.stmts, body.span);
    b.edge(end, EXIT, None, None);
    let mut preds = vec![0u32; b.blocks.len()];
    for blk in &b.blocks {
        for e in &blk.succs {
            preds[e.to] += 1;
        }
    }
    Cfg {
        blocks: b.blocks,
        body,
        end: Span {
            start: body.span.end.saturating_sub(1),
            end: body.span.end,
        },
        preds,
        unresolved: b.unresolved,
    }
}

struct Target<'a> {
    stmt: &'a Stmt,
    label: Option<&'a str>,
    brk: BlockId,
    /// Where `continue` goes (loops only).
    cont: Option<BlockId>,
}

struct Builder<'a> {
    blocks: Vec<Block<'a>>,
    cur: BlockId,
    scopes: Vec<Span>,
    targets: Vec<Target<'a>>,
    labels: HashMap<&'a str, BlockId>,
    fallthrough: Option<BlockId>,
    unresolved: bool,
}

impl<'a> Builder<'a> {
    fn new_block(&mut self) -> BlockId {
        self.blocks.push(Block {
            elems: Vec::new(),
            succs: Vec::new(),
            scope: *self.scopes.last().expect("a scope"),
        });
        self.blocks.len() - 1
    }

    fn add(&mut self, e: Elem<'a>) {
        let cur = self.cur;
        self.blocks[cur].elems.push(e);
    }

    fn edge(
        &mut self,
        from: BlockId,
        to: BlockId,
        cond: Option<(&'a Expr, bool)>,
        jump: Option<Jump<'a>>,
    ) {
        self.blocks[from].succs.push(Edge {
            to,
            cond,
            jump,
            target: None,
        });
    }

    /// Ends the current block with a jump; what follows is unreachable.
    fn jump_to(&mut self, to: BlockId, jump: Jump<'a>) {
        self.edge(self.cur, to, None, Some(jump));
        self.cur = self.new_block();
    }

    fn label_block(&mut self, name: &'a str) -> BlockId {
        if let Some(b) = self.labels.get(name) {
            return *b;
        }
        let b = self.new_block();
        self.labels.insert(name, b);
        b
    }

    /// Builds `stmts` (the list whose span is `scope`) starting in block `start`;
    /// returns the block where control falls off the list's end.
    fn list_into(&mut self, start: BlockId, stmts: &'a [Stmt], scope: Span) -> BlockId {
        self.blocks[start].scope = scope;
        self.scopes.push(scope);
        self.cur = start;
        for s in stmts {
            self.stmt(s, None);
        }
        self.scopes.pop();
        self.cur
    }

    fn stmt(&mut self, s: &'a Stmt, label: Option<&'a str>) {
        match s {
            Stmt::Expr(e) => {
                self.add(Elem::Stmt(s));
                if is_terminator(e) {
                    self.cur = self.new_block();
                }
            }
            Stmt::Assign(_)
            | Stmt::IncDec(_)
            | Stmt::Send(_)
            | Stmt::Go(_)
            | Stmt::Defer(_)
            | Stmt::Decl(_)
            | Stmt::Empty(_) => self.add(Elem::Stmt(s)),
            Stmt::Bad(span) => self.add(Elem::Bad(*span)),
            Stmt::Return(r) => {
                self.add(Elem::Stmt(s));
                self.jump_to(EXIT, Jump::Return(r));
            }
            Stmt::Branch(br) => self.branch(br),
            Stmt::Block(b) => {
                let inner = self.new_block();
                self.edge(self.cur, inner, None, None);
                let end = self.list_into(inner, &b.stmts, b.span);
                let after = self.new_block();
                self.edge(end, after, None, None);
                self.cur = after;
            }
            Stmt::Labeled(l) => {
                let lb = self.label_block(&l.label.name);
                self.blocks[lb].scope = *self.scopes.last().expect("a scope");
                self.edge(self.cur, lb, None, None);
                self.cur = lb;
                self.stmt(&l.stmt, Some(&l.label.name));
            }
            Stmt::If(i) => self.if_stmt(i),
            Stmt::For(f) => self.for_stmt(s, f, label),
            Stmt::Range(r) => self.range_stmt(s, r, label),
            Stmt::Switch(sw) => {
                if let Some(init) = &sw.init {
                    self.stmt(init, None);
                }
                if let Some(tag) = &sw.tag {
                    self.add(Elem::Expr(tag));
                }
                self.cases(s, &sw.cases, sw.tag.is_none(), label);
            }
            Stmt::TypeSwitch(sw) => {
                if let Some(init) = &sw.init {
                    self.stmt(init, None);
                }
                self.add(Elem::Expr(&sw.x));
                self.add(Elem::TypeSwitchBind(sw));
                self.cases(s, &sw.cases, false, label);
            }
            Stmt::Select(sel) => self.select(s, sel, label),
        }
    }

    fn branch(&mut self, br: &'a BranchStmt) {
        let want = br.label.as_ref().map(|l| l.name.as_str());
        let (to, target) = match br.kind {
            BranchKind::Break => self
                .targets
                .iter()
                .rev()
                .find(|t| want.is_none() || t.label == want)
                .map(|t| (t.brk, Some(t.stmt)))
                .unzip(),
            BranchKind::Continue => self
                .targets
                .iter()
                .rev()
                .filter(|t| t.cont.is_some())
                .find(|t| want.is_none() || t.label == want)
                .and_then(|t| Some((t.cont?, Some(t.stmt))))
                .unzip(),
            BranchKind::Goto => (want.map(|l| self.label_block(l)), None),
            BranchKind::Fallthrough => (self.fallthrough, None),
        };
        match to {
            Some(to) => {
                let from = self.cur;
                self.jump_to(to, Jump::Branch(br));
                if let Some(e) = self.blocks[from].succs.last_mut() {
                    e.target = target.flatten();
                }
            }
            None => {
                self.unresolved = true;
                self.cur = self.new_block();
            }
        }
    }

    fn if_stmt(&mut self, i: &'a IfStmt) {
        if let Some(init) = &i.init {
            self.stmt(init, None);
        }
        self.add(Elem::Cond(&i.cond));
        let head = self.cur;
        let then = self.new_block();
        self.edge(head, then, Some((&i.cond, true)), None);
        let then_end = self.list_into(then, &i.then.stmts, i.then.span);
        let else_end = match &i.els {
            Some(els) => {
                let eb = self.new_block();
                self.edge(head, eb, Some((&i.cond, false)), None);
                self.cur = eb;
                self.stmt(els, None);
                Some(self.cur)
            }
            None => None,
        };
        let after = self.new_block();
        self.edge(then_end, after, None, None);
        match else_end {
            Some(e) => self.edge(e, after, None, None),
            None => self.edge(head, after, Some((&i.cond, false)), None),
        }
        self.cur = after;
    }

    fn for_stmt(&mut self, stmt: &'a Stmt, f: &'a ForStmt, label: Option<&'a str>) {
        if let Some(init) = &f.init {
            self.stmt(init, None);
        }
        let header = self.new_block();
        self.edge(self.cur, header, None, None);
        let body = self.new_block();
        let after = self.new_block();
        let post = f.post.as_ref().map(|_| self.new_block());
        match &f.cond {
            Some(c) => {
                self.blocks[header].elems.push(Elem::Cond(c));
                self.edge(header, body, Some((c, true)), None);
                self.edge(header, after, Some((c, false)), None);
            }
            None => self.edge(header, body, None, None),
        }
        let cont = post.unwrap_or(header);
        self.targets.push(Target {
            stmt,
            label,
            brk: after,
            cont: Some(cont),
        });
        let end = self.list_into(body, &f.body.stmts, f.body.span);
        self.targets.pop();
        self.edge(end, cont, None, None);
        if let (Some(p), Some(ps)) = (post, &f.post) {
            self.cur = p;
            self.stmt(ps, None);
            self.edge(self.cur, header, None, None);
        }
        self.cur = after;
    }

    fn range_stmt(&mut self, stmt: &'a Stmt, r: &'a RangeStmt, label: Option<&'a str>) {
        self.add(Elem::Expr(&r.x));
        let header = self.new_block();
        self.edge(self.cur, header, None, None);
        self.blocks[header].elems.push(Elem::RangeNext(r));
        let body = self.new_block();
        let after = self.new_block();
        self.edge(header, body, None, None);
        self.edge(header, after, None, None);
        self.targets.push(Target {
            stmt,
            label,
            brk: after,
            cont: Some(header),
        });
        let end = self.list_into(body, &r.body.stmts, r.body.span);
        self.targets.pop();
        self.edge(end, header, None, None);
        self.cur = after;
    }

    fn cases(
        &mut self,
        stmt: &'a Stmt,
        cases: &'a [CaseClause],
        tagless: bool,
        label: Option<&'a str>,
    ) {
        // Go tests the cases in source order, each clause's expressions only
        // when every earlier clause failed; `default` runs when all failed.
        let after = self.new_block();
        let bodies: Vec<BlockId> = cases.iter().map(|_| self.new_block()).collect();
        for (c, &b) in cases.iter().zip(&bodies) {
            if c.is_default {
                continue;
            }
            for x in &c.list {
                self.add(Elem::Expr(x));
            }
            let test = self.cur;
            let next = self.new_block();
            let cond = (tagless && c.list.len() == 1).then_some(&c.list[0]);
            self.edge(test, b, cond.map(|x| (x, true)), None);
            self.edge(test, next, cond.map(|x| (x, false)), None);
            self.cur = next;
        }
        let no_match = match cases.iter().position(|c| c.is_default) {
            Some(d) => bodies[d],
            None => after,
        };
        self.edge(self.cur, no_match, None, None);
        self.targets.push(Target {
            stmt,
            label,
            brk: after,
            cont: None,
        });
        let saved = self.fallthrough;
        for (i, c) in cases.iter().enumerate() {
            self.fallthrough = bodies.get(i + 1).copied();
            let end = self.list_into(bodies[i], &c.body, c.span);
            self.edge(end, after, None, None);
        }
        self.fallthrough = saved;
        self.targets.pop();
        self.cur = after;
    }

    fn select(&mut self, stmt: &'a Stmt, sel: &'a SelectStmt, label: Option<&'a str>) {
        self.add(Elem::Select(sel));
        let head = self.cur;
        let after = self.new_block();
        self.targets.push(Target {
            stmt,
            label,
            brk: after,
            cont: None,
        });
        for c in &sel.cases {
            let b = self.new_block();
            self.edge(head, b, None, None);
            self.blocks[b].scope = c.span;
            if let Some(comm) = &c.comm {
                self.blocks[b].elems.push(Elem::Stmt(comm));
            }
            let end = self.list_into(b, &c.body, c.span);
            self.edge(end, after, None, None);
        }
        self.targets.pop();
        self.cur = after;
    }
}
