//! A mutex locked again on a path where it is already held.
use crate::prelude::*;
use pitfall_go::locks::{self, Op};
use pitfall_go::types::{Env, Scope};
use pitfall_go::GoFile;

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
it — directly, or through a chain of calls (up to 8 deep) to functions, methods
or local closures of the package that lock that mutex (`s.mu.Lock(); s.size()`
where `size` also does `s.mu.Lock()`).

A call through a function-valued field (`l.onRenew(id)`) counts as a call of
the callbacks installed in it, when every installation the package makes is a
closure (assigned, `l.onRenew = func...`, or passed to a setter method,
`l.SetOnRenew(func...)`) and all of them lock the mutex of the value they are
installed in; a field also set from a value the package cannot see into
(a constructor parameter, a composite literal) says nothing.

A mutex reached back from an element of a collection counts as its owner's:
inside `for _, r := range s.replicas`, `r.store.mu` is `s.mu` when the
element type has exactly one field of the owner's type (a back-pointer) and is
not the owner's type itself (a tree's `sibling` is not its parent). A
`sync.Cond`'s `L.Lock()` is a lock of the mutex given to `sync.NewCond` (a
read lock for `NewCond(mu.RLocker())`).

Go's mutexes are not reentrant, so the goroutine blocks on itself. Locks that are
held on some paths only (conditional locking) are not reported. Test files are
skipped.

**Recursive read locks** (`RLock` while the same goroutine already holds the
read lock) are reported too, when the package write-locks the same mutex
somewhere (for a local mutex: the same function). The `sync` documentation
forbids recursive read locking: once a writer calls `Lock`, new `RLock` calls
wait until it has had its turn, so a reader that read-locks again waits for the
writer, which waits for the reader's first read lock — both hang for good. It
takes a writer arriving between the two `RLock`s, so it shows up rarely and
under load. The finding names the writer's `Lock` as a related location. An
RWMutex that nothing in the package write-locks is not reported (no writer
can queue), and neither is a second `RLock` taken by another goroutine.

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

A recursive read lock looks the same: `c.mu.RLock(); ...; c.String()` where
`String` also does `c.mu.RLock()` deadlocks once another goroutine's
`c.mu.Lock()` is waiting between the two.

## How to fix
Split the method into a locking wrapper and a `...Locked` variant that expects the
lock held, and call the variant from code that already holds it. To upgrade a read
lock, `RUnlock`, then `Lock`, then re-check the state. For a recursive read lock,
the same split: the caller that already reads calls the `...Locked` variant.

## Differences from peer linters
go vet and staticcheck have no such check; the race detector and Go's
goroutine-leak profile see the deadlock only when a run hits it, which for a
recursive read lock needs a writer to arrive at the wrong moment. This rule
reports the recursive read lock from the code, whether or not a test ever
makes the writer wait in between.

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
    for (span, msg, fix, first, writer) in find(cx) {
        let r = cx.report(span, msg).fix(fix).related(first, "first locked here");
        if let Some((file, at)) = writer {
            r.related_in(file, at, "a writer locks it here: once it waits, the second RLock waits behind it");
        }
    }
}

type Found<'a> = (Span, String, String, Span, Option<(&'a GoFile, Span)>);

fn find<'a>(cx: &Checker<'a>) -> Vec<Found<'a>> {
    let mut out = Vec::new();
    for (body, key, t) in cx.lock_traces() {
        for (span, op, via, st) in &t.acquires {
            if !locks::always_held(*st) {
                continue;
            }
            // A recursive read lock deadlocks only once a writer queues
            // between the two RLocks: report it when the package (or, for a
            // local mutex, the function) write-locks the same mutex.
            let recursive_read = *op == Op::RLock && locks::always_read_held(*st);
            let writer = if recursive_read {
                match writer_site(cx, body, &key, t.class.as_deref()) {
                    Some(w) => Some(w),
                    None => continue,
                }
            } else {
                None
            };
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
            let what = match (via, recursive_read) {
                (Some(m), false) => format!("{m}() locks `{key}`"),
                (Some(m), true) => format!("{m}() read-locks `{key}`"),
                (None, false) => format!("`{key}` is locked again"),
                (None, true) => format!("`{key}` is read-locked again"),
            };
            let writer_at = match writer {
                Some((f, at)) if std::ptr::eq(f, cx.file) => format!(" (a writer locks it at line {})", f.line_col(at.start).0),
                Some((f, at)) => format!(" (a writer locks it at {}:{})", f.path, f.line_col(at.start).0),
                None => String::new(),
            };
            let (msg, fix) = if recursive_read {
                (
                    format!("{what} while it is already read-locked (line {line}): recursive read locking deadlocks once a writer's Lock{writer_at} waits between the two RLocks, because a waiting writer blocks new readers"),
                    match via {
                        Some(m) => format!("call a variant of {m} that expects `{key}` read-held, or RUnlock before the call"),
                        None => format!("take the read lock of `{key}` once and pass what it protects down"),
                    },
                )
            } else {
                let held = if locks::always_read_held(*st) {
                    "read-locked"
                } else {
                    "locked"
                };
                let verb = if *op == Op::RLock { "RLock" } else { "Lock" };
                (
                    format!("{what} while it is already {held} (line {line}): Go mutexes are not reentrant, this {verb} deadlocks"),
                    match via {
                        Some(m) => format!("call a variant of {m} that expects `{key}` held, or unlock before the call"),
                        None => format!("unlock `{key}` first, or restructure so it is locked once"),
                    },
                )
            };
            out.push((*span, msg, fix, first.0, writer));
        }
    }
    out
}

/// Where a writer `Lock`s the mutex `key` (of lock class `class`): for a
/// class, any non-test function of the package; for a local mutex, the
/// top-level function around `body` (its closures included).
fn writer_site<'a>(
    cx: &Checker<'a>,
    body: &'a Block,
    key: &str,
    class: Option<&str>,
) -> Option<(&'a GoFile, Span)> {
    if let Some(class) = class {
        let w = cx.package_fact::<WriteLocks>();
        let (i, at) = w.0.iter().find(|(c, _, _)| c == class).map(|(_, i, s)| (*i, *s))?;
        return Some((&cx.pkg.files()[i], at));
    }
    let root = walk::top_level_root_at(&cx.file.ast, body.span.start)?;
    let sc = cx.scope();
    let env = cx.env_at(body.span.start);
    let mut found = None;
    walk::walk(root, &mut |n, _| {
        if let (None, Node::Expr(Expr::Call(c))) = (found, n) {
            if let Some(op) = locks::direct_op(&sc, &env, c) {
                if op.op == Op::Lock && op.key == key {
                    found = Some(c.span);
                }
            }
        }
        found.is_none()
    });
    found.map(|s| (cx.file, s))
}

/// Every direct write `Lock` of a mutex with a lock class in the package's
/// non-test files: (class, file index, call span). Computed once per package,
/// on the first recursive read lock found.
struct WriteLocks(Vec<(String, usize, Span)>);

impl PackageFact for WriteLocks {
    fn compute<'a>(pkg: &'a Package<'a>, project: &'a ProjectIndex<'a>) -> Self {
        let mut out = Vec::new();
        for (i, file) in pkg.files().iter().enumerate().filter(|(_, f)| !f.is_test) {
            if !file.src.contains("Lock()") {
                continue;
            }
            let sc = Scope { project, pkg, file };
            for decl in &file.ast.decls {
                let Decl::Func(fd) = decl else { continue };
                if !file.text(fd.span).contains("Lock()") {
                    continue;
                }
                let env = Env::build(&sc, Node::FuncDecl(fd));
                walk::walk(Node::FuncDecl(fd), &mut |n, _| {
                    if let Node::Expr(Expr::Call(c)) = n {
                        if let Some(op) = locks::direct_op(&sc, &env, c) {
                            if let (Op::Lock, Some(class)) = (op.op, op.class) {
                                out.push((class, i, c.span));
                            }
                        }
                    }
                    true
                });
            }
        }
        WriteLocks(out)
    }
}
