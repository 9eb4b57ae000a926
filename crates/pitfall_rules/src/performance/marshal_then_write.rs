//! json.Marshal into a buffer that is only written to the ResponseWriter.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "marshal-then-write",
    category: Category::Performance,
    severity: Severity::Info,
    summary: "json.Marshal result only written to an http.ResponseWriter; encode straight into it",
    reports_on: "the `json.Marshal` call",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
`b, err := json.Marshal(v)` where `b` is used for nothing but `w.Write(b)` on an
`http.ResponseWriter` (error checks aside). Any other use of `b` — `len(b)` for a
Content-Length, logging, caching, returning it, appending to it, writing it to a
non-ResponseWriter — keeps the rule quiet. Reported on the `json.Marshal` call.

## Why it matters in production
`json.Marshal` builds the whole document in a fresh byte slice, which is then
copied into the response buffer. For large or frequent responses that is an extra
allocation of the full payload per request and more GC work. `json.NewEncoder(w)`
writes into the response as it encodes.

## Bad
```go
func listProducts(w http.ResponseWriter, r *http.Request) {
	b, err := json.Marshal(catalog.All())
	if err != nil {
		http.Error(w, "encode failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}
```

## Good
```go
func listProducts(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(catalog.All()); err != nil {
		log.Printf("list products: %v", err)
	}
}
```

## How to fix
Use `json.NewEncoder(w).Encode(v)`. Note the trade-off: once encoding has started
the status code is sent, so an encoding error can no longer become a clean 500.
Keep `json.Marshal` when you need that (values that can fail to encode), and
suppress the finding. `Encode` also appends a newline.

## How to suppress
`//nolint:marshal-then-write // reason` on the line, or on its own line before the
statement/function; `//nolint:performance` for the whole category; see `pitfall rule`.
"#,
    check,
};

fn check(cx: &mut Checker) {}
