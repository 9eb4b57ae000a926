//! Tests of the mutex path engine in `pitfall_go::locks`, with a syntactic
//! classifier (`mu.Lock()` ... on identifiers named `mu*`) so that no type
//! inference is involved.

use pitfall_go::ast::*;
use pitfall_go::locks::{self, MutexOp, Op};
use pitfall_go::parse_file;

fn classify(c: &CallExpr) -> Option<MutexOp<'_>> {
    let Expr::Selector(s) = c.fun.unparen() else {
        return None;
    };
    let key = s.x.dotted_name().filter(|k| k.starts_with("mu"))?;
    let op = match s.sel.name.as_str() {
        "Lock" => Op::Lock,
        "RLock" => Op::RLock,
        "Unlock" => Op::Unlock,
        "RUnlock" => Op::RUnlock,
        "TryLock" => Op::TryLock,
        _ => return None,
    };
    Some(MutexOp {
        key,
        op,
        via: None,
        transient: false,
        class: None,
        also: Vec::new(),
    })
}

/// Traces `mu` through `body`; renders each exit as "<line>:<state>" where the
/// state is "held" (on every path, no defer), "deferred", "free" or "mixed",
/// and each acquisition as "L<line>:held" when the mutex is already held on
/// every path reaching it. Lines count from the line after `func`; the end of
/// the body is the line after the last statement.
fn render(body: &str) -> String {
    let src = format!("package p\n\nfunc f() {{\n{body}\n}}\n");
    let file = parse_file("x.go", src).expect("parses");
    assert_eq!(file.ast.syntax_errors, 0, "test source must parse:\n{body}");
    let Decl::Func(fd) = &file.ast.decls[0] else {
        panic!()
    };
    let fbody = fd.body.as_ref().unwrap();
    let t = locks::trace(fbody, "mu", &classify);
    if t.unknown {
        return "unknown".into();
    }
    let line = |s: Span| file.line_col(s.start).0 - 3;
    let mut out = Vec::new();
    for (span, _, _, st) in &t.acquires {
        if locks::always_held(*st) {
            out.push(format!("L{}:held", line(*span)));
        }
    }
    for (span, st) in &t.exits {
        let what = if locks::always_held_undeferred(*st) {
            "held"
        } else if locks::always_held(*st) {
            "deferred"
        } else if *st == 1 || *st == 2 {
            "free"
        } else {
            "mixed"
        };
        out.push(format!("{}:{what}", line(*span)));
    }
    out.join(" ")
}

#[test]
fn early_return_leaves_it_held() {
    let body = "mu.Lock()\nif x {\nreturn\n}\nmu.Unlock()";
    assert_eq!(render(body), "3:held 6:free");
}

#[test]
fn defer_unlock_covers_every_exit() {
    let body = "mu.Lock()\ndefer mu.Unlock()\nif x {\nreturn\n}";
    assert_eq!(render(body), "4:deferred 6:deferred");
}

#[test]
fn deferred_closure_counts() {
    let body = "mu.Lock()\ndefer func() {\nmu.Unlock()\n}()\nreturn";
    assert_eq!(render(body), "5:deferred");
}

#[test]
fn second_lock_while_held() {
    let body = "mu.Lock()\nmu.Lock()\nmu.Unlock()";
    assert_eq!(render(body), "L2:held 4:free");
}

#[test]
fn conditional_lock_is_not_always_held() {
    let body = "if x {\nmu.Lock()\n}\nmu.Lock()\nmu.Unlock()";
    assert_eq!(render(body), "6:free");
}

#[test]
fn try_lock_splits_the_branches() {
    let body = "if !mu.TryLock() {\nreturn\n}\nmu.Unlock()";
    assert_eq!(render(body), "2:free 5:free");
}

#[test]
fn lock_per_iteration_is_free_at_the_top() {
    let body = "for _, v := range xs {\nmu.Lock()\n_ = v\nmu.Unlock()\n}";
    assert_eq!(render(body), "6:free");
}

#[test]
fn continue_with_the_lock_held_reaches_the_next_lock_on_some_paths() {
    let body = "for _, v := range xs {\nmu.Lock()\nif v {\ncontinue\n}\nmu.Unlock()\n}";
    assert_eq!(render(body), "8:mixed");
}

#[test]
fn panic_ends_the_path() {
    let body = "mu.Lock()\nif x {\npanic(1)\n}\nmu.Unlock()";
    assert_eq!(render(body), "6:free");
}

#[test]
fn goto_is_followed_by_the_engine() {
    let body = "mu.Lock()\ngoto end\nend:\nmu.Unlock()";
    assert_eq!(render(body), "5:free");
    let body = "mu.Lock()\nif x {\ngoto out\n}\nmu.Unlock()\nreturn\nout:\nreturn";
    assert_eq!(render(body), "6:free 8:held");
}

#[test]
fn entered_with_the_lock_held_when_it_unlocks_first() {
    // Runs with mu held: unlocks, calls out, locks again before returning.
    let body = "mu.Unlock()\ncall()\nmu.Lock()\nif x {\nreturn\n}";
    assert_eq!(render(body), "5:held 7:held");
    // A loop that unlocks around a call and relocks: still entered held.
    let body = "for _, v := range xs {\nmu.Unlock()\ncall(v)\nmu.Lock()\n}\nif x {\nreturn\n}";
    assert_eq!(render(body), "7:held 9:held");
    // Unlock after a lock on every path: a normal function.
    let body = "mu.Lock()\nmu.Unlock()";
    assert_eq!(render(body), "3:free");
}

#[test]
fn breaks_carry_their_state() {
    let src = "package p\n\nfunc f() {\nfor {\nmu.Lock()\nif x {\nbreak\n}\nmu.Unlock()\n}\n}\n";
    let file = parse_file("x.go", src.to_string()).unwrap();
    let Decl::Func(fd) = &file.ast.decls[0] else {
        panic!()
    };
    let t = locks::trace(fd.body.as_ref().unwrap(), "mu", &classify);
    assert_eq!(t.breaks.len(), 1);
    assert!(locks::always_held_undeferred(t.breaks[0].1));
}

#[test]
fn early_return_shape() {
    let src = "package p\n\nfunc f() {\nmu.Lock()\nif x {\nreturn\n}\nmu.Unlock()\nreturn\n}\n";
    let file = parse_file("x.go", src.to_string()).unwrap();
    let Decl::Func(fd) = &file.ast.decls[0] else {
        panic!()
    };
    let body = fd.body.as_ref().unwrap();
    let lock = body.stmts[0].span();
    let Stmt::If(i) = &body.stmts[1] else {
        panic!()
    };
    let early = i.then.stmts[0].span();
    let last = body.stmts[3].span();
    assert!(locks::is_early_return(body, lock, early));
    assert!(!locks::is_early_return(body, lock, last));
}
