//! ksqlDB's `KAFKA` format: Kafka's primitive serdes for one column.
//!
//! | column | bytes                                  |
//! |--------|----------------------------------------|
//! | INT    | 4 bytes, big-endian                    |
//! | BIGINT | 8 bytes, big-endian                    |
//! | DOUBLE | 8 bytes, big-endian IEEE-754           |
//! | STRING | UTF-8                                  |
//! | BYTES  | as is                                  |
//!
//! Decoding and encoding batches is the engine's
//! [`riffle_engine::format::KafkaFormat`]; this module checks column sets
//! with ksqlDB's wording and converts single values for the JSON form the
//! conformance files use. An empty payload is NULL for INT, BIGINT and
//! DOUBLE (Kafka writes NULL as no payload at all).

use super::json::{self, Json};
use crate::types::{Column, SqlType};
use crate::value::Value;

/// Why `columns` cannot be KAFKA-formatted, in ksqlDB's words (`None` when
/// they can). `is_key` adds ` KEY` to the column list as ksqlDB prints it.
pub fn unsupported(columns: &[Column], is_key: bool) -> Option<String> {
    if columns.len() > 1 {
        let list: Vec<String> = columns.iter().map(|c| super::column_text(c, is_key)).collect();
        return Some(format!("The 'KAFKA' format only supports a single field. Got: [{}]", list.join(", ")));
    }
    let c = columns.first()?;
    match &c.ty {
        SqlType::Int | SqlType::Bigint | SqlType::Double | SqlType::String | SqlType::Bytes => None,
        other => Some(format!("The 'KAFKA' format does not support type '{}'", super::base_type_name(other))),
    }
}

/// The bytes of one value of `ty` (`None` for NULL).
///
/// # Errors
/// A value that is not of `ty`.
pub fn encode_value(v: &Value, ty: &SqlType) -> Result<Option<Vec<u8>>, String> {
    Ok(Some(match (v, ty) {
        (Value::Null, _) => return Ok(None),
        (Value::Int(i), SqlType::Int) => i.to_be_bytes().to_vec(),
        (Value::Bigint(i), SqlType::Bigint) => i.to_be_bytes().to_vec(),
        (Value::Double(d), SqlType::Double) => d.to_be_bytes().to_vec(),
        (Value::String(s), SqlType::String) => s.as_bytes().to_vec(),
        (Value::Bytes(b), SqlType::Bytes) => b.clone(),
        (v, ty) => return Err(format!("value {v:?} is not a KAFKA {ty}")),
    }))
}

/// The value of `ty` in `bytes`.
///
/// # Errors
/// Lengths that do not fit the type and invalid UTF-8 for STRING, with the
/// Kafka deserializers' wording.
pub fn decode_value(bytes: &[u8], ty: &SqlType) -> Result<Value, String> {
    let fixed = |n: usize, name: &str| -> Result<(), String> {
        if bytes.len() == n {
            Ok(())
        } else {
            Err(format!("Size of data received by {name}Deserializer is not {n}"))
        }
    };
    Ok(match ty {
        SqlType::Int | SqlType::Bigint | SqlType::Double if bytes.is_empty() => Value::Null,
        SqlType::Int => {
            fixed(4, "Integer")?;
            Value::Int(i32::from_be_bytes(<[u8; 4]>::try_from(bytes).map_err(|e| e.to_string())?))
        }
        SqlType::Bigint => {
            fixed(8, "Long")?;
            Value::Bigint(i64::from_be_bytes(<[u8; 8]>::try_from(bytes).map_err(|e| e.to_string())?))
        }
        SqlType::Double => {
            fixed(8, "Double")?;
            Value::Double(f64::from_be_bytes(<[u8; 8]>::try_from(bytes).map_err(|e| e.to_string())?))
        }
        SqlType::String => Value::String(
            String::from_utf8(bytes.to_vec())
                .map_err(|e| format!("invalid UTF-8 at byte {}", e.utf8_error().valid_up_to()))?,
        ),
        SqlType::Bytes => Value::Bytes(bytes.to_vec()),
        other => return Err(format!("The 'KAFKA' format does not support type '{}'", super::base_type_name(other))),
    })
}

/// The JSON form (as the conformance files write it) of a KAFKA value:
/// numbers, strings, and BYTES as base64.
pub fn value_to_json_node(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    json::write_value(&mut out, v);
    out
}

/// The value a JSON node gives for a KAFKA column of `ty` (coerced as the
/// JSON format would; BYTES from base64).
///
/// # Errors
/// Nodes that do not convert.
pub fn json_node_to_value(node: &Json<'_>, ty: &SqlType) -> Result<Value, String> {
    json::to_value(node, ty).map_err(|e| format!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_columns_like_ksqldb() {
        let two = [Column::new("V0", SqlType::Int), Column::new("V1", SqlType::String)];
        assert_eq!(
            unsupported(&two, false).as_deref(),
            Some("The 'KAFKA' format only supports a single field. Got: [`V0` INTEGER, `V1` STRING]")
        );
        assert_eq!(
            unsupported(&two[..1], true),
            None
        );
        assert_eq!(
            unsupported(&[Column::new("K", SqlType::Boolean)], true).as_deref(),
            Some("The 'KAFKA' format does not support type 'BOOLEAN'")
        );
        assert_eq!(
            unsupported(&[Column::new("K", SqlType::Array(Box::new(SqlType::Int)))], true).as_deref(),
            Some("The 'KAFKA' format does not support type 'ARRAY'")
        );
        assert_eq!(unsupported(&[], true), None);
    }

    #[test]
    fn values_round_trip() {
        for (v, ty) in [
            (Value::Int(-7), SqlType::Int),
            (Value::Bigint(1 << 40), SqlType::Bigint),
            (Value::Double(2.5), SqlType::Double),
            (Value::String("héllo".into()), SqlType::String),
            (Value::Bytes(vec![0, 255]), SqlType::Bytes),
        ] {
            let b = encode_value(&v, &ty).unwrap().unwrap();
            assert_eq!(decode_value(&b, &ty).unwrap(), v);
        }
        assert_eq!(encode_value(&Value::Int(1), &SqlType::Int).unwrap(), Some(vec![0, 0, 0, 1]));
        assert_eq!(decode_value(&[], &SqlType::Int).unwrap(), Value::Null);
        assert_eq!(
            decode_value(&[1, 2], &SqlType::Int).unwrap_err(),
            "Size of data received by IntegerDeserializer is not 4"
        );
    }
}
