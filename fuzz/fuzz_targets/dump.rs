//! Goroutine dumps, every format: bytes -> detect -> parse (debug=2 / traceback,
//! debug=1, protobuf, gzipped or not) -> groups -> every verdict, alone and as
//! the second of two dumps (growth).
#![no_main]
use libfuzzer_sys::fuzz_target;
use pitfall_dump::Limits;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_bytes: 1 << 20,
        max_proto_bytes: 1 << 20,
        max_groups: 10_000,
        ..Limits::default()
    };
    let Ok(dump) = pitfall_dump::parse(data, &limits) else { return };
    let settings = pitfall_rules::Settings::all();
    let _ = pitfall_rules::dump_check::check_dump(&dump, None, None, &settings);
    let _ = pitfall_rules::dump_check::check_dump(&dump, Some(&dump), None, &settings);
});
