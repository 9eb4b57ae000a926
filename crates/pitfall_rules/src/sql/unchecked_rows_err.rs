//! `for rows.Next()` without a `rows.Err()` check.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "unchecked-rows-err",
    category: Category::Sql,
    severity: Severity::Warning,
    summary: "for rows.Next() loop without a rows.Err() check (a failed iteration looks like the end)",
    reports_on: "the `for rows.Next()` line",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
A `for rows.Next() { ... }` loop (or `for { if !rows.Next() { break } ... }`) over
`*sql.Rows` created in the same function, where the function never calls
`rows.Err()`. The finding is on the `for` line.

It stays silent when the rows come from a parameter, or are returned, stored or
passed to another function (someone else may check the error there).

## Why it matters in production
`Next` returns false both at the end of the result set and when reading the next row
failed: a dropped connection, a server-side timeout, a context cancelled mid-stream.
Without `rows.Err()` the second case looks like the first, and the function returns
a truncated list as if it were complete: missing items in a page, a partial export,
a report that silently undercounts.

## Bad
```go
func orderIDs(ctx context.Context, db *sql.DB, user int64) ([]int64, error) {
	rows, err := db.QueryContext(ctx, "SELECT id FROM orders WHERE user_id = $1", user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil // a network error mid-way returns a partial list
}
```

## Good
```go
	for rows.Next() {
		// ... scan ...
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return ids, nil
```

## How to fix
After the loop, check `rows.Err()` and return (or handle) its error before using what
the loop collected.

## Compared with rowserrcheck
rowserrcheck wants `rows.Err()` checked for every `Query`, even when the rows are
never iterated or are thrown away. pitfall reports only loops over the rows: without
iteration there is no failed iteration to miss, and rows that are thrown away or
never closed are `unclosed-rows` findings.

## How to suppress
`//nolint:unchecked-rows-err // partial results are fine here` on the `for` line, or on
its own line before it or the function; `//nolint:sql` for the whole category.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    for (span, msg, fix) in find(cx) {
        cx.report(span, msg).fix(fix);
    }
}

fn find<'a>(cx: &Checker<'a>) -> Vec<(Span, String, String)> {
    let file: &'a pitfall_go::GoFile = cx.file;
    let mut loops: Vec<(&'a ForStmt, &'a Expr, &'a Ident, &'a Block)> = Vec::new();
    walk::walk_file(&file.ast, &mut |n, anc| {
        if let Node::Stmt(Stmt::For(f)) = n {
            if f.init.is_none() && f.post.is_none() {
                if let Some(call) = next_call(f) {
                    if call.args.is_empty() && call.method_name() == Some("Next") {
                        let recv = call.receiver();
                        if let (Some(r), Some(id), Some(body)) = (
                            recv,
                            recv.and_then(|r| r.as_ident()),
                            enclosing_func(anc).and_then(|f| f.body()),
                        ) {
                            loops.push((f, r, id, body));
                        }
                    }
                }
            }
        }
        true
    });
    let mut out = Vec::new();
    for (f, recv, id, body) in loops {
        if !cx.type_of(recv).is_named("database/sql", "Rows") {
            continue;
        }
        let env = cx.env_at(id.span.start);
        // Rows from a parameter: the caller may check the error.
        match env.resolve(id) {
            Some(b) if body.span.encloses(b.decl) => {}
            _ => continue,
        }
        if checks_err_or_escapes(body, &id.name) {
            continue;
        }
        out.push((
            Span { start: f.span.start, end: f.span.start + 3 },
            format!("`for {}.Next()` loop without a `{}.Err()` check: a failed read looks like the end of the results", id.name, id.name),
            format!("after the loop, add `if err := {}.Err(); err != nil {{ return err }}`", id.name),
        ));
    }
    out
}

/// The `x.Next()` call that ends the loop: its condition (`for rows.Next()`),
/// or, in a loop without one, a first statement `if !rows.Next() { break }`.
fn next_call(f: &ForStmt) -> Option<&CallExpr> {
    if let Some(c) = &f.cond {
        return c.as_call();
    }
    let Some(Stmt::If(i)) = f.body.stmts.first() else { return None };
    let breaks = matches!(i.then.stmts.as_slice(), [Stmt::Branch(b)] if b.kind == BranchKind::Break && b.label.is_none());
    if i.init.is_some() || i.els.is_some() || !breaks {
        return None;
    }
    match i.cond.unparen() {
        Expr::Unary(u) if u.op == "!" => u.x.unparen().as_call(),
        _ => None,
    }
}

/// Whether the function calls `rows.Err()` anywhere, or lets `rows` go
/// elsewhere (used other than as the receiver of a method or field).
fn checks_err_or_escapes(body: &Block, name: &str) -> bool {
    let mut found = false;
    walk::walk(Node::Block(body), &mut |n, anc| {
        if found {
            return false;
        }
        if let Node::Expr(Expr::Ident(id)) = n {
            if id.name != name {
                return true;
            }
            match anc.last() {
                Some(Node::Expr(Expr::Selector(s))) if s.x.as_ident().is_some_and(|x| x.span == id.span) => {
                    if s.sel.name == "Err" {
                        found = true;
                    }
                }
                // `rows, err := ...` itself and `rows == nil` checks.
                Some(Node::Stmt(Stmt::Assign(a))) if a.lhs.iter().any(|l| l.span() == id.span) => {}
                Some(Node::Expr(Expr::Binary(b))) if b.op == "==" || b.op == "!=" => {}
                _ => found = true,
            }
        }
        true
    });
    found
}
