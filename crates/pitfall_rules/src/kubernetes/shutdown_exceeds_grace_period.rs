//! The code's shutdown wait does not fit in the pod's grace period.
use crate::prelude::*;
use pitfall_k8s::{Container, Node};

pub static RULE: Rule = Rule {
    name: "shutdown-exceeds-grace-period",
    category: Category::Kubernetes,
    severity: Severity::Warning,
    summary: "Graceful-shutdown timeout in the code does not fit in terminationGracePeriodSeconds minus preStop",
    reports_on: "`terminationGracePeriodSeconds:` (or the container when it is not set); the container for a missing preStop delay",
    test_files: TestFiles::Include,
    options: &[RuleOption {
        name: "margin_seconds",
        default: "5",
        help: "seconds the shutdown timeout must stay below the grace period (minus preStop)",
    }],
    doc: r#"
## What it finds
For a container linked to a Go `main` package (see `pitfall rule
memory-limit-without-gomemlimit` for how links are made):
1. The timeout of the context given to `Shutdown` (`srv.Shutdown(ctx)` with
   `ctx` from `context.WithTimeout(..., 25*time.Second)`; constants and
   package-level values are followed) plus a margin (`margin_seconds`,
   default 5) is more than `terminationGracePeriodSeconds` (default 30) minus
   the container's `preStop` delay (`lifecycle.preStop.sleep.seconds`, or an
   `exec` command running `sleep N`). Reported on
   `terminationGracePeriodSeconds:`, or on the container when the default
   applies. When the timeout cannot be read (a flag, a context built
   elsewhere) the rule is silent. Only the `Shutdown` wait is counted; worker
   drains after it make the real need larger. A gRPC server's
   `GracefulStop()` raced with a timer and `Stop()` (`time.After(d)`,
   `time.AfterFunc(d, s.Stop)`, `context.WithTimeout`) counts with the
   timer's duration.
2. The container receives traffic, has no `preStop` hook, and the code calls
   `Shutdown` without any sleep or timer before it in the same function: it
   stops accepting connections the moment SIGTERM arrives. Reported on the
   container.
3. A gRPC `GracefulStop()` that nothing bounds: no `Stop()` on the same
   server together with a timer in the function that calls it (or the
   function declaration around the goroutine that calls it). GracefulStop
   takes no deadline and waits for every RPC and every open stream (a
   watch, a server stream) to end. Reported on
   `terminationGracePeriodSeconds:`, or on the container.

## Why it matters in production
On SIGTERM the kubelet waits `terminationGracePeriodSeconds` (the `preStop`
hook runs first and uses up part of it), then SIGKILLs: a drain that needs
longer is cut off with requests in flight. Meanwhile the endpoint is removed
from Services and load balancers asynchronously: for a few seconds after
SIGTERM new requests still arrive, and a server that closed its listener
immediately answers them with connection refused.

## Bad
```yaml
    spec:
      terminationGracePeriodSeconds: 30
      containers:
        - name: api            # no preStop; the code: Shutdown with a 30s timeout
```

## Good
```yaml
    spec:
      terminationGracePeriodSeconds: 45
      containers:
        - name: api
          lifecycle:
            preStop:
              sleep: {seconds: 5}   # or exec: {command: ["sleep", "5"]} before Kubernetes 1.30
```
with `context.WithTimeout(context.Background(), 30*time.Second)` for
`Shutdown`: 5 + 30 stays well below 45.

For gRPC, bound the drain:
```go
<-ctx.Done() // SIGTERM
stopped := make(chan struct{})
go func() { srv.GracefulStop(); close(stopped) }()
select {
case <-stopped:
case <-time.After(20 * time.Second):
	srv.Stop() // cancels the streams still open
}
```

## How to fix
Raise `terminationGracePeriodSeconds` above preStop + shutdown timeout + a
few seconds, or shorten the timeout; add a `preStop` sleep (or sleep a few
seconds in the code after failing readiness) so endpoints are gone before
the listener closes.

## How to suppress
`# nolint:shutdown-exceeds-grace-period` at the end of the reported line, or
the annotation `pitfall.dev/ignore: "shutdown-exceeds-grace-period"` on the
object.

## Compared with kube-linter and kube-score
Neither tool reads the code's shutdown timeout. kube-score's probe guidance
recommends a preStop sleep or failing readiness on SIGTERM, but no check
reports its absence.
"#,
    check: Check::Cross(check),
};

/// The preStop hook (if any) and its delay in seconds when readable.
fn pre_stop(c: &Container) -> (bool, f64) {
    let Some(hook) = c.node.path(&["lifecycle", "preStop"]) else {
        return (false, 0.0);
    };
    if let Some(s) = hook.path(&["sleep", "seconds"]).and_then(Node::as_i64) {
        return (true, s as f64);
    }
    let words: Vec<&str> = hook
        .path(&["exec", "command"])
        .map(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .filter_map(Node::as_str)
        .flat_map(|s| s.split(|ch: char| ch.is_whitespace() || ch == ';' || ch == '&'))
        .filter(|s| !s.is_empty())
        .collect();
    let delay = words
        .windows(2)
        .find(|w| w[0] == "sleep" || w[0].ends_with("/sleep"))
        .and_then(|w| w[1].trim_end_matches('s').parse::<f64>().ok())
        .unwrap_or(0.0);
    (true, delay)
}

fn check(cx: &mut ManifestChecker) {
    let margin = cx.option_u64("margin_seconds") as f64;
    for l in cx.links {
        let lc = l.lifecycle;
        if lc.shutdowns.is_empty() {
            continue;
        }
        let c = l.container;
        let w = l.workload;
        let (has_pre_stop, delay) = pre_stop(c);
        let (grace_key, grace) = match w.grace_period() {
            Some((k, g)) => (Some(k), g as f64),
            None => (None, 30.0),
        };
        let longest = lc
            .shutdowns
            .iter()
            .filter_map(|s| s.timeout_secs.map(|t| (t, s)))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((timeout, call)) = longest {
            let budget = grace - delay;
            if timeout + margin > budget {
                let at = grace_key.unwrap_or(c.node);
                let grace_text = if grace_key.is_some() {
                    format!("terminationGracePeriodSeconds {grace}")
                } else {
                    format!("the default grace period of {grace}s")
                };
                let pre = if delay > 0.0 {
                    format!(" minus the {delay}s preStop")
                } else {
                    String::new()
                };
                cx.report(
                    w.object,
                    at,
                    format!(
                        "{}:{} waits up to {timeout}s in Shutdown, but {grace_text}{pre} leaves {budget}s for container `{}`: in-flight requests are killed when SIGKILL comes",
                        call.site.file, call.site.line, c.name
                    ),
                )
                .fix(format!(
                    "set terminationGracePeriodSeconds to at least {} or shorten the Shutdown timeout",
                    (timeout + delay + margin).ceil()
                ));
            }
        }
        if let Some(call) = lc.shutdowns.iter().find(|s| s.unbounded) {
            let at = grace_key.unwrap_or(c.node);
            cx.report(
                w.object,
                at,
                format!(
                    "{}:{} calls GracefulStop, which waits with no limit for every RPC and stream to finish: one long stream keeps container `{}` alive until SIGKILL at {grace}s, and the cleanup after it never runs",
                    call.site.file, call.site.line, c.name
                ),
            )
            .fix(format!(
                "race GracefulStop with a timer and call Stop when it fires (time.After of at most {}s)",
                (grace - delay - margin).max(1.0)
            ));
        }
        if !has_pre_stop && cx.receives_traffic(w, c) && lc.shutdowns.iter().all(|s| !s.delayed) {
            let call = &lc.shutdowns[0];
            cx.report(
                w.object,
                c.node,
                format!(
                    "container `{}` has no preStop delay and {}:{} shuts the server down as soon as SIGTERM arrives: requests routed before the endpoint is removed get connection refused",
                    c.name, call.site.file, call.site.line
                ),
            )
            .fix("add lifecycle.preStop.sleep.seconds: 5 (or sleep a few seconds after failing readiness, before Shutdown)");
        }
    }
}
