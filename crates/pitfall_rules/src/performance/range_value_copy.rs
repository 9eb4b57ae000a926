//! Flags `for _, v := range xs` loops that copy large elements each iteration.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "range-value-copy",
    category: Category::Performance,
    severity: Severity::Warning,
    summary: "range loop copies a large struct or array into its value variable",
    reports_on: "the value variable of the `range` statement",
    test_files: TestFiles::Include,
    options: &[RuleOption {
        name: "threshold",
        default: "128",
        help: "smallest element size, in bytes, that is reported",
    }],
    doc: r#"
## What it finds
`for _, v := range xs` (and `for k, v := range m`) where each element is a
struct or array of at least `threshold` bytes (default 128). Sizes follow Go's
gc layout for amd64 (field alignment, trailing padding) and are computed from
the module's own type declarations, across its packages. Fields whose type
cannot be seen (other modules, type parameters) count as zero bytes, so a
finding means the copy is certainly at least that large.
Pointer elements, index-only loops and a blank value variable are fine; so
are tables written as composite literals (a fixed number of entries) and
`_test.go` code other than benchmarks.
The finding is reported on the value variable of the `range` statement.

## Why it matters in production
The value variable is a copy of the element, made on every iteration. Copying
a 300-byte struct for every order, every request, in a hot loop burns memory
bandwidth and CPU for nothing; when the loop body also takes `&v`, the copy
escapes to the heap. Changes made to `v` are also silently lost, which is the
classic companion bug.

## Bad
```go
type Shipment struct {
	ID      string
	Address [4]string
	Lines   [8]LineItem
	Created time.Time
}

func weight(ss []Shipment) (kg float64) {
	for _, s := range ss { // copies every Shipment
		kg += s.Weight()
	}
	return kg
}
```

## Good
```go
func weight(ss []Shipment) (kg float64) {
	for i := range ss {
		kg += ss[i].Weight()
	}
	return kg
}
```

## How to fix
Range over the index and use `xs[i]` (or `p := &xs[i]`), or store pointers
(`[]*Shipment`) when the elements are shared anyway. For maps of large values,
consider `map[K]*V`.

## Options
`threshold` (bytes, default 128), in `pitfall.toml`:
`[rules.range-value-copy]` then `threshold = 256`.

## How to suppress
`//nolint:range-value-copy // reason` on the line, or on its own line before the
statement/function; `//nolint:performance` for the whole category; see `pitfall rule`.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    let threshold = cx.option_u64("threshold");
    let file = cx.file;
    let mut hits = Vec::new();
    walk::walk_file(&file.ast, &mut |n, anc| {
        let Node::Stmt(Stmt::Range(r)) = n else { return true };
        let Some(value) = r.value.as_ref().and_then(|v| v.as_ident()) else { return true };
        if value.is_blank() {
            return true;
        }
        if cx.file.is_test && !in_benchmark(anc) {
            return true;
        }
        if is_literal_table(cx, &r.x) {
            return true;
        }
        let Some(elem) = element_type(cx, r) else { return true };
        if declares_local_type(anc, &elem) {
            return true;
        }
        let scope = cx.scope();
        let sizer = pitfall_go::sizes::Sizer { scope: &scope };
        if !matches!(sizer.shape(&elem), pitfall_go::sizes::Shape::Struct | pitfall_go::sizes::Shape::Array) {
            return true;
        }
        let layout = sizer.layout(&elem);
        if layout.size >= threshold {
            hits.push((value.span, value.name.clone(), type_name(&elem), layout));
        }
        true
    });
    for (span, name, ty, layout) in hits {
        let size = if layout.exact { format!("{} bytes", layout.size) } else { format!("at least {} bytes", layout.size) };
        cx.report(span, format!("`{name}` copies each {ty} element ({size}) on every iteration"))
            .fix(format!("range over the index and take a pointer (`for i := range xs {{ {name} := &xs[i] ... }}`), or keep pointers in the collection"));
    }
}

/// The type of the value variable: the element of a slice, array or pointer to
/// array, or the value of a map. Channels, strings, integers and functions
/// have no such copy (or their own rules).
fn element_type<'a>(cx: &Checker<'a>, r: &'a RangeStmt) -> Option<Ty<'a>> {
    let x = cx.type_of(&r.x);
    let t = match cx.scope().underlying(&x) {
        Ty::Slice(e) | Ty::Array(_, e) | Ty::Map(_, e) => *e,
        Ty::Pointer(p) => match *p {
            Ty::Array(_, e) => *e,
            _ => return None,
        },
        _ => return None,
    };
    (!t.is_unknown()).then_some(t)
}

/// Test code is not on a hot path, benchmarks are.
fn in_benchmark(anc: &[Node]) -> bool {
    anc.iter().any(|n| matches!(n, Node::FuncDecl(f) if f.name.name.starts_with("Benchmark")))
}

/// A table written out as a composite literal (directly, or in the variable
/// ranged over): it has a fixed, usually small number of entries, typically a
/// test table or a static configuration, so the copies are bounded.
fn is_literal_table<'a>(cx: &Checker<'a>, x: &'a Expr) -> bool {
    let init = match x.unparen() {
        Expr::CompositeLit(_) => return true,
        Expr::Ident(id) => match cx.env_at(id.span.start).resolve(id) {
            Some(b) => b.init,
            None => cx.pkg.vars.get(id.name.as_str()).and_then(|d| d.spec.values.get(d.index)),
        },
        _ => None,
    };
    matches!(init.map(|e| e.unparen()), Some(Expr::CompositeLit(_)))
}

/// Whether a function around the loop declares a local type with the
/// element's name (the inference only knows package-level types).
fn declares_local_type(anc: &[Node], elem: &Ty) -> bool {
    let Ty::Named(_, name) = elem else { return false };
    let Some(func) = anc.iter().find_map(|n| n.as_func()) else { return false };
    let Some(body) = func.body() else { return false };
    let mut found = false;
    walk::walk(Node::Block(body), &mut |n, _| {
        if let Node::Stmt(Stmt::Decl(g)) = n {
            found |= g.specs.iter().any(|s| matches!(s, Spec::Type(t) if t.name.name == *name));
        }
        !found
    });
    found
}

fn type_name(t: &Ty) -> String {
    match t {
        Ty::Named(_, n) => n.to_string(),
        Ty::Array(Some(n), e) => format!("[{n}]{}", type_name(e)),
        Ty::Struct(..) => "struct".into(),
        Ty::Basic(b) => b.to_string(),
        _ => "large".into(),
    }
}
