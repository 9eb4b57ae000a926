//! Building machine-applicable fixes: byte edits, new lines after a
//! statement, and import changes that keep a gofmt-clean file gofmt-clean.
//!
//! Rules build [`TextEdit`]s with these helpers and hand them to
//! [`crate::Reported::edits`]; the CLI applies them (`pitfall check --fix`),
//! the language server offers them as code actions.

use pitfall_go::ast::{ImportSpec, Span};
use pitfall_go::GoFile;
use pitfall_report::Edit;

/// Replace `start..end` (bytes) of the file with `text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextEdit {
    pub start: u32,
    pub end: u32,
    pub text: String,
}

impl TextEdit {
    pub fn replace(span: Span, text: impl Into<String>) -> TextEdit {
        TextEdit {
            start: span.start,
            end: span.end,
            text: text.into(),
        }
    }

    pub fn insert(at: u32, text: impl Into<String>) -> TextEdit {
        TextEdit {
            start: at,
            end: at,
            text: text.into(),
        }
    }
}

/// Checks the edits (inside the file, on character boundaries, not
/// overlapping) and gives them lines and columns. `None` when they are unusable.
pub fn to_edits(file: &GoFile, mut edits: Vec<TextEdit>) -> Option<Vec<Edit>> {
    edits.sort_by(|a, b| (a.start, a.end, &a.text).cmp(&(b.start, b.end, &b.text)));
    edits.dedup();
    let src = &file.src;
    let mut last_end = 0u32;
    for e in &edits {
        let ok = e.start <= e.end
            && (e.end as usize) <= src.len()
            && src.is_char_boundary(e.start as usize)
            && src.is_char_boundary(e.end as usize)
            && e.start >= last_end;
        if !ok {
            return None;
        }
        last_end = e.end;
    }
    Some(
        edits
            .into_iter()
            .map(|e| {
                let (line, column) = file.line_col(e.start);
                let (end_line, end_column) = file.line_col(e.end);
                Edit {
                    start_byte: e.start as usize,
                    end_byte: e.end as usize,
                    line,
                    column,
                    end_line,
                    end_column,
                    replacement: e.text,
                }
            })
            .collect(),
    )
}

/// The byte offset where the line holding `pos` starts.
pub fn line_start(src: &str, pos: u32) -> u32 {
    src[..pos as usize].rfind('\n').map(|i| i + 1).unwrap_or(0) as u32
}

/// The byte offset just after the line holding `pos` (after its `\n`).
pub fn next_line_start(src: &str, pos: u32) -> u32 {
    src[pos as usize..]
        .find('\n')
        .map(|i| pos as usize + i + 1)
        .unwrap_or(src.len()) as u32
}

/// The leading whitespace of the line holding `pos`.
pub fn indent_at(src: &str, pos: u32) -> &str {
    let start = line_start(src, pos) as usize;
    let rest = &src[start..];
    &rest[..rest.len() - rest.trim_start_matches([' ', '\t']).len()]
}

/// Whether `span` starts its line and nothing but a comment follows it there
/// (so a new line can be put after it without moving other code).
pub fn owns_its_line(src: &str, span: Span) -> bool {
    let start = line_start(src, span.start) as usize;
    if !src[start..span.start as usize].trim().is_empty() {
        return false;
    }
    let end = next_line_start(src, span.end) as usize;
    let tail = src[span.end as usize..end].trim();
    tail.is_empty() || tail.starts_with("//")
}

/// A new line holding `code` right after the statement `stmt`, indented like
/// it. `None` when the statement shares its line with other code.
pub fn line_after(src: &str, stmt: Span, code: &str) -> Option<TextEdit> {
    if !owns_its_line(src, stmt) || src[stmt.end as usize..].find('\n').is_none() {
        return None;
    }
    let indent = indent_at(src, stmt.start);
    Some(TextEdit::insert(
        next_line_start(src, stmt.end),
        format!("{indent}{code}\n"),
    ))
}

/// The name under which the file can refer to the package `path`, and the
/// edit that adds the import when it is missing. `None` when the name the
/// package would get is taken by another import (the caller gives up).
pub fn import_name(file: &GoFile, path: &str) -> Option<(String, Option<TextEdit>)> {
    if let Some(spec) = file.ast.imports.iter().find(|i| {
        i.path == path
            && i.name
                .as_ref()
                .is_none_or(|n| n.name != "_" && n.name != ".")
    }) {
        let name = match &spec.name {
            Some(n) => n.name.to_string(),
            None => default_name(path).to_string(),
        };
        return Some((name, None));
    }
    let name = default_name(path);
    if file.import_path(name).is_some() {
        return None;
    }
    Some((name.to_string(), Some(add_import(file, path)?)))
}

/// The package name a standard-library style path gets (`"net/http"` -> `http`).
fn default_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Whether `spec` is written inside `import ( ... )` (rather than `import "x"`).
fn grouped(src: &str, spec: &ImportSpec) -> bool {
    let start = line_start(src, spec.span.start) as usize;
    !src[start..spec.span.start as usize]
        .trim_start()
        .starts_with("import")
}

/// The runs of grouped imports that gofmt sorts as one (adjacent lines of
/// one block), as indexes into `imports` (which is in source order).
fn runs(src: &str, imports: &[ImportSpec]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    for (i, spec) in imports.iter().enumerate() {
        if !grouped(src, spec) {
            continue;
        }
        let joined = i > 0 && grouped(src, &imports[i - 1]) && {
            let between = &src[imports[i - 1].span.end as usize..spec.span.start as usize];
            between.matches('\n').count() == 1 && !between.contains(')')
        };
        match out.last_mut() {
            Some(run) if joined => run.push(i),
            _ => out.push(vec![i]),
        }
    }
    out
}

/// The edit that imports `path` (unnamed): into the sorted place of the
/// block that holds the standard library, or as its own `import` line.
pub fn add_import(file: &GoFile, path: &str) -> Option<TextEdit> {
    let src = &file.src;
    let imports = &file.ast.imports;
    if imports.is_empty() {
        let end = file.ast.package_span.end;
        if end == 0 {
            return None;
        }
        return Some(TextEdit::insert(end, format!("\n\nimport \"{path}\"")));
    }
    let is_std = |p: &str| !p.split('/').next().unwrap_or("").contains('.');
    let runs = runs(src, imports);
    let run = runs
        .iter()
        .find(|r| r.iter().any(|&i| is_std(&imports[i].path)))
        .or_else(|| runs.first());
    let Some(run) = run else {
        // Only `import "x"` lines: one more before the first.
        let at = line_start(src, imports[0].span.start);
        return Some(TextEdit::insert(at, format!("import \"{path}\"\n")));
    };
    let indent = indent_at(src, imports[run[0]].span.start).to_string();
    let line = format!("{indent}\"{path}\"\n");
    match run.iter().find(|&&i| imports[i].path.as_str() > path) {
        Some(&i) => Some(TextEdit::insert(
            line_start(src, imports[i].span.start),
            line,
        )),
        None => {
            let last = &imports[*run.last()?];
            Some(TextEdit::insert(next_line_start(src, last.span.end), line))
        }
    }
}

/// The edits that delete the import of `path` (its whole line). `None` when
/// the import shares its line with other code or is the only one of its block.
pub fn remove_import(file: &GoFile, path: &str) -> Option<Vec<TextEdit>> {
    let src = &file.src;
    let imports = &file.ast.imports;
    let i = imports.iter().position(|s| s.path == path)?;
    let spec = &imports[i];
    let start = line_start(src, spec.span.start);
    let end = next_line_start(src, spec.span.end);
    let tail = src[spec.span.end as usize..end as usize].trim();
    if !(tail.is_empty() || tail.starts_with("//")) {
        return None;
    }
    if grouped(src, spec) {
        if !src[start as usize..spec.span.start as usize]
            .trim()
            .is_empty()
        {
            return None;
        }
        // The only spec of `import ( ... )` would leave an empty block.
        let alone = !imports
            .iter()
            .enumerate()
            .any(|(j, o)| j != i && grouped(src, o) && same_block(src, spec, o));
        if alone {
            return None;
        }
        let mut edits = vec![TextEdit::replace(Span { start, end }, "")];
        // A run of one between blank lines leaves two blank lines: drop one.
        let prev_blank = start >= 2 && &src[start as usize - 2..start as usize] == "\n\n";
        let next_blank = src[end as usize..].starts_with('\n');
        if prev_blank && next_blank {
            edits[0].end += 1;
        }
        return Some(edits);
    }
    // `import "x"` on its own line.
    let mut end = end;
    let prev_blank = start < 2 || &src[start as usize - 2..start as usize] == "\n\n";
    if prev_blank && src[end as usize..].starts_with('\n') {
        end += 1;
    }
    Some(vec![TextEdit::replace(Span { start, end }, "")])
}

/// Whether two grouped specs are in the same `import ( ... )` block.
fn same_block(src: &str, a: &ImportSpec, b: &ImportSpec) -> bool {
    let (x, y) = if a.span.start < b.span.start {
        (a, b)
    } else {
        (b, a)
    };
    !src[x.span.end as usize..y.span.start as usize].contains(')')
}

/// Applies edits that [`to_edits`] accepted (sorted, not overlapping).
pub fn apply(src: &str, edits: &[Edit]) -> String {
    pitfall_report::apply_edits(src, edits)
}

/// After fixes: the edits that delete the imports `before` used and `after`
/// no longer uses (replacing `ioutil.ReadAll` leaves `io/ioutil` unused,
/// which Go refuses to compile). Uses are counted in the code outside
/// comments, so a doubt keeps the import.
pub fn drop_unused_imports(before: &GoFile, after: &GoFile) -> Vec<TextEdit> {
    let mut out = Vec::new();
    for spec in &after.ast.imports {
        let name = match &spec.name {
            Some(n) if n.name == "_" || n.name == "." => continue,
            Some(n) => n.name.to_string(),
            None => default_name(&spec.path).to_string(),
        };
        let was_used =
            before.ast.imports.iter().any(|b| b.path == spec.path) && uses(before, &name) > 0;
        if was_used && uses(after, &name) == 0 {
            if let Some(mut e) = remove_import(after, &spec.path) {
                out.append(&mut e);
            }
        }
    }
    out
}

/// How often `name.` appears as a qualifier in the file's code (comments and
/// the import specs left out).
fn uses(file: &GoFile, name: &str) -> usize {
    let src = file.src.as_bytes();
    let skip: Vec<Span> = file
        .ast
        .comments
        .iter()
        .copied()
        .chain(file.ast.imports.iter().map(|i| i.span))
        .collect();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80;
    file.src
        .match_indices(name)
        .filter(|&(i, _)| {
            let before_ok = i == 0 || !(is_ident(src[i - 1]) || src[i - 1] == b'.');
            let after = file.src[i + name.len()..].trim_start_matches([' ', '\t']);
            before_ok
                && after.starts_with('.')
                && !skip
                    .iter()
                    .any(|s| s.start as usize <= i && i < s.end as usize)
        })
        .count()
}

/// The edits that import `new` in place of `old` (unnamed), when `old` loses
/// its last use: the path rewritten in place when that keeps the imports
/// sorted (an `import "x"` line, or the only spec of its block), else `old`'s
/// line deleted and `new` added in its sorted place.
pub fn replace_import(file: &GoFile, old: &str, new: &str) -> Option<Vec<TextEdit>> {
    let src = &file.src;
    let spec = file.ast.imports.iter().find(|s| s.path == old)?;
    if spec.name.is_some() {
        return None;
    }
    let alone = !file
        .ast
        .imports
        .iter()
        .any(|o| o.path != old && grouped(src, o) && same_block(src, spec, o));
    if !grouped(src, spec) || alone {
        return Some(vec![TextEdit::replace(spec.span, format!("\"{new}\""))]);
    }
    let mut edits = remove_import(file, old)?;
    edits.push(add_import(file, new)?);
    Some(edits)
}

/// Whether anything after `stmt` (in `body`) lets one of `names` outlive the
/// function: a `go` statement, a closure or composite literal naming it, an
/// assignment or `var` that copies it, a `return` of it. Also true when the
/// statements after `stmt` cannot be found. A deferred release is safe to add
/// only when this is false.
pub fn may_escape(
    body: &pitfall_go::ast::Block,
    stmt: &pitfall_go::ast::Stmt,
    names: &[&str],
) -> bool {
    use pitfall_go::ast::{Expr, Stmt};
    use pitfall_go::walk::{walk, Node};
    let Some(rest) = pitfall_go::flow::following(body, stmt) else {
        return true;
    };
    // The value itself (or its address or a field), not a value computed
    // from it: `return resp.Body` hands it on, `return io.ReadAll(resp.Body)` does not.
    fn direct(e: &Expr, names: &[&str]) -> bool {
        match e.unparen() {
            Expr::Ident(id) => names.contains(&id.name.as_str()),
            Expr::Unary(u) if u.op == "&" => direct(&u.x, names),
            Expr::Selector(s) => direct(&s.x, names),
            Expr::KeyValue(kv) => direct(&kv.value, names),
            _ => false,
        }
    }
    let mentions = |e: &Expr| {
        let mut hit = false;
        walk(Node::Expr(e), &mut |n, _| {
            if let Node::Expr(Expr::Ident(id)) = n {
                hit |= names.contains(&id.name.as_str());
            }
            !hit
        });
        hit
    };
    let mut escapes = false;
    for s in rest {
        walk(Node::Stmt(s), &mut |n, _| {
            match n {
                Node::Stmt(Stmt::Go(_)) => escapes = true,
                Node::Stmt(Stmt::Return(r)) => {
                    escapes |= r.results.iter().any(|e| direct(e, names))
                }
                Node::Stmt(Stmt::Assign(a)) => escapes |= a.rhs.iter().any(|e| direct(e, names)),
                Node::ValueSpec(v) => escapes |= v.values.iter().any(|e| direct(e, names)),
                Node::Expr(Expr::CompositeLit(c)) => {
                    escapes |= c.elts.iter().any(|e| direct(e, names))
                }
                Node::Expr(e @ Expr::FuncLit(_)) => escapes |= mentions(e),
                _ => {}
            }
            !escapes
        });
    }
    escapes
}

/// Whether `stmt` runs inside a loop of `body` (a defer there runs only when
/// the function returns, not at the end of each iteration).
pub fn in_loop(body: &pitfall_go::ast::Block, stmt: &pitfall_go::ast::Stmt) -> bool {
    use pitfall_go::walk::{enclosing_loop, walk, Node};
    let target = stmt.span();
    let mut looped = None;
    walk(Node::Block(body), &mut |n, anc| {
        if looped.is_some() || !n.span().encloses(target) {
            return false;
        }
        if n.span() == target && matches!(n, Node::Stmt(_)) {
            looped = Some(enclosing_loop(anc).is_some());
            return false;
        }
        true
    });
    looped.unwrap_or(true)
}

/// A new line holding `code` after the `if err != nil { ...; return ... }`
/// that directly follows `stmt` (or directly after `stmt` when `err` is
/// `None`). `None` when the error check is not that simple shape.
pub fn line_after_err_check(
    src: &str,
    body: &pitfall_go::ast::Block,
    stmt: &pitfall_go::ast::Stmt,
    err: Option<&str>,
    code: &str,
) -> Option<TextEdit> {
    use pitfall_go::ast::{Expr, Stmt};
    let Some(err) = err else {
        return line_after(src, stmt.span(), code);
    };
    let next = pitfall_go::flow::following(body, stmt)?.first()?;
    let Stmt::If(check) = next else { return None };
    let is_check = check.init.is_none()
        && check.els.is_none()
        && matches!(&check.cond, Expr::Binary(b) if b.op == "!="
            && b.x.as_ident().is_some_and(|x| x.name == err)
            && b.y.as_ident().is_some_and(|y| y.name == "nil"))
        && matches!(check.then.stmts.last(), Some(Stmt::Return(_)));
    if !is_check {
        return None;
    }
    line_after(src, next.span(), code)
}

/// `defer x.Close()` (the `code` given) on a new line after the error check
/// that follows `stmt`: safe when `var` cannot outlive the function and
/// `stmt` is not in a loop; unsafe otherwise; no edit when the error check
/// is not the simple `if err != nil { ...; return }` right after `stmt`.
pub fn defer_release(
    src: &str,
    body: &pitfall_go::ast::Block,
    stmt: &pitfall_go::ast::Stmt,
    var: &str,
    err: Option<&str>,
    code: &str,
) -> (pitfall_report::Applicability, Vec<TextEdit>) {
    use pitfall_report::Applicability;
    let Some(edit) = line_after_err_check(src, body, stmt, err, code) else {
        return (Applicability::Unsafe, Vec::new());
    };
    let risky = may_escape(body, stmt, &[var]) || in_loop(body, stmt);
    let applicability = if risky {
        Applicability::Unsafe
    } else {
        Applicability::Safe
    };
    (applicability, vec![edit])
}

/// `make(chan T)` / `make(chan T, 0)` -> `make(chan T, 1)`; empty for any
/// other expression (a named constant capacity is left to the reader).
pub fn buffer_of_one(make: &pitfall_go::ast::Expr) -> Vec<TextEdit> {
    use pitfall_go::ast::Expr;
    let Some(call) = make.as_call() else {
        return Vec::new();
    };
    match (call.args.first(), call.args.get(1), call.args.len()) {
        (Some(t), None, 1) => vec![TextEdit::insert(t.span().end, ", 1")],
        (Some(_), Some(Expr::BasicLit(l)), 2) if l.int_value() == Some(0) => {
            vec![TextEdit::replace(l.span, "1")]
        }
        _ => Vec::new(),
    }
}
