//! Riffle facade.
pub use riffle_log as log;
