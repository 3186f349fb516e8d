//! Window definitions in Kafka Streams' vocabulary ([`TimeWindows`],
//! [`SlidingWindows`], [`SessionWindows`], [`JoinWindows`]), the
//! [`Windowed`] key of windowed tables, and [`Suppressed`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::plan::{JoinWindow, WindowSpec, DEFAULT_GRACE_MS};

/// Milliseconds of `d`, saturating at `i64::MAX`.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Fixed-size time windows: tumbling, or hopping with
/// [`TimeWindows::advance_by`]. Windows start at multiples of the advance
/// from the epoch.
///
/// The grace period (how long after a window ends late records are still
/// counted) is 24 hours unless set: Kafka Streams 2.x's and ksqlDB's
/// default. Use [`TimeWindows::of_size_with_no_grace`] or
/// [`TimeWindows::grace`] when results should close sooner, for example
/// before [`Suppressed::until_window_closes`].
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use riffle_engine::dsl::TimeWindows;
///
/// let hopping = TimeWindows::of(Duration::from_secs(60)).advance_by(Duration::from_secs(10)).grace(Duration::ZERO);
/// assert_eq!(hopping.size(), Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindows {
    size_ms: i64,
    advance_ms: i64,
    grace_ms: i64,
}

impl TimeWindows {
    /// Tumbling windows of `size` with the default 24-hour grace.
    pub fn of(size: Duration) -> Self {
        let size_ms = millis(size);
        TimeWindows { size_ms, advance_ms: size_ms, grace_ms: DEFAULT_GRACE_MS }
    }

    /// Tumbling windows of `size` that close as soon as they end.
    pub fn of_size_with_no_grace(size: Duration) -> Self {
        Self::of(size).grace(Duration::ZERO)
    }

    /// The same windows with `grace` for late records.
    pub fn grace(self, grace: Duration) -> Self {
        TimeWindows { grace_ms: millis(grace), ..self }
    }

    /// Hopping windows: a new window starts every `advance` (which must not
    /// exceed the size; checked when the plan is built).
    pub fn advance_by(self, advance: Duration) -> Self {
        TimeWindows { advance_ms: millis(advance), ..self }
    }

    /// The window size.
    pub fn size(&self) -> Duration {
        Duration::from_millis(self.size_ms.max(0) as u64)
    }

    pub(crate) fn spec(&self) -> WindowSpec {
        if self.advance_ms == self.size_ms {
            WindowSpec::tumbling(self.size_ms, self.grace_ms)
        } else {
            WindowSpec::hopping(self.size_ms, self.advance_ms, self.grace_ms)
        }
    }
}

/// Sliding windows (Kafka Streams' `SlidingWindows`): windows of a fixed
/// time difference that follow the records instead of the clock. Two
/// records of a key share a window when their times differ by at most the
/// time difference; each window `[start, start + difference]` (both ends
/// inclusive) is a distinct set of records. A record at `t` makes its left
/// window `[t - difference, t]` and, once later records fall within the
/// difference of it, its right window `[t + 1, t + 1 + difference]`.
/// Windows never start before 0: records earlier than the difference share
/// `[0, difference]`.
///
/// Results are keyed by [`Windowed<K>`] whose `end` is `start +
/// difference`, inclusive. Use them with
/// [`KGroupedStream::windowed_by`](super::KGroupedStream::windowed_by),
/// which gives a [`TimeWindowedKStream`](super::TimeWindowedKStream) as for
/// [`TimeWindows`]. Kafka Streams has no default grace period for sliding
/// windows, so both constructors name it.
///
/// # Examples
///
/// Clicks per user within 10 seconds of each other:
///
/// ```
/// use std::time::Duration;
/// use riffle_engine::dsl::{KStream, SlidingWindows, StreamsBuilder, Windowed};
///
/// let builder = StreamsBuilder::new();
/// let clicks: KStream<String, String> = builder.stream("clicks");
/// clicks
///     .group_by_key()
///     .windowed_by(SlidingWindows::of_time_difference_with_no_grace(Duration::from_secs(10)))
///     .count()
///     .to_stream()
///     .to("clicks-within-10s");
///
/// let mut driver = builder.test_driver("doc-sliding")?;
/// for t in [1_000, 8_000, 15_000] {
///     driver.pipe_input("clicks", "ann".to_string(), "click".to_string(), t)?;
/// }
/// let window = |start| Windowed { key: "ann".to_string(), start, end: start + 10_000 };
/// let counts = driver.read_key_values::<Windowed<String>, i64>("clicks-within-10s")?;
/// assert_eq!(
///     counts,
///     vec![
///         (window(0), 1),     // [0 s, 10 s]: the click at 1 s
///         (window(1_001), 1), // right window of 1 s: the click at 8 s
///         (window(0), 2),     // [0 s, 10 s] gets the click at 8 s
///         (window(8_001), 1), // right window of 8 s: the click at 15 s
///         (window(5_000), 2), // left window of 15 s: the clicks at 8 s and 15 s
///     ]
/// );
/// # Ok::<(), riffle_engine::EngineError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingWindows {
    difference_ms: i64,
    grace_ms: i64,
}

impl SlidingWindows {
    /// Windows of records at most `time_difference` apart, accepting
    /// records up to `grace` after a window ends.
    pub fn of_time_difference_and_grace(time_difference: Duration, grace: Duration) -> Self {
        SlidingWindows { difference_ms: millis(time_difference), grace_ms: millis(grace) }
    }

    /// Windows of records at most `time_difference` apart that close as
    /// soon as they end.
    pub fn of_time_difference_with_no_grace(time_difference: Duration) -> Self {
        Self::of_time_difference_and_grace(time_difference, Duration::ZERO)
    }

    /// The largest time difference between two records of one window.
    pub fn time_difference(&self) -> Duration {
        Duration::from_millis(self.difference_ms.max(0) as u64)
    }

    /// How long after a window ends late records are still accepted.
    pub fn grace_period(&self) -> Duration {
        Duration::from_millis(self.grace_ms.max(0) as u64)
    }

    pub(crate) fn spec(&self) -> WindowSpec {
        WindowSpec::sliding(self.difference_ms, self.grace_ms)
    }
}

/// Session windows: per key, records less than the inactivity gap apart
/// share a session; a record that bridges two sessions merges them. The
/// grace period defaults to 24 hours, as for [`TimeWindows`].
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use riffle_engine::dsl::SessionWindows;
///
/// let s = SessionWindows::with_inactivity_gap(Duration::from_secs(300)).grace(Duration::from_secs(30));
/// # let _ = s;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionWindows {
    gap_ms: i64,
    grace_ms: i64,
}

impl SessionWindows {
    /// Sessions closed after `gap` without records for their key.
    pub fn with_inactivity_gap(gap: Duration) -> Self {
        SessionWindows { gap_ms: millis(gap), grace_ms: DEFAULT_GRACE_MS }
    }

    /// Sessions with no grace period.
    pub fn with_inactivity_gap_and_no_grace(gap: Duration) -> Self {
        Self::with_inactivity_gap(gap).grace(Duration::ZERO)
    }

    /// The same sessions with `grace` for late records.
    pub fn grace(self, grace: Duration) -> Self {
        SessionWindows { grace_ms: millis(grace), ..self }
    }

    pub(crate) fn spec(&self) -> WindowSpec {
        WindowSpec::session(self.gap_ms, self.grace_ms)
    }
}

/// How close in time two records of a stream-stream join must be: a right
/// record joins a left record when
/// `left.ts - before <= right.ts <= left.ts + after`. Grace defaults to 24
/// hours, as for [`TimeWindows`].
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use riffle_engine::dsl::JoinWindows;
///
/// // Right records up to 5 s after the left one, none before.
/// let w = JoinWindows::of(Duration::from_secs(5)).before(Duration::ZERO).grace(Duration::ZERO);
/// # let _ = w;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinWindows {
    before_ms: i64,
    after_ms: i64,
    grace_ms: i64,
}

impl JoinWindows {
    /// Records at most `difference` apart, either way.
    pub fn of(difference: Duration) -> Self {
        let d = millis(difference);
        JoinWindows { before_ms: d, after_ms: d, grace_ms: DEFAULT_GRACE_MS }
    }

    /// Records at most `difference` apart, with no grace period.
    pub fn of_time_difference_with_no_grace(difference: Duration) -> Self {
        Self::of(difference).grace(Duration::ZERO)
    }

    /// How far the right record may precede the left one.
    pub fn before(self, d: Duration) -> Self {
        JoinWindows { before_ms: millis(d), ..self }
    }

    /// How far the right record may follow the left one.
    pub fn after(self, d: Duration) -> Self {
        JoinWindows { after_ms: millis(d), ..self }
    }

    /// The same bounds with `grace` for late records.
    pub fn grace(self, grace: Duration) -> Self {
        JoinWindows { grace_ms: millis(grace), ..self }
    }

    pub(crate) fn spec(&self) -> JoinWindow {
        JoinWindow { before_ms: self.before_ms, after_ms: self.after_ms, grace_ms: self.grace_ms, eager: false }
    }
}

/// The key of a windowed table: the group key and its window, in ms since
/// the epoch: `[start, end)` for tumbling and hopping windows, `[start,
/// end]` for sliding and session windows.
///
/// On the wire (sinks, [`TypedTestDriver`](super::TypedTestDriver)) the key
/// is Kafka Streams' windowed layout: the inner key's bytes, then for time
/// windows the 8-byte big-endian start (the end is start + size), and for
/// session windows the 8-byte end, then the 8-byte start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Windowed<K> {
    /// The group key.
    pub key: K,
    /// Window start (inclusive), ms.
    pub start: i64,
    /// Window end (exclusive for tumbling and hopping windows; inclusive,
    /// `start + difference`, for sliding windows; the last record's time
    /// for sessions), ms.
    pub end: i64,
}

/// Emit-final for windowed tables: hold every update until its window
/// closes (stream time reaches window end + grace), then emit one final row
/// per key and window. The buffer is unbounded, as with Kafka Streams'
/// `BufferConfig.unbounded()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suppressed {
    _private: (),
}

impl Suppressed {
    /// Final results only, once each window closes.
    pub fn until_window_closes() -> Self {
        Suppressed { _private: () }
    }
}
