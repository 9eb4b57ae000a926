//! A serving container without a readinessProbe.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "missing-readiness-probe",
    category: Category::Kubernetes,
    severity: Severity::Warning,
    summary: "Container that receives traffic has no readinessProbe",
    reports_on: "the container (its first key, usually `- name:`)",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
A container of a long-running workload (Deployment, StatefulSet, DaemonSet,
ReplicaSet, DeploymentConfig and the like — not Jobs, CronJobs or bare Pods)
that receives traffic — it declares a `containerPort`, or a Service of the
checked manifests selects its pods — and has no `readinessProbe`. Init
containers are not judged.

## Why it matters in production
Without a readiness probe a pod counts as ready as soon as its process
starts: the Service sends requests before the Go server listens (connection
refused during every rollout), and keeps sending them while the pod drains on
SIGTERM. A readiness probe also lets a service take itself out of rotation
when it is overloaded or shutting down.

## Bad
```yaml
containers:
  - name: api
    image: registry.example.com/api:2.4.1
    ports:
      - containerPort: 8080
```

## Good
```yaml
containers:
  - name: api
    image: registry.example.com/api:2.4.1
    ports:
      - containerPort: 8080
    readinessProbe:
      httpGet: {path: /readyz, port: 8080}
      periodSeconds: 5
```

## How to fix
Serve a cheap readiness endpoint (it should not call other services) that
turns unhealthy once SIGTERM is received, and point `readinessProbe.httpGet`
at it.

## How to suppress
`# nolint:missing-readiness-probe` at the end of the reported line, or the
annotation `pitfall.dev/ignore: "missing-readiness-probe"` on the object.

## Compared with kube-linter and kube-score
kube-linter's `no-readiness-probe` (off by default) flags every container of
a deployment-like object, workers without ports included; kube-score's
`pod-probes` asks for a readiness probe on pods targeted by a Service. This
rule takes both signals (a declared port or a selecting Service) and reports
the line of the container.
"#,
    check: Check::Manifest(check),
};

fn check(cx: &mut ManifestChecker) {
    for (w, c) in cx.serving_containers() {
        if c.get("readinessProbe").is_some() {
            continue;
        }
        cx.report(
            w.object,
            c.node,
            format!(
                "container `{}` of {} `{}` receives traffic but has no readinessProbe: requests reach it before it listens and while it shuts down",
                c.name, w.object.kind, w.object.name
            ),
        )
        .fix("add a readinessProbe (httpGet on a cheap /readyz endpoint that fails once SIGTERM arrives)");
    }
}
