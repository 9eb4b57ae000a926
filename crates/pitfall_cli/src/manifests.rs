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
