//! The fixture harness: every folder under `tests/fixtures/` is checked by the
//! real `pitfall` binary and its findings are compared with the inline
//! expectations of its Go files.
//!
//! - A folder named after a rule runs only that rule; a folder whose name
//!   starts with `_` (e.g. `_nolint`) runs every rule. A suffix after a dot
//!   (`deprecated-ioutil.go115`) names a variant of the same rule.
//! - A line that must be reported ends with `// want "rule-name"` (several
//!   names for several findings on that line); in YAML manifests,
//!   `# want "rule-name"`.
//! - Any finding without a `want`, and any `want` without a finding, fails.
//! - An optional `pitfall.toml` in the folder configures the run.
//!
//! Run one folder with `cargo test -p pitfall_cli --test fixtures -- NAME`.

use libtest_mimic::{Arguments, Failed, Trial};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn main() {
    let args = Arguments::from_args();
    let root = repo_root().join("tests/fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/fixtures exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut trials: Vec<Trial> = dirs
        .into_iter()
        .map(|d| {
            let name = d.file_name().unwrap().to_string_lossy().replace('-', "_");
            Trial::test(name, move || run_fixture(&d))
        })
        .collect();
    trials.push(Trial::test("fixtures_are_valid_gofmt_go", move || {
        gofmt_clean(&root)
    }));
    libtest_mimic::run(&args, trials).exit();
}

/// (file, line) -> rule names expected there.
type Expectations = BTreeMap<(String, u32), Vec<String>>;

fn wants(dir: &Path) -> Expectations {
    let mut out = Expectations::new();
    for f in go_files(dir) {
        let rel = f
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(&f).unwrap();
        let marker = if f.extension().is_some_and(|x| x == "go") {
            "// want "
        } else {
            "# want "
        };
        for (i, line) in text.lines().enumerate() {
            let Some(idx) = line.find(marker) else {
                continue;
            };
            let mut rest = &line[idx + marker.len()..];
            let mut names = Vec::new();
            while let Some(start) = rest.find('"') {
                let Some(len) = rest[start + 1..].find('"') else {
                    break;
                };
                names.push(rest[start + 1..start + 1 + len].to_string());
                rest = &rest[start + 1 + len + 1..];
            }
            assert!(
                !names.is_empty(),
                "{rel}:{}: `// want` without a quoted rule name",
                i + 1
            );
            out.insert((rel.clone(), i as u32 + 1), names);
        }
    }
    out
}

fn go_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .is_some_and(|x| x == "go" || x == "yaml" || x == "yml")
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn run_fixture(dir: &Path) -> Result<(), Failed> {
    let folder = dir.file_name().unwrap().to_string_lossy().to_string();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pitfall"));
    cmd.current_dir(dir)
        .args(["check", "--format", "json", "."]);
    if dir.join("pitfall.toml").exists() {
        cmd.args(["--config", "pitfall.toml"]);
    } else {
        cmd.arg("--no-config");
    }
    if !folder.starts_with('_') {
        let rule = folder.split('.').next().unwrap();
        cmd.args(["--select", rule]);
    }
    let out = cmd.output().map_err(|e| format!("running pitfall: {e}"))?;
    let code = out.status.code().unwrap_or(-1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if code != 0 && code != 1 {
        return Err(format!("pitfall exited {code}: {stderr}").into());
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("bad JSON ({e}); stderr: {stderr}"))?;
    let mut got = Expectations::new();
    let mut messages = BTreeMap::new();
    for f in json["findings"].as_array().unwrap() {
        let key = (
            f["path"].as_str().unwrap().to_string(),
            f["line"].as_u64().unwrap() as u32,
        );
        let rule = f["rule"].as_str().unwrap().to_string();
        messages.insert(
            (key.clone(), rule.clone()),
            f["message"].as_str().unwrap_or("").to_string(),
        );
        got.entry(key).or_default().push(rule);
    }
    let want = wants(dir);
    let mut problems = Vec::new();
    let keys: std::collections::BTreeSet<_> = got.keys().chain(want.keys()).cloned().collect();
    for key in keys {
        let mut g = got.get(&key).cloned().unwrap_or_default();
        let mut w = want.get(&key).cloned().unwrap_or_default();
        g.sort();
        w.sort();
        if g == w {
            continue;
        }
        for rule in &g {
            if !w.contains(rule)
                || g.iter().filter(|x| *x == rule).count() > w.iter().filter(|x| *x == rule).count()
            {
                let msg = messages
                    .get(&(key.clone(), rule.clone()))
                    .cloned()
                    .unwrap_or_default();
                problems.push(format!("{}:{}: unexpected {rule}: {msg}", key.0, key.1));
                break;
            }
        }
        for rule in &w {
            if !g.contains(rule)
                || w.iter().filter(|x| *x == rule).count() > g.iter().filter(|x| *x == rule).count()
            {
                problems.push(format!("{}:{}: missing {rule}", key.0, key.1));
                break;
            }
        }
    }
    if want.is_empty() && !folder.starts_with('_') {
        problems.push("fixture has no `// want` lines: it cannot prove the rule fires".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n").into())
    }
}

fn gofmt_clean(root: &Path) -> Result<(), Failed> {
    let out = Command::new("gofmt")
        .args(["-l", "-e"])
        .arg(root)
        .output()
        .map_err(|e| format!("gofmt not runnable ({e}); install Go to check fixtures"))?;
    let listed = String::from_utf8_lossy(&out.stdout);
    let errors = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || !listed.trim().is_empty() || !errors.trim().is_empty() {
        return Err(
            format!("fixtures must be valid, gofmt-formatted Go:\n{listed}{errors}").into(),
        );
    }
    Ok(())
}
