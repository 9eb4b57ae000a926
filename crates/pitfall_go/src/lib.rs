//! The Go front end of pitfall.
//!
//! [`parse_file`] turns Go source into a [`GoFile`]: the typed [`ast`] plus what
//! every rule needs to know about the file (its imports, whether it is a test or
//! generated file, how to map byte offsets to lines). [`index`] holds the facts
//! that cross files (declarations of a package, module-wide types), [`types`]
//! a light, syntax-only type inference, and [`walk`] the shared visitors.

pub mod ast;
pub mod chans;
pub mod ctxflow;
pub mod engine;
pub mod exits;
pub mod facts;
pub mod flow;
pub mod http_facts;
pub mod index;
pub mod lifecycle;
pub mod locks;
mod lower;
pub mod module;
pub mod name;
mod newexpr;
pub mod routes;
pub mod scan;
pub mod sizes;
pub mod types;
pub mod walk;

use ast::{Decl, Expr, File, Span, Spec};
use std::cell::RefCell;
use std::collections::HashMap;

/// Statements and expressions nested deeper than this are not analysed (they
/// become `Bad` nodes): it bounds every recursion over the AST.
pub const MAX_NESTING: usize = 1000;

/// A parsed Go file and the per-file facts rules ask about.
#[derive(Debug)]
pub struct GoFile {
    /// Path as shown to the user (relative to the working directory).
    pub path: String,
    /// Shared with the reader that loaded it: one copy of the text per run.
    pub src: std::sync::Arc<str>,
    pub ast: File,
    pub is_test: bool,
    /// A generated file (`// Code generated ... DO NOT EDIT.`) loaded for its
    /// declarations only: rules never report in it (see [`keeps_generated`]).
    pub is_generated: bool,
    lines: LineIndex,
    /// Local import name -> import path (blank and dot imports excluded).
    import_names: HashMap<String, String>,
}

#[derive(Debug)]
pub enum ParseError {
    NotGo(String),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::NotGo(why) => write!(f, "{why}"),
        }
    }
}

thread_local! {
    static PARSER: RefCell<tree_sitter::Parser> = RefCell::new({
        let mut p = tree_sitter::Parser::new();
        p.set_language(&tree_sitter_go::LANGUAGE.into()).expect("tree-sitter-go grammar version");
        p
    });
}

/// Parses and lowers one Go file. Syntax errors are tolerated (the broken
/// subtrees become `Bad` nodes and `ast.syntax_errors` counts them), and so is
/// adversarial nesting (cut at [`MAX_NESTING`], `ast.too_deep` set).
///
/// Lowering recurses once per nesting level: call this on a thread with a
/// generous stack (the CLI's workers have 64 MiB; 8 MiB covers the limit).
pub fn parse_file(path: &str, src: impl Into<std::sync::Arc<str>>) -> Result<GoFile, ParseError> {
    let src: std::sync::Arc<str> = src.into();
    let tree = PARSER.with(|p| p.borrow_mut().parse(src.as_bytes(), None));
    let Some(mut tree) = tree else {
        return Err(ParseError::NotGo("the parser gave up on this file".into()));
    };
    // Go 1.26 `new(expr)`: reparse with those calls respelled (same offsets).
    if tree.root_node().has_error() && src.contains("new") {
        if let Some(patched) = newexpr::respell_new_exprs(&src) {
            if let Some(t) = PARSER.with(|p| p.borrow_mut().parse(&patched, None)) {
                if count_errors(t.root_node()) < count_errors(tree.root_node()) {
                    tree = t;
                }
            }
        }
    }
    let root = tree.root_node();
    let lowerer = lower::Lowerer::new(&src);
    let mut ast = lowerer.file(root);
    ast.syntax_errors = if root.has_error() {
        count_errors(root)
    } else {
        0
    };
    drop(tree);
    let mut comments = lowerer.comments.take();
    comments.sort();
    comments.dedup();
    ast.comments = comments;
    ast.too_deep = lowerer.too_deep.get();
    let file_name = path.rsplit('/').next().unwrap_or(path);
    let mut import_names = HashMap::new();
    for imp in &ast.imports {
        let name = match &imp.name {
            Some(n) if n.name == "_" || n.name == "." => continue,
            Some(n) => n.name.to_string(),
            None => default_import_name(&imp.path).to_string(),
        };
        import_names.insert(name, imp.path.clone());
    }
    Ok(GoFile {
        path: path.to_string(),
        lines: LineIndex::new(&src),
        is_generated: is_generated(&src),
        src,
        ast,
        is_test: file_name.ends_with("_test.go"),
        import_names,
    })
}

/// Counts `ERROR` and missing nodes, iteratively (no recursion).
fn count_errors(root: tree_sitter::Node) -> u32 {
    let mut errors = 0;
    let mut cursor = root.walk();
    loop {
        let node = cursor.node();
        if node.is_error() || node.is_missing() {
            errors += 1;
        }
        if node.has_error() && cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return errors;
            }
        }
    }
}

/// The name a package is known by when imported without an alias: the last
/// path element, skipping a major-version suffix (`.../v2`) and a `.vN` suffix.
pub fn default_import_name(path: &str) -> &str {
    let mut parts = path.rsplit('/');
    let mut last = parts.next().unwrap_or(path);
    if last.len() > 1 && last.starts_with('v') && last[1..].chars().all(|c| c.is_ascii_digit()) {
        if let Some(prev) = parts.next() {
            last = prev;
        }
    }
    if let Some(idx) = last.find(".v") {
        if last[idx + 2..].chars().all(|c| c.is_ascii_digit()) {
            last = &last[..idx];
        }
    }
    last
}

/// Whether the source starts with Go's generated-file marker
/// (`// Code generated ... DO NOT EDIT.` on a line before the package clause).
pub fn is_generated(src: &str) -> bool {
    for line in src.lines() {
        let l = line.trim();
        if l.starts_with("package ") {
            return false;
        }
        if l.starts_with("// Code generated ") && l.ends_with(" DO NOT EDIT.") {
            return true;
        }
    }
    false
}

/// Whether a generated file is loaded for its declarations (it is never
/// reported on): protobuf and gRPC code (`*.pb.go`, `protoc-gen-*` markers),
/// whose messages, service interfaces and `Register...Server` functions the
/// type index, the route map and `lock-copied` need. Other generated code
/// (parser tables, SSA rewrite rules, stringers) stays unread: it is a third
/// of the standard library's bytes and declares nothing a service rule asks
/// about.
pub fn keeps_generated(path: &str, src: &str) -> bool {
    if path.ends_with(".pb.go") {
        return true;
    }
    src.lines()
        .take_while(|l| !l.trim_start().starts_with("package "))
        .any(|l| l.contains("protoc-gen-"))
}

/// Whether the file is excluded from every build by `//go:build ignore` (the
/// convention for generators and one-off tools run with `go run gen.go`): the go
/// tool, `go vet` and golangci-lint never see such a file, and neither do we.
pub fn is_build_ignored(src: &str) -> bool {
    for line in src.lines() {
        let l = line.trim();
        if l.starts_with("package ") {
            return false;
        }
        if let Some(expr) = l.strip_prefix("//go:build ") {
            return expr.split("&&").any(|t| t.trim() == "ignore");
        }
    }
    false
}

impl GoFile {
    /// The import path a local package name refers to in this file.
    pub fn import_path(&self, local_name: &str) -> Option<&str> {
        self.import_names.get(local_name).map(|s| s.as_str())
    }

    /// Whether the file imports `path` (under any name, including `_`).
    pub fn imports(&self, path: &str) -> bool {
        self.ast.imports.iter().any(|i| i.path == path)
    }

    /// `(package path, name)` when `e` is `pkg.Name` and `pkg` is an import of
    /// this file. Does not know about local variables that shadow an import:
    /// prefer `Checker::pkg_member`, which does.
    pub fn pkg_member_unscoped<'a>(&'a self, e: &'a Expr) -> Option<(&'a str, &'a str)> {
        let sel = e.as_selector()?;
        let pkg = sel.x.as_ident()?;
        Some((self.import_path(&pkg.name)?, &sel.sel.name))
    }

    /// 1-based line and byte column of a byte offset.
    pub fn line_col(&self, offset: u32) -> (u32, u32) {
        self.lines.line_col(offset)
    }

    /// The text of a span.
    pub fn text(&self, span: Span) -> &str {
        self.src.get(span.range()).unwrap_or("")
    }

    /// The text of the comment, or of the source, between two offsets.
    pub fn line_text(&self, line: u32) -> &str {
        self.lines.line_text(&self.src, line)
    }

    /// The file as other packages see it: its declarations with their types
    /// and signatures, but no function bodies, no comments, and package-level
    /// initializers reduced to what tells their type (a composite literal
    /// keeps its type, not its elements; a function literal its signature).
    /// What a package keeps of its dependencies once they have been checked:
    /// a tree costs several times its text, a skeleton a fraction of it.
    pub fn into_skeleton(mut self) -> GoFile {
        for decl in &mut self.ast.decls {
            match decl {
                Decl::Func(f) => f.body = None,
                Decl::Gen(g) => {
                    for spec in &mut g.specs {
                        if let Spec::Value(v) = spec {
                            v.values.iter_mut().for_each(strip_initializer);
                        }
                    }
                }
                Decl::Bad(_) => {}
            }
        }
        self.ast.comments = Vec::new();
        self
    }
}

/// Drops what a package-level initializer holds beyond its type: the
/// elements of composite literals and the bodies of function literals, also
/// under calls, `&`/`-` and parentheses (`var h = wrap(func() {...})`).
fn strip_initializer(e: &mut Expr) {
    match e {
        Expr::CompositeLit(c) => c.elts = Vec::new(),
        Expr::FuncLit(f) => f.body.stmts = Vec::new(),
        Expr::Call(c) => c.args.iter_mut().for_each(strip_initializer),
        Expr::Unary(u) => strip_initializer(&mut u.x),
        Expr::Paren(p) => strip_initializer(&mut p.x),
        _ => {}
    }
}

#[derive(Debug)]
pub struct LineIndex {
    starts: Vec<u32>,
}

impl LineIndex {
    pub fn new(src: &str) -> LineIndex {
        let mut starts = vec![0u32];
        for (i, b) in src.bytes().enumerate() {
            if b == b'\n' {
                starts.push(i as u32 + 1);
            }
        }
        LineIndex { starts }
    }

    pub fn line_col(&self, offset: u32) -> (u32, u32) {
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        (line as u32 + 1, offset - self.starts[line] + 1)
    }

    pub fn line_text<'s>(&self, src: &'s str, line: u32) -> &'s str {
        let i = line.saturating_sub(1) as usize;
        let Some(&start) = self.starts.get(i) else {
            return "";
        };
        let end = self
            .starts
            .get(i + 1)
            .map(|e| *e as usize)
            .unwrap_or(src.len());
        src.get(start as usize..end)
            .unwrap_or("")
            .trim_end_matches(['\n', '\r'])
    }
}
