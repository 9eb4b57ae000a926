//! One identity for a variable or object, shared by every analysis.
//!
//! An [`Obj`] is a root (where the variable is declared) plus a field path:
//! `s.mu` inside a method is `Local(decl of s) . "mu"`; a package variable is
//! `Global("name")`; its class across all values of a type is
//! `Type("Server") . "mu"` ([`class_of`]). Names that only look alike (a
//! shadowing local, the same name in another closure) get different roots.

use crate::ast::*;
use crate::types::{Env, Scope, Ty};

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Root {
    /// A local variable or parameter, by the span start of its declaring identifier.
    Local(u32),
    /// A package-level variable of the package being checked.
    Global(String),
    /// Every value of the package's named type (a class of objects).
    Type(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Obj {
    pub root: Root,
    /// Field names from the root, joined by `.` (empty for the variable itself).
    pub path: String,
}

impl Obj {
    pub fn field(&self, name: &str) -> Obj {
        Obj {
            root: self.root.clone(),
            path: if self.path.is_empty() {
                name.to_string()
            } else {
                format!("{}.{name}", self.path)
            },
        }
    }
}

/// Splits `base.f.g` (through parentheses, `*p`, `&x` and index expressions
/// `a[i].f`, whose elements are one object) into the base identifier and the
/// field path.
pub fn split_path(e: &Expr) -> Option<(&Ident, Vec<&str>)> {
    let mut path = Vec::new();
    let mut e = e.unparen();
    loop {
        match e {
            Expr::Selector(s) => {
                path.push(s.sel.name.as_str());
                e = s.x.unparen();
            }
            Expr::Star(s) => e = s.x.unparen(),
            Expr::Unary(u) if u.op == "&" => e = u.x.unparen(),
            Expr::Index(i) => e = i.x.unparen(),
            Expr::Ident(id) => {
                path.reverse();
                return Some((id, path));
            }
            _ => return None,
        }
    }
}

/// The object `e` denotes, by declaration: a local, a parameter, a package
/// variable, or a field path from one of them. `None` for anything else
/// (calls, literals, imported package members).
pub fn obj_of<'a>(sc: &Scope<'a>, env: &Env<'a>, e: &'a Expr) -> Option<Obj> {
    let (base, path) = split_path(e)?;
    let root = match env.resolve(base) {
        Some(b) => Root::Local(b.decl.start),
        None if sc.pkg.vars.contains_key(base.name.as_str()) => Root::Global(base.name.to_string()),
        None => return None,
    };
    Some(Obj {
        root,
        path: path.join("."),
    })
}

/// The class of the object `e` denotes across every value of its owner's
/// type: `T.f.g` when `e` is `x.f.g` and `x` has the package's type `T` (the
/// first field whose owner is a package type wins, so `r.store.mu` is
/// `Store.mu` when `store` is a `*Store`); package variables are their own
/// class. `None` for locals without a package type in the chain.
pub fn class_of<'a>(sc: &Scope<'a>, env: &Env<'a>, e: &'a Expr) -> Option<Obj> {
    let (base, path) = split_path(e)?;
    if env.resolve(base).is_none() {
        return sc.pkg.vars.contains_key(base.name.as_str()).then(|| Obj {
            root: Root::Global(base.name.to_string()),
            path: path.join("."),
        });
    }
    if path.is_empty() {
        return None;
    }
    // Walk the chain from the innermost owner outwards: the deepest prefix
    // whose type is a named type of this package owns the rest of the path.
    let mut prefixes: Vec<&'a Expr> = Vec::new();
    let mut x = e.unparen();
    loop {
        match x {
            Expr::Selector(s) => {
                prefixes.push(&s.x);
                x = s.x.unparen();
            }
            Expr::Star(s) => x = s.x.unparen(),
            Expr::Unary(u) if u.op == "&" => x = u.x.unparen(),
            Expr::Index(i) => x = i.x.unparen(),
            _ => break,
        }
    }
    // prefixes[0] is the owner of the last field; the rest own longer paths.
    for (depth, owner) in prefixes.iter().enumerate() {
        if let Ty::Named(p, n) = env.type_of(sc, owner).deref() {
            if *p == sc.pkg.import_path() {
                let rest = &path[path.len() - 1 - depth..];
                return Some(Obj {
                    root: Root::Type(n.to_string()),
                    path: rest.join("."),
                });
            }
        }
    }
    None
}

/// A short text for messages: `s.mu` as written is better; this is the fallback.
pub fn describe(o: &Obj) -> String {
    let root = match &o.root {
        Root::Local(_) => "local".to_string(),
        Root::Global(n) => n.clone(),
        Root::Type(t) => t.clone(),
    };
    if o.path.is_empty() {
        root
    } else {
        format!("{root}.{}", o.path)
    }
}
