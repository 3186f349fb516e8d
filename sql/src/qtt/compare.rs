//! Comparison of expected and actual records, by ksqlDB's QTT rules.
//!
//! Objects need the same field count, each expected field matched by name
//! exactly, then upper-cased; arrays compare in order. Integers compare
//! exactly, doubles within 1e-6 (or a relative 1e-12 for large values),
//! decimals by value *and* scale (`1.50` ≠ `1.5`). Which rule a number gets
//! comes from the column's SQL type when the sink's schema is known, else
//! from how the numbers are written. DELIMITED values compare as the raw
//! line.

use super::json::Json;
use super::record::{base64_encode, ActualRecord, RecordSpec};
use crate::catalog::SourceInfo;
use crate::serde::FormatKind;
use crate::types::{Column, SqlType};

/// What the compared value's type is known to be.
#[derive(Debug, Clone, Copy)]
pub enum Hint<'a> {
    /// Unknown: numbers compare by how they are written.
    Any,
    /// A column or field of this SQL type.
    Ty(&'a SqlType),
    /// A row of these columns: an object of them, or (one column, written
    /// unwrapped) the column's value itself.
    Row(&'a [Column]),
}

impl<'a> Hint<'a> {
    /// The hint for field `name` of an object.
    fn field(self, name: &str) -> Hint<'a> {
        match self {
            Hint::Row(cols) => cols
                .iter()
                .find(|c| c.name == name)
                .or_else(|| cols.iter().find(|c| c.name.eq_ignore_ascii_case(name)))
                .map_or(Hint::Any, |c| Hint::Ty(&c.ty)),
            Hint::Ty(SqlType::Struct(fields)) => fields
                .iter()
                .find(|(n, _)| n == name)
                .or_else(|| fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)))
                .map_or(Hint::Any, |(_, t)| Hint::Ty(t)),
            Hint::Ty(SqlType::Map(_, v)) => Hint::Ty(v),
            _ => Hint::Any,
        }
    }

    /// The hint for an array element.
    fn element(self) -> Hint<'a> {
        match self.scalar() {
            Hint::Ty(SqlType::Array(e)) => Hint::Ty(e),
            _ => Hint::Any,
        }
    }

    /// A one-column row written unwrapped is its column's value.
    fn scalar(self) -> Hint<'a> {
        match self {
            Hint::Row([one]) => Hint::Ty(&one.ty),
            Hint::Row(_) => Hint::Any,
            other => other,
        }
    }
}

/// A decimal as Java's `BigDecimal` sees it: sign, unscaled digits (no
/// leading zeros) and scale.
fn parse_decimal(text: &str) -> Option<(bool, String, i64)> {
    let t = text.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], t[i + 1..].parse::<i64>().ok()?),
        None => (t, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: String = int.chars().chain(frac.chars()).collect();
    let digits = digits.trim_start_matches('0');
    let digits = if digits.is_empty() { "0".to_string() } else { digits.to_string() };
    let neg = neg && digits != "0";
    Some((neg, digits, frac.len() as i64 - exp))
}

fn is_integer_text(t: &str) -> bool {
    !t.contains(['.', 'e', 'E'])
}

fn doubles_match(a: &str, b: &str) -> bool {
    match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
        (Ok(x), Ok(y)) => {
            let d = (x - y).abs();
            x == y || d <= 1e-6 || d <= 1e-12 * x.abs().max(y.abs())
        }
        _ => a == b,
    }
}

fn integers_match(a: &str, b: &str) -> bool {
    match (a.trim().parse::<i128>(), b.trim().parse::<i128>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => parse_decimal(a).is_some_and(|d| parse_decimal(b) == Some(d)),
    }
}

/// Whether two numbers (as written) are equal under `hint`'s rule.
pub fn numbers_match(expected: &str, actual: &str, hint: Hint<'_>) -> bool {
    match hint.scalar() {
        Hint::Ty(SqlType::Decimal { .. }) => match (parse_decimal(expected), parse_decimal(actual)) {
            (Some(e), Some(a)) => e == a,
            _ => expected == actual,
        },
        Hint::Ty(SqlType::Double) => doubles_match(expected, actual),
        Hint::Ty(t) if t.is_integer() => {
            is_integer_text(expected) == is_integer_text(actual) && integers_match(expected, actual)
        }
        _ => {
            if is_integer_text(expected) && is_integer_text(actual) {
                integers_match(expected, actual)
            } else {
                doubles_match(expected, actual)
            }
        }
    }
}

fn short(j: &Json) -> String {
    let s = j.to_json_string();
    if s.chars().count() > 200 {
        let cut: String = s.chars().take(200).collect();
        format!("{cut}…")
    } else {
        s
    }
}

/// Compares `expected` with `actual`; on a mismatch, says where (`$.A[2]`)
/// and what.
///
/// # Errors
/// The first mismatch.
pub fn compare(expected: &Json, actual: &Json, hint: Hint<'_>, path: &str) -> Result<(), String> {
    let mismatch = || Err(format!("at {path}: expected {}, got {}", short(expected), short(actual)));
    match (expected, actual) {
        (Json::Null, Json::Null) => Ok(()),
        (Json::Bool(a), Json::Bool(b)) if a == b => Ok(()),
        (Json::String(a), Json::String(b)) if a == b => Ok(()),
        (Json::Number(a), Json::Number(b)) => {
            if numbers_match(a, b, hint) {
                Ok(())
            } else {
                mismatch()
            }
        }
        (Json::Array(ea), Json::Array(aa)) => {
            if ea.len() != aa.len() {
                return Err(format!(
                    "at {path}: expected {} elements, got {} ({} vs {})",
                    ea.len(),
                    aa.len(),
                    short(expected),
                    short(actual)
                ));
            }
            let eh = hint.element();
            for (i, (e, a)) in ea.iter().zip(aa).enumerate() {
                compare(e, a, eh, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Json::Object(ef), Json::Object(af)) => {
            if ef.len() != af.len() {
                return Err(format!(
                    "at {path}: expected {} fields, got {} ({} vs {})",
                    ef.len(),
                    af.len(),
                    short(expected),
                    short(actual)
                ));
            }
            for (name, e) in ef {
                let found = af.iter().find(|(n, _)| n == name).or_else(|| {
                    let upper = name.to_uppercase();
                    af.iter().find(|(n, _)| *n == upper)
                });
                let Some((actual_name, a)) = found else {
                    return Err(format!("at {path}: no field {name:?} in {}", short(actual)));
                };
                compare(e, a, hint.field(actual_name), &format!("{path}.{name}"))?;
            }
            Ok(())
        }
        _ => mismatch(),
    }
}

/// DELIMITED values compare as the raw line: a non-string expectation is
/// taken as its JSON text.
///
/// # Errors
/// The two lines differ.
pub fn compare_delimited(expected: &Json, actual: &Json) -> Result<(), String> {
    match (expected, actual) {
        (Json::Null, Json::Null) => Ok(()),
        (e, Json::String(a)) if !e.is_null() && e.to_plain_string() == *a => Ok(()),
        _ => Err(format!("expected {}, got {}", short(expected), short(actual))),
    }
}

fn compare_part(
    what: &str,
    expected: &Json,
    actual: &Json,
    format: Option<FormatKind>,
    columns: &[Column],
    known: bool,
) -> Result<(), String> {
    let hint = if known { Hint::Row(columns) } else { Hint::Any };
    let r = match format {
        Some(FormatKind::Delimited) => compare_delimited(expected, actual),
        _ => compare(expected, actual, hint, "$"),
    };
    r.map_err(|e| format!("{what} mismatch: {e}"))
}

fn headers_text(h: &[(String, Option<Vec<u8>>)]) -> String {
    let parts: Vec<String> = h
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={}", base64_encode(v)),
            None => format!("{k}=null"),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// Compares one expected output record with the actual one, read from a
/// topic whose records `source` describes (if known).
///
/// # Errors
/// What differs: key, value, timestamp, window or headers.
pub fn compare_record(expected: &RecordSpec, actual: &ActualRecord, source: Option<&SourceInfo>) -> Result<(), String> {
    let no_cols: &[Column] = &[];
    let (kf, kc, vf, vc) = match source {
        Some(s) => (Some(s.key_format.kind), s.key.as_slice(), Some(s.value_format.kind), s.value.as_slice()),
        None => (None, no_cols, None, no_cols),
    };
    compare_part("key", &expected.key, &actual.key, kf, kc, source.is_some())?;
    compare_part("value", &expected.value, &actual.value, vf, vc, source.is_some())?;
    if let Some(ts) = expected.timestamp {
        if ts != actual.timestamp {
            return Err(format!("timestamp mismatch: expected {ts}, got {}", actual.timestamp));
        }
    }
    if let Some(w) = &expected.window {
        match &actual.window {
            Some(a) if a == w => {}
            Some(a) => return Err(format!("window mismatch: expected {w}, got {a}")),
            None => return Err(format!("window mismatch: expected {w}, got an unwindowed key")),
        }
    }
    let no_headers = Vec::new();
    let eh = expected.headers.as_ref().unwrap_or(&no_headers);
    if *eh != actual.headers {
        return Err(format!("headers mismatch: expected {}, got {}", headers_text(eh), headers_text(&actual.headers)));
    }
    Ok(())
}

/// A one-line form of an actual record for failure messages.
pub fn describe_actual(a: &ActualRecord) -> String {
    let mut s = format!("{{key: {}, value: {}, timestamp: {}", short(&a.key), short(&a.value), a.timestamp);
    if let Some(w) = &a.window {
        s.push_str(&format!(", window: {w}"));
    }
    if !a.headers.is_empty() {
        s.push_str(&format!(", headers: {}", headers_text(&a.headers)));
    }
    s.push('}');
    s
}

/// A one-line form of an expected record for failure messages.
pub fn describe_expected(e: &RecordSpec) -> String {
    let mut s = format!("{{key: {}, value: {}", short(&e.key), short(&e.value));
    if let Some(t) = e.timestamp {
        s.push_str(&format!(", timestamp: {t}"));
    }
    if let Some(w) = &e.window {
        s.push_str(&format!(", window: {w}"));
    }
    if let Some(h) = &e.headers {
        s.push_str(&format!(", headers: {}", headers_text(h)));
    }
    s.push('}');
    s
}

#[cfg(test)]
mod tests {
    use super::super::json::parse;
    use super::super::record::{WindowKind, WindowSpec};
    use super::*;

    fn cmp(e: &str, a: &str, hint: Hint<'_>) -> Result<(), String> {
        compare(&parse(e).unwrap(), &parse(a).unwrap(), hint, "$")
    }

    #[test]
    fn integers_are_exact() {
        assert!(cmp("1", "1", Hint::Any).is_ok());
        assert!(cmp("1", "2", Hint::Any).is_err());
        assert!(cmp("9223372036854775807", "9223372036854775807", Hint::Ty(&SqlType::Bigint)).is_ok());
        assert!(cmp("9223372036854775807", "9223372036854775806", Hint::Ty(&SqlType::Bigint)).is_err());
        // An INT column printed as a double is wrong.
        assert!(cmp("3", "3.0", Hint::Ty(&SqlType::Int)).is_err());
    }

    #[test]
    fn doubles_within_tolerance() {
        assert!(cmp("3.0", "3.0000000001", Hint::Ty(&SqlType::Double)).is_ok());
        assert!(cmp("3.0", "3.001", Hint::Ty(&SqlType::Double)).is_err());
        assert!(cmp("4.6116860184273879E18", "4.611686018427388E18", Hint::Any).is_ok());
        assert!(cmp("3", "3.0", Hint::Ty(&SqlType::Double)).is_ok());
        assert!(cmp("0.1", "0.1000001", Hint::Any).is_ok());
    }

    #[test]
    fn decimals_include_scale() {
        let d = SqlType::Decimal { precision: 4, scale: 2 };
        assert!(cmp("1.50", "1.50", Hint::Ty(&d)).is_ok());
        assert!(cmp("1.50", "1.5", Hint::Ty(&d)).is_err());
        assert!(cmp("-0.10", "-0.10", Hint::Ty(&d)).is_ok());
        assert!(cmp("0.00", "0.0", Hint::Ty(&d)).is_err());
        assert_eq!(parse_decimal("1.5E+2"), Some((false, "15".into(), -1)));
        assert_eq!(parse_decimal("-0.0"), Some((false, "0".into(), 1)));
    }

    #[test]
    fn objects_match_names_exactly_then_upper_cased() {
        assert!(cmp(r#"{"a": 1}"#, r#"{"A": 1}"#, Hint::Any).is_ok());
        assert!(cmp(r#"{"a": 1}"#, r#"{"a": 1}"#, Hint::Any).is_ok());
        assert!(cmp(r#"{"A": 1}"#, r#"{"a": 1}"#, Hint::Any).is_err());
        assert!(cmp(r#"{"A": 1}"#, r#"{"A": 1, "B": 2}"#, Hint::Any).is_err());
        let e = cmp(r#"{"A": {"B": [1, 2]}}"#, r#"{"A": {"B": [1, 3]}}"#, Hint::Any).unwrap_err();
        assert!(e.contains("$.A.B[1]"), "{e}");
        assert!(cmp("[1, 2]", "[2, 1]", Hint::Any).is_err());
        assert!(cmp("null", "0", Hint::Any).is_err());
        assert!(cmp(r#""1""#, "1", Hint::Any).is_err());
    }

    #[test]
    fn row_hints_reach_fields() {
        let cols = vec![
            Column::new("D", SqlType::Decimal { precision: 3, scale: 1 }),
            Column::new("S", SqlType::Struct(vec![("x".into(), SqlType::Double)])),
        ];
        assert!(cmp(r#"{"D": 1.0, "S": {"x": 2}}"#, r#"{"D": 1.0, "S": {"x": 2.0}}"#, Hint::Row(&cols)).is_ok());
        assert!(cmp(r#"{"D": 1.0, "S": {"x": 2}}"#, r#"{"D": 1, "S": {"x": 2.0}}"#, Hint::Row(&cols)).is_err());
        let one = vec![Column::new("V", SqlType::Decimal { precision: 3, scale: 1 })];
        assert!(cmp("1.0", "1.00", Hint::Row(&one)).is_err());
    }

    #[test]
    fn delimited_is_raw() {
        assert!(compare_delimited(&Json::String("1,a".into()), &Json::String("1,a".into())).is_ok());
        assert!(compare_delimited(&Json::Number("5".into()), &Json::String("5".into())).is_ok());
        assert!(compare_delimited(&Json::String("1.0".into()), &Json::String("1".into())).is_err());
        assert!(compare_delimited(&Json::Null, &Json::String("".into())).is_err());
    }

    fn expected(key: Json, window: Option<WindowSpec>, ts: Option<i64>) -> RecordSpec {
        RecordSpec { topic: "T".into(), key, value: Json::Null, timestamp: ts, window, headers: None }
    }

    fn actual(key: Json, window: Option<WindowSpec>) -> ActualRecord {
        ActualRecord { key, value: Json::Null, timestamp: 7, window, headers: vec![] }
    }

    #[test]
    fn records() {
        let w = WindowSpec { start: 0, end: 10, kind: WindowKind::Session };
        let k = Json::Number("1".into());
        assert!(compare_record(&expected(k.clone(), None, None), &actual(k.clone(), None), None).is_ok());
        // Omitted timestamp matches anything; a given one must match.
        assert!(compare_record(&expected(k.clone(), None, Some(8)), &actual(k.clone(), None), None).is_err());
        // An omitted key means null.
        assert!(compare_record(&expected(Json::Null, None, None), &actual(k.clone(), None), None).is_err());
        assert!(compare_record(&expected(k.clone(), Some(w), None), &actual(k.clone(), Some(w)), None).is_ok());
        let other = WindowSpec { end: 11, ..w };
        assert!(compare_record(&expected(k.clone(), Some(w), None), &actual(k.clone(), Some(other)), None).is_err());
        assert!(compare_record(&expected(k.clone(), Some(w), None), &actual(k.clone(), None), None).is_err());
        // Omitted headers mean "no headers".
        let mut a = actual(k.clone(), None);
        a.headers = vec![("h".into(), None)];
        assert!(compare_record(&expected(k.clone(), None, None), &a, None).is_err());
        let mut e = expected(k, None, None);
        e.headers = Some(vec![("h".into(), None)]);
        assert!(compare_record(&e, &a, None).is_ok());
    }
}
