//! Record formats: how key and value bytes become Arrow columns and back.
//!
//! A [`Format`] decodes the payloads of many records at once into one
//! `RecordBatch` (vectorized: the JSON format runs Arrow's tape decoder over
//! the whole batch) and encodes a batch into one payload per row. A payload
//! that does not decode is reported with its index and reason and left out
//! of the batch, so the source can skip it with a logged reason and a
//! metric instead of failing the task.
//!
//! Built in: [`JsonFormat`] and [`KafkaFormat`] (Kafka's primitive serdes
//! for single-column keys). The SQL layer adds more by implementing the
//! trait.

mod json;
mod json_flat;
mod kafka;

use std::fmt::Debug;
use std::ops::Range;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

pub use json::JsonFormat;
pub use json_flat::{decode_flat_objects, FieldNames};
pub use kafka::KafkaFormat;

use crate::error::Result;

/// A shared format.
pub type FormatRef = Arc<dyn Format>;

/// [`Format::encode`] for a format whose real work is
/// [`Format::encode_into`]: one buffer, then a `Vec` per row.
///
/// # Errors
/// As `format`'s `encode_into`.
pub fn encode_rows<F: Format + ?Sized>(format: &F, batch: &RecordBatch) -> Result<Vec<Vec<u8>>> {
    let mut buf = Vec::new();
    let mut rows = Vec::with_capacity(batch.num_rows());
    format.encode_into(batch, &mut buf, &mut rows)?;
    Ok(rows.into_iter().map(|r| buf[r].to_vec()).collect())
}

/// Payloads decoded into columns.
#[derive(Debug)]
pub struct Decoded {
    /// One row per payload that decoded, in input order.
    pub batch: RecordBatch,
    /// For each row of `batch`, the index of its payload.
    pub rows: Vec<usize>,
    /// `(payload index, reason)` of each payload that did not decode.
    pub errors: Vec<(usize, String)>,
}

/// A serialization format for keys or values.
pub trait Format: Send + Sync + Debug {
    /// Name as ksqlDB spells it (`JSON`, `KAFKA`, …).
    fn name(&self) -> &str;

    /// Decodes `payloads` into rows of `schema`. Never fails as a whole for
    /// bad payloads: those go to [`Decoded::errors`].
    ///
    /// # Errors
    /// A schema this format cannot produce (for example two columns for
    /// `KAFKA`).
    fn decode(&self, schema: &SchemaRef, payloads: &[&[u8]]) -> Result<Decoded>;

    /// Encodes every row of `batch` (exactly the columns to write).
    ///
    /// # Errors
    /// Columns this format cannot represent.
    fn encode(&self, batch: &RecordBatch) -> Result<Vec<Vec<u8>>>;

    /// Encodes every row of `batch` into one buffer: appends the payloads
    /// to `out` and, per row, the range of `out` that holds its payload to
    /// `rows`. Sinks use this to write a batch without a buffer per row;
    /// the default goes through [`Format::encode`].
    ///
    /// # Errors
    /// As [`Format::encode`].
    fn encode_into(&self, batch: &RecordBatch, out: &mut Vec<u8>, rows: &mut Vec<Range<usize>>) -> Result<()> {
        for payload in self.encode(batch)? {
            let start = out.len();
            out.extend_from_slice(&payload);
            rows.push(start..out.len());
        }
        Ok(())
    }
}
