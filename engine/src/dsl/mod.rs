//! The typed Rust DSL, in Kafka Streams' vocabulary: [`StreamsBuilder`],
//! [`KStream`], [`KTable`], [`KGroupedStream`], windows, joins and
//! [`Suppressed`].
//!
//! The DSL is a thin facade over [`PlanBuilder`](crate::PlanBuilder): every
//! operation adds plan nodes through it, and the plans run on the same
//! runtime as SQL queries. It never makes operators itself. Closures run in
//! one generic operator planned as a processor-API node
//! ([`PlanBuilder::process`](crate::PlanBuilder::process)); `count` is the
//! plan's `COUNT(*)`; `aggregate` and `reduce` are aggregate functions of the
//! plan's `Aggregate` node, so windows, suppression, caching and
//! changelogged state work for all of them.
//!
//! ```text
//! builder.stream::<K, V>("topic")   Source [key: Utf8, value: Utf8]
//!   .filter(|k, v| …)               Process (closure)
//!   .group_by(|k, v| …)             Process (re-key) → Repartition
//!   .windowed_by(TimeWindows…)      ┐
//!   .count()                        ┘ Aggregate COUNT(*) window=…  → KTable<Windowed<K2>, i64>
//!   .suppress(…)                    Suppress
//!   .to_stream().to("out")          ToStream → Sink
//! ```
//!
//! # Types and columns
//!
//! Keys and values are any `serde` types (see [`Data`]). Arrow needs a
//! schema when the plan is built, which serde types do not describe, so a
//! DSL node has two Utf8 columns:
//!
//! - `value` holds the value's JSON text (a `count` holds a BIGINT, read
//!   as its JSON number);
//! - `key` holds the key: **the plain string for key types that
//!   deserialize from a string** (`String`, `char`, newtypes of those,
//!   UUIDs, …; decided once per type), **the compact JSON text for every
//!   other type** (numbers, structs, `Option`s, enums). The column text is
//!   the key's bytes on the wire, so string keys read from and written to
//!   Kafka match the Java `StringSerializer`, and partitioning (internal
//!   repartition topics included) agrees with Kafka's. Key type `()` means
//!   no key: sources ignore record keys and sinks write none.
//!
//! Sources decode with [`SerdeKey`] and [`SerdeJson`], which check every
//! record against the Rust types: a record that does not deserialize is
//! skipped with serde's reason in the log and counted in the task's
//! `decode_errors`, like any bad record. Windowed tables are keyed by
//! [`Windowed<K>`]; sinks write their keys in Kafka Streams' windowed layout
//! (inner key, 8-byte big-endian start; sessions: end, then start).
//!
//! Mistakes the types cannot catch are reported by
//! [`StreamsBuilder::plans`], [`StreamsBuilder::build`] and
//! [`StreamsBuilder::test_driver`] (see [`StreamsBuilder`]).
//!
//! # Example: a tumbling count, tested
//!
//! ```
//! use std::time::Duration;
//! use riffle_engine::dsl::{KStream, KTable, StreamsBuilder, Suppressed, TimeWindows, Windowed};
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct PageView {
//!     page: String,
//! }
//!
//! let builder = StreamsBuilder::new();
//! let views: KStream<String, PageView> = builder.stream("pageviews");
//! let counts: KTable<Windowed<String>, i64> = views
//!     .group_by(|_user, view| view.page.clone())
//!     .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_secs(60)))
//!     .count();
//! counts.suppress(Suppressed::until_window_closes()).to_stream().to("pageview-counts");
//!
//! let mut driver = builder.test_driver("doc-page-counts")?;
//! let view = |page: &str| PageView { page: page.into() };
//! driver.pipe_input("pageviews", "alice".to_string(), view("home"), 1_000)?;
//! driver.pipe_input("pageviews", "bob".to_string(), view("home"), 59_000)?;
//! driver.pipe_input("pageviews", "alice".to_string(), view("docs"), 30_000)?;
//! // Nothing is final until stream time passes the end of the window.
//! assert!(driver.read_output::<Windowed<String>, i64>("pageview-counts")?.is_empty());
//! driver.pipe_input("pageviews", "carol".to_string(), view("home"), 61_000)?;
//!
//! let counts = driver.read_key_values::<Windowed<String>, i64>("pageview-counts")?;
//! let home = Windowed { key: "home".to_string(), start: 0, end: 60_000 };
//! let docs = Windowed { key: "docs".to_string(), start: 0, end: 60_000 };
//! assert_eq!(counts, vec![(docs, 1), (home, 2)]);
//! # Ok::<(), riffle_engine::EngineError>(())
//! ```

mod aggregator;
mod builder;
mod closure_op;
mod codec;
mod format;
mod grouped;
mod kstream;
mod ktable;
mod query;
mod testing;
mod windows;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use builder::StreamsBuilder;
pub use format::{SerdeJson, SerdeKey};
pub use grouped::{KGroupedStream, SessionWindowedKStream, TimeWindowedKStream, Windows};
pub use kstream::KStream;
pub use ktable::KTable;
pub use query::{KeyValueStoreView, WindowStoreView};
pub use testing::{TestRecord, TypedTestDriver};
pub use windows::{JoinWindows, SessionWindows, SlidingWindows, Suppressed, TimeWindows, Windowed};

/// What keys and values of DSL streams are: any type serde can write to
/// and read from JSON, owned and sendable to the task threads. Implemented
/// for every such type.
pub trait Data: Serialize + DeserializeOwned + Send + 'static {}

impl<T: Serialize + DeserializeOwned + Send + 'static> Data for T {}
