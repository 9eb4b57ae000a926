//! Finds `log.Fatal*` / `os.Exit` in the body a `go` statement runs.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "fatal-in-goroutine",
    category: Category::Goroutine,
    severity: Severity::Warning,
    summary: "log.Fatal or os.Exit inside a goroutine kills the process without graceful shutdown",
    reports_on: "the `log.Fatal*` / `os.Exit` / `(*log.Logger).Fatal*` call",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
A call to `os.Exit`, `log.Fatal`, `log.Fatalf`, `log.Fatalln` or `Fatal*` on a
`*log.Logger` directly in the body a `go` statement runs: a `go func() { ... }()`
literal, or a function or method of the same package started with `go name(...)` /
`go recv.method(...)`. Closures merely defined inside that body are not searched,
and `log.Panic*` is not reported (a panic can be recovered and runs the defers).
`t.Fatal` in a goroutine is go vet's `testinggoroutine` check.

## Why it matters in production
Exiting from a background goroutine ends the process on the spot: `main`'s deferred
calls never run, so the HTTP server is not shut down gracefully (in-flight requests
get reset connections during a rollout), buffered logs and traces are not flushed,
and database transactions are cut. Kubernetes then sees a crash, not a clean stop.

## Bad
```go
func main() {
	defer tracer.Flush()
	srv := &http.Server{Addr: ":8080", Handler: mux}
	go func() {
		log.Fatal(srv.ListenAndServe())
	}()
	waitForSignal()
	srv.Shutdown(context.Background())
}
```
## Good
```go
func main() {
	defer tracer.Flush()
	srv := &http.Server{Addr: ":8080", Handler: mux}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		log.Printf("server stopped: %v", err)
	case <-signalled():
		srv.Shutdown(context.Background())
	}
}
```

## How to fix
Send the error back to the goroutine that owns the process (a channel, an
`errgroup.Group`, a cancel function) and let `main` return or exit after its
cleanup has run.

## How to suppress
`//nolint:fatal-in-goroutine // reason` on the line, or on its own line before the
statement/function; `//nolint:goroutine` for the whole category; see `pitfall rule`.
"#,
    check,
};

fn check(cx: &mut Checker) {}
