//! One generic forward dataflow solver over a [`Cfg`].
//!
//! An analysis supplies its lattice (`State`, [`Analysis::bottom`],
//! [`Analysis::join`]) and its transfer functions (per element, per edge). The
//! solver propagates states with a worklist until nothing changes. States must
//! only grow along a path's re-visits (monotone transfer over a finite lattice);
//! then the fixed point is reached without any pass cap.

use super::cfg::{BlockId, Cfg, Edge, Elem, ENTRY};
use std::collections::VecDeque;

pub trait Analysis<'a> {
    type State: Clone + PartialEq;
    /// The state of a point no path reaches.
    fn bottom(&self) -> Self::State;
    /// Merges `other` into `into` (least upper bound).
    fn join(&self, into: &mut Self::State, other: &Self::State);
    /// The state after `elem`, given the state before it. Analyses may record
    /// facts here: on a monotone analysis the last visit sees the final state.
    fn transfer(&mut self, elem: &Elem<'a>, st: Self::State) -> Self::State;
    /// The state carried along `edge` out of block `from` (refinement by a
    /// condition's outcome, leaving a scope, ...). Identity by default.
    fn edge(&mut self, _from: BlockId, _edge: &Edge<'a>, st: &Self::State) -> Self::State {
        st.clone()
    }
}

/// In-states of every block at the fixed point.
#[derive(Debug)]
pub struct Solution<S> {
    pub ins: Vec<S>,
    /// False when the guard against a non-monotone transfer stopped the solver:
    /// the facts recorded are then incomplete and callers should stay silent.
    pub converged: bool,
}

/// Runs `an` forward from `start` = (block, element index) with state `init`
/// (use `(ENTRY, 0)` for the whole function). Elements of the start block
/// before the index run only when a path comes back to that block.
pub fn forward<'a, A: Analysis<'a>>(
    cfg: &Cfg<'a>,
    an: &mut A,
    start: (BlockId, usize),
    init: A::State,
) -> Solution<A::State> {
    let n = cfg.blocks.len();
    let bottom = an.bottom();
    let mut ins = vec![bottom.clone(); n];
    let mut queued = vec![false; n];
    let mut work: VecDeque<BlockId> = VecDeque::new();
    let (sb, si) = start;
    if sb == ENTRY && si == 0 {
        ins[ENTRY] = init;
        work.push_back(ENTRY);
        queued[ENTRY] = true;
    } else {
        let out = run_block(cfg, an, sb, si, init);
        propagate(cfg, an, sb, &out, &bottom, &mut ins, &mut queued, &mut work);
    }
    // Guard only against a transfer that keeps changing (a bug): a correct
    // analysis over a lattice of height h revisits a block at most h times.
    let mut budget = n.saturating_mul(4096).max(1 << 16);
    while let Some(b) = work.pop_front() {
        queued[b] = false;
        if budget == 0 {
            return Solution {
                ins,
                converged: false,
            };
        }
        budget -= 1;
        let out = run_block(cfg, an, b, 0, ins[b].clone());
        propagate(cfg, an, b, &out, &bottom, &mut ins, &mut queued, &mut work);
    }
    Solution {
        ins,
        converged: true,
    }
}

fn run_block<'a, A: Analysis<'a>>(
    cfg: &Cfg<'a>,
    an: &mut A,
    b: BlockId,
    from: usize,
    mut st: A::State,
) -> A::State {
    for e in &cfg.blocks[b].elems[from.min(cfg.blocks[b].elems.len())..] {
        st = an.transfer(e, st);
    }
    st
}

#[allow(clippy::too_many_arguments)]
fn propagate<'a, A: Analysis<'a>>(
    cfg: &Cfg<'a>,
    an: &mut A,
    b: BlockId,
    out: &A::State,
    bottom: &A::State,
    ins: &mut [A::State],
    queued: &mut [bool],
    work: &mut VecDeque<BlockId>,
) {
    if out == bottom {
        return;
    }
    for e in &cfg.blocks[b].succs {
        let s = an.edge(b, e, out);
        if s == *bottom {
            continue;
        }
        let before = ins[e.to].clone();
        an.join(&mut ins[e.to], &s);
        if ins[e.to] != before && !queued[e.to] {
            queued[e.to] = true;
            work.push_back(e.to);
        }
    }
}
