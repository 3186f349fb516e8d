//! `Project` / `ProjectOp`: computes the value columns from expressions;
//! key and window columns pass through.

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;

use super::{OpContext, Operator};
use crate::batch::Batch;
use crate::error::{EngineError, Result};
use crate::physical::expr::evaluate;
use crate::plan::Expr;

pub(crate) struct ProjectOp {
    name: String,
    exprs: Vec<Expr>,
    keep: usize,
    schema: SchemaRef,
}

impl ProjectOp {
    pub(crate) fn new(name: String, exprs: Vec<Expr>, keep: usize, schema: SchemaRef) -> Self {
        ProjectOp { name, exprs, keep, schema }
    }
}

impl Operator for ProjectOp {
    fn name(&self) -> &str {
        &self.name
    }

    fn on_batch(&mut self, _port: usize, batch: Batch, ctx: &mut OpContext<'_>) -> Result<()> {
        let mut cols: Vec<ArrayRef> = batch.rows.columns()[..self.keep].to_vec();
        for e in &self.exprs {
            let a = evaluate(e, &batch)?;
            let want = self.schema.field(cols.len()).data_type();
            let a = if a.data_type() == want {
                a
            } else {
                arrow::compute::cast(&a, want).map_err(|e| EngineError::arrow(&self.name, e))?
            };
            cols.push(a);
        }
        let rows = RecordBatch::try_new(self.schema.clone(), cols).map_err(|e| EngineError::arrow(&self.name, e))?;
        ctx.emit(Batch { rows, timestamps: batch.timestamps, change: batch.change.map(|c| crate::batch::Change { deleted: c.deleted, old: None }) });
        Ok(())
    }
}
