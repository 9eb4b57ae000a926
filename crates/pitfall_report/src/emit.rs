//! The output formats: text (with code frames), JSON, SARIF 2.1.0 and GitHub
//! Actions workflow commands.

use crate::{Finding, RuleInfo, Severity};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Everything an emitter may need besides the findings.
pub struct Report<'a> {
    pub findings: &'a [Finding],
    /// Source text of the files that have findings, by finding path.
    pub sources: &'a BTreeMap<String, String>,
    /// Metadata of the rules that ran (for SARIF).
    pub rules: &'a [RuleInfo],
    pub files_checked: usize,
    pub version: &'a str,
}

pub fn summary(r: &Report) -> Value {
    let mut by_rule = BTreeMap::new();
    let mut by_sev = BTreeMap::new();
    for f in r.findings {
        *by_rule.entry(f.rule).or_insert(0u64) += 1;
        *by_sev.entry(f.severity.as_str()).or_insert(0u64) += 1;
    }
    json!({
        "files": r.files_checked,
        "findings": r.findings.len(),
        "by_severity": by_sev,
        "by_rule": by_rule,
    })
}

/// The JSON shape documented in GUIDE.md (a public interface).
pub fn json(r: &Report) -> String {
    let doc = json!({
        "version": r.version,
        "findings": r.findings,
        "summary": summary(r),
    });
    let mut s = serde_json::to_string_pretty(&doc).expect("findings serialize");
    s.push('\n');
    s
}

/// Converts a 1-based byte column on `line_text` to a 1-based UTF-16 column.
fn utf16_col(line_text: &str, byte_col: u32) -> u32 {
    let upto = (byte_col as usize).saturating_sub(1).min(line_text.len());
    let mut end = upto;
    while end > 0 && !line_text.is_char_boundary(end) {
        end -= 1;
    }
    line_text[..end].encode_utf16().count() as u32 + 1 + (upto - end) as u32
}

/// Finds lines by number, keeping the line starts of the last source: the
/// findings come sorted by path, so each file is indexed once (a scan per
/// finding is quadratic on a large manifest with many findings).
#[derive(Default)]
struct LineCache {
    key: usize,
    starts: Vec<usize>,
}

impl LineCache {
    /// Line `line` (1-based) of `src`, as `str::lines` would give it.
    fn line<'s>(&mut self, src: &'s str, line: u32) -> &'s str {
        let key = src.as_ptr() as usize;
        if key != self.key || self.starts.is_empty() {
            self.key = key;
            self.starts = std::iter::once(0)
                .chain(src.match_indices('\n').map(|(i, _)| i + 1))
                .collect();
        }
        let i = line.saturating_sub(1) as usize;
        let Some(&start) = self.starts.get(i) else {
            return "";
        };
        let end = self.starts.get(i + 1).map(|e| e - 1).unwrap_or(src.len());
        src[start..end.max(start)].trim_end_matches('\r')
    }

    fn line_of<'s>(&mut self, src: Option<&'s String>, line: u32) -> &'s str {
        src.map(|s| self.line(s, line)).unwrap_or("")
    }
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// SARIF 2.1.0, with rule metadata and help so that code scanning shows pages.
pub fn sarif(r: &Report) -> String {
    let rules: Vec<Value> = r
        .rules
        .iter()
        .map(|ri| {
            json!({
                "id": ri.name,
                "name": ri.name,
                "shortDescription": {"text": ri.summary},
                "fullDescription": {"text": ri.summary},
                "help": {"text": ri.doc.trim(), "markdown": ri.doc.trim()},
                "defaultConfiguration": {"level": sarif_level(ri.severity)},
                "properties": {"tags": [ri.category.as_str()], "category": ri.category.as_str()},
            })
        })
        .collect();
    let index: BTreeMap<&str, usize> = r
        .rules
        .iter()
        .enumerate()
        .map(|(i, ri)| (ri.name, i))
        .collect();
    let mut lines = LineCache::default();
    let results: Vec<Value> = r
        .findings
        .iter()
        .map(|f| {
            let src = r.sources.get(&f.path);
            let start_col = utf16_col(lines.line_of(src, f.line), f.column);
            let end_col = utf16_col(lines.line_of(src, f.end_line), f.end_column);
            let mut text = f.message.clone();
            if let Some(fix) = &f.fix {
                let _ = write!(text, " Fix: {fix}");
            }
            let mut res = json!({
                "ruleId": f.rule,
                "level": sarif_level(f.severity),
                "message": {"text": text},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri(&f.path), "uriBaseId": "%SRCROOT%"},
                        "region": {
                            "startLine": f.line,
                            "startColumn": start_col,
                            "endLine": f.end_line,
                            "endColumn": end_col,
                        }
                    }
                }],
            });
            if let Some(i) = index.get(f.rule) {
                res["ruleIndex"] = json!(i);
            }
            if !f.related.is_empty() {
                res["relatedLocations"] = sarif_related(f, r.sources, &mut lines);
            }
            if !f.edits.is_empty() {
                res["fixes"] = sarif_fixes(f, src, &mut lines);
            }
            res
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "pitfall",
                "version": r.version,
                "informationUri": "https://github.com/pitfall-dev/pitfall",
                "rules": rules,
            }},
            "columnKind": "utf16CodeUnits",
            "originalUriBaseIds": {"%SRCROOT%": {"uri": "file:///"}},
            "results": results,
        }],
    });
    let mut s = serde_json::to_string_pretty(&doc).expect("sarif serializes");
    s.push('\n');
    s
}

/// A SARIF region from 1-based lines and byte columns (columns become UTF-16 units).
fn sarif_region(
    lines: &mut LineCache,
    src: Option<&String>,
    (line, column, end_line, end_column): (u32, u32, u32, u32),
) -> Value {
    json!({
        "startLine": line,
        "startColumn": utf16_col(lines.line_of(src, line), column),
        "endLine": end_line,
        "endColumn": utf16_col(lines.line_of(src, end_line), end_column),
    })
}

fn sarif_related(f: &Finding, sources: &BTreeMap<String, String>, lines: &mut LineCache) -> Value {
    let related: Vec<Value> = f
        .related
        .iter()
        .enumerate()
        .map(|(i, rel)| {
            let src = sources.get(&rel.path);
            let region = sarif_region(
                lines,
                src,
                (rel.line, rel.column, rel.end_line, rel.end_column),
            );
            json!({
                "id": i,
                "message": {"text": rel.message},
                "physicalLocation": {
                    "artifactLocation": {"uri": uri(&rel.path), "uriBaseId": "%SRCROOT%"},
                    "region": region,
                },
            })
        })
        .collect();
    json!(related)
}

/// The finding's edits as one SARIF fix (one artifact change: the finding's file).
fn sarif_fixes(f: &Finding, src: Option<&String>, lines: &mut LineCache) -> Value {
    let replacements: Vec<Value> = f
        .edits
        .iter()
        .map(|e| {
            json!({
                "deletedRegion": sarif_region(lines, src, (e.line, e.column, e.end_line, e.end_column)),
                "insertedContent": {"text": e.replacement},
            })
        })
        .collect();
    let applicability = f.applicability.map(|a| a.as_str()).unwrap_or("safe");
    let text = f.fix.clone().unwrap_or_else(|| format!("fix {}", f.rule));
    json!([{
        "description": {"text": text},
        "artifactChanges": [{
            "artifactLocation": {"uri": uri(&f.path), "uriBaseId": "%SRCROOT%"},
            "replacements": replacements,
        }],
        "properties": {"applicability": applicability},
    }])
}

/// A relative path as a URI reference (percent-encoding what URIs forbid).
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn gh_escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn gh_escape_prop(s: &str) -> String {
    gh_escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub Actions workflow commands (`::warning file=...::message`).
pub fn github(r: &Report) -> String {
    let mut out = String::new();
    for f in r.findings {
        let level = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut msg = f.message.clone();
        if let Some(fix) = &f.fix {
            let _ = write!(msg, "\nFix: {fix}");
        }
        let _ = writeln!(
            out,
            "::{level} file={},line={},col={},endLine={},endColumn={},title={}::{}",
            gh_escape_prop(&f.path),
            f.line,
            f.column,
            f.end_line,
            f.end_column,
            gh_escape_prop(&format!("pitfall {}", f.rule)),
            gh_escape_data(&msg)
        );
    }
    out
}

/// Human output: a header line, a code frame with the span underlined, and
/// the fix hint. `color` adds ANSI colours (only on a terminal).
pub fn text(r: &Report, color: bool) -> String {
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let mut out = String::new();
    let mut lines = LineCache::default();
    for f in r.findings {
        let sev = match f.severity {
            Severity::Error => paint("1;31", "error"),
            Severity::Warning => paint("1;33", "warning"),
            Severity::Info => paint("1;36", "info"),
        };
        let _ = writeln!(
            out,
            "{}:{}:{}: {sev}[{}] {}",
            paint("1", &f.path),
            f.line,
            f.column,
            paint("1", f.rule),
            f.message
        );
        if let Some(src) = r.sources.get(&f.path) {
            frame(&mut out, lines.line(src, f.line), f, &paint);
        }
        if let Some(fix) = &f.fix {
            let _ = writeln!(out, "  = {}: {fix}", paint("1;32", "fix"));
        }
        out.push('\n');
    }
    let s = summary(r);
    let count = r.findings.len();
    if count == 0 {
        let _ = writeln!(out, "No findings in {} files.", r.files_checked);
    } else {
        let sev = &s["by_severity"];
        let _ = writeln!(
            out,
            "{count} finding{} ({} error, {} warning, {} info) in {} files checked.",
            if count == 1 { "" } else { "s" },
            sev["error"].as_u64().unwrap_or(0),
            sev["warning"].as_u64().unwrap_or(0),
            sev["info"].as_u64().unwrap_or(0),
            r.files_checked
        );
        let fixable = |a: crate::Applicability| {
            r.findings
                .iter()
                .filter(|f| f.applicability == Some(a) && !f.edits.is_empty())
                .count()
        };
        let (safe, unsafe_) = (
            fixable(crate::Applicability::Safe),
            fixable(crate::Applicability::Unsafe),
        );
        if safe + unsafe_ > 0 {
            let _ = writeln!(
                out,
                "{safe} fixable with `pitfall check --fix` ({unsafe_} more with `--unsafe-fixes`; `--diff` shows them)."
            );
        }
    }
    out
}

/// Shows the finding's first line with the span underlined (the rest of a
/// multi-line span is marked to the end of that line).
fn frame(out: &mut String, line: &str, f: &Finding, paint: &dyn Fn(&str, &str) -> String) {
    let num = f.line.to_string();
    let pad = " ".repeat(num.len());
    let (shown, start) = expand_tabs(line, f.column);
    let end_col = if f.end_line == f.line {
        f.end_column
    } else {
        line.len() as u32 + 1
    };
    let (_, end) = expand_tabs(line, end_col.max(f.column + 1));
    let width = end.saturating_sub(start).max(1);
    let _ = writeln!(out, "{pad} {}", paint("1;34", "|"));
    let _ = writeln!(
        out,
        "{} {} {shown}",
        paint("1;34", &num),
        paint("1;34", "|")
    );
    let _ = writeln!(
        out,
        "{pad} {} {}{}",
        paint("1;34", "|"),
        " ".repeat(start),
        paint("1;31", &"^".repeat(width))
    );
}

/// The line with tabs as 4 spaces, and the display offset of a byte column.
fn expand_tabs(line: &str, byte_col: u32) -> (String, usize) {
    let target = (byte_col as usize).saturating_sub(1);
    let mut shown = String::with_capacity(line.len());
    let mut offset = None;
    for (i, ch) in line.char_indices() {
        if offset.is_none() && i >= target {
            offset = Some(shown.chars().count());
        }
        if ch == '\t' {
            shown.push_str("    ");
        } else {
            shown.push(ch);
        }
    }
    let offset = offset.unwrap_or_else(|| shown.chars().count());
    (shown, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_columns_count_code_units() {
        assert_eq!(utf16_col("abc", 2), 2);
        // "é" is 2 bytes in UTF-8 and 1 unit in UTF-16; "😀" is 4 bytes, 2 units.
        assert_eq!(utf16_col("éx", 3), 2);
        assert_eq!(utf16_col("😀x", 5), 3);
    }

    #[test]
    fn github_escapes() {
        assert_eq!(gh_escape_prop("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }

    #[test]
    fn tabs_expand_in_frames() {
        assert_eq!(expand_tabs("\tx := 1", 2), ("    x := 1".to_string(), 4));
    }
}
