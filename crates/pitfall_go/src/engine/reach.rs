//! Reachability queries on one function's CFG: "from this point, which of
//! these operations can a path reach, without passing those?" — the question
//! behind send-after-close, close-after-close, "runs before", "runs in every
//! iteration". One search on the solver, with a step function per element.

use super::cfg::{BlockId, Cfg, Edge, Elem, Jump, ENTRY, EXIT};
use super::dataflow::{forward, Analysis};
use super::life::Life;
use crate::ast::Span;

/// What a path does at an element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Goes on past it.
    Pass,
    /// Stops there (the question no longer applies on this path).
    Stop,
    /// A hit: recorded, and the path stops there.
    Hit,
}

/// What the paths from a point reach.
#[derive(Debug, Default)]
pub struct Reach {
    /// The elements hit (their spans), in the order the search met them.
    pub hits: Vec<Span>,
    /// Some path comes back to the start element (a loop runs it again).
    pub again: bool,
    /// Some path falls off the end of the function (no `return`).
    pub falls_off: bool,
    /// Some path reaches a `return`.
    pub returns: bool,
    /// Some path falls through out of the [`Life`] the search was bounded by
    /// (the end of its statement list, a loop going round).
    pub leaves: bool,
    /// Some path jumps out of that life (`break`, `continue`, `goto`).
    pub jumps_out: bool,
    /// The CFG or the search was not understood (unresolved jump, bad code):
    /// callers should stay silent.
    pub unknown: bool,
}

impl Reach {
    /// The first hit in source order.
    pub fn first_hit(&self) -> Option<Span> {
        self.hits.iter().min_by_key(|s| s.start).copied()
    }
}

/// Where a search starts.
#[derive(Clone, Copy, Debug)]
pub enum From {
    /// Just after the element with this span (a path that comes back to it
    /// sets [`Reach::again`] and stops there).
    After(Span),
    /// The function's entry.
    Entry,
    /// The branch an `if`/`for`/tagless `case` condition (by span) takes for
    /// this outcome (a path that comes back to the condition sets
    /// [`Reach::again`] and stops there).
    Taken(Span, bool),
}

/// Searches every path from `from` for the elements where `step` says
/// [`Step::Hit`], not going past [`Step::Stop`] elements, nor out of `within`
/// when given (a variable's life). Paths that end in `panic`, `os.Exit`, ...
/// simply end.
pub fn reach_from<'a>(
    cfg: &Cfg<'a>,
    from: From,
    within: Option<&Life>,
    step: &mut dyn FnMut(&Elem<'a>) -> Step,
) -> Reach {
    let mut out = Reach {
        unknown: cfg.unresolved,
        ..Reach::default()
    };
    let (start, mark) = match from {
        From::Entry => (Some((ENTRY, 0)), None),
        From::After(span) => (cfg.find(span).map(|(b, i)| (b, i + 1)), Some(span)),
        From::Taken(cond, outcome) => {
            let to = cfg.find(cond).and_then(|(b, _)| {
                cfg.blocks[b].succs.iter().find(|e| {
                    e.cond
                        .is_some_and(|(c, o)| c.span() == cond && o == outcome)
                })
            });
            (to.map(|e| (e.to, 0)), Some(cond))
        }
    };
    let Some(start) = start else {
        out.unknown = true;
        return out;
    };
    let mut an = Search {
        mark,
        within,
        step,
        out,
    };
    let sol = forward(cfg, &mut an, start, true);
    let mut out = an.out;
    out.unknown |= !sol.converged;
    out
}

/// Whether every path from the function's entry to the element at `to` passes
/// the element at `via` (and `to` is reachable at all): `via` has run whenever
/// `to` runs.
pub fn dominates(cfg: &Cfg<'_>, via: Span, to: Span) -> bool {
    let (Some(_), Some((tb, _))) = (cfg.find(via), cfg.find(to)) else {
        return false;
    };
    if cfg.unresolved || !cfg.reachable()[tb] {
        return false;
    }
    let mut an = Search {
        mark: None,
        within: None,
        step: &mut |e: &Elem<'_>| {
            if e.span() == via {
                Step::Stop
            } else if e.span() == to {
                Step::Hit
            } else {
                Step::Pass
            }
        },
        out: Reach::default(),
    };
    let sol = forward(cfg, &mut an, (ENTRY, 0), true);
    sol.converged && an.out.hits.is_empty()
}

struct Search<'s, 'l, 'a> {
    /// The element whose re-visit is [`Reach::again`].
    mark: Option<Span>,
    within: Option<&'l Life>,
    step: &'s mut dyn FnMut(&Elem<'a>) -> Step,
    out: Reach,
}

impl<'a> Analysis<'a> for Search<'_, '_, 'a> {
    /// Some path reaches this point.
    type State = bool;

    fn bottom(&self) -> bool {
        false
    }

    fn join(&self, into: &mut bool, other: &bool) {
        *into |= *other;
    }

    fn transfer(&mut self, e: &Elem<'a>, live: bool) -> bool {
        if !live {
            return false;
        }
        if Some(e.span()) == self.mark {
            self.out.again = true;
            return false;
        }
        if let Elem::Bad(_) = e {
            self.out.unknown = true;
            return false;
        }
        match (self.step)(e) {
            Step::Pass => true,
            Step::Stop => false,
            Step::Hit => {
                if !self.out.hits.contains(&e.span()) {
                    self.out.hits.push(e.span());
                }
                false
            }
        }
    }

    fn edge(&mut self, _from: BlockId, edge: &Edge<'a>, live: &bool) -> bool {
        if !*live {
            return false;
        }
        if edge.to == EXIT {
            match edge.jump {
                Some(Jump::Return(_)) => self.out.returns = true,
                _ => self.out.falls_off = true,
            }
            return false;
        }
        if let Some(life) = self.within {
            if !life.holds(edge.to) {
                match edge.jump {
                    Some(_) => self.out.jumps_out = true,
                    None => self.out.leaves = true,
                }
                return false;
            }
        }
        true
    }
}
