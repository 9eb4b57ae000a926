//! Finds goroutine-leak tests that compare `runtime.NumGoroutine()` across a fixed sleep.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "sleep-based-leak-test",
    category: Category::Testing,
    severity: Severity::Warning,
    summary: "Leak test compares runtime.NumGoroutine() across a time.Sleep (flaky and blind)",
    reports_on: "the `time.Sleep` call between the two `runtime.NumGoroutine()` reads",
    test_files: TestFiles::Only,
    options: &[],
    doc: r#"
## What it finds
In a `_test.go` file, a function that reads `runtime.NumGoroutine()`, sleeps with
`time.Sleep`, reads it again and compares the two counts (`>`, `!=`, an assert
helper). Polling loops that re-read the count until a deadline, counts that are only
logged, and benchmarks stay silent.

## Why it matters in production
The sleep is a guess: on a loaded CI machine the goroutine has not exited yet and the
test fails for nothing; on a fast one a different goroutine (a timer, the HTTP
client's idle connection reaper, a parallel test) finishing or starting hides the
leak you meant to catch. Counting also says nothing about *which* goroutine leaked,
so a red run is hard to act on. Leaks then reach production and show up as slowly
growing memory.

## Bad
```go
func TestPoolClose(t *testing.T) {
	n := runtime.NumGoroutine()
	p := NewPool(4)
	p.Close()
	time.Sleep(100 * time.Millisecond)
	if runtime.NumGoroutine() > n {
		t.Fatal("pool leaked goroutines")
	}
}
```
## Good
```go
func TestPoolClose(t *testing.T) {
	defer goleak.VerifyNone(t) // go.uber.org/goleak: retries, prints leaked stacks
	p := NewPool(4)
	p.Close()
}
```

## How to fix
Use `go.uber.org/goleak` (`goleak.VerifyNone(t)` or `goleak.VerifyTestMain(m)`),
or on Go 1.25+ run the test in a `testing/synctest` bubble, where `synctest.Wait`
waits until every goroutine of the bubble is blocked. If you must count, poll with
a deadline and re-read the count on every round.

## How to suppress
`//nolint:sleep-based-leak-test // reason` on the line, or on its own line before the
statement/function; `//nolint:testing` for the whole category; see `pitfall rule`.
"#,
    check,
};

fn check(cx: &mut Checker) {}
