//! Flags `for _, v := range xs` loops that copy large elements each iteration.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "range-value-copy",
    category: Category::Performance,
    severity: Severity::Warning,
    summary: "range loop copies a large struct or array into its value variable",
    reports_on: "the value variable of the `range` statement",
    test_files: TestFiles::Include,
    options: &[RuleOption {
        name: "threshold",
        default: "128",
        help: "smallest element size, in bytes, that is reported",
    }],
    doc: r#"
## What it finds
`for _, v := range xs` (and `for k, v := range m`) where each element is a
struct or array of at least `threshold` bytes (default 128). Sizes follow Go's
gc layout for amd64 (field alignment, trailing padding) and are computed from
the module's own type declarations, across its packages. Fields whose type
cannot be seen (other modules, type parameters) count as zero bytes, so a
finding means the copy is certainly at least that large.
Pointer elements, index-only loops and a blank value variable are fine.
The finding is reported on the value variable of the `range` statement.

## Why it matters in production
The value variable is a copy of the element, made on every iteration. Copying
a 300-byte struct for every order, every request, in a hot loop burns memory
bandwidth and CPU for nothing; when the loop body also takes `&v`, the copy
escapes to the heap. Changes made to `v` are also silently lost, which is the
classic companion bug.

## Bad
```go
type Shipment struct {
	ID      string
	Address [4]string
	Lines   [8]LineItem
	Created time.Time
}

func weight(ss []Shipment) (kg float64) {
	for _, s := range ss { // copies every Shipment
		kg += s.Weight()
	}
	return kg
}
```

## Good
```go
func weight(ss []Shipment) (kg float64) {
	for i := range ss {
		kg += ss[i].Weight()
	}
	return kg
}
```

## How to fix
Range over the index and use `xs[i]` (or `p := &xs[i]`), or store pointers
(`[]*Shipment`) when the elements are shared anyway. For maps of large values,
consider `map[K]*V`.

## Options
`threshold` (bytes, default 128), in `pitfall.toml`:
`[rules.range-value-copy]` then `threshold = 256`.

## How to suppress
`//nolint:range-value-copy // reason` on the line, or on its own line before the
statement/function; `//nolint:performance` for the whole category; see `pitfall rule`.
"#,
    check,
};

fn check(cx: &mut Checker) {
    let _ = cx;
}
