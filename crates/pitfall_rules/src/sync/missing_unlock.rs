//! A return that leaves a mutex locked while the other paths unlock it.
use crate::prelude::*;
use pitfall_go::locks;

pub static RULE: Rule = Rule {
    name: "missing-unlock",
    category: Category::Sync,
    severity: Severity::Error,
    summary: "a return path leaves a mutex locked that the other paths unlock",
    reports_on: "the return statement that leaves the mutex locked",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
A `return` reached with a `sync.Mutex`/`RWMutex` still locked (by `Lock` or `RLock`
in the same function, with no `defer Unlock` registered), in a function that
unlocks the same mutex further down: the typical early return on an error branch
added between `Lock` and `Unlock`.

It follows every path of the function: `defer mu.Unlock()` (directly or in a
deferred closure), unlocking in a helper method of the same type (`s.unlock()`),
`if mu.TryLock()`, loops, `break`/`continue`, and paths ending in `panic` or
`log.Fatal`. It reports only returns where the mutex is held on every path that
reaches them, and only when an `Unlock` of that mutex comes later in the function —
functions that deliberately return with the lock held (lock helpers, "returns
true with mu held") stay silent. Test files are skipped.

## Why it matters in production
The next goroutine that calls `Lock` blocks forever. In a server, every request that
touches the mutex piles up behind it: the process stays up, health checks that do
not take the lock keep passing, and the service silently stops serving.

## Bad
```go
func (c *cache) Put(k string, v []byte) error {
	c.mu.Lock()
	if len(v) > c.max {
		return errTooBig // c.mu stays locked
	}
	c.items[k] = v
	c.mu.Unlock()
	return nil
}
```

## Good
```go
func (c *cache) Put(k string, v []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(v) > c.max {
		return errTooBig
	}
	c.items[k] = v
	return nil
}
```

## How to fix
Use `defer mu.Unlock()` right after `Lock`, or unlock before every early return.

## How to suppress
`//nolint:missing-unlock // the caller unlocks` on the reported line, or on its own
line before the statement or the function; `//nolint:sync` for the whole category.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    // Cheap filter before any type inference.
    if !cx.file.src.contains("Lock()") {
        return;
    }
    for (span, msg, fix) in find(cx) {
        cx.report(span, msg).fix(fix);
    }
}

fn find<'a>(cx: &Checker<'a>) -> Vec<(Span, String, String)> {
    let mut out = Vec::new();
    for (body, key, t) in cx.lock_traces() {
        // A function entered with the lock held returns it held by design.
        if t.entry_held.is_some() {
            continue;
        }
        let fix = |lock: &(Span, locks::Op, Option<String>, locks::States)| {
            format!(
                "unlock `{key}` before leaving, or `defer {key}.{}()` right after the lock",
                if lock.1 == locks::Op::RLock {
                    "RUnlock"
                } else {
                    "Unlock"
                }
            )
        };
        let how = |lock: &(Span, locks::Op, Option<String>, locks::States)| {
            let (lock_line, _) = cx.file.line_col(lock.0.start);
            match &lock.2 {
                Some(m) => format!("locked through {m}() at line {lock_line}"),
                None => format!("locked at line {lock_line}"),
            }
        };
        let last_lock_before = |pos: u32| {
            t.acquires
                .iter()
                .filter(|a| a.0.start < pos)
                .max_by_key(|a| a.0.start)
        };
        let body_end = body.span.end.saturating_sub(1);
        for (span, st) in &t.exits {
            if !locks::always_held_undeferred(*st) {
                continue;
            }
            let Some(lock) = last_lock_before(span.start) else {
                continue;
            };
            if span.start == body_end {
                // Falling off the end: reported when an earlier return
                // releases the mutex taken by the same lock (the early
                // return remembered to unlock, the end did not).
                let unlocked_return = t.exits.iter().any(|(r, rst)| {
                    r.start > lock.0.start
                        && r.start < body_end
                        && locks::never_held(*rst)
                        && t.releases.iter().any(|u| u.start > lock.0.start && u.start < r.start)
                });
                if !unlocked_return {
                    continue;
                }
                out.push((
                    *span,
                    format!("the function ends with `{key}` still locked ({}), while its early return unlocks it: the next Lock blocks forever", how(lock)),
                    fix(lock),
                ));
                continue;
            }
            let Some(unlock) = t.releases.iter().find(|r| r.start > span.end) else {
                continue;
            };
            if !locks::is_early_return(body, lock.0, *span) {
                continue;
            }
            let (unlock_line, _) = cx.file.line_col(unlock.start);
            out.push((
                    *span,
                    format!("this return leaves `{key}` locked ({}); the other paths unlock it at line {unlock_line}: the next Lock blocks forever", how(lock)),
                    fix(lock),
                ));
        }
        // A `break` out of a loop that locks and unlocks per iteration.
        for (span, st, lp) in &t.breaks {
            if !locks::always_held_undeferred(*st) {
                continue;
            }
            let Some(lock) = last_lock_before(span.start) else {
                continue;
            };
            // The lock is taken in the loop, and nothing after the loop
            // releases it (the code after the loop may own the unlock).
            if !lp.encloses(lock.0) || t.releases.iter().any(|r| r.start >= lp.end) {
                continue;
            }
            // ... nor defers its release (an exit after the loop is reached
            // with the lock held and its unlock deferred).
            if t.exits.iter().any(|(e, est)| {
                e.start >= lp.end
                    && locks::always_held(*est)
                    && !locks::always_held_undeferred(*est)
            }) {
                continue;
            }
            let Some(unlock) = t
                .releases
                .iter()
                .find(|r| r.start > span.end && lp.contains(r.start))
            else {
                continue;
            };
            if !locks::is_early_return(body, lock.0, *span) {
                continue;
            }
            let (unlock_line, _) = cx.file.line_col(unlock.start);
            out.push((
                *span,
                format!("this break leaves the loop with `{key}` locked ({}); the iteration unlocks it at line {unlock_line}: the next Lock blocks forever", how(lock)),
                fix(lock),
            ));
        }
    }
    out
}
