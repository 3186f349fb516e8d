//! SQL types as ksqlDB spells them, and their Arrow representation.
//!
//! | SQL            | Arrow                                   |
//! |----------------|-----------------------------------------|
//! | BOOLEAN        | Boolean                                 |
//! | INT / INTEGER  | Int32                                   |
//! | BIGINT         | Int64                                   |
//! | DOUBLE         | Float64                                 |
//! | DECIMAL(p, s)  | Decimal128(p, s)                        |
//! | STRING/VARCHAR | Utf8                                    |
//! | BYTES          | Binary                                  |
//! | DATE           | Date32 (days since the epoch)           |
//! | TIME           | Time32(ms) (milliseconds of the day)    |
//! | TIMESTAMP      | Timestamp(ms, no zone)                  |
//! | ARRAY<T>       | List                                    |
//! | MAP<K, V>      | Map (entries: key, value)               |
//! | STRUCT<…>      | Struct                                  |

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, TimeUnit};

use crate::error::{Result, SqlError};

/// A named, typed column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Column {
    /// Name (upper case unless it was quoted).
    pub name: String,
    /// Type.
    pub ty: SqlType,
}

impl Column {
    /// A column.
    pub fn new(name: impl Into<String>, ty: SqlType) -> Self {
        Column { name: name.into(), ty }
    }
}

/// A ksqlDB SQL type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SqlType {
    /// BOOLEAN
    Boolean,
    /// INT (32-bit)
    Int,
    /// BIGINT (64-bit)
    Bigint,
    /// DOUBLE
    Double,
    /// DECIMAL(precision, scale)
    Decimal {
        /// Total digits, 1..=38.
        precision: u8,
        /// Digits after the point, 0..=precision.
        scale: i8,
    },
    /// STRING / VARCHAR
    String,
    /// BYTES
    Bytes,
    /// DATE
    Date,
    /// TIME
    Time,
    /// TIMESTAMP
    Timestamp,
    /// ARRAY<element>
    Array(Box<SqlType>),
    /// MAP<key, value>
    Map(Box<SqlType>, Box<SqlType>),
    /// STRUCT<name type, …> (field names keep their case)
    Struct(Vec<(String, SqlType)>),
}

impl SqlType {
    /// The Arrow type that carries values of this type.
    pub fn to_arrow(&self) -> DataType {
        match self {
            SqlType::Boolean => DataType::Boolean,
            SqlType::Int => DataType::Int32,
            SqlType::Bigint => DataType::Int64,
            SqlType::Double => DataType::Float64,
            SqlType::Decimal { precision, scale } => DataType::Decimal128(*precision, *scale),
            SqlType::String => DataType::Utf8,
            SqlType::Bytes => DataType::Binary,
            SqlType::Date => DataType::Date32,
            SqlType::Time => DataType::Time32(TimeUnit::Millisecond),
            SqlType::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, None),
            SqlType::Array(e) => DataType::List(Arc::new(Field::new("item", e.to_arrow(), true))),
            SqlType::Map(k, v) => DataType::Map(
                Arc::new(Field::new(
                    "entries",
                    DataType::Struct(Fields::from(vec![
                        Field::new("key", k.to_arrow(), false),
                        Field::new("value", v.to_arrow(), true),
                    ])),
                    false,
                )),
                false,
            ),
            SqlType::Struct(fields) => DataType::Struct(Fields::from(
                fields.iter().map(|(n, t)| Field::new(n, t.to_arrow(), true)).collect::<Vec<_>>(),
            )),
        }
    }

    /// The SQL type of an Arrow type.
    ///
    /// # Errors
    /// Arrow types with no SQL counterpart.
    pub fn from_arrow(t: &DataType) -> Result<SqlType> {
        Ok(match t {
            DataType::Boolean => SqlType::Boolean,
            DataType::Int8 | DataType::Int16 | DataType::Int32 => SqlType::Int,
            DataType::Int64 => SqlType::Bigint,
            DataType::Float32 | DataType::Float64 => SqlType::Double,
            DataType::Decimal128(p, s) => SqlType::Decimal { precision: *p, scale: *s },
            DataType::Utf8 | DataType::LargeUtf8 => SqlType::String,
            DataType::Binary | DataType::LargeBinary => SqlType::Bytes,
            DataType::Date32 => SqlType::Date,
            DataType::Time32(_) => SqlType::Time,
            DataType::Timestamp(_, _) => SqlType::Timestamp,
            DataType::List(f) | DataType::LargeList(f) => SqlType::Array(Box::new(SqlType::from_arrow(f.data_type())?)),
            DataType::Map(f, _) => match f.data_type() {
                DataType::Struct(kv) if kv.len() == 2 => SqlType::Map(
                    Box::new(SqlType::from_arrow(kv[0].data_type())?),
                    Box::new(SqlType::from_arrow(kv[1].data_type())?),
                ),
                other => return Err(SqlError::Internal(format!("map entries of type {other}"))),
            },
            DataType::Struct(fields) => SqlType::Struct(
                fields.iter().map(|f| Ok((f.name().clone(), SqlType::from_arrow(f.data_type())?))).collect::<Result<_>>()?,
            ),
            // Untyped NULL literals: ksqlDB treats them as a STRING-compatible null.
            DataType::Null => SqlType::String,
            other => return Err(SqlError::Internal(format!("no SQL type for Arrow type {other}"))),
        })
    }

    /// ARRAY, MAP or STRUCT.
    pub fn is_nested(&self) -> bool {
        matches!(self, SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_))
    }

    /// INT, BIGINT, DOUBLE or DECIMAL.
    pub fn is_numeric(&self) -> bool {
        matches!(self, SqlType::Int | SqlType::Bigint | SqlType::Double | SqlType::Decimal { .. })
    }

    /// INT or BIGINT.
    pub fn is_integer(&self) -> bool {
        matches!(self, SqlType::Int | SqlType::Bigint)
    }

    /// The decimal precision and scale that hold every value of an integer or
    /// decimal type (ksqlDB's implicit widening), or `None`.
    pub fn as_decimal(&self) -> Option<(u8, i8)> {
        match self {
            SqlType::Int => Some((10, 0)),
            SqlType::Bigint => Some((19, 0)),
            SqlType::Decimal { precision, scale } => Some((*precision, *scale)),
            _ => None,
        }
    }
}

impl fmt::Display for SqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqlType::Boolean => f.write_str("BOOLEAN"),
            SqlType::Int => f.write_str("INTEGER"),
            SqlType::Bigint => f.write_str("BIGINT"),
            SqlType::Double => f.write_str("DOUBLE"),
            SqlType::Decimal { precision, scale } => write!(f, "DECIMAL({precision}, {scale})"),
            SqlType::String => f.write_str("STRING"),
            SqlType::Bytes => f.write_str("BYTES"),
            SqlType::Date => f.write_str("DATE"),
            SqlType::Time => f.write_str("TIME"),
            SqlType::Timestamp => f.write_str("TIMESTAMP"),
            SqlType::Array(e) => write!(f, "ARRAY<{e}>"),
            SqlType::Map(k, v) => write!(f, "MAP<{k}, {v}>"),
            SqlType::Struct(fields) => {
                f.write_str("STRUCT<")?;
                for (i, (n, t)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "`{n}` {t}")?;
                }
                f.write_str(">")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrow_round_trip() {
        let t = SqlType::Struct(vec![
            ("A".into(), SqlType::Array(Box::new(SqlType::Int))),
            ("m".into(), SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Decimal { precision: 4, scale: 2 }))),
            ("T".into(), SqlType::Timestamp),
        ]);
        assert_eq!(SqlType::from_arrow(&t.to_arrow()).unwrap(), t);
        assert_eq!(t.to_string(), "STRUCT<`A` ARRAY<INTEGER>, `m` MAP<STRING, DECIMAL(4, 2)>, `T` TIMESTAMP>");
    }
}
