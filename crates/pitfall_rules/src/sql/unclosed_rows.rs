//! `*sql.Rows` / `*sql.Stmt` not closed on every path.
use crate::prelude::*;
use pitfall_go::flow::{self, Policy, Resource, Verdict};

pub static RULE: Rule = Rule {
    name: "unclosed-rows",
    category: Category::Sql,
    severity: Severity::Warning,
    summary: "*sql.Rows or *sql.Stmt not closed on every path (holds a pooled connection)",
    reports_on: "the Query/QueryContext/Prepare/PrepareContext call",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
`*sql.Rows` returned by `Query`/`QueryContext` (on `*sql.DB`, `*sql.Conn` or
`*sql.Stmt`) and `*sql.Stmt` returned by `Prepare`/`PrepareContext` (on `*sql.DB`
or `*sql.Conn`) that are not closed on some path out of the function, typically an
early `return` from inside the `for rows.Next()` loop. The finding is on the query
call and names the exit that leaks.

Rows or a statement thrown away where they are made (`_, err := db.Query(...)`,
a bare `db.QueryContext(...)` statement — usually an `Exec` meant) and a variable
given new rows while the old ones are open (`rows, err = db.Query(...)` again) are
reported too.

A `for rows.Next()` loop that runs until `Next` returns false closes the rows by
itself, so only the other exits count. `QueryRow` needs no `Close` and is never
reported; neither are rows returned to the caller, passed to a helper, or closed in
a `defer`. Rows and statements of a `*sql.Tx` close with the transaction. Test files
are skipped.

## Why it matters in production
Open rows keep their connection checked out of the pool. Each leak shrinks the pool
by one until `MaxOpenConns` is reached and every query in the service blocks waiting
for a connection that never comes back. A leaked prepared statement pins
server-side resources on every connection it was prepared on.

## Bad
```go
func activeUsers(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT name FROM users WHERE active")
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err // the rows (and their connection) leak here
		}
		names = append(names, n)
	}
	return names, rows.Err()
}
```

## Good
```go
	rows, err := db.QueryContext(ctx, "SELECT name FROM users WHERE active")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
```

## How to fix
Write `defer rows.Close()` (or `defer stmt.Close()`) right after the error check.
`Close` is idempotent, so it is safe even when the loop already drained the rows.

## Compared with sqlclosecheck
sqlclosecheck wants every `Close` deferred and reports rows that are only closed
by a `for rows.Next()` loop running to its end. pitfall follows the paths: a loop
that ends because `Next` returned false has closed the rows (database/sql does it),
and a `Close` reached on every path is enough, deferred or not.

## How to suppress
`//nolint:unclosed-rows // closed by the caller` on the reported line, or on its own
line before the statement or the function; `//nolint:sql` for the whole category.
"#,
    check: Check::Go(check),
};

const SQL: &str = "database/sql";

fn check(cx: &mut Checker) {
    for (span, msg, fix, (applicability, edits)) in find(cx) {
        cx.report(span, msg).fix(fix).edits(applicability, edits);
    }
}

/// "rows" or "statement" when `call` hands out `*sql.Rows` or `*sql.Stmt`.
fn opens<'a>(cx: &Checker<'a>, call: &'a CallExpr) -> Option<&'static str> {
    if ["DB", "Conn", "Stmt"]
        .iter()
        .any(|t| cx.is_method_call(call, SQL, t, &["Query", "QueryContext"]))
    {
        Some("rows")
    } else if ["DB", "Conn"]
        .iter()
        .any(|t| cx.is_method_call(call, SQL, t, &["Prepare", "PrepareContext"]))
    {
        Some("statement")
    } else {
        None
    }
}

#[allow(clippy::type_complexity)]
fn find<'a>(cx: &Checker<'a>) -> Vec<(Span, String, String, (Applicability, Vec<TextEdit>))> {
    let file: &'a pitfall_go::GoFile = cx.file;
    let mut out = Vec::new();
    for e in walk::first_result_discarded(&file.ast) {
        let Some(call) = e.as_call() else { continue };
        if let Some(what) = opens(cx, call) {
            let method = call.method_name().unwrap_or("Query");
            let (msg, fix) = if what == "rows" {
                (
                    format!("the rows from {method} are thrown away, so they are never closed and keep a pooled connection busy"),
                    "use Exec for a statement without results, or keep the rows and `defer rows.Close()`".to_string(),
                )
            } else {
                (
                    format!("the statement from {method} is thrown away, so it is never closed and stays prepared on the server"),
                    "keep the statement and `defer stmt.Close()`".to_string(),
                )
            };
            out.push((call.span, msg, fix, (Applicability::Unsafe, Vec::new())));
        }
    }
    for d in flow::assigning_calls(&file.ast) {
        let Some(v) = d.name(0) else { continue };
        if d.assign.lhs.len() != 2 || !cx.follows_def(&d, v) {
            continue;
        }
        let Some(what) = opens(cx, d.call) else { continue };
        let var = v.name.as_str();
        let err = d.name(1).map(|e| e.name.as_str());
        let res = Resource { var, err, fields: &[] };
        let releases = |c: &'a CallExpr| flow::is_method_on(c, var, &[], &["Close"]);
        let borrows = |c: &'a CallExpr| matches!(cx.pkg_member(&c.fun), Some(("fmt" | "log", _)));
        let exhausted = |cond: &'a Expr| {
            cond.as_call().is_some_and(|c| c.args.is_empty() && flow::is_method_on(c, var, &[], &["Next"]))
        };
        let policy = Policy {
            releases: &releases,
            borrows: &borrows,
            return_matters: &|_| true,
            scope_exits: true,
            exhausted_by: &exhausted,
        };
        if let Verdict::Leaks(l) = flow::analyze(d.body, d.stmt, &res, &policy) {
            let (line, _) = file.line_col(l.span.start);
            let method = d.call.method_name().unwrap_or("Query");
            let (are, they, cost) = if what == "rows" {
                ("are", "they leak", "holding a pooled connection")
            } else {
                ("is", "it leaks", "staying prepared on the server")
            };
            out.push((
                d.call.span,
                format!(
                    "{what} `{var}` from {method} {are} not closed on every path: {they} {} at line {line}, {cost}",
                    l.describe()
                ),
                format!("add `defer {var}.Close()` right after the error check"),
                crate::fixes::defer_release(&file.src, d.body, d.stmt, var, err, &format!("defer {var}.Close()")),
            ));
        }
    }
    out
}
