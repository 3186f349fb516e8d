//! An owned JSON tree whose numbers keep their text and whose objects keep
//! their field order — what both the conformance runner (`1.50` is a
//! decimal of scale 2, not the double 1.5) and ksqlDB's JSON functions
//! (`EXTRACTJSONFIELD` returns `1.23450` as written) need.
//!
//! [`parse`] is lenient for ksqlDB's test files (`//` and `/* … */`
//! comments, trailing commas); [`parse_strict`] accepts only standard JSON.

use std::fmt::Write as _;

/// A JSON value whose numbers keep their text and whose objects keep their
/// field order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number, as written.
    Number(String),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, fields in order (duplicates kept; lookups take the first).
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The field `key` of an object (the first one of that name).
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The number as an `i64`, if it is an integer that fits (a string of
    /// digits is accepted too).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Json::Number(n) | Json::String(n) => n.trim().parse::<i64>().ok().or_else(|| {
                // `1.0E3`-style integral doubles.
                n.trim().parse::<f64>().ok().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18).map(|f| f as i64)
            }),
            _ => None,
        }
    }

    /// The boolean, if this is one (or the string `true`/`false`).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            Json::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Json::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    /// The value as text: a string as itself, anything else as compact JSON.
    pub fn to_plain_string(&self) -> String {
        match self {
            Json::String(s) => s.clone(),
            other => other.to_json_string(),
        }
    }

    /// Compact JSON text; numbers as written.
    pub fn to_json_string(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    fn write_json(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(n),
            Json::String(s) => write_json_string(out, s),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out);
                }
                out.push(']');
            }
            Json::Object(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(out, k);
                    out.push(':');
                    v.write_json(out);
                }
                out.push('}');
            }
        }
    }

    /// The `serde_json` form (numbers as `serde_json` reads their text; the
    /// written scale of decimals is lost).
    pub fn to_serde(&self) -> serde_json::Value {
        match self {
            Json::Null => serde_json::Value::Null,
            Json::Bool(b) => serde_json::Value::Bool(*b),
            Json::Number(n) => serde_json::from_str::<serde_json::Value>(n)
                .ok()
                .filter(serde_json::Value::is_number)
                .unwrap_or_else(|| serde_json::Value::String(n.clone())),
            Json::String(s) => serde_json::Value::String(s.clone()),
            Json::Array(a) => serde_json::Value::Array(a.iter().map(Json::to_serde).collect()),
            Json::Object(fields) => {
                let mut map = serde_json::Map::new();
                for (k, v) in fields {
                    map.entry(k.clone()).or_insert_with(|| v.to_serde());
                }
                serde_json::Value::Object(map)
            }
        }
    }

    /// From a `serde_json` value (numbers as `serde_json` prints them:
    /// doubles keep a `.0`).
    pub fn from_serde(v: &serde_json::Value) -> Json {
        match v {
            serde_json::Value::Null => Json::Null,
            serde_json::Value::Bool(b) => Json::Bool(*b),
            serde_json::Value::Number(n) => Json::Number(n.to_string()),
            serde_json::Value::String(s) => Json::String(s.clone()),
            serde_json::Value::Array(a) => Json::Array(a.iter().map(Json::from_serde).collect()),
            serde_json::Value::Object(m) => Json::Object(m.iter().map(|(k, v)| (k.clone(), Json::from_serde(v))).collect()),
        }
    }
}

impl std::fmt::Display for Json {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_json_string())
    }
}

fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parses lenient JSON: `//` and `/* */` comments outside strings, trailing
/// commas, numbers kept as written.
///
/// # Errors
/// Text that is not JSON even so, with the line and column.
pub fn parse(text: &str) -> Result<Json, String> {
    parse_with(text, true)
}

/// Parses standard JSON only (no comments, no trailing commas).
///
/// # Errors
/// Text that is not one JSON value.
pub fn parse_strict(text: &str) -> Result<Json, String> {
    parse_with(text, false)
}

fn parse_with(text: &str, lenient: bool) -> Result<Json, String> {
    let mut p = Parser { s: text.as_bytes(), text, pos: 0, lenient };
    p.skip_ws()?;
    let v = p.value(0)?;
    p.skip_ws()?;
    if p.pos < p.s.len() {
        return Err(p.err("trailing characters after the JSON value"));
    }
    Ok(v)
}

/// Parses strict-enough JSON bytes (a record's key or value).
///
/// # Errors
/// Bytes that are not UTF-8 JSON.
pub fn parse_bytes(bytes: &[u8]) -> Result<Json, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    parse(text)
}

const MAX_DEPTH: usize = 256;

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
    /// Comments and trailing commas allowed.
    lenient: bool,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> String {
        let upto = &self.text.as_bytes()[..self.pos.min(self.s.len())];
        let line = upto.iter().filter(|&&b| b == b'\n').count() + 1;
        let col = upto.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        format!("JSON line {line}, column {col}: {what}")
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) -> Result<(), String> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.pos += 1,
                Some(b'/') if self.lenient && self.s.get(self.pos + 1) == Some(&b'/') => {
                    while let Some(b) = self.peek() {
                        if b == b'\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                Some(b'/') if self.lenient && self.s.get(self.pos + 1) == Some(&b'*') => {
                    self.pos += 2;
                    loop {
                        match self.peek() {
                            None => return Err(self.err("unterminated /* comment")),
                            Some(b'*') if self.s.get(self.pos + 1) == Some(&b'/') => {
                                self.pos += 2;
                                break;
                            }
                            Some(_) => self.pos += 1,
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        match self.peek() {
            None => Err(self.err("unexpected end of input")),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Json::String(self.string()?)),
            Some(b't') => self.word("true", Json::Bool(true)),
            Some(b'f') => self.word("false", Json::Bool(false)),
            Some(b'n') => self.word("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("expected a JSON value")),
        }
    }

    fn word(&mut self, w: &str, v: Json) -> Result<Json, String> {
        if self.s[self.pos..].starts_with(w.as_bytes()) {
            self.pos += w.len();
            Ok(v)
        } else {
            Err(self.err(&format!("expected `{w}`")))
        }
    }

    fn number(&mut self) -> Result<Json, String> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let digits_start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        if self.pos == digits_start {
            return Err(self.err("expected digits"));
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            let frac = self.pos;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
            if self.pos == frac {
                return Err(self.err("expected digits after `.`"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            let exp = self.pos;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
            if self.pos == exp {
                return Err(self.err("expected exponent digits"));
            }
        }
        Ok(Json::Number(self.text[start..self.pos].to_string()))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let h = self.s.get(self.pos..self.pos + 4).ok_or_else(|| self.err("short \\u escape"))?;
        let h = std::str::from_utf8(h).map_err(|_| self.err("bad \\u escape"))?;
        let v = u32::from_str_radix(h, 16).map_err(|_| self.err("bad \\u escape"))?;
        self.pos += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, String> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[run_start..self.pos]);
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(_) => {
                    self.pos += 1;
                    let esc = self.peek().ok_or_else(|| self.err("unterminated escape"))?;
                    self.pos += 1;
                    match esc {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{08}'),
                        b'f' => out.push('\u{0c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let c = if (0xD800..0xDC00).contains(&hi) && self.s[self.pos..].starts_with(b"\\u") {
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                                } else {
                                    None
                                }
                            } else {
                                char::from_u32(hi)
                            };
                            out.push(c.unwrap_or('\u{FFFD}'));
                        }
                        _ => return Err(self.err("unknown escape")),
                    }
                }
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, String> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_ws()?;
            match self.peek() {
                Some(b']') if !self.lenient && !items.is_empty() => return Err(self.err("trailing comma in array")),
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                None => return Err(self.err("unterminated array")),
                _ => {}
            }
            items.push(self.value(depth + 1)?);
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.err("expected `,` or `]`")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, String> {
        self.pos += 1;
        let mut fields = Vec::new();
        loop {
            self.skip_ws()?;
            match self.peek() {
                Some(b'}') if !self.lenient && !fields.is_empty() => return Err(self.err("trailing comma in object")),
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(fields));
                }
                Some(b'"') => {}
                _ => return Err(self.err("expected a field name or `}`")),
            }
            let key = self.string()?;
            self.skip_ws()?;
            if self.peek() != Some(b':') {
                return Err(self.err("expected `:`"));
            }
            self.pos += 1;
            self.skip_ws()?;
            let v = self.value(depth + 1)?;
            fields.push((key, v));
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(fields));
                }
                _ => return Err(self.err("expected `,` or `}`")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_outside_strings_are_stripped() {
        let v = parse("{\n // a comment\n \"a\": \"x // not a comment\", /* block */ \"b\": 1.50 // tail\n}").unwrap();
        assert_eq!(v.get("a"), Some(&Json::String("x // not a comment".into())));
        assert_eq!(v.get("b"), Some(&Json::Number("1.50".into())));
    }

    #[test]
    fn strict_mode_refuses_what_lenient_mode_allows() {
        assert!(parse_strict(r#"{"a": [1, 2]}"#).is_ok());
        assert!(parse_strict("[1, 2,]").is_err());
        assert!(parse_strict(r#"{"a": 1,}"#).is_err());
        assert!(parse_strict("// note\n1").is_err());
        assert_eq!(parse("// note\n[1,]").unwrap(), Json::Array(vec![Json::Number("1".into())]));
        assert_eq!(parse_strict("[]").unwrap(), Json::Array(vec![]));
    }

    #[test]
    fn trailing_commas_and_stray_keys() {
        let v = parse(r#"{"tests": [1, 2,], ",timestamp": 3,}"#).unwrap();
        assert_eq!(v.get("tests").and_then(Json::as_array).map(<[Json]>::len), Some(2));
        assert_eq!(v.get(",timestamp"), Some(&Json::Number("3".into())));
    }

    #[test]
    fn escapes_and_round_trip() {
        let v = parse(r#"["a\"b\\c\u00e9\ud83d\ude00\n", -1.5E+3, true, null]"#).unwrap();
        assert_eq!(v.as_array().unwrap()[0], Json::String("a\"b\\cé😀\n".into()));
        assert_eq!(v.to_json_string(), r#"["a\"b\\cé😀\n",-1.5E+3,true,null]"#);
        assert_eq!(parse(&v.to_json_string()).unwrap(), v);
    }

    #[test]
    fn errors_name_the_position() {
        let e = parse("{\n \"a\": }").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        assert!(parse("[1, 2").is_err());
        assert!(parse("\"abc").is_err());
        assert!(parse("1 2").is_err());
    }

    #[test]
    fn serde_conversion() {
        let v = parse(r#"{"a": 1, "b": 2.0, "c": [null, "x"]}"#).unwrap();
        let s = v.to_serde();
        assert_eq!(s, serde_json::json!({"a": 1, "b": 2.0, "c": [null, "x"]}));
        assert_eq!(Json::from_serde(&s).get("b"), Some(&Json::Number("2.0".into())));
    }
}
