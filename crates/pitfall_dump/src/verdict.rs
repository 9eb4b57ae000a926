//! Verdicts, decided per blocking site: the state and the first frame outside
//! the runtime and standard library. Groups that differ only in labels (or in
//! the frames below the site) add up at their site.

use crate::{Dump, Frame, Group};
use std::collections::BTreeMap;

/// How a state blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// Parked on a channel, select, WaitGroup or Cond: waits for another
    /// goroutine, possibly forever.
    Parked,
    /// Waiting to acquire a mutex.
    Mutex,
    /// Anything else (running, IO wait, syscall, sleep, runtime idle...).
    Other,
}

pub fn class_of(state: &str) -> Class {
    match state {
        "chan send"
        | "chan receive"
        | "select"
        | "select (no cases)"
        | "chan send (nil chan)"
        | "chan receive (nil chan)"
        | "sync.WaitGroup.Wait"
        | "sync.Cond.Wait"
        | "semacquire"
        | crate::group::CHAN_OR_SELECT => Class::Parked,
        "sync.Mutex.Lock" | "sync.RWMutex.Lock" | "sync.RWMutex.RLock" => Class::Mutex,
        _ => Class::Other,
    }
}

/// Goroutines blocked at one place, over all their groups.
#[derive(Clone, Debug)]
pub struct Site {
    pub state: String,
    pub frame: Frame,
    pub count: u64,
    pub wait_minutes: Option<u64>,
    pub leaked: u64,
    /// Indexes into `Dump::groups`.
    pub groups: Vec<usize>,
    pub created_by: Option<Frame>,
}

/// Sites of goroutines that stand in user code, largest first. Goroutines in
/// a synctest bubble (tests) are left out.
pub fn sites(dump: &Dump) -> Vec<Site> {
    let mut by: BTreeMap<(String, Frame), Site> = BTreeMap::new();
    for (i, g) in dump.groups.iter().enumerate() {
        let Some(frame) = g.user() else { continue };
        let n = g.count.saturating_sub(g.in_bubble);
        if n == 0 {
            continue;
        }
        let s = by
            .entry((g.state.clone(), frame.clone()))
            .or_insert_with(|| Site {
                state: g.state.clone(),
                frame: frame.clone(),
                count: 0,
                wait_minutes: None,
                leaked: 0,
                groups: Vec::new(),
                created_by: g.created_by.clone(),
            });
        s.count += n;
        s.leaked += g.leaked;
        s.wait_minutes = match (s.wait_minutes, g.wait_minutes) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        s.groups.push(i);
    }
    let mut v: Vec<Site> = by.into_values().collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.frame.cmp(&b.frame)));
    v
}

/// One verdict: where, what, and how to fix it.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub frame: Frame,
    pub count: u64,
    pub message: String,
    pub fix: String,
    pub groups: Vec<usize>,
}

fn short(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

/// `3120` -> `3,120`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn goroutines(n: u64) -> String {
    if n == 1 {
        "1 goroutine".into()
    } else {
        format!("{} goroutines", thousands(n))
    }
}

fn describe(s: &Site) -> String {
    let mut m = format!(
        "{} blocked in {} at {} ({}:{})",
        goroutines(s.count),
        s.state,
        s.frame.function,
        short(&s.frame.file),
        s.frame.line
    );
    if let Some(c) = &s.created_by {
        m += &format!(
            ", started by {} ({}:{})",
            c.function,
            short(&c.file),
            c.line
        );
    }
    if let Some(w) = s.wait_minutes {
        m += &format!("; the oldest has waited {w} minutes");
    }
    m
}

fn leak_fix(state: &str) -> &'static str {
    match state {
        "chan send (nil chan)" | "chan receive (nil chan)" => "the channel is nil: make it (`make(chan T)`) before any goroutine uses it — a struct field or variable never assigned stays nil — or, if nil disables it on purpose, use it only inside a select with another case that ends the goroutine",
        "select (no cases)" => "`select {}` never returns: let the goroutine return when its work is done, or wait on a channel that is closed at shutdown",
        "chan send" => "nobody receives: give the channel a buffer the size of the sends, or send in a select with `case <-ctx.Done(): return`",
        "chan receive" => "nobody sends or closes: close the channel when the producer is done, or receive in a select with `case <-ctx.Done(): return`",
        "select" => "no case can fire: add `case <-ctx.Done(): return` (or a quit channel that is closed), and `defer t.Stop()` for tickers",
        "sync.WaitGroup.Wait" => "a Done is missing: call `defer wg.Done()` first thing in every goroutine counted by Add",
        "sync.Cond.Wait" => "no Signal/Broadcast comes: broadcast on every state change and on shutdown",
        _ => "make every blocking operation of this goroutine end when its work or its context does",
    }
}

/// Thresholds of `leaked-goroutines`.
#[derive(Clone, Copy, Debug)]
pub struct LeakOptions {
    /// Parked goroutines at one site that are a leak whatever their age.
    pub min_count: u64,
    /// Parked goroutines at one site that are a leak when the oldest has
    /// waited at least `min_wait_minutes`.
    pub min_count_waiting: u64,
    pub min_wait_minutes: u64,
    /// Growth between the first and the last dump that is a leak.
    pub min_growth: u64,
}

impl Default for LeakOptions {
    fn default() -> Self {
        LeakOptions {
            min_count: 100,
            min_count_waiting: 10,
            min_wait_minutes: 10,
            min_growth: 50,
        }
    }
}

/// A finding of `pitfall check` on the source the dump came from
/// (`pitfall dump --source`), as a verdict quotes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticFinding {
    pub rule: String,
    pub path: String,
    pub line: u32,
    pub message: String,
}

/// What the source says about a dump: the static findings a verdict can use
/// as its explanation.
pub trait Statics {
    /// Concurrency findings (goroutine, channel and sync rules) on the line
    /// of `frame`.
    fn concurrency_at(&self, frame: &Frame) -> Vec<StaticFinding>;
    /// Every finding of one rule in the source.
    fn of_rule(&self, rule: &str) -> Vec<StaticFinding>;
}

/// States that no other goroutine can ever end: an operation on a nil
/// channel, a `select {}`. The dump shows them only where it prints the wait
/// reason (debug=2 and tracebacks; debug=1 and protobuf say `chan send` or
/// nothing).
pub fn parked_forever(state: &str) -> bool {
    matches!(
        state,
        "chan send (nil chan)" | "chan receive (nil chan)" | "select (no cases)"
    )
}

/// The main goroutine parked in `select {}` keeps a server's process alive
/// while other goroutines serve: the idiom, not a leak.
fn is_main_blocking_forever(dump: &Dump, s: &Site) -> bool {
    s.state == "select (no cases)"
        && s.groups.iter().all(|&i| {
            let g = &dump.groups[i];
            g.created_by.is_none() && g.stack.last().is_some_and(|f| &*f.function == "main.main")
        })
}

/// `goroutine-leak at main.go:12 (...)`, for the explanation of a verdict.
fn quote(f: &StaticFinding) -> String {
    format!("{} at {}:{} ({})", f.rule, f.path, f.line, f.message)
}

pub fn leaked(dump: &Dump, earlier: Option<&Dump>, o: &LeakOptions) -> Vec<Verdict> {
    leaked_with(dump, earlier, o, None)
}

/// [`leaked`], with what the source says when it is known: a parked site on
/// a line where `pitfall check` reports a concurrency finding is a leak from
/// two goroutines (or one that has waited a minute), whatever the thresholds.
pub fn leaked_with(
    dump: &Dump,
    earlier: Option<&Dump>,
    o: &LeakOptions,
    statics: Option<&dyn Statics>,
) -> Vec<Verdict> {
    // By class and frame: debug=1 says `chan or select` where debug=2 says `chan send`.
    let mut before: BTreeMap<(Class, Frame), u64> = BTreeMap::new();
    for s in earlier.map(sites).unwrap_or_default() {
        *before.entry((class_of(&s.state), s.frame)).or_default() += s.count;
    }
    let mut out = Vec::new();
    for s in sites(dump) {
        if class_of(&s.state) != Class::Parked && s.leaked == 0 {
            continue;
        }
        let grew = earlier.map(|_| {
            let b = before
                .get(&(class_of(&s.state), s.frame.clone()))
                .copied()
                .unwrap_or(0);
            (b, s.count.saturating_sub(b))
        });
        let explained: Vec<StaticFinding> = match statics {
            Some(st) if class_of(&s.state) == Class::Parked => st.concurrency_at(&s.frame),
            _ => Vec::new(),
        };
        let why = if s.leaked > 0 {
            Some(format!(
                "the Go runtime marked {} as leaked (unreachable)",
                goroutines(s.leaked)
            ))
        } else if parked_forever(&s.state) && !is_main_blocking_forever(dump, &s) {
            Some(if s.state == "select (no cases)" {
                "a select with no cases never returns".to_string()
            } else {
                "an operation on a nil channel never completes".to_string()
            })
        } else if s.count >= o.min_count {
            Some(format!("at least {} at one site", o.min_count))
        } else if s.count >= o.min_count_waiting
            && s.wait_minutes.is_some_and(|w| w >= o.min_wait_minutes)
        {
            Some(format!(
                "at least {} at one site waiting {}+ minutes",
                o.min_count_waiting, o.min_wait_minutes
            ))
        } else if let Some((b, g)) = grew.filter(|&(_, g)| g >= o.min_growth) {
            Some(format!(
                "grew from {} to {} between the dumps",
                thousands(b),
                thousands(b + g)
            ))
        } else if !explained.is_empty() && (s.count >= 2 || s.wait_minutes.is_some_and(|w| w >= 1))
        {
            Some("parked where the code has a blocking bug".to_string())
        } else {
            None
        };
        let Some(why) = why else { continue };
        let mut message = format!("goroutine leak: {} ({why})", describe(&s));
        if let Some((b, g)) = grew {
            if g > 0 && !message.contains("between the dumps") {
                message += &format!(
                    "; grew from {} to {} between the dumps",
                    thousands(b),
                    thousands(b + g)
                );
            }
        }
        if !explained.is_empty() {
            let quoted: Vec<String> = explained.iter().map(quote).collect();
            message += &format!("; `pitfall check` explains it: {}", quoted.join("; "));
        }
        out.push(Verdict {
            frame: s.frame.clone(),
            count: s.count,
            message,
            fix: leak_fix(&s.state).to_string(),
            groups: s.groups.clone(),
        });
    }
    out.extend(held_connections(dump, earlier, o, statics));
    out
}

/// The read loop of an HTTP client connection (`net/http.(*persistConn)`),
/// parked in its select while the caller holds the response body.
fn is_body_wait(g: &Group) -> bool {
    class_of(&g.state) == Class::Parked
        && g.stack
            .first()
            .is_some_and(|f| &*f.function == "net/http.(*persistConn).readLoop")
}

/// HTTP client connections held by response bodies nobody closed. Each
/// connection has a read loop and a write loop and no user frame: an idle
/// pooled connection reads (IO wait), while one whose body is still out waits
/// in a select for the body to be read to the end or closed. Many of those,
/// or old ones, are bodies that will never be closed.
fn held_connections(
    dump: &Dump,
    earlier: Option<&Dump>,
    o: &LeakOptions,
    statics: Option<&dyn Statics>,
) -> Vec<Verdict> {
    let held = |d: &Dump| -> (u64, Option<u64>, Vec<usize>) {
        let mut n = 0;
        let mut wait = None;
        let mut groups = Vec::new();
        for (i, g) in d.groups.iter().enumerate().filter(|(_, g)| is_body_wait(g)) {
            n += g.count.saturating_sub(g.in_bubble);
            wait = match (wait, g.wait_minutes) {
                (Some(a), Some(b)) => Some(u64::max(a, b)),
                (a, b) => a.or(b),
            };
            groups.push(i);
        }
        (n, wait, groups)
    };
    let (count, wait, groups) = held(dump);
    if count == 0 {
        return Vec::new();
    }
    let before = earlier.map(|e| held(e).0);
    let why = if count >= o.min_count {
        format!("at least {}", o.min_count)
    } else if count >= o.min_count_waiting && wait.is_some_and(|w| w >= o.min_wait_minutes) {
        format!(
            "at least {} with the oldest waiting {}+ minutes",
            o.min_count_waiting, o.min_wait_minutes
        )
    } else if let Some(b) = before.filter(|&b| count.saturating_sub(b) >= o.min_growth) {
        format!(
            "grew from {} to {} between the dumps",
            thousands(b),
            thousands(count)
        )
    } else {
        return Vec::new();
    };
    let first = &dump.groups[groups[0]];
    let frame = first.stack[0].clone();
    let plural = if count == 1 { "" } else { "s" };
    let mut message = format!(
        "connection leak: {n} HTTP client connection{plural} held open by response bodies nobody closed \
         ({n} net/http.(*persistConn).readLoop goroutine{plural} waiting for the body to be read or closed, \
         each with its writeLoop; {why})",
        n = thousands(count),
    );
    if let Some(w) = wait {
        message += &format!("; the oldest has waited {w} minutes");
    }
    if let Some(st) = statics {
        let found = st.of_rule("unclosed-response-body");
        if !found.is_empty() {
            let shown: Vec<String> = found
                .iter()
                .take(5)
                .map(|f| format!("{}:{}", f.path, f.line))
                .collect();
            message += &format!(
                "; `pitfall check` reports unclosed-response-body at {}{}",
                shown.join(", "),
                if found.len() > 5 {
                    format!(" and {} more", found.len() - 5)
                } else {
                    String::new()
                }
            );
        }
    }
    vec![Verdict {
        frame,
        count,
        message,
        fix: "close every response body: `defer resp.Body.Close()` right after the error check, on every path (non-2xx statuses too), and read it to the end first if the connection should be reused".into(),
        groups,
    }]
}

/// Thresholds of `lock-contention`.
#[derive(Clone, Copy, Debug)]
pub struct ContentionOptions {
    pub min_count: u64,
}

pub fn contention(dump: &Dump, o: &ContentionOptions) -> Vec<Verdict> {
    sites(dump)
        .into_iter()
        .filter(|s| class_of(&s.state) == Class::Mutex && s.count >= o.min_count)
        .map(|s| Verdict {
            frame: s.frame.clone(),
            count: s.count,
            message: format!("lock contention: {}", describe(&s)),
            fix: "hold the lock for less time (no I/O or calls out while holding it), shard it, or use an RWMutex for read-mostly data; if the count keeps growing the lock is never released".into(),
            groups: s.groups.clone(),
        })
        .collect()
}

/// Thresholds of `deadlock`.
#[derive(Clone, Copy, Debug)]
pub struct DeadlockOptions {
    pub min_wait_minutes: u64,
}

/// States in which a goroutine can still make progress (or wake others).
fn can_progress(g: &Group) -> bool {
    matches!(
        g.state.as_str(),
        "running" | "runnable" | "syscall" | "IO wait" | "sleep" | "preempted"
    ) || g.state.starts_with("GC ") && g.state.contains("active")
        || g.stack
            .iter()
            .any(|f| f.function.starts_with("os/signal.") || f.function.starts_with("time."))
}

pub fn deadlock(dump: &Dump, o: &DeadlockOptions) -> Vec<Verdict> {
    let all_sites = sites(dump);
    let blocked: Vec<&Site> = all_sites
        .iter()
        .filter(|s| class_of(&s.state) != Class::Other)
        .collect();
    let user_groups = dump
        .groups
        .iter()
        .filter(|g| g.user_frame.is_some())
        .count();
    let all_blocked = user_groups > 0
        && !blocked.is_empty()
        && dump.groups.iter().all(|g| {
            !can_progress(g) && (g.user_frame.is_none() || class_of(&g.state) != Class::Other)
        });
    let mut out = Vec::new();
    if dump.runtime_deadlock() || all_blocked {
        let why = if dump.runtime_deadlock() {
            "the Go runtime reports that all goroutines are asleep"
        } else {
            "every goroutine in the dump is blocked and none can wake the others"
        };
        for s in blocked {
            out.push(Verdict {
                frame: s.frame.clone(),
                count: s.count,
                message: format!("deadlock: {} — {why}", describe(s)),
                fix: deadlock_fix(&s.state).into(),
                groups: s.groups.clone(),
            });
        }
        return out;
    }
    for s in all_sites
        .iter()
        .filter(|s| class_of(&s.state) == Class::Mutex)
    {
        if let Some(w) = s.wait_minutes.filter(|&w| w >= o.min_wait_minutes) {
            out.push(Verdict {
                frame: s.frame.clone(),
                count: s.count,
                message: format!(
                    "deadlock: {} — a lock waited on for {w} minutes is never released",
                    describe(s)
                ),
                fix: deadlock_fix(&s.state).into(),
                groups: s.groups.clone(),
            });
        }
    }
    out
}

fn deadlock_fix(state: &str) -> &'static str {
    match class_of(state) {
        Class::Mutex => "look for a Lock taken twice on one path (a method that locks calling another that locks), an Unlock skipped by an early return (use defer), or two locks taken in opposite orders",
        _ => "make sure every receive has a sender (or a close) and every Wait its Done on all paths, including errors",
    }
}

/// A group whose count grew between two dumps.
#[derive(Clone, Debug)]
pub struct Growth {
    /// Index into the later dump's groups.
    pub group: usize,
    pub before: u64,
    pub after: u64,
}

/// Groups of `after` that hold more goroutines than the same stack with the
/// same labels in `before`, by growth. State and creator are left out of the
/// match so that dumps of different formats compare (debug=1 has neither).
pub fn grew(before: &Dump, after: &Dump) -> Vec<Growth> {
    type K<'a> = (&'a [Frame], &'a [(String, String)]);
    fn key(g: &Group) -> K<'_> {
        (&g.stack, &g.labels)
    }
    let mut old: BTreeMap<K, u64> = BTreeMap::new();
    for g in &before.groups {
        *old.entry(key(g)).or_default() += g.count;
    }
    let mut new: BTreeMap<K, (usize, u64)> = BTreeMap::new();
    for (i, g) in after.groups.iter().enumerate() {
        let e = new.entry(key(g)).or_insert((i, 0));
        e.1 += g.count;
    }
    let mut out: Vec<Growth> = new
        .into_iter()
        .filter_map(|(k, (i, n))| {
            let b = old.get(&k).copied().unwrap_or(0);
            (n > b).then_some(Growth {
                group: i,
                before: b,
                after: n,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (b.after - b.before)
            .cmp(&(a.after - a.before))
            .then(a.group.cmp(&b.group))
    });
    out
}
