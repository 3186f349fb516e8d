//! # riffle-engine
//!
//! Riffle's dataflow engine: the Kafka Streams of the project. Pipelines
//! are plans of [`plan::LogicalPlan`] nodes made by one [`PlanBuilder`]
//! (the SQL layer and the Rust DSL both call it); the runtime cuts a plan
//! into sub-topologies at repartitions and runs each as one
//! [`runtime::StreamTask`] per input partition on a fixed pool of worker
//! threads.
//!
//! ```text
//!  log topic ──fetch──► SourceDecoder (format → Arrow RecordBatch, bad records skipped + counted)
//!                           │
//!                           ▼  Batch = RecordBatch + event times (+ table changes)
//!            Filter / Project / SelectKey / Aggregate{window, final} / Table / Join …
//!                           │            │
//!                           │            └─► state stores (RocksDB, changelog topics)
//!                           ▼
//!                         Sink ──append──► output topic / repartition topic ─► next sub-topology
//! ```
//!
//! What it is: event-time processing with Kafka Streams' window rules
//! (tumbling, hopping, sliding and session windows, grace, late-record
//! dropping, emit-final), tables as changelogs, at-least-once commits
//! (operator caches → stores → changelog → input offsets), crash recovery
//! from changelogs, and a deterministic [`TestDriver`].
//!
//! Scale-out: every [`StreamsApp`] is a member of the consumer group named
//! by its application id. Instances that share the id split the tasks
//! (balanced and sticky), and when one leaves or crashes the others take
//! its tasks over, restoring their stores from the changelogs. Aggregation
//! stores named with [`PlanBuilder::materialize_as`] can be queried while
//! the app runs ([`StreamsApp::query`], typed views in [`dsl`]), and
//! [`StreamsApp::key_owner`] says which instance holds a key.
//!
//! Instances share a log through [`LogClient`](riffle_log::client::LogClient):
//! the embedded log within one process, or `riffle_log::kafka::KafkaLogClient`
//! (the Kafka protocol) to a `riffle server` — or another single-node
//! Kafka-compatible broker — from as many processes as you like.
//!
//! What it is not (yet): exactly-once processing.
//!
//! ```
//! use std::sync::Arc;
//! use arrow::datatypes::{DataType, Field, Schema};
//! use riffle_engine::{PlanBuilder, TestDriver};
//! use riffle_engine::format::{JsonFormat, KafkaFormat};
//! use riffle_engine::plan::{Expr, TimestampSpec};
//!
//! let value = Schema::new(vec![
//!     Field::new("item", DataType::Utf8, true),
//!     Field::new("price", DataType::Float64, true),
//! ]);
//! let plan = PlanBuilder::stream("orders", Arc::new(KafkaFormat), Arc::new(JsonFormat), &[], value, TimestampSpec::Record)?
//!     .filter(Expr::col("price").gt(Expr::lit(10.0)))?
//!     .project(vec![(Expr::col("item"), "item".into())])?
//!     .sink("big-orders", Arc::new(KafkaFormat), Arc::new(JsonFormat))?
//!     .build();
//! let mut driver = TestDriver::new("orders-app", &[plan])?;
//! driver.pipe("orders", None, Some(br#"{"item":"tea","price":4.5}"#), 1)?;
//! driver.pipe("orders", None, Some(br#"{"item":"teapot","price":35.0}"#), 2)?;
//! let out = driver.read_output("big-orders")?;
//! assert_eq!(out.len(), 1);
//! assert_eq!(out[0].value.as_deref(), Some(&br#"{"item":"teapot"}"#[..]));
//! # Ok::<(), riffle_engine::EngineError>(())
//! ```

pub mod batch;
pub mod builder;
pub mod dsl;
pub mod error;
pub mod format;
pub mod functions;
pub mod operators;
pub mod physical;
pub mod plan;
pub mod processor;
pub mod runtime;
pub mod testing;

pub use batch::{Batch, Change};
pub use builder::PlanBuilder;
pub use error::{EngineError, Result};
pub use operators::{InitContext, OpContext, Operator};
pub use runtime::{InstanceMetadata, StreamsApp, StreamsConfig, TaskId};
pub use testing::TestDriver;
