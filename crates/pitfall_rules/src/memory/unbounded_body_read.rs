//! Request bodies read whole into memory with no size limit.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "unbounded-body-read",
    category: Category::Memory,
    severity: Severity::Warning,
    summary: "Request body read or decoded without a size limit (one request can exhaust memory)",
    reports_on: "the `io.ReadAll` / `ioutil.ReadAll` / `json.NewDecoder` / `xml.NewDecoder` call",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
`io.ReadAll(r.Body)`, `ioutil.ReadAll(r.Body)`, `json.NewDecoder(r.Body)` and
`xml.NewDecoder(r.Body)` where `r` is the incoming `*http.Request` and nothing caps
the body: no `r.Body = http.MaxBytesReader(...)` earlier in the function, no
`io.LimitReader` / `http.MaxBytesReader` around the argument, and no
`http.MaxBytesHandler` middleware anywhere in the package. Import aliases are
followed. Response bodies of outgoing calls (`resp.Body`) are not reported.
The finding is on the read or decoder call.

## Why it matters in production
The server reads whatever the client sends. One request with a multi-gigabyte
(or never-ending chunked) body makes `ReadAll` grow its buffer until the pod is
OOM-killed, taking every other in-flight request with it. A JSON decoder on an
unlimited body has the same problem with one huge string or array.

## Bad
```go
func createInvoice(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read failed", http.StatusBadRequest)
		return
	}
	process(raw)
}
```

## Good
```go
const maxInvoiceBytes = 1 << 20

func createInvoice(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxInvoiceBytes)
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	process(raw)
}
```

## How to fix
Wrap the body with `http.MaxBytesReader(w, r.Body, limit)` before reading (it also
tells the server to close the connection when the limit is hit), or wrap the whole
router once with `http.MaxBytesHandler(mux, limit)`. Pick a limit that fits the
endpoint: small for JSON APIs, larger for uploads.

## How to suppress
`//nolint:unbounded-body-read // reason` on the line, or on its own line before the
statement/function; `//nolint:memory` for the whole category; see `pitfall rule`.
"#,
    check,
};

fn check(cx: &mut Checker) {}
