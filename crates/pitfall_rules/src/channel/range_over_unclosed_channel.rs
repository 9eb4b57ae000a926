//! `for v := range ch` over a channel that nothing ever closes.
use crate::prelude::*;
use pitfall_go::chans::{chan_make, field_uses, local_chans, local_uses, OpKind};

pub static RULE: Rule = Rule {
    name: "range-over-unclosed-channel",
    category: Category::Channel,
    severity: Severity::Warning,
    summary: "range over a channel that is never closed: the loop never ends",
    reports_on: "the `for ... range ch` line",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
`for v := range ch` where `ch` is
- a local channel made with `make` in the same function, and no `close(ch)` exists
  anywhere it goes: in the function, in the goroutines it starts, or in the
  same-package functions it is passed to; or
- an unexported channel field of one of the package's own types, that no code of
  the package ever closes.

A channel that leaves what the package can see (passed to another package or to a
method, stored elsewhere, returned, set from a parameter) is not reported: someone
else may close it. Reported on the `for ... range` line.

## Why it matters in production
A range over a channel ends only when the channel is closed. If nobody closes it,
the loop waits forever after the last value: the goroutine running it leaks (with
everything it references), and any code waiting for that goroutine to finish —
a `wg.Wait()`, a shutdown hook — hangs too. Each leaked consumer is invisible until
goroutine counts and memory climb across days.

## Bad
```go
func collect(urls []string) []Result {
	results := make(chan Result)
	for _, u := range urls {
		go func() { results <- fetch(u) }()
	}
	var out []Result
	for r := range results { // never ends: nobody closes results
		out = append(out, r)
	}
	return out
}
```

## Good
```go
func collect(urls []string) []Result {
	results := make(chan Result)
	var wg sync.WaitGroup
	for _, u := range urls {
		wg.Add(1)
		go func() { defer wg.Done(); results <- fetch(u) }()
	}
	go func() { wg.Wait(); close(results) }()
	var out []Result
	for r := range results {
		out = append(out, r)
	}
	return out
}
```

## How to fix
Close the channel exactly once, from the sending side, when the last value has been
sent: `defer close(ch)` in a single producer, or a goroutine that closes it after
`wg.Wait()` when there are several. If the loop is meant to stop on shutdown, use a
`select` on the channel and a `ctx.Done()` instead of `range`.

## How to suppress
`//nolint:range-over-unclosed-channel // reason` on the line, or on its own line
before the statement/function; `//nolint:channel` for the whole category; see
`pitfall rule`.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    let file = cx.file;
    if !file.src.contains("chan ") {
        return;
    }
    let sc = cx.scope();
    let mut ranges: Vec<(&RangeStmt, Node)> = Vec::new();
    for root in walk::top_level_roots(&file.ast) {
        walk::walk(root, &mut |n, _| {
            if let Node::Stmt(Stmt::Range(r)) = n {
                if matches!(r.x.unparen(), Expr::Ident(_) | Expr::Selector(_)) {
                    ranges.push((r, root));
                }
            }
            true
        });
    }
    // Channels made here and ranged over by a same-package function of this
    // file they are passed to (`go consume(ch)`).
    for (ch, uses) in cx.local_channels() {
        if uses.escapes || uses.closed() {
            continue;
        }
        for cop in &uses.callee_ops {
            if cop.op.kind != OpKind::Range || !std::ptr::eq(cop.callee.file, file) {
                continue;
            }
            let Some(Expr::Ident(param)) = Some(cop.op.expr.unparen()) else {
                continue;
            };
            let line = Span {
                start: cop.op.span.start,
                end: param.span.end,
            };
            let (made, _) = file.line_col(ch.make.span().start);
            let (via, _) = file.line_col(cop.via.span.start);
            cx.report(
                line,
                format!("range over `{}`, the channel `{}` made at line {made} and passed at line {via}, which is never closed: the loop never ends and its goroutine leaks", param.name, ch.name),
            )
            .fix(format!("close `{}` once the last value is sent (in the only sender, or after `wg.Wait()`)", ch.name));
        }
    }
    for (r, root) in ranges {
        let line = Span {
            start: r.span.start,
            end: r.x.span().end,
        };
        match r.x.unparen() {
            Expr::Ident(id) => {
                let env = cx.env_at(id.span.start);
                let Some(b) = env.resolve(id) else { continue };
                let Some(ch) = local_chans(&sc, &env)
                    .into_iter()
                    .find(|c| c.decl == b.decl)
                else {
                    continue;
                };
                let uses = local_uses(&sc, &env, root, ch.decl);
                if uses.escapes || uses.closed() {
                    continue;
                }
                let (made, _) = file.line_col(ch.make.span().start);
                cx.report(
                    line,
                    format!("range over `{}` (made at line {made}), which is never closed: the loop never ends and its goroutine leaks", id.name),
                )
                .fix(format!("close `{}` once the last value is sent (`defer close({})` in the only sender, or after `wg.Wait()`)", id.name, id.name));
            }
            Expr::Selector(sel) => {
                let field = sel.sel.name.as_str();
                if !field.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') {
                    continue;
                }
                let ty = cx.type_of(&sel.x);
                let Ty::Named(path, tname) = ty.deref() else {
                    continue;
                };
                if *path != cx.pkg.import_path() {
                    continue;
                }
                if !matches!(sc.field(&ty, field), Ty::Chan(..)) {
                    continue;
                }
                if !field_never_closed(cx, field) {
                    continue;
                }
                cx.report(
                    line,
                    format!("range over `{}.{field}` of {tname}, which no code of the package closes: the loop never ends and its goroutine leaks", sel.x.dotted_name().unwrap_or_else(|| "x".into())),
                )
                .fix(format!("close `{field}` when the {tname} shuts down (once, e.g. in a Close/Stop method) so the range can end"));
            }
            _ => {}
        }
    }
}

/// Per channel field name: whether the package makes the channel stored in
/// it and neither closes it nor lets it escape. A package-wide answer,
/// computed once per field and package: each file asking again made the rule
/// quadratic in the files of a package that ranges over a field everywhere.
struct NeverClosedFields;

fn field_never_closed(cx: &Checker, field: &str) -> bool {
    cx.pkg.memo::<NeverClosedFields, _, _>(cx.project, field.to_string(), || {
        field_made_in_package(cx, field) && {
            let fu = field_uses(&cx.scope(), cx.pkg, field);
            !(fu.closed || fu.escapes)
        }
    })
}

/// Whether some code of the package makes the channel stored in `field`
/// (`x.field = make(...)` or `T{field: make(...)}`): a field the package
/// never fills is nil or set from outside, and not ours to judge.
fn field_made_in_package(cx: &Checker, field: &str) -> bool {
    let sc = cx.scope();
    for (_, f) in cx.pkg.files_mentioning(field) {
        let fsc = pitfall_go::types::Scope { file: f, ..sc };
        let env = pitfall_go::types::Env::default();
        let mut found = false;
        walk::walk_file(&f.ast, &mut |n, _| {
            if found {
                return false;
            }
            match n {
                Node::Expr(Expr::KeyValue(kv)) if kv.key.ident_name() == Some(field) => {
                    found |= chan_make(&fsc, &env, &kv.value).is_some();
                }
                Node::Stmt(Stmt::Assign(a)) => {
                    for (l, r) in a.lhs.iter().zip(&a.rhs) {
                        if matches!(l.unparen(), Expr::Selector(s) if s.sel.name == field) {
                            found |= chan_make(&fsc, &env, r).is_some();
                        }
                    }
                }
                _ => {}
            }
            true
        });
        if found {
            return true;
        }
    }
    false
}
