//! Tests of the shared CFG and dataflow solver in `pitfall_go::engine`.

use pitfall_go::ast::*;
use pitfall_go::engine::cfg::{Elem, Jump, EXIT};
use pitfall_go::engine::{build, forward, Analysis, Cfg};
use pitfall_go::parse_file;

fn with_cfg(body: &str, f: impl FnOnce(&Cfg<'_>, &pitfall_go::GoFile)) {
    let src = format!("package p\n\nfunc f() {{\n{body}\n}}\n");
    let file = parse_file("x.go", src).expect("parses");
    assert_eq!(file.ast.syntax_errors, 0, "test source must parse:\n{body}");
    let Decl::Func(fd) = &file.ast.decls[0] else {
        panic!()
    };
    let cfg = build(fd.body.as_ref().unwrap());
    f(&cfg, &file);
}

/// Which of the calls `a()`..`h()` may have run before each `return` / the end:
/// a bitset per exit, as "line:letters" strings (lines from the line after `func`).
struct Seen<'f> {
    file: &'f pitfall_go::GoFile,
    exits: Vec<String>,
}

fn letter(e: &Expr) -> Option<u8> {
    let c = e.as_call()?;
    let n = c.fun.ident_name()?;
    (n.len() == 1 && ("a"..="h").contains(&n)).then(|| n.as_bytes()[0] - b'a')
}

impl<'a> Analysis<'a> for Seen<'_> {
    type State = u16; // bit 8: reached at all
    fn bottom(&self) -> u16 {
        0
    }
    fn join(&self, into: &mut u16, other: &u16) {
        *into |= *other;
    }
    fn transfer(&mut self, e: &Elem<'a>, st: u16) -> u16 {
        match e {
            Elem::Stmt(Stmt::Expr(x)) | &Elem::Expr(x) => match letter(x) {
                Some(i) => st | (1 << i),
                None => st,
            },
            Elem::Stmt(Stmt::Return(r)) => {
                let (line, _) = self.file.line_col(r.span.start);
                self.exits.push(format!("{}:{}", line - 3, letters(st)));
                st
            }
            _ => st,
        }
    }
}

fn letters(st: u16) -> String {
    (0..8)
        .filter(|i| st & (1 << i) != 0)
        .map(|i| (b'a' + i as u8) as char)
        .collect()
}

/// Runs [`Seen`] and returns the return-site facts plus the state at the end.
fn seen(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    with_cfg(body, |cfg, file| {
        let mut an = Seen {
            file,
            exits: Vec::new(),
        };
        let sol = forward(cfg, &mut an, (0, 0), 1 << 8);
        assert!(sol.converged);
        // Later visits see larger states: keep the last fact per line.
        let mut by_line: Vec<(String, String)> = Vec::new();
        for e in an.exits {
            let (l, s) = e.split_once(':').unwrap();
            match by_line.iter_mut().find(|x| x.0 == l) {
                Some(x) => x.1 = s.to_string(),
                None => by_line.push((l.to_string(), s.to_string())),
            }
        }
        by_line.sort();
        out = by_line
            .into_iter()
            .map(|(l, s)| format!("{l}:{s}"))
            .collect();
    });
    out
}

#[test]
fn sequence_and_branches() {
    assert_eq!(
        seen("a()\nif x {\nb()\nreturn\n}\nc()\nreturn"),
        vec!["4:ab", "7:ac"]
    );
}

#[test]
fn loops_reach_a_fixed_point_without_a_cap() {
    // Ten nested loops: facts from the innermost body flow back to the head.
    let mut body = String::new();
    for _ in 0..10 {
        body.push_str("for x {\n");
    }
    body.push_str("if y {\nreturn\n}\nb()\n");
    for _ in 0..10 {
        body.push_str("}\n");
    }
    body.push_str("return");
    let got = seen(&body);
    assert_eq!(got, vec!["12:b", "25:b"]);
}

#[test]
fn labelled_break_and_continue_reach_their_targets() {
    let body = "outer:\nfor x {\nfor y {\nif z {\na()\ncontinue outer\n}\nif w {\nb()\nbreak outer\n}\nc()\nbreak\n}\nreturn\n}\nreturn";
    // Line 15 (`return` inside the outer loop) is reached after the inner
    // `break` (c) and, via `continue outer`, on later iterations (a); line 17
    // after `break outer` (b) or the outer loop ending (a from `continue
    // outer`), never after c: that path returns at line 15.
    assert_eq!(seen(body), vec!["15:ac", "17:ab"]);
}

#[test]
fn goto_and_fallthrough_are_edges() {
    let body = "a()\ngoto done\nb()\ndone:\nc()\nswitch {\ncase x:\nd()\nfallthrough\ncase y:\nreturn\n}\nreturn";
    // b() is unreachable; d() reaches the second case through fallthrough,
    // and never the statement after the switch.
    assert_eq!(seen(body), vec!["11:acd", "13:ac"]);
}

#[test]
fn switch_cases_are_tested_in_order() {
    // Each clause's expressions run only when the earlier ones failed, and
    // `default` (wherever it is written) only when all of them failed.
    let body =
        "switch {\ndefault:\nreturn\ncase a():\nreturn\ncase b(), c():\nreturn\n}\nd()\nreturn";
    assert_eq!(seen(body), vec!["3:abc", "5:a", "7:abc"]);
    let body = "switch e() {\ncase a():\nreturn\ncase b():\nreturn\n}\nreturn";
    assert_eq!(seen(body), vec!["3:ae", "5:abe", "7:abe"]);
}

#[test]
fn select_clauses_and_terminators() {
    let body =
        "select {\ncase <-ch:\na()\ncase v := <-ch2:\n_ = v\npanic(v)\ndefault:\nb()\n}\nreturn";
    // The panicking clause never reaches the return.
    assert_eq!(seen(body), vec!["10:ab"]);
    with_cfg("select {}\na()", |cfg, _| {
        // Nothing after `select {}` is reachable.
        let reach = cfg.reachable();
        assert!(!reach[EXIT]);
    });
}

#[test]
fn jumps_are_recorded_on_edges_and_scopes_on_blocks() {
    with_cfg("for {\nif x {\nbreak\n}\n}\nreturn", |cfg, _| {
        let mut jumps: Vec<&str> = cfg
            .blocks
            .iter()
            .flat_map(|b| b.succs.iter())
            .filter_map(|e| e.jump)
            .map(|j| match j {
                Jump::Branch(_) => "branch",
                Jump::Return(_) => "return",
            })
            .collect();
        jumps.sort();
        assert_eq!(jumps, vec!["branch", "return"]);
        // The `break` block's scope is the if's then-block, not the function body.
        let brk = cfg
            .blocks
            .iter()
            .find(|b| {
                b.succs
                    .iter()
                    .any(|e| matches!(e.jump, Some(Jump::Branch(_))))
            })
            .unwrap();
        assert!(brk.scope != cfg.body.span);
    });
}
