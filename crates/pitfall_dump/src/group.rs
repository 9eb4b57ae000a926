//! Groups: goroutines with the same state, stack, creator and labels.
//!
//! Parsers feed one goroutine (or one counted stack) at a time into a
//! [`Builder`], which interns strings and counts identical keys, so memory
//! follows the number of distinct stacks. [`Builder::finish`] then infers
//! states from runtime frames when the format has none, drops the runtime's
//! own leaf frames (so the same stack matches across formats), finds the first
//! frame outside the runtime and standard library, and merges again.

use crate::{err, Error, Format, Limits};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// The state of a debug=1 stack whose runtime frames were hidden.
pub const CHAN_OR_SELECT: &str = "chan or select";

/// One stack frame, leaf first in a stack. Names are shared between the
/// frames of all groups (a dump with many distinct stacks repeats them).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Frame {
    /// Fully qualified Go name, arguments removed: `main.(*Server).handle`.
    pub function: Arc<str>,
    pub file: Arc<str>,
    pub line: u32,
}

impl Frame {
    pub fn new(function: &str, file: &str, line: u32) -> Frame {
        Frame {
            function: function.into(),
            file: file.into(),
            line,
        }
    }
}

/// Goroutines that share state, stack, creator and labels.
#[derive(Clone, Debug)]
pub struct Group {
    pub count: u64,
    /// `chan send`, `select`, `sync.Mutex.Lock`, `IO wait`, ... — from the dump,
    /// or inferred from runtime frames (debug=1, protobuf).
    pub state: String,
    /// Longest wait among the group's goroutines, when the dump says (only
    /// debug=2 and tracebacks do, and only for waits of a minute or more after a
    /// GC has run). `None` means unknown, not new.
    pub wait_minutes: Option<u64>,
    /// Shortest known wait (for the text report's range).
    pub wait_min_minutes: Option<u64>,
    /// Leaf first; the runtime's own leaf frames (gopark, chanrecv...) removed.
    pub stack: Vec<Frame>,
    pub created_by: Option<Frame>,
    /// pprof labels, sorted by key.
    pub labels: Vec<(String, String)>,
    /// Index in `stack` of the first frame outside the runtime and standard library.
    pub user_frame: Option<usize>,
    /// Goroutines the runtime itself marked `(leaked)` (Go's leak detector).
    pub leaked: u64,
    /// Goroutines inside a synctest bubble (tests, not services).
    pub in_bubble: u64,
    pub locked_to_thread: u64,
    /// Whether frames were elided from the stack.
    pub elided: bool,
    /// The first few goroutine ids (debug=2, tracebacks).
    pub ids: Vec<u64>,
}

impl Group {
    pub fn user(&self) -> Option<&Frame> {
        self.user_frame.map(|i| &self.stack[i])
    }
}

/// A parsed dump: its groups, largest first.
#[derive(Clone, Debug)]
pub struct Dump {
    pub format: Format,
    pub total: u64,
    pub groups: Vec<Group>,
    /// The reason line of a crash traceback (`fatal error: ...`, `panic: ...`,
    /// `SIGQUIT: quit`), when there is one.
    pub reason: Option<String>,
    /// Standard-library roots found from the frames (`/usr/local/go`).
    pub goroots: Vec<String>,
}

impl Dump {
    /// Whether the Go runtime itself declared a deadlock.
    pub fn runtime_deadlock(&self) -> bool {
        self.reason
            .as_deref()
            .is_some_and(|r| r.contains("all goroutines are asleep - deadlock"))
    }
}

/// A small fast hasher for interned strings and keys (FxHash's mixing step).
#[derive(Default, Clone, Copy)]
pub(crate) struct Fx(u64);

impl Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap()));
        }
        for &b in chunks.remainder() {
            self.add(b as u64);
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
}

impl Fx {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

/// A frame as interned ids: (function, file, line).
pub(crate) type RawFrame = (u32, u32, u32);

#[derive(PartialEq, Eq, Hash, Clone)]
struct Key {
    state: u32,
    frames: Box<[RawFrame]>,
    created: Option<RawFrame>,
    labels: Box<[(u32, u32)]>,
}

struct Acc {
    count: u64,
    wait_max: Option<u64>,
    wait_min: Option<u64>,
    leaked: u64,
    in_bubble: u64,
    locked: u64,
    elided: bool,
    ids: Vec<u64>,
}

/// One goroutine (or one counted stack) as a parser hands it over.
pub(crate) struct Raw<'a> {
    pub count: u64,
    pub id: Option<u64>,
    pub state: u32,
    pub wait_minutes: Option<u64>,
    pub frames: &'a [RawFrame],
    pub created: Option<RawFrame>,
    pub labels: &'a mut Vec<(u32, u32)>,
    pub leaked: bool,
    pub in_bubble: bool,
    pub locked: bool,
    pub elided: bool,
}

pub(crate) struct Builder {
    strings: Vec<Box<str>>,
    ids: FxMap<Box<str>, u32>,
    groups: FxMap<Key, usize>,
    /// Per group, in first-seen order; the keys live only in `groups`.
    accs: Vec<Acc>,
    max_groups: usize,
    pub total: u64,
}

const MAX_IDS: usize = 5;

impl Builder {
    pub fn new(limits: &Limits) -> Builder {
        let mut b = Builder {
            strings: Vec::new(),
            ids: FxMap::default(),
            groups: FxMap::default(),
            accs: Vec::new(),
            max_groups: limits.max_groups,
            total: 0,
        };
        b.intern(""); // id 0: no state / unknown
        b
    }

    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.strings.push(s.into());
        self.ids.insert(s.into(), id);
        id
    }

    pub fn intern_bytes(&mut self, s: &[u8]) -> u32 {
        match std::str::from_utf8(s) {
            Ok(s) => self.intern(s),
            Err(_) => self.intern(&String::from_utf8_lossy(s)),
        }
    }

    pub fn str(&self, id: u32) -> &str {
        &self.strings[id as usize]
    }

    pub fn add(&mut self, raw: Raw) -> Result<(), Error> {
        raw.labels.sort_unstable();
        let key = Key {
            state: raw.state,
            frames: raw.frames.into(),
            created: raw.created,
            labels: raw.labels.as_slice().into(),
        };
        let idx = match self.groups.get(&key) {
            Some(&i) => i,
            None => {
                if self.accs.len() >= self.max_groups {
                    return err(format!(
                        "more than {} distinct goroutine groups; not a dump this tool can summarise",
                        self.max_groups
                    ));
                }
                let i = self.accs.len();
                self.groups.insert(key, i);
                self.accs.push(Acc {
                    count: 0,
                    wait_max: None,
                    wait_min: None,
                    leaked: 0,
                    in_bubble: 0,
                    locked: 0,
                    elided: false,
                    ids: Vec::new(),
                });
                i
            }
        };
        let acc = &mut self.accs[idx];
        acc.count = acc.count.saturating_add(raw.count);
        self.total = self.total.saturating_add(raw.count);
        if let Some(w) = raw.wait_minutes {
            acc.wait_max = Some(acc.wait_max.map_or(w, |m| m.max(w)));
            acc.wait_min = Some(acc.wait_min.map_or(w, |m| m.min(w)));
        }
        if raw.leaked {
            acc.leaked += raw.count;
        }
        if raw.in_bubble {
            acc.in_bubble += raw.count;
        }
        if raw.locked {
            acc.locked += raw.count;
        }
        acc.elided |= raw.elided;
        if let Some(id) = raw.id {
            if acc.ids.len() < MAX_IDS {
                acc.ids.push(id);
            }
        }
        Ok(())
    }

    pub fn finish(mut self, format: Format, reason: Option<String>) -> Result<Dump, Error> {
        if self.accs.is_empty() {
            return err(
                "no goroutine found: not a goroutine dump (expected ?debug=1 or ?debug=2 text, a Go traceback, or a pprof protobuf profile)",
            );
        }
        let shared: Vec<Arc<str>> = self.strings.iter().map(|s| Arc::from(&**s)).collect();
        let frame = |f: &RawFrame| Frame {
            function: shared[f.0 as usize].clone(),
            file: shared[f.1 as usize].clone(),
            line: f.2,
        };
        let mut keys: Vec<(Key, usize)> = std::mem::take(&mut self.groups).into_iter().collect();
        keys.sort_unstable_by_key(|k| k.1);
        let mut groups: Vec<Group> = Vec::with_capacity(self.accs.len());
        // Groups that become equal once states are inferred and runtime
        // frames dropped merge; found by hash, compared field by field.
        let mut merged: HashMap<u64, Vec<usize>> = HashMap::new();
        for (key, idx) in keys {
            let acc = &self.accs[idx];
            let all: Vec<Frame> = key.frames.iter().map(frame).collect();
            let state = infer_state(self.str(key.state), &all);
            let stack = strip_runtime_leaf(all);
            let created_by = key.created.as_ref().map(frame);
            let labels: Vec<(String, String)> = key
                .labels
                .iter()
                .map(|&(k, v)| (self.str(k).to_string(), self.str(v).to_string()))
                .collect();
            let h = {
                use std::hash::Hash;
                let mut fx = Fx::default();
                (&state, &stack, &created_by, &labels).hash(&mut fx);
                fx.finish()
            };
            let same = merged.get(&h).and_then(|is| {
                is.iter().copied().find(|&i| {
                    let g = &groups[i];
                    g.state == state
                        && g.stack == stack
                        && g.created_by == created_by
                        && g.labels == labels
                })
            });
            if let Some(i) = same {
                let g: &mut Group = &mut groups[i];
                g.count += acc.count;
                g.wait_minutes = max_opt(g.wait_minutes, acc.wait_max);
                g.wait_min_minutes = match (g.wait_min_minutes, acc.wait_min) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                g.leaked += acc.leaked;
                g.in_bubble += acc.in_bubble;
                g.locked_to_thread += acc.locked;
                g.elided |= acc.elided;
                for id in &acc.ids {
                    if g.ids.len() < MAX_IDS {
                        g.ids.push(*id);
                    }
                }
                continue;
            }
            merged.entry(h).or_default().push(groups.len());
            groups.push(Group {
                count: acc.count,
                state,
                wait_minutes: acc.wait_max,
                wait_min_minutes: acc.wait_min,
                stack,
                created_by,
                labels,
                user_frame: None,
                leaked: acc.leaked,
                in_bubble: acc.in_bubble,
                locked_to_thread: acc.locked,
                elided: acc.elided,
                ids: acc.ids.clone(),
            });
        }
        let goroots = find_goroots(&groups);
        for g in &mut groups {
            g.user_frame = g
                .stack
                .iter()
                .position(|f| !is_std_frame(&f.function, &f.file, &goroots));
            // debug=1 hides the runtime's frames, so a stack none of whose
            // frames tells the state is parked in a channel operation or a
            // select (every other wait shows a sync, poll, time or syscall
            // frame; a running goroutine is caught at one line far less often,
            // never by the hundred).
            if format == Format::Debug1 && g.state == "unknown" && !g.stack.is_empty() {
                g.state = CHAN_OR_SELECT.into();
            }
        }
        groups.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.state.cmp(&b.state))
                .then_with(|| a.stack.cmp(&b.stack))
        });
        Ok(Dump {
            format,
            total: self.total,
            groups,
            reason,
            goroots,
        })
    }
}

fn max_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Drops the runtime's leaf frames (gopark, chanrecv1, selectgo, ...) and its
/// root frames (`runtime.main`, `runtime.goexit`): debug=2 hides them, debug=1 and protobuf show them,
/// and the same goroutine must give the same stack in every format.
fn strip_runtime_leaf(mut frames: Vec<Frame>) -> Vec<Frame> {
    let lead = frames
        .iter()
        .take_while(|f| is_runtime_internal(&f.function))
        .count();
    if lead < frames.len() {
        frames.drain(..lead);
    }
    // runtime.main (under main.main) and runtime.goexit: hidden by debug=2.
    while frames.len() > 1
        && frames
            .last()
            .is_some_and(|f| f.function.starts_with("runtime."))
    {
        frames.pop();
    }
    frames
}

/// Frames the debug=2 printer hides: package runtime's internals and the
/// linknamed sync/poll hooks into it.
fn is_runtime_internal(function: &str) -> bool {
    (function.starts_with("runtime.")
        && !matches!(
            function,
            "runtime.main" | "runtime.Goexit" | "runtime.Gosched" | "runtime.GC"
        ))
        || function.starts_with("internal/runtime/")
        || function.starts_with("sync.runtime_")
        || function.starts_with("internal/sync.runtime_")
        || function.starts_with("internal/poll.runtime_")
}

/// The state to show: the dump's own when it is specific, otherwise read from
/// the runtime and sync frames at the top of the stack. Go 1.19 and older say
/// `semacquire` for every sync wait; the frames tell which.
pub fn infer_state(given: &str, frames: &[Frame]) -> String {
    if !given.is_empty() && given != "semacquire" && given != "waiting" {
        return given.to_string();
    }
    let from_frames = state_from_frames(frames);
    match (given, from_frames) {
        (_, Some(s)) => s.to_string(),
        ("", None) => "unknown".to_string(),
        (g, None) => g.to_string(),
    }
}

fn state_from_frames(frames: &[Frame]) -> Option<&'static str> {
    for f in frames.iter().take(12) {
        let n: &str = &f.function;
        let s = match n {
            _ if n.starts_with("runtime.chanrecv") => "chan receive",
            _ if n.starts_with("runtime.chansend") => "chan send",
            "runtime.selectgo" => "select",
            "runtime.block" => "select (no cases)",
            "sync.(*Mutex).Lock"
            | "sync.(*Mutex).lockSlow"
            | "internal/sync.(*Mutex).Lock"
            | "internal/sync.(*Mutex).lockSlow" => "sync.Mutex.Lock",
            "sync.(*RWMutex).RLock" => "sync.RWMutex.RLock",
            "sync.(*RWMutex).Lock" => "sync.RWMutex.Lock",
            "sync.(*WaitGroup).Wait" => "sync.WaitGroup.Wait",
            "sync.(*Cond).Wait" => "sync.Cond.Wait",
            "runtime.netpollblock" | "internal/poll.runtime_pollWait" => "IO wait",
            "time.Sleep" | "runtime.timeSleep" => "sleep",
            "runtime/pprof.writeGoroutineStacks"
            | "runtime/pprof.writeRuntimeProfile"
            | "runtime.goroutineProfileWithLabels"
            | "runtime.Stack" => "running",
            "runtime.runfinq" => "finalizer wait",
            "runtime.gcBgMarkWorker" => "GC worker (idle)",
            "runtime.bgsweep" => "GC sweep wait",
            "runtime.bgscavenge" => "GC scavenge wait",
            "runtime.forcegchelper" => "force gc (idle)",
            _ if n.starts_with("syscall.")
                || n.starts_with("internal/runtime/syscall.")
                || n == "runtime.notetsleepg" =>
            {
                "syscall"
            }
            _ if n.starts_with("sync.runtime_Semacquire")
                || n.starts_with("internal/sync.runtime_Semacquire") =>
            {
                // Keep looking: the caller says which primitive.
                continue;
            }
            _ => continue,
        };
        return Some(s);
    }
    if frames
        .iter()
        .take(12)
        .any(|f| f.function.contains("runtime_Semacquire"))
    {
        return Some("semacquire");
    }
    None
}

/// Top-level directories of the standard library (`net` for `net/http`, ...).
const STD_ROOTS: &[&str] = &[
    "archive",
    "bufio",
    "builtin",
    "bytes",
    "cmp",
    "compress",
    "container",
    "context",
    "crypto",
    "database",
    "debug",
    "embed",
    "encoding",
    "errors",
    "expvar",
    "flag",
    "fmt",
    "go",
    "hash",
    "html",
    "image",
    "index",
    "internal",
    "io",
    "iter",
    "log",
    "maps",
    "math",
    "mime",
    "net",
    "os",
    "path",
    "plugin",
    "reflect",
    "regexp",
    "runtime",
    "slices",
    "sort",
    "strconv",
    "strings",
    "structs",
    "sync",
    "syscall",
    "testing",
    "text",
    "time",
    "unicode",
    "unique",
    "unsafe",
    "vendor",
    "weak",
];

/// The import path of a function's package: `net/http` for
/// `net/http.(*conn).serve`, `main` for `main.main.func1`.
pub fn package_of(function: &str) -> &str {
    let after_slash = function.rfind('/').map_or(0, |i| i + 1);
    match function[after_slash..].find('.') {
        Some(d) => &function[..after_slash + d],
        None => function,
    }
}

fn std_like_package(pkg: &str) -> bool {
    let first = pkg.split('/').next().unwrap_or("");
    STD_ROOTS.contains(&first)
}

/// Roots of the standard library as the dump's frames show them: for a
/// standard package `p` whose file is `<root>/src/p/<file>.go`, `<root>`.
fn find_goroots(groups: &[Group]) -> Vec<String> {
    let mut counts: HashMap<String, u64> = HashMap::new();
    for g in groups {
        for f in g.stack.iter().chain(g.created_by.iter()) {
            if let Some(root) = goroot_of(&f.function, &f.file) {
                *counts.entry(root.to_string()).or_default() += 1;
            }
        }
    }
    let mut roots: Vec<(String, u64)> = counts.into_iter().collect();
    roots.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    roots.into_iter().map(|r| r.0).take(4).collect()
}

fn goroot_of<'a>(function: &str, file: &'a str) -> Option<&'a str> {
    let pkg = package_of(function);
    if !std_like_package(pkg) {
        return None;
    }
    // The file may be in another standard package than the function
    // (`time.Sleep` lives in runtime/time.go).
    let at = file.rfind("/src/")?;
    let dir = file[at + 5..].split('/').next()?;
    if !STD_ROOTS.contains(&dir) || !file[at + 5..].contains('/') {
        return None;
    }
    Some(&file[..at])
}

/// Whether a frame belongs to the runtime or the standard library, told by
/// its file: under a GOROOT found in the dump, or — with `-trimpath`, or when
/// no root could be found — a relative `net/http/server.go` for a function
/// of package `net/http`. Package `main` has no dot either, so the package
/// name alone never decides.
pub fn is_std_frame(function: &str, file: &str, goroots: &[String]) -> bool {
    for root in goroots {
        if file.len() > root.len() + 5
            && file.starts_with(root.as_str())
            && file[root.len()..].starts_with("/src/")
        {
            return true;
        }
    }
    let pkg = package_of(function);
    if !std_like_package(pkg) {
        return false;
    }
    if !file.starts_with('/') && file.starts_with(&format!("{pkg}/")) {
        return true;
    }
    // No root known (a dump with no standard frame to learn it from).
    goroots.is_empty() && goroot_of(function, file).is_some()
        || (file.is_empty() || file == "?") && function.starts_with("runtime.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(function: &str, file: &str) -> Frame {
        Frame::new(function, file, 1)
    }

    #[test]
    fn packages_of_functions() {
        assert_eq!(package_of("net/http.(*conn).serve"), "net/http");
        assert_eq!(package_of("main.main.func1"), "main");
        assert_eq!(package_of("github.com/a/b.(*T).M"), "github.com/a/b");
        assert_eq!(
            package_of("example.com/x/v2/pkg.F[...]"),
            "example.com/x/v2/pkg"
        );
    }

    #[test]
    fn std_frames_are_told_by_their_file() {
        let roots = vec!["/usr/local/go".to_string()];
        assert!(is_std_frame(
            "net/http.(*conn).serve",
            "/usr/local/go/src/net/http/server.go",
            &roots
        ));
        assert!(!is_std_frame("main.main", "/home/u/svc/main.go", &roots));
        // A user package named like a standard one, outside GOROOT.
        assert!(!is_std_frame(
            "sync.helper",
            "/home/u/svc/sync/x.go",
            &roots
        ));
        // -trimpath.
        assert!(is_std_frame(
            "net/http.(*conn).serve",
            "net/http/server.go",
            &[]
        ));
        assert!(!is_std_frame("main.main", "example.com/svc/main.go", &[]));
        assert!(!is_std_frame("main.main", "myapp/main.go", &[]));
    }

    #[test]
    fn states_are_inferred_from_runtime_frames() {
        let s = |fs: &[&str]| {
            let frames: Vec<Frame> = fs.iter().map(|n| f(n, "/go/src/x.go")).collect();
            infer_state("", &frames)
        };
        assert_eq!(
            s(&[
                "runtime.gopark",
                "runtime.chanrecv",
                "runtime.chanrecv1",
                "main.f"
            ]),
            "chan receive"
        );
        assert_eq!(
            s(&[
                "runtime.gopark",
                "runtime.chansend",
                "runtime.chansend1",
                "main.f"
            ]),
            "chan send"
        );
        assert_eq!(
            s(&["runtime.gopark", "runtime.selectgo", "main.f"]),
            "select"
        );
        assert_eq!(
            s(&[
                "runtime.gopark",
                "runtime.goparkunlock",
                "runtime.semacquire1",
                "sync.runtime_SemacquireMutex",
                "internal/sync.(*Mutex).lockSlow",
                "internal/sync.(*Mutex).Lock",
                "sync.(*Mutex).Lock",
                "main.f"
            ]),
            "sync.Mutex.Lock"
        );
        assert_eq!(
            s(&[
                "runtime.gopark",
                "sync.runtime_SemacquireWaitGroup",
                "sync.(*WaitGroup).Wait",
                "main.f"
            ]),
            "sync.WaitGroup.Wait"
        );
        assert_eq!(s(&["main.f"]), "unknown");
        // Go 1.19 said semacquire for all of them.
        let frames = vec![
            f("sync.runtime_SemacquireMutex", "/x"),
            f("sync.(*Mutex).lockSlow", "/x"),
            f("main.f", "/y"),
        ];
        assert_eq!(infer_state("semacquire", &frames), "sync.Mutex.Lock");
        assert_eq!(
            infer_state("semacquire", &[f("main.f", "/y")]),
            "semacquire"
        );
    }
}
