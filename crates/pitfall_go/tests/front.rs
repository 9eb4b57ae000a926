//! Tests of the Go front end: lowering, name resolution and type inference.

use pitfall_go::ast::*;
use pitfall_go::index::{ProjectIndex, SourcePackage};
use pitfall_go::module::GoMod;
use pitfall_go::types::{Env, Scope, Ty};
use pitfall_go::walk::{walk_file, Node};
use pitfall_go::{parse_file, GoFile};
use std::sync::Arc;

fn parse(src: &str) -> GoFile {
    parse_file("x.go", src.to_string()).expect("parses")
}

fn func<'a>(f: &'a GoFile, name: &str) -> &'a FuncDecl {
    f.ast
        .decls
        .iter()
        .find_map(|d| match d {
            Decl::Func(fd) if fd.name.name == name => Some(fd),
            _ => None,
        })
        .expect("function exists")
}

#[test]
fn lowers_declarations_and_imports() {
    let f = parse(
        "package p\n\nimport (\n\tstdio \"io\"\n\t_ \"net/http/pprof\"\n\t\"math/rand/v2\"\n\t\"gopkg.in/yaml.v3\"\n)\n\n\
         type T[K comparable] struct {\n\ta, b int\n\t*Embedded\n\tname string `json:\"n\"`\n}\n\n\
         func (t *T[K]) M(x int, ys ...string) (n int, err error) { return }\n",
    );
    assert_eq!(f.ast.package.as_ref().unwrap().name, "p");
    assert_eq!(f.import_path("stdio"), Some("io"));
    assert_eq!(f.import_path("rand"), Some("math/rand/v2"));
    assert_eq!(f.import_path("yaml"), Some("gopkg.in/yaml.v3"));
    assert_eq!(f.import_path("pprof"), None, "blank imports bind no name");
    assert!(f.imports("net/http/pprof"));
    let m = func(&f, "M");
    assert_eq!(m.recv_type_name(), Some("T"));
    assert_eq!(m.ty.params.len(), 2);
    assert!(m.ty.params[1].variadic);
    assert_eq!(m.ty.results.len(), 2);
    let Decl::Gen(g) = &f.ast.decls[0] else {
        panic!()
    };
    let Spec::Type(ts) = &g.specs[0] else {
        panic!()
    };
    assert_eq!(ts.type_params.len(), 1);
    let Expr::StructType(st) = &ts.ty else {
        panic!()
    };
    assert_eq!(st.fields.len(), 3);
    assert!(
        matches!(st.fields[1].ty, Expr::Star(_)),
        "embedded pointer keeps its star"
    );
    assert_eq!(st.fields[2].tag.as_deref(), Some("`json:\"n\"`"));
    assert_eq!(f.ast.syntax_errors, 0);
}

#[test]
fn lowers_statements() {
    let f = parse(
        "package p\n\nfunc f(ch chan int, m map[string]int) {\nouter:\n\tfor i := 0; i < 3; i++ {\n\t\tselect {\n\t\tcase v, ok := <-ch:\n\t\t\t_, _ = v, ok\n\t\tcase ch <- 1:\n\t\t\tbreak outer\n\t\tdefault:\n\t\t}\n\t}\n\tfor k, v := range m {\n\t\t_, _ = k, v\n\t}\n\tswitch x := any(1).(type) {\n\tcase int, string:\n\t\t_ = x\n\t}\n\tgo func() {}()\n\tdefer close(ch)\n}\n",
    );
    let body = func(&f, "f").body.as_ref().unwrap();
    let Stmt::Labeled(l) = &body.stmts[0] else {
        panic!("{:?}", body.stmts[0])
    };
    let Stmt::For(fs) = &l.stmt else { panic!() };
    assert!(fs.init.is_some() && fs.cond.is_some() && fs.post.is_some());
    let Stmt::Select(sel) = &fs.body.stmts[0] else {
        panic!()
    };
    assert_eq!(sel.cases.len(), 3);
    assert!(
        matches!(&sel.cases[0].comm, Some(Stmt::Assign(a)) if a.is_define() && a.lhs.len() == 2)
    );
    assert!(matches!(&sel.cases[1].comm, Some(Stmt::Send(_))));
    assert!(sel.cases[2].comm.is_none());
    let Stmt::Range(r) = &body.stmts[1] else {
        panic!()
    };
    assert!(r.define && r.key.is_some() && r.value.is_some());
    let Stmt::TypeSwitch(ts) = &body.stmts[2] else {
        panic!()
    };
    assert_eq!(ts.bind.as_ref().unwrap().name, "x");
    assert_eq!(ts.cases[0].list.len(), 2);
    assert!(matches!(body.stmts[3], Stmt::Go(_)));
    assert!(matches!(body.stmts[4], Stmt::Defer(_)));
}

#[test]
fn index_and_instantiation_share_one_shape() {
    let f =
        parse("package p\n\nfunc f(a, b []int, i int) int { return a[b[i]] + Max[int](1, 2) }\n");
    let body = func(&f, "f").body.as_ref().unwrap();
    let Stmt::Return(r) = &body.stmts[0] else {
        panic!()
    };
    let Expr::Binary(bin) = &r.results[0] else {
        panic!()
    };
    assert!(matches!(&bin.x, Expr::Index(_)));
    let Expr::Call(c) = &bin.y else { panic!() };
    assert!(matches!(&c.fun, Expr::Index(_)));
}

#[test]
fn broken_code_keeps_the_rest_of_the_file() {
    let f = parse("package p\n\nfunc broken() {\n\tx := (\n}\n\nfunc fine() { println(1) }\n");
    assert!(f.ast.syntax_errors > 0);
    assert!(f
        .ast
        .decls
        .iter()
        .any(|d| matches!(d, Decl::Func(fd) if fd.name.name == "fine")));
}

#[test]
fn deep_nesting_is_cut_not_overflowed() {
    // Run where the CLI runs parsing: on a worker with a large stack.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| {
            let depth = 50_000;
            let src = format!(
                "package p\n\nvar x = {}1{}\n\nfunc after() {{ println(1) }}\n",
                "(".repeat(depth),
                ")".repeat(depth)
            );
            let f = parse_file("deep.go", src).expect("still a file");
            assert!(f.ast.too_deep);
            assert!(f
                .ast
                .decls
                .iter()
                .any(|d| matches!(d, Decl::Func(fd) if fd.name.name == "after")));
            // Walking the cut tree is bounded too.
            let mut nodes = 0;
            walk_file(&f.ast, &mut |_, _| {
                nodes += 1;
                true
            });
            assert!(nodes > pitfall_go::MAX_NESTING / 2);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn generated_marker() {
    assert!(pitfall_go::is_generated(
        "// Code generated by protoc-gen-go. DO NOT EDIT.\n\npackage p\n"
    ));
    assert!(!pitfall_go::is_generated(
        "package p\n\n// Code generated by x. DO NOT EDIT.\n"
    ));
    assert!(!pitfall_go::is_generated(
        "// Code generated by hand\npackage p\n"
    ));
}

#[test]
fn build_ignore_marker() {
    assert!(pitfall_go::is_build_ignored(
        "//go:build ignore\n\npackage main\n"
    ));
    assert!(pitfall_go::is_build_ignored(
        "// Copyright\n\n//go:build linux && ignore\n\npackage main\n"
    ));
    assert!(!pitfall_go::is_build_ignored(
        "//go:build linux\n\npackage p\n"
    ));
    assert!(!pitfall_go::is_build_ignored(
        "//go:build ignored_tag\npackage p\n"
    ));
    assert!(!pitfall_go::is_build_ignored(
        "package p\n\n//go:build ignore\n"
    ));
}

fn with_env<R>(src: &str, f: impl FnOnce(&GoFile, &Scope, &Env, &FuncDecl) -> R) -> R {
    let pkg = SourcePackage {
        dir: ".".into(),
        name: "p".into(),
        import_path: "example.com/p".into(),
        gomod: Arc::new(GoMod::default()),
        files: vec![parse(src)],
    };
    let pkgs = [pkg];
    let index = ProjectIndex::new(&pkgs);
    let p = &index.packages[0];
    let file = &p.files()[0];
    let sc = Scope {
        project: &index,
        pkg: p,
        file,
    };
    let fd = func(file, "f");
    let env = Env::build(&sc, Node::FuncDecl(fd));
    f(file, &sc, &env, fd)
}

/// The type of the last expression statement... of the ident `name` at its last use.
fn type_at<'a>(file: &'a GoFile, sc: &Scope<'a>, env: &Env<'a>, name: &str) -> Ty<'a> {
    let mut last = None;
    walk_file(&file.ast, &mut |n, _| {
        if let Node::Expr(e @ Expr::Ident(id)) = n {
            if id.name == name {
                last = Some(e);
            }
        }
        true
    });
    env.type_of(sc, last.expect("ident used"))
}

#[test]
fn infers_types_from_declarations() {
    let src = "package p\n\nimport (\n\t\"fmt\"\n\t\"net/http\"\n\tstdio \"io\"\n)\n\n\
        type Name string\n\ntype Order struct {\n\tID   Name\n\tReq  *http.Request\n}\n\n\
        func label() string { return \"x\" }\n\n\
        func f(w http.ResponseWriter, r *http.Request, orders []Order) {\n\
        \ts := fmt.Sprintf(\"%d\", 1)\n\tl := label()\n\tn := 0\n\tvar b []byte\n\tbody, err := stdio.ReadAll(r.Body)\n\
        \tfor _, o := range orders {\n\t\tid := o.ID\n\t\treq := o.Req\n\t\t_, _ = id, req\n\t}\n\
        \tm := map[string]Order{}\n\tp := &Order{}\n\tif n := \"shadow\"; true {\n\t\t_ = n\n\t}\n\
        \t_, _, _, _, _, _, _, _, _ = s, l, n, b, body, err, m, p, w\n}\n";
    with_env(src, |file, sc, env, _| {
        assert_eq!(type_at(file, sc, env, "s"), Ty::Basic("string"));
        assert_eq!(type_at(file, sc, env, "l"), Ty::Basic("string"));
        assert_eq!(
            type_at(file, sc, env, "n"),
            Ty::Basic("int"),
            "the outer n, not the if-scoped one"
        );
        assert_eq!(
            type_at(file, sc, env, "b"),
            Ty::Slice(Box::new(Ty::Basic("byte")))
        );
        assert_eq!(
            type_at(file, sc, env, "body"),
            Ty::Slice(Box::new(Ty::Basic("byte")))
        );
        assert_eq!(type_at(file, sc, env, "err"), Ty::Basic("error"));
        assert_eq!(
            type_at(file, sc, env, "id"),
            Ty::Named("example.com/p", "Name")
        );
        assert!(
            sc.is_string(&type_at(file, sc, env, "id")),
            "Name is a string type"
        );
        assert!(type_at(file, sc, env, "req").is_named("net/http", "Request"));
        assert!(type_at(file, sc, env, "w").is_named("net/http", "ResponseWriter"));
        assert!(matches!(type_at(file, sc, env, "m"), Ty::Map(..)));
        assert!(type_at(file, sc, env, "p").is_named("example.com/p", "Order"));
    });
}

#[test]
fn local_variables_shadow_imports() {
    let src = "package p\n\nimport \"io\"\n\nfunc f() {\n\tio.ReadAll(nil)\n\t{\n\t\tio := fake{}\n\t\tio.ReadAll(nil)\n\t}\n}\n";
    with_env(src, |file, _sc, env, _| {
        let mut seen = Vec::new();
        walk_file(&file.ast, &mut |n, _| {
            if let Node::Expr(Expr::Call(c)) = n {
                seen.push(
                    env.pkg_member(file, &c.fun)
                        .map(|(p, n)| format!("{p}.{n}")),
                );
            }
            true
        });
        assert_eq!(seen, vec![Some("io.ReadAll".to_string()), None]);
    });
}

#[test]
fn large_environments_resolve_like_small_ones() {
    // More locals than an environment scans before it indexes names: the
    // innermost visible declaration still wins, the later of two `err`
    // declarations is the one seen after both, and a type switch's name has
    // each case's type.
    let mut body = String::new();
    for i in 0..100 {
        body.push_str(&format!("\tv{i} := {i}\n"));
    }
    let src = format!(
        "package p\n\nimport \"strconv\"\n\nfunc f(x any) {{\n{body}\
         \ts := \"outer\"\n\tn, err := strconv.Atoi(s)\n\tm, err := strconv.Atoi(s)\n\
         \tif s := 1.5; true {{\n\t\t_ = s\n\t}}\n\
         \tswitch t := x.(type) {{\n\tcase int:\n\t\t_ = t\n\tcase string:\n\t\t_ = t\n\t}}\n\
         \t_, _, _, _, _ = s, n, m, err, v99\n}}\n"
    );
    with_env(&src, |file, sc, env, _| {
        assert!(env.bindings().len() > 100, "past the scanning limit");
        assert_eq!(type_at(file, sc, env, "s"), Ty::Basic("string"));
        assert_eq!(type_at(file, sc, env, "v99"), Ty::Basic("int"));
        // `err` at its last use: the later of its two declarations.
        let second = src.rfind("err := strconv").expect("second declaration") as u32;
        let last_err = src.rfind("err, v99").expect("last use") as u32;
        assert_eq!(
            env.lookup("err", last_err).map(|b| b.decl.start),
            Some(second),
            "m, err := ... declares err at its own position"
        );
        let uses: Vec<&Ident> = {
            let mut v = Vec::new();
            walk_file(&file.ast, &mut |n, _| {
                if let Node::Expr(Expr::Ident(id)) = n {
                    if id.name == "s" || id.name == "t" {
                        v.push(id);
                    }
                }
                true
            });
            v
        };
        let types: Vec<String> = uses
            .iter()
            .filter_map(|id| env.resolve(id))
            .map(|b| format!("{}:{:?}", b.name, b.ty))
            .collect();
        assert!(
            types.contains(&"s:Basic(\"float64\")".to_string()),
            "{types:?}"
        );
        assert!(types.contains(&"t:Basic(\"int\")".to_string()), "{types:?}");
        assert!(
            types.contains(&"t:Basic(\"string\")".to_string()),
            "{types:?}"
        );
    });
}
