//! Robustness: every rule on thousands of damaged Go files, seeded from the
//! fixtures. Half-written and corrupted code must give findings or nothing,
//! never a panic (the engine would catch one, and this test fails on it).
//!
//! The mutations are deterministic (a fixed-seed xorshift), so a failure is
//! reproducible; the failing input is printed.

use pitfall_go::index::{ProjectIndex, SourcePackage};
use pitfall_go::module::GoMod;
use pitfall_rules::{check_file, Settings};
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = vec![root];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "go") {
                out.push(std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    out.sort();
    out
}

/// Damages Go source the ways editors and bad merges do.
fn mutate(rng: &mut Rng, src: &str, pool: &[String]) -> String {
    let mut s: Vec<u8> = src.as_bytes().to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = s.len().max(1);
        let at = rng.below(len);
        match rng.below(7) {
            0 => s.truncate(at),
            1 => {
                let end = (at + rng.below(200)).min(s.len());
                s.drain(at.min(s.len())..end);
            }
            2 => {
                let tokens: [&[u8]; 10] = [
                    b"{",
                    b"}",
                    b"(",
                    b")",
                    b"go ",
                    b"defer ",
                    b"for ",
                    b"select {",
                    b":=",
                    b"\"\x60",
                ];
                let t = tokens[rng.below(tokens.len())];
                let at = at.min(s.len());
                s.splice(at..at, t.iter().copied());
            }
            3 => {
                // Splice in a chunk of another file.
                let other = pool[rng.below(pool.len())].as_bytes();
                let from = rng.below(other.len());
                let to = (from + rng.below(400)).min(other.len());
                let at = at.min(s.len());
                s.splice(at..at, other[from..to].iter().copied());
            }
            4 => {
                let end = (at + rng.below(300)).min(s.len());
                let chunk = s[at.min(end)..end].to_vec();
                s.splice(end..end, chunk);
            }
            5 => {
                if !s.is_empty() {
                    let i = at.min(s.len() - 1);
                    s[i] = (rng.next() & 0x7f) as u8;
                }
            }
            _ => {
                let depth = rng.below(300);
                let at = at.min(s.len());
                let nest: Vec<u8> = b"("
                    .repeat(depth)
                    .into_iter()
                    .chain(b"x".iter().copied())
                    .chain(b")".repeat(depth))
                    .collect();
                s.splice(at..at, nest);
            }
        }
    }
    String::from_utf8_lossy(&s).into_owned()
}

#[test]
fn rules_survive_damaged_code() {
    let pool = seeds();
    assert!(!pool.is_empty(), "fixtures are the seeds");
    let settings = Settings::all();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let rounds = 3000;
    // Lowering recurses per nesting level: run where the CLI runs it.
    let handle = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            for i in 0..rounds {
                let seed = &pool[rng.below(pool.len())];
                let text = mutate(&mut rng, seed, &pool);
                let name = if i % 5 == 0 { "m_test.go" } else { "m.go" };
                let Ok(file) = pitfall_go::parse_file(name, text.clone()) else {
                    continue;
                };
                let pkg = SourcePackage {
                    dir: ".".into(),
                    name: "m".into(),
                    import_path: "example.com/m".into(),
                    gomod: Arc::new(GoMod::default()),
                    files: vec![file],
                };
                let pkgs = [pkg];
                let index = ProjectIndex::new(&pkgs);
                let p = &index.packages[0];
                let result = check_file(&p.files()[0], p, &index, &settings);
                let internal: Vec<_> = result
                    .warnings
                    .iter()
                    .filter(|w| w.contains("internal error"))
                    .collect();
                assert!(
                    internal.is_empty(),
                    "round {i}: {internal:?}\n--- input ---\n{text}"
                );
            }
        })
        .unwrap();
    handle.join().expect("no panic escaped");
}
