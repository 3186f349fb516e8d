//! ksqlDB's `JSON` format: parsing, coercion into SQL values and writing.
//!
//! Payloads are parsed by a small strict JSON parser of this module
//! ([`parse`]) that keeps object fields in order and numbers as their text
//! (so `1.10` keeps its scale and big integers stay exact). [`to_value`]
//! then coerces a parsed node into a column's type the way ksqlDB's
//! `KsqlJsonDeserializer` does:
//!
//! | column    | accepts                                                        |
//! |-----------|----------------------------------------------------------------|
//! | BOOLEAN   | `true` / `false`                                               |
//! | INT       | numbers (truncated, wrapped like Java's `intValue`), numeric strings |
//! | BIGINT    | numbers, numeric strings                                       |
//! | DOUBLE    | numbers, strings Java's `Double.parseDouble` reads             |
//! | DECIMAL   | numbers and numeric strings that fit without rounding          |
//! | STRING    | strings; numbers and booleans as text; objects as JSON text; arrays as `[a, b]` |
//! | BYTES     | base64 strings                                                 |
//! | DATE/TIME | numbers or numeric strings (days / milliseconds of the day)    |
//! | TIMESTAMP | numbers or numeric strings (epoch milliseconds)                |
//! | ARRAY     | arrays, elements coerced                                       |
//! | MAP       | objects, values coerced                                        |
//! | STRUCT    | objects, fields matched by name, else by upper-cased name; missing fields NULL |
//!
//! A node that does not convert gives ksqlDB's message, e.g. `Can't convert
//! type. sourceType: TextNode, requiredType: BOOLEAN, path: $.FLAG`.
//!
//! [`write_value`] writes a value as ksqlDB's serializer does: doubles as
//! Java prints them, decimals as plain numbers with their scale, BYTES as
//! base64, DATE/TIME/TIMESTAMP as integers, non-finite doubles as the strings
//! `"NaN"`, `"Infinity"`, `"-Infinity"`.

use std::borrow::Cow;

use base64::Engine;

use super::java;
use crate::types::SqlType;
use crate::value::Value;

/// Nesting deeper than this is rejected rather than risking the stack.
const MAX_DEPTH: usize = 256;

/// A parsed JSON node borrowing from the payload where it can.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number, as written.
    Number(&'a str),
    /// A string, unescaped.
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Json<'a>>),
    /// An object, fields in order (duplicates kept; the last one wins on lookup).
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl Json<'_> {
    /// The Jackson node class ksqlDB names in conversion errors.
    pub fn node_type(&self) -> &'static str {
        match self {
            Json::Null => "NullNode",
            Json::Bool(_) => "BooleanNode",
            Json::Number(t) if is_integer_text(t) => match t.parse::<i64>() {
                Ok(v) if i32::try_from(v).is_ok() => "IntNode",
                Ok(_) => "LongNode",
                Err(_) => "BigIntegerNode",
            },
            Json::Number(_) => "DecimalNode",
            Json::String(_) => "TextNode",
            Json::Array(_) => "ArrayNode",
            Json::Object(_) => "ObjectNode",
        }
    }
}

fn is_integer_text(t: &str) -> bool {
    !t.bytes().any(|b| matches!(b, b'.' | b'e' | b'E'))
}

/// Parses one JSON document (surrounding whitespace allowed).
///
/// # Errors
/// A description with the byte offset of the first problem.
pub fn parse(bytes: &[u8]) -> Result<Json<'_>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))?;
    let mut p = Parser { s: text, b: bytes, i: 0 };
    p.ws();
    if p.i >= p.b.len() {
        return Err("no JSON content (empty payload)".into());
    }
    let v = p.value(0)?;
    p.ws();
    if p.i != p.b.len() {
        return Err(format!("unexpected content after the JSON value at byte {}", p.i));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        match self.b.get(self.i) {
            Some(&c) if c.is_ascii_graphic() => Err(format!("{what} at byte {}, found '{}'", self.i, c as char)),
            Some(&c) => Err(format!("{what} at byte {}, found byte 0x{c:02x}", self.i)),
            None => Err(format!("{what} at byte {}, found the end of the payload", self.i)),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json<'a>, String> {
        if depth > MAX_DEPTH {
            return self.err("JSON nested too deeply");
        }
        match self.b.get(self.i) {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Json::String(self.string()?)),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => self.err("expected a JSON value"),
        }
    }

    fn literal(&mut self, word: &str, v: Json<'a>) -> Result<Json<'a>, String> {
        if self.b[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            self.err("expected a JSON value")
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.i < self.b.len() && self.b[self.i].is_ascii_digit() {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<Json<'a>, String> {
        let start = self.i;
        if self.b[self.i] == b'-' {
            self.i += 1;
        }
        let int_start = self.i;
        let n = self.digits();
        if n == 0 {
            return self.err("expected a digit");
        }
        if n > 1 && self.b[int_start] == b'0' {
            self.i = int_start + 1;
            return self.err("leading zeros are not allowed in a JSON number");
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return self.err("expected a digit after the decimal point");
            }
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return self.err("expected a digit in the exponent");
            }
        }
        Ok(Json::Number(&self.s[start..self.i]))
    }

    fn string(&mut self) -> Result<Cow<'a, str>, String> {
        self.i += 1; // opening quote
        let start = self.i;
        // Fast scan: no escapes → borrow.
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'"' => {
                    let s = &self.s[start..self.i];
                    self.i += 1;
                    return Ok(Cow::Borrowed(s));
                }
                b'\\' => break,
                c if c < 0x20 => return self.err("control character in a JSON string"),
                _ => self.i += 1,
            }
        }
        let mut out = String::from(&self.s[start..self.i]);
        loop {
            let Some(&c) = self.b.get(self.i) else {
                return self.err("unterminated JSON string");
            };
            match c {
                b'"' => {
                    self.i += 1;
                    return Ok(Cow::Owned(out));
                }
                b'\\' => {
                    self.i += 1;
                    let Some(&e) = self.b.get(self.i) else {
                        return self.err("unterminated JSON string");
                    };
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let ch = if (0xD800..0xDC00).contains(&hi) {
                                if self.b.get(self.i) == Some(&b'\\') && self.b.get(self.i + 1) == Some(&b'u') {
                                    self.i += 2;
                                    let lo = self.hex4()?;
                                    if !(0xDC00..0xE000).contains(&lo) {
                                        return self.err("invalid low surrogate in a JSON string");
                                    }
                                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                                } else {
                                    None
                                }
                            } else {
                                char::from_u32(hi)
                            };
                            // Lone surrogates (which Java tolerates) become U+FFFD.
                            out.push(ch.unwrap_or('\u{FFFD}'));
                        }
                        _ => {
                            self.i -= 1;
                            return self.err("invalid escape in a JSON string");
                        }
                    }
                }
                c if c < 0x20 => return self.err("control character in a JSON string"),
                _ => {
                    // Copy a run of plain characters at once.
                    let run = self.i;
                    while self.i < self.b.len() && !matches!(self.b[self.i], b'"' | b'\\') && self.b[self.i] >= 0x20 {
                        self.i += 1;
                    }
                    out.push_str(&self.s[run..self.i]);
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let Some(h) = self.s.get(self.i..self.i + 4) else {
            return self.err("expected four hex digits");
        };
        match u32::from_str_radix(h, 16) {
            Ok(v) if h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                self.i += 4;
                Ok(v)
            }
            _ => self.err("expected four hex digits"),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json<'a>, String> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.b.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Json::Array(items));
                }
                _ => return self.err("expected ',' or ']' in a JSON array"),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json<'a>, String> {
        self.i += 1;
        let mut fields = Vec::new();
        self.ws();
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(Json::Object(fields));
        }
        loop {
            self.ws();
            if self.b.get(self.i) != Some(&b'"') {
                return self.err("expected a field name in a JSON object");
            }
            let name = self.string()?;
            self.ws();
            if self.b.get(self.i) != Some(&b':') {
                return self.err("expected ':' in a JSON object");
            }
            self.i += 1;
            self.ws();
            let v = self.value(depth + 1)?;
            fields.push((name, v));
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Json::Object(fields));
                }
                _ => return self.err("expected ',' or '}' in a JSON object"),
            }
        }
    }
}

/// A coercion failure: ksqlDB's message and the path to the node.
#[derive(Debug, Clone, PartialEq)]
pub struct CoercionError {
    /// What did not convert.
    pub message: String,
    /// Where: `$`, `$.FIELD`, `$.A[2]`, `$.M.key.value`.
    pub path: String,
}

impl std::fmt::Display for CoercionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}, path: {}", self.message, self.path)
    }
}

type Coerced<T> = Result<T, CoercionError>;

fn fail<T>(message: String) -> Coerced<T> {
    Err(CoercionError { message, path: String::new() })
}

fn at<T>(r: Coerced<T>, part: &str) -> Coerced<T> {
    r.map_err(|mut e| {
        e.path.insert_str(0, part);
        e
    })
}

/// ksqlDB's name of `ty` in conversion errors (`SqlBaseType` for scalars).
fn required_name(ty: &SqlType) -> String {
    match ty {
        SqlType::Int => "INTEGER".into(),
        SqlType::Decimal { .. } => "DECIMAL".into(),
        other => other.to_string(),
    }
}

fn invalid(node: &Json<'_>, ty: &SqlType) -> String {
    format!("Can't convert type. sourceType: {}, requiredType: {}", node.node_type(), required_name(ty))
}

fn failed_string(ty: &SqlType) -> String {
    format!("Can't coerce string to type. targetType: {}", required_name(ty))
}

/// The 64-bit two's-complement value of an integer-valued number text (Java's
/// `longValue()` of a `BigInteger`/`BigDecimal`: fraction dropped, high bits
/// dropped), or a saturated conversion for values beyond i128.
fn number_to_i64(text: &str) -> i64 {
    if is_integer_text(text) {
        if let Ok(v) = text.parse::<i64>() {
            return v;
        }
        if let Ok(v) = text.parse::<i128>() {
            return v as i64;
        }
    } else if let Some((u, s)) = java::parse_decimal(text) {
        let truncated = if s > 0 {
            10i128.checked_pow(s as u32).map_or(0, |d| u / d)
        } else {
            match 10i128.checked_pow(s.unsigned_abs()).and_then(|m| u.checked_mul(m)) {
                Some(v) => v,
                None => return saturate(text),
            }
        };
        return truncated as i64;
    }
    saturate(text)
}

fn saturate(text: &str) -> i64 {
    // Only reached for numbers beyond 38 digits; Java wraps them too, but the
    // exact bits are not worth a big-integer implementation.
    text.parse::<f64>().map_or(0, |f| f as i64)
}

/// Coerces `node` into a value of `ty` as ksqlDB's JSON deserializer does.
///
/// # Errors
/// A node that does not convert, with its path below the node.
pub fn to_value(node: &Json<'_>, ty: &SqlType) -> Coerced<Value> {
    match (node, ty) {
        (Json::Null, _) => Ok(Value::Null),
        (Json::Bool(b), SqlType::Boolean) => Ok(Value::Boolean(*b)),
        (Json::Number(t), SqlType::Int) => Ok(Value::Int(number_to_i64(t) as i32)),
        (Json::String(s), SqlType::Int) => java::parse_int(s).map(Value::Int).ok_or(()).or_else(|()| fail(failed_string(ty))),
        (Json::Number(t), SqlType::Date) => Ok(Value::Date(number_to_i64(t) as i32)),
        (Json::String(s), SqlType::Date) => java::parse_int(s).map(Value::Date).ok_or(()).or_else(|()| fail(failed_string(ty))),
        (Json::Number(t), SqlType::Time) => Ok(Value::Time(number_to_i64(t) as i32)),
        (Json::String(s), SqlType::Time) => java::parse_int(s).map(Value::Time).ok_or(()).or_else(|()| fail(failed_string(ty))),
        (Json::Number(t), SqlType::Bigint) => Ok(Value::Bigint(number_to_i64(t))),
        (Json::String(s), SqlType::Bigint) => {
            java::parse_long(s).map(Value::Bigint).ok_or(()).or_else(|()| fail(failed_string(ty)))
        }
        (Json::Number(t), SqlType::Timestamp) => Ok(Value::Timestamp(number_to_i64(t))),
        (Json::String(s), SqlType::Timestamp) => {
            java::parse_long(s).map(Value::Timestamp).ok_or(()).or_else(|()| fail(failed_string(ty)))
        }
        (Json::Number(t), SqlType::Double) => match t.parse::<f64>() {
            Ok(v) => Ok(Value::Double(v)),
            Err(_) => fail(invalid(node, ty)),
        },
        (Json::String(s), SqlType::Double) => {
            java::parse_double(s).map(Value::Double).ok_or(()).or_else(|()| fail(failed_string(ty)))
        }
        (Json::Number(t), SqlType::Decimal { precision, scale }) => to_decimal(t, *precision, *scale),
        (Json::String(s), SqlType::Decimal { precision, scale }) => to_decimal(s, *precision, *scale),
        (Json::String(s), SqlType::String) => Ok(Value::String(s.to_string())),
        (Json::Number(t), SqlType::String) => Ok(Value::String((*t).to_string())),
        (Json::Bool(b), SqlType::String) => Ok(Value::String(b.to_string())),
        (Json::Object(_), SqlType::String) => {
            let mut out = Vec::new();
            write_json(&mut out, node);
            Ok(Value::String(String::from_utf8_lossy(&out).into_owned()))
        }
        (Json::Array(items), SqlType::String) => {
            let mut parts = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let v = at(to_value(item, &SqlType::String), &format!("[{i}]"))?;
                parts.push(match v {
                    Value::String(s) => s,
                    _ => "null".to_string(),
                });
            }
            Ok(Value::String(format!("[{}]", parts.join(", "))))
        }
        (Json::String(s), SqlType::Bytes) => match decode_base64(s) {
            Some(b) => Ok(Value::Bytes(b)),
            None => fail(format!("Can't convert type. sourceType: TextNode, requiredType: BYTES (invalid base64: {s:?})")),
        },
        (Json::Array(items), SqlType::Array(elem)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(at(to_value(item, elem), &format!("[{i}]"))?);
            }
            Ok(Value::Array(out))
        }
        (Json::Object(fields), SqlType::Map(kt, vt)) => {
            let mut out: Vec<(Value, Value)> = Vec::with_capacity(fields.len());
            for (name, v) in fields {
                let key = at(to_value(&Json::String(Cow::Borrowed(name)), kt), &format!(".{name}.key"))?;
                let value = at(to_value(v, vt), &format!(".{name}.value"))?;
                // A repeated key keeps its first position and the last value.
                match out.iter_mut().find(|(k, _)| *k == key) {
                    Some(slot) => slot.1 = value,
                    None => out.push((key, value)),
                }
            }
            Ok(Value::Map(out))
        }
        (Json::Object(fields), SqlType::Struct(types)) => {
            let mut out = Vec::with_capacity(types.len());
            for (name, t) in types {
                let v = match find_field(fields, name) {
                    Some(node) => at(to_value(node, t), &format!(".{name}"))?,
                    None => Value::Null,
                };
                out.push((name.clone(), v));
            }
            Ok(Value::Struct(out))
        }
        _ => fail(invalid(node, ty)),
    }
}

fn to_decimal(text: &str, precision: u8, scale: i8) -> Coerced<Value> {
    let Some((u, s)) = java::parse_decimal(text) else {
        return fail(format!("Can't coerce string to type. targetType: DECIMAL (not a number: {text:?})"));
    };
    match java::ensure_fit(u, s, precision, scale) {
        Ok(v) => Ok(Value::Decimal(v, scale)),
        Err(e) => fail(e),
    }
}

/// The field `name` of a JSON object as ksqlDB finds it: the exact name, else
/// the field whose upper-cased name equals `name` (the last one on repeats).
pub fn find_field<'j, 'a>(fields: &'j [(Cow<'a, str>, Json<'a>)], name: &str) -> Option<&'j Json<'a>> {
    if let Some((_, v)) = fields.iter().rev().find(|(k, _)| k == name) {
        return Some(v);
    }
    fields.iter().rev().find(|(k, _)| upper_eq(k, name)).map(|(_, v)| v)
}

/// Whether `key` upper-cased equals `name`.
fn upper_eq(key: &str, name: &str) -> bool {
    if key.is_ascii() {
        key.len() == name.len() && key.bytes().zip(name.bytes()).all(|(a, b)| a.to_ascii_uppercase() == b)
    } else {
        key.to_uppercase() == name
    }
}

fn base64_engine() -> base64::engine::GeneralPurpose {
    base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    )
}

/// Base64 (standard alphabet, padding optional) as Java's basic decoder reads it.
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
    base64_engine().decode(s.as_bytes()).ok()
}

/// Base64 with padding, as Java's basic encoder writes it.
pub fn encode_base64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Writes a parsed node back as compact JSON (numbers as written).
pub fn write_json(out: &mut Vec<u8>, node: &Json<'_>) {
    match node {
        Json::Null => out.extend_from_slice(b"null"),
        Json::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Json::Number(t) => out.extend_from_slice(t.as_bytes()),
        Json::String(s) => write_str(out, s),
        Json::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(out, item);
            }
            out.push(b']');
        }
        Json::Object(fields) => {
            out.push(b'{');
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, k);
                out.push(b':');
                write_json(out, v);
            }
            out.push(b'}');
        }
    }
}

/// Writes `s` as a JSON string, escaping as Jackson does (quote, backslash,
/// control characters; everything else as UTF-8).
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[run..i]);
        if esc.is_empty() {
            out.extend_from_slice(format!("\\u{b:04X}").as_bytes());
        } else {
            out.extend_from_slice(esc);
        }
        run = i + 1;
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

/// Writes a double as ksqlDB's JSON serializer does.
pub fn write_double(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        java::write_double(out, v);
    } else {
        out.push(b'"');
        java::write_double(out, v);
        out.push(b'"');
    }
}

/// Writes `v` as ksqlDB's JSON serializer does.
pub fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(i) | Value::Date(i) | Value::Time(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Bigint(i) | Value::Timestamp(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Double(d) => write_double(out, *d),
        Value::Decimal(u, s) => out.extend_from_slice(java::decimal_plain(*u, i32::from(*s)).as_bytes()),
        Value::String(s) => write_str(out, s),
        Value::Bytes(b) => write_str(out, &encode_base64(b)),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Map(entries) => {
            out.push(b'{');
            for (i, (k, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, &key_text(k));
                out.push(b':');
                write_value(out, item);
            }
            out.push(b'}');
        }
        Value::Struct(fields) => {
            out.push(b'{');
            for (i, (name, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, name);
                out.push(b':');
                write_value(out, item);
            }
            out.push(b'}');
        }
    }
}

/// A map key as the text of a JSON field name.
fn key_text(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        other => {
            let mut out = Vec::new();
            write_value(&mut out, other);
            String::from_utf8_lossy(&out).trim_matches('"').to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(text: &str, ty: &SqlType) -> Coerced<Value> {
        let node = parse(text.as_bytes()).map_err(|m| CoercionError { message: m, path: String::new() })?;
        at(to_value(&node, ty), "$")
    }

    #[test]
    fn parses_strict_json() {
        assert_eq!(parse(b" 1.10 ").unwrap(), Json::Number("1.10"));
        assert_eq!(parse(br#""a\nb\u00e9\ud83d\ude00""#).unwrap(), Json::String("a\nb\u{e9}\u{1F600}".to_string().into()));
        assert!(parse(b"").is_err());
        assert!(parse(b"{} {}").is_err());
        assert!(parse(b"01").is_err());
        assert!(parse(b"[1,]").is_err());
        assert!(parse(b"{\"a\" 1}").is_err());
        assert!(parse(b"nul").is_err());
        assert!(parse(&[b'['; 10_000]).is_err());
        assert!(parse(b"\"\xff\"").is_err());
    }

    #[test]
    fn coerces_like_ksqldb() {
        assert_eq!(conv("\"12\"", &SqlType::Int), Ok(Value::Int(12)));
        assert_eq!(conv("1.9", &SqlType::Int), Ok(Value::Int(1)));
        assert_eq!(conv("4294967297", &SqlType::Int), Ok(Value::Int(1)));
        assert_eq!(conv("\"1e3\"", &SqlType::Double), Ok(Value::Double(1000.0)));
        assert_eq!(conv("10", &SqlType::String), Ok(Value::String("10".into())));
        assert_eq!(conv("1.50", &SqlType::String), Ok(Value::String("1.50".into())));
        assert_eq!(conv("true", &SqlType::String), Ok(Value::String("true".into())));
        assert_eq!(conv(r#"{"b":1,"a":[2]}"#, &SqlType::String), Ok(Value::String(r#"{"b":1,"a":[2]}"#.into())));
        assert_eq!(conv(r#"[1,"x",null]"#, &SqlType::String), Ok(Value::String("[1, x, null]".into())));
        assert_eq!(
            conv("[1,2]", &SqlType::Array(Box::new(SqlType::String))),
            Ok(Value::Array(vec![Value::String("1".into()), Value::String("2".into())]))
        );
        assert_eq!(conv("10", &SqlType::Decimal { precision: 6, scale: 4 }), Ok(Value::Decimal(100_000, 4)));
        assert_eq!(conv("\"1.5\"", &SqlType::Decimal { precision: 3, scale: 1 }), Ok(Value::Decimal(15, 1)));
        assert_eq!(conv("\"ew==\"", &SqlType::Bytes), Ok(Value::Bytes(vec![b'{'])));
        assert_eq!(conv("\"ew\"", &SqlType::Bytes), Ok(Value::Bytes(vec![b'{'])));
        let e = conv("\"x\"", &SqlType::Boolean).unwrap_err();
        assert_eq!(e.to_string(), "Can't convert type. sourceType: TextNode, requiredType: BOOLEAN, path: $");
        let e = conv("\"x\"", &SqlType::Int).unwrap_err();
        assert_eq!(e.to_string(), "Can't coerce string to type. targetType: INTEGER, path: $");
        let e = conv("123.45", &SqlType::Decimal { precision: 4, scale: 2 }).unwrap_err();
        assert!(e.message.starts_with("Numeric field overflow"), "{e}");
        let t = SqlType::Struct(vec![("A".into(), SqlType::Array(Box::new(SqlType::Int))), ("b".into(), SqlType::Int)]);
        let e = conv(r#"{"a":[1,"x"]}"#, &t).unwrap_err();
        assert_eq!(e.path, "$.A[1]");
        assert_eq!(
            conv(r#"{"a":[1],"B":2,"b":3}"#, &t),
            Ok(Value::Struct(vec![("A".into(), Value::Array(vec![Value::Int(1)])), ("b".into(), Value::Int(3))]))
        );
        let m = SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Int));
        assert_eq!(
            conv(r#"{"x":1,"y":null}"#, &m),
            Ok(Value::Map(vec![(Value::String("x".into()), Value::Int(1)), (Value::String("y".into()), Value::Null)]))
        );
    }

    #[test]
    fn writes_like_ksqldb() {
        let mut out = Vec::new();
        write_value(
            &mut out,
            &Value::Struct(vec![
                ("D".into(), Value::Double(1.0e7)),
                ("M".into(), Value::Decimal(110, 2)),
                ("B".into(), Value::Bytes(vec![b'{'])),
                ("S".into(), Value::String("q\"\u{1}".into())),
                ("N".into(), Value::Double(f64::NAN)),
                ("A".into(), Value::Array(vec![Value::Null, Value::Int(2)])),
                ("P".into(), Value::Map(vec![(Value::String("k".into()), Value::Bigint(3))])),
            ]),
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"D":1.0E7,"M":1.10,"B":"ew==","S":"q\"\u0001","N":"NaN","A":[null,2],"P":{"k":3}}"#
        );
    }
}
