//! The order a run checks its units of packages in: a unit starts once every
//! unit it imports is done (its importers read their skeletons), largest
//! first among those ready (so the run does not end on one big package), and
//! only while the source of the units in flight stays under a byte budget:
//! what bounds the syntax trees alive at once. A unit larger than the budget
//! still runs, alone with whatever is already in flight.

use std::collections::BinaryHeap;
use std::sync::Mutex;

struct State {
    /// (size, unit) of the units whose imports are all done.
    ready: BinaryHeap<(u64, std::cmp::Reverse<usize>)>,
    /// Per unit, how many of its imports are not done yet.
    waiting: Vec<usize>,
    in_flight: u64,
    running: usize,
}

/// What the units need to run: fixed for the run, beside the state that
/// changes as they go.
struct Plan<'s> {
    state: Mutex<State>,
    /// Per unit, the units that import it.
    importers: Vec<Vec<usize>>,
    size: &'s [u64],
    budget: u64,
    work: &'s (dyn Fn(usize) + Sync),
}

/// Runs `work(unit)` for every unit on the current rayon pool, each after
/// the units it depends on (`deps[u]`, indices below `deps.len()`); `size[u]`
/// counts against `budget` while `u` runs.
pub fn run(deps: &[Vec<usize>], size: &[u64], budget: u64, work: &(dyn Fn(usize) + Sync)) {
    let n = deps.len();
    let mut importers = vec![Vec::new(); n];
    for (u, d) in deps.iter().enumerate() {
        for &v in d {
            importers[v].push(u);
        }
    }
    let mut state = State {
        ready: BinaryHeap::new(),
        waiting: deps.iter().map(Vec::len).collect(),
        in_flight: 0,
        running: 0,
    };
    for (u, &bytes) in size.iter().enumerate().take(n) {
        if state.waiting[u] == 0 {
            state.ready.push((bytes, std::cmp::Reverse(u)));
        }
    }
    let plan = Plan {
        state: Mutex::new(state),
        importers,
        size,
        budget,
        work,
    };
    rayon::scope(|s| plan.start_ready(s));
}

impl<'s> Plan<'s> {
    /// Starts ready units while the budget allows (always at least one when
    /// nothing runs).
    fn start_ready(&'s self, s: &rayon::Scope<'s>) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(&(bytes, std::cmp::Reverse(u))) = st.ready.peek() {
            if st.running > 0 && st.in_flight + bytes > self.budget {
                break;
            }
            st.ready.pop();
            st.in_flight += bytes;
            st.running += 1;
            s.spawn(move |s| {
                // Whatever happens in `work`, the unit counts as done: its
                // importers still run (a panic is reported by the caller's pool).
                struct Done<'s, 'f> {
                    plan: &'s Plan<'s>,
                    s: &'f rayon::Scope<'s>,
                    u: usize,
                }
                impl Drop for Done<'_, '_> {
                    fn drop(&mut self) {
                        self.plan.finish(self.u);
                        self.plan.start_ready(self.s);
                    }
                }
                let _done = Done { plan: self, s, u };
                (self.work)(u);
            });
        }
    }

    /// Unit `u` is done: its bytes leave the budget, and importers with no
    /// import left to wait for become ready.
    fn finish(&self, u: usize) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.in_flight -= self.size[u];
        st.running -= 1;
        for &v in &self.importers[u] {
            st.waiting[v] -= 1;
            if st.waiting[v] == 0 {
                st.ready.push((self.size[v], std::cmp::Reverse(v)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn every_unit_runs_once_after_its_imports() {
        // 0 <- 1 <- 3, 0 <- 2 <- 3, 4 alone, 5 <- 4.
        let deps = vec![vec![], vec![0], vec![0], vec![1, 2], vec![], vec![4]];
        let size = vec![5, 1, 7, 2, 3, 9];
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        for budget in [0, 4, 100] {
            let done = Mutex::new(Vec::new());
            pool.install(|| {
                run(&deps, &size, budget, &|u| {
                    let d = done.lock().unwrap();
                    for &v in &deps[u] {
                        assert!(d.contains(&v), "unit {u} started before {v} was done");
                    }
                    drop(d);
                    done.lock().unwrap().push(u);
                })
            });
            let mut d = done.into_inner().unwrap();
            d.sort_unstable();
            assert_eq!(d, [0, 1, 2, 3, 4, 5], "budget {budget}");
        }
    }

    #[test]
    fn the_budget_bounds_the_bytes_in_flight() {
        let n = 40;
        let deps = vec![Vec::new(); n];
        let size: Vec<u64> = (0..n as u64).map(|i| 1 + i % 5).collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        let (now, peak) = (AtomicU64::new(0), AtomicU64::new(0));
        pool.install(|| {
            run(&deps, &size, 6, &|u| {
                let v = now.fetch_add(size[u], Ordering::SeqCst) + size[u];
                peak.fetch_max(v, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(2));
                now.fetch_sub(size[u], Ordering::SeqCst);
            })
        });
        let peak = peak.into_inner();
        assert!(peak <= 6, "peak {peak} over the budget");
        assert!(peak > 1, "units ran in parallel under the budget");
    }
}
