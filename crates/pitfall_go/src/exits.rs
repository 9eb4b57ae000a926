//! Calls that end the process on the spot: `os.Exit`, `log.Fatal*` and
//! `Fatal*` on a `*log.Logger`. They skip every deferred call of every
//! goroutine (unlike `panic`, `log.Panic*` or `t.Fatal`, which unwind).

use crate::ast::*;
use crate::types::{Env, Scope};

/// Whether `call` ends the process without unwinding: `os.Exit`,
/// `log.Fatal`/`Fatalf`/`Fatalln`, or those methods on a `*log.Logger`
/// (whatever the imports are called; a shadowing local is not the package).
pub fn is_process_exit<'a>(sc: &Scope<'a>, env: &Env<'a>, call: &'a CallExpr) -> bool {
    let fun = call.fun.unparen();
    if let Some((pkg, name)) = env.pkg_member(sc.file, fun) {
        return matches!(
            (pkg, name),
            ("os", "Exit") | ("log", "Fatal" | "Fatalf" | "Fatalln")
        );
    }
    let Some(sel) = fun.as_selector() else {
        return false;
    };
    if !matches!(sel.sel.name.as_str(), "Fatal" | "Fatalf" | "Fatalln") {
        return false;
    }
    env.type_of(sc, &sel.x).is_named("log", "Logger")
}
