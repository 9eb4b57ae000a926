//! Go front end and every rule: bytes -> parse -> AST -> index -> all rules.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data).into_owned();
    common::on_big_stack(move || {
        let settings = pitfall_rules::Settings::all();
        let name = if src.len() % 3 == 0 { "f_test.go" } else { "f.go" };
        common::check(name, src, &settings);
    });
});
