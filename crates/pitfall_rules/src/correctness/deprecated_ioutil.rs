//! Finds uses of the deprecated `io/ioutil` package.
use crate::prelude::*;

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
happen to be called `ioutil`.

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
    check,
};

fn check(cx: &mut Checker) {}
