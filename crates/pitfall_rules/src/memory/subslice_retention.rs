//! Flags small constant re-slices of big buffers that outlive the call.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "subslice-retention",
    category: Category::Memory,
    severity: Severity::Warning,
    summary: "small re-slice of a large []byte is kept, pinning the whole buffer",
    reports_on: "the slice expression (`buf[:20]`)",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
A function that returns, or stores in a long-lived place (a package-level
variable, a field through a pointer receiver, a map or slice held by such a
field), a re-slice with constant bounds (`p[:20]`, `data[4:12]`, named
constants allowed) of a `[]byte` parameter or of a freshly read buffer
(`os.ReadFile`, `io.ReadAll`, `make([]byte, N)` with N of 4 KiB or more),
without copying it. Variable bounds (`b[:n]`), `[:0]`, suffixes (`p[8:]`),
copies (`bytes.Clone`, `append([]byte(nil), ...)`, `string(...)`, `copy`) stay
silent, and so do APIs that fill the caller's buffer and hand back the filled
part: `AppendX`/`putX`/`encodeX`/`formatX`-style functions, functions that
write into the parameter or pass it to a call that may fill it, and
`bufio.SplitFunc`s, whose tokens are windows on the scanner's buffer.
The finding is reported on the slice expression.

## Why it matters in production
A re-slice shares the backing array: keeping 16 bytes of a 4 MB request body
keeps all 4 MB alive for as long as the 16 bytes live. A cache of "small" keys
cut from packets or files quietly holds every packet or file it came from, and
the heap grows until the pod is OOM-killed.

## Bad
```go
var sessions = map[string][]byte{}

func track(user string, pkt []byte) {
	sessions[user] = pkt[8:24] // pins the whole packet
}
```

## Good
```go
func track(user string, pkt []byte) {
	sessions[user] = bytes.Clone(pkt[8:24])
}
```

## How to fix
Copy the bytes you keep: `bytes.Clone(p[:n])`, `append([]byte(nil), p[:n]...)`,
a `string(p[:n])` when a string is wanted, or a fixed-size array
(`var id [16]byte; copy(id[:], p)`) for keys.

## How to suppress
`//nolint:subslice-retention // reason` on the line, or on its own line before the
statement/function; `//nolint:memory` for the whole category; see `pitfall rule`.
"#,
    check: Check::Go(check),
};

use pitfall_go::types::Binding;

/// `make([]byte, N)` counts as a large buffer from this many bytes on.
const LARGE_MAKE: u64 = 4096;

fn check(cx: &mut Checker) {
    let file = cx.file;
    let mut hits = Vec::new();
    walk::walk_file(&file.ast, &mut |n, anc| {
        let Node::Expr(e @ Expr::Slice(sl)) = n else { return true };
        let Some(func) = enclosing_func(anc) else { return true };
        let Some(base) = sl.x.as_ident() else { return true };
        let Some((lo, hi)) = constant_bounds(cx, sl) else { return true };
        let env = cx.env_at(base.span.start);
        let Some(binding) = env.resolve(base) else { return true };
        let Some(origin) = origin_of(cx, func, binding, hi) else { return true };
        let Some(sink) = sink_of(cx, e, anc, func, binding) else { return true };
        hits.push((sl.span, cx.file.text(sl.span).to_string(), base.name.clone(), hi - lo, origin, sink));
        true
    });
    for (span, text, base, len, origin, sink) in hits {
        cx.report(
            span,
            format!(
                "{sink} `{text}` keeps all of {origin} `{base}` alive for the sake of {len} byte{}",
                if len == 1 { "" } else { "s" }
            ),
        )
        .fix(format!("copy what you keep: `bytes.Clone({text})` (or `append([]byte(nil), {text}...)`)"));
    }
}

/// `(lo, hi)` of `x[lo:hi]` when both are constants and the result is not empty.
fn constant_bounds<'a>(cx: &Checker<'a>, sl: &'a SliceExpr) -> Option<(u64, u64)> {
    let sc = cx.scope();
    let hi = sc.const_int(sl.hi.as_ref()?)?;
    let lo = match &sl.lo {
        Some(lo) => sc.const_int(lo)?,
        None => 0,
    };
    if let Some(max) = &sl.max {
        sc.const_int(max)?;
    }
    (hi > lo).then_some((lo, hi))
}

fn is_byte_slice(t: &Ty) -> bool {
    matches!(t, Ty::Slice(e) if matches!(**e, Ty::Basic("byte" | "uint8")))
}

/// What the sliced variable holds, when it is a big buffer we are sure of:
/// the caller's `[]byte` parameter (not an output buffer the function fills),
/// or a buffer freshly read or made in this function.
fn origin_of<'a>(cx: &Checker<'a>, func: Func<'a>, b: &Binding<'a>, hi: u64) -> Option<&'static str> {
    let body = func.body()?;
    if !body.span.encloses(b.decl) && !is_param(func, b) {
        return None;
    }
    if is_param(func, b) {
        if !is_byte_slice(&b.ty)
            || is_append_style(func)
            || is_split_func(func)
            || fills_or_replaces(cx, body, b.name)
        {
            return None;
        }
        return Some("the caller's buffer");
    }
    // A local defined once in the function body.
    if reassigned(body, b.name) {
        return None;
    }
    let init = defining_call(body, b.decl)?;
    if cx.is_pkg_call(init, "os", &["ReadFile"])
        || cx.is_pkg_call(init, "io", &["ReadAll"])
        || cx.is_pkg_call(init, "io/ioutil", &["ReadAll", "ReadFile"])
    {
        return Some("the buffer read into");
    }
    if init.fun.ident_name() == Some("make") && env_is_builtin(cx, init) {
        let [ty, len, ..] = init.args.as_slice() else { return None };
        if !matches!(cx.scope().type_expr(ty), t if is_byte_slice(&t)) {
            return None;
        }
        let n = cx.scope().const_int(len)?;
        if n >= LARGE_MAKE && hi <= n / 4 {
            return Some("the large buffer");
        }
    }
    None
}

fn env_is_builtin<'a>(cx: &Checker<'a>, call: &'a CallExpr) -> bool {
    let Some(id) = call.fun.as_ident() else { return false };
    cx.env_at(id.span.start).resolve(id).is_none() && !cx.pkg.funcs.contains_key(id.name.as_str())
}

fn is_param(func: Func, b: &Binding) -> bool {
    func.ty().params.iter().any(|f| f.names.iter().any(|n| n.span == b.decl))
}

/// `AppendX(dst []byte, ...)`, `putX`, `encodeX`...: the function fills the
/// caller's buffer and hands back the filled part, by contract.
fn is_append_style(func: Func) -> bool {
    let Some(name) = func.name() else { return false };
    let lower = name.to_ascii_lowercase();
    ["append", "put", "encode", "format", "marshal", "fill"].iter().any(|p| lower.starts_with(p))
}

/// A `bufio.SplitFunc` (`func(data []byte, atEOF bool) (int, []byte, error)`):
/// its token is a window on the scanner's buffer by contract, and the scanner
/// reuses that buffer.
fn is_split_func(func: Func) -> bool {
    let ty = func.ty();
    let flat = |fields: &[Field]| -> Vec<String> {
        fields
            .iter()
            .flat_map(|f| {
                let t = type_text(&f.ty);
                std::iter::repeat_n(t, f.names.len().max(1))
            })
            .collect()
    };
    flat(&ty.params) == ["[]byte", "bool"] && flat(&ty.results) == ["int", "[]byte", "error"]
}

fn type_text(e: &Expr) -> String {
    match e.unparen() {
        Expr::Ident(id) => id.name.to_string(),
        Expr::ArrayType(a) if a.len.is_none() => format!("[]{}", type_text(&a.elem)),
        _ => String::new(),
    }
}

/// Whether the function writes into the parameter or replaces it: index
/// assignments, `copy(p, ...)`, `p = ...`, or handing `p` (or a re-slice of it)
/// to a call that might fill it. Such a parameter is an output buffer.
fn fills_or_replaces(cx: &Checker, body: &Block, name: &str) -> bool {
    let mut found = false;
    walk::walk(Node::Block(body), &mut |n, _| {
        if found {
            return false;
        }
        match n {
            Node::Stmt(Stmt::Assign(a)) => {
                found |= a.op != ":=" && a.lhs.iter().any(|l| roots_at(l, name));
            }
            Node::Stmt(Stmt::IncDec(i)) => found |= roots_at(&i.x, name),
            Node::Expr(Expr::Call(c)) => {
                // append and copy write only into their first argument.
                let written = match c.fun.ident_name() {
                    Some("append" | "copy") => &c.args[..c.args.len().min(1)],
                    _ => &c.args[..],
                };
                found |= !is_read_only_call(cx, c) && written.iter().any(|a| roots_at(a, name));
            }
            _ => {}
        }
        !found
    });
    found
}

/// `p`, `p[i]`, `p[i:j]` or `(p)`.
fn roots_at(e: &Expr, name: &str) -> bool {
    match e.unparen() {
        Expr::Ident(id) => id.name == name,
        Expr::Index(i) => roots_at(&i.x, name),
        Expr::Slice(s) => roots_at(&s.x, name),
        _ => false,
    }
}

/// Calls that only read their byte-slice arguments.
fn is_read_only_call(cx: &Checker, c: &CallExpr) -> bool {
    if let Some(name) = c.fun.ident_name() {
        return matches!(name, "len" | "cap" | "string" | "print" | "println");
    }
    if let Expr::ArrayType(_) = c.fun.unparen() {
        return true; // a conversion copies
    }
    let Some(sel) = c.fun.as_selector() else { return false };
    if let Some(pkg) = sel.x.ident_name().and_then(|p| cx.file.import_path(p)) {
        return matches!(pkg, "bytes" | "unicode/utf8" | "strconv" | "hash/crc32" | "errors" | "fmt")
            && !matches!(sel.sel.name.as_str(), "Fscan" | "Sscan" | "Fscanf" | "Sscanf");
    }
    // binary.BigEndian.Uint32(p): the byte-order readers.
    let reader = sel.sel.name.starts_with("Uint");
    let on_order = sel
        .x
        .as_selector()
        .is_some_and(|s| s.x.ident_name().and_then(|p| cx.file.import_path(p)) == Some("encoding/binary"));
    reader && on_order
}

/// Whether the local is assigned again after its definition.
fn reassigned(body: &Block, name: &str) -> bool {
    let mut found = false;
    walk::walk(Node::Block(body), &mut |n, _| {
        if let Node::Stmt(Stmt::Assign(a)) = n {
            found |= a.op != ":=" && a.lhs.iter().any(|l| l.ident_name() == Some(name));
        }
        !found
    });
    found
}

/// The call whose (first) result defines the local declared at `decl`.
fn defining_call(body: &Block, decl: Span) -> Option<&CallExpr> {
    let mut out = None;
    walk::walk(Node::Block(body), &mut |n, _| {
        if out.is_some() {
            return false;
        }
        match n {
            Node::Stmt(Stmt::Assign(a)) if a.is_define() => {
                if let Some(i) = a.lhs.iter().position(|l| l.as_ident().is_some_and(|id| id.span == decl)) {
                    out = match a.rhs.as_slice() {
                        // `data, err := os.ReadFile(p)`: only the first result is the buffer.
                        [one] if i == 0 => one.as_call(),
                        many => many.get(i).and_then(|e| e.as_call()),
                    };
                }
            }
            Node::ValueSpec(v) => {
                if let Some(i) = v.names.iter().position(|id| id.span == decl) {
                    out = match v.values.as_slice() {
                        [one] => one.as_call(),
                        many => many.get(i).and_then(|e| e.as_call()),
                    };
                }
            }
            _ => {}
        }
        out.is_none()
    });
    out
}

/// Where the re-slice ends up, if that place outlives the call: "returning",
/// or "storing ... in `name`" for a package-level variable or a field reached
/// through a pointer receiver. Copies and local uses yield `None`.
fn sink_of<'a>(cx: &Checker<'a>, e: &'a Expr, anc: &[Node<'a>], func: Func<'a>, b: &Binding<'a>) -> Option<String> {
    let mut child = e;
    for (i, n) in anc.iter().enumerate().rev() {
        match n {
            Node::Expr(p @ (Expr::Paren(_) | Expr::KeyValue(_))) => child = p,
            Node::Expr(p @ Expr::CompositeLit(_)) => child = p,
            Node::Expr(p @ Expr::Unary(u)) if u.op == "&" => child = p,
            // append(xs, sub): the element is kept by the result; `sub...` copies.
            Node::Expr(p @ Expr::Call(c))
                if c.fun.ident_name() == Some("append")
                    && !c.ellipsis
                    && c.args.iter().skip(1).any(|a| std::ptr::eq(a, child)) =>
            {
                child = p
            }
            Node::Stmt(Stmt::Return(_)) => {
                // The return must leave the function that owns the buffer.
                let owner = enclosing_func(&anc[..i])?;
                let owns = is_param(func, b) || func.body()?.span.encloses(b.decl);
                return (owner.span() == func.span() && owns).then(|| "returning".to_string());
            }
            Node::Stmt(Stmt::Assign(a)) if a.op == "=" => {
                let idx = a.rhs.iter().position(|r| std::ptr::eq(r, child))?;
                let target = if a.lhs.len() == a.rhs.len() { a.lhs.get(idx)? } else { return None };
                return long_lived_target(cx, target, func).map(|t| format!("storing in `{t}`"));
            }
            _ => return None,
        }
    }
    None
}

/// A package-level variable (or an element of one), or a field reached through
/// the method's pointer receiver (or an element of a map/slice such a field holds).
fn long_lived_target<'a>(cx: &Checker<'a>, target: &'a Expr, func: Func<'a>) -> Option<String> {
    let text = cx.file.text(target.span()).to_string();
    let mut root = target.unparen();
    let mut through_field = false;
    loop {
        match root {
            Expr::Index(i) => root = i.x.unparen(),
            Expr::Selector(s) => {
                through_field = true;
                root = s.x.unparen();
            }
            _ => break,
        }
    }
    let id = root.as_ident()?;
    let env = cx.env_at(id.span.start);
    match env.resolve(id) {
        None => {
            let def = cx.pkg.vars.get(id.name.as_str())?;
            (!def.is_const).then_some(text)
        }
        Some(b) => {
            let Func::Decl(d) = func else { return None };
            let recv = d.recv.as_ref()?;
            let is_recv = recv.names.iter().any(|n| n.span == b.decl);
            (is_recv && through_field && matches!(b.ty, Ty::Pointer(_))).then_some(text)
        }
    }
}
