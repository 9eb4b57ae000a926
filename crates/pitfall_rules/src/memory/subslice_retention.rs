//! Flags small constant re-slices of big buffers that outlive the call.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "subslice-retention",
    category: Category::Memory,
    severity: Severity::Warning,
    summary: "small re-slice of a large []byte is kept, pinning the whole buffer",
    reports_on: "the slice expression (`buf[:20]`)",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
A function that returns, or stores in a long-lived place (a package-level
variable, a field through a pointer receiver, a map or slice held by such a
field), a re-slice with constant bounds (`p[:20]`, `data[4:12]`, named
constants allowed) of a `[]byte` parameter or of a freshly read buffer
(`os.ReadFile`, `io.ReadAll`, `make([]byte, N)` with a large N), without
copying it. Variable bounds (`b[:n]`), `[:0]`, suffixes (`p[8:]`), copies
(`bytes.Clone`, `append([]byte(nil), ...)`, `string(...)`, `copy`) and
append-style APIs that fill and return the caller's own buffer stay silent.
The finding is reported on the slice expression.

## Why it matters in production
A re-slice shares the backing array: keeping 16 bytes of a 4 MB request body
keeps all 4 MB alive for as long as the 16 bytes live. A cache of "small" keys
cut from packets or files quietly holds every packet or file it came from, and
the heap grows until the pod is OOM-killed.

## Bad
```go
var sessions = map[string][]byte{}

func track(user string, pkt []byte) {
	sessions[user] = pkt[8:24] // pins the whole packet
}
```

## Good
```go
func track(user string, pkt []byte) {
	sessions[user] = bytes.Clone(pkt[8:24])
}
```

## How to fix
Copy the bytes you keep: `bytes.Clone(p[:n])`, `append([]byte(nil), p[:n]...)`,
a `string(p[:n])` when a string is wanted, or a fixed-size array
(`var id [16]byte; copy(id[:], p)`) for keys.

## How to suppress
`//nolint:subslice-retention // reason` on the line, or on its own line before the
statement/function; `//nolint:memory` for the whole category; see `pitfall rule`.
"#,
    check,
};

fn check(cx: &mut Checker) {
    let _ = cx;
}
