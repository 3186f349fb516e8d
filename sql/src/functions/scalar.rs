//! Built-in scalar and table functions (string, math, date and time, JSON,
//! collections, URL, …) with ksqlDB's names and semantics.

use super::{Udf, Udtf};

/// Every built-in scalar function.
pub fn all() -> Vec<Udf> {
    Vec::new()
}

/// Every built-in table function.
pub fn table_functions() -> Vec<Udtf> {
    Vec::new()
}
