//! The `JSON` format: one JSON object per payload, fields matched to columns
//! by name.
//!
//! Decoding takes a hand-written single pass for flat objects of strings,
//! integers, doubles and booleans (`json_flat`); anything else runs Arrow's
//! JSON tape decoder over all payloads of a batch at once. Only when that
//! fails (or a payload does not hold exactly one value) does it go payload
//! by payload, to find and report the bad ones while the good ones still
//! decode.

use std::ops::Range;

use arrow::array::{RecordBatch, RecordBatchOptions};
use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::json::reader::Decoder;
use arrow::json::writer::LineDelimited;
use arrow::json::{ReaderBuilder, WriterBuilder};

use super::{Decoded, Format};
use crate::error::{EngineError, Result};

/// JSON objects, as ksqlDB's `JSON` format: one object per record.
///
/// Decoding matches object fields to columns by name; fields the schema does
/// not have are ignored and missing fields are NULL. A payload that is not one
/// JSON object (empty, malformed, a bare value, two objects) or whose values
/// do not fit their columns is reported in [`Decoded::errors`] with what was
/// wrong. Encoding writes every column, NULLs as `null`.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use arrow::datatypes::{DataType, Field, Schema};
/// use riffle_engine::format::{Format, JsonFormat};
///
/// let schema = Arc::new(Schema::new(vec![Field::new("amount", DataType::Int64, true)]));
/// let decoded = JsonFormat.decode(&schema, &[br#"{"amount": 5}"#, b"{oops"]).unwrap();
/// assert_eq!(decoded.batch.num_rows(), 1);
/// assert_eq!(decoded.errors[0].0, 1);
/// assert_eq!(JsonFormat.encode(&decoded.batch).unwrap(), vec![br#"{"amount":5}"#.to_vec()]);
/// ```
#[derive(Debug, Default, Clone)]
pub struct JsonFormat;

impl Format for JsonFormat {
    fn name(&self) -> &str {
        "JSON"
    }

    fn decode(&self, schema: &SchemaRef, payloads: &[&[u8]]) -> Result<Decoded> {
        if schema.fields().is_empty() {
            let batch = empty_rows(schema, payloads.len())?;
            return Ok(Decoded { batch, rows: (0..payloads.len()).collect(), errors: Vec::new() });
        }
        if let Some(batch) = super::json_flat::decode_flat_objects(schema, payloads, super::FieldNames::Exact) {
            return Ok(Decoded { batch, rows: (0..payloads.len()).collect(), errors: Vec::new() });
        }
        if let Some(batch) = decode_all(schema, payloads)? {
            return Ok(Decoded { batch, rows: (0..payloads.len()).collect(), errors: Vec::new() });
        }
        decode_each(schema, payloads)
    }

    fn encode(&self, batch: &RecordBatch) -> Result<Vec<Vec<u8>>> {
        super::encode_rows(self, batch)
    }

    fn encode_into(&self, batch: &RecordBatch, out: &mut Vec<u8>, rows: &mut Vec<Range<usize>>) -> Result<()> {
        let n = batch.num_rows();
        if batch.num_columns() == 0 {
            for _ in 0..n {
                let start = out.len();
                out.extend_from_slice(b"{}");
                rows.push(start..out.len());
            }
            return Ok(());
        }
        let first = out.len();
        out.reserve(n * 64);
        let mut writer = WriterBuilder::new().with_explicit_nulls(true).build::<_, LineDelimited>(&mut *out);
        writer.write(batch).map_err(|e| {
            EngineError::plan("JSON format", format!("cannot write these columns as JSON ({e}); CAST them first"))
        })?;
        drop(writer);
        // One line per row: JSON strings escape newlines, so '\n' only ends rows.
        let before = rows.len();
        let mut start = first;
        for (i, b) in out[first..].iter().enumerate() {
            if *b == b'\n' {
                rows.push(start..first + i);
                start = first + i + 1;
            }
        }
        if rows.len() - before != n {
            return Err(EngineError::Internal(format!("JSON writer produced {} lines for {n} rows", rows.len() - before)));
        }
        Ok(())
    }
}

/// `rows` rows of a schema without columns.
pub(super) fn empty_rows(schema: &SchemaRef, rows: usize) -> Result<RecordBatch> {
    RecordBatch::try_new_with_options(schema.clone(), Vec::new(), &RecordBatchOptions::new().with_row_count(Some(rows)))
        .map_err(|e| EngineError::arrow("building rows without columns", e))
}

fn new_decoder(schema: &SchemaRef, batch_size: usize) -> Result<Decoder> {
    ReaderBuilder::new(schema.clone()).with_batch_size(batch_size).build_decoder().map_err(|e| {
        EngineError::plan("JSON format", format!("cannot decode JSON into these columns ({e}); use supported types"))
    })
}

/// The fast path: every payload through one decoder. `None` when any payload
/// is not exactly one well-formed row; the caller then goes payload by
/// payload.
fn decode_all(schema: &SchemaRef, payloads: &[&[u8]]) -> Result<Option<RecordBatch>> {
    if payloads.is_empty() {
        return Ok(Some(RecordBatch::new_empty(schema.clone())));
    }
    let mut decoder = new_decoder(schema, payloads.len())?;
    for (i, payload) in payloads.iter().enumerate() {
        // Each payload must end a row on its own: one that is cut short would
        // otherwise be completed by the next payload.
        match decoder.decode(payload) {
            Ok(read) if read == payload.len() && !decoder.has_partial_record() && decoder.len() == i + 1 => {}
            _ => return Ok(None),
        }
    }
    Ok(match decoder.flush() {
        Ok(Some(batch)) if batch.num_rows() == payloads.len() => Some(batch),
        _ => None,
    })
}

/// Below this many payloads the slow path decodes them one by one.
const ONE_BY_ONE: usize = 8;

/// The slow path: halves that decode in one go are kept; halves that do not
/// are split again, down to single payloads whose reasons are collected. A
/// few bad payloads in a large batch cost a few extra passes, not one decoder
/// per payload.
fn decode_each(schema: &SchemaRef, payloads: &[&[u8]]) -> Result<Decoded> {
    let mut out = Decoded { batch: RecordBatch::new_empty(schema.clone()), rows: Vec::new(), errors: Vec::new() };
    let mut batches = Vec::new();
    let mid = payloads.len() / 2;
    decode_split(schema, &payloads[..mid], 0, &mut batches, &mut out)?;
    decode_split(schema, &payloads[mid..], mid, &mut batches, &mut out)?;
    out.batch = concat_batches(schema, &batches).map_err(|e| EngineError::arrow("joining decoded JSON rows", e))?;
    Ok(out)
}

/// Decodes `payloads` (starting at payload index `first`) into `batches`,
/// recording rows and errors in `out`.
fn decode_split(
    schema: &SchemaRef,
    payloads: &[&[u8]],
    first: usize,
    batches: &mut Vec<RecordBatch>,
    out: &mut Decoded,
) -> Result<()> {
    if payloads.len() > ONE_BY_ONE {
        if let Some(batch) = decode_all(schema, payloads)? {
            batches.push(batch);
            out.rows.extend(first..first + payloads.len());
            return Ok(());
        }
        let mid = payloads.len() / 2;
        decode_split(schema, &payloads[..mid], first, batches, out)?;
        return decode_split(schema, &payloads[mid..], first + mid, batches, out);
    }
    let mut decoder = new_decoder(schema, 1)?;
    for (i, payload) in payloads.iter().enumerate() {
        match decode_one(&mut decoder, payload) {
            Ok(batch) => {
                batches.push(batch);
                out.rows.push(first + i);
            }
            Err(reason) => {
                out.errors.push((first + i, reason));
                // A failed decoder may hold half a row: start clean.
                decoder = new_decoder(schema, 1)?;
            }
        }
    }
    Ok(())
}

fn decode_one(decoder: &mut Decoder, payload: &[u8]) -> std::result::Result<RecordBatch, String> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Err("empty payload; expected one JSON object".into());
    }
    let read = decoder.decode(payload).map_err(|e| syntax_error(payload, &e))?;
    if decoder.has_partial_record() {
        return Err(syntax_error(payload, &ArrowError::JsonError("truncated JSON value".into())));
    }
    if read < payload.len() {
        return Err("payload holds more than one JSON value; expected exactly one object".into());
    }
    match decoder.flush() {
        Ok(Some(batch)) if batch.num_rows() == 1 => Ok(batch),
        Ok(_) => Err("payload holds no JSON object".into()),
        Err(e) => Err(value_error(e)),
    }
}

/// Where and why `payload` is not JSON. Arrow's tape decoder does not say
/// where it stopped, so the position comes from a second parse (only of bad
/// payloads).
fn syntax_error(payload: &[u8], arrow: &ArrowError) -> String {
    match serde_json::from_slice::<serde::de::IgnoredAny>(payload) {
        Err(e) if e.line() > 0 => {
            // 1-based byte position of line `e.line()`, column `e.column()` (both 1-based).
            let line_start: usize = payload.split(|b| *b == b'\n').take(e.line() - 1).map(|l| l.len() + 1).sum();
            let byte = line_start + e.column();
            let full = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let msg = full.strip_suffix(&suffix).unwrap_or(&full);
            format!("invalid JSON at byte {byte}: {msg}")
        }
        // Well-formed after all: a bare number, which the tape decoder waits
        // on for more digits.
        Ok(_) => {
            let text = String::from_utf8_lossy(payload);
            let text = text.trim();
            let shown: String = text.chars().take(40).collect();
            let more = if shown.len() < text.len() { "…" } else { "" };
            format!("expected a JSON object, got {shown}{more}")
        }
        Err(_) => format!("invalid JSON: {}", arrow_message(arrow)),
    }
}

/// A well-formed payload whose values do not fit the schema.
fn value_error(e: ArrowError) -> String {
    let msg = arrow_message(&e);
    // Arrow nests "whilst decoding field 'a': whilst decoding field 'b': …";
    // say "field a.b: …" instead.
    let mut path = Vec::new();
    let mut rest = msg.as_str();
    while let Some(after) = rest.strip_prefix("whilst decoding field '") {
        match after.split_once("': ") {
            Some((name, tail)) => {
                path.push(name);
                rest = tail;
            }
            None => break,
        }
    }
    let rest = if let (Some(value), true) = (rest.strip_prefix("expected { got "), path.is_empty()) {
        format!("expected a JSON object, got {value}")
    } else if let Some((value, t)) = rest.strip_prefix("failed to parse ").and_then(|r| r.rsplit_once(" as ")) {
        format!("expected {}, got {value}", type_name(t))
    } else {
        rest.to_string()
    };
    if path.is_empty() {
        rest
    } else {
        format!("field {}: {rest}", path.join("."))
    }
}

/// What a value of an Arrow type (as arrow-json names it) looks like, for messages.
fn type_name(arrow: &str) -> String {
    match arrow {
        "Int8" | "Int16" | "Int32" | "Int64" | "UInt8" | "UInt16" | "UInt32" | "UInt64" => "an integer".into(),
        "Float16" | "Float32" | "Float64" => "a number".into(),
        t if t.starts_with("Timestamp") || t.starts_with("Date") || t.starts_with("Time") => {
            format!("a {t} (epoch number or ISO-8601 string)")
        }
        t => format!("a {t}"),
    }
}

fn arrow_message(e: &ArrowError) -> String {
    match e {
        ArrowError::JsonError(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, AsArray, Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};

    use super::*;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("amount", DataType::Float64, true),
        ]))
    }

    fn ids(d: &Decoded) -> Vec<Option<i64>> {
        d.batch.column(0).as_primitive::<Int64Type>().iter().collect()
    }

    #[test]
    fn decodes_all_payloads_at_once() {
        let p: Vec<&[u8]> = vec![
            br#"{"id": 1, "name": "a", "amount": 1.5}"#,
            br#"{"name": "b", "extra": [1, 2], "id": 2}"#,
            b"  {\"id\": 3}\n",
        ];
        let d = JsonFormat.decode(&schema(), &p).unwrap();
        assert!(d.errors.is_empty());
        assert_eq!(d.rows, vec![0, 1, 2]);
        assert_eq!(ids(&d), vec![Some(1), Some(2), Some(3)]);
        let names: Vec<_> = d.batch.column(1).as_string::<i32>().iter().collect();
        assert_eq!(names, vec![Some("a"), Some("b"), None]);
        assert_eq!(d.batch.column(2).null_count(), 2);
    }

    #[test]
    fn bad_payloads_mid_batch_are_reported() {
        let p: Vec<&[u8]> = vec![
            br#"{"id": 1}"#,
            br#"{"id": 2,"#,
            br#"{"id": 3}"#,
            b"",
            br#"{"id": "x"}"#,
            br#"{"id": 5}{"id": 6}"#,
            b"7",
            br#"{"id": 8, "name": "ok"}"#,
            br#"{"id": 9, "name" 1}"#,
        ];
        let d = JsonFormat.decode(&schema(), &p).unwrap();
        assert_eq!(d.rows, vec![0, 2, 7]);
        assert_eq!(ids(&d), vec![Some(1), Some(3), Some(8)]);
        let bad: Vec<usize> = d.errors.iter().map(|e| e.0).collect();
        assert_eq!(bad, vec![1, 3, 4, 5, 6, 8]);
        let reason = |i: usize| d.errors.iter().find(|e| e.0 == i).map(|e| e.1.clone()).unwrap();
        assert!(reason(1).starts_with("invalid JSON at byte"), "{}", reason(1));
        assert!(reason(3).contains("empty payload"), "{}", reason(3));
        assert_eq!(reason(4), r#"field id: expected an integer, got "x""#);
        assert!(reason(5).contains("more than one JSON value"), "{}", reason(5));
        assert!(reason(6).contains("expected a JSON object, got 7"), "{}", reason(6));
        assert_eq!(reason(8), "invalid JSON at byte 18: expected `:`");
    }

    #[test]
    fn payload_cut_short_is_not_completed_by_the_next() {
        let p: Vec<&[u8]> = vec![br#"{"id": 1, "name": "a"#, br#"b"}"#];
        let d = JsonFormat.decode(&schema(), &p).unwrap();
        assert_eq!(d.batch.num_rows(), 0);
        assert_eq!(d.errors.len(), 2);
    }

    #[test]
    fn zero_columns_and_zero_payloads() {
        let empty = Arc::new(Schema::empty());
        let d = JsonFormat.decode(&empty, &[b"{}", b"whatever"]).unwrap();
        assert_eq!((d.batch.num_rows(), d.rows.clone()), (2, vec![0, 1]));
        assert_eq!(JsonFormat.encode(&d.batch).unwrap(), vec![b"{}".to_vec(), b"{}".to_vec()]);
        let d = JsonFormat.decode(&schema(), &[]).unwrap();
        assert_eq!(d.batch.num_rows(), 0);
        assert!(JsonFormat.encode(&d.batch).unwrap().is_empty());
    }

    #[test]
    fn encodes_with_explicit_nulls_and_round_trips() {
        let batch = RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(Int64Array::from(vec![Some(1), None])),
                Arc::new(StringArray::from(vec![Some("line\nbreak \"q\""), Some("b")])),
                Arc::new(Float64Array::from(vec![Some(2.5), None])),
            ],
        )
        .unwrap();
        let out = JsonFormat.encode(&batch).unwrap();
        assert_eq!(out[0], br#"{"id":1,"name":"line\nbreak \"q\"","amount":2.5}"#.to_vec());
        assert_eq!(out[1], br#"{"id":null,"name":"b","amount":null}"#.to_vec());
        let payloads: Vec<&[u8]> = out.iter().map(Vec::as_slice).collect();
        let back = JsonFormat.decode(&schema(), &payloads).unwrap();
        assert_eq!(back.batch, batch);
    }

    #[test]
    fn non_nullable_missing_field_is_a_row_error() {
        let s = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        let d = JsonFormat.decode(&s, &[br#"{"id": 1}"#, br#"{"other": 1}"#]).unwrap();
        assert_eq!(d.rows, vec![0]);
        assert_eq!(d.errors[0].0, 1);
    }

    #[test]
    fn few_bad_payloads_in_a_large_batch() {
        let owned: Vec<Vec<u8>> = (0..1000)
            .map(|i| match i {
                3 | 500 | 998 => b"{\"id\": ]".to_vec(),
                777 => br#"{"id": "x"}"#.to_vec(),
                _ => format!(r#"{{"id": {i}}}"#).into_bytes(),
            })
            .collect();
        let p: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
        let d = JsonFormat.decode(&schema(), &p).unwrap();
        assert_eq!(d.errors.iter().map(|e| e.0).collect::<Vec<_>>(), vec![3, 500, 777, 998]);
        let expected: Vec<usize> = (0..1000).filter(|i| ![3, 500, 777, 998].contains(i)).collect();
        assert_eq!(d.rows, expected);
        assert_eq!(ids(&d), expected.iter().map(|&i| Some(i as i64)).collect::<Vec<_>>());
    }
}
