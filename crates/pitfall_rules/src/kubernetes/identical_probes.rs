//! A livenessProbe with the same handler as the readinessProbe.
use crate::prelude::*;
use pitfall_k8s::{Container, Node};

pub static RULE: Rule = Rule {
    name: "identical-probes",
    category: Category::Kubernetes,
    severity: Severity::Warning,
    summary: "livenessProbe checks the same endpoint as the readinessProbe",
    reports_on: "the `livenessProbe:` key",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
A container whose `livenessProbe` uses the same handler as its
`readinessProbe`: the same `httpGet` path, port (a named port is resolved to
its number), host and scheme; the same `tcpSocket` port; the same `grpc` port
and service; or the same `exec` command. Timing (`periodSeconds`,
`failureThreshold`, ...) and HTTP headers are ignored: they do not change what
is checked.

## Why it matters in production
A readiness endpoint usually reflects dependencies or load. When the same
endpoint decides liveness, a slow database or a traffic spike makes healthy
pods fail liveness, and Kubernetes restarts them all — turning a brief
degradation into an outage, with cold caches on top.

## Bad
```yaml
    readinessProbe:
      httpGet: {path: /health, port: http}
      periodSeconds: 5
    livenessProbe:
      httpGet: {path: /health, port: 8080}   # same endpoint, longer period
      periodSeconds: 20
```

## Good
```yaml
    readinessProbe:
      httpGet: {path: /readyz, port: http}   # may check dependencies, fails on SIGTERM
    livenessProbe:
      httpGet: {path: /healthz, port: http}  # only "is the process able to answer"
```

## How to fix
Give liveness its own endpoint that answers from the process alone, or drop
the liveness probe if you cannot say what it should detect.

## How to suppress
`# nolint:identical-probes` after `livenessProbe:`, or the annotation
`pitfall.dev/ignore: "identical-probes"` on the object.

## Compared with kube-linter and kube-score
kube-score's `pod-probes` reports identical readiness and liveness probes
(as critical) on the pod, without a line. kube-linter has no such check.
This rule resolves named ports before comparing, so `port: http` and
`port: 8080` on the same container count as the same probe.
"#,
    check: Check::Manifest(check),
};

fn check(cx: &mut ManifestChecker) {
    for w in cx.workloads {
        for c in w.containers.iter().filter(|c| !c.init) {
            let (Some((lkey, live)), Some(ready)) =
                (c.entry("livenessProbe"), c.get("readinessProbe"))
            else {
                continue;
            };
            let (Some(a), Some(b)) = (handler(c, live), handler(c, ready)) else {
                continue;
            };
            if a == b {
                cx.report(
                    w.object,
                    lkey,
                    format!(
                        "livenessProbe of container `{}` checks the same endpoint as its readinessProbe ({a}): when a dependency is slow, healthy pods get restarted",
                        c.name
                    ),
                )
                .fix("give liveness its own endpoint that does not depend on other services, or drop it");
            }
        }
    }
}

/// What a probe checks, as a comparable string.
fn handler(c: &Container, probe: &Node) -> Option<String> {
    let port = |n: Option<&Node>| -> Option<String> {
        let n = n?;
        Some(match c.resolve_port(n) {
            Some(p) => p.to_string(),
            None => n.as_str()?.to_string(),
        })
    };
    if let Some(h) = probe.get("httpGet") {
        let path = h.get("path").and_then(Node::as_str).unwrap_or("/");
        let host = h.get("host").and_then(Node::as_str).unwrap_or("");
        let scheme = h.get("scheme").and_then(Node::as_str).unwrap_or("HTTP");
        return Some(format!(
            "httpGet {scheme} {host}{path} port {}",
            port(h.get("port"))?
        ));
    }
    if let Some(t) = probe.get("tcpSocket") {
        return Some(format!("tcpSocket port {}", port(t.get("port"))?));
    }
    if let Some(g) = probe.get("grpc") {
        let service = g.get("service").and_then(Node::as_str).unwrap_or("");
        return Some(format!(
            "grpc port {} service {service:?}",
            port(g.get("port"))?
        ));
    }
    if let Some(e) = probe.get("exec") {
        let cmd: Vec<&str> = e
            .get("command")?
            .as_seq()
            .iter()
            .filter_map(Node::as_str)
            .collect();
        if cmd.is_empty() {
            return None;
        }
        return Some(format!("exec {}", cmd.join(" ")));
    }
    None
}
