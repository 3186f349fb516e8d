//! # riffle-sql
//!
//! ksqlDB-dialect SQL for Riffle. Statements are parsed ([`parser`]) into an
//! AST ([`ast`]), resolved against a catalog of streams and tables, and
//! compiled into the engine's plan through the same
//! [`riffle_engine::PlanBuilder`] the Rust DSL uses. Functions
//! ([`functions`]) and formats ([`serde`]) follow ksqlDB's names and
//! semantics; ksqlDB's own query-validation tests are the oracle ([`qtt`]).

pub mod ast;
pub mod catalog;
pub mod error;
pub mod functions;
pub mod json;
pub mod qtt;
pub mod parser;
pub mod planner;
pub mod serde;
pub mod session;
pub mod transient;
pub mod types;
pub mod value;
pub mod value_codec;

pub use error::{Result, SqlError};
pub use types::SqlType;
pub use value::Value;
pub use session::{Executed, Session};
pub use transient::{schema_string, PullResult, PushQuery, PushRow, ResultColumn};
