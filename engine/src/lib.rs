//! # riffle-engine
//!
//! Riffle's dataflow engine: the Kafka Streams of the project.
//!
//! (Crate overview written below once the runtime lands.)

pub mod batch;
pub mod builder;
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
pub use runtime::{StreamsApp, StreamsConfig};
pub use testing::TestDriver;
