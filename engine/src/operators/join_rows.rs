//! What the join operators share: how a side's rows are kept in a store and
//! how joined output rows are assembled.
//!
//! A side row is stored with [`RowCodec`] (8-byte event time, then the Arrow
//! row format of its value columns), keyed by the Arrow row format of its
//! key columns. A joined output row is described per side by a [`Part`]: a
//! row of the batch being processed, a stored row, or nothing (NULL
//! columns); [`JoinLayout::assemble`] turns a list of those into one output
//! batch with the Join node's schema (key columns, left value columns, right
//! value columns), in order.

use std::sync::Arc;

use arrow::array::{new_null_array, Array, ArrayRef, BooleanArray, Int64Array, RecordBatch, UInt32Array};
use arrow::compute::{interleave, take};
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::row::{RowConverter, Rows};
use bytes::Bytes;
use riffle_log::record::Header;

use super::table::RowCodec;
use crate::batch::{Batch, Change};
use crate::error::{EngineError, Result};

/// One side of one output row.
#[derive(Debug, Clone)]
pub(crate) enum Part {
    /// Row `i` of the batch being processed.
    Input(u32),
    /// A row read from a store (as [`RowCodec`] wrote it).
    Stored(Bytes),
    /// No row: the side's value columns are NULL.
    Null,
}

/// Output rows under construction, in emission order.
#[derive(Debug, Default)]
pub(crate) struct JoinedRows {
    /// Output key of each row, in the key converter's row format.
    pub(crate) keys: Vec<Box<[u8]>>,
    /// Left side of each row.
    pub(crate) left: Vec<Part>,
    /// Right side of each row.
    pub(crate) right: Vec<Part>,
    /// Event time of each row.
    pub(crate) ts: Vec<i64>,
    /// Whether the row deletes its key (table outputs only).
    pub(crate) deleted: Vec<bool>,
}

impl JoinedRows {
    /// Appends a row.
    pub(crate) fn push(&mut self, key: &[u8], left: Part, right: Part, ts: i64, deleted: bool) {
        self.keys.push(key.into());
        self.left.push(left);
        self.right.push(right);
        self.ts.push(ts);
        self.deleted.push(deleted);
    }

    /// Appends a delete of `key` (both sides NULL).
    pub(crate) fn push_delete(&mut self, key: &[u8], ts: i64) {
        self.push(key, Part::Null, Part::Null, ts, true);
    }

    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.ts.len()
    }
}

/// How one input side is laid out and stored.
pub(crate) struct SideLayout {
    /// Encodes/decodes the side's rows (over an all-nullable copy of its
    /// schema, so decoding never trips over key nullability).
    pub(crate) codec: RowCodec,
    /// The all-nullable schema the codec decodes into.
    schema: SchemaRef,
    /// Index of the side's first value column.
    pub(crate) value_start: usize,
}

impl SideLayout {
    /// The layout of an input with `schema` whose values start at
    /// `value_start`.
    pub(crate) fn new(schema: &SchemaRef, value_start: usize) -> Result<Self> {
        let fields: Vec<Field> = schema.fields().iter().map(|f| (**f).clone().with_nullable(true)).collect();
        let schema = Arc::new(Schema::new(fields));
        Ok(SideLayout { codec: RowCodec::new(schema.clone(), value_start)?, schema, value_start })
    }

    /// Each row of `batch`, encoded for a store.
    pub(crate) fn encode(&self, batch: &Batch) -> Result<Vec<Vec<u8>>> {
        self.codec.encode(&batch.rows, batch.timestamps.values())
    }

    fn value_count(&self) -> usize {
        self.schema.fields().len() - self.value_start
    }

    /// The value columns of `parts`, taking `Input` rows from `input`.
    fn value_columns(&self, parts: &[Part], input: Option<&RecordBatch>) -> Result<Vec<ArrayRef>> {
        let n = parts.len();
        let mut stored: Vec<Option<&[u8]>> = Vec::new();
        let mut picks: Vec<(usize, usize)> = Vec::with_capacity(n);
        let mut inputs: Vec<u32> = Vec::new();
        for p in parts {
            match p {
                Part::Input(i) => {
                    picks.push((0, *i as usize));
                    inputs.push(*i);
                }
                Part::Stored(b) => {
                    picks.push((1, stored.len()));
                    stored.push(Some(b));
                }
                Part::Null => {
                    picks.push((1, stored.len()));
                    stored.push(None);
                }
            }
        }
        let err = |e| EngineError::arrow("join output", e);
        let input = match (inputs.is_empty(), input) {
            (true, _) => None,
            (false, Some(b)) => {
                if inputs.iter().any(|&i| i as usize >= b.num_rows()) {
                    return Err(EngineError::Internal("join output refers past its input batch".into()));
                }
                Some(b)
            }
            (false, None) => return Err(EngineError::Internal("join output refers to a missing input batch".into())),
        };
        let decoded = if stored.is_empty() {
            None
        } else {
            let keys: Vec<ArrayRef> =
                self.schema.fields()[..self.value_start].iter().map(|f| new_null_array(f.data_type(), stored.len())).collect();
            Some(self.codec.decode(&keys, &stored)?.0)
        };
        let mut out = Vec::with_capacity(self.value_count());
        for j in self.value_start..self.schema.fields().len() {
            let col = match (input, &decoded) {
                (Some(b), None) => take(b.column(j).as_ref(), &UInt32Array::from(inputs.clone()), None).map_err(err)?,
                (None, Some(d)) => d.column(j).clone(),
                (Some(b), Some(d)) => interleave(&[b.column(j).as_ref(), d.column(j).as_ref()], &picks).map_err(err)?,
                (None, None) => new_null_array(self.schema.field(j).data_type(), n),
            };
            out.push(col);
        }
        Ok(out)
    }
}

/// The output layout of a join: key columns, left values, right values.
pub(crate) struct JoinLayout {
    /// Output schema (the Join node's).
    pub(crate) schema: SchemaRef,
    /// Converts the output key columns to and from row bytes.
    pub(crate) key_conv: RowConverter,
    /// Left input.
    pub(crate) left: SideLayout,
    /// Right input.
    pub(crate) right: SideLayout,
}

impl JoinLayout {
    /// The layout for an output `schema` whose first `key_len` columns are
    /// the key, over inputs with the given schemas and value starts.
    ///
    /// # Errors
    /// A key-less join (there is nothing to join on), or schemas whose
    /// columns do not add up.
    pub(crate) fn new(
        name: &str,
        schema: SchemaRef,
        key_len: usize,
        left: (&SchemaRef, usize),
        right: (&SchemaRef, usize),
    ) -> Result<Self> {
        if key_len == 0 {
            return Err(EngineError::plan(name, "a join needs key columns on both sides; re-key the inputs (PARTITION BY) first"));
        }
        let left = SideLayout::new(left.0, left.1)?;
        let right = SideLayout::new(right.0, right.1)?;
        if key_len + left.value_count() + right.value_count() != schema.fields().len() {
            return Err(EngineError::Internal(format!("{name}: join output schema does not match its inputs")));
        }
        Ok(JoinLayout { key_conv: RowCodec::key_converter(&schema, key_len)?, schema, left, right })
    }

    /// The key rows of the first `key_len` columns of `batch` (the key
    /// columns of either input).
    pub(crate) fn keys(&self, batch: &RecordBatch) -> Result<Rows> {
        let n = self.schema.fields().len() - self.left.value_count() - self.right.value_count();
        self.key_conv.convert_columns(&batch.columns()[..n]).map_err(|e| EngineError::arrow("join key", e))
    }

    /// Builds the output batch for `rows`; `Input` parts of the left side
    /// index `left_input`, those of the right side `right_input`. Table
    /// outputs (`table`) carry [`Change`] with the deletes. A row built from
    /// an input row carries that row's Kafka headers from `input_headers`
    /// (Kafka Streams forwards the triggering record's headers); rows from
    /// stores alone (outer rows of closed windows, deletes) carry none.
    /// `None` when there are no rows.
    ///
    /// # Errors
    /// Arrow failures (a bug), parts that point outside their batch.
    pub(crate) fn assemble(
        &self,
        rows: &JoinedRows,
        left_input: Option<&RecordBatch>,
        right_input: Option<&RecordBatch>,
        input_headers: Option<&Arc<Vec<Vec<Header>>>>,
        table: bool,
    ) -> Result<Option<Batch>> {
        if rows.len() == 0 {
            return Ok(None);
        }
        let err = |e| EngineError::arrow("join output", e);
        let parser = self.key_conv.parser();
        let mut cols = self.key_conv.convert_rows(rows.keys.iter().map(|k| parser.parse(k))).map_err(err)?;
        cols.extend(self.left.value_columns(&rows.left, left_input)?);
        cols.extend(self.right.value_columns(&rows.right, right_input)?);
        // Key columns may differ from the output's only in nullability.
        let out = RecordBatch::try_new(self.schema.clone(), cols).map_err(err)?;
        let mut batch = Batch::new(out, Int64Array::from(rows.ts.clone()));
        if table {
            batch.change = Some(Change { deleted: BooleanArray::from(rows.deleted.clone()), old: None });
        }
        if let Some(h) = input_headers {
            let row_headers = |part: &Part| match part {
                Part::Input(i) => h.get(*i as usize).cloned(),
                _ => None,
            };
            batch.headers = Some(Arc::new(
                rows.left
                    .iter()
                    .zip(&rows.right)
                    .map(|(l, r)| row_headers(l).or_else(|| row_headers(r)).unwrap_or_default())
                    .collect(),
            ));
        }
        Ok(Some(batch))
    }
}

/// The event time a [`RowCodec`] value starts with (`i64::MIN` when the
/// value is too short to hold one).
pub(crate) fn stored_time(value: &[u8]) -> i64 {
    match value.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
        Some(b) => i64::from_be_bytes(b),
        None => i64::MIN,
    }
}

/// For each row, whether any of its first `key_len` columns is NULL (such
/// rows never match: SQL equality).
pub(crate) fn null_keys(batch: &RecordBatch, key_len: usize) -> Vec<bool> {
    let mut out = vec![false; batch.num_rows()];
    for c in &batch.columns()[..key_len.min(batch.num_columns())] {
        if c.null_count() > 0 {
            for (i, o) in out.iter_mut().enumerate() {
                *o |= c.is_null(i);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::StringArray;

    #[test]
    fn stored_time_reads_the_leading_event_time() {
        let mut v = 42i64.to_be_bytes().to_vec();
        v.extend_from_slice(b"rest");
        assert_eq!(stored_time(&v), 42);
        assert_eq!(stored_time(b"short"), i64::MIN);
    }

    #[test]
    fn rows_with_a_null_key_column_are_flagged() {
        let schema = Arc::new(Schema::new(vec![Field::new("k", arrow::datatypes::DataType::Utf8, true)]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(vec![Some("a"), None]))]).unwrap();
        assert_eq!(null_keys(&batch, 1), vec![false, true]);
    }
}
