//! End-to-end tests of the `pitfall` binary: exit codes, the output formats
//! (snapshots), walking rules, suppression warnings, rule pages and config.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn pitfall(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pitfall"))
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .args(args)
        .output()
        .expect("run pitfall")
}

fn sample() -> PathBuf {
    root().join("tests/cli/sample")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

const SAMPLE_RULES: &str = "deprecated-ioutil,string-concat-in-loop,server-without-timeouts";

#[test]
fn exit_code_is_1_with_findings_and_0_when_clean() {
    let o = pitfall(
        &sample(),
        &["check", "--no-config", "--select", SAMPLE_RULES],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let o = pitfall(&root().join("tests/cli/clean"), &["check", "--no-config"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("No findings in 1 files"));
}

#[test]
fn exit_code_is_2_on_usage_and_io_errors() {
    let dir = sample();
    for args in [
        vec!["check", "does-not-exist"],
        vec!["check", "--select", "no-such-rule"],
        vec!["check", "--format", "xml"],
        vec!["rule", "no-such-rule"],
        vec!["frobnicate"],
    ] {
        let o = pitfall(&dir, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            !stderr(&o).is_empty(),
            "{args:?} must explain itself on stderr"
        );
    }
}

#[test]
fn bad_config_is_a_clear_error() {
    let dir = tempdir("badcfg");
    std::fs::write(dir.join("pitfall.toml"), "selct = [\"all\"]\n").unwrap();
    std::fs::write(dir.join("a.go"), "package a\n").unwrap();
    let o = pitfall(&dir, &["check"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("pitfall.toml"), "{}", stderr(&o));
    std::fs::write(
        dir.join("pitfall.toml"),
        "[rules.range-value-copy]\nthreshhold = 3\n",
    )
    .unwrap();
    let o = pitfall(&dir, &["check"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no option `threshhold`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn walks_like_the_go_tool_and_survives_syntax_errors() {
    let o = pitfall(
        &sample(),
        &[
            "check",
            "--no-config",
            "--format",
            "json",
            "--select",
            "deprecated-ioutil",
        ],
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let paths: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{}:{}", f["path"].as_str().unwrap(), f["line"]))
        .collect();
    // vendor/, testdata/ and the generated file are skipped; the broken file
    // is still checked after its syntax error.
    assert_eq!(paths, vec!["cmd/api/broken.go:10", "cmd/api/main.go:18"]);
    let err = stderr(&o);
    assert!(
        err.contains("cmd/api/broken.go") && err.contains("syntax error"),
        "{err}"
    );
}

#[test]
fn json_has_the_documented_shape() {
    let o = pitfall(
        &sample(),
        &[
            "check",
            "--no-config",
            "--format",
            "json",
            "--select",
            SAMPLE_RULES,
        ],
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let top: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(top, vec!["findings", "summary", "version"]);
    for f in v["findings"].as_array().unwrap() {
        let mut keys: Vec<&str> = f.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        keys.sort();
        let mut want = vec![
            "category",
            "column",
            "end_column",
            "end_line",
            "line",
            "message",
            "path",
            "rule",
            "severity",
        ];
        // Optional keys, each present only when it has a value.
        for key in ["fix", "edits", "applicability", "related"] {
            if f.get(key).is_some() {
                want.push(key);
            }
        }
        want.sort();
        assert_eq!(keys, want);
        assert_eq!(f.get("edits").is_some(), f.get("applicability").is_some());
        assert!(f["line"].as_u64().unwrap() >= 1 && f["column"].as_u64().unwrap() >= 1);
        assert!(
            !f["path"].as_str().unwrap().starts_with('/'),
            "paths are relative"
        );
    }
    assert_eq!(
        v["summary"]["findings"].as_u64().unwrap() as usize,
        v["findings"].as_array().unwrap().len()
    );
    insta::assert_snapshot!(
        "json",
        stdout(&o).replace(env!("CARGO_PKG_VERSION"), "VERSION")
    );
}

#[test]
fn text_output_has_code_frames_and_fix_hints() {
    let o = pitfall(
        &sample(),
        &["check", "--no-config", "--select", SAMPLE_RULES],
    );
    let out = stdout(&o);
    assert!(!out.contains('\x1b'), "no colour when not on a terminal");
    insta::assert_snapshot!("text", out);
    let o = pitfall(
        &sample(),
        &[
            "check",
            "--no-config",
            "--select",
            SAMPLE_RULES,
            "--color",
            "always",
        ],
    );
    assert!(stdout(&o).contains("\x1b["));
}

#[test]
fn github_annotations() {
    let o = pitfall(
        &sample(),
        &[
            "check",
            "--no-config",
            "--format",
            "github",
            "--select",
            SAMPLE_RULES,
        ],
    );
    let out = stdout(&o);
    for line in out.lines() {
        assert!(
            line.starts_with("::warning file=")
                || line.starts_with("::error file=")
                || line.starts_with("::notice file="),
            "{line}"
        );
    }
    insta::assert_snapshot!("github", out);
}

#[test]
fn sarif_has_the_required_fields() {
    let o = pitfall(
        &sample(),
        &[
            "check",
            "--no-config",
            "--format",
            "sarif",
            "--select",
            SAMPLE_RULES,
        ],
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    assert!(v["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &v["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "pitfall");
    let rules = driver["rules"].as_array().unwrap();
    for r in rules {
        assert!(r["id"].is_string());
        assert!(r["shortDescription"]["text"].is_string());
        assert!(
            r["help"]["text"].as_str().unwrap().contains("How to fix"),
            "{}",
            r["id"]
        );
        assert!(["error", "warning", "note"]
            .contains(&r["defaultConfiguration"]["level"].as_str().unwrap()));
    }
    let results = run["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for res in results {
        let id = res["ruleId"].as_str().unwrap();
        let idx = res["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], id, "ruleIndex points at the rule");
        assert!(res["message"]["text"].is_string());
        let loc = &res["locations"][0]["physicalLocation"];
        assert!(loc["artifactLocation"]["uri"].is_string());
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
        assert!(loc["region"]["startColumn"].as_u64().unwrap() >= 1);
    }
    insta::assert_snapshot!(
        "sarif",
        stdout(&o).replace(env!("CARGO_PKG_VERSION"), "VERSION")
    );
}

#[test]
fn same_findings_whatever_the_thread_count() {
    let stdlib_like = root().join("tests/fixtures");
    let one = pitfall(
        &stdlib_like,
        &["check", "--no-config", "--format", "json", "-j", "1", "."],
    );
    let two = pitfall(
        &stdlib_like,
        &["check", "--no-config", "--format", "json", "-j", "2", "."],
    );
    assert_eq!(stdout(&one), stdout(&two));
    assert!(stdout(&one).contains("\"rule\""));
}

#[test]
fn unknown_names_in_nolint_are_warned_about() {
    let dir = tempdir("nolint");
    std::fs::write(
        dir.join("a.go"),
        "package a\n\nimport \"io/ioutil\"\n\nfunc f() {\n\t_, _ = ioutil.ReadFile(\"x\") //nolint:deprecated-iotul,errcheck\n}\n",
    )
    .unwrap();
    let o = pitfall(
        &dir,
        &["check", "--no-config", "--select", "deprecated-ioutil"],
    );
    let err = stderr(&o);
    assert!(
        err.contains("unknown rule name `deprecated-iotul`"),
        "{err}"
    );
    assert!(
        !err.contains("`errcheck`"),
        "other linters' names are not ours to judge: {err}"
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "a misspelt name suppresses nothing"
    );
}

#[test]
fn every_rule_has_a_complete_page() {
    let o = pitfall(&root(), &["rules"]);
    assert_eq!(o.status.code(), Some(0));
    let names: Vec<String> = stdout(&o)
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    assert!(names.len() >= 13, "{names:?}");
    for name in names {
        let o = pitfall(&root(), &["rule", &name]);
        assert_eq!(o.status.code(), Some(0));
        let page = stdout(&o);
        for section in [
            "## What it finds",
            "## Why it matters in production",
            "## Bad",
            "## Good",
            "## How to fix",
            "## How to suppress",
        ] {
            assert!(page.contains(section), "{name}: page lacks `{section}`");
        }
        assert!(
            page.contains("```go") || page.contains("```yaml"),
            "{name}: page has no Go or YAML example"
        );
        assert!(
            page.contains(&format!("nolint:{name}")),
            "{name}: page does not show its nolint"
        );
    }
}

#[test]
fn init_writes_a_config_that_loads() {
    let dir = tempdir("init");
    std::fs::write(dir.join("a.go"), "package a\n").unwrap();
    let o = pitfall(&dir, &["init"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = pitfall(&dir, &["init"]);
    assert_eq!(o.status.code(), Some(2), "refuses to overwrite");
    let o = pitfall(&dir, &["check"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Uncommenting the documented options must give a valid config too.
    let text = std::fs::read_to_string(dir.join("pitfall.toml")).unwrap();
    let uncommented: String = text
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if rest.contains(" = ") || rest.starts_with('[') => rest.to_string(),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.join("pitfall.toml"), uncommented).unwrap();
    let o = pitfall(&dir, &["check"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn config_select_ignore_severity_and_exclude() {
    let dir = tempdir("cfg");
    std::fs::create_dir_all(dir.join("gen")).unwrap();
    let src = "package a\n\nimport \"io/ioutil\"\n\nfunc f() { _, _ = ioutil.ReadFile(\"x\") }\n";
    std::fs::write(dir.join("a.go"), src).unwrap();
    std::fs::write(dir.join("gen/b.go"), src).unwrap();
    std::fs::write(
        dir.join("pitfall.toml"),
        "select = [\"correctness\"]\nexclude = [\"gen\"]\n[severity]\ndeprecated-ioutil = \"error\"\n",
    )
    .unwrap();
    let o = pitfall(&dir, &["check", "--format", "json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = v["findings"].as_array().unwrap();
    assert_eq!(f.len(), 1, "{v}");
    assert_eq!(f[0]["path"], "a.go");
    assert_eq!(f[0]["severity"], "error");
    let o = pitfall(&dir, &["check", "--ignore", "deprecated-ioutil"]);
    assert_eq!(o.status.code(), Some(0));
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pitfall-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn hostile_files_are_reported_and_the_run_goes_on() {
    let dir = tempdir("hostile");
    let good = "package a\n\nimport \"io/ioutil\"\n\nfunc f() { _, _ = ioutil.ReadFile(\"x\") }\n";
    std::fs::write(dir.join("good.go"), good).unwrap();
    // Binary junk with NUL bytes.
    std::fs::write(
        dir.join("junk.go"),
        [0u8, 159, 146, 150, 0, 1, 2, 255].repeat(1000),
    )
    .unwrap();
    // Invalid UTF-8 but otherwise Go.
    let mut latin1 = b"package a\n\n// caf\xe9\nfunc g() {}\n".to_vec();
    latin1.extend_from_slice(b"\n");
    std::fs::write(dir.join("latin1.go"), latin1).unwrap();
    // One enormous line, and half-written Go.
    std::fs::write(
        dir.join("long.go"),
        format!("package a\n\nvar s = \"{}\"\n", "x".repeat(2_000_000)),
    )
    .unwrap();
    std::fs::write(
        dir.join("half.go"),
        "package a\n\nfunc h( {\n\tif x := ; {\n",
    )
    .unwrap();
    // A symlink loop.
    #[cfg(unix)]
    {
        let _ = std::os::unix::fs::symlink(&dir, dir.join("loop"));
    }
    let o = pitfall(
        &dir,
        &[
            "check",
            "--no-config",
            "--format",
            "json",
            "--select",
            "deprecated-ioutil",
            "--max-file-size",
            "1000000",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["findings"].as_array().unwrap().len(), 1);
    let err = stderr(&o);
    assert!(err.contains("junk.go: skipped, not a text file"), "{err}");
    assert!(err.contains("latin1.go: not valid UTF-8"), "{err}");
    assert!(
        err.contains("long.go: skipped") && err.contains("--max-file-size"),
        "{err}"
    );
    assert!(
        err.contains("half.go") && err.contains("syntax error"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn nothing_checkable_is_an_error() {
    let dir = tempdir("nothing");
    std::fs::write(dir.join("junk.go"), [0u8; 64]).unwrap();
    let o = pitfall(&dir, &["check", "--no-config"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn deeply_nested_go_is_cut_or_skipped_never_a_crash() {
    let dir = tempdir("deep");
    let n = 100_000;
    let files = [
        ("parens.go", format!("package a\n\nvar x = {}1{}\n", "(".repeat(n), ")".repeat(n))),
        ("blocks.go", format!("package a\n\nfunc f() {}{}\n", "{".repeat(n), "}".repeat(n))),
        ("types.go", format!("package a\n\nvar t {}int\n", "[]".repeat(n))),
        ("calls.go", format!("package a\n\nvar c = {}0{}\n", "f(".repeat(n), ")".repeat(n))),
        ("lits.go", format!("package a\n\nvar l = {}{}\n", "[]any{".repeat(n), "}".repeat(n))),
        // Deep but within the parser's limit: checked, and the rules still run on
        // the rest of the file.
        (
            "ok.go",
            format!(
                "package a\n\nimport \"io/ioutil\"\n\nvar y = {}1{}\n\nfunc g() {{ _, _ = ioutil.ReadFile(\"x\") }}\n",
                "(".repeat(900),
                ")".repeat(900)
            ),
        ),
    ];
    for (name, text) in &files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let started = std::time::Instant::now();
    let o = pitfall(&dir, &["check", "--no-config", "--format", "json"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let rules: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["deprecated-ioutil"], "{err}");
    for (name, _) in &files[..5] {
        assert!(err.contains(name), "{name} not named on stderr: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}
