//! The shared analysis engine: one control-flow graph per function and one
//! forward dataflow solver that every path-sensitive analysis plugs into.
//!
//! # Design note
//!
//! **CFG** ([`cfg::Cfg`], built by [`cfg::build`] once per function body). A
//! graph of basic blocks, each a list of [`cfg::Elem`]s executed in order, with
//! successor [`cfg::Edge`]s. Block 0 is the entry, block 1 the single exit.
//! How Go's control statements are represented:
//! - `if`: the condition is an [`cfg::Elem::Cond`] at the end of the block; the
//!   two out-edges carry `(cond, true)` and `(cond, false)` so an analysis can
//!   refine its state per outcome (nil checks, `if mu.TryLock()`).
//! - `for`: init in the current block, a header block holding the condition
//!   (edges: true -> body, false -> after), the body, and a post block that
//!   `continue` and the body's end reach; `for {}` has no false edge.
//! - `range`: the operand is evaluated once ([`cfg::Elem::Expr`]), then a header
//!   block with [`cfg::Elem::RangeNext`] (assigns key/value) branches to the body
//!   or out of the loop.
//! - `switch`/type switch: init and tag in the current block, then the cases
//!   tested in source order as Go does: one block per clause evaluates its
//!   expressions, with an edge to the clause body and one to the next test (for
//!   a tagless `case c:` they carry `(c, true)` and `(c, false)`). When every
//!   test fails, the path goes to `default` or else to the statement after the
//!   switch. `fallthrough` is an edge to the next body.
//! - `select`: an [`cfg::Elem::Select`] marks the point where the goroutine
//!   blocks; then an edge to each clause, whose block starts with the clause's
//!   communication ([`cfg::Elem::Stmt`] of the send/receive); `default` has
//!   none. A `select {}` has no successor (it blocks forever).
//! - `break`/`continue` (labelled or not) and `goto`: an edge to the target
//!   block, carrying the branch statement in [`cfg::Edge::jump`]; labels are
//!   resolved per function, forward `goto`s included. The block after a jump
//!   is unreachable (no predecessors) and the solver never visits it.
//! - `return`: an [`cfg::Elem::Stmt`] of the return, then an edge to the exit
//!   carrying the statement. Falling off the end of the body is an edge to the
//!   exit with no `jump` (its position is the closing brace, [`cfg::Cfg::end`]).
//! - `panic(...)`, `log.Fatal*`, `os.Exit`, `t.Fatal*`, `runtime.Goexit` end the
//!   block with no successor: paths that die are not paths that return.
//! - `defer` is an ordinary element where it is registered; what the deferred
//!   call does at exit is the analysis' business (a "deferred" bit in its state).
//! - `go` statements are ordinary elements; the goroutine's function literal is
//!   another function with its own CFG. Function literals are never entered by
//!   the CFG of the function that contains them.
//! - Every block records [`cfg::Block::scope`], the innermost statement list
//!   (block, case or comm clause) its code belongs to, so an analysis can tell
//!   when a path leaves a variable's scope.
//!
//! **Solver** ([`dataflow::forward`]). An analysis is a lattice (its state type,
//! `bottom` and `join`) plus a transfer function per element and per edge
//! ([`dataflow::Analysis`]). A worklist runs to the fixed point: there is no pass
//! cap; loops converge because states only grow in finite lattices. A guard
//! stops a non-monotone transfer (a bug) and reports it as not converged.
//!
//! **Identity** ([`object::Obj`]). A variable or object is named by where it is
//! declared: a local or parameter by its declaring identifier's span, a package
//! variable by its name, a field by its owner type and field path. Every
//! analysis that needs "the same variable" asks [`object::obj_of`].
//!
//! **A variable's life** ([`life::Life`]). The statement list that declares a
//! variable; [`life::Life::exit`] says where a path leaves it (a `return`, the
//! end of the function or of the list, a `break`/`continue` out of it), and
//! [`life::Leaks`] keeps the first such exit in source order. Analyses that ask
//! "is something still pending when the variable's path ends?" use it.
//!
//! **Reachability** ([`reach::reach_from`], [`reach::dominates`]). "From this
//! point (after an element, the entry, one branch of a condition), which
//! marked elements can a path reach without passing others, and how do the
//! paths end (return, fall off, come round again, leave a variable's life)?";
//! "does this element run before that one on every path?". Rules ask these
//! instead of scanning the statements after one by hand (send after close,
//! close after close, a guard whose branch leaves).
//!
//! **Analyses on the engine**: held locks ([`crate::locks`]), a resource not
//! released on some path ([`crate::flow`]: response bodies, rows, spans, cancel
//! functions), a channel not touched again on some path
//! ([`crate::chans::touched_on_every_path`]), the defers registered when a
//! process exit runs (rule `exit-skips-defers`). Rules that ask reachability:
//! `send-on-closed-channel`, `double-close`, `goroutine-leak` (exclusive sends).
//! What is left outside: "where does this statement sit" (innermost loop,
//! statement list) is syntax, [`crate::walk::enclosing_lists`].

pub mod cfg;
pub mod dataflow;
pub mod life;
pub mod object;
pub mod reach;

pub use cfg::{build, BlockId, Cfg, Edge, Elem};
pub use dataflow::{forward, Analysis, Solution};
pub use object::{obj_of, Obj};
