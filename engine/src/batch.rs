//! [`Batch`]: the unit that flows between operators — an Arrow
//! `RecordBatch` of rows with each row's event time and, for tables, what
//! each row changes.

use std::sync::Arc;

use arrow::array::{Array, BooleanArray, Int64Array, RecordBatch};
use riffle_log::record::Header;
use arrow::compute::filter_record_batch;
use arrow::compute::kernels::filter::filter;

use crate::error::{EngineError, Result};

/// How a table batch changes its table. Row `i` of the batch is the new
/// value of its key unless `deleted[i]`, in which case the key is removed
/// (its value columns are NULL). `old`, when present, holds each key's
/// previous value (`old_present[i]` false when there was none), which
/// aggregations and joins over tables need to retract.
#[derive(Debug, Clone)]
pub struct Change {
    /// Rows that delete their key.
    pub deleted: BooleanArray,
    /// Previous values, same schema as the batch.
    pub old: Option<(RecordBatch, BooleanArray)>,
}

/// Rows with event times: what operators pass to each other.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The rows, in the producing node's schema.
    pub rows: RecordBatch,
    /// Event time of each row, ms since the epoch.
    pub timestamps: Int64Array,
    /// Table semantics, when the producer is a table.
    pub change: Option<Change>,
    /// The Kafka headers of the record each row came from, when any row
    /// has some. Stateless operators (filter, project, re-key) keep them
    /// and sinks write them, as Kafka Streams forwards a record's headers.
    pub headers: Option<Arc<Vec<Vec<Header>>>>,
}

impl Batch {
    /// A stream batch.
    pub fn new(rows: RecordBatch, timestamps: Int64Array) -> Self {
        Batch { rows, timestamps, change: None, headers: None }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.num_rows()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.num_rows() == 0
    }

    /// Whether row `i` deletes its key (tables only).
    pub fn is_delete(&self, i: usize) -> bool {
        self.change.as_ref().is_some_and(|c| c.deleted.value(i))
    }

    /// Keeps the rows where `mask` is true (NULL = false), with their times
    /// and change information.
    ///
    /// # Errors
    /// Length mismatch (a bug in the caller).
    pub fn filter(&self, mask: &BooleanArray) -> Result<Batch> {
        let err = |e| EngineError::arrow("filter batch", e);
        let rows = filter_record_batch(&self.rows, mask).map_err(err)?;
        let ts = filter(&self.timestamps, mask).map_err(err)?;
        let timestamps = ts
            .as_any()
            .downcast_ref::<Int64Array>()
            .cloned()
            .ok_or_else(|| EngineError::Internal("timestamps are not Int64".into()))?;
        let change = match &self.change {
            None => None,
            Some(c) => {
                let deleted = filter(&c.deleted, mask).map_err(err)?;
                let deleted = deleted
                    .as_any()
                    .downcast_ref::<BooleanArray>()
                    .cloned()
                    .ok_or_else(|| EngineError::Internal("deleted mask is not Boolean".into()))?;
                let old = match &c.old {
                    None => None,
                    Some((old, present)) => {
                        let o = filter_record_batch(old, mask).map_err(err)?;
                        let p = filter(present, mask).map_err(err)?;
                        let p = p
                            .as_any()
                            .downcast_ref::<BooleanArray>()
                            .cloned()
                            .ok_or_else(|| EngineError::Internal("old mask is not Boolean".into()))?;
                        Some((o, p))
                    }
                };
                Some(Change { deleted, old })
            }
        };
        let headers = self.headers.as_ref().map(|h| {
            Arc::new(h.iter().enumerate().filter(|(i, _)| mask.is_valid(*i) && mask.value(*i)).map(|(_, h)| h.clone()).collect())
        });
        Ok(Batch { rows, timestamps, change, headers })
    }

    /// Rows `offset..offset + len`.
    pub fn slice(&self, offset: usize, len: usize) -> Batch {
        Batch {
            rows: self.rows.slice(offset, len),
            timestamps: self.timestamps.slice(offset, len),
            change: self.change.as_ref().map(|c| Change {
                deleted: c.deleted.slice(offset, len),
                old: c.old.as_ref().map(|(o, p)| (o.slice(offset, len), p.slice(offset, len))),
            }),
            headers: self.headers.as_ref().map(|h| Arc::new(h[offset..offset + len].to_vec())),
        }
    }
}
