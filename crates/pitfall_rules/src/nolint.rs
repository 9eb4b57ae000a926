//! `//nolint` directives, compatible with golangci-lint.
//!
//! - `//nolint` or `//nolint:a,b` trailing on a line covers that line;
//! - on its own line (possibly inside a doc comment) it covers the whole
//!   statement or declaration that starts on the next code line;
//! - before the `package` clause it covers the whole file.
//!
//! Names may be rule names, category names or `all`; anything after a
//! further `//` is an explanation. A name that looks like one of ours (it has a
//! `-`) but is not a rule is reported, since it is most likely a typo; other
//! names belong to other linters (`errcheck`, `gosec`) and are left alone, and
//! they do not suppress pitfall's findings.

use crate::{Category, Finding};
use pitfall_go::walk::{walk_file, Node};
use pitfall_go::GoFile;

#[derive(Debug)]
struct Directive {
    /// Empty means every rule.
    names: Vec<String>,
    first_line: u32,
    last_line: u32,
}

#[derive(Debug, Default)]
pub struct Directives {
    list: Vec<Directive>,
    unknown: Vec<String>,
}

/// The names of a `//nolint` comment: `Some(vec![])` for a bare `//nolint`,
/// `None` when the comment is not a nolint directive.
pub fn parse_comment(text: &str) -> Option<Vec<String>> {
    let body = text.strip_prefix("//")?;
    let body = body.strip_prefix(' ').unwrap_or(body);
    let rest = body.strip_prefix("nolint")?;
    if rest.is_empty() || rest.starts_with(char::is_whitespace) || rest.starts_with("//") {
        return Some(Vec::new());
    }
    let list = rest.strip_prefix(':')?;
    let list = list.split("//").next().unwrap_or("");
    let list = list.split(char::is_whitespace).next().unwrap_or("");
    Some(
        list.split(',')
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect(),
    )
}

impl Directives {
    pub fn parse(file: &GoFile) -> Directives {
        let mut out = Directives::default();
        let mut starts: Option<Vec<(u32, u32)>> = None;
        for &span in &file.ast.comments {
            let Some(names) = parse_comment(file.text(span)) else {
                continue;
            };
            let (line, col) = file.line_col(span.start);
            for n in &names {
                if n.contains('-') && crate::find(n).is_none() {
                    out.unknown.push(format!(
                        "{}:{line}:{col}: unknown rule name `{n}` in //nolint (see `pitfall rules`)",
                        file.path
                    ));
                }
            }
            let before =
                &file.line_text(line)[..(col as usize - 1).min(file.line_text(line).len())];
            let (first_line, last_line) = if !before.trim().is_empty() {
                (line, line)
            } else {
                let mut next = line + 1;
                while file.line_text(next).trim_start().starts_with("//") {
                    next += 1;
                }
                let (pkg_line, _) = file.line_col(file.ast.package_span.start);
                if file.ast.package_span.end > 0 && next >= pkg_line && line < pkg_line {
                    (1, u32::MAX)
                } else {
                    let starts = starts.get_or_insert_with(|| node_lines(file));
                    let end = starts
                        .iter()
                        .filter(|(s, _)| *s == next)
                        .map(|(_, e)| *e)
                        .max()
                        .unwrap_or(next);
                    (line, end)
                }
            };
            out.list.push(Directive {
                names,
                first_line,
                last_line,
            });
        }
        out
    }

    pub fn unknown_names(&self) -> impl Iterator<Item = String> + '_ {
        self.unknown.iter().cloned()
    }

    pub fn suppresses(&self, f: &Finding) -> bool {
        self.list.iter().any(|d| {
            d.first_line <= f.line
                && f.line <= d.last_line
                && (d.names.is_empty()
                    || d.names.iter().any(|n| {
                        n == "all" || n == f.rule || Category::parse(n) == Some(f.category)
                    }))
        })
    }
}

/// (start line, end line) of every declaration and statement of the file.
fn node_lines(file: &GoFile) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for d in &file.ast.decls {
        let s = d.span();
        out.push((file.line_col(s.start).0, file.line_col(s.end).0));
    }
    walk_file(&file.ast, &mut |n, _| {
        if matches!(
            n,
            Node::Stmt(_) | Node::ValueSpec(_) | Node::Case(_) | Node::Comm(_)
        ) {
            let s = n.span();
            out.push((file.line_col(s.start).0, file.line_col(s.end).0));
        }
        true
    });
    out
}

#[cfg(test)]
mod tests {
    use super::parse_comment;

    #[test]
    fn parses_golangci_forms() {
        assert_eq!(parse_comment("//nolint"), Some(vec![]));
        assert_eq!(parse_comment("//nolint // because"), Some(vec![]));
        assert_eq!(
            parse_comment("// nolint:a,b"),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            parse_comment("//nolint:a-b // why not"),
            Some(vec!["a-b".into()])
        );
        assert_eq!(
            parse_comment("//nolint:a,b//why"),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(parse_comment("//nolintlint"), None);
        assert_eq!(parse_comment("// not a directive"), None);
        assert_eq!(parse_comment("/* nolint */"), None);
    }
}
