//! Tests of the channel model in `pitfall_go::chans`.

use pitfall_go::ast::*;
use pitfall_go::chans::{local_chans, local_uses, touched_on_every_path, Cap, OpKind};
use pitfall_go::flow::Verdict;
use pitfall_go::index::{ProjectIndex, SourcePackage};
use pitfall_go::module::GoMod;
use pitfall_go::types::{Env, Scope};
use pitfall_go::walk::{walk_file, Node};
use pitfall_go::{parse_file, GoFile};
use std::sync::Arc;

fn parse(src: &str) -> GoFile {
    let f = parse_file("x.go", src.to_string()).expect("parses");
    assert_eq!(f.ast.syntax_errors, 0, "test source must parse:\n{src}");
    f
}

/// Runs `f` with the scope and environment of function `f` in `src`.
fn with_func<R>(src: &str, f: impl FnOnce(&GoFile, &Scope, &Env, &FuncDecl) -> R) -> R {
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
    let fd = file
        .ast
        .decls
        .iter()
        .find_map(|d| match d {
            Decl::Func(fd) if fd.name.name == "f" => Some(fd),
            _ => None,
        })
        .expect("func f");
    let env = Env::build(&sc, Node::FuncDecl(fd));
    f(file, &sc, &env, fd)
}

/// "name:cap" for each local channel of `f`.
fn chans(src: &str) -> Vec<String> {
    with_func(src, |_, sc, env, _| {
        local_chans(sc, env)
            .iter()
            .map(|c| {
                let cap = match c.cap {
                    Cap::Zero => "0".to_string(),
                    Cap::Known(n) => n.to_string(),
                    Cap::Dynamic(_) => "dyn".to_string(),
                };
                format!("{}:{cap}", c.name)
            })
            .collect()
    })
}

#[test]
fn channel_capacities() {
    let src = "package p\nconst n = 4\nfunc f(xs []int) {\n\ta := make(chan int)\n\tb := make(chan int, 0)\n\tc := make(chan int, n*2)\n\td := make(chan int, len(xs))\n\tvar e = make(chan struct{}, 1)\n\tm := make(map[int]int)\n\t_, _, _, _, _, _ = a, b, c, d, e, m\n}\n";
    assert_eq!(chans(src), ["a:0", "b:0", "c:8", "d:dyn", "e:1"]);
}

#[test]
fn a_shadowed_make_is_not_a_channel() {
    let src = "package p\nfunc f() {\n\tmake := func(x any) int { return 0 }\n\tc := make(chan int)\n\t_ = c\n}\n";
    assert!(chans(src).is_empty());
}

/// The ops on channel `name` of `f`: "kind@line" plus flags g (in a go
/// literal), s (select case), l (in a loop), d (deferred).
fn ops(src: &str, name: &str) -> (Vec<String>, Vec<String>, bool) {
    with_func(src, |file, sc, env, fd| {
        let ch = local_chans(sc, env)
            .into_iter()
            .find(|c| c.name == name)
            .expect("channel");
        let uses = local_uses(sc, env, Node::FuncDecl(fd), ch.decl);
        let show = |o: &pitfall_go::chans::Op| {
            let kind = match o.kind {
                OpKind::Send => "send",
                OpKind::Recv => "recv",
                OpKind::Range => "range",
                OpKind::Close => "close",
                OpKind::Inspect => "inspect",
                OpKind::Arg(_) => "arg",
                OpKind::Reassign => "reassign",
                OpKind::Other => "other",
            };
            let mut flags = String::new();
            if o.go.is_some() {
                flags.push('g');
            }
            if o.select.is_some() {
                flags.push('s');
            }
            if o.in_loop {
                flags.push('l');
            }
            if o.deferred {
                flags.push('d');
            }
            format!(
                "{kind}@{}{}",
                file.line_col(o.span.start).0,
                if flags.is_empty() {
                    String::new()
                } else {
                    format!(":{flags}")
                }
            )
        };
        let local = uses.ops.iter().map(show).collect();
        let callee = uses.callee_ops.iter().map(|c| show(&c.op)).collect();
        (local, callee, uses.escapes)
    })
}

#[test]
fn ops_in_the_function_and_its_goroutines() {
    let src = "package p
func f(n int) int {
	ch := make(chan int)
	go func() {
		defer close(ch)
		for i := 0; i < n; i++ {
			ch <- i
		}
	}()
	s := 0
	for v := range ch {
		s += v
	}
	select {
	case v := <-ch:
		s += v
	default:
	}
	_ = len(ch)
	return s
}
";
    let (local, callee, escapes) = ops(src, "ch");
    assert_eq!(
        local,
        [
            "close@5:gd",
            "send@7:gl",
            "range@11",
            "recv@15:s",
            "inspect@19"
        ]
    );
    assert!(callee.is_empty());
    assert!(!escapes);
}

#[test]
fn channels_are_followed_into_package_functions_and_methods() {
    let src = "package p
type T struct{}
func (t *T) drain(c <-chan int) {
	for range c {
	}
}
func produce(c chan<- int) {
	c <- 1
	close(c)
}
func f() {
	ch := make(chan int)
	go produce(ch)
	var t T
	t.drain(ch)
}
";
    let (local, callee, escapes) = ops(src, "ch");
    assert_eq!(local, ["arg@13:g", "arg@15"]);
    assert_eq!(callee, ["send@8", "close@9", "range@4"]);
    assert!(!escapes);
}

#[test]
fn a_channel_given_away_escapes() {
    let src = "package p
import \"os/signal\"
type S struct{ c chan int }
func f() *S {
	ch := make(chan int)
	signal.Notify(nil)
	s := &S{c: ch}
	return s
}
";
    let (_, _, escapes) = ops(src, "ch");
    assert!(escapes);
    let src2 = "package p
import \"os/signal\"
import \"os\"
func f() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt)
}
";
    let (_, _, escapes) = ops(src2, "ch");
    assert!(escapes, "passed to another package");
}

#[test]
fn touched_on_every_path_names_the_exit_that_is_not() {
    let src = "package p
import \"time\"
func f() int {
	ch := make(chan int)
	go func() { ch <- 1 }()
	select {
	case v := <-ch:
		return v
	case <-time.After(time.Second):
		return 0
	}
}
";
    with_func(src, |file, _, _, fd| {
        let body = fd.body.as_ref().unwrap();
        let go = &body.stmts[1];
        let Stmt::Assign(a) = &body.stmts[0] else {
            panic!("ch := make(...)")
        };
        match touched_on_every_path(body, go, "ch", a.lhs[0].span()) {
            Verdict::Leaks(l) => assert_eq!(file.line_col(l.span.start).0, 10),
            v => panic!("{v:?}"),
        }
    });
}

/// A channel made per iteration: a path that goes round the loop without
/// touching it leaves the channel's scope (the next iteration makes another),
/// and a `goto` back is followed like any jump.
#[test]
fn touched_on_every_path_follows_loops_and_jumps_on_the_engine() {
    let src = "package p
func cond() bool { return true }
func f(quit chan struct{}) {
	for {
		res := make(chan int)
		go func() { res <- 1 }()
		if cond() {
			continue
		}
		select {
		case <-quit:
			return
		case <-res:
		}
	}
}
func g() int {
	ch := make(chan int)
	go func() { ch <- 1 }()
again:
	if cond() {
		goto again
	}
	return <-ch
}
";
    {
        let file = &parse(src);
        let fds: Vec<&FuncDecl> = file
            .ast
            .decls
            .iter()
            .filter_map(|d| match d {
                Decl::Func(fd) => Some(fd),
                _ => None,
            })
            .collect();
        // f: the `continue` at line 8 skips the receive.
        let f = fds.iter().find(|d| d.name.name == "f").unwrap();
        let Stmt::For(lp) = &f.body.as_ref().unwrap().stmts[0] else {
            panic!("for")
        };
        let Stmt::Assign(a) = &lp.body.stmts[0] else {
            panic!("res := make(...)")
        };
        match touched_on_every_path(
            f.body.as_ref().unwrap(),
            &lp.body.stmts[1],
            "res",
            a.lhs[0].span(),
        ) {
            Verdict::Leaks(l) => assert_eq!(file.line_col(l.span.start).0, 8),
            v => panic!("{v:?}"),
        }
        // g: every path, the goto loop included, ends in the receive.
        let g = fds.iter().find(|d| d.name.name == "g").unwrap();
        let body = g.body.as_ref().unwrap();
        let Stmt::Assign(a) = &body.stmts[0] else {
            panic!("ch := make(...)")
        };
        assert!(matches!(
            touched_on_every_path(body, &body.stmts[1], "ch", a.lhs[0].span()),
            Verdict::Released
        ));
    }
}

#[test]
fn generated_functions_with_many_channels_are_left_alone() {
    let mut src = String::from("package p\nfunc f() {\n");
    for i in 0..100 {
        src.push_str(&format!("\tc{i} := make(chan int)\n\t_ = c{i}\n"));
    }
    src.push_str("}\n");
    assert!(chans(&src).is_empty());
}
