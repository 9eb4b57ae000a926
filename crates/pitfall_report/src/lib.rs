//! Findings and the emitters that print them.
//!
//! A [`Finding`] is what every part of pitfall produces (Go rules, and later the
//! manifest and dump analyses); the emitters turn a sorted list of them into
//! text, JSON, SARIF 2.1.0 or GitHub Actions workflow commands.

use serde::{Deserialize, Serialize};
use std::fmt;

pub mod emit;

/// The fixed set of categories a rule belongs to (one per rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Goroutine,
    Channel,
    Context,
    Sync,
    Memory,
    Performance,
    Correctness,
    Http,
    Sql,
    Errors,
    Observability,
    Testing,
    Kubernetes,
    Runtime,
}

impl Category {
    pub const ALL: [Category; 14] = [
        Category::Goroutine,
        Category::Channel,
        Category::Context,
        Category::Sync,
        Category::Memory,
        Category::Performance,
        Category::Correctness,
        Category::Http,
        Category::Sql,
        Category::Errors,
        Category::Observability,
        Category::Testing,
        Category::Kubernetes,
        Category::Runtime,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Goroutine => "goroutine",
            Category::Channel => "channel",
            Category::Context => "context",
            Category::Sync => "sync",
            Category::Memory => "memory",
            Category::Performance => "performance",
            Category::Correctness => "correctness",
            Category::Http => "http",
            Category::Sql => "sql",
            Category::Errors => "errors",
            Category::Observability => "observability",
            Category::Testing => "testing",
            Category::Kubernetes => "kubernetes",
            Category::Runtime => "runtime",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How loud a finding is. Ordered from most to least severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "error" => Some(Severity::Error),
            "warning" => Some(Severity::Warning),
            "info" => Some(Severity::Info),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reported problem. Lines and columns are 1-based; columns count bytes
/// (as Go's own tools do); `end_*` is exclusive of the last character's end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub category: Category,
    pub severity: Severity,
    /// Path relative to the directory pitfall runs from, with `/` separators.
    pub path: String,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Whether the machine-applicable `edits` may be applied by `--fix`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applicability: Option<Applicability>,
    /// Machine-applicable edits in this finding's file that fix it (empty: none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub edits: Vec<Edit>,
    /// Other places that explain the finding (the other lock site, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Related>,
    /// Byte range in the file, for code frames. Not part of the JSON shape.
    #[serde(skip)]
    pub span: (usize, usize),
}

/// Whether a fix keeps the program's behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Applicability {
    /// Behaviour preserved: `pitfall check --fix` applies it.
    Safe,
    /// Probably right but may change behaviour or not compile: offered, applied
    /// only with `--unsafe-fixes`.
    Unsafe,
}

impl Applicability {
    pub fn as_str(self) -> &'static str {
        match self {
            Applicability::Safe => "safe",
            Applicability::Unsafe => "unsafe",
        }
    }
}

/// Replace the bytes `start..end` of the finding's file with `replacement`
/// (an insertion when `start == end`). Lines and columns as in [`Finding`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Edit {
    pub start_byte: usize,
    pub end_byte: usize,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
    pub replacement: String,
}

/// A place related to a finding, with a short note on its role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Related {
    pub path: String,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
    pub message: String,
}

impl Finding {
    /// The order findings are printed in: by path, position, then rule.
    pub fn sort_key(&self) -> (&str, u32, u32, &str, &str) {
        (&self.path, self.line, self.column, self.rule, &self.message)
    }
}

/// What an emitter needs to know about a rule (for SARIF's rule metadata).
#[derive(Clone, Debug)]
pub struct RuleInfo {
    pub name: &'static str,
    pub category: Category,
    pub severity: Severity,
    pub summary: &'static str,
    pub doc: &'static str,
}

/// Applies edits that are sorted by position and do not overlap
/// (insertions at one point go in the order given).
pub fn apply_edits(src: &str, edits: &[Edit]) -> String {
    let mut out = String::with_capacity(src.len());
    let mut at = 0;
    for e in edits {
        out.push_str(&src[at..e.start_byte]);
        out.push_str(&e.replacement);
        at = e.end_byte;
    }
    out.push_str(&src[at..]);
    out
}

/// Chooses, among the edit sets of several fixes of one file (in order), the
/// ones that can be applied together: an edit that another fix also makes
/// (the same import added twice) is made once; a fix that overlaps a chosen
/// one is left out (for a next round, after re-checking). Returns the merged
/// edits, sorted, and how many fixes were left out.
pub fn merge_fixes<'f>(fixes: impl IntoIterator<Item = &'f [Edit]>) -> (Vec<Edit>, usize) {
    let mut chosen: Vec<Edit> = Vec::new();
    let mut left_out = 0;
    for set in fixes {
        let fresh: Vec<&Edit> = set.iter().filter(|e| !chosen.contains(e)).collect();
        let clash = fresh.iter().any(|e| {
            chosen
                .iter()
                .any(|c| e.start_byte < c.end_byte && c.start_byte < e.end_byte || same_point(e, c))
        });
        if clash {
            left_out += 1;
            continue;
        }
        chosen.extend(fresh.into_iter().cloned());
    }
    // Insertions at one point are ordered by their text (imports stay sorted),
    // and come before a replacement that starts there.
    chosen.sort_by(|a, b| {
        (a.start_byte, a.end_byte, &a.replacement).cmp(&(b.start_byte, b.end_byte, &b.replacement))
    });
    (chosen, left_out)
}

/// Two replacements of the same non-empty range, or an insertion inside one.
fn same_point(a: &Edit, b: &Edit) -> bool {
    let empty = |e: &Edit| e.start_byte == e.end_byte;
    (a.start_byte == b.start_byte && a.end_byte == b.end_byte && !empty(a))
        || (empty(a) && b.start_byte < a.start_byte && a.start_byte < b.end_byte)
        || (empty(b) && a.start_byte < b.start_byte && b.start_byte < a.end_byte)
}
