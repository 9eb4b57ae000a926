//! The Go syntax tree that rules see.
//!
//! It mirrors `go/ast` closely so that rules read like Go analysis passes:
//! types are expressions (as in go/ast), conversions are calls, generic
//! instantiations and index expressions share one shape ([`Expr::Index`]).
//! Every node carries a byte [`Span`] into the file's source.
//!
//! Parse errors never make a whole file disappear: a subtree that did not parse
//! becomes [`Expr::Bad`] / [`Stmt::Bad`] / [`Decl::Bad`] and the rest is kept.

pub use crate::name::Name;

/// A half-open byte range `[start, end)` in the source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }
    pub fn contains(self, pos: u32) -> bool {
        self.start <= pos && pos < self.end
    }
    pub fn encloses(self, other: Span) -> bool {
        self.start <= other.start && other.end <= self.end
    }
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

#[derive(Clone, Debug)]
pub struct Ident {
    pub name: Name,
    pub span: Span,
}

impl Ident {
    pub fn is_blank(&self) -> bool {
        self.name == "_"
    }
}

#[derive(Debug, Default)]
pub struct File {
    pub package: Option<Ident>,
    pub imports: Vec<ImportSpec>,
    pub decls: Vec<Decl>,
    /// Every comment of the file, in source order.
    pub comments: Vec<Span>,
    /// Number of syntax errors tree-sitter recovered from.
    pub syntax_errors: u32,
    /// Span of the `package` clause (0..0 when missing).
    pub package_span: Span,
    /// Some code nested deeper than [`crate::MAX_NESTING`] was left out.
    pub too_deep: bool,
}

#[derive(Clone, Debug)]
pub struct ImportSpec {
    /// `None` for a plain import; `_`, `.` or an alias otherwise.
    pub name: Option<Ident>,
    /// The unquoted import path.
    pub path: String,
    pub span: Span,
}

#[derive(Debug)]
pub enum Decl {
    Func(FuncDecl),
    Gen(GenDecl),
    Bad(Span),
}

impl Decl {
    pub fn span(&self) -> Span {
        match self {
            Decl::Func(f) => f.span,
            Decl::Gen(g) => g.span,
            Decl::Bad(s) => *s,
        }
    }
}

#[derive(Debug)]
pub struct FuncDecl {
    pub recv: Option<Field>,
    pub name: Ident,
    pub type_params: Vec<Field>,
    pub ty: FuncType,
    pub body: Option<Block>,
    pub span: Span,
}

impl FuncDecl {
    /// The receiver's name: `t` for `(t *T)` (`None` without a receiver or a name).
    pub fn recv_name(&self) -> Option<&str> {
        self.recv.as_ref()?.names.first().map(|n| n.name.as_str())
    }

    /// The names of the parameters, in order.
    pub fn param_names(&self) -> Vec<&str> {
        self.ty
            .params
            .iter()
            .flat_map(|f| f.names.iter().map(|n| n.name.as_str()))
            .collect()
    }

    /// The receiver's base type name: `T` for `(t *T)`, `(t T)` or `(t *T[K])`.
    pub fn recv_type_name(&self) -> Option<&str> {
        let recv = self.recv.as_ref()?;
        let mut ty = &recv.ty;
        loop {
            match ty {
                Expr::Star(s) => ty = &s.x,
                Expr::Paren(p) => ty = &p.x,
                Expr::Index(i) => ty = &i.x,
                Expr::Ident(id) => return Some(&id.name),
                _ => return None,
            }
        }
    }
}

#[derive(Debug, Default)]
pub struct FuncType {
    pub params: Vec<Field>,
    pub results: Vec<Field>,
    pub span: Span,
}

/// A parameter, result, struct field or interface element. `names` is empty for
/// unnamed parameters and embedded fields.
#[derive(Debug)]
pub struct Field {
    pub names: Vec<Ident>,
    pub ty: Expr,
    pub tag: Option<String>,
    pub variadic: bool,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenKind {
    Var,
    Const,
    Type,
}

#[derive(Debug)]
pub struct GenDecl {
    pub kind: GenKind,
    pub specs: Vec<Spec>,
    pub span: Span,
}

#[derive(Debug)]
pub enum Spec {
    Value(ValueSpec),
    Type(TypeSpec),
}

#[derive(Debug)]
pub struct ValueSpec {
    pub names: Vec<Ident>,
    pub ty: Option<Expr>,
    pub values: Vec<Expr>,
    pub span: Span,
}

#[derive(Debug)]
pub struct TypeSpec {
    pub name: Ident,
    pub type_params: Vec<Field>,
    pub alias: bool,
    pub ty: Expr,
    pub span: Span,
}

#[derive(Debug, Default)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Debug)]
pub enum Stmt {
    Expr(Expr),
    Assign(Box<AssignStmt>),
    IncDec(Box<IncDecStmt>),
    Send(Box<SendStmt>),
    Go(Box<CallStmt>),
    Defer(Box<CallStmt>),
    Return(Box<ReturnStmt>),
    Branch(Box<BranchStmt>),
    Block(Block),
    If(Box<IfStmt>),
    For(Box<ForStmt>),
    Range(Box<RangeStmt>),
    Switch(Box<SwitchStmt>),
    TypeSwitch(Box<TypeSwitchStmt>),
    Select(Box<SelectStmt>),
    Labeled(Box<LabeledStmt>),
    Decl(GenDecl),
    Empty(Span),
    Bad(Span),
}

#[derive(Debug)]
pub struct AssignStmt {
    pub lhs: Vec<Expr>,
    /// `=`, `:=`, `+=`, `-=`, ...
    pub op: &'static str,
    pub rhs: Vec<Expr>,
    pub span: Span,
}

impl AssignStmt {
    pub fn is_define(&self) -> bool {
        self.op == ":="
    }
}

#[derive(Debug)]
pub struct IncDecStmt {
    pub x: Expr,
    pub inc: bool,
    pub span: Span,
}

#[derive(Debug)]
pub struct SendStmt {
    pub chan: Expr,
    pub value: Expr,
    pub span: Span,
}

/// The call of a `go` or `defer` statement. `call` is usually [`Expr::Call`].
#[derive(Debug)]
pub struct CallStmt {
    pub call: Expr,
    pub span: Span,
}

#[derive(Debug)]
pub struct ReturnStmt {
    pub results: Vec<Expr>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BranchKind {
    Break,
    Continue,
    Goto,
    Fallthrough,
}

#[derive(Debug)]
pub struct BranchStmt {
    pub kind: BranchKind,
    pub label: Option<Ident>,
    pub span: Span,
}

#[derive(Debug)]
pub struct IfStmt {
    pub init: Option<Stmt>,
    pub cond: Expr,
    pub then: Block,
    /// Either a [`Stmt::Block`] or another [`Stmt::If`].
    pub els: Option<Stmt>,
    pub span: Span,
}

#[derive(Debug)]
pub struct ForStmt {
    pub init: Option<Stmt>,
    pub cond: Option<Expr>,
    pub post: Option<Stmt>,
    pub body: Block,
    pub span: Span,
}

#[derive(Debug)]
pub struct RangeStmt {
    pub key: Option<Expr>,
    pub value: Option<Expr>,
    /// `:=` (true) or `=` (false).
    pub define: bool,
    pub x: Expr,
    pub body: Block,
    pub span: Span,
}

#[derive(Debug)]
pub struct SwitchStmt {
    pub init: Option<Stmt>,
    pub tag: Option<Expr>,
    pub cases: Vec<CaseClause>,
    pub span: Span,
}

#[derive(Debug)]
pub struct TypeSwitchStmt {
    pub init: Option<Stmt>,
    /// `v` in `switch v := x.(type)`.
    pub bind: Option<Ident>,
    /// `x` in `switch x.(type)`.
    pub x: Expr,
    pub cases: Vec<CaseClause>,
    pub span: Span,
}

/// A `case`/`default` clause of a switch; `list` is empty for `default`.
#[derive(Debug)]
pub struct CaseClause {
    pub list: Vec<Expr>,
    pub is_default: bool,
    pub body: Vec<Stmt>,
    pub span: Span,
}

#[derive(Debug)]
pub struct SelectStmt {
    pub cases: Vec<CommClause>,
    pub span: Span,
}

/// A select case. `comm` is `None` for `default`; otherwise a [`Stmt::Send`],
/// a [`Stmt::Expr`] holding `<-ch`, or a [`Stmt::Assign`] whose rhs is `<-ch`.
#[derive(Debug)]
pub struct CommClause {
    pub comm: Option<Stmt>,
    pub body: Vec<Stmt>,
    pub span: Span,
}

#[derive(Debug)]
pub struct LabeledStmt {
    pub label: Ident,
    pub stmt: Stmt,
    pub span: Span,
}

impl Stmt {
    pub fn span(&self) -> Span {
        match self {
            Stmt::Expr(e) => e.span(),
            Stmt::Assign(s) => s.span,
            Stmt::IncDec(s) => s.span,
            Stmt::Send(s) => s.span,
            Stmt::Go(s) | Stmt::Defer(s) => s.span,
            Stmt::Return(s) => s.span,
            Stmt::Branch(s) => s.span,
            Stmt::Block(b) => b.span,
            Stmt::If(s) => s.span,
            Stmt::For(s) => s.span,
            Stmt::Range(s) => s.span,
            Stmt::Switch(s) => s.span,
            Stmt::TypeSwitch(s) => s.span,
            Stmt::Select(s) => s.span,
            Stmt::Labeled(s) => s.span,
            Stmt::Decl(d) => d.span,
            Stmt::Empty(s) | Stmt::Bad(s) => *s,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LitKind {
    Int,
    Float,
    Imag,
    Char,
    String,
}

#[derive(Debug)]
pub struct BasicLit {
    pub kind: LitKind,
    /// The literal as written, quotes included.
    pub raw: Name,
    pub span: Span,
}

impl BasicLit {
    /// The value of a string literal (escapes decoded for the common cases).
    pub fn string_value(&self) -> Option<String> {
        if self.kind != LitKind::String {
            return None;
        }
        let raw = &self.raw;
        if raw.len() >= 2 && raw.starts_with('`') && raw.ends_with('`') {
            return Some(raw[1..raw.len() - 1].replace('\r', ""));
        }
        if raw.len() >= 2 && raw.starts_with('"') && raw.ends_with('"') {
            return Some(unescape(&raw[1..raw.len() - 1]));
        }
        None
    }

    /// The value of an integer literal (`0x`, `0o`, `0b`, `_` handled).
    pub fn int_value(&self) -> Option<u64> {
        if self.kind != LitKind::Int {
            return None;
        }
        parse_int(&self.raw)
    }
}

pub fn parse_int(raw: &str) -> Option<u64> {
    let s: String = raw.chars().filter(|c| *c != '_').collect();
    let lower = s.to_ascii_lowercase();
    if let Some(h) = lower.strip_prefix("0x") {
        u64::from_str_radix(h, 16).ok()
    } else if let Some(o) = lower.strip_prefix("0o") {
        u64::from_str_radix(o, 8).ok()
    } else if let Some(b) = lower.strip_prefix("0b") {
        u64::from_str_radix(b, 2).ok()
    } else if lower.len() > 1 && lower.starts_with('0') {
        u64::from_str_radix(&lower[1..], 8).ok()
    } else {
        lower.parse().ok()
    }
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('\'') => out.push('\''),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[derive(Debug)]
pub enum Expr {
    Ident(Ident),
    BasicLit(BasicLit),
    CompositeLit(Box<CompositeLit>),
    FuncLit(Box<FuncLit>),
    Paren(Box<ParenExpr>),
    Selector(Box<SelectorExpr>),
    /// `x[i]`, and also generic instantiation `F[T]` / `Map[K, V]`.
    Index(Box<IndexExpr>),
    Slice(Box<SliceExpr>),
    /// `x.(T)`; `ty` is `None` for `x.(type)`.
    TypeAssert(Box<TypeAssertExpr>),
    /// Calls and conversions (`[]byte(s)` is a call whose `fun` is a type).
    Call(Box<CallExpr>),
    /// `*x`: a dereference or a pointer type.
    Star(Box<StarExpr>),
    Unary(Box<UnaryExpr>),
    Binary(Box<BinaryExpr>),
    KeyValue(Box<KeyValueExpr>),
    /// `[N]T`, `[...]T` (len = Ellipsis) or `[]T` (len = None).
    ArrayType(Box<ArrayType>),
    MapType(Box<MapType>),
    ChanType(Box<ChanType>),
    FuncType(Box<FuncType>),
    StructType(Box<StructType>),
    InterfaceType(Box<InterfaceType>),
    Ellipsis(Span),
    Bad(Span),
}

#[derive(Debug)]
pub struct CompositeLit {
    /// `None` for an elided type inside another literal (`[]T{{...}}`).
    pub ty: Option<Expr>,
    pub elts: Vec<Expr>,
    pub span: Span,
}

#[derive(Debug)]
pub struct FuncLit {
    pub ty: FuncType,
    pub body: Block,
    pub span: Span,
}

#[derive(Debug)]
pub struct ParenExpr {
    pub x: Expr,
    pub span: Span,
}

#[derive(Debug)]
pub struct SelectorExpr {
    pub x: Expr,
    pub sel: Ident,
    pub span: Span,
}

#[derive(Debug)]
pub struct IndexExpr {
    pub x: Expr,
    pub indices: Vec<Expr>,
    pub span: Span,
}

#[derive(Debug)]
pub struct SliceExpr {
    pub x: Expr,
    pub lo: Option<Expr>,
    pub hi: Option<Expr>,
    pub max: Option<Expr>,
    pub span: Span,
}

#[derive(Debug)]
pub struct TypeAssertExpr {
    pub x: Expr,
    pub ty: Option<Expr>,
    pub span: Span,
}

#[derive(Debug)]
pub struct CallExpr {
    pub fun: Expr,
    pub args: Vec<Expr>,
    /// `f(xs...)`
    pub ellipsis: bool,
    pub span: Span,
}

#[derive(Debug)]
pub struct StarExpr {
    pub x: Expr,
    pub span: Span,
}

#[derive(Debug)]
pub struct UnaryExpr {
    /// `&`, `-`, `+`, `!`, `^`, `<-`, or `~` (in constraints).
    pub op: &'static str,
    pub x: Expr,
    pub span: Span,
}

#[derive(Debug)]
pub struct BinaryExpr {
    pub op: &'static str,
    pub x: Expr,
    pub y: Expr,
    pub span: Span,
}

#[derive(Debug)]
pub struct KeyValueExpr {
    pub key: Expr,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug)]
pub struct ArrayType {
    pub len: Option<Expr>,
    pub elem: Expr,
    pub span: Span,
}

#[derive(Debug)]
pub struct MapType {
    pub key: Expr,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChanDir {
    Both,
    Send,
    Recv,
}

#[derive(Debug)]
pub struct ChanType {
    pub dir: ChanDir,
    pub elem: Expr,
    pub span: Span,
}

#[derive(Debug)]
pub struct StructType {
    pub fields: Vec<Field>,
    pub span: Span,
}

/// Methods (`names` = [name], `ty` = FuncType) and embedded types / unions.
#[derive(Debug)]
pub struct InterfaceType {
    pub elems: Vec<Field>,
    pub span: Span,
}

impl Expr {
    pub fn span(&self) -> Span {
        match self {
            Expr::Ident(i) => i.span,
            Expr::BasicLit(l) => l.span,
            Expr::CompositeLit(c) => c.span,
            Expr::FuncLit(f) => f.span,
            Expr::Paren(p) => p.span,
            Expr::Selector(s) => s.span,
            Expr::Index(i) => i.span,
            Expr::Slice(s) => s.span,
            Expr::TypeAssert(t) => t.span,
            Expr::Call(c) => c.span,
            Expr::Star(s) => s.span,
            Expr::Unary(u) => u.span,
            Expr::Binary(b) => b.span,
            Expr::KeyValue(k) => k.span,
            Expr::ArrayType(a) => a.span,
            Expr::MapType(m) => m.span,
            Expr::ChanType(c) => c.span,
            Expr::FuncType(f) => f.span,
            Expr::StructType(s) => s.span,
            Expr::InterfaceType(i) => i.span,
            Expr::Ellipsis(s) | Expr::Bad(s) => *s,
        }
    }

    /// Strips any number of parentheses.
    pub fn unparen(&self) -> &Expr {
        let mut e = self;
        while let Expr::Paren(p) = e {
            e = &p.x;
        }
        e
    }

    pub fn as_ident(&self) -> Option<&Ident> {
        match self.unparen() {
            Expr::Ident(i) => Some(i),
            _ => None,
        }
    }

    pub fn ident_name(&self) -> Option<&str> {
        self.as_ident().map(|i| i.name.as_str())
    }

    pub fn as_call(&self) -> Option<&CallExpr> {
        match self.unparen() {
            Expr::Call(c) => Some(c),
            _ => None,
        }
    }

    pub fn as_selector(&self) -> Option<&SelectorExpr> {
        match self.unparen() {
            Expr::Selector(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_string_lit(&self) -> Option<String> {
        match self.unparen() {
            Expr::BasicLit(l) => l.string_value(),
            _ => None,
        }
    }

    /// `a.b.c` as "a.b.c" when the expression is a chain of identifiers.
    pub fn dotted_name(&self) -> Option<String> {
        match self.unparen() {
            Expr::Ident(i) => Some(i.name.to_string()),
            Expr::Selector(s) => Some(format!("{}.{}", s.x.dotted_name()?, s.sel.name)),
            _ => None,
        }
    }
}

impl CallExpr {
    /// The called method or function name: `Write` for `w.Write(b)`, `f` for `f(x)`.
    pub fn method_name(&self) -> Option<&str> {
        match self.fun.unparen() {
            Expr::Selector(s) => Some(&s.sel.name),
            Expr::Ident(i) => Some(&i.name),
            _ => None,
        }
    }

    /// The receiver expression of a method-style call (`w` in `w.Write(b)`).
    pub fn receiver(&self) -> Option<&Expr> {
        match self.fun.unparen() {
            Expr::Selector(s) => Some(&s.x),
            _ => None,
        }
    }
}
