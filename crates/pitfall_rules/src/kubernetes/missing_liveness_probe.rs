//! A serving container without a livenessProbe.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "missing-liveness-probe",
    category: Category::Kubernetes,
    severity: Severity::Info,
    summary: "Container that receives traffic has no livenessProbe",
    reports_on: "the container (its first key, usually `- name:`)",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
A container of a long-running workload (Deployment, StatefulSet, DaemonSet,
ReplicaSet, DeploymentConfig and the like) that receives traffic — it declares
a `containerPort` or a Service of the checked manifests selects its pods — and
has no `livenessProbe`. Init containers, Jobs, CronJobs and bare Pods are not
judged.

## Why it matters in production
A Go service can stop serving without exiting: a deadlock on a mutex, every
handler goroutine blocked on a dependency without timeout, a full worker
queue. Without a liveness probe the pod stays in that state until someone
notices; with one, Kubernetes restarts the container.

## Bad
```yaml
containers:
  - name: api
    image: registry.example.com/api:2.4.1
    ports: [{containerPort: 8080}]
    readinessProbe:
      httpGet: {path: /readyz, port: 8080}
```

## Good
```yaml
    livenessProbe:
      httpGet: {path: /healthz, port: 8080}   # answers from the process itself, no dependencies
      periodSeconds: 10
      failureThreshold: 3
```

## How to fix
Add a liveness probe on an endpoint that only proves the process can still
serve (no database or downstream calls), distinct from the readiness probe
(see `identical-probes`).

## How to suppress
`# nolint:missing-liveness-probe` at the end of the reported line, or the
annotation `pitfall.dev/ignore: "missing-liveness-probe"` on the object.
Severity is `info`: a liveness probe that checks the wrong thing is worse than
none.

## Compared with kube-linter and kube-score
kube-linter's `no-liveness-probe` (off by default) flags every container of a
deployment-like object. kube-score's `pod-probes` treats a missing liveness
probe as a minor remark and advises against one whose purpose is unclear. This
rule only looks at containers that receive traffic and reports on the
container's line.
"#,
    check: Check::Manifest(check),
};

fn check(cx: &mut ManifestChecker) {
    for (w, c) in cx.serving_containers() {
        if c.get("livenessProbe").is_some() {
            continue;
        }
        cx.report(
            w.object,
            c.node,
            format!(
                "container `{}` of {} `{}` has no livenessProbe: a deadlocked server stays in rotation until restarted by hand",
                c.name, w.object.kind, w.object.name
            ),
        )
        .fix("add a livenessProbe on an endpoint that checks only the process itself (e.g. /healthz)");
    }
}
