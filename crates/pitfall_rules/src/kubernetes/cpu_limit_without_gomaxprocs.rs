//! A CPU limit that Go below 1.25 does not see.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "cpu-limit-without-gomaxprocs",
    category: Category::Kubernetes,
    severity: Severity::Warning,
    summary: "CPU limit set, go.mod below 1.25, and no GOMAXPROCS env or automaxprocs",
    reports_on: "the `cpu:` key under `resources.limits`",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
A container linked to a Go `main` package (linked as described on
`pitfall rule memory-limit-without-gomemlimit`) with `resources.limits.cpu`,
when the module's `go` line is below 1.25 and nothing sets the number of
threads: no `GOMAXPROCS` env entry (literal or `valueFrom`), no import of
`go.uber.org/automaxprocs` (or `.../maxprocs`), no `runtime.GOMAXPROCS(n)`
call with a non-zero argument. Containers with `envFrom` are skipped.

From Go 1.25 on the runtime reads the cgroup CPU limit itself (when go.mod
says `go 1.25` or later), and the rule is silent.

## Why it matters in production
Before 1.25, `GOMAXPROCS` defaults to the node's core count. On a 32-core
node with `limits.cpu: "2"`, 32 threads burn the pod's CPU quota in the first
few milliseconds of each 100 ms period and the kernel then stops them all:
latency spikes (throttling) exactly when load is high, and GC pauses grow.

## Bad
```yaml
        resources:
          limits:
            cpu: "2"
```

## Good
```yaml
        env:
          - name: GOMAXPROCS
            valueFrom:
              resourceFieldRef: {resource: limits.cpu, divisor: "1"}
```
or `import _ "go.uber.org/automaxprocs"`, or `go 1.25` in go.mod.

## How to fix
Set `GOMAXPROCS` from the limit (downward API, rounded up with divisor "1"),
import automaxprocs, or move the module to Go 1.25+.

## How to suppress
`# nolint:cpu-limit-without-gomaxprocs` at the end of the `cpu:` line, or the
annotation `pitfall.dev/ignore: "cpu-limit-without-gomaxprocs"` on the object.

## Compared with kube-linter and kube-score
Neither tool reads go.mod or the code. kube-score's `container-resources`
asks for a CPU limit, which is what makes this problem appear.
"#,
    check: Check::Cross(check),
};

fn check(cx: &mut ManifestChecker) {
    for l in cx.links {
        let c = l.container;
        let Some((key, value)) = c
            .node
            .path(&["resources", "limits"])
            .and_then(|n| n.entry("cpu"))
        else {
            continue;
        };
        let Some(version) = l.lifecycle.go_version else {
            continue;
        };
        if version >= (1, 25)
            || value.is_null()
            || c.env_var("GOMAXPROCS").is_some()
            || c.has_env_from()
            || l.lifecycle.sets_gomaxprocs.is_some()
        {
            continue;
        }
        cx.report(
            l.workload.object,
            key,
            format!(
                "CPU limit {} on container `{}` ({}, go {}.{}): before Go 1.25 GOMAXPROCS is the node's core count, so the pod is throttled under load",
                value.as_str().unwrap_or("?"),
                c.name,
                l.main_dir(),
                version.0,
                version.1
            ),
        )
        .fix("add env GOMAXPROCS (valueFrom resourceFieldRef limits.cpu, divisor \"1\"), import go.uber.org/automaxprocs, or use go 1.25+");
    }
}
