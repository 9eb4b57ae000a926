//! Helpers shared by the integration tests that make throwaway directories
//! and git repositories (fix.rs, newcode.rs, integrations.rs, lsp.rs).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The go.mod every throwaway module gets.
pub const GO_MOD: &str = "module example.com/svc\n\ngo 1.22\n";

/// A fresh, empty directory named after the test file and case.
pub fn fresh_dir(kind: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pitfall-{kind}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh directory holding a go.mod.
pub fn fresh_module(kind: &str, name: &str) -> PathBuf {
    let dir = fresh_dir(kind, name);
    std::fs::write(dir.join("go.mod"), GO_MOD).unwrap();
    dir
}

/// Runs git in `dir` with a fixed identity and no signing; panics on failure.
/// Returns its stdout, trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}
