//! json.Marshal into a buffer that is only written to the ResponseWriter.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "marshal-then-write",
    category: Category::Performance,
    severity: Severity::Info,
    summary: "json.Marshal result only written to an http.ResponseWriter; encode straight into it",
    reports_on: "the `json.Marshal` call",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
`b, err := json.Marshal(v)` where `b` is used for nothing but `w.Write(b)` on an
`http.ResponseWriter` (error checks aside). Any other use of `b` — `len(b)` for a
Content-Length, logging, caching, returning it, appending to it, writing it to a
non-ResponseWriter — keeps the rule quiet. Reported on the `json.Marshal` call.

## Why it matters in production
`json.Marshal` builds the whole document in a fresh byte slice, which is then
copied into the response buffer. For large or frequent responses that is an extra
allocation of the full payload per request and more GC work. `json.NewEncoder(w)`
writes into the response as it encodes.

## Bad
```go
func listProducts(w http.ResponseWriter, r *http.Request) {
	b, err := json.Marshal(catalog.All())
	if err != nil {
		http.Error(w, "encode failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}
```

## Good
```go
func listProducts(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(catalog.All()); err != nil {
		log.Printf("list products: %v", err)
	}
}
```

## How to fix
Use `json.NewEncoder(w).Encode(v)`. Note the trade-off: once encoding has started
the status code is sent, so an encoding error can no longer become a clean 500.
Keep `json.Marshal` when you need that (values that can fail to encode), and
suppress the finding. `Encode` also appends a newline.

## How to suppress
`//nolint:marshal-then-write // reason` on the line, or on its own line before the
statement/function; `//nolint:performance` for the whole category; see `pitfall rule`.
"#,
    check: Check::Go(check),
};

fn check(cx: &mut Checker) {
    let file = cx.file;
    let mut assigns = Vec::new();
    walk::walk_file(&file.ast, &mut |n, _| {
        if let Node::Stmt(Stmt::Assign(a)) = n {
            assigns.push(&**a);
        }
        true
    });
    for a in assigns {
        let [rhs] = a.rhs.as_slice() else { continue };
        let Some(call) = rhs.as_call() else { continue };
        if !cx.is_pkg_call(call, "encoding/json", &["Marshal"]) {
            continue;
        }
        let Some(buf) = a.lhs.first().and_then(|l| l.as_ident()) else { continue };
        if buf.is_blank() {
            continue;
        }
        let Some(writer) = only_written_to_response(cx, buf) else { continue };
        let value = call.args.first().map(|v| cx.file.text(v.span()).to_string()).unwrap_or_else(|| "v".into());
        cx.report(
            call.span,
            format!(
                "`{}` from json.Marshal is only written to the ResponseWriter `{writer}`: the whole payload is built in an extra buffer",
                buf.name
            ),
        )
        .fix(format!("encode straight into the response: `json.NewEncoder({writer}).Encode({value})`"));
    }
}

/// The ResponseWriter's name when every use of `buf` (other than this
/// assignment) is `w.Write(buf)` on an `http.ResponseWriter` `w`, and there is
/// at least one.
fn only_written_to_response<'a>(cx: &Checker<'a>, buf: &'a Ident) -> Option<String> {
    let env = cx.env_at(buf.span.start);
    let binding = env.resolve(buf)?;
    let decl = binding.decl;
    let scope = binding.scope;
    let mut writer: Option<String> = None;
    let mut other_use = false;
    walk::walk_file(&cx.file.ast, &mut |n, anc| {
        if other_use {
            return false;
        }
        let Node::Expr(Expr::Ident(id)) = n else { return true };
        if id.name != buf.name || id.span == buf.span || !scope.contains(id.span.start) {
            return true;
        }
        if env.resolve(id).map(|b| b.decl) != Some(decl) {
            return true;
        }
        match write_to_response(cx, id, anc) {
            Some(w) if writer.as_deref().is_none_or(|prev| prev == w) => writer = Some(w),
            _ => other_use = true,
        }
        true
    });
    if other_use {
        None
    } else {
        writer
    }
}

/// `w` when the identifier is the only argument of `w.Write(...)` and `w` is an
/// `http.ResponseWriter`.
fn write_to_response<'a>(cx: &Checker<'a>, id: &'a Ident, anc: &[Node<'a>]) -> Option<String> {
    let Some(Node::Expr(Expr::Call(call))) = anc.last() else { return None };
    let [arg] = call.args.as_slice() else { return None };
    if arg.span() != id.span || call.method_name() != Some("Write") {
        return None;
    }
    let recv = call.receiver()?;
    if !cx.type_of(recv).is_named("net/http", "ResponseWriter") {
        return None;
    }
    Some(cx.file.text(recv.span()).to_string())
}
