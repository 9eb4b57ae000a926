//! Hand-captured samples of older and newer dump formats, a protobuf profile
//! built field by field, and inputs cut or corrupted at every byte: the
//! parser must give the right groups, or a clear error, and never panic.

use pitfall_dump::verdict::{self, ContentionOptions, DeadlockOptions, LeakOptions};
use pitfall_dump::{parse, Dump, Format, Limits};
use std::io::Write;

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/samples/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn dump(bytes: &[u8]) -> Dump {
    parse(bytes, &Limits::default()).unwrap()
}

fn group<'a>(d: &'a Dump, func: &str) -> &'a pitfall_dump::Group {
    d.groups
        .iter()
        .find(|g| g.user().is_some_and(|f| &*f.function == func))
        .unwrap_or_else(|| panic!("no group at {func}: {:#?}", d.groups))
}

#[test]
fn go_1_19_semacquire_is_told_apart_by_the_frames() {
    let d = dump(&sample("go1.19-semacquire.txt"));
    assert_eq!(d.format, Format::Debug2);
    assert_eq!(d.total, 6);
    assert_eq!(d.goroots, vec!["/usr/lib/go-1.19".to_string()]);
    let lock = group(&d, "github.com/acme/inventory/stock.(*Ledger).Reserve");
    assert_eq!(lock.count, 2);
    assert_eq!(lock.state, "sync.Mutex.Lock");
    assert_eq!(lock.wait_minutes, Some(12));
    assert_eq!(lock.user().unwrap().line, 61);
    // `created by` without `in goroutine N` (before Go 1.21).
    assert_eq!(
        &*lock.created_by.as_ref().unwrap().function,
        "net/http.(*Server).Serve"
    );
    let wg = group(&d, "github.com/acme/inventory/stock.(*Ledger).Flush");
    assert_eq!(wg.state, "sync.WaitGroup.Wait");
    let main = group(&d, "main.main");
    assert_eq!(main.state, "IO wait");
    // The pprof handler's own goroutine is all standard library.
    assert!(d
        .groups
        .iter()
        .any(|g| g.state == "running" && g.user_frame.is_none()));

    let c = verdict::contention(&d, &ContentionOptions { min_count: 2 });
    assert_eq!(c.len(), 1);
    assert_eq!(
        &*c[0].frame.file,
        "/home/ci/build/inventory/stock/ledger.go"
    );
    let dl = verdict::deadlock(
        &d,
        &DeadlockOptions {
            min_wait_minutes: 10,
        },
    );
    assert_eq!(dl.len(), 1, "a mutex waited on for 12 minutes");
    assert!(dl[0].message.contains("12 minutes"), "{}", dl[0].message);
    let dl = verdict::deadlock(
        &d,
        &DeadlockOptions {
            min_wait_minutes: 13,
        },
    );
    assert!(dl.is_empty());
}

#[test]
fn go_1_20_waits_decide_small_leaks() {
    let d = dump(&sample("go1.20-no-goid.txt"));
    let send = group(&d, "main.(*Notifier).deliver");
    assert_eq!(
        (send.count, send.wait_minutes, send.wait_min_minutes),
        (3, Some(25), Some(11))
    );
    assert_eq!(send.created_by.as_ref().unwrap().line, 40);
    let o = LeakOptions {
        min_count: 100,
        min_count_waiting: 3,
        min_wait_minutes: 20,
        min_growth: 50,
    };
    let v = verdict::leaked(&d, None, &o);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert_eq!((v[0].frame.line, v[0].count), (52, 3));
    // One goroutine in a select is a background loop, not a leak.
    assert!(!v
        .iter()
        .any(|v| &*v.frame.function == "main.(*Notifier).run"));
    // Without the wait, 3 goroutines are nothing.
    let o2 = LeakOptions {
        min_wait_minutes: 30,
        ..o
    };
    assert!(verdict::leaked(&d, None, &o2).is_empty());
    // A sleeping goroutine is never a leak, and its stack is kept whole.
    let hb = group(&d, "main.heartbeat");
    assert_eq!(hb.state, "sleep");
    assert_eq!(&*hb.stack[0].function, "time.Sleep");
}

#[test]
fn go_1_26_traceback_features() {
    let d = dump(&sample("go1.26-features.txt"));
    assert_eq!(d.format, Format::Traceback);
    assert_eq!(
        d.reason.as_deref(),
        Some("panic: boom [recovered, repanicked]")
    );
    assert_eq!(d.total, 5);
    let w = group(&d, "main.explode");
    assert!(w.elided);
    assert_eq!(w.ids, vec![7]);
    // Ancestors' frames (GODEBUG=tracebackancestors) are not this goroutine's.
    assert_eq!(
        w.stack.iter().map(|f| &*f.function).collect::<Vec<_>>(),
        vec!["main.explode", "main.worker", "main.loop"]
    );
    assert_eq!(&*w.created_by.as_ref().unwrap().function, "main.start");
    let b = group(&d, "main.TestQueue.func1");
    assert_eq!((b.state.as_str(), b.in_bubble), ("chan receive", 1));
    let l = group(&d, "main.pump");
    assert_eq!(
        (l.state.as_str(), l.leaked, l.wait_minutes),
        ("select", 1, Some(3))
    );
    assert_eq!(l.labels, vec![("job".to_string(), "sync".to_string())]);
    let m = group(&d, "main.(*Cache).Put");
    assert_eq!(
        (m.state.as_str(), m.locked_to_thread),
        ("sync.Mutex.Lock", 1)
    );
    assert!(d
        .groups
        .iter()
        .any(|g| g.stack.is_empty() && g.state == "running"));

    let v = verdict::leaked(&d, None, &LeakOptions::default());
    assert_eq!(
        v.len(),
        1,
        "the runtime's (leaked) mark decides alone: {v:#?}"
    );
    assert_eq!(&*v[0].frame.function, "main.pump");
    // The bubble's goroutine is a test's, never a service leak.
    let o = LeakOptions {
        min_count: 1,
        ..LeakOptions::default()
    };
    assert!(!verdict::leaked(&d, None, &o)
        .iter()
        .any(|v| &*v.frame.function == "main.TestQueue.func1"));
}

#[test]
fn all_user_goroutines_blocked_is_a_deadlock() {
    let text = "\
goroutine 1 [chan receive]:
main.main()
\t/w/main.go:10 +0x1d

goroutine 6 [sync.Mutex.Lock]:
sync.(*Mutex).Lock(...)
\t/usr/local/go/src/sync/mutex.go:46
main.worker()
\t/w/main.go:20 +0x1d
created by main.main in goroutine 1
\t/w/main.go:8 +0x1d
";
    let d = dump(text.as_bytes());
    let v = verdict::deadlock(
        &d,
        &DeadlockOptions {
            min_wait_minutes: 10,
        },
    );
    assert_eq!(v.len(), 2, "{v:#?}");
    // The same program with a goroutine in IO wait can still be woken.
    let more = format!(
        "{text}\ngoroutine 9 [IO wait]:\ninternal/poll.runtime_pollWait(0x1, 0x72)\n\t/usr/local/go/src/runtime/netpoll.go:351 +0x85\nmain.serve()\n\t/w/main.go:30 +0x1\n"
    );
    let d = dump(more.as_bytes());
    assert!(verdict::deadlock(
        &d,
        &DeadlockOptions {
            min_wait_minutes: 10
        }
    )
    .is_empty());
}

#[test]
fn two_dumps_show_what_grew() {
    let before = dump(&sample("go1.20-no-goid.txt"));
    let mut text = String::from_utf8(sample("go1.20-no-goid.txt")).unwrap();
    for id in 100..160 {
        text.push_str(&format!(
            "\ngoroutine {id} [chan send]:\nmain.(*Notifier).deliver(0xc000180000, {{0xc0001aa040, 0x12}})\n\t/app/notifier.go:52 +0x5d\ncreated by main.(*Notifier).Send\n\t/app/notifier.go:40 +0xa5\n"
        ));
    }
    let after = dump(text.as_bytes());
    let g = verdict::grew(&before, &after);
    // The new goroutines have no wait yet; the group key is the same.
    assert_eq!(g.len(), 1, "{g:#?}");
    assert_eq!((g[0].before, g[0].after), (3, 63));
    let v = verdict::leaked(&after, Some(&before), &LeakOptions::default());
    assert_eq!(v.len(), 1);
    assert!(
        v[0].message.contains("grew from 3 to 63"),
        "{}",
        v[0].message
    );
}

// --- protobuf -------------------------------------------------------------

fn varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn field_bytes(out: &mut Vec<u8>, num: u64, b: &[u8]) {
    varint(out, num << 3 | 2);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn field_int(out: &mut Vec<u8>, num: u64, v: u64) {
    varint(out, num << 3);
    varint(out, v);
}

/// A goroutine profile: 120 goroutines in chan send at main.go:23 (runtime
/// frames inlined into one location, as pprof writes them), 40 of them with a
/// label, and one goroutine in select.
fn profile() -> Vec<u8> {
    let strings = [
        "",
        "goroutine",
        "count",
        "runtime.gopark",
        "runtime.chansend1",
        "main.leak.func1",
        "/usr/local/go/src/runtime/proc.go",
        "/usr/local/go/src/runtime/chan.go",
        "/w/main.go",
        "runtime.selectgo",
        "main.loop",
        "/usr/local/go/src/runtime/select.go",
        "tenant",
        "a",
        "runtime.chansend",
    ];
    let mut p = Vec::new();
    let mut vt = Vec::new();
    field_int(&mut vt, 1, 1);
    field_int(&mut vt, 2, 2);
    field_bytes(&mut p, 1, &vt);
    // functions: id, name, filename
    for (id, name, file) in [
        (1, 3, 6),
        (2, 4, 7),
        (3, 5, 8),
        (4, 9, 11),
        (5, 10, 8),
        (6, 14, 7),
    ] {
        let mut f = Vec::new();
        field_int(&mut f, 1, id);
        field_int(&mut f, 2, name);
        field_int(&mut f, 4, file);
        field_bytes(&mut p, 5, &f);
    }
    // locations: 1 = gopark; 2 = chansend inlined into chansend1; 3 = main.leak.func1;
    // 4 = selectgo; 5 = main.loop
    let locs: &[(u64, &[(u64, u64)])] = &[
        (1, &[(1, 400)]),
        (2, &[(6, 200), (2, 150)]),
        (3, &[(3, 23)]),
        (4, &[(4, 300)]),
        (5, &[(5, 40)]),
    ];
    for (id, lines) in locs {
        let mut l = Vec::new();
        field_int(&mut l, 1, *id);
        for (fid, line) in *lines {
            let mut ln = Vec::new();
            field_int(&mut ln, 1, *fid);
            field_int(&mut ln, 2, *line);
            field_bytes(&mut l, 4, &ln);
        }
        field_bytes(&mut p, 4, &l);
    }
    let samples: &[(&[u64], u64, bool)] = &[
        (&[1, 2, 3], 80, false),
        (&[1, 2, 3], 40, true),
        (&[1, 4, 5], 1, false),
    ];
    for (locs, n, labelled) in samples {
        let mut s = Vec::new();
        let mut packed = Vec::new();
        for l in *locs {
            varint(&mut packed, *l);
        }
        field_bytes(&mut s, 1, &packed);
        field_int(&mut s, 2, *n);
        if *labelled {
            let mut lab = Vec::new();
            field_int(&mut lab, 1, 12);
            field_int(&mut lab, 2, 13);
            field_bytes(&mut s, 3, &lab);
        }
        field_bytes(&mut p, 2, &s);
    }
    for s in strings {
        field_bytes(&mut p, 6, s.as_bytes());
    }
    p
}

#[test]
fn protobuf_profiles_plain_and_gzipped() {
    let raw = profile();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).unwrap();
    let gz = gz.finish().unwrap();
    for bytes in [&raw, &gz] {
        let d = dump(bytes);
        assert_eq!(d.format, Format::Proto);
        assert_eq!(d.total, 121);
        let sends: Vec<_> = d
            .groups
            .iter()
            .filter(|g| g.user().is_some_and(|f| &*f.function == "main.leak.func1"))
            .collect();
        assert_eq!(sends.len(), 2, "labels split the groups");
        for g in &sends {
            assert_eq!(g.state, "chan send");
            assert_eq!(
                g.stack.len(),
                1,
                "runtime frames, inlined ones too, are dropped"
            );
        }
        let lp = group(&d, "main.loop");
        assert_eq!(lp.state, "select");
        let v = verdict::leaked(&d, None, &LeakOptions::default());
        assert_eq!(v.len(), 1, "80 + 40 at one site: {v:#?}");
        assert_eq!((v[0].frame.line, v[0].count), (23, 120));
    }
}

// --- robustness -----------------------------------------------------------

/// Every prefix of every sample parses or fails cleanly, and never panics.
#[test]
fn every_truncation_is_handled() {
    let mut inputs: Vec<Vec<u8>> = [
        "go1.19-semacquire.txt",
        "go1.20-no-goid.txt",
        "go1.26-features.txt",
    ]
    .iter()
    .map(|n| sample(n))
    .collect();
    inputs.push(profile());
    for input in &inputs {
        for cut in 0..input.len() {
            let _ = parse(&input[..cut], &Limits::default());
        }
    }
    // A text dump cut inside a frame is reported as truncated.
    let s = sample("go1.20-no-goid.txt");
    let at = s.len() - 20;
    let e = parse(&s[..at], &Limits::default()).unwrap_err();
    assert!(e.0.contains("truncated"), "{e}");
    // A protobuf profile cut short is invalid, not half-read.
    let p = profile();
    let e = parse(&p[..p.len() - 3], &Limits::default()).unwrap_err();
    assert!(e.0.contains("invalid protobuf"), "{e}");
}

/// Bytes flipped anywhere (a deterministic xorshift) never panic the parser.
#[test]
fn corrupted_bytes_never_panic() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let inputs = [
        profile(),
        sample("go1.26-features.txt"),
        sample("go1.19-semacquire.txt"),
    ];
    for input in &inputs {
        for _ in 0..3000 {
            let mut m = input.clone();
            for _ in 0..1 + next() % 4 {
                let i = (next() % m.len() as u64) as usize;
                m[i] = next() as u8;
            }
            let _ = parse(&m[..], &Limits::default());
        }
    }
}

#[test]
fn limits_bound_lines_groups_and_frames() {
    let long = format!("goroutine 1 [running]:\nmain.{}()\n", "x".repeat(2000));
    let l = Limits {
        max_line: 1000,
        ..Limits::default()
    };
    assert!(parse(long.as_bytes(), &l)
        .unwrap_err()
        .0
        .contains("longer than"));
    let mut many = String::new();
    for i in 0..50 {
        many.push_str(&format!(
            "goroutine {i} [select]:\nmain.f{i}()\n\t/w/m.go:{i} +0x1\n\n"
        ));
    }
    let l = Limits {
        max_groups: 10,
        ..Limits::default()
    };
    assert!(parse(many.as_bytes(), &l)
        .unwrap_err()
        .0
        .contains("distinct goroutine groups"));
    let mut deep = String::from("goroutine 1 [select]:\n");
    for i in 0..500 {
        deep.push_str(&format!("main.f{i}()\n\t/w/m.go:{i} +0x1\n"));
    }
    let l = Limits {
        max_frames: 100,
        ..Limits::default()
    };
    let d = parse(deep.as_bytes(), &l).unwrap();
    assert_eq!(d.groups[0].stack.len(), 100);
    assert!(d.groups[0].elided);
}

/// A debug=2 dump of `n` goroutines in one state at one frame, each with an
/// optional wait.
fn blocks(first_id: u64, n: u64, state: &str, wait: Option<u64>, frames: &str) -> String {
    let mut s = String::new();
    for id in first_id..first_id + n {
        let w = wait.map(|m| format!(", {m} minutes")).unwrap_or_default();
        s += &format!("goroutine {id} [{state}{w}]:\n{frames}\n");
    }
    s
}

const WORKER: &str = "main.worker()\n\t/srv/app/worker.go:12 +0x1d\ncreated by main.start in goroutine 1\n\t/srv/app/worker.go:30 +0x2a\n";
const READ_LOOP: &str = "net/http.(*persistConn).readLoop(0xc000123440)\n\t/usr/local/go/src/net/http/transport.go:2450 +0xc05\ncreated by net/http.(*Transport).dialConn in goroutine 7\n\t/usr/local/go/src/net/http/transport.go:1994 +0x16ac\n";
const READ_LOOP_IDLE: &str = "internal/poll.runtime_pollWait(0x7f, 0x72)\n\t/usr/local/go/src/runtime/netpoll.go:351 +0x85\nbufio.(*Reader).Peek(0xc0001, 0x1)\n\t/usr/local/go/src/bufio/bufio.go:152 +0x5d\nnet/http.(*persistConn).readLoop(0xc000123440)\n\t/usr/local/go/src/net/http/transport.go:2330 +0x1ac\ncreated by net/http.(*Transport).dialConn in goroutine 7\n\t/usr/local/go/src/net/http/transport.go:1994 +0x16ac\n";
const MAIN_SELECT: &str = "main.main()\n\t/srv/app/main.go:40 +0x1d\n";

/// A fixed answer for what `pitfall check` says about the source.
struct Said(Vec<verdict::StaticFinding>);

impl verdict::Statics for Said {
    fn concurrency_at(&self, frame: &pitfall_dump::Frame) -> Vec<verdict::StaticFinding> {
        self.0
            .iter()
            .filter(|f| frame.file.ends_with(&f.path) && f.line == frame.line)
            .cloned()
            .collect()
    }
    fn of_rule(&self, rule: &str) -> Vec<verdict::StaticFinding> {
        self.0.iter().filter(|f| f.rule == rule).cloned().collect()
    }
}

fn leak_lines(d: &Dump, statics: Option<&dyn verdict::Statics>) -> Vec<(String, u32)> {
    verdict::leaked_with(d, None, &LeakOptions::default(), statics)
        .into_iter()
        .map(|v| (v.frame.file.to_string(), v.frame.line))
        .collect()
}

#[test]
fn nil_channels_and_empty_selects_need_no_threshold_but_main_may_park() {
    let text = blocks(1, 1, "select (no cases)", None, MAIN_SELECT)
        + &blocks(10, 1, "chan receive (nil chan)", None, WORKER);
    let d = dump(text.as_bytes());
    assert_eq!(
        leak_lines(&d, None),
        vec![("/srv/app/worker.go".to_string(), 12)]
    );
    // The same goroutine on a channel that is not nil: one is no leak.
    let d = dump(blocks(10, 1, "chan receive", Some(30), WORKER).as_bytes());
    assert!(leak_lines(&d, None).is_empty());
    // `select {}` in a started goroutine never returns either.
    let d = dump(blocks(10, 1, "select (no cases)", None, WORKER).as_bytes());
    assert_eq!(leak_lines(&d, None).len(), 1);
}

#[test]
fn a_static_finding_on_the_parked_line_explains_two_goroutines_or_one_old_one() {
    let said = Said(vec![verdict::StaticFinding {
        rule: "goroutine-leak".into(),
        path: "app/worker.go".into(),
        line: 12,
        message: "the parent returns without receiving".into(),
    }]);
    let elsewhere = Said(vec![verdict::StaticFinding {
        line: 13,
        ..said.0[0].clone()
    }]);
    let two = dump(blocks(10, 2, "chan send", None, WORKER).as_bytes());
    let one_young = dump(blocks(10, 1, "chan send", None, WORKER).as_bytes());
    let one_old = dump(blocks(10, 1, "chan send", Some(1), WORKER).as_bytes());
    assert!(leak_lines(&two, None).is_empty(), "below the thresholds");
    assert_eq!(leak_lines(&two, Some(&said)).len(), 1);
    assert!(
        leak_lines(&two, Some(&elsewhere)).is_empty(),
        "another line"
    );
    assert!(leak_lines(&one_young, Some(&said)).is_empty());
    assert_eq!(leak_lines(&one_old, Some(&said)).len(), 1);
    let v = verdict::leaked_with(&two, None, &LeakOptions::default(), Some(&said));
    assert!(
        v[0].message
            .contains("goroutine-leak at app/worker.go:12 (the parent returns without receiving)"),
        "{}",
        v[0].message
    );
    // Running or sleeping goroutines on that line are not parked there.
    let running = dump(blocks(10, 5, "runnable", None, WORKER).as_bytes());
    assert!(leak_lines(&running, Some(&said)).is_empty());
}

#[test]
fn connections_held_by_unclosed_bodies() {
    let o = LeakOptions::default();
    // 150 read loops waiting for their bodies: a leak with no user frame.
    let d = dump((blocks(100, 150, "select", None, READ_LOOP)).as_bytes());
    let v = verdict::leaked(&d, None, &o);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(v[0].message.starts_with(
        "connection leak: 150 HTTP client connections held open by response bodies nobody closed"
    ));
    assert!(v[0].frame.file.ends_with("net/http/transport.go"));
    // Idle pooled connections read (IO wait): never a leak, however many.
    let d = dump(blocks(100, 500, "IO wait", None, READ_LOOP_IDLE).as_bytes());
    assert!(verdict::leaked(&d, None, &o).is_empty());
    // 50 young ones: could be responses being streamed.
    let few = dump(blocks(100, 50, "select", None, READ_LOOP).as_bytes());
    assert!(verdict::leaked(&few, None, &o).is_empty());
    // 20 waiting for 15 minutes, or 40 -> 99 between two dumps: leaks.
    let old = dump(blocks(100, 20, "select", Some(15), READ_LOOP).as_bytes());
    assert_eq!(verdict::leaked(&old, None, &o).len(), 1);
    let more = dump(blocks(100, 99, "select", None, READ_LOOP).as_bytes());
    assert!(verdict::leaked(&more, Some(&few), &o).is_empty(), "49 more");
    let before = dump(blocks(100, 40, "select", None, READ_LOOP).as_bytes());
    let v = verdict::leaked(&more, Some(&before), &o);
    assert_eq!(v.len(), 1);
    assert!(
        v[0].message.contains("grew from 40 to 99"),
        "{}",
        v[0].message
    );
    // With the source, the unclosed-response-body findings are named.
    let said = Said(vec![verdict::StaticFinding {
        rule: "unclosed-response-body".into(),
        path: "app/client.go".into(),
        line: 21,
        message: "response `resp` from c.Get is not closed on every path".into(),
    }]);
    let d = dump((blocks(100, 150, "select", None, READ_LOOP)).as_bytes());
    let v = verdict::leaked_with(&d, None, &o, Some(&said));
    assert!(
        v[0].message
            .contains("`pitfall check` reports unclosed-response-body at app/client.go:21"),
        "{}",
        v[0].message
    );
}
