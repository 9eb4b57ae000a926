//! Finds string values pasted raw between the quotes of a hand-built JSON document.
use crate::prelude::*;
use pitfall_go::types::{Env, Scope};
use pitfall_go::walk::walk;

pub static RULE: Rule = Rule {
    name: "unescaped-json",
    category: Category::Correctness,
    severity: Severity::Warning,
    summary: "String value pasted raw between JSON quotes (a quote or backslash breaks the document)",
    reports_on: "the line of the inserted value (the operand of `+`, the `WriteString` argument, or the `%s`/`%v` argument)",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
A string value — a variable, field or call result, not a constant — placed between
the quotes of a JSON document that is built by hand:
- concatenation: `"{\"name\":\"" + name + "\"}"`;
- a `strings.Builder` / `bytes.Buffer` sequence: `WriteString("{\"name\":\"")`,
  `WriteString(u.Name)`, `WriteString("\"")`;
- `fmt.Sprintf` / `Fprintf` / `Printf` / `Appendf` with `"%s"` (or `"%v"` of a string
  or error) inside quotes of a JSON-looking format.
It only fires when the text before the value opens a JSON string (`":"`, `{"`, `,"`,
`["`), the text after it starts with `"`, and the literals hold a `"key":` (or
form a `["...", "..."]` array). Reported on the line of the inserted value.
Test code is skipped: `_test.go` files and test-helper packages (a package with a
function taking `*testing.T`). There the JSON is an expected substring or a request
the test sends to its own server, built from names the test chose; a value that
needed escaping fails the test on the spot instead of reaching a client.

## Why it matters in production
A name like `O"Brien`, a Windows path or an error message such as
`parsing "x": invalid syntax` ends the string early: clients get a document they
cannot parse, or — when the value comes from a request — extra fields of the
attacker's choosing (`","admin":true,"x":"`).

## Bad
```go
func greet(w http.ResponseWriter, name string) {
	fmt.Fprintf(w, `{"greeting":"hello %s"}`, name)
}
```
## Good
```go
func greet(w http.ResponseWriter, name string) {
	json.NewEncoder(w).Encode(map[string]string{"greeting": "hello " + name})
}
```

## How to fix
Build a struct or map and let `encoding/json` encode it. For a single value,
`strconv.Quote`/`%q` is close enough for ASCII text; `json.Marshal(s)` is exact.
Stays silent for constants, `%q`, `%d`, `strconv.*` results, `time.Format`, helpers
whose name says they escape or quote, and text that is not JSON (logs, SQL, HTML).

## How to suppress
`//nolint:unescaped-json // reason` on the line, or on its own line before the
statement/function; `//nolint:correctness` for the whole category; see `pitfall rule`.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    if !cx.file.src.contains('"') {
        return;
    }
    let sc = cx.scope();
    let mut hits: Vec<Span> = Vec::new();
    for root in walk::top_level_roots(&cx.file.ast) {
        let env = cx.env_at(root.span().start);
        let facts = Facts::collect(&env, root);
        let v = Values { sc: &sc, env: &env, facts: &facts };
        walk(root, &mut |n, anc| {
            match n {
                Node::Expr(Expr::Binary(b)) if b.op == "+" && !inside_concat(anc) => {
                    concat(&v, n.as_expr().unwrap(), &mut hits);
                }
                Node::Expr(Expr::Call(c)) => format_call(&v, c, &mut hits),
                Node::Block(b) => builder_sequence(&v, &b.stmts, &mut hits),
                Node::Case(c) => builder_sequence(&v, &c.body, &mut hits),
                Node::Comm(c) => builder_sequence(&v, &c.body, &mut hits),
                _ => {}
            }
            true
        });
    }
    hits.sort();
    hits.dedup();
    for span in hits {
        let mut text = cx.file.text(span).split_whitespace().collect::<Vec<_>>().join(" ");
        if text.len() > 40 {
            let cut = (0..=37).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
            text.truncate(cut);
            text.push_str("...");
        }
        cx.report(
            span,
            format!("`{text}` is pasted between JSON quotes without escaping: a `\"` or `\\` in it breaks the document or injects fields"),
        )
        .fix("build a struct or map and encode it with encoding/json (json.Marshal / json.NewEncoder); for one value at least use strconv.Quote or %q");
    }
}

/// Whether this `+` is an operand of an enclosing `+` (the chain is handled once, at its top).
fn inside_concat(anc: &[Node]) -> bool {
    for a in anc.iter().rev() {
        match a {
            Node::Expr(Expr::Paren(_)) => continue,
            Node::Expr(Expr::Binary(b)) => return b.op == "+",
            _ => return false,
        }
    }
    false
}

/// Facts about one function's locals: which are constants, which are assigned after
/// their declaration.
struct Facts<'a> {
    consts: Vec<Span>,
    reassigned: Vec<Span>,
    /// Key and value variables of `range` loops, with the ranged expression.
    ranges: Vec<(Span, &'a Expr)>,
}

impl<'a> Facts<'a> {
    fn collect(env: &Env<'a>, root: Node<'a>) -> Facts<'a> {
        let mut f = Facts { consts: Vec::new(), reassigned: Vec::new(), ranges: Vec::new() };
        walk(root, &mut |n, _| {
            match n {
                Node::Stmt(Stmt::Decl(g)) if g.kind == GenKind::Const => {
                    for spec in &g.specs {
                        if let Spec::Value(v) = spec {
                            f.consts.extend(v.names.iter().map(|id| id.span));
                        }
                    }
                }
                Node::Stmt(Stmt::Assign(a)) => {
                    for id in a.lhs.iter().filter_map(|l| l.as_ident()) {
                        if let Some(b) = env.resolve(id) {
                            if b.decl != id.span {
                                f.reassigned.push(b.decl);
                            }
                        }
                    }
                }
                Node::Stmt(Stmt::Range(r)) if r.define => {
                    for v in r.key.iter().chain(&r.value) {
                        if let Some(id) = v.as_ident() {
                            f.ranges.push((id.span, &r.x));
                        }
                    }
                }
                Node::Expr(Expr::Unary(u)) if u.op == "&" => {
                    if let Some(b) = u.x.as_ident().and_then(|id| env.resolve(id)) {
                        f.reassigned.push(b.decl);
                    }
                }
                _ => {}
            }
            true
        });
        f
    }
}

struct Values<'s, 'a> {
    sc: &'s Scope<'a>,
    env: &'s Env<'a>,
    facts: &'s Facts<'a>,
}

impl<'s, 'a> Values<'s, 'a> {
    /// Whether the string value cannot hold a quote or a backslash (as far as we
    /// can tell without running it) — or we cannot tell, and stay silent.
    fn harmless(&self, e: &'a Expr, depth: u32) -> bool {
        match e.unparen() {
            Expr::BasicLit(_) => true,
            Expr::Ident(id) => match self.env.resolve(id) {
                Some(b) => {
                    if self.facts.consts.contains(&b.decl) || self.from_literal_table(e, depth) {
                        return true;
                    }
                    // `id := strconv.Itoa(n)` never assigned again.
                    depth < 3
                        && !self.facts.reassigned.contains(&b.decl)
                        && b.init.is_some_and(|init| self.harmless(init, depth + 1))
                }
                None => match self.sc.pkg.vars.get(id.name.as_str()) {
                    Some(def) => def.is_const,
                    None => true,
                },
            },
            // A member of another package (often a constant): we cannot tell.
            Expr::Selector(_) if self.env.pkg_member(self.sc.file, e).is_some() => true,
            // `tc.name` of a table-driven test: text the author wrote.
            Expr::Selector(sel) => self.from_literal_table(&sel.x, depth),
            Expr::Call(c) => self.harmless_call(c),
            Expr::Index(_) | Expr::Slice(_) | Expr::TypeAssert(_) | Expr::Star(_) => false,
            _ => true,
        }
    }

    /// Whether `e` is, or ranges over, a composite literal written in the code
    /// (a test table): `for k := range map[string]bool{...}`, `tests[i]`, `tc`.
    fn from_literal_table(&self, e: &'a Expr, depth: u32) -> bool {
        if depth > 4 {
            return false;
        }
        match e.unparen() {
            Expr::CompositeLit(_) => true,
            Expr::Index(i) => self.from_literal_table(&i.x, depth + 1),
            Expr::Selector(s) if self.env.pkg_member(self.sc.file, e).is_none() => {
                self.from_literal_table(&s.x, depth + 1)
            }
            Expr::Ident(id) => match self.env.resolve(id) {
                Some(b) => {
                    if let Some((_, x)) = self.facts.ranges.iter().find(|(d, _)| *d == b.decl) {
                        return self.from_literal_table(x, depth + 1);
                    }
                    !self.facts.reassigned.contains(&b.decl)
                        && b.init.is_some_and(|i| matches!(i.unparen(), Expr::CompositeLit(_)))
                }
                None => self
                    .sc
                    .pkg
                    .vars
                    .get(id.name.as_str())
                    .and_then(|def| def.spec.values.get(def.index))
                    .is_some_and(|v| matches!(v.unparen(), Expr::CompositeLit(_))),
            },
            _ => false,
        }
    }

    fn harmless_call(&self, c: &'a CallExpr) -> bool {
        if let Some((pkg, name)) = self.env.pkg_member(self.sc.file, &c.fun) {
            if pkg == "fmt" {
                // fmt.Sprintf("%d-%d", a, b) prints no quotes; %s and %v may.
                return name == "Sprintf"
                    && c.args.first().and_then(|f| f.as_string_lit()).is_some_and(|f| !f.contains("%s") && !f.contains("%v"));
            }
            // strings.Repeat("x", n), strings.ToUpper(id): no quote unless the input has one.
            if pkg == "strings" && matches!(name, "Repeat" | "ToUpper" | "ToLower" | "TrimSpace" | "Title") {
                return c.args.first().is_some_and(|a| self.harmless(a, 1));
            }
            return SAFE_PACKAGES.contains(&pkg) || says_escaped(name);
        }
        match c.fun.unparen() {
            // Conversions such as string(b): the bytes may well be JSON already.
            Expr::Ident(id) if id.name == "string" && self.env.resolve(id).is_none() => true,
            Expr::Ident(id) => says_escaped(&id.name),
            Expr::Selector(sel) => {
                let m = sel.sel.name.as_str();
                m != "Error" && (SAFE_METHODS.contains(&m) || says_escaped(m))
            }
            _ => true,
        }
    }

    /// Whether a `%s`/`%v` argument is a string, byte slice or error for sure.
    fn stringish(&self, e: &'a Expr) -> bool {
        if let Some(c) = e.as_call() {
            if c.args.is_empty() && c.method_name() == Some("Error") && c.receiver().is_some() {
                return true;
            }
        }
        let ty = self.env.type_of(self.sc, e);
        if self.sc.is_string(&ty) || ty == Ty::Basic("error") {
            return true;
        }
        matches!(ty, Ty::Slice(ref inner) if matches!(**inner, Ty::Basic("byte" | "uint8")))
    }

    fn unsafe_string(&self, e: &'a Expr) -> bool {
        !self.harmless(e, 0)
    }
}

/// Packages whose string results never carry a raw quote or backslash (numbers,
/// encodings, escapers, time formats).
const SAFE_PACKAGES: &[&str] = &[
    "strconv", "encoding/json", "encoding/hex", "encoding/base64", "encoding/base32", "net/url", "html", "time",
    "math/big", "net/netip",
];

/// Methods whose results are escaped or formatted identifiers, not free text.
const SAFE_METHODS: &[&str] = &["String", "Format", "Hex", "EncodeToString", "Itoa", "AppendFormat", "Sum"];

fn says_escaped(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["escape", "quote", "json", "marshal", "encode", "sanitize", "itoa", "format"].iter().any(|w| n.contains(w))
}

/// `before` ends where a JSON string opens (`":"`, `{"`, `,"`, `["`) and
/// `after` starts where it closes (`"` then `,` `}` `]` `:` or nothing).
fn json_slot(before: &str, after: &str) -> bool {
    let Some(b) = before.strip_suffix('"') else { return false };
    let b = b.trim_end();
    let opens = match b.chars().last() {
        Some(':') => b[..b.len() - 1].trim_end().ends_with('"'),
        Some('{' | ',' | '[') => true,
        _ => false,
    };
    if !opens {
        return false;
    }
    let Some(a) = after.strip_prefix('"') else { return false };
    match a.trim_start().chars().next() {
        None => true,
        Some(c) => matches!(c, ',' | '}' | ']' | ':'),
    }
}

/// Whether the literal text looks like a JSON document: a `"key":`, or a
/// `["...", ...]` array of strings.
fn looks_like_json(pieces: &[String]) -> bool {
    let has_key = pieces
        .iter()
        .any(|p| p.char_indices().any(|(i, c)| c == '"' && p[i + 1..].trim_start().starts_with(':')));
    if has_key {
        return true;
    }
    match (pieces.first(), pieces.last()) {
        (Some(f), Some(l)) => f.trim_start().starts_with("[\"") && l.trim_end().ends_with("\"]"),
        _ => false,
    }
}

fn flatten<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    match e.unparen() {
        Expr::Binary(b) if b.op == "+" => {
            flatten(&b.x, out);
            flatten(&b.y, out);
        }
        x => out.push(x),
    }
}

/// `"{\"name\":\"" + name + "\"}"`
fn concat<'a>(v: &Values<'_, 'a>, e: &'a Expr, hits: &mut Vec<Span>) {
    let mut ops = Vec::new();
    flatten(e, &mut ops);
    let lits: Vec<Option<String>> = ops.iter().map(|o| o.as_string_lit()).collect();
    let pieces: Vec<String> = lits.iter().flatten().cloned().collect();
    if pieces.is_empty() || !looks_like_json(&pieces) {
        return;
    }
    for i in 1..ops.len().saturating_sub(1) {
        let (Some(before), None, Some(after)) = (&lits[i - 1], &lits[i], &lits[i + 1]) else { continue };
        if json_slot(before, after) && v.unsafe_string(ops[i]) {
            hits.push(ops[i].span());
        }
    }
}

/// `fmt.Sprintf(`{"name":"%s"}`, name)` and friends.
fn format_call<'a>(v: &Values<'_, 'a>, c: &'a CallExpr, hits: &mut Vec<Span>) {
    let fmt_index = match v.env.pkg_member(v.sc.file, &c.fun) {
        Some(("fmt", "Sprintf" | "Printf")) => 0,
        Some(("fmt", "Fprintf" | "Appendf")) => 1,
        _ => return,
    };
    if c.ellipsis {
        return;
    }
    let Some(format) = c.args.get(fmt_index).and_then(|f| f.as_string_lit()) else { return };
    if !looks_like_json(std::slice::from_ref(&format)) {
        return;
    }
    let Some(verbs) = verbs(&format) else { return };
    for (verb, arg, start, end) in verbs {
        if verb != 's' && verb != 'v' {
            continue;
        }
        let Some(a) = c.args.get(fmt_index + 1 + arg) else { continue };
        if json_slot(&format[..start], &format[end..]) && v.stringish(a) && v.unsafe_string(a) {
            hits.push(a.span());
        }
    }
}

/// The verbs of a format string: (verb, argument index, offset of `%`, offset
/// after the verb). `None` when explicit argument indexes (`%[1]s`) are used.
fn verbs(f: &str) -> Option<Vec<(char, usize, usize, usize)>> {
    let b = f.as_bytes();
    let (mut i, mut arg, mut out) = (0, 0, Vec::new());
    let digits = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
    };
    while i < b.len() {
        if b[i] != b'%' {
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        if i < b.len() && b[i] == b'%' {
            i += 1;
            continue;
        }
        while i < b.len() && b"+-# 0".contains(&b[i]) {
            i += 1;
        }
        if i < b.len() && b[i] == b'*' {
            arg += 1;
            i += 1;
        } else {
            digits(&mut i);
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            if i < b.len() && b[i] == b'*' {
                arg += 1;
                i += 1;
            } else {
                digits(&mut i);
            }
        }
        if i < b.len() && b[i] == b'[' {
            return None;
        }
        let Some(verb) = f[i..].chars().next() else { break };
        let end = i + verb.len_utf8();
        out.push((verb, arg, start, end));
        arg += 1;
        i = end;
    }
    Some(out)
}

/// One `X.WriteString(arg)` / `X.WriteByte('"')` statement: (receiver text, argument).
fn write_call<'a>(v: &Values<'_, 'a>, s: &'a Stmt) -> Option<(&'a str, &'a Expr, &'a str)> {
    let Stmt::Expr(e) = s else { return None };
    let c = e.as_call()?;
    let name = c.method_name()?;
    if !matches!(name, "WriteString" | "WriteByte" | "WriteRune") || c.args.len() != 1 {
        return None;
    }
    if v.env.pkg_member(v.sc.file, &c.fun).is_some() {
        return None;
    }
    let recv = c.receiver()?;
    Some((v.sc.file.text(recv.span()), &c.args[0], name))
}

/// The text a write statement adds when it is a literal (a string, or `'"'`).
fn written_literal(arg: &Expr, method: &str) -> Option<String> {
    if method == "WriteString" {
        return arg.as_string_lit();
    }
    match arg.unparen() {
        Expr::BasicLit(l) if l.kind == LitKind::Char && l.raw == "'\"'" => Some("\"".to_string()),
        _ => None,
    }
}

/// `b.WriteString(`{"name":"`); b.WriteString(u.Name); b.WriteString(`"}`)`
fn builder_sequence<'a>(v: &Values<'_, 'a>, stmts: &'a [Stmt], hits: &mut Vec<Span>) {
    if stmts.len() < 3 {
        return;
    }
    let calls: Vec<_> = stmts.iter().map(|s| write_call(v, s)).collect();
    for w in calls.windows(3) {
        let [Some((r1, a1, m1)), Some((r2, value, "WriteString")), Some((r3, a3, m3))] = w else { continue };
        if r1 != r2 || r2 != r3 {
            continue;
        }
        let (Some(before), Some(after)) = (written_literal(a1, m1), written_literal(a3, m3)) else { continue };
        if value.as_string_lit().is_some() {
            continue;
        }
        let pieces = [before.clone(), after.clone()];
        if json_slot(&before, &after) && looks_like_json(&pieces) && v.unsafe_string(value) {
            hits.push(value.span());
        }
    }
}
