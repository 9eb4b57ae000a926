//! [`Name`]: the text of an identifier or literal in the syntax tree.
//!
//! A parsed file holds millions of identifiers; as `String`s each one was its
//! own heap block (a 5-byte name costs a 32-byte malloc chunk beside the
//! 24-byte `String`). Measured on the standard library, those blocks were about
//! a third of the peak heap. A `Name` is as large as a `String` but keeps up to
//! [`INLINE`] bytes in place, so nearly every identifier and most literals
//! allocate nothing. It reads as a `&str` (`Deref`), compares with `str`,
//! `&str` and `String`, and hashes like a `str` (so maps keyed by `&str` work).

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Bytes kept in place; longer text goes to the heap.
pub const INLINE: usize = 22;

#[derive(Clone)]
pub struct Name(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Box<str>),
}

impl Name {
    pub fn new(s: &str) -> Name {
        if s.len() <= INLINE {
            let mut buf = [0u8; INLINE];
            buf[..s.len()].copy_from_slice(s.as_bytes());
            Name(Repr::Inline {
                len: s.len() as u8,
                buf,
            })
        } else {
            Name(Repr::Heap(s.into()))
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            // The bytes were copied from a `&str` at a char boundary (the
            // whole string), so they are valid UTF-8.
            Repr::Inline { len, buf } => std::str::from_utf8(&buf[..*len as usize])
                .unwrap_or_else(|_| unreachable!("copied from a str")),
            Repr::Heap(s) => s,
        }
    }
}

impl Default for Name {
    fn default() -> Name {
        Name::new("")
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Name {
        Name::new(s)
    }
}

impl From<String> for Name {
    fn from(s: String) -> Name {
        Name::new(&s)
    }
}

impl From<&String> for Name {
    fn from(s: &String) -> Name {
        Name::new(s)
    }
}

impl From<Name> for String {
    fn from(n: Name) -> String {
        n.as_str().to_string()
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Name {}

impl Hash for Name {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.as_str().hash(h)
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Name) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

macro_rules! eq_with {
    ($($t:ty),*) => {$(
        impl PartialEq<$t> for Name {
            fn eq(&self, other: &$t) -> bool {
                self.as_str() == AsRef::<str>::as_ref(other)
            }
        }
        impl PartialEq<Name> for $t {
            fn eq(&self, other: &Name) -> bool {
                AsRef::<str>::as_ref(self) == other.as_str()
            }
        }
    )*};
}
eq_with!(str, &str, String);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn short_and_long_names_read_back() {
        for s in [
            "",
            "x",
            "ListenAndServe",
            &"a".repeat(INLINE),
            &"é".repeat(40),
        ] {
            let n = Name::new(s);
            assert_eq!(n.as_str(), s);
            assert_eq!(n, s);
            assert_eq!(s, n);
            assert_eq!(n.len(), s.len());
        }
        assert_eq!(std::mem::size_of::<Name>(), std::mem::size_of::<String>());
    }

    #[test]
    fn hashes_and_orders_like_str() {
        let mut m: HashMap<Name, u8> = HashMap::new();
        m.insert("mu".into(), 1);
        m.insert("a_very_long_identifier_name_x".into(), 2);
        assert_eq!(m.get("mu"), Some(&1));
        assert_eq!(m.get("a_very_long_identifier_name_x"), Some(&2));
        let mut v: Vec<Name> = ["b", "a", "ab"].into_iter().map(Name::from).collect();
        v.sort();
        assert_eq!(v, ["a", "ab", "b"]);
    }
}
