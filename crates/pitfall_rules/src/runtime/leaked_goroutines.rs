//! Goroutines parked for good at one channel operation, select, WaitGroup or
//! Cond in a live service's goroutine dump (many of them, or fewer where the
//! wait reason or the code proves it), and HTTP client connections held by
//! response bodies nobody closed.
use crate::dump_check::DumpChecker;
use crate::prelude::*;
use pitfall_dump::verdict::{self, LeakOptions, Verdict};

pub static RULE: Rule = Rule {
    name: "leaked-goroutines",
    category: Category::Runtime,
    severity: Severity::Error,
    summary: "goroutines parked forever at one channel operation, select, WaitGroup or Cond, or HTTP connections held by unclosed bodies (from a goroutine dump)",
    reports_on: "the first frame outside the runtime and standard library of the parked goroutines (where they are stuck in your code); for held HTTP connections, the read loop's line in net/http",
    test_files: TestFiles::Include,
    options: &[
        RuleOption { name: "min_count", default: "100", help: "parked goroutines at one site that are a leak whatever their age" },
        RuleOption { name: "min_count_waiting", default: "10", help: "parked goroutines at one site that are a leak when the oldest has waited min_wait_minutes" },
        RuleOption { name: "min_wait_minutes", default: "10", help: "wait (from debug=2 or a traceback) that makes min_count_waiting enough" },
        RuleOption { name: "min_growth", default: "50", help: "growth of one site between the first and the last of several dumps that is a leak" },
    ],
    doc: r#"
## What it finds
Run by `pitfall dump` on a goroutine dump (`/debug/pprof/goroutine` in any
format, or a crash/SIGQUIT traceback). Goroutines are grouped by *site*: their
state and the first frame outside the runtime and the standard library. A site
whose goroutines are parked on a channel send or receive, a `select`, a
`sync.WaitGroup.Wait` or a `sync.Cond.Wait` is reported when
- it holds at least `min_count` (100) goroutines, or
- it holds at least `min_count_waiting` (10) and the oldest has waited
  `min_wait_minutes` (10) or more (debug=2 and tracebacks print waits of a minute
  or more, after a GC; a missing wait means unknown, not new), or
- with two dumps (`pitfall dump before after`), it grew by `min_growth` (50), or
- the Go runtime itself marked its goroutines `(leaked)`.

Some sites need no threshold because nothing can ever wake them:
- goroutines parked on a **nil channel** (`chan send (nil chan)`, `chan receive
  (nil chan)`) or in a **`select {}`** (`select (no cases)`) are leaked whatever
  their number or age. The dump says so only where it prints the wait reason
  (debug=2 and tracebacks; protobuf profiles show `select {}` but not nil
  channels, debug=1 neither). The main goroutine parked in `select {}` — the
  idiom that keeps a server's process alive — is not a leak.
- with `--source DIR`, a parked site on a line where `pitfall check` reports a
  concurrency finding (a rule of the goroutine, channel or sync category, not
  suppressed there) is a leak from **two goroutines**, or from one that has
  waited a minute or more: the code says why they cannot leave, the dump that
  they are stuck. The message quotes the static finding.

**Connections held by unclosed response bodies** have no frame of your code at
all, yet are leaks: an HTTP client connection runs two goroutines,
`net/http.(*persistConn).readLoop` and `writeLoop`; an idle pooled connection
reads (IO wait), while one whose response body is still out waits in a select
until the body is read to the end or closed. When those waiting read loops reach
`min_count`, or `min_count_waiting` with the oldest waiting `min_wait_minutes`,
or grow by `min_growth` between two dumps, they are reported as a connection
leak on the read loop's line (in `net/http`); with `--source`, the message names
the `unclosed-response-body` findings of the code that explain them. Long
streaming responses (watches, server-sent events) wait there too while they
stream: they rarely reach those numbers, and grow only with their clients.

Groups that differ only in pprof labels add up. Not counted otherwise:
goroutines with no frame outside the runtime and standard library (the
runtime's and the standard library's own workers), goroutines in `time.Sleep`,
IO wait or syscalls, and goroutines in a synctest bubble. A long-lived loop over a ticker (`for range
t.C`) is one goroutine per site, far below the thresholds. debug=1 profiles hide
the runtime frames; a stack that starts in user code there is counted as parked
on a channel or select.

## Why it matters in production
A leaked goroutine never ends: its stack, everything it references and often a
connection stay alive. A handler that leaks one goroutine per request takes a
service down slowly — memory grows until the pod is OOM-killed, then it starts
again, and the restarts look like bad luck.

## Bad
```go
func lookup(ctx context.Context, key string) (string, error) {
	ch := make(chan string)
	go func() { ch <- slowLookup(key) }() // blocks forever after a timeout
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
```

## Good
```go
func lookup(ctx context.Context, key string) (string, error) {
	ch := make(chan string, 1) // the send always completes
	go func() { ch <- slowLookup(key) }()
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
```

## How to fix
Give every blocking operation a way out: a buffer sized for the sends, a
`case <-ctx.Done(): return`, a closed quit channel, `defer wg.Done()`. Make the
channel before any goroutine uses it (a struct field never assigned `make(...)`
is nil). Close every response body: `defer resp.Body.Close()` right after the
error check. With `--source DIR` pitfall prints the line and the static finding
there, if any.

## How to suppress
`//nolint:leaked-goroutines // reason` on the reported line of the source given
with `--source`, `ignore = ["leaked-goroutines"]` in pitfall.toml, or raise the
thresholds in `[rules.leaked-goroutines]`.
"#,
    check: Check::Dump(check),
};

fn check(cx: &DumpChecker) -> Vec<Verdict> {
    let o = LeakOptions {
        min_count: cx.option_u64("min_count"),
        min_count_waiting: cx.option_u64("min_count_waiting"),
        min_wait_minutes: cx.option_u64("min_wait_minutes"),
        min_growth: cx.option_u64("min_growth"),
    };
    verdict::leaked_with(cx.dump, cx.earlier, &o, cx.statics)
}
