//! End-to-end tests of Kubernetes manifests in `pitfall check`: stdin with
//! Helm `# Source:` names, hostile YAML, templates, suppression, formats.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pitfall-k8s-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pitfall"))
        .current_dir(dir)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pitfall");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

fn findings(o: &Output) -> Vec<(String, u64, String)> {
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
                f["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

const RENDERED: &str = "---
# Source: shop/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  selector: {app: shop}
  ports: [{port: 80, targetPort: 8080}]
---
# Source: shop/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  template:
    metadata:
      labels: {app: shop}
    spec:
      containers:
        - name: shop
          image: registry.example.com/shop:latest
";

#[test]
fn stdin_manifests_are_named_by_helm_source_comments() {
    let dir = tempdir("stdin");
    let o = run(
        &dir,
        &[
            "check",
            "-",
            "--manifests-from-stdin",
            "--no-config",
            "--select",
            "unpinned-image,missing-readiness-probe",
            "--format",
            "json",
        ],
        Some(RENDERED),
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let got = findings(&o);
    // Lines count from the `# Source:` comment of each document.
    assert_eq!(
        got,
        vec![
            (
                "shop/templates/deployment.yaml".to_string(),
                11,
                "missing-readiness-probe".to_string()
            ),
            (
                "shop/templates/deployment.yaml".to_string(),
                12,
                "unpinned-image".to_string()
            ),
        ],
    );
    // Text output shows the rendered line in its frame.
    let o = run(
        &dir,
        &[
            "check",
            "-",
            "--manifests-from-stdin",
            "--no-config",
            "--select",
            "unpinned-image",
        ],
        Some(RENDERED),
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("image: registry.example.com/shop:latest"),
        "{text}"
    );
    // Without `# Source:` the stream is called <stdin>.
    let plain = RENDERED.replace("# Source: shop/templates/deployment.yaml\n", "");
    let o = run(
        &dir,
        &[
            "check",
            "-",
            "--manifests-from-stdin",
            "--no-config",
            "--select",
            "unpinned-image",
            "--format",
            "json",
        ],
        Some(&plain),
    );
    assert_eq!(
        findings(&o),
        vec![("<stdin>".to_string(), 22, "unpinned-image".to_string())]
    );
}

#[test]
fn dash_without_the_flag_is_a_usage_error() {
    let dir = tempdir("dash");
    let o = run(&dir, &["check", "-"], Some(""));
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn yaml_bombs_and_deep_nesting_fail_per_file_and_the_run_goes_on() {
    let dir = tempdir("bombs");
    let mut bomb =
        String::from("apiVersion: v1\nkind: ConfigMap\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..15 {
        let p = i - 1;
        bomb += &format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        );
    }
    std::fs::write(dir.join("bomb.yaml"), bomb).unwrap();
    let deep = format!(
        "apiVersion: v1\nkind: ConfigMap\ndata: {}\n",
        "[".repeat(100_000)
    );
    std::fs::write(dir.join("deep.yaml"), deep).unwrap();
    std::fs::write(
        dir.join("broken.yaml"),
        "apiVersion: v1\nkind: Pod\nspec: [\n",
    )
    .unwrap();
    std::fs::write(dir.join("other.yaml"), "this: [is not kubernetes\n").unwrap();
    std::fs::write(
        dir.join("good.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: c\n      image: nginx\n",
    )
    .unwrap();
    let started = Instant::now();
    let o = run(
        &dir,
        &[
            "check",
            "--no-config",
            "--select",
            "unpinned-image",
            "--format",
            "json",
            ".",
        ],
        None,
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("bomb.yaml:") && err.contains("YAML bomb"),
        "{err}"
    );
    assert!(err.contains("deep.yaml:"), "{err}");
    assert!(err.contains("broken.yaml:"), "{err}");
    assert!(
        !err.contains("other.yaml"),
        "non-Kubernetes YAML is ignored silently: {err}"
    );
    assert_eq!(
        findings(&o),
        vec![("good.yaml".to_string(), 7, "unpinned-image".to_string())]
    );
}

#[test]
fn unrendered_templates_are_skipped_with_a_note() {
    let dir = tempdir("tmpl");
    std::fs::create_dir_all(dir.join("chart/templates")).unwrap();
    std::fs::write(
        dir.join("chart/templates/deployment.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  template:\n    spec:\n      containers:\n        - name: x\n          image: nginx\n",
    )
    .unwrap();
    let o = run(
        &dir,
        &["check", "--no-config", "--format", "json", "."],
        None,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("note: skipped 1 unrendered Helm template"),
        "{err}"
    );
    assert!(err.contains("chart/templates/deployment.yaml"), "{err}");
    assert!(findings(&o).is_empty());
}

#[test]
fn suppression_by_annotation_comment_and_config() {
    let dir = tempdir("suppress");
    std::fs::write(
        dir.join("d.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  annotations:\n    pitfall.dev/ignore: kubernetes\nspec:\n  containers:\n    - {name: c, image: nginx}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b}\nspec:\n  containers:\n    - name: c\n      image: nginx # nolint:unpinned-image\n    - name: d\n      image: nginx:latest\n",
    )
    .unwrap();
    let o = run(
        &dir,
        &[
            "check",
            "--no-config",
            "--select",
            "unpinned-image",
            "--format",
            "json",
            ".",
        ],
        None,
    );
    assert_eq!(
        findings(&o),
        vec![("d.yaml".to_string(), 19, "unpinned-image".to_string())]
    );
    let o = run(
        &dir,
        &[
            "check",
            "--no-config",
            "--ignore",
            "kubernetes",
            "--format",
            "json",
            ".",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn sarif_and_github_formats_carry_manifest_findings() {
    let dir = tempdir("formats");
    std::fs::write(
        dir.join("d.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: b}\nspec:\n  containers:\n    - name: c\n      image: nginx:latest\n",
    )
    .unwrap();
    let o = run(
        &dir,
        &[
            "check",
            "--no-config",
            "--select",
            "unpinned-image",
            "--format",
            "sarif",
            ".",
        ],
        None,
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let r = &v["runs"][0]["results"][0];
    assert_eq!(r["ruleId"], "unpinned-image");
    assert_eq!(
        r["locations"][0]["physicalLocation"]["region"]["startLine"],
        7
    );
    let o = run(
        &dir,
        &[
            "check",
            "--no-config",
            "--select",
            "unpinned-image",
            "--format",
            "github",
            ".",
        ],
        None,
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("file=d.yaml,line=7,col=7"), "{out}");
}

#[test]
fn link_override_in_config() {
    let dir = tempdir("link");
    std::fs::create_dir_all(dir.join("cmd/server")).unwrap();
    std::fs::create_dir_all(dir.join("cmd/tool")).unwrap();
    std::fs::write(dir.join("go.mod"), "module example.com/svc\n\ngo 1.22\n").unwrap();
    let main = "package main\n\nimport \"net/http\"\n\nfunc main() { _ = http.ListenAndServe(\":8080\", nil) }\n";
    std::fs::write(dir.join("cmd/server/main.go"), main).unwrap();
    std::fs::write(dir.join("cmd/tool/main.go"), main).unwrap();
    std::fs::write(
        dir.join("d.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          image: registry.example.com/api:1.0\n",
    )
    .unwrap();
    let args = [
        "check",
        "--select",
        "missing-sigterm-handling",
        "--format",
        "json",
        ".",
    ];
    // Two mains, no name matches: not linked, nothing reported.
    let o = run(&dir, &[&args[..], &["--no-config"]].concat(), None);
    assert!(findings(&o).is_empty(), "{:?}", findings(&o));
    std::fs::write(
        dir.join("pitfall.toml"),
        "[kubernetes.link]\n\"web/api\" = \"cmd/server\"\n",
    )
    .unwrap();
    let o = run(&dir, &args, None);
    assert_eq!(
        findings(&o),
        vec![(
            "d.yaml".to_string(),
            8,
            "missing-sigterm-handling".to_string()
        )]
    );
    std::fs::write(
        dir.join("pitfall.toml"),
        "[kubernetes.link]\napi = \"cmd/nothing\"\n",
    )
    .unwrap();
    let o = run(&dir, &args, None);
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a main package"));
}

/// Thousands of documents in one stream (as `helm template` of a big chart
/// gives) are read in one go: every object is checked, quickly.
#[test]
fn thousands_of_documents_in_one_stream() {
    let dir = tempdir("many-docs");
    let n = 5_000;
    let mut text = String::new();
    for i in 0..n {
        text += &format!(
            "---\n# Source: big/templates/pod-{i}.yaml\napiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}}}\nspec:\n  containers:\n    - name: c\n      image: nginx:latest\n"
        );
    }
    let started = Instant::now();
    let o = run(
        &dir,
        &[
            "check",
            "--no-config",
            "--select",
            "unpinned-image",
            "--format",
            "json",
            "-",
            "--manifests-from-stdin",
        ],
        Some(&text),
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    let found = findings(&o);
    assert_eq!(found.len(), n, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        found[0],
        (
            "big/templates/pod-0.yaml".to_string(),
            7,
            "unpinned-image".to_string()
        )
    );
    assert!(found
        .iter()
        .all(|(_, line, rule)| *line == 7 && rule == "unpinned-image"));
}

/// The alias-expansion bound is a flag: a file that shares a large env block
/// through an anchor is read by default and refused under a lower limit.
#[test]
fn alias_expansion_limit_is_a_flag() {
    let dir = tempdir("alias-flag");
    let mut env = String::new();
    for i in 0..400 {
        env += &format!("        - {{name: V{i}, value: \"{i}\"}}\n");
    }
    let text = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: a}}\nspec:\n  containers:\n    - name: a\n      image: nginx:latest\n      env: &shared\n{env}    - name: b\n      image: nginx:latest\n      env: *shared\n"
    );
    std::fs::write(dir.join("pod.yaml"), text).unwrap();
    let args = [
        "check",
        "--no-config",
        "--select",
        "unpinned-image",
        "--format",
        "json",
        ".",
    ];
    let o = run(&dir, &args, None);
    assert_eq!(
        findings(&o).len(),
        2,
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut low = args.to_vec();
    low.extend(["--max-yaml-alias-nodes", "100"]);
    let o = run(&dir, &low, None);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(findings(&o).is_empty(), "{err}");
    assert!(
        err.contains("pod.yaml") && err.contains("--max-yaml-alias-nodes"),
        "{err}"
    );
}

#[test]
fn fixtures_docs_and_vendored_manifests_are_left_out_unless_asked() {
    let d = tempdir("scope");
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      containers:\n        - name: x\n          image: shop/x:latest\n";
    for dir in [
        "deploy",
        "integration/fixtures",
        "docs/examples",
        "third_party/upstream-chart",
        "overlays/test",
    ] {
        std::fs::create_dir_all(d.join(dir)).unwrap();
        std::fs::write(d.join(dir).join("app.yaml"), deployment).unwrap();
    }
    // A YAML file that is not a manifest is not counted in the note.
    std::fs::write(d.join("docs/mkdocs.yml"), "site_name: shop\n").unwrap();
    let judged = |o: &Output| {
        let mut v: Vec<String> = findings(o)
            .into_iter()
            .filter(|(_, _, r)| r == "unpinned-image")
            .map(|(p, _, _)| p)
            .collect();
        v.sort();
        v
    };
    let args = [
        "check",
        "--no-config",
        "--format",
        "json",
        "--select",
        "unpinned-image",
    ];
    let o = run(&d, &args, None);
    assert_eq!(judged(&o), ["deploy/app.yaml", "overlays/test/app.yaml"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("3 manifest files") && err.contains("--all-manifests"),
        "{err}"
    );

    let mut all = args.to_vec();
    all.push("--all-manifests");
    assert_eq!(judged(&run(&d, &all, None)).len(), 5);

    // Naming the directory asks for it (below it the same rule applies).
    let mut docs = args.to_vec();
    docs.push("docs/examples");
    assert_eq!(judged(&run(&d, &docs, None)), ["docs/examples/app.yaml"]);
}
