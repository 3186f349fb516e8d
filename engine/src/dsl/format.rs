//! The DSL's record formats: [`SerdeJson`] for values and [`SerdeKey`] for
//! keys. Both decode into one Utf8 column and check every payload against
//! the Rust type, so a record that would not deserialize later is skipped at
//! the source with the reason serde gives.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use arrow::array::{Array, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, SchemaRef};
use serde::de::DeserializeOwned;

use super::codec::{encode_key, KeyLayout, TextColumn};
use crate::error::{EngineError, Result};
use crate::format::{Decoded, Format};

fn one_utf8_column(schema: &SchemaRef, format: &str) -> Result<()> {
    match schema.fields().len() {
        1 if schema.field(0).data_type() == &DataType::Utf8 => Ok(()),
        n => Err(EngineError::plan(
            format!("{format} format"),
            format!("{format} decodes into one Utf8 column, but the schema has {n} column(s); use it for DSL streams only"),
        )),
    }
}

/// Decodes payloads into one Utf8 column: `check` turns each payload's text
/// into the column text or a reason to skip it.
fn decode_text(
    schema: &SchemaRef,
    payloads: &[&[u8]],
    check: impl Fn(&str) -> std::result::Result<Option<String>, String>,
) -> Result<Decoded> {
    let bytes = payloads.iter().map(|p| p.len()).sum();
    let mut b = StringBuilder::with_capacity(payloads.len(), bytes);
    let mut rows = Vec::with_capacity(payloads.len());
    let mut errors = Vec::new();
    for (i, p) in payloads.iter().enumerate() {
        let text = match std::str::from_utf8(p) {
            Ok(t) => t,
            Err(e) => {
                errors.push((i, format!("invalid UTF-8 at byte {}", e.valid_up_to())));
                continue;
            }
        };
        match check(text) {
            Ok(Some(canonical)) => b.append_value(canonical),
            Ok(None) => b.append_value(text),
            Err(reason) => {
                errors.push((i, reason));
                continue;
            }
        }
        rows.push(i);
    }
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(b.finish())])
        .map_err(|e| EngineError::arrow("decoding DSL column", e))?;
    Ok(Decoded { batch, rows, errors })
}

/// Encodes the single column of `batch` as text bytes; NULL cells as `null`
/// (the sink writes tombstones for deletes itself).
fn encode_text(batch: &RecordBatch, format: &str) -> Result<Vec<Vec<u8>>> {
    if batch.num_columns() != 1 {
        return Err(EngineError::plan(
            format!("{format} format"),
            format!("{format} encodes one column, got {}", batch.num_columns()),
        ));
    }
    let col = TextColumn::new(Some(batch.column(0)));
    if matches!(col, TextColumn::Missing) {
        return Err(EngineError::plan(
            format!("{format} format"),
            format!("column of type {} has no JSON reading", batch.column(0).data_type()),
        ));
    }
    Ok((0..batch.num_rows()).map(|i| col.get(i).map_or_else(|| b"null".to_vec(), |t| t.as_bytes().to_vec())).collect())
}

/// Values as JSON documents, checked against `T`.
///
/// Decoding keeps each payload's text as it is (the whole payload becomes
/// the `value` column) once it deserializes as `T`; a payload that is not
/// UTF-8, not JSON, or JSON of the wrong shape is reported with serde's
/// reason, and the source skips it. Encoding writes the column's JSON text
/// (a BIGINT column as its number).
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use arrow::datatypes::{DataType, Field, Schema};
/// use riffle_engine::dsl::SerdeJson;
/// use riffle_engine::format::Format;
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct View { page: String }
///
/// let schema = Arc::new(Schema::new(vec![Field::new("value", DataType::Utf8, true)]));
/// let d = SerdeJson::<View>::new().decode(&schema, &[br#"{"page":"a"}"#, br#"{"page":5}"#, b"{oops"])?;
/// assert_eq!(d.rows, vec![0]);
/// assert!(d.errors[0].1.contains("expected a string"));
/// # Ok::<(), riffle_engine::EngineError>(())
/// ```
pub struct SerdeJson<T> {
    _t: PhantomData<fn() -> T>,
}

impl<T> SerdeJson<T> {
    /// The format for values of type `T`.
    pub fn new() -> Self {
        SerdeJson { _t: PhantomData }
    }
}

impl<T> Default for SerdeJson<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for SerdeJson<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SerdeJson<{}>", std::any::type_name::<T>())
    }
}

impl<T: DeserializeOwned> Format for SerdeJson<T> {
    fn name(&self) -> &str {
        "SERDE_JSON"
    }

    fn decode(&self, schema: &SchemaRef, payloads: &[&[u8]]) -> Result<Decoded> {
        one_utf8_column(schema, "SERDE_JSON")?;
        decode_text(schema, payloads, |text| {
            serde_json::from_str::<T>(text)
                .map(|_| None)
                .map_err(|e| format!("not a JSON {}: {e}", std::any::type_name::<T>()))
        })
    }

    fn encode(&self, batch: &RecordBatch) -> Result<Vec<Vec<u8>>> {
        encode_text(batch, "SERDE_JSON")
    }
}

/// Keys of type `T`: plain UTF-8 for types that deserialize from a string
/// (`String`, `char`, newtypes of those, …), JSON text for every other
/// type. See the [module docs](super) for the rule.
///
/// Decoding checks the key against `T` and stores JSON keys in their
/// canonical form (as `serde_json` writes `T`), so keys that differ only in
/// spacing or field order group and join together. Encoding writes the
/// column text as it is.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use arrow::datatypes::{DataType, Field, Schema};
/// use riffle_engine::dsl::SerdeKey;
/// use riffle_engine::format::Format;
///
/// let schema = Arc::new(Schema::new(vec![Field::new("key", DataType::Utf8, true)]));
/// let d = SerdeKey::<i64>::new().decode(&schema, &[b"42", b" 7 ", b"x"])?;
/// assert_eq!(d.rows, vec![0, 1]);
/// assert_eq!(SerdeKey::<i64>::new().encode(&d.batch)?, vec![b"42".to_vec(), b"7".to_vec()]);
/// # Ok::<(), riffle_engine::EngineError>(())
/// ```
pub struct SerdeKey<T> {
    layout: KeyLayout,
    _t: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> SerdeKey<T> {
    /// The format for keys of type `T`.
    pub fn new() -> Self {
        Self::with_layout(KeyLayout::of::<T>())
    }

    /// The format writing keys laid out as `layout` (sinks of windowed
    /// tables write the inner key's layout).
    pub(crate) fn with_layout(layout: KeyLayout) -> Self {
        SerdeKey { layout, _t: PhantomData }
    }
}

impl<T: DeserializeOwned> Default for SerdeKey<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for SerdeKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SerdeKey<{}>", std::any::type_name::<T>())
    }
}

impl<T: DeserializeOwned + serde::Serialize> Format for SerdeKey<T> {
    fn name(&self) -> &str {
        if self.layout.plain {
            "SERDE_KEY(STRING)"
        } else {
            "SERDE_KEY(JSON)"
        }
    }

    fn decode(&self, schema: &SchemaRef, payloads: &[&[u8]]) -> Result<Decoded> {
        one_utf8_column(schema, "SERDE_KEY")?;
        let layout = self.layout;
        decode_text(schema, payloads, |text| {
            let key: T = super::codec::decode_key(layout, text, None)?;
            if layout.plain {
                Ok(None)
            } else {
                encode_key(layout, &key).map(Some)
            }
        })
    }

    fn encode(&self, batch: &RecordBatch) -> Result<Vec<Vec<u8>>> {
        encode_text(batch, "SERDE_KEY")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};
    use serde::Deserialize;

    use super::*;

    fn schema(name: &str) -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new(name, DataType::Utf8, true)]))
    }

    #[derive(Debug, Deserialize, serde::Serialize)]
    struct Point {
        x: i64,
        y: i64,
    }

    #[test]
    fn values_are_checked_against_the_type_and_kept_verbatim() {
        let d = SerdeJson::<Point>::new()
            .decode(&schema("value"), &[br#"{"y":2, "x":1}"#, br#"{"x":"1","y":2}"#, &[0xff], b""])
            .unwrap();
        assert_eq!(d.rows, vec![0]);
        assert_eq!(d.batch.column(0).as_any().downcast_ref::<StringArray>().unwrap().value(0), r#"{"y":2, "x":1}"#);
        assert_eq!(d.errors.iter().map(|e| e.0).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!(d.errors[1].1.contains("UTF-8"));
    }

    #[test]
    fn json_keys_are_canonical_and_string_keys_plain() {
        let d = SerdeKey::<Point>::new().decode(&schema("key"), &[br#"{ "y":2,"x":1 }"#]).unwrap();
        assert_eq!(SerdeKey::<Point>::new().encode(&d.batch).unwrap(), vec![br#"{"x":1,"y":2}"#.to_vec()]);
        let d = SerdeKey::<String>::new().decode(&schema("key"), &[b"\"quoted\"", b"42"]).unwrap();
        assert_eq!(SerdeKey::<String>::new().encode(&d.batch).unwrap(), vec![b"\"quoted\"".to_vec(), b"42".to_vec()]);
    }

    #[test]
    fn bigint_columns_encode_as_numbers_and_wrong_schemas_are_plan_errors() {
        let b = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("value", DataType::Int64, true)])),
            vec![Arc::new(Int64Array::from(vec![Some(3), None]))],
        )
        .unwrap();
        assert_eq!(SerdeJson::<i64>::new().encode(&b).unwrap(), vec![b"3".to_vec(), b"null".to_vec()]);
        let two = Arc::new(Schema::new(vec![Field::new("a", DataType::Utf8, true), Field::new("b", DataType::Utf8, true)]));
        assert!(SerdeJson::<i64>::new().decode(&two, &[]).is_err());
    }
}
