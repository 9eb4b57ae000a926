//! Finding, reading and parsing the Go files of the checked paths, and
//! grouping them into packages with their module.

use globset::{Glob, GlobSet, GlobSetBuilder};
use pitfall_go::index::SourcePackage;
use pitfall_go::module::GoMod;
use pitfall_go::GoFile;
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Files larger than this are skipped with a warning (generated blobs, data).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 8 * 1024 * 1024;

pub struct Discovered {
    pub packages: Vec<SourcePackage>,
    pub warnings: Vec<String>,
}

/// Directories the go tool never looks into, and neither do we.
fn skipped_dir(name: &str) -> bool {
    name == "vendor" || name == "testdata" || name.starts_with('.') || name.starts_with('_')
}

/// Lists the `.go` files under `paths` (explicitly named files are always kept).
pub fn list_go_files(
    paths: &[PathBuf],
    exclude: &GlobSet,
    exclude_base: &Path,
) -> Result<Vec<PathBuf>, String> {
    list_files(paths, exclude, exclude_base, &["go"])
}

/// Whether a path names a YAML file (a candidate Kubernetes manifest).
pub fn is_yaml(p: &Path) -> bool {
    p.extension().is_some_and(|x| x == "yaml" || x == "yml")
}

/// Lists the files under `paths` whose extension is one of `exts`
/// (explicitly named files are always kept).
pub fn list_files(
    paths: &[PathBuf],
    exclude: &GlobSet,
    exclude_base: &Path,
    exts: &[&str],
) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for root in paths {
        let meta = std::fs::metadata(root).map_err(|e| format!("{}: {e}", root.display()))?;
        if meta.is_file() {
            out.push(root.clone());
            continue;
        }
        let walker = ignore::WalkBuilder::new(root)
            .hidden(true)
            .require_git(false)
            .follow_links(false)
            .filter_entry(|e| {
                e.depth() == 0
                    || !e.file_type().is_some_and(|t| t.is_dir())
                    || !skipped_dir(&e.file_name().to_string_lossy())
            })
            .build();
        for entry in walker {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    eprintln!("pitfall: warning: {e}");
                    continue;
                }
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let p = entry.path();
            if p.extension().is_some_and(|x| exts.iter().any(|e| x == *e))
                && !is_excluded(p, exclude, exclude_base)
            {
                out.push(p.to_path_buf());
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn is_excluded(p: &Path, exclude: &GlobSet, base: &Path) -> bool {
    if exclude.is_empty() {
        return false;
    }
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let rel = abs.strip_prefix(base).unwrap_or(&abs);
    exclude.is_match(rel) || exclude.is_match(p)
}

pub fn build_globs(patterns: &[String]) -> Result<GlobSet, String> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(Glob::new(p).map_err(|e| format!("exclude pattern `{p}`: {e}"))?);
        // `dir/` or `dir` should also exclude everything below it.
        if !p.contains('*') {
            let below = format!("{}/**", p.trim_end_matches('/'));
            b.add(Glob::new(&below).map_err(|e| format!("exclude pattern `{p}`: {e}"))?);
        }
    }
    b.build().map_err(|e| e.to_string())
}

/// The path shown to the user: relative to the working directory when below it.
pub fn display_path(p: &Path, cwd: &Path) -> String {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let shown = abs
        .strip_prefix(cwd)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| p.to_path_buf());
    let s = shown.to_string_lossy().replace('\\', "/");
    let s = s.strip_prefix("./").unwrap_or(&s).to_string();
    if s.is_empty() {
        ".".into()
    } else {
        s
    }
}

/// Finds the nearest go.mod for each directory, caching the answers.
#[derive(Default)]
struct ModuleFinder {
    cache: Mutex<HashMap<PathBuf, Option<(PathBuf, Arc<GoMod>)>>>,
}

impl ModuleFinder {
    fn find(&self, dir: &Path) -> Option<(PathBuf, Arc<GoMod>)> {
        if let Some(hit) = self.cache.lock().unwrap().get(dir) {
            return hit.clone();
        }
        let candidate = dir.join("go.mod");
        let found = match std::fs::read(&candidate) {
            Ok(bytes) => Some((
                dir.to_path_buf(),
                Arc::new(GoMod::parse(&String::from_utf8_lossy(&bytes))),
            )),
            Err(_) => dir.parent().and_then(|p| self.find(p)),
        };
        self.cache
            .lock()
            .unwrap()
            .insert(dir.to_path_buf(), found.clone());
        found
    }
}

/// A Go file read from disk, not parsed yet: what grouping, the result cache
/// and the progress count need.
pub struct RawFile {
    /// Path as shown to the user.
    pub path: String,
    pub dir: PathBuf,
    /// Shared with the parsed file (see `GoFile::src`).
    pub src: std::sync::Arc<str>,
    pub header: pitfall_go::scan::Header,
    /// Generated code loaded for its declarations only (never reported on).
    pub generated: bool,
}

/// The files of one package, read but not parsed.
pub struct RawPackage {
    pub dir: String,
    pub name: String,
    pub import_path: String,
    pub gomod: Arc<GoMod>,
    pub files: Vec<RawFile>,
    /// Positions of the files in the run's sorted file list (for warning order).
    pub order: Vec<usize>,
}

/// What reading and grouping found.
pub struct Read {
    pub packages: Vec<RawPackage>,
    pub bytes: u64,
    /// (position in the file list, message): unreadable, binary, too large.
    pub warnings: Vec<(usize, String)>,
}

enum ReadOne {
    File(RawFile),
    Skipped,
    Warning(String),
}

/// Reads every file in parallel and groups them by package (directory and
/// package clause), without parsing them.
pub fn read(files: &[PathBuf], cwd: &Path, max_file_size: u64) -> Read {
    let modules = ModuleFinder::default();
    let loaded: Vec<ReadOne> = files
        .par_iter()
        .map(|p| read_one(p, cwd, max_file_size))
        .collect();
    let mut groups: BTreeMap<(PathBuf, String), (Vec<RawFile>, Vec<usize>)> = BTreeMap::new();
    let mut warnings = Vec::new();
    let mut bytes = 0u64;
    for (i, l) in loaded.into_iter().enumerate() {
        match l {
            ReadOne::File(f) => {
                // Generated files kept for their declarations are not checked.
                if !f.generated {
                    bytes += f.src.len() as u64;
                }
                let g = groups
                    .entry((f.dir.clone(), f.header.package.clone()))
                    .or_default();
                g.0.push(f);
                g.1.push(i);
            }
            ReadOne::Skipped => {}
            ReadOne::Warning(w) => warnings.push((i, w)),
        }
    }
    let packages = groups
        .into_iter()
        .map(|((dir, name), (files, order))| {
            let abs_dir = std::path::absolute(&dir).unwrap_or_else(|_| dir.clone());
            let (gomod, import_path) = match modules.find(&abs_dir) {
                Some((root, m)) => {
                    let rel = abs_dir.strip_prefix(&root).unwrap_or(Path::new(""));
                    let rel = rel.to_string_lossy().replace('\\', "/");
                    // The standard library's module is `std`, but its packages
                    // are imported without that prefix (`net/http`).
                    let base = m.module.clone().filter(|m| m != "std").unwrap_or_default();
                    let path = match (base.is_empty(), rel.is_empty()) {
                        (_, true) => base,
                        (true, false) => rel,
                        (false, false) => format!("{base}/{rel}"),
                    };
                    (m, path)
                }
                None => (Arc::new(GoMod::default()), display_path(&dir, cwd)),
            };
            RawPackage {
                dir: display_path(&dir, cwd),
                name,
                import_path,
                gomod,
                files,
                order,
            }
        })
        .collect();
    Read {
        packages,
        bytes,
        warnings,
    }
}

/// The import graph of the packages read, from their files' headers (no
/// parsing): what the run-wide facts read.
pub fn import_graph(pkgs: &[RawPackage]) -> pitfall_go::index::ImportGraph {
    use pitfall_go::index::{GraphPackage, ImportGraph};
    ImportGraph::new(
        pkgs.par_iter()
            .map(|p| {
                let files = p
                    .files
                    .iter()
                    .filter(|f| !f.path.ends_with("_test.go"))
                    .map(|f| (f.header.imports.iter().map(String::as_str), &*f.src));
                GraphPackage::new(&p.import_path, &p.name, files)
            })
            .collect(),
    )
}

/// A parsed package and what parsing it said, per file: (position in the
/// file list, warning).
pub struct Parsed {
    pub package: SourcePackage,
    pub warnings: Vec<(usize, String)>,
    pub files_with_syntax_errors: usize,
    /// Files parsed that are checked (generated ones are not).
    pub files_checked: usize,
}

/// Parses the files of a package (in parallel) into a [`SourcePackage`].
pub fn parse(raw: &RawPackage) -> Parsed {
    let parsed: Vec<(usize, Result<GoFile, String>)> = raw
        .files
        .par_iter()
        .zip(raw.order.par_iter())
        .map(|(f, &i)| {
            let r = pitfall_go::parse_file(&f.path, std::sync::Arc::clone(&f.src))
                .map_err(|e| format!("{}: {e}", f.path));
            (i, r)
        })
        .collect();
    let mut warnings = Vec::new();
    let (mut with_errors, mut files_checked) = (0, 0);
    let mut files = Vec::new();
    for (i, r) in parsed {
        match r {
            Ok(f) => {
                if !f.is_generated {
                    files_checked += 1;
                }
                if f.ast.syntax_errors > 0 && !f.is_generated {
                    with_errors += 1;
                    warnings.push((
                        i,
                        format!(
                            "{}: {} syntax error{} (the rest of the file was still checked)",
                            f.path,
                            f.ast.syntax_errors,
                            if f.ast.syntax_errors == 1 { "" } else { "s" }
                        ),
                    ));
                }
                if f.ast.too_deep {
                    warnings.push((
                        i,
                        format!(
                            "{}: code nested deeper than {} levels was not analysed",
                            f.path,
                            pitfall_go::MAX_NESTING
                        ),
                    ));
                }
                files.push(f);
            }
            Err(w) => warnings.push((i, w)),
        }
    }
    Parsed {
        package: SourcePackage {
            dir: raw.dir.clone(),
            name: raw.name.clone(),
            import_path: raw.import_path.clone(),
            gomod: raw.gomod.clone(),
            files,
        },
        warnings,
        files_with_syntax_errors: with_errors,
        files_checked,
    }
}

/// Reads, parses and groups every file (for commands that need every tree).
pub fn load(files: &[PathBuf], cwd: &Path, max_file_size: u64) -> Discovered {
    let read = read(files, cwd, max_file_size);
    let mut warnings = read.warnings;
    let mut packages = Vec::new();
    let parsed: Vec<Parsed> = read.packages.par_iter().map(parse).collect();
    for p in parsed {
        warnings.extend(p.warnings);
        packages.push(p.package);
    }
    warnings.sort_by_key(|(i, _)| *i);
    Discovered {
        packages,
        warnings: warnings.into_iter().map(|(_, w)| w).collect(),
    }
}

fn read_one(p: &Path, cwd: &Path, max_file_size: u64) -> ReadOne {
    let shown = display_path(p, cwd);
    let meta = match std::fs::metadata(p) {
        Ok(m) => m,
        Err(e) => return ReadOne::Warning(format!("{shown}: {e}")),
    };
    if meta.len() > max_file_size {
        return ReadOne::Warning(format!(
            "{shown}: skipped, {} bytes is over the {max_file_size}-byte limit (--max-file-size)",
            meta.len()
        ));
    }
    let bytes = match std::fs::read(p) {
        Ok(b) => b,
        Err(e) => return ReadOne::Warning(format!("{shown}: {e}")),
    };
    if bytes.contains(&0) {
        return ReadOne::Warning(format!(
            "{shown}: skipped, not a text file (contains NUL bytes)"
        ));
    }
    let src = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "pitfall: warning: {shown}: not valid UTF-8; checked with replacement characters"
            );
            String::from_utf8_lossy(e.as_bytes()).into_owned()
        }
    };
    if pitfall_go::is_build_ignored(&src)
        || (pitfall_go::is_generated(&src) && !pitfall_go::keeps_generated(&shown, &src))
    {
        return ReadOne::Skipped;
    }
    let dir = p.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    let header = pitfall_go::scan::scan_header(&src);
    ReadOne::File(RawFile {
        path: shown,
        dir,
        generated: pitfall_go::is_generated(&src),
        src: src.into(),
        header,
    })
}
