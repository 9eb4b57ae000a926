//! Where a path leaves a variable's life, for the analyses that ask "is
//! something still to be done with this variable when the path leaves?"
//! (a resource still open, a channel not touched again).
//!
//! A variable lives in the statement list that declares it (a block, a case or
//! comm clause, the function body). On the CFG a path leaves that life along
//! an edge to the exit (a `return`, falling off the end of the body) or to a
//! block whose [`Block::scope`](super::cfg::Block::scope) lies outside the
//! list (falling off the end of the list, a `break`/`continue` out of it).
//! [`Life::exit`] names that edge as a [`Leak`]; [`Leaks`] keeps the first one
//! in source order, which is what rules report.

use super::cfg::{BlockId, Cfg, Edge, Jump, EXIT};
use crate::ast::Span;

/// How a leaking path leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitKind {
    /// A `return` statement (span of the statement).
    Return,
    /// Falling off the end of the function (span of the closing brace).
    EndOfFunction,
    /// Falling off the end of the block that declares the variable.
    EndOfScope,
    /// A `break` or `continue` that leaves the variable's block.
    Branch,
    /// The variable is assigned a new value while it still holds the open
    /// resource (`resp, err = c.Do(req)` again): the old one is lost.
    Overwritten,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leak {
    pub span: Span,
    pub kind: ExitKind,
}

impl Leak {
    /// "on the return", "at the end of the function", ... for messages
    /// ("leaks {describe} at line N").
    pub fn describe(&self) -> &'static str {
        match self.kind {
            ExitKind::Return => "on the return",
            ExitKind::EndOfFunction => "at the end of the function",
            ExitKind::EndOfScope => "at the end of its block",
            ExitKind::Branch => "on the break/continue",
            ExitKind::Overwritten => "when the variable is overwritten",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every path does what is asked (releases, hands off, touches the variable).
    Released,
    /// The first exit (in source order) reached without it.
    Leaks(Leak),
    /// The analysis did not understand some path: stay silent.
    Unknown,
}

/// The life of one variable on a function's CFG: the statement list it lives in.
pub struct Life {
    /// The statement list (block, case or comm clause, function body).
    scope: Span,
    /// The closing brace of the function body.
    end: Span,
    /// The statement list of each block of the CFG.
    scopes: Vec<Span>,
}

impl Life {
    /// A variable that lives in `scope` (a statement list of `cfg`'s body).
    pub fn new(cfg: &Cfg<'_>, scope: Span) -> Life {
        Life {
            scope,
            end: cfg.end,
            scopes: cfg.blocks.iter().map(|b| b.scope).collect(),
        }
    }

    /// A variable declared by the statement at `at` (a block and element index).
    pub fn of_stmt(cfg: &Cfg<'_>, at: (BlockId, usize)) -> Life {
        Life::new(cfg, cfg.blocks[at.0].scope)
    }

    /// A variable whose declaring identifier is at `decl`: the statement list
    /// of the element that declares it; the whole body for a parameter (or a
    /// declaration the body does not hold).
    pub fn of_decl(cfg: &Cfg<'_>, decl: Span) -> Life {
        let body = cfg.body.span;
        let scope = cfg
            .blocks
            .iter()
            .find(|blk| blk.elems.iter().any(|e| e.span().contains(decl.start)))
            .map(|blk| blk.scope)
            .filter(|s| body.contains(s.start))
            .unwrap_or(body);
        Life::new(cfg, scope)
    }

    /// Whether block `b`'s code is inside the variable's statement list.
    pub fn holds(&self, b: BlockId) -> bool {
        b != EXIT && self.scope.contains(self.scopes[b].start)
    }

    /// The way a path along `edge` leaves the variable's life, if it does:
    /// a `return`, falling off the end of the function or of the list, a
    /// `break`/`continue`/`goto` out of the list.
    pub fn exit(&self, edge: &Edge<'_>) -> Option<Leak> {
        if edge.to == EXIT {
            return Some(match edge.jump {
                Some(Jump::Return(r)) => Leak {
                    span: r.span,
                    kind: ExitKind::Return,
                },
                _ => Leak {
                    span: self.end,
                    kind: ExitKind::EndOfFunction,
                },
            });
        }
        if self.holds(edge.to) {
            return None;
        }
        Some(match edge.jump {
            Some(j) => Leak {
                span: j.span(),
                kind: ExitKind::Branch,
            },
            None => Leak {
                span: Span {
                    start: self.scope.end.saturating_sub(1),
                    end: self.scope.end,
                },
                kind: ExitKind::EndOfScope,
            },
        })
    }
}

/// The leaks an analysis finds, each place once; the verdict names the first
/// in source order.
#[derive(Default)]
pub struct Leaks(Vec<Leak>);

impl Leaks {
    pub fn push(&mut self, l: Leak) {
        if !self.0.iter().any(|x| x.span == l.span) {
            self.0.push(l);
        }
    }

    /// `Leaks(first)`, or `Released` when there is none.
    pub fn verdict(&self) -> Verdict {
        match self.0.iter().min_by_key(|l| l.span.start) {
            Some(l) => Verdict::Leaks(*l),
            None => Verdict::Released,
        }
    }
}
