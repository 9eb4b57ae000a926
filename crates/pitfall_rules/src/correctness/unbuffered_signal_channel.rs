//! signal.Notify on an unbuffered channel.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "unbuffered-signal-channel",
    category: Category::Correctness,
    severity: Severity::Error,
    summary: "signal.Notify on an unbuffered channel can drop the signal",
    reports_on: "the `signal.Notify` call",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
`signal.Notify(c, ...)` where `c` is visibly made unbuffered — `make(chan os.Signal)`
or `make(chan os.Signal, 0)` — in the same function (including an enclosing
function of a closure) or as a package-level variable. Channels whose `make` is
not visible (parameters, struct fields) or whose capacity is not a literal zero
are not reported. Reported on the `signal.Notify` call.

## Why it matters in production
The signal package never blocks when it delivers: if nobody is receiving on the
channel at that exact moment, the signal is dropped. A SIGTERM from Kubernetes that
arrives while `main` is still starting up (or busy elsewhere) is lost, the
graceful shutdown never runs, and the pod is SIGKILLed after the grace period with
requests in flight.

## Bad
```go
func main() {
	stop := make(chan os.Signal)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	startWorkers()
	<-stop
	shutdown()
}
```

## Good
```go
func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	startWorkers()
	<-stop
	shutdown()
}
```

## How to fix
Give the channel a buffer of at least 1 (one slot per signal you must not miss),
or use `signal.NotifyContext`, which manages a buffered channel for you.

## How to suppress
`//nolint:unbuffered-signal-channel // reason` on the line, or on its own line
before the statement/function; `//nolint:correctness` for the whole category; see
`pitfall rule`.
"#,
    check,
};

fn check(cx: &mut Checker) {}
