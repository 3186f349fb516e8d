//! `SelectKey` / `SelectKeyOp`: computes a new key. On a table (grouping a
//! table), each change becomes a retraction of the old row under its old
//! group key and an addition of the new row under its new key, as Kafka
//! Streams' `KTable.groupBy` does.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Int64Array, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;

use super::{OpContext, Operator};
use crate::batch::{Batch, Change};
use crate::error::{EngineError, Result};
use crate::physical::expr::evaluate;
use crate::plan::Expr;

pub(crate) struct SelectKeyOp {
    name: String,
    key: Vec<Expr>,
    /// Input column index of each output value column.
    values: Vec<usize>,
    schema: SchemaRef,
    table: bool,
    /// The new key is the old key columns, renamed: rows keep their key
    /// (and partition), so table deletes pass on as they are.
    rename_only: bool,
}

impl SelectKeyOp {
    pub(crate) fn new(name: String, key: Vec<Expr>, values: Vec<usize>, schema: SchemaRef, table: bool, rename_only: bool) -> Self {
        SelectKeyOp { name, key, values, schema, table, rename_only }
    }

    fn rekey(&self, batch: &Batch) -> Result<RecordBatch> {
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for e in &self.key {
            let a = evaluate(e, batch)?;
            let want = self.schema.field(cols.len()).data_type();
            cols.push(if a.data_type() == want {
                a
            } else {
                arrow::compute::cast(&a, want).map_err(|e| EngineError::arrow(&self.name, e))?
            });
        }
        for &i in &self.values {
            cols.push(batch.rows.column(i).clone());
        }
        RecordBatch::try_new(self.schema.clone(), cols).map_err(|e| EngineError::arrow(&self.name, e))
    }
}

impl Operator for SelectKeyOp {
    fn name(&self) -> &str {
        &self.name
    }

    fn on_batch(&mut self, _port: usize, batch: Batch, ctx: &mut OpContext<'_>) -> Result<()> {
        if !self.table || self.rename_only {
            let rows = self.rekey(&batch)?;
            // Stream rows keep a deletion mark (null values passed on); a
            // renamed table key keeps its deletes and old rows.
            let change = match batch.change.clone() {
                Some(c) => {
                    let old = match c.old {
                        Some((o, present)) if self.rename_only => {
                            let ob = Batch { rows: o, timestamps: batch.timestamps.clone(), change: None, headers: None };
                            Some((self.rekey(&ob)?, present))
                        }
                        _ => None,
                    };
                    Some(Change { deleted: c.deleted, old })
                }
                None => None,
            };
            ctx.emit(Batch { rows, timestamps: batch.timestamps, change, headers: batch.headers });
            return Ok(());
        }
        // Table: retract old rows, add new rows; rows interleaved per input row.
        let n = batch.len();
        let adds = self.rekey(&batch)?;
        let add_keep: Vec<bool> = (0..n).map(|i| !batch.is_delete(i)).collect();
        let (olds, old_keep) = match batch.change.as_ref().and_then(|c| c.old.as_ref()) {
            Some((old, present)) => {
                let ob = Batch { rows: old.clone(), timestamps: batch.timestamps.clone(), change: None, headers: None };
                (Some(self.rekey(&ob)?), (0..n).map(|i| present.is_valid(i) && present.value(i)).collect::<Vec<_>>())
            }
            None => (None, vec![false; n]),
        };
        // Interleave: for each input row, its retraction then its addition,
        // both with the input row's headers.
        let mut parts = Vec::new();
        let mut deleted = Vec::new();
        let mut ts = Vec::new();
        let mut from = Vec::new();
        for i in 0..n {
            if old_keep[i] {
                if let Some(o) = &olds {
                    parts.push(o.slice(i, 1));
                    deleted.push(true);
                    ts.push(batch.timestamps.value(i));
                    from.push(i);
                }
            }
            if add_keep[i] {
                parts.push(adds.slice(i, 1));
                deleted.push(false);
                ts.push(batch.timestamps.value(i));
                from.push(i);
            }
        }
        if parts.is_empty() {
            return Ok(());
        }
        let rows = concat_batches(&self.schema, &parts).map_err(|e| EngineError::arrow(&self.name, e))?;
        ctx.emit(Batch {
            rows,
            timestamps: Int64Array::from(ts),
            change: Some(Change { deleted: BooleanArray::from(deleted), old: None }),
            headers: batch.headers.as_ref().map(|h| Arc::new(from.iter().map(|&i| h[i].clone()).collect())),
        });
        Ok(())
    }
}
