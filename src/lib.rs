//! # Riffle
//!
//! A Kafka-compatible partitioned log, a streams engine and a ksqlDB-style
//! SQL layer in one binary. This crate is the facade that re-exports the
//! layers; the `riffle` command-line tool lives beside it (`src/main.rs`).
//!
//! ```text
//!   riffle (CLI) ──► riffle::log   (riffle-log: topics, partitions, producer,
//!                                   consumer, consumer groups)
//!                ──► riffle::state (riffle-state: RocksDB / in-memory stores,
//!                                   cache, changelogs, restore)
//!                ──► riffle::engine (riffle-engine: plans, operators, tasks, DSL)
//!                ──► riffle::sql   (riffle-sql: ksqlDB statements onto the engine)
//! ```
//!
//! The log underneath everything:
//!
//! ```
//! use riffle::log::{Log, LogConfig, TopicConfig, Producer, ProducerConfig, Record};
//! let dir = tempfile::tempdir().unwrap();
//! let log = Log::open(dir.path(), LogConfig::default()).unwrap();
//! log.create_topic("pageviews", TopicConfig::with_partitions(3)).unwrap();
//! let producer = Producer::new(&log, ProducerConfig::default()).unwrap();
//! let delivery = producer.send("pageviews", Record::keyed("user-1", "/home")).unwrap();
//! producer.flush().unwrap();
//! assert_eq!(delivery.wait().unwrap().offset, 0);
//! log.close().unwrap();
//! ```

pub use riffle_engine as engine;
pub use riffle_log as log;
pub use riffle_sql as sql;
pub use riffle_state as state;

pub mod nexmark;
pub mod progress;
pub mod server;
