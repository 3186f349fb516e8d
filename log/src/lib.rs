//! # riffle-log — the built-in partitioned log
//!
//! (crate docs are written once the public API settles)

pub mod batch;
pub mod compaction;
pub mod compression;
pub mod config;
pub mod consumer;
pub mod error;
pub mod group;
mod index;
pub mod log;
pub mod partition;
pub mod partitioner;
pub mod producer;
mod producer_state;
pub mod record;
mod retention;
mod segment;
pub mod topic;

pub use batch::{decode_batch, BatchBuilder, BatchHeader, ProducerFields};
pub use compaction::CompactionStats;
pub use compression::Compression;
pub use config::{Durability, LogConfig};
pub use error::{GroupErrorCode, LogError, Result};
pub use consumer::{Consumer, ConsumerConfig, ConsumerRecord, OffsetReset};
pub use log::{GroupPartitionLag, Log, PartitionInfo, Topic, TopicId, OFFSETS_TOPIC};
pub use partition::{AppendInfo, AppendOptions, FetchedBatches, Partition};
pub use partitioner::{murmur2, partition_for_key};
pub use producer::{DeliveryFuture, DeliveryResult, Producer, ProducerConfig, RecordMetadata};
pub use record::{Header, Record, StoredRecord};
pub use topic::{validate_topic_name, CleanupPolicy, TimestampType, TopicConfig, TopicPartition};
