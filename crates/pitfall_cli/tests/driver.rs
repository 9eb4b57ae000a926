//! The driver checks packages unit by unit, each against the skeletons of
//! the packages it imports, a few at a time under a byte budget; runs with
//! manifests keep every tree instead. Both must find exactly the same in the
//! Go code, whatever the budget (so whatever order the units run in).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Copies the Go files and go.mod files of `from` into `to`.
fn copy_go(from: &Path, to: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            n += copy_go(&p, &dest);
        } else if p.extension().is_some_and(|x| x == "go") || p.ends_with("go.mod") {
            std::fs::copy(&p, &dest).unwrap();
            n += 1;
        }
    }
    n
}

/// The findings of a run (JSON), with `PITFALL_IN_FLIGHT_BYTES` = `budget`.
fn findings(dir: &Path, budget: Option<u64>) -> Vec<serde_json::Value> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pitfall"));
    cmd.args([
        "check",
        "--no-config",
        "--no-cache",
        "--format",
        "json",
        "-j",
        "2",
    ])
    .arg(dir)
    .current_dir(dir);
    if let Some(b) = budget {
        cmd.env("PITFALL_IN_FLIGHT_BYTES", b.to_string());
    }
    let out = cmd.output().unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["findings"].as_array().unwrap().clone()
}

#[test]
fn unit_by_unit_finds_what_the_whole_tree_finds() {
    let tmp = std::env::temp_dir().join(format!("pitfall-driver-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    // Every fixture's Go code as one run: many packages and modules, mains
    // reaching servers in other packages, types read across packages.
    let files = copy_go(&repo_root().join("tests/fixtures"), &tmp);
    assert!(files > 100, "copied {files} files");

    let default = findings(&tmp, None);
    assert!(default.len() > 100, "{} findings", default.len());
    // One unit at a time, and every ready unit at once.
    assert_eq!(findings(&tmp, Some(1)), default, "budget of one byte");
    assert_eq!(findings(&tmp, Some(1 << 40)), default, "unbounded budget");

    // A manifest makes the run keep every tree (the cross-checks read every
    // program); the Go findings must not change. Per fixture: the fixtures
    // reuse module paths, and one run over all of them would resolve an
    // import path to whichever package of that path the index holds.
    let mut compared = 0;
    for e in std::fs::read_dir(&tmp).unwrap() {
        let dir = e.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let go = |f: &serde_json::Value| f["path"].as_str().is_some_and(|p| p.ends_with(".go"));
        let by_unit: Vec<_> = findings(&dir, None).into_iter().filter(go).collect();
        std::fs::write(
            dir.join("zz-deployment.yaml"),
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  template:\n    spec:\n      containers:\n        - name: x\n          image: x:1.0\n",
        )
        .unwrap();
        let whole: Vec<_> = findings(&dir, None).into_iter().filter(go).collect();
        assert_eq!(whole, by_unit, "{}: whole-tree run", dir.display());
        compared += usize::from(!by_unit.is_empty());
    }
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(compared > 40, "{compared} fixtures with findings compared");
}
