//! `fmt.Errorf("...: %v", err)` where `%w` was meant.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "unwrapped-error",
    category: Category::Errors,
    severity: Severity::Warning,
    summary: "fmt.Errorf formats an error with %v/%s instead of wrapping it with %w",
    reports_on: "the error operand formatted with `%v`, `%s` or `%+v`",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
A `fmt.Errorf` call that formats an error value with `%v`, `%s` or `%+v` while the
new error is returned, sent on a channel, assigned to a variable the function
returns, or handed to another call.

In service code — a `main` package or a package under the module's `internal/`
directory — any error operand counts, whatever its origin: a service has no API
boundary to hide a cause behind. In other packages (libraries) the operand must
visibly be an error that carries a cause callers test — its last assignment is
the error result of:

- a call that takes a context (the cause may be `context.DeadlineExceeded` or
  `context.Canceled`);
- a `database/sql`, `os`, `io`, `io/fs`, `net`, `net/http` or `os/exec` call
  (`sql.ErrNoRows`, `fs.ErrNotExist`, `io.ErrUnexpectedEOF`, timeouts, exit codes);
- a call to a function or method of the same package that hands out one of the
  package's sentinel errors (`var ErrNotFound = errors.New(...)`).

In libraries, errors of unknown origin (parameters), parse and encoding errors
(`strconv`, `json.Unmarshal`) and `recover()` values stay silent. Everywhere,
non-errors and calls that already wrap the same operand with `%w` stay silent,
and so do modules whose `go.mod` says `go` < 1.13 (no `%w` yet).

Only files that already use `%w` somewhere are judged: there a `%v` is an
oversight, while code that never wraps may hide its causes on purpose (a library
boundary, code older than Go 1.13, a message-only convention; on the Go tree this
keeps 115 `%v` of `cmd/` and `internal/` files that never wrap out of the report).
Explicit argument indexes (`%[1]v`) are followed. From Go 1.20 on every unwrapped
error of a message is reported (all can be wrapped); before, a message with two or
more is a design decision and stays silent. A new error only handed to a
logging/exiting function (`log.Print…`, `logAndDie`) and `_test.go` files stay
silent too.

`err.Error()` is not reported: turning the error into a string on purpose is how a
package deliberately cuts the chain at an API boundary. It loses exactly the same
information, so prefer `%w` unless hiding the cause is the point.

Reported on the error operand.

## Why it matters in production
`%v` flattens the cause into text. Callers further up can no longer use
`errors.Is(err, sql.ErrNoRows)`, `errors.Is(err, context.DeadlineExceeded)` or
`errors.As(err, &apiErr)`: a "not found" becomes a 500, a timeout is retried as if
it were a bad request, and a retry policy keyed on a sentinel stops firing.

## Bad
```go
func (s *Store) Order(ctx context.Context, id string) (*Order, error) {
	o, err := s.db.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("load order %s: %v", id, err)
	}
	return o, nil
}
```

## Good
```go
func (s *Store) Order(ctx context.Context, id string) (*Order, error) {
	o, err := s.db.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("load order %s: %w", id, err)
	}
	return o, nil
}
```

## How to fix
Use `%w` for the error operand. Before Go 1.20 a call may hold only one `%w`; from
1.20 on several are allowed. If the cause must stay private (a library hiding its
driver), say so with a `//nolint` comment or format `err.Error()` explicitly.

## Compared with errorlint
errorlint (`errorf`) reports every `%v` of an error in `fmt.Errorf`. pitfall does
so in service code; in library packages it reports only errors whose cause callers
test (I/O, network, database, context, the package's own sentinels), so a library
that formats a parse error or a parameter as text is not told to expose it.
errorlint's own cases are library code formatting `errors.New` values, so pitfall
reports none of them, on purpose.

## How to suppress
`//nolint:unwrapped-error // reason` on the line, or on its own line before the
statement/function; `//nolint:errors` for the whole category; see `pitfall rule`.
"#,
    check: Check::Go(check),
};

/// The argument index each verb of a format string consumes, with the verb;
/// explicit argument indexes (`%[2]v`) are followed. `None` when an index is
/// malformed.
pub(crate) fn format_verbs(f: &str) -> Option<Vec<(usize, String)>> {
    let b = f.as_bytes();
    let mut out = Vec::new();
    let mut arg = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            i += 1;
            continue;
        }
        i += 1;
        let mut flags = String::new();
        while i < b.len() && b"+-# 0".contains(&b[i]) {
            flags.push(b[i] as char);
            i += 1;
        }
        // width and precision
        loop {
            if i >= b.len() {
                break;
            }
            match b[i] {
                b'[' => {
                    let close = f[i..].find(']')? + i;
                    let n: usize = f[i + 1..close].parse().ok()?;
                    arg = n.checked_sub(1)?;
                    i = close + 1;
                }
                b'*' => {
                    arg += 1;
                    i += 1;
                }
                b'0'..=b'9' | b'.' => i += 1,
                _ => break,
            }
        }
        let Some(&v) = b.get(i) else { break };
        i += 1;
        if v == b'%' {
            continue;
        }
        let verb = if flags.contains('+') { format!("+{}", v as char) } else { (v as char).to_string() };
        out.push((arg, verb));
        arg += 1;
    }
    Some(out)
}

/// Functions that only print or log their arguments.
fn is_print_call(call: &CallExpr) -> bool {
    let Some(name) = call.method_name() else { return false };
    let lower = name.to_ascii_lowercase();
    ["print", "fatal", "panic", "log", "warn", "info", "debug", "skip", "die", "exit"].iter().any(|p| lower.contains(p))
        || ["Error", "Append"].iter().any(|p| name.starts_with(p))
}

/// Packages whose errors carry causes that callers branch on: `sql.ErrNoRows`,
/// `fs.ErrNotExist`, `io.ErrUnexpectedEOF`, network timeouts, exit codes.
const CAUSE_PKGS: &[&str] = &["database/sql", "os", "io", "io/fs", "net", "net/http", "os/exec"];

/// Whether `e`, at its position, is visibly an error that carries a cause a
/// caller may test: the error result of a call that takes a context (deadline,
/// cancellation) or of an I/O, network or database call. Errors of unknown
/// origin (parameters, parse errors) stay silent: wrapping them is a choice.
fn is_error_value<'a>(cx: &Checker<'a>, e: &'a Expr, any_origin: bool) -> bool {
    let Some(id) = e.as_ident() else { return false };
    let declared_error = match cx.type_of(e) {
        Ty::Basic("error") => true,
        Ty::Unknown => id.name.to_ascii_lowercase().ends_with("err"),
        _ => return false,
    };
    if any_origin {
        return declared_error;
    }
    let env = cx.env_at(id.span.start);
    let Some(b) = env.resolve(id) else { return false };
    let decl = b.decl;
    let at = id.span.start;
    // The last assignment to this variable before the use: `v, err := f()`,
    // `err = f()`, `if err := f(); ...`.
    let mut origin: Option<&'a CallExpr> = None;
    let mut origin_pos = 0;
    walk::walk_file(&cx.file.ast, &mut |n, _| {
        if n.span().start > at || !(n.span().encloses(decl) || b.scope.encloses(n.span()) || n.span().encloses(b.scope)) {
            return false;
        }
        if let Node::Stmt(Stmt::Assign(a)) = n {
            if a.rhs.len() == 1 && a.span.end <= at && a.span.start >= origin_pos {
                let assigns_it = a.lhs.last().and_then(|l| l.as_ident()).is_some_and(|l| {
                    l.name == id.name && (l.span == decl || env.resolve(l).is_some_and(|lb| lb.decl == decl))
                });
                // Of unknown type, the last of several results (`v, cause :=
                // f()`) is an error by Go's convention.
                let error_last = declared_error || (a.lhs.len() >= 2 && id.name != "ok");
                if assigns_it {
                    origin = a.rhs[0].as_call().filter(|c| error_last && c.method_name() != Some("recover"));
                    origin_pos = a.span.start;
                }
            }
        }
        true
    });
    origin.is_some_and(|c| carries_cause(cx, c))
}

fn carries_cause<'a>(cx: &Checker<'a>, call: &'a CallExpr) -> bool {
    let takes_ctx = call.args.iter().any(|a| {
        matches!(cx.type_of(a), Ty::Named("context", "Context"))
            || a.as_ident().is_some_and(|i| i.name == "ctx")
            || a.as_call().is_some_and(|c| c.method_name() == Some("Context") && c.args.is_empty())
    });
    if takes_ctx {
        return true;
    }
    if let Some((p, _)) = cx.pkg_member(&call.fun) {
        return CAUSE_PKGS.contains(&p);
    }
    let mut own_type = None;
    if let Some(recv) = call.receiver() {
        let mut ty = cx.type_of(recv);
        while let Ty::Pointer(inner) = ty {
            ty = *inner;
        }
        match ty {
            Ty::Named(p, t) if p == cx.pkg.import_path() => own_type = Some(t),
            Ty::Named(p, _) => return CAUSE_PKGS.contains(&p),
            _ => {}
        }
    }
    // A call into this package's own code whose body hands out one of the
    // package's sentinel errors (`var ErrNotFound = errors.New(...)`), which
    // callers compare against.
    let sentinels = sentinels(cx);
    if sentinels.is_empty() {
        return false;
    }
    let Some(name) = call.method_name() else { return false };
    let callee = match (call.receiver(), own_type) {
        (None, _) => cx.pkg.funcs.get(name),
        (Some(_), Some(t)) => cx.pkg.methods.get(&(t, name)),
        (Some(r), None) if r.as_ident().is_some_and(|i| cx.file.import_path(&i.name).is_some()) => None,
        // Receiver of unknown type: any method of this package with that name.
        (Some(_), None) => cx.pkg.methods.iter().find(|((_, m), _)| *m == name).map(|(_, d)| d),
    };
    let Some(body) = callee.and_then(|d| d.decl.body.as_ref()) else { return false };
    let mut found = false;
    walk::walk_body(body, &mut |n, _| {
        if let Node::Expr(Expr::Ident(i)) = n {
            found |= sentinels.contains(&i.name.as_str());
        }
        !found
    });
    found
}

/// The package-level `Err…` variables initialised with `errors.New`/`fmt.Errorf`.
fn sentinels<'a>(cx: &Checker<'a>) -> Vec<&'a str> {
    cx.pkg
        .vars
        .iter()
        .filter(|(name, v)| {
            name.starts_with("Err")
                && !v.is_const
                && v.spec.values.get(v.index).and_then(|e| e.as_call()).is_some_and(|c| {
                    matches!(c.fun.as_selector().map(|s| s.sel.name.as_str()), Some("New" | "Errorf"))
                })
        })
        .map(|(name, _)| *name)
        .collect()
}

fn check(cx: &mut Checker) {
    if !cx.go_at_least(1, 13) {
        return;
    }
    // Code that never wraps may hide causes on purpose (an API boundary, or code
    // older than %w): judge only files that already use %w somewhere, where a
    // %v next to them is an oversight rather than a policy.
    let multi_w = cx.go_at_least(1, 20);
    let mut calls: Vec<(&CallExpr, bool)> = Vec::new();
    let file = cx.file;
    walk::walk_file(&file.ast, &mut |n, anc| {
        if let Node::Expr(Expr::Call(c)) = n {
            calls.push((c, passed_on(c, anc)));
        }
        true
    });
    // Service code (a `main` package or the module's `internal/` packages) has
    // no API boundary to hide causes behind: every error there is judged.
    let service = is_service_code(cx);
    let wraps = cx.file.src.contains("%w")
        && calls.iter().any(|(c, _)| {
            c.args.first().and_then(|a| a.as_string_lit()).and_then(|f| format_verbs(&f)).is_some_and(|v| {
                v.iter().any(|(_, verb)| verb == "w")
            })
        });
    if !wraps {
        return;
    }
    // In service code a `%v` on an error is an oversight whatever the error's
    // origin; in a library only errors with a cause callers test are judged.
    let any_origin = service;
    let mut out = Vec::new();
    for (call, passed) in calls {
        if !passed || !cx.is_pkg_call(call, "fmt", &["Errorf"]) {
            continue;
        }
        let Some(fmt) = call.args.first().and_then(|a| a.as_string_lit()) else { continue };
        let Some(verbs) = format_verbs(&fmt) else { continue };
        let has_w = verbs.iter().any(|(_, v)| v == "w");
        if has_w && !multi_w {
            continue;
        }
        let wrapped: Vec<&str> = verbs
            .iter()
            .filter(|(_, v)| v == "w")
            .filter_map(|(i, _)| call.args.get(i + 1))
            .map(|a| cx.file.text(a.span()))
            .collect();
        // Several unwrapped errors in one message: which cause to expose is a
        // design decision (and before Go 1.20 only one could be wrapped).
        // From Go 1.20 every error of the message can be wrapped; before, a
        // message with two is a design decision (only one could be).
        let mut unwrapped: Vec<(&Expr, &String)> = Vec::new();
        for (i, verb) in &verbs {
            if !matches!(verb.as_str(), "v" | "s" | "+v") {
                continue;
            }
            let Some(arg) = call.args.get(i + 1) else { continue };
            let text = cx.file.text(arg.span());
            if wrapped.contains(&text)
                || unwrapped.iter().any(|(a, _)| cx.file.text(a.span()) == text)
                || !is_error_value(cx, arg, any_origin)
            {
                continue;
            }
            unwrapped.push((arg, verb));
        }
        if unwrapped.is_empty() || (unwrapped.len() > 1 && !multi_w) {
            continue;
        }
        for (arg, verb) in unwrapped {
            out.push((arg.span(), cx.file.text(arg.span()).to_string(), verb.clone()));
        }
    }
    for (span, name, verb) in out {
        cx.report(span, format!("`{name}` is formatted with %{verb}, so errors.Is/errors.As can no longer see it through the new error"))
            .fix(format!("wrap it with %w instead of %{verb}"));
    }
}

/// A `main` package, or a package under the module's `internal/` directory:
/// code that serves, not an API that may hide its causes on purpose.
fn is_service_code(cx: &Checker) -> bool {
    let path = cx.pkg.import_path();
    cx.pkg.src.name == "main"
        || path.starts_with("internal/")
        || path.contains("/internal/")
        || path.ends_with("/internal")
}

/// Whether the value of call `c` is returned, sent, handed to another call, or
/// assigned to a variable the function returns.
fn passed_on(c: &CallExpr, anc: &[Node]) -> bool {
    let mut child = c.span;
    for a in anc.iter().rev() {
        match a {
            Node::Expr(Expr::Paren(p)) => child = p.span,
            Node::Expr(Expr::Call(parent)) => {
                return parent.args.iter().any(|x| x.span() == child) && !is_print_call(parent);
            }
            Node::Stmt(Stmt::Return(_)) | Node::Stmt(Stmt::Send(_)) => return true,
            Node::Stmt(Stmt::Assign(asg)) => {
                let Some(idx) = asg.rhs.iter().position(|r| r.span() == child) else { return false };
                let Some(lhs) = asg.lhs.get(idx).and_then(|l| l.as_ident()) else { return false };
                return enclosing_func(anc).is_some_and(|f| returns_name(f, &lhs.name));
            }
            _ => return false,
        }
    }
    false
}

/// Whether function `f` returns variable `name` (a named result, or `return ..., name`).
fn returns_name(f: Func, name: &str) -> bool {
    if f.ty().results.iter().any(|r| r.names.iter().any(|n| n.name == name)) {
        return true;
    }
    let Some(body) = f.body() else { return false };
    let mut found = false;
    walk::walk_body(body, &mut |n, _| {
        if let Node::Stmt(Stmt::Return(r)) = n {
            if r.results.iter().any(|x| x.ident_name() == Some(name)) {
                found = true;
            }
        }
        !found
    });
    found
}
