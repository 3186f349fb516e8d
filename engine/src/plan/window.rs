//! Window definitions and Kafka Streams' rules for which windows a record
//! falls into. Sliding windows depend on the records seen, so their rules
//! live in the operator (`operators::sliding`).

use std::fmt;

/// How records are grouped in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WindowKind {
    /// Fixed, non-overlapping windows `[k·size, (k+1)·size)`.
    Tumbling {
        /// Window length, ms.
        size_ms: i64,
    },
    /// Fixed windows of `size` starting every `advance`; a record falls into
    /// `size / advance` windows.
    Hopping {
        /// Window length, ms.
        size_ms: i64,
        /// Distance between window starts, ms.
        advance_ms: i64,
    },
    /// Per-key sessions: records less than `gap` apart share a session;
    /// a record that bridges two sessions merges them.
    Session {
        /// Inactivity gap, ms.
        gap_ms: i64,
    },
    /// Kafka Streams' sliding windows (`SlidingWindows`): per key, windows
    /// `[start, start + difference]`, both ends inclusive, one for each
    /// distinct set of records that fits in `difference`. Each record
    /// makes its left window `[t - difference, t]` (`[0, difference]` for
    /// records before `difference`) and, when later records fall within
    /// `difference` of it, its right window `[t + 1, t + 1 + difference]`.
    Sliding {
        /// Largest time difference between two records of one window, ms.
        difference_ms: i64,
    },
}

/// A window definition with its grace period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WindowSpec {
    /// The windows.
    pub kind: WindowKind,
    /// How long after a window ends late records are still accepted. ksqlDB's
    /// default is 24 hours; Kafka Streams 3's is 0 with `ofSizeWithNoGrace`.
    pub grace_ms: i64,
    /// How long closed windows are kept in the store (for pull queries);
    /// at least size + grace.
    pub retention_ms: Option<i64>,
}

/// ksqlDB's default grace period when a query gives none: 24 hours.
pub const DEFAULT_GRACE_MS: i64 = 24 * 60 * 60 * 1000;

impl WindowSpec {
    /// Tumbling windows of `size_ms` with `grace_ms` grace.
    pub fn tumbling(size_ms: i64, grace_ms: i64) -> Self {
        WindowSpec { kind: WindowKind::Tumbling { size_ms }, grace_ms, retention_ms: None }
    }

    /// Hopping windows.
    pub fn hopping(size_ms: i64, advance_ms: i64, grace_ms: i64) -> Self {
        WindowSpec { kind: WindowKind::Hopping { size_ms, advance_ms }, grace_ms, retention_ms: None }
    }

    /// Session windows.
    pub fn session(gap_ms: i64, grace_ms: i64) -> Self {
        WindowSpec { kind: WindowKind::Session { gap_ms }, grace_ms, retention_ms: None }
    }

    /// Sliding windows: records at most `difference_ms` apart share a
    /// window.
    pub fn sliding(difference_ms: i64, grace_ms: i64) -> Self {
        WindowSpec { kind: WindowKind::Sliding { difference_ms }, grace_ms, retention_ms: None }
    }

    /// Checks sizes are positive and the advance fits the size.
    ///
    /// # Errors
    /// A message saying which value is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.grace_ms < 0 {
            return Err(format!("grace period must not be negative (got {} ms)", self.grace_ms));
        }
        match self.kind {
            WindowKind::Tumbling { size_ms } if size_ms <= 0 => {
                Err(format!("window size must be positive (got {size_ms} ms)"))
            }
            WindowKind::Hopping { size_ms, advance_ms } if size_ms <= 0 || advance_ms <= 0 => {
                Err(format!("window size and advance must be positive (got {size_ms} ms, {advance_ms} ms)"))
            }
            WindowKind::Hopping { size_ms, advance_ms } if advance_ms > size_ms => Err(format!(
                "window advance ({advance_ms} ms) must not exceed the window size ({size_ms} ms)"
            )),
            WindowKind::Session { gap_ms } if gap_ms <= 0 => {
                Err(format!("session gap must be positive (got {gap_ms} ms)"))
            }
            WindowKind::Sliding { difference_ms } if difference_ms <= 0 => {
                Err(format!("sliding window time difference must be positive (got {difference_ms} ms)"))
            }
            _ => Ok(()),
        }
    }

    /// Window length: `end - start` (the gap for sessions, the time
    /// difference for sliding windows, whose end is inclusive).
    pub fn size_ms(&self) -> i64 {
        match self.kind {
            WindowKind::Tumbling { size_ms } | WindowKind::Hopping { size_ms, .. } => size_ms,
            WindowKind::Session { gap_ms } => gap_ms,
            WindowKind::Sliding { difference_ms } => difference_ms,
        }
    }

    /// How long the store keeps windows: the explicit retention or the
    /// least the operator needs, whichever is larger. That least is
    /// size + grace; sliding windows need `3·difference + grace + 2`, as
    /// an accepted record (at most `difference + grace` behind stream
    /// time) reads windows starting up to `2·difference + 1` before it,
    /// and the store's time runs one past stream time (right windows start
    /// at `t + 1`).
    pub fn store_retention_ms(&self) -> i64 {
        let min = match self.kind {
            WindowKind::Sliding { difference_ms } => {
                difference_ms.saturating_mul(3).saturating_add(self.grace_ms).saturating_add(2)
            }
            _ => self.size_ms().saturating_add(self.grace_ms),
        };
        self.retention_ms.map_or(min, |r| r.max(min))
    }

    /// Whether this is a session window.
    pub fn is_session(&self) -> bool {
        matches!(self.kind, WindowKind::Session { .. })
    }

    /// Whether this is a sliding window.
    pub fn is_sliding(&self) -> bool {
        matches!(self.kind, WindowKind::Sliding { .. })
    }

    /// Starts of the time windows containing `ts`, oldest first, as Kafka
    /// Streams' `TimeWindows.windowsFor`: windows never start before 0.
    /// Empty for session and sliding windows (their windows depend on the
    /// other records of the key).
    pub fn window_starts(&self, ts: i64, out: &mut Vec<i64>) {
        out.clear();
        let (size, advance) = match self.kind {
            WindowKind::Tumbling { size_ms } => (size_ms, size_ms),
            WindowKind::Hopping { size_ms, advance_ms } => (size_ms, advance_ms),
            WindowKind::Session { .. } | WindowKind::Sliding { .. } => return,
        };
        if ts < 0 {
            return;
        }
        let lowest = (ts - size + advance).max(0);
        let mut start = lowest - lowest.rem_euclid(advance);
        while start <= ts {
            if start + size > ts {
                out.push(start);
            }
            start += advance;
        }
    }
}

impl fmt::Display for WindowSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            WindowKind::Tumbling { size_ms } => write!(f, "TUMBLING(size={size_ms}ms")?,
            WindowKind::Hopping { size_ms, advance_ms } => {
                write!(f, "HOPPING(size={size_ms}ms, advance={advance_ms}ms")?
            }
            WindowKind::Session { gap_ms } => write!(f, "SESSION(gap={gap_ms}ms")?,
            WindowKind::Sliding { difference_ms } => write!(f, "SLIDING(difference={difference_ms}ms")?,
        }
        write!(f, ", grace={}ms)", self.grace_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tumbling_window_contains_record() {
        let w = WindowSpec::tumbling(1000, 0);
        let mut v = Vec::new();
        w.window_starts(0, &mut v);
        assert_eq!(v, vec![0]);
        w.window_starts(999, &mut v);
        assert_eq!(v, vec![0]);
        w.window_starts(1000, &mut v);
        assert_eq!(v, vec![1000]);
    }

    #[test]
    fn hopping_windows_overlap_and_never_start_below_zero() {
        let w = WindowSpec::hopping(1000, 250, 0);
        let mut v = Vec::new();
        w.window_starts(1100, &mut v);
        assert_eq!(v, vec![250, 500, 750, 1000]);
        w.window_starts(100, &mut v);
        assert_eq!(v, vec![0]);
    }

    #[test]
    fn validation_names_the_bad_value() {
        assert!(WindowSpec::hopping(100, 200, 0).validate().unwrap_err().contains("advance"));
        assert!(WindowSpec::tumbling(0, 0).validate().is_err());
        assert!(WindowSpec::session(10, -1).validate().unwrap_err().contains("grace"));
        assert!(WindowSpec::sliding(0, 0).validate().unwrap_err().contains("difference"));
        assert!(WindowSpec::sliding(10, 0).validate().is_ok());
    }

    #[test]
    fn sliding_windows_display_and_keep_what_the_operator_reads() {
        let w = WindowSpec::sliding(10, 5);
        assert_eq!(w.to_string(), "SLIDING(difference=10ms, grace=5ms)");
        assert_eq!(w.size_ms(), 10);
        assert_eq!(w.store_retention_ms(), 3 * 10 + 5 + 2);
        let mut v = vec![1];
        w.window_starts(20, &mut v);
        assert!(v.is_empty());
    }
}
