//! The result cache: a warm run prints exactly what the cold run printed; an
//! edit (in the package or in a package it reads), a config change or a
//! corrupt entry never gives a stale answer; `--no-cache` writes nothing; two
//! runs at once on one cache agree.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p =
            std::env::temp_dir().join(format!("pitfall-cache-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A module of four packages: `app` ranges over a struct declared in
/// `model` (range-value-copy needs model's layout), `util` has its own
/// findings, a syntax error and an unknown //nolint name (warnings).
fn project(root: &Path) {
    write(root, "go.mod", "module example.com/proj\n\ngo 1.22\n");
    write(
        root,
        "model/model.go",
        "package model\n\ntype Order struct {\n\tID   int\n\tBlob [512]byte\n}\n",
    );
    write(
        root,
        "app/app.go",
        "package app\n\nimport \"example.com/proj/model\"\n\nfunc Count(os []model.Order) int {\n\tn := 0\n\tfor _, o := range os {\n\t\tn += o.ID\n\t}\n\treturn n\n}\n",
    );
    // An external test package importing an importer of the package it
    // tests: a cycle by import path that must not merge the keys.
    write(
        root,
        "model/model_test.go",
        "package model_test\n\nimport (\n\t\"testing\"\n\n\t\"example.com/proj/app\"\n\t\"example.com/proj/model\"\n)\n\nfunc TestCount(t *testing.T) {\n\tif app.Count([]model.Order{{ID: 1}}) != 1 {\n\t\tt.Fatal(\"count\")\n\t}\n}\n",
    );
    write(
        root,
        "util/util.go",
        "package util\n\nimport \"io/ioutil\"\n\nfunc Read(p string) ([]byte, error) {\n\treturn ioutil.ReadFile(p) //nolint:no-such-rule-name\n}\n",
    );
    write(
        root,
        "util/broken.go",
        "package util\n\nfunc Broken() {\n\tx := \n}\n",
    );
}

/// A temp dir holding the project under `src/` and an empty `cache/`.
fn fresh(name: &str) -> (TempDir, PathBuf, PathBuf) {
    let t = TempDir::new(name);
    let (src, cache) = (t.0.join("src"), t.0.join("cache"));
    project(&src);
    (t, src, cache)
}

/// Whether the run reported `rule` anywhere.
fn has(o: &Output, rule: &str) -> bool {
    rules(o).iter().any(|(r, _)| r == rule)
}

fn run(dir: &Path, cache: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["check", "--no-config", "--format", "json", "--cache-dir"];
    args.push(cache.to_str().unwrap());
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_pitfall"))
        .current_dir(dir)
        .args(&args)
        .output()
        .expect("run pitfall")
}

fn uncached(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["check", "--no-config", "--format", "json", "--no-cache"];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_pitfall"))
        .current_dir(dir)
        .args(&args)
        .output()
        .expect("run pitfall")
}

/// Everything a run shows: exit code, stdout, stderr.
fn shown(o: &Output) -> (Option<i32>, String, String) {
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn rules(o: &Output) -> Vec<(String, String)> {
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json output");
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn entries(cache: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(cache.join("v1")) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    v
}

#[test]
fn warm_run_repeats_the_cold_run_exactly() {
    let (t, src, cache) = fresh("warm");
    let reference = uncached(&src, &[]);
    let cold = run(&src, &cache, &[]);
    assert_eq!(
        shown(&cold),
        shown(&reference),
        "cold run with a cache = run without"
    );
    let r = rules(&cold);
    assert!(
        r.contains(&("range-value-copy".into(), "app/app.go".into())),
        "{r:?}"
    );
    assert!(
        r.contains(&("deprecated-ioutil".into(), "util/util.go".into())),
        "{r:?}"
    );
    let stderr = shown(&cold).2;
    assert!(
        stderr.contains("util/broken.go: 1 syntax error"),
        "{stderr}"
    );
    assert!(stderr.contains("no-such-rule-name"), "{stderr}");
    assert_eq!(entries(&cache).len(), 4, "one entry per package");
    let warm = run(&src, &cache, &[]);
    assert_eq!(shown(&warm), shown(&cold), "warm run = cold run");
    let stats = shown(&run(&src, &cache, &["--stats"])).2;
    assert!(stats.contains("4 of 4 packages from the cache"), "{stats}");
    let text_cold = run(&src, &cache, &["--format", "text", "--color", "never"]);
    let text_ref = uncached(&src, &["--format", "text", "--color", "never"]);
    assert_eq!(
        shown(&text_cold),
        shown(&text_ref),
        "code frames come from the files"
    );
}

#[test]
fn edits_are_seen_by_the_next_warm_run() {
    let (t, src, cache) = fresh("edit");
    let cold = run(&src, &cache, &[]);
    assert!(!rules(&cold).iter().any(|(_, p)| p == "model/extra.go"));
    // A new finding in a package that was cached.
    write(
        &src,
        "model/extra.go",
        "package model\n\nimport \"io/ioutil\"\n\nfunc Load(p string) ([]byte, error) {\n\treturn ioutil.ReadFile(p)\n}\n",
    );
    let stats = shown(&run(&src, &cache, &["--stats"])).2;
    assert!(
        stats.contains("1 of 4 packages from the cache"),
        "model, its importer app and its test package re-checked, util not: {stats}"
    );
    let warm = run(&src, &cache, &[]);
    assert_eq!(shown(&warm), shown(&uncached(&src, &[])));
    assert!(rules(&warm).contains(&("deprecated-ioutil".into(), "model/extra.go".into())));
    // A change in a package that `app` reads: Order becomes small, so the
    // range over it in app (whose files did not change) is no longer reported.
    write(
        &src,
        "model/model.go",
        "package model\n\ntype Order struct {\n\tID int\n}\n",
    );
    let warm = run(&src, &cache, &[]);
    assert_eq!(shown(&warm), shown(&uncached(&src, &[])));
    assert!(!has(&warm, "range-value-copy"), "{:?}", rules(&warm));
}

#[test]
fn config_changes_invalidate() {
    let (t, src, cache) = fresh("config");
    let all = run(&src, &cache, &[]);
    let fewer = run(&src, &cache, &["--ignore", "deprecated-ioutil"]);
    assert!(has(&all, "deprecated-ioutil"));
    assert!(!has(&fewer, "deprecated-ioutil"));
    write(
        &src,
        "pitfall.toml",
        "[rules.range-value-copy]\nthreshold = 4096\n",
    );
    let with_config = |dir: &Path| {
        Command::new(env!("CARGO_BIN_EXE_pitfall"))
            .current_dir(dir)
            .args([
                "check",
                "--format",
                "json",
                "--cache-dir",
                cache.to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    let o = with_config(&src);
    assert!(!has(&o, "range-value-copy"), "{:?}", rules(&o));
    write(
        &src,
        "pitfall.toml",
        "[rules.range-value-copy]\nthreshold = 64\n",
    );
    let o = with_config(&src);
    assert!(has(&o, "range-value-copy"), "{:?}", rules(&o));
}

#[test]
fn corrupt_entries_are_ignored_and_rebuilt() {
    let (t, src, cache) = fresh("corrupt");
    let cold = run(&src, &cache, &[]);
    let files = entries(&cache);
    assert!(!files.is_empty());
    for (i, f) in files.iter().enumerate() {
        let garbage: &[u8] = match i % 3 {
            0 => b"",
            1 => b"{\"key\": \"not this one\"",
            _ => b"\x00\xff garbage",
        };
        std::fs::write(f, garbage).unwrap();
    }
    let again = run(&src, &cache, &[]);
    assert_eq!(shown(&again), shown(&cold));
    for f in entries(&cache) {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&f).unwrap())
            .unwrap_or_else(|e| panic!("{} not rebuilt: {e}", f.display()));
        assert!(v["key"].is_string());
    }
    // An entry swapped for another package's is refused (its key differs).
    let files = entries(&cache);
    let first = std::fs::read(&files[0]).unwrap();
    for f in &files[1..] {
        std::fs::write(f, &first).unwrap();
    }
    assert_eq!(shown(&run(&src, &cache, &[])), shown(&cold));
}

#[test]
fn no_cache_writes_nothing_and_two_runs_at_once_agree() {
    let (t, src, cache) = fresh("concurrent");
    let reference = shown(&uncached(&src, &[]));
    let o = Command::new(env!("CARGO_BIN_EXE_pitfall"))
        .current_dir(&src)
        .env("XDG_CACHE_HOME", &cache)
        .args(["check", "--no-config", "--format", "json", "--no-cache"])
        .output()
        .unwrap();
    assert_eq!(shown(&o), reference);
    assert!(!cache.exists(), "--no-cache must not create the cache");
    // $XDG_CACHE_HOME/pitfall is the default location.
    let o = Command::new(env!("CARGO_BIN_EXE_pitfall"))
        .current_dir(&src)
        .env("XDG_CACHE_HOME", &cache)
        .args(["check", "--no-config", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(shown(&o), reference);
    assert_eq!(entries(&cache.join("pitfall")).len(), 4);
    let shared = t.0.join("shared");
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let (src, shared) = (src.clone(), shared.clone());
            std::thread::spawn(move || shown(&run(&src, &shared, &[])))
        })
        .collect();
    for r in runs {
        assert_eq!(r.join().unwrap(), reference);
    }
    assert_eq!(shown(&run(&src, &shared, &[])), reference);
}

/// A service and its Deployment: the probe path is served by a package the
/// main imports, so the cross-check reads code outside the main package.
fn service(root: &Path, serves_ready: bool) {
    write(root, "go.mod", "module example.com/shop\n\ngo 1.22\n");
    let extra = if serves_ready {
        "\tmux.HandleFunc(\"/ready\", func(w http.ResponseWriter, r *http.Request) {})\n"
    } else {
        ""
    };
    write(
        root,
        "api/api.go",
        &format!("package api\n\nimport \"net/http\"\n\nfunc Routes(mux *http.ServeMux) {{\n\tmux.HandleFunc(\"/orders\", func(w http.ResponseWriter, r *http.Request) {{}})\n{extra}}}\n"),
    );
    write(
        root,
        "cmd/shop/main.go",
        "package main\n\nimport (\n\t\"net/http\"\n\n\t\"example.com/shop/api\"\n)\n\nfunc main() {\n\tmux := http.NewServeMux()\n\tapi.Routes(mux)\n\t_ = http.ListenAndServe(\":8080\", mux)\n}\n",
    );
    write(
        root,
        "deploy/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\nspec:\n  template:\n    spec:\n      containers:\n        - name: shop\n          image: registry.example.com/shop:1.0\n          ports:\n            - containerPort: 8080\n          readinessProbe:\n            httpGet:\n              path: /ready\n              port: 8080\n",
    );
}

#[test]
fn manifest_cross_checks_are_the_same_warm_and_follow_edits() {
    let t = TempDir::new("manifests");
    let (src, cache) = (t.0.join("src"), t.0.join("cache"));
    service(&src, false);
    let cold = run(&src, &cache, &[]);
    assert!(has(&cold, "probe-path-not-served"), "{}", shown(&cold).1);
    assert_eq!(
        shown(&uncached(&src, &[])),
        shown(&cold),
        "cache on = cache off"
    );
    let warm = run(&src, &cache, &[]);
    assert_eq!(shown(&warm), shown(&cold), "warm = cold");
    // The imported package now serves the probe path: the finding goes.
    service(&src, true);
    let edited = run(&src, &cache, &[]);
    assert!(
        !has(&edited, "probe-path-not-served"),
        "{}",
        shown(&edited).1
    );
    assert_eq!(shown(&edited), shown(&uncached(&src, &[])));
}
