//! An image without a tag, or tagged `latest`, and without a digest.
use crate::prelude::*;

pub static RULE: Rule = Rule {
    name: "unpinned-image",
    category: Category::Kubernetes,
    severity: Severity::Warning,
    summary: "Container image without a version tag or digest (or tagged `latest`)",
    reports_on: "the `image:` key",
    test_files: TestFiles::Include,
    options: &[],
    doc: r#"
## What it finds
A container (init containers included) whose `image` has no tag
(`registry.example.com/api`) or the tag `latest`, and no digest
(`@sha256:...`). Images written with variables (`$(IMAGE)`, `${TAG}`) are
left alone: they are filled in later. So are containers with
`imagePullPolicy: Never`: the image was built and loaded onto the node by the
pipeline (kind, minikube, a CI job) and is never pulled, so `latest` cannot
drift between replicas.

## Why it matters in production
`latest` is whatever was pushed last: two replicas of the same Deployment can
run different code, a node restart silently upgrades a pod, and a rollback
re-pulls the broken image. It also makes a crash impossible to map to a
commit.

## Bad
```yaml
    image: registry.example.com/shop/orders:latest
```

## Good
```yaml
    image: registry.example.com/shop/orders:1.8.3
    # or pinned exactly:
    image: registry.example.com/shop/orders@sha256:3f1c...
```

## How to fix
Tag images with the release version or commit in CI and write that tag (or
the digest) into the manifest.

## How to suppress
`# nolint:unpinned-image` at the end of the `image:` line, or the annotation
`pitfall.dev/ignore: "unpinned-image"` on the object.

## Compared with kube-linter and kube-score
kube-linter's `latest-tag` and kube-score's `container-image-tag` flag the
same images (no tag or `latest`). The differences: a digest without a tag is
accepted here, and the finding carries the `image:` line.
"#,
    check: Check::Manifest(check),
};

fn check(cx: &mut ManifestChecker) {
    for w in cx.workloads {
        for c in &w.containers {
            let Some((key, value)) = c.entry("image") else {
                continue;
            };
            let Some(image) = value.as_str() else {
                continue;
            };
            if image.contains('$') || image.contains("{{") || image.trim().is_empty() {
                continue;
            }
            // An image the pipeline just built and loaded into the node
            // (kind, minikube, CI): never pulled, so `latest` names one build.
            if c.get("imagePullPolicy").and_then(|p| p.as_str()) == Some("Never") {
                continue;
            }
            let (_, tag, digest) = pitfall_k8s::parse_image(image.trim());
            if digest.is_some() {
                continue;
            }
            let why = match tag {
                None => "has no tag (it means `latest`)",
                Some("latest") => "is tagged `latest`",
                Some(_) => continue,
            };
            cx.report(
                w.object,
                key,
                format!(
                    "image `{image}` of container `{}` {why}: replicas may run different builds and rollbacks re-pull the wrong one",
                    c.name
                ),
            )
            .fix("pin the image to a version tag or a digest (@sha256:...)");
        }
    }
}
