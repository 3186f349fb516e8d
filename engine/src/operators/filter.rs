//! `Filter` / `FilterOp`: keeps rows whose predicate is true. On a table a
//! row that stops matching deletes its key downstream (Kafka Streams'
//! `KTable.filter` with old values forwards a tombstone); a row whose key
//! did not match before either is dropped, since downstream never saw it.
//!
//! The keys that currently match are held in memory. After a restart that
//! set starts empty, so a row that stops matching then is dropped rather
//! than deleted (at worst a stale row downstream, never a wrong one added).

use std::collections::HashSet;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow::row::{RowConverter, SortField};
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
    /// Tables: encodes a row's key (and window) columns.
    key_conv: Option<RowConverter>,
    /// Tables: the keys whose latest row matched.
    matching: HashSet<Box<[u8]>, ahash::RandomState>,
}

impl FilterOp {
    pub(crate) fn new(name: String, predicate: Expr, table: bool, value_start: usize) -> Self {
        FilterOp { name, predicate, table, value_start, key_conv: None, matching: HashSet::default() }
    }

    /// Drops the old rows that did not match: downstream never saw them, so
    /// there is nothing to retract.
    fn filter_old(&self, mut batch: Batch) -> Result<Batch> {
        let Some(change) = batch.change.as_mut() else { return Ok(batch) };
        let Some((old_rows, present)) = change.old.as_mut() else { return Ok(batch) };
        let ob = Batch::new(old_rows.clone(), batch.timestamps.clone());
        let old_mask = evaluate_predicate(&self.predicate, &ob)?;
        let kept: BooleanArray = present
            .iter()
            .zip(old_mask.iter())
            .map(|(p, m)| Some(p.unwrap_or(false) && m.unwrap_or(false)))
            .collect();
        *present = kept;
        Ok(batch)
    }

    /// Table rows to forward: matching rows, and non-matching ones (as
    /// deletes) only where the key matched before. Returns `(keep, drop)`
    /// masks over the batch: rows kept, and kept rows turned into deletes.
    fn table_masks(&mut self, batch: &Batch, mask: &BooleanArray) -> Result<(BooleanArray, BooleanArray)> {
        let err = |e| EngineError::arrow(&self.name, e);
        let cols = &batch.rows.columns()[..self.value_start];
        if self.key_conv.is_none() {
            let fields = cols.iter().map(|c| SortField::new(c.data_type().clone())).collect();
            self.key_conv = Some(RowConverter::new(fields).map_err(err)?);
        }
        let conv = self.key_conv.as_ref().ok_or_else(|| EngineError::Internal("filter key converter".into()))?;
        let keys = conv.convert_columns(cols).map_err(err)?;
        let deleted = batch.change.as_ref().map(|c| &c.deleted);
        let mut keep = Vec::with_capacity(batch.len());
        let mut drop = Vec::with_capacity(batch.len());
        for i in 0..batch.len() {
            let key = keys.row(i);
            let is_delete = deleted.is_some_and(|d| d.is_valid(i) && d.value(i));
            let matches = !is_delete && mask.is_valid(i) && mask.value(i);
            if matches {
                self.matching.insert(key.as_ref().into());
                keep.push(true);
                drop.push(false);
            } else {
                let was = self.matching.remove(key.as_ref());
                keep.push(was);
                drop.push(true);
            }
        }
        Ok((BooleanArray::from(keep), BooleanArray::from(drop)))
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
    Ok(Batch { rows, timestamps: batch.timestamps, change: Some(Change { deleted, old }), headers: batch.headers })
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
        let (keep, drop) = self.table_masks(&batch, &mask)?;
        let batch = self.filter_old(batch)?;
        let out = to_deletes(batch, &drop, self.value_start, &self.name)?;
        if keep.true_count() == keep.len() {
            ctx.emit(out);
        } else if keep.true_count() > 0 {
            ctx.emit(out.filter(&keep)?);
        }
        Ok(())
    }
}
