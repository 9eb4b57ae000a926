//! Goroutines that wait on each other forever, seen in a goroutine dump.
use crate::dump_check::DumpChecker;
use crate::prelude::*;
use pitfall_dump::verdict::{self, DeadlockOptions, Verdict};

pub static RULE: Rule = Rule {
    name: "deadlock",
    category: Category::Runtime,
    severity: Severity::Error,
    summary: "goroutines blocked for good on locks or on each other (from a goroutine dump)",
    reports_on: "the first frame outside the runtime and standard library of each blocked site",
    test_files: TestFiles::Include,
    options: &[RuleOption { name: "min_wait_minutes", default: "10", help: "wait for one mutex (debug=2 or a traceback) that counts as never released" }],
    doc: r#"
## What it finds
Run by `pitfall dump`. Reports every blocked site (channel, select, WaitGroup,
Cond or mutex) when
- the dump is the Go runtime's own `fatal error: all goroutines are asleep -
  deadlock!`, or
- every goroutine in the dump is blocked and none can wake the others: none is
  running, runnable, in a syscall, in IO wait or asleep in `time.Sleep`, and no
  signal or timer goroutine is there (a SIGQUIT dump of a stuck program);

and otherwise a mutex site whose goroutines have waited `min_wait_minutes` (10)
or more — a lock held that long is never released: taken twice on one path,
skipped Unlock, or two locks taken in opposite orders.

## Why it matters in production
A live service never crashes with "all goroutines are asleep": the HTTP server
keeps one goroutine in IO wait. A deadlocked code path just stops answering —
requests time out, goroutines pile up behind the lock, and the liveness probe may
still pass.

## Bad
```go
func (a *Account) Deposit(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.balance = a.Balance() + n // Balance locks a.mu again
}
```

## Good
```go
func (a *Account) Deposit(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.balance += n // read the field directly while holding the lock
}
```

## How to fix
Keep one rule per lock: exported methods lock, unexported helpers assume the lock
is held; take several locks in one global order; `defer` every Unlock.

## How to suppress
`//nolint:deadlock // reason` on the reported line of the source given with
`--source`, or `ignore = ["deadlock"]` in pitfall.toml.
"#,
    check: Check::Dump(check),
};

fn check(cx: &DumpChecker) -> Vec<Verdict> {
    verdict::deadlock(cx.dump, &DeadlockOptions { min_wait_minutes: cx.option_u64("min_wait_minutes") })
}
