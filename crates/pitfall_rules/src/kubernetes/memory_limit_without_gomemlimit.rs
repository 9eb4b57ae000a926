//! A memory limit the Go runtime is never told about.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "memory-limit-without-gomemlimit",
    category: Category::Kubernetes,
    severity: Severity::Warning,
    summary: "Memory limit set, but the Go service sets no GOMEMLIMIT (env or automemlimit)",
    reports_on: "the `memory:` key under `resources.limits`",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
A container linked to a Go `main` package of the checked tree (see "Linking"
below) with `resources.limits.memory`, when none of these tells the Go
runtime about the limit:
- a `GOMEMLIMIT` env entry on the container (a literal, or `valueFrom`, e.g.
  the downward API `resourceFieldRef: {resource: limits.memory}`);
- an import of `github.com/KimMachineGun/automemlimit` (or its `memlimit`
  package) anywhere in the program;
- a call to `debug.SetMemoryLimit`.

A container with `envFrom` is skipped (the variable may come from there).
Code that merely reads `os.Getenv("GOMEMLIMIT")` does not count: Kubernetes
never sets that variable by itself, and the message says so.

## Why it matters in production
The Go garbage collector paces itself on `GOGC` alone: with the default of
100 the heap may grow to twice the live data before a collection. It does not
know about the container's limit, so a service whose live heap is 60% of the
limit is OOM-killed by the kernel instead of collecting a little earlier.
`GOMEMLIMIT` (Go 1.19+) makes the GC work harder as the heap nears the limit.

## Bad
```yaml
        resources:
          limits:
            memory: 512Mi
```

## Good
```yaml
        resources:
          limits:
            memory: 512Mi
        env:
          - name: GOMEMLIMIT
            valueFrom:
              resourceFieldRef: {resource: limits.memory}   # or a literal like "460MiB" (~90%)
```
or in Go: `import _ "github.com/KimMachineGun/automemlimit"`.

## How to fix
Set `GOMEMLIMIT` a little below the limit (about 90%, leaving room for
non-heap memory), from the downward API or as a literal; or import
automemlimit.

## How to suppress
`# nolint:memory-limit-without-gomemlimit` at the end of the `memory:` line,
or the annotation `pitfall.dev/ignore: "memory-limit-without-gomemlimit"` on
the object.

## Linking
Containers are linked to the tree's `main` packages by name: the container's
name or the last segment of its image repository equals the main package's
directory name (`cmd/orders` -> `orders`) or, for a main package at the module
root, the module's base name. With one main package and one container in all
manifests they are linked without names. `[kubernetes.link]` in pitfall.toml
names the link explicitly (`orders = "cmd/orders"`, or
`"deployment-name/container" = "..."`).

## Compared with kube-linter and kube-score
Neither tool reads the code, and neither checks env against resource limits.
"#,
    check: Check::Cross(check),
};

fn check(cx: &mut ManifestChecker) {
    for l in cx.links {
        let c = l.container;
        let Some((key, value)) = c
            .node
            .path(&["resources", "limits"])
            .and_then(|n| n.entry("memory"))
        else {
            continue;
        };
        if value.is_null()
            || c.env_var("GOMEMLIMIT").is_some()
            || c.has_env_from()
            || l.lifecycle.sets_memory_limit.is_some()
        {
            continue;
        }
        let note = match &l.lifecycle.reads_gomemlimit {
            Some(s) => format!(
                " ({}:{} reads GOMEMLIMIT, but Kubernetes does not set it: the container must)",
                s.file, s.line
            ),
            None => String::new(),
        };
        cx.report(
            l.workload.object,
            key,
            format!(
                "memory limit {} on container `{}` ({}), but the Go runtime is never told: the GC lets the heap grow past it and the pod is OOM-killed{note}",
                value.as_str().unwrap_or("?"),
                c.name,
                l.main_dir()
            ),
        )
        .fix("add env GOMEMLIMIT (valueFrom resourceFieldRef limits.memory, or ~90% of the limit), or import github.com/KimMachineGun/automemlimit");
    }
}
