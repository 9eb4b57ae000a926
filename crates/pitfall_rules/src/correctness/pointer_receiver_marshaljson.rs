//! `MarshalJSON` on `*T` while `T` values are marshalled.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "pointer-receiver-marshaljson",
    category: Category::Correctness,
    severity: Severity::Error,
    summary: "A T value is marshalled but MarshalJSON is declared on *T, so it is silently skipped",
    reports_on: "the argument of `json.Marshal`/`json.MarshalIndent`/`(*json.Encoder).Encode`",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
A type whose `MarshalJSON` has a pointer receiver (`func (t *T) MarshalJSON()`)
while a plain `T` value — a variable of type `T`, a literal `T{...}`, a range value
over `[]T`, a dereference `*p` — is passed directly to `json.Marshal`,
`json.MarshalIndent` or `(*json.Encoder).Encode`. Pointers (`&v`), slices of `T`
and fields of a marshalled struct are not reported: `encoding/json` can take their
address, so the custom method runs.

Reported on the argument of the marshalling call.

## Why it matters in production
The method set of `T` does not contain methods declared on `*T`. A `T` stored in an
`interface{}` is not addressable, so `encoding/json` does not find the custom
marshaller and falls back to the default struct encoding: secrets you meant to
redact appear in the response, a money amount is printed as a raw struct, a
version field disappears. Nothing fails; the API contract silently changes.

## Bad
```go
type Account struct {
	ID       string
	Password string
}

func (a *Account) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"id": a.ID})
}

func write(w io.Writer, acct Account) error {
	return json.NewEncoder(w).Encode(acct) // Password is written out
}
```

## Good
```go
func (a Account) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"id": a.ID})
}

func write(w io.Writer, acct Account) error {
	return json.NewEncoder(w).Encode(acct)
}
```

## How to fix
Declare `MarshalJSON` on the value receiver (`func (t T) MarshalJSON()`), which
works for both `T` and `*T`, or pass a pointer (`json.Marshal(&v)`). The value
receiver is the safer fix: every future caller gets it right.

## How to suppress
`//nolint:pointer-receiver-marshaljson // reason` on the line, or on its own line
before the statement/function; `//nolint:correctness` for the whole category; see
`pitfall rule`.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    let file = cx.file;
    let mut out = Vec::new();
    let mut calls: Vec<&CallExpr> = Vec::new();
    walk::walk_file(&file.ast, &mut |n, _| {
        if let Node::Expr(Expr::Call(c)) = n {
            calls.push(c);
        }
        true
    });
    for call in calls {
        let Some(arg) = call.args.first() else { continue };
        let marshal = cx.is_pkg_call(call, "encoding/json", &["Marshal", "MarshalIndent"])
            || cx.is_method_call(call, "encoding/json", "Encoder", &["Encode"]);
        if !marshal {
            continue;
        }
        let Ty::Named(path, name) = cx.type_of(arg) else { continue };
        let Some(pkg) = cx.project.package(path) else { continue };
        let Some(def) = pkg.methods.get(&(name, "MarshalJSON")) else { continue };
        let Some(recv) = &def.decl.recv else { continue };
        if !matches!(recv.ty.unparen(), Expr::Star(_)) {
            continue;
        }
        let what = cx.file.text(arg.span()).to_string();
        out.push((arg.span(), what, name.to_string()));
    }
    for (span, what, name) in out {
        cx.report(
            span,
            format!("`{what}` is a {name} value but MarshalJSON is declared on *{name}, so encoding/json skips it and uses the default encoding"),
        )
        .fix(format!("declare MarshalJSON on the value receiver `func (x {name}) MarshalJSON()`, or pass `&{what}`"));
    }
}
