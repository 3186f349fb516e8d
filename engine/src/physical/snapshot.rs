//! Evaluating a stateless plan over a fixed set of records, outside any
//! task: what a pull query does with a table snapshot. Only the stateless
//! nodes are allowed (source, filter, project, to-stream, to-table, sink);
//! a filter drops rows instead of turning them into deletes, because the
//! answer is a set of rows, not a changelog.

use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::kernels::boolean::not;
use riffle_log::record::StoredRecord;

use super::source::{SourceDecoder, SourceSpec};
use crate::batch::{Batch, Change};
use crate::error::{EngineError, Result};
use crate::physical::expr::{evaluate, evaluate_predicate};
use crate::plan::LogicalPlan;
use crate::runtime::TaskMetrics;

/// The rows `plan` produces from `records` of its single source (a table's
/// latest record per key, say). Records that do not decode are skipped and
/// counted in the returned number.
///
/// # Errors
/// A plan with a stateful node (aggregate, join, repartition …), or an
/// expression that fails to evaluate.
pub fn evaluate_snapshot(plan: &LogicalPlan, records: &[StoredRecord]) -> Result<(Batch, u64)> {
    let metrics = TaskMetrics::default();
    let batch = eval(plan, records, &metrics)?;
    let skipped = metrics.snapshot().decode_errors;
    Ok((batch, skipped))
}

fn eval(plan: &LogicalPlan, records: &[StoredRecord], metrics: &TaskMetrics) -> Result<Batch> {
    match plan {
        LogicalPlan::Source(s) => {
            let decoder = SourceDecoder::new(SourceSpec::from_source(s, false), 0)?;
            let batch = match decoder.decode(records, metrics)? {
                Some(b) => b,
                None => empty(&s.meta.schema),
            };
            live_rows(batch, "snapshot source")
        }
        LogicalPlan::Filter(f) => {
            let input = eval(&f.input, records, metrics)?;
            let mask = evaluate_predicate(&f.predicate, &input)?;
            input.filter(&mask)
        }
        LogicalPlan::Project(p) => {
            let input = eval(&p.input, records, metrics)?;
            let schema = p.meta.schema.clone();
            let keep = schema.fields().len() - p.exprs.len();
            let mut cols: Vec<ArrayRef> = input.rows.columns()[..keep].to_vec();
            for (e, _) in &p.exprs {
                let a = evaluate(e, &input)?;
                let want = schema.field(cols.len()).data_type();
                let a = if a.data_type() == want {
                    a
                } else {
                    arrow::compute::cast(&a, want).map_err(|e| EngineError::arrow("snapshot project", e))?
                };
                cols.push(a);
            }
            let rows = RecordBatch::try_new(schema, cols).map_err(|e| EngineError::arrow("snapshot project", e))?;
            Ok(Batch::new(rows, input.timestamps))
        }
        LogicalPlan::ToStream(t) => eval(&t.input, records, metrics),
        LogicalPlan::ToTable(t) => eval(&t.input, records, metrics),
        LogicalPlan::Sink(s) => eval(&s.input, records, metrics),
        other => Err(EngineError::plan(
            other.name(),
            "a snapshot (pull) query can only filter and project its source",
        )),
    }
}

/// A batch without rows of `schema`.
fn empty(schema: &arrow::datatypes::SchemaRef) -> Batch {
    Batch::new(RecordBatch::new_empty(schema.clone()), arrow::array::Int64Array::from(Vec::<i64>::new()))
}

/// Drops deleted rows (tombstones in the snapshot) and the change marker.
fn live_rows(batch: Batch, what: &str) -> Result<Batch> {
    let Some(Change { deleted, .. }) = &batch.change else { return Ok(batch) };
    let keep = not(deleted).map_err(|e| EngineError::arrow(what, e))?;
    let mut out = batch.filter(&keep)?;
    out.change = None;
    Ok(out)
}
