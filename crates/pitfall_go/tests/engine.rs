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

/// Runs a reachability search from the call `a()` (or the entry) for the
/// calls `b()`..`h()`, stopping at `x()`, and renders what it found:
/// hit letters, then the flags that are set.
fn reach(body: &str, from: Option<char>, life_of: Option<&str>) -> String {
    use pitfall_go::engine::life::Life;
    use pitfall_go::engine::reach::{reach_from, From, Step};
    let mut out = String::new();
    with_cfg(body, |cfg, _| {
        let find = |name: &str| {
            cfg.blocks
                .iter()
                .flat_map(|b| &b.elems)
                .find_map(|e| match e {
                    Elem::Stmt(Stmt::Expr(x))
                        if x.as_call().and_then(|c| c.fun.ident_name()) == Some(name) =>
                    {
                        Some(e.span())
                    }
                    _ => None,
                })
        };
        let start = match from {
            Some(c) => From::After(find(&c.to_string()).expect("start call")),
            None => From::Entry,
        };
        // A life: the statement list of the block holding the named call.
        let life = life_of.map(|n| Life::of_decl(cfg, find(n).expect("life call")));
        let r = reach_from(cfg, start, life.as_ref(), &mut |e| match e {
            Elem::Stmt(Stmt::Expr(x)) => match x.as_call().and_then(|c| c.fun.ident_name()) {
                Some("x") => Step::Stop,
                Some(n) if n.len() == 1 && ("b"..="h").contains(&n) => Step::Hit,
                _ => Step::Pass,
            },
            _ => Step::Pass,
        });
        let mut hits: Vec<String> = r.hits.iter().map(|s| find_letter(cfg, *s)).collect();
        hits.sort();
        out = hits.join("");
        for (set, name) in [
            (r.again, "again"),
            (r.falls_off, "falls"),
            (r.returns, "returns"),
            (r.leaves, "leaves"),
            (r.jumps_out, "jumps"),
            (r.unknown, "unknown"),
        ] {
            if set {
                out.push(' ');
                out.push_str(name);
            }
        }
    });
    out
}

fn find_letter(cfg: &Cfg<'_>, span: Span) -> String {
    cfg.blocks
        .iter()
        .flat_map(|b| &b.elems)
        .find_map(|e| match e {
            Elem::Stmt(Stmt::Expr(x)) if e.span() == span => x
                .as_call()
                .and_then(|c| c.fun.ident_name())
                .map(str::to_string),
            _ => None,
        })
        .unwrap_or_default()
}

#[test]
fn reach_follows_every_path_and_says_how_paths_end() {
    // `x()` stops a path; past the `if`s, a return on one path, a hit on the other.
    assert_eq!(
        reach(
            "a()\nif p {\nx()\nb()\n}\nif q {\nreturn\n}\nd()\ne()",
            Some('a'),
            None
        ),
        "d returns"
    );
    // A hit ends its path: `c()` is only reached past `b()`.
    assert_eq!(reach("a()\nb()\nc()", Some('a'), None), "b");
    // Round a loop: the code before `a()` in the body, and `a()` itself again.
    assert_eq!(
        reach("for p {\ny()\na()\n}\nc()", Some('a'), None),
        "c again"
    );
    // Bounded by the loop body's life: going round falls out of it, a break jumps out.
    assert_eq!(
        reach(
            "for p {\na()\nif q {\nbreak\n}\ny()\n}\nc()",
            Some('a'),
            Some("y")
        ),
        " leaves jumps"
    );
    assert_eq!(
        reach(
            "for p {\na()\nif q {\nbreak\n}\nb()\n}\nc()",
            Some('a'),
            Some("b")
        ),
        "b jumps"
    );
    // A panic ends a path quietly; from the entry.
    assert_eq!(
        reach("if p {\npanic(1)\n}\nif q {\nb()\n}", None, None),
        "b falls"
    );
}

#[test]
fn dominance_and_taken_branches() {
    use pitfall_go::engine::reach::{dominates, reach_from, From, Step};
    with_cfg(
        "a()\nif p {\nb()\nreturn\n}\nc()\nif q {\nd()\n}\ne()",
        |cfg, _| {
            let at = |n: &str| {
                cfg.blocks
                    .iter()
                    .flat_map(|b| &b.elems)
                    .find(|e| find_letter(cfg, e.span()) == n)
                    .map(|e| e.span())
                    .unwrap()
            };
            assert!(dominates(cfg, at("a"), at("e")));
            assert!(dominates(cfg, at("c"), at("e")));
            assert!(!dominates(cfg, at("d"), at("e")), "d runs only when q");
            assert!(!dominates(cfg, at("b"), at("c")), "b's branch returns");
            // The `if p` branch never reaches c().
            let cond = cfg
                .blocks
                .iter()
                .flat_map(|b| &b.elems)
                .find_map(|e| match e {
                    Elem::Cond(c) => Some(c.span()),
                    _ => None,
                })
                .unwrap();
            let mut to_c = |e: &Elem<'_>| {
                if e.span() == at("c") {
                    Step::Hit
                } else {
                    Step::Pass
                }
            };
            assert!(reach_from(cfg, From::Taken(cond, true), None, &mut to_c)
                .hits
                .is_empty());
            assert_eq!(
                reach_from(cfg, From::Taken(cond, false), None, &mut to_c).hits,
                vec![at("c")]
            );
        },
    );
}
