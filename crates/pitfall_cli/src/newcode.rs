//! Adopting pitfall on old code: report only what is new.
//!
//! - `--new-from-rev REV`: only findings on lines changed since the git
//!   revision REV (committed, staged or not, and untracked files), read from
//!   `git diff -U0 REV` run by the `git` binary.
//! - `--write-baseline FILE` records today's findings; `--baseline FILE`
//!   reports only findings that are not in it. A finding is known by a
//!   fingerprint of its rule, its path, its source line with whitespace
//!   collapsed, and its occurrence among findings with those three equal —
//!   not by its line number, so code that moves keeps its fingerprint.

use pitfall_report::Finding;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(clap::Args, Clone, Default)]
pub struct NewCodeArgs {
    /// Only findings on lines changed since this git revision (e.g. `main`, `HEAD~1`)
    #[arg(long, value_name = "REV")]
    pub new_from_rev: Option<String>,
    /// Only findings that are not recorded in this baseline file
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Record the findings in this baseline file (the report is printed as usual)
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
}

/// The baseline file's shape (JSON). `fingerprint` is what is matched; the
/// other fields are there for the people who read the file in review.
#[derive(Serialize, Deserialize)]
struct BaselineFile {
    version: u32,
    findings: Vec<Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    fingerprint: String,
    rule: String,
    path: String,
    line: u32,
    source: String,
    message: String,
}

/// Applies `--write-baseline`, `--baseline` and `--new-from-rev`, in that order
/// (the baseline written holds every finding, whatever the other two flags).
pub fn filter(
    args: &NewCodeArgs,
    findings: &mut Vec<Finding>,
    sources: &BTreeMap<String, String>,
    cwd: &Path,
) -> Result<(), String> {
    if let Some(out) = &args.write_baseline {
        write_baseline(out, findings, sources)?;
    }
    if let Some(file) = &args.baseline {
        let known = read_baseline(file)?;
        let prints = fingerprints(findings, sources);
        let mut keep = prints.iter().map(|p| !known.contains(p));
        findings.retain(|_| keep.next().unwrap_or(true));
    }
    if let Some(rev) = &args.new_from_rev {
        let changed = changed_lines(rev, cwd)?;
        findings.retain(|f| is_changed(&changed, cwd, f));
    }
    Ok(())
}

/// Whitespace collapsed, so re-indenting keeps a fingerprint.
fn normalize(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A 64-bit FNV-1a hash: stable across versions and platforms (std's hasher is not).
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0)) {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    h
}

fn source_line<'s>(sources: &'s BTreeMap<String, String>, f: &Finding) -> &'s str {
    sources
        .get(&f.path)
        .and_then(|s| s.lines().nth(f.line.saturating_sub(1) as usize))
        .unwrap_or("")
}

/// Each finding's fingerprint, in order.
fn fingerprints(findings: &[Finding], sources: &BTreeMap<String, String>) -> Vec<String> {
    let mut seen: HashMap<(String, String, String), usize> = HashMap::new();
    findings
        .iter()
        .map(|f| {
            let line = normalize(source_line(sources, f));
            let n = seen
                .entry((f.rule.to_string(), f.path.clone(), line.clone()))
                .or_insert(0);
            *n += 1;
            let occurrence = n.to_string();
            format!("{:016x}", fnv1a(&[f.rule, &f.path, &line, &occurrence]))
        })
        .collect()
}

fn write_baseline(
    out: &Path,
    findings: &[Finding],
    sources: &BTreeMap<String, String>,
) -> Result<(), String> {
    let prints = fingerprints(findings, sources);
    let doc = BaselineFile {
        version: 1,
        findings: findings
            .iter()
            .zip(prints)
            .map(|(f, fingerprint)| Entry {
                fingerprint,
                rule: f.rule.to_string(),
                path: f.path.clone(),
                line: f.line,
                source: normalize(source_line(sources, f)),
                message: f.message.clone(),
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&doc).expect("baseline serializes");
    text.push('\n');
    std::fs::write(out, text).map_err(|e| format!("{}: {e}", out.display()))
}

fn read_baseline(file: &Path) -> Result<HashSet<String>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let doc: BaselineFile = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a pitfall baseline: {e}", file.display()))?;
    Ok(doc.findings.into_iter().map(|e| e.fingerprint).collect())
}

/// Lines changed since `rev`, by absolute path; `None` as the set: the whole
/// file is new (untracked).
type Changed = HashMap<PathBuf, Option<HashSet<u32>>>;

fn git(cwd: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(cwd)
        .args(args)
        .output()
        .map_err(|e| format!("--new-from-rev needs git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn changed_lines(rev: &str, cwd: &Path) -> Result<Changed, String> {
    if rev.starts_with('-') {
        return Err(format!("--new-from-rev: `{rev}` is not a revision"));
    }
    let root = PathBuf::from(git(cwd, &["rev-parse", "--show-toplevel"])?.trim());
    let root = std::fs::canonicalize(&root).unwrap_or(root);
    git(
        cwd,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .map_err(|_| format!("--new-from-rev: unknown revision `{rev}`"))?;
    let diff = git(
        cwd,
        &[
            "diff",
            "--no-color",
            "--no-ext-diff",
            "--no-renames",
            "-U0",
            "--src-prefix=a/",
            "--dst-prefix=b/",
            rev,
            "--",
        ],
    )?;
    let mut changed = parse_diff(&diff, &root);
    let untracked = git(
        cwd,
        &[
            "ls-files",
            "--others",
            "--exclude-standard",
            "--full-name",
            "-z",
        ],
    )?;
    for p in untracked.split('\0').filter(|p| !p.is_empty()) {
        changed.insert(root.join(p), None);
    }
    Ok(changed)
}

/// The new-side line numbers of each file's hunks in `git diff -U0` output.
fn parse_diff(diff: &str, root: &Path) -> Changed {
    let mut changed: Changed = HashMap::new();
    let mut current: Option<PathBuf> = None;
    for line in diff.lines() {
        if let Some(p) = line.strip_prefix("+++ ") {
            current = p.strip_prefix("b/").map(|p| root.join(unquote(p)));
            if let Some(c) = &current {
                changed
                    .entry(c.clone())
                    .or_insert_with(|| Some(HashSet::new()));
            }
        } else if let (Some(rest), Some(c)) = (line.strip_prefix("@@ "), &current) {
            // @@ -a,b +c,d @@
            let Some(new) = rest.split_whitespace().find(|t| t.starts_with('+')) else {
                continue;
            };
            let mut it = new[1..].splitn(2, ',');
            let start: u32 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            let count: u32 = it.next().and_then(|s| s.parse().ok()).unwrap_or(1);
            if let Some(Some(set)) = changed.get_mut(c) {
                set.extend(start..start + count);
            }
        }
    }
    changed
}

/// Git quotes unusual paths (`"a\tb.go"`); the common escapes are undone.
fn unquote(p: &str) -> String {
    match p.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
        Some(q) => q
            .replace("\\\"", "\"")
            .replace("\\\\", "\\")
            .replace("\\t", "\t"),
        None => p.to_string(),
    }
}

fn is_changed(changed: &Changed, cwd: &Path, f: &Finding) -> bool {
    let abs = cwd.join(&f.path);
    let abs = std::fs::canonicalize(&abs).unwrap_or(abs);
    let hit = changed.get(&abs);
    match hit {
        Some(None) => true,
        Some(Some(lines)) => lines.contains(&f.line),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hunks_give_new_side_lines() {
        let diff = "diff --git a/x.go b/x.go\n--- a/x.go\n+++ b/x.go\n@@ -3,0 +4,2 @@\n+a\n+b\n@@ -10 +12 @@\n-c\n+d\n@@ -20,3 +21,0 @@\n";
        let c = parse_diff(diff, Path::new("/r"));
        let lines = c[Path::new("/r/x.go")].as_ref().unwrap();
        let mut v: Vec<_> = lines.iter().copied().collect();
        v.sort();
        assert_eq!(v, vec![4, 5, 12]);
    }

    #[test]
    fn fingerprints_ignore_indentation_and_count_repeats() {
        assert_eq!(normalize("\t x :=  1 "), "x := 1");
        assert_ne!(fnv1a(&["a", "bc"]), fnv1a(&["ab", "c"]));
    }
}
