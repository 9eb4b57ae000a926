//! An `*http.Response` whose `Body` is not closed on every path.
use crate::prelude::*;
use pitfall_go::flow::{self, Policy, Resource, Verdict};

pub static RULE: Rule = Rule {
    name: "unclosed-response-body",
    category: Category::Http,
    severity: Severity::Warning,
    summary: "HTTP client response whose Body is not closed on every path (leaks a connection)",
    reports_on: "the client call that returned the response",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
A response from an HTTP client call (`http.Get`, `http.Post`, `http.Head`,
`http.PostForm`, or `Do`/`Get`/`Post`/`Head`/`PostForm` on an `*http.Client`) whose
`Body` is not closed on some path out of the function: an early `return` after a
status-code check, a `continue` in a retry loop, or no `Close` at all. The finding is
on the call and names the exit that leaks.

A response thrown away where it is made (`_, err := http.Get(u)`, a bare
`c.Do(req)` statement, `_, _ = openResponse()` for any function returning an
`*http.Response`) and a response variable assigned a new response while the old
body is still open (`resp, err = c.Do(req2)`) are reported too; plain `=`
assignments are followed for variables declared in the function.

It stays silent when the body is closed (directly, with `defer`, or in a deferred
closure), when the response or its body is returned, stored, sent on a channel or
passed to a helper (the helper is assumed to close it), and on the `err != nil` path
right after the call (the response is nil there). Test files are skipped.

## Why it matters in production
Until the body is closed, the client cannot reuse the TCP connection, and the
transport keeps its goroutines and buffers alive. A handler that leaks one body per
request slowly exhausts file descriptors and ephemeral ports, and latency climbs as
every call dials a new connection.

## Bad
```go
func fetchUser(ctx context.Context, c *http.Client, url string) (*User, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("user service: %s", resp.Status) // body leaks here
	}
	defer resp.Body.Close()
	var u User
	return &u, json.NewDecoder(resp.Body).Decode(&u)
}
```

## Good
```go
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("user service: %s", resp.Status)
	}
```

## How to fix
Put `defer resp.Body.Close()` immediately after the error check, before any other
use of the response. In a loop, close the body before `continue` (or move the body
of the loop into a function so the `defer` runs per iteration).

## Compared with bodyclose
bodyclose also reports a response passed to a helper of the same package that
does not close it, a closure that closes it but is never called, and a body
closed only in a defer nested inside a deferred closure. pitfall assumes a helper
that receives the response owns it (it cannot see every helper), and counts the
nested defer as a close (it runs when the outer closure returns).

## How to suppress
`//nolint:unclosed-response-body // closed by the caller` on the reported line, or on
its own line before the statement or the function; `//nolint:http` for the whole
category.
"#,
    check: Check::Go(check),
};

const CLIENT_METHODS: &[&str] = &["Do", "Get", "Post", "Head", "PostForm"];
const FIELDS: &[&str] = &["Body"];

fn check(cx: &mut Checker) {
    for (span, msg, fix, (applicability, edits)) in find(cx) {
        cx.report(span, msg).fix(fix).edits(applicability, edits);
    }
}

#[allow(clippy::type_complexity)]
fn find<'a>(cx: &Checker<'a>) -> Vec<(Span, String, String, (Applicability, Vec<TextEdit>))> {
    let file: &'a pitfall_go::GoFile = cx.file;
    let mut out = Vec::new();
    for e in walk::first_result_discarded(&file.ast) {
        if let Some(what) = response_call(cx, e) {
            out.push((
                e.span(),
                format!("the response of {what} is thrown away, so its Body is never closed and the connection leaks"),
                "keep the response and `defer resp.Body.Close()` after the error check".to_string(),
                (Applicability::Unsafe, Vec::new()),
            ));
        }
    }
    for d in flow::assigning_calls(&file.ast) {
        let Some(resp) = d.name(0) else { continue };
        if d.assign.lhs.len() != 2 || !cx.follows_def(&d, resp) {
            continue;
        }
        let Some(what) = client_call(cx, d.call) else { continue };
        let err = d.name(1).map(|e| e.name.as_str());
        let var = resp.name.as_str();
        let res = Resource { var, err, fields: FIELDS };
        let releases = |c: &'a CallExpr| flow::is_method_on(c, var, FIELDS, &["Close"]);
        let borrows = |c: &'a CallExpr| borrows_body(cx, c);
        let policy = Policy {
            releases: &releases,
            borrows: &borrows,
            return_matters: &|_| true,
            scope_exits: true,
            exhausted_by: &|_| false,
        };
        if let Verdict::Leaks(l) = flow::analyze(d.body, d.stmt, &res, &policy) {
            let (line, _) = cx.file.line_col(l.span.start);
            out.push((
                d.call.span,
                format!("response `{var}` from {what} is not closed on every path: its Body leaks {} at line {line}", l.describe()),
                format!("add `defer {var}.Body.Close()` right after the error check"),
                crate::fixes::defer_release(&cx.file.src, d.body, d.stmt, var, err, &format!("defer {var}.Body.Close()")),
            ));
        }
    }
    out
}

/// `http.Get` / `c.Do` ... when `call` is an HTTP client call returning `(*http.Response, error)`.
pub(crate) fn client_call<'a>(cx: &Checker<'a>, call: &'a CallExpr) -> Option<String> {
    if cx.is_pkg_call(call, "net/http", &["Get", "Post", "Head", "PostForm"]) {
        Some(format!("http.{}", call.method_name().unwrap_or("")))
    } else if cx.is_method_call(call, "net/http", "Client", CLIENT_METHODS) {
        Some(cx.file.text(call.fun.span()).to_string())
    } else {
        None
    }
}

/// A call that hands out an `*http.Response` the caller must close: a client
/// call, or any function whose first result is one (`openResponse()`).
fn response_call<'a>(cx: &Checker<'a>, e: &'a Expr) -> Option<String> {
    let call = e.as_call()?;
    client_call(cx, call).or_else(|| {
        matches!(cx.type_of(e).first(), Ty::Pointer(t) if t.is_named("net/http", "Response"))
            .then(|| format!("{}()", cx.file.text(call.fun.span())))
    })
}


/// Callees that read the body (or print the response) without closing it.
fn borrows_body<'a>(cx: &Checker<'a>, c: &'a CallExpr) -> bool {
    match cx.pkg_member(&c.fun) {
        Some((pkg, name)) => matches!(
            (pkg, name),
            ("io", "ReadAll" | "Copy" | "CopyN" | "CopyBuffer" | "ReadFull" | "ReadAtLeast" | "LimitReader")
                | ("io/ioutil", "ReadAll")
                | ("encoding/json" | "encoding/xml", "NewDecoder")
                | ("bufio", "NewReader" | "NewReaderSize" | "NewScanner")
                | ("net/http/httputil", "DumpResponse")
                | ("net/http", "MaxBytesReader")
                | ("fmt" | "log", _)
        ),
        None => matches!(c.method_name(), Some("ReadFrom")),
    }
}
