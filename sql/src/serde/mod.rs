//! Serialization formats with ksqlDB's rules: JSON, DELIMITED, KAFKA, NONE.
//!
//! [`FormatSpec`] is what a `WITH (KEY_FORMAT=…, VALUE_FORMAT=…,
//! VALUE_DELIMITER=…, WRAP_SINGLE_VALUE=…)` clause says; [`engine_format`]
//! turns it, with the columns it carries, into the engine's
//! [`riffle_engine::format::Format`]. [`json_to_bytes`] and
//! [`bytes_to_json`] convert between the JSON form the conformance files
//! write records in and the bytes on the topic.
//!
//! AVRO, PROTOBUF and JSON_SR need a schema registry; they parse (so
//! statements naming them get a clear error) but have no codec yet — that is
//! the seam where they plug in.
//!
//! Submodules: [`json`] (parser, ksqlDB's coercions, writer), [`delimited`]
//! (CSV as Commons CSV reads and writes it), [`kafka`] (primitive serdes),
//! [`java`] (number text as the JVM prints and parses it) and [`format`]
//! (the engine [`riffle_engine::format::Format`] over them).
//!
//! Choices where a byte slice cannot say what Kafka says: a NULL row (no
//! payload) is the caller's business; a NULL single KAFKA value encodes as
//! the empty payload and an empty payload decodes as NULL for INT, BIGINT and
//! DOUBLE; a JSON payload `null` decodes as a row of NULLs; an empty
//! DELIMITED payload is one empty (NULL) field.

pub mod delimited;
pub mod format;
pub mod java;
pub mod json;
pub mod kafka;

use std::sync::Arc;

use riffle_engine::format::{FormatRef, KafkaFormat};

use crate::error::{Result, SqlError};
use crate::types::{Column, SqlType};
use crate::value::Value;

pub use format::{Codec, SqlFormat};

/// A serialization format by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FormatKind {
    /// `JSON`
    Json,
    /// `DELIMITED` (CSV-like)
    Delimited,
    /// `KAFKA` (Kafka's primitive serdes)
    Kafka,
    /// `NONE` (no columns; bytes ignored)
    None,
    /// `AVRO` (schema registry)
    Avro,
    /// `PROTOBUF` (schema registry)
    Protobuf,
    /// `JSON_SR` (schema registry)
    JsonSr,
}

impl FormatKind {
    /// The format named `name` (any case).
    ///
    /// # Errors
    /// Unknown names.
    pub fn parse(name: &str) -> Result<FormatKind> {
        Ok(match name.to_ascii_uppercase().as_str() {
            "JSON" => FormatKind::Json,
            "DELIMITED" => FormatKind::Delimited,
            "KAFKA" => FormatKind::Kafka,
            "NONE" => FormatKind::None,
            "AVRO" => FormatKind::Avro,
            "PROTOBUF" | "PROTOBUF_NOSR" => FormatKind::Protobuf,
            "JSON_SR" => FormatKind::JsonSr,
            other => return Err(SqlError::semantic(format!("Unknown format: {other}"))),
        })
    }

    /// The name as ksqlDB spells it.
    pub fn name(self) -> &'static str {
        match self {
            FormatKind::Json => "JSON",
            FormatKind::Delimited => "DELIMITED",
            FormatKind::Kafka => "KAFKA",
            FormatKind::None => "NONE",
            FormatKind::Avro => "AVRO",
            FormatKind::Protobuf => "PROTOBUF",
            FormatKind::JsonSr => "JSON_SR",
        }
    }

    /// Whether the format needs a schema registry.
    pub fn needs_schema_registry(self) -> bool {
        matches!(self, FormatKind::Avro | FormatKind::Protobuf | FormatKind::JsonSr)
    }
}

/// A format with its options.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FormatSpec {
    /// Which format.
    pub kind: FormatKind,
    /// `VALUE_DELIMITER` / `KEY_DELIMITER` for DELIMITED (default `,`).
    pub delimiter: Option<char>,
    /// `WRAP_SINGLE_VALUE`: whether a single column is written inside an
    /// object (JSON) — `None` means the format's default (values wrapped,
    /// keys not).
    pub wrap_single_value: Option<bool>,
}

impl FormatSpec {
    /// A format without options.
    pub fn new(kind: FormatKind) -> Self {
        FormatSpec { kind, delimiter: None, wrap_single_value: None }
    }
}

/// `` `NAME` TYPE`` (with ` KEY` for key columns), as ksqlDB lists columns
/// in messages.
pub fn column_text(c: &Column, is_key: bool) -> String {
    format!("`{}` {}{}", c.name, c.ty, if is_key { " KEY" } else { "" })
}

/// ksqlDB's base type name (`SqlBaseType`): `INTEGER`, `ARRAY`, `STRUCT`, …
pub fn base_type_name(ty: &SqlType) -> &'static str {
    match ty {
        SqlType::Boolean => "BOOLEAN",
        SqlType::Int => "INTEGER",
        SqlType::Bigint => "BIGINT",
        SqlType::Double => "DOUBLE",
        SqlType::Decimal { .. } => "DECIMAL",
        SqlType::String => "STRING",
        SqlType::Bytes => "BYTES",
        SqlType::Date => "DATE",
        SqlType::Time => "TIME",
        SqlType::Timestamp => "TIMESTAMP",
        SqlType::Array(_) => "ARRAY",
        SqlType::Map(_, _) => "MAP",
        SqlType::Struct(_) => "STRUCT",
    }
}

/// The delimiter a `VALUE_DELIMITER` / `KEY_DELIMITER` property (named
/// `property`) gives: one character, or `TAB` / `SPACE`.
///
/// # Errors
/// ksqlDB's messages for empty, blank and multi-character values.
pub fn parse_delimiter(property: &str, text: &str) -> Result<char> {
    let invalid = |reason: String| {
        SqlError::semantic(format!(
            "Failed to prepare statement: Configuration {} is invalid: {reason}\nExample valid value: ';'",
            property.to_ascii_uppercase()
        ))
    };
    if text.eq_ignore_ascii_case("TAB") {
        return Ok('\t');
    }
    if text.eq_ignore_ascii_case("SPACE") {
        return Ok(' ');
    }
    if text.trim().is_empty() {
        return Err(invalid(
            "Delimiter cannot be empty, if you meant to have a tab or space for delimiter, please use the special \
             values 'TAB' or 'SPACE'"
                .into(),
        ));
    }
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(c),
        _ => Err(invalid(format!(
            "Invalid delimiter value: '{text}'. Delimiter must be a single character or TAB,SPACE"
        ))),
    }
}

fn contains_map(ty: &SqlType) -> bool {
    match ty {
        SqlType::Map(_, _) => true,
        SqlType::Array(e) => contains_map(e),
        SqlType::Struct(fields) => fields.iter().any(|(_, t)| contains_map(t)),
        _ => false,
    }
}

fn has_non_string_map_key(ty: &SqlType) -> bool {
    match ty {
        SqlType::Map(k, v) => **k != SqlType::String || has_non_string_map_key(v),
        SqlType::Array(e) => has_non_string_map_key(e),
        SqlType::Struct(fields) => fields.iter().any(|(_, t)| has_non_string_map_key(t)),
        _ => false,
    }
}

/// The error for a format that needs a schema registry.
pub fn schema_registry_error(kind: FormatKind) -> SqlError {
    SqlError::semantic(format!(
        "The '{}' format needs a schema registry, which Riffle does not support yet. Use JSON, DELIMITED or KAFKA \
         (or PROTOBUF/AVRO once schema-registry support lands)",
        kind.name()
    ))
}

/// Checks that `spec` can carry `columns` (the key columns when `is_key`),
/// with ksqlDB's messages: map-typed keys, WRAP_SINGLE_VALUE and delimiter
/// options on formats without them, KAFKA's single supported column, the
/// types DELIMITED cannot hold, JSON maps with non-STRING keys, NONE with
/// columns, and schema-registry formats.
///
/// # Errors
/// The first problem found.
pub fn validate(spec: &FormatSpec, columns: &[Column], is_key: bool) -> Result<()> {
    if spec.kind.needs_schema_registry() {
        return Err(schema_registry_error(spec.kind));
    }
    if is_key {
        if let Some(c) = columns.iter().find(|c| contains_map(&c.ty)) {
            return Err(SqlError::semantic(format!(
                "Map keys, including types that contain maps, are not supported as they may lead to unexpected \
                 behavior due to inconsistent serialization. Key column name: `{}`. Column type: {}. See \
                 https://github.com/confluentinc/ksql/issues/6621 for more.",
                c.name, c.ty
            )));
        }
    }
    if spec.wrap_single_value == Some(true) && matches!(spec.kind, FormatKind::Kafka | FormatKind::Delimited) {
        return Err(SqlError::semantic(format!(
            "Format '{}' does not support 'WRAP_SINGLE_VALUE' set to 'true'.",
            spec.kind.name()
        )));
    }
    if spec.delimiter.is_some() && spec.kind != FormatKind::Delimited {
        return Err(SqlError::semantic(format!(
            "{} does not support the following configs: [delimiter]",
            spec.kind.name()
        )));
    }
    let reason = match spec.kind {
        FormatKind::Kafka => kafka::unsupported(columns, is_key),
        FormatKind::Delimited => columns.iter().find_map(|c| match &c.ty {
            t @ (SqlType::Array(_) | SqlType::Map(_, _) | SqlType::Struct(_)) => Some(format!(
                "The 'DELIMITED' format does not support type '{}', column: `{}`",
                base_type_name(t),
                c.name
            )),
            _ => None,
        }),
        FormatKind::Json => {
            if columns.iter().any(|c| has_non_string_map_key(&c.ty)) {
                return Err(SqlError::semantic("JSON only supports MAP types with STRING keys"));
            }
            None
        }
        FormatKind::None if !columns.is_empty() => {
            let list: Vec<String> = columns.iter().map(|c| column_text(c, is_key)).collect();
            Some(format!("The 'NONE' format can only be used when no columns are defined. Got: [{}]", list.join(", ")))
        }
        _ => None,
    };
    match reason {
        None => Ok(()),
        Some(reason) => {
            let list: Vec<String> = columns.iter().map(|c| column_text(c, is_key)).collect();
            Err(SqlError::semantic(format!(
                "{} format does not support schema.\nformat: {}\nschema: Persistence{{columns=[{}], features=[]}}\n\
                 reason: {reason}",
                if is_key { "Key" } else { "Value" },
                spec.kind.name(),
                list.join(", ")
            )))
        }
    }
}

/// Whether a JSON key or value with `n` columns is written inside an object.
fn json_wrapped(spec: &FormatSpec, n: usize, is_key: bool) -> bool {
    if n != 1 {
        return true;
    }
    match spec.wrap_single_value {
        Some(w) => w,
        None => !is_key,
    }
}

/// The SQL-side format for a non-KAFKA, non-registry spec.
fn sql_format(spec: &FormatSpec, columns: &[Column], is_key: bool) -> Option<SqlFormat> {
    let codec = match spec.kind {
        FormatKind::Json => Codec::Json { wrapped: json_wrapped(spec, columns.len(), is_key) },
        FormatKind::Delimited => Codec::Delimited { delimiter: spec.delimiter.unwrap_or(',') },
        FormatKind::None => Codec::None,
        _ => return None,
    };
    Some(SqlFormat::new(codec, columns.to_vec(), is_key))
}

/// The engine format for `columns` (the key columns when `is_key`, else the
/// value columns) in format `spec`.
///
/// # Errors
/// Column sets the format cannot carry (ksqlDB's wording, see
/// [`validate`]), and schema-registry formats.
pub fn engine_format(spec: &FormatSpec, columns: &[Column], is_key: bool) -> Result<FormatRef> {
    validate(spec, columns, is_key)?;
    if spec.kind == FormatKind::Kafka {
        return Ok(Arc::new(KafkaFormat));
    }
    match sql_format(spec, columns, is_key) {
        Some(f) => Ok(Arc::new(f)),
        None => Err(schema_registry_error(spec.kind)),
    }
}

/// Parses a `serde_json::Value` into this module's JSON tree (via its text,
/// so numbers keep their digits).
fn with_tree<T>(json: &serde_json::Value, f: impl FnOnce(&json::Json<'_>) -> Result<T>) -> Result<T> {
    let text = serde_json::to_vec(json).map_err(|e| SqlError::serde(format!("cannot write JSON: {e}")))?;
    let node = json::parse(&text).map_err(SqlError::serde)?;
    f(&node)
}

/// The bytes of a record key or value given in JSON form (as the
/// conformance files write them) for `columns` in `spec`. `Ok(None)` for a
/// JSON `null` (no key / tombstone).
///
/// JSON is written as given; a DELIMITED record is the text of a JSON
/// string; a KAFKA value is coerced to the column's type (BYTES from
/// base64) and written in its fixed-width or UTF-8 form.
///
/// # Errors
/// JSON that does not fit the columns.
pub fn json_to_bytes(spec: &FormatSpec, columns: &[Column], json: &serde_json::Value, is_key: bool) -> Result<Option<Vec<u8>>> {
    if json.is_null() {
        return Ok(None);
    }
    match spec.kind {
        k if k.needs_schema_registry() => Err(schema_registry_error(k)),
        FormatKind::None => Ok(None),
        FormatKind::Json => serde_json::to_vec(json)
            .map(Some)
            .map_err(|e| SqlError::serde(format!("cannot write JSON: {e}"))),
        FormatKind::Delimited => match json {
            serde_json::Value::String(s) => Ok(Some(s.as_bytes().to_vec())),
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) => Ok(Some(json.to_string().into_bytes())),
            other => Err(SqlError::serde(format!("a DELIMITED record is written as a string, got {other}"))),
        },
        FormatKind::Kafka => {
            let Some(c) = columns.first() else {
                return Ok(Some(match json {
                    serde_json::Value::String(s) => s.as_bytes().to_vec(),
                    other => other.to_string().into_bytes(),
                }));
            };
            if let Some(reason) = kafka::unsupported(columns, is_key) {
                return Err(SqlError::serde(reason));
            }
            let v = with_tree(json, |node| kafka::json_node_to_value(node, &c.ty).map_err(SqlError::serde))?;
            kafka::encode_value(&v, &c.ty).map_err(SqlError::serde)
        }
        _ => Err(schema_registry_error(spec.kind)),
    }
}

/// The JSON form of a record key or value's bytes.
///
/// JSON payloads are parsed (numbers keep their digits, so `1.10` stays
/// `1.10`); DELIMITED payloads become a JSON string of their text; KAFKA
/// values become a number or string (BYTES as base64; doubles as Java prints
/// them).
///
/// # Errors
/// Bytes that do not decode.
pub fn bytes_to_json(spec: &FormatSpec, columns: &[Column], bytes: &[u8], is_key: bool) -> Result<serde_json::Value> {
    match spec.kind {
        k if k.needs_schema_registry() => Err(schema_registry_error(k)),
        FormatKind::None => Ok(serde_json::Value::Null),
        FormatKind::Json => serde_json::from_slice(bytes)
            .map_err(|e| SqlError::serde(format!("Failed to deserialize {}: {e}", if is_key { "key" } else { "value" }))),
        FormatKind::Delimited => std::str::from_utf8(bytes)
            .map(|s| serde_json::Value::String(s.to_string()))
            .map_err(|e| SqlError::serde(format!("DELIMITED record is not UTF-8: {e}"))),
        FormatKind::Kafka => {
            let Some(c) = columns.first() else {
                return Ok(serde_json::Value::Null);
            };
            let v: Value = kafka::decode_value(bytes, &c.ty).map_err(SqlError::serde)?;
            let text = kafka::value_to_json_node(&v);
            serde_json::from_slice(&text).map_err(|e| SqlError::Internal(format!("KAFKA value as JSON: {e}")))
        }
        _ => Err(schema_registry_error(spec.kind)),
    }
}

#[cfg(test)]
mod tests;
