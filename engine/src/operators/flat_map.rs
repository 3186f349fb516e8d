//! `FlatMap` / `FlatMapOp`: applies table functions (`EXPLODE`, …) to each
//! row of a stream. Row `i` becomes as many output rows as the longest of
//! its function results: the input row's columns (and event time) repeated,
//! with one column per function holding its values in order, NULL past the
//! end of a shorter result. Rows for which every function produces nothing
//! disappear, as in ksqlDB.

use arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, UInt32Array};
use arrow::compute::{cast, take};
use arrow::datatypes::SchemaRef;

use super::{OpContext, Operator};
use crate::batch::Batch;
use crate::error::{EngineError, Result};
use crate::physical::expr::evaluate;
use crate::plan::TableCall;

/// The flat-map operator. See the module docs.
pub(crate) struct FlatMapOp {
    name: String,
    calls: Vec<TableCall>,
    schema: SchemaRef,
}

impl FlatMapOp {
    /// Applies `calls` side by side and appends their values; `schema` is
    /// the output (the input's columns plus one per call).
    pub(crate) fn new(name: String, calls: Vec<TableCall>, schema: SchemaRef) -> Self {
        FlatMapOp { name, calls, schema }
    }
}

/// Where each input row's values start in a function's result, and how many
/// it has, from the row index of each value (non-decreasing).
fn spans(rows: &[u32], n: usize) -> (Vec<u32>, Vec<u32>) {
    let mut start = vec![0u32; n];
    let mut count = vec![0u32; n];
    for (v, &r) in rows.iter().enumerate() {
        let r = r as usize;
        if count[r] == 0 {
            start[r] = v as u32;
        }
        count[r] += 1;
    }
    (start, count)
}

impl Operator for FlatMapOp {
    fn name(&self) -> &str {
        &self.name
    }

    fn on_batch(&mut self, _port: usize, batch: Batch, ctx: &mut OpContext<'_>) -> Result<()> {
        let n = batch.len();
        let mut results: Vec<(ArrayRef, Vec<u32>, Vec<u32>)> = Vec::with_capacity(self.calls.len());
        for call in &self.calls {
            let args = call.args.iter().map(|a| evaluate(a, &batch)).collect::<Result<Vec<_>>>()?;
            let (values, rows) = call.func.invoke(&args, n)?;
            if values.len() != rows.len() || rows.iter().any(|&r| r as usize >= n) || rows.windows(2).any(|w| w[0] > w[1]) {
                return Err(EngineError::plan(
                    &self.name,
                    format!(
                        "table function {} returned {} values for {} row indexes (past the {n} input rows or out of order)",
                        call.func.name(),
                        values.len(),
                        rows.len()
                    ),
                ));
            }
            let (start, count) = spans(&rows, n);
            results.push((values, start, count));
        }
        // Output rows: per input row, as many as its longest result.
        let mut input_idx: Vec<u32> = Vec::new();
        let mut value_idx: Vec<Vec<Option<u32>>> = vec![Vec::new(); results.len()];
        for i in 0..n {
            let longest = results.iter().map(|(_, _, count)| count[i]).max().unwrap_or(0);
            for p in 0..longest {
                input_idx.push(i as u32);
                for (j, (_, start, count)) in results.iter().enumerate() {
                    value_idx[j].push((p < count[i]).then(|| start[i] + p));
                }
            }
        }
        let err = |e| EngineError::arrow(&self.name, e);
        let width = self.schema.fields().len();
        if batch.rows.num_columns() + results.len() != width {
            return Err(EngineError::Internal(format!("{}: input has {} columns, output {width}", self.name, batch.rows.num_columns())));
        }
        let idx = UInt32Array::from(input_idx);
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(width);
        for c in batch.rows.columns() {
            cols.push(take(c.as_ref(), &idx, None).map_err(err)?);
        }
        for ((values, _, _), vidx) in results.iter().zip(value_idx) {
            let picked = take(values.as_ref(), &UInt32Array::from(vidx), None).map_err(err)?;
            let want = self.schema.field(cols.len()).data_type();
            cols.push(if picked.data_type() == want { picked } else { cast(&picked, want).map_err(err)? });
        }
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

#[cfg(test)]
mod tests {
    use super::spans;

    #[test]
    fn spans_locate_each_rows_values() {
        // Row 0: values 0..2, row 1: none, row 2: value 2.
        let (start, count) = spans(&[0, 0, 2], 3);
        assert_eq!(count, vec![2, 0, 1]);
        assert_eq!((start[0], start[2]), (0, 2));
    }
}
