//! Calls that have a context-taking twin, in request-serving code.
use crate::prelude::*;
use pitfall_go::ctxflow;

pub static RULE: Rule = Rule {
    name: "missing-context",
    category: Category::Context,
    severity: Severity::Warning,
    summary: "call without a context where a context-taking twin exists (QueryContext, NewRequestWithContext, ...)",
    reports_on: "the call",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
Calls that cannot be cancelled although the library offers a twin that takes a
`context.Context`:

| call | twin |
|---|---|
| `sql.DB`/`Tx`/`Conn`/`Stmt` `Query`, `QueryRow`, `Exec`, `Prepare`, `Ping`; `DB.Begin` | `QueryContext`, `QueryRowContext`, `ExecContext`, `PrepareContext`, `PingContext`; `BeginTx` |
| `http.Get`, `Head`, `Post`, `PostForm` and the same methods of `*http.Client` | `http.NewRequestWithContext` + `Client.Do` |
| `http.NewRequest` | `http.NewRequestWithContext` |
| `net.Dial`, `net.DialTimeout`, `tls.Dial` | `net.Dialer.DialContext`, `tls.Dialer.DialContext` |
| `net.Listen` | `net.ListenConfig.Listen` |
| `net.LookupHost`, `LookupIP`, `LookupAddr`, ... | the same methods of `net.Resolver` (`net.DefaultResolver.LookupHost(ctx, ...)`) |
| `exec.Command` | `exec.CommandContext` |

Only request-serving code is checked: functions (or closures inside them) that
hold a `context.Context` or an `*http.Request` to pass on. `main` and `init` of
package `main`, the functions reachable only from them, and `_test.go` files are
skipped; so is code with no context at hand (command-line tools, startup helpers),
where the fix would be a signature change rather than a twin. The message
names the twin to use.

## Why it matters in production
Without a context, a slow database, DNS server or upstream keeps the goroutine
busy after the client has gone and after the request's deadline: connections and
goroutines pile up exactly when a dependency is struggling, and shutdown has to
wait for them.

## Bad
```go
func (s *Server) handleUser(w http.ResponseWriter, r *http.Request) {
	row := s.db.QueryRow("SELECT name FROM users WHERE id = $1", r.PathValue("id"))
	// ...
}
```

## Good
```go
func (s *Server) handleUser(w http.ResponseWriter, r *http.Request) {
	row := s.db.QueryRowContext(r.Context(), "SELECT name FROM users WHERE id = $1", r.PathValue("id"))
	// ...
}
```

## How to fix
Call the twin and pass the request's context (`r.Context()`, or the `ctx` your
function receives). If the function has no context, add a `ctx context.Context`
parameter and thread it from the caller.

## How to suppress
`//nolint:missing-context // bounded by the driver's own timeout` on the reported
line, or on its own line before the statement or the function; `//nolint:context`
for the whole category.
"#,
    check: Check::Go(check),
};

const SQL_TYPES: &[&str] = &["DB", "Tx", "Conn", "Stmt"];

fn sql_twin(method: &str, ty: &str) -> Option<&'static str> {
    Some(match method {
        "Query" => "QueryContext",
        "QueryRow" => "QueryRowContext",
        "Exec" => "ExecContext",
        "Prepare" if ty != "Stmt" => "PrepareContext",
        "Ping" if ty == "DB" => "PingContext",
        "Begin" if ty == "DB" => "BeginTx",
        _ => return None,
    })
}

fn check(cx: &mut Checker) {
    // Cheap filter before any type inference.
    if !["database/sql", "net/http", "net", "crypto/tls", "os/exec"]
        .iter()
        .any(|p| cx.file.imports(p))
    {
        return;
    }
    for (span, msg, fix) in find(cx) {
        cx.report(span, msg).fix(fix);
    }
}

fn twin<'a>(cx: &Checker<'a>, call: &'a CallExpr) -> Option<(String, &'static str)> {
    if let Some((pkg, name)) = cx.pkg_member(&call.fun) {
        let t = match (pkg, name) {
            ("net/http", "Get" | "Head" | "Post" | "PostForm") => {
                "http.NewRequestWithContext and Client.Do"
            }
            ("net/http", "NewRequest") => "http.NewRequestWithContext",
            ("net", "Dial" | "DialTimeout") => "net.Dialer.DialContext",
            ("crypto/tls", "Dial") => "tls.Dialer.DialContext",
            ("net", "Listen") => "net.ListenConfig.Listen",
            ("net", n) if n.starts_with("Lookup") => "the net.Resolver method of the same name",
            ("os/exec", "Command") => "exec.CommandContext",
            _ => return None,
        };
        let short = pkg.rsplit('/').next().unwrap_or(pkg);
        return Some((format!("{short}.{name}"), t));
    }
    let method = call.method_name()?;
    for ty in SQL_TYPES {
        if let Some(t) = sql_twin(method, ty) {
            if cx.is_method_call(call, "database/sql", ty, &[method]) {
                return Some((format!("sql.{ty}.{method}"), t));
            }
        }
    }
    if cx.is_method_call(
        call,
        "net/http",
        "Client",
        &["Get", "Head", "Post", "PostForm"],
    ) {
        return Some((
            format!("http.Client.{method}"),
            "http.NewRequestWithContext and Client.Do",
        ));
    }
    None
}

fn find<'a>(cx: &Checker<'a>) -> Vec<(Span, String, String)> {
    let file: &'a pitfall_go::GoFile = cx.file;
    let mut out = Vec::new();
    let mut startup = None;
    let sc = cx.scope();
    for decl in &file.ast.decls {
        let Decl::Func(fd) = decl else { continue };
        let mut hits = Vec::new();
        walk::calls(Node::FuncDecl(fd), &mut |c, anc| {
            if let Some(t) = twin(cx, c) {
                hits.push((c, t, walk::enclosing_func(anc)));
            }
        });
        if hits.is_empty() {
            continue;
        }
        if fd.recv.is_none() {
            let startup = startup.get_or_insert_with(|| ctxflow::startup_only_funcs(cx.pkg));
            if startup.contains(fd.name.name.as_str()) {
                continue;
            }
        }
        for (c, (what, twin), func) in hits {
            let ctx = func
                .and_then(|f| ctxflow::context_params(&sc, f.ty()).first().copied())
                .or_else(|| ctxflow::context_params(&sc, &fd.ty).first().copied());
            // Request-serving code holds a context (or the request) to pass;
            // elsewhere (CLIs, tools, startup helpers) the finding would ask
            // for a signature change on guesswork.
            let pass = match ctx {
                Some((p, true)) => format!("`{}.Context()`", p.name),
                Some((p, false)) => format!("`{}`", p.name),
                None => continue,
            };
            out.push((
                c.span,
                format!("{what} cannot be cancelled: use {twin} so the request's deadline and cancellation reach it"),
                format!("call {twin} with {pass}"),
            ));
        }
    }
    out
}
