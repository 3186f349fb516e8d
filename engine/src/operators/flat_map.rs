//! `FlatMap` / `FlatMapOp`: applies a table function (`EXPLODE`, …) to each
//! row of a stream. Row `i` becomes one output row per value the function
//! produced for it: the input row's columns (and event time) repeated, with
//! the value appended as the last column. Rows for which the function
//! produces nothing disappear, as in ksqlDB.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, UInt32Array};
use arrow::compute::{cast, take};
use arrow::datatypes::SchemaRef;

use super::{OpContext, Operator};
use crate::batch::Batch;
use crate::error::{EngineError, Result};
use crate::functions::TableFunction;
use crate::physical::expr::evaluate;
use crate::plan::Expr;

/// The flat-map operator. See the module docs.
pub(crate) struct FlatMapOp {
    name: String,
    func: Arc<dyn TableFunction>,
    args: Vec<Expr>,
    schema: SchemaRef,
}

impl FlatMapOp {
    /// Applies `func(args)` and appends its values; `schema` is the output
    /// (the input's columns plus the produced one).
    pub(crate) fn new(name: String, func: Arc<dyn TableFunction>, args: Vec<Expr>, schema: SchemaRef) -> Self {
        FlatMapOp { name, func, args, schema }
    }
}

impl Operator for FlatMapOp {
    fn name(&self) -> &str {
        &self.name
    }

    fn on_batch(&mut self, _port: usize, batch: Batch, ctx: &mut OpContext<'_>) -> Result<()> {
        let n = batch.len();
        let args = self.args.iter().map(|a| evaluate(a, &batch)).collect::<Result<Vec<_>>>()?;
        let (values, rows) = self.func.invoke(&args, n)?;
        if values.len() != rows.len() || rows.iter().any(|&r| r as usize >= n) {
            return Err(EngineError::plan(
                &self.name,
                format!(
                    "table function {} returned {} values for {} row indexes (some may be past the {n} input rows)",
                    self.func.name(),
                    values.len(),
                    rows.len()
                ),
            ));
        }
        let err = |e| EngineError::arrow(&self.name, e);
        let idx = UInt32Array::from(rows);
        let width = self.schema.fields().len();
        if batch.rows.num_columns() + 1 != width {
            return Err(EngineError::Internal(format!("{}: input has {} columns, output {width}", self.name, batch.rows.num_columns())));
        }
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(width);
        for c in batch.rows.columns() {
            cols.push(take(c.as_ref(), &idx, None).map_err(err)?);
        }
        let want = self.schema.field(width - 1).data_type();
        cols.push(if values.data_type() == want { values } else { cast(&values, want).map_err(err)? });
        let rows = RecordBatch::try_new(self.schema.clone(), cols).map_err(err)?;
        let ts = take(&batch.timestamps, &idx, None).map_err(err)?;
        let ts = ts
            .as_any()
            .downcast_ref::<Int64Array>()
            .cloned()
            .ok_or_else(|| EngineError::Internal("timestamps are not Int64".into()))?;
        ctx.emit(Batch::new(rows, ts));
        Ok(())
    }
}
