//! A container without a memory limit or without CPU/memory requests.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "missing-resources",
    category: Category::Kubernetes,
    severity: Severity::Warning,
    summary: "Container without a memory limit, or without CPU and memory requests",
    reports_on: "the `resources:` key, or the container when it has none",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
A container (init containers included, of any workload) that lacks any of
`resources.limits.memory`, `resources.requests.cpu` or
`resources.requests.memory`. A CPU limit is not required (many teams run
without one on purpose).

## Why it matters in production
Without requests the scheduler packs pods onto nodes that cannot hold them,
and the pod is the first to be evicted under pressure (BestEffort class).
Without a memory limit one leaking Go service can take a node's memory and
get its neighbours OOM-killed; with one, only the leaking pod restarts. The
Go runtime can also only respect a limit that exists (see
`memory-limit-without-gomemlimit`).

## Bad
```yaml
    image: registry.example.com/api:2.4.1
    resources:
      limits:
        cpu: "1"
```

## Good
```yaml
    resources:
      requests: {cpu: 250m, memory: 256Mi}
      limits: {memory: 512Mi}
```

## How to fix
Set requests from observed usage (p95 CPU, steady-state memory) and a memory
limit with headroom above the peak.

## How to suppress
`# nolint:missing-resources` at the end of the reported line, or the
annotation `pitfall.dev/ignore: "missing-resources"` on the object.

## Compared with kube-linter and kube-score
kube-linter splits this into `unset-cpu-requirements` and
`unset-memory-requirements`, which require both requests and limits (a CPU
limit included); kube-score's `container-resources` also requires a CPU limit
unless `--ignore-container-cpu-limit` is given. This rule does not ask for a
CPU limit, and reports one finding per container listing what is missing.
"#,
    check: Check::Manifest(check),
};

fn check(cx: &mut ManifestChecker) {
    for w in cx.workloads {
        for c in &w.containers {
            let mut missing = Vec::new();
            if c.resource("limits", "memory").is_none() {
                missing.push("memory limit");
            }
            if c.resource("requests", "cpu").is_none() {
                missing.push("CPU request");
            }
            if c.resource("requests", "memory").is_none() {
                missing.push("memory request");
            }
            if missing.is_empty() {
                continue;
            }
            let at = c.entry("resources").map(|(k, _)| k).unwrap_or(c.node);
            cx.report(
                w.object,
                at,
                format!(
                    "{}container `{}` has no {}: the scheduler cannot place it reliably and a leak can take the node's memory",
                    if c.init { "init " } else { "" },
                    c.name,
                    missing.join(", ")
                ),
            )
            .fix("set resources.requests.cpu, resources.requests.memory and resources.limits.memory");
        }
    }
}
