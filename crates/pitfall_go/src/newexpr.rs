//! Go 1.26 `new(expr)`: tree-sitter-go 0.25 accepts only a type inside
//! `new(...)` (`new(T)`), so `new(int64(0))` or `new(true)` becomes an error
//! node and its whole statement is lost.
//!
//! The fix keeps every byte offset: when a file fails to parse and holds such a
//! call, the parser is given a copy in which each `new` whose argument cannot be
//! a type is spelled `nEw` (same length). `nEw(...)` is an ordinary call, so the
//! argument parses as an expression. Lowering reads identifier text from the
//! original source, so the AST still says `new`, with the same spans.

use crate::scan::{is_ident_byte, scan_code, skip_quoted, skip_raw};

/// The source to hand to the parser with `new(expr)` calls respelled, or
/// `None` when there is no `new(` whose argument is an expression.
pub fn respell_new_exprs(src: &str) -> Option<Vec<u8>> {
    let b = src.as_bytes();
    let mut out: Option<Vec<u8>> = None;
    scan_code(b, |i| {
        let at_new =
            b[i..].starts_with(b"new") && (i == 0 || !is_ident_byte(b[i - 1]) && b[i - 1] != b'.');
        if !at_new {
            return None;
        }
        let mut j = i + 3;
        while j < b.len() && matches!(b[j], b' ' | b'\t') {
            j += 1;
        }
        if b.get(j) == Some(&b'(') && arg_is_expression(b, j + 1) {
            out.get_or_insert_with(|| b.to_vec())[i + 1] = b'E';
        }
        Some(i + 3)
    });
    out
}

/// Whether the first argument of `new(`, starting at `start`, is an
/// expression that cannot be read as a type: a literal, a call or conversion
/// (`int64(0)`), `true`/`false`/`nil`, an operator expression, a composite
/// literal. Names, qualified names, instantiations and type literals stay
/// types (`new(T)`, `new(pkg.T)`, `new([]int)`, `new(*T)`, `new(G[int])`).
fn arg_is_expression(b: &[u8], start: usize) -> bool {
    // The argument's text, up to a top-level `,` or the closing `)`.
    let mut depth = 0usize;
    let mut j = start;
    while j < b.len() {
        match b[j] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth == 0 => break,
            b')' | b']' | b'}' => depth -= 1,
            b',' if depth == 0 => break,
            b'"' | b'\'' => {
                j = skip_quoted(b, j);
                continue;
            }
            b'`' => {
                j = skip_raw(b, j);
                continue;
            }
            b'/' if matches!(b.get(j + 1), Some(b'/' | b'*')) => return false,
            _ => {}
        }
        j += 1;
    }
    let arg = std::str::from_utf8(&b[start..j.min(b.len())])
        .unwrap_or("")
        .trim();
    // `*T` is a type, `*p` reads as one: judge what the stars point at.
    let arg = arg.trim_start_matches(|c: char| c == '*' || c.is_whitespace());
    if arg.is_empty() {
        return false;
    }
    // Ending in a brace: a composite literal (`[]string{"a"}`, `T{A: 1}`)
    // unless the brace opens a struct or interface body (`struct{ a int }`).
    if arg.ends_with('}') {
        let open = last_top_level_brace(arg.as_bytes());
        let before = arg[..open].trim_end();
        return !(before.ends_with("struct") || before.ends_with("interface"));
    }
    let first = arg.as_bytes()[0];
    if matches!(first, b'[' | b'<') {
        return false; // slice, array, map-like or channel type
    }
    // A name, `pkg.Name`, optionally instantiated (`G[int]`), is a type;
    // `a.b.c` (a field) and calls, literals and operators are expressions.
    let mut rest = arg;
    let mut names = 0;
    loop {
        let n = rest.bytes().take_while(|&c| is_ident_byte(c)).count();
        if n == 0 || rest.as_bytes()[0].is_ascii_digit() {
            return true;
        }
        let word = &rest[..n];
        if names == 0 && matches!(word, "map" | "chan" | "func" | "struct" | "interface") {
            return false;
        }
        if names == 0 && rest.len() == n && matches!(word, "true" | "false" | "nil" | "iota") {
            return true;
        }
        names += 1;
        rest = rest[n..].trim_start();
        if let Some(r) = rest.strip_prefix('.') {
            rest = r.trim_start();
            continue;
        }
        break;
    }
    names > 2 || !(rest.is_empty() || rest.starts_with('[') && rest.ends_with(']'))
}

/// The offset of the last `{` opened at depth 0 (string literals skipped).
fn last_top_level_brace(b: &[u8]) -> usize {
    let (mut depth, mut last, mut i) = (0usize, 0, 0);
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' => {
                i = skip_quoted(b, i);
                continue;
            }
            b'`' => {
                i = skip_raw(b, i);
                continue;
            }
            b'{' | b'(' | b'[' => {
                if depth == 0 && b[i] == b'{' {
                    last = i;
                }
                depth += 1;
            }
            b'}' | b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    fn respelled(src: &str) -> String {
        respell_new_exprs(src)
            .map(|v| String::from_utf8(v).unwrap())
            .unwrap_or_else(|| src.to_string())
    }

    #[test]
    fn expressions_are_respelled_types_are_not() {
        for (src, want) in [
            ("x := new(int64(0))", "x := nEw(int64(0))"),
            ("x := new(true)", "x := nEw(true)"),
            ("x := new(\"s\")", "x := nEw(\"s\")"),
            ("x := new(1 + 2)", "x := nEw(1 + 2)"),
            ("x := new(f())", "x := nEw(f())"),
            ("x := new(pkg.F(a, b))", "x := nEw(pkg.F(a, b))"),
            ("x := new(T{A: 1})", "x := nEw(T{A: 1})"),
            ("x := new(T)", "x := new(T)"),
            ("x := new(pkg.T)", "x := new(pkg.T)"),
            ("x := new([]int)", "x := new([]int)"),
            ("x := new(map[string]int)", "x := new(map[string]int)"),
            ("x := new(*T)", "x := new(*T)"),
            ("x := new(G[int])", "x := new(G[int])"),
            ("x := new(struct{ a int })", "x := new(struct{ a int })"),
            ("x := new([]struct{ a int })", "x := new([]struct{ a int })"),
            (
                "x := new([]string{\"}\", \"b\"})",
                "x := nEw([]string{\"}\", \"b\"})",
            ),
            ("x := new(map[string]int{})", "x := nEw(map[string]int{})"),
            ("x := new(a.b.c)", "x := nEw(a.b.c)"),
            ("x := new(*a.b.c)", "x := nEw(*a.b.c)"),
            ("x := new(*pkg.T)", "x := new(*pkg.T)"),
            ("x := new(8)", "x := nEw(8)"),
            ("x := new(func(int) error)", "x := new(func(int) error)"),
            ("x := renew(f())", "x := renew(f())"),
            ("x := a.new(f())", "x := a.new(f())"),
            (
                "// new(f())\ns := \"new(1)\"",
                "// new(f())\ns := \"new(1)\"",
            ),
        ] {
            assert_eq!(respelled(src), want, "{src}");
        }
    }
}

#[cfg(test)]
mod parse_tests {
    use crate::ast::Expr;

    #[test]
    fn go126_new_expr_parses_whole() {
        let src = "package p\n\nfunc f() {\n\tn := new(int64(0))\n\tok := new(true)\n\tt := new(T)\n\t_, _, _ = n, ok, t\n}\n";
        let f = crate::parse_file("p.go", src.to_string()).expect("parses");
        assert_eq!(f.ast.syntax_errors, 0);
        let mut news = Vec::new();
        crate::walk::walk_file(&f.ast, &mut |n, _| {
            if let crate::walk::Node::Expr(Expr::Call(c)) = n {
                if c.fun.ident_name() == Some("new") {
                    news.push((
                        f.text(c.span).to_string(),
                        f.text(c.args[0].span()).to_string(),
                    ));
                }
            }
            true
        });
        assert_eq!(
            news,
            [
                ("new(int64(0))".to_string(), "int64(0)".to_string()),
                ("new(true)".to_string(), "true".to_string()),
                ("new(T)".to_string(), "T".to_string()),
            ]
        );
    }
}
