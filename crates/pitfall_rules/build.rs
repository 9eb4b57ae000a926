//! Generates the rule registry from the files under `src/<category>/`.
//!
//! Every `src/<category>/<rule_name>.rs` (except `mod.rs`) must define
//! `pub static RULE: Rule`. Adding a rule is therefore one new file (plus its
//! fixture folder): nothing else needs to be edited.

use std::fs;
use std::path::Path;

fn main() {
    let src = Path::new("src");
    println!("cargo:rerun-if-changed=src");
    let mut categories: Vec<_> = fs::read_dir(src)
        .expect("read src")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    categories.sort();

    let mut modules = String::new();
    let mut registry = String::from("/// Every rule, in a stable order (by category folder, then file name).\npub static ALL: &[&crate::Rule] = &[\n");
    for cat in &categories {
        let dir = src.join(cat);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut rules: Vec<_> = fs::read_dir(&dir)
            .expect("read category dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".rs") && n != "mod.rs")
            .map(|n| n.trim_end_matches(".rs").to_string())
            .collect();
        rules.sort();
        modules.push_str(&format!("pub mod {cat} {{\n"));
        for r in &rules {
            let path = fs::canonicalize(dir.join(format!("{r}.rs"))).expect("canonicalize");
            modules.push_str(&format!(
                "    #[path = {:?}]\n    pub mod {r};\n",
                path.display().to_string()
            ));
            registry.push_str(&format!("    &{cat}::{r}::RULE,\n"));
        }
        modules.push_str("}\n");
    }
    registry.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("registry.rs");
    fs::write(out, modules + &registry).expect("write registry");
}
