//! Finds `os.Exit` / `log.Fatal*` after a `defer` of the same function.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "exit-skips-defers",
    category: Category::Correctness,
    severity: Severity::Warning,
    summary: "os.Exit or log.Fatal after a defer: the deferred calls never run",
    reports_on: "the `os.Exit` / `log.Fatal*` call (the message names the line of the skipped `defer`)",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
A call to `os.Exit`, `log.Fatal`, `log.Fatalf`, `log.Fatalln` or `Fatal*` on a
`*log.Logger` that comes after a `defer` statement of the same function body (func
literals are separate bodies). This includes the classic
`func TestMain(m *testing.M) { defer cleanup(); os.Exit(m.Run()) }`.
Silent: an exit before any defer, defers that live only in closures, exits in
another function, a defer in a branch that returns before the exit,
`log.Panic*` / `t.Fatal` (they unwind and run the defers), and defers whose loss
is harmless when the process ends (`mu.Unlock()`, `wg.Done()`, `cancel()`, `close(ch)`).

## Why it matters in production
`os.Exit` ends the process immediately; `log.Fatal` is `os.Exit(1)` after printing.
Deferred calls are not run: files are not flushed or closed, temp directories stay
behind, transactions are not rolled back, trace exporters lose their last batch, and
in `TestMain` the test database or containers leak on every run.

## Bad
```go
func main() {
	db := mustOpen()
	defer db.Close()
	if err := migrate(db); err != nil {
		log.Fatalf("migrate: %v", err)
	}
}
```
## Good
```go
func main() {
	if err := run(); err != nil {
		log.Fatal(err) // no defers in main; run's defers already ran
	}
}

func run() error {
	db := mustOpen()
	defer db.Close()
	return migrate(db)
}
```

## How to fix
Move the work into a `run() error` (or `run() int`) function that owns the defers
and exit in `main` only after it returns. In `TestMain`, compute the code first:
`code := m.Run(); cleanup(); os.Exit(code)`, or let `TestMain` return (Go 1.15+).

## How to suppress
`//nolint:exit-skips-defers // reason` on the line, or on its own line before the
statement/function; `//nolint:correctness` for the whole category; see `pitfall rule`.
"#,
    check,
};

fn check(cx: &mut Checker) {}
