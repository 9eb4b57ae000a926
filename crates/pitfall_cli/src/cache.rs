//! The result cache: what checking a package found, stored per package under
//! `$XDG_CACHE_HOME/pitfall` (or `--cache-dir`), so a re-run of an unchanged
//! tree answers without parsing.
//!
//! A package's key hashes everything its findings can depend on: the pitfall
//! build, the rule settings, the contents and paths of its own files, of every
//! package of the tree it imports (directly or not: types and methods are read
//! across packages), and of every `main` package that reaches it together with
//! that main's imports (whole-program rules such as missing-graceful-shutdown
//! ask whether some main reaching the package shuts down). This is
//! deliberately conservative: a change anywhere a package could read re-checks
//! it.
//!
//! Entries are written to a temporary file and renamed into place, so a reader
//! (another run at the same time) sees a whole entry or none; an entry that
//! does not parse or names another key is ignored and rewritten. When the
//! directory grows past its cap, the least recently used entries go.

use crate::discover::RawPackage;
use pitfall_report::Finding;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

/// Bumped when the entry format changes.
const FORMAT: &str = "v1";

/// Default size cap of the cache directory.
pub const DEFAULT_MAX_BYTES: u64 = 512 * 1024 * 1024;

pub type Key = u128;

/// 128-bit hash from two differently seeded SipHashes (std, stable within a
/// build: the key also includes the build, so that is enough).
#[derive(Default)]
pub struct Hash128(
    std::collections::hash_map::DefaultHasher,
    std::collections::hash_map::DefaultHasher,
);

impl Hash128 {
    pub fn new() -> Self {
        let mut h = Hash128::default();
        h.1.write_u8(0x5a);
        h
    }
    pub fn add(&mut self, v: impl Hash) -> &mut Self {
        v.hash(&mut self.0);
        v.hash(&mut self.1);
        self
    }
    pub fn finish(&self) -> u128 {
        (u128::from(self.0.finish()) << 64) | u128::from(self.1.finish())
    }
}

/// The package-import graph of the run (packages of the tree only).
pub struct Graph {
    deps: Vec<Vec<usize>>,
    mains: Vec<usize>,
}

impl Graph {
    pub fn new(pkgs: &[RawPackage]) -> Graph {
        // What an import names: the package of that path, never its external
        // test package (`foo_test` is not importable; mapping imports to it
        // would make cycles of the test packages' imports and give the whole
        // cycle one key). A directory holding only a test package keeps it,
        // as the project index does.
        let mut by_path: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, p) in pkgs.iter().enumerate() {
            if !p.name.ends_with("_test") {
                by_path.entry(p.import_path.as_str()).or_default().push(i);
            }
        }
        for (i, p) in pkgs.iter().enumerate() {
            if p.name.ends_with("_test") {
                by_path
                    .entry(p.import_path.as_str())
                    .or_insert_with(|| vec![i]);
            }
        }
        let deps = pkgs
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut d: Vec<usize> = p
                    .files
                    .iter()
                    .flat_map(|f| &f.header.imports)
                    .filter_map(|imp| by_path.get(imp.as_str()))
                    .flatten()
                    .copied()
                    .filter(|&j| j != i)
                    .collect();
                // The external test package reads the package it tests.
                if p.name.ends_with("_test") {
                    if let Some(tested) = by_path.get(p.import_path.as_str()) {
                        d.extend(tested.iter().filter(|&&j| j != i));
                    }
                }
                d.sort_unstable();
                d.dedup();
                d
            })
            .collect();
        let mains = (0..pkgs.len())
            .filter(|&i| pkgs[i].name == "main")
            .collect();
        Graph { deps, mains }
    }

    /// `from` and every package it imports, directly or not.
    pub fn closure(&self, from: &[usize]) -> Vec<usize> {
        let mut seen = vec![false; self.deps.len()];
        let mut stack: Vec<usize> = from.to_vec();
        let mut out = Vec::new();
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            out.push(i);
            stack.extend(self.deps[i].iter().copied().filter(|&j| !seen[j]));
        }
        out.sort_unstable();
        out
    }

    /// Everything checking the packages `of` reads: their closures, and the
    /// closures of the mains that reach any of them. With `all_mains`, every
    /// main's closure too (the manifest cross-checks look at every program).
    pub fn needed_for(&self, of: &[usize], all_mains: bool) -> Vec<usize> {
        let mut wanted = vec![false; self.deps.len()];
        for &i in of {
            wanted[i] = true;
        }
        let mut roots: Vec<usize> = of.to_vec();
        for &m in &self.mains {
            if all_mains || self.closure(&[m]).iter().any(|&q| wanted[q]) {
                roots.push(m);
            }
        }
        self.closure(&roots)
    }

    /// The packages `needed` grouped into units to check together, and what
    /// each unit imports: a unit is one package, or packages that import one
    /// another (build-tagged files can make cycles the compiler never sees).
    /// Units come in an order where every unit follows those it imports;
    /// `(units, deps of each unit)`.
    pub fn units(&self, needed: &[usize]) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
        let mut inside = vec![false; self.deps.len()];
        for &i in needed {
            inside[i] = true;
        }
        let units = components(needed, |i| {
            self.deps[i].iter().copied().filter(|&j| inside[j])
        });
        let mut unit_of = vec![usize::MAX; self.deps.len()];
        for (u, members) in units.iter().enumerate() {
            for &i in members {
                unit_of[i] = u;
            }
        }
        let deps = units
            .iter()
            .enumerate()
            .map(|(u, members)| {
                let mut d: Vec<usize> = members
                    .iter()
                    .flat_map(|&i| &self.deps[i])
                    .filter(|&&j| inside[j])
                    .map(|&j| unit_of[j])
                    .filter(|&v| v != u)
                    .collect();
                d.sort_unstable();
                d.dedup();
                d
            })
            .collect();
        (units, deps)
    }

    /// What a run with manifests reads besides: every `main` package (the
    /// containers are linked to mains by their names and directories; a
    /// linked program's code is parsed again when its facts are needed).
    pub fn with_mains(&self, of: &[usize]) -> Vec<usize> {
        let mut out = self.closure(of);
        out.extend(&self.mains);
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Each package's cache key (see the module docs). `salt` covers the
    /// pitfall build and the settings.
    pub fn keys(&self, pkgs: &[RawPackage], salt: u128) -> Vec<Key> {
        use rayon::prelude::*;
        let own: Vec<u128> = pkgs
            .par_iter()
            .map(|p| {
                let mut h = Hash128::new();
                h.add(&p.import_path).add(&p.name).add(&p.dir);
                h.add(format!("{:?}", p.gomod));
                for f in &p.files {
                    h.add(&f.path).add(&f.src);
                }
                h.finish()
            })
            .collect();
        let closures: Vec<Vec<usize>> = (0..pkgs.len())
            .into_par_iter()
            .map(|i| self.closure(&[i]))
            .collect();
        let reads = |c: &[usize]| {
            let mut hs: Vec<u128> = c.iter().map(|&q| own[q]).collect();
            hs.sort_unstable();
            let mut h = Hash128::new();
            h.add(hs);
            h.finish()
        };
        let deep: Vec<u128> = closures.par_iter().map(|c| reads(c)).collect();
        let mut reached_by: Vec<Vec<u128>> = vec![Vec::new(); pkgs.len()];
        for &m in &self.mains {
            for &q in &closures[m] {
                reached_by[q].push(deep[m]);
            }
        }
        (0..pkgs.len())
            .map(|i| {
                reached_by[i].sort_unstable();
                let mut h = Hash128::new();
                h.add(salt).add(own[i]).add(deep[i]).add(&reached_by[i]);
                h.finish()
            })
            .collect()
    }
}

/// The strongly connected components of the graph on `nodes` (Tarjan's
/// algorithm, iterative: a long import chain must not overflow the stack),
/// each sorted, in reverse topological order: a component comes after every
/// component it has edges to.
fn components<I: Iterator<Item = usize>>(
    nodes: &[usize],
    edges: impl Fn(usize) -> I,
) -> Vec<Vec<usize>> {
    const NONE: usize = usize::MAX;
    /// Tarjan's numbering: each node's visit order and low link, and the
    /// stack of nodes whose component is not closed yet.
    struct Walk {
        index: Vec<usize>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
    }
    impl Walk {
        fn enter(&mut self, v: usize) {
            (self.index[v], self.low[v]) = (self.next, self.next);
            self.next += 1;
            self.stack.push(v);
            self.on_stack[v] = true;
        }
    }
    let n = nodes.iter().copied().max().map_or(0, |m| m + 1);
    let mut t = Walk {
        index: vec![NONE; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
    };
    let successors = |v: usize| -> Vec<usize> {
        let mut succ: Vec<usize> = edges(v).collect();
        succ.reverse();
        succ
    };
    let mut out = Vec::new();
    for &root in nodes {
        if t.index[root] != NONE {
            continue;
        }
        t.enter(root);
        // (node, its successors not yet visited)
        let mut work: Vec<(usize, Vec<usize>)> = vec![(root, successors(root))];
        while let Some((v, succ)) = work.last_mut() {
            let v = *v;
            if let Some(w) = succ.pop() {
                if t.index[w] == NONE {
                    t.enter(w);
                    work.push((w, successors(w)));
                } else if t.on_stack[w] {
                    t.low[v] = t.low[v].min(t.index[w]);
                }
                continue;
            }
            work.pop();
            if let Some((parent, _)) = work.last() {
                t.low[*parent] = t.low[*parent].min(t.low[v]);
            }
            if t.low[v] == t.index[v] {
                let mut comp = Vec::new();
                loop {
                    let w = t.stack.pop().expect("v is on the stack");
                    t.on_stack[w] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                comp.sort_unstable();
                out.push(comp);
            }
        }
    }
    out
}

/// What checking one package produced, as stored.
#[derive(Serialize, Deserialize, Debug, Default, Clone)]
pub struct Entry {
    key: String,
    findings: Vec<StoredFinding>,
    /// Rule warnings (unknown //nolint names, internal errors), in order.
    pub warnings: Vec<String>,
    /// Parse warnings: (index of the file in the package, message).
    pub parse_warnings: Vec<(usize, String)>,
    pub files_checked: usize,
    pub files_with_syntax_errors: usize,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
struct StoredFinding {
    rule: String,
    severity: String,
    file: usize,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
    message: String,
    fix: Option<String>,
    applicability: Option<pitfall_report::Applicability>,
    edits: Vec<pitfall_report::Edit>,
    related: Vec<pitfall_report::Related>,
    span: (usize, usize),
}

impl Entry {
    /// An entry for `pkg`'s results; `findings` must be in `pkg`'s files.
    pub fn new(
        pkg: &RawPackage,
        findings: &[Finding],
        warnings: Vec<String>,
        parse_warnings: Vec<(usize, String)>,
        files_checked: usize,
        files_with_syntax_errors: usize,
    ) -> Option<Entry> {
        let files: HashMap<&str, usize> = pkg
            .files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.path.as_str(), i))
            .collect();
        let findings = findings
            .iter()
            .map(|f| {
                Some(StoredFinding {
                    rule: f.rule.to_string(),
                    severity: f.severity.as_str().to_string(),
                    file: *files.get(f.path.as_str())?,
                    line: f.line,
                    column: f.column,
                    end_line: f.end_line,
                    end_column: f.end_column,
                    message: f.message.clone(),
                    fix: f.fix.clone(),
                    applicability: f.applicability,
                    edits: f.edits.clone(),
                    related: f.related.clone(),
                    span: f.span,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Entry {
            key: String::new(),
            findings,
            warnings,
            parse_warnings,
            files_checked,
            files_with_syntax_errors,
        })
    }

    /// The stored findings, with paths from `pkg`; `None` when the entry names
    /// a rule or file this build does not know (then it is re-checked).
    pub fn findings(&self, pkg: &RawPackage) -> Option<Vec<Finding>> {
        self.findings
            .iter()
            .map(|s| {
                let rule = pitfall_rules::find(&s.rule)?;
                Some(Finding {
                    rule: rule.name,
                    category: rule.category,
                    severity: pitfall_report::Severity::parse(&s.severity)?,
                    path: pkg.files.get(s.file)?.path.clone(),
                    line: s.line,
                    column: s.column,
                    end_line: s.end_line,
                    end_column: s.end_column,
                    message: s.message.clone(),
                    fix: s.fix.clone(),
                    applicability: s.applicability,
                    edits: s.edits.clone(),
                    related: s.related.clone(),
                    span: s.span,
                })
            })
            .collect()
    }
}

/// The cache directory of this user: `$XDG_CACHE_HOME/pitfall`, else
/// `$HOME/.cache/pitfall`.
pub fn default_dir() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(x) => PathBuf::from(x),
        None => PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".cache"),
    };
    Some(base.join("pitfall"))
}

/// A salt for this build of pitfall: its version and the executable's size
/// and modification time (a rebuilt binary never reads a stale entry).
pub fn build_salt(version: &str, settings: &str) -> u128 {
    let mut h = Hash128::new();
    h.add(version).add(settings);
    if let Some(m) = std::env::current_exe()
        .ok()
        .and_then(|p| std::fs::metadata(p).ok())
    {
        h.add(m.len());
        if let Ok(t) = m.modified() {
            h.add(t);
        }
    }
    h.finish()
}

pub struct Cache {
    dir: PathBuf,
    max_bytes: u64,
}

impl Cache {
    /// The cache under `root`, or `None` when its directory cannot be made
    /// (the run then goes on without a cache).
    pub fn open(root: &Path, max_bytes: u64) -> Option<Cache> {
        let dir = root.join(FORMAT);
        std::fs::create_dir_all(&dir).ok()?;
        Some(Cache { dir, max_bytes })
    }

    fn path(&self, key: Key) -> PathBuf {
        self.dir.join(format!("{key:032x}.json"))
    }

    /// The entry stored under `key`, if it is whole and really for `key`.
    pub fn get(&self, key: Key) -> Option<Entry> {
        let path = self.path(key);
        let bytes = std::fs::read(&path).ok()?;
        let entry: Entry = serde_json::from_slice(&bytes).ok()?;
        if entry.key != format!("{key:032x}") {
            return None;
        }
        // Mark it used, for eviction (best effort).
        if let Ok(f) = std::fs::File::options().append(true).open(&path) {
            let _ = f.set_modified(std::time::SystemTime::now());
        }
        Some(entry)
    }

    /// Stores `entry` under `key`: written aside, then renamed into place.
    pub fn put(&self, key: Key, mut entry: Entry) {
        entry.key = format!("{key:032x}");
        let Ok(bytes) = serde_json::to_vec(&entry) else {
            return;
        };
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let tmp = self.dir.join(format!(
            ".tmp-{}-{}-{key:032x}",
            std::process::id(),
            SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        if std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, self.path(key)).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }

    /// Keeps the directory under its cap: when over, removes the least
    /// recently used entries (and stale temporary files) down to 80% of it.
    pub fn evict(&self) {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut entries = Vec::new();
        let mut total = 0u64;
        let stale = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            let used = m.modified().unwrap_or(std::time::UNIX_EPOCH);
            if e.file_name().to_string_lossy().starts_with(".tmp-") {
                if used < stale {
                    let _ = std::fs::remove_file(e.path());
                }
                continue;
            }
            total += m.len();
            entries.push((used, m.len(), e.path()));
        }
        if total <= self.max_bytes {
            return;
        }
        entries.sort();
        let target = self.max_bytes / 10 * 8;
        for (_, len, path) in entries {
            if total <= target {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::components;

    #[test]
    fn components_group_cycles_and_come_after_what_they_import() {
        // 0 -> 1 -> 2 -> 1 (cycle {1, 2}), 2 -> 3, 4 -> 0, 5 alone.
        let edges: Vec<Vec<usize>> = vec![vec![1], vec![2], vec![1, 3], vec![], vec![0], vec![]];
        let comps = components(&[0, 1, 2, 3, 4, 5], |i| edges[i].iter().copied());
        let mut sorted = comps.clone();
        sorted.sort();
        assert_eq!(sorted, vec![vec![0], vec![1, 2], vec![3], vec![4], vec![5]]);
        let pos = |n: usize| comps.iter().position(|c| c.contains(&n)).unwrap();
        for (from, to) in edges
            .iter()
            .enumerate()
            .flat_map(|(f, ts)| ts.iter().map(move |&t| (f, t)))
        {
            assert!(pos(to) <= pos(from), "{from} -> {to}: {comps:?}");
        }
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        let n = 200_000;
        let comps = components(&(0..n).collect::<Vec<_>>(), |i| {
            (i + 1 < n).then_some(i + 1).into_iter()
        });
        assert_eq!(comps.len(), n);
        assert_eq!(
            comps[0],
            vec![n - 1],
            "the last of the chain is imported by all"
        );
    }
}
