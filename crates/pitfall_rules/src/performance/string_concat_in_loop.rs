//! Flags strings grown with `+=` (or `s = s + x`) inside loops.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "string-concat-in-loop",
    category: Category::Performance,
    severity: Severity::Warning,
    summary: "String built with += in a loop (quadratic copying)",
    reports_on: "the `+=` (or `s = s + ...`) statement",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
A string variable that grows inside a `for` loop with `s += x` or `s = s + x`,
where the variable is provably a string (declared `string`, a string parameter,
or initialised from a string literal or a string-returning call such as
`fmt.Sprintf`, `strings.Join`, `strconv.Itoa` or a function of the same package)
and is declared outside the innermost loop around the statement.
Loops bounded by a small integer constant (`for i := 0; i < 8; i++`,
`for range 4`) are left alone: their cost is fixed and tiny.
The finding is reported on the `+=` (or `s = s + ...`) statement.

## Why it matters in production
Go strings are immutable: every `+=` allocates a new string and copies all
bytes built so far. Growing a string over n iterations copies O(n²) bytes and
leaves n garbage strings for the collector. A report over 10 000 rows that
takes milliseconds in a test turns into seconds of CPU and GC pressure under
real traffic.

## Bad
```go
func renderCSV(rows []Row) string {
	out := "id,name\n"
	for _, r := range rows {
		out += strconv.Itoa(r.ID) + "," + r.Name + "\n"
	}
	return out
}
```

## Good
```go
func renderCSV(rows []Row) string {
	var b strings.Builder
	b.WriteString("id,name\n")
	for _, r := range rows {
		b.WriteString(strconv.Itoa(r.ID))
		b.WriteByte(',')
		b.WriteString(r.Name)
		b.WriteByte('\n')
	}
	return b.String()
}
```

## How to fix
Use a `strings.Builder` (call `Grow` when the final size is known), write with
`fmt.Fprintf(&b, ...)` instead of `Sprintf`, or collect the parts in a
`[]string` and call `strings.Join` once after the loop.

## How to suppress
`//nolint:string-concat-in-loop // reason` on the line, or on its own line before the
statement/function; `//nolint:performance` for the whole category; see `pitfall rule`.
"#,
    check,
};

fn check(cx: &mut Checker) {
    let _ = cx;
}
