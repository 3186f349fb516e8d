//! ksqlDB's `DELIMITED` format: one CSV record per payload.
//!
//! Reading follows Apache Commons CSV's default format with the configured
//! delimiter, as ksqlDB uses it: fields may be quoted with `"` (a doubled
//! `""` inside is one quote; whitespace may follow the closing quote), the
//! record ends at the first line break, leading blank lines are skipped, and
//! the field count must equal the column count. An empty field is NULL. An
//! empty payload reads as one empty field.
//!
//! Fields are parsed as ksqlDB's `KsqlDelimitedDeserializer` parses them:
//! BOOLEAN is `true` (any case) or else false, INT/BIGINT/DOUBLE as Java
//! parses them, DECIMAL must fit the column without rounding, BYTES are
//! base64, DATE is days, TIME milliseconds of the day, TIMESTAMP epoch
//! milliseconds.
//!
//! Writing uses Commons CSV's minimal quoting: a field is quoted when it
//! holds the delimiter, a quote or a line break, when it starts with a
//! character at or below `#` or ends with one at or below a space, and, for
//! the first field of the record, when it starts with anything but an ASCII
//! letter or digit (so `-10` is written `"-10"`). NULL is an empty, unquoted
//! field.

use std::borrow::Cow;

use super::java;
use super::json::{decode_base64, encode_base64};
use crate::types::SqlType;
use crate::value::Value;

/// The fields of the first record in `text`.
///
/// # Errors
/// Text after a closing quote other than whitespace or the delimiter, and
/// unterminated quotes.
pub fn parse_record(text: &str, delimiter: char) -> Result<Vec<Cow<'_, str>>, String> {
    // Leading blank lines are skipped (ignoreEmptyLines).
    let text = text.trim_start_matches(['\r', '\n']);
    let mut fields = Vec::new();
    let mut rest = text;
    loop {
        if let Some(after) = rest.strip_prefix('"') {
            // Quoted field.
            let mut value = String::new();
            let mut chars = after.char_indices();
            let end;
            loop {
                match chars.next() {
                    Some((i, '"')) => {
                        if after[i + 1..].starts_with('"') {
                            value.push('"');
                            chars.next();
                        } else {
                            end = i + 1;
                            break;
                        }
                    }
                    Some((_, c)) => value.push(c),
                    None => return Err("unterminated quoted field: EOF reached before the closing quote".into()),
                }
            }
            fields.push(Cow::Owned(value));
            let mut tail = after[end..].chars();
            let mut consumed = end;
            loop {
                match tail.next() {
                    None => return Ok(fields),
                    Some('\r' | '\n') => return Ok(fields),
                    Some(c) if c == delimiter => {
                        consumed += c.len_utf8();
                        rest = &after[consumed..];
                        break;
                    }
                    Some(c) if c.is_whitespace() => consumed += c.len_utf8(),
                    Some(c) => {
                        return Err(format!("invalid char between encapsulated token and delimiter: {c:?}"));
                    }
                }
            }
        } else {
            match rest.find(|c: char| c == delimiter || c == '\r' || c == '\n') {
                Some(i) => {
                    fields.push(Cow::Borrowed(&rest[..i]));
                    let c = rest[i..].chars().next().unwrap_or('\n');
                    if c != delimiter {
                        return Ok(fields);
                    }
                    rest = &rest[i + c.len_utf8()..];
                }
                None => {
                    fields.push(Cow::Borrowed(rest));
                    return Ok(fields);
                }
            }
        }
    }
}

/// One field's text as a value of `ty` (empty text is NULL).
///
/// # Errors
/// Text that does not parse, in Java's words where it has them.
pub fn parse_field(text: &str, ty: &SqlType) -> Result<Value, String> {
    if text.is_empty() {
        return Ok(Value::Null);
    }
    let bad = || format!("For input string: \"{text}\"");
    Ok(match ty {
        SqlType::Boolean => Value::Boolean(text.eq_ignore_ascii_case("true")),
        SqlType::Int => Value::Int(java::parse_int(text).ok_or_else(bad)?),
        SqlType::Bigint => Value::Bigint(java::parse_long(text).ok_or_else(bad)?),
        SqlType::Double => Value::Double(java::parse_double(text).ok_or_else(bad)?),
        SqlType::String => Value::String(text.to_string()),
        SqlType::Decimal { precision, scale } => {
            let (u, s) = java::parse_decimal(text).ok_or_else(|| {
                format!("Character array is missing \"exponent\" mark 'e' or 'E'. (not a decimal: \"{text}\")")
            })?;
            Value::Decimal(java::ensure_fit(u, s, *precision, *scale)?, *scale)
        }
        SqlType::Bytes => Value::Bytes(decode_base64(text).ok_or_else(|| format!("Illegal base64 value: \"{text}\""))?),
        SqlType::Date => Value::Date(java::parse_long(text).and_then(|v| i32::try_from(v).ok()).ok_or_else(bad)?),
        SqlType::Time => Value::Time(java::parse_long(text).and_then(|v| i32::try_from(v).ok()).ok_or_else(bad)?),
        SqlType::Timestamp => Value::Timestamp(java::parse_long(text).ok_or_else(bad)?),
        other => return Err(format!("Type is not supported: {other}")),
    })
}

/// A value's text in a DELIMITED field (`None` for NULL).
pub fn format_field(v: &Value) -> Option<String> {
    Some(match v {
        Value::Null => return None,
        Value::Boolean(b) => b.to_string(),
        Value::Int(i) | Value::Date(i) | Value::Time(i) => i.to_string(),
        Value::Bigint(i) | Value::Timestamp(i) => i.to_string(),
        Value::Double(d) => java::format_double(*d),
        Value::Decimal(u, s) => java::decimal_plain(*u, i32::from(*s)),
        Value::String(s) => s.clone(),
        Value::Bytes(b) => encode_base64(b),
        // Not reachable for validated columns; written as JSON for safety.
        nested => {
            let mut out = Vec::new();
            super::json::write_value(&mut out, nested);
            String::from_utf8_lossy(&out).into_owned()
        }
    })
}

/// Writes one record (no line break at the end).
pub fn write_record(out: &mut Vec<u8>, fields: &[Option<String>], delimiter: char) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            let mut buf = [0u8; 4];
            out.extend_from_slice(delimiter.encode_utf8(&mut buf).as_bytes());
        }
        if let Some(s) = f {
            write_field(out, s, delimiter, i == 0);
        }
    }
}

/// Whether Commons CSV's minimal quoting quotes `s`.
fn needs_quotes(s: &str, delimiter: char, first: bool) -> bool {
    let Some(c) = s.chars().next() else {
        // An empty first field is quoted: it may be all there is on the line.
        return first;
    };
    if first && !c.is_ascii_alphanumeric() {
        return true;
    }
    if c <= '#' {
        return true;
    }
    if s.chars().any(|c| c == '\n' || c == '\r' || c == '"' || c == delimiter) {
        return true;
    }
    s.chars().last().is_some_and(|c| c <= ' ')
}

fn write_field(out: &mut Vec<u8>, s: &str, delimiter: char, first: bool) {
    if needs_quotes(s, delimiter, first) {
        out.push(b'"');
        for part in s.split('"').enumerate() {
            if part.0 > 0 {
                out.extend_from_slice(b"\"\"");
            }
            out.extend_from_slice(part.1.as_bytes());
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str, d: char) -> Vec<String> {
        parse_record(text, d).unwrap().into_iter().map(Cow::into_owned).collect()
    }

    fn written(fs: &[Option<&str>], d: char) -> String {
        let fs: Vec<Option<String>> = fs.iter().map(|f| f.map(str::to_string)).collect();
        let mut out = Vec::new();
        write_record(&mut out, &fs, d);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn reads_csv_records() {
        assert_eq!(fields("0,zero,0", ','), ["0", "zero", "0"]);
        assert_eq!(fields("\"foo\",\"bar\"", ','), ["foo", "bar"]);
        assert_eq!(fields("foo,bar;baz", ';'), ["foo,bar", "baz"]);
        assert_eq!(fields("a,,", ','), ["a", "", ""]);
        assert_eq!(fields("\"a\"\"b\" ,c", ','), ["a\"b", "c"]);
        assert_eq!(fields("0\tzero\t0", '\t'), ["0", "zero", "0"]);
        assert_eq!(fields("a,b\nc,d", ','), ["a", "b"]);
        assert_eq!(fields("\n\na", ','), ["a"]);
        assert_eq!(fields("", ','), [""]);
        assert_eq!(fields("\"x,\ny\"", ','), ["x,\ny"]);
        assert!(parse_record("\"a\"b", ',').is_err());
        assert!(parse_record("\"ab", ',').is_err());
    }

    #[test]
    fn writes_with_minimal_quoting() {
        assert_eq!(written(&[Some("0"), Some("zero"), Some("0")], ','), "0,zero,0");
        assert_eq!(written(&[Some("-10")], ','), "\"-10\"");
        assert_eq!(written(&[Some("1"), Some("-10")], ','), "1,-10");
        assert_eq!(written(&[Some("a,b"), Some("c\"d")], ','), "\"a,b\",\"c\"\"d\"");
        assert_eq!(written(&[Some("")], ','), "\"\"");
        assert_eq!(written(&[Some("a"), Some(""), None], ','), "a,,");
        assert_eq!(written(&[None, Some("x ")], '|'), "|\"x \"");
        assert_eq!(written(&[Some("a"), Some("#b")], ','), "a,\"#b\"");
    }

    #[test]
    fn parses_fields_like_ksqldb() {
        assert_eq!(parse_field("TRUE", &SqlType::Boolean), Ok(Value::Boolean(true)));
        assert_eq!(parse_field("yes", &SqlType::Boolean), Ok(Value::Boolean(false)));
        assert_eq!(parse_field("", &SqlType::Int), Ok(Value::Null));
        assert_eq!(parse_field("x", &SqlType::Int), Err("For input string: \"x\"".into()));
        assert_eq!(
            parse_field(".12", &SqlType::Decimal { precision: 33, scale: 16 }),
            Ok(Value::Decimal(12 * 10i128.pow(14), 16))
        );
        assert_eq!(parse_field("dmFy", &SqlType::Bytes), Ok(Value::Bytes(b"var".to_vec())));
        assert_eq!(format_field(&Value::Decimal(-123451200, 4)).as_deref(), Some("-12345.1200"));
        assert_eq!(format_field(&Value::Double(2.0)).as_deref(), Some("2.0"));
    }
}
