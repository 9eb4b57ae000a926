//! An httpGet probe on a path the linked code does not serve.
use crate::manifest::route_serves;
use crate::prelude::*;
use pitfall_k8s::Node;

pub static RULE: Rule = Rule {
    name: "probe-path-not-served",
    category: Category::Kubernetes,
    severity: Severity::Error,
    summary: "httpGet probe path that the linked Go code never registers on that port",
    reports_on:
        "the probe's `path:` key (its `httpGet:` key when the path is left to the default `/`)",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
A `readinessProbe`, `livenessProbe` or `startupProbe` with `httpGet` on a
container linked to a Go `main` package (see `pitfall rule
memory-limit-without-gomemlimit` for how links are made), whose port (a
named port is resolved through the container's `ports`) is one the code
listens on, but whose path matches none of the routes served there. Routes
come from `pitfall routes`: `net/http` patterns (a trailing `/` matches the
subtree, `{name}` and `{name...}` wildcards), gorilla/mux, chi, gin, echo and
fiber, including sub-router prefixes; a route for another method than GET
does not count.

The rule is silent whenever the route map is uncertain (`pitfall routes`
lists the reasons: a router handed to code outside the tree, an address that
cannot be read, ...), when the listener's router could not be followed, and
when no listener is on the probe's port (that is `probe-port-mismatch`).

## Why it matters in production
A probe on a path that returns 404 never succeeds: with a readiness probe the
pods never receive traffic and the rollout stalls; with a liveness probe the
containers are restarted in a loop. Typical causes: a route renamed in the
code (`/health` -> `/healthz`), a prefix added by a sub-router, or a probe
copied from another service.

## Bad
```yaml
          readinessProbe:
            httpGet: {path: /health/ready, port: 8080}   # the code registers /readyz
```

## Good
```yaml
          readinessProbe:
            httpGet: {path: /readyz, port: 8080}
```

## How to fix
Point the probe at a path the service registers on that port (see
`pitfall routes`), or register the endpoint.

## How to suppress
`# nolint:probe-path-not-served` at the end of the reported line, or the
annotation `pitfall.dev/ignore: "probe-path-not-served"` on the object.

## Compared with kube-linter and kube-score
Neither tool reads the code, so neither can tell whether a probe path exists.
"#,
    check: Check::Cross(check),
};

fn check(cx: &mut ManifestChecker) {
    for l in cx.links {
        let Some(listeners) = l.listener_ports() else {
            continue;
        };
        for (kind, _, probe) in l.probes() {
            let Some((hkey, h)) = probe.entry("httpGet") else {
                continue;
            };
            let Some(port) = h.get("port").and_then(|p| l.container.resolve_port(p)) else {
                continue;
            };
            let (at, path) = match h.entry("path") {
                Some((k, v)) => (k, v.as_str().unwrap_or("/")),
                None => (hkey, "/"),
            };
            let on_port: Vec<_> = listeners.iter().filter(|(_, p)| *p == port).collect();
            if on_port.is_empty() {
                continue;
            }
            let mut all_known = true;
            let mut served = false;
            let mut where_ = None;
            for (listener, _) in on_port {
                if listener.serves.is_none() {
                    all_known = false;
                    continue;
                }
                let routes: Vec<_> = l.routes.routes_of(listener).collect();
                if routes.is_empty() {
                    all_known = false;
                    continue;
                }
                served |= routes.iter().any(|r| route_serves(r, path));
                where_ = Some(format!("{}:{}", listener.file, listener.line));
            }
            if served || !all_known {
                continue;
            }
            report(cx, l, at, kind, path, port, where_.unwrap_or_default());
        }
    }
}

fn report(
    cx: &mut ManifestChecker,
    l: &Link,
    at: &Node,
    kind: &str,
    path: &str,
    port: i64,
    listener: String,
) {
    cx.report(
        l.workload.object,
        at,
        format!(
            "{kind} of container `{}` requests GET {path} on port {port}, but {} (listening at {listener}) registers no such route: the probe always fails",
            l.container.name,
            l.main_dir()
        ),
    )
    .fix("point the probe at a route the service serves (see `pitfall routes`) or register the endpoint");
}
