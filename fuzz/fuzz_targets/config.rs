//! `pitfall.toml`: parse -> settings -> every rule run with those options on a
//! small service file (options are read as text by the rules, so odd values
//! must end in a default or a clear error, never a panic).
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;
#[allow(dead_code)]
#[path = "../../crates/pitfall_cli/src/config.rs"]
mod config;

const SERVICE: &str = include_str!("../../examples/orders-service/internal/api/handlers.go");

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(cfg) = config::Config::parse(text) else { return };
    let Ok(settings) = cfg.settings(&[], &[]) else { return };
    common::on_big_stack(move || common::check("handlers.go", SERVICE.to_string(), &settings));
});
