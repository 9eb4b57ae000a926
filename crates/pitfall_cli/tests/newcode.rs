//! `--new-from-rev REV`, `--baseline FILE` and `--write-baseline FILE`, on
//! real git repositories made in temporary directories.

mod common;

use common::{fresh_module, git};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn pitfall(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pitfall"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run pitfall")
}

fn repo(name: &str) -> PathBuf {
    let dir = fresh_module("newcode", name);
    git(&dir, &["init", "-q", "-b", "main"]);
    dir
}

/// A function with one deprecated-ioutil finding per `ioutil.ReadFile` line.
fn reads(names: &[&str]) -> String {
    let mut s = String::from("package svc\n\nimport \"io/ioutil\"\n\nfunc load() {\n");
    for n in names {
        s += &format!("\t_, _ = ioutil.ReadFile(\"{n}\")\n");
    }
    s += "}\n";
    s
}

/// (path, line) of each finding of a JSON run.
fn found(dir: &Path, extra: &[&str]) -> Vec<(String, u64)> {
    let mut args = vec![
        "check",
        "--no-config",
        "--select",
        "deprecated-ioutil",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let o = pitfall(dir, &args);
    assert!(
        o.status.code() != Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn new_from_rev_reports_only_changed_lines_and_new_files() {
    let dir = repo("rev");
    std::fs::write(dir.join("old.go"), reads(&["a", "b"])).unwrap();
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-qm", "old code"]);
    assert_eq!(found(&dir, &[]).len(), 2);
    assert!(found(&dir, &["--new-from-rev", "HEAD"]).is_empty());

    // A committed change, an uncommitted one, and an untracked file.
    std::fs::write(dir.join("old.go"), reads(&["a", "b", "c"])).unwrap();
    git(&dir, &["commit", "-qam", "one more read"]);
    std::fs::write(dir.join("old.go"), reads(&["a", "b", "c", "d"])).unwrap();
    std::fs::write(
        dir.join("new.go"),
        reads(&["x"]).replace("func load", "func load2"),
    )
    .unwrap();
    let got = found(&dir, &["--new-from-rev", "HEAD~1"]);
    assert_eq!(
        got,
        vec![
            ("new.go".to_string(), 6),
            ("old.go".to_string(), 8),
            ("old.go".to_string(), 9)
        ]
    );
    // From a subdirectory, paths still match (git speaks from the root).
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(
        dir.join("sub/s.go"),
        reads(&["s"]).replace("package svc", "package sub"),
    )
    .unwrap();
    let got = found(&dir.join("sub"), &["--new-from-rev", "HEAD", "."]);
    assert_eq!(got, vec![("s.go".to_string(), 6)]);

    let o = pitfall(
        &dir,
        &["check", "--no-config", "--new-from-rev", "no-such-rev"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown revision"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_baseline_hides_known_findings_even_when_lines_move() {
    let dir = repo("baseline");
    std::fs::write(dir.join("a.go"), reads(&["a", "b", "b"])).unwrap();
    let o = pitfall(
        &dir,
        &[
            "check",
            "--no-config",
            "--select",
            "deprecated-ioutil",
            "--write-baseline",
            "pitfall-baseline.json",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "writing a baseline still reports");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("pitfall-baseline.json")).unwrap())
            .unwrap();
    assert_eq!(doc["findings"].as_array().unwrap().len(), 3);
    assert!(found(&dir, &["--baseline", "pitfall-baseline.json"]).is_empty());
    let o = pitfall(
        &dir,
        &[
            "check",
            "--no-config",
            "--select",
            "deprecated-ioutil",
            "--baseline",
            "pitfall-baseline.json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "nothing new: exit 0");

    // Lines move (new code above, re-indented) and one more `b` read: only
    // the third `b` (a new occurrence) and the new `c` are reported.
    let moved = reads(&["c", "a", "b", "b", "b"])
        .replace("func load() {\n", "// moved down\n\nfunc load() {\n\n");
    std::fs::write(dir.join("a.go"), moved).unwrap();
    let got = found(&dir, &["--baseline", "pitfall-baseline.json"]);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].1, 9, "the `c` read");
    assert_eq!(got[1].1, 13, "the third `b` read");

    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{not json").unwrap();
    let o = pitfall(&dir, &["check", "--no-config", "--baseline", "bad.json"]);
    assert_eq!(o.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
