//! Reading the Kubernetes manifests of the checked paths (and of stdin).

use crate::discover::display_path;
use pitfall_k8s::{Object, SourceText};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The name stdin's manifests are reported under when they carry no Helm
/// `# Source:` comment.
pub const STDIN_NAME: &str = "<stdin>";

#[derive(Default)]
pub struct Manifests {
    pub objects: Vec<Object>,
    /// (reported path, text) for code frames; a whole file's text is the
    /// one its objects share.
    pub sources: Vec<(String, SourceText)>,
    /// Files that held at least one Kubernetes object.
    pub files_checked: usize,
    pub bytes: u64,
    pub warnings: Vec<String>,
}

enum One {
    Read(String, String),
    Warning(String),
}

fn read(p: &Path, cwd: &Path, max: u64) -> One {
    let shown = display_path(p, cwd);
    match std::fs::metadata(p) {
        Ok(m) if m.len() > max => {
            return One::Warning(format!(
                "{shown}: skipped, {} bytes is over the {max}-byte limit (--max-file-size)",
                m.len()
            ))
        }
        Ok(_) => {}
        Err(e) => return One::Warning(format!("{shown}: {e}")),
    }
    match std::fs::read(p) {
        Ok(b) if b.contains(&0) => One::Warning(format!(
            "{shown}: skipped, not a text file (contains NUL bytes)"
        )),
        Ok(b) => One::Read(shown, String::from_utf8_lossy(&b).into_owned()),
        Err(e) => One::Warning(format!("{shown}: {e}")),
    }
}

/// Directories whose manifests are not a service's deployment: test
/// fixtures, documentation and examples, vendored upstream copies. A
/// repository scan judges the deployments; `--all-manifests` (or naming the
/// file or directory itself) includes these. (`testdata/`, `vendor/` and
/// hidden directories are never walked at all, like the go tool.)
pub const NOT_DEPLOYMENT_DIRS: &[&str] = &[
    "fixtures",
    "fixture",
    "__fixtures__",
    "test-fixtures",
    "e2e",
    "docs",
    "doc",
    "examples",
    "example",
    "samples",
    "third_party",
    "third-party",
    "upstream",
];

/// The directory that makes `p` a non-deployment manifest, judged below the
/// checked path that holds it (the checked path itself is what the user
/// asked for: `pitfall check docs/` judges docs).
pub fn non_deployment_dir(p: &Path, roots: &[PathBuf]) -> Option<String> {
    let abs = |x: &Path| std::path::absolute(x).unwrap_or_else(|_| x.to_path_buf());
    let file = abs(p);
    let root = roots
        .iter()
        .map(|r| abs(r))
        .filter(|r| file.starts_with(r))
        .max_by_key(|r| r.components().count())?;
    let below = file.strip_prefix(&root).ok()?.parent()?;
    below
        .components()
        .map(|c| c.as_os_str().to_string_lossy().to_ascii_lowercase())
        .find(|c| NOT_DEPLOYMENT_DIRS.contains(&c.as_str()))
}

/// Splits YAML files into those to judge and a note about the manifests
/// left out by [`non_deployment_dir`] (only files that look like Kubernetes
/// objects are counted in the note).
pub fn deployments_only(
    files: Vec<PathBuf>,
    roots: &[PathBuf],
    cwd: &Path,
) -> (Vec<PathBuf>, Option<String>) {
    let mut keep = Vec::new();
    let mut left_out = Vec::new();
    for f in files {
        match non_deployment_dir(&f, roots) {
            Some(dir) => left_out.push((f, dir)),
            None => keep.push(f),
        }
    }
    let looks_k8s = |p: &Path| {
        std::fs::read_to_string(p).is_ok_and(|s| s.contains("apiVersion:") && s.contains("kind:"))
    };
    let manifests: Vec<_> = left_out.iter().filter(|(p, _)| looks_k8s(p)).collect();
    let note = manifests.first().map(|(p, dir)| {
        format!(
            "note: {} manifest file{} under test-fixture, documentation, example or vendored directories not judged ({} under `{dir}/`{}); --all-manifests includes them",
            manifests.len(),
            if manifests.len() == 1 { "" } else { "s" },
            display_path(p, cwd),
            if manifests.len() > 1 { ", ..." } else { "" }
        )
    });
    (keep, note)
}

/// Reads every YAML file in parallel (and `stdin`'s text, if given) and
/// keeps their Kubernetes objects.
pub fn load(
    files: &[PathBuf],
    cwd: &Path,
    max: u64,
    alias_nodes: usize,
    stdin: Option<String>,
) -> Manifests {
    let limits = pitfall_k8s::yaml::Limits {
        alias_nodes,
        ..Default::default()
    };
    let mut texts: Vec<One> = files.par_iter().map(|p| read(p, cwd, max)).collect();
    if let Some(s) = stdin {
        texts.push(One::Read(STDIN_NAME.to_string(), s));
    }
    let mut out = Manifests::default();
    let mut inputs = Vec::new();
    for t in texts {
        match t {
            One::Read(shown, src) => inputs.push((shown, src)),
            One::Warning(w) => out.warnings.push(w),
        }
    }
    let loaded: Vec<(String, Arc<str>, pitfall_k8s::Loaded)> = inputs
        .into_par_iter()
        .map(|(shown, src)| {
            // One copy of the text, shared by its objects and code frames.
            let src: Arc<str> = Arc::from(src);
            // A parser bug must cost one file, not the run.
            let l =
                std::panic::catch_unwind(|| pitfall_k8s::load_shared(&shown, src.clone(), &limits))
                    .unwrap_or_else(|_| pitfall_k8s::Loaded {
                        error: Some(format!(
                            "{shown}: internal error while reading the YAML (file skipped)"
                        )),
                        ..Default::default()
                    });
            (shown, src, l)
        })
        .collect();
    let mut templates = Vec::new();
    for (shown, src, l) in loaded {
        if let Some(e) = l.error {
            out.warnings.push(e);
        }
        if l.template {
            templates.push(shown);
            continue;
        }
        if l.objects.is_empty() {
            continue;
        }
        out.files_checked += 1;
        out.bytes += src.len() as u64;
        let paths: std::collections::BTreeSet<&str> =
            l.objects.iter().map(|o| o.path.as_str()).collect();
        if paths.contains(shown.as_str()) {
            out.sources
                .push((shown.clone(), SourceText::whole(src.clone())));
        }
        out.sources.extend(l.sources);
        out.objects.extend(l.objects);
    }
    if !templates.is_empty() {
        out.warnings.push(format!(
            "note: skipped {} unrendered Helm template{} ({}{}); check the rendered output with `helm template . | pitfall check - --manifests-from-stdin`",
            templates.len(),
            if templates.len() == 1 { "" } else { "s" },
            templates[0],
            if templates.len() > 1 { ", ..." } else { "" }
        ));
    }
    out
}
