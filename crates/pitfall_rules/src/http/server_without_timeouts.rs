//! HTTP servers that let a slow client hold a connection forever.
use crate::prelude::*;
use pitfall_go::http_facts;

pub static RULE: Rule = Rule {
    name: "server-without-timeouts",
    category: Category::Http,
    severity: Severity::Warning,
    summary: "HTTP server without ReadHeaderTimeout/ReadTimeout (slowloris)",
    reports_on: "the `http.ListenAndServe`/`ListenAndServeTLS`/`Serve`/`ServeTLS` call, or the line of the `http.Server{...}` literal",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
- the package helpers `http.ListenAndServe`, `http.ListenAndServeTLS`,
  `http.Serve` and `http.ServeTLS`, which build a server with no timeouts at all
  (not reported when the address is loopback: a literal such as
  `localhost:6060`, a listener made with one, or a flag whose default is one);
- an `http.Server{...}` / `&http.Server{...}` literal that sets neither
  `ReadHeaderTimeout` nor `ReadTimeout`, unless the same function assigns one of
  them later (`srv.ReadHeaderTimeout = ...`) or hands the server to another
  function that might.

Reported on the helper call, or on the first line of the literal.

## Why it matters in production
Without a read deadline a client can open connections and send request headers one
byte at a time (slowloris). Each connection keeps a goroutine and buffers alive;
a few thousand of them exhaust file descriptors or memory and the service stops
accepting real traffic — no load balancer sees anything wrong.

## Bad
```go
func serve(h http.Handler) error {
	return http.ListenAndServe(":8080", h)
}
```

## Good
```go
func serve(h http.Handler) error {
	srv := &http.Server{
		Addr:              ":8080",
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	return srv.ListenAndServe()
}
```

## How to fix
Build an `http.Server` and set at least `ReadHeaderTimeout` (a few seconds); add
`ReadTimeout`, `WriteTimeout` and `IdleTimeout` that fit your slowest legitimate
request. Streaming endpoints can extend deadlines per request with
`http.NewResponseController(w).SetWriteDeadline`.

## How to suppress
`//nolint:server-without-timeouts // reason` on the line, or on its own line before
the statement/function; `//nolint:http` for the whole category; see `pitfall rule`.
"#,
    check: Check::Go(check),
};

const READ_FIELDS: &[&str] = &["ReadHeaderTimeout", "ReadTimeout"];

fn check(cx: &mut Checker) {
    // net/http's own helpers are reported where they are called.
    if cx.pkg.import_path() == "net/http" {
        return;
    }
    let file = cx.file;
    let mut calls = Vec::new();
    let mut lits = Vec::new();
    walk::walk_file(&file.ast, &mut |n, anc| {
        match n {
            Node::Expr(Expr::Call(c)) => calls.push((&**c, anc.first().copied())),
            Node::Expr(Expr::CompositeLit(l)) => lits.push((&**l, anc.to_vec())),
            _ => {}
        }
        true
    });
    for (call, anc) in calls {
        let Some(("net/http", name)) = cx.pkg_member(&call.fun) else { continue };
        if !matches!(name, "ListenAndServe" | "ListenAndServeTLS" | "Serve" | "ServeTLS") {
            continue;
        }
        if listens_on_loopback(cx, call, name, anc) {
            continue;
        }
        cx.report(
            call.span,
            format!("http.{name} starts a server with no read timeouts: slow clients (slowloris) can hold connections open forever"),
        )
        .fix("build an `&http.Server{Addr: ..., Handler: ..., ReadHeaderTimeout: 5 * time.Second}` and call its method instead");
    }
    let mut package_sets_timeouts: Option<bool> = None;
    for (lit, anc) in lits {
        let Some(ty) = &lit.ty else { continue };
        if !http_facts::is_http_server_type(&cx.scope(), ty) {
            continue;
        }
        if READ_FIELDS.iter().any(|f| http_facts::field(lit, f).is_some()) {
            continue;
        }
        if lit.elts.iter().any(|e| !matches!(e, Expr::KeyValue(_))) {
            continue;
        }
        let Some(target) = literal_target(&anc, lit.span) else { continue };
        if let Some(target) = target {
            let func = anc.iter().rev().find_map(|n| n.as_func());
            let Some(body) = func.and_then(|f| f.body()) else { continue };
            match later_use(body, &target, lit.span.end) {
                Use::SetsReadTimeout => continue,
                Use::PassedOn => {
                    let sets = *package_sets_timeouts.get_or_insert_with(|| cx.package_fact::<AssignsReadTimeout>().0);
                    if sets {
                        continue;
                    }
                }
                Use::Nothing => {}
            }
        }
        let ty_text = cx.file.text(ty.span()).to_string();
        let edits = header_timeout_edits(cx, lit);
        cx.report(
            Span { start: lit.span.start, end: lit.span.start + ty_text.len() as u32 },
            format!("{ty_text} has neither ReadHeaderTimeout nor ReadTimeout: slow clients (slowloris) can hold connections open forever"),
        )
        .fix("set `ReadHeaderTimeout: 5 * time.Second` (and ReadTimeout/WriteTimeout/IdleTimeout that fit the service)")
        .edits(Applicability::Unsafe, edits);
    }
}

/// `ReadHeaderTimeout: 5 * time.Second` added to the literal (and the `time`
/// import). Unsafe: a client slower than that is now cut off, which is the
/// point but changes behaviour. On its own line after a blank one in a
/// multi-line literal, so gofmt's alignment of the other fields is untouched.
fn header_timeout_edits(cx: &Checker, lit: &CompositeLit) -> Vec<TextEdit> {
    let src = &cx.file.src;
    let Some((time, add)) = crate::fixes::import_name(cx.file, "time") else { return Vec::new() };
    if cx.env_at(lit.span.start).lookup(&time, lit.span.start).is_some() {
        return Vec::new();
    }
    let field = format!("ReadHeaderTimeout: 5 * {time}.Second");
    let close = lit.span.end - 1;
    if src.as_bytes().get(close as usize) != Some(&b'}') {
        return Vec::new();
    }
    let edit = match lit.elts.last() {
        None if !src[lit.span.start as usize..close as usize].contains('\n') => TextEdit::insert(close, field),
        Some(last) if !src[last.span().end as usize..close as usize].contains('\n') => {
            TextEdit::insert(last.span().end, format!(", {field}"))
        }
        Some(last) => {
            let after = &src[last.span().end as usize..close as usize];
            if after.trim() != "," || !crate::fixes::owns_its_line(src, Span { start: last.span().start, end: last.span().end + 1 }) {
                return Vec::new();
            }
            let indent = crate::fixes::indent_at(src, last.span().start);
            TextEdit::insert(crate::fixes::next_line_start(src, last.span().end), format!("\n{indent}{field},\n"))
        }
        None => return Vec::new(),
    };
    let mut edits = vec![edit];
    edits.extend(add);
    edits
}

/// Whether the helper listens on a loopback address (for `Serve`, the address
/// the listener was made with in the same function): a local debug listener
/// is out of reach of slow remote clients.
fn listens_on_loopback<'a>(cx: &Checker<'a>, call: &'a CallExpr, name: &str, root: Option<Node<'a>>) -> bool {
    let Some(first) = call.args.first() else { return false };
    let env = cx.env_at(first.span().start);
    let sc = cx.scope();
    let addr = if name.starts_with("Listen") {
        first
    } else {
        let Some(root) = root else { return false };
        match http_facts::listener_addr_expr(&sc, &env, root, first) {
            Some(a) => a,
            None => return false,
        }
    };
    http_facts::looks_loopback(&sc, &env, addr)
}

/// Where the literal goes. `Some(Some(text))`: assigned to a variable or field
/// (its source text); `Some(None)`: returned, or used by a method call right
/// away; `None`: somewhere pitfall cannot follow (a call argument, another
/// literal), so the rule stays silent.
fn literal_target(anc: &[Node<'_>], lit: Span) -> Option<Option<Vec<String>>> {
    let mut span = lit;
    for n in anc.iter().rev() {
        match n {
            Node::Expr(Expr::Unary(u)) if u.op == "&" => span = u.span,
            Node::Expr(Expr::Paren(p)) => span = p.span,
            Node::Expr(Expr::Selector(s)) if s.x.span() == span => return Some(None),
            Node::Stmt(Stmt::Return(_)) => return Some(None),
            Node::Stmt(Stmt::Assign(a)) => {
                let i = a.rhs.iter().position(|r| r.span() == span)?;
                if a.lhs.len() != a.rhs.len() {
                    return None;
                }
                return Some(Some(vec![a.lhs[i].dotted_name()?]));
            }
            Node::ValueSpec(v) => {
                let i = v.values.iter().position(|r| r.span() == span)?;
                return Some(Some(vec![v.names.get(i)?.name.to_string()]));
            }
            _ => return None,
        }
    }
    None
}

enum Use {
    SetsReadTimeout,
    PassedOn,
    Nothing,
}

/// What the function does with the server after the literal: assigns a read
/// timeout (`srv.ReadHeaderTimeout = ...`), or passes it to another function
/// that might.
fn later_use(body: &Block, target: &[String], after: u32) -> Use {
    let target = &target[0];
    let mut result = Use::Nothing;
    walk::walk(Node::Block(body), &mut |n, _| {
        if n.span().end <= after {
            return true;
        }
        match n {
            Node::Stmt(Stmt::Assign(a)) => {
                for l in &a.lhs {
                    if let Some(sel) = l.as_selector() {
                        if READ_FIELDS.contains(&sel.sel.name.as_str()) && sel.x.dotted_name().as_deref() == Some(target) {
                            result = Use::SetsReadTimeout;
                            return false;
                        }
                    }
                }
            }
            Node::Expr(Expr::Call(c)) => {
                let passes = c.args.iter().any(|arg| {
                    let arg = match arg.unparen() {
                        Expr::Unary(u) if u.op == "&" => &u.x,
                        a => a,
                    };
                    arg.dotted_name().as_deref() == Some(target)
                });
                if passes {
                    result = Use::PassedOn;
                }
            }
            _ => {}
        }
        true
    });
    result
}

/// Whether any file of the package assigns `.ReadHeaderTimeout` or
/// `.ReadTimeout` (a helper that configures servers it receives); computed
/// once per package.
struct AssignsReadTimeout(bool);

impl PackageFact for AssignsReadTimeout {
    fn compute<'a>(pkg: &'a Package<'a>, _: &'a ProjectIndex<'a>) -> Self {
        AssignsReadTimeout(package_assigns_read_timeout(pkg))
    }
}

fn package_assigns_read_timeout(pkg: &Package) -> bool {
    pkg.files().iter().filter(|f| !f.is_test).any(|f| {
        let mut found = false;
        walk::walk_file(&f.ast, &mut |n, _| {
            if let Node::Stmt(Stmt::Assign(a)) = n {
                if a.lhs.iter().any(|l| l.as_selector().is_some_and(|s| READ_FIELDS.contains(&s.sel.name.as_str()))) {
                    found = true;
                }
            }
            !found
        });
        found
    })
}
