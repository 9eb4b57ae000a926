//! A progress bar on stderr for long runs: only when stderr is a terminal,
//! and only once the run has taken more than a second (short runs and pipes
//! or CI logs never see it).

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Progress {
    done: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

const DELAY: Duration = Duration::from_secs(1);
const TICK: Duration = Duration::from_millis(100);

impl Progress {
    /// Starts counting towards `total` files; draws only when `show`.
    pub fn start(total: usize, show: bool) -> Progress {
        let done = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = show.then(|| {
            let (done, stop) = (done.clone(), stop.clone());
            std::thread::spawn(move || draw_until_stopped(total, &done, &stop))
        });
        Progress { done, stop, thread }
    }

    /// Whether stderr is a terminal that can redraw a line.
    pub fn wanted() -> bool {
        use std::io::IsTerminal;
        std::io::stderr().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb")
    }

    /// `n` more files done.
    pub fn add(&self, n: usize) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    /// Stops and clears the bar.
    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn draw_until_stopped(total: usize, done: &AtomicUsize, stop: &AtomicBool) {
    let started = Instant::now();
    let mut drawn = false;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(TICK);
        if started.elapsed() < DELAY || stop.load(Ordering::Relaxed) {
            continue;
        }
        let line = bar(done.load(Ordering::Relaxed).min(total), total);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line}");
        let _ = err.flush();
        drawn = true;
    }
    if drawn {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}

/// `[#########               ] 1234/5539 files`
pub fn bar(done: usize, total: usize) -> String {
    const WIDTH: usize = 30;
    let filled = if total == 0 {
        WIDTH
    } else {
        done * WIDTH / total
    };
    format!(
        "[{}{}] {done}/{total} files",
        "#".repeat(filled),
        " ".repeat(WIDTH - filled)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn bar_fills_with_the_files_done() {
        assert_eq!(
            super::bar(0, 10),
            format!("[{}] 0/10 files", " ".repeat(30))
        );
        assert_eq!(
            super::bar(5, 10),
            format!("[{}{}] 5/10 files", "#".repeat(15), " ".repeat(15))
        );
        assert_eq!(
            super::bar(10, 10),
            format!("[{}] 10/10 files", "#".repeat(30))
        );
    }
}
