//! Writes a synthetic `?debug=2` goroutine dump to stdout, for the benchmark:
//! `cargo run --release -p pitfall_dump --example gen_dump -- 1000000 > big.txt`.
//! 64 sites (channel sends, selects, mutexes, IO waits, sleeps) with stacks of
//! 6 to 14 frames, wait times on a third of the goroutines, labels on some.

use std::io::{BufWriter, Write};

const STATES: &[&str] = &[
    "chan send",
    "chan receive",
    "select",
    "sync.Mutex.Lock",
    "IO wait",
    "sleep",
    "sync.WaitGroup.Wait",
];

fn main() -> std::io::Result<()> {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let out = std::io::stdout();
    let mut w = BufWriter::with_capacity(1 << 20, out.lock());
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for id in 1..=n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let site = (x % 64) as usize;
        let state = STATES[site % STATES.len()];
        write!(w, "goroutine {id} [{state}")?;
        if x.is_multiple_of(3) {
            write!(w, ", {} minutes", (x >> 8) % 90 + 1)?;
        }
        if site % 5 == 0 {
            write!(w, " labels:{{\"tenant\": \"t{}\"}}", (x >> 16) % 3)?;
        }
        writeln!(w, "]:")?;
        match state {
            "sync.Mutex.Lock" => {
                writeln!(w, "internal/sync.runtime_SemacquireMutex(0x0?, 0x0?, 0x0?)\n\t/usr/local/go/src/runtime/sema.go:95 +0x25")?;
                writeln!(w, "internal/sync.(*Mutex).lockSlow(0xc0000b0000)\n\t/usr/local/go/src/internal/sync/mutex.go:149 +0x15d")?;
                writeln!(
                    w,
                    "sync.(*Mutex).Lock(...)\n\t/usr/local/go/src/sync/mutex.go:46"
                )?;
            }
            "IO wait" => {
                writeln!(w, "internal/poll.runtime_pollWait(0x7f3b1c2d4f08, 0x72)\n\t/usr/local/go/src/runtime/netpoll.go:351 +0x85")?;
                writeln!(w, "internal/poll.(*pollDesc).wait(0xc0001a2000?, 0xc0001b4000?, 0x0)\n\t/usr/local/go/src/internal/poll/fd_poll_runtime.go:84 +0x27")?;
                writeln!(w, "net.(*conn).Read(0xc0000a4010, {{0xc0001b4000?, 0x1000?, 0x1000?}})\n\t/usr/local/go/src/net/net.go:196 +0x45")?;
            }
            "sleep" => writeln!(
                w,
                "time.Sleep(0x3b9aca00)\n\t/usr/local/go/src/runtime/time.go:363 +0x165"
            )?,
            "sync.WaitGroup.Wait" => {
                writeln!(w, "sync.runtime_SemacquireWaitGroup(0xc0000ba0c8?, 0x0?)\n\t/usr/local/go/src/runtime/sema.go:114 +0x2e")?;
                writeln!(w, "sync.(*WaitGroup).Wait(0xc0000ba0c0)\n\t/usr/local/go/src/sync/waitgroup.go:206 +0x85")?;
            }
            _ => {}
        }
        let depth = 3 + site % 9;
        for d in 0..depth {
            writeln!(
                w,
                "github.com/acme/orders/internal/svc{}.(*Handler).step{d}(0xc0001a2000, {{0x8a8b00, 0xc0001c2000}})\n\t/build/orders/internal/svc{}/handler.go:{} +0x{:x}",
                site,
                site,
                40 + d * 7,
                0x20 + d
            )?;
        }
        writeln!(w, "net/http.HandlerFunc.ServeHTTP(0x0?, {{0x8a8b00?, 0xc0001c2000?}}, 0x0?)\n\t/usr/local/go/src/net/http/server.go:2286 +0x2f")?;
        writeln!(w, "net/http.(*conn).serve(0xc0001b4140, {{0x8a8e38, 0xc00009e2a0}})\n\t/usr/local/go/src/net/http/server.go:2102 +0x612")?;
        writeln!(w, "created by net/http.(*Server).Serve in goroutine 1\n\t/usr/local/go/src/net/http/server.go:3454 +0x485\n")?;
    }
    w.flush()
}
