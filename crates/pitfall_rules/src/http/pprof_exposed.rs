//! pprof endpoints reachable on a public listener.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "pprof-exposed",
    category: Category::Http,
    severity: Severity::Error,
    summary: "net/http/pprof handlers served on a non-loopback address",
    reports_on: "the `net/http/pprof` import (DefaultServeMux case) or the explicit pprof handler registration (custom mux case)",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
Importing `net/http/pprof` registers `/debug/pprof/*` on `http.DefaultServeMux`.
This rule reports the import when the same package serves the DefaultServeMux
(`http.ListenAndServe(addr, nil)`, `ListenAndServeTLS(..., nil)`,
`http.Serve(l, nil)`, or an `http.Server` without a `Handler`) on a literal or
constant address that is not loopback — the serving call may be in another file of
the package. It also reports explicit registrations such as
`mux.HandleFunc("/debug/pprof/", pprof.Index)` on a mux that is served on such an
address. Addresses like `localhost:6060`, `127.0.0.1:6060` or `[::1]:6060` are
fine; an address pitfall cannot read (flags, environment) is not reported.

## Why it matters in production
Anyone who can reach the port can download heap dumps (with secrets in memory),
read command lines, and start 30-second CPU profiles or execution traces that
slow the service down — a free denial-of-service and information leak.

## Bad
```go
import _ "net/http/pprof"

func main() {
	http.HandleFunc("/orders", listOrders)
	log.Fatal(http.ListenAndServe(":8080", nil))
}
```

## Good
```go
import _ "net/http/pprof"

func main() {
	go func() { log.Print(http.ListenAndServe("localhost:6060", nil)) }()
	api := http.NewServeMux()
	api.HandleFunc("/orders", listOrders)
	srv := &http.Server{Addr: ":8080", Handler: api, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
```

## How to fix
Serve the application on its own `http.ServeMux`, and serve pprof (the
DefaultServeMux, or a dedicated debug mux) on a loopback address reached with
`kubectl port-forward`, or behind authentication.

## How to suppress
`//nolint:pprof-exposed // reason` on the line, or on its own line before the
statement/function; `//nolint:http` for the whole category; see `pitfall rule`.
"#,
    check,
};

fn check(cx: &mut Checker) {}
