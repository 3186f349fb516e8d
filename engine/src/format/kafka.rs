//! The `KAFKA` format: Kafka's primitive serdes for a single column.
//!
//! | column type | bytes                                   |
//! |-------------|-----------------------------------------|
//! | STRING      | UTF-8, no length prefix                 |
//! | INT         | 4 bytes, big-endian two's complement    |
//! | BIGINT      | 8 bytes, big-endian two's complement    |
//! | DOUBLE      | 8 bytes, big-endian IEEE-754            |
//! | BYTES       | the payload as is                       |

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BinaryBuilder, PrimitiveBuilder, RecordBatch, StringBuilder};
use arrow::datatypes::{ArrowPrimitiveType, DataType, Field, Float64Type, Int32Type, Int64Type, SchemaRef};

use super::json::empty_rows;
use super::{Decoded, Format};
use crate::error::{EngineError, Result};

/// Kafka's primitive serdes, as ksqlDB's `KAFKA` format: one column, usually
/// a key, written the way the Java clients' `StringSerializer`,
/// `IntegerSerializer`, `LongSerializer`, `DoubleSerializer` and
/// `ByteArraySerializer` write it.
///
/// A schema without columns decodes every payload to an empty row and encodes
/// empty payloads. Kafka writes NULL as a missing payload, which a byte slice
/// cannot express, so here NULL is the empty payload: encoding a NULL gives
/// empty bytes, and an empty payload decodes as NULL for INT, BIGINT and
/// DOUBLE (it is the empty string or empty bytes for STRING and BYTES).
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use arrow::datatypes::{DataType, Field, Schema};
/// use riffle_engine::format::{Format, KafkaFormat};
///
/// let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int32, true)]));
/// let decoded = KafkaFormat.decode(&schema, &[&[0, 0, 1, 0], &[1, 2]]).unwrap();
/// assert_eq!(decoded.rows, vec![0]);
/// assert_eq!(decoded.errors[0].0, 1);
/// assert_eq!(KafkaFormat.encode(&decoded.batch).unwrap(), vec![vec![0, 0, 1, 0]]);
/// ```
#[derive(Debug, Default, Clone)]
pub struct KafkaFormat;

impl Format for KafkaFormat {
    fn name(&self) -> &str {
        "KAFKA"
    }

    fn decode(&self, schema: &SchemaRef, payloads: &[&[u8]]) -> Result<Decoded> {
        let Some(field) = single_field(schema.fields().iter().map(|f| f.as_ref()))? else {
            let batch = empty_rows(schema, payloads.len())?;
            return Ok(Decoded { batch, rows: (0..payloads.len()).collect(), errors: Vec::new() });
        };
        let mut out = Rows::with_capacity(payloads.len());
        let array: ArrayRef = match field.data_type() {
            DataType::Utf8 => {
                let bytes = payloads.iter().map(|p| p.len()).sum();
                let mut b = StringBuilder::with_capacity(payloads.len(), bytes);
                for (i, p) in payloads.iter().enumerate() {
                    match std::str::from_utf8(p) {
                        Ok(s) => out.ok(i, || b.append_value(s)),
                        Err(e) => {
                            out.err(i, format!("invalid UTF-8 at byte {}; a KAFKA STRING is UTF-8", e.valid_up_to()))
                        }
                    }
                }
                Arc::new(b.finish())
            }
            DataType::Binary => {
                let bytes = payloads.iter().map(|p| p.len()).sum();
                let mut b = BinaryBuilder::with_capacity(payloads.len(), bytes);
                for (i, p) in payloads.iter().enumerate() {
                    out.ok(i, || b.append_value(p));
                }
                Arc::new(b.finish())
            }
            DataType::Int32 => decode_fixed::<Int32Type, 4>(field, payloads, &mut out, i32::from_be_bytes),
            DataType::Int64 => decode_fixed::<Int64Type, 8>(field, payloads, &mut out, i64::from_be_bytes),
            DataType::Float64 => decode_fixed::<Float64Type, 8>(field, payloads, &mut out, f64::from_be_bytes),
            other => return Err(unsupported(field, other)),
        };
        let batch = RecordBatch::try_new(schema.clone(), vec![array])
            .map_err(|e| EngineError::arrow("building KAFKA-decoded rows", e))?;
        Ok(Decoded { batch, rows: out.rows, errors: out.errors })
    }

    fn encode(&self, batch: &RecordBatch) -> Result<Vec<Vec<u8>>> {
        let schema = batch.schema();
        let Some(field) = single_field(schema.fields().iter().map(|f| f.as_ref()))? else {
            return Ok(vec![Vec::new(); batch.num_rows()]);
        };
        let column = batch.column(0).as_ref();
        let mismatch = || {
            EngineError::Internal(format!(
                "column {} is declared {} but holds {}",
                field.name(),
                field.data_type(),
                column.data_type()
            ))
        };
        Ok(match field.data_type() {
            DataType::Utf8 => {
                let a = column.as_string_opt::<i32>().ok_or_else(mismatch)?;
                (0..a.len()).map(|i| if a.is_null(i) { Vec::new() } else { a.value(i).as_bytes().to_vec() }).collect()
            }
            DataType::Binary => {
                let a = column.as_binary_opt::<i32>().ok_or_else(mismatch)?;
                (0..a.len()).map(|i| if a.is_null(i) { Vec::new() } else { a.value(i).to_vec() }).collect()
            }
            DataType::Int32 => encode_fixed::<Int32Type>(column, |v| v.to_be_bytes().to_vec()).ok_or_else(mismatch)?,
            DataType::Int64 => encode_fixed::<Int64Type>(column, |v| v.to_be_bytes().to_vec()).ok_or_else(mismatch)?,
            DataType::Float64 => {
                encode_fixed::<Float64Type>(column, |v| v.to_be_bytes().to_vec()).ok_or_else(mismatch)?
            }
            other => return Err(unsupported(field, other)),
        })
    }
}

/// The one column, `None` for none; an error for several.
fn single_field<'a>(mut fields: impl ExactSizeIterator<Item = &'a Field>) -> Result<Option<&'a Field>> {
    match fields.len() {
        0 | 1 => Ok(fields.next()),
        n => {
            let names: Vec<&str> = fields.map(|f| f.name().as_str()).collect();
            Err(EngineError::plan(
                "KAFKA format",
                format!("KAFKA supports one column, got {n} ({}); use JSON for several columns", names.join(", ")),
            ))
        }
    }
}

fn unsupported(field: &Field, t: &DataType) -> EngineError {
    EngineError::plan(
        "KAFKA format",
        format!(
            "column {} has type {t}, which KAFKA cannot hold; KAFKA supports STRING, INT, BIGINT, DOUBLE and BYTES \
             (CAST the column, or use JSON)",
            field.name()
        ),
    )
}

/// Which payloads became rows and why the others did not.
struct Rows {
    rows: Vec<usize>,
    errors: Vec<(usize, String)>,
}

impl Rows {
    fn with_capacity(n: usize) -> Self {
        Rows { rows: Vec::with_capacity(n), errors: Vec::new() }
    }

    fn ok(&mut self, i: usize, append: impl FnOnce()) {
        append();
        self.rows.push(i);
    }

    fn err(&mut self, i: usize, reason: String) {
        self.errors.push((i, reason));
    }
}

fn decode_fixed<T: ArrowPrimitiveType, const N: usize>(
    field: &Field,
    payloads: &[&[u8]],
    out: &mut Rows,
    from_be: fn([u8; N]) -> T::Native,
) -> ArrayRef {
    let mut b = PrimitiveBuilder::<T>::with_capacity(payloads.len());
    for (i, p) in payloads.iter().enumerate() {
        match <[u8; N]>::try_from(*p) {
            Ok(bytes) => out.ok(i, || b.append_value(from_be(bytes))),
            Err(_) if p.is_empty() && field.is_nullable() => out.ok(i, || b.append_null()),
            Err(_) if p.is_empty() => {
                out.err(i, format!("empty payload (NULL) for column {}, which is NOT NULL", field.name()))
            }
            Err(_) => {
                out.err(i, format!("expected {N} bytes for a KAFKA {}, got {}", sql_name(field.data_type()), p.len()))
            }
        }
    }
    Arc::new(b.finish())
}

fn encode_fixed<T: ArrowPrimitiveType>(
    column: &dyn Array,
    to_be: impl Fn(T::Native) -> Vec<u8>,
) -> Option<Vec<Vec<u8>>> {
    let a = column.as_primitive_opt::<T>()?;
    Some(a.iter().map(|v| v.map(&to_be).unwrap_or_default()).collect())
}

fn sql_name(t: &DataType) -> &'static str {
    match t {
        DataType::Int32 => "INT",
        DataType::Int64 => "BIGINT",
        DataType::Float64 => "DOUBLE",
        DataType::Utf8 => "STRING",
        _ => "BYTES",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use arrow::array::{BinaryArray, Float64Array, Int32Array, Int64Array, StringArray};
    use arrow::datatypes::Schema;

    use super::*;

    fn schema(t: DataType) -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new("k", t, true)]))
    }

    fn round_trip(t: DataType, array: ArrayRef) {
        let batch = RecordBatch::try_new(schema(t.clone()), vec![array]).unwrap();
        let bytes = KafkaFormat.encode(&batch).unwrap();
        let payloads: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
        let d = KafkaFormat.decode(&schema(t), &payloads).unwrap();
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        assert_eq!(d.batch, batch);
    }

    #[test]
    fn primitives_round_trip() {
        round_trip(DataType::Utf8, Arc::new(StringArray::from(vec!["a", "", "héllo"])));
        round_trip(DataType::Int32, Arc::new(Int32Array::from(vec![Some(1), None, Some(-7), Some(i32::MIN)])));
        round_trip(DataType::Int64, Arc::new(Int64Array::from(vec![Some(i64::MAX), None, Some(-1)])));
        round_trip(DataType::Float64, Arc::new(Float64Array::from(vec![Some(1.5), None, Some(-0.0)])));
        round_trip(DataType::Binary, Arc::new(BinaryArray::from(vec![&[0u8, 255][..], &[][..]])));
    }

    #[test]
    fn matches_java_serializers() {
        let batch =
            RecordBatch::try_new(schema(DataType::Int32), vec![Arc::new(Int32Array::from(vec![258, -1]))]).unwrap();
        assert_eq!(KafkaFormat.encode(&batch).unwrap(), vec![vec![0, 0, 1, 2], vec![255; 4]]);
        let d = KafkaFormat.decode(&schema(DataType::Float64), &[&1.0f64.to_be_bytes()]).unwrap();
        assert_eq!(d.batch.column(0).as_primitive::<Float64Type>().value(0), 1.0);
        let batch = RecordBatch::try_new(schema(DataType::Utf8), vec![Arc::new(StringArray::from(vec![None::<&str>]))])
            .unwrap();
        assert_eq!(KafkaFormat.encode(&batch).unwrap(), vec![Vec::<u8>::new()]);
    }

    #[test]
    fn bad_payloads_mid_batch_are_reported() {
        let p: Vec<&[u8]> = vec![&[0, 0, 0, 1, 0, 0, 0, 1], &[1, 2, 3], &[0; 8], &[0; 9]];
        let d = KafkaFormat.decode(&schema(DataType::Int64), &p).unwrap();
        assert_eq!(d.rows, vec![0, 2]);
        let v: Vec<_> = d.batch.column(0).as_primitive::<Int64Type>().iter().collect();
        assert_eq!(v, vec![Some((1 << 32) + 1), Some(0)]);
        assert_eq!(d.errors.iter().map(|e| e.0).collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(d.errors[0].1, "expected 8 bytes for a KAFKA BIGINT, got 3");

        let p: Vec<&[u8]> = vec![b"ok", &[0xff, 0xfe], b"fine"];
        let d = KafkaFormat.decode(&schema(DataType::Utf8), &p).unwrap();
        assert_eq!(d.rows, vec![0, 2]);
        assert_eq!(d.errors, vec![(1, "invalid UTF-8 at byte 0; a KAFKA STRING is UTF-8".to_string())]);
    }

    #[test]
    fn empty_payload_is_null_for_numbers() {
        let d = KafkaFormat.decode(&schema(DataType::Int32), &[b""]).unwrap();
        assert_eq!(d.batch.column(0).null_count(), 1);
        let not_null = Arc::new(Schema::new(vec![Field::new("k", DataType::Int32, false)]));
        let d = KafkaFormat.decode(&not_null, &[b"", &[0, 0, 0, 9]]).unwrap();
        assert_eq!((d.rows.clone(), d.errors[0].0), (vec![1], 0));
        assert!(d.errors[0].1.contains("NOT NULL"));
    }

    #[test]
    fn schema_errors() {
        let two =
            Arc::new(Schema::new(vec![Field::new("a", DataType::Int32, true), Field::new("b", DataType::Utf8, true)]));
        let msg = KafkaFormat.decode(&two, &[b""]).unwrap_err().to_string();
        assert!(msg.contains("KAFKA supports one column, got 2 (a, b); use JSON"), "{msg}");
        let msg = KafkaFormat.decode(&schema(DataType::Boolean), &[b""]).unwrap_err().to_string();
        assert!(msg.contains("type Boolean, which KAFKA cannot hold"), "{msg}");
        let batch = RecordBatch::try_new(
            two,
            vec![Arc::new(Int32Array::from(vec![1])), Arc::new(StringArray::from(vec!["x"]))],
        )
        .unwrap();
        assert!(KafkaFormat.encode(&batch).is_err());
    }

    #[test]
    fn zero_columns() {
        let empty = Arc::new(Schema::empty());
        let d = KafkaFormat.decode(&empty, &[b"x", b""]).unwrap();
        assert_eq!((d.batch.num_rows(), d.rows.clone()), (2, vec![0, 1]));
        assert_eq!(KafkaFormat.encode(&d.batch).unwrap(), vec![Vec::<u8>::new(); 2]);
    }
}
