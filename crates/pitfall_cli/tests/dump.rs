//! `pitfall dump` on real dumps: small Go programs (tests/testdata/) that leak
//! in known ways are built and run; their dumps are fetched over HTTP in
//! debug=1, debug=2 and protobuf, read from SIGQUIT and crash tracebacks, and
//! the groups and verdicts are checked against the lines of their source.

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn pitfall() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pitfall"))
}

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/testdata")
        .join(name)
}

/// Builds a Go program of tests/testdata once per test run.
fn build(name: &str) -> PathBuf {
    static BUILT: OnceLock<std::sync::Mutex<Vec<String>>> = OnceLock::new();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("go-{name}"));
    let lock = BUILT.get_or_init(Default::default);
    let mut done = lock.lock().unwrap();
    if !done.iter().any(|n| n == name) {
        let st = Command::new("go")
            .args(["build", "-o"])
            .arg(&out)
            .arg(".")
            .current_dir(testdata(name))
            .env("GOFLAGS", "-mod=mod")
            .status()
            .expect("go is installed (.ci/run installs it)");
        assert!(st.success(), "go build {name}");
        done.push(name.to_string());
    }
    out
}

/// The 1-based line of `name`'s main.go that contains `text` (the `nth` one).
fn line_of(name: &str, text: &str, nth: usize) -> u64 {
    let src = std::fs::read_to_string(testdata(name).join("main.go")).unwrap();
    src.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(text))
        .nth(nth)
        .map(|(i, _)| i as u64 + 1)
        .unwrap_or_else(|| panic!("{text:?} not in {name}/main.go"))
}

struct Service {
    child: Child,
    addr: String,
    /// `https://127.0.0.1:PORT`, self-signed.
    tls_url: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the leaky service and waits until all its leaks are in place.
fn start_leaky(envs: &[(&str, &str)], stderr: Stdio) -> Service {
    let mut cmd = Command::new(build("leaky"));
    cmd.stdout(Stdio::piped()).stderr(stderr);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start leaky");
    let mut line = String::new();
    let mut tls = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    out.read_line(&mut tls).unwrap();
    let svc = Service {
        child,
        addr: line.trim().to_string(),
        tls_url: tls.trim().to_string(),
    };
    assert!(!svc.addr.is_empty(), "leaky printed its address");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let j = dump_json(&[&svc.url("debug=1")], &[]).1;
        let count = |func: &str| -> u64 {
            j["groups"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|g| g["function"] == func)
                .map(|g| g["count"].as_u64().unwrap())
                .sum()
        };
        // Every leak in place: each site holds all its goroutines at the
        // blocking line (not still starting up on their way to it).
        let at = |func: &str, text: &str, nth: usize| -> u64 {
            let line = line_of("leaky", text, nth);
            j["groups"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|g| g["function"] == func && g["line"] == line)
                .map(|g| g["count"].as_u64().unwrap())
                .sum()
        };
        if at("main.timeoutLeak.func1", "ch <- 42", 0) == 150
            && count("main.timeoutLeak.func1") == 150
            && at("main.prematureReturn.func1", "errc <- errors.New", 0) == 120
            && at("main.forgottenTicker.func1", "select {", 1) == 120
            && at("main.main.func2.1", "wg.Wait()", 0) == 120
            && at("main.(*store).update", "s.mu.Lock()", 1) == 29
            && at("main.(*store).get", "s.mu.Lock()", 0) == 1
            && count("main.fetch") == 5
        {
            return svc;
        }
        assert!(Instant::now() < deadline, "leaks never settled: {j}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Service {
    fn url(&self, query: &str) -> String {
        format!("http://{}/debug/pprof/goroutine?{query}", self.addr)
    }
}

fn run(args: &[&str], extra: &[&str]) -> Output {
    pitfall().args(args).args(extra).output().unwrap()
}

fn dump_json(sources: &[&str], extra: &[&str]) -> (Output, Value) {
    let mut args = vec!["dump", "--format", "json", "--no-config"];
    args.extend_from_slice(sources);
    let o = run(&args, extra);
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o, v)
}

fn findings<'a>(j: &'a Value, rule: &str) -> Vec<&'a Value> {
    j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

fn finding_lines(j: &Value, rule: &str) -> Vec<u64> {
    let mut v: Vec<u64> = findings(j, rule)
        .iter()
        .map(|f| f["line"].as_u64().unwrap())
        .collect();
    v.sort();
    v
}

fn groups_at<'a>(j: &'a Value, func: &str) -> Vec<&'a Value> {
    j["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["function"] == func)
        .collect()
}

/// The verdicts every format must reach on the leaky service.
fn assert_leaky_verdicts(j: &Value, what: &str) {
    let send = line_of("leaky", "ch <- 42", 0);
    let early = line_of("leaky", "errc <- errors.New", 0);
    let ticker = line_of("leaky", "select {", 1);
    let wait = line_of("leaky", "wg.Wait()", 0);
    let lock = line_of("leaky", "s.mu.Lock()", 1);
    let mut want = vec![send, early, ticker, wait];
    want.sort();
    assert_eq!(
        finding_lines(j, "leaked-goroutines"),
        want,
        "{what}: leaks\n{j:#}"
    );
    assert_eq!(
        finding_lines(j, "lock-contention"),
        vec![lock],
        "{what}: contention"
    );
    assert!(
        findings(j, "deadlock").is_empty(),
        "{what}: a live service is no deadlock"
    );
    for f in findings(j, "leaked-goroutines") {
        assert_eq!(f["category"], "runtime");
        assert!(
            f["path"].as_str().unwrap().ends_with("leaky/main.go"),
            "{what}: a leak's path is the user frame's file: {f}"
        );
    }
    let count = |func: &str| -> u64 {
        groups_at(j, func)
            .iter()
            .map(|g| g["count"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(count("main.timeoutLeak.func1"), 150, "{what}");
    assert_eq!(count("main.prematureReturn.func1"), 120, "{what}");
    assert_eq!(count("main.forgottenTicker.func1"), 120, "{what}");
    assert_eq!(count("main.main.func2.1"), 120, "{what}");
    assert_eq!(count("main.(*store).update"), 29, "{what}");
    // The first goroutine is stuck one Lock deeper, in get.
    assert_eq!(count("main.(*store).get"), 1, "{what}");
    // Frames outside GOROOT are user frames; net/http's own are not.
    assert!(
        groups_at(j, "net/http.(*persistConn).writeLoop").is_empty(),
        "{what}"
    );
    // The JSON shape other tools read.
    let g = groups_at(j, "main.timeoutLeak.func1")[0];
    for key in [
        "count",
        "state",
        "wait_minutes",
        "function",
        "file",
        "line",
        "created_by",
        "labels",
        "stack",
    ] {
        assert!(g.get(key).is_some(), "{what}: group lacks {key}: {g}");
    }
    assert_eq!(g["line"], send);
    let top = &g["stack"][0];
    assert_eq!(
        top["function"], "main.timeoutLeak.func1",
        "{what}: runtime frames are dropped"
    );
}

fn state_of(j: &Value, func: &str) -> String {
    groups_at(j, func)[0]["state"].as_str().unwrap().to_string()
}

#[test]
fn live_service_in_all_three_formats() {
    let svc = start_leaky(&[("GODEBUG", "tracebacklabels=1")], Stdio::null());
    let src = testdata("leaky");
    let src = src.to_str().unwrap();

    // debug=2: states, creators, labels, wait times.
    let (o, j) = dump_json(&[&svc.url("debug=2")], &["--source", src]);
    assert_eq!(o.status.code(), Some(1), "findings exit 1");
    assert_leaky_verdicts(&j, "debug=2");
    assert_eq!(state_of(&j, "main.timeoutLeak.func1"), "chan send");
    assert_eq!(state_of(&j, "main.forgottenTicker.func1"), "select");
    assert_eq!(state_of(&j, "main.main.func2.1"), "sync.WaitGroup.Wait");
    assert_eq!(state_of(&j, "main.(*store).update"), "sync.Mutex.Lock");
    let g = groups_at(&j, "main.timeoutLeak.func1")[0];
    assert_eq!(g["created_by"]["function"], "main.timeoutLeak");
    assert_eq!(g["created_by"]["line"], line_of("leaky", "go func() {", 0));
    assert_eq!(g["source"]["code"].as_str().unwrap().trim(), "ch <- 42");

    // debug=1: no states in the format; they are inferred from the frames.
    let (o, j1) = dump_json(&[&svc.url("debug=1")], &["--source", src]);
    assert_eq!(o.status.code(), Some(1));
    assert_leaky_verdicts(&j1, "debug=1");
    assert_eq!(state_of(&j1, "main.timeoutLeak.func1"), "chan or select");
    assert_eq!(state_of(&j1, "main.main.func2.1"), "sync.WaitGroup.Wait");
    assert_eq!(state_of(&j1, "main.(*store).update"), "sync.Mutex.Lock");

    // protobuf (gzipped, as served): the runtime frames tell the state.
    let (o, jp) = dump_json(&[&svc.url("debug=0")], &["--source", src]);
    assert_eq!(o.status.code(), Some(1));
    assert_leaky_verdicts(&jp, "protobuf");
    assert_eq!(state_of(&jp, "main.timeoutLeak.func1"), "chan send");
    assert_eq!(state_of(&jp, "main.forgottenTicker.func1"), "select");
    assert_eq!(state_of(&jp, "main.(*store).update"), "sync.Mutex.Lock");

    // Labels split the groups but not the verdict: 60 + 60 at one site is
    // one leak of 120, under the 100 threshold per group.
    for (j, what) in [(&j, "debug=2"), (&j1, "debug=1"), (&jp, "protobuf")] {
        let mut tenants: Vec<(String, u64)> = groups_at(j, "main.main.func2.1")
            .iter()
            .map(|g| {
                (
                    g["labels"]["tenant"].as_str().unwrap_or("").to_string(),
                    g["count"].as_u64().unwrap(),
                )
            })
            .collect();
        tenants.sort();
        assert_eq!(
            tenants,
            vec![("a".to_string(), 60), ("b".to_string(), 60)],
            "{what}"
        );
        let wait = line_of("leaky", "wg.Wait()", 0);
        let f = findings(j, "leaked-goroutines")
            .into_iter()
            .find(|f| f["line"] == wait)
            .unwrap();
        assert!(
            f["message"].as_str().unwrap().contains("120 goroutines"),
            "{what}: {f}"
        );
    }

    // --source links the blocking line to the static finding there.
    let get = line_of("leaky", "http.Get(upstream)", 0);
    for (j, what) in [(&j, "debug=2"), (&j1, "debug=1"), (&jp, "protobuf")] {
        let g = groups_at(j, "main.fetch")[0];
        assert_eq!(g["line"], get, "{what}");
        let statics = g["static_findings"].as_array().unwrap();
        assert!(
            statics
                .iter()
                .any(|s| s["rule"] == "client-without-timeout" && s["line"] == get),
            "{what}: {g:#}"
        );
    }
    let o = run(
        &["dump", "--no-config", &svc.url("debug=2"), "--source", src],
        &[],
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(&format!(
            "this is the client-without-timeout finding at {}:{get}, observed 5 times",
            testdata("leaky").join("main.go").display()
        )) || text.contains("this is the client-without-timeout finding at "),
        "{text}"
    );
    assert!(
        text.contains("| ch <- 42"),
        "the code line is printed:\n{text}"
    );

    // Two dumps: the groups that grew.
    let before = Path::new(env!("CARGO_TARGET_TMPDIR")).join("before-debug2.txt");
    let o = run(
        &[
            "dump",
            "--no-config",
            "--format",
            "json",
            &svc.url("debug=2"),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    let body = fetch_raw(&svc.url("debug=2"));
    std::fs::write(&before, body).unwrap();
    let before1 = Path::new(env!("CARGO_TARGET_TMPDIR")).join("before-debug1.txt");
    std::fs::write(&before1, fetch_raw(&svc.url("debug=1"))).unwrap();
    fetch_raw(&format!("http://{}/leak", svc.addr));
    // The 70 new workers reach their send shortly after the handler returns.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, j) = dump_json(&[&svc.url("debug=2")], &[]);
        let n: u64 = groups_at(&j, "main.timeoutLeak.func1")
            .iter()
            .filter(|g| g["state"] == "chan send")
            .map(|g| g["count"].as_u64().unwrap())
            .sum();
        if n == 220 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "leaks after /leak never settled: {n}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Different formats compare too: debug=1 before, debug=2 after.
    let (_, jx) = dump_json(&[before1.to_str().unwrap(), &svc.url("debug=2")], &[]);
    let g = jx["grew"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["function"] == "main.timeoutLeak.func1")
        .unwrap_or_else(|| panic!("{jx:#}"));
    assert_eq!(
        (g["before"].as_u64(), g["count"].as_u64()),
        (Some(150), Some(220))
    );
    assert!(
        !jx["grew"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["function"] == "main.forgottenTicker.func1"),
        "the same stack in another format is the same group"
    );
    let (_, jg) = dump_json(&[before.to_str().unwrap(), &svc.url("debug=2")], &[]);
    let grew = jg["grew"].as_array().unwrap();
    let g = grew
        .iter()
        .find(|g| g["function"] == "main.timeoutLeak.func1")
        .unwrap_or_else(|| panic!("{jg:#}"));
    assert_eq!(
        (g["before"].as_u64(), g["count"].as_u64()),
        (Some(150), Some(220))
    );
    assert!(
        !grew
            .iter()
            .any(|g| g["function"] == "main.forgottenTicker.func1"),
        "groups that did not grow are not listed"
    );
}

/// A plain HTTP/1.0 GET (the test's own client, independent of pitfall's).
fn fetch_raw(url: &str) -> Vec<u8> {
    use std::io::Read;
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut c = std::net::TcpStream::connect(host).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(c, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut all = Vec::new();
    c.read_to_end(&mut all).unwrap();
    let body = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(all.starts_with(b"HTTP/1.0 200") || all.starts_with(b"HTTP/1.1 200"));
    all[body..].to_vec()
}

#[test]
fn sigquit_traceback_with_runtime_frames() {
    let svc = start_leaky(&[("GOTRACEBACK", "system")], Stdio::piped());
    let pid = svc.child.id().to_string();
    // The shell's builtin kill: no procps needed.
    let st = Command::new("sh")
        .args(["-c", &format!("kill -QUIT {pid}")])
        .status()
        .unwrap();
    assert!(st.success());
    let mut svc = svc;
    let mut err = Vec::new();
    std::io::Read::read_to_end(svc.child.stderr.as_mut().unwrap(), &mut err).unwrap();
    let text = String::from_utf8_lossy(&err);
    assert!(
        text.starts_with("SIGQUIT: quit"),
        "{}",
        &text[..text.len().min(300)]
    );
    assert!(
        text.contains(" gp=0x"),
        "GOTRACEBACK=system prints gp= m= headers"
    );
    let file = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sigquit.txt");
    std::fs::write(&file, &err).unwrap();
    let (o, j) = dump_json(&[file.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_leaky_verdicts(&j, "SIGQUIT");
    // The same findings through the SARIF machinery of check.
    let o = run(
        &[
            "dump",
            "--no-config",
            "--format",
            "sarif",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    let sarif: Value = serde_json::from_slice(&o.stdout).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), j["findings"].as_array().unwrap().len());
    let rules: Vec<&str> = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        vec!["deadlock", "leaked-goroutines", "lock-contention"]
    );
    let t = run(&["dump", "--no-config", file.to_str().unwrap()], &[]);
    assert!(String::from_utf8_lossy(&t.stdout).contains("(traceback) — SIGQUIT: quit"));
}

#[test]
fn runtime_deadlock_crash_from_stdin() {
    let out = Command::new(build("deadlock")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let mut child = pitfall()
        .args(["dump", "--no-config", "--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&out.stderr).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    let deposit = line_of("deadlock", "a.mu.Lock()", 1);
    let balance = line_of("deadlock", "a.mu.Lock()", 0);
    let wait = line_of("deadlock", "wg.Wait()", 0);
    let mut want = vec![deposit, balance, wait];
    want.sort();
    assert_eq!(finding_lines(&j, "deadlock"), want, "{j:#}");
    assert!(findings(&j, "leaked-goroutines").is_empty());
    assert_eq!(state_of(&j, "main.(*account).Deposit"), "sync.Mutex.Lock");
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let svc = start_leaky(&[], Stdio::null());
    // One dump, saved, so that the page and the JSON describe the same groups.
    let saved = Path::new(env!("CARGO_TARGET_TMPDIR")).join("for-html.txt");
    std::fs::write(&saved, fetch_raw(&svc.url("debug=2"))).unwrap();
    let saved = saved.to_str().unwrap();
    let o = run(&["dump", "--no-config", "--format", "html", saved], &[]);
    assert_eq!(o.status.code(), Some(1));
    let html = String::from_utf8(o.stdout).unwrap();
    assert!(
        !html.contains("<script src") && !html.contains("<link"),
        "self-contained"
    );
    let (_, j) = dump_json(&[saved], &[]);
    let groups = j["groups"].as_array().unwrap().len();
    let page = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dump-report.html");
    std::fs::write(&page, &html).unwrap();
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("Chromium is needed for this test (.ci/run installs Debian's `chromium`)");
    let profile = Path::new(env!("CARGO_TARGET_TMPDIR")).join("chromium-profile");
    let o = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&o.stdout);
    assert!(
        dom.contains(&format!("data-rendered=\"{groups}\"")),
        "the script drew every group: {}\n{}",
        &dom[..dom.len().min(2000)],
        String::from_utf8_lossy(&o.stderr)
    );
    // Bars are sorted by count, largest first, and each has a stack to expand.
    let counts: Vec<u64> = dom
        .match_indices("data-count=\"")
        .map(|(i, m)| {
            let rest = &dom[i + m.len()..];
            rest[..rest.find('"').unwrap()].parse().unwrap()
        })
        .collect();
    assert_eq!(counts.len(), groups);
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    assert_eq!(counts[0], 150);
    assert_eq!(dom.matches("<details class=\"group\"").count(), groups);
    assert!(
        dom.contains("class=\"bar parked\" style=\"width: 100%"),
        "widest bar"
    );
    assert!(dom.contains("main.timeoutLeak.func1"));
    assert!(dom.contains("[leaked-goroutines]"), "findings shown");
}

#[test]
fn errors_exit_2_with_a_clear_message() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let cases: &[(&str, &[u8], &str)] = &[
        ("garbage.txt", b"hello\nworld\n", "no goroutine found"),
        ("empty.txt", b"", "empty input"),
        (
            "cut.txt",
            b"goroutine 1 [running]:\nmain.main()\n\t/a/main.go:3 +0x1\n\ngoroutine 7 [chan send]:\nmain.worker(",
            "truncated dump",
        ),
        (
            "cut2.txt",
            b"goroutine 1 [running]:\nmain.main()\n",
            "truncated dump",
        ),
        (
            "debug1cut.txt",
            b"goroutine profile: total 3\n2 @ 0x1 0x2\n#\t0x1\tmain.f+0x1\t/a/m.go:3\n",
            "truncated dump",
        ),
        ("proto.bin", &[0x0a, 0x05, 0x01, 0x02], "invalid protobuf"),
    ];
    for (name, bytes, want) in cases {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        let o = run(&["dump", "--no-config", p.to_str().unwrap()], &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.contains("pitfall: error:") && err.contains(want),
            "{name}: {err}"
        );
    }
    let o = run(&["dump", "--no-config", "--max-size", "10", "-"], &[]);
    assert_eq!(o.status.code(), Some(2));
    // A port nobody listens on.
    let o = run(
        &[
            "dump",
            "--no-config",
            "--timeout",
            "2",
            "http://127.0.0.1:9/x",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("connecting to 127.0.0.1:9"));
}

#[test]
fn clean_dump_exits_0_and_rule_pages_exist() {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR")).join("clean.txt");
    std::fs::write(
        &p,
        "goroutine 1 [IO wait]:\ninternal/poll.runtime_pollWait(0x7f, 0x72)\n\t/usr/local/go/src/runtime/netpoll.go:351 +0x85\nmain.main()\n\t/srv/app/main.go:20 +0x1d\n",
    )
    .unwrap();
    let o = run(&["dump", "--no-config", p.to_str().unwrap()], &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for rule in ["leaked-goroutines", "deadlock", "lock-contention"] {
        let o = run(&["rule", rule], &[]);
        assert_eq!(o.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&o.stdout).contains("Category: runtime"));
    }
}

#[test]
fn nolint_on_the_blocking_line_suppresses_the_verdict() {
    let svc = start_leaky(&[], Stdio::null());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("nolint-src/leaky");
    std::fs::create_dir_all(&dir).unwrap();
    let src = std::fs::read_to_string(testdata("leaky").join("main.go")).unwrap();
    let src = src.replace(
        "\t\tch <- 42\n",
        "\t\tch <- 42 //nolint:leaked-goroutines // known, fixed in #12\n",
    );
    std::fs::write(dir.join("main.go"), src).unwrap();
    std::fs::copy(testdata("leaky").join("go.mod"), dir.join("go.mod")).unwrap();
    let (_, j) = dump_json(&[&svc.url("debug=2")], &["--source", dir.to_str().unwrap()]);
    let lines = finding_lines(&j, "leaked-goroutines");
    assert!(
        !lines.contains(&line_of("leaky", "ch <- 42", 0)),
        "{lines:?}"
    );
    assert!(
        lines.contains(&line_of("leaky", "errc <- errors.New", 0)),
        "{lines:?}"
    );
    // Found through the copy: paths are the repository's, not the build's.
    for f in findings(&j, "leaked-goroutines") {
        assert!(
            f["path"]
                .as_str()
                .unwrap()
                .contains("nolint-src/leaky/main.go"),
            "{f}"
        );
    }
    // --ignore works as for check.
    let (o, j) = dump_json(
        &[&svc.url("debug=2")],
        &["--ignore", "leaked-goroutines,lock-contention"],
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(j["findings"].as_array().unwrap().is_empty());
}

#[test]
fn html_escapes_what_the_dump_says() {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile.txt");
    std::fs::write(
        &p,
        "goroutine 5 [IO wait labels:{\"x\": \"</script><b id=pwn>&amp;\"}]:\nmain.f()\n\t/w/m.go:3 +0x1\n",
    )
    .unwrap();
    let o = run(
        &[
            "dump",
            "--no-config",
            "--format",
            "html",
            p.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let html = String::from_utf8(o.stdout).unwrap();
    assert!(
        !html.contains("<b id=pwn>"),
        "label text must not become markup"
    );
    assert_eq!(
        html.matches("</script>").count(),
        2,
        "only the page's own scripts end"
    );
    let (_, j) = dump_json(&[p.to_str().unwrap()], &[]);
    assert_eq!(j["groups"][0]["labels"]["x"], "</script><b id=pwn>&amp;");
}

#[test]
fn https_is_spoken_and_scheme_changing_redirects_are_refused() {
    let svc = start_leaky(&[], Stdio::null());
    assert!(svc.tls_url.starts_with("https://"), "{}", svc.tls_url);
    // TLS is negotiated; the self-signed certificate is rejected, clearly.
    let url = format!("{}/debug/pprof/goroutine?debug=2", svc.tls_url);
    let o = run(&["dump", "--no-config", "--timeout", "10", &url], &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let o = run(
        &[
            "dump",
            "--no-config",
            &format!("http://{}/to-https", svc.addr),
        ],
        &[],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("refused: only http:// redirects are followed"),
        "{err}"
    );
}

/// A server that accepts and then never answers, and one that streams a dump
/// forever: both end in a clear error (exit 2) within the timeout / size limit.
#[test]
fn a_url_that_never_answers_or_never_ends_is_cut_off() {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::{Duration, Instant};

    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in silent.incoming().flatten() {
            held.push(c); // keep the connection open, say nothing
        }
    });
    let endless = TcpListener::bind("127.0.0.1:0").unwrap();
    let endless_addr = endless.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut c in endless.incoming().flatten() {
            std::thread::spawn(move || {
                let mut req = [0u8; 1024];
                let _ = c.read(&mut req);
                let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n");
                let chunk = b"goroutine 7 [chan send]:\nmain.worker()\n\t/app/main.go:12 +0x1d\n\n"
                    .repeat(100);
                while c.write_all(&chunk).is_ok() {}
            });
        }
    });

    let started = Instant::now();
    let url = format!("http://{silent_addr}/debug/pprof/goroutine?debug=2");
    let o = run(&["dump", "--no-config", "--timeout", "1", &url], &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("pitfall: error:"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );

    let started = Instant::now();
    let url = format!("http://{endless_addr}/debug/pprof/goroutine?debug=2");
    let o = run(
        &[
            "dump",
            "--no-config",
            "--timeout",
            "2",
            "--max-size",
            "1000000",
            &url,
        ],
        &[],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("pitfall: error:"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

/// Starts the `certain` program and waits until every goroutine it parks is
/// in place; returns it with its debug=2 dump as JSON.
fn start_certain() -> (Service, Value) {
    let mut child = Command::new(build("certain"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start certain");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let svc = Service {
        child,
        addr: line.trim().to_string(),
        tls_url: String::new(),
    };
    assert!(!svc.addr.is_empty(), "certain printed its address");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let j = dump_json(&[&svc.url("debug=2")], &[]).1;
        let at = |func: &str, text: &str, nth: usize| -> u64 {
            let line = line_of("certain", text, nth);
            groups_at(&j, func)
                .iter()
                .filter(|g| g["line"] == line)
                .map(|g| g["count"].as_u64().unwrap())
                .sum()
        };
        let read_loops: u64 = j["groups"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| {
                g["stack"][0]["function"] == "net/http.(*persistConn).readLoop"
                    && g["state"] == "select"
            })
            .map(|g| g["count"].as_u64().unwrap())
            .sum();
        let counts = [
            at("main.(*dispatcher).report", "d.results <- v", 0),
            at("main.(*dispatcher).awaitDone", "<-d.done", 0),
            at("main.forever", "\tselect {}", 0),
            at("main.lookup.func1", "ch <- 42", 0),
            at("main.probe.func1", "ch <- \"pong\"", 0),
            at("main.(*pool).work", "for job := range p.jobs", 0),
            read_loops,
        ];
        if counts == [3, 2, 1, 40, 1, 40, 120] {
            return (svc, j);
        }
        assert!(
            Instant::now() < deadline,
            "goroutines never settled: {counts:?}\n{j}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The connection-leak verdict of a dump (its finding has no user frame).
fn connection_leak(j: &Value) -> Option<&Value> {
    findings(j, "leaked-goroutines").into_iter().find(|f| {
        f["message"]
            .as_str()
            .unwrap()
            .starts_with("connection leak:")
    })
}

#[test]
fn verdicts_that_need_no_threshold() {
    let (svc, j) = start_certain();
    let send_nil = line_of("certain", "d.results <- v", 0);
    let recv_nil = line_of("certain", "<-d.done", 0);
    let no_cases = line_of("certain", "\tselect {}", 0);
    let main_select = line_of("certain", "\tselect {}", 1);
    let lookup = line_of("certain", "ch <- 42", 0);
    let probe = line_of("certain", "ch <- \"pong\"", 0);
    let workers = line_of("certain", "for job := range p.jobs", 0);
    let unclosed = line_of("certain", "resp, err := c.Get(url)", 0);
    let closed = line_of("certain", "resp, err := c.Get(url)", 1);

    // debug=2 shows the wait reasons: nil channels and `select {}` are leaks
    // at any count and age; main's own `select {}` is not; 40 goroutines on
    // one send are below the thresholds without the source.
    let user_lines = |j: &Value| -> Vec<u64> {
        let mut v: Vec<u64> = findings(j, "leaked-goroutines")
            .iter()
            .filter(|f| f["path"].as_str().unwrap().ends_with("certain/main.go"))
            .map(|f| f["line"].as_u64().unwrap())
            .collect();
        v.sort();
        v
    };
    assert_eq!(user_lines(&j), vec![send_nil, recv_nil, no_cases], "{j:#}");
    for (line, words) in [
        (send_nil, "an operation on a nil channel never completes"),
        (recv_nil, "an operation on a nil channel never completes"),
        (no_cases, "a select with no cases never returns"),
    ] {
        let f = findings(&j, "leaked-goroutines")
            .into_iter()
            .find(|f| f["line"] == line)
            .unwrap();
        assert!(f["message"].as_str().unwrap().contains(words), "{f}");
    }
    let f = findings(&j, "leaked-goroutines")
        .into_iter()
        .find(|f| f["line"] == send_nil)
        .unwrap();
    assert!(f["message"]
        .as_str()
        .unwrap()
        .starts_with("goroutine leak: 3 goroutines blocked in chan send (nil chan)"));
    assert!(
        f["fix"]
            .as_str()
            .unwrap()
            .starts_with("the channel is nil: make it"),
        "{f}"
    );

    // Connections held by unclosed bodies: no user frame, still a leak, in
    // every format; the two idle pooled connections of the client that closes
    // its bodies are not counted.
    for (what, j) in [
        ("debug=2", j.clone()),
        ("debug=1", dump_json(&[&svc.url("debug=1")], &[]).1),
        ("protobuf", dump_json(&[&svc.url("debug=0")], &[]).1),
    ] {
        let c = connection_leak(&j).unwrap_or_else(|| panic!("{what}: {j:#}"));
        let m = c["message"].as_str().unwrap();
        assert!(
            m.starts_with(
                "connection leak: 120 HTTP client connections held open by response bodies nobody closed"
            ),
            "{what}: {m}"
        );
        assert!(
            c["path"]
                .as_str()
                .unwrap()
                .ends_with("net/http/transport.go"),
            "{what}: {c}"
        );
        assert!(
            c["fix"]
                .as_str()
                .unwrap()
                .contains("defer resp.Body.Close()"),
            "{what}: {c}"
        );
        assert!(
            !m.contains("unclosed-response-body"),
            "{what}: no source, no static finding: {m}"
        );
        // The send of 40 and the idle pool: no verdict without the source.
        let lines = finding_lines(&j, "leaked-goroutines");
        for quiet in [lookup, probe, workers, main_select] {
            assert!(!lines.contains(&quiet), "{what}: line {quiet}: {lines:?}");
        }
    }

    // With the source: the send that `pitfall check` reports as goroutine-leak
    // is a leak at 40 goroutines, explained by that finding; the same bug run
    // once (one goroutine, no wait known) and the idle pool stay quiet; the
    // connection leak names the unclosed-response-body finding, not the
    // client call that closes its body.
    let src = testdata("certain");
    let src = src.to_str().unwrap();
    let (o, js) = dump_json(&[&svc.url("debug=2")], &["--source", src]);
    assert_eq!(o.status.code(), Some(1));
    let mut want = vec![send_nil, recv_nil, no_cases, lookup];
    want.sort();
    assert_eq!(user_lines(&js), want, "{js:#}");
    let f = findings(&js, "leaked-goroutines")
        .into_iter()
        .find(|f| f["line"] == lookup)
        .unwrap();
    let m = f["message"].as_str().unwrap();
    assert!(
        m.starts_with("goroutine leak: 40 goroutines blocked in chan send at main.lookup.func1"),
        "{m}"
    );
    assert!(
        m.contains("parked where the code has a blocking bug")
            && m.contains(&format!(
                "goroutine-leak at {}:{lookup}",
                f["path"].as_str().unwrap()
            )),
        "{m}"
    );
    let c = connection_leak(&js).unwrap();
    let m = c["message"].as_str().unwrap();
    assert!(
        m.contains("`pitfall check` reports unclosed-response-body at ")
            && m.contains(&format!("certain/main.go:{unclosed}"))
            && !m.contains(&format!("certain/main.go:{closed}")),
        "{m}"
    );
    // The text report carries the explanation and the fix.
    let o = run(
        &["dump", "--no-config", &svc.url("debug=2"), "--source", src],
        &[],
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("`pitfall check` explains it: goroutine-leak at "),
        "{text}"
    );
    assert!(text.contains("fix: close every response body"), "{text}");
}
