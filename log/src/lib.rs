//! # riffle-log — Riffle's built-in partitioned log
//!
//! A Kafka-compatible log in a library: topics split into partitions,
//! partitions into segment files holding Kafka's **RecordBatch v2** bytes
//! exactly as they travel on the wire (CRC-32C, gzip/snappy/lz4/zstd), with
//! Kafka's sparse offset and time indexes beside them. On top: retention,
//! compaction, idempotent producers, consumer groups with committed
//! offsets, and transactions (a coordinator persisted in
//! `__transaction_state`, COMMIT/ABORT control batches, the last stable
//! offset and the aborted-transaction index for `read_committed` readers).
//!
//! ```text
//!  Producer ──send──► accumulator ──batch──► Partition::append ──► active segment (.log/.index/.timeindex)
//!  (murmur2 / sticky)                        serialized per partition     │
//!                                                                          ▼  high watermark published
//!  Consumer ◄──poll── Partition::read (whole CRC-checked batches) ◄── sealed segments ◄── cleaner
//!     │                                                                     (retention, compaction)
//!     └── join/sync/heartbeat/commit ──► GroupCoordinator ──► __consumer_offsets (compacted topic)
//! ```
//!
//! What it is not: a replicated, multi-broker cluster. One process owns a
//! data directory; for replication point Riffle at a real Kafka cluster.
//! The in-process [`Consumer`] reads uncommitted data (it skips control
//! batches but does not filter aborted transactions); `read_committed` is
//! served to Kafka clients by the wire listener.
//!
//! ## Example
//! ```
//! use riffle_log::{Log, LogConfig, TopicConfig, Record, Producer, ProducerConfig};
//! use riffle_log::consumer::{Consumer, ConsumerConfig, OffsetReset};
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let log = Log::open(dir.path(), LogConfig::default()).unwrap();
//! log.create_topic("pageviews", TopicConfig::with_partitions(3)).unwrap();
//!
//! let producer = Producer::new(&log, ProducerConfig::default()).unwrap();
//! for i in 0..100 {
//!     producer.send("pageviews", Record::keyed(format!("user-{}", i % 7), "/home")).unwrap();
//! }
//! producer.flush().unwrap();
//!
//! let mut consumer = Consumer::new(&log, ConsumerConfig {
//!     auto_offset_reset: OffsetReset::Earliest,
//!     ..ConsumerConfig::group("dashboard")
//! });
//! consumer.subscribe(&["pageviews"]).unwrap();
//! let mut seen = 0;
//! while seen < 100 {
//!     seen += consumer.poll(std::time::Duration::from_secs(1)).await.unwrap().len();
//! }
//! consumer.commit().unwrap();
//! assert!(log.group_lag("dashboard").iter().all(|l| l.lag == Some(0)));
//! consumer.close().unwrap();
//! log.close().unwrap();
//! # });
//! ```
//!
//! ## Guarantees
//! - Appends to one partition are serialized; different partitions append
//!   in parallel. Offsets are dense per partition (compaction leaves gaps
//!   but never renumbers).
//! - An append is acknowledged when its [`Durability`] level holds.
//! - Recovery validates the active segment after an unclean shutdown and
//!   cuts a torn or corrupt tail (keeping the cut bytes beside the segment).
//!   A corrupt batch is never served: reads fail with [`LogError::Corrupt`].

pub mod batch;
pub mod client;
pub mod compaction;
pub mod compression;
pub mod config;
pub mod consumer;
pub mod error;
pub mod group;
mod index;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod log;
pub mod partition;
pub mod partitioner;
pub mod producer;
mod producer_state;
mod txn;
pub mod record;
mod retention;
mod segment;
pub mod topic;

pub use batch::{control_batch, control_type, decode_batch, BatchBuilder, BatchHeader, ControlType, ProducerFields};
pub use client::{Fetched, LogClient};
pub use compaction::CompactionStats;
pub use compression::Compression;
pub use config::{Durability, LogConfig};
pub use error::{GroupErrorCode, LogError, Result, TxnErrorCode};
pub use consumer::{Consumer, ConsumerConfig, ConsumerRecord, IsolationLevel, OffsetReset};
pub use log::{GroupPartitionLag, Log, PartitionInfo, Topic, TopicId, OFFSETS_TOPIC};
pub use partition::{AppendInfo, AppendOptions, FetchedBatches, Partition};
pub use producer_state::AbortedTxn;
pub use txn::{TxnState, TRANSACTION_STATE_TOPIC};
pub use partitioner::{murmur2, partition_for_key};
pub use producer::{DeliveryFuture, DeliveryResult, Producer, ProducerConfig, RecordMetadata};
pub use record::{Header, Record, StoredRecord};
pub use topic::{validate_topic_name, CleanupPolicy, TimestampType, TopicConfig, TopicPartition};
