//! A mutex locked again on a path where it is already held.
use crate::prelude::*;
use pitfall_go::locks::{self, Op};

pub static RULE: Rule = Rule {
    name: "double-lock",
    category: Category::Sync,
    severity: Severity::Error,
    summary: "mutex locked again while already held on every path (self-deadlock)",
    reports_on: "the second Lock (or the call of the method that locks)",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
A `Lock` (or `RLock` after `Lock`, or `Lock` after `RLock`) of a `sync.Mutex` /
`sync.RWMutex` that is already held by the same function on every path reaching
it — directly, or through a call to a method of the same type whose first action
is to lock that mutex (`s.mu.Lock(); s.size()` where `size` also does
`s.mu.Lock()`).

Go's mutexes are not reentrant, so the goroutine blocks on itself. Locks that are
held on some paths only (conditional locking) are not reported, and neither is
`RLock` after `RLock`. Test files are skipped.

## Why it matters in production
The goroutine deadlocks on itself and holds the mutex forever; every other goroutine
that needs it blocks too. With `RWMutex`, upgrading a read lock to a write lock in
place (`RLock` then `Lock`) deadlocks the same way.

## Bad
```go
func (r *registry) Add(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Len() > r.max { // Len also locks r.mu
		return
	}
	r.names = append(r.names, name)
}

func (r *registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.names)
}
```

## Good
```go
func (r *registry) Add(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lenLocked() > r.max {
		return
	}
	r.names = append(r.names, name)
}

// lenLocked requires r.mu to be held.
func (r *registry) lenLocked() int { return len(r.names) }
```

## How to fix
Split the method into a locking wrapper and a `...Locked` variant that expects the
lock held, and call the variant from code that already holds it. To upgrade a read
lock, `RUnlock`, then `Lock`, then re-check the state.

## How to suppress
`//nolint:double-lock // different instance` on the reported line, or on its own
line before the statement or the function; `//nolint:sync` for the whole category.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    // Cheap filter before any type inference.
    if !cx.file.src.contains("Lock()") {
        return;
    }
    for (span, msg, fix, first) in find(cx) {
        cx.report(span, msg).fix(fix).related(first, "first locked here");
    }
}

fn find<'a>(cx: &Checker<'a>) -> Vec<(Span, String, String, Span)> {
    let mut out = Vec::new();
    for (_body, key, t) in cx.lock_traces() {
        for (span, op, via, st) in &t.acquires {
            if !locks::always_held(*st) {
                continue;
            }
            if *op == Op::RLock && locks::always_read_held(*st) {
                continue;
            }
            let Some(first) = t
                .acquires
                .iter()
                .filter(|a| a.0.start < span.start)
                .max_by_key(|a| a.0.start)
                .or_else(|| {
                    t.acquires
                        .iter()
                        .filter(|a| a.0 != *span)
                        .max_by_key(|a| a.0.start)
                })
            else {
                continue;
            };
            let (line, _) = cx.file.line_col(first.0.start);
            let held = if locks::always_read_held(*st) {
                "read-locked"
            } else {
                "locked"
            };
            let what = match via {
                Some(m) => format!("{m}() locks `{key}`"),
                None => format!("`{key}` is locked again"),
            };
            let verb = if *op == Op::RLock { "RLock" } else { "Lock" };
            out.push((
                    *span,
                    format!("{what} while it is already {held} (line {line}): Go mutexes are not reentrant, this {verb} deadlocks"),
                    match via {
                        Some(m) => format!("call a variant of {m} that expects `{key}` held, or unlock before the call"),
                        None => format!("unlock `{key}` first, or restructure so it is locked once"),
                    },
                    first.0,
                ));
        }
    }
    out
}
