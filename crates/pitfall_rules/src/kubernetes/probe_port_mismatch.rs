//! A probe on a port the container does not declare or the code does not listen on.
use crate::prelude::*;
use pitfall_k8s::Node;

pub static RULE: Rule = Rule {
    name: "probe-port-mismatch",
    category: Category::Kubernetes,
    severity: Severity::Error,
    summary:
        "Probe port that is not a declared port name, or not a port the linked Go code listens on",
    reports_on: "the probe's `port:` key",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
For a container linked to a Go `main` package (see `pitfall rule
memory-limit-without-gomemlimit` for how links are made), a probe
(`httpGet`, `tcpSocket` or `grpc`) whose `port`:
- is a name that none of the container's `ports` carries; or
- is a number (or a name resolved to one) on which the code never listens:
  the route map knows every listener's port (an address read from an env
  variable takes the container's value), the number is none of them, and no
  argument in `command`/`args` mentions it (a flag may override the code's
  default address).

Silent when the route map is uncertain (see `pitfall routes`).

## Why it matters in production
The kubelet connects to the pod IP on the probe's port whatever the
container declares: nothing listens there, every probe fails, readiness never
turns green (the rollout stalls) and liveness restarts the container in a
loop. It happens when the listen address moves (`:8080` -> `:8000`) and the
manifest does not follow, or a port name is misspelt.

## Bad
```yaml
          ports:
            - {name: http, containerPort: 8080}
          livenessProbe:
            httpGet: {path: /healthz, port: htpp}    # no such port name
```

## Good
```yaml
          livenessProbe:
            httpGet: {path: /healthz, port: http}
```

## How to fix
Use a declared port name, or the port the service listens on (`pitfall
routes` shows the listen addresses it reads from the code).

## How to suppress
`# nolint:probe-port-mismatch` at the end of the `port:` line, or the
annotation `pitfall.dev/ignore: "probe-port-mismatch"` on the object.

## Compared with kube-linter and kube-score
kube-linter (0.6.6 and later) has `liveness-port`, `readiness-port` and
`startup-port`, which compare probe ports with the container's declared
ports. They cannot see the port the code listens on; this rule checks both
names and the code.
"#,
    check: Check::Cross(check),
};

fn check(cx: &mut ManifestChecker) {
    for l in cx.links {
        let c = l.container;
        let listening = l.listener_ports();
        let from_flags = l.command_line_ports();
        for (kind, _, probe) in l.probes() {
            let Some(handler) = ["httpGet", "tcpSocket", "grpc"]
                .iter()
                .find_map(|k| probe.get(k))
            else {
                continue;
            };
            let Some((key, port)) = handler.entry("port") else {
                continue;
            };
            if let (None, Some(name)) = (port.as_i64(), port.as_str()) {
                if c.resolve_port(port).is_none() && !c.ports().iter().any(|p| p.name == Some(name))
                {
                    report(cx, l, key, format!(
                        "{kind} of container `{}` uses port `{name}`, which none of its ports is named: the probe cannot connect",
                        c.name
                    ));
                    continue;
                }
            }
            let Some(number) = c.resolve_port(port) else {
                continue;
            };
            let Some(listeners) = &listening else {
                continue;
            };
            if listeners.iter().any(|(_, p)| *p == number) || from_flags.contains(&number) {
                continue;
            }
            let ports: Vec<String> = listeners.iter().map(|(_, p)| p.to_string()).collect();
            report(cx, l, key, format!(
                "{kind} of container `{}` connects to port {number}, but {} listens only on {}: the probe always fails",
                c.name,
                l.main_dir(),
                ports.join(", ")
            ));
        }
    }
}

fn report(cx: &mut ManifestChecker, l: &Link, at: &Node, message: String) {
    cx.report(l.workload.object, at, message)
        .fix("use a declared port name, or the port the service listens on (see `pitfall routes`)");
}
