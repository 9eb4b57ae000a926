//! A light type inference from syntax alone (no Go toolchain, no export data).
//!
//! It knows what declarations say: parameter and variable types, composite
//! literals, conversions, results of the package's own functions and methods,
//! and a small table of standard-library signatures. Whatever it cannot see is
//! [`Ty::Unknown`], and rules treat unknown as "stay silent".

use crate::ast::*;
use crate::index::{Package, ProjectIndex};
use crate::walk::{Func, Node};
use crate::GoFile;

#[derive(Clone, Debug)]
pub enum Ty<'a> {
    Unknown,
    /// A predeclared type: "string", "int", "bool", "byte", "error", ...
    Basic(&'static str),
    /// A defined type: (package import path, name).
    Named(&'a str, &'a str),
    Pointer(Box<Ty<'a>>),
    Slice(Box<Ty<'a>>),
    Array(Option<u64>, Box<Ty<'a>>),
    Map(Box<Ty<'a>>, Box<Ty<'a>>),
    Chan(ChanDir, Box<Ty<'a>>),
    /// A function value, with its result types.
    Func(Vec<Ty<'a>>),
    /// A struct type literal, with where it was written (to resolve field types).
    Struct(&'a StructType, &'a GoFile, &'a str),
    Interface,
    /// The results of a multi-value call.
    Tuple(Vec<Ty<'a>>),
}

impl PartialEq for Ty<'_> {
    fn eq(&self, other: &Self) -> bool {
        use Ty::*;
        match (self, other) {
            (Unknown, Unknown) | (Interface, Interface) => true,
            (Basic(a), Basic(b)) => a == b,
            (Named(p, n), Named(q, m)) => p == q && n == m,
            (Pointer(a), Pointer(b)) | (Slice(a), Slice(b)) => a == b,
            (Array(n, a), Array(m, b)) => n == m && a == b,
            (Map(k, v), Map(l, w)) => k == l && v == w,
            (Chan(d, a), Chan(e, b)) => d == e && a == b,
            (Func(a), Func(b)) | (Tuple(a), Tuple(b)) => a == b,
            (Struct(a, ..), Struct(b, ..)) => std::ptr::eq(*a, *b),
            _ => false,
        }
    }
}

const BASIC: &[&str] = &[
    "bool",
    "string",
    "int",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "uintptr",
    "float32",
    "float64",
    "complex64",
    "complex128",
    "byte",
    "rune",
    "error",
];

pub fn basic(name: &str) -> Option<&'static str> {
    BASIC.iter().copied().find(|b| *b == name)
}

impl<'a> Ty<'a> {
    pub fn is_unknown(&self) -> bool {
        matches!(self, Ty::Unknown)
    }

    /// `pkg.Name` or `*pkg.Name`.
    pub fn is_named(&self, pkg: &str, name: &str) -> bool {
        match self {
            Ty::Named(p, n) => *p == pkg && *n == name,
            Ty::Pointer(inner) => inner.is_named(pkg, name),
            _ => false,
        }
    }

    pub fn deref(&self) -> &Ty<'a> {
        match self {
            Ty::Pointer(inner) => inner,
            t => t,
        }
    }

    /// The single value of a call (the first of a tuple).
    pub fn first(self) -> Ty<'a> {
        match self {
            Ty::Tuple(mut v) if !v.is_empty() => v.swap_remove(0),
            Ty::Tuple(_) => Ty::Unknown,
            t => t,
        }
    }

    pub fn nth(&self, i: usize) -> Ty<'a> {
        match self {
            Ty::Tuple(v) => v.get(i).cloned().unwrap_or(Ty::Unknown),
            t if i == 0 => t.clone(),
            _ => Ty::Unknown,
        }
    }

    pub fn elem(&self) -> Ty<'a> {
        match self {
            Ty::Slice(e) | Ty::Array(_, e) | Ty::Chan(_, e) | Ty::Map(_, e) => (**e).clone(),
            Ty::Pointer(p) => match &**p {
                Ty::Array(_, e) => (**e).clone(),
                _ => Ty::Unknown,
            },
            Ty::Basic("string") => Ty::Basic("byte"),
            _ => Ty::Unknown,
        }
    }
}

/// Where resolution happens: the file (for its imports) and the package.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    pub project: &'a ProjectIndex<'a>,
    pub pkg: &'a Package<'a>,
    pub file: &'a GoFile,
}

impl<'a> Scope<'a> {
    fn in_file(&self, file: &'a GoFile, pkg: &'a Package<'a>) -> Scope<'a> {
        Scope {
            project: self.project,
            pkg,
            file,
        }
    }

    /// The type a type expression denotes.
    pub fn type_expr(&self, e: &'a Expr) -> Ty<'a> {
        match e {
            Expr::Ident(id) => {
                if let Some(b) = basic(&id.name) {
                    Ty::Basic(b)
                } else if id.name == "any" {
                    Ty::Interface
                } else {
                    Ty::Named(self.pkg.import_path(), &id.name)
                }
            }
            Expr::Selector(s) => {
                match s.x.as_ident().and_then(|p| self.file.import_path(&p.name)) {
                    Some(path) => Ty::Named(path, &s.sel.name),
                    None => Ty::Unknown,
                }
            }
            Expr::Paren(p) => self.type_expr(&p.x),
            Expr::Star(s) => Ty::Pointer(Box::new(self.type_expr(&s.x))),
            Expr::ArrayType(a) => {
                let elem = Box::new(self.type_expr(&a.elem));
                match &a.len {
                    None => Ty::Slice(elem),
                    Some(len) => Ty::Array(self.const_int(len), elem),
                }
            }
            Expr::MapType(m) => Ty::Map(
                Box::new(self.type_expr(&m.key)),
                Box::new(self.type_expr(&m.value)),
            ),
            Expr::ChanType(c) => Ty::Chan(c.dir, Box::new(self.type_expr(&c.elem))),
            Expr::FuncType(f) => Ty::Func(self.results(f)),
            Expr::StructType(s) => Ty::Struct(s, self.file, self.pkg.import_path()),
            Expr::InterfaceType(_) => Ty::Interface,
            // A generic instantiation: the base type is what matters here.
            Expr::Index(i) => self.type_expr(&i.x),
            _ => Ty::Unknown,
        }
    }

    /// Result types of a signature, in order (a named group counts per name).
    pub fn results(&self, f: &'a FuncType) -> Vec<Ty<'a>> {
        let mut out = Vec::new();
        for r in &f.results {
            let t = self.type_expr(&r.ty);
            for _ in 0..r.names.len().max(1) {
                out.push(t.clone());
            }
        }
        out
    }

    /// The value of a constant integer expression (literals, package-level
    /// constants, and simple arithmetic on them).
    pub fn const_int(&self, e: &'a Expr) -> Option<u64> {
        match e.unparen() {
            Expr::BasicLit(l) => l.int_value(),
            Expr::Ident(id) => {
                let def = self.pkg.vars.get(id.name.as_str())?;
                if !def.is_const {
                    return None;
                }
                let v = def.spec.values.get(def.index)?;
                let pkg = self.pkg;
                self.in_file(def.file, pkg).const_int(v)
            }
            Expr::Binary(b) => {
                let x = self.const_int(&b.x)?;
                let y = self.const_int(&b.y)?;
                match b.op {
                    "+" => x.checked_add(y),
                    "-" => x.checked_sub(y),
                    "*" => x.checked_mul(y),
                    "/" => x.checked_div(y),
                    "<<" => (y < 64).then(|| x.checked_shl(y as u32)).flatten(),
                    ">>" => (y < 64).then(|| x >> y),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The underlying type of a named type declared in the tree (one level of
    /// `type A B` chains is followed up to a small bound).
    pub fn underlying(&self, t: &Ty<'a>) -> Ty<'a> {
        let mut cur = t.clone();
        for _ in 0..8 {
            let Ty::Named(path, name) = cur else {
                return cur;
            };
            let Some(pkg) = self.project.package(path) else {
                return Ty::Named(path, name);
            };
            let Some((spec, file)) = pkg.types.get(name) else {
                return Ty::Named(path, name);
            };
            cur = self.in_file(file, pkg).type_expr(&spec.ty);
        }
        cur
    }

    /// The lock a value of type `t` holds by value, when it holds one: a
    /// `sync.Mutex`-like type of the standard library, a protobuf message
    /// (its `state protoimpl.MessageState` holds a zero-length mutex array),
    /// or a struct or array of the tree that contains one. The answer names
    /// the lock and the path to it (`mu sync.Mutex`, `state
    /// protoimpl.MessageState`). Pointers, slices, maps, channels and
    /// interfaces hold none; unknown types neither.
    pub fn held_lock(&self, t: &Ty<'a>) -> Option<String> {
        self.held_lock_depth(t, 0)
    }

    fn held_lock_depth(&self, t: &Ty<'a>, depth: u32) -> Option<String> {
        if depth > 8 {
            return None;
        }
        match t {
            Ty::Named(path, name) => {
                if let Some(l) = std_lock(path, name) {
                    return Some(l);
                }
                let pkg = self.project.package(path)?;
                let (spec, file) = pkg.types.get(name)?;
                let sc = self.in_file(file, pkg);
                sc.held_lock_depth(&sc.type_expr(&spec.ty), depth + 1)
            }
            Ty::Array(_, elem) => self.held_lock_depth(elem, depth + 1),
            Ty::Struct(st, file, path) => {
                let pkg = self.project.package(path)?;
                let sc = self.in_file(file, pkg);
                st.fields.iter().find_map(|f| {
                    let inner = sc.held_lock_depth(&sc.type_expr(&f.ty), depth + 1)?;
                    Some(match f.names.first() {
                        Some(n) if !inner.contains(' ') => format!("{} {inner}", n.name),
                        Some(n) => format!("{}.{inner}", n.name),
                        None => inner,
                    })
                })
            }
            _ => None,
        }
    }

    /// Whether `t` is a string type (`string` or a type defined as one).
    pub fn is_string(&self, t: &Ty<'a>) -> bool {
        matches!(self.underlying(t), Ty::Basic("string"))
    }

    /// The type of field `name` of a struct value of type `t` (through pointers,
    /// and through embedded fields one level deep).
    pub fn field(&self, t: &Ty<'a>, name: &str) -> Ty<'a> {
        let base = t.deref();
        if let Ty::Named(p, n) = base {
            if let Some(ft) = std_field(p, n, name) {
                return ft;
            }
        }
        let Ty::Struct(st, file, path) = self.underlying(base) else {
            return Ty::Unknown;
        };
        let Some(pkg) = self.project.package(path) else {
            return Ty::Unknown;
        };
        let sc = self.in_file(file, pkg);
        for f in &st.fields {
            if f.names.iter().any(|n| n.name == name) {
                return sc.type_expr(&f.ty);
            }
        }
        for f in st.fields.iter().filter(|f| f.names.is_empty()) {
            if let Ty::Named(_, n) = sc.type_expr(&f.ty).deref() {
                if *n == name {
                    return sc.type_expr(&f.ty);
                }
            }
        }
        Ty::Unknown
    }

    /// Results of calling method `name` on a value of type `t`.
    pub fn method_results(&self, t: &Ty<'a>, name: &str) -> Ty<'a> {
        let Ty::Named(path, tname) = t.deref() else {
            return Ty::Unknown;
        };
        if let Some(r) = std_method(path, tname, name) {
            return r;
        }
        let Some(pkg) = self.project.package(path) else {
            return Ty::Unknown;
        };
        let Some(def) = pkg.methods.get(&(*tname, name)) else {
            return Ty::Unknown;
        };
        tuple(self.in_file(def.file, pkg).results(&def.decl.ty))
    }
}

/// Types outside the tree that hold a lock by value (what go vet's copylocks
/// knows from their `Lock` methods or `noCopy` fields), and the protobuf
/// messages that are commonly used without their source in the tree.
fn std_lock(path: &str, name: &str) -> Option<String> {
    let lock = match (path, name) {
        ("sync", "Mutex" | "RWMutex" | "WaitGroup" | "Once" | "Cond" | "Map" | "Pool") => true,
        (
            "sync/atomic",
            "Bool" | "Int32" | "Int64" | "Uint32" | "Uint64" | "Uintptr" | "Pointer",
        ) => true,
        ("google.golang.org/protobuf/runtime/protoimpl", "MessageState") => true,
        ("google.golang.org/protobuf/types/known/wrapperspb", _) => name.ends_with("Value"),
        ("google.golang.org/protobuf/types/known/timestamppb", "Timestamp")
        | ("google.golang.org/protobuf/types/known/durationpb", "Duration")
        | ("google.golang.org/protobuf/types/known/emptypb", "Empty")
        | ("google.golang.org/protobuf/types/known/anypb", "Any")
        | ("google.golang.org/protobuf/types/known/fieldmaskpb", "FieldMask")
        | ("google.golang.org/protobuf/types/known/structpb", "Struct" | "Value" | "ListValue")
        | (
            "google.golang.org/grpc/health/grpc_health_v1",
            "HealthCheckRequest" | "HealthCheckResponse",
        ) => true,
        _ => false,
    };
    lock.then(|| {
        let short = path.rsplit('/').next().unwrap_or(path);
        format!("{short}.{name}")
    })
}

fn tuple(mut v: Vec<Ty<'_>>) -> Ty<'_> {
    match v.len() {
        0 => Ty::Unknown,
        1 => v.swap_remove(0),
        _ => Ty::Tuple(v),
    }
}

fn named(p: &'static str, n: &'static str) -> Ty<'static> {
    Ty::Named(p, n)
}

fn ptr(t: Ty<'static>) -> Ty<'static> {
    Ty::Pointer(Box::new(t))
}

fn bytes_err() -> Ty<'static> {
    Ty::Tuple(vec![
        Ty::Slice(Box::new(Ty::Basic("byte"))),
        Ty::Basic("error"),
    ])
}

/// Results of a handful of standard-library functions that rules care about.
pub fn std_func(pkg: &str, name: &str) -> Option<Ty<'static>> {
    let s = Ty::Basic("string");
    Some(match (pkg, name) {
        ("fmt", "Sprintf" | "Sprint" | "Sprintln") => s,
        ("fmt", "Errorf") | ("errors", "New" | "Join") => Ty::Basic("error"),
        (
            "strings",
            "Join" | "Repeat" | "ToUpper" | "ToLower" | "TrimSpace" | "Trim" | "TrimLeft"
            | "TrimRight" | "TrimPrefix" | "TrimSuffix" | "Replace" | "ReplaceAll" | "Title"
            | "ToTitle" | "Map" | "Clone" | "TrimFunc",
        ) => s,
        ("strings", "Split" | "SplitN" | "Fields" | "SplitAfter") => Ty::Slice(Box::new(s)),
        ("strings", "NewReader") => ptr(named("strings", "Reader")),
        (
            "strconv",
            "Itoa" | "FormatInt" | "FormatUint" | "FormatFloat" | "FormatBool" | "Quote"
            | "QuoteToASCII",
        ) => s,
        ("strconv", "Atoi") => Ty::Tuple(vec![Ty::Basic("int"), Ty::Basic("error")]),
        ("path" | "path/filepath", "Join" | "Base" | "Dir" | "Ext" | "Clean") => s,
        ("os", "Getenv") => s,
        ("os", "ReadFile") | ("io", "ReadAll") | ("io/ioutil", "ReadAll" | "ReadFile") => {
            bytes_err()
        }
        ("encoding/json", "Marshal" | "MarshalIndent") => bytes_err(),
        ("encoding/json", "NewDecoder") => ptr(named("encoding/json", "Decoder")),
        ("encoding/json", "NewEncoder") => ptr(named("encoding/json", "Encoder")),
        ("bufio", "NewWriter" | "NewWriterSize") => ptr(named("bufio", "Writer")),
        ("bytes", "NewBuffer" | "NewBufferString") => ptr(named("bytes", "Buffer")),
        ("compress/gzip", "NewWriter") => ptr(named("compress/gzip", "Writer")),
        ("compress/gzip", "NewWriterLevel") => Ty::Tuple(vec![
            ptr(named("compress/gzip", "Writer")),
            Ty::Basic("error"),
        ]),
        ("encoding/gob", "NewEncoder") => ptr(named("encoding/gob", "Encoder")),
        ("encoding/xml", "NewEncoder") => ptr(named("encoding/xml", "Encoder")),
        ("bytes", "Clone") => Ty::Slice(Box::new(Ty::Basic("byte"))),
        ("io", "LimitReader" | "MultiReader" | "TeeReader") => named("io", "Reader"),
        ("net/http", "MaxBytesReader") | ("io", "NopCloser") | ("io/ioutil", "NopCloser") => {
            named("io", "ReadCloser")
        }
        ("net/http", "Get" | "Post" | "Head" | "PostForm") => {
            Ty::Tuple(vec![ptr(named("net/http", "Response")), Ty::Basic("error")])
        }
        ("net/http", "NewRequest" | "NewRequestWithContext") => {
            Ty::Tuple(vec![ptr(named("net/http", "Request")), Ty::Basic("error")])
        }
        ("net/http", "NewServeMux") => ptr(named("net/http", "ServeMux")),
        ("os", "Open" | "Create" | "OpenFile" | "CreateTemp") => {
            Ty::Tuple(vec![ptr(named("os", "File")), Ty::Basic("error")])
        }
        ("database/sql", "Open") => {
            Ty::Tuple(vec![ptr(named("database/sql", "DB")), Ty::Basic("error")])
        }
        ("context", "Background" | "TODO") => named("context", "Context"),
        ("context", "WithCancel" | "WithTimeout" | "WithDeadline") => Ty::Tuple(vec![
            named("context", "Context"),
            named("context", "CancelFunc"),
        ]),
        ("time", "Now") => named("time", "Time"),
        ("time", "Since" | "Until" | "ParseDuration") => named("time", "Duration"),
        ("time", "After" | "Tick") => Ty::Chan(ChanDir::Recv, Box::new(named("time", "Time"))),
        ("time", "NewTimer" | "AfterFunc") => ptr(named("time", "Timer")),
        ("time", "NewTicker") => ptr(named("time", "Ticker")),
        ("runtime", "NumGoroutine") => Ty::Basic("int"),
        ("net", "Listen") => Ty::Tuple(vec![named("net", "Listener"), Ty::Basic("error")]),
        ("net", "Dial" | "DialTimeout") => {
            Ty::Tuple(vec![named("net", "Conn"), Ty::Basic("error")])
        }
        ("crypto/tls", "Dial" | "DialWithDialer") => {
            Ty::Tuple(vec![ptr(named("crypto/tls", "Conn")), Ty::Basic("error")])
        }
        ("crypto/tls", "Client" | "Server") => ptr(named("crypto/tls", "Conn")),
        ("log", "New") => ptr(named("log", "Logger")),
        ("log", "Default") => ptr(named("log", "Logger")),
        _ => return None,
    })
}

/// Fields of a few standard-library structs.
fn std_field(pkg: &str, ty: &str, field: &str) -> Option<Ty<'static>> {
    Some(match (pkg, ty, field) {
        ("net/http", "Request" | "Response", "Body") => named("io", "ReadCloser"),
        ("net/http", "Request" | "Response", "Header") => named("net/http", "Header"),
        ("net/http", "Request", "URL") => ptr(named("net/url", "URL")),
        ("net/http", "Request", "Method" | "Host" | "RemoteAddr" | "RequestURI") => {
            Ty::Basic("string")
        }
        ("net/http", "Response", "StatusCode") => Ty::Basic("int"),
        ("net/http", "Response", "Status") => Ty::Basic("string"),
        _ => return None,
    })
}

/// Results of a few standard-library methods.
fn std_method(pkg: &str, ty: &str, method: &str) -> Option<Ty<'static>> {
    Some(match (pkg, ty, method) {
        ("net/http", "Request", "Context") => named("context", "Context"),
        ("strings" | "bytes", "Builder" | "Buffer", "String") => Ty::Basic("string"),
        ("bytes", "Buffer", "Bytes") => Ty::Slice(Box::new(Ty::Basic("byte"))),
        ("net/http", "Client", "Do" | "Get" | "Post" | "Head" | "PostForm") => {
            Ty::Tuple(vec![ptr(named("net/http", "Response")), Ty::Basic("error")])
        }
        ("database/sql", "DB" | "Tx" | "Conn" | "Stmt", "Query" | "QueryContext") => {
            Ty::Tuple(vec![ptr(named("database/sql", "Rows")), Ty::Basic("error")])
        }
        ("database/sql", "DB" | "Tx" | "Conn", "Prepare" | "PrepareContext") => {
            Ty::Tuple(vec![ptr(named("database/sql", "Stmt")), Ty::Basic("error")])
        }
        ("database/sql", "DB", "Begin" | "BeginTx") | ("database/sql", "Conn", "BeginTx") => {
            Ty::Tuple(vec![ptr(named("database/sql", "Tx")), Ty::Basic("error")])
        }
        ("database/sql", "DB", "Conn") => {
            Ty::Tuple(vec![ptr(named("database/sql", "Conn")), Ty::Basic("error")])
        }
        ("database/sql", "Rows", "Err" | "Close") => Ty::Basic("error"),
        ("database/sql", "Rows", "Next") => Ty::Basic("bool"),
        ("database/sql", "DB" | "Tx" | "Conn", "QueryRow" | "QueryRowContext") => {
            ptr(named("database/sql", "Row"))
        }
        ("net", "Listener", "Accept") => Ty::Tuple(vec![named("net", "Conn"), Ty::Basic("error")]),
        ("net/url", "URL", "String") | ("time", "Duration" | "Time", "String") => {
            Ty::Basic("string")
        }
        _ => return None,
    })
}

/// A local name declared inside a function, with where it is visible.
#[derive(Clone, Debug)]
pub struct Binding<'a> {
    pub name: &'a str,
    /// Where the declaring identifier is.
    pub decl: Span,
    /// Where the name can be used (from its declaration to the end of its block).
    pub scope: Span,
    pub ty: Ty<'a>,
    /// The initialising expression, when declared as `x := e` / `var x = e`.
    pub init: Option<&'a Expr>,
    /// The ranged-over expression, when declared as the value of
    /// `for _, x := range e`: `x` is an element of `e`.
    pub elem_of: Option<&'a Expr>,
}

/// Bindings up to which an [`Env`] is scanned rather than indexed by name.
const INDEXED_FROM: usize = 64;

/// The local names of one top-level function (closures included).
#[derive(Debug, Default)]
pub struct Env<'a> {
    bindings: Vec<Binding<'a>>,
    /// Indices into `bindings` by name, in declaration order, once there are
    /// more than [`INDEXED_FROM`] bindings: a lookup then reads the bindings
    /// of one name, not all of them (a function with thousands of locals made
    /// every lookup, and so the function, quadratic). Small environments, the
    /// usual case, are scanned: hashing every name cost 8% of a stdlib check.
    by_name: std::collections::HashMap<&'a str, Vec<usize>>,
}

impl<'a> Env<'a> {
    /// Builds the environment of a function declaration (or a package-level
    /// function literal), inferring each name's type in source order.
    pub fn build(sc: &Scope<'a>, root: Node<'a>) -> Env<'a> {
        let mut env = Env::default();
        crate::walk::walk(root, &mut |n, anc| {
            env.declare_in(sc, n, anc);
            true
        });
        env
    }

    /// The binding `name` refers to at byte offset `pos`, if it is local.
    pub fn lookup(&self, name: &str, pos: u32) -> Option<&Binding<'a>> {
        let visible = |b: &&Binding<'a>| b.scope.contains(pos) && b.decl.start <= pos;
        match self.indexed(name) {
            Some(ix) => ix
                .iter()
                .map(|&i| &self.bindings[i])
                .filter(visible)
                .max_by_key(|b| b.decl.start),
            None => self
                .bindings
                .iter()
                .filter(|b| b.name == name)
                .filter(visible)
                .max_by_key(|b| b.decl.start),
        }
    }

    /// The positions of the bindings called `name`, in declaration order;
    /// `None` when the environment is small enough to scan.
    fn indexed(&self, name: &str) -> Option<&[usize]> {
        if self.bindings.len() <= INDEXED_FROM {
            return None;
        }
        Some(self.by_name.get(name).map_or(&[], |v| v.as_slice()))
    }

    fn add(&mut self, b: Binding<'a>) {
        self.bindings.push(b);
        let n = self.bindings.len();
        if n == INDEXED_FROM + 1 {
            for (i, b) in self.bindings.iter().enumerate() {
                self.by_name.entry(b.name).or_default().push(i);
            }
        } else if n > INDEXED_FROM + 1 {
            self.by_name
                .entry(self.bindings[n - 1].name)
                .or_default()
                .push(n - 1);
        }
    }

    /// The binding an identifier expression refers to.
    pub fn resolve(&self, id: &Ident) -> Option<&Binding<'a>> {
        self.lookup(&id.name, id.span.start)
    }

    pub fn bindings(&self) -> &[Binding<'a>] {
        &self.bindings
    }

    fn push(&mut self, id: &'a Ident, scope: Span, ty: Ty<'a>, init: Option<&'a Expr>) {
        if id.is_blank() {
            return;
        }
        self.add(Binding {
            name: &id.name,
            decl: id.span,
            scope,
            ty,
            init,
            elem_of: None,
        });
    }

    fn params(&mut self, sc: &Scope<'a>, f: Func<'a>, recv: Option<&'a Field>) {
        let Some(body) = f.body() else { return };
        let scope = body.span;
        let ty = f.ty();
        for field in recv.into_iter().chain(&ty.params).chain(&ty.results) {
            let mut t = sc.type_expr(&field.ty);
            if field.variadic {
                t = Ty::Slice(Box::new(t));
            }
            for name in &field.names {
                self.push(name, scope, t.clone(), None);
            }
        }
    }

    fn declare_in(&mut self, sc: &Scope<'a>, n: Node<'a>, anc: &[Node<'a>]) {
        match n {
            Node::FuncDecl(d) => self.params(sc, Func::Decl(d), d.recv.as_ref()),
            Node::Expr(Expr::FuncLit(l)) => self.params(sc, Func::Lit(l), None),
            Node::Stmt(Stmt::Assign(a)) if a.is_define() => {
                let scope = statement_scope(n, anc);
                let rhs_ty = if a.rhs.len() == 1 && a.lhs.len() > 1 {
                    Some(self.type_of(sc, &a.rhs[0]))
                } else {
                    None
                };
                for (i, lhs) in a.lhs.iter().enumerate() {
                    let Some(id) = lhs.as_ident() else { continue };
                    if self.redeclared(id, scope) {
                        continue;
                    }
                    let (ty, init) = match &rhs_ty {
                        Some(t) => (t.nth(i), None),
                        None => match a.rhs.get(i) {
                            Some(r) => (self.type_of(sc, r).first(), Some(r)),
                            None => (Ty::Unknown, None),
                        },
                    };
                    self.push(id, scope, ty, init);
                }
            }
            Node::ValueSpec(v) if !anc.is_empty() => {
                let scope = statement_scope(n, anc);
                let declared = v.ty.as_ref().map(|t| sc.type_expr(t));
                for (i, id) in v.names.iter().enumerate() {
                    let init = v.values.get(i);
                    let ty = match (&declared, init) {
                        (Some(t), _) => t.clone(),
                        (None, Some(e)) => self.type_of(sc, e).first(),
                        (None, None) => Ty::Unknown,
                    };
                    self.push(id, scope, ty, init);
                }
            }
            Node::Stmt(Stmt::Range(r)) if r.define => {
                let x = self.type_of(sc, &r.x);
                let (kt, vt) = match sc.underlying(&x) {
                    Ty::Map(k, v) => (*k, *v),
                    Ty::Chan(_, e) => (*e, Ty::Unknown),
                    Ty::Basic("string") => (Ty::Basic("int"), Ty::Basic("rune")),
                    Ty::Basic(_) => (Ty::Basic("int"), Ty::Unknown),
                    t @ (Ty::Slice(_) | Ty::Array(..) | Ty::Pointer(_)) => {
                        (Ty::Basic("int"), t.elem())
                    }
                    _ => (Ty::Unknown, Ty::Unknown),
                };
                if let Some(id) = r.key.as_ref().and_then(|k| k.as_ident()) {
                    self.push(id, r.body.span, kt, None);
                }
                if let Some(id) = r.value.as_ref().and_then(|v| v.as_ident()) {
                    self.push(id, r.body.span, vt, None);
                    if let Some(b) = self.bindings.last_mut().filter(|b| b.decl == id.span) {
                        b.elem_of = Some(&r.x);
                    }
                }
            }
            Node::Stmt(Stmt::TypeSwitch(ts)) => {
                if let Some(id) = &ts.bind {
                    for c in &ts.cases {
                        let ty = match c.list.as_slice() {
                            [one] => sc.type_expr(one),
                            _ => self.type_of(sc, &ts.x),
                        };
                        self.add(Binding {
                            name: &id.name,
                            decl: id.span,
                            scope: c.span,
                            ty,
                            init: None,
                            elem_of: None,
                        });
                    }
                }
            }
            _ => {}
        }
    }

    /// In `a, err := f()`, `err` may already exist in the same scope, in which
    /// case `:=` assigns to it instead of declaring it.
    fn redeclared(&self, id: &Ident, scope: Span) -> bool {
        match self.indexed(&id.name) {
            Some(ix) => ix.iter().any(|&i| self.bindings[i].scope == scope),
            None => self
                .bindings
                .iter()
                .any(|b| b.name == id.name && b.scope == scope),
        }
    }

    /// The type of an expression at its position.
    pub fn type_of(&self, sc: &Scope<'a>, e: &'a Expr) -> Ty<'a> {
        match e {
            Expr::Ident(id) => {
                if let Some(b) = self.resolve(id) {
                    return b.ty.clone();
                }
                package_ident_type(sc, id)
            }
            Expr::BasicLit(l) => match l.kind {
                LitKind::String => Ty::Basic("string"),
                LitKind::Int => Ty::Basic("int"),
                LitKind::Float => Ty::Basic("float64"),
                LitKind::Char => Ty::Basic("rune"),
                LitKind::Imag => Ty::Basic("complex128"),
            },
            Expr::CompositeLit(c) => {
                c.ty.as_ref()
                    .map(|t| sc.type_expr(t))
                    .unwrap_or(Ty::Unknown)
            }
            Expr::FuncLit(l) => Ty::Func(sc.results(&l.ty)),
            Expr::Paren(p) => self.type_of(sc, &p.x),
            Expr::Selector(s) => {
                if let Some((pkg, name)) = self.pkg_member(sc.file, e) {
                    return std_pkg_var(pkg, name).unwrap_or(Ty::Unknown);
                }
                let xt = self.type_of(sc, &s.x);
                sc.field(&xt, &s.sel.name)
            }
            Expr::Index(i) => {
                let xt = self.type_of(sc, &i.x);
                match sc.underlying(&xt) {
                    Ty::Func(r) => tuple(r),
                    u => u.elem(),
                }
            }
            Expr::Slice(s) => {
                let xt = self.type_of(sc, &s.x);
                match sc.underlying(&xt) {
                    Ty::Array(_, e) => Ty::Slice(e),
                    Ty::Pointer(p) => match *p {
                        Ty::Array(_, e) => Ty::Slice(e),
                        _ => Ty::Unknown,
                    },
                    _ => xt,
                }
            }
            Expr::TypeAssert(t) => {
                t.ty.as_ref()
                    .map(|t| sc.type_expr(t))
                    .unwrap_or(Ty::Unknown)
            }
            Expr::Call(c) => self.call_type(sc, c),
            Expr::Star(s) => match self.type_of(sc, &s.x) {
                Ty::Pointer(inner) => *inner,
                _ => Ty::Unknown,
            },
            Expr::Unary(u) => match u.op {
                "&" => Ty::Pointer(Box::new(self.type_of(sc, &u.x))),
                "<-" => self.type_of(sc, &u.x).elem(),
                "!" => Ty::Basic("bool"),
                _ => self.type_of(sc, &u.x),
            },
            Expr::Binary(b) => match b.op {
                "==" | "!=" | "<" | "<=" | ">" | ">=" | "&&" | "||" => Ty::Basic("bool"),
                "<<" | ">>" => self.type_of(sc, &b.x),
                _ => {
                    let x = self.type_of(sc, &b.x);
                    if x.is_unknown() {
                        self.type_of(sc, &b.y)
                    } else {
                        x
                    }
                }
            },
            _ => Ty::Unknown,
        }
    }

    fn call_type(&self, sc: &Scope<'a>, c: &'a CallExpr) -> Ty<'a> {
        let fun = c.fun.unparen();
        if let Expr::Ident(id) = fun {
            if self.resolve(id).is_none() {
                match id.name.as_str() {
                    "len" | "cap" | "copy" => return Ty::Basic("int"),
                    "make" => {
                        return c
                            .args
                            .first()
                            .map(|t| sc.type_expr(t))
                            .unwrap_or(Ty::Unknown)
                    }
                    "new" => {
                        return c
                            .args
                            .first()
                            .map(|t| Ty::Pointer(Box::new(sc.type_expr(t))))
                            .unwrap_or(Ty::Unknown)
                    }
                    "append" => {
                        return c
                            .args
                            .first()
                            .map(|a| self.type_of(sc, a))
                            .unwrap_or(Ty::Unknown)
                    }
                    "string" => return Ty::Basic("string"),
                    "recover" => return Ty::Interface,
                    name => {
                        if let Some(b) = basic(name) {
                            return Ty::Basic(b);
                        }
                        if sc.pkg.types.contains_key(name) {
                            return Ty::Named(
                                sc.pkg.import_path(),
                                sc.pkg.types.get_key_value(name).unwrap().0,
                            );
                        }
                        if let Some(def) = sc.pkg.funcs.get(name) {
                            return tuple(
                                Scope {
                                    file: def.file,
                                    ..*sc
                                }
                                .results(&def.decl.ty),
                            );
                        }
                    }
                }
            }
        }
        // Conversions to composite types: []byte(s), map[K]V(m), (*T)(p).
        if matches!(
            fun,
            Expr::ArrayType(_)
                | Expr::MapType(_)
                | Expr::ChanType(_)
                | Expr::FuncType(_)
                | Expr::Star(_)
        ) {
            return sc.type_expr(fun);
        }
        if let Some((pkg, name)) = self.pkg_member(sc.file, fun) {
            if let Some(t) = std_func(pkg, name) {
                return t;
            }
            if let Some(p) = sc.project.package(pkg) {
                if let Some(def) = p.funcs.get(name) {
                    return tuple(
                        Scope {
                            file: def.file,
                            pkg: p,
                            project: sc.project,
                        }
                        .results(&def.decl.ty),
                    );
                }
                if p.types.contains_key(name) {
                    return Ty::Named(pkg, p.types.get_key_value(name).unwrap().0);
                }
            }
            return Ty::Unknown;
        }
        if let Expr::Selector(s) = fun {
            let recv = self.type_of(sc, &s.x);
            return sc.method_results(&recv, &s.sel.name);
        }
        match self.type_of(sc, fun) {
            Ty::Func(r) => tuple(r),
            _ => Ty::Unknown,
        }
    }

    /// `(import path, member)` for `pkg.Member` when `pkg` names an import of
    /// the file and is not shadowed by a local variable at that point.
    pub fn pkg_member<'f>(&self, file: &'f GoFile, e: &'f Expr) -> Option<(&'f str, &'f str)> {
        let sel = e.as_selector()?;
        let id = sel.x.as_ident()?;
        if self.resolve(id).is_some() {
            return None;
        }
        Some((file.import_path(&id.name)?, &sel.sel.name))
    }
}

/// Package-level variables of a few standard packages.
fn std_pkg_var(pkg: &str, name: &str) -> Option<Ty<'static>> {
    Some(match (pkg, name) {
        ("net/http", "DefaultClient") => ptr(named("net/http", "Client")),
        ("net/http", "DefaultServeMux") => ptr(named("net/http", "ServeMux")),
        ("os", "Stdout" | "Stderr" | "Stdin") => ptr(named("os", "File")),
        _ => return None,
    })
}

/// The type of a package-level name of the current package.
fn package_ident_type<'a>(sc: &Scope<'a>, id: &'a Ident) -> Ty<'a> {
    match id.name.as_str() {
        "true" | "false" => return Ty::Basic("bool"),
        "nil" => return Ty::Unknown,
        _ => {}
    }
    let Some(def) = sc.pkg.vars.get(id.name.as_str()) else {
        if let Some(def) = sc.pkg.funcs.get(id.name.as_str()) {
            return Ty::Func(
                Scope {
                    file: def.file,
                    ..*sc
                }
                .results(&def.decl.ty),
            );
        }
        return Ty::Unknown;
    };
    let fsc = Scope {
        file: def.file,
        ..*sc
    };
    if let Some(t) = &def.spec.ty {
        return fsc.type_expr(t);
    }
    match def.spec.values.get(def.index) {
        // A package-level initialiser has no locals in scope.
        Some(v) => Env::default().type_of(&fsc, v).first(),
        None => Ty::Unknown,
    }
}

/// The span in which a name declared by statement `n` is visible: from the
/// statement to the end of the enclosing block, or of the `if`/`for`/`switch`
/// whose init clause it is.
fn statement_scope(n: Node<'_>, anc: &[Node<'_>]) -> Span {
    let start = n.span().start;
    for a in anc.iter().rev() {
        match a {
            Node::Block(b) => {
                return Span {
                    start,
                    end: b.span.end,
                }
            }
            Node::Case(c) => {
                return Span {
                    start,
                    end: c.span.end,
                }
            }
            Node::Comm(c) => {
                return Span {
                    start,
                    end: c.span.end,
                }
            }
            Node::Stmt(
                s @ (Stmt::If(_) | Stmt::For(_) | Stmt::Switch(_) | Stmt::TypeSwitch(_)),
            ) => {
                return Span {
                    start,
                    end: s.span().end,
                }
            }
            Node::Stmt(Stmt::Decl(_)) | Node::ValueSpec(_) => continue,
            _ => continue,
        }
    }
    Span {
        start,
        end: u32::MAX,
    }
}
