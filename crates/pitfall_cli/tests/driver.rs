//! The driver checks packages unit by unit, each against the skeletons of
//! the packages it imports, a few at a time under a byte budget, and parses
//! a linked program again for the manifest cross-checks. It must find
//! exactly what the whole-tree driver (every tree in memory, kept as the
//! reference: `PITFALL_WHOLE_TREE=1`) finds, whatever the budget (so
//! whatever order the units run in).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Copies the tree `from` into `to`; the number of Go files.
fn copy_tree(from: &Path, to: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            n += copy_tree(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
            n += usize::from(p.extension().is_some_and(|x| x == "go"));
        }
    }
    n
}

enum Driver {
    Units(Option<u64>),
    Whole,
}

/// The findings of a run (JSON) with the given driver (and byte budget).
fn findings(dir: &Path, driver: Driver) -> Vec<serde_json::Value> {
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
    match driver {
        Driver::Units(Some(b)) => {
            cmd.env("PITFALL_IN_FLIGHT_BYTES", b.to_string());
        }
        Driver::Units(None) => {}
        Driver::Whole => {
            cmd.env("PITFALL_WHOLE_TREE", "1");
        }
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
    // Every fixture as one run: many packages and modules, mains reaching
    // servers in other packages, types read across packages, manifests.
    let files = copy_tree(&repo_root().join("tests/fixtures"), &tmp);
    assert!(files > 100, "copied {files} files");

    let default = findings(&tmp, Driver::Units(None));
    assert!(default.len() > 100, "{} findings", default.len());
    // One unit at a time, and every ready unit at once.
    assert_eq!(
        findings(&tmp, Driver::Units(Some(1))),
        default,
        "budget of one byte"
    );
    assert_eq!(
        findings(&tmp, Driver::Units(Some(1 << 40))),
        default,
        "unbounded budget"
    );

    // Per fixture against the whole-tree driver: the fixtures reuse module
    // paths, and in one run over all of them the whole-tree index resolves
    // an import path to whichever package of that path it holds last.
    let (mut compared, mut manifest) = (0, 0);
    for e in std::fs::read_dir(&tmp).unwrap() {
        let dir = e.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let by_unit = findings(&dir, Driver::Units(None));
        assert_eq!(findings(&dir, Driver::Whole), by_unit, "{}", dir.display());
        compared += usize::from(!by_unit.is_empty());
        manifest += usize::from(
            by_unit
                .iter()
                .any(|f| f["path"].as_str().is_some_and(|p| p.ends_with(".yaml"))),
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(compared > 40, "{compared} fixtures with findings compared");
    assert!(
        manifest > 5,
        "{manifest} fixtures with manifest findings compared"
    );
}
