//! Findings and the emitters that print them.
//!
//! A [`Finding`] is what every part of pitfall produces (Go rules, and later the
//! manifest and dump analyses); the emitters turn a sorted list of them into
//! text, JSON, SARIF 2.1.0 or GitHub Actions workflow commands.

use serde::Serialize;
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
    /// Byte range in the file, for code frames. Not part of the JSON shape.
    #[serde(skip)]
    pub span: (usize, usize),
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
