//! Finds string values pasted raw between the quotes of a hand-built JSON document.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "unescaped-json",
    category: Category::Correctness,
    severity: Severity::Warning,
    summary: "String value pasted raw between JSON quotes (a quote or backslash breaks the document)",
    reports_on: "the line of the inserted value (the operand of `+`, the `WriteString` argument, or the `%s`/`%v` argument)",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
A string value — a variable, field or call result, not a constant — placed between
the quotes of a JSON document that is built by hand:
- concatenation: `"{\"name\":\"" + name + "\"}"`;
- a `strings.Builder` / `bytes.Buffer` sequence: `WriteString("{\"name\":\"")`,
  `WriteString(u.Name)`, `WriteString("\"")`;
- `fmt.Sprintf` / `Fprintf` / `Printf` / `Appendf` with `"%s"` (or `"%v"` of a string
  or error) inside quotes of a JSON-looking format.
It only fires when the text before the value opens a JSON string (`":"`, `{"`, `,"`,
`["`), the text after it starts with `"`, and the literals hold a `"key":`.

## Why it matters in production
A name like `O"Brien`, a Windows path or an error message such as
`parsing "x": invalid syntax` ends the string early: clients get a document they
cannot parse, or — when the value comes from a request — extra fields of the
attacker's choosing (`","admin":true,"x":"`).

## Bad
```go
func greet(w http.ResponseWriter, name string) {
	fmt.Fprintf(w, `{"greeting":"hello %s"}`, name)
}
```
## Good
```go
func greet(w http.ResponseWriter, name string) {
	json.NewEncoder(w).Encode(map[string]string{"greeting": "hello " + name})
}
```

## How to fix
Build a struct or map and let `encoding/json` encode it. For a single value,
`strconv.Quote`/`%q` is close enough for ASCII text; `json.Marshal(s)` is exact.
Stays silent for constants, `%q`, `%d`, `strconv.*` results, `time.Format`, helpers
whose name says they escape or quote, and text that is not JSON (logs, SQL, HTML).

## How to suppress
`//nolint:unescaped-json // reason` on the line, or on its own line before the
statement/function; `//nolint:correctness` for the whole category; see `pitfall rule`.
"#,
    check,
};

fn check(cx: &mut Checker) {}
