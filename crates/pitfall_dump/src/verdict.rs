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
        "chan send" | "chan send (nil chan)" => "nobody receives: give the channel a buffer the size of the sends, or send in a select with `case <-ctx.Done(): return`",
        "chan receive" | "chan receive (nil chan)" => "nobody sends or closes: close the channel when the producer is done, or receive in a select with `case <-ctx.Done(): return`",
        "select" | "select (no cases)" => "no case can fire: add `case <-ctx.Done(): return` (or a quit channel that is closed), and `defer t.Stop()` for tickers",
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

pub fn leaked(dump: &Dump, earlier: Option<&Dump>, o: &LeakOptions) -> Vec<Verdict> {
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
        let why = if s.leaked > 0 {
            Some(format!(
                "the Go runtime marked {} as leaked (unreachable)",
                goroutines(s.leaked)
            ))
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
        out.push(Verdict {
            frame: s.frame.clone(),
            count: s.count,
            message,
            fix: leak_fix(&s.state).to_string(),
            groups: s.groups.clone(),
        });
    }
    out
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
