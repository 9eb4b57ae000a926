//! Facts computed once per package (or once per run) and handed to every rule
//! and file that asks — go/analysis's `ResultType` and package facts, in spirit.
//!
//! A rule that needs package-wide knowledge ("which functions does the package
//! start with `go`?", "the lock-order edges of every function") declares an
//! owned type for it and implements [`PackageFact`] (or [`ProjectFact`] for a
//! run-wide answer). The first file that asks computes it; every other file of
//! the package, on any thread, gets the same `Arc`. Facts are `'static`: they
//! own their data and never borrow a syntax tree, so a package's trees can be
//! dropped while its facts live on.
//!
//! A fact's `compute` must not use rayon itself: a worker blocked in the
//! computation could otherwise steal a job that asks for the same fact.
//!
//! A rayon worker that asks for a fact another thread is computing does not
//! sit idle: unless it is itself inside a fact's computation, it runs other
//! pending jobs (files) until the fact is ready. Without that, the first file
//! of a large package computed the package's facts while every other worker
//! waited on it (nats-server's `server` package: `-j2` no faster than `-j1`).

use crate::index::{ImportGraph, Package, ProjectIndex};
use std::any::{Any, TypeId};
use std::cell::Cell as ThreadCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, OnceLock};

/// Package-wide knowledge computed once per package, on first request.
pub trait PackageFact: Any + Send + Sync + Sized {
    fn compute<'a>(pkg: &'a Package<'a>, project: &'a ProjectIndex<'a>) -> Self;
}

/// Run-wide knowledge (e.g. which packages a `main` reaches), computed once
/// per run. It reads the import graph only: a run does not hold every
/// package's syntax tree at once.
pub trait ProjectFact: Any + Send + Sync + Sized {
    fn compute(graph: &ImportGraph) -> Self;
}

/// Package-wide answers by key (a field name, say), each computed once per
/// package on first request: for a question every file may ask about its own
/// key, where computing every key up front would be wasted. `Tag` names the
/// question (a fact is stored under its type); see [`Package::memo`].
///
/// [`Package::memo`]: crate::index::Package::memo
pub struct KeyedFact<Tag, K, V> {
    answers: Mutex<HashMap<K, V>>,
    tag: std::marker::PhantomData<fn() -> Tag>,
}

impl<Tag, K, V> Default for KeyedFact<Tag, K, V> {
    fn default() -> Self {
        KeyedFact {
            answers: Mutex::new(HashMap::new()),
            tag: std::marker::PhantomData,
        }
    }
}

impl<Tag, K, V> PackageFact for KeyedFact<Tag, K, V>
where
    Tag: 'static,
    K: std::hash::Hash + Eq + Send + 'static,
    V: Send + 'static,
{
    fn compute<'a>(_: &'a Package<'a>, _: &'a ProjectIndex<'a>) -> Self {
        KeyedFact::default()
    }
}

impl<Tag, K: std::hash::Hash + Eq, V: Clone> KeyedFact<Tag, K, V> {
    /// The answer for `key`, computed with `compute` if no one has yet (two
    /// threads may both compute it: answers must not depend on who asks).
    pub fn get(&self, key: K, compute: impl FnOnce() -> V) -> V {
        if let Some(v) = self
            .answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return v.clone();
        }
        let v = compute();
        self.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, v.clone());
        v
    }
}

type Cell = Arc<Slot>;

/// One fact: its value once computed, and whether a thread is computing it.
#[derive(Default)]
struct Slot {
    value: OnceLock<Arc<dyn Any + Send + Sync>>,
    busy: AtomicBool,
}

thread_local! {
    /// How many fact computations this thread is inside.
    static COMPUTING: ThreadCell<u32> = const { ThreadCell::new(0) };
}

/// Marks the slot free again if the computation panics (the next asker
/// retries) and leaves the thread's computation count right.
struct Computing<'s>(&'s Slot);

impl Drop for Computing<'_> {
    fn drop(&mut self) {
        COMPUTING.with(|c| c.set(c.get() - 1));
        if self.0.value.get().is_none() {
            self.0.busy.store(false, AtomicOrdering::Release);
        }
    }
}

impl Slot {
    fn get_or_init(
        &self,
        compute: impl FnOnce() -> Arc<dyn Any + Send + Sync>,
    ) -> Arc<dyn Any + Send + Sync> {
        let mut compute = Some(compute);
        loop {
            if let Some(v) = self.value.get() {
                return v.clone();
            }
            let mine = self
                .busy
                .compare_exchange(false, true, AtomicOrdering::AcqRel, AtomicOrdering::Acquire)
                .is_ok();
            if mine {
                COMPUTING.with(|c| c.set(c.get() + 1));
                let _guard = Computing(self);
                let f = compute.take().expect("computed at most once per call");
                let v = f();
                let _ = self.value.set(v);
                continue;
            }
            // Another thread computes it. Run other work meanwhile, but never
            // from inside a computation: a stolen job could ask for a fact this
            // thread is in the middle of computing.
            let outside = COMPUTING.with(|c| c.get()) == 0;
            if !(outside && rayon::yield_now() == Some(rayon::Yield::Executed)) {
                std::thread::sleep(std::time::Duration::from_micros(100));
            }
        }
    }
}

/// One value per fact type, computed at most once (concurrent askers wait for
/// the first). A computation that panics leaves the slot empty: the next asker
/// tries again, so a panic costs that rule on that file only.
#[derive(Default)]
pub struct FactStore {
    cells: Mutex<HashMap<TypeId, Cell>>,
}

impl std::fmt::Debug for FactStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.cells.lock().map(|c| c.len()).unwrap_or(0);
        write!(f, "FactStore({n} facts)")
    }
}

impl FactStore {
    /// The fact of type `T`, computing it with `compute` if no one has yet.
    pub fn get_or_compute<T: Any + Send + Sync>(&self, compute: impl FnOnce() -> T) -> Arc<T> {
        let cell = {
            let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
            cells.entry(TypeId::of::<T>()).or_default().clone()
        };
        let value = cell.get_or_init(|| Arc::new(compute()) as Arc<dyn Any + Send + Sync>);
        value
            .downcast::<T>()
            .unwrap_or_else(|_| unreachable!("facts are stored under their own TypeId"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn computed_once_across_threads() {
        let store = FactStore::default();
        let runs = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    let v = store.get_or_compute(|| {
                        runs.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        42u32
                    });
                    assert_eq!(*v, 42);
                });
            }
        });
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_worker_waiting_for_a_fact_runs_other_jobs() {
        // Two workers: one computes the fact, and that computation can only
        // finish once four other jobs have run. Those jobs sit in the queue of
        // the worker that waits for the fact: it must run them meanwhile.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let store = FactStore::default();
        let (started, done) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let seen = pool.install(|| {
            let seen = Mutex::new(Vec::new());
            rayon::scope(|s| {
                s.spawn(|_| {
                    let v = store.get_or_compute(|| {
                        started.store(1, Ordering::SeqCst);
                        while done.load(Ordering::SeqCst) < 4
                            && std::time::Instant::now() < deadline
                        {
                            std::thread::yield_now();
                        }
                        done.load(Ordering::SeqCst)
                    });
                    seen.lock().unwrap().push(*v);
                });
                s.spawn(|s| {
                    while started.load(Ordering::SeqCst) == 0 {
                        std::thread::yield_now();
                    }
                    for _ in 0..4 {
                        s.spawn(|_| {
                            done.fetch_add(1, Ordering::SeqCst);
                        });
                    }
                    let v = store.get_or_compute(|| usize::MAX);
                    seen.lock().unwrap().push(*v);
                });
            });
            seen.into_inner().unwrap()
        });
        assert_eq!(seen, [4, 4], "the waiting worker ran the four jobs");
    }

    #[test]
    fn keyed_answers_are_computed_once_per_key_and_tag() {
        struct A;
        struct B;
        let store = FactStore::default();
        let runs = AtomicUsize::new(0);
        let ask = |key: &str, v: u32| {
            store
                .get_or_compute(KeyedFact::<A, String, u32>::default)
                .get(key.to_string(), || {
                    runs.fetch_add(1, Ordering::SeqCst);
                    v
                })
        };
        assert_eq!((ask("x", 1), ask("x", 2), ask("y", 3)), (1, 1, 3));
        assert_eq!(runs.load(Ordering::SeqCst), 2, "x once, y once");
        let other = store.get_or_compute(KeyedFact::<B, String, u32>::default);
        assert_eq!(
            other.get("x".to_string(), || 9),
            9,
            "another tag, another store"
        );
    }

    #[test]
    fn distinct_types_distinct_slots_and_panics_retry() {
        let store = FactStore::default();
        assert_eq!(*store.get_or_compute(|| 1u8), 1);
        assert_eq!(*store.get_or_compute(|| "two".to_string()), "two");
        assert_eq!(*store.get_or_compute(|| 9u8), 1, "first value stays");
        let p = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            store.get_or_compute::<u16>(|| panic!("boom"))
        }));
        assert!(p.is_err());
        assert_eq!(
            *store.get_or_compute(|| 7u16),
            7,
            "a panicked fact is retried"
        );
    }
}
