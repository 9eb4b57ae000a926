//! `pitfall dump SOURCE...`: read goroutine dumps (files, stdin, http URLs),
//! group them, run the dump rules, and link frames to the repository's source
//! and static findings.

use crate::config::Config;
use crate::discover;
use pitfall_dump::verdict::{self, thousands, Growth, StaticFinding, Statics};
use pitfall_dump::{Dump, Frame, Group, Limits};
use pitfall_go::index::ProjectIndex;
use pitfall_report::Finding;
use pitfall_rules::dump_check::{self, DumpFinding};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
pub enum DumpFormat {
    Text,
    Json,
    Html,
    /// The findings only, as `check --format sarif` writes them
    Sarif,
}

#[derive(clap::Args)]
pub struct DumpArgs {
    /// Dumps: files, `-` for stdin, or http(s):// URLs such as
    /// http://localhost:6060/debug/pprof/goroutine?debug=2. With several, the
    /// first and the last are compared (the groups that grew).
    #[arg(required = true)]
    sources: Vec<String>,
    #[arg(long, value_enum, default_value_t = DumpFormat::Text)]
    format: DumpFormat,
    /// Repository to map frames to: prints the code line and the static finding there
    #[arg(long)]
    source: Option<PathBuf>,
    /// Largest dump accepted, in bytes (after decompression)
    #[arg(long, default_value_t = 2 << 30)]
    max_size: u64,
    /// Seconds to wait for an HTTP source (connect and each read)
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Only these rules or categories (comma-separated)
    #[arg(long, value_delimiter = ',')]
    select: Vec<String>,
    /// Skip these rules or categories (comma-separated)
    #[arg(long, value_delimiter = ',')]
    ignore: Vec<String>,
    /// Use this config file instead of the nearest pitfall.toml
    #[arg(long)]
    config: Option<PathBuf>,
    /// Ignore any pitfall.toml
    #[arg(long, conflicts_with = "config")]
    no_config: bool,
    /// Groups shown in the text report (0: all)
    #[arg(long, default_value_t = 30)]
    top: usize,
}

pub fn run(args: DumpArgs) -> Result<u8, String> {
    let cfg = if args.no_config {
        Config::default()
    } else {
        let start = args.source.clone().unwrap_or_else(|| PathBuf::from("."));
        match args.config.clone().or_else(|| Config::discover(&start)) {
            Some(p) => Config::load(&p)?,
            None => Config::default(),
        }
    };
    let settings = cfg.settings(&args.select, &args.ignore)?;
    let limits = Limits {
        max_bytes: args.max_size,
        ..Limits::default()
    };
    let mut dumps = Vec::new();
    for s in &args.sources {
        let d = read_source(s, &limits, Duration::from_secs(args.timeout.max(1)))
            .map_err(|e| format!("{s}: {e}"))?;
        dumps.push(d);
    }
    let dump = dumps.last().expect("at least one source");
    let earlier = (dumps.len() > 1).then(|| &dumps[0]);
    let repo = match &args.source {
        Some(dir) => Some(Repo::load(dir, &settings)?),
        None => None,
    };
    let statics = repo.as_ref().map(|r| r as &dyn Statics);
    let mut found = dump_check::check_dump(dump, earlier, statics, &settings);
    let growth = earlier.map(|e| verdict::grew(e, dump)).unwrap_or_default();

    if let Some(repo) = &repo {
        for f in &mut found {
            if let Some(path) = repo.map(&f.verdict.frame) {
                f.finding.path = path.to_string();
            }
        }
        found.retain(|f| !repo.suppressed(&f.finding));
    }
    found.sort_by(|a, b| {
        b.verdict
            .count
            .cmp(&a.verdict.count)
            .then_with(|| a.finding.rule.cmp(b.finding.rule))
    });
    let report = DumpReport {
        sources: &args.sources,
        dump,
        earlier,
        findings: &found,
        growth: &growth,
        repo: repo.as_ref(),
    };
    let out = match args.format {
        DumpFormat::Text => text(&report, args.top),
        DumpFormat::Json => serde_json::to_string_pretty(&json(&report)).unwrap() + "\n",
        DumpFormat::Html => html(&report),
        DumpFormat::Sarif => {
            let findings: Vec<Finding> = found.iter().map(|f| f.finding.clone()).collect();
            let infos: Vec<pitfall_report::RuleInfo> = settings
                .enabled
                .iter()
                .filter(|r| matches!(r.check, pitfall_rules::Check::Dump(_)))
                .map(|r| r.info())
                .collect();
            pitfall_report::emit::sarif(&pitfall_report::emit::Report {
                findings: &findings,
                sources: &BTreeMap::new(),
                rules: &infos,
                files_checked: 0,
                version: env!("CARGO_PKG_VERSION"),
            })
        }
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
    {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(format!("writing output: {e}"));
        }
    }
    Ok(if found.is_empty() { 0 } else { 1 })
}

fn read_source(s: &str, limits: &Limits, timeout: Duration) -> Result<Dump, String> {
    if s == "-" {
        return pitfall_dump::parse(std::io::stdin().lock(), limits).map_err(|e| e.0);
    }
    if s.starts_with("http://") || s.starts_with("https://") {
        let body = http_get(s, limits.max_bytes, timeout)?;
        return pitfall_dump::parse(&body[..], limits).map_err(|e| e.0);
    }
    let f = std::fs::File::open(s).map_err(|e| e.to_string())?;
    pitfall_dump::parse(f, limits).map_err(|e| e.0)
}

/// A stream the exchange runs over: TCP, or TLS over TCP.
trait Conn: Read + Write {}
impl<T: Read + Write> Conn for T {}

/// TLS settings: the Mozilla roots (webpki-roots), no client certificate.
fn tls_config() -> std::sync::Arc<rustls::ClientConfig> {
    static CONFIG: std::sync::OnceLock<std::sync::Arc<rustls::ClientConfig>> =
        std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports the default TLS versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            std::sync::Arc::new(config)
        })
        .clone()
}

/// A minimal HTTP/1.0 GET over http:// or https://: no keep-alive; redirects
/// followed only within the same scheme (at most 5); the body is bounded by
/// `max` bytes and every connect and read by `timeout`, the whole exchange
/// by 4x `timeout`.
pub fn http_get(url: &str, max: u64, timeout: Duration) -> Result<Vec<u8>, String> {
    let started = Instant::now();
    let mut url = url.to_string();
    let tls = url.starts_with("https://");
    let scheme = if tls { "https://" } else { "http://" };
    for _ in 0..6 {
        let rest = url.strip_prefix(scheme).ok_or_else(|| {
            format!("redirect to {url:?} refused: only {scheme} redirects are followed")
        })?;
        let (hostport, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        if hostport.is_empty() || hostport.contains('@') || path.contains(['\r', '\n', ' ']) {
            return Err(format!("malformed URL {url:?}"));
        }
        let has_port = hostport
            .rsplit(':')
            .next()
            .is_some_and(|p| p.parse::<u16>().is_ok())
            && !hostport.ends_with(']');
        let addr_str = if has_port {
            hostport.to_string()
        } else {
            format!("{hostport}:{}", if tls { 443 } else { 80 })
        };
        let host = if has_port {
            &hostport[..hostport.rfind(':').unwrap_or(hostport.len())]
        } else {
            hostport
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<_> = addr_str
            .to_socket_addrs()
            .map_err(|e| format!("resolving {hostport}: {e}"))?
            .collect();
        let mut tcp = None;
        let mut last = String::from("no address");
        for a in addrs {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(c) => {
                    tcp = Some(c);
                    break;
                }
                Err(e) => last = e.to_string(),
            }
        }
        let tcp = tcp.ok_or_else(|| format!("connecting to {hostport}: {last}"))?;
        tcp.set_read_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        tcp.set_write_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        let mut conn: Box<dyn Conn> = if tls {
            let name = rustls::pki_types::ServerName::try_from(host.to_string())
                .map_err(|e| format!("{host}: not a TLS server name: {e}"))?;
            let session = rustls::ClientConnection::new(tls_config(), name)
                .map_err(|e| format!("TLS: {e}"))?;
            Box::new(rustls::StreamOwned::new(session, tcp))
        } else {
            Box::new(tcp)
        };
        let conn = &mut *conn;
        let req = format!(
            "GET {path} HTTP/1.0\r\nHost: {hostport}\r\nUser-Agent: pitfall/{}\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n",
            env!("CARGO_PKG_VERSION")
        );
        conn.write_all(req.as_bytes())
            .and_then(|_| conn.flush())
            .map_err(|e| format!("sending request: {e}"))?;
        let mut buf = Vec::new();
        let head_limit = 64 * 1024u64;
        let mut chunk = [0u8; 64 * 1024];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() as u64 > head_limit {
                return Err("response headers larger than 64 KiB".into());
            }
            let n = read_some(conn, &mut chunk, started, timeout)?;
            if n == 0 {
                return Err("connection closed before the response headers ended".into());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not an HTTP response: {status_line:?}"))?;
        let header = |name: &str| {
            head.split("\r\n").skip(1).find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
        };
        if (300..400).contains(&status) {
            let loc = header("location").ok_or("redirect without Location")?;
            url = if loc.starts_with('/') {
                format!("{scheme}{hostport}{loc}")
            } else if loc.starts_with(scheme) {
                loc
            } else {
                return Err(format!(
                    "redirect to {loc:?} refused: only {scheme} redirects are followed"
                ));
            };
            continue;
        }
        if status != 200 {
            return Err(format!("HTTP {}", status_line.trim()));
        }
        if header("transfer-encoding").is_some_and(|t| !t.eq_ignore_ascii_case("identity")) {
            return Err("chunked responses are not supported".into());
        }
        let mut body = buf[head_end..].to_vec();
        loop {
            if body.len() as u64 > max {
                return Err(format!(
                    "response is larger than the limit of {max} bytes (raise it with --max-size)"
                ));
            }
            let n = read_some(conn, &mut chunk, started, timeout)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            if body.len() < len {
                return Err(format!("response truncated: {} of {len} bytes", body.len()));
            }
        }
        return Ok(body);
    }
    Err("too many redirects".into())
}

fn read_some(
    conn: &mut dyn Conn,
    buf: &mut [u8],
    started: Instant,
    timeout: Duration,
) -> Result<usize, String> {
    if started.elapsed() > timeout * 4 {
        return Err(format!("timed out after {:?}", started.elapsed()));
    }
    loop {
        match conn.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!("timed out after {timeout:?} waiting for data"))
            }
            Err(e) => return Err(format!("reading response: {e}")),
        }
    }
}

/// The repository given with `--source`: its Go files, and the static
/// findings of `pitfall check` on them.
pub struct Repo {
    /// Display path -> source text.
    files: BTreeMap<String, String>,
    /// File name -> display paths with that name.
    by_name: HashMap<String, Vec<String>>,
    findings: BTreeMap<(String, u32), Vec<Finding>>,
    nolint: HashMap<String, pitfall_rules::nolint::Directives>,
}

impl Repo {
    /// Static findings of the rules `settings` enables (the config's and the
    /// command line's select/ignore apply as for `check`).
    fn load(dir: &Path, settings: &pitfall_rules::Settings) -> Result<Repo, String> {
        let cwd = std::env::current_dir().map_err(|e| format!("current directory: {e}"))?;
        let none = globset::GlobSet::empty();
        let pool = rayon::ThreadPoolBuilder::new()
            .stack_size(64 * 1024 * 1024)
            .build()
            .map_err(|e| e.to_string())?;
        pool.install(|| {
            let files = discover::list_go_files(&[dir.to_path_buf()], &none, &cwd)?;
            let found = discover::load(&files, &cwd, discover::DEFAULT_MAX_FILE_SIZE);
            let index = ProjectIndex::new(&found.packages);
            // One job per file (per package, a large package ran on one thread).
            let jobs: Vec<_> = index
                .packages
                .iter()
                .flat_map(|pkg| pkg.files().iter().map(move |f| (pkg, f)))
                .collect();
            let results: Vec<(String, Vec<Finding>, pitfall_rules::nolint::Directives)> = jobs
                .into_par_iter()
                .map(|(pkg, f)| {
                    let r = pitfall_rules::check_file(f, pkg, &index, settings);
                    (
                        f.path.clone(),
                        r.findings,
                        pitfall_rules::nolint::Directives::parse(f),
                    )
                })
                .collect();
            let mut repo = Repo {
                files: BTreeMap::new(),
                by_name: HashMap::new(),
                findings: BTreeMap::new(),
                nolint: HashMap::new(),
            };
            for pkg in &found.packages {
                for f in &pkg.files {
                    let name = f.path.rsplit('/').next().unwrap_or(&f.path).to_string();
                    repo.by_name.entry(name).or_default().push(f.path.clone());
                    repo.files.insert(f.path.clone(), f.src.to_string());
                }
            }
            for (path, findings, directives) in results {
                for f in findings {
                    repo.findings
                        .entry((f.path.clone(), f.line))
                        .or_default()
                        .push(f);
                }
                repo.nolint.insert(path, directives);
            }
            if repo.files.is_empty() {
                return Err(format!("--source {}: no Go file found", dir.display()));
            }
            Ok(repo)
        })
    }

    /// The repository file a frame's file is: the one sharing the longest
    /// path suffix (at least the file name and its directory, or the file
    /// name alone when it is unique). Works for absolute build paths and for
    /// `-trimpath` module paths alike.
    fn map(&self, frame: &Frame) -> Option<&str> {
        let name = frame.file.rsplit('/').next()?;
        let candidates = self.by_name.get(name)?;
        let parts: Vec<&str> = frame.file.split('/').rev().collect();
        let mut best: Option<(&str, usize)> = None;
        let mut tie = false;
        for c in candidates {
            let common = c
                .split('/')
                .rev()
                .zip(&parts)
                .take_while(|(a, b)| a == *b)
                .count();
            match best {
                Some((_, n)) if n > common => {}
                Some((_, n)) if n == common => tie = true,
                _ => {
                    best = Some((c, common));
                    tie = false;
                }
            }
        }
        let (path, common) = best?;
        if tie || (common < 2 && candidates.len() > 1) {
            return None;
        }
        Some(path)
    }

    fn line(&self, path: &str, line: u32) -> Option<&str> {
        self.files
            .get(path)?
            .lines()
            .nth(line.checked_sub(1)? as usize)
    }

    fn static_at(&self, path: &str, line: u32) -> &[Finding] {
        self.findings
            .get(&(path.to_string(), line))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    fn suppressed(&self, f: &Finding) -> bool {
        self.nolint.get(&f.path).is_some_and(|d| d.suppresses(f))
    }
}

/// The static findings a dump verdict may quote as its explanation: those
/// not suppressed in the source.
impl Statics for Repo {
    fn concurrency_at(&self, frame: &Frame) -> Vec<StaticFinding> {
        use pitfall_report::Category;
        let Some(path) = self.map(frame) else {
            return Vec::new();
        };
        self.static_at(path, frame.line)
            .iter()
            .filter(|f| {
                matches!(
                    f.category,
                    Category::Goroutine | Category::Channel | Category::Sync
                ) && !self.suppressed(f)
            })
            .map(static_finding)
            .collect()
    }

    fn of_rule(&self, rule: &str) -> Vec<StaticFinding> {
        self.findings
            .values()
            .flatten()
            .filter(|f| f.rule == rule && !self.suppressed(f))
            .map(static_finding)
            .collect()
    }
}

fn static_finding(f: &Finding) -> StaticFinding {
    StaticFinding {
        rule: f.rule.to_string(),
        path: f.path.clone(),
        line: f.line,
        message: f.message.clone(),
    }
}

struct DumpReport<'a> {
    sources: &'a [String],
    dump: &'a Dump,
    earlier: Option<&'a Dump>,
    findings: &'a [DumpFinding],
    growth: &'a [Growth],
    repo: Option<&'a Repo>,
}

/// A frame mapped to the repository: path, code line, static findings there.
struct Linked<'a> {
    path: &'a str,
    code: Option<&'a str>,
    statics: &'a [Finding],
}

impl DumpReport<'_> {
    fn link(&self, f: &Frame) -> Option<Linked<'_>> {
        let repo = self.repo?;
        let path = repo.map(f)?;
        Some(Linked {
            path,
            code: repo.line(path, f.line),
            statics: repo.static_at(path, f.line),
        })
    }

    /// Static findings at any user frame of the group or its creator.
    fn group_statics(&self, g: &Group) -> Vec<(&str, &Finding)> {
        let mut out = Vec::new();
        let user = g.user_frame.map_or(&g.stack[..0], |i| &g.stack[i..]);
        for f in user.iter().chain(g.created_by.iter()) {
            if let Some(l) = self.link(f) {
                for s in l.statics {
                    if !out
                        .iter()
                        .any(|(_, x): &(&str, &Finding)| std::ptr::eq(*x, s))
                    {
                        out.push((l.path, s));
                    }
                }
            }
        }
        out
    }
}

fn short(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

fn wait_text(g: &Group) -> String {
    match (g.wait_min_minutes, g.wait_minutes) {
        (Some(a), Some(b)) if a != b => format!("{a}-{b} min"),
        (_, Some(b)) => format!("{b} min"),
        _ => "-".into(),
    }
}

fn labels_text(g: &Group) -> String {
    g.labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn where_of(g: &Group) -> (String, String) {
    match g.user().or(g.stack.first()) {
        Some(f) => (
            f.function.to_string(),
            format!("{}:{}", short(&f.file), f.line),
        ),
        None => ("?".into(), String::new()),
    }
}

fn text(r: &DumpReport, top: usize) -> String {
    let mut out = String::new();
    let d = r.dump;
    let _ = writeln!(
        out,
        "{}: {} goroutines in {} groups ({}){}",
        r.sources.last().map(String::as_str).unwrap_or(""),
        thousands(d.total),
        d.groups.len(),
        d.format.as_str(),
        d.reason
            .as_deref()
            .map(|x| format!(" — {x}"))
            .unwrap_or_default()
    );
    out.push('\n');
    let _ = writeln!(out, "{:>9}  {:<24} {:>9}  WHERE", "COUNT", "STATE", "WAIT");
    let shown = if top == 0 {
        d.groups.len()
    } else {
        top.min(d.groups.len())
    };
    for g in &d.groups[..shown] {
        let (func, loc) = where_of(g);
        let _ = writeln!(
            out,
            "{:>9}  {:<24} {:>9}  {func}  {loc}",
            thousands(g.count),
            g.state,
            wait_text(g)
        );
        if let Some(c) = &g.created_by {
            let _ = writeln!(
                out,
                "{:>46}created by {}  {}:{}",
                "",
                c.function,
                short(&c.file),
                c.line
            );
        }
        if !g.labels.is_empty() {
            let _ = writeln!(out, "{:>46}labels {}", "", labels_text(g));
        }
        if let Some(f) = g.user() {
            if let Some(l) = r.link(f) {
                if let Some(code) = l.code {
                    let _ = writeln!(out, "{:>46}{}:{} | {}", "", l.path, f.line, code.trim());
                }
            }
        }
        for (path, s) in r.group_statics(g) {
            let _ = writeln!(
                out,
                "{:>46}this is the {} finding at {}:{}, observed {} times",
                "",
                s.rule,
                path,
                s.line,
                thousands(g.count)
            );
        }
    }
    if shown < d.groups.len() {
        let rest: u64 = d.groups[shown..].iter().map(|g| g.count).sum();
        let _ = writeln!(
            out,
            "{:>9}  ... {} more groups (--top 0 shows all)",
            thousands(rest),
            d.groups.len() - shown
        );
    }
    if let Some(e) = r.earlier {
        let _ = writeln!(
            out,
            "\nGrew since {} ({} -> {} goroutines):",
            r.sources.first().map(String::as_str).unwrap_or(""),
            thousands(e.total),
            thousands(d.total)
        );
        if r.growth.is_empty() {
            let _ = writeln!(out, "  no group grew");
        }
        for gr in r
            .growth
            .iter()
            .take(if top == 0 { usize::MAX } else { top })
        {
            let g = &d.groups[gr.group];
            let (func, loc) = where_of(g);
            let _ = writeln!(
                out,
                "{:>9}  {:<24} {:>9}  {func}  {loc}",
                format!("+{}", thousands(gr.after - gr.before)),
                g.state,
                format!("{}->{}", gr.before, gr.after),
            );
        }
    }
    out.push('\n');
    if r.findings.is_empty() {
        let _ = writeln!(out, "No leak, deadlock or lock contention found.");
    }
    for f in r.findings {
        let x = &f.finding;
        let _ = writeln!(
            out,
            "{}:{}: {} [{}] {}",
            x.path, x.line, x.severity, x.rule, x.message
        );
        if let Some(l) = r.link(&f.verdict.frame) {
            if let Some(code) = l.code {
                let _ = writeln!(out, "  {:>5} | {}", x.line, code.trim_end());
            }
        }
        for (path, s) in f
            .verdict
            .groups
            .iter()
            .flat_map(|&i| r.group_statics(&d.groups[i]))
            .fold(Vec::new(), |mut acc: Vec<(&str, &Finding)>, x| {
                if !acc.iter().any(|y| std::ptr::eq(y.1, x.1)) {
                    acc.push(x);
                }
                acc
            })
        {
            let _ = writeln!(
                out,
                "  = this is the {} finding at {}:{}, observed {} times: {}",
                s.rule,
                path,
                s.line,
                thousands(f.verdict.count),
                s.message
            );
        }
        if let Some(fix) = &x.fix {
            let _ = writeln!(out, "  fix: {fix}");
        }
    }
    out
}

fn frame_json(f: &Frame) -> serde_json::Value {
    serde_json::json!({"function": &*f.function, "file": &*f.file, "line": f.line})
}

fn group_json(r: &DumpReport, g: &Group) -> serde_json::Value {
    let at = g.user();
    let labels: serde_json::Map<String, serde_json::Value> = g
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let mut v = serde_json::json!({
        "count": g.count,
        "state": g.state,
        "wait_minutes": g.wait_minutes,
        "function": at.map(|f| &*f.function),
        "file": at.map(|f| &*f.file),
        "line": at.map(|f| f.line),
        "created_by": g.created_by.as_ref().map(frame_json),
        "labels": labels,
        "stack": g.stack.iter().map(frame_json).collect::<Vec<_>>(),
    });
    if r.repo.is_some() {
        let link = at.and_then(|f| r.link(f));
        v["source"] = serde_json::json!({
            "path": link.as_ref().map(|l| l.path),
            "code": link.as_ref().and_then(|l| l.code),
        });
        v["static_findings"] = serde_json::Value::Array(
            r.group_statics(g)
                .into_iter()
                .map(|(_, f)| serde_json::to_value(f).unwrap())
                .collect(),
        );
    }
    v
}

fn json(r: &DumpReport) -> serde_json::Value {
    let findings: Vec<&Finding> = r.findings.iter().map(|f| &f.finding).collect();
    let mut v = serde_json::json!({
        "findings": findings,
        "groups": r.dump.groups.iter().map(|g| group_json(r, g)).collect::<Vec<_>>(),
    });
    if r.earlier.is_some() {
        v["grew"] = serde_json::Value::Array(
            r.growth
                .iter()
                .map(|gr| {
                    let mut g = group_json(r, &r.dump.groups[gr.group]);
                    g["before"] = gr.before.into();
                    g
                })
                .collect(),
        );
    }
    v
}

/// The HTML report: one self-contained page (inline CSS and JS, no network)
/// that draws the groups as a sorted bar chart with expandable stacks.
fn html(r: &DumpReport) -> String {
    let data = json(r);
    let mut payload = serde_json::json!({
        "title": r.sources.last().cloned().unwrap_or_default(),
        "total": r.dump.total,
        "format": r.dump.format.as_str(),
        "report": data,
    });
    if let Some(reason) = &r.dump.reason {
        payload["reason"] = reason.clone().into();
    }
    // Safe inside <script>: no `</` or `<!--` can close or confuse it.
    let embedded = serde_json::to_string(&payload)
        .unwrap()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    HTML_TEMPLATE.replace("/*DATA*/null", &embedded)
}

const HTML_TEMPLATE: &str = include_str!("dump_report.html");
