//! How typed keys and values live in the DSL's columns.
//!
//! A DSL node has a `key` column (Utf8; absent for unit keys), the window
//! bounds when windowed, and a `value` column. The rules:
//!
//! - **Values**: the `value` column holds the value's JSON text. Built-in
//!   aggregates (`count`) write a BIGINT column instead; it reads as the
//!   JSON number it holds.
//! - **Keys**: a key type whose `Deserialize` reads a string (`String`,
//!   `Box<str>`, `char`, newtypes of those, UUIDs, …) is held as the plain
//!   string; every other key type as its compact JSON text. The column text
//!   is exactly what goes on the wire, so string keys are partitioned the way
//!   Kafka's `StringSerializer` partitions them, internal repartition topics
//!   included.
//! - **Unit keys** (`()`): no key column at all; sinks write null keys.
//! - **Windowed keys**: the `key` column holds the inner key and the window
//!   bounds sit in `WINDOWSTART`/`WINDOWEND`; a typed `Windowed<K>` is
//!   built from the three.
//!
//! Which rule applies to a key type is decided once, when the plan is
//! built, by watching which `deserialize_*` method its `Deserialize` impl
//! calls first (see [`KeyLayout::of`]).

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int32Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type};
use serde::de::{DeserializeOwned, Visitor};
use serde::Serialize;
use serde_json::Value;

/// Name of the key column of DSL nodes.
pub(crate) const KEY: &str = "key";
/// Name of the value column of DSL nodes.
pub(crate) const VALUE: &str = "value";
/// Name of the right side's value column after a join.
pub(crate) const RIGHT_VALUE: &str = "right_value";

/// How the keys of a DSL node are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyLayout {
    /// Keys are plain strings (the type reads a string), not JSON text.
    pub(crate) plain: bool,
    /// The node has no key column: the key type is `()`.
    pub(crate) unit: bool,
    /// The typed key is `Windowed<inner>`, built from the key column (laid
    /// out by `plain`) and the window columns.
    pub(crate) windowed: bool,
}

/// What a type's `Deserialize` asks for first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Str,
    Unit,
    Other,
}

impl KeyLayout {
    /// The layout of key type `K` (never windowed).
    pub(crate) fn of<K: DeserializeOwned>() -> KeyLayout {
        let seen = Cell::new(Shape::Other);
        // The probe always fails; only the recorded shape matters.
        let _ = K::deserialize(Probe(&seen));
        KeyLayout { plain: seen.get() == Shape::Str, unit: seen.get() == Shape::Unit, windowed: false }
    }

    /// The layout of `Windowed<K>` keys whose inner key has this layout.
    pub(crate) fn windowed(self) -> KeyLayout {
        KeyLayout { windowed: true, unit: false, ..self }
    }
}

/// A deserializer that records which method a type calls, then fails.
#[derive(Clone, Copy)]
struct Probe<'a>(&'a Cell<Shape>);

#[derive(Debug)]
struct ProbeDone;

impl fmt::Display for ProbeDone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("probe")
    }
}

impl std::error::Error for ProbeDone {}

impl serde::de::Error for ProbeDone {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        ProbeDone
    }
}

macro_rules! probe_methods {
    ($($method:ident => $shape:expr),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, ProbeDone> {
                self.0.set($shape);
                Err(ProbeDone)
            }
        )*
    };
}

impl<'de> serde::Deserializer<'de> for Probe<'_> {
    type Error = ProbeDone;

    probe_methods! {
        deserialize_any => Shape::Other,
        deserialize_bool => Shape::Other,
        deserialize_i8 => Shape::Other,
        deserialize_i16 => Shape::Other,
        deserialize_i32 => Shape::Other,
        deserialize_i64 => Shape::Other,
        deserialize_i128 => Shape::Other,
        deserialize_u8 => Shape::Other,
        deserialize_u16 => Shape::Other,
        deserialize_u32 => Shape::Other,
        deserialize_u64 => Shape::Other,
        deserialize_u128 => Shape::Other,
        deserialize_f32 => Shape::Other,
        deserialize_f64 => Shape::Other,
        deserialize_char => Shape::Str,
        deserialize_str => Shape::Str,
        deserialize_string => Shape::Str,
        deserialize_bytes => Shape::Other,
        deserialize_byte_buf => Shape::Other,
        deserialize_option => Shape::Other,
        deserialize_unit => Shape::Unit,
        deserialize_seq => Shape::Other,
        deserialize_map => Shape::Other,
        deserialize_identifier => Shape::Other,
        deserialize_ignored_any => Shape::Other,
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, _v: V) -> Result<V::Value, ProbeDone> {
        self.0.set(Shape::Unit);
        Err(ProbeDone)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, v: V) -> Result<V::Value, ProbeDone> {
        // JSON writes a newtype as its inner value: look through it.
        v.visit_newtype_struct(self)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, _v: V) -> Result<V::Value, ProbeDone> {
        self.0.set(Shape::Other);
        Err(ProbeDone)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        _v: V,
    ) -> Result<V::Value, ProbeDone> {
        self.0.set(Shape::Other);
        Err(ProbeDone)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        _v: V,
    ) -> Result<V::Value, ProbeDone> {
        self.0.set(Shape::Other);
        Err(ProbeDone)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        _v: V,
    ) -> Result<V::Value, ProbeDone> {
        self.0.set(Shape::Other);
        Err(ProbeDone)
    }
}

/// The key column text of `key`.
///
/// # Errors
/// The key does not serialize to JSON (for example a map with non-string
/// keys); the message says why.
pub(crate) fn encode_key<K: Serialize>(layout: KeyLayout, key: &K) -> Result<String, String> {
    if layout.plain {
        match serde_json::to_value(key) {
            Ok(Value::String(s)) => Ok(s),
            Ok(other) => Ok(other.to_string()),
            Err(e) => Err(format!("the key cannot be written as JSON: {e}")),
        }
    } else {
        serde_json::to_string(key).map_err(|e| format!("the key cannot be written as JSON: {e}"))
    }
}

/// The JSON value of a key column text laid out by `layout` (ignoring
/// `windowed`).
fn key_json(layout: KeyLayout, text: &str) -> Result<Value, String> {
    if layout.plain {
        Ok(Value::String(text.to_owned()))
    } else {
        serde_json::from_str(text).map_err(|e| format!("key {text:?} is not JSON: {e}"))
    }
}

/// A typed key from its column text (and window, for windowed layouts).
///
/// # Errors
/// Text that does not decode as `K`; the message says why.
pub(crate) fn decode_key<K: DeserializeOwned>(
    layout: KeyLayout,
    text: &str,
    window: Option<(i64, i64)>,
) -> Result<K, String> {
    let bad = |e: serde_json::Error| format!("key {text:?} does not decode as {}: {e}", std::any::type_name::<K>());
    if layout.windowed {
        let (start, end) = window.ok_or_else(|| "a windowed key without window bounds".to_string())?;
        let inner = key_json(layout, text)?;
        let v = serde_json::json!({ "key": inner, "start": start, "end": end });
        return serde_json::from_value(v).map_err(bad);
    }
    if layout.plain {
        serde_json::from_value(Value::String(text.to_owned())).map_err(bad)
    } else {
        serde_json::from_str(text).map_err(bad)
    }
}

/// A typed value from its JSON text.
///
/// # Errors
/// Text that does not decode as `V`; the message says why.
pub(crate) fn decode_value<V: DeserializeOwned>(text: &str) -> Result<V, String> {
    serde_json::from_str(text)
        .map_err(|e| format!("value does not decode as {}: {e}", std::any::type_name::<V>()))
}

/// The JSON text of a value.
///
/// # Errors
/// The value does not serialize to JSON.
pub(crate) fn encode_value<V: Serialize>(value: &V) -> Result<String, String> {
    serde_json::to_string(value).map_err(|e| format!("the value cannot be written as JSON: {e}"))
}

/// A column read as JSON text, downcast once per batch.
pub(crate) enum TextColumn<'a> {
    /// No such column: every row reads as missing.
    Missing,
    /// JSON text (or plain key text).
    Utf8(&'a StringArray),
    /// BIGINT (built-in aggregates).
    I64(&'a Int64Array),
    /// INT.
    I32(&'a Int32Array),
    /// DOUBLE.
    F64(&'a Float64Array),
    /// BOOLEAN.
    Bool(&'a BooleanArray),
}

impl<'a> TextColumn<'a> {
    /// Wraps `col`; types without a JSON reading count as missing.
    pub(crate) fn new(col: Option<&'a ArrayRef>) -> Self {
        let Some(c) = col else { return TextColumn::Missing };
        match c.data_type() {
            DataType::Utf8 => TextColumn::Utf8(c.as_string::<i32>()),
            DataType::Int64 => TextColumn::I64(c.as_primitive::<Int64Type>()),
            DataType::Int32 => TextColumn::I32(c.as_primitive::<Int32Type>()),
            DataType::Float64 => TextColumn::F64(c.as_primitive::<Float64Type>()),
            DataType::Boolean => TextColumn::Bool(c.as_boolean()),
            _ => TextColumn::Missing,
        }
    }

    /// Row `i` as JSON text; `None` for NULL or a missing column.
    pub(crate) fn get(&self, i: usize) -> Option<Cow<'a, str>> {
        match self {
            TextColumn::Missing => None,
            TextColumn::Utf8(a) => a.is_valid(i).then(|| Cow::Borrowed(a.value(i))),
            TextColumn::I64(a) => a.is_valid(i).then(|| Cow::Owned(a.value(i).to_string())),
            TextColumn::I32(a) => a.is_valid(i).then(|| Cow::Owned(a.value(i).to_string())),
            TextColumn::F64(a) => a.is_valid(i).then(|| {
                Cow::Owned(serde_json::Number::from_f64(a.value(i)).map_or_else(|| "null".to_string(), |n| n.to_string()))
            }),
            TextColumn::Bool(a) => a.is_valid(i).then(|| Cow::Borrowed(if a.value(i) { "true" } else { "false" })),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct UserId(String);

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Composite {
        region: String,
        id: i64,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Win<K> {
        key: K,
        start: i64,
        end: i64,
    }

    #[test]
    fn string_like_keys_are_plain() {
        assert!(KeyLayout::of::<String>().plain);
        assert!(KeyLayout::of::<char>().plain);
        assert!(KeyLayout::of::<UserId>().plain);
        assert!(KeyLayout::of::<Box<str>>().plain);
        assert!(!KeyLayout::of::<i64>().plain);
        assert!(!KeyLayout::of::<Option<String>>().plain);
        assert!(!KeyLayout::of::<serde_json::Value>().plain);
        assert!(!KeyLayout::of::<Composite>().plain);
        assert!(KeyLayout::of::<()>().unit);
        assert!(!KeyLayout::of::<String>().unit);
    }

    #[test]
    fn keys_round_trip_through_their_column_text() {
        let s = KeyLayout::of::<String>();
        assert_eq!(encode_key(s, &"1\"x".to_string()).unwrap(), "1\"x");
        assert_eq!(decode_key::<String>(s, "123", None).unwrap(), "123");
        let n = KeyLayout::of::<i64>();
        assert_eq!(encode_key(n, &42i64).unwrap(), "42");
        assert_eq!(decode_key::<i64>(n, "42", None).unwrap(), 42);
        let c = KeyLayout::of::<Composite>();
        let k = Composite { region: "eu".into(), id: 7 };
        let text = encode_key(c, &k).unwrap();
        assert_eq!(decode_key::<Composite>(c, &text, None).unwrap(), k);
        let v = KeyLayout::of::<serde_json::Value>();
        assert_eq!(decode_key::<serde_json::Value>(v, "1", None).unwrap(), serde_json::json!(1));
        assert!(decode_key::<i64>(n, "x", None).unwrap_err().contains("does not decode"));
    }

    #[test]
    fn windowed_keys_take_their_bounds_from_the_window() {
        let w = KeyLayout::of::<String>().windowed();
        let k: Win<String> = decode_key(w, "a", Some((0, 100))).unwrap();
        assert_eq!(k, Win { key: "a".into(), start: 0, end: 100 });
        assert!(decode_key::<Win<String>>(w, "a", None).is_err());
    }

    #[test]
    fn bigint_columns_read_as_json_numbers() {
        let a: ArrayRef = std::sync::Arc::new(Int64Array::from(vec![Some(5), None]));
        let c = TextColumn::new(Some(&a));
        assert_eq!(c.get(0).as_deref(), Some("5"));
        assert_eq!(c.get(1), None);
    }
}
