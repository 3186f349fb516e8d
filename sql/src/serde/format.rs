//! [`SqlFormat`]: the engine [`Format`] for ksqlDB's JSON, DELIMITED and
//! NONE formats.
//!
//! JSON batches of flat objects whose values need no coercion decode in
//! one pass ([`decode_flat_objects`]). Otherwise decoding goes payload by
//! payload: each is parsed and coerced into one
//! value per column ([`SqlFormat::decode_row`]); rows that decode are
//! appended to typed Arrow builders (flat columns) or collected as values
//! (nested columns), payloads that do not are reported with ksqlDB-style
//! reasons. Encoding reads flat columns straight from their arrays.

use std::sync::Arc;

use arrow::array::*;
use arrow::datatypes::*;
use riffle_engine::format::{decode_flat_objects, Decoded, FieldNames, Format};
use riffle_engine::EngineError;

use super::delimited;
use super::json::{self, Json};
use super::java;
use crate::types::{Column, SqlType};
use crate::value::{self, Value};

/// How payloads are written.
#[derive(Debug, Clone, PartialEq)]
pub enum Codec {
    /// JSON; `wrapped`: the columns are fields of an object, else the one
    /// column's value is the whole payload.
    Json {
        /// Whether the columns are wrapped in an object.
        wrapped: bool,
    },
    /// DELIMITED with this delimiter.
    Delimited {
        /// The field delimiter.
        delimiter: char,
    },
    /// NONE: no columns.
    None,
}

/// A ksqlDB format over a fixed set of columns.
#[derive(Debug, Clone)]
pub struct SqlFormat {
    codec: Codec,
    columns: Vec<Column>,
    target: &'static str,
}

type EResult<T> = std::result::Result<T, EngineError>;

impl SqlFormat {
    /// The format `codec` for `columns` (`is_key` only changes wording).
    pub fn new(codec: Codec, columns: Vec<Column>, is_key: bool) -> Self {
        SqlFormat { codec, columns, target: if is_key { "key" } else { "value" } }
    }

    /// The values, one per column (typed `types`), that `payload` holds.
    ///
    /// # Errors
    /// Why the payload does not decode.
    pub fn decode_row(&self, payload: &[u8], types: &[SqlType]) -> Result<Vec<Value>, String> {
        let target = self.target;
        match &self.codec {
            Codec::None => Ok(Vec::new()),
            Codec::Json { wrapped } => {
                let node = json::parse(payload).map_err(|e| format!("Failed to deserialize {target}: {e}"))?;
                let fail = |e: json::CoercionError| format!("Failed to deserialize {target}: {e}");
                if !*wrapped && types.len() == 1 {
                    let v = json::to_value(&node, &types[0]).map_err(|mut e| {
                        e.path.insert(0, '$');
                        fail(e)
                    })?;
                    return Ok(vec![v]);
                }
                match &node {
                    Json::Null => Ok(vec![Value::Null; types.len()]),
                    Json::Object(fields) => {
                        let mut out = Vec::with_capacity(types.len());
                        for (c, t) in self.columns.iter().zip(types) {
                            let v = match json::find_field(fields, &c.name) {
                                Some(n) => json::to_value(n, t).map_err(|mut e| {
                                    e.path.insert_str(0, &format!("$.{}", c.name));
                                    fail(e)
                                })?,
                                None => Value::Null,
                            };
                            out.push(v);
                        }
                        Ok(out)
                    }
                    other => {
                        let st = SqlType::Struct(
                            self.columns.iter().zip(types).map(|(c, t)| (c.name.clone(), t.clone())).collect(),
                        );
                        Err(fail(json::CoercionError {
                            message: format!(
                                "Can't convert type. sourceType: {}, requiredType: {st}",
                                other.node_type()
                            ),
                            path: "$".into(),
                        }))
                    }
                }
            }
            Codec::Delimited { delimiter } => {
                let text = std::str::from_utf8(payload).map_err(|e| {
                    format!("Error deserializing delimited row: invalid UTF-8 at byte {}", e.valid_up_to())
                })?;
                let fields = delimited::parse_record(text, *delimiter)
                    .map_err(|e| format!("Error deserializing delimited row: {e}"))?;
                if fields.len() != types.len() {
                    return Err(format!(
                        "Error deserializing delimited row: Unexpected field count, csvFields:{} schemaFields:{}",
                        fields.len(),
                        types.len()
                    ));
                }
                fields
                    .iter()
                    .zip(types)
                    .zip(&self.columns)
                    .map(|((f, t), c)| {
                        delimited::parse_field(f, t).map_err(|e| {
                            format!("Error deserializing delimited row: {e} (column `{}` of type {t})", c.name)
                        })
                    })
                    .collect()
            }
        }
    }

    /// The payload of one row of values.
    pub fn encode_row(&self, values: &[Value]) -> Vec<u8> {
        let mut out = Vec::new();
        match &self.codec {
            Codec::None => {}
            Codec::Json { wrapped } => {
                if !*wrapped && values.len() == 1 {
                    json::write_value(&mut out, &values[0]);
                } else {
                    out.push(b'{');
                    for (i, (c, v)) in self.columns.iter().zip(values).enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        json::write_str(&mut out, &c.name);
                        out.push(b':');
                        json::write_value(&mut out, v);
                    }
                    out.push(b'}');
                }
            }
            Codec::Delimited { delimiter } => {
                let fields: Vec<Option<String>> = values.iter().map(delimited::format_field).collect();
                delimited::write_record(&mut out, &fields, *delimiter);
            }
        }
        out
    }

    fn types_of(&self, schema: &SchemaRef) -> EResult<Vec<SqlType>> {
        if schema.fields().len() != self.columns.len() {
            return Err(EngineError::plan(
                format!("{} format", self.name()),
                format!(
                    "the {} has {} columns ({}) but the rows have {}",
                    self.target,
                    self.columns.len(),
                    self.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "),
                    schema.fields().len()
                ),
            ));
        }
        schema
            .fields()
            .iter()
            .map(|f| {
                SqlType::from_arrow(f.data_type())
                    .map_err(|e| EngineError::plan(format!("{} format", self.name()), e.to_string()))
            })
            .collect()
    }
}

impl Format for SqlFormat {
    fn name(&self) -> &str {
        match self.codec {
            Codec::Json { .. } => "JSON",
            Codec::Delimited { .. } => "DELIMITED",
            Codec::None => "NONE",
        }
    }

    fn decode(&self, schema: &SchemaRef, payloads: &[&[u8]]) -> EResult<Decoded> {
        let types = self.types_of(schema)?;
        if let Codec::Json { wrapped } = self.codec {
            // Flat objects of plain values need none of ksqlDB's coercions:
            // one pass, straight into the columns. Anything else (and every
            // bad payload) takes the path below.
            // Fields are looked up by this format's column names, which the
            // rows' schema need not share.
            if wrapped || types.len() != 1 {
                let named = Arc::new(Schema::new(
                    schema
                        .fields()
                        .iter()
                        .zip(&self.columns)
                        .map(|(f, c)| f.as_ref().clone().with_name(c.name.clone()))
                        .collect::<Vec<_>>(),
                ));
                if let Some(batch) = decode_flat_objects(&named, payloads, FieldNames::ExactOrUpperCase) {
                    let batch = RecordBatch::try_new(schema.clone(), batch.columns().to_vec())
                        .map_err(|e| EngineError::arrow("building JSON-decoded rows", e))?;
                    return Ok(Decoded { batch, rows: (0..payloads.len()).collect(), errors: Vec::new() });
                }
            }
        }
        let mut builders: Vec<ColumnBuilder> =
            types.iter().map(|t| ColumnBuilder::new(t, payloads.len())).collect();
        let mut rows = Vec::with_capacity(payloads.len());
        let mut errors = Vec::new();
        for (i, p) in payloads.iter().enumerate() {
            match self.decode_row(p, &types) {
                Ok(values) => {
                    for (b, v) in builders.iter_mut().zip(values) {
                        b.push(v);
                    }
                    rows.push(i);
                }
                Err(e) => errors.push((i, e)),
            }
        }
        let mut arrays = Vec::with_capacity(builders.len());
        for (b, f) in builders.into_iter().zip(schema.fields()) {
            let a = b.finish().map_err(|e| EngineError::Internal(format!("building {}: {e}", f.name())))?;
            let a = if a.data_type() == f.data_type() {
                a
            } else {
                arrow::compute::cast(&a, f.data_type())
                    .map_err(|e| EngineError::arrow(format!("decoding column {}", f.name()), e))?
            };
            arrays.push(a);
        }
        let batch = RecordBatch::try_new_with_options(
            schema.clone(),
            arrays,
            &RecordBatchOptions::new().with_row_count(Some(rows.len())),
        )
        .map_err(|e| EngineError::arrow(format!("building {}-decoded rows", self.name()), e))?;
        Ok(Decoded { batch, rows, errors })
    }

    fn encode(&self, batch: &RecordBatch) -> EResult<Vec<Vec<u8>>> {
        riffle_engine::format::encode_rows(self, batch)
    }

    fn encode_into(&self, batch: &RecordBatch, out: &mut Vec<u8>, rows: &mut Vec<std::ops::Range<usize>>) -> EResult<()> {
        let n = batch.num_rows();
        let columns = batch.columns();
        // Field names: ours when the batch has our columns, else the batch's.
        let names: Vec<String> = if columns.len() == self.columns.len() {
            self.columns.iter().map(|c| c.name.clone()).collect()
        } else {
            batch.schema().fields().iter().map(|f| f.name().clone()).collect()
        };
        match &self.codec {
            Codec::None => rows.extend(std::iter::repeat_n(out.len()..out.len(), n)),
            Codec::Json { wrapped } => {
                let bare = !*wrapped && columns.len() == 1;
                let keys: Vec<Vec<u8>> = names
                    .iter()
                    .map(|name| {
                        let mut k = Vec::with_capacity(name.len() + 3);
                        json::write_str(&mut k, name);
                        k.push(b':');
                        k
                    })
                    .collect();
                out.reserve(n * (16 * columns.len() + 2));
                for row in 0..n {
                    let start = out.len();
                    if bare {
                        write_json_cell(out, columns[0].as_ref(), row);
                    } else {
                        out.push(b'{');
                        for (i, (c, k)) in columns.iter().zip(&keys).enumerate() {
                            if i > 0 {
                                out.push(b',');
                            }
                            out.extend_from_slice(k);
                            write_json_cell(out, c.as_ref(), row);
                        }
                        out.push(b'}');
                    }
                    rows.push(start..out.len());
                }
            }
            Codec::Delimited { delimiter } => {
                for row in 0..n {
                    let fields: Vec<Option<String>> = columns
                        .iter()
                        .map(|c| delimited::format_field(&Value::from_array(c.as_ref(), row)))
                        .collect();
                    let start = out.len();
                    delimited::write_record(out, &fields, *delimiter);
                    rows.push(start..out.len());
                }
            }
        }
        Ok(())
    }
}

/// Writes row `row` of `array` as JSON, straight from the array for flat
/// types.
fn write_json_cell(out: &mut Vec<u8>, array: &dyn Array, row: usize) {
    if array.is_null(row) {
        out.extend_from_slice(b"null");
        return;
    }
    macro_rules! int {
        ($t:ty) => {{
            let mut b = itoa_buf();
            out.extend_from_slice(fmt_int(&mut b, i64::from(array.as_primitive::<$t>().value(row))));
        }};
    }
    match array.data_type() {
        DataType::Boolean => {
            out.extend_from_slice(if array.as_boolean().value(row) { b"true" } else { b"false" });
        }
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => int!(Int64Type),
        DataType::Date32 => int!(Date32Type),
        DataType::Time32(TimeUnit::Millisecond) => int!(Time32MillisecondType),
        DataType::Timestamp(TimeUnit::Millisecond, _) => int!(TimestampMillisecondType),
        DataType::Float64 => json::write_double(out, array.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => json::write_str(out, array.as_string::<i32>().value(row)),
        DataType::Decimal128(_, s) => {
            let u = array.as_primitive::<Decimal128Type>().value(row);
            out.extend_from_slice(java::decimal_plain(u, i32::from(*s)).as_bytes());
        }
        _ => json::write_value(out, &Value::from_array(array, row)),
    }
}

fn itoa_buf() -> [u8; 20] {
    [0; 20]
}

/// Formats `v` into `buf` (digits only, no allocation).
fn fmt_int(buf: &mut [u8; 20], v: i64) -> &[u8] {
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        // 20 bytes hold i64::MIN's 19 digits and its sign.
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// One column being decoded: a typed Arrow builder for flat types, the
/// values for nested ones.
enum ColumnBuilder {
    Bool(BooleanBuilder),
    Int(Int32Builder),
    Bigint(Int64Builder),
    Double(Float64Builder),
    Decimal(Decimal128Builder, u8, i8),
    String(StringBuilder),
    Bytes(BinaryBuilder),
    Date(Date32Builder),
    Time(Time32MillisecondBuilder),
    Timestamp(TimestampMillisecondBuilder),
    Other(Vec<Value>, SqlType),
}

impl ColumnBuilder {
    fn new(ty: &SqlType, n: usize) -> Self {
        match ty {
            SqlType::Boolean => ColumnBuilder::Bool(BooleanBuilder::with_capacity(n)),
            SqlType::Int => ColumnBuilder::Int(Int32Builder::with_capacity(n)),
            SqlType::Bigint => ColumnBuilder::Bigint(Int64Builder::with_capacity(n)),
            SqlType::Double => ColumnBuilder::Double(Float64Builder::with_capacity(n)),
            SqlType::Decimal { precision, scale } => {
                ColumnBuilder::Decimal(Decimal128Builder::with_capacity(n), *precision, *scale)
            }
            SqlType::String => ColumnBuilder::String(StringBuilder::with_capacity(n, n * 16)),
            SqlType::Bytes => ColumnBuilder::Bytes(BinaryBuilder::with_capacity(n, n * 16)),
            SqlType::Date => ColumnBuilder::Date(Date32Builder::with_capacity(n)),
            SqlType::Time => ColumnBuilder::Time(Time32MillisecondBuilder::with_capacity(n)),
            SqlType::Timestamp => ColumnBuilder::Timestamp(TimestampMillisecondBuilder::with_capacity(n)),
            other => ColumnBuilder::Other(Vec::with_capacity(n), other.clone()),
        }
    }

    /// Appends `v` (already of this column's type; anything else is NULL).
    fn push(&mut self, v: Value) {
        match (self, v) {
            (ColumnBuilder::Bool(b), Value::Boolean(x)) => b.append_value(x),
            (ColumnBuilder::Int(b), Value::Int(x)) => b.append_value(x),
            (ColumnBuilder::Bigint(b), Value::Bigint(x)) => b.append_value(x),
            (ColumnBuilder::Double(b), Value::Double(x)) => b.append_value(x),
            (ColumnBuilder::Decimal(b, _, s), Value::Decimal(x, vs)) if vs == *s => b.append_value(x),
            (ColumnBuilder::String(b), Value::String(x)) => b.append_value(x),
            (ColumnBuilder::Bytes(b), Value::Bytes(x)) => b.append_value(x),
            (ColumnBuilder::Date(b), Value::Date(x)) => b.append_value(x),
            (ColumnBuilder::Time(b), Value::Time(x)) => b.append_value(x),
            (ColumnBuilder::Timestamp(b), Value::Timestamp(x)) => b.append_value(x),
            (ColumnBuilder::Other(vs, _), v) => vs.push(v),
            (ColumnBuilder::Bool(b), _) => b.append_null(),
            (ColumnBuilder::Int(b), _) => b.append_null(),
            (ColumnBuilder::Bigint(b), _) => b.append_null(),
            (ColumnBuilder::Double(b), _) => b.append_null(),
            (ColumnBuilder::Decimal(b, _, _), _) => b.append_null(),
            (ColumnBuilder::String(b), _) => b.append_null(),
            (ColumnBuilder::Bytes(b), _) => b.append_null(),
            (ColumnBuilder::Date(b), _) => b.append_null(),
            (ColumnBuilder::Time(b), _) => b.append_null(),
            (ColumnBuilder::Timestamp(b), _) => b.append_null(),
        }
    }

    fn finish(self) -> crate::error::Result<ArrayRef> {
        Ok(match self {
            ColumnBuilder::Bool(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Int(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Bigint(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Double(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Decimal(mut b, p, s) => Arc::new(b.finish().with_precision_and_scale(p, s)?),
            ColumnBuilder::String(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Bytes(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Date(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Time(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Timestamp(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Other(vs, ty) => value::to_array(&vs, &ty)?,
        })
    }
}
