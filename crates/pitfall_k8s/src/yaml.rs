//! YAML documents as a small tree with positions, built from saphyr-parser's
//! event stream.
//!
//! Built with an explicit stack (no recursion on input depth), with limits on
//! nesting depth, on the number of nodes (alias expansion included: a
//! "billion laughs" file is refused, not expanded) and on the number of
//! documents. Every limit gives an error for the file, never a panic.

use saphyr_parser::{Event, Parser, ScalarStyle};
use std::collections::HashMap;

/// Mappings and sequences nested deeper than this are refused. Kubernetes
/// objects stay far below it (a CRD schema reaches a few dozen levels).
pub const MAX_DEPTH: usize = 200;
/// Nodes per file (after alias expansion). A node takes 40 bytes (plus its
/// text when longer than [`INLINE`]), so this bounds a file's tree near
/// 320 MB — about what 2,000,000 nodes cost before the tree was compact —
/// and lets a rendered chart of about 100 MB load (it holds roughly one node
/// per 14 bytes).
pub const MAX_NODES: usize = 8_000_000;
/// Nodes copied by alias expansion, per file. Manifests rarely use aliases;
/// a bomb hits this long before it costs memory.
pub const MAX_ALIAS_NODES: usize = 250_000;
/// Documents per file.
pub const MAX_DOCUMENTS: usize = 100_000;

/// What one file may make the loader do; the defaults are the constants above.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub depth: usize,
    pub nodes: usize,
    pub alias_nodes: usize,
    pub documents: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            depth: MAX_DEPTH,
            nodes: MAX_NODES,
            alias_nodes: MAX_ALIAS_NODES,
            documents: MAX_DOCUMENTS,
        }
    }
}

/// A position: 1-based line, 0-based column in characters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// A node's value, compact: a node is 40 bytes, a scalar of up to
/// [`INLINE`] bytes (most keys and values of a manifest) needs no allocation
/// of its own, and collections hold exactly their items (no spare capacity).
/// Read scalars with [`Node::text`], [`Node::as_str`] and the other accessors.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A scalar of at most [`INLINE`] bytes, stored in place. `plain` is
    /// false for quoted and block scalars.
    Short {
        plain: bool,
        len: u8,
        bytes: [u8; INLINE],
    },
    /// A longer scalar.
    Long {
        plain: bool,
        text: Box<str>,
    },
    Seq(Box<[Node]>),
    /// Entries in source order: (key, value).
    Map(Box<[(Node, Node)]>),
}

/// The longest scalar stored inside its node.
pub const INLINE: usize = 21;

impl Value {
    /// A scalar as written.
    pub fn scalar(text: &str, plain: bool) -> Value {
        if text.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            Value::Short {
                plain,
                len: text.len() as u8,
                bytes,
            }
        } else {
            Value::Long {
                plain,
                text: text.into(),
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    /// Where the node starts (for a block mapping in a sequence: its first key).
    pub pos: Pos,
    /// Where the node ends (exclusive).
    pub end: Pos,
}

impl Node {
    /// The value under `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The (key, value) pair under `key` in a mapping.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .rev() // a repeated key: the last one wins, as in most loaders
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// Follows a path of mapping keys.
    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        let mut n = self;
        for k in keys {
            n = n.get(k)?;
        }
        Some(n)
    }

    /// A scalar's text as written and whether it is plain (not quoted, not a
    /// block scalar); `None` for collections.
    pub fn text(&self) -> Option<(&str, bool)> {
        match &self.value {
            Value::Short { plain, len, bytes } => {
                // Built from a `&str` cut at its end: always UTF-8.
                let text = std::str::from_utf8(&bytes[..*len as usize]).unwrap_or_default();
                Some((text, *plain))
            }
            Value::Long { plain, text } => Some((text, *plain)),
            _ => None,
        }
    }

    /// The text of a scalar that is not null.
    pub fn as_str(&self) -> Option<&str> {
        match self.text()? {
            (text, true) if is_null_text(text) => None,
            (text, _) => Some(text),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.text(), Some((text, true)) if is_null_text(text))
    }

    /// A plain scalar read as a boolean (`true`/`false`, YAML 1.2 core schema).
    pub fn as_bool(&self) -> Option<bool> {
        match self.text()? {
            ("true" | "True" | "TRUE", true) => Some(true),
            ("false" | "False" | "FALSE", true) => Some(false),
            _ => None,
        }
    }

    /// A scalar read as an integer (quoted numbers too: Kubernetes accepts
    /// both for int-or-string fields).
    pub fn as_i64(&self) -> Option<i64> {
        self.as_str()?.trim().parse().ok()
    }

    pub fn as_seq(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    pub fn as_map(&self) -> &[(Node, Node)] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    pub fn is_map(&self) -> bool {
        matches!(self.value, Value::Map(_))
    }

    fn size(&self) -> usize {
        // Depth is bounded by MAX_DEPTH, so this recursion is bounded too.
        1 + match &self.value {
            Value::Short { .. } | Value::Long { .. } => 0,
            Value::Seq(items) => items.iter().map(Node::size).sum(),
            Value::Map(entries) => entries.iter().map(|(k, v)| k.size() + v.size()).sum(),
        }
    }
}

fn is_null_text(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// One YAML document of a file.
#[derive(Debug)]
pub struct Document {
    pub root: Node,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlError {
    pub line: u32,
    pub col: u32,
    pub message: String,
}

impl std::fmt::Display for YamlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col + 1, self.message)
    }
}

enum Frame {
    Seq {
        items: Vec<Node>,
        pos: Pos,
        anchor: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        pos: Pos,
        anchor: usize,
    },
}

fn pos_of(m: saphyr_parser::Marker) -> Pos {
    Pos {
        line: m.line().min(u32::MAX as usize) as u32,
        col: m.col().min(u32::MAX as usize) as u32,
    }
}

/// Parses every document of `src` within the default [`Limits`].
pub fn parse(src: &str) -> Result<Vec<Document>, YamlError> {
    parse_with(src, &Limits::default())
}

/// Parses every document of `src`. Errors (syntax, limits) name the position.
pub fn parse_with(src: &str, limits: &Limits) -> Result<Vec<Document>, YamlError> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, (Node, usize)> = HashMap::new();
    let mut nodes = 0usize;
    let mut aliased = 0usize;
    let mut done: Option<Node> = None;
    for item in Parser::new_from_str(src) {
        let (event, span) = match item {
            Ok(x) => x,
            Err(e) => {
                let m = e.marker();
                return Err(YamlError {
                    line: m.line() as u32,
                    col: m.col() as u32,
                    message: e.info().to_string(),
                });
            }
        };
        let start = pos_of(span.start);
        let end = pos_of(span.end);
        let err = |message: String| YamlError {
            line: start.line,
            col: start.col,
            message,
        };
        let finished: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::Nothing => None,
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                anchors.clear();
                None
            }
            Event::DocumentEnd => {
                if let Some(root) = done.take() {
                    if docs.len() >= limits.documents {
                        return Err(err(format!("more than {} documents", limits.documents)));
                    }
                    docs.push(Document { root });
                }
                None
            }
            Event::Alias(id) => {
                let Some((node, size)) = anchors.get(&id) else {
                    return Err(err("alias to an unknown anchor".into()));
                };
                nodes += size;
                aliased += size;
                if aliased > limits.alias_nodes || nodes > limits.nodes {
                    return Err(err(format!(
                        "aliases expand to more than {} nodes (a YAML bomb?); file not read (--max-yaml-alias-nodes)", limits.alias_nodes
                    )));
                }
                let mut n = node.clone();
                n.pos = start;
                n.end = end;
                Some((n, 0))
            }
            Event::Scalar(text, style, anchor, _) => {
                nodes += 1;
                let n = Node {
                    value: Value::scalar(&text, style == ScalarStyle::Plain),
                    pos: start,
                    end,
                };
                Some((n, anchor))
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= limits.depth {
                    return Err(err(format!(
                        "nested deeper than {} levels; file not read",
                        limits.depth
                    )));
                }
                nodes += 1;
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq {
                        items: Vec::new(),
                        pos: start,
                        anchor,
                    }
                } else {
                    Frame::Map {
                        entries: Vec::new(),
                        key: None,
                        pos: start,
                        anchor,
                    }
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq { items, pos, anchor }) => Some((
                    Node {
                        value: Value::Seq(items.into_boxed_slice()),
                        pos,
                        end,
                    },
                    anchor,
                )),
                Some(Frame::Map {
                    entries,
                    pos,
                    anchor,
                    ..
                }) => Some((
                    Node {
                        value: Value::Map(entries.into_boxed_slice()),
                        pos,
                        end,
                    },
                    anchor,
                )),
                None => return Err(err("unbalanced collection end".into())),
            },
        };
        if nodes > limits.nodes {
            return Err(err(format!(
                "more than {} nodes; file not read",
                limits.nodes
            )));
        }
        let Some((node, anchor)) = finished else {
            continue;
        };
        if anchor != 0 {
            let size = node.size();
            anchors.insert(anchor, (node.clone(), size));
        }
        match stack.last_mut() {
            None => done = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }
    if let Some(root) = done.take() {
        docs.push(Document { root });
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_keys_and_values() {
        let docs = parse("a: 1\nb:\n  - name: x\n    image: y\n---\nc: d\n").unwrap();
        assert_eq!(docs.len(), 2);
        let (k, v) = docs[0].root.entry("b").unwrap();
        assert_eq!(k.pos, Pos { line: 2, col: 0 });
        let item = &v.as_seq()[0];
        assert_eq!(item.pos, Pos { line: 3, col: 4 });
        let (ik, iv) = item.entry("image").unwrap();
        assert_eq!((ik.pos.line, ik.pos.col), (4, 4));
        assert_eq!(iv.as_str(), Some("y"));
        assert_eq!(docs[1].root.get("c").unwrap().as_str(), Some("d"));
    }

    #[test]
    fn scalars() {
        let docs = parse("a: ~\nb: \"true\"\nc: true\nd: '5'\n").unwrap();
        let r = &docs[0].root;
        assert!(r.get("a").unwrap().is_null());
        assert_eq!(r.get("b").unwrap().as_bool(), None);
        assert_eq!(r.get("c").unwrap().as_bool(), Some(true));
        assert_eq!(r.get("d").unwrap().as_i64(), Some(5));
    }

    #[test]
    fn aliases_expand_within_limits() {
        let docs = parse("a: &x {k: v}\nb: *x\n").unwrap();
        assert_eq!(docs[0].root.path(&["b", "k"]).unwrap().as_str(), Some("v"));
    }

    #[test]
    fn the_alias_limit_is_a_setting() {
        let src = "a: &x [1, 2, 3, 4, 5]\nb: *x\n";
        assert!(parse(src).is_ok());
        let tight = Limits {
            alias_nodes: 3,
            ..Limits::default()
        };
        let e = parse_with(src, &tight).unwrap_err();
        assert!(e.message.contains("--max-yaml-alias-nodes"), "{e}");
    }

    #[test]
    fn billion_laughs_is_refused() {
        let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            s += &format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n");
        }
        let e = parse(&s).unwrap_err();
        assert!(e.message.contains("YAML bomb"), "{e}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let s = "[".repeat(100_000);
        let e = parse(&s).unwrap_err();
        assert!(
            e.message.contains("nested deeper") || e.message.contains("recursion limit"),
            "{e}"
        );
        let s = "a:\n".to_string()
            + &(0..300)
                .map(|i| format!("{}k:\n", " ".repeat(i + 1)))
                .collect::<String>();
        let e = parse(&s).unwrap_err();
        assert!(e.message.contains("nested deeper"), "{e}");
        let s = "a:\n".to_string() + &"- ".repeat(50_000) + "x\n";
        assert!(parse(&s).is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for s in [
            "a: [",
            "{",
            "a: b: c",
            "- a\nb: c",
            "\t- x",
            "&a *a",
            "*x",
            "? a\n? b\n",
            "%YAML 9\n---\n",
        ] {
            let _ = parse(s);
        }
    }
}

#[cfg(test)]
mod fuzz {
    use super::parse;

    /// Cheap deterministic fuzzing: mutations of a manifest and random
    /// sequences of YAML punctuation must give a result, never a panic.
    #[test]
    fn mutated_inputs_never_panic() {
        let seed = "apiVersion: apps/v1\nkind: Deployment\nmetadata: &m {name: a, labels: {x: \"y\"}}\nspec:\n  template:\n    metadata: *m\n    spec:\n      containers:\n        - name: c\n          image: 'i:1'\n          args: [\"--a\", |\n            text]\n---\n? k\n: v\n";
        let alphabet: Vec<char> = "-:[]{},&*!|>'\"#?%@` \n\t\\xa1é".chars().collect();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let chars: Vec<char> = seed.chars().collect();
        for _ in 0..1000 {
            let mut s: Vec<char> = chars.clone();
            for _ in 0..(next() % 8 + 1) {
                let i = (next() as usize) % s.len().max(1);
                let c = alphabet[(next() as usize) % alphabet.len()];
                match next() % 3 {
                    0 => s[i] = c,
                    1 => s.insert(i, c),
                    _ => {
                        s.remove(i);
                    }
                }
                if s.is_empty() {
                    s.push('a');
                }
            }
            let text: String = s.into_iter().collect();
            let _ = parse(&text);
            let _ = crate::load("f.yaml", &text);
            let random: String = (0..64)
                .map(|_| alphabet[(next() as usize) % alphabet.len()])
                .collect();
            let _ = parse(&random);
        }
    }
}

#[cfg(test)]
mod compact {
    use super::*;

    /// The size the memory budget of a large chart is computed from.
    #[test]
    fn a_node_is_forty_bytes() {
        assert_eq!(std::mem::size_of::<Node>(), 40);
    }

    #[test]
    fn short_and_long_scalars_read_back_as_written() {
        let long = "x".repeat(INLINE + 1);
        let edge = "é".repeat(INLINE / 2); // multi-byte, at the inline limit
        let src = format!("a: {long}\nb: '{edge}'\nc: ''\nd: null\ne: \"null\"\n");
        let docs = parse(&src).unwrap();
        let r = &docs[0].root;
        assert!(matches!(r.get("a").unwrap().value, Value::Long { .. }));
        assert_eq!(r.get("a").unwrap().as_str(), Some(long.as_str()));
        assert!(matches!(r.get("b").unwrap().value, Value::Short { .. }));
        assert_eq!(r.get("b").unwrap().text(), Some((edge.as_str(), false)));
        assert_eq!(
            r.get("c").unwrap().as_str(),
            Some(""),
            "quoted empty is not null"
        );
        assert!(r.get("d").unwrap().is_null());
        assert_eq!(r.get("e").unwrap().as_str(), Some("null"));
        assert_eq!(r.text(), None);
    }
}

#[cfg(test)]
mod bounds {
    use super::*;

    #[test]
    fn the_node_and_document_limits_hold() {
        let src = "a: [1, 2, 3, 4, 5, 6, 7, 8]\n---\nb: 1\n---\nc: 2\n";
        assert_eq!(parse(src).unwrap().len(), 3);
        let few_nodes = Limits {
            nodes: 8,
            ..Limits::default()
        };
        let e = parse_with(src, &few_nodes).unwrap_err();
        assert!(e.message.contains("more than 8 nodes"), "{e}");
        let few_docs = Limits {
            documents: 2,
            ..Limits::default()
        };
        let e = parse_with(src, &few_docs).unwrap_err();
        assert!(e.message.contains("more than 2 documents"), "{e}");
        // Aliases count towards the nodes as they expand.
        let aliased = "a: &x [1, 2, 3]\nb: *x\nc: *x\n";
        let tight = Limits {
            nodes: 12,
            ..Limits::default()
        };
        assert!(parse_with(aliased, &tight).is_err());
        assert!(parse_with(aliased, &Limits::default()).is_ok());
    }
}
