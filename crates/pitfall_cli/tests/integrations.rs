//! The CI integrations at the repository root: `.pre-commit-hooks.yaml` run
//! by the real `pre-commit` tool on a throwaway repository, and the check
//! step of the composite `action.yml` run as GitHub would run it.

mod common;

use common::{fresh_dir, git, GO_MOD};
use pitfall_k8s::yaml::{self, Node};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_pitfall"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// PATH with the pitfall under test first.
fn path_env() -> String {
    format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn run(dir: &Path, cmd: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(cmd);
    c.current_dir(dir).args(args).env("PATH", path_env());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

fn tmp(name: &str) -> PathBuf {
    fresh_dir("integ", name)
}

fn parse_yaml(path: &Path) -> Node {
    let text = std::fs::read_to_string(path).unwrap();
    let mut docs = yaml::parse(&text).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    assert_eq!(docs.len(), 1);
    docs.remove(0).root
}

const LEAKY: &str = "package svc\n\nimport \"io/ioutil\"\n\nfunc Load() ([]byte, error) { return ioutil.ReadFile(\"x\") }\n";

#[test]
fn pre_commit_hooks_file_declares_the_pitfall_hook() {
    let hooks = parse_yaml(&root().join(".pre-commit-hooks.yaml"));
    let hook = &hooks.as_seq()[0];
    assert_eq!(hook.get("id").and_then(|n| n.as_str()), Some("pitfall"));
    assert!(hook
        .get("entry")
        .and_then(|n| n.as_str())
        .unwrap()
        .starts_with("pitfall check"));
}

/// The real `pre-commit` (Debian's package; `.ci/run` installs it) runs the
/// hook from a repository that holds this `.pre-commit-hooks.yaml`: a commit
/// with a finding is refused, the fixed one goes through.
#[test]
fn pre_commit_runs_the_hook_and_blocks_a_commit_with_findings() {
    if run(Path::new("."), "pre-commit", &["--version"], &[])
        .status
        .code()
        != Some(0)
    {
        eprintln!("pre-commit not installed: skipping (.ci/run installs it)");
        return;
    }
    let hook_repo = tmp("hooks");
    git(&hook_repo, &["init", "-q", "-b", "main"]);
    std::fs::copy(
        root().join(".pre-commit-hooks.yaml"),
        hook_repo.join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    git(&hook_repo, &["add", "."]);
    git(&hook_repo, &["commit", "-qm", "hooks"]);
    let rev = git(&hook_repo, &["rev-parse", "HEAD"]);

    let project = tmp("project");
    let cache = tmp("cache");
    let env = [
        ("PRE_COMMIT_HOME", cache.to_str().unwrap()),
        ("HOME", cache.to_str().unwrap()),
    ];
    git(&project, &["init", "-q", "-b", "main"]);
    std::fs::write(
        project.join(".pre-commit-config.yaml"),
        format!(
            "repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n      - id: pitfall\n",
            hook_repo.display()
        ),
    )
    .unwrap();
    std::fs::write(project.join("go.mod"), GO_MOD).unwrap();
    std::fs::write(project.join("load.go"), LEAKY).unwrap();
    std::fs::write(project.join("README.md"), "not checked\n").unwrap();
    git(&project, &["add", "."]);

    let o = run(&project, "pre-commit", &["run", "--all-files"], &env);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("load.go:5:") && out.contains("deprecated-ioutil"),
        "{out}"
    );

    // As a git hook: the commit is refused, then goes through once fixed.
    let o = run(&project, "pre-commit", &["install"], &env);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut commit = vec![
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "-c",
        "commit.gpgsign=false",
    ];
    commit.extend_from_slice(&["commit", "-qm", "add load"]);
    let o = run(&project, "git", &commit, &env);
    assert!(
        !o.status.success(),
        "the commit with a finding was accepted"
    );
    let o = run(&project, "pitfall", &["check", "--fix", "."], &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    git(&project, &["add", "load.go"]);
    let o = run(&project, "git", &commit, &env);
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    for d in [hook_repo, project, cache] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// The `run:` script of the step with this id in action.yml.
fn action_step(id: &str) -> String {
    let action = parse_yaml(&root().join("action.yml"));
    assert_eq!(
        action.path(&["runs", "using"]).and_then(|n| n.as_str()),
        Some("composite")
    );
    let steps = action.path(&["runs", "steps"]).unwrap().as_seq();
    let step = steps
        .iter()
        .find(|s| s.get("id").and_then(|n| n.as_str()) == Some(id))
        .unwrap_or_else(|| panic!("no step {id}"));
    step.get("run")
        .and_then(|n| n.as_str())
        .unwrap()
        .to_string()
}

/// Runs the action's check step in `dir` as a runner would: the inputs as
/// its environment, `$GITHUB_OUTPUT` emptied first. Returns the output and
/// what the step wrote to `$GITHUB_OUTPUT`.
fn run_check_step(dir: &Path, runner: &Path, format: &str, args: &str) -> (Output, String) {
    let out_file = runner.join("output");
    std::fs::write(&out_file, "").unwrap();
    let o = run(
        dir,
        "bash",
        &["-e", "-c", &action_step("check")],
        &[
            ("PITFALL_PATH", "."),
            ("PITFALL_FORMAT", format),
            ("PITFALL_ARGS", args),
            ("PITFALL_SARIF", "pitfall.sarif"),
            ("GITHUB_OUTPUT", out_file.to_str().unwrap()),
            ("RUNNER_TEMP", runner.to_str().unwrap()),
        ],
    );
    (o, std::fs::read_to_string(&out_file).unwrap())
}

#[test]
fn the_action_check_step_reports_annotations_or_sarif_and_sets_its_output() {
    let dir = tmp("action");
    std::fs::write(dir.join("go.mod"), GO_MOD).unwrap();
    std::fs::write(dir.join("load.go"), LEAKY).unwrap();
    let runner = tmp("runner");
    for format in ["github", "sarif"] {
        let (o, outputs) = run_check_step(&dir, &runner, format, "--no-config");
        assert!(
            o.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(outputs, "findings=true\n");
        let stdout = String::from_utf8_lossy(&o.stdout);
        if format == "github" {
            assert!(
                stdout.starts_with("::notice file=load.go,line=5,"),
                "{stdout}"
            );
        } else {
            let text = std::fs::read_to_string(dir.join("pitfall.sarif")).unwrap();
            let sarif: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                sarif["runs"][0]["results"][0]["ruleId"],
                "deprecated-ioutil"
            );
        }
    }
    // A usage error fails the step (exit 2), never reads as "no findings".
    let (o, _) = run_check_step(&dir, &runner, "github", "--no-such-flag");
    assert_eq!(o.status.code(), Some(2));
    // Clean code: findings=false.
    std::fs::write(dir.join("load.go"), "package svc\n").unwrap();
    let (o, outputs) = run_check_step(&dir, &runner, "github", "");
    assert!(o.status.success());
    assert_eq!(outputs, "findings=false\n");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&runner);
}
