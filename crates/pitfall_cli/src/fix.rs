//! `pitfall check --fix` and `--diff`: applying the findings' machine edits.
//!
//! Per file: the edits of the fixable findings that do not overlap are applied
//! together (an overlapping one waits for the next round, after a re-check),
//! imports the fixes left unused are removed, and the result is parsed again —
//! a file whose result has more syntax errors than before is never written.
//! Writes are atomic (a temporary file in the same directory, the original's
//! permissions, then a rename).

use pitfall_report::{Applicability, Finding};
use std::collections::BTreeMap;
use std::path::Path;

/// What one round of fixing did.
#[derive(Default)]
pub struct Round {
    /// (path, old text, new text) of each file that changes.
    pub changed: Vec<(String, String, String)>,
    pub fixes_applied: usize,
    /// Fixes left for a next round (they overlapped another fix).
    pub fixes_waiting: usize,
    /// Files whose fixed text would not parse (left untouched).
    pub refused: Vec<String>,
}

/// Whether `--fix` may apply this finding's edits.
fn wanted(f: &Finding, unsafe_fixes: bool) -> bool {
    match f.applicability {
        Some(Applicability::Safe) => !f.edits.is_empty(),
        Some(Applicability::Unsafe) => unsafe_fixes && !f.edits.is_empty(),
        None => false,
    }
}

/// Computes the fixed text of every file with fixable findings.
pub fn plan(findings: &[Finding], sources: &BTreeMap<String, String>, unsafe_fixes: bool) -> Round {
    let mut by_file: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in findings.iter().filter(|f| wanted(f, unsafe_fixes)) {
        by_file.entry(&f.path).or_default().push(f);
    }
    let mut round = Round::default();
    for (path, fs) in by_file {
        let Some(src) = sources.get(path) else {
            continue;
        };
        if !path.ends_with(".go") {
            continue;
        }
        let (edits, waiting) = pitfall_report::merge_fixes(fs.iter().map(|f| f.edits.as_slice()));
        if edits.iter().any(|e| e.end_byte > src.len()) {
            continue;
        }
        match fix_text(path, src, &edits) {
            Some(new) if new != *src => {
                round.fixes_applied += fs.len() - waiting;
                round.fixes_waiting += waiting;
                round.changed.push((path.to_string(), src.clone(), new));
            }
            Some(_) => {}
            None => round.refused.push(path.to_string()),
        }
    }
    round
}

/// The text after the edits, with the imports they left unused removed;
/// `None` when it parses worse than the original.
pub fn fix_text(path: &str, src: &str, edits: &[pitfall_report::Edit]) -> Option<String> {
    let before = pitfall_go::parse_file(path, src.to_string()).ok()?;
    let text = pitfall_report::apply_edits(src, edits);
    let after = pitfall_go::parse_file(path, text.clone()).ok()?;
    let drop = pitfall_rules::fixes::drop_unused_imports(&before, &after);
    let text = match pitfall_rules::fixes::to_edits(&after, drop) {
        Some(d) if !d.is_empty() => pitfall_report::apply_edits(&text, &d),
        _ => text,
    };
    let last = pitfall_go::parse_file(path, text.clone()).ok()?;
    let worse = last.ast.syntax_errors > before.ast.syntax_errors
        || (last.ast.package.is_none() && before.ast.package.is_some());
    (!worse).then_some(text)
}

/// Writes `text` to `path` atomically, keeping the file's permissions.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let meta = std::fs::metadata(path)?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.pitfall-fix-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::set_permissions(&tmp, meta.permissions())?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A unified diff of each changed file (`--- a/path` / `+++ b/path`).
pub fn diff(round: &Round) -> String {
    let mut out = String::new();
    for (path, old, new) in &round.changed {
        let d = similar::TextDiff::from_lines(old.as_str(), new.as_str());
        out.push_str(
            &d.unified_diff()
                .context_radius(3)
                .header(&format!("a/{path}"), &format!("b/{path}"))
                .to_string(),
        );
    }
    out
}

/// Writes the round's files; the first error stops it.
pub fn write(round: &Round, cwd: &Path) -> Result<(), String> {
    for (path, _, new) in &round.changed {
        let p = cwd.join(path);
        write_atomic(&p, new).map_err(|e| format!("{path}: writing the fix: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pitfall_report::Edit;

    fn edit(start: usize, end: usize, text: &str) -> Edit {
        Edit {
            start_byte: start,
            end_byte: end,
            line: 1,
            column: 1,
            end_line: 1,
            end_column: 1,
            replacement: text.to_string(),
        }
    }

    #[test]
    fn a_result_that_parses_worse_is_refused() {
        let src = "package a\n\nfunc f() {}\n";
        let brace = src.rfind('}').unwrap();
        assert_eq!(fix_text("a.go", src, &[edit(brace, brace + 1, "")]), None);
        assert_eq!(
            fix_text("a.go", src, &[edit(brace, brace, " return ")]).as_deref(),
            Some("package a\n\nfunc f() { return }\n")
        );
    }

    #[test]
    fn atomic_write_keeps_the_mode_and_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("pitfall-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.go");
        std::fs::write(&p, "old").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o604)).unwrap();
        }
        write_atomic(&p, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(m, 0o604);
        }
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
