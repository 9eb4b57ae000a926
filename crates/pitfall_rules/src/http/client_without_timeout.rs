//! HTTP clients that can wait forever.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "client-without-timeout",
    category: Category::Http,
    severity: Severity::Warning,
    summary: "http.Client without Timeout, or the default client used while serving a request",
    reports_on: "the `http.Client{...}` literal, or the `http.Get`/`http.DefaultClient.Do` call",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
1. An `http.Client{...}` literal without a `Timeout` field. Silent when the same
   function assigns a `.Timeout` (or `.Transport`) later, or when the literal sets a `Transport`
   (it may carry dial and response-header timeouts; we do not guess).
2. `http.Get`, `http.Head`, `http.Post`, `http.PostForm` or
   `http.DefaultClient.Do/Get/Head/Post/PostForm` inside an HTTP handler (a
   function with `http.ResponseWriter` and `*http.Request` parameters) or a closure
   defined in one. `http.DefaultClient.Do(req)` with a request built by
   `http.NewRequestWithContext` stays silent: the context (typically
   `r.Context()`) cancels the call when the caller goes away, and bounding the
   incoming request is the server's job.

Reported on the literal or the call. Test files are skipped.

## Why it matters in production
The zero `http.Client` (and `http.DefaultClient`) has no timeout at all. When a
dependency stops answering — a half-open TCP connection, a stuck load balancer —
every call waits forever. In a handler each stuck call pins a goroutine, a
connection and its memory; the service runs out of file descriptors or memory and
the outage cascades to every caller.

## Bad
```go
var pricing = &http.Client{}

func quote(w http.ResponseWriter, r *http.Request) {
	resp, err := http.Get("http://rates.internal/eur")
	if err != nil {
		http.Error(w, "rates unavailable", http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	io.Copy(w, resp.Body)
}
```

## Good
```go
var pricing = &http.Client{Timeout: 3 * time.Second}

func quote(w http.ResponseWriter, r *http.Request) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, "http://rates.internal/eur", nil)
	if err != nil {
		http.Error(w, "bad request", http.StatusInternalServerError)
		return
	}
	resp, err := pricing.Do(req)
	if err != nil {
		http.Error(w, "rates unavailable", http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	io.Copy(w, resp.Body)
}
```

## How to fix
Give every client a `Timeout` sized to the dependency's SLO (or a `Transport`
with dial, TLS-handshake and response-header timeouts), share it, and pass the
incoming request's context with `http.NewRequestWithContext(r.Context(), ...)`.

## How to suppress
`//nolint:client-without-timeout // reason` on the line, or on its own line before
the statement/function; `//nolint:http` for the whole category; see `pitfall rule`.
"#,
    check: Check::Go(check),
};

const SHORTHANDS: &[&str] = &["Get", "Head", "Post", "PostForm"];

fn check(cx: &mut Checker) {
    let file = cx.file;
    let mut lits: Vec<(&CompositeLit, Option<Func>)> = Vec::new();
    let mut calls: Vec<(&CallExpr, Vec<Func>)> = Vec::new();
    walk::walk_file(&file.ast, &mut |n, anc| {
        match n {
            Node::Expr(Expr::CompositeLit(l)) => lits.push((l, enclosing_func(anc))),
            Node::Expr(Expr::Call(c)) => calls.push((c, anc.iter().filter_map(|a| a.as_func()).collect())),
            _ => {}
        }
        true
    });
    let mut out = Vec::new();
    for (lit, func) in lits {
        let Some(ty) = &lit.ty else { continue };
        if cx.pkg_member(ty) != Some(("net/http", "Client")) {
            continue;
        }
        let keys: Vec<&str> = lit
            .elts
            .iter()
            .filter_map(|e| match e {
                Expr::KeyValue(kv) => kv.key.ident_name(),
                _ => None,
            })
            .collect();
        if keys.contains(&"Timeout") || keys.contains(&"Transport") {
            continue;
        }
        if func.and_then(|f| f.body()).is_some_and(assigns_timeout) {
            continue;
        }
        out.push((lit.span, "this http.Client has no Timeout: a dependency that stops answering blocks the call forever".to_string(),
            "set Timeout (e.g. `Timeout: 5 * time.Second`) or a Transport with dial and response-header timeouts"));
    }
    for (call, funcs) in calls {
        let shorthand = cx.is_pkg_call(call, "net/http", SHORTHANDS);
        let default_client = !shorthand
            && call.receiver().is_some_and(|r| cx.pkg_member(r) == Some(("net/http", "DefaultClient")))
            && matches!(call.method_name(), Some("Do" | "Get" | "Head" | "Post" | "PostForm"));
        if !(shorthand || default_client) {
            continue;
        }
        if !funcs.iter().any(|f| is_handler(cx, *f)) {
            continue;
        }
        if call.method_name() == Some("Do") && call.args.first().is_some_and(|a| built_with_context(cx, a)) {
            continue;
        }
        let name = cx.file.text(call.fun.span()).to_string();
        out.push((call.span, format!("{name} uses the default client, which has no timeout, while serving a request: a stuck dependency pins this handler forever"),
            "use a shared http.Client with a Timeout and http.NewRequestWithContext(r.Context(), ...)"));
    }
    for (span, msg, fix) in out {
        cx.report(span, msg).fix(fix);
    }
}

/// Whether the body assigns some `x.Timeout = ...` (or a `x.Transport`, which may
/// carry its own timeouts).
fn assigns_timeout(body: &Block) -> bool {
    let mut found = false;
    walk::walk(Node::Block(body), &mut |n, _| {
        if let Node::Stmt(Stmt::Assign(a)) = n {
            if a.lhs.iter().any(|l| l.as_selector().is_some_and(|s| matches!(s.sel.name.as_str(), "Timeout" | "Transport"))) {
                found = true;
            }
        }
        !found
    });
    found
}

/// A function with `http.ResponseWriter` and `*http.Request` parameters.
fn is_handler<'a>(cx: &Checker<'a>, f: Func<'a>) -> bool {
    let sc = cx.scope();
    let mut writer = false;
    let mut request = false;
    for p in &f.ty().params {
        match sc.type_expr(&p.ty) {
            Ty::Named("net/http", "ResponseWriter") => writer = true,
            Ty::Pointer(inner) if matches!(*inner, Ty::Named("net/http", "Request")) => request = true,
            _ => {}
        }
    }
    writer && request
}

/// `req` declared from `http.NewRequestWithContext(...)`.
fn built_with_context<'a>(cx: &Checker<'a>, e: &'a Expr) -> bool {
    let Some(id) = e.as_ident() else {
        return e.as_call().is_some_and(|c| cx.is_pkg_call(c, "net/http", &["NewRequestWithContext"]));
    };
    let env = cx.env_at(id.span.start);
    let Some(b) = env.resolve(id) else { return false };
    let decl = b.decl;
    let mut found = false;
    walk::walk_file(&cx.file.ast, &mut |n, _| {
        if !n.span().encloses(decl) || found {
            return false;
        }
        if let Node::Stmt(Stmt::Assign(a)) = n {
            if a.lhs.iter().any(|l| l.span() == decl) && a.rhs.len() == 1 {
                if let Some(c) = a.rhs[0].as_call() {
                    found = cx.is_pkg_call(c, "net/http", &["NewRequestWithContext"]);
                }
            }
        }
        true
    });
    found
}
