//! Loops doing I/O on a `net.Conn` that never sets a deadline.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "conn-without-deadline",
    category: Category::Http,
    severity: Severity::Warning,
    summary: "Loop reading or writing a net.Conn with no SetDeadline/SetReadDeadline/SetWriteDeadline",
    reports_on: "the `for` loop that does the I/O",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
A loop that reads from or writes to a `net.Conn` — `conn.Read`/`conn.Write`,
`io.Copy`/`io.ReadFull`/`io.CopyN` with the conn, or a reader, scanner, decoder or
encoder built on it (`bufio.NewReader(conn)`, `json.NewDecoder(conn)`) — while the
function never calls `SetDeadline`, `SetReadDeadline` or `SetWriteDeadline` on
that conn. The conn must visibly be a `net.Conn` (or `*net.TCPConn`): a parameter
of that type, or the result of `ln.Accept()` / `net.Dial`. Reported on the
innermost loop doing the I/O. Test files are skipped. A conn that is a parameter is
not reported when every caller in the package (test files aside) sets a deadline on
the conn it passes before calling — the deadline is still in force in the loop.

## Why it matters in production
TCP has no timeout of its own: a peer that vanishes without a FIN (a crashed node,
a dropped NAT entry, a client that stopped reading) leaves `Read` or `Write`
blocked forever. Every such connection keeps a goroutine, a buffer and a file
descriptor; slow or malicious clients can exhaust them on purpose (slowloris).
The server slowly stops accepting work and nothing in the logs says why.

## Bad
```go
func serveConn(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		conn.Write([]byte(reply(line)))
	}
}
```

## Good
```go
func serveConn(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	for {
		conn.SetDeadline(time.Now().Add(2 * time.Minute))
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		conn.Write([]byte(reply(line)))
	}
}
```

## How to fix
Set a deadline before each blocking operation (`SetReadDeadline` before reading a
request, `SetWriteDeadline` before writing the reply), or one `SetDeadline` per
iteration for request/response protocols. Idle connections then fail with a
timeout error, which the loop handles like any other error.

## How to suppress
`//nolint:conn-without-deadline // reason` on the line, or on its own line before
the loop/function; `//nolint:http` for the whole category; see `pitfall rule`.
"#,
    check: Check::Go(check),
};

const IO_FUNCS: &[&str] = &["Copy", "CopyN", "CopyBuffer", "ReadFull", "ReadAtLeast", "ReadAll", "WriteString"];

fn is_conn(t: &Ty) -> bool {
    t.is_named("net", "Conn") || t.is_named("net", "TCPConn") || t.is_named("net", "UnixConn")
}

fn check(cx: &mut Checker) {
    let file = cx.file;
    // Each function with the outermost function around it (itself at top level),
    // found from the walk's ancestors: linear in the number of functions.
    let mut funcs: Vec<(Func, Func)> = Vec::new();
    walk::walk_file(&file.ast, &mut |n, anc| {
        if let Some(f) = n.as_func() {
            let outer = anc.iter().find_map(|a| a.as_func()).unwrap_or(f);
            funcs.push((f, outer));
        }
        true
    });
    let mut out: Vec<(Span, String)> = Vec::new();
    // Conns with a deadline anywhere in an outermost function (closures
    // included): a deadline set before `go func() {...}()` counts. Computed
    // once per outermost function.
    let mut deadlines: std::collections::HashMap<u32, Vec<String>> = std::collections::HashMap::new();
    for &(f, outer) in &funcs {
        let Some(body) = f.body() else { continue };
        let Some(outer_body) = outer.body() else { continue };
        let with_deadline = deadlines.entry(outer.span().start).or_insert_with(|| {
            let mut found: Vec<String> = Vec::new();
            walk::walk(Node::Block(outer_body), &mut |n, _| {
                if let Node::Expr(Expr::Call(c)) = n {
                    if matches!(c.method_name(), Some("SetDeadline" | "SetReadDeadline" | "SetWriteDeadline")) {
                        if let Some(r) = c.receiver() {
                            found.push(file.text(r.span()).to_string());
                        }
                    }
                }
                true
            });
            found
        });
        // Loops of this function (not of nested closures) doing I/O on a conn.
        let mut hits: Vec<(&Stmt, String)> = Vec::new();
        walk::walk_body(body, &mut |n, anc| {
            let Node::Expr(Expr::Call(c)) = n else { return true };
            let Some(lp) = enclosing_loop(anc) else { return true };
            if let Some(conn) = conn_io(cx, c) {
                if !with_deadline.contains(&conn) && !callers_set_deadline(cx, f, &conn) {
                    hits.push((lp, conn));
                }
            }
            true
        });
        for (lp, conn) in hits {
            let span = match lp {
                Stmt::For(_) | Stmt::Range(_) => Span { start: lp.span().start, end: lp.span().start + 3 },
                _ => lp.span(),
            };
            if !out.iter().any(|(s, _)| *s == span) {
                out.push((span, conn));
            }
        }
    }
    for (span, conn) in out {
        cx.report(span, format!("this loop does I/O on `{conn}` but no deadline is ever set on it: a silent peer blocks it forever"))
            .fix(format!("call {conn}.SetDeadline(time.Now().Add(timeout)) (or SetRead/SetWriteDeadline) before each blocking read or write"));
    }
}

/// The conn (by name) a call reads from or writes to, if it is a visible net.Conn.
fn conn_io<'a>(cx: &Checker<'a>, c: &'a CallExpr) -> Option<String> {
    let conn_ident = |e: &'a Expr| -> Option<String> {
        let id = e.as_ident()?;
        is_conn(&cx.type_of(e)).then(|| id.name.to_string())
    };
    let name = c.method_name()?;
    if let Some(recv) = c.receiver() {
        if cx.pkg_member(&c.fun).is_none() {
            // conn.Read / conn.Write
            if matches!(name, "Read" | "Write") {
                if let Some(conn) = conn_ident(recv) {
                    return Some(conn);
                }
            }
            // r.ReadString where r := bufio.NewReader(conn) / json.NewDecoder(conn) ...
            if name.starts_with("Read") || name.starts_with("Write") || matches!(name, "Decode" | "Encode" | "Scan" | "Flush") {
                let id = recv.as_ident()?;
                let env = cx.env_at(id.span.start);
                let init = env.resolve(id)?.init?;
                let wrap = init.as_call()?;
                cx.pkg_member(&wrap.fun)?;
                return wrap.args.iter().find_map(&conn_ident);
            }
            return None;
        }
    }
    if cx.is_pkg_call(c, "io", IO_FUNCS) {
        return c.args.iter().take(2).find_map(conn_ident);
    }
    None
}

/// Whether `conn` is a parameter of the top-level function `f` and every caller
/// of `f` in the package's non-test files sets a deadline on the conn it passes
/// before the call (`conn.SetReadDeadline(...)` then `readHeader(conn)`). No
/// caller, or `f` used as a value (a callback we cannot follow): false.
fn callers_set_deadline(cx: &Checker, f: Func, conn: &str) -> bool {
    let Func::Decl(fd) = f else { return false };
    if fd.recv.is_some() {
        return false;
    }
    let Some(index) = fd.ty.params.iter().flat_map(|p| p.names.iter()).position(|n| n.name == conn) else {
        return false;
    };
    let name = fd.name.name.as_str();
    let mut calls = 0;
    let mut ok = true;
    for file in cx.pkg.files().iter().filter(|file| !file.is_test) {
        for decl in &file.ast.decls {
            let Decl::Func(caller) = decl else { continue };
            let Some(body) = caller.body.as_ref() else { continue };
            // Deadlines set in the caller: (receiver text, position).
            let mut deadlines: Vec<(&str, u32)> = Vec::new();
            let mut sites: Vec<(&Expr, u32)> = Vec::new();
            walk::walk(Node::Block(body), &mut |n, anc| {
                match n {
                    Node::Expr(Expr::Call(c)) => {
                        if matches!(c.method_name(), Some("SetDeadline" | "SetReadDeadline" | "SetWriteDeadline")) {
                            if let Some(r) = c.receiver() {
                                deadlines.push((file.text(r.span()), c.span.start));
                            }
                        }
                        if c.fun.as_ident().is_some_and(|id| id.name == name) {
                            match c.args.get(index) {
                                Some(a) => sites.push((a, c.span.start)),
                                None => ok = false,
                            }
                        }
                    }
                    // `name` used other than as the callee of a call: a value.
                    Node::Expr(Expr::Ident(id)) if id.name == name => {
                        let callee = matches!(anc.last(), Some(Node::Expr(Expr::Call(c))) if c.fun.span() == id.span);
                        if !callee {
                            ok = false;
                        }
                    }
                    _ => {}
                }
                ok
            });
            if !ok {
                return false;
            }
            for (arg, at) in sites {
                calls += 1;
                let text = file.text(arg.span());
                if !deadlines.iter().any(|(r, pos)| *r == text && *pos < at) {
                    return false;
                }
            }
        }
    }
    calls > 0
}
