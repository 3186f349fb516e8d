//! Sources: which topic a sub-topology reads and how its records become a
//! [`Batch`]. Records that do not decode are skipped with a logged reason
//! (topic, partition, offset) and counted; the task keeps running.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int32Array, Int64Array, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::{DataType, Int64Type, Schema, SchemaRef, TimeUnit, TimestampMillisecondType};
use riffle_log::record::StoredRecord;

use crate::batch::{Batch, Change};
use crate::error::{EngineError, Result};
use crate::format::{FormatRef, JsonFormat, KafkaFormat};
use crate::operators::sink::RETRACT_HEADER;
use crate::physical::expr::evaluate;
use crate::plan::{Kind, Meta, Source, TimestampSpec, WindowSpec};
use crate::runtime::TaskMetrics;

/// A topic a sub-topology reads, and how to decode it.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    /// Topic.
    pub topic: String,
    /// Whether this is an internal repartition topic.
    pub internal: bool,
    /// Stream or table.
    pub kind: Kind,
    pub(crate) key_format: FormatRef,
    pub(crate) value_format: FormatRef,
    pub(crate) schema: SchemaRef,
    pub(crate) key_len: usize,
    pub(crate) time: TimestampSpec,
    pub(crate) keep_null_values: bool,
    /// The window of windowed record keys (their rows carry
    /// `WINDOWSTART`/`WINDOWEND` after the key columns).
    pub(crate) window: Option<WindowSpec>,
    /// Whether rows end with the record's partition and offset.
    pub(crate) record_metadata: bool,
    /// Header columns after the value columns (see `Source::headers`).
    pub(crate) headers: Vec<Option<String>>,
}

impl SourceSpec {
    pub(crate) fn from_source(s: &Source, internal: bool) -> Self {
        SourceSpec {
            topic: s.topic.clone(),
            internal,
            kind: s.meta.kind,
            key_format: s.key_format.clone(),
            value_format: s.value_format.clone(),
            schema: s.meta.schema.clone(),
            key_len: s.meta.key_len,
            time: s.meta.time.clone(),
            keep_null_values: s.keep_null_values,
            window: s.meta.window,
            record_metadata: s.record_metadata,
            headers: s.headers.clone(),
        }
    }

    pub(crate) fn repartition(topic: &str, meta: &Meta) -> Self {
        SourceSpec {
            topic: topic.to_string(),
            internal: true,
            kind: meta.kind,
            key_format: internal_key_format(meta),
            value_format: Arc::new(JsonFormat),
            schema: meta.schema.clone(),
            key_len: meta.key_len,
            // Repartitioned rows carry their event time as the record time.
            time: TimestampSpec::Record,
            keep_null_values: false,
            window: meta.window,
            // Repartitioned rows carry the metadata and header columns as
            // ordinary columns.
            record_metadata: false,
            headers: Vec::new(),
        }
    }
}

/// The key format of internal (repartition) topics: Kafka's primitive
/// serde for one primitive key column, a JSON object otherwise (several
/// key columns, or nested types).
pub(crate) fn internal_key_format(meta: &Meta) -> FormatRef {
    let simple = meta.key_len == 1
        && matches!(
            meta.schema.field(0).data_type(),
            DataType::Utf8 | DataType::Int32 | DataType::Int64 | DataType::Float64 | DataType::Binary | DataType::Boolean
        );
    if simple {
        Arc::new(KafkaFormat)
    } else {
        Arc::new(JsonFormat)
    }
}

/// Splits a windowed key into the inner key bytes and the window bounds
/// `(start, end)`: time windows append the 8-byte big-endian start (the end
/// is start + size), session windows the end then the start.
fn split_window<'a>(key: &'a [u8], window: &WindowSpec) -> std::result::Result<(&'a [u8], (i64, i64)), String> {
    let suffix = if window.is_session() { 16 } else { 8 };
    let Some(split) = key.len().checked_sub(suffix) else {
        return Err(format!("a windowed key needs at least {suffix} bytes of window, got {} bytes", key.len()));
    };
    let (inner, tail) = key.split_at(split);
    let word = |b: &[u8]| b.try_into().map(i64::from_be_bytes).map_err(|_| "truncated window bounds".to_string());
    let bounds = if window.is_session() {
        let end = word(&tail[..8])?;
        (word(&tail[8..])?, end)
    } else {
        let start = word(tail)?;
        (start, start.saturating_add(window.size_ms()))
    };
    Ok((inner, bounds))
}

/// One header column over `records`: all headers as a list of `{KEY,
/// VALUE}` structs (`key` None), or the last value of header `key`.
fn header_column<'a>(
    data_type: &DataType,
    key: Option<&str>,
    records: impl Iterator<Item = &'a StoredRecord>,
) -> std::result::Result<ArrayRef, arrow::error::ArrowError> {
    use arrow::array::{BinaryBuilder, ListArray, StringBuilder, StructArray};
    use arrow::buffer::OffsetBuffer;
    match (key, data_type) {
        (Some(k), _) => {
            let mut b = BinaryBuilder::new();
            for r in records {
                match r.headers.iter().rev().find(|h| h.key == k).and_then(|h| h.value.as_ref()) {
                    Some(v) => b.append_value(v),
                    None => b.append_null(),
                }
            }
            Ok(Arc::new(b.finish()))
        }
        (None, DataType::List(item)) => {
            let DataType::Struct(fields) = item.data_type() else {
                return Err(arrow::error::ArrowError::SchemaError(format!("HEADERS column of type {data_type}")));
            };
            let (mut keys, mut values, mut lengths) = (StringBuilder::new(), BinaryBuilder::new(), Vec::new());
            for r in records {
                for h in &r.headers {
                    keys.append_value(&h.key);
                    match &h.value {
                        Some(v) => values.append_value(v),
                        None => values.append_null(),
                    }
                }
                lengths.push(r.headers.len());
            }
            let entries = StructArray::try_new(fields.clone(), vec![Arc::new(keys.finish()), Arc::new(values.finish())], None)?;
            Ok(Arc::new(ListArray::try_new(item.clone(), OffsetBuffer::from_lengths(lengths), Arc::new(entries), None)?))
        }
        (None, other) => Err(arrow::error::ArrowError::SchemaError(format!("HEADERS column of type {other}"))),
    }
}

/// Decodes fetched records of one source partition.
#[derive(Debug)]
pub struct SourceDecoder {
    spec: SourceSpec,
    partition: i32,
    key_schema: SchemaRef,
    value_schema: SchemaRef,
    time_col: Option<usize>,
    processing_log: Option<(std::sync::Arc<dyn crate::runtime::ProcessingLog>, String)>,
}

impl SourceDecoder {
    /// A decoder for `spec`'s partition `partition`.
    ///
    /// # Errors
    /// A key format that cannot hold the key columns (checked up front).
    pub fn new(spec: SourceSpec, partition: i32) -> Result<Self> {
        let fields = spec.schema.fields();
        let value_start = spec.key_len + if spec.window.is_some() { 2 } else { 0 };
        let key_schema = Arc::new(Schema::new(fields[..spec.key_len].to_vec()));
        let value_end = fields.len() - if spec.record_metadata { 2 } else { 0 } - spec.headers.len();
        let value_schema = Arc::new(Schema::new(fields[value_start..value_end].to_vec()));
        let time_col = match &spec.time {
            TimestampSpec::Record | TimestampSpec::Expr(_) => None,
            TimestampSpec::Column(c) => Some(spec.schema.index_of(c).map_err(|e| EngineError::arrow("source timestamp", e))?),
        };
        Ok(SourceDecoder { spec, partition, key_schema, value_schema, time_col, processing_log: None })
    }

    /// Reports records that do not decode to `log` as well, as application
    /// `application_id`.
    pub fn with_processing_log(mut self, log: std::sync::Arc<dyn crate::runtime::ProcessingLog>, application_id: &str) -> Self {
        self.processing_log = Some((log, application_id.to_string()));
        self
    }

    /// The spec.
    pub fn spec(&self) -> &SourceSpec {
        &self.spec
    }

    fn skip(&self, metrics: &TaskMetrics, r: &StoredRecord, what: &str, reason: &str) {
        metrics.decode_errors.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            topic = %self.spec.topic,
            partition = self.partition,
            offset = r.offset,
            "skipping record: {what}: {reason}"
        );
        if let Some((log, app)) = &self.processing_log {
            let bytes = match what {
                "key" => r.key.as_ref().map(|b| b.to_vec()),
                "value" => r.value.as_ref().map(|b| b.to_vec()),
                _ => None,
            };
            log.record(crate::runtime::ProcessingLogEntry {
                application_id: app.clone(),
                topic: self.spec.topic.clone(),
                partition: self.partition,
                offset: r.offset,
                target: what.to_string(),
                reason: reason.to_string(),
                bytes,
            });
        }
    }

    /// A record passed over on purpose (a null value on a stream): counted
    /// and logged at debug level, not an error.
    fn pass_over(&self, r: &StoredRecord, reason: &str) {
        tracing::debug!(topic = %self.spec.topic, partition = self.partition, offset = r.offset, "passing over record: {reason}");
    }

    /// Decodes `records` into one batch; bad records are skipped (logged and
    /// counted). Tombstones on a stream are skipped too (a stream has no key
    /// to delete); on a table they become deletes.
    ///
    /// # Errors
    /// Only internal failures (Arrow kernels on well-formed arrays).
    pub fn decode(&self, records: &[StoredRecord], metrics: &TaskMetrics) -> Result<Option<Batch>> {
        let table = self.spec.kind == Kind::Table;
        let internal = self.spec.internal;
        // 1. Values (tombstones handled aside).
        let mut value_idx: Vec<usize> = Vec::with_capacity(records.len());
        let mut payloads: Vec<&[u8]> = Vec::with_capacity(records.len());
        let mut tombstones: Vec<usize> = Vec::new();
        for (i, r) in records.iter().enumerate() {
            match &r.value {
                Some(v) => {
                    value_idx.push(i);
                    payloads.push(v);
                }
                None if table || self.spec.keep_null_values => tombstones.push(i),
                None => self.pass_over(r, "null value on a stream (nothing to process)"),
            }
        }
        let mut ok = vec![false; records.len()];
        let mut value_row: Vec<Option<usize>> = vec![None; records.len()];
        let values = self.spec.value_format.decode(&self.value_schema, &payloads)?;
        for (i, reason) in &values.errors {
            self.skip(metrics, &records[value_idx[*i]], "value", reason);
        }
        for (row, &p) in values.rows.iter().enumerate() {
            ok[value_idx[p]] = true;
            value_row[value_idx[p]] = Some(row);
        }
        for &t in &tombstones {
            ok[t] = true;
        }
        // 2. Keys.
        let mut key_row: Vec<Option<usize>> = vec![None; records.len()];
        // Window bounds of windowed keys, by record.
        let mut bounds: Vec<(i64, i64)> = vec![(0, 0); records.len()];
        let keys = if self.spec.key_len > 0 {
            let mut idx = Vec::new();
            let mut kp: Vec<&[u8]> = Vec::new();
            for (i, r) in records.iter().enumerate() {
                if !ok[i] {
                    continue;
                }
                match &r.key {
                    Some(k) => match self.spec.window.as_ref().map(|w| split_window(k, w)) {
                        None => {
                            idx.push(i);
                            kp.push(k);
                        }
                        Some(Ok((inner, b))) => {
                            idx.push(i);
                            kp.push(inner);
                            bounds[i] = b;
                        }
                        Some(Err(reason)) => {
                            ok[i] = false;
                            self.skip(metrics, r, "key", &reason);
                        }
                    },
                    None if self.spec.window.is_some() => {
                        ok[i] = false;
                        self.skip(metrics, r, "key", "null key, but the source's keys are windowed");
                    }
                    // A stream record without a key has NULL key columns (as
                    // in ksqlDB); a table row cannot be addressed without one.
                    None if !table => {}
                    None => {
                        ok[i] = false;
                        self.skip(metrics, r, "key", "null key, but the source has key columns");
                    }
                }
            }
            let d = self.spec.key_format.decode(&self.key_schema, &kp)?;
            for (i, reason) in &d.errors {
                ok[idx[*i]] = false;
                self.skip(metrics, &records[idx[*i]], "key", reason);
            }
            for (row, &p) in d.rows.iter().enumerate() {
                key_row[idx[p]] = Some(row);
            }
            for &i in &idx {
                if key_row[i].is_none() {
                    ok[i] = false;
                }
            }
            Some(d.batch)
        } else {
            None
        };
        // 3. Assemble rows in record order.
        let chosen: Vec<usize> = (0..records.len()).filter(|&i| ok[i]).collect();
        if chosen.is_empty() {
            return Ok(None);
        }
        let err = |e| EngineError::arrow(format!("source {}", self.spec.topic), e);
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(self.spec.schema.fields().len());
        if let Some(k) = &keys {
            let ix = UInt32Array::from_iter(chosen.iter().map(|&i| key_row[i].map(|r| r as u32)));
            for c in k.columns() {
                cols.push(take(c, &ix, None).map_err(err)?);
            }
        }
        if self.spec.window.is_some() {
            cols.push(Arc::new(Int64Array::from_iter_values(chosen.iter().map(|&i| bounds[i].0))));
            cols.push(Arc::new(Int64Array::from_iter_values(chosen.iter().map(|&i| bounds[i].1))));
        }
        let all_values = tombstones.is_empty() && chosen.len() == values.batch.num_rows();
        for c in values.batch.columns() {
            if all_values {
                cols.push(c.clone());
            } else {
                let ix = UInt32Array::from_iter(chosen.iter().map(|&i| value_row[i].map(|r| r as u32)));
                cols.push(take(c, &ix, None).map_err(err)?);
            }
        }
        if !self.spec.headers.is_empty() {
            let first = cols.len();
            for (j, key) in self.spec.headers.iter().enumerate() {
                let field = self.spec.schema.field(first + j);
                cols.push(header_column(field.data_type(), key.as_deref(), chosen.iter().map(|&i| &records[i])).map_err(err)?);
            }
        }
        if self.spec.record_metadata {
            cols.push(Arc::new(Int32Array::from(vec![self.partition; chosen.len()])));
            cols.push(Arc::new(Int64Array::from_iter_values(chosen.iter().map(|&i| records[i].offset))));
        }
        let rows = RecordBatch::try_new_with_options(
            self.spec.schema.clone(),
            cols,
            &RecordBatchOptions::new().with_row_count(Some(chosen.len())),
        )
        .map_err(err)?;
        // 4. Event time.
        let record_ts = || Int64Array::from_iter_values(chosen.iter().map(|&i| records[i].timestamp));
        let computed = match &self.spec.time {
            TimestampSpec::Expr(e) => Some(evaluate(e, &Batch::new(rows.clone(), record_ts()))?),
            _ => None,
        };
        let time_values: Option<&ArrayRef> = match (self.time_col, &computed) {
            (_, Some(a)) => Some(a),
            (Some(c), None) => Some(rows.column(c)),
            (None, None) => None,
        };
        let mut ts: Vec<i64> = match time_values {
            None => chosen.iter().map(|&i| records[i].timestamp).collect(),
            Some(col) => {
                match col.data_type() {
                    DataType::Int64 => col.as_primitive::<Int64Type>().iter().map(|v| v.unwrap_or(-1)).collect(),
                    DataType::Timestamp(TimeUnit::Millisecond, _) => {
                        col.as_primitive::<TimestampMillisecondType>().iter().map(|v| v.unwrap_or(-1)).collect()
                    }
                    t => return Err(EngineError::plan("Source", format!("timestamp column has type {t}"))),
                }
            }
        };
        // Negative (or missing) event times cannot be windowed: skip, as Kafka Streams does.
        let bad_ts: Vec<bool> = ts.iter().map(|&t| t < 0).collect();
        let mut batch = Batch::new(rows, Int64Array::from(std::mem::take(&mut ts)));
        if table || internal || self.spec.keep_null_values {
            let deleted: Vec<bool> = chosen
                .iter()
                .map(|&i| {
                    records[i].value.is_none()
                        || (internal && records[i].headers.iter().any(|h| h.key == RETRACT_HEADER))
                })
                .collect();
            if table || deleted.iter().any(|d| *d) {
                batch.change = Some(Change { deleted: BooleanArray::from(deleted), old: None });
            }
        }
        // The records' headers ride along (an internal topic's retraction
        // mark is ours, not the user's).
        let user_header = |h: &&riffle_log::record::Header| !(internal && h.key == RETRACT_HEADER);
        if chosen.iter().any(|&i| records[i].headers.iter().any(|h| user_header(&h))) {
            let headers = chosen.iter().map(|&i| records[i].headers.iter().filter(user_header).cloned().collect()).collect();
            batch.headers = Some(Arc::new(headers));
        }
        if bad_ts.iter().any(|b| *b) {
            for (j, &i) in chosen.iter().enumerate() {
                if bad_ts[j] {
                    self.skip(metrics, &records[i], "timestamp", "negative or missing event time");
                }
            }
            let keep = BooleanArray::from(bad_ts.iter().map(|b| !b).collect::<Vec<_>>());
            batch = batch.filter(&keep)?;
        }
        metrics.records_in.fetch_add(records.len() as u64, Ordering::Relaxed);
        Ok(if batch.is_empty() { None } else { Some(batch) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_window_keys_carry_their_start_and_end_is_start_plus_size() {
        let mut key = b"k1".to_vec();
        key.extend_from_slice(&30_000i64.to_be_bytes());
        let (inner, bounds) = split_window(&key, &WindowSpec::tumbling(30_000, 0)).unwrap();
        assert_eq!(inner, b"k1");
        assert_eq!(bounds, (30_000, 60_000));
    }

    #[test]
    fn session_window_keys_carry_end_then_start() {
        let mut key = 7i32.to_be_bytes().to_vec();
        key.extend_from_slice(&40_000i64.to_be_bytes());
        key.extend_from_slice(&10_000i64.to_be_bytes());
        let (inner, bounds) = split_window(&key, &WindowSpec::session(1, 0)).unwrap();
        assert_eq!(inner, 7i32.to_be_bytes());
        assert_eq!(bounds, (10_000, 40_000));
    }

    #[test]
    fn short_windowed_keys_are_rejected() {
        assert!(split_window(b"abc", &WindowSpec::tumbling(10, 0)).is_err());
        assert!(split_window(&[0u8; 12], &WindowSpec::session(1, 0)).is_err());
    }
}
