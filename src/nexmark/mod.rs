//! Nexmark, the standard streaming benchmark (people, auctions and bids on
//! an auction site), as a deterministic event generator and as ksqlDB
//! queries run on the engine.
//!
//! ```text
//!   Generator ──► load() ──► topics person / auction / bid (JSON)
//!                                  │
//!   Query::sql() ──► Session::compile ──► StreamsApp ──► output topic
//!                        (run_query: timed from start to the final commit)
//! ```
//!
//! `riffle perf nexmark` drives this; `tests/nexmark.rs` checks every
//! query's output against a direct computation over the same events.
//!
//! ```
//! use riffle::nexmark::{Event, Generator, GeneratorConfig, Query};
//! let config = GeneratorConfig { events: 50, ..Default::default() };
//! let first = Generator::new(config.clone()).next();
//! assert!(matches!(first, Some(Event::Person(_))));
//! assert!(Query::Q3.sql(&config).contains("JOIN person"));
//! ```

pub mod generator;
pub mod model;
pub mod queries;
pub mod runner;

pub use generator::{Generator, GeneratorConfig};
pub use model::{Auction, Bid, Event, Person};
pub use queries::Query;
pub use runner::{load, load_with_progress, run_query, LoadStats, NexmarkError, RunStats};
