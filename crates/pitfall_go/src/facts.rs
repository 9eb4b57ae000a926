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

use crate::index::{Package, ProjectIndex};
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Package-wide knowledge computed once per package, on first request.
pub trait PackageFact: Any + Send + Sync + Sized {
    fn compute<'a>(pkg: &'a Package<'a>, project: &'a ProjectIndex<'a>) -> Self;
}

/// Run-wide knowledge (e.g. which packages a `main` reaches), computed once.
pub trait ProjectFact: Any + Send + Sync + Sized {
    fn compute<'a>(project: &'a ProjectIndex<'a>) -> Self;
}

type Cell = Arc<OnceLock<Arc<dyn Any + Send + Sync>>>;

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
        let value = cell
            .get_or_init(|| Arc::new(compute()) as Arc<dyn Any + Send + Sync>)
            .clone();
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
