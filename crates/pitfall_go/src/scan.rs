//! Byte-level scanning of Go source without parsing: the package clause and
//! imports of a file (enough to group files into packages and to know which
//! packages a package reads — what the result cache keys on), and the lexing
//! helpers that skip comments and literals.

/// What the top of a file says: its package name and import paths.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// The `package` clause name ("" when there is none).
    pub package: String,
    pub imports: Vec<String>,
}

/// Reads the package clause and the import declarations that follow it.
/// Stops at the first other declaration; malformed input gives what was read.
pub fn scan_header(src: &str) -> Header {
    let b = src.as_bytes();
    let mut h = Header::default();
    let mut i = skip_space(b, 0);
    let Some(j) = word_at(b, i, "package") else {
        return h;
    };
    i = skip_space(b, j);
    let name_len = b[i..].iter().take_while(|&&c| is_ident_byte(c)).count();
    h.package = src[i..i + name_len].to_string();
    i = skip_space(b, i + name_len);
    while let Some(j) = word_at(b, i, "import") {
        i = skip_space(b, j);
        if b.get(i) == Some(&b'(') {
            i = skip_space(b, i + 1);
            while i < b.len() && b[i] != b')' {
                let Some(next) = import_spec(b, i, &mut h.imports) else {
                    return h;
                };
                i = skip_space(b, next);
            }
            i = skip_space(b, i + 1);
        } else {
            let Some(next) = import_spec(b, i, &mut h.imports) else {
                return h;
            };
            i = skip_space(b, next);
        }
    }
    h
}

/// One `[name] "path"` spec at `i`; the offset after it.
fn import_spec(b: &[u8], mut i: usize, out: &mut Vec<String>) -> Option<usize> {
    if matches!(b.get(i), Some(b'.' | b'_')) || b.get(i).is_some_and(|&c| is_ident_byte(c)) {
        i += 1;
        while i < b.len() && is_ident_byte(b[i]) {
            i += 1;
        }
        i = skip_space(b, i);
    }
    let quote = *b.get(i)?;
    let end = match quote {
        b'"' => skip_quoted(b, i),
        b'`' => skip_raw(b, i),
        _ => return None,
    };
    if end < i + 2 || b[end - 1] != quote {
        return None; // unterminated
    }
    let lit = std::str::from_utf8(b.get(i + 1..end.checked_sub(1)?)?).ok()?;
    out.push(lit.replace("\\\\", "\\"));
    Some(end)
}

/// Whether the code (comments and literals skipped) calls a method or
/// package function `x.Name(...)` named one of `names`: `srv.Shutdown(ctx)`,
/// `s.grpc.GracefulStop()`. Lexical, so cheap enough to run on every file
/// of a run without parsing it.
pub fn calls_selector(src: &str, names: &[&str]) -> bool {
    let b = src.as_bytes();
    let mut found = false;
    scan_code(b, |i| {
        if b[i] != b'.' {
            return None;
        }
        let start = skip_blank(b, i + 1);
        let len = b[start..].iter().take_while(|&&c| is_ident_byte(c)).count();
        let name = &b[start..start + len];
        if len > 0
            && names.iter().any(|n| n.as_bytes() == name)
            && b.get(skip_blank(b, start + len)) == Some(&b'(')
        {
            found = true;
            return Some(b.len());
        }
        Some(start)
    });
    found
}

/// Walks the code of `b` outside comments and string and rune literals,
/// calling `at(i)` where each token starts; `at` says where to go on, or
/// `None` for the next token (a whole identifier is one token).
pub(crate) fn scan_code(b: &[u8], mut at: impl FnMut(usize) -> Option<usize>) {
    let mut i = 0;
    while i < b.len() {
        i = match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => skip_line_comment(b, i),
            b'/' if b.get(i + 1) == Some(&b'*') => skip_block_comment(b, i),
            b'"' | b'\'' => skip_quoted(b, i),
            b'`' => skip_raw(b, i),
            c => match at(i) {
                Some(next) => next.max(i + 1),
                None if is_ident_byte(c) => {
                    i + b[i..].iter().take_while(|&&c| is_ident_byte(c)).count()
                }
                None => i + 1,
            },
        };
    }
}

/// Past spaces and tabs (a selector may be split after its dot).
fn skip_blank(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    i
}

/// `i` past `word` when `word` stands at `i` as a whole word.
fn word_at(b: &[u8], i: usize, word: &str) -> Option<usize> {
    let end = i + word.len();
    (b.get(i..end)? == word.as_bytes() && !b.get(end).is_some_and(|&c| is_ident_byte(c)))
        .then_some(end)
}

/// Past whitespace, semicolons and comments.
fn skip_space(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' | b'\r' | b'\n' | b';' => i += 1,
            b'/' if b.get(i + 1) == Some(&b'/') => i = skip_line_comment(b, i),
            b'/' if b.get(i + 1) == Some(&b'*') => i = skip_block_comment(b, i),
            0xEF if b[i..].starts_with(&[0xEF, 0xBB, 0xBF]) => i += 3,
            _ => break,
        }
    }
    i
}

pub(crate) fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

pub(crate) fn skip_line_comment(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |p| i + p)
}

pub(crate) fn skip_block_comment(b: &[u8], i: usize) -> usize {
    b[i + 2..]
        .windows(2)
        .position(|w| w == b"*/")
        .map_or(b.len(), |p| i + 2 + p + 2)
}

/// Past a "..." or '...' literal (escapes honoured; stops at a newline).
pub(crate) fn skip_quoted(b: &[u8], i: usize) -> usize {
    let q = b[i];
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'\n' => return j,
            c if c == q => return j + 1,
            _ => j += 1,
        }
    }
    b.len()
}

pub(crate) fn skip_raw(b: &[u8], i: usize) -> usize {
    b[i + 1..]
        .iter()
        .position(|&c| c == b'`')
        .map_or(b.len(), |p| i + 1 + p + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_agrees_with_the_parser() {
        let src = "// Copyright\n/* block */\n//go:build linux\n\npackage foo // trailing\n\nimport \"fmt\"\nimport (\n\t\"net/http\"\n\tio2 \"io\" // why\n\t_ \"embed\"\n\t. `strings`\n)\nimport \"os\"; import \"sort\"\n\nfunc f() { import_ := 1 }\n";
        let h = scan_header(src);
        let f = crate::parse_file("x.go", src.to_string()).unwrap();
        assert_eq!(h.package, f.ast.package.as_ref().unwrap().name);
        let parsed: Vec<String> = f.ast.imports.iter().map(|i| i.path.clone()).collect();
        assert_eq!(h.imports, parsed);
        assert_eq!(
            h.imports,
            ["fmt", "net/http", "io", "embed", "strings", "os", "sort"]
        );
    }

    #[test]
    fn selector_calls_outside_comments_and_literals() {
        let names = ["Shutdown", "GracefulStop"];
        let yes = [
            "func f() { srv.Shutdown(ctx) }",
            "func f() { s.grpc.GracefulStop() }",
            "func f() { get().\n\tShutdown (ctx) }",
        ];
        for src in yes {
            assert!(calls_selector(src, &names), "{src}");
        }
        let no = [
            "// srv.Shutdown(ctx)\nfunc f() {}",
            "/* s.GracefulStop() */ func f() {}",
            "var s = \"srv.Shutdown(ctx)\"",
            "var s = `x.GracefulStop()`",
            "func f() { stop := srv.Shutdown; _ = stop }",
            "func f() { srv.ShutdownNow(ctx); Shutdown(ctx) }",
            "var r = '.'; func f() { x.Close() }",
        ];
        for src in no {
            assert!(!calls_selector(src, &names), "{src}");
        }
    }

    #[test]
    fn broken_headers_give_what_was_read() {
        assert_eq!(scan_header(""), Header::default());
        assert_eq!(scan_header("func main() {}").package, "");
        let h = scan_header("package p\nimport (\n\t\"a\"\n\t42\n");
        assert_eq!((h.package.as_str(), h.imports.len()), ("p", 1));
        assert_eq!(
            scan_header("package p\nimport \"unterminated")
                .imports
                .len(),
            0
        );
    }
}
