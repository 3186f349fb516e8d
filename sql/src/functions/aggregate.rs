//! Built-in aggregate functions with ksqlDB's names and semantics.

use super::Udaf;

/// Every built-in aggregate function.
pub fn all() -> Vec<Udaf> {
    Vec::new()
}
