//! Finds uses of the deprecated `io/ioutil` package.
use crate::prelude::*;
use pitfall_go::types::{Env, Scope};
use pitfall_go::walk::walk;
use crate::fixes;

pub static RULE: Rule = Rule {
    name: "deprecated-ioutil",
    category: Category::Correctness,
    severity: Severity::Info,
    summary: "io/ioutil is deprecated since Go 1.16; use the io and os equivalents",
    reports_on: "each call of an `io/ioutil` function, or the reference (`ioutil.Discard`, a function value)",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
Every use of a function or variable of `io/ioutil`, whatever name the import has
(`ioutil`, `iu`, ...). Silent when the module's `go.mod` says `go 1.15` or older
(the replacements do not exist there), and for other packages or variables that
happen to be called `ioutil`. Reported on each `ioutil.X` selector (the call, or the
reference for `ioutil.Discard` and function values).

| io/ioutil   | use instead                                         |
|-------------|-----------------------------------------------------|
| ReadAll     | io.ReadAll                                          |
| ReadFile    | os.ReadFile                                         |
| WriteFile   | os.WriteFile                                        |
| ReadDir     | os.ReadDir (returns []fs.DirEntry, not []fs.FileInfo) |
| TempFile    | os.CreateTemp                                       |
| TempDir     | os.MkdirTemp                                        |
| NopCloser   | io.NopCloser                                        |
| Discard     | io.Discard                                          |

## Why it matters in production
Nothing breaks today: the functions are thin wrappers. But the package is frozen,
linters and reviewers flag it, and `ioutil.ReadDir` is slower than `os.ReadDir`
because it stats every entry. Moving keeps the code base on one vocabulary.

## Bad
```go
data, err := ioutil.ReadFile(path)
```
## Good
```go
data, err := os.ReadFile(path)
```

## How to fix
Replace the call as in the table. For `ReadDir`, code that used `FileInfo` methods
other than `Name`/`IsDir` must call `entry.Info()`.

## How to suppress
`//nolint:deprecated-ioutil // reason` on the line, or on its own line before the
statement/function; `//nolint:correctness` for the whole category; see `pitfall rule`.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    if !cx.file.imports("io/ioutil") || !cx.go_at_least(1, 16) {
        return;
    }
    // The package's own examples and tests (or a vendored copy of it).
    let own = cx.pkg.import_path();
    if own == "io/ioutil" || own.ends_with("/io/ioutil") {
        return;
    }
    let sc = cx.scope();
    let mut hits = Vec::new();
    for decl in &cx.file.ast.decls {
        let (root, env) = match decl {
            Decl::Func(f) => (Node::FuncDecl(f), cx.env_at(f.span.start)),
            Decl::Gen(g) => {
                for spec in &g.specs {
                    if let Spec::Value(v) = spec {
                        let env = cx.env_at(v.span.start);
                        find_uses(&sc, &env, Node::ValueSpec(v), &mut hits);
                    }
                }
                continue;
            }
            Decl::Bad(_) => continue,
        };
        find_uses(&sc, &env, root, &mut hits);
    }
    let sole_use = hits.len() == 1;
    for (span, member) in hits {
        let written = cx.file.text(span).to_string();
        let edits = fix_edits(cx, span, member, sole_use);
        let (replacement, note) = replacement(member);
        let msg = match replacement {
            Some(r) => format!("`{written}` is deprecated since Go 1.16; use `{r}`"),
            None => format!("`{written}` is from the deprecated io/ioutil package"),
        };
        let fix = match replacement {
            Some(r) => format!("replace `{written}` with `{r}`{note}"),
            None => "use the io and os equivalents of io/ioutil".to_string(),
        };
        let safe = if member == "ReadDir" {
            Applicability::Unsafe
        } else {
            Applicability::Safe
        };
        cx.report(span, msg).fix(fix).edits(safe, edits);
    }
}

/// `ioutil.X` -> `io.Y`/`os.Y`, the import added when missing, and the
/// io/ioutil import removed when this was its only use (`--fix` removes it
/// after the last use in any case). Empty when the new name is shadowed here.
fn fix_edits(cx: &Checker, span: Span, member: &str, sole_use: bool) -> Vec<TextEdit> {
    let Some(new) = replacement(member).0 else {
        return Vec::new();
    };
    let (pkg, func) = new.split_once('.').expect("pkg.Name");
    let path = if pkg == "io" { "io" } else { "os" };
    let Some((name, add)) = fixes::import_name(cx.file, path) else {
        return Vec::new();
    };
    if cx.env_at(span.start).lookup(&name, span.start).is_some() {
        return Vec::new();
    }
    let mut edits = vec![TextEdit::replace(span, format!("{name}.{func}"))];
    let imports = match (sole_use, add) {
        (true, Some(add)) => fixes::replace_import(cx.file, "io/ioutil", path).unwrap_or(vec![add]),
        (true, None) => fixes::remove_import(cx.file, "io/ioutil").unwrap_or_default(),
        (false, add) => add.into_iter().collect(),
    };
    edits.extend(imports);
    edits
}

/// Every `ioutil.X` selector below `root` that really names the io/ioutil import.
fn find_uses<'a>(sc: &Scope<'a>, env: &Env<'a>, root: Node<'a>, hits: &mut Vec<(Span, &'a str)>) {
    walk(root, &mut |n, _| {
        if let Node::Expr(e @ Expr::Selector(sel)) = n {
            if let Some(("io/ioutil", _)) = env.pkg_member(sc.file, e) {
                hits.push((e.span(), sel.sel.name.as_str()));
                return false;
            }
        }
        true
    });
}

/// The Go 1.16+ replacement of an io/ioutil member, and a note on differences.
fn replacement(member: &str) -> (Option<&'static str>, &'static str) {
    match member {
        "ReadAll" => (Some("io.ReadAll"), ""),
        "ReadFile" => (Some("os.ReadFile"), ""),
        "WriteFile" => (Some("os.WriteFile"), ""),
        "ReadDir" => (
            Some("os.ReadDir"),
            " (it returns []fs.DirEntry, not []fs.FileInfo: call entry.Info() where FileInfo is needed)",
        ),
        "TempFile" => (Some("os.CreateTemp"), ""),
        "TempDir" => (Some("os.MkdirTemp"), ""),
        "NopCloser" => (Some("io.NopCloser"), ""),
        "Discard" => (Some("io.Discard"), ""),
        _ => (None, ""),
    }
}
