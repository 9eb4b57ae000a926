//! Tests of the path analysis in `pitfall_go::flow`.

use pitfall_go::ast::*;
use pitfall_go::flow::{analyze, is_method_on, ExitKind, Policy, Resource, Verdict};
use pitfall_go::parse_file;
use pitfall_go::walk::{walk_file, Node};

/// Wraps `body` in a function, tracks `resp` from its first `resp, err := ...`
/// (or `resp := ...`), and renders the verdict as "ok", "unknown" or
/// "leak <line> <kind>" (line numbers count from the line after `func`).
fn verdict(body: &str) -> String {
    verdict_with(body, false)
}

/// Like [`verdict`]; with `drains`, a loop ending on `resp.Next()` releases it.
fn verdict_with(body: &str, drains: bool) -> String {
    let src = format!("package p\n\nfunc f() error {{\n{body}\n}}\n");
    let file = parse_file("x.go", src).expect("parses");
    assert_eq!(file.ast.syntax_errors, 0, "test source must parse:\n{body}");
    let Decl::Func(fd) = &file.ast.decls[0] else {
        panic!()
    };
    let fbody = fd.body.as_ref().unwrap();
    let mut def: Option<&Stmt> = None;
    let mut err = None;
    walk_file(&file.ast, &mut |n, _| {
        if def.is_some() {
            return false;
        }
        if let Node::Stmt(s @ Stmt::Assign(a)) = n {
            if a.is_define() && a.lhs[0].ident_name() == Some("resp") {
                def = Some(s);
                err = a.lhs.get(1).and_then(|e| e.ident_name());
            }
        }
        !matches!(n, Node::Expr(Expr::FuncLit(_)))
    });
    let def = def.expect("a `resp :=` statement");
    let res = Resource {
        var: "resp",
        err,
        fields: &["Body"],
    };
    let releases = |c: &CallExpr| is_method_on(c, "resp", &["Body"], &["Close"]);
    let borrows = |c: &CallExpr| {
        matches!(
            c.fun.dotted_name().as_deref(),
            Some("io.ReadAll" | "io.Copy" | "json.NewDecoder" | "log.Printf")
        )
    };
    let all = |_: &ReturnStmt| true;
    let exhausted = |e: &Expr| {
        drains
            && e.as_call()
                .is_some_and(|c| is_method_on(c, "resp", &[], &["Next"]))
    };
    let policy = Policy {
        releases: &releases,
        borrows: &borrows,
        return_matters: &all,
        scope_exits: true,
        exhausted_by: &exhausted,
    };
    match analyze(fbody, def, &res, &policy) {
        Verdict::Released => "ok".into(),
        Verdict::Unknown => "unknown".into(),
        Verdict::Leaks(l) => {
            let (line, _) = file.line_col(l.span.start);
            let kind = match l.kind {
                ExitKind::Return => "return",
                ExitKind::EndOfFunction => "end",
                ExitKind::EndOfScope => "scope",
                ExitKind::Branch => "branch",
                ExitKind::Overwritten => "overwritten",
            };
            format!("leak {} {kind}", line - 3)
        }
    }
}

#[test]
fn sequence_and_defer() {
    assert_eq!(verdict("resp, err := get()\nif err != nil {\nreturn err\n}\ndefer resp.Body.Close()\nreturn nil"), "ok");
    assert_eq!(verdict("resp, err := get()\nif err != nil {\nreturn err\n}\nuse(resp.StatusCode)\nresp.Body.Close()\nreturn nil"), "ok");
    assert_eq!(
        verdict(
            "resp, err := get()\nif err != nil {\nreturn err\n}\nuse(resp.StatusCode)\nreturn nil"
        ),
        "leak 6 return"
    );
    assert_eq!(
        verdict("resp, err := get()\nif err != nil {\nreturn err\n}\nuse(resp.StatusCode)"),
        "leak 6 end"
    );
}

#[test]
fn deferred_closure_and_goroutine_capture() {
    assert_eq!(verdict("resp, err := get()\nif err != nil {\nreturn err\n}\ndefer func() {\n_ = resp.Body.Close()\n}()\nreturn nil"), "ok");
    assert_eq!(verdict("resp, err := get()\nif err != nil {\nreturn err\n}\ngo func() {\nconsume(resp)\n}()\nreturn nil"), "ok");
    assert_eq!(verdict("resp, _ := get()\ncleanup := func() { resp.Body.Close() }\ndefer cleanup()\nreturn nil"), "ok");
}

#[test]
fn ownership_moves() {
    assert_eq!(
        verdict("resp, err := get()\nif err != nil {\nreturn err\n}\nreturn handle(resp)"),
        "ok"
    );
    assert_eq!(
        verdict("resp, err := get()\nif err != nil {\nreturn err\n}\ndrain(resp.Body)\nreturn nil"),
        "ok"
    );
    assert_eq!(
        verdict("resp, err := get()\nif err != nil {\nreturn err\n}\nholder.r = resp\nreturn nil"),
        "ok"
    );
    assert_eq!(
        verdict("resp, err := get()\nif err != nil {\nreturn err\n}\nch <- resp\nreturn nil"),
        "ok"
    );
    assert_eq!(verdict("resp, err := get()\nif err != nil {\nreturn err\n}\nx := &wrap{body: resp.Body}\nreturn x.run()"), "ok");
    // Borrowing callees keep the resource here.
    assert_eq!(verdict("resp, err := get()\nif err != nil {\nreturn err\n}\n_, err = io.ReadAll(resp.Body)\nreturn err"), "leak 6 return");
    // Reading a plain field moves nothing.
    assert_eq!(
        verdict(
            "resp, err := get()\nif err != nil {\nreturn err\n}\nreport(resp.Status)\nreturn nil"
        ),
        "leak 6 return"
    );
}

#[test]
fn if_without_and_with_else() {
    let src = "resp, err := get()\nif err != nil {\nreturn err\n}\nif resp.StatusCode != 200 {\nreturn errBad\n}\nresp.Body.Close()\nreturn nil";
    assert_eq!(verdict(src), "leak 6 return");
    let src = "resp, err := get()\nif err != nil {\nreturn err\n}\nif resp.StatusCode != 200 {\nresp.Body.Close()\nreturn errBad\n} else {\nresp.Body.Close()\n}\nreturn nil";
    assert_eq!(verdict(src), "ok");
    let src = "resp, err := get()\nif err != nil {\nreturn err\n}\nif ok {\nresp.Body.Close()\n} else {\nlog(1)\n}\nreturn nil";
    assert_eq!(verdict(src), "leak 10 return");
}

#[test]
fn error_check_idiom() {
    // The error variable reassigned: a later `err != nil` says nothing about resp.
    let src = "resp, err := get()\nif err != nil {\nreturn err\n}\nbody, err := io.ReadAll(resp.Body)\nif err != nil {\nreturn err\n}\nresp.Body.Close()\nuse(body)\nreturn nil";
    assert_eq!(verdict(src), "leak 7 return");
    assert_eq!(
        verdict("resp, err := get()\nif err == nil {\ndefer resp.Body.Close()\n}\nreturn err"),
        "ok"
    );
    assert_eq!(
        verdict("resp, err := get()\nif resp != nil {\ndefer resp.Body.Close()\n}\nreturn err"),
        "ok"
    );
    assert_eq!(verdict("resp, err := get()\nif err != nil || resp == nil {\nreturn err\n}\nresp.Body.Close()\nreturn nil"), "ok");
    assert_eq!(verdict("resp, err := get()\nif err != nil && retry {\nreturn err\n}\nresp.Body.Close()\nreturn nil"), "ok");
    assert_eq!(verdict("resp, err := get()\nswitch {\ncase err != nil:\nreturn err\ncase resp.StatusCode == 404:\nreturn nil\n}\nresp.Body.Close()\nreturn nil"), "leak 6 return");
}

#[test]
fn switch_and_select() {
    let src = "resp, err := get()\nif err != nil {\nreturn err\n}\nswitch resp.StatusCode {\ncase 200:\nresp.Body.Close()\ndefault:\nresp.Body.Close()\nreturn errBad\n}\nreturn nil";
    assert_eq!(verdict(src), "ok");
    let src = "resp, err := get()\nif err != nil {\nreturn err\n}\nswitch resp.StatusCode {\ncase 200:\nresp.Body.Close()\n}\nreturn nil";
    assert_eq!(verdict(src), "leak 9 return");
    let src = "resp, err := get()\nif err != nil {\nreturn err\n}\nselect {\ncase <-ctx.Done():\nreturn ctx.Err()\ncase out <- resp:\n}\nreturn nil";
    assert_eq!(verdict(src), "leak 7 return");
}

#[test]
fn loops() {
    // The body may run zero times.
    let src = "resp, err := get()\nif err != nil {\nreturn err\n}\nfor _, x := range xs {\nresp.Body.Close()\n_ = x\n}\nreturn nil";
    assert_eq!(verdict(src), "leak 9 return");
    // Acquired per iteration, not closed before `continue`.
    let src = "for _, u := range urls {\nresp, err := get(u)\nif err != nil {\ncontinue\n}\nif resp.StatusCode != 200 {\ncontinue\n}\nresp.Body.Close()\n}\nreturn nil";
    assert_eq!(verdict(src), "leak 7 branch");
    let src = "for _, u := range urls {\nresp, err := get(u)\nif err != nil {\ncontinue\n}\nuse(resp.StatusCode)\n}\nreturn nil";
    assert_eq!(verdict(src), "leak 7 scope");
    let src = "resp, err := get()\nif err != nil {\nreturn err\n}\nfor {\nif done() {\nbreak\n}\n}\nresp.Body.Close()\nreturn nil";
    assert_eq!(verdict(src), "ok");
    let src = "resp, err := get()\nif err != nil {\nreturn err\n}\nfor i := 0; i < 3; i++ {\nif i == 2 {\nreturn errX\n}\n}\nresp.Body.Close()\nreturn nil";
    assert_eq!(verdict(src), "leak 7 return");
    let src = "resp, err := get()\nif err != nil {\nreturn err\n}\nouter:\nfor {\nfor {\nbreak outer\n}\n}\nresp.Body.Close()\nreturn nil";
    assert_eq!(verdict(src), "ok");
}

#[test]
fn terminators_end_paths_quietly() {
    assert_eq!(verdict("resp, err := get()\nif err != nil {\nreturn err\n}\nif resp.StatusCode != 200 {\npanic(\"bad\")\n}\nresp.Body.Close()\nreturn nil"), "ok");
    assert_eq!(verdict("resp, err := get()\nif err != nil {\nreturn err\n}\nif resp.StatusCode != 200 {\nlog.Fatalf(\"bad\")\n}\nresp.Body.Close()\nreturn nil"), "ok");
    assert_eq!(verdict("resp, err := get()\nif err != nil {\nreturn err\n}\nif resp.StatusCode != 200 {\nos.Exit(1)\n}\nresp.Body.Close()\nreturn nil"), "ok");
}

#[test]
fn unknown_constructs_stay_silent() {
    assert_eq!(verdict("resp, err := get()\nif err != nil {\nreturn err\n}\nif x {\ngoto out\n}\nresp.Body.Close()\nout:\nreturn nil"), "unknown");
    assert_eq!(verdict("resp, err := get()\nif err != nil {\nreturn err\n}\nif x {\nresp := other()\nuse(resp)\n}\nresp.Body.Close()\nreturn nil"), "unknown");
}

#[test]
fn overwriting_the_open_variable_leaks() {
    // The first response is lost when the variable takes the second one.
    assert_eq!(verdict("resp, err := get()\nif err != nil {\nreturn err\n}\nresp, err = get()\nresp.Body.Close()\nreturn nil"), "leak 5 overwritten");
    // Closed first, or handed off by the right side: no leak.
    assert_eq!(verdict("resp, err := get()\nif err != nil {\nreturn err\n}\nresp.Body.Close()\nresp, err = get()\nreturn nil"), "ok");
    assert_eq!(
        verdict(
            "resp, err := get()\nif err != nil {\nreturn err\n}\nresp = wrap(resp)\nreturn nil"
        ),
        "ok"
    );
}

#[test]
fn drained_iterators_release_themselves() {
    let src = "resp, err := query()\nif err != nil {\nreturn err\n}\nfor resp.Next() {\nif bad() {\nreturn errX\n}\n}\nreturn nil";
    assert_eq!(verdict_with(src, true), "leak 7 return");
    let src = "resp, err := query()\nif err != nil {\nreturn err\n}\nfor resp.Next() {\nscan(1)\n}\nreturn nil";
    assert_eq!(verdict_with(src, true), "ok");
    assert_eq!(verdict_with(src, false), "leak 8 return");
    let src = "resp, err := query()\nif err != nil {\nreturn err\n}\nif !resp.Next() {\nreturn errEmpty\n}\nreturn nil";
    // Not on the `!resp.Next()` return (drained there), but on the last one.
    assert_eq!(verdict_with(src, true), "leak 8 return");
}

#[test]
fn labeled_continue_and_type_switch() {
    let src = "outer:\nfor _, u := range urls {\nresp, err := get(u)\nif err != nil {\ncontinue\n}\nfor _, h := range hs {\nif h == \"\" {\ncontinue outer\n}\n}\nresp.Body.Close()\n}\nreturn nil";
    assert_eq!(verdict(src), "leak 9 branch");
    let src = "resp, err := get()\nif err != nil {\nreturn err\n}\nswitch v := x.(type) {\ncase int:\nresp.Body.Close()\n_ = v\ndefault:\nresp.Body.Close()\n}\nreturn nil";
    assert_eq!(verdict(src), "ok");
}
