//! Table materialization (`Source` of a table, `ToTable`) and `ToStream`.
//!
//! [`TableOp`] keeps the latest row per key in a key-value store and
//! attaches each key's previous row to the change it emits, so downstream
//! aggregations and joins can retract it. A row whose value columns are all
//! NULL (a tombstone) deletes its key.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow::datatypes::SchemaRef;
use arrow::row::{RowConverter, SortField};
use riffle_state::{KeyValueSpec, KeyValueStore, KvStore, ReadOnlyKeyValueStore};

use super::{InitContext, OpContext, Operator};
use crate::batch::{Batch, Change};
use crate::error::{EngineError, Result};

/// Encodes and decodes the value columns of a table row for its store:
/// 8-byte event time, then the Arrow row format of the values.
pub(crate) struct RowCodec {
    conv: RowConverter,
    value_start: usize,
    schema: SchemaRef,
}

impl RowCodec {
    pub(crate) fn new(schema: SchemaRef, value_start: usize) -> Result<Self> {
        let conv = RowConverter::new(
            schema.fields()[value_start..].iter().map(|f| SortField::new(f.data_type().clone())).collect(),
        )
        .map_err(|e| EngineError::arrow("table row codec", e))?;
        Ok(RowCodec { conv, value_start, schema })
    }

    pub(crate) fn key_converter(schema: &SchemaRef, key_len: usize) -> Result<RowConverter> {
        RowConverter::new(schema.fields()[..key_len].iter().map(|f| SortField::new(f.data_type().clone())).collect())
            .map_err(|e| EngineError::arrow("table key", e))
    }

    /// Value rows of `batch`, encoded per row.
    pub(crate) fn encode(&self, batch: &RecordBatch, ts: &[i64]) -> Result<Vec<Vec<u8>>> {
        let rows = self
            .conv
            .convert_columns(&batch.columns()[self.value_start..])
            .map_err(|e| EngineError::arrow("table row codec", e))?;
        Ok((0..batch.num_rows())
            .map(|i| {
                let r = rows.row(i);
                let mut v = Vec::with_capacity(8 + r.as_ref().len());
                v.extend_from_slice(&ts[i].to_be_bytes());
                v.extend_from_slice(r.as_ref());
                v
            })
            .collect())
    }

    /// Rebuilds full rows (key columns taken from `keys`) from stored
    /// values; `None` entries give NULL rows. Returns the rows, a presence
    /// mask and the stored times.
    pub(crate) fn decode(&self, keys: &[ArrayRef], values: &[Option<&[u8]>]) -> Result<(RecordBatch, BooleanArray, Vec<i64>)> {
        let err = |e| EngineError::arrow("table row codec", e);
        let present: Vec<bool> = values.iter().map(Option::is_some).collect();
        let parser = self.conv.parser();
        // Missing rows decode from a NULL row of the right shape.
        let null_row = {
            let nulls: Vec<ArrayRef> = self.schema.fields()[self.value_start..]
                .iter()
                .map(|f| arrow::array::new_null_array(f.data_type(), 1))
                .collect();
            let r = self.conv.convert_columns(&nulls).map_err(err)?;
            r.row(0).as_ref().to_vec()
        };
        let mut ts = Vec::with_capacity(values.len());
        let mut bytes: Vec<&[u8]> = Vec::with_capacity(values.len());
        for v in values {
            match v {
                Some(b) if b.len() >= 8 => {
                    let mut t = [0u8; 8];
                    t.copy_from_slice(&b[..8]);
                    ts.push(i64::from_be_bytes(t));
                    bytes.push(&b[8..]);
                }
                _ => {
                    ts.push(i64::MIN);
                    bytes.push(&null_row);
                }
            }
        }
        let vals = self.conv.convert_rows(bytes.into_iter().map(|b| parser.parse(b))).map_err(err)?;
        let mut cols: Vec<ArrayRef> = keys.to_vec();
        cols.extend(vals);
        let rows = RecordBatch::try_new(self.schema.clone(), cols).map_err(err)?;
        Ok((rows, BooleanArray::from(present), ts))
    }
}

/// Materializes a table and attaches old values.
pub(crate) struct TableOp {
    name: String,
    store_name: String,
    key_len: usize,
    value_start: usize,
    key_conv: RowConverter,
    codec: RowCodec,
    store: Option<Arc<KvStore>>,
    /// Whether rows with all-NULL values are deletes (stream → table).
    null_is_delete: bool,
}

impl TableOp {
    pub(crate) fn new(name: String, store_name: String, schema: SchemaRef, key_len: usize, value_start: usize, null_is_delete: bool) -> Result<Self> {
        Ok(TableOp {
            name,
            store_name,
            key_len,
            value_start,
            key_conv: RowCodec::key_converter(&schema, key_len)?,
            codec: RowCodec::new(schema, value_start)?,
            store: None,
            null_is_delete,
        })
    }
}

impl Operator for TableOp {
    fn name(&self) -> &str {
        &self.name
    }

    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        self.store = Some(ctx.key_value_store(KeyValueSpec { name: self.store_name.clone(), cache_bytes: 0, logged: true })?);
        Ok(())
    }

    fn on_batch(&mut self, _port: usize, batch: Batch, ctx: &mut OpContext<'_>) -> Result<()> {
        let store = self.store.clone().ok_or_else(|| EngineError::Internal(format!("{} used before init", self.name)))?;
        let serr = |e| EngineError::state(&self.store_name, e);
        let n = batch.len();
        let cols = batch.rows.columns();
        let keys = self.key_conv.convert_columns(&cols[..self.key_len]).map_err(|e| EngineError::arrow(&self.name, e))?;
        let encoded = self.codec.encode(&batch.rows, batch.timestamps.values())?;
        let mut deleted = Vec::with_capacity(n);
        for i in 0..n {
            let explicit = batch.is_delete(i);
            let all_null = self.null_is_delete && cols[self.value_start..].iter().all(|c| c.is_null(i));
            deleted.push(explicit || all_null);
        }
        let mut olds: Vec<Option<bytes::Bytes>> = Vec::with_capacity(n);
        for i in 0..n {
            let k = keys.row(i);
            let old = store.get(k.as_ref()).map_err(serr)?;
            if deleted[i] {
                if old.is_some() {
                    store.delete(k.as_ref()).map_err(serr)?;
                }
            } else {
                store.put(k.as_ref(), &encoded[i]).map_err(serr)?;
            }
            olds.push(old);
        }
        let key_cols: Vec<ArrayRef> = cols[..self.value_start].to_vec();
        let refs: Vec<Option<&[u8]>> = olds.iter().map(|o| o.as_deref()).collect();
        let (old_rows, present, _) = self.codec.decode(&key_cols, &refs)?;
        // A delete of a key that never existed changes nothing: drop it.
        let keep = BooleanArray::from((0..n).map(|i| !(deleted[i] && olds[i].is_none())).collect::<Vec<_>>());
        let out = Batch {
            rows: batch.rows,
            timestamps: batch.timestamps,
            change: Some(Change { deleted: BooleanArray::from(deleted), old: Some((old_rows, present)) }),
            headers: batch.headers,
        };
        let out = if keep.true_count() == n { out } else { out.filter(&keep)? };
        ctx.emit(out);
        Ok(())
    }
}

/// A table's changes as a stream (Kafka Streams' `toStream`): rows pass
/// unchanged, deletes included, so a sink still writes tombstones.
pub(crate) struct ToStreamOp {
    pub(crate) name: String,
}

impl Operator for ToStreamOp {
    fn name(&self) -> &str {
        &self.name
    }

    fn on_batch(&mut self, _port: usize, batch: Batch, ctx: &mut OpContext<'_>) -> Result<()> {
        ctx.emit(batch);
        Ok(())
    }
}
