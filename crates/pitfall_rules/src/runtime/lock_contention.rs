//! Many goroutines waiting for one mutex in a goroutine dump.
use crate::dump_check::DumpChecker;
use crate::prelude::*;
use pitfall_dump::verdict::{self, ContentionOptions, Verdict};

pub static RULE: Rule = Rule {
    name: "lock-contention",
    category: Category::Runtime,
    severity: Severity::Warning,
    summary: "many goroutines waiting for the same mutex (from a goroutine dump)",
    reports_on: "the first frame outside the runtime and standard library of the waiting goroutines (the Lock call in your code)",
    test_files: TestFiles::Include,
    options: &[RuleOption { name: "min_count", default: "20", help: "goroutines waiting at one Lock/RLock site" }],
    doc: r#"
## What it finds
Run by `pitfall dump`: a site where at least `min_count` (20) goroutines wait in
`sync.Mutex.Lock`, `sync.RWMutex.Lock` or `sync.RWMutex.RLock` (Go 1.19 and older
print `semacquire`; the frames tell which). The site is the first frame outside
the runtime and standard library — the `Lock` call in your code.

## Why it matters in production
Every request that needs the lock waits in line: latency grows with load and
throughput stops growing with cores. When the count keeps growing between dumps
the lock is not slow but never released (see `deadlock`).

## Bad
```go
func (c *Cache) Get(key string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.items[key]; ok {
		return v, nil
	}
	v, err := c.fetch(key) // network call while holding the lock
	c.items[key] = v
	return v, err
}
```

## Good
```go
func (c *Cache) Get(key string) ([]byte, error) {
	c.mu.RLock()
	v, ok := c.items[key]
	c.mu.RUnlock()
	if ok {
		return v, nil
	}
	v, err := c.fetch(key) // no lock held
	c.mu.Lock()
	c.items[key] = v
	c.mu.Unlock()
	return v, err
}
```

## How to fix
Hold locks only around memory access: no I/O, no channel operations and no calls
into unknown code while holding them; shard hot maps; use `sync.RWMutex` for
read-mostly data.

## How to suppress
`//nolint:lock-contention // reason` on the reported line of the source given
with `--source`, `ignore = ["lock-contention"]` in pitfall.toml, or raise
`min_count` in `[rules.lock-contention]`.
"#,
    check: Check::Dump(check),
};

fn check(cx: &DumpChecker) -> Vec<Verdict> {
    verdict::contention(cx.dump, &ContentionOptions { min_count: cx.option_u64("min_count") })
}
