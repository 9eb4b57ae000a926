//! Flags strings grown with `+=` (or `s = s + x`) inside loops.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "string-concat-in-loop",
    category: Category::Performance,
    severity: Severity::Warning,
    summary: "String built with += in a loop (quadratic copying)",
    reports_on: "the `+=` (or `s = s + ...`) statement",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
A string variable that grows inside a `for` loop with `s += x` or `s = s + x`,
where the variable is provably a string (declared `string`, a string parameter,
or initialised from a string literal or a string-returning call such as
`fmt.Sprintf`, `strings.Join`, `strconv.Itoa` or a function of the same package)
and is declared outside the innermost loop around the statement.
Left alone, because the cost is bounded or off the hot path: loops bounded by
a small constant (`for i := 0; i < 8; i++`, `for range 4`, a literal table),
loops over variadic arguments, a statement followed by `break`/`return`, a
variable reset at the top of each iteration, `String`/`Error` methods and
`...String` helpers (display code), branches under `if debug...`/`verbose`,
messages built on the way to `panic`/`Fatal`/`errors.New`/`fmt.Errorf`, and
`_test.go` code other than benchmarks. One finding per variable and function.
The finding is reported on the `+=` (or `s = s + ...`) statement.

## Why it matters in production
Go strings are immutable: every `+=` allocates a new string and copies all
bytes built so far. Growing a string over n iterations copies O(n²) bytes and
leaves n garbage strings for the collector. A report over 10 000 rows that
takes milliseconds in a test turns into seconds of CPU and GC pressure under
real traffic.

## Bad
```go
func renderCSV(rows []Row) string {
	out := "id,name\n"
	for _, r := range rows {
		out += strconv.Itoa(r.ID) + "," + r.Name + "\n"
	}
	return out
}
```

## Good
```go
func renderCSV(rows []Row) string {
	var b strings.Builder
	b.WriteString("id,name\n")
	for _, r := range rows {
		b.WriteString(strconv.Itoa(r.ID))
		b.WriteByte(',')
		b.WriteString(r.Name)
		b.WriteByte('\n')
	}
	return b.String()
}
```

## How to fix
Use a `strings.Builder` (call `Grow` when the final size is known), write with
`fmt.Fprintf(&b, ...)` instead of `Sprintf`, or collect the parts in a
`[]string` and call `strings.Join` once after the loop.

## How to suppress
`//nolint:string-concat-in-loop // reason` on the line, or on its own line before the
statement/function; `//nolint:performance` for the whole category; see `pitfall rule`.
"#,
    check: Check::Go(check),
};

/// Loops that run at most this many times (by a constant bound) cost too
/// little to matter, however their bodies build strings.
const SMALL_LOOP: u64 = 64;

fn check(cx: &mut Checker) {
    let file = cx.file;
    let mut hits: Vec<(Span, String)> = Vec::new();
    let mut seen: Vec<(Span, String)> = Vec::new();
    walk::walk_file(&file.ast, &mut |n, anc| {
        let Node::Stmt(stmt @ Stmt::Assign(a)) = n else { return true };
        let Some(var) = grown_string_var(a) else { return true };
        let Some(inner) = enclosing_loop(anc) else { return true };
        if !on_hot_path(cx, anc) {
            return true;
        }
        if !is_string_var(cx, var) {
            return true;
        }
        let decl = declaration_of(cx, var);
        // Every loop between the declaration and the statement repeats the copy.
        let loops = loops_since(anc, decl);
        if loops.is_empty() || loops.iter().all(|l| is_small_loop(cx, l)) {
            return true;
        }
        if reset_before_in(inner, stmt, &var.name)
            || leaves_loop_after(stmt, anc)
            || in_debug_branch(anc)
            || ends_in_failure(cx, anc, &loops, &var.name)
        {
            return true;
        }
        // One finding per variable and function: the first statement that
        // grows it (the fix, a Builder, covers every loop at once).
        let func_span = walk::enclosing_func(anc).map(|f| f.span()).unwrap_or(inner.span());
        let key = (func_span, var.name.to_string());
        if !seen.contains(&key) {
            seen.push(key);
            hits.push((stmt.span(), var.name.to_string()));
        }
        true
    });
    for (span, name) in hits {
        cx.report(span, format!("string `{name}` grows with + inside a loop: every iteration copies all of it again"))
            .fix(format!("build it with a strings.Builder (`b.WriteString(...)`) and take `b.String()` after the loop, or collect the parts and strings.Join them; `{name}` copies O(n²) bytes today"));
    }
}

/// Where quadratic building can cost something: not in tests (benchmarks
/// excepted), not in display methods (`String`, `GoString`, `Error`,
/// `fooString`), whose input is one value's few parts and whose output is read
/// by people, and not in a loop over a variadic parameter (written out at the
/// call site).
fn on_hot_path(cx: &Checker, anc: &[Node]) -> bool {
    let Some(top) = anc.iter().find_map(|n| match n {
        Node::FuncDecl(f) => Some(*f),
        _ => None,
    }) else {
        return true;
    };
    let name = top.name.name.as_str();
    if cx.file.is_test && !name.starts_with("Benchmark") {
        return false;
    }
    if name == "Error" || name.ends_with("String") || name.ends_with("string") {
        return false;
    }
    let variadic: Vec<&str> = top
        .ty
        .params
        .iter()
        .filter(|f| f.variadic)
        .flat_map(|f| f.names.iter().map(|n| n.name.as_str()))
        .collect();
    let loop_over_variadic = anc.iter().rev().take_while(|n| n.as_func().is_none()).any(|n| {
        matches!(n, Node::Stmt(Stmt::Range(r)) if r.x.ident_name().is_some_and(|x| variadic.contains(&x)))
    });
    !loop_over_variadic
}

/// `s` in `s += x` or `s = s + x` (`s` as the leftmost operand of the sum).
fn grown_string_var(a: &AssignStmt) -> Option<&Ident> {
    let [lhs] = a.lhs.as_slice() else { return None };
    let var = lhs.as_ident()?;
    if var.is_blank() {
        return None;
    }
    match a.op {
        "+=" => Some(var),
        "=" => {
            let [rhs] = a.rhs.as_slice() else { return None };
            let mut e = rhs.unparen();
            while let Expr::Binary(b) = e {
                if b.op != "+" {
                    return None;
                }
                e = b.x.unparen();
            }
            (e.ident_name() == Some(var.name.as_str()) && !std::ptr::eq(e, rhs.unparen())).then_some(var)
        }
        _ => None,
    }
}

/// Whether the variable is provably a string: a declared string type, or
/// initialised from a string literal or a call known to return a string.
fn is_string_var(cx: &Checker, var: &Ident) -> bool {
    let env = cx.env_at(var.span.start);
    let ty = match env.resolve(var) {
        Some(b) => b.ty.clone(),
        None => {
            // A package-level variable of this package.
            let Some(def) = cx.pkg.vars.get(var.name.as_str()) else { return false };
            if def.is_const {
                return false;
            }
            match &def.spec.ty {
                Some(t) => cx.scope().type_expr(t),
                None => return false,
            }
        }
    };
    cx.scope().is_string(&ty)
}

/// Where the variable is declared: a local's declaring identifier, or `None`
/// for a package-level variable (declared outside every loop).
fn declaration_of(cx: &Checker, var: &Ident) -> Option<Span> {
    cx.env_at(var.span.start).resolve(var).map(|b| b.decl)
}

/// The loops enclosing the statement (innermost last, same function only) that
/// do not also enclose the declaration's per-iteration scope: each of them
/// repeats the statement on the same variable.
fn loops_since<'a>(anc: &[Node<'a>], decl: Option<Span>) -> Vec<&'a Stmt> {
    let mut out = Vec::new();
    for n in anc.iter().rev() {
        if n.as_func().is_some() {
            break;
        }
        let Some(stmt) = n.as_stmt() else { continue };
        let declared_inside = decl.is_some_and(|d| match stmt {
            // A variable of the init clause lives across iterations.
            Stmt::For(f) => f.body.span.encloses(d),
            // Range variables are assigned afresh each iteration.
            Stmt::Range(r) => r.span.encloses(d),
            _ => false,
        });
        if declared_inside {
            break;
        }
        if matches!(stmt, Stmt::For(_) | Stmt::Range(_)) {
            out.push(stmt);
        }
    }
    out
}

/// `for i := 0; i < 8; i++`, `for range 8`, or a range over a short literal or
/// a small array: the loop runs a bounded, small number of times.
fn is_small_loop<'a>(cx: &Checker<'a>, l: &'a Stmt) -> bool {
    let small = |e: &'a Expr| small_constant(cx, e).is_some_and(|n| n <= SMALL_LOOP);
    match l {
        Stmt::For(f) => {
            let Some(Expr::Binary(c)) = f.cond.as_ref().map(|c| c.unparen()) else { return false };
            let Some(Stmt::IncDec(inc)) = &f.post else { return false };
            let Some(i) = inc.x.ident_name() else { return false };
            match c.op {
                "<" | "<=" => inc.inc && c.x.ident_name() == Some(i) && small(&c.y),
                ">" | ">=" => inc.inc && c.y.ident_name() == Some(i) && small(&c.x),
                _ => false,
            }
        }
        Stmt::Range(r) => match r.x.unparen() {
            Expr::BasicLit(l) if l.kind == LitKind::String => {
                l.string_value().is_some_and(|s| s.len() as u64 <= SMALL_LOOP)
            }
            x if small(x) => true,
            x if literal_table_len(cx, x).is_some_and(|n| n <= SMALL_LOOP) => true,
            x => match cx.type_of(x) {
                Ty::Array(Some(n), _) => n <= SMALL_LOOP,
                _ => false,
            },
        },
        _ => false,
    }
}

/// A constant integer, or a local initialised from one and never reassigned
/// (`last := 7`).
fn small_constant<'a>(cx: &Checker<'a>, e: &'a Expr) -> Option<u64> {
    if let Some(n) = cx.scope().const_int(e) {
        return Some(n);
    }
    let id = e.as_ident()?;
    let env = cx.env_at(id.span.start);
    let b = env.resolve(id)?;
    let n = cx.scope().const_int(b.init?)?;
    let func = cx.file.ast.decls.iter().find(|d| d.span().encloses(b.decl))?;
    let Decl::Func(fd) = func else { return None };
    (!assigned_after_decl(fd.body.as_ref()?, &id.name, b.decl)).then_some(n)
}

fn assigned_after_decl(body: &Block, name: &str, decl: Span) -> bool {
    let mut found = false;
    walk::walk(Node::Block(body), &mut |n, _| {
        match n {
            Node::Stmt(Stmt::Assign(a)) => {
                found |= a.lhs.iter().any(|l| l.as_ident().is_some_and(|i| i.name == name && i.span != decl));
            }
            Node::Stmt(Stmt::IncDec(i)) => found |= i.x.ident_name() == Some(name),
            Node::Expr(Expr::Unary(u)) if u.op == "&" => found |= u.x.ident_name() == Some(name),
            _ => {}
        }
        !found
    });
    found
}

/// The number of elements of a composite literal ranged over directly or
/// through the variable it initialises (a fixed table).
fn literal_table_len<'a>(cx: &Checker<'a>, x: &'a Expr) -> Option<u64> {
    let lit = match x.unparen() {
        Expr::CompositeLit(c) => c,
        Expr::Ident(id) => {
            let init = match cx.env_at(id.span.start).resolve(id) {
                Some(b) => {
                    // A local table must not grow after its literal.
                    let func = cx.file.ast.decls.iter().find(|d| d.span().encloses(b.decl))?;
                    let Decl::Func(fd) = func else { return None };
                    if assigned_after_decl(fd.body.as_ref()?, &id.name, b.decl) {
                        return None;
                    }
                    b.init?
                }
                None => {
                    let d = cx.pkg.vars.get(id.name.as_str())?;
                    d.spec.values.get(d.index)?
                }
            };
            match init.unparen() {
                Expr::CompositeLit(c) => c,
                _ => return None,
            }
        }
        _ => return None,
    };
    Some(lit.elts.len() as u64)
}

/// Code under `if debug... {` / `if verbose {` only runs when someone is
/// looking at its output.
fn in_debug_branch(anc: &[Node]) -> bool {
    anc.iter().any(|n| match n {
        Node::Stmt(Stmt::If(i)) => {
            let mut debug = false;
            walk::walk(Node::Expr(&i.cond), &mut |n, _| {
                let name = match n {
                    Node::Expr(Expr::Ident(id)) => Some(&id.name),
                    Node::Expr(Expr::Selector(s)) => Some(&s.sel.name),
                    _ => None,
                };
                if let Some(name) = name {
                    let lower = name.to_ascii_lowercase();
                    debug |= lower.contains("debug") || lower.contains("verbose") || lower.contains("trace");
                }
                !debug
            });
            debug
        }
        _ => false,
    })
}

/// Whether the string, once built, is only handed to a failure: the first
/// statement after the outermost loop that mentions it panics, exits or
/// builds an error. Such loops run once, on the way out.
fn ends_in_failure<'a>(cx: &Checker<'a>, anc: &[Node<'a>], loops: &[&'a Stmt], name: &str) -> bool {
    let Some(outer) = loops.last() else { return false };
    let Some(pos) = anc.iter().position(|n| matches!(n, Node::Stmt(s) if std::ptr::eq(*s, *outer))) else {
        return false;
    };
    let stmts = match pos.checked_sub(1).map(|i| anc[i]) {
        Some(Node::Block(b)) => b.stmts.as_slice(),
        Some(Node::Case(c)) => c.body.as_slice(),
        Some(Node::Comm(c)) => c.body.as_slice(),
        _ => return false,
    };
    let Some(at) = stmts.iter().position(|s| std::ptr::eq(s, *outer)) else { return false };
    let Some(next) = stmts[at + 1..].iter().find(|s| mentions_stmt(s, name)) else { return false };
    let mut failure = false;
    walk::walk(Node::Stmt(next), &mut |n, _| {
        if let Node::Expr(Expr::Call(c)) = n {
            let callee = c.method_name().unwrap_or("");
            let is_failure = matches!(callee, "panic" | "Fatal" | "Fatalf" | "Panic" | "Panicf" | "Exitf")
                || matches!(cx.pkg_member(&c.fun), Some(("errors", "New") | ("fmt", "Errorf")));
            failure |= is_failure && c.args.iter().any(|a| mentions(a, name));
        }
        !failure
    });
    failure
}

fn mentions_stmt(s: &Stmt, name: &str) -> bool {
    let mut found = false;
    walk::walk(Node::Stmt(s), &mut |n, _| {
        if let Node::Expr(Expr::Ident(id)) = n {
            found |= id.name == name;
        }
        !found
    });
    found
}

/// Whether the innermost loop body sets the variable afresh (`s = ...` not
/// reading `s`) in a top-level statement before this one: then it does not
/// accumulate across iterations.
fn reset_before_in(inner: &Stmt, stmt: &Stmt, name: &str) -> bool {
    let body = match inner {
        Stmt::For(f) => &f.body,
        Stmt::Range(r) => &r.body,
        _ => return false,
    };
    for s in &body.stmts {
        if s.span().start >= stmt.span().start {
            return false;
        }
        if let Stmt::Assign(a) = s {
            if a.op == "=" && a.lhs.len() == 1 && a.lhs[0].ident_name() == Some(name) && !mentions(&a.rhs[0], name) {
                return true;
            }
        }
    }
    false
}

fn mentions(e: &Expr, name: &str) -> bool {
    let mut found = false;
    walk::walk(Node::Expr(e), &mut |n, _| {
        if let Node::Expr(Expr::Ident(id)) = n {
            found |= id.name == name;
        }
        !found
    });
    found
}

/// Whether the statement is followed, in its block, by a `return` or a
/// `break` out of the loop: it then runs at most once per loop.
fn leaves_loop_after(stmt: &Stmt, anc: &[Node]) -> bool {
    let Some(stmts) = anc.last().and_then(|p| match p {
        Node::Block(b) => Some(b.stmts.as_slice()),
        Node::Case(c) => Some(c.body.as_slice()),
        Node::Comm(c) => Some(c.body.as_slice()),
        _ => None,
    }) else {
        return false;
    };
    let Some(pos) = stmts.iter().position(|s| std::ptr::eq(s, stmt)) else { return false };
    let in_switch = anc.iter().rev().take_while(|n| !n.is_loop()).any(|n| {
        matches!(n, Node::Stmt(Stmt::Switch(_) | Stmt::TypeSwitch(_) | Stmt::Select(_)))
    });
    stmts[pos + 1..].iter().any(|s| match s {
        Stmt::Return(_) => true,
        Stmt::Branch(b) => match b.kind {
            BranchKind::Break => b.label.is_some() || !in_switch,
            BranchKind::Goto => true,
            _ => false,
        },
        _ => false,
    })
}
