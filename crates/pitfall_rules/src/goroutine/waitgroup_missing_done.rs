//! A WaitGroup whose `Add` is never matched by a `Done`: `Wait` blocks for good.
use crate::prelude::*;
use pitfall_go::chans::{field_owner, go_literal};

pub static RULE: Rule = Rule {
    name: "waitgroup-missing-done",
    category: Category::Goroutine,
    severity: Severity::Error,
    summary: "a WaitGroup's Add is never matched by Done (none anywhere, or skipped by an early return), so Wait blocks forever",
    reports_on: "the `Wait` call (no Done anywhere) or the `return` that skips the Done",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
- **no Done at all**: a `sync.WaitGroup` (a struct field, or a local variable) that
  the package calls `Add` on and `Wait` on, but never `Done` (nor `Go`) — reported
  on each `Wait`. Only WaitGroups the package fully sees are judged: a field that
  is unexported (or in a `main` package) and a local that is not passed anywhere
  (`worker(&wg)` hands it on; it is then left alone).
- **Done skipped by an early return**: a `go func() { ... }()` that calls
  `wg.Done()` as a plain statement at the end of its body and has a `return`
  before it that does not call `Done` — reported on that `return`.

## Why it matters in production
`Wait` returns only when the counter is back at zero. One missing `Done` and the
goroutine that waits — often the shutdown path, or a request handler collecting
results — blocks forever: the pod hangs on SIGTERM until it is killed, or each
request leaks a goroutine.

## Bad
```go
go func() {
	res, err := fetch(u)
	if err != nil {
		return // wg.Done() never runs: wg.Wait() blocks forever
	}
	out <- res
	wg.Done()
}()
```

## Good
```go
go func() {
	defer wg.Done()
	res, err := fetch(u)
	if err != nil {
		return
	}
	out <- res
}()
```

## How to fix
Call `defer wg.Done()` as the first statement of the goroutine (or use `wg.Go(f)` on
Go 1.25+, or an `errgroup.Group`); make sure every `Add` has its `Done`.

## How to suppress
`//nolint:waitgroup-missing-done // reason` on the line, or on its own line before
the statement/function; `//nolint:goroutine` for the whole category.

## Compared with other tools
go vet and staticcheck do not check that `Add` and `Done` pair up.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    let file = cx.file;
    if !file.src.contains(".Done()") && !file.src.contains(".Wait()") {
        return;
    }
    never_done(cx);
    skipped_done(cx);
}

/// Whether `c` is `X.m(...)` on a `sync.WaitGroup`.
fn wg_call<'a>(cx: &Checker<'a>, c: &'a CallExpr, m: &str) -> Option<&'a Expr> {
    if c.method_name() != Some(m) {
        return None;
    }
    let recv = c.receiver()?;
    cx.type_of(recv)
        .deref()
        .is_named("sync", "WaitGroup")
        .then_some(recv)
}

/// What the code does with one WaitGroup.
#[derive(Default, Clone, Copy)]
struct Counts {
    add: usize,
    done: usize,
    escapes: bool,
}

impl Counts {
    fn record(&mut self, use_: Option<&str>) {
        match use_ {
            Some("Add") => self.add += 1,
            Some("Done" | "Go") => self.done += 1,
            Some("Wait") => {}
            _ => self.escapes = true,
        }
    }
}

/// The method called on the expression at `span` (`wg.Add(1)` -> "Add"), if the
/// expression is the receiver of a call.
fn method_on<'a>(anc: &[Node<'a>], e: &Expr) -> Option<&'a str> {
    let n = anc.len();
    match (anc.get(n.wrapping_sub(1)), anc.get(n.wrapping_sub(2))) {
        (Some(Node::Expr(Expr::Selector(s))), Some(Node::Expr(Expr::Call(c))))
            if s.x.span() == e.span() && c.fun.span() == s.span =>
        {
            Some(s.sel.name.as_str())
        }
        _ => None,
    }
}

fn never_done(cx: &mut Checker) {
    let file = cx.file;
    let sc = cx.scope();
    let mut waits: Vec<&CallExpr> = Vec::new();
    walk::walk_file(&file.ast, &mut |n, _| {
        if let Node::Expr(Expr::Call(c)) = n {
            if wg_call(cx, c, "Wait").is_some() && c.args.is_empty() {
                waits.push(c);
            }
        }
        true
    });
    for w in waits {
        let Some(recv) = w.receiver() else { continue };
        let counts = match recv.unparen() {
            Expr::Selector(s) => {
                let Ty::Named(p, t) = cx.type_of(&s.x).deref().clone() else {
                    continue;
                };
                if p != cx.pkg.import_path() {
                    continue;
                }
                let Some(owner) = field_owner(cx.pkg, t, &s.sel.name) else {
                    continue;
                };
                field_counts(cx, owner, &s.sel.name)
            }
            Expr::Ident(id) => {
                let env = cx.env_at(id.span.start);
                let Some(b) = env.resolve(id) else { continue };
                let decl = b.decl;
                let mut c = Counts::default();
                for root in walk::top_level_roots(&file.ast) {
                    if !root.span().contains(decl.start) {
                        continue;
                    }
                    walk::walk(root, &mut |n, anc| {
                        if let Node::Expr(e @ Expr::Ident(x)) = n {
                            if x.span != decl && x.name == id.name && env.resolve(x).is_some_and(|b| b.decl == decl) {
                                c.record(method_on(anc, e));
                            }
                        }
                        true
                    });
                }
                c
            }
            _ => continue,
        };
        let _ = &sc;
        if counts.add > 0 && counts.done == 0 && !counts.escapes {
            let name = cx.file.text(recv.span()).to_string();
            cx.report(w.span, format!("nothing calls `{name}.Done()` (or `Go`), though `Add` is called: once the counter is above zero this Wait blocks for good"))
                .fix(format!("call `defer {name}.Done()` in each goroutine the Add counts"));
        }
    }
}

/// The package-wide uses of WaitGroup fields by field name, computed once per
/// name and package in one pass over the code that spells it: each `Wait`
/// asking again for its own (owner, field) made the rule quadratic in the
/// files of a package whose types all have a `wg` field.
struct FieldCounts;

/// The uses of one field name: per owner type, and on values of unknown type
/// (which may be any owner).
#[derive(Default)]
struct Tally {
    by_owner: std::collections::HashMap<String, Counts>,
    unknown: Counts,
}

/// The uses of WaitGroup field `field` of struct `owner` across the package.
fn field_counts(cx: &Checker, owner: &str, field: &str) -> Counts {
    let tally = cx.pkg.memo::<FieldCounts, _, _>(cx.project, field.to_string(), || {
        std::sync::Arc::new(tally_field(cx, field))
    });
    let own = tally.by_owner.get(owner).copied().unwrap_or_default();
    let u = tally.unknown;
    Counts {
        add: own.add + u.add,
        done: own.done + u.done,
        escapes: own.escapes
            || u.escapes
            || (cx.pkg.src.name != "main" && field.starts_with(|ch: char| ch.is_uppercase())),
    }
}

fn tally_field(cx: &Checker, field: &str) -> Tally {
    let pkg = cx.pkg;
    let mut t = Tally::default();
    for (_, f) in pkg.files_mentioning(field) {
        let sc = pitfall_go::types::Scope { file: f, ..cx.scope() };
        for root in walk::top_level_roots(&f.ast) {
            if !f.text(root.span()).contains(field) {
                continue;
            }
            let env = pitfall_go::types::Env::build(&sc, root);
            walk::walk(root, &mut |n, anc| {
                if let Node::Expr(e @ Expr::Selector(s)) = n {
                    if s.sel.name == field {
                        let counts = match env.type_of(&sc, &s.x).deref() {
                            Ty::Named(p, name) if *p == pkg.import_path() => {
                                field_owner(pkg, name, field).map(|o| t.by_owner.entry(o.to_string()).or_default())
                            }
                            Ty::Unknown => Some(&mut t.unknown),
                            _ => None,
                        };
                        if let Some(c) = counts {
                            c.record(method_on(anc, e));
                        }
                    }
                }
                true
            });
        }
    }
    t
}

/// `go func() { ...; if err != nil { return }; ...; wg.Done() }()`.
fn skipped_done(cx: &mut Checker) {
    let file = cx.file;
    let mut lits: Vec<&FuncLit> = Vec::new();
    walk::walk_file(&file.ast, &mut |n, _| {
        if let Node::Stmt(s) = n {
            if let Some(l) = go_literal(s) {
                lits.push(l);
            }
        }
        true
    });
    for lit in lits {
        // The goroutine's own Done: a plain statement of its body.
        let Some((done, name)) = lit.body.stmts.iter().find_map(|s| match s {
            Stmt::Expr(Expr::Call(c)) => wg_call(cx, c, "Done").map(|r| (c, r)),
            _ => None,
        }) else {
            continue;
        };
        let Some(name) = name.dotted_name() else { continue };
        // A deferred Done covers every return.
        let deferred = lit.body.stmts.iter().any(|s| matches!(s, Stmt::Defer(d) if d.call.as_call().is_some_and(|c| c.method_name() == Some("Done") && c.receiver().and_then(|r| r.dotted_name()).as_deref() == Some(name.as_str()))));
        if deferred {
            continue;
        }
        let mut skips: Vec<Span> = Vec::new();
        walk::walk_body(&lit.body, &mut |n, anc| {
            let Node::Stmt(Stmt::Return(r)) = n else {
                return true;
            };
            if r.span.start > done.span.start {
                return true;
            }
            // A Done earlier in the return's own block (or an enclosing one).
            let covered = anc.iter().any(|a| match a {
                Node::Block(b) => b.stmts.iter().any(|s| {
                    s.span().end <= r.span.start
                        && matches!(s, Stmt::Expr(Expr::Call(c)) if c.method_name() == Some("Done") && c.receiver().and_then(|x| x.dotted_name()).as_deref() == Some(name.as_str()))
                }),
                _ => false,
            });
            if !covered {
                skips.push(r.span);
            }
            true
        });
        let (line, _) = file.line_col(done.span.start);
        for r in skips {
            cx.report(r, format!("this return skips `{name}.Done()` (line {line}): the WaitGroup never reaches zero and its `Wait` blocks for good"))
                .fix(format!("put `defer {name}.Done()` first in the goroutine"));
        }
    }
}
