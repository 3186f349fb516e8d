//! Records of the conformance files and their bytes on a topic.
//!
//! Inputs are turned into bytes with the topic's source serde (JSON is
//! written as given, numbers as written; DELIMITED strings as the raw line;
//! other formats through [`crate::serde::json_to_bytes`]). Outputs are read
//! back into [`Json`] the same way. Windowed keys carry the window after the
//! inner key, as Kafka Streams writes them: time windows append the 8-byte
//! big-endian start; session windows append the end and then the start.

use riffle_log::StoredRecord;

use super::json::{self, Json};
use crate::catalog::{SourceInfo, WindowType};
use crate::serde::{bytes_to_json, json_to_bytes, FormatKind, FormatSpec};
use crate::types::Column;

/// A window's kind as the files write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// `"time"`: tumbling or hopping.
    Time,
    /// `"session"`.
    Session,
}

/// A record's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    /// Window start (ms).
    pub start: i64,
    /// Window end (ms).
    pub end: i64,
    /// Time or session.
    pub kind: WindowKind,
}

impl std::fmt::Display for WindowSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            WindowKind::Time => "time",
            WindowKind::Session => "session",
        };
        write!(f, "{{start: {}, end: {}, type: {kind}}}", self.start, self.end)
    }
}

/// A record as the files write it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordSpec {
    /// Topic.
    pub topic: String,
    /// Key (`Null` when omitted).
    pub key: Json,
    /// Value (`Null` is a tombstone).
    pub value: Json,
    /// Timestamp, if given.
    pub timestamp: Option<i64>,
    /// Window of a windowed key, if given.
    pub window: Option<WindowSpec>,
    /// Headers `(key, value bytes)`, if given.
    pub headers: Option<Vec<(String, Option<Vec<u8>>)>>,
}

/// A record read back from a topic, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct ActualRecord {
    /// Key (inner key for windowed keys).
    pub key: Json,
    /// Value.
    pub value: Json,
    /// Timestamp.
    pub timestamp: i64,
    /// Window, for windowed keys.
    pub window: Option<WindowSpec>,
    /// Headers.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// Standard base64 with padding.
pub use crate::serde::json::encode_base64 as base64_encode;

/// Decodes standard (or URL-safe) base64; padding optional. `None` for
/// anything else.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim().trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    if bits >= 6 {
        return None; // a lone trailing character
    }
    Some(out)
}

/// Appends the window to an inner key, as Kafka Streams' windowed serdes do.
pub fn windowed_key(inner: &[u8], window: &WindowSpec) -> Vec<u8> {
    let mut out = inner.to_vec();
    match window.kind {
        WindowKind::Time => out.extend_from_slice(&window.start.to_be_bytes()),
        WindowKind::Session => {
            out.extend_from_slice(&window.end.to_be_bytes());
            out.extend_from_slice(&window.start.to_be_bytes());
        }
    }
    out
}

fn be_i64(b: &[u8]) -> Option<i64> {
    <[u8; 8]>::try_from(b).ok().map(i64::from_be_bytes)
}

/// Splits a windowed key into the inner key and its window: `kind` says how
/// the window was written; `size_ms` gives time windows their end.
pub fn split_windowed_key(bytes: &[u8], kind: WindowKind, size_ms: Option<i64>) -> Option<(&[u8], WindowSpec)> {
    match kind {
        WindowKind::Time => {
            let at = bytes.len().checked_sub(8)?;
            let start = be_i64(&bytes[at..])?;
            Some((&bytes[..at], WindowSpec { start, end: start.saturating_add(size_ms.unwrap_or(0)), kind }))
        }
        WindowKind::Session => {
            let at = bytes.len().checked_sub(16)?;
            let end = be_i64(&bytes[at..at + 8])?;
            let start = be_i64(&bytes[at + 8..])?;
            Some((&bytes[..at], WindowSpec { start, end, kind }))
        }
    }
}

fn window_kind(t: WindowType) -> WindowKind {
    match t {
        WindowType::Session => WindowKind::Session,
        WindowType::Tumbling | WindowType::Hopping => WindowKind::Time,
    }
}

/// Bytes for a key or value with no source to say its format: strings as
/// UTF-8, anything else as JSON text.
fn raw_bytes(json: &Json) -> Option<Vec<u8>> {
    match json {
        Json::Null => None,
        Json::String(s) => Some(s.clone().into_bytes()),
        other => Some(other.to_json_string().into_bytes()),
    }
}

fn encode_part(spec: &FormatSpec, columns: &[Column], json: &Json, is_key: bool) -> Option<Vec<u8>> {
    match (spec.kind, json) {
        (_, Json::Null) => None,
        (FormatKind::Json, j) => Some(j.to_json_string().into_bytes()),
        (FormatKind::Delimited, Json::String(s)) => Some(s.clone().into_bytes()),
        (FormatKind::None, _) => None,
        (_, j) => match json_to_bytes(spec, columns, &j.to_serde(), is_key) {
            Ok(b) => b,
            // Deliberately bad input (deserialization-error tests): write it raw.
            Err(_) => raw_bytes(j),
        },
    }
}

/// The key and value bytes of an input record for a topic read by `source`
/// (`None`: no source on the topic; strings go as UTF-8, the rest as JSON).
pub fn encode_input(source: Option<&SourceInfo>, rec: &RecordSpec) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let Some(src) = source else {
        let key = raw_bytes(&rec.key);
        let key = match (&rec.window, key) {
            (Some(w), k) => Some(windowed_key(k.as_deref().unwrap_or_default(), w)),
            (None, k) => k,
        };
        return (key, raw_bytes(&rec.value));
    };
    let mut key = encode_part(&src.key_format, &src.key, &rec.key, true);
    if let Some(w) = &rec.window {
        let mut w = *w;
        if let Some(info) = &src.window {
            w.kind = window_kind(info.kind);
        }
        key = Some(windowed_key(key.as_deref().unwrap_or_default(), &w));
    }
    let value = encode_part(&src.value_format, &src.value, &rec.value, false);
    (key, value)
}

fn undecodable(what: &str, err: &str, bytes: &[u8]) -> Json {
    Json::String(format!("<cannot decode {what}: {err}; base64 {}>", base64_encode(bytes)))
}

fn decode_raw(bytes: &[u8]) -> Json {
    match json::parse_bytes(bytes) {
        Ok(j) => j,
        Err(_) => match std::str::from_utf8(bytes) {
            Ok(s) => Json::String(s.to_string()),
            Err(_) => undecodable("bytes", "not UTF-8", bytes),
        },
    }
}

fn decode_part(spec: &FormatSpec, columns: &[Column], bytes: Option<&[u8]>, is_key: bool) -> Json {
    let what = if is_key { "key" } else { "value" };
    let Some(b) = bytes else { return Json::Null };
    if is_key && columns.is_empty() {
        return Json::Null;
    }
    match spec.kind {
        FormatKind::None => Json::Null,
        FormatKind::Delimited => match std::str::from_utf8(b) {
            Ok(s) => Json::String(s.to_string()),
            Err(e) => undecodable(what, &e.to_string(), b),
        },
        FormatKind::Json => match json::parse_bytes(b) {
            Ok(j) => j,
            Err(e) => match bytes_to_json(spec, columns, b, is_key) {
                Ok(v) => Json::from_serde(&v),
                Err(_) => undecodable(what, &e, b),
            },
        },
        _ => match bytes_to_json(spec, columns, b, is_key) {
            Ok(v) => Json::from_serde(&v),
            Err(e) => undecodable(what, &e.to_string(), b),
        },
    }
}

/// Decodes a record of a topic written by (or read by) `source`.
pub fn decode_output(source: Option<&SourceInfo>, rec: &StoredRecord) -> ActualRecord {
    let headers = rec.headers.iter().map(|h| (h.key.clone(), h.value.as_ref().map(|v| v.to_vec()))).collect();
    let Some(src) = source else {
        return ActualRecord {
            key: rec.key.as_deref().map_or(Json::Null, decode_raw),
            value: rec.value.as_deref().map_or(Json::Null, decode_raw),
            timestamp: rec.timestamp,
            window: None,
            headers,
        };
    };
    let mut window = None;
    let mut key_bytes = rec.key.as_deref();
    if let (Some(info), Some(k)) = (&src.window, rec.key.as_deref()) {
        match split_windowed_key(k, window_kind(info.kind), info.size_ms) {
            Some((inner, w)) => {
                window = Some(w);
                key_bytes = Some(inner);
            }
            None => {
                return ActualRecord {
                    key: undecodable("windowed key", "shorter than its window", k),
                    value: decode_part(&src.value_format, &src.value, rec.value.as_deref(), false),
                    timestamp: rec.timestamp,
                    window: None,
                    headers,
                }
            }
        }
    }
    ActualRecord {
        key: decode_part(&src.key_format, &src.key, key_bytes, true),
        value: decode_part(&src.value_format, &src.value, rec.value.as_deref(), false),
        timestamp: rec.timestamp,
        window,
        headers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for (raw, text) in [(&b""[..], ""), (b"!", "IQ=="), (b"ab", "YWI="), (b"abc", "YWJj"), (b"\x1a", "Gg==")] {
            assert_eq!(base64_encode(raw), text);
            assert_eq!(base64_decode(text).as_deref(), Some(raw));
        }
        assert_eq!(base64_decode("IQ").as_deref(), Some(&b"!"[..]));
        assert_eq!(base64_decode("I"), None);
        assert_eq!(base64_decode("I*=="), None);
    }

    #[test]
    fn windowed_keys() {
        let t = WindowSpec { start: 1000, end: 31000, kind: WindowKind::Time };
        let b = windowed_key(b"k", &t);
        assert_eq!(b.len(), 9);
        assert_eq!(&b[1..], &1000i64.to_be_bytes());
        assert_eq!(split_windowed_key(&b, WindowKind::Time, Some(30000)), Some((&b"k"[..], t)));

        let s = WindowSpec { start: 5, end: 70, kind: WindowKind::Session };
        let b = windowed_key(b"key", &s);
        assert_eq!(&b[3..11], &70i64.to_be_bytes());
        assert_eq!(&b[11..], &5i64.to_be_bytes());
        assert_eq!(split_windowed_key(&b, WindowKind::Session, None), Some((&b"key"[..], s)));
        assert_eq!(split_windowed_key(b"short", WindowKind::Time, None), None);
    }

    #[test]
    fn raw_encoding_without_a_source() {
        let rec = RecordSpec {
            topic: "t".into(),
            key: Json::String("k".into()),
            value: Json::Object(vec![("A".into(), Json::Number("1.50".into()))]),
            timestamp: None,
            window: None,
            headers: None,
        };
        let (k, v) = encode_input(None, &rec);
        assert_eq!(k.as_deref(), Some(&b"k"[..]));
        assert_eq!(v.as_deref(), Some(&br#"{"A":1.50}"#[..]));
    }
}
