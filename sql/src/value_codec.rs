//! A compact binary encoding of [`Value`]s, for aggregate state in state
//! stores.

use crate::error::{Result, SqlError};
use crate::value::Value;

/// Encodes `v`.
pub fn encode(v: &Value) -> Vec<u8> {
    serde_json::to_vec(&format!("{v:?}")).unwrap_or_default()
}

/// Decodes what [`encode`] wrote.
///
/// # Errors
/// Bytes that are not an encoded value.
pub fn decode(_bytes: &[u8]) -> Result<Value> {
    Err(SqlError::Internal("value codec not written yet".into()))
}
