//! `Filter` / `FilterOp`: keeps rows whose predicate is true. On a table a
//! row that does not match deletes its key downstream (Kafka Streams'
//! `KTable.filter` forwards a tombstone).

use arrow::array::{ArrayRef, BooleanArray, RecordBatch};
use arrow::compute::kernels::boolean::{not, or};
use arrow::compute::nullif;

use super::{OpContext, Operator};
use crate::batch::{Batch, Change};
use crate::error::{EngineError, Result};
use crate::physical::expr::evaluate_predicate;
use crate::plan::Expr;

pub(crate) struct FilterOp {
    name: String,
    predicate: Expr,
    table: bool,
    value_start: usize,
}

impl FilterOp {
    pub(crate) fn new(name: String, predicate: Expr, table: bool, value_start: usize) -> Self {
        FilterOp { name, predicate, table, value_start }
    }
}

/// Turns the rows where `drop` is true into deletes: value columns NULL,
/// `deleted` set.
pub(crate) fn to_deletes(batch: Batch, drop: &BooleanArray, value_start: usize, name: &str) -> Result<Batch> {
    let err = |e| EngineError::arrow(name, e);
    let mut cols: Vec<ArrayRef> = batch.rows.columns().to_vec();
    for c in cols.iter_mut().skip(value_start) {
        *c = nullif(c, drop).map_err(err)?;
    }
    let rows = RecordBatch::try_new(batch.rows.schema(), cols).map_err(err)?;
    let old_deleted = batch.change.as_ref().map(|c| c.deleted.clone());
    let deleted = match old_deleted {
        Some(d) => or(&d, drop).map_err(err)?,
        None => drop.clone(),
    };
    // Rows with a NULL predicate count as not matching.
    let deleted = BooleanArray::from_iter(deleted.iter().map(|v| Some(v.unwrap_or(true))));
    let old = batch.change.and_then(|c| c.old);
    Ok(Batch { rows, timestamps: batch.timestamps, change: Some(Change { deleted, old }) })
}

impl Operator for FilterOp {
    fn name(&self) -> &str {
        &self.name
    }

    fn on_batch(&mut self, _port: usize, batch: Batch, ctx: &mut OpContext<'_>) -> Result<()> {
        let mut mask = evaluate_predicate(&self.predicate, &batch)?;
        if !self.table {
            // A stream row carrying a null value (kept by the source) never
            // matches a predicate.
            if let Some(c) = &batch.change {
                let keep = not(&c.deleted).map_err(|e| EngineError::arrow(&self.name, e))?;
                mask = arrow::compute::kernels::boolean::and(&mask, &keep).map_err(|e| EngineError::arrow(&self.name, e))?;
            }
            if mask.true_count() == mask.len() {
                ctx.emit(batch);
            } else {
                ctx.emit(batch.filter(&mask)?);
            }
            return Ok(());
        }
        let drop = not(&mask).map_err(|e| EngineError::arrow(&self.name, e))?;
        let out = to_deletes(batch, &drop, self.value_start, &self.name)?;
        ctx.emit(out);
        Ok(())
    }
}
