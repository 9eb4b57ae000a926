//! What a `main` package does about its life in a container: whether it
//! handles SIGTERM, how long its graceful shutdown may take, and whether it
//! tells the runtime about the container's memory and CPU limits.
//!
//! Read from the main package and the packages of the tree it imports (test
//! files excluded), syntax only. Whatever cannot be read (a timeout from a
//! flag, a context built elsewhere) is left `None`: the cross-checks that use
//! these facts stay silent then.

use crate::ast::*;
use crate::index::{Package, ProjectIndex};
use crate::types::{Env, Scope};
use crate::walk::{self, Node};
use crate::GoFile;

/// A place in the code, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    pub file: String,
    pub line: u32,
}

/// One graceful-shutdown call (`srv.Shutdown(ctx)` and look-alikes).
#[derive(Clone, Debug, PartialEq)]
pub struct ShutdownCall {
    pub site: Site,
    /// The timeout of the context it is given, in seconds, when readable
    /// (`context.WithTimeout(parent, 20*time.Second)`).
    pub timeout_secs: Option<f64>,
    /// Whether the function sleeps or waits on a timer before this call (a
    /// delay that lets endpoints be removed before the server stops).
    pub delayed: bool,
    /// A gRPC `GracefulStop()`: it takes no deadline and waits for every RPC
    /// and stream to end. `unbounded` when nothing races it with a timer and
    /// `Stop()`; `timeout_secs` is that timer when it is bounded.
    pub grpc: bool,
    pub unbounded: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lifecycle {
    /// Where SIGTERM is named (`syscall.SIGTERM`, `unix.SIGTERM`) or all
    /// signals are caught (`signal.Notify(ch)` without a list).
    pub sigterm: Option<Site>,
    /// `signal.Notify`/`NotifyContext` calls that name only other signals
    /// (typically `os.Interrupt`, i.e. SIGINT).
    pub other_signals: Option<Site>,
    /// A framework that installs its own SIGTERM handling is imported.
    pub signal_framework: Option<String>,
    pub shutdowns: Vec<ShutdownCall>,
    /// automemlimit imported, or `debug.SetMemoryLimit` called.
    pub sets_memory_limit: Option<Site>,
    /// `os.Getenv("GOMEMLIMIT")` / `LookupEnv`: reads it, does not set it.
    pub reads_gomemlimit: Option<Site>,
    /// automaxprocs imported, or `runtime.GOMAXPROCS(n)` called with n != 0.
    pub sets_gomaxprocs: Option<Site>,
    /// The module's `go` directive.
    pub go_version: Option<(u32, u32)>,
}

/// Imports that handle SIGTERM on the program's behalf.
const SIGNAL_FRAMEWORKS: &[&str] = &[
    "go.uber.org/fx",
    "github.com/go-kratos/kratos/v2",
    "go-micro.dev/v4",
    "go-micro.dev/v5",
    "github.com/zeromicro/go-zero/core/proc",
    "sigs.k8s.io/controller-runtime",
    "sigs.k8s.io/controller-runtime/pkg/manager/signals",
    "k8s.io/apiserver/pkg/server",
    "github.com/cloudwego/hertz/pkg/app/server",
];

const MEMLIMIT_IMPORTS: &[&str] = &[
    "github.com/KimMachineGun/automemlimit",
    "github.com/KimMachineGun/automemlimit/memlimit",
];

const MAXPROCS_IMPORTS: &[&str] = &[
    "go.uber.org/automaxprocs",
    "go.uber.org/automaxprocs/maxprocs",
];

const SHUTDOWN_METHODS: &[&str] = &["Shutdown", "ShutdownWithContext"];

pub fn lifecycle<'a>(project: &'a ProjectIndex<'a>, main: &'a Package<'a>) -> Lifecycle {
    let mut out = Lifecycle {
        go_version: main.src.gomod.go_version,
        ..Default::default()
    };
    for pkg in project.reachable_from(main) {
        for file in pkg.files().iter().filter(|f| !f.is_test && !f.is_generated) {
            file_facts(project, pkg, file, &mut out);
        }
    }
    out.shutdowns
        .sort_by(|a, b| (&a.site.file, a.site.line).cmp(&(&b.site.file, b.site.line)));
    out
}

fn site(file: &GoFile, span: Span) -> Site {
    Site {
        file: file.path.clone(),
        line: file.line_col(span.start).0,
    }
}

fn file_facts<'a>(
    project: &'a ProjectIndex<'a>,
    pkg: &'a Package<'a>,
    file: &'a GoFile,
    out: &mut Lifecycle,
) {
    for imp in &file.ast.imports {
        let p = imp.path.as_str();
        if out.signal_framework.is_none()
            && SIGNAL_FRAMEWORKS
                .iter()
                .any(|f| p == *f || p.starts_with(&format!("{f}/")))
        {
            out.signal_framework = Some(p.to_string());
        }
        if MEMLIMIT_IMPORTS.contains(&p) && out.sets_memory_limit.is_none() {
            out.sets_memory_limit = Some(site(file, imp.span));
        }
        if MAXPROCS_IMPORTS.contains(&p) && out.sets_gomaxprocs.is_none() {
            out.sets_gomaxprocs = Some(site(file, imp.span));
        }
    }
    let sc = Scope { project, pkg, file };
    for root in walk::top_level_roots(&file.ast) {
        let env = Env::build(&sc, root);
        walk::walk(root, &mut |n, anc| {
            match n {
                Node::Expr(e @ Expr::Selector(_))
                    if out.sigterm.is_none()
                        && matches!(
                            env.pkg_member(file, e),
                            Some(("syscall" | "golang.org/x/sys/unix", "SIGTERM"))
                        ) =>
                {
                    out.sigterm = Some(site(file, e.span()));
                }
                Node::Expr(Expr::Call(c)) => call_facts(&sc, &env, file, c, anc, out),
                _ => {}
            }
            true
        });
    }
}

fn call_facts<'a>(
    sc: &Scope<'a>,
    env: &Env<'a>,
    file: &'a GoFile,
    c: &'a CallExpr,
    anc: &[Node<'a>],
    out: &mut Lifecycle,
) {
    match env.pkg_member(file, &c.fun) {
        Some(("os/signal", "Notify")) => {
            if c.args.len() == 1 {
                out.sigterm.get_or_insert_with(|| site(file, c.span));
            } else if out.other_signals.is_none() {
                out.other_signals = Some(site(file, c.span));
            }
        }
        Some(("os/signal", "NotifyContext")) => {
            if c.args.len() == 1 {
                out.sigterm.get_or_insert_with(|| site(file, c.span));
            } else if out.other_signals.is_none() {
                out.other_signals = Some(site(file, c.span));
            }
        }
        Some(("runtime/debug", "SetMemoryLimit")) => {
            out.sets_memory_limit
                .get_or_insert_with(|| site(file, c.span));
        }
        Some(("runtime", "GOMAXPROCS")) => {
            let zero = c.args.first().is_some_and(|a| sc.const_int(a) == Some(0));
            if !zero {
                out.sets_gomaxprocs
                    .get_or_insert_with(|| site(file, c.span));
            }
        }
        Some(("os", "Getenv" | "LookupEnv")) => {
            if c.args.first().and_then(|a| a.as_string_lit()).as_deref() == Some("GOMEMLIMIT") {
                out.reads_gomemlimit
                    .get_or_insert_with(|| site(file, c.span));
            }
        }
        Some(_) => {}
        None => {
            let Some(func) = anc.iter().rev().find(|n| n.as_func().is_some()) else {
                return;
            };
            if c.args.len() == 1
                && c.method_name()
                    .is_some_and(|m| SHUTDOWN_METHODS.contains(&m))
            {
                out.shutdowns.push(shutdown_call(sc, env, file, c, *func));
            }
            if c.args.is_empty() && c.method_name() == Some("GracefulStop") {
                // The wait for SIGTERM, the delay and the race with a timer
                // are usually written around the goroutine that calls
                // GracefulStop: look in the whole declaration.
                let outer = anc
                    .iter()
                    .find(|n| matches!(n, Node::FuncDecl(_)))
                    .unwrap_or(func);
                let mut call = shutdown_call(sc, env, file, c, *outer);
                let bound = graceful_stop_bound(sc, env, file, c, *outer);
                call.grpc = true;
                call.unbounded = bound.is_none();
                call.timeout_secs = bound.flatten();
                out.shutdowns.push(call);
            }
        }
    }
}

fn shutdown_call<'a>(
    sc: &Scope<'a>,
    env: &Env<'a>,
    file: &'a GoFile,
    c: &'a CallExpr,
    func: Node<'a>,
) -> ShutdownCall {
    let mut timeout = None;
    let mut delayed = false;
    let direct = c.args.first().and_then(|a| a.as_call()).filter(|call| {
        matches!(
            env.pkg_member(file, &call.fun),
            Some(("context", "WithTimeout"))
        )
    });
    if let Some(call) = direct {
        timeout = call
            .args
            .get(1)
            .and_then(|d| duration_secs(sc, env, file, d, 0));
    }
    let ctx_name = c.args.first().and_then(|a| a.ident_name());
    walk::walk(func, &mut |n, _| {
        if n.span().start >= c.span.start {
            return false;
        }
        match n {
            // ctx, cancel := context.WithTimeout(parent, d)  (the last one before the call)
            Node::Stmt(Stmt::Assign(a))
                if ctx_name.is_some()
                    && a.lhs.first().and_then(|l| l.ident_name()) == ctx_name
                    && a.rhs.len() == 1 =>
            {
                if let Some(call) = a.rhs[0].as_call() {
                    timeout = match env.pkg_member(file, &call.fun) {
                        Some(("context", "WithTimeout")) => call
                            .args
                            .get(1)
                            .and_then(|d| duration_secs(sc, env, file, d, 0)),
                        _ => None,
                    };
                }
            }
            Node::Expr(Expr::Call(inner)) => {
                if matches!(
                    env.pkg_member(file, &inner.fun),
                    Some(("time", "Sleep" | "After" | "NewTimer" | "Tick"))
                ) {
                    delayed = true;
                }
            }
            _ => {}
        }
        true
    });
    ShutdownCall {
        site: site(file, c.span),
        timeout_secs: timeout,
        delayed,
        grpc: false,
        unbounded: false,
    }
}

/// How `srv.GracefulStop()` is bounded in `func`: `None` when it is not
/// (no `srv.Stop` in the function); `Some(timer)` when `srv.Stop` is called
/// or scheduled there together with a timer (`time.After(d)`,
/// `time.NewTimer(d)`, `time.AfterFunc(d, srv.Stop)`,
/// `context.WithTimeout(ctx, d)`), the timer's seconds when readable.
fn graceful_stop_bound<'a>(
    sc: &Scope<'a>,
    env: &Env<'a>,
    file: &'a GoFile,
    c: &'a CallExpr,
    func: Node<'a>,
) -> Option<Option<f64>> {
    let text = |e: &Expr| {
        let s = e.span();
        file.src.get(s.start as usize..s.end as usize)
    };
    let recv = text(c.receiver()?)?;
    let mut stop = false;
    let mut timer: Option<Option<f64>> = None;
    walk::walk(func, &mut |n, _| {
        match n {
            Node::Expr(Expr::Selector(s)) if s.sel.name == "Stop" && text(&s.x) == Some(recv) => {
                stop = true;
            }
            Node::Expr(Expr::Call(t)) => {
                let d = match env.pkg_member(file, &t.fun) {
                    Some(("time", "After" | "NewTimer" | "AfterFunc")) => t.args.first(),
                    Some(("context", "WithTimeout")) => t.args.get(1),
                    _ => return true,
                };
                let secs = d.and_then(|d| duration_secs(sc, env, file, d, 0));
                timer = Some(match (timer.flatten(), secs) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                });
            }
            _ => {}
        }
        true
    });
    if stop {
        timer.or(Some(None))
    } else {
        None
    }
}

/// The value of a `time.Duration` expression in seconds, when it is written
/// with constants: `20*time.Second`, `time.Duration(n) * time.Minute`, a
/// package-level constant or variable initialised that way.
pub fn duration_secs<'a>(
    sc: &Scope<'a>,
    env: &Env<'a>,
    file: &'a GoFile,
    e: &'a Expr,
    depth: u32,
) -> Option<f64> {
    nanos(sc, env, file, e, depth).map(|ns| ns / 1e9)
}

fn nanos<'a>(
    sc: &Scope<'a>,
    env: &Env<'a>,
    file: &'a GoFile,
    e: &'a Expr,
    depth: u32,
) -> Option<f64> {
    if depth > 8 {
        return None;
    }
    let e = e.unparen();
    if let Some((pkg, name)) = env.pkg_member(file, e) {
        if pkg != "time" {
            return None;
        }
        return Some(match name {
            "Nanosecond" => 1.0,
            "Microsecond" => 1e3,
            "Millisecond" => 1e6,
            "Second" => 1e9,
            "Minute" => 60e9,
            "Hour" => 3600e9,
            _ => return None,
        });
    }
    match e {
        Expr::BasicLit(l) => match l.kind {
            LitKind::Int => l.int_value().map(|v| v as f64),
            LitKind::Float => l.raw.replace('_', "").parse().ok(),
            _ => None,
        },
        Expr::Binary(b) => {
            let x = nanos(sc, env, file, &b.x, depth + 1)?;
            let y = nanos(sc, env, file, &b.y, depth + 1)?;
            match b.op {
                "*" => Some(x * y),
                "+" => Some(x + y),
                "-" => Some(x - y),
                "/" if y != 0.0 => Some(x / y),
                _ => None,
            }
        }
        Expr::Call(c) if c.args.len() == 1 => {
            // time.Duration(n)
            match env.pkg_member(file, &c.fun) {
                Some(("time", "Duration")) => nanos(sc, env, file, &c.args[0], depth + 1),
                _ => None,
            }
        }
        Expr::Ident(id) => {
            if let Some(b) = env.resolve(id) {
                return nanos(sc, env, file, b.init?, depth + 1);
            }
            let def = sc.pkg.vars.get(id.name.as_str())?;
            let v = def.spec.values.get(def.index)?;
            if def.file.path != file.path {
                // Declared in another file of the package: its imports may differ.
                let sc2 = Scope {
                    project: sc.project,
                    pkg: sc.pkg,
                    file: def.file,
                };
                let env2 = Env::default();
                return nanos(&sc2, &env2, def.file, v, depth + 1);
            }
            nanos(sc, &Env::default(), file, v, depth + 1)
        }
        _ => None,
    }
}
