//! HTTP servers that let a slow client hold a connection forever.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "server-without-timeouts",
    category: Category::Http,
    severity: Severity::Warning,
    summary: "HTTP server without ReadHeaderTimeout/ReadTimeout (slowloris)",
    reports_on: "the `http.ListenAndServe`/`ListenAndServeTLS`/`Serve`/`ServeTLS` call, or the line of the `http.Server{...}` literal",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
- the package helpers `http.ListenAndServe`, `http.ListenAndServeTLS`,
  `http.Serve` and `http.ServeTLS`, which build a server with no timeouts at all
  (a literal loopback address such as `localhost:6060` is not reported);
- an `http.Server{...}` / `&http.Server{...}` literal that sets neither
  `ReadHeaderTimeout` nor `ReadTimeout`, unless the same function assigns one of
  them later (`srv.ReadHeaderTimeout = ...`) or hands the server to another
  function that might.

Reported on the helper call, or on the first line of the literal.

## Why it matters in production
Without a read deadline a client can open connections and send request headers one
byte at a time (slowloris). Each connection keeps a goroutine and buffers alive;
a few thousand of them exhaust file descriptors or memory and the service stops
accepting real traffic — no load balancer sees anything wrong.

## Bad
```go
func serve(h http.Handler) error {
	return http.ListenAndServe(":8080", h)
}
```

## Good
```go
func serve(h http.Handler) error {
	srv := &http.Server{
		Addr:              ":8080",
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	return srv.ListenAndServe()
}
```

## How to fix
Build an `http.Server` and set at least `ReadHeaderTimeout` (a few seconds); add
`ReadTimeout`, `WriteTimeout` and `IdleTimeout` that fit your slowest legitimate
request. Streaming endpoints can extend deadlines per request with
`http.NewResponseController(w).SetWriteDeadline`.

## How to suppress
`//nolint:server-without-timeouts // reason` on the line, or on its own line before
the statement/function; `//nolint:http` for the whole category; see `pitfall rule`.
"#,
    check,
};

fn check(cx: &mut Checker) {}
