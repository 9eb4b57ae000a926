//! Facts that cross file boundaries: the declarations of each package, and the
//! packages of the checked tree by import path.
//!
//! The index borrows the parsed files (it only records references) and is
//! shared read-only by all rule threads. A run builds one per group of
//! packages it checks: those packages whole, their dependencies as skeletons
//! (declarations without bodies) shared across the run, and the import graph
//! of every package for the run-wide facts.

use crate::ast::*;
use crate::facts::{FactStore, PackageFact, ProjectFact};
use crate::module::GoMod;
use crate::GoFile;
use std::collections::HashMap;
use std::sync::Arc;

/// The files of one Go package as found on disk: one directory, one package
/// name (a directory's external `_test` package is a package of its own).
#[derive(Debug)]
pub struct SourcePackage {
    /// Directory as shown to the user (relative, `/`-separated; "." for the root).
    pub dir: String,
    /// `package` clause name.
    pub name: String,
    /// Import path: module path + directory below go.mod; the directory when no
    /// go.mod was found.
    pub import_path: String,
    pub gomod: Arc<GoMod>,
    pub files: Vec<GoFile>,
}

impl SourcePackage {
    /// The package as its importers see it (see [`GoFile::into_skeleton`]).
    pub fn into_skeleton(self) -> SourcePackage {
        SourcePackage {
            files: self.files.into_iter().map(GoFile::into_skeleton).collect(),
            ..self
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct FuncDef<'a> {
    pub decl: &'a FuncDecl,
    pub file: &'a GoFile,
}

#[derive(Clone, Copy, Debug)]
pub struct VarDef<'a> {
    pub spec: &'a ValueSpec,
    /// Position of the name within the spec (`var a, b = 1, 2`).
    pub index: usize,
    pub is_const: bool,
    pub file: &'a GoFile,
}

/// The declarations of one package.
#[derive(Debug)]
pub struct Package<'a> {
    pub src: &'a SourcePackage,
    pub types: HashMap<&'a str, (&'a TypeSpec, &'a GoFile)>,
    pub funcs: HashMap<&'a str, FuncDef<'a>>,
    /// (receiver base type name, method name) -> declaration.
    pub methods: HashMap<(&'a str, &'a str), FuncDef<'a>>,
    pub vars: HashMap<&'a str, VarDef<'a>>,
    /// A test-helper package: a non-test file declares a function that takes
    /// `*testing.T`/`B`/`F` or `testing.TB`. Its code runs only under `go test`,
    /// so production-risk rules treat it like `_test.go` files.
    pub test_helper: bool,
    /// Package-wide facts, computed once on first request ([`Package::fact`]).
    pub facts: FactStore,
}

impl<'a> Package<'a> {
    pub fn new(src: &'a SourcePackage) -> Package<'a> {
        let mut p = Package {
            src,
            types: HashMap::new(),
            funcs: HashMap::new(),
            methods: HashMap::new(),
            vars: HashMap::new(),
            test_helper: src.files.iter().any(is_test_helper_file),
            facts: FactStore::default(),
        };
        for file in &src.files {
            for decl in &file.ast.decls {
                match decl {
                    Decl::Func(f) => {
                        let def = FuncDef { decl: f, file };
                        match f.recv_type_name() {
                            Some(recv) => {
                                p.methods.insert((recv, f.name.name.as_str()), def);
                            }
                            None if f.recv.is_none() => {
                                p.funcs.insert(f.name.name.as_str(), def);
                            }
                            None => {}
                        }
                    }
                    Decl::Gen(g) => {
                        for spec in &g.specs {
                            match spec {
                                Spec::Type(t) => {
                                    p.types.insert(t.name.name.as_str(), (t, file));
                                }
                                Spec::Value(v) => {
                                    for (index, name) in v.names.iter().enumerate() {
                                        p.vars.insert(
                                            name.name.as_str(),
                                            VarDef {
                                                spec: v,
                                                index,
                                                is_const: g.kind == GenKind::Const,
                                                file,
                                            },
                                        );
                                    }
                                }
                            }
                        }
                    }
                    Decl::Bad(_) => {}
                }
            }
        }
        p
    }

    /// Whether `file` (of this package) is test code: a `_test.go` file, or
    /// any file of a test-helper package.
    pub fn is_test_code(&self, file: &GoFile) -> bool {
        file.is_test || self.test_helper
    }

    /// The package's fact of type `F`, computed on first request and shared
    /// by every file and thread after that.
    pub fn fact<F: PackageFact>(&'a self, project: &'a ProjectIndex<'a>) -> Arc<F> {
        self.facts.get_or_compute(|| F::compute(self, project))
    }

    /// The package-wide answer to question `Tag` for `key`, computed once per
    /// package (see [`crate::facts::KeyedFact`]).
    pub fn memo<Tag, K, V>(
        &'a self,
        project: &'a ProjectIndex<'a>,
        key: K,
        compute: impl FnOnce() -> V,
    ) -> V
    where
        Tag: 'static,
        K: std::hash::Hash + Eq + Send + 'static,
        V: Clone + Send + 'static,
    {
        self.fact::<crate::facts::KeyedFact<Tag, K, V>>(project)
            .get(key, compute)
    }

    pub fn import_path(&self) -> &'a str {
        &self.src.import_path
    }

    pub fn files(&self) -> &'a [GoFile] {
        &self.src.files
    }

    /// The files of the package (with their index) whose text contains
    /// `needle`: where a package-wide walk looking for one name starts.
    pub fn files_mentioning<'s>(
        &'s self,
        needle: &'s str,
    ) -> impl Iterator<Item = (usize, &'a GoFile)> + 's {
        self.src
            .files
            .iter()
            .enumerate()
            .filter(move |(_, f)| f.src.contains(needle))
    }

    /// Whether any file of the package calls `pkg.name` (e.g. a middleware
    /// that installs `http.MaxBytesHandler`), whatever the import is called.
    pub fn calls_pkg_func(&self, pkg: &str, name: &str) -> bool {
        self.src.files.iter().any(|f| {
            let mut found = false;
            crate::walk::walk_file(&f.ast, &mut |n, _| {
                if found {
                    return false;
                }
                if let crate::walk::Node::Expr(e @ Expr::Selector(_)) = n {
                    if f.pkg_member_unscoped(e) == Some((pkg, name)) {
                        found = true;
                    }
                }
                true
            });
            found
        })
    }
}

/// A package of a [`ProjectIndex`]: built for this index (the packages being
/// checked), or borrowed from the run (the skeletons of their dependencies,
/// built once and shared by every package that imports them).
#[allow(clippy::large_enum_variant)] // a handful per index, built once
pub enum Entry<'a> {
    Owned(Package<'a>),
    Shared(&'a Package<'a>),
}

impl<'a> Entry<'a> {
    fn get(&self) -> &Package<'a> {
        match self {
            Entry::Owned(p) => p,
            Entry::Shared(p) => p,
        }
    }
}

/// The packages of an index, in the order they were given.
pub struct Packages<'a>(Vec<Entry<'a>>);

impl<'a> Packages<'a> {
    pub fn iter(&self) -> impl Iterator<Item = &Package<'a>> + '_ {
        self.0.iter().map(Entry::get)
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> std::ops::Index<usize> for Packages<'a> {
    type Output = Package<'a>;
    fn index(&self, i: usize) -> &Package<'a> {
        self.0[i].get()
    }
}

impl<'s, 'a> IntoIterator for &'s Packages<'a> {
    type Item = &'s Package<'a>;
    type IntoIter = Box<dyn Iterator<Item = &'s Package<'a>> + 's>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl std::fmt::Debug for Packages<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|p| p.import_path()))
            .finish()
    }
}

/// Methods whose call (`x.Shutdown(ctx)`) stops a server gracefully.
pub const SHUTDOWN_METHODS: &[&str] = &["Shutdown", "GracefulStop"];

/// One package as the import graph sees it.
#[derive(Debug, Clone)]
pub struct GraphPackage {
    pub import_path: String,
    /// `package` clause name.
    pub name: String,
    /// Imports of its non-test files.
    pub imports: Vec<String>,
    /// A non-test file calls one of [`SHUTDOWN_METHODS`] on some value.
    pub stops_servers: bool,
}

impl GraphPackage {
    /// A package from its non-test files: each one's import paths and text.
    pub fn new<'f, I: IntoIterator<Item = &'f str>>(
        import_path: &str,
        name: &str,
        files: impl Iterator<Item = (I, &'f str)>,
    ) -> GraphPackage {
        let (mut imports, mut stops_servers) = (Vec::new(), false);
        for (paths, src) in files {
            imports.extend(paths.into_iter().map(str::to_string));
            stops_servers = stops_servers || crate::scan::calls_selector(src, SHUTDOWN_METHODS);
        }
        imports.sort_unstable();
        imports.dedup();
        GraphPackage {
            import_path: import_path.to_string(),
            name: name.to_string(),
            imports,
            stops_servers,
        }
    }
}

/// Package positions by import path, given each package's (path, package
/// clause name): an external test package (`foo_test`) shares its
/// directory's path and counts only when the package itself is absent.
fn by_import_path<K: std::hash::Hash + Eq>(
    pkgs: impl Iterator<Item = (K, bool)>,
) -> HashMap<K, usize> {
    let mut by_path = HashMap::new();
    for (i, (path, external_test)) in pkgs.enumerate() {
        if external_test && by_path.contains_key(&path) {
            continue;
        }
        by_path.insert(path, i);
    }
    by_path
}

/// Every package of the run and what it imports: what run-wide facts read,
/// so that they need no syntax tree (a run checks package by package and
/// drops their trees as it goes).
#[derive(Debug, Default)]
pub struct ImportGraph {
    packages: Vec<GraphPackage>,
    by_path: HashMap<String, usize>,
}

impl ImportGraph {
    pub fn new(packages: Vec<GraphPackage>) -> ImportGraph {
        let by_path = by_import_path(
            packages
                .iter()
                .map(|p| (p.import_path.clone(), p.name.ends_with("_test"))),
        );
        ImportGraph { packages, by_path }
    }

    /// The graph of parsed packages.
    pub fn of_sources(sources: &[SourcePackage]) -> ImportGraph {
        ImportGraph::new(
            sources
                .iter()
                .map(|s| {
                    let files = s
                        .files
                        .iter()
                        .filter(|f| !f.is_test)
                        .map(|f| (f.ast.imports.iter().map(|i| i.path.as_str()), &*f.src));
                    GraphPackage::new(&s.import_path, &s.name, files)
                })
                .collect(),
        )
    }

    pub fn packages(&self) -> &[GraphPackage] {
        &self.packages
    }

    /// The package an import path names (never an external test package
    /// when the package itself is there).
    pub fn lookup(&self, import_path: &str) -> Option<usize> {
        self.by_path.get(import_path).copied()
    }

    /// The packages `from` imports through non-test files, directly or not,
    /// itself included, in the order a depth-first walk meets them.
    pub fn reachable_from(&self, from: usize) -> Vec<usize> {
        let mut seen = vec![false; self.packages.len()];
        let mut out = Vec::new();
        let mut stack = vec![from];
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            out.push(i);
            for imp in &self.packages[i].imports {
                if let Some(dep) = self.lookup(imp) {
                    stack.push(dep);
                }
            }
        }
        out
    }
}

/// All packages of the run, by import path.
#[derive(Debug)]
pub struct ProjectIndex<'a> {
    pub packages: Packages<'a>,
    by_path: HashMap<&'a str, usize>,
    graph: Arc<ImportGraph>,
    facts: Arc<FactStore>,
}

impl<'a> ProjectIndex<'a> {
    /// The index of parsed packages: every one of them whole, the import
    /// graph read from their trees.
    pub fn new(sources: &'a [SourcePackage]) -> ProjectIndex<'a> {
        ProjectIndex::assemble(
            sources
                .iter()
                .map(|s| Entry::Owned(Package::new(s)))
                .collect(),
            Arc::new(ImportGraph::of_sources(sources)),
            Arc::default(),
        )
    }

    /// An index of the given packages (some borrowed from the run) over the
    /// run's import graph; `facts` holds the run-wide facts, shared by every
    /// index of the run.
    pub fn assemble(
        entries: Vec<Entry<'a>>,
        graph: Arc<ImportGraph>,
        facts: Arc<FactStore>,
    ) -> ProjectIndex<'a> {
        let packages = Packages(entries);
        let by_path = by_import_path(
            packages
                .iter()
                .map(|p| (p.import_path(), p.src.name.ends_with("_test"))),
        );
        ProjectIndex {
            packages,
            by_path,
            graph,
            facts,
        }
    }

    /// The run's import graph (every package of the run, parsed or not).
    pub fn graph(&self) -> &ImportGraph {
        &self.graph
    }

    /// The run-wide fact of type `F`, computed once per run from the graph.
    pub fn fact<F: ProjectFact>(&self) -> Arc<F> {
        self.facts.get_or_compute(|| F::compute(&self.graph))
    }

    pub fn package(&self, import_path: &str) -> Option<&Package<'a>> {
        self.by_path.get(import_path).map(|i| &self.packages[*i])
    }

    /// The packages of the tree that `main` imports (directly or not), itself
    /// included; test files' imports do not count.
    pub fn reachable_from(&'a self, main: &'a Package<'a>) -> Vec<&'a Package<'a>> {
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        let mut stack = vec![main];
        while let Some(p) = stack.pop() {
            if !seen.insert(p.import_path()) {
                continue;
            }
            out.push(p);
            for f in p.files().iter().filter(|f| !f.is_test) {
                for imp in &f.ast.imports {
                    if let Some(dep) = self.package(&imp.path) {
                        stack.push(dep);
                    }
                }
            }
        }
        out
    }
}

/// Whether a non-test file declares a function with a `*testing.T`, `*testing.B`,
/// `*testing.F` or `testing.TB` parameter (whatever `testing` is imported as).
fn is_test_helper_file(file: &GoFile) -> bool {
    if file.is_test || !file.imports("testing") {
        return false;
    }
    let is_testing_type = |e: &Expr| {
        let e = match e {
            Expr::Star(s) => &s.x,
            e => e,
        };
        matches!(
            file.pkg_member_unscoped(e),
            Some(("testing", "T" | "B" | "F" | "TB"))
        )
    };
    file.ast.decls.iter().any(|d| match d {
        Decl::Func(f) => f.ty.params.iter().any(|p| is_testing_type(&p.ty)),
        _ => false,
    })
}
