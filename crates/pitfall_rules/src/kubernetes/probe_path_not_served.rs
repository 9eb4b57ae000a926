//! An httpGet probe on a path the linked code does not serve.
use crate::manifest::route_serves;
use crate::prelude::*;
use pitfall_go::routes::{Listener, Route, GRPC_HEALTH};
use pitfall_k8s::Node;

pub static RULE: Rule = Rule {
    name: "probe-path-not-served",
    category: Category::Kubernetes,
    severity: Severity::Error,
    summary: "Probe the linked Go code cannot answer: an httpGet path it never registers, a gRPC probe without the health service",
    reports_on:
        "the probe's `path:` key (its `httpGet:` key when the path is left to the default `/`, or when the port serves gRPC); `grpc:` for a gRPC probe",
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
does not count. A prefix read from configuration (`baseUrl + "/cart"` with
`baseUrl = os.Getenv("BASE_URL")`, shown as `$BASE_URL/cart` by `pitfall
routes`) takes the container's value of that variable (empty when unset;
unknown, hence silent, with `envFrom`).

gRPC (`grpc.NewServer()` then `Serve(lis)`):
- a `grpc:` probe on a port whose gRPC server does not register the health
  service (`grpc_health_v1.RegisterHealthServer`), or on a port where a
  program without any gRPC server serves plain HTTP: reported on `grpc:`;
- an `httpGet` probe on a port only a gRPC server listens on: reported on
  `httpGet:`.

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
`pitfall routes`), or register the endpoint. For gRPC, register the health
service (`healthpb.RegisterHealthServer(s, health.NewServer())`) and probe
with `grpc: {port: N}`.

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
            if let Some((gkey, g)) = probe.entry("grpc") {
                grpc_probe(cx, l, &listeners, kind, gkey, g);
                continue;
            }
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
            if let Some((grpc, _)) = on_port.iter().find(|(li, _)| li.is_grpc()) {
                if on_port.iter().all(|(li, _)| li.is_grpc()) {
                    cx.report(
                        l.workload.object,
                        hkey,
                        format!(
                            "{kind} of container `{}` sends an HTTP GET to port {port}, but {} serves gRPC there ({}:{}): a gRPC server does not answer HTTP/1.1 requests, so the probe always fails",
                            l.container.name,
                            l.main_dir(),
                            grpc.file,
                            grpc.line
                        ),
                    )
                    .fix("use a `grpc:` probe on that port and register the gRPC health service (grpc_health_v1.RegisterHealthServer)");
                }
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
                for r in routes {
                    match route_in_container(l, r) {
                        Some(r) => served |= route_serves(&r, path),
                        None => all_known = false,
                    }
                }
                where_ = Some(format!("{}:{}", listener.file, listener.line));
            }
            if served || !all_known {
                continue;
            }
            report(cx, l, at, kind, path, port, where_.unwrap_or_default());
        }
    }
}

/// The route as this container serves it: a configuration prefix takes the
/// value of its environment variable (empty when the container does not set
/// it). `None` when the value cannot be read (`envFrom`, `valueFrom`).
fn route_in_container(l: &Link, r: &Route) -> Option<Route> {
    let Some(var) = &r.config_prefix else {
        return Some(r.clone());
    };
    let prefix = match l.container.env_var(var) {
        Some(e) => e.literal()?.to_string(),
        None if l.container.has_env_from() => return None,
        None => String::new(),
    };
    Some(Route {
        path: format!("{}{}", prefix.trim_end_matches('/'), r.path),
        config_prefix: None,
        ..r.clone()
    })
}

/// A `grpc:` probe calls grpc.health.v1.Health/Check on its port: the port
/// must be served by a gRPC server that registers the health service.
fn grpc_probe(
    cx: &mut ManifestChecker,
    l: &Link,
    listeners: &[(&Listener, i64)],
    kind: &str,
    key: &Node,
    g: &Node,
) {
    let Some(port) = g.get("port").and_then(|p| l.container.resolve_port(p)) else {
        return;
    };
    let on_port: Vec<_> = listeners.iter().filter(|(_, p)| *p == port).collect();
    if on_port.is_empty() {
        return; // probe-port-mismatch
    }
    let grpc_in_code = l.routes.routes.iter().any(|r| r.router == "grpc")
        || l.routes.listeners.iter().any(|li| li.is_grpc());
    for (li, _) in &on_port {
        if !li.is_grpc() {
            // An HTTP listener may hand requests to a gRPC server (ServeHTTP,
            // h2c): only a program without any gRPC server is certain.
            if grpc_in_code {
                return;
            }
            continue;
        }
        let health = l.routes.routes_of(li).any(|r| {
            r.path == GRPC_HEALTH || (r.path.starts_with("/?.") && r.path.contains("Health"))
        });
        if health {
            return;
        }
    }
    let (li, _) = on_port[0];
    let what = if li.is_grpc() {
        format!(
            "the gRPC server of {} on that port ({}:{}) does not register the health service (grpc.health.v1.Health): every check gets Unimplemented",
            l.main_dir(),
            li.file,
            li.line
        )
    } else {
        format!(
            "{} serves plain HTTP there ({}:{}) and has no gRPC server",
            l.main_dir(),
            li.file,
            li.line
        )
    };
    cx.report(
        l.workload.object,
        key,
        format!(
            "grpc {kind} of container `{}` on port {port} always fails: {what}",
            l.container.name
        ),
    )
    .fix("register the health service: healthpb.RegisterHealthServer(s, health.NewServer()), or probe with httpGet/tcpSocket");
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
