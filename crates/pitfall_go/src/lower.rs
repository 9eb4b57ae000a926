//! Lowering of tree-sitter-go's concrete syntax tree into [`crate::ast`].
//!
//! This is the only module that knows tree-sitter's node kinds. Anything it does
//! not recognise (an `ERROR` node, a grammar gap such as Go 1.26's `new(expr)`)
//! becomes a `Bad` node covering that subtree; the rest of the file is kept.
//!
//! Recursion depth here follows the nesting of the source, so it is counted:
//! a statement or expression nested deeper than [`crate::MAX_NESTING`] becomes a
//! `Bad` node. Every later recursion over the AST is bounded by the same limit.

use crate::ast::*;
use std::cell::{Cell, RefCell};
use tree_sitter::Node;

pub struct Lowerer<'s> {
    src: &'s str,
    depth: Cell<usize>,
    /// Set when some subtree was cut at the nesting limit.
    pub too_deep: Cell<bool>,
    /// Comments met while lowering (tree-sitter attaches them anywhere).
    pub comments: RefCell<Vec<Span>>,
}

/// Field ids of the grammar, looked up once: `child_by_field_name` would
/// compare the name against every field of the language on each call.
const FIELDS: &[&str] = &[
    "alias",
    "alternative",
    "arguments",
    "body",
    "capacity",
    "channel",
    "communication",
    "condition",
    "consequence",
    "element",
    "end",
    "field",
    "function",
    "index",
    "initializer",
    "key",
    "label",
    "left",
    "length",
    "name",
    "operand",
    "operator",
    "package",
    "parameters",
    "path",
    "receiver",
    "result",
    "right",
    "start",
    "tag",
    "type",
    "type_arguments",
    "type_parameters",
    "update",
    "value",
];

fn field_ids() -> &'static [u16] {
    static IDS: std::sync::OnceLock<Vec<u16>> = std::sync::OnceLock::new();
    IDS.get_or_init(|| {
        let lang: tree_sitter::Language = tree_sitter_go::LANGUAGE.into();
        FIELDS
            .iter()
            .map(|f| lang.field_id_for_name(f).map(|id| id.get()).unwrap_or(0))
            .collect()
    })
}

fn field_id(name: &str) -> u16 {
    match FIELDS.binary_search(&name) {
        Ok(i) => field_ids()[i],
        Err(_) => 0,
    }
}

/// The child in field `name` (a name from [`FIELDS`]).
fn child<'t>(n: Node<'t>, name: &str) -> Option<Node<'t>> {
    match field_id(name) {
        0 => None,
        id => n.child_by_field_id(id),
    }
}

fn span(n: Node) -> Span {
    Span::new(n.start_byte(), n.end_byte())
}

/// The operator tokens pitfall knows, so that AST nodes can hold `&'static str`.
fn intern_op(s: &str) -> &'static str {
    const OPS: &[&str] = &[
        "+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "&^", "&&", "||", "==", "!=", "<",
        "<=", ">", ">=", "!", "<-", "~", "=", ":=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=",
        "<<=", ">>=", "&^=",
    ];
    OPS.iter().copied().find(|o| *o == s).unwrap_or("?")
}

impl<'s> Lowerer<'s> {
    pub fn new(src: &'s str) -> Self {
        Lowerer {
            src,
            depth: Cell::new(0),
            too_deep: Cell::new(false),
            comments: RefCell::new(Vec::new()),
        }
    }

    fn text(&self, n: Node) -> &'s str {
        self.src.get(n.start_byte()..n.end_byte()).unwrap_or("")
    }

    /// Runs `f` one nesting level deeper, or returns `None` past the limit.
    fn nested<T>(&self, f: impl FnOnce() -> T) -> Option<T> {
        let d = self.depth.get();
        if d >= crate::MAX_NESTING {
            self.too_deep.set(true);
            return None;
        }
        self.depth.set(d + 1);
        let out = f();
        self.depth.set(d);
        Some(out)
    }

    fn ident(&self, n: Node) -> Ident {
        Ident {
            name: self.text(n).into(),
            span: span(n),
        }
    }

    /// Named children, without comments (tree-sitter puts them anywhere).
    fn named<'t>(&self, n: Node<'t>) -> Vec<Node<'t>> {
        let mut cur = n.walk();
        let mut out = Vec::with_capacity(n.named_child_count());
        for c in n.named_children(&mut cur) {
            // Comments are Go's only extras.
            if c.is_extra() {
                self.comments.borrow_mut().push(span(c));
            } else {
                out.push(c);
            }
        }
        out
    }

    /// The identifiers in field `name` of a parameter, spec or struct field
    /// (commas between them are anonymous children and skipped).
    fn names(&self, n: Node) -> Vec<Ident> {
        let id = std::num::NonZeroU16::new(field_id("name")).expect("grammar field");
        let mut cur = n.walk();
        let names = n
            .children_by_field_id(id, &mut cur)
            .filter(|c| c.is_named())
            .map(|c| self.ident(c))
            .collect();
        fit(names)
    }

    fn has_token(&self, n: Node, tok: &str) -> bool {
        let mut cur = n.walk();
        let found = n
            .children(&mut cur)
            .any(|c| !c.is_named() && c.kind() == tok);
        found
    }

    pub fn file(&self, root: Node) -> File {
        let mut file = File::default();
        for child in self.named(root) {
            match child.kind() {
                "package_clause" => {
                    file.package_span = span(child);
                    if let Some(id) = self.named(child).first() {
                        file.package = Some(self.ident(*id));
                    }
                }
                "import_declaration" => self.imports(child, &mut file.imports),
                "function_declaration" | "method_declaration" => {
                    file.decls.push(Decl::Func(self.func_decl(child)))
                }
                "var_declaration" | "const_declaration" | "type_declaration" => {
                    file.decls.push(Decl::Gen(self.gen_decl(child)))
                }
                _ => file.decls.push(Decl::Bad(span(child))),
            }
        }
        file.decls.shrink_to_fit();
        file.imports.shrink_to_fit();
        file
    }

    fn imports(&self, n: Node, out: &mut Vec<ImportSpec>) {
        for c in self.named(n) {
            match c.kind() {
                "import_spec" => {
                    let name = child(c, "name").map(|x| self.ident(x));
                    let path = child(c, "path")
                        .map(|p| {
                            self.text(p)
                                .trim_matches(|ch| ch == '"' || ch == '`')
                                .to_string()
                        })
                        .unwrap_or_default();
                    out.push(ImportSpec {
                        name,
                        path,
                        span: span(c),
                    });
                }
                "import_spec_list" => self.imports(c, out),
                _ => {}
            }
        }
    }

    fn func_decl(&self, n: Node) -> FuncDecl {
        let recv = child(n, "receiver").and_then(|r| self.params(r).into_iter().next());
        let name = child(n, "name").map(|x| self.ident(x)).unwrap_or(Ident {
            name: Name::default(),
            span: span(n),
        });
        let type_params = child(n, "type_parameters")
            .map(|t| self.type_params(t))
            .unwrap_or_default();
        FuncDecl {
            recv,
            name,
            type_params,
            ty: self.func_type(n),
            body: child(n, "body").map(|b| self.block(b)),
            span: span(n),
        }
    }

    /// The signature of a function declaration, literal, method elem or func type.
    fn func_type(&self, n: Node) -> FuncType {
        let params = child(n, "parameters")
            .map(|p| self.params(p))
            .unwrap_or_default();
        let results = match child(n, "result") {
            None => Vec::new(),
            Some(r) if r.kind() == "parameter_list" => self.params(r),
            Some(r) => vec![Field {
                names: Vec::new(),
                ty: self.expr(r),
                tag: None,
                variadic: false,
                span: span(r),
            }],
        };
        let end = child(n, "body")
            .map(|b| b.start_byte())
            .unwrap_or(n.end_byte());
        FuncType {
            params,
            results,
            span: Span::new(n.start_byte(), end),
        }
    }

    fn params(&self, n: Node) -> Vec<Field> {
        let mut out = Vec::new();
        for c in self.named(n) {
            match c.kind() {
                "parameter_declaration" | "variadic_parameter_declaration" => {
                    let names = self.names(c);
                    let ty = child(c, "type")
                        .map(|t| self.expr(t))
                        .unwrap_or(Expr::Bad(span(c)));
                    out.push(Field {
                        names,
                        ty,
                        tag: None,
                        variadic: c.kind() == "variadic_parameter_declaration",
                        span: span(c),
                    });
                }
                _ => {}
            }
        }
        fit(out)
    }

    fn type_params(&self, n: Node) -> Vec<Field> {
        let mut out = Vec::new();
        for c in self.named(n) {
            if c.kind() != "type_parameter_declaration" {
                continue;
            }
            let names = self.names(c);
            let ty = child(c, "type")
                .map(|t| self.union(t))
                .unwrap_or(Expr::Bad(span(c)));
            out.push(Field {
                names,
                ty,
                tag: None,
                variadic: false,
                span: span(c),
            });
        }
        fit(out)
    }

    /// A `type_constraint`/`type_elem`: one type, or a `|` union of several.
    fn union(&self, n: Node) -> Expr {
        let parts = self.named(n);
        let mut iter = parts.into_iter();
        let Some(first) = iter.next() else {
            return Expr::Bad(span(n));
        };
        let mut acc = self.expr(first);
        for p in iter {
            let y = self.expr(p);
            let sp = Span {
                start: acc.span().start,
                end: y.span().end,
            };
            acc = Expr::Binary(Box::new(BinaryExpr {
                op: "|",
                x: acc,
                y,
                span: sp,
            }));
        }
        acc
    }

    fn gen_decl(&self, n: Node) -> GenDecl {
        let kind = match n.kind() {
            "var_declaration" => GenKind::Var,
            "const_declaration" => GenKind::Const,
            _ => GenKind::Type,
        };
        let mut specs = Vec::new();
        self.specs(n, &mut specs);
        GenDecl {
            kind,
            specs: fit(specs),
            span: span(n),
        }
    }

    fn specs(&self, n: Node, out: &mut Vec<Spec>) {
        for c in self.named(n) {
            match c.kind() {
                "var_spec" | "const_spec" => {
                    let names = self.names(c);
                    let ty = child(c, "type").map(|t| self.expr(t));
                    let values = child(c, "value")
                        .map(|v| self.expr_list(v))
                        .unwrap_or_default();
                    out.push(Spec::Value(ValueSpec {
                        names,
                        ty,
                        values,
                        span: span(c),
                    }));
                }
                "type_spec" | "type_alias" => {
                    let name = child(c, "name").map(|x| self.ident(x)).unwrap_or(Ident {
                        name: Name::default(),
                        span: span(c),
                    });
                    let type_params = child(c, "type_parameters")
                        .map(|t| self.type_params(t))
                        .unwrap_or_default();
                    let ty = child(c, "type")
                        .map(|t| self.expr(t))
                        .unwrap_or(Expr::Bad(span(c)));
                    out.push(Spec::Type(TypeSpec {
                        name,
                        type_params,
                        alias: c.kind() == "type_alias",
                        ty,
                        span: span(c),
                    }));
                }
                "var_spec_list" => self.specs(c, out),
                _ => {}
            }
        }
    }

    fn block(&self, n: Node) -> Block {
        let mut stmts = Vec::new();
        self.stmts_into(n, &mut stmts);
        Block {
            stmts: fit(stmts),
            span: span(n),
        }
    }

    /// Statements of a block, case body or statement list (flattening lists).
    fn stmts_into(&self, n: Node, out: &mut Vec<Stmt>) {
        for c in self.named(n) {
            if c.kind() == "statement_list" {
                self.stmts_into(c, out);
            } else if let Some(s) = self.stmt_opt(c) {
                out.push(s);
            }
        }
    }

    /// Lowers a statement; `None` for nodes that are not statements (case
    /// values in a clause, for instance), which the caller skips.
    fn stmt_opt(&self, n: Node) -> Option<Stmt> {
        Some(match n.kind() {
            "expression_case" | "default_case" | "type_case" | "communication_case" => return None,
            "label_name" => return None,
            _ => self.stmt(n),
        })
    }

    fn stmt(&self, n: Node) -> Stmt {
        self.nested(|| self.stmt_inner(n))
            .unwrap_or(Stmt::Bad(span(n)))
    }

    fn stmt_inner(&self, n: Node) -> Stmt {
        let sp = span(n);
        match n.kind() {
            "expression_statement" => match self.named(n).first() {
                Some(e) => Stmt::Expr(self.expr(*e)),
                None => Stmt::Bad(sp),
            },
            "short_var_declaration" | "assignment_statement" => {
                let lhs = child(n, "left")
                    .map(|l| self.expr_list(l))
                    .unwrap_or_default();
                let rhs = child(n, "right")
                    .map(|r| self.expr_list(r))
                    .unwrap_or_default();
                let op = if n.kind() == "short_var_declaration" {
                    ":="
                } else {
                    child(n, "operator")
                        .map(|o| intern_op(self.text(o)))
                        .unwrap_or("=")
                };
                Stmt::Assign(Box::new(AssignStmt {
                    lhs,
                    op,
                    rhs,
                    span: sp,
                }))
            }
            "inc_statement" | "dec_statement" => {
                let x = self.first_expr(n);
                Stmt::IncDec(Box::new(IncDecStmt {
                    x,
                    inc: n.kind() == "inc_statement",
                    span: sp,
                }))
            }
            "send_statement" => Stmt::Send(Box::new(SendStmt {
                chan: self.field_expr(n, "channel"),
                value: self.field_expr(n, "value"),
                span: sp,
            })),
            "receive_statement" => {
                // Only inside select cases: `v, ok := <-ch` / `v = <-ch` / `<-ch`.
                let rhs = self.field_expr(n, "right");
                match child(n, "left") {
                    Some(l) => {
                        let op = if self.has_token(n, ":=") { ":=" } else { "=" };
                        Stmt::Assign(Box::new(AssignStmt {
                            lhs: self.expr_list(l),
                            op,
                            rhs: vec![rhs],
                            span: sp,
                        }))
                    }
                    None => Stmt::Expr(rhs),
                }
            }
            "go_statement" | "defer_statement" => {
                let call = self.first_expr(n);
                let s = Box::new(CallStmt { call, span: sp });
                if n.kind() == "go_statement" {
                    Stmt::Go(s)
                } else {
                    Stmt::Defer(s)
                }
            }
            "return_statement" => {
                let results = self
                    .named(n)
                    .first()
                    .map(|l| self.expr_list(*l))
                    .unwrap_or_default();
                Stmt::Return(Box::new(ReturnStmt { results, span: sp }))
            }
            "break_statement"
            | "continue_statement"
            | "goto_statement"
            | "fallthrough_statement" => {
                let kind = match n.kind() {
                    "break_statement" => BranchKind::Break,
                    "continue_statement" => BranchKind::Continue,
                    "goto_statement" => BranchKind::Goto,
                    _ => BranchKind::Fallthrough,
                };
                let label = self.named(n).first().map(|l| self.ident(*l));
                Stmt::Branch(Box::new(BranchStmt {
                    kind,
                    label,
                    span: sp,
                }))
            }
            "block" => Stmt::Block(self.block(n)),
            "if_statement" => Stmt::If(Box::new(IfStmt {
                init: child(n, "initializer").map(|i| self.stmt(i)),
                cond: self.field_expr(n, "condition"),
                then: child(n, "consequence")
                    .map(|b| self.block(b))
                    .unwrap_or_default(),
                els: child(n, "alternative").map(|a| self.stmt(a)),
                span: sp,
            })),
            "for_statement" => self.for_stmt(n),
            "expression_switch_statement" => {
                let cases = self.case_clauses(n);
                Stmt::Switch(Box::new(SwitchStmt {
                    init: child(n, "initializer").map(|i| self.stmt(i)),
                    tag: child(n, "value").map(|v| self.expr(v)),
                    cases,
                    span: sp,
                }))
            }
            "type_switch_statement" => {
                let bind =
                    child(n, "alias").and_then(|a| self.named(a).first().map(|i| self.ident(*i)));
                Stmt::TypeSwitch(Box::new(TypeSwitchStmt {
                    init: child(n, "initializer").map(|i| self.stmt(i)),
                    bind,
                    x: self.field_expr(n, "value"),
                    cases: self.case_clauses(n),
                    span: sp,
                }))
            }
            "select_statement" => {
                let mut cases = Vec::new();
                for c in self.named(n) {
                    match c.kind() {
                        "communication_case" => {
                            let comm = child(c, "communication").map(|x| self.stmt(x));
                            let mut body = Vec::new();
                            self.case_body(c, &mut body);
                            cases.push(CommClause {
                                comm,
                                body: fit(body),
                                span: span(c),
                            });
                        }
                        "default_case" => {
                            let mut body = Vec::new();
                            self.case_body(c, &mut body);
                            cases.push(CommClause {
                                comm: None,
                                body: fit(body),
                                span: span(c),
                            });
                        }
                        _ => {}
                    }
                }
                Stmt::Select(Box::new(SelectStmt {
                    cases: fit(cases),
                    span: sp,
                }))
            }
            "labeled_statement" => {
                let label = child(n, "label").map(|l| self.ident(l)).unwrap_or(Ident {
                    name: Name::default(),
                    span: sp,
                });
                let inner = self.named(n).into_iter().find(|c| c.kind() != "label_name");
                let stmt = inner.map(|s| self.stmt(s)).unwrap_or(Stmt::Empty(sp));
                Stmt::Labeled(Box::new(LabeledStmt {
                    label,
                    stmt,
                    span: sp,
                }))
            }
            "var_declaration" | "const_declaration" | "type_declaration" => {
                multi_value_var(self.gen_decl(n))
            }
            "empty_statement" => Stmt::Empty(sp),
            // An expression where a statement was expected (error recovery).
            k if is_expression_kind(k) => Stmt::Expr(self.expr(n)),
            _ => Stmt::Bad(sp),
        }
    }

    /// The statements of a case clause (everything after the case values).
    fn case_body(&self, c: Node, out: &mut Vec<Stmt>) {
        for ch in self.named(c) {
            if ch.kind() == "statement_list" {
                self.stmts_into(ch, out);
            }
        }
    }

    fn case_clauses(&self, n: Node) -> Vec<CaseClause> {
        let mut cases = Vec::new();
        for c in self.named(n) {
            let (list, is_default) = match c.kind() {
                "expression_case" => (
                    child(c, "value")
                        .map(|v| self.expr_list(v))
                        .unwrap_or_default(),
                    false,
                ),
                "type_case" => {
                    let mut cur = c.walk();
                    let list = c
                        .children_by_field_id(
                            std::num::NonZeroU16::new(field_id("type")).expect("grammar field"),
                            &mut cur,
                        )
                        .filter(|t| t.is_named())
                        .map(|t| self.expr(t))
                        .collect();
                    (fit(list), false)
                }
                "default_case" => (Vec::new(), true),
                _ => continue,
            };
            let mut body = Vec::new();
            self.case_body(c, &mut body);
            cases.push(CaseClause {
                list,
                is_default,
                body: fit(body),
                span: span(c),
            });
        }
        fit(cases)
    }

    fn for_stmt(&self, n: Node) -> Stmt {
        let sp = span(n);
        let body = child(n, "body").map(|b| self.block(b)).unwrap_or_default();
        let head = self.named(n).into_iter().find(|c| c.kind() != "block");
        match head {
            Some(h) if h.kind() == "range_clause" => {
                let left = child(h, "left")
                    .map(|l| self.expr_list(l))
                    .unwrap_or_default();
                let mut left = left.into_iter();
                Stmt::Range(Box::new(RangeStmt {
                    key: left.next(),
                    value: left.next(),
                    define: self.has_token(h, ":="),
                    x: self.field_expr(h, "right"),
                    body,
                    span: sp,
                }))
            }
            Some(h) if h.kind() == "for_clause" => Stmt::For(Box::new(ForStmt {
                init: child(h, "initializer").map(|i| self.stmt(i)),
                cond: child(h, "condition").map(|c| self.expr(c)),
                post: child(h, "update").map(|u| self.stmt(u)),
                body,
                span: sp,
            })),
            Some(h) => Stmt::For(Box::new(ForStmt {
                init: None,
                cond: Some(self.expr(h)),
                post: None,
                body,
                span: sp,
            })),
            None => Stmt::For(Box::new(ForStmt {
                init: None,
                cond: None,
                post: None,
                body,
                span: sp,
            })),
        }
    }

    fn expr_list(&self, n: Node) -> Vec<Expr> {
        if n.kind() != "expression_list" {
            return vec![self.expr(n)];
        }
        self.named(n).into_iter().map(|c| self.expr(c)).collect()
    }

    fn field_expr(&self, n: Node, field: &str) -> Expr {
        match child(n, field) {
            Some(c) => self.expr(c),
            None => Expr::Bad(span(n)),
        }
    }

    fn first_expr(&self, n: Node) -> Expr {
        match self.named(n).first() {
            Some(c) => self.expr(*c),
            None => Expr::Bad(span(n)),
        }
    }

    pub fn expr(&self, n: Node) -> Expr {
        self.nested(|| self.expr_inner(n))
            .unwrap_or(Expr::Bad(span(n)))
    }

    fn expr_inner(&self, n: Node) -> Expr {
        let sp = span(n);
        match n.kind() {
            "identifier" | "type_identifier" | "field_identifier" | "package_identifier"
            | "true" | "false" | "nil" | "iota" | "blank_identifier" => Expr::Ident(self.ident(n)),
            "int_literal" => self.lit(n, LitKind::Int),
            "float_literal" => self.lit(n, LitKind::Float),
            "imaginary_literal" => self.lit(n, LitKind::Imag),
            "rune_literal" => self.lit(n, LitKind::Char),
            "interpreted_string_literal" | "raw_string_literal" => self.lit(n, LitKind::String),
            "parenthesized_expression" | "parenthesized_type" => Expr::Paren(Box::new(ParenExpr {
                x: self.first_expr(n),
                span: sp,
            })),
            "selector_expression" => Expr::Selector(Box::new(SelectorExpr {
                x: self.field_expr(n, "operand"),
                sel: child(n, "field").map(|f| self.ident(f)).unwrap_or(Ident {
                    name: Name::default(),
                    span: sp,
                }),
                span: sp,
            })),
            "qualified_type" => Expr::Selector(Box::new(SelectorExpr {
                x: self.field_expr(n, "package"),
                sel: child(n, "name").map(|f| self.ident(f)).unwrap_or(Ident {
                    name: Name::default(),
                    span: sp,
                }),
                span: sp,
            })),
            "call_expression" => {
                let fun = self.field_expr(n, "function");
                let fun = match child(n, "type_arguments") {
                    Some(ta) => {
                        let indices = self.named(ta).into_iter().map(|t| self.union(t)).collect();
                        let fsp = Span {
                            start: fun.span().start,
                            end: ta.end_byte() as u32,
                        };
                        Expr::Index(Box::new(IndexExpr {
                            x: fun,
                            indices,
                            span: fsp,
                        }))
                    }
                    None => fun,
                };
                let mut args = Vec::new();
                let mut ellipsis = false;
                if let Some(al) = child(n, "arguments") {
                    for a in self.named(al) {
                        if a.kind() == "variadic_argument" {
                            ellipsis = true;
                            args.push(self.first_expr(a));
                        } else {
                            args.push(self.expr(a));
                        }
                    }
                }
                Expr::Call(Box::new(CallExpr {
                    fun,
                    args: fit(args),
                    ellipsis,
                    span: sp,
                }))
            }
            "type_conversion_expression" => Expr::Call(Box::new(CallExpr {
                fun: self.field_expr(n, "type"),
                args: vec![self.field_expr(n, "operand")],
                ellipsis: false,
                span: sp,
            })),
            "index_expression" => Expr::Index(Box::new(IndexExpr {
                x: self.field_expr(n, "operand"),
                indices: vec![self.field_expr(n, "index")],
                span: sp,
            })),
            "type_instantiation_expression" | "generic_type" => {
                let x = self.field_expr(n, "type");
                let indices = match child(n, "type_arguments") {
                    Some(ta) => self.named(ta).into_iter().map(|t| self.union(t)).collect(),
                    None => self
                        .named(n)
                        .into_iter()
                        .skip(1)
                        .map(|t| self.expr(t))
                        .collect(),
                };
                Expr::Index(Box::new(IndexExpr {
                    x,
                    indices,
                    span: sp,
                }))
            }
            "slice_expression" => Expr::Slice(Box::new(SliceExpr {
                x: self.field_expr(n, "operand"),
                lo: child(n, "start").map(|x| self.expr(x)),
                hi: child(n, "end").map(|x| self.expr(x)),
                max: child(n, "capacity").map(|x| self.expr(x)),
                span: sp,
            })),
            "type_assertion_expression" => Expr::TypeAssert(Box::new(TypeAssertExpr {
                x: self.field_expr(n, "operand"),
                ty: child(n, "type").map(|t| self.expr(t)),
                span: sp,
            })),
            "unary_expression" => {
                let op = child(n, "operator")
                    .map(|o| intern_op(self.text(o)))
                    .unwrap_or("?");
                let x = self.field_expr(n, "operand");
                if op == "*" {
                    Expr::Star(Box::new(StarExpr { x, span: sp }))
                } else {
                    Expr::Unary(Box::new(UnaryExpr { op, x, span: sp }))
                }
            }
            "binary_expression" => Expr::Binary(Box::new(BinaryExpr {
                op: child(n, "operator")
                    .map(|o| intern_op(self.text(o)))
                    .unwrap_or("?"),
                x: self.field_expr(n, "left"),
                y: self.field_expr(n, "right"),
                span: sp,
            })),
            "composite_literal" => Expr::CompositeLit(Box::new(CompositeLit {
                ty: child(n, "type").map(|t| self.expr(t)),
                elts: child(n, "body")
                    .map(|b| self.literal_elts(b))
                    .unwrap_or_default(),
                span: sp,
            })),
            "literal_value" => Expr::CompositeLit(Box::new(CompositeLit {
                ty: None,
                elts: self.literal_elts(n),
                span: sp,
            })),
            "literal_element" => self.first_expr(n),
            "keyed_element" => Expr::KeyValue(Box::new(KeyValueExpr {
                key: self.field_expr(n, "key"),
                value: self.field_expr(n, "value"),
                span: sp,
            })),
            "func_literal" => Expr::FuncLit(Box::new(FuncLit {
                ty: self.func_type(n),
                body: child(n, "body").map(|b| self.block(b)).unwrap_or_default(),
                span: sp,
            })),
            "pointer_type" => Expr::Star(Box::new(StarExpr {
                x: self.first_expr(n),
                span: sp,
            })),
            "slice_type" => Expr::ArrayType(Box::new(ArrayType {
                len: None,
                elem: self.field_expr(n, "element"),
                span: sp,
            })),
            "array_type" => Expr::ArrayType(Box::new(ArrayType {
                len: Some(self.field_expr(n, "length")),
                elem: self.field_expr(n, "element"),
                span: sp,
            })),
            "implicit_length_array_type" => Expr::ArrayType(Box::new(ArrayType {
                len: Some(Expr::Ellipsis(sp)),
                elem: self.field_expr(n, "element"),
                span: sp,
            })),
            "map_type" => Expr::MapType(Box::new(MapType {
                key: self.field_expr(n, "key"),
                value: self.field_expr(n, "value"),
                span: sp,
            })),
            "channel_type" => {
                let text = self.text(n);
                let dir = if text.starts_with("<-") {
                    ChanDir::Recv
                } else if text.starts_with("chan") && text[4..].trim_start().starts_with("<-") {
                    ChanDir::Send
                } else {
                    ChanDir::Both
                };
                Expr::ChanType(Box::new(ChanType {
                    dir,
                    elem: self.field_expr(n, "value"),
                    span: sp,
                }))
            }
            "function_type" => Expr::FuncType(Box::new(self.func_type(n))),
            "struct_type" => {
                let mut fields = Vec::new();
                if let Some(list) = self.named(n).first() {
                    for f in self.named(*list) {
                        if f.kind() == "field_declaration" {
                            fields.push(self.struct_field(f));
                        }
                    }
                }
                Expr::StructType(Box::new(StructType {
                    fields: fit(fields),
                    span: sp,
                }))
            }
            "interface_type" => {
                let mut elems = Vec::new();
                for e in self.named(n) {
                    match e.kind() {
                        "method_elem" => {
                            let name = child(e, "name").map(|x| self.ident(x));
                            elems.push(Field {
                                names: name.into_iter().collect(),
                                ty: Expr::FuncType(Box::new(self.func_type(e))),
                                tag: None,
                                variadic: false,
                                span: span(e),
                            });
                        }
                        "type_elem" => elems.push(Field {
                            names: Vec::new(),
                            ty: self.union(e),
                            tag: None,
                            variadic: false,
                            span: span(e),
                        }),
                        _ => {}
                    }
                }
                Expr::InterfaceType(Box::new(InterfaceType {
                    elems: fit(elems),
                    span: sp,
                }))
            }
            "negated_type" => Expr::Unary(Box::new(UnaryExpr {
                op: "~",
                x: self.first_expr(n),
                span: sp,
            })),
            "type_elem" | "type_constraint" => self.union(n),
            _ => Expr::Bad(sp),
        }
    }

    fn lit(&self, n: Node, kind: LitKind) -> Expr {
        Expr::BasicLit(BasicLit {
            kind,
            raw: self.text(n).into(),
            span: span(n),
        })
    }

    fn literal_elts(&self, body: Node) -> Vec<Expr> {
        self.named(body).into_iter().map(|e| self.expr(e)).collect()
    }

    fn struct_field(&self, f: Node) -> Field {
        let names = self.names(f);
        let mut ty = child(f, "type")
            .map(|t| self.expr(t))
            .unwrap_or(Expr::Bad(span(f)));
        // An embedded `*T` field carries the star as an anonymous token.
        if names.is_empty() && self.has_token(f, "*") {
            ty = Expr::Star(Box::new(StarExpr {
                x: ty,
                span: span(f),
            }));
        }
        let tag = child(f, "tag").map(|t| self.text(t).to_string());
        Field {
            names,
            ty,
            tag,
            variadic: false,
            span: span(f),
        }
    }
}

fn is_expression_kind(k: &str) -> bool {
    matches!(
        k,
        "call_expression"
            | "identifier"
            | "selector_expression"
            | "binary_expression"
            | "unary_expression"
            | "index_expression"
            | "parenthesized_expression"
            | "func_literal"
            | "composite_literal"
    )
}

/// `var a, b = f()` inside a function means exactly `a, b := f()` (both
/// declare new variables from one multi-value call); it is lowered to that
/// assignment so rules that follow `v, err := f()` see both spellings.
fn multi_value_var(g: GenDecl) -> Stmt {
    let one_call = matches!(g.specs.as_slice(),
        [Spec::Value(v)] if v.ty.is_none() && v.names.len() >= 2 && v.values.len() == 1
            && matches!(v.values[0], Expr::Call(_)));
    if g.kind != GenKind::Var || !one_call {
        return Stmt::Decl(g);
    }
    let span = g.span;
    let Some(Spec::Value(v)) = g.specs.into_iter().next() else {
        unreachable!("checked above")
    };
    Stmt::Assign(Box::new(AssignStmt {
        lhs: v.names.into_iter().map(Expr::Ident).collect(),
        op: ":=",
        rhs: v.values,
        span,
    }))
}

/// The vector without spare capacity. Trees live until the run ends, and a
/// vector grown by `push` keeps room for 4 (then 2x) elements: measured on the
/// standard library, that slack was about a fifth of the peak heap.
fn fit<T>(mut v: Vec<T>) -> Vec<T> {
    v.shrink_to_fit();
    v
}
