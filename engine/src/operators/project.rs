//! `Project` / `ProjectOp`: computes the value columns from expressions;
//! key and window columns pass through.

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;

use super::{OpContext, Operator};
use crate::batch::{Batch, Change};
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
        let rows = self.project(&batch)?;
        // A table change keeps the row it replaces, projected the same way.
        let change = match batch.change {
            Some(c) => {
                let old = match c.old {
                    Some((old_rows, present)) => {
                        let ob = Batch::new(old_rows, batch.timestamps.clone());
                        Some((self.project(&ob)?, present))
                    }
                    None => None,
                };
                Some(Change { deleted: c.deleted, old })
            }
            None => None,
        };
        ctx.emit(Batch { rows, timestamps: batch.timestamps, change, headers: batch.headers });
        Ok(())
    }
}

impl ProjectOp {
    fn project(&self, batch: &Batch) -> Result<RecordBatch> {
        let mut cols: Vec<ArrayRef> = batch.rows.columns()[..self.keep].to_vec();
        for e in &self.exprs {
            let a = evaluate(e, batch)?;
            let want = self.schema.field(cols.len()).data_type();
            let a = if a.data_type() == want {
                a
            } else {
                arrow::compute::cast(&a, want).map_err(|e| EngineError::arrow(&self.name, e))?
            };
            cols.push(a);
        }
        RecordBatch::try_new(self.schema.clone(), cols).map_err(|e| EngineError::arrow(&self.name, e))
    }
}
