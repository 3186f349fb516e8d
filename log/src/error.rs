//! The one error type of `riffle-log`.
//!
//! Variants are sorted by whose fault they are:
//! - **user**: a bad topic name, a record that is too large, an offset that is
//!   out of range, a fenced producer — the caller must change the request;
//! - **external**: I/O failures of the data directory;
//! - **corruption**: bytes on disk that fail validation — each says what the
//!   log does about it (truncation on recovery, or refusing to serve);
//! - **internal**: a broken invariant, i.e. a bug in Riffle.

use std::io;
use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = LogError> = std::result::Result<T, E>;

/// Everything that can go wrong in the log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    // ---- user errors -------------------------------------------------------
    /// A topic name that Kafka would reject.
    #[error("invalid topic name {name:?}: {reason}")]
    InvalidTopicName {
        /// The rejected name.
        name: String,
        /// Why it is rejected and what is allowed.
        reason: String,
    },
    /// `create_topic` for a name that exists.
    #[error("topic {topic:?} already exists; choose another name or delete it first")]
    TopicExists {
        /// The topic.
        topic: String,
    },
    /// A topic that does not exist.
    #[error("unknown topic {topic:?}; create it first (`riffle topic create {topic}`)")]
    UnknownTopic {
        /// The topic.
        topic: String,
    },
    /// A partition index outside the topic's partition count.
    #[error("topic {topic:?} has {partitions} partition(s); partition {partition} does not exist")]
    UnknownPartition {
        /// The topic.
        topic: String,
        /// The requested partition.
        partition: i32,
        /// How many partitions the topic has.
        partitions: i32,
    },
    /// A topic or log configuration value that is not valid.
    #[error("invalid config {key}={value:?}: {reason}")]
    InvalidConfig {
        /// Config key.
        key: String,
        /// Rejected value.
        value: String,
        /// What is expected.
        reason: String,
    },
    /// A batch larger than the topic's `max.message.bytes`.
    #[error(
        "record batch of {size} bytes for {topic}-{partition} exceeds max.message.bytes={max}; \
         send smaller records or raise max.message.bytes on the topic"
    )]
    RecordTooLarge {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// Encoded batch size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A read at an offset outside `[log_start_offset, high_watermark]`.
    #[error(
        "offset {offset} is out of range for {topic}-{partition} (valid: {log_start}..={high_watermark}); \
         reset to earliest or latest"
    )]
    OffsetOutOfRange {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// Requested offset.
        offset: i64,
        /// First offset still in the log.
        log_start: i64,
        /// Next offset to be written.
        high_watermark: i64,
    },
    /// A batch from the wire or a caller that does not parse as RecordBatch v2.
    #[error("invalid record batch: {reason}")]
    InvalidBatch {
        /// What is wrong with it.
        reason: String,
    },
    /// An idempotent producer sent a sequence number that leaves a gap.
    #[error(
        "out-of-order sequence for producer {producer_id} on {topic}-{partition}: \
         expected {expected}, got {got}; the producer must reset its sequence (re-init)"
    )]
    OutOfOrderSequence {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The producer id.
        producer_id: i64,
        /// The sequence the log expected next.
        expected: i32,
        /// The sequence that arrived.
        got: i32,
    },
    /// A producer whose epoch is older than the current one for its id.
    #[error("producer {producer_id} with epoch {epoch} is fenced by epoch {current_epoch}")]
    ProducerFenced {
        /// The producer id.
        producer_id: i64,
        /// The stale epoch.
        epoch: i16,
        /// The current epoch.
        current_epoch: i16,
    },
    /// A consumer-group request that the coordinator refuses.
    #[error("group {group:?}: {reason}")]
    Group {
        /// The group id.
        group: String,
        /// The Kafka error this maps to.
        code: GroupErrorCode,
        /// Human explanation.
        reason: String,
    },
    /// A transaction-coordinator request that the coordinator refuses.
    #[error("transactional id {transactional_id:?}: {reason}")]
    Transaction {
        /// The transactional id.
        transactional_id: String,
        /// The Kafka error this maps to.
        code: TxnErrorCode,
        /// Human explanation.
        reason: String,
    },
    /// The log (or a producer/consumer) was closed.
    #[error("the log is closed")]
    Closed,

    // ---- external errors (remote) -------------------------------------------
    /// A broker reached over the Kafka protocol (by
    /// [`KafkaLogClient`](crate::kafka::KafkaLogClient)) could not be reached or
    /// refused a request with an error that has no variant of its own.
    #[error("broker {broker}: {reason}")]
    Remote {
        /// `host:port` of the broker.
        broker: String,
        /// What failed, with the Kafka error name and code when it answered.
        reason: String,
    },

    // ---- external errors ---------------------------------------------------
    /// An I/O failure on the data directory.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    // ---- corruption --------------------------------------------------------
    /// Stored bytes failed validation. Reads refuse to serve them; recovery
    /// truncates a corrupt *tail*, while corruption inside an older segment
    /// needs the segment restored from a replica or the data re-produced.
    #[error(
        "corrupt data in {topic}-{partition} at offset {offset} ({path}, byte {position}): {reason}; \
         the batch is not served — restore the segment or re-produce the data"
    )]
    Corrupt {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// Offset of the batch (or the offset being read).
        offset: i64,
        /// Segment file.
        path: PathBuf,
        /// Byte position inside the segment.
        position: u64,
        /// What failed (CRC, length, magic...).
        reason: String,
    },

    // ---- internal ----------------------------------------------------------
    /// A broken invariant: a bug in Riffle. Please report it.
    #[error("internal error (a bug in riffle): {0}")]
    Internal(String),
}

/// Kafka error codes that transaction-coordinator operations map to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxnErrorCode {
    /// The producer's epoch is older than the transactional id's current
    /// one: another producer with the same id took over. Fatal for the
    /// producer; close it.
    ProducerFenced,
    /// The producer id does not belong to this transactional id; call
    /// InitProducerId again.
    InvalidProducerIdMapping,
    /// The request does not fit the transaction's state (e.g. EndTxn with
    /// no transaction open).
    InvalidTxnState,
}

/// Kafka error codes that group operations map to, so the wire listener can
/// answer with the right code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupErrorCode {
    /// The member id is not known to the group (e.g. it timed out).
    UnknownMemberId,
    /// The generation is not the current one.
    IllegalGeneration,
    /// A rebalance is in progress; rejoin.
    RebalanceInProgress,
    /// The protocol type or protocols do not match the group's.
    InconsistentGroupProtocol,
    /// The group has too many members.
    GroupMaxSizeReached,
    /// Session timeout outside the allowed range.
    InvalidSessionTimeout,
    /// The group is not empty (for deletes).
    NonEmptyGroup,
    /// The group does not exist.
    GroupIdNotFound,
    /// The coordinator is shutting down.
    CoordinatorNotAvailable,
    /// The join needs a member id: retry with the one given.
    MemberIdRequired,
}

impl LogError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        LogError::Io { path: path.into(), source }
    }

    /// Builds a `Group` error.
    pub fn group(group: &str, code: GroupErrorCode, reason: impl Into<String>) -> Self {
        LogError::Group { group: group.to_string(), code, reason: reason.into() }
    }

    /// True when the error is the caller's fault (bad request), as opposed to
    /// I/O trouble, corruption or a bug.
    pub fn is_user_error(&self) -> bool {
        !matches!(
            self,
            LogError::Io { .. } | LogError::Corrupt { .. } | LogError::Internal(_) | LogError::Closed
        )
    }
}
