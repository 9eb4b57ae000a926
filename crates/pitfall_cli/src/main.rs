//! The `pitfall` command line.
//!
//! Exit codes: 0 no findings, 1 findings, 2 usage or I/O error.

/// mimalloc rather than the system allocator: a run frees each package's
/// syntax trees as it goes, and glibc's malloc spent about a fifth of the
/// run's time in that churn (measured on the standard library).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cache;
mod config;
mod discover;
mod dump;
mod fix;
mod lsp;
mod manifests;
mod newcode;
mod order;
mod progress;

use clap::{Parser, Subcommand, ValueEnum};
use config::Config;
use pitfall_go::index::ProjectIndex;
use pitfall_report::emit::{self, Report};
use pitfall_report::{Finding, RuleInfo};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Parser)]
#[command(
    name = "pitfall",
    version,
    about = "Finds the bugs and pitfalls of Go microservices on Kubernetes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Format {
    Text,
    Json,
    Sarif,
    Github,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum RoutesFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Check Go code and Kubernetes manifests (default: the current directory)
    Check(CheckArgs),
    /// List every rule: name, category, severity, summary
    Rules,
    /// Show a rule's page: what it finds, why it matters, examples, fix, suppression
    Rule { name: String },
    /// Show the HTTP routes and listen addresses pitfall reads from each main package
    Routes {
        /// Files or directories to read
        #[arg(default_value = ".")]
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = RoutesFormat::Text)]
        format: RoutesFormat,
    },
    /// Analyse goroutine dumps (files, `-`, http:// URLs): groups, leaks, deadlocks, contention
    Dump(dump::DumpArgs),
    /// Run the language server (LSP over stdin/stdout) for editors
    Lsp(lsp::LspArgs),
    /// Write a commented default pitfall.toml in the current directory
    Init {
        /// Overwrite an existing pitfall.toml
        #[arg(long)]
        force: bool,
    },
}

#[derive(clap::Args, Clone)]
struct CheckArgs {
    /// Files or directories to check
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Only these rules or categories (comma-separated; overrides the config's select)
    #[arg(long, value_delimiter = ',')]
    select: Vec<String>,
    /// Skip these rules or categories (comma-separated; adds to the config's ignore)
    #[arg(long, value_delimiter = ',')]
    ignore: Vec<String>,
    /// Use this config file instead of the nearest pitfall.toml
    #[arg(long)]
    config: Option<PathBuf>,
    /// Ignore any pitfall.toml
    #[arg(long, conflicts_with = "config")]
    no_config: bool,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
    /// Worker threads (default: one per core)
    #[arg(short = 'j', long)]
    threads: Option<usize>,
    /// Skip files larger than this many bytes
    #[arg(long, default_value_t = discover::DEFAULT_MAX_FILE_SIZE)]
    max_file_size: u64,
    /// Per YAML file, the nodes that aliases may expand to (a YAML bomb is refused past it)
    #[arg(long, default_value_t = pitfall_k8s::yaml::MAX_ALIAS_NODES)]
    max_yaml_alias_nodes: usize,
    /// Print files, lines, bytes and timing to stderr
    #[arg(long)]
    stats: bool,
    /// Where to keep results between runs (default: $XDG_CACHE_HOME/pitfall)
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Do not read or write the result cache
    #[arg(long, conflicts_with = "cache_dir")]
    no_cache: bool,
    /// Read rendered Kubernetes manifests from stdin (name the path `-`):
    /// `helm template . | pitfall check - --manifests-from-stdin`
    #[arg(long)]
    manifests_from_stdin: bool,
    /// Also judge manifests under fixtures/, e2e/, docs/, examples/, samples/,
    /// third_party/ and upstream/ (left out by default: they are not the
    /// service's deployment)
    #[arg(long)]
    all_manifests: bool,
    #[command(flatten)]
    fixing: FixArgs,
    #[command(flatten)]
    newcode: newcode::NewCodeArgs,
}

#[derive(clap::Args, Clone, Default)]
struct FixArgs {
    /// Apply the safe fixes to the files, then report what is left
    #[arg(long)]
    fix: bool,
    /// Print the safe fixes as a unified diff; write nothing (exit 1 when there is a diff)
    #[arg(long, conflicts_with = "fix")]
    diff: bool,
    /// With --fix or --diff: also the unsafe fixes (they may change behaviour)
    #[arg(long)]
    unsafe_fixes: bool,
    /// Rounds of fixing done so far (fixes that overlapped wait for a re-check)
    #[arg(skip)]
    round: u8,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Check(args) => check(args),
        Command::Rules => list_rules(),
        Command::Rule { name } => show_rule(&name),
        Command::Init { force } => init(force),
        Command::Routes { paths, format } => routes(&paths, format),
        Command::Dump(args) => dump::run(args),
        Command::Lsp(args) => lsp::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(msg) => {
            eprintln!("pitfall: error: {msg}");
            ExitCode::from(2)
        }
    }
}

fn check(mut args: CheckArgs) -> Result<u8, String> {
    let started = Instant::now();
    let stdin_manifests = if args.manifests_from_stdin {
        Some(read_stdin(args.max_file_size)?)
    } else {
        None
    };
    let dash = std::path::Path::new("-");
    if args.paths.iter().any(|p| p == dash) && !args.manifests_from_stdin {
        return Err("`-` reads manifests from stdin only with --manifests-from-stdin".into());
    }
    let config_start = args
        .paths
        .iter()
        .find(|p| *p != dash)
        .cloned()
        .unwrap_or_else(|| ".".into());
    args.paths.retain(|p| p != dash);
    let cwd = std::env::current_dir().map_err(|e| format!("current directory: {e}"))?;
    let cfg = if args.no_config {
        Config::default()
    } else {
        let path = match &args.config {
            Some(p) => Some(p.clone()),
            None => Config::discover(&config_start),
        };
        match path {
            Some(p) => Config::load(&p)?,
            None => Config::default(),
        }
    };
    let settings = cfg.settings(&args.select, &args.ignore)?;
    let excludes = discover::build_globs(&cfg.exclude)?;
    let exclude_base = std::path::absolute(&cfg.dir).unwrap_or_else(|_| cfg.dir.clone());

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        // Deeply nested (but accepted) files recurse; give workers room.
        .stack_size(64 * 1024 * 1024)
        .build()
        .map_err(|e| e.to_string())?;

    let links = cfg.link_overrides();
    let cache = if args.no_cache {
        None
    } else {
        args.cache_dir
            .clone()
            .or_else(cache::default_dir)
            .and_then(|d| cache::Cache::open(&d, cache::DEFAULT_MAX_BYTES))
    };
    let salt = cache::build_salt(VERSION, &settings_fingerprint(&settings));
    let (read, manifests, run) = pool.install(|| -> Result<_, String> {
        let all = discover::list_files(
            &args.paths,
            &excludes,
            &exclude_base,
            &["go", "yaml", "yml"],
        )?;
        let (yaml, files): (Vec<PathBuf>, Vec<PathBuf>) =
            all.into_iter().partition(|p| discover::is_yaml(p));
        let (yaml, left_out) = if args.all_manifests {
            (yaml, None)
        } else {
            manifests::deployments_only(yaml, &args.paths, &cwd)
        };
        let read = discover::read(&files, &cwd, args.max_file_size);
        let mut manifests = manifests::load(
            &yaml,
            &cwd,
            args.max_file_size,
            args.max_yaml_alias_nodes,
            stdin_manifests,
        );
        manifests.warnings.extend(left_out);
        let run = check_packages(&read, &manifests, &settings, &links, cache.as_ref(), salt);
        Ok((read, manifests, run))
    })?;
    if let Some(c) = &cache {
        c.evict();
    }
    let Run {
        mut findings,
        mut warnings,
        files_checked: go_files_checked,
        files_with_syntax_errors,
        cached,
    } = run;
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    let read_warnings = std::mem::take(&mut warnings.0);
    for w in read_warnings
        .iter()
        .chain(&manifests.warnings)
        .chain(&warnings.1)
    {
        eprintln!("pitfall: warning: {w}");
    }
    let mut sources = BTreeMap::new();
    let with_findings: std::collections::HashSet<&str> =
        findings.iter().map(|f| f.path.as_str()).collect();
    for pkg in &read.packages {
        for f in &pkg.files {
            if with_findings.contains(f.path.as_str()) {
                sources.insert(f.path.clone(), f.src.to_string());
            }
        }
    }
    for (path, src) in &manifests.sources {
        if with_findings.contains(path.as_str()) {
            sources
                .entry(path.clone())
                .or_insert_with(|| src.to_string());
        }
    }
    newcode::filter(&args.newcode, &mut findings, &sources, &cwd)?;
    if args.fixing.fix || args.fixing.diff {
        if args.manifests_from_stdin {
            return Err("--fix and --diff do not work with --manifests-from-stdin".into());
        }
        let round = fix::plan(&findings, &sources, args.fixing.unsafe_fixes);
        for path in &round.refused {
            eprintln!("pitfall: warning: {path}: not fixed, the fixed text would not parse");
        }
        if args.fixing.diff {
            print_out(&fix::diff(&round))?;
            return Ok(u8::from(!round.changed.is_empty()));
        }
        if !round.changed.is_empty() {
            fix::write(&round, &cwd)?;
            eprintln!(
                "pitfall: fixed {} finding{} in {} file{}",
                round.fixes_applied,
                if round.fixes_applied == 1 { "" } else { "s" },
                round.changed.len(),
                if round.changed.len() == 1 { "" } else { "s" }
            );
            // Re-check what the fixes left (and apply fixes that overlapped).
            if args.fixing.round < 8 {
                let mut next = args.clone();
                next.fixing.round += 1;
                return check(next);
            }
        }
    }
    let files_checked = go_files_checked + manifests.files_checked;
    let infos: Vec<RuleInfo> = settings.enabled.iter().map(|r| r.info()).collect();
    let report = Report {
        findings: &findings,
        sources: &sources,
        rules: &infos,
        files_checked,
        version: VERSION,
    };
    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let out = match args.format {
        Format::Text => emit::text(&report, color),
        Format::Json => emit::json(&report),
        Format::Sarif => emit::sarif(&report),
        Format::Github => emit::github(&report),
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
    if args.stats {
        let secs = started.elapsed().as_secs_f64();
        let lines: usize = read
            .packages
            .iter()
            .flat_map(|p| &p.files)
            .map(|f| f.src.lines().count())
            .sum();
        eprintln!(
            "pitfall: checked {} files ({} with syntax errors), {} lines, {:.1} MB in {:.3} s ({:.1} MB/s), {} findings; {} of {} packages from the cache",
            files_checked,
            files_with_syntax_errors,
            lines,
            (read.bytes + manifests.bytes) as f64 / 1e6,
            secs,
            (read.bytes + manifests.bytes) as f64 / 1e6 / secs.max(1e-9),
            findings.len(),
            cached.0,
            cached.1
        );
    }
    if files_checked == 0 && !(read_warnings.is_empty() && manifests.warnings.is_empty()) {
        return Err("no file could be checked".into());
    }
    Ok(if findings.is_empty() { 0 } else { 1 })
}

/// What checking the Go packages gave (findings unsorted).
struct Run {
    findings: Vec<Finding>,
    /// (reading and parsing warnings in file order, rule warnings).
    warnings: (Vec<String>, Vec<String>),
    files_checked: usize,
    files_with_syntax_errors: usize,
    /// (packages answered from the cache, packages).
    cached: (usize, usize),
}

/// The settings as text, for the cache key.
fn settings_fingerprint(s: &pitfall_rules::Settings) -> String {
    let mut enabled: Vec<&str> = s.enabled.iter().map(|r| r.name).collect();
    enabled.sort_unstable();
    let severity: BTreeMap<_, _> = s.severity.iter().map(|(k, v)| (k, v.as_str())).collect();
    let options: BTreeMap<_, BTreeMap<_, _>> = s
        .options
        .iter()
        .map(|(k, v)| (k, v.iter().collect()))
        .collect();
    format!("{enabled:?}{severity:?}{options:?}")
}

/// Checks the Go packages of the run: answers from the cache where it can,
/// parses what the rest needs (their own files and every package they read)
/// and checks them, then runs the manifest rules and cross-checks.
fn check_packages(
    read: &discover::Read,
    manifests: &manifests::Manifests,
    settings: &pitfall_rules::Settings,
    links: &[pitfall_rules::manifest::LinkOverride],
    cache: Option<&cache::Cache>,
    salt: u128,
) -> Run {
    let pkgs = &read.packages;
    let total: usize = pkgs.iter().map(|p| p.files.len()).sum();
    let progress = progress::Progress::start(total, progress::Progress::wanted());
    let graph = cache::Graph::new(pkgs);
    let keys = cache.map(|_| graph.keys(pkgs, salt));
    let mut entries: Vec<Option<cache::Entry>> = match (cache, &keys) {
        (Some(c), Some(keys)) => keys.par_iter().map(|&k| c.get(k)).collect(),
        _ => vec![None; pkgs.len()],
    };
    // An entry this build cannot read back counts as a miss.
    let mut replayed: Vec<Option<Vec<Finding>>> = entries
        .iter()
        .zip(pkgs)
        .map(|(e, p)| e.as_ref().and_then(|e| e.findings(p)))
        .collect();
    for (e, r) in entries.iter_mut().zip(&replayed) {
        if r.is_none() {
            *e = None;
        }
    }
    for (p, e) in pkgs.iter().zip(&entries) {
        if e.is_some() {
            progress.add(p.files.len());
        }
    }
    let misses: Vec<usize> = (0..pkgs.len()).filter(|&i| entries[i].is_none()).collect();
    let Checked {
        mut fresh,
        mut parse_info,
        manifest_result,
    } = {
        let work = Work {
            pkgs,
            graph: &graph,
            misses: &misses,
            manifests,
            settings,
            links,
            progress: &progress,
        };
        if std::env::var_os("PITFALL_WHOLE_TREE").is_some() {
            check_whole(&work)
        } else {
            check_by_unit(&work)
        }
    };
    let mut run = Run {
        findings: Vec::new(),
        warnings: (Vec::new(), Vec::new()),
        files_checked: 0,
        files_with_syntax_errors: 0,
        cached: (pkgs.len() - misses.len(), pkgs.len()),
    };
    let mut file_warnings: Vec<(usize, String)> = read.warnings.clone();
    for (i, pkg) in pkgs.iter().enumerate() {
        let entry = match entries[i].take() {
            Some(e) => e,
            None => {
                let (findings, warnings) = fresh.remove(&i).unwrap_or_default();
                let (pw, with_errors, n) = parse_info.remove(&i).unwrap_or_default();
                let local: Vec<(usize, String)> = pw
                    .into_iter()
                    .map(|(o, w)| (pkg.order.iter().position(|&x| x == o).unwrap_or(0), w))
                    .collect();
                let e = cache::Entry::new(pkg, &findings, warnings, local, n, with_errors);
                if let (Some(c), Some(keys), Some(e)) = (cache, &keys, &e) {
                    c.put(keys[i], e.clone());
                }
                replayed[i] = Some(findings);
                e.unwrap_or_default()
            }
        };
        run.findings
            .append(replayed[i].as_mut().expect("filled above"));
        run.warnings.1.extend(entry.warnings);
        run.files_checked += entry.files_checked;
        run.files_with_syntax_errors += entry.files_with_syntax_errors;
        for (f, w) in entry.parse_warnings {
            file_warnings.push((pkg.order.get(f).copied().unwrap_or(0), w));
        }
    }
    file_warnings.sort_by_key(|(i, _)| *i);
    run.warnings.0 = file_warnings.into_iter().map(|(_, w)| w).collect();
    if let Some(mut k8s) = manifest_result {
        run.findings.append(&mut k8s.findings);
        run.warnings.1.append(&mut k8s.warnings);
    }
    progress.finish();
    run
}

/// What checking the packages that missed the cache found, by package.
#[derive(Default)]
struct Checked {
    /// Package -> (findings, rule warnings), in file order.
    fresh: HashMap<usize, (Vec<Finding>, Vec<String>)>,
    /// Package -> (parse warnings, files with syntax errors, files checked).
    parse_info: HashMap<usize, ParseInfo>,
    /// The manifest rules' result (runs with manifests only).
    manifest_result: Option<pitfall_rules::FileResult>,
}

type ParseInfo = (Vec<(usize, String)>, usize, usize);

/// Parses the packages `which` (in parallel): their trees, and what parsing
/// each said.
fn parse_all(
    pkgs: &[discover::RawPackage],
    which: &[usize],
) -> (Vec<pitfall_go::index::SourcePackage>, Vec<ParseInfo>) {
    which
        .par_iter()
        .map(|&i| {
            let p = discover::parse(&pkgs[i]);
            (
                p.package,
                (p.warnings, p.files_with_syntax_errors, p.files_checked),
            )
        })
        .unzip()
}

/// What checking the packages that missed the cache reads.
#[derive(Clone, Copy)]
struct Work<'r> {
    pkgs: &'r [discover::RawPackage],
    graph: &'r cache::Graph,
    misses: &'r [usize],
    manifests: &'r manifests::Manifests,
    settings: &'r pitfall_rules::Settings,
    links: &'r [pitfall_rules::manifest::LinkOverride],
    progress: &'r progress::Progress,
}

/// Source bytes of the packages being checked at once: what bounds the
/// syntax trees alive at a time (a package larger than this still runs).
/// `PITFALL_IN_FLIGHT_BYTES` overrides it (tests and benchmarks).
const IN_FLIGHT_BYTES: u64 = 8 << 20;

fn in_flight_budget() -> u64 {
    std::env::var("PITFALL_IN_FLIGHT_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(IN_FLIGHT_BYTES)
}

/// Checks `files` of `pkg`, each file a job, largest first (rayon otherwise
/// hands a thread a run of files to do in sequence, and the run ends on one
/// thread still checking big files); results in file order.
fn check_files<'a>(
    jobs: Vec<(
        usize,
        &'a pitfall_go::index::Package<'a>,
        &'a pitfall_go::GoFile,
    )>,
    index: &'a ProjectIndex<'a>,
    settings: &pitfall_rules::Settings,
    progress: &progress::Progress,
    fresh: &mut HashMap<usize, (Vec<Finding>, Vec<String>)>,
) {
    let mut by_size: Vec<usize> = (0..jobs.len()).collect();
    by_size.sort_by_key(|&k| std::cmp::Reverse(jobs[k].2.src.len()));
    let mut checked: Vec<(usize, usize, pitfall_rules::FileResult)> = by_size
        .into_par_iter()
        .with_max_len(1)
        .map(|k| {
            let (i, pkg, f) = jobs[k];
            let r = pitfall_rules::check_file(f, pkg, index, settings);
            progress.add(1);
            (k, i, r)
        })
        .collect();
    checked.sort_by_key(|(k, _, _)| *k);
    for (_, i, mut r) in checked {
        let e = fresh.entry(i).or_default();
        e.0.append(&mut r.findings);
        e.1.append(&mut r.warnings);
    }
}

/// Checks the packages `misses` unit by unit (a unit: a package, or packages
/// importing one another), each once the units it imports are done, a few at
/// a time: parse its files, check them against an index of its packages
/// whole and its dependencies as skeletons, then keep only its skeleton.
/// Peak memory follows the largest packages, not the tree. With manifests,
/// every main is read too, and each linked program's code is parsed again,
/// one program at a time, for the cross-checks.
fn check_by_unit(work: &Work) -> Checked {
    let Work {
        pkgs,
        graph,
        misses,
        manifests,
        settings,
        links,
        progress,
    } = *work;
    use pitfall_go::index::{Entry, Package, SourcePackage};
    use std::sync::{Arc, Mutex, OnceLock};
    let with_manifests = !manifests.objects.is_empty();
    let needed = if with_manifests {
        graph.with_mains(misses)
    } else {
        graph.closure(misses)
    };
    if needed.is_empty() && !with_manifests {
        return Checked::default(); // all from the cache
    }
    let (units, unit_deps) = graph.units(&needed);
    let mut is_miss = vec![false; pkgs.len()];
    for &i in misses {
        is_miss[i] = true;
    }
    let size: Vec<u64> = units
        .iter()
        .map(|members| {
            members
                .iter()
                .flat_map(|&i| &pkgs[i].files)
                .map(|f| f.src.len() as u64)
                .sum()
        })
        .collect();
    let import_graph = Arc::new(discover::import_graph(pkgs));
    let run_facts = Arc::new(pitfall_go::facts::FactStore::default());
    let kept_src: Vec<OnceLock<SourcePackage>> = (0..pkgs.len()).map(|_| OnceLock::new()).collect();
    let kept: Vec<OnceLock<Package>> = (0..pkgs.len()).map(|_| OnceLock::new()).collect();
    let out = Mutex::new(Checked::default());
    let work = |u: usize| {
        let members = &units[u];
        let (sources, infos) = parse_all(pkgs, members);
        if members.iter().any(|&i| is_miss[i]) {
            let deps: Vec<usize> = graph
                .closure(members)
                .into_iter()
                .filter(|i| !members.contains(i))
                .collect();
            let mut entries: Vec<Entry> = deps
                .iter()
                .map(|&d| Entry::Shared(kept[d].get().expect("imports are checked first")))
                .collect();
            entries.extend(sources.iter().map(|s| Entry::Owned(Package::new(s))));
            let index = ProjectIndex::assemble(entries, import_graph.clone(), run_facts.clone());
            let jobs = members
                .iter()
                .enumerate()
                .filter(|&(_, &i)| is_miss[i])
                .flat_map(|(k, &i)| {
                    let pkg = &index.packages[deps.len() + k];
                    pkg.files().iter().map(move |f| (i, pkg, f))
                })
                .collect();
            let mut fresh = HashMap::new();
            check_files(jobs, &index, settings, progress, &mut fresh);
            let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
            out.fresh.extend(fresh);
            for (&i, info) in members.iter().zip(infos) {
                if is_miss[i] {
                    out.parse_info.insert(i, info);
                }
            }
        }
        for (s, &i) in sources.into_iter().zip(members) {
            let skeleton = kept_src[i].get_or_init(|| s.into_skeleton());
            let _ = kept[i].set(Package::new(skeleton));
        }
    };
    order::run(&unit_deps, &size, in_flight_budget(), &work);
    let mut out = out.into_inner().unwrap_or_else(|e| e.into_inner());
    if with_manifests {
        let entries = needed
            .iter()
            .filter_map(|&i| kept[i].get())
            .map(Entry::Shared)
            .collect();
        let index = ProjectIndex::assemble(entries, import_graph, run_facts);
        let program = |main: &Package| {
            let Some(i) = kept_src
                .iter()
                .position(|s| s.get().is_some_and(|s| std::ptr::eq(s, main.src)))
            else {
                return Default::default();
            };
            let (sources, _) = parse_all(pkgs, &graph.closure(&[i]));
            let whole = ProjectIndex::new(&sources);
            let Some(m) = whole
                .packages
                .iter()
                .find(|p| p.src.dir == main.src.dir && p.src.name == main.src.name)
            else {
                return Default::default();
            };
            pitfall_rules::manifest::program_facts(&whole, m)
        };
        out.manifest_result = Some(pitfall_rules::manifest::check_manifests_with(
            &manifests.objects,
            &index,
            settings,
            links,
            &program,
        ));
    }
    out
}

/// Checks the packages `misses` with every tree of the run in memory: the
/// driver before units, kept as the reference the unit-by-unit driver is
/// tested against (`PITFALL_WHOLE_TREE=1`).
fn check_whole(work: &Work) -> Checked {
    let (pkgs, misses) = (work.pkgs, work.misses);
    let needed = work
        .graph
        .needed_for(misses, !work.manifests.objects.is_empty());
    let (sources, infos) = parse_all(pkgs, &needed);
    let mut out = Checked::default();
    out.parse_info.extend(needed.iter().copied().zip(infos));
    let index = ProjectIndex::new(&sources);
    let slot: HashMap<usize, usize> = needed.iter().enumerate().map(|(s, &i)| (i, s)).collect();
    let jobs = misses
        .iter()
        .flat_map(|&i| {
            let pkg = &index.packages[slot[&i]];
            pkg.files().iter().map(move |f| (i, pkg, f))
        })
        .collect();
    check_files(jobs, &index, work.settings, work.progress, &mut out.fresh);
    out.manifest_result = Some(pitfall_rules::manifest::check_manifests(
        &work.manifests.objects,
        &index,
        work.settings,
        work.links,
    ));
    out
}

/// Stdin as text, up to `max` bytes.
fn read_stdin(max: u64) -> Result<String, String> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::io::stdin()
        .lock()
        .take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("reading stdin: {e}"))?;
    if buf.len() as u64 > max {
        return Err(format!(
            "stdin is over the {max}-byte limit (--max-file-size)"
        ));
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn routes(paths: &[PathBuf], format: RoutesFormat) -> Result<u8, String> {
    let cwd = std::env::current_dir().map_err(|e| format!("current directory: {e}"))?;
    let none = globset::GlobSet::empty();
    let pool = rayon::ThreadPoolBuilder::new()
        .stack_size(64 * 1024 * 1024)
        .build()
        .map_err(|e| e.to_string())?;
    let (maps, warnings) = pool.install(|| -> Result<_, String> {
        let files = discover::list_go_files(paths, &none, &cwd)?;
        let found = discover::load(&files, &cwd, discover::DEFAULT_MAX_FILE_SIZE);
        let index = ProjectIndex::new(&found.packages);
        Ok((
            pitfall_go::routes::route_maps(&index),
            found.warnings.clone(),
        ))
    })?;
    for w in &warnings {
        eprintln!("pitfall: warning: {w}");
    }
    let out = match format {
        RoutesFormat::Json => {
            let v: Vec<serde_json::Value> = maps.iter().map(route_map_json).collect();
            serde_json::to_string_pretty(&serde_json::json!({ "version": VERSION, "mains": v }))
                .unwrap()
                + "\n"
        }
        RoutesFormat::Text => route_maps_text(&maps),
    };
    print_out(&out)?;
    Ok(0)
}

fn route_json(r: &pitfall_go::routes::Route) -> serde_json::Value {
    serde_json::json!({
        "method": r.method, "path": r.path, "router": r.router,
        "config_prefix": r.config_prefix, "file": r.file, "line": r.line,
    })
}

fn route_map_json(m: &pitfall_go::routes::RouteMap) -> serde_json::Value {
    let listeners: Vec<_> = m
        .listeners
        .iter()
        .map(|l| {
            let routes: Vec<_> = m.routes_of(l).map(route_json).collect();
            serde_json::json!({
                "call": l.call, "addr": l.addr, "port": l.port, "env": l.env,
                "file": l.file, "line": l.line, "routes": routes,
            })
        })
        .collect();
    let served: std::collections::BTreeSet<_> = m
        .listeners
        .iter()
        .filter_map(|l| l.serves.clone())
        .collect();
    let unserved: Vec<_> = m
        .routes
        .iter()
        .filter(|r| !served.contains(&r.origin))
        .map(route_json)
        .collect();
    serde_json::json!({
        "package": m.dir, "import_path": m.import_path, "listeners": listeners,
        "unattached_routes": unserved, "uncertain": m.uncertain,
    })
}

fn route_maps_text(maps: &[pitfall_go::routes::RouteMap]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if maps.is_empty() {
        out.push_str("No main package found.\n");
    }
    for m in maps {
        let _ = writeln!(out, "main package {} ({})", m.dir, m.import_path);
        if m.listeners.is_empty() {
            let _ = writeln!(out, "  no listener found");
        }
        let line = |out: &mut String, r: &pitfall_go::routes::Route| {
            let _ = writeln!(
                out,
                "    {:7} {:30} {:8} {}:{}",
                r.method.as_deref().unwrap_or("*"),
                r.shown_path(),
                r.router,
                r.file,
                r.line
            );
        };
        for l in &m.listeners {
            let addr = l.addr.as_deref().unwrap_or("?");
            let env = l
                .env
                .as_deref()
                .map(|e| format!(" (from ${e})"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  listens on {addr}{env} via {} at {}:{}",
                l.call, l.file, l.line
            );
            let mut any = false;
            for r in m.routes_of(l) {
                line(&mut out, r);
                any = true;
            }
            if !any {
                let _ = writeln!(out, "    (no routes found)");
            }
        }
        let served: std::collections::BTreeSet<_> = m
            .listeners
            .iter()
            .filter_map(|l| l.serves.clone())
            .collect();
        let loose: Vec<_> = m
            .routes
            .iter()
            .filter(|r| !served.contains(&r.origin))
            .collect();
        if !loose.is_empty() {
            let _ = writeln!(out, "  routes not attached to a listener:");
            for r in loose {
                line(&mut out, r);
            }
        }
        for u in &m.uncertain {
            let _ = writeln!(out, "  uncertain: {u}");
        }
        out.push('\n');
    }
    out
}

/// Writes to stdout; a reader that went away (`pitfall rules | head`) is not an error.
fn print_out(text: &str) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("writing output: {e}")),
        _ => Ok(()),
    }
}

fn list_rules() -> Result<u8, String> {
    let width = pitfall_rules::ALL
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for r in pitfall_rules::ALL {
        out += &format!(
            "{:width$}  {:13} {:8} {}\n",
            r.name,
            r.category.as_str(),
            r.severity.as_str(),
            r.summary
        );
    }
    print_out(&out)?;
    Ok(0)
}

fn show_rule(name: &str) -> Result<u8, String> {
    let Some(r) = pitfall_rules::find(name) else {
        let names: Vec<_> = pitfall_rules::ALL.iter().map(|r| r.name).collect();
        return Err(format!(
            "no rule named `{name}`; rules: {}",
            names.join(", ")
        ));
    };
    let tests = match r.test_files {
        pitfall_rules::TestFiles::Skip => "no (production code only)",
        pitfall_rules::TestFiles::Include => "yes",
        pitfall_rules::TestFiles::Only => "only _test.go files",
    };
    let mut out = format!("# {}\n\n", r.name);
    out += &format!("{}\n\n", r.summary);
    out += &format!("- Category: {}\n", r.category);
    out += &format!("- Default severity: {}\n", r.severity);
    out += &format!("- Reported on: {}\n", r.reports_on);
    out += &format!("- Runs on test files: {tests}\n");
    for o in r.options {
        out += &format!(
            "- Option `{}` (default {}): {}\n",
            o.name, o.default, o.help
        );
    }
    out += &format!("\n{}\n", r.doc.trim());
    print_out(&out)?;
    Ok(0)
}

fn init(force: bool) -> Result<u8, String> {
    let path = PathBuf::from(config::FILE_NAME);
    if path.exists() && !force {
        return Err(format!(
            "{} already exists (use --force to overwrite)",
            path.display()
        ));
    }
    std::fs::write(&path, config::default_toml())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(0)
}
