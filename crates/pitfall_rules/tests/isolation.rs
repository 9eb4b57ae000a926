//! An internal error (a panic) in one rule on one file is caught, reported with
//! the rule and the file, and every other rule still runs on that file.

use pitfall_go::index::{ProjectIndex, SourcePackage};
use pitfall_go::module::GoMod;
use pitfall_rules::{check_file, Category, Check, Rule, Settings, Severity, TestFiles};
use std::sync::Arc;

static BOOM: Rule = Rule {
    name: "boom",
    category: Category::Correctness,
    severity: Severity::Error,
    summary: "a rule with a bug",
    reports_on: "nothing",
    test_files: TestFiles::Include,
    options: &[],
    doc: "",
    check: Check::Go(|_| panic!("index out of bounds in a buggy rule")),
};

#[test]
fn a_panicking_rule_is_reported_and_the_others_still_run() {
    let src = "package a\n\nimport \"io/ioutil\"\n\nfunc f() { _, _ = ioutil.ReadFile(\"x\") }\n";
    let file = pitfall_go::parse_file("svc/a.go", src.to_string()).unwrap();
    let pkgs = [SourcePackage {
        dir: "svc".into(),
        name: "a".into(),
        import_path: "example.com/svc".into(),
        gomod: Arc::new(GoMod::default()),
        files: vec![file],
    }];
    let index = ProjectIndex::new(&pkgs);
    let pkg = &index.packages[0];
    let settings = Settings {
        enabled: vec![&BOOM, pitfall_rules::find("deprecated-ioutil").unwrap()],
        ..Default::default()
    };
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = check_file(&pkg.src.files[0], pkg, &index, &settings);
    std::panic::set_hook(quiet);
    assert_eq!(result.warnings.len(), 1, "{:?}", result.warnings);
    let w = &result.warnings[0];
    assert!(
        w.contains("svc/a.go") && w.contains("internal error in rule boom"),
        "{w}"
    );
    assert!(w.contains("index out of bounds in a buggy rule"), "{w}");
    let rules: Vec<&str> = result.findings.iter().map(|f| f.rule).collect();
    assert_eq!(rules, ["deprecated-ioutil"]);
}
