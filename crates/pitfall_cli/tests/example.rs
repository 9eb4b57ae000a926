//! The bundled example service: pitfall reports exactly the pitfalls listed in
//! its EXPECTED.md (no more, no fewer), and `pitfall routes` lists exactly its
//! routes and ports.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const ORDERS: &str = "orders-service";
/// The gRPC example.
const STOCK: &str = "stock-service";

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .canonicalize()
        .unwrap()
}

/// Table rows of the section that starts with `heading`.
fn table(name: &str, heading: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(example(name).join("EXPECTED.md")).unwrap();
    let section = text.split(heading).nth(1).expect("section exists");
    let section = section.split("\n## ").next().unwrap();
    section
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|-") && !l.contains("---"))
        .skip(1) // header
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

fn run(name: &str, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_pitfall"))
        .current_dir(example(name))
        .args(args)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn example_findings_match_expected_md() {
    findings_match_expected_md(ORDERS, 11);
}

#[test]
fn grpc_example_findings_match_expected_md() {
    findings_match_expected_md(STOCK, 6);
}

#[test]
fn example_routes_match_expected_md() {
    routes_match_expected_md(ORDERS);
}

#[test]
fn grpc_example_routes_match_expected_md() {
    routes_match_expected_md(STOCK);
}

fn findings_match_expected_md(name: &str, at_least: usize) {
    let want: BTreeSet<String> = table(name, "## Findings pitfall should report")
        .iter()
        .map(|r| format!("{} {}", r[1], r[2]))
        .collect();
    assert!(want.len() >= at_least, "{want:?}");
    let v = run(name, &["check", "--no-config", "--format", "json", "."]);
    let got: BTreeSet<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}:{} {}",
                f["path"].as_str().unwrap(),
                f["line"],
                f["rule"].as_str().unwrap()
            )
        })
        .collect();
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing: {missing:?}\nunexpected: {extra:?}"
    );
}

fn routes_match_expected_md(name: &str) {
    let want: BTreeSet<String> = table(name, "## Routes `pitfall routes` must list")
        .iter()
        .map(|r| format!("{} {} {}", r[0], r[1], r[2]))
        .collect();
    let v = run(name, &["routes", "--format", "json", "."]);
    let mains = v["mains"].as_array().unwrap();
    assert_eq!(mains.len(), 1);
    let mut got = BTreeSet::new();
    for l in mains[0]["listeners"].as_array().unwrap() {
        for r in l["routes"].as_array().unwrap() {
            got.insert(format!(
                "{} {} {}",
                l["addr"].as_str().unwrap_or("?"),
                r["method"].as_str().unwrap_or("*"),
                r["path"].as_str().unwrap()
            ));
        }
    }
    assert_eq!(got, want);
    assert!(mains[0]["unattached_routes"].as_array().unwrap().is_empty());
    assert!(
        mains[0]["uncertain"].as_array().unwrap().is_empty(),
        "{}",
        mains[0]["uncertain"]
    );
}
