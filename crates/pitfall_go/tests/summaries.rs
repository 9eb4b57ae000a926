//! Lock summaries shared by the files of a package: a file reads what
//! another file already summarized, and the answers are the ones a file
//! computing everything itself gets, whichever file comes first (recursive
//! calls, whose summaries a cut shapes, are never shared).

use pitfall_go::ast::*;
use pitfall_go::index::{ProjectIndex, SourcePackage};
use pitfall_go::locks::Summaries;
use pitfall_go::module::GoMod;
use pitfall_go::types::{Env, Scope};
use pitfall_go::walk::{walk, Node};
use std::sync::Arc;

const A: &str = r#"package p

import "sync"

type S struct {
	mu    sync.Mutex
	other sync.Mutex
}

func (s *S) put() {
	s.mu.Lock()
	s.helper()
	s.mu.Unlock()
}

func (s *S) ping(n int) {
	s.mu.Lock()
	s.pong(n)
	s.mu.Unlock()
}

func viaChain(s *S) { c1(s) }
"#;

const B: &str = r#"package p

func (s *S) both() {
	s.mu.Lock()
	s.pong(1)
	c5(s)
	s.mu.Unlock()
}

func (s *S) helper() {
	s.other.Lock()
	defer s.other.Unlock()
}

func (s *S) pong(n int) {
	if n > 0 {
		s.ping(n - 1)
	}
	s.other.Lock()
}

func c1(s *S) { c2(s) }
func c2(s *S) { c3(s) }
func c3(s *S) { c4(s) }
func c4(s *S) { c5(s) }
func c5(s *S) { c6(s) }
func c6(s *S) { c7(s) }
func c7(s *S) { c8(s) }
func c8(s *S) { c9(s) }
func c9(s *S) { s.helper(); s.mu.Lock() }
"#;

// In b.go, `both` summarizes c5 first, with nothing cut (it is shared); a.go
// reaches c5 five calls deep, where following it to c9 crosses the depth
// limit: the shared summary must not stand in for that cut one.

/// Every call of `file` classified with `sums`: "line: key op" per operation.
fn classify_all<'a>(idx: &'a ProjectIndex<'a>, fi: usize, sums: &Summaries<'a>) -> Vec<String> {
    let pkg = &idx.packages[0];
    let file = &pkg.files()[fi];
    let sc = Scope {
        project: idx,
        pkg,
        file,
    };
    let mut out = Vec::new();
    for decl in &file.ast.decls {
        let Decl::Func(fd) = decl else { continue };
        let env = Env::build(&sc, Node::FuncDecl(fd));
        walk(Node::FuncDecl(fd), &mut |n, _| {
            if let Node::Expr(Expr::Call(c)) = n {
                if let Some(op) = sums.classify(&sc, &env, c) {
                    let also: Vec<String> = op
                        .also
                        .iter()
                        .map(|o| format!("{}:{:?}", o.key, o.op))
                        .collect();
                    out.push(format!(
                        "{}: {} {:?} transient={} also={also:?}",
                        file.line_col(c.span.start).0,
                        op.key,
                        op.op,
                        op.transient
                    ));
                }
            }
            true
        });
    }
    out
}

fn package() -> Vec<SourcePackage> {
    vec![SourcePackage {
        dir: "p".into(),
        name: "p".into(),
        import_path: "example.com/p".into(),
        gomod: Arc::new(GoMod::default()),
        files: vec![
            pitfall_go::parse_file("p/a.go", A).unwrap(),
            pitfall_go::parse_file("p/b.go", B).unwrap(),
        ],
    }]
}

#[test]
fn shared_summaries_answer_what_each_file_computes_alone() {
    // Alone: a fresh memo per file, as before sharing.
    let src = package();
    let idx = ProjectIndex::new(&src);
    let alone: Vec<Vec<String>> = (0..2)
        .map(|fi| classify_all(&idx, fi, &Summaries::default()))
        .collect();
    assert!(
        alone[0].iter().any(|l| l.contains("s.other")),
        "{:?}",
        alone[0]
    );
    assert!(!alone[1].is_empty());

    for order in [[0, 1], [1, 0]] {
        let src = package();
        let idx = ProjectIndex::new(&src);
        let pkg = &idx.packages[0];
        let mut got = vec![Vec::new(), Vec::new()];
        for fi in order {
            got[fi] = classify_all(&idx, fi, &Summaries::shared(pkg, &idx));
        }
        assert_eq!(got, alone, "files in order {order:?}");
    }
}
