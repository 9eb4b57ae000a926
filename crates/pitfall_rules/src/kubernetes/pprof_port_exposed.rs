//! A containerPort or Service port for the pprof/debug listener.
use crate::prelude::*;
use pitfall_k8s::Node;

pub static RULE: Rule = Rule {
    name: "pprof-port-exposed",
    category: Category::Kubernetes,
    severity: Severity::Warning,
    summary: "Service or containerPort exposes the pprof/debug port",
    reports_on: "the port entry (`- containerPort:` / `- port:`)",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
- A container port numbered 6060 (the conventional `net/http/pprof` port) or
  named like a debug endpoint (`pprof`, `debug`, `debug-...`).
- A Service port that forwards to such a port: `port` or `targetPort` 6060, a
  `targetPort` or `name` naming `pprof`/`debug`.

## Why it matters in production
`/debug/pprof/` serves heap dumps (which contain request data, tokens and
keys from memory), goroutine stacks and a CPU profiler that anyone reaching
the port can run for as long as they like. Declared on the container it is
reachable from every pod of the cluster network; behind a Service (worse, a
LoadBalancer or an Ingress) from much further.

## Bad
```yaml
    ports:
      - name: http
        containerPort: 8080
      - name: pprof
        containerPort: 6060
```

## Good
```yaml
    ports:
      - name: http
        containerPort: 8080
# and in Go: http.ListenAndServe("localhost:6060", nil) — reach it with
# `kubectl port-forward pod/NAME 6060` when needed.
```

## How to fix
Bind the pprof listener to `localhost` and remove the port from the container
and the Service; use `kubectl port-forward` to profile.

## How to suppress
`# nolint:pprof-port-exposed` at the end of the reported line, or the
annotation `pitfall.dev/ignore: "pprof-port-exposed"` on the object. The Go
rule `pprof-exposed` reports the same exposure from the code's side.

## Compared with kube-linter and kube-score
Neither has a check for debug or profiling ports; kube-linter's `ssh-port`
(port 22) is the closest in shape.
"#,
    check: Check::Manifest(check),
};

const PPROF_PORT: i64 = 6060;

fn debug_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.contains("pprof") || n == "debug" || n.starts_with("debug-")
}

fn check(cx: &mut ManifestChecker) {
    for w in cx.workloads {
        for c in &w.containers {
            for p in c.ports() {
                let named = p.name.filter(|n| debug_name(n));
                if p.number != Some(PPROF_PORT) && named.is_none() {
                    continue;
                }
                let what = match (named, p.number) {
                    (Some(n), Some(num)) => format!("port {num} (`{n}`)"),
                    (Some(n), None) => format!("port `{n}`"),
                    (None, Some(num)) => format!("port {num}"),
                    (None, None) => continue,
                };
                cx.report(
                    w.object,
                    p.node,
                    format!(
                        "container `{}` declares the debug/pprof {what}: heap dumps and profiles become reachable from the cluster network",
                        c.name
                    ),
                )
                .fix("bind pprof to localhost in the code, drop this port and use kubectl port-forward");
            }
        }
    }
    for s in cx.services {
        for p in s.ports {
            let number = |k: &str| p.get(k).and_then(Node::as_i64);
            let name_of = |k: &str| {
                p.get(k)
                    .and_then(|n| n.as_i64().is_none().then(|| n.as_str()).flatten())
            };
            let hit = number("port") == Some(PPROF_PORT)
                || number("targetPort") == Some(PPROF_PORT)
                || name_of("targetPort").is_some_and(debug_name)
                || p.get("name").and_then(Node::as_str).is_some_and(debug_name);
            if !hit {
                continue;
            }
            cx.report(
                s.object,
                p,
                format!(
                    "Service `{}` forwards to the debug/pprof port: anyone who reaches the Service can read heap dumps and run the profiler",
                    s.object.name
                ),
            )
            .fix("remove this port from the Service and bind pprof to localhost");
        }
    }
}
