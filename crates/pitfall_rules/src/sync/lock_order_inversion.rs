//! Two mutexes acquired in opposite orders by two functions of a package.
use crate::prelude::*;
use pitfall_go::index::{Package, ProjectIndex};
use pitfall_go::locks::{self, OrderEdge};
use pitfall_go::types::{Env, Scope};
use pitfall_go::GoFile;

pub static RULE: Rule = Rule {
    name: "lock-order-inversion",
    category: Category::Sync,
    severity: Severity::Error,
    summary: "two mutexes acquired in opposite orders in two places (potential deadlock)",
    reports_on: "the acquisition of the second mutex, in each of the two places",
    test_files: TestFiles::Skip,
    options: &[],
    doc: r#"
## What it finds
Two mutexes that one function acquires in the order A then B (B locked while A is
held on every path) and another function of the same package — possibly in another
file — acquires as B then A. Mutexes are compared by *lock class*: a field `mu` of
the package's type `T` is `T.mu` whatever the variable, a mutex embedded in `T` is
`T`, a mutex embedded in an anonymous-struct field (`mu struct{ sync.Mutex; ...
}`) is `T.mu`, a package-level mutex is its variable. Locking through a method of the same
type that locks first (`s.other.size()`) counts as acquiring its mutex.

Local mutexes, two instances of the same class (`a.mu` then `b.mu`), and mutexes
held only on some paths are not reported. Each of the two places is reported, and
names the other.

## Why it matters in production
When two goroutines run the two functions at the same time, each takes its first
mutex and waits forever for the other's: a classic deadlock. It needs unlucky
timing, so it passes tests and appears under production load, freezing every
request that touches either mutex.

## Bad
```go
func (b *Bank) Transfer() {
	b.accounts.Lock()
	defer b.accounts.Unlock()
	b.ledger.Lock() // accounts -> ledger
	defer b.ledger.Unlock()
	// ...
}

func (b *Bank) Audit() {
	b.ledger.Lock()
	defer b.ledger.Unlock()
	b.accounts.Lock() // ledger -> accounts: opposite order
	defer b.accounts.Unlock()
	// ...
}
```

## Good
Pick one global order (for example: accounts before ledger), document it next to
the fields, and acquire in that order everywhere.

## How to fix
Acquire the mutexes in one agreed order in every function, or restructure so that
no code holds both at once (copy what you need under one lock, release it, then
take the other).

## How to suppress
`//nolint:lock-order-inversion // never run concurrently` on the reported line, or
on its own line before the statement or the function; `//nolint:sync` for the
whole category.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    for (span, msg, fix, (other_file, other, note)) in find(cx) {
        cx.report(span, msg).fix(fix).related_in(other_file, other, note);
    }
}

/// The lock-order edges of every non-test file of the package, with the
/// position of their file; computed once per package.
struct PackageEdges(Vec<(OrderEdge, usize)>);

impl PackageFact for PackageEdges {
    fn compute<'a>(pkg: &'a Package<'a>, project: &'a ProjectIndex<'a>) -> Self {
        let mut all = Vec::new();
        for (i, f) in pkg.files().iter().enumerate().filter(|(_, f)| !f.is_test) {
            all.extend(file_edges(project, pkg, f).into_iter().map(|e| (e, i)));
        }
        PackageEdges(all)
    }
}

#[allow(clippy::type_complexity)]
fn find<'a>(cx: &Checker<'a>) -> Vec<(Span, String, String, (&'a GoFile, Span, String))> {
    if !cx.file.src.contains("Lock()") {
        return Vec::new();
    }
    let edges = cx.package_fact::<PackageEdges>();
    let mine: Vec<OrderEdge> = if cx.file.is_test {
        file_edges(cx.project, cx.pkg, cx.file)
    } else {
        let me = cx.pkg.files().iter().position(|f| std::ptr::eq(f, cx.file));
        edges.0.iter().filter(|(_, i)| Some(*i) == me).map(|(e, _)| e.clone()).collect()
    };
    let all: Vec<(&OrderEdge, &'a GoFile)> = edges.0.iter().map(|(e, i)| (e, &cx.pkg.files()[*i])).collect();
    let mut out = Vec::new();
    for e in &mine {
        let Some((rev, rev_file)) = all
            .iter()
            .find(|(r, _)| r.first == e.second && r.second == e.first)
        else {
            continue;
        };
        let (line, _) = rev_file.line_col(rev.at.start);
        let first_line = e
            .first_at
            .map(|s| format!(" (line {})", cx.file.line_col(s.start).0))
            .unwrap_or_default();
        out.push((
            e.at,
            format!(
                "{} acquires `{}` while holding `{}`{first_line}, but {} acquires them in the opposite order ({}:{line}): two goroutines running both can deadlock",
                e.func, e.second, e.first, rev.func, rev_file.path
            ),
            format!("acquire `{}` and `{}` in one order everywhere", e.first, e.second),
            (*rev_file, rev.at, format!("{} acquires `{}` while holding `{}` here", rev.func, rev.second, rev.first)),
        ));
    }
    out
}

/// The lock-order edges of every function in `file`.
fn file_edges<'a>(
    project: &'a ProjectIndex<'a>,
    pkg: &'a Package<'a>,
    file: &'a GoFile,
) -> Vec<OrderEdge> {
    let mut out = Vec::new();
    // Cheap filter: a function must lock something directly for an edge
    // (the second acquisition may go through a method).
    if !file.src.contains("Lock()") {
        return out;
    }
    let sc = Scope { project, pkg, file };
    let summaries = locks::Summaries::shared(pkg, project);
    for decl in &file.ast.decls {
        let Decl::Func(fd) = decl else { continue };
        if !file.text(fd.span).contains("Lock()") {
            continue;
        }
        let env = Env::build(&sc, Node::FuncDecl(fd));
        let classify = |c: &'a CallExpr| summaries.classify(&sc, &env, c);
        let name = match fd.recv_type_name() {
            Some(t) => format!("{t}.{}", fd.name.name),
            None => fd.name.name.to_string(),
        };
        walk::walk(Node::FuncDecl(fd), &mut |n, _| {
            if let Some(func) = n.as_func() {
                if let Some(body) = func.body() {
                    let label = match func {
                        Func::Decl(_) => name.clone(),
                        Func::Lit(_) => format!("a closure in {name}"),
                    };
                    out.extend(locks::order_edges(body, &label, &classify));
                }
            }
            true
        });
    }
    out
}
