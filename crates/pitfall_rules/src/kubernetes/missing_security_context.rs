//! A container that may run as root, escalate privileges or write its root filesystem.
use crate::prelude::*;
use pitfall_k8s::Node;

pub static RULE: Rule = Rule {
    name: "missing-security-context",
    category: Category::Kubernetes,
    severity: Severity::Warning,
    summary:
        "Container without runAsNonRoot, allowPrivilegeEscalation: false or readOnlyRootFilesystem",
    reports_on: "the container's `securityContext:` key, or the container when it has none",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
A container (init containers included) whose effective security context
misses any of:
- running as non-root: `runAsNonRoot: true` or a non-zero `runAsUser`, on the
  container or inherited from the pod's `securityContext` (a container-level
  value overrides the pod's);
- `allowPrivilegeEscalation: false` (container level only);
- `readOnlyRootFilesystem: true` (container level only).

One finding per container lists what is missing.

## Why it matters in production
A Go binary needs none of these privileges: it is a static file that writes
only to mounted volumes. Running as root with a writable root filesystem
turns any remote-code bug (a template injection, a deserialisation flaw) into
control of the container and a foothold towards the node. Pod Security
Standards (`restricted`) reject such pods in hardened namespaces, so the
rollout fails there.

## Bad
```yaml
    containers:
      - name: api
        image: registry.example.com/api:2.4.1
```

## Good
```yaml
    securityContext:          # pod level
      runAsNonRoot: true
      runAsUser: 65532
    containers:
      - name: api
        image: registry.example.com/api:2.4.1
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: ["ALL"]}
```

## How to fix
Build on a non-root base image (distroless `nonroot`, or `USER 65532` in the
Dockerfile), set the three fields, and mount an `emptyDir` where the service
must write (e.g. `/tmp`).

## How to suppress
`# nolint:missing-security-context` at the end of the reported line, or the
annotation `pitfall.dev/ignore: "missing-security-context"` on the object.

## Compared with kube-linter and kube-score
kube-linter has three separate checks (`run-as-non-root`,
`privilege-escalation-container`, `no-read-only-root-fs`); kube-score's
`container-security-context` checks the user and group ids (it asks for ids
above 10000) and a read-only root filesystem. This rule reports the three
fields as one finding per container and accepts any non-zero `runAsUser`.
"#,
    check: Check::Manifest(check),
};

fn check(cx: &mut ManifestChecker) {
    for w in cx.workloads {
        let pod = w.pod_spec.get("securityContext");
        for c in &w.containers {
            let own = c.get("securityContext");
            let mut missing = Vec::new();
            if !non_root(own, pod) {
                missing.push("runAsNonRoot: true");
            }
            if own
                .and_then(|s| s.get("allowPrivilegeEscalation"))
                .and_then(Node::as_bool)
                != Some(false)
            {
                missing.push("allowPrivilegeEscalation: false");
            }
            if own
                .and_then(|s| s.get("readOnlyRootFilesystem"))
                .and_then(Node::as_bool)
                != Some(true)
            {
                missing.push("readOnlyRootFilesystem: true");
            }
            if missing.is_empty() {
                continue;
            }
            let at = c.entry("securityContext").map(|(k, _)| k).unwrap_or(c.node);
            cx.report(
                w.object,
                at,
                format!(
                    "{}container `{}` lacks {}: a code-execution bug gets root in the container",
                    if c.init { "init " } else { "" },
                    c.name,
                    missing.join(", ")
                ),
            )
            .fix("set runAsNonRoot: true (pod or container), allowPrivilegeEscalation: false and readOnlyRootFilesystem: true in the container's securityContext");
        }
    }
}

/// Whether the container runs as a non-root user (its own settings first).
fn non_root(own: Option<&Node>, pod: Option<&Node>) -> bool {
    for ctx in [own, pod].into_iter().flatten() {
        if let Some(v) = ctx.get("runAsNonRoot").and_then(Node::as_bool) {
            return v;
        }
        if let Some(uid) = ctx.get("runAsUser").and_then(Node::as_i64) {
            return uid != 0;
        }
    }
    false
}
