//! Shared by the fuzz targets: run every enabled rule on one file the way the
//! CLI does, and fail loudly when a rule panicked (the engine catches rule
//! panics and turns them into warnings, which would hide them from the fuzzer).

use pitfall_go::index::{ProjectIndex, SourcePackage};
use pitfall_go::module::GoMod;
use pitfall_rules::{check_file, Settings};
use std::sync::Arc;

pub fn check(name: &str, src: String, settings: &Settings) {
    let Ok(file) = pitfall_go::parse_file(name, src) else {
        return;
    };
    let pkgs = [SourcePackage {
        dir: ".".into(),
        name: "f".into(),
        import_path: "example.com/f".into(),
        gomod: Arc::new(GoMod::default()),
        files: vec![file],
    }];
    let index = ProjectIndex::new(&pkgs);
    let pkg = &index.packages[0];
    let result = check_file(&pkg.src.files[0], pkg, &index, settings);
    for w in &result.warnings {
        assert!(!w.contains("internal error"), "{w}");
    }
    for f in &result.findings {
        assert!(f.line >= 1 && f.end_line >= f.line, "bad span in {f:?}");
    }
}

/// The CLI runs checks on 64 MiB stacks; do the same so that a deep-but-bounded
/// input is judged as it would be in production.
pub fn on_big_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
}
