//! Loads one manifest file and prints what it held and how fast:
//! `cargo run --release -p pitfall_k8s --example load -- chart.yaml`
//! (bench/gen-chart.py writes a large rendered chart; run it under
//! `/usr/bin/time -v` for the peak memory).
fn main() {
    let path = std::env::args().nth(1).expect("usage: load FILE.yaml");
    // As `pitfall check` does: one shared copy of the text.
    let src: std::sync::Arc<str> = std::fs::read_to_string(&path)
        .expect("read the file")
        .into();
    let started = std::time::Instant::now();
    let loaded = pitfall_k8s::load_shared(&path, src.clone(), &Default::default());
    let secs = started.elapsed().as_secs_f64();
    if let Some(e) = &loaded.error {
        eprintln!("{e}");
    }
    println!(
        "{path}: {} objects, {} sources, {:.1} MB in {secs:.2} s = {:.1} MB/s",
        loaded.objects.len(),
        loaded.sources.len(),
        src.len() as f64 / 1e6,
        src.len() as f64 / 1e6 / secs
    );
}
