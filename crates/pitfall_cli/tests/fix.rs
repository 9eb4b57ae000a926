//! `pitfall check --fix` / `--diff` and the machine edits in JSON and SARIF.
//!
//! Golden tests: each folder of `tests/fixes/` is named after the rule
//! (`rule` or `rule--variant`) and holds `input.go` and `expected.go`; a folder
//! with an `UNSAFE` file holds a fix that only `--unsafe-fixes` applies.

mod common;

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

fn fixes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixes")
}

/// A fresh directory holding `main.go` (the given text) and a go.mod.
fn module_with(name: &str, src: &str) -> PathBuf {
    let dir = common::fresh_module("fix", name);
    std::fs::write(dir.join("main.go"), src).unwrap();
    dir
}

/// `gofmt -l` on the files: the names of those gofmt would change.
fn gofmt_l(files: &[&Path]) -> String {
    let o = Command::new("gofmt")
        .arg("-l")
        .args(files)
        .output()
        .expect("gofmt runs (the test suite needs Go: .ci/run installs it)");
    assert!(
        o.status.success(),
        "gofmt: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
fn set_mode(p: &Path, m: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

#[test]
fn every_fixable_rule_has_a_golden_test_and_each_passes() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixes_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 8, "golden fix cases: {cases:?}");
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let rule = name.split("--").next().unwrap().to_string();
        let input = std::fs::read_to_string(case.join("input.go")).unwrap();
        let expected = std::fs::read_to_string(case.join("expected.go")).unwrap();
        assert_ne!(input, expected, "{name}: the fix must change something");
        assert_eq!(
            gofmt_l(&[&case.join("input.go"), &case.join("expected.go")]),
            "",
            "{name}: input and expected output must be gofmt-clean"
        );
        let dir = module_with(&name, &input);
        let main = dir.join("main.go");
        #[cfg(unix)]
        set_mode(&main, 0o640);
        let fix = |extra: &[&str]| {
            let mut args = vec!["check", "--no-config", "--select", &rule, "--fix"];
            args.extend_from_slice(extra);
            args.push(".");
            pitfall(&dir, &args)
        };
        let unsafe_only = case.join("UNSAFE").exists();
        if unsafe_only {
            fix(&[]);
            if std::fs::read_to_string(&main).unwrap() != input {
                failures.push(format!("{name}: plain --fix applied an unsafe fix"));
                continue;
            }
        }
        let extra: &[&str] = if unsafe_only {
            &["--unsafe-fixes"]
        } else {
            &[]
        };
        let o = fix(extra);
        let got = std::fs::read_to_string(&main).unwrap();
        if got != expected {
            failures.push(format!(
                "{name}: --fix gave\n{got}\nexpected\n{expected}\nstderr: {}",
                String::from_utf8_lossy(&o.stderr)
            ));
            continue;
        }
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("pitfall: fixed"),
            "{name}: --fix says what it fixed"
        );
        assert_eq!(
            gofmt_l(&[&main]),
            "",
            "{name}: the fixed file is gofmt-clean"
        );
        #[cfg(unix)]
        assert_eq!(mode(&main), 0o640, "{name}: --fix keeps the file's mode");
        // A second run changes nothing.
        let o = fix(extra);
        assert_eq!(
            std::fs::read_to_string(&main).unwrap(),
            expected,
            "{name}: a second --fix changed the file"
        );
        assert!(
            !String::from_utf8_lossy(&o.stderr).contains("pitfall: fixed"),
            "{name}: a second --fix still fixed something"
        );
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("pitfall-fix"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "{name}: temporary files left: {leftovers:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn diff_prints_a_unified_diff_and_writes_nothing() {
    let case = fixes_dir().join("deprecated-ioutil");
    let input = std::fs::read_to_string(case.join("input.go")).unwrap();
    let dir = module_with("diff", &input);
    let o = pitfall(&dir, &["check", "--no-config", "--diff", "."]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(1), "a diff exits 1: {out}");
    assert!(
        out.starts_with("--- a/main.go\n+++ b/main.go\n@@ "),
        "{out}"
    );
    assert!(
        out.contains("-\t\"io/ioutil\"\n") && out.contains("+\tbody, err := io.ReadAll(r.Body)\n"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("main.go")).unwrap(),
        input,
        "--diff wrote the file"
    );
    // The diff applies with `patch` and gives the --fix result.
    if Command::new("patch").arg("--version").output().is_ok() {
        let mut child = Command::new("patch")
            .args(["-p1", "--quiet"])
            .current_dir(&dir)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(out.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success());
        let expected = std::fs::read_to_string(case.join("expected.go")).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("main.go")).unwrap(),
            expected
        );
        let o = pitfall(&dir, &["check", "--no-config", "--diff", "."]);
        assert_eq!(o.status.code(), Some(0));
        assert!(o.stdout.is_empty());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fix_and_diff_together_are_a_usage_error() {
    let dir = module_with("stdin", "package main\n");
    let o = pitfall(&dir, &["check", "--fix", "--diff", "."]);
    assert_eq!(o.status.code(), Some(2), "--fix and --diff conflict");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The findings of `rule` in `dir` as JSON or SARIF.
fn report(dir: &Path, rule: &str, format: &str) -> Value {
    let o = pitfall(
        dir,
        &[
            "check",
            "--no-config",
            "--select",
            rule,
            "--format",
            format,
            ".",
        ],
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn json_carries_edits_applicability_and_related_and_sarif_fixes() {
    let case = fixes_dir().join("goroutine-leak");
    let input = std::fs::read_to_string(case.join("input.go")).unwrap();
    let dir = module_with("json", &input);
    let v = report(&dir, "goroutine-leak", "json");
    let f = &v["findings"][0];
    assert_eq!(f["rule"], "goroutine-leak");
    assert_eq!(f["applicability"], "safe");
    let edits = f["edits"].as_array().unwrap();
    assert_eq!(edits.len(), 1);
    assert_eq!(edits[0]["replacement"], ", 1");
    // Applying the byte edit to the input gives the expected output.
    let (s, e) = (
        edits[0]["start_byte"].as_u64().unwrap() as usize,
        edits[0]["end_byte"].as_u64().unwrap() as usize,
    );
    let applied = format!(
        "{}{}{}",
        &input[..s],
        edits[0]["replacement"].as_str().unwrap(),
        &input[e..]
    );
    assert_eq!(
        applied,
        std::fs::read_to_string(case.join("expected.go")).unwrap()
    );
    let related = f["related"].as_array().unwrap();
    assert!(
        related.iter().any(|r| r["message"]
            .as_str()
            .unwrap()
            .contains("the parent leaves here")),
        "{related:?}"
    );
    // The parent's `return 0, errors.New(...)` (line 17) is where it leaves.
    assert!(related.iter().any(|r| r["line"] == 17), "{related:?}");

    let v = report(&dir, "goroutine-leak", "sarif");
    let res = &v["runs"][0]["results"][0];
    let rep = &res["fixes"][0]["artifactChanges"][0]["replacements"][0];
    assert_eq!(rep["insertedContent"]["text"], ", 1");
    assert_eq!(rep["deletedRegion"]["startLine"], 9);
    assert_eq!(
        rep["deletedRegion"]["startColumn"],
        rep["deletedRegion"]["endColumn"]
    );
    assert!(res["relatedLocations"].as_array().unwrap().len() >= 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn lock_findings_name_the_other_lock_site_as_related() {
    let src = "package svc\n\nimport \"sync\"\n\ntype S struct {\n\ta sync.Mutex\n\tb sync.Mutex\n}\n\nfunc (s *S) One() {\n\ts.a.Lock()\n\ts.b.Lock()\n\ts.b.Unlock()\n\ts.a.Unlock()\n}\n\nfunc (s *S) Two() {\n\ts.b.Lock()\n\ts.a.Lock()\n\ts.a.Unlock()\n\ts.b.Unlock()\n}\n\nfunc (s *S) Three() {\n\ts.a.Lock()\n\ts.a.Lock()\n\ts.a.Unlock()\n}\n";
    let dir = module_with("related", src);
    let o = pitfall(
        &dir,
        &[
            "check",
            "--no-config",
            "--select",
            "lock-order-inversion,double-lock",
            "--format",
            "json",
            ".",
        ],
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let got: Vec<(String, u64, Vec<u64>)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let rel = f["related"]
                .as_array()
                .map(|r| r.iter().map(|x| x["line"].as_u64().unwrap()).collect())
                .unwrap_or_default();
            (
                f["rule"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
                rel,
            )
        })
        .collect();
    assert!(
        got.contains(&("lock-order-inversion".to_string(), 12, vec![19])),
        "{got:?}"
    );
    assert!(
        got.contains(&("lock-order-inversion".to_string(), 19, vec![12])),
        "{got:?}"
    );
    assert!(
        got.contains(&("double-lock".to_string(), 26, vec![25])),
        "{got:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
