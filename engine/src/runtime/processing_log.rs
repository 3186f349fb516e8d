//! The processing log: where records that cannot be processed are
//! reported — with topic, partition, offset and reason — instead of being
//! lost silently. The task skips such a record and keeps running (ksqlDB's
//! `KSQL_PROCESSING_LOG`, Kafka Streams' `LogAndContinueExceptionHandler`).

use std::fmt::Debug;

/// A record a task could not process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessingLogEntry {
    /// Application (query) id of the task.
    pub application_id: String,
    /// Source topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset of the record.
    pub offset: i64,
    /// What failed: `key`, `value` or `timestamp`.
    pub target: String,
    /// Why.
    pub reason: String,
    /// The bytes of the failed part, if any.
    pub bytes: Option<Vec<u8>>,
}

/// Receives [`ProcessingLogEntry`]s. Implementations must not block for
/// long: they run on the task's thread.
pub trait ProcessingLog: Send + Sync + Debug {
    /// Records one entry. Failures to record are the implementation's to
    /// report (a processing log cannot report into itself).
    fn record(&self, entry: ProcessingLogEntry);
}
