//! What a package keeps of its dependencies once they are checked: their
//! skeletons (declarations and types, no bodies), and the import graph that
//! run-wide facts read.

use pitfall_go::index::{ImportGraph, Package, ProjectIndex, SourcePackage};
use pitfall_go::module::GoMod;
use std::sync::Arc;

const LIB: &str = r#"package lib

import (
	"net/http"
	"sync"
)

// Store holds orders.
type Store struct {
	mu    sync.Mutex
	items map[string]int
}

type Handler func(http.ResponseWriter, *http.Request)

const Limit = 10

var Default = &Store{items: map[string]int{"a": 1, "b": 2}}

var wrapped = wrap(func() int {
	total := 0
	for i := 0; i < Limit; i++ {
		total += i
	}
	return total
})

func wrap(f func() int) int { return f() }

func New() *Store {
	s := &Store{items: map[string]int{}}
	go func() { s.mu.Lock(); s.mu.Unlock() }()
	return s
}

func (s *Store) Put(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items[k]++
}

func Serve(srv *http.Server) error { return srv.Shutdown(nil) }
"#;

fn source(dir: &str, name: &str, path: &str, files: &[(&str, &str)]) -> SourcePackage {
    SourcePackage {
        dir: dir.into(),
        name: name.into(),
        import_path: path.into(),
        gomod: Arc::new(GoMod::default()),
        files: files
            .iter()
            .map(|(p, src)| pitfall_go::parse_file(p, *src).unwrap())
            .collect(),
    }
}

fn names<V>(m: &std::collections::HashMap<&str, V>) -> Vec<String> {
    let mut v: Vec<String> = m.keys().map(|k| k.to_string()).collect();
    v.sort();
    v
}

#[test]
fn a_skeleton_declares_what_the_package_declares_without_bodies() {
    let whole = source("lib", "lib", "example.com/lib", &[("lib/lib.go", LIB)]);
    let skel = source("lib", "lib", "example.com/lib", &[("lib/lib.go", LIB)]).into_skeleton();
    let (w, s) = (Package::new(&whole), Package::new(&skel));
    assert_eq!(names(&w.types), names(&s.types));
    assert_eq!(names(&w.funcs), names(&s.funcs));
    assert_eq!(names(&w.vars), names(&s.vars));
    let mut wm: Vec<_> = w.methods.keys().collect();
    let mut sm: Vec<_> = s.methods.keys().collect();
    wm.sort();
    sm.sort();
    assert_eq!(wm, sm);
    assert_eq!(names(&s.funcs), ["New", "Serve", "wrap"]);

    // Signatures stay, bodies go.
    let new = s.funcs["New"].decl;
    assert!(new.body.is_none() && !new.ty.results.is_empty());
    assert!(s.methods.values().all(|m| m.decl.body.is_none()));
    assert!(w.funcs["New"].decl.body.is_some());
    // An initializer keeps its type, not its contents.
    let default = &s.vars["Default"];
    let lit = match &default.spec.values[0] {
        pitfall_go::ast::Expr::Unary(u) => match &u.x {
            pitfall_go::ast::Expr::CompositeLit(c) => c,
            e => panic!("{e:?}"),
        },
        e => panic!("{e:?}"),
    };
    assert!(lit.ty.is_some() && lit.elts.is_empty());
    let wrapped = &s.vars["wrapped"].spec.values[0];
    let pitfall_go::ast::Expr::Call(c) = wrapped else {
        panic!("{wrapped:?}")
    };
    let pitfall_go::ast::Expr::FuncLit(f) = &c.args[0] else {
        panic!("{:?}", c.args[0])
    };
    assert!(f.body.stmts.is_empty() && !f.ty.results.is_empty());
    assert!(skel.files[0].ast.comments.is_empty());
}

#[test]
fn the_import_graph_follows_non_test_imports() {
    let sources = vec![
        source("lib", "lib", "example.com/lib", &[("lib/lib.go", LIB)]),
        source(
            "lib",
            "lib_test",
            "example.com/lib",
            &[(
                "lib/x_test.go",
                "package lib_test\n\nimport \"example.com/lib\"\n\nvar _ = lib.Limit\n",
            )],
        ),
        source(
            "api",
            "api",
            "example.com/api",
            &[
                (
                    "api/api.go",
                    "package api\n\nimport \"example.com/lib\"\n\nvar S = lib.New()\n",
                ),
                (
                    "api/api_test.go",
                    "package api\n\nimport \"example.com/util\"\n\nvar _ = util.X\n",
                ),
            ],
        ),
        source(
            "util",
            "util",
            "example.com/util",
            &[(
                "util/u.go",
                "package util\n\n// srv.Shutdown(ctx) in a comment\nvar X = 1\n",
            )],
        ),
        source(
            "cmd",
            "main",
            "example.com/cmd",
            &[(
                "cmd/main.go",
                "package main\n\nimport _ \"example.com/api\"\n\nfunc main() {}\n",
            )],
        ),
    ];
    let g = ImportGraph::of_sources(&sources);
    assert_eq!(
        g.lookup("example.com/lib"),
        Some(0),
        "the package, not its _test"
    );
    let mut reached: Vec<&str> = g
        .reachable_from(4)
        .into_iter()
        .map(|i| g.packages()[i].import_path.as_str())
        .collect();
    reached.sort();
    assert_eq!(
        reached,
        ["example.com/api", "example.com/cmd", "example.com/lib"]
    );
    let stops: Vec<bool> = g.packages().iter().map(|p| p.stops_servers).collect();
    assert_eq!(stops, [true, false, false, false, false]);
    // The index built from the trees reads the same graph.
    let index = ProjectIndex::new(&sources);
    assert_eq!(index.graph().packages().len(), 5);
    assert_eq!(index.graph().packages()[2].imports, ["example.com/lib"]);
}
