//! The runtime: [`StreamTask`]s (one per sub-topology and partition) on a
//! fixed pool of worker threads ([`StreamsApp`]), with periodic commits.

mod app;
mod group;
mod processing_log;
mod task;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use riffle_state::{BackendKind, StateMemory};

pub use app::{prepare_topics, InstanceMetadata, StreamsApp};
pub use processing_log::{ProcessingLog, ProcessingLogEntry};
pub use task::{StreamTask, TaskId};

/// Counters of one task.
#[derive(Debug, Default)]
pub struct TaskMetrics {
    /// Records read.
    pub records_in: AtomicU64,
    /// Records written to sinks.
    pub records_out: AtomicU64,
    /// Records skipped because they did not decode.
    pub decode_errors: AtomicU64,
    /// Records dropped because their window had closed.
    pub late_records: AtomicU64,
}

/// A copy of the counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Records read.
    pub records_in: u64,
    /// Records written to sinks.
    pub records_out: u64,
    /// Records skipped because they did not decode.
    pub decode_errors: u64,
    /// Records dropped because their window had closed.
    pub late_records: u64,
}

impl TaskMetrics {
    /// Current values.
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            records_in: self.records_in.load(Ordering::Relaxed),
            records_out: self.records_out.load(Ordering::Relaxed),
            decode_errors: self.decode_errors.load(Ordering::Relaxed),
            late_records: self.late_records.load(Ordering::Relaxed),
        }
    }
}

impl std::ops::Add for MetricsSnapshot {
    type Output = MetricsSnapshot;
    fn add(self, o: MetricsSnapshot) -> MetricsSnapshot {
        MetricsSnapshot {
            records_in: self.records_in + o.records_in,
            records_out: self.records_out + o.records_out,
            decode_errors: self.decode_errors + o.decode_errors,
            late_records: self.late_records + o.late_records,
        }
    }
}

/// How an application runs (Kafka Streams' names in the docs).
#[derive(Debug, Clone)]
pub struct StreamsConfig {
    /// `application.id`: consumer group, prefix of internal topics and of
    /// the state directory.
    pub application_id: String,
    /// `state.dir`.
    pub state_dir: PathBuf,
    /// `num.stream.threads`.
    pub num_stream_threads: usize,
    /// `commit.interval.ms`.
    pub commit_interval: Duration,
    /// `statestore.cache.max.bytes`: 0 turns the cache off (one update per
    /// input record, ksqlDB's test semantics).
    pub cache_max_bytes: usize,
    /// Store backend.
    pub backend: BackendKind,
    /// Memory budget shared by RocksDB stores.
    pub state_memory: StateMemory,
    /// Bytes read per input per poll.
    pub max_poll_bytes: usize,
    /// Where records that cannot be decoded are reported (besides the log
    /// line and the `decode_errors` metric); none by default.
    pub processing_log: Option<std::sync::Arc<dyn ProcessingLog>>,
    /// `application.server`: the `host:port` where this instance answers
    /// interactive queries. Every instance learns every other one's through
    /// the group, so [`StreamsApp::key_owner`] can say where a key lives.
    pub application_server: Option<String>,
    /// `group.instance.id`: static membership (KIP-345). An instance that
    /// restarts with the same id takes its old place in the group at once,
    /// instead of waiting for the old member's session to time out, and
    /// (as in Kafka) a static member does not leave the group when it
    /// closes: a restart within the session timeout moves no tasks.
    pub group_instance_id: Option<String>,
    /// `session.timeout.ms`: how long an instance that stopped heartbeating
    /// (crashed) keeps its tasks before the group gives them to the others.
    /// At least the coordinator's minimum (6 s, as in Kafka).
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms`: how often an instance checks in with the
    /// group, which is also how quickly it notices a rebalance. Smaller than
    /// Kafka's 3 s default, because the embedded coordinator is in process.
    pub heartbeat_interval: Duration,
    /// `max.poll.interval.ms` in its rebalance role: how long a rebalance
    /// waits for every instance to rejoin.
    pub rebalance_timeout: Duration,
}

impl StreamsConfig {
    /// Defaults: 1 thread, 30 s commits (Kafka Streams' at-least-once
    /// default), 10 MiB cache, RocksDB under `state_dir`.
    pub fn new(application_id: impl Into<String>, state_dir: impl Into<PathBuf>) -> Self {
        StreamsConfig {
            application_id: application_id.into(),
            state_dir: state_dir.into(),
            num_stream_threads: 1,
            commit_interval: Duration::from_secs(30),
            cache_max_bytes: 10 << 20,
            backend: BackendKind::RocksDb,
            state_memory: StateMemory::default(),
            max_poll_bytes: 1 << 20,
            processing_log: None,
            application_server: None,
            group_instance_id: None,
            session_timeout: Duration::from_secs(45),
            heartbeat_interval: Duration::from_millis(250),
            rebalance_timeout: Duration::from_secs(300),
        }
    }
}
