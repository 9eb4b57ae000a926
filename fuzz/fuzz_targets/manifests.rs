//! Kubernetes manifests: bytes -> YAML events (bounded) -> objects -> every
//! manifest rule, and the cross-checks against a one-service Go project (the
//! example's main package), so linking and the code facts run too.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pitfall_go::index::{ProjectIndex, SourcePackage};
use pitfall_go::module::GoMod;
use std::sync::Arc;

const MAIN: &str = include_str!("../../examples/orders-service/cmd/orders/main.go");

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    let loaded = pitfall_k8s::load("deploy.yaml", &src);
    if loaded.objects.is_empty() {
        return;
    }
    let main = pitfall_go::parse_file("cmd/orders/main.go", MAIN.to_string()).expect("example parses");
    let pkgs = [SourcePackage {
        dir: "cmd/orders".into(),
        name: "main".into(),
        import_path: "example.com/orders-service/cmd/orders".into(),
        gomod: Arc::new(GoMod::default()),
        files: vec![main],
    }];
    let index = ProjectIndex::new(&pkgs);
    let settings = pitfall_rules::Settings::all();
    let result = pitfall_rules::manifest::check_manifests(&loaded.objects, &index, &settings, &[]);
    for w in &result.warnings {
        assert!(!w.contains("internal error"), "{w}");
    }
});
