//! A containerised Go program that never handles SIGTERM.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "missing-sigterm-handling",
    category: Category::Kubernetes,
    severity: Severity::Warning,
    summary: "Workload runs a Go program that never handles SIGTERM",
    reports_on: "the container (its first key, usually `- name:`)",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
A container linked to a Go `main` package (see `pitfall rule
memory-limit-without-gomemlimit` for how links are made) whose program — the
main package and the packages of the tree it imports, test files excluded —
never names `syscall.SIGTERM` (or `unix.SIGTERM`) and never catches every
signal (`signal.Notify(ch)` / `signal.NotifyContext(ctx)` without a list).
Programs that import a framework which handles SIGTERM itself (fx, kratos,
go-micro, go-zero, controller-runtime, the Kubernetes apiserver library) are
left alone. When the code handles only `os.Interrupt`, the message says so.

## Why it matters in production
Kubernetes stops a pod with SIGTERM. A Go program that does not handle it is
killed by the runtime's default action at once: deferred functions do not
run, in-flight requests are cut, buffered logs and metrics are lost, and
work taken from a queue is neither finished nor returned. `os.Interrupt` is
SIGINT (Ctrl-C), which Kubernetes never sends.

## Bad
```go
ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
```

## Good
```go
ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
defer stop()
<-ctx.Done()
// shut down with a deadline
```

## How to fix
Add `syscall.SIGTERM` to the signals the program waits for, and shut down
gracefully when it arrives.

## How to suppress
`# nolint:missing-sigterm-handling` at the end of the container's first line,
or the annotation `pitfall.dev/ignore: "missing-sigterm-handling"` on the
object (e.g. for a process that is safe to kill at any point).

## Compared with kube-linter and kube-score
Neither tool reads the code. The Go rule `missing-graceful-shutdown` checks
the server side (Shutdown is called); this one checks that the signal
Kubernetes sends reaches the program at all.
"#,
    check: Check::Cross(check),
};

fn check(cx: &mut ManifestChecker) {
    for l in cx.links {
        let lc = l.lifecycle;
        if lc.sigterm.is_some() || lc.signal_framework.is_some() {
            continue;
        }
        let detail = match &lc.other_signals {
            Some(s) => format!(
                "{}:{} waits only for other signals (os.Interrupt is SIGINT, which Kubernetes never sends)",
                s.file, s.line
            ),
            None => "it never calls signal.Notify for SIGTERM".to_string(),
        };
        cx.report(
            l.workload.object,
            l.container.node,
            format!(
                "container `{}` runs {}, which never handles SIGTERM: {detail}; on every rollout the process dies mid-request and skips its cleanup",
                l.container.name,
                l.main_dir()
            ),
        )
        .fix("wait for syscall.SIGTERM (signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)) and shut down gracefully");
    }
}
