//! Progress of long operations (restoring at start, loading a benchmark's
//! data, replaying a topic): a bar redrawn in place when stderr is a
//! terminal, plain lines at every 10% otherwise (logs, CI).

use std::io::{IsTerminal as _, Write as _};
use std::time::Instant;

/// A progress reporter for `total` units of work, written to stderr.
#[derive(Debug)]
pub struct Progress {
    label: String,
    total: u64,
    done: u64,
    started: Instant,
    terminal: bool,
    /// Next percentage to print a plain line at (non-terminal output).
    next_mark: u64,
    last_draw: Instant,
    quiet: bool,
}

impl Progress {
    /// Starts reporting `label` over `total` units.
    pub fn new(label: impl Into<String>, total: u64) -> Self {
        Progress {
            label: label.into(),
            total: total.max(1),
            done: 0,
            started: Instant::now(),
            terminal: std::io::stderr().is_terminal(),
            next_mark: 10,
            last_draw: Instant::now(),
            quiet: false,
        }
    }

    /// A reporter that prints nothing (for `--json` runs).
    pub fn hidden() -> Self {
        Progress { quiet: true, ..Progress::new("", 1) }
    }

    /// `n` more units are done.
    pub fn advance(&mut self, n: u64) {
        self.done = (self.done + n).min(self.total);
        if self.quiet {
            return;
        }
        let pct = self.done * 100 / self.total;
        if self.terminal {
            if self.last_draw.elapsed().as_millis() >= 100 || self.done == self.total {
                self.draw(pct);
                self.last_draw = Instant::now();
            }
        } else if pct >= self.next_mark {
            eprintln!("{}: {pct}% ({} of {})", self.label, self.done, self.total);
            self.next_mark = (pct / 10 + 1) * 10;
        }
    }

    fn draw(&self, pct: u64) {
        const WIDTH: u64 = 30;
        let filled = (pct * WIDTH / 100) as usize;
        let bar = format!("{}{}", "#".repeat(filled), "-".repeat(WIDTH as usize - filled));
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{} [{bar}] {pct:>3}% {}/{} {:.1}s", self.label, self.done, self.total, self.started.elapsed().as_secs_f64());
        let _ = err.flush();
    }

    /// Ends the report (a newline after a bar); later calls do nothing.
    pub fn finish(&mut self) {
        self.done = self.total;
        if self.quiet {
            return;
        }
        self.quiet = true;
        if self.terminal {
            self.draw(100);
            eprintln!();
        } else if self.next_mark <= 100 {
            eprintln!("{}: 100% ({} of {}) in {:.1} s", self.label, self.total, self.total, self.started.elapsed().as_secs_f64());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Progress;

    #[test]
    fn counts_saturate_at_the_total() {
        let mut p = Progress::hidden();
        p.total = 10;
        p.advance(7);
        p.advance(7);
        assert_eq!(p.done, 10);
    }
}
