//! The rules of pitfall and the engine that runs them on a file.
//!
//! Each rule is one file, `src/<category>/<rule_name>.rs`, holding a
//! `pub static RULE: Rule` with its metadata, its documentation page and its
//! check function. `build.rs` generates the registry ([`ALL`]) from those files.

use pitfall_go::ast::{CallExpr, Expr, Span};
use pitfall_go::index::{Package, ProjectIndex};
use pitfall_go::types::{Env, Scope, Ty};
use pitfall_go::walk::Node;
use pitfall_go::GoFile;
pub use pitfall_report::{Applicability, Category, Finding, RuleInfo, Severity};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

pub mod dump_check;
pub mod fixes;
pub mod manifest;
pub mod nolint;

include!(concat!(env!("OUT_DIR"), "/registry.rs"));

/// What rules import: `use crate::prelude::*;`.
pub mod prelude {
    pub use crate::fixes::TextEdit;
    pub use crate::manifest::{Link, ManifestChecker};
    pub use crate::{Check, Checker, Rule, RuleOption, TestFiles};
    pub use pitfall_go::ast::*;
    pub use pitfall_go::facts::{PackageFact, ProjectFact};
    pub use pitfall_go::index::{ImportGraph, Package, ProjectIndex};
    pub use pitfall_go::types::Ty;
    pub use pitfall_go::walk::{self, enclosing_func, enclosing_loop, Func, Node};
    pub use pitfall_report::{Applicability, Category, Severity};
}

/// Which files a rule looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestFiles {
    /// Production-risk rules: `_test.go` files are skipped.
    Skip,
    /// All files.
    Include,
    /// Only `_test.go` files (rules about tests).
    Only,
}

/// A setting a rule reads from `[rules.<name>]` in pitfall.toml.
#[derive(Debug)]
pub struct RuleOption {
    pub name: &'static str,
    pub default: &'static str,
    pub help: &'static str,
}

/// A rule: its public identity, its page, and its check.
pub struct Rule {
    /// kebab-case; public and never renamed once released.
    pub name: &'static str,
    pub category: Category,
    pub severity: Severity,
    /// One line, for `pitfall rules` and SARIF's shortDescription.
    pub summary: &'static str,
    /// Which line the finding is reported on.
    pub reports_on: &'static str,
    pub test_files: TestFiles,
    pub options: &'static [RuleOption],
    /// The rule's page (Markdown): what it finds, why it matters, bad and good
    /// examples, how to fix, how to suppress.
    pub doc: &'static str,
    pub check: Check,
}

/// How a rule is decided. Go-file rules run through [`check_file`]; the other
/// engines (manifests, cross-checks, goroutine dumps) add their own variant and
/// report under the rule's name, so every rule has one file, one page and one
/// place in the registry whatever it reads.
#[derive(Clone, Copy)]
pub enum Check {
    /// Runs once per Go file that [`Rule::applies_to`].
    Go(fn(&mut Checker)),
    /// Decided from a goroutine dump by `pitfall dump` ([`dump_check`]);
    /// [`check_file`] skips it.
    Dump(fn(&dump_check::DumpChecker) -> Vec<pitfall_dump::verdict::Verdict>),
    /// Runs once on all Kubernetes objects of the run ([`manifest::check_manifests`]).
    Manifest(fn(&mut manifest::ManifestChecker)),
    /// Runs once on the containers linked to the Go `main` packages of the
    /// run: manifests and code checked against each other.
    Cross(fn(&mut manifest::ManifestChecker)),
}

impl Rule {
    /// A numeric option: the value set in `[rules.<name>]` when it parses, or
    /// the rule's declared default. Every engine's checker reads options here.
    pub fn option_u64(&self, set: Option<&HashMap<String, String>>, name: &str) -> u64 {
        if let Some(v) = set.and_then(|o| o.get(name)).and_then(|v| v.parse().ok()) {
            return v;
        }
        self.options
            .iter()
            .find(|o| o.name == name)
            .and_then(|o| o.default.parse().ok())
            .unwrap_or_else(|| panic!("rule {} has no numeric option {name}", self.name))
    }

    /// A textual option as set in `[rules.<name>]`, or its declared default.
    pub fn option_str(&self, set: Option<&HashMap<String, String>>, name: &str) -> String {
        if let Some(v) = set.and_then(|o| o.get(name)) {
            return v.clone();
        }
        self.options
            .iter()
            .find(|o| o.name == name)
            .map(|o| o.default.to_string())
            .unwrap_or_default()
    }

    pub fn info(&self) -> RuleInfo {
        RuleInfo {
            name: self.name,
            category: self.category,
            severity: self.severity,
            summary: self.summary,
            doc: self.doc,
        }
    }

    pub fn applies_to(&self, file: &GoFile) -> bool {
        match self.test_files {
            TestFiles::Skip => !file.is_test,
            TestFiles::Include => true,
            TestFiles::Only => file.is_test,
        }
    }
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

pub fn find(name: &str) -> Option<&'static Rule> {
    ALL.iter().copied().find(|r| r.name == name)
}

/// Rule settings after reading the config and the command line.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Rules that run (by name).
    pub enabled: Vec<&'static Rule>,
    pub severity: HashMap<String, Severity>,
    /// `[rules.<name>]` tables, values as written (strings, numbers as text).
    pub options: HashMap<String, HashMap<String, String>>,
}

impl Settings {
    pub fn all() -> Settings {
        Settings {
            enabled: ALL.to_vec(),
            ..Default::default()
        }
    }
}

/// What checking one file produced.
#[derive(Debug, Default)]
pub struct FileResult {
    pub findings: Vec<Finding>,
    /// Messages for stderr: unknown names in //nolint, internal rule errors.
    pub warnings: Vec<String>,
}

/// Runs the enabled rules on one file and applies its `//nolint` comments.
pub fn check_file<'a>(
    file: &'a GoFile,
    pkg: &'a Package<'a>,
    project: &'a ProjectIndex<'a>,
    settings: &'a Settings,
) -> FileResult {
    static NO_OPTIONS: std::sync::OnceLock<HashMap<String, String>> = std::sync::OnceLock::new();
    let mut result = FileResult::default();
    if file.is_generated {
        // Loaded for its declarations only (`pitfall_go::keeps_generated`).
        return result;
    }
    let envs = Rc::new(RefCell::new(HashMap::new()));
    let lock_traces = Rc::new(std::cell::OnceCell::new());
    for rule in &settings.enabled {
        let Check::Go(check) = rule.check else {
            continue;
        };
        if !rule.applies_to(file) {
            continue;
        }
        // A test-helper package is test code even outside `_test.go`.
        if rule.test_files == TestFiles::Skip && pkg.test_helper {
            continue;
        }
        let mut cx = Checker {
            file,
            pkg,
            project,
            rule,
            options: settings
                .options
                .get(rule.name)
                .unwrap_or_else(|| NO_OPTIONS.get_or_init(HashMap::new)),
            severity: settings
                .severity
                .get(rule.name)
                .copied()
                .unwrap_or(rule.severity),
            envs: envs.clone(),
            lock_traces: lock_traces.clone(),
            findings: Vec::new(),
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&mut cx)));
        match outcome {
            Ok(()) => result.findings.append(&mut cx.findings),
            Err(e) => {
                let why = e
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| e.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                result.warnings.push(format!(
                    "{}: internal error in rule {} (skipped for this file): {why}",
                    file.path, rule.name
                ));
            }
        }
    }
    let directives = nolint::Directives::parse(file);
    for w in directives.unknown_names() {
        result.warnings.push(w);
    }
    result.findings.retain(|f| !directives.suppresses(f));
    result
        .findings
        .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    result
        .findings
        .dedup_by(|a, b| a.sort_key() == b.sort_key());
    result
}

/// What a rule's check function works with.
pub struct Checker<'a> {
    pub file: &'a GoFile,
    pub pkg: &'a Package<'a>,
    pub project: &'a ProjectIndex<'a>,
    pub rule: &'static Rule,
    options: &'a HashMap<String, String>,
    severity: Severity,
    envs: Rc<RefCell<HashMap<u32, Rc<Env<'a>>>>>,
    /// [`Checker::lock_traces`] of this file, shared by the rules that read it.
    lock_traces: Rc<std::cell::OnceCell<LockTraces<'a>>>,
    findings: Vec<Finding>,
}

type LockTraces<'a> = Vec<(&'a pitfall_go::ast::Block, String, pitfall_go::locks::Trace)>;

/// A finding just reported; add a fix hint with [`Reported::fix`], machine
/// edits with [`Reported::edits`] and related places with [`Reported::related`].
pub struct Reported<'c>(&'c mut Finding, Option<&'c GoFile>);

impl<'c> Reported<'c> {
    pub fn fix(self, hint: impl Into<String>) -> Self {
        self.0.fix = Some(hint.into());
        self
    }

    /// Machine-applicable edits (see [`fixes`]) that fix the finding. Several
    /// edits must not overlap; an empty list offers no fix.
    pub fn edits(self, applicability: Applicability, edits: Vec<fixes::TextEdit>) -> Self {
        if let (Some(file), false) = (self.1, edits.is_empty()) {
            if let Some(mut e) = fixes::to_edits(file, edits) {
                self.0.edits.append(&mut e);
                self.0.applicability = Some(applicability);
            }
        }
        self
    }

    /// A place in the same file that explains the finding.
    pub fn related(self, span: Span, message: impl Into<String>) -> Self {
        match self.1 {
            Some(file) => self.related_in(file, span, message),
            None => self,
        }
    }

    /// A place in `file` (another file of the package, say) that explains the finding.
    pub fn related_in(self, file: &GoFile, span: Span, message: impl Into<String>) -> Self {
        {
            let (line, column) = file.line_col(span.start);
            let (end_line, end_column) = file.line_col(span.end.max(span.start));
            self.0.related.push(pitfall_report::Related {
                path: file.path.clone(),
                line,
                column,
                end_line,
                end_column,
                message: message.into(),
            });
        }
        self
    }
}

impl<'a> Checker<'a> {
    /// Reports a finding at `span` (the line a reviewer would comment on).
    pub fn report(&mut self, span: Span, message: impl Into<String>) -> Reported<'_> {
        let (line, column) = self.file.line_col(span.start);
        let (end_line, end_column) = self.file.line_col(span.end.max(span.start));
        self.findings.push(Finding {
            rule: self.rule.name,
            category: self.rule.category,
            severity: self.severity,
            path: self.file.path.clone(),
            line,
            column,
            end_line,
            end_column,
            message: message.into(),
            fix: None,
            applicability: None,
            edits: Vec::new(),
            related: Vec::new(),
            span: (span.start as usize, span.end as usize),
        });
        Reported(
            self.findings.last_mut().expect("just pushed"),
            Some(self.file),
        )
    }

    /// A numeric option from `[rules.<name>]`, or its declared default.
    pub fn option_u64(&self, name: &str) -> u64 {
        self.rule.option_u64(Some(self.options), name)
    }

    /// A textual option (e.g. a list, comma-separated), or its default.
    pub fn option_str(&self, name: &str) -> String {
        self.rule.option_str(Some(self.options), name)
    }

    /// A package-wide fact, computed once per package (by whichever file asks
    /// first) and shared by every file of it: rules put package-wide work here
    /// instead of redoing it for each file.
    pub fn package_fact<F: pitfall_go::facts::PackageFact>(&self) -> std::sync::Arc<F> {
        self.pkg.fact::<F>(self.project)
    }

    /// A run-wide fact, computed once per run.
    pub fn project_fact<F: pitfall_go::facts::ProjectFact>(&self) -> std::sync::Arc<F> {
        self.project.fact::<F>()
    }

    /// Whether the module's `go` directive is at least `major.minor`.
    pub fn go_at_least(&self, major: u32, minor: u32) -> bool {
        self.pkg.src.gomod.go_at_least(major, minor)
    }

    /// Every `ctx, cancel := context.WithCancel/Timeout/Deadline(...)` of this
    /// file, whatever the import is called.
    pub fn cancel_derivations(&self) -> Vec<pitfall_go::ctxflow::Derivation<'a>> {
        let is_deriver =
            |c: &'a CallExpr| self.is_pkg_call(c, "context", pitfall_go::ctxflow::CANCEL_DERIVERS);
        pitfall_go::ctxflow::derivations(&self.file.ast, &is_deriver)
    }

    /// Every mutex each function of this file locks, traced along that
    /// function's paths: (function body, the mutex as written, its trace).
    /// Mutexes whose paths cannot be followed are left out. Shared by the lock
    /// rules, which differ only in what they read from the trace.
    pub fn lock_traces(&self) -> LockTraces<'a> {
        self.lock_traces
            .get_or_init(|| self.compute_lock_traces())
            .clone()
    }

    /// Computed once per file (several rules ask; each computation summarizes
    /// the package functions the file calls).
    fn compute_lock_traces(&self) -> LockTraces<'a> {
        let sc = self.scope();
        let summaries = pitfall_go::locks::Summaries::shared(self.pkg, self.project);
        let classify = |c: &'a CallExpr| {
            let env = self.env_at(c.span.start);
            summaries.classify(&sc, &env, c)
        };
        let mut out = Vec::new();
        for f in pitfall_go::walk::funcs(&self.file.ast) {
            let Some(body) = f.body() else { continue };
            for key in pitfall_go::locks::acquired_keys(body, &classify) {
                let t = pitfall_go::locks::trace(body, &key, &classify);
                if !t.unknown {
                    out.push((body, key, t));
                }
            }
        }
        out
    }

    /// Each channel made by `make(chan ...)` in a top-level function of this
    /// file, with its uses there and in the same-package functions it is passed
    /// to: what the rules about local channels start from.
    pub fn local_channels(
        &self,
    ) -> Vec<(
        pitfall_go::chans::LocalChan<'a>,
        pitfall_go::chans::Uses<'a>,
    )> {
        let sc = self.scope();
        let mut out = Vec::new();
        for root in pitfall_go::walk::top_level_roots(&self.file.ast) {
            let env = self.env_at(root.span().start);
            for ch in pitfall_go::chans::local_chans(&sc, &env) {
                if root.span().contains(ch.decl.start) {
                    let uses = pitfall_go::chans::local_uses(&sc, &env, root, ch.decl);
                    out.push((ch, uses));
                }
            }
        }
        out
    }

    pub fn scope(&self) -> Scope<'a> {
        Scope {
            project: self.project,
            pkg: self.pkg,
            file: self.file,
        }
    }

    /// The local-name environment of the top-level declaration around `pos`.
    pub fn env_at(&self, pos: u32) -> Rc<Env<'a>> {
        let file: &'a GoFile = self.file;
        let mut root = None;
        // Declarations are in source order: skip those that end before `pos`
        // (a linear scan per call made per-node lookups quadratic in big files).
        let first = file.ast.decls.partition_point(|d| d.span().end <= pos);
        for decl in file.ast.decls[first..]
            .iter()
            .take_while(|d| d.span().start <= pos)
        {
            if !decl.span().contains(pos) {
                continue;
            }
            match decl {
                pitfall_go::ast::Decl::Func(f) => root = Some((f.span.start, Node::FuncDecl(f))),
                pitfall_go::ast::Decl::Gen(g) => {
                    for spec in &g.specs {
                        if let pitfall_go::ast::Spec::Value(v) = spec {
                            if v.span.contains(pos) {
                                root = Some((v.span.start, Node::ValueSpec(v)));
                            }
                        }
                    }
                }
                pitfall_go::ast::Decl::Bad(_) => {}
            }
        }
        let Some((key, node)) = root else {
            return Rc::new(Env::default());
        };
        if let Some(env) = self.envs.borrow().get(&key) {
            return env.clone();
        }
        let env = Rc::new(Env::build(&self.scope(), node));
        self.envs.borrow_mut().insert(key, env.clone());
        env
    }

    /// Whether `id` names a variable declared inside `body` (not a parameter,
    /// a named result or a captured variable, whose value outlives the body).
    pub fn declared_in(
        &self,
        body: &pitfall_go::ast::Block,
        id: &'a pitfall_go::ast::Ident,
    ) -> bool {
        self.env_at(id.span.start)
            .resolve(id)
            .is_some_and(|b| body.span.encloses(b.decl))
    }

    /// Whether the path analysis of `d` can follow `v` to the end of its life:
    /// a `v, err := f()`, or a `v, err = f()` at the top level of the function
    /// body that declares `v` (inside a nested block the variable outlives the
    /// block that the analysis follows).
    pub fn follows_def(
        &self,
        d: &pitfall_go::flow::Def<'a>,
        v: &'a pitfall_go::ast::Ident,
    ) -> bool {
        let top_level = d.body.stmts.iter().any(|s| std::ptr::eq(s, d.stmt));
        d.assign.is_define() || (top_level && self.declared_in(d.body, v))
    }

    /// The type of an expression (syntax-only inference; `Ty::Unknown` when unsure).
    pub fn type_of(&self, e: &'a Expr) -> Ty<'a> {
        self.env_at(e.span().start).type_of(&self.scope(), e)
    }

    /// `(import path, name)` when `e` is `pkg.Name` for an import of this file
    /// that no local variable shadows: `io/ioutil.ReadAll` whatever the alias.
    pub fn pkg_member(&self, e: &'a Expr) -> Option<(&'a str, &'a str)> {
        self.env_at(e.span().start).pkg_member(self.file, e)
    }

    /// Whether `call` calls one of `names` from package `pkg` (by import path).
    pub fn is_pkg_call(&self, call: &'a CallExpr, pkg: &str, names: &[&str]) -> bool {
        matches!(self.pkg_member(&call.fun), Some((p, n)) if p == pkg && names.contains(&n))
    }

    /// Whether `call` is a method call `x.M(...)` with `M` in `methods` on a
    /// value whose type is `pkg.ty` or `*pkg.ty`.
    pub fn is_method_call(
        &self,
        call: &'a CallExpr,
        pkg: &str,
        ty: &str,
        methods: &[&str],
    ) -> bool {
        let Some(Expr::Selector(sel)) = Some(call.fun.unparen()) else {
            return false;
        };
        if !methods.contains(&sel.sel.name.as_str()) || self.pkg_member(&call.fun).is_some() {
            return false;
        }
        self.type_of(&sel.x).is_named(pkg, ty)
    }
}
