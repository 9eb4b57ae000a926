//! Text dumps: `?debug=2` and tracebacks (one block per goroutine), and
//! `?debug=1` (counted stacks). Read one line at a time.
//!
//! debug=2 / traceback block:
//! ```text
//! goroutine 42 gp=0xc000102a80 m=nil [chan send, 12 minutes, locked to thread, synctest bubble 3 labels:{"k": "v"}]:
//! main.worker(0xc00001c0c0, ...)
//!         /src/svc/worker.go:31 +0x4a
//! ...7 frames elided...
//! created by main.start in goroutine 1
//!         /src/svc/worker.go:12 +0x9c
//! [originating from goroutine 7]:
//! ...
//! ```
//! debug=1 record:
//! ```text
//! goroutine profile: total 7
//! 3 @ 0x43e4ce 0x40a5e5 0x47c4a1
//! # labels: {"route":"/orders"}
//! #<TAB>0x47c4a0<TAB>main.worker+0x20<TAB>/src/svc/worker.go:31
//! ```

use crate::group::{Builder, Raw, RawFrame};
use crate::{err, Error, Format, Limits};
use std::io::BufRead;

/// Parses a text dump, telling debug=1 from debug=2 / traceback by its first line.
pub fn parse<R: BufRead>(mut reader: R, limits: &Limits) -> Result<crate::Dump, Error> {
    let mut lines = Lines::new(limits.max_line);
    let mut b = Builder::new(limits);
    // Skip leading blank lines to find out the format.
    let first = loop {
        match lines.next(&mut reader)? {
            None => return err("empty input: not a goroutine dump"),
            Some((l, _)) if l.iter().all(|c| c.is_ascii_whitespace()) => continue,
            Some((l, _)) => break trim_end(l).to_vec(),
        }
    };
    if first.starts_with(b"goroutine profile: total ") {
        let announced = std::str::from_utf8(&first[b"goroutine profile: total ".len()..])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        debug1(&mut reader, &mut lines, &mut b, limits, announced)?;
        return b.finish(Format::Debug1, None);
    }
    let reason = debug2(first, &mut reader, &mut lines, &mut b, limits)?;
    let format = if reason.is_some() {
        Format::Traceback
    } else {
        Format::Debug2
    };
    b.finish(format, reason)
}

/// A reusable line buffer with a length bound.
struct Lines {
    buf: Vec<u8>,
    max: usize,
    pub number: u64,
}

impl Lines {
    fn new(max: usize) -> Lines {
        Lines {
            buf: Vec::with_capacity(256),
            max,
            number: 0,
        }
    }

    /// The next line without its newline, and whether the input ended before
    /// its newline (cut mid-line); `None` at the end of input.
    fn next<R: BufRead>(&mut self, r: &mut R) -> Result<Option<(&[u8], bool)>, Error> {
        self.buf.clear();
        loop {
            let (done, used) = {
                let avail = r
                    .fill_buf()
                    .map_err(|e| Error(format!("reading dump: {e}")))?;
                if avail.is_empty() {
                    break;
                }
                match avail.iter().position(|&c| c == b'\n') {
                    Some(i) => {
                        self.push(&avail[..i])?;
                        (true, i + 1)
                    }
                    None => {
                        self.push(avail)?;
                        (false, avail.len())
                    }
                }
            };
            r.consume(used);
            if done {
                self.number += 1;
                return Ok(Some((trim_cr(&self.buf), false)));
            }
        }
        if self.buf.is_empty() {
            return Ok(None);
        }
        self.number += 1;
        Ok(Some((trim_cr(&self.buf), true)))
    }

    fn push(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if self.buf.len() + bytes.len() > self.max {
            return err(format!(
                "line {} is longer than {} bytes: not a goroutine dump",
                self.number + 1,
                self.max
            ));
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }
}

fn trim_cr(l: &[u8]) -> &[u8] {
    l.strip_suffix(b"\r").unwrap_or(l)
}

fn trim_end(l: &[u8]) -> &[u8] {
    let n = l
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &l[..n]
}

/// What a debug=2 goroutine header says.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Header {
    pub id: u64,
    pub state: String,
    pub wait_minutes: Option<u64>,
    pub locked: bool,
    pub leaked: bool,
    pub bubble: Option<u64>,
    pub labels: Vec<(String, String)>,
}

/// `goroutine N [gp=.. m=.. mp=..] [state, N minutes, ...]:`
pub(crate) fn parse_header(line: &[u8]) -> Option<Header> {
    let line = std::str::from_utf8(line).ok()?;
    let rest = line.strip_prefix("goroutine ")?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 20 {
        return None;
    }
    let id: u64 = rest[..digits].parse().ok()?;
    let rest = &rest[digits..];
    let open = rest.find('[')?;
    // Between the id and the bracket: only ` gp=0x.. m=N mp=0x..` (Go 1.22+ crashes).
    if !rest[..open]
        .split_whitespace()
        .all(|t| t.starts_with("gp=") || t.starts_with("m=") || t.starts_with("mp="))
    {
        return None;
    }
    let inner = rest[open + 1..].strip_suffix("]:")?;
    let (inner, labels) = match inner.find(" labels:{") {
        Some(i) => (
            &inner[..i],
            parse_labels(&inner[i + " labels:{".len() - 1..])?,
        ),
        None => (inner, Vec::new()),
    };
    let mut parts = inner.split(", ");
    let mut h = Header {
        id,
        labels,
        ..Header::default()
    };
    let mut state = parts.next().unwrap_or("").trim().to_string();
    for marker in [" (scan)", " (leaked)"] {
        if let Some(i) = state.find(marker) {
            if marker == " (leaked)" {
                h.leaked = true;
            }
            state.replace_range(i..i + marker.len(), "");
        }
    }
    if let Some(s) = state.strip_suffix(" (durable)") {
        state = s.to_string();
    }
    h.state = state;
    for p in parts {
        let p = p.trim();
        if let Some(n) = p.strip_suffix(" minutes") {
            h.wait_minutes = n.trim().parse().ok();
        } else if p == "locked to thread" {
            h.locked = true;
        } else if let Some(n) = p.strip_prefix("synctest bubble ") {
            h.bubble = n.trim().parse().ok();
        }
    }
    Some(h)
}

/// `{"k": "v", "k2": "v2"}` with Go-quoted strings (both debug=1's
/// `# labels:` and debug=2's `labels:{...}`).
pub(crate) fn parse_labels(s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let s = s.trim().strip_prefix('{')?;
    let mut rest = s.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return r.trim().is_empty().then_some(out);
        }
        let (k, r) = quoted(rest)?;
        let r = r.trim_start().strip_prefix(':')?.trim_start();
        let (v, r) = quoted(r)?;
        out.push((k, v));
        if out.len() > 64 {
            return None;
        }
        rest = r.trim_start();
        if let Some(r) = rest.strip_prefix(',') {
            rest = r.trim_start();
        }
    }
}

/// A Go double-quoted string at the start of `s`, and what follows it.
fn quoted(s: &str) -> Option<(String, &str)> {
    let body = s.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &body[i + 1..])),
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '\\' | '"' | '\'' => out.push(e),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let mut v = 0u32;
                        for _ in 0..n {
                            v = v * 16 + chars.next()?.1.to_digit(16)?;
                        }
                        out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                    }
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            c => out.push(c),
        }
    }
    None
}

/// A function line: `main.(*T).run(0xc0000, {0x1, 0x2})` → `main.(*T).run`.
fn function_name(line: &[u8]) -> Option<&[u8]> {
    if !line.ends_with(b")") || line.starts_with(b"\t") || line.starts_with(b" ") {
        return None;
    }
    let mut depth = 0usize;
    for i in (0..line.len()).rev() {
        match line[i] {
            b')' => depth += 1,
            b'(' => {
                depth -= 1;
                if depth == 0 {
                    let name = &line[..i];
                    return (!name.is_empty() && !name.contains(&b' ')).then_some(name);
                }
            }
            _ => {}
        }
    }
    None
}

/// A file line: `\t/path/to/file.go:42 +0x1d` (the offset, and `fp= sp= pc=`
/// with GOTRACEBACK=system, are optional) → (`/path/to/file.go`, 42).
fn file_line(line: &[u8]) -> Option<(&[u8], u32)> {
    let l = line
        .strip_prefix(b"\t")
        .or_else(|| line.strip_prefix(b"        "))?;
    let l = trim_end(l);
    // The last `:<digits>` that ends the line or is followed by a space.
    let mut i = l.len();
    while i > 0 {
        i -= 1;
        if l[i] != b':' {
            continue;
        }
        let digits = l[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        let end = i + 1 + digits;
        if digits > 0 && digits <= 9 && (end == l.len() || l[end] == b' ') {
            let n = std::str::from_utf8(&l[i + 1..end]).ok()?.parse().ok()?;
            return Some((&l[..i], n));
        }
    }
    None
}

enum Block {
    /// Not inside a goroutine.
    Outside,
    /// Inside goroutine `header`'s own stack.
    Stack,
    /// After `created by` or an ancestor marker: only file lines and ancestors.
    Tail,
}

struct Pending {
    header: Header,
    frames: Vec<RawFrame>,
    created: Option<RawFrame>,
    elided: bool,
    /// A function line waiting for its file line: (function id, is `created by`).
    want_file: Option<(u32, bool)>,
    start_line: u64,
}

fn debug2<R: BufRead>(
    first: Vec<u8>,
    reader: &mut R,
    lines: &mut Lines,
    b: &mut Builder,
    limits: &Limits,
) -> Result<Option<String>, Error> {
    let mut reason: Option<String> = None;
    let mut cur: Option<Pending> = None;
    let mut state = Block::Outside;
    let mut labels_buf: Vec<(u32, u32)> = Vec::new();
    let mut seen_any = false;
    let mut owned_first = Some(first);
    loop {
        let line_owned;
        let mut partial = false;
        let lno = lines.number + 1;
        let line: &[u8] = match owned_first.take() {
            Some(f) => {
                line_owned = f;
                &line_owned
            }
            None => match lines.next(reader)? {
                Some((l, cut)) => {
                    partial = cut;
                    l
                }
                None => break,
            },
        };
        if let Some(h) = line
            .starts_with(b"goroutine ")
            .then(|| parse_header(line))
            .flatten()
        {
            if let Some(p) = cur.take() {
                flush(p, b, &mut labels_buf)?;
            }
            seen_any = true;
            cur = Some(Pending {
                header: h,
                frames: Vec::new(),
                created: None,
                elided: false,
                want_file: None,
                start_line: lno,
            });
            state = Block::Stack;
            continue;
        }
        let Some(p) = cur.as_mut() else {
            if !seen_any && reason.is_none() {
                let t = String::from_utf8_lossy(trim_end(line));
                if is_reason(&t) {
                    reason = Some(t.chars().take(300).collect());
                }
            }
            continue;
        };
        if let Some((func, is_created)) = p.want_file {
            match file_line(line) {
                Some((file, n)) => {
                    let fr = (func, b.intern_bytes(file), n);
                    if is_created {
                        p.created = Some(fr);
                    } else if p.frames.len() < limits.max_frames {
                        p.frames.push(fr);
                    } else {
                        p.elided = true;
                    }
                    p.want_file = None;
                    continue;
                }
                None if partial => {
                    return err(format!(
                        "truncated dump: input ends mid-line inside goroutine {} (line {lno})",
                        p.header.id
                    ))
                }
                None => {
                    return err(format!(
                        "line {}: expected the file:line of a frame of goroutine {}, found {:?}",
                        lno,
                        p.header.id,
                        preview(line)
                    ))
                }
            }
        }
        let t = trim_end(line);
        if t.is_empty() {
            if let Some(p) = cur.take() {
                flush(p, b, &mut labels_buf)?;
            }
            state = Block::Outside;
            continue;
        }
        if t.starts_with(b"...") && t.ends_with(b"...") {
            // `...N frames elided...` / `...additional frames elided...`
            p.elided = true;
            continue;
        }
        if t.starts_with(b"[originating from goroutine ") {
            state = Block::Tail;
            continue;
        }
        if matches!(state, Block::Stack) {
            if let Some(rest) = t.strip_prefix(b"created by ") {
                let name = match find(rest, b" in goroutine ") {
                    Some(i) => &rest[..i],
                    None => rest,
                };
                let id = b.intern_bytes(name);
                p.want_file = Some((id, true));
                // What follows (GODEBUG=tracebackancestors) describes ancestors.
                state = Block::Tail;
                continue;
            }
        }
        if matches!(state, Block::Tail) {
            // Ancestor frames (GODEBUG=tracebackancestors) and their file lines.
            continue;
        }
        if let Some(name) = function_name(t) {
            let id = b.intern_bytes(name);
            p.want_file = Some((id, false));
            continue;
        }
        if t.starts_with(b"goroutine running on other thread")
            || t.starts_with(b"\t")
            || t.starts_with(b"        ")
        {
            continue;
        }
        if partial {
            return err(format!(
                "truncated dump: input ends mid-line inside goroutine {} (line {lno})",
                p.header.id
            ));
        }
        // Anything else ends the block (e.g. `exit status 2` after a crash).
        if let Some(p) = cur.take() {
            flush(p, b, &mut labels_buf)?;
        }
        state = Block::Outside;
    }
    if let Some(p) = cur.take() {
        if p.want_file.is_some() || p.frames.is_empty() && p.created.is_none() {
            return err(format!(
                "truncated dump: input ends inside goroutine {} (started at line {}) before its frames are complete",
                p.header.id, p.start_line
            ));
        }
        flush(p, b, &mut labels_buf)?;
    }
    Ok(reason)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn preview(line: &[u8]) -> String {
    String::from_utf8_lossy(&line[..line.len().min(80)]).into_owned()
}

/// The line that says why a traceback was printed.
fn is_reason(t: &str) -> bool {
    t.starts_with("fatal error: ")
        || t.starts_with("panic: ")
        || t.starts_with("SIG")
        || t.starts_with("runtime: ")
        || t.starts_with("unexpected fault address")
}

fn flush(p: Pending, b: &mut Builder, labels: &mut Vec<(u32, u32)>) -> Result<(), Error> {
    labels.clear();
    for (k, v) in &p.header.labels {
        let k = b.intern(k);
        let v = b.intern(v);
        labels.push((k, v));
    }
    let state = b.intern(&p.header.state);
    b.add(Raw {
        count: 1,
        id: Some(p.header.id),
        state,
        wait_minutes: p.header.wait_minutes,
        frames: &p.frames,
        created: p.created,
        labels,
        leaked: p.header.leaked,
        in_bubble: p.header.bubble.is_some(),
        locked: p.header.locked,
        elided: p.elided,
    })
}

fn debug1<R: BufRead>(
    reader: &mut R,
    lines: &mut Lines,
    b: &mut Builder,
    limits: &Limits,
    announced: u64,
) -> Result<(), Error> {
    let mut frames: Vec<RawFrame> = Vec::new();
    let mut labels: Vec<(u32, u32)> = Vec::new();
    let mut count: Option<u64> = None;
    let mut start = 0;
    loop {
        let lno = lines.number + 1;
        let line = lines.next(reader)?.map(|(l, _)| l);
        let t = line.map(trim_end);
        match t {
            None | Some(b"") => {
                if let Some(n) = count.take() {
                    if t.is_none() {
                        // Go ends every record with a blank line.
                        return err(format!(
                            "truncated dump: input ends inside the debug=1 record at line {start}"
                        ));
                    }
                    b.add(Raw {
                        count: n,
                        id: None,
                        state: 0,
                        wait_minutes: None,
                        frames: &frames,
                        created: None,
                        labels: &mut labels,
                        leaked: false,
                        in_bubble: false,
                        locked: false,
                        elided: false,
                    })?;
                    frames.clear();
                    labels.clear();
                }
                if t.is_none() {
                    if b.total < announced {
                        return err(format!(
                            "truncated dump: its records hold {} goroutines of the {announced} its header announces",
                            b.total
                        ));
                    }
                    return Ok(());
                }
            }
            Some(t) => {
                if let Some(rest) = t.strip_prefix(b"# labels: ") {
                    if count.is_none() {
                        continue;
                    }
                    let s = String::from_utf8_lossy(rest);
                    let Some(ls) = parse_labels(&s) else {
                        return err(format!("line {lno}: malformed labels"));
                    };
                    labels.clear();
                    for (k, v) in ls {
                        let k = b.intern(&k);
                        let v = b.intern(&v);
                        labels.push((k, v));
                    }
                } else if let Some(rest) = t.strip_prefix(b"#\t") {
                    if count.is_none() {
                        continue;
                    }
                    // 0xADDR \t func+0xOFF \t file:line
                    let mut fields = rest.splitn(3, |&c| c == b'\t');
                    let _addr = fields.next();
                    let (Some(func), Some(loc)) = (fields.next(), fields.next()) else {
                        return err(format!(
                            "line {}: malformed frame line {:?}",
                            lno,
                            preview(t)
                        ));
                    };
                    let func = trim_end(func);
                    let func = match func.iter().rposition(|&c| c == b'+') {
                        Some(i) => &func[..i],
                        None => func,
                    };
                    // tabwriter pads the columns with more tabs.
                    let loc = &loc[loc.iter().take_while(|c| c.is_ascii_whitespace()).count()..];
                    let func = trim_end(func);
                    let mut with_tab = Vec::with_capacity(loc.len() + 1);
                    with_tab.push(b'\t');
                    with_tab.extend_from_slice(loc);
                    let Some((file, n)) = file_line(&with_tab) else {
                        return err(format!(
                            "line {}: malformed frame location {:?}",
                            lno,
                            preview(t)
                        ));
                    };
                    if frames.len() < limits.max_frames {
                        let fid = b.intern_bytes(func);
                        let file = b.intern_bytes(file);
                        frames.push((fid, file, n));
                    }
                } else if let Some(i) = find(t, b" @ ") {
                    if count.is_some() {
                        return err(format!(
                            "line {lno}: a new record starts before the previous one ended"
                        ));
                    }
                    let n = std::str::from_utf8(&t[..i])
                        .ok()
                        .and_then(|s| s.parse().ok());
                    let Some(n) = n else {
                        return err(format!(
                            "line {}: malformed record count {:?}",
                            lno,
                            preview(t)
                        ));
                    };
                    count = Some(n);
                    start = lno;
                } else {
                    return err(format!(
                        "line {}: unexpected text in a debug=1 dump: {:?}",
                        lno,
                        preview(t)
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_of_every_go_version() {
        let h = parse_header(b"goroutine 7 [chan send]:").unwrap();
        assert_eq!(
            (h.id, h.state.as_str(), h.wait_minutes),
            (7, "chan send", None)
        );
        let h = parse_header(
            b"goroutine 12 gp=0xc000003c00 m=nil [sync.Mutex.Lock, 42 minutes, locked to thread]:",
        )
        .unwrap();
        assert_eq!(
            (h.id, h.state.as_str(), h.wait_minutes, h.locked),
            (12, "sync.Mutex.Lock", Some(42), true)
        );
        let h = parse_header(b"goroutine 1 gp=0xc000002380 m=0 mp=0x5f8c00 [running]:").unwrap();
        assert_eq!(h.state, "running");
        let h = parse_header(b"goroutine 9 [chan receive (durable), synctest bubble 4]:").unwrap();
        assert_eq!((h.state.as_str(), h.bubble), ("chan receive", Some(4)));
        let h = parse_header(b"goroutine 9 [select (leaked), 3 minutes]:").unwrap();
        assert_eq!(
            (h.state.as_str(), h.leaked, h.wait_minutes),
            ("select", true, Some(3))
        );
        let h = parse_header(br#"goroutine 5 [IO wait labels:{"route": "/a]b", "x": "\"q\""}]:"#)
            .unwrap();
        assert_eq!(
            h.labels,
            vec![
                ("route".into(), "/a]b".into()),
                ("x".into(), "\"q\"".into())
            ]
        );
        assert!(parse_header(b"goroutine profile: total 4").is_none());
        assert!(parse_header(b"goroutine 5 is fine [x]").is_none());
    }

    #[test]
    fn function_and_file_lines() {
        assert_eq!(
            function_name(b"main.(*T).run(0xc000010000, {0x1, 0x2})"),
            Some(&b"main.(*T).run"[..])
        );
        assert_eq!(function_name(b"main.main()"), Some(&b"main.main"[..]));
        assert_eq!(
            function_name(b"sync.(*Mutex).Lock(...)"),
            Some(&b"sync.(*Mutex).Lock"[..])
        );
        assert_eq!(function_name(b"exit status 2"), None);
        assert_eq!(
            file_line(b"\t/a b/m.go:12 +0x1d"),
            Some((&b"/a b/m.go"[..], 12))
        );
        assert_eq!(file_line(b"\t/a/m.go:12"), Some((&b"/a/m.go"[..], 12)));
        assert_eq!(
            file_line(b"\t/a/m.go:7 +0x1d fp=0xc sp=0xc pc=0x4"),
            Some((&b"/a/m.go"[..], 7))
        );
        assert_eq!(file_line(b"main.main()"), None);
    }
}
