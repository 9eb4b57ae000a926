//! Sizes and alignments of Go types, computed from declarations with gc's
//! layout rules for amd64 (the platform Go microservices are built for).
//!
//! Only what the tree declares can be measured. Types from other modules and
//! generic type parameters are unknown: they count as size 0, alignment 1, and
//! the result is marked inexact. Because a field can only grow the offsets that
//! follow it, such a result is a lower bound of the true size, so a rule that
//! reports "at least N bytes" when the bound is large is never wrong.

use crate::ast::*;
use crate::index::Package;
use crate::types::{Scope, Ty};

/// Size and alignment of a type on amd64, or a lower bound of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub size: u64,
    pub align: u64,
    /// False when part of the type could not be seen: `size` is then a lower bound.
    pub exact: bool,
}

impl Layout {
    pub const fn exact(size: u64, align: u64) -> Layout {
        Layout {
            size,
            align,
            exact: true,
        }
    }
    /// The layout of a type we cannot see: it may be empty.
    pub const UNKNOWN: Layout = Layout {
        size: 0,
        align: 1,
        exact: false,
    };
    const WORD: Layout = Layout::exact(8, 8);
}

/// What kind of value a type is, as far as copying it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Struct,
    Array,
    /// Anything else: basic types, pointers, slices, maps, interfaces...
    Other,
    Unknown,
}

fn align_up(n: u64, a: u64) -> u64 {
    let a = a.max(1);
    n.div_ceil(a).saturating_mul(a)
}

/// gc's struct layout: each field at its alignment, trailing padding to the
/// struct's alignment, and one extra byte when a non-empty struct ends in a
/// zero-size field (so that `&s.last` cannot point past the object).
pub fn struct_layout(fields: impl IntoIterator<Item = Layout>) -> Layout {
    let mut off = 0u64;
    let mut align = 1u64;
    let mut exact = true;
    let mut last_zero = false;
    for f in fields {
        off = align_up(off, f.align).saturating_add(f.size);
        align = align.max(f.align);
        exact &= f.exact;
        last_zero = f.size == 0;
    }
    if last_zero && off > 0 {
        off += 1;
    }
    Layout {
        size: align_up(off, align),
        align,
        exact,
    }
}

pub fn array_layout(len: Option<u64>, elem: Layout) -> Layout {
    match len {
        Some(n) => Layout {
            size: elem.size.saturating_mul(n),
            align: elem.align,
            exact: elem.exact,
        },
        // An array whose length we cannot evaluate: at least empty.
        None => Layout {
            size: 0,
            align: elem.align,
            exact: false,
        },
    }
}

/// The layout of a predeclared type (`byte`, `string`, `error`, ...).
pub fn basic_layout(name: &str) -> Option<Layout> {
    Some(match name {
        "bool" | "int8" | "uint8" | "byte" => Layout::exact(1, 1),
        "int16" | "uint16" => Layout::exact(2, 2),
        "int32" | "uint32" | "float32" | "rune" => Layout::exact(4, 4),
        "int" | "uint" | "int64" | "uint64" | "uintptr" | "float64" => Layout::WORD,
        // complex64 is two float32s: size 8, alignment 4.
        "complex64" => Layout::exact(8, 4),
        "complex128" => Layout::exact(16, 8),
        "string" | "error" | "any" => Layout::exact(16, 8),
        _ => return None,
    })
}

/// A few standard-library types whose layout is stable and was checked with
/// `unsafe.Sizeof` on go1.26 linux/amd64. Everything else from outside the
/// tree is unknown.
pub fn std_layout(pkg: &str, name: &str) -> Option<Layout> {
    Some(match (pkg, name) {
        ("time", "Time") => Layout::exact(24, 8),
        ("time", "Duration" | "Month" | "Weekday") => Layout::WORD,
        ("sync", "Mutex") => Layout::exact(8, 4),
        ("sync", "RWMutex") => Layout::exact(24, 4),
        ("sync", "WaitGroup") => Layout::exact(16, 8),
        ("sync", "Once") => Layout::exact(12, 4),
        ("sync/atomic", "Int64" | "Uint64") => Layout::WORD,
        ("sync/atomic", "Int32" | "Uint32" | "Bool") => Layout::exact(4, 4),
        // Interfaces and func types of the standard library.
        ("context", "Context")
        | ("io", "Reader" | "Writer" | "Closer" | "ReadCloser" | "WriteCloser") => {
            Layout::exact(16, 8)
        }
        ("context", "CancelFunc") => Layout::WORD,
        _ => return None,
    })
}

fn std_is_struct(pkg: &str, name: &str) -> bool {
    matches!(
        (pkg, name),
        ("time", "Time") | ("sync", _) | ("sync/atomic", _)
    )
}

/// Computes layouts; bounded in depth so that (invalid) recursive types end.
pub struct Sizer<'s, 'a> {
    pub scope: &'s Scope<'a>,
}

const MAX_DEPTH: u32 = 24;

impl<'a> Sizer<'_, 'a> {
    /// The layout of a type inferred by [`crate::types`].
    pub fn layout(&self, t: &Ty<'a>) -> Layout {
        self.ty_layout(t, 0)
    }

    /// Whether `t` is (underneath) a struct or an array.
    pub fn shape(&self, t: &Ty<'a>) -> Shape {
        let mut cur = t.clone();
        for _ in 0..MAX_DEPTH {
            match cur {
                Ty::Struct(..) => return Shape::Struct,
                Ty::Array(..) => return Shape::Array,
                Ty::Named(path, name) => {
                    if std_layout(path, name).is_some() {
                        return if std_is_struct(path, name) {
                            Shape::Struct
                        } else {
                            Shape::Other
                        };
                    }
                    match self.named_spec(path, name) {
                        Some((spec, pkg, file)) => {
                            let sc = Scope {
                                project: self.scope.project,
                                pkg,
                                file,
                            };
                            cur = sc.type_expr(&spec.ty);
                        }
                        None => return Shape::Unknown,
                    }
                }
                Ty::Unknown => return Shape::Unknown,
                _ => return Shape::Other,
            }
        }
        Shape::Unknown
    }

    fn named_spec(
        &self,
        path: &str,
        name: &str,
    ) -> Option<(&'a TypeSpec, &'a Package<'a>, &'a crate::GoFile)> {
        let pkg = self.scope.project.package(path)?;
        let (spec, file) = pkg.types.get(name)?;
        Some((*spec, pkg, *file))
    }

    fn ty_layout(&self, t: &Ty<'a>, depth: u32) -> Layout {
        if depth > MAX_DEPTH {
            return Layout::UNKNOWN;
        }
        match t {
            Ty::Unknown | Ty::Tuple(_) => Layout::UNKNOWN,
            Ty::Basic(b) => basic_layout(b).unwrap_or(Layout::UNKNOWN),
            Ty::Pointer(_) | Ty::Map(..) | Ty::Chan(..) | Ty::Func(_) => Layout::WORD,
            Ty::Slice(_) => Layout::exact(24, 8),
            Ty::Interface => Layout::exact(16, 8),
            Ty::Array(n, elem) => array_layout(*n, self.ty_layout(elem, depth + 1)),
            Ty::Struct(st, file, path) => match self.scope.project.package(path) {
                Some(pkg) => {
                    let sc = Scope {
                        project: self.scope.project,
                        pkg,
                        file,
                    };
                    self.struct_fields(&sc, st, &[], depth + 1)
                }
                None => Layout::UNKNOWN,
            },
            Ty::Named(path, name) => {
                if let Some(l) = std_layout(path, name) {
                    return l;
                }
                let Some((spec, pkg, file)) = self.named_spec(path, name) else {
                    return Layout::UNKNOWN;
                };
                let sc = Scope {
                    project: self.scope.project,
                    pkg,
                    file,
                };
                let params: Vec<&str> = spec
                    .type_params
                    .iter()
                    .flat_map(|f| f.names.iter().map(|n| n.name.as_str()))
                    .collect();
                self.expr_layout(&sc, &spec.ty, &params, depth + 1)
            }
        }
    }

    /// The layout of a type expression written in `sc`'s file; `params` are
    /// the type parameters in scope (unknown by nature).
    fn expr_layout(&self, sc: &Scope<'a>, e: &'a Expr, params: &[&str], depth: u32) -> Layout {
        if depth > MAX_DEPTH {
            return Layout::UNKNOWN;
        }
        match e.unparen() {
            Expr::Ident(id) if params.contains(&id.name.as_str()) => Layout::UNKNOWN,
            Expr::StructType(st) => self.struct_fields(sc, st, params, depth + 1),
            Expr::ArrayType(a) if a.len.is_some() => {
                let len = a.len.as_ref().and_then(|l| sc.const_int(l));
                array_layout(len, self.expr_layout(sc, &a.elem, params, depth + 1))
            }
            // `Box[T]`: the instantiated type's own fields may hold T.
            Expr::Index(_) => {
                let l = self.ty_layout(&sc.type_expr(e), depth + 1);
                Layout { exact: false, ..l }
            }
            other => self.ty_layout(&sc.type_expr(other), depth + 1),
        }
    }

    fn struct_fields(
        &self,
        sc: &Scope<'a>,
        st: &'a StructType,
        params: &[&str],
        depth: u32,
    ) -> Layout {
        let mut fields = Vec::new();
        for f in &st.fields {
            let l = self.expr_layout(sc, &f.ty, params, depth);
            for _ in 0..f.names.len().max(1) {
                fields.push(l);
            }
        }
        struct_layout(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_and_zero_size_tail() {
        let b = Layout::exact(1, 1);
        let w = Layout::WORD;
        assert_eq!(struct_layout([b, w, b]).size, 24);
        assert_eq!(struct_layout([w, b]).size, 16);
        assert_eq!(struct_layout([b, b, Layout::exact(4, 4)]).size, 8);
        let empty = struct_layout([]);
        assert_eq!(empty.size, 0);
        assert_eq!(struct_layout([w, empty]).size, 16);
        assert_eq!(struct_layout([array_layout(Some(95), b), empty]).size, 96);
        assert_eq!(struct_layout([empty, w]).size, 8);
        assert_eq!(struct_layout([empty]).size, 0);
    }

    #[test]
    fn unknown_is_a_lower_bound() {
        let l = struct_layout([Layout::UNKNOWN, array_layout(Some(80), Layout::exact(1, 1))]);
        assert_eq!(l.size, 80);
        assert!(!l.exact);
    }

    /// Types whose layout this module must get exactly right; the test below
    /// compares every one of them with `unsafe.Sizeof` from the real compiler.
    const LAYOUT_SRC: &str = r#"package fx

import (
	"sync"
	"sync/atomic"
	"time"
)

const width = 12

type Padded struct {
	a bool
	b int64
	c bool
}

type Tail struct {
	data [95]byte
	end  struct{}
}

type TailAfterWord struct {
	n   int64
	end [0]int64
}

type Small struct {
	a, b int8
	c    int32
}

type Mixed struct {
	err   error
	ch    chan int
	fn    func()
	z     complex128
	y     complex64
	m     map[int]int
	mu    sync.Mutex
	rw    sync.RWMutex
	count int32
}

type Std struct {
	t   time.Time
	d   time.Duration
	wg  sync.WaitGroup
	o   sync.Once
	i64 atomic.Int64
	i32 atomic.Int32
	ok  atomic.Bool
}

type Grid [width][3]uint16

type Embeds struct {
	Padded
	*Small
	names []string
	any   any
	r     rune
	p     uintptr
}

type Alias = Padded

type Nested struct {
	inner struct {
		x float32
		y [3]bool
	}
	grid Grid
	a    Alias
}
"#;

    const LAYOUT_TYPES: &[&str] = &[
        "Padded",
        "Tail",
        "TailAfterWord",
        "Small",
        "Mixed",
        "Std",
        "Grid",
        "Embeds",
        "Alias",
        "Nested",
    ];

    fn computed_layouts() -> Vec<(String, Layout)> {
        use crate::index::{ProjectIndex, SourcePackage};
        let file = crate::parse_file("fx.go", LAYOUT_SRC.to_string()).expect("parses");
        let sources = vec![SourcePackage {
            dir: ".".into(),
            name: "fx".into(),
            import_path: "example.com/fx".into(),
            gomod: std::sync::Arc::new(crate::module::GoMod::default()),
            files: vec![file],
        }];
        let project = ProjectIndex::new(&sources);
        let pkg = project.package("example.com/fx").expect("indexed");
        let scope = Scope {
            project: &project,
            pkg,
            file: &sources[0].files[0],
        };
        let sizer = Sizer { scope: &scope };
        LAYOUT_TYPES
            .iter()
            .map(|t| (t.to_string(), sizer.layout(&Ty::Named("example.com/fx", t))))
            .collect()
    }

    #[test]
    fn fixture_types_are_exact() {
        for (name, l) in computed_layouts() {
            assert!(l.exact, "{name} should be fully known: {l:?}");
        }
    }

    /// Runs the real compiler on the same declarations (skipped without `go`).
    #[test]
    fn layouts_match_unsafe_sizeof() {
        let host = std::process::Command::new("go")
            .args(["env", "GOHOSTARCH"])
            .output();
        match host {
            Ok(o) if o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "amd64" => {
            }
            Ok(o) if o.status.success() => {
                eprintln!("skipping layouts_match_unsafe_sizeof: the layouts are amd64's and this host is not");
                return;
            }
            _ => {
                eprintln!("skipping layouts_match_unsafe_sizeof: `go` is not installed");
                return;
            }
        }
        let dir = std::env::temp_dir().join(format!("pitfall-sizes-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("fx")).unwrap();
        std::fs::write(dir.join("go.mod"), "module example.com/fx\n\ngo 1.22\n").unwrap();
        let main_src = LAYOUT_SRC
            .replacen("package fx", "package main", 1)
            .replacen("import (", "import (\n\t\"fmt\"\n\t\"unsafe\"", 1);
        let mut prints = String::from("\nfunc main() {\n");
        for t in LAYOUT_TYPES {
            prints.push_str(&format!(
                "\tfmt.Println(\"{t}\", unsafe.Sizeof({t}{{}}), unsafe.Alignof({t}{{}}))\n"
            ));
        }
        prints.push_str("}\n");
        std::fs::write(dir.join("main.go"), main_src + &prints).unwrap();
        let out = std::process::Command::new("go")
            .args(["run", "."])
            .current_dir(&dir)
            .env("GOARCH", "amd64")
            .env("GOFLAGS", "-mod=mod")
            .output()
            .expect("go run");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            out.status.success(),
            "go run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let real: std::collections::HashMap<&str, (u64, u64)> = stdout
            .lines()
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                Some((
                    it.next()?,
                    (it.next()?.parse().ok()?, it.next()?.parse().ok()?),
                ))
            })
            .collect();
        for (name, l) in computed_layouts() {
            assert_eq!(
                real.get(name.as_str()),
                Some(&(l.size, l.align)),
                "layout of {name}"
            );
        }
    }
}
