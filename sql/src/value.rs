//! [`Value`]: one SQL value, row at a time.
//!
//! The engine moves Arrow columns; most SQL functions, the formats and the
//! conformance runner are far simpler written over single values. This
//! module converts between the two: [`Value::from_array`] reads one row of
//! an Arrow array, [`to_array`] builds an array of a [`SqlType`] from
//! values (coercing where ksqlDB would, for example INT into BIGINT).

use std::sync::Arc;

use arrow::array::*;
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, Field, TimeUnit};

use crate::error::{Result, SqlError};
use crate::types::SqlType;

/// One SQL value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// NULL (of any type).
    Null,
    /// BOOLEAN
    Boolean(bool),
    /// INT
    Int(i32),
    /// BIGINT
    Bigint(i64),
    /// DOUBLE
    Double(f64),
    /// DECIMAL: unscaled value and scale (`12.30` is `(1230, 2)`).
    Decimal(i128, i8),
    /// STRING
    String(String),
    /// BYTES
    Bytes(Vec<u8>),
    /// DATE: days since 1970-01-01.
    Date(i32),
    /// TIME: milliseconds since midnight.
    Time(i32),
    /// TIMESTAMP: milliseconds since the epoch, UTC.
    Timestamp(i64),
    /// ARRAY
    Array(Vec<Value>),
    /// MAP, entries in insertion order.
    Map(Vec<(Value, Value)>),
    /// STRUCT, fields in declaration order.
    Struct(Vec<(String, Value)>),
}

impl Value {
    /// Whether this is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Integer view of INT and BIGINT values.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(v) => Some(i64::from(*v)),
            Value::Bigint(v) | Value::Timestamp(v) => Some(*v),
            _ => None,
        }
    }

    /// Floating view of numeric values.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(v) => Some(f64::from(*v)),
            Value::Bigint(v) => Some(*v as f64),
            Value::Double(v) => Some(*v),
            Value::Decimal(u, s) => Some(*u as f64 / 10f64.powi(i32::from(*s))),
            _ => None,
        }
    }

    /// String view of STRING values.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Reads row `row` of `array`.
    pub fn from_array(array: &dyn Array, row: usize) -> Value {
        if row >= array.len() || array.is_null(row) {
            return Value::Null;
        }
        match array.data_type() {
            DataType::Boolean => Value::Boolean(array.as_boolean().value(row)),
            DataType::Int8 => Value::Int(i32::from(array.as_primitive::<arrow::datatypes::Int8Type>().value(row))),
            DataType::Int16 => Value::Int(i32::from(array.as_primitive::<arrow::datatypes::Int16Type>().value(row))),
            DataType::Int32 => Value::Int(array.as_primitive::<arrow::datatypes::Int32Type>().value(row)),
            DataType::Int64 => Value::Bigint(array.as_primitive::<arrow::datatypes::Int64Type>().value(row)),
            DataType::Float32 => {
                Value::Double(f64::from(array.as_primitive::<arrow::datatypes::Float32Type>().value(row)))
            }
            DataType::Float64 => Value::Double(array.as_primitive::<arrow::datatypes::Float64Type>().value(row)),
            DataType::Decimal128(_, s) => {
                Value::Decimal(array.as_primitive::<arrow::datatypes::Decimal128Type>().value(row), *s)
            }
            DataType::Utf8 => Value::String(array.as_string::<i32>().value(row).to_string()),
            DataType::LargeUtf8 => Value::String(array.as_string::<i64>().value(row).to_string()),
            DataType::Binary => Value::Bytes(array.as_binary::<i32>().value(row).to_vec()),
            DataType::Date32 => Value::Date(array.as_primitive::<arrow::datatypes::Date32Type>().value(row)),
            DataType::Time32(TimeUnit::Millisecond) => {
                Value::Time(array.as_primitive::<arrow::datatypes::Time32MillisecondType>().value(row))
            }
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                Value::Timestamp(array.as_primitive::<arrow::datatypes::TimestampMillisecondType>().value(row))
            }
            DataType::List(_) => {
                let l = array.as_list::<i32>();
                let inner = l.value(row);
                Value::Array((0..inner.len()).map(|i| Value::from_array(inner.as_ref(), i)).collect())
            }
            DataType::Map(_, _) => {
                let m = array.as_map();
                let entries = m.value(row);
                let (k, v) = (entries.column(0), entries.column(1));
                Value::Map(
                    (0..entries.len())
                        .map(|i| (Value::from_array(k.as_ref(), i), Value::from_array(v.as_ref(), i)))
                        .collect(),
                )
            }
            DataType::Struct(fields) => {
                let s = array.as_struct();
                Value::Struct(
                    fields
                        .iter()
                        .zip(s.columns())
                        .map(|(f, c)| (f.name().clone(), Value::from_array(c.as_ref(), row)))
                        .collect(),
                )
            }
            _ => Value::Null,
        }
    }

    /// This value as `ty`, converting where ksqlDB converts implicitly
    /// (integers widen to BIGINT, DOUBLE and DECIMAL; decimals rescale).
    /// `None` when it does not fit.
    pub fn coerce(self, ty: &SqlType) -> Option<Value> {
        Some(match (self, ty) {
            (Value::Null, _) => Value::Null,
            (v @ Value::Boolean(_), SqlType::Boolean) => v,
            (v @ Value::Int(_), SqlType::Int) => v,
            (Value::Bigint(v), SqlType::Int) => Value::Int(i32::try_from(v).ok()?),
            (Value::Int(v), SqlType::Bigint) => Value::Bigint(i64::from(v)),
            (v @ Value::Bigint(_), SqlType::Bigint) => v,
            (Value::Int(v), SqlType::Double) => Value::Double(f64::from(v)),
            (Value::Bigint(v), SqlType::Double) => Value::Double(v as f64),
            (v @ Value::Double(_), SqlType::Double) => v,
            (Value::Decimal(u, s), SqlType::Double) => Value::Double(u as f64 / 10f64.powi(i32::from(s))),
            (Value::Int(v), SqlType::Decimal { precision, scale }) => {
                rescale(i128::from(v), 0, *precision, *scale).map(|u| Value::Decimal(u, *scale))?
            }
            (Value::Bigint(v), SqlType::Decimal { precision, scale }) => {
                rescale(i128::from(v), 0, *precision, *scale).map(|u| Value::Decimal(u, *scale))?
            }
            (Value::Decimal(u, s), SqlType::Decimal { precision, scale }) => {
                rescale(u, s, *precision, *scale).map(|u| Value::Decimal(u, *scale))?
            }
            (v @ Value::String(_), SqlType::String) => v,
            (v @ Value::Bytes(_), SqlType::Bytes) => v,
            (v @ Value::Date(_), SqlType::Date) => v,
            (v @ Value::Time(_), SqlType::Time) => v,
            (v @ Value::Timestamp(_), SqlType::Timestamp) => v,
            (Value::Array(items), SqlType::Array(e)) => {
                Value::Array(items.into_iter().map(|v| v.coerce(e)).collect::<Option<_>>()?)
            }
            (Value::Map(entries), SqlType::Map(k, v)) => Value::Map(
                entries.into_iter().map(|(a, b)| Some((a.coerce(k)?, b.coerce(v)?))).collect::<Option<_>>()?,
            ),
            (Value::Struct(fields), SqlType::Struct(types)) => Value::Struct(
                types
                    .iter()
                    .map(|(n, t)| {
                        let v = fields.iter().find(|(f, _)| f == n).map_or(Value::Null, |(_, v)| v.clone());
                        Some((n.clone(), v.coerce(t)?))
                    })
                    .collect::<Option<_>>()?,
            ),
            _ => return None,
        })
    }

    /// The natural SQL type of this value (`None` for NULL and empty
    /// collections, whose element type is unknown).
    pub fn sql_type(&self) -> Option<SqlType> {
        Some(match self {
            Value::Null => return None,
            Value::Boolean(_) => SqlType::Boolean,
            Value::Int(_) => SqlType::Int,
            Value::Bigint(_) => SqlType::Bigint,
            Value::Double(_) => SqlType::Double,
            Value::Decimal(u, s) => {
                let digits = u.unsigned_abs().checked_ilog10().map_or(1, |d| d + 1) as u8;
                SqlType::Decimal { precision: digits.max(*s as u8).max(1), scale: *s }
            }
            Value::String(_) => SqlType::String,
            Value::Bytes(_) => SqlType::Bytes,
            Value::Date(_) => SqlType::Date,
            Value::Time(_) => SqlType::Time,
            Value::Timestamp(_) => SqlType::Timestamp,
            Value::Array(items) => SqlType::Array(Box::new(items.iter().find_map(Value::sql_type)?)),
            Value::Map(entries) => SqlType::Map(
                Box::new(entries.iter().find_map(|(k, _)| k.sql_type())?),
                Box::new(entries.iter().find_map(|(_, v)| v.sql_type())?),
            ),
            Value::Struct(fields) => {
                SqlType::Struct(fields.iter().map(|(n, v)| Some((n.clone(), v.sql_type()?))).collect::<Option<_>>()?)
            }
        })
    }
}

/// `unscaled` at `from` scale, rescaled to `to` scale (rounding half up),
/// or `None` when it needs more than `precision` digits.
pub fn rescale(unscaled: i128, from: i8, precision: u8, to: i8) -> Option<i128> {
    let diff = i32::from(to) - i32::from(from);
    let v = if diff >= 0 {
        unscaled.checked_mul(10i128.checked_pow(diff as u32)?)?
    } else {
        let div = 10i128.checked_pow((-diff) as u32)?;
        let q = unscaled / div;
        let r = unscaled % div;
        if r.abs() * 2 >= div {
            q + unscaled.signum()
        } else {
            q
        }
    };
    let limit = 10i128.checked_pow(u32::from(precision))?;
    (v.abs() < limit).then_some(v)
}

/// Builds an array of `ty` from `values`. Values that do not fit the type
/// (after [`Value::coerce`]) become NULL; `strict` makes them an error
/// instead.
///
/// # Errors
/// With `strict`, the first value that does not fit, naming it and the type.
pub fn to_array_checked(values: &[Value], ty: &SqlType, strict: bool) -> Result<ArrayRef> {
    let fit = |v: &Value| -> Result<Value> {
        match v.clone().coerce(ty) {
            Some(v) => Ok(v),
            None if strict => Err(SqlError::serde(format!("value {v:?} does not fit type {ty}"))),
            None => Ok(Value::Null),
        }
    };
    let values: Vec<Value> = values.iter().map(fit).collect::<Result<_>>()?;
    build(&values, ty)
}

/// Builds an array of `ty` from `values`; values that do not fit are NULL.
///
/// # Errors
/// Only on internal Arrow failures.
pub fn to_array(values: &[Value], ty: &SqlType) -> Result<ArrayRef> {
    to_array_checked(values, ty, false)
}

macro_rules! prim {
    ($values:expr, $arr:ty, $pat:pat => $out:expr) => {{
        let a: $arr = $values.iter().map(|v| match v { $pat => Some($out), _ => None }).collect();
        Arc::new(a) as ArrayRef
    }};
}

/// Values already coerced to `ty` (anything else is NULL) into an array.
fn build(values: &[Value], ty: &SqlType) -> Result<ArrayRef> {
    Ok(match ty {
        SqlType::Boolean => prim!(values, BooleanArray, Value::Boolean(b) => *b),
        SqlType::Int => prim!(values, Int32Array, Value::Int(v) => *v),
        SqlType::Bigint => prim!(values, Int64Array, Value::Bigint(v) => *v),
        SqlType::Double => prim!(values, Float64Array, Value::Double(v) => *v),
        SqlType::Decimal { precision, scale } => {
            let a: Decimal128Array =
                values.iter().map(|v| if let Value::Decimal(u, _) = v { Some(*u) } else { None }).collect();
            Arc::new(a.with_precision_and_scale(*precision, *scale)?)
        }
        SqlType::String => prim!(values, StringArray, Value::String(s) => s.as_str()),
        SqlType::Bytes => prim!(values, BinaryArray, Value::Bytes(b) => b.as_slice()),
        SqlType::Date => prim!(values, Date32Array, Value::Date(v) => *v),
        SqlType::Time => prim!(values, Time32MillisecondArray, Value::Time(v) => *v),
        SqlType::Timestamp => prim!(values, TimestampMillisecondArray, Value::Timestamp(v) => *v),
        SqlType::Array(elem) => {
            let mut offsets = Vec::with_capacity(values.len() + 1);
            offsets.push(0i32);
            let mut items = Vec::new();
            let mut valid = Vec::with_capacity(values.len());
            for v in values {
                if let Value::Array(xs) = v {
                    items.extend(xs.iter().cloned());
                    valid.push(true);
                } else {
                    valid.push(false);
                }
                offsets.push(i32::try_from(items.len()).map_err(|_| SqlError::serde("array too large"))?);
            }
            let child = build(&items, elem)?;
            Arc::new(ListArray::try_new(
                Arc::new(Field::new("item", elem.to_arrow(), true)),
                OffsetBuffer::new(offsets.into()),
                child,
                Some(NullBuffer::from(valid)),
            )?)
        }
        SqlType::Map(kt, vt) => {
            let mut offsets = Vec::with_capacity(values.len() + 1);
            offsets.push(0i32);
            let (mut keys, mut vals, mut valid) = (Vec::new(), Vec::new(), Vec::with_capacity(values.len()));
            for v in values {
                if let Value::Map(entries) = v {
                    for (k, x) in entries {
                        if !k.is_null() {
                            keys.push(k.clone());
                            vals.push(x.clone());
                        }
                    }
                    valid.push(true);
                } else {
                    valid.push(false);
                }
                offsets.push(i32::try_from(keys.len()).map_err(|_| SqlError::serde("map too large"))?);
            }
            let DataType::Map(entries_field, _) = ty.to_arrow() else {
                return Err(SqlError::Internal("map type is not an Arrow map".into()));
            };
            let DataType::Struct(kv_fields) = entries_field.data_type().clone() else {
                return Err(SqlError::Internal("map entries are not a struct".into()));
            };
            let entries = StructArray::try_new(kv_fields, vec![build(&keys, kt)?, build(&vals, vt)?], None)?;
            Arc::new(MapArray::try_new(
                entries_field,
                OffsetBuffer::new(offsets.into()),
                entries,
                Some(NullBuffer::from(valid)),
                false,
            )?)
        }
        SqlType::Struct(fields) => {
            let DataType::Struct(arrow_fields) = ty.to_arrow() else {
                return Err(SqlError::Internal("struct type is not an Arrow struct".into()));
            };
            if fields.is_empty() {
                return Ok(Arc::new(StructArray::new_empty_fields(
                    values.len(),
                    Some(NullBuffer::from(values.iter().map(|v| !v.is_null()).collect::<Vec<_>>())),
                )));
            }
            let mut columns = Vec::with_capacity(fields.len());
            for (i, (_, t)) in fields.iter().enumerate() {
                let col: Vec<Value> = values
                    .iter()
                    .map(|v| match v {
                        Value::Struct(fs) => fs.get(i).map_or(Value::Null, |(_, x)| x.clone()),
                        _ => Value::Null,
                    })
                    .collect();
                columns.push(build(&col, t)?);
            }
            let valid = NullBuffer::from(values.iter().map(|v| matches!(v, Value::Struct(_))).collect::<Vec<_>>());
            Arc::new(StructArray::try_new(arrow_fields, columns, Some(valid))?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(values: Vec<Value>, ty: SqlType) {
        let a = to_array_checked(&values, &ty, true).unwrap();
        assert_eq!(a.data_type(), &ty.to_arrow());
        let back: Vec<Value> = (0..a.len()).map(|i| Value::from_array(a.as_ref(), i)).collect();
        assert_eq!(back, values);
    }

    #[test]
    fn nested_values_round_trip_through_arrow() {
        round_trip(vec![Value::Int(1), Value::Null, Value::Int(-3)], SqlType::Int);
        round_trip(
            vec![Value::Array(vec![Value::String("a".into()), Value::Null]), Value::Null, Value::Array(vec![])],
            SqlType::Array(Box::new(SqlType::String)),
        );
        round_trip(
            vec![Value::Map(vec![(Value::String("k".into()), Value::Bigint(4))]), Value::Null],
            SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Bigint)),
        );
        round_trip(
            vec![
                Value::Struct(vec![("A".into(), Value::Decimal(1230, 2)), ("B".into(), Value::Null)]),
                Value::Null,
            ],
            SqlType::Struct(vec![
                ("A".into(), SqlType::Decimal { precision: 5, scale: 2 }),
                ("B".into(), SqlType::Boolean),
            ]),
        );
    }

    #[test]
    fn coercion_widens_and_rescales() {
        assert_eq!(Value::Int(3).coerce(&SqlType::Bigint), Some(Value::Bigint(3)));
        assert_eq!(
            Value::Decimal(125, 2).coerce(&SqlType::Decimal { precision: 3, scale: 1 }),
            Some(Value::Decimal(13, 1))
        );
        assert_eq!(Value::Decimal(12345, 0).coerce(&SqlType::Decimal { precision: 4, scale: 0 }), None);
        assert_eq!(Value::String("x".into()).coerce(&SqlType::Int), None);
    }
}
