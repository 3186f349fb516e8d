//! `Sink` / `SinkOp`: encodes rows and appends them to a topic, one log
//! batch per partition per input batch.
//!
//! Keys go through the key format; windowed keys get the window appended as
//! Kafka Streams' windowed serdes lay it out (8-byte big-endian start for
//! time windows; end then start for sessions). The partition is murmur2 of
//! the unwindowed key bytes, as Kafka's default partitioner (and Kafka
//! Streams' windowed partitioner) would choose. Rows that delete their key
//! become tombstones. Records carry the headers their rows brought along.
//! The record timestamp is the row's event time.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{Int64Type, Schema};
use bytes::Bytes;
use riffle_log::client::LogClient;
use riffle_log::partitioner::partition_for_key;
use riffle_log::record::{Header, Record};

use super::{OpContext, Operator};
use crate::batch::Batch;
use crate::error::{EngineError, Result};
use crate::format::FormatRef;
use crate::physical::expr::evaluate;
use crate::plan::Expr;

/// Header that marks a repartitioned table row as a retraction.
pub(crate) const RETRACT_HEADER: &str = "riffle.retract";

/// Payload bytes per appended log batch.
const MAX_BATCH_BYTES: usize = 512 * 1024;

/// Where a sink takes each record's timestamp from.
pub(crate) enum SinkTime {
    /// The row's event time.
    Event,
    /// A BIGINT or TIMESTAMP column (the event time where it is NULL).
    Column(usize),
    /// An expression giving BIGINT or TIMESTAMP; NULL drops the row.
    Expr(Expr),
}

pub(crate) struct SinkOp {
    pub(crate) name: String,
    pub(crate) topic: String,
    pub(crate) key_format: FormatRef,
    pub(crate) value_format: FormatRef,
    pub(crate) key_len: usize,
    /// Where each record's timestamp comes from.
    pub(crate) timestamp: SinkTime,
    /// Window layout of the key: None, Some(false) time window, Some(true) session.
    pub(crate) windowed: Option<bool>,
    pub(crate) value_start: usize,
    pub(crate) partitions: i32,
    pub(crate) task_partition: i32,
    pub(crate) log: Arc<dyn LogClient>,
    /// Internal repartition topic: mark retractions with a header.
    pub(crate) mark_retractions: bool,
}

impl SinkOp {
    fn project(batch: &RecordBatch, from: usize, to: usize) -> Result<RecordBatch> {
        let fields: Vec<_> = batch.schema().fields()[from..to].iter().cloned().collect();
        RecordBatch::try_new_with_options(
            Arc::new(Schema::new(fields)),
            batch.columns()[from..to].to_vec(),
            &arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
        )
        .map_err(|e| EngineError::arrow("sink", e))
    }
}

/// Row `i` of a BIGINT or TIMESTAMP array, when not NULL.
fn time_value(a: &dyn arrow::array::Array, i: usize) -> Option<i64> {
    if a.is_null(i) {
        return None;
    }
    match a.data_type() {
        arrow::datatypes::DataType::Int64 => Some(a.as_primitive::<Int64Type>().value(i)),
        arrow::datatypes::DataType::Timestamp(arrow::datatypes::TimeUnit::Millisecond, _) => {
            Some(a.as_primitive::<arrow::datatypes::TimestampMillisecondType>().value(i))
        }
        _ => None,
    }
}

impl Operator for SinkOp {
    fn name(&self) -> &str {
        &self.name
    }

    fn on_batch(&mut self, _port: usize, batch: Batch, ctx: &mut OpContext<'_>) -> Result<()> {
        let n = batch.len();
        // Keys and values are encoded into one buffer each; every record
        // holds a slice of it.
        let (mut key_buf, mut key_rows) = (Vec::new(), Vec::new());
        if self.key_len > 0 {
            self.key_format.encode_into(&Self::project(&batch.rows, 0, self.key_len)?, &mut key_buf, &mut key_rows)?;
        }
        let (mut value_buf, mut value_rows) = (Vec::new(), Vec::with_capacity(n));
        let width = batch.rows.num_columns();
        self.value_format.encode_into(&Self::project(&batch.rows, self.value_start, width)?, &mut value_buf, &mut value_rows)?;
        // The timestamps to write, when not the event time, and whether a
        // NULL one drops the row (an expression) or falls back (a column).
        let times: Option<(ArrayRef, bool)> = match &self.timestamp {
            SinkTime::Event => None,
            SinkTime::Column(c) => Some((batch.rows.column(*c).clone(), false)),
            SinkTime::Expr(e) => Some((evaluate(e, &batch)?, true)),
        };
        let (starts, ends) = match self.windowed {
            Some(_) => (
                Some(batch.rows.column(self.key_len).as_primitive::<Int64Type>().clone()),
                Some(batch.rows.column(self.key_len + 1).as_primitive::<Int64Type>().clone()),
            ),
            None => (None, None),
        };
        if let (Some(s), Some(e)) = (&starts, &ends) {
            // Windowed keys: the key bytes, then the window as Kafka
            // Streams' windowed serdes lay it out.
            let session = self.windowed == Some(true);
            let mut windowed = Vec::with_capacity(key_buf.len() + key_rows.len() * if session { 16 } else { 8 });
            for (i, r) in key_rows.iter_mut().enumerate() {
                let start = windowed.len();
                windowed.extend_from_slice(&key_buf[r.clone()]);
                if session {
                    windowed.extend_from_slice(&e.value(i).to_be_bytes());
                }
                windowed.extend_from_slice(&s.value(i).to_be_bytes());
                // The partition is chosen from the unwindowed key (below).
                *r = start..windowed.len();
            }
            key_buf = windowed;
        }
        let inner_key_len = |r: &std::ops::Range<usize>| r.len() - match self.windowed {
            Some(true) => 16,
            Some(false) => 8,
            None => 0,
        };
        let key_buf = Bytes::from(key_buf);
        let value_buf = Bytes::from(value_buf);
        let mut per_partition: BTreeMap<i32, Vec<Record>> = BTreeMap::new();
        for (i, value) in value_rows.into_iter().enumerate() {
            let timestamp = match &times {
                None => batch.timestamps.value(i),
                Some((t, drop_null)) => match time_value(t.as_ref(), i) {
                    Some(v) => v,
                    None if *drop_null => {
                        tracing::debug!(topic = %self.topic, row = i, "dropping an output row whose timestamp cannot be extracted");
                        continue;
                    }
                    None => batch.timestamps.value(i),
                },
            };
            if times.is_some() && timestamp < 0 {
                // Kafka cannot carry a negative timestamp: ksqlDB drops the row.
                tracing::warn!(topic = %self.topic, timestamp, "dropping an output row whose timestamp column is negative");
                continue;
            }
            // A row whose single key column is NULL has no key (ksqlDB writes
            // a null Kafka key), unless the key is windowed.
            let null_key = self.windowed.is_none() && self.key_len == 1 && batch.rows.column(0).is_null(i);
            let key = key_rows.get(i).filter(|_| !null_key);
            let partition = match key {
                Some(k) => partition_for_key(&key_buf[k.start..k.start + inner_key_len(k)], self.partitions),
                None => self.task_partition.rem_euclid(self.partitions.max(1)),
            };
            let key = key.map(|k| key_buf.slice(k.clone()));
            let delete = batch.is_delete(i);
            let mut headers = batch.headers.as_ref().map(|h| h[i].clone()).unwrap_or_default();
            let value = if delete && !self.mark_retractions {
                None
            } else {
                if delete {
                    headers.push(Header { key: RETRACT_HEADER.into(), value: Some(Bytes::from_static(b"1")) });
                }
                Some(value_buf.slice(value))
            };
            per_partition.entry(partition).or_default().push(Record {
                key,
                value,
                timestamp: Some(timestamp),
                headers,
            });
        }
        for (p, records) in per_partition {
            // Keep each log batch well under the topic's max.message.bytes
            // (1 MiB by default).
            let mut start = 0;
            let mut size = 0;
            for (i, r) in records.iter().enumerate() {
                size += r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len()) + 24;
                if size >= MAX_BATCH_BYTES || i + 1 == records.len() {
                    self.log
                        .append(&self.topic, p, &records[start..=i])
                        .map_err(|e| EngineError::log(format!("sink {}-{p}", self.topic), e))?;
                    start = i + 1;
                    size = 0;
                }
            }
        }
        ctx.metrics.records_out.fetch_add(n as u64, Ordering::Relaxed);
        Ok(())
    }
}
