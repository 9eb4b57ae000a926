//! Dropped errors from the calls whose failure loses data or hides an outage.
use crate::prelude::*;

const DEFAULT_CALLS: &str = "os.File.Close,os.File.Sync,bufio.Writer.Flush,compress/gzip.Writer.Close,\
compress/gzip.Writer.Flush,encoding/json.Encoder.Encode,encoding/xml.Encoder.Encode,\
encoding/gob.Encoder.Encode,database/sql.Tx.Commit,database/sql.Rows.Scan,database/sql.Row.Scan,\
net/http.Server.Shutdown,net/http.Server.ListenAndServe,net/http.Server.ListenAndServeTLS,\
net/http.Server.Serve,net/http.ListenAndServe,net/http.ListenAndServeTLS,net/http.Serve,\
go.uber.org/zap.Config.Build,go.uber.org/zap.NewProduction,go.uber.org/zap.NewDevelopment";

pub static RULE: Rule = Rule {
    name: "ignored-error",
    category: Category::Errors,
    severity: Severity::Warning,
    summary: "Error dropped from a call whose failure loses data or hides an outage (Close/Flush/Encode/Commit/Serve...)",
    reports_on: "the call whose error is dropped",
    test_files: TestFiles::Skip,
    options: &[RuleOption {
        name: "calls",
        default: DEFAULT_CALLS,
        help: "comma-separated calls to check: `importpath.Func` or `importpath.Type.Method` (e.g. `encoding/json.Encoder.Encode`)",
    }],
    doc: r#"
## What it finds
The error result of a short list of calls thrown away: the call used as a
statement, under `defer` or `go`, or its error assigned to `_`. Only calls whose
failure means lost data or a silent outage are checked, not every ignored error:

- `Close` on an `*os.File` the same function opened for writing and wrote to (`os.Create`,
  `os.CreateTemp`, `os.OpenFile` with `O_WRONLY`/`O_RDWR`/`O_CREATE`/`O_APPEND`/
  `O_TRUNC`); `Sync` on any `*os.File`. Closing a read-only file is never reported.
- `Flush`/`Close` on `*bufio.Writer` and `*gzip.Writer`; `Encode` on json, xml and
  gob encoders. A `bufio.Writer` held in a struct field (`w.buf.Flush()`) is not
  reported: its error is sticky and the owner usually surfaces it later; nor is
  a writer or encoder wrapping `os.Stdout`/`os.Stderr` (a command's own output),
  nor one writing into a `*bytes.Buffer` or `*strings.Builder` (those writes
  cannot fail).
- `(*sql.Tx).Commit`, `(*sql.Rows).Scan`, `(*sql.Row).Scan`.
- `(*http.Server).Shutdown/ListenAndServe[TLS]/Serve`, `http.ListenAndServe[TLS]`,
  `http.Serve` (typically `go srv.ListenAndServe()`).
- zap logger construction: `zap.NewProduction`, `zap.NewDevelopment`,
  `(zap.Config).Build`.

A type calling one of these methods on its own receiver (`b.Flush()` inside
another method of the same writer) is its implementation keeping the error in its
own state, and is not reported.

Cleanup on a failure path (`f.Close()` right before `return err`, or inside
`if err != nil`) and a `defer f.Close()` safety net next to a checked final
`f.Close()` are not reported; neither are `_test.go` files, where a lost write
shows up as a failing test.

The list is the `calls` option: comma-separated `importpath.Func` or
`importpath.Type.Method` entries (the type without `*`), e.g.
`calls = "os.File.Close,encoding/json.Encoder.Encode,example.com/kafka.Producer.Flush"`.
Reported on the call.

## Why it matters in production
A write to a file or a compressed stream is only durable after `Close`/`Flush`
succeeded: a full disk or a broken pipe shows up there and nowhere else, so the
export "succeeds" with a truncated file. An ignored `Commit` error reports success
for data that was rolled back. `go srv.ListenAndServe()` with the error dropped
keeps a pod "running" that never bound its port. An ignored `zap.NewProduction`
error leaves a nil logger that panics on first use.

## Bad
```go
func export(path string, rows []Row) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close() // the write error of the last buffer is lost
	return json.NewEncoder(f).Encode(rows)
}
```

## Good
```go
func export(path string, rows []Row) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	return json.NewEncoder(f).Encode(rows)
}
```

## How to fix
Check the error. A `Close` deferred (or inside a deferred closure) as a safety
net is not reported when the function also checks a `Close` of the same value on
its normal path. For a deferred `Close` of a written file, use a named error
result and a deferred closure that keeps the first error (as above), or call
`Close` explicitly at the end and return its error (a second deferred `Close` is
then harmless). Log errors you cannot return (`go func() { if err :=
srv.ListenAndServe(); ... }()`).

## How to suppress
`//nolint:ignored-error // reason` on the line, or on its own line before the
statement/function; `//nolint:errors` for the whole category; see `pitfall rule`.
"#,
    check: Check::Go(check),
};

enum Target {
    Func(String, String),
    Method(String, String, String),
}

fn parse_calls(list: &str) -> Vec<Target> {
    let mut out = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (dir, last) = match entry.rfind('/') {
            Some(i) => (&entry[..=i], &entry[i + 1..]),
            None => ("", entry),
        };
        let parts: Vec<&str> = last.split('.').collect();
        match parts.as_slice() {
            [pkg, f] => out.push(Target::Func(format!("{dir}{pkg}"), f.to_string())),
            [pkg, t, m] => out.push(Target::Method(format!("{dir}{pkg}"), t.to_string(), m.to_string())),
            _ => {}
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq)]
enum How {
    Stmt,
    Defer,
    Go,
    Blank,
}

fn check(cx: &mut Checker) {
    let targets = parse_calls(&cx.option_str("calls"));
    let file = cx.file;
    let mut dropped: Vec<(&CallExpr, How, Option<Func>, bool)> = Vec::new();
    walk::walk_file(&file.ast, &mut |n, anc| {
        let Some(stmt) = n.as_stmt() else { return true };
        let found = match stmt {
            Stmt::Expr(e) => e.as_call().map(|c| (c, How::Stmt)),
            Stmt::Defer(d) => d.call.as_call().map(|c| (c, How::Defer)),
            Stmt::Go(g) => g.call.as_call().map(|c| (c, How::Go)),
            Stmt::Assign(a) if a.rhs.len() == 1 && (a.op == "=" || a.op == ":=") => {
                let last_blank = a.lhs.last().and_then(|l| l.as_ident()).is_some_and(|i| i.is_blank());
                if last_blank {
                    a.rhs[0].as_call().map(|c| (c, How::Blank))
                } else {
                    None
                }
            }
            _ => None,
        };
        if let Some((c, how)) = found {
            let cleanup = matches!(how, How::Stmt | How::Blank) && on_error_path(file, stmt, anc);
            if !cleanup {
                // A deferred call, or one inside a deferred closure: a safety net
                // when the same value's real Close is checked on the normal path.
                let deferred = how == How::Defer || anc.iter().any(|a| matches!(a, Node::Stmt(Stmt::Defer(_))));
                dropped.push((c, how, enclosing_func(anc), deferred));
            }
        }
        true
    });
    let mut out = Vec::new();
    for (call, how, func, deferred) in dropped {
        for t in &targets {
            let hit = match t {
                Target::Func(p, f) => cx.is_pkg_call(call, p, &[f.as_str()]),
                Target::Method(p, ty, m) => {
                    call.method_name() == Some(m.as_str())
                        && (cx.is_method_call(call, p, ty, &[m.as_str()]) || zap_config(cx, call, p, ty))
                }
            };
            if !hit {
                continue;
            }
            let (p, ty, m) = match t {
                Target::Func(p, f) => (p.as_str(), "", f.as_str()),
                Target::Method(p, ty, m) => (p.as_str(), ty.as_str(), m.as_str()),
            };
            // A bufio.Writer owned by a struct keeps its error (it is sticky) and
            // the owner usually reports it later (csv.Writer.Error, a final Flush).
            if p == "bufio" && m == "Flush" && call.receiver().is_some_and(|r| r.as_ident().is_none()) {
                continue;
            }
            // A type calling its own method on its receiver (bufio.Writer.Write
            // flushing itself) keeps the error in its own state and reports it
            // from the next call: that is the implementation, not a lost error.
            if on_own_receiver(cx, call) {
                continue;
            }
            if matches!(m, "Flush" | "Encode" | "Close") && p != "os" && wraps_std_stream(cx, call) {
                continue;
            }
            if p == "os" && ty == "File" && m == "Close" && (!opened_for_writing(cx, call, func) || closed_checked(cx, call)) {
                continue;
            }
            if m == "Close" && deferred && closed_checked(cx, call) {
                continue;
            }
            out.push((call.span, cx.file.text(call.fun.span()).to_string(), how, m.to_string()));
            break;
        }
    }
    for (span, name, how, m) in out {
        let why = match m.as_str() {
            "Close" | "Flush" | "Sync" => "buffered data that failed to reach its destination goes unnoticed",
            "Encode" => "a failed or partial write goes unnoticed",
            "Commit" => "a failed commit looks like success",
            "Scan" => "a failed scan leaves zero values that look like real data",
            "Shutdown" => "connections that were cut off go unnoticed",
            "Build" | "NewProduction" | "NewDevelopment" => "the logger is nil when construction fails",
            _ => "the server failing to start or stopping goes unnoticed",
        };
        let dropped_how = match how {
            How::Stmt => "is ignored",
            How::Defer => "is dropped by defer",
            How::Go => "is dropped by the go statement",
            How::Blank => "is assigned to _",
        };
        let fix = match (how, m.as_str()) {
            (How::Defer, "Close") => {
                "use a named error result and `defer func() { if cerr := f.Close(); cerr != nil && err == nil { err = cerr } }()`".to_string()
            }
            (How::Go, _) => "run it in a closure that logs or reports the error (ignore http.ErrServerClosed)".to_string(),
            _ => "check the error and return or log it".to_string(),
        };
        cx.report(span, format!("the error of `{name}()` {dropped_how}: {why}")).fix(fix);
    }
}

/// Whether `call` is `r.M()` where `r` is the receiver of the method it is in.
fn on_own_receiver<'a>(cx: &Checker<'a>, call: &'a CallExpr) -> bool {
    let Some(id) = call.receiver().and_then(|r| r.as_ident()) else { return false };
    let env = cx.env_at(id.span.start);
    let Some(decl) = env.resolve(id).map(|b| b.decl) else { return false };
    cx.file.ast.decls.iter().any(|d| match d {
        Decl::Func(f) if f.span.encloses(call.span) => {
            f.recv.as_ref().is_some_and(|r| r.names.iter().any(|n| n.span == decl))
        }
        _ => false,
    })
}

/// `cfg.Build()` where `cfg` comes from `zap.NewProductionConfig()`-style helpers.
fn zap_config<'a>(cx: &Checker<'a>, call: &'a CallExpr, p: &str, ty: &str) -> bool {
    if p != "go.uber.org/zap" || ty != "Config" {
        return false;
    }
    let Some(recv) = call.receiver() else { return false };
    let init = match recv.as_ident() {
        Some(id) => match cx.env_at(id.span.start).resolve(id).and_then(|b| b.init) {
            Some(i) => i,
            None => return false,
        },
        None => recv,
    };
    let Some(c) = init.as_call() else { return false };
    matches!(cx.pkg_member(&c.fun), Some(("go.uber.org/zap", n)) if n.ends_with("Config"))
}

/// Whether the receiver of `f.Close()` was opened for writing in the same function.
fn opened_for_writing<'a>(cx: &Checker<'a>, call: &'a CallExpr, func: Option<Func<'a>>) -> bool {
    let Some(id) = call.receiver().and_then(|r| r.as_ident()) else { return false };
    let env = cx.env_at(id.span.start);
    let Some(b) = env.resolve(id) else { return false };
    let decl = b.decl;
    let scope = b.scope;
    if func.and_then(|f| f.body()).is_none() {
        return false;
    }
    // Something must be written to it: a Write*/ReadFrom call, or the file handed
    // to another call (an encoder, io.Copy, fmt.Fprintf). A file created only to
    // reserve a name is closed harmlessly.
    let mut written = false;
    walk::walk_file(&cx.file.ast, &mut |n, _| {
        if written || !(n.span().encloses(scope) || scope.encloses(n.span())) {
            return false;
        }
        if let Node::Expr(Expr::Call(c)) = n {
            let on_it = |e: &Expr| e.as_ident().is_some_and(|x| x.name == id.name && env.resolve(x).is_some_and(|xb| xb.decl == decl));
            if c.args.iter().any(&on_it)
                || (c.receiver().is_some_and(on_it)
                    && c.method_name().is_some_and(|m| m.starts_with("Write") || m == "ReadFrom" || m == "Truncate"))
            {
                written = true;
            }
        }
        true
    });
    if !written {
        return false;
    }
    // The declaring or assigning `f, err := os.X(...)` / `f, err = os.X(...)` statements.
    let mut opens: Vec<&'a CallExpr> = Vec::new();
    walk::walk_file(&cx.file.ast, &mut |n, _| {
        if let Node::Stmt(Stmt::Assign(a)) = n {
            let names_it = a.lhs.first().and_then(|l| l.as_ident()).is_some_and(|l| {
                l.span == decl || (l.name == id.name && env.resolve(l).is_some_and(|lb| lb.decl == decl))
            });
            if names_it && a.rhs.len() == 1 {
                if let Some(c) = a.rhs[0].as_call() {
                    opens.push(c);
                }
            }
        }
        true
    });
    opens.into_iter().any(|c| {
        if cx.is_pkg_call(c, "os", &["Create", "CreateTemp"]) {
            return true;
        }
        if cx.is_pkg_call(c, "os", &["OpenFile"]) {
            if let Some(flags) = c.args.get(1) {
                let t = cx.file.text(flags.span());
                return ["O_WRONLY", "O_CREATE", "O_APPEND", "O_TRUNC"].iter().any(|w| t.contains(w));
            }
        }
        false
    })
}

/// Whether a dropped call is cleanup on a failure path: inside `if ... != nil`, or
/// followed in its block by a `return` of a non-nil value, a panic or an exit.
fn on_error_path(file: &pitfall_go::GoFile, stmt: &Stmt, anc: &[Node]) -> bool {
    let pos = stmt.span().start;
    let mut stmts: &[Stmt] = &[];
    for a in anc.iter().rev() {
        match a {
            Node::Block(b) => {
                stmts = &b.stmts;
                break;
            }
            Node::Case(c) => {
                stmts = &c.body;
                break;
            }
            Node::Comm(c) => {
                stmts = &c.body;
                break;
            }
            _ => {}
        }
    }
    let returns_error = enclosing_func(anc)
        .and_then(|f| f.ty().results.last())
        .is_some_and(|r| r.ty.ident_name() == Some("error"));
    let fails = stmts.iter().filter(|s| s.span().start > pos).any(|s| match s {
        Stmt::Return(r) => {
            returns_error
                && r.results.last().is_some_and(|x| match x.unparen() {
                    Expr::Ident(id) => id.name != "nil",
                    Expr::Call(c) => c.method_name().is_some_and(|n| n == "Errorf" || n == "New" || n.starts_with("Wrap")),
                    _ => false,
                })
        }
        Stmt::Expr(e) => e.as_call().and_then(|c| c.method_name()).is_some_and(|n| {
            n == "panic" || n.starts_with("Fatal") || n == "Exit" || n.starts_with("Panic")
        }),
        _ => false,
    });
    if fails {
        return true;
    }
    for a in anc.iter().rev() {
        if a.as_func().is_some() {
            break;
        }
        if let Node::Stmt(Stmt::If(i)) = a {
            if i.then.span.encloses(stmt.span()) && file.text(i.cond.span()).contains("!= nil") {
                return true;
            }
        }
    }
    false
}

/// Whether the function also closes the same file in a checked call (the
/// `defer f.Close()` safety net next to a final `return f.Close()`).
fn closed_checked<'a>(cx: &Checker<'a>, call: &'a CallExpr) -> bool {
    let Some(id) = call.receiver().and_then(|r| r.as_ident()) else { return false };
    let env = cx.env_at(id.span.start);
    // The same variable, not another one of the same name (`f` of each branch).
    let Some(decl) = env.resolve(id).map(|b| b.decl) else { return false };
    let same = |r: &'a Expr| r.as_ident().is_some_and(|x| x.name == id.name && env.resolve(x).is_some_and(|b| b.decl == decl));
    // The whole top-level function: a deferred closure's safety-net Close sits
    // in the closure, the checked one on the function's normal path.
    let Some(top) = cx.file.ast.decls.iter().find(|d| d.span().encloses(call.span)) else { return false };
    let Decl::Func(fd) = top else { return false };
    let Some(body) = fd.body.as_ref() else { return false };
    let mut found = false;
    walk::walk(Node::Block(body), &mut |n, anc| {
        if let Node::Expr(Expr::Call(c)) = n {
            if c.span != call.span && c.method_name() == Some("Close") && c.receiver().is_some_and(same) {
                let dropped = anc.last().is_some_and(|p| match p {
                    Node::Stmt(Stmt::Expr(_) | Stmt::Defer(_) | Stmt::Go(_)) => true,
                    Node::Stmt(Stmt::Assign(a)) => a.lhs.last().and_then(|l| l.as_ident()).is_some_and(|i| i.is_blank()),
                    _ => false,
                });
                if !dropped {
                    found = true;
                }
            }
        }
        !found
    });
    found
}

/// `w.Flush()` / `enc.Encode(v)` where `w`/`enc` wraps `os.Stdout` or `os.Stderr`
/// (a command's own output: there is nowhere left to report the failure).
fn wraps_std_stream<'a>(cx: &Checker<'a>, call: &'a CallExpr) -> bool {
    let Some(recv) = call.receiver() else { return false };
    let init = match recv.as_ident() {
        Some(id) => match cx.env_at(id.span.start).resolve(id).and_then(|b| b.init) {
            Some(i) => i,
            None => return false,
        },
        None => recv,
    };
    let Some(c) = init.as_call() else { return false };
    c.args.first().is_some_and(|a| {
        matches!(cx.pkg_member(a), Some(("os", "Stdout" | "Stderr"))) || in_memory(cx, a, 0)
    })
}

/// An in-memory writer (`*bytes.Buffer`, `*strings.Builder`), or a writer a
/// local was built over one with (`zw := gzip.NewWriter(&buf)`): its writes
/// cannot fail, so neither can an encoder's or compressor's over it.
fn in_memory<'a>(cx: &Checker<'a>, w: &'a Expr, depth: u32) -> bool {
    let t = cx.type_of(w);
    if t.is_named("bytes", "Buffer") || t.is_named("strings", "Builder") {
        return true;
    }
    let Some(id) = w.as_ident() else { return false };
    let env = cx.env_at(id.span.start);
    let Some(init) = env.resolve(id).and_then(|b| b.init).and_then(|i| i.as_call()) else {
        return false;
    };
    // Only writers that write nowhere but into their first argument:
    // compressors and buffers (`gzip.NewWriter`, `s2.NewWriter`,
    // `bufio.NewWriter`), not `io.MultiWriter(&buf, f)`.
    let wraps_only_arg = matches!(cx.pkg_member(&init.fun), Some((_, n)) if n.starts_with("NewWriter"));
    depth < 3 && wraps_only_arg && init.args.first().is_some_and(|a| in_memory(cx, a, depth + 1))
}
