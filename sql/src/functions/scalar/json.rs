//! JSON functions: EXTRACTJSONFIELD, IS_JSON_STRING, JSON_ARRAY_CONTAINS,
//! JSON_ARRAY_LENGTH, JSON_CONCAT, JSON_KEYS, JSON_RECORDS, JSON_ITEMS,
//! TO_JSON_STRING.
//!
//! Documents are read with [`crate::json`], which keeps numbers as their
//! source text (ksqlDB returns `1.23450` from `EXTRACTJSONFIELD`, not
//! `1.2345`) and objects in source order. Output is compact, as Jackson
//! writes it.

use super::{any_null, arg_str, reject, udf, EvalResult, TypeResult};
use crate::functions::Udf;
use crate::json::{parse_strict, Json};
use crate::types::SqlType;
use crate::value::Value;

/// The JSON functions.
pub(super) fn all() -> Vec<Udf> {
    vec![
        udf!("EXTRACTJSONFIELD", "JSON", "The value at a JSONPath in a JSON string.", string_2, extract_json_field),
        udf!("IS_JSON_STRING", "JSON", "Whether a string is valid JSON.", bool_1, is_json_string),
        udf!("JSON_ARRAY_CONTAINS", "JSON", "Whether a JSON array contains a value.", array_contains_type, json_array_contains),
        udf!("JSON_ARRAY_LENGTH", "JSON", "Length of a JSON array.", int_1, json_array_length),
        udf!("JSON_CONCAT", "JSON", "Merges JSON objects or concatenates JSON arrays.", concat_type, json_concat),
        udf!("JSON_KEYS", "JSON", "The keys of a JSON object.", strings_1, json_keys),
        udf!("JSON_RECORDS", "JSON", "A JSON object's fields as a map of JSON strings.", map_1, json_records),
        udf!("JSON_ITEMS", "JSON", "A JSON array's elements as JSON strings.", strings_1, json_items),
        udf!("TO_JSON_STRING", "JSON", "Any value as a JSON string.", to_json_type, to_json_string),
    ]
}

/// A double as Java's `Double.toString` prints it (one implementation for
/// the whole crate: [`crate::serde::java::format_double`]).
pub(crate) fn java_double(v: f64) -> String {
    crate::serde::java::format_double(v)
}

fn string_2(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::String, SqlType::String] => Ok(SqlType::String),
        _ => Err(reject(name, a)),
    }
}

fn bool_1(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::String] => Ok(SqlType::Boolean),
        _ => Err(reject(name, a)),
    }
}

fn int_1(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::String] => Ok(SqlType::Int),
        _ => Err(reject(name, a)),
    }
}

fn strings_1(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::String] => Ok(SqlType::Array(Box::new(SqlType::String))),
        _ => Err(reject(name, a)),
    }
}

fn map_1(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::String] => Ok(SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::String))),
        _ => Err(reject(name, a)),
    }
}

/// One step of a JSONPath.
enum Step {
    Field(String),
    Index(i64),
}

/// Parses `$.a.b[0]['c d']`.
fn json_path(path: &str) -> Result<Vec<Step>, String> {
    let p = path.trim();
    let mut rest = p.strip_prefix('$').ok_or_else(|| format!("JSONPath must start with $: {path}"))?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return Err(format!("empty field in JSONPath {path}"));
            }
            steps.push(Step::Field(r[..end].to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(|| format!("unclosed [ in JSONPath {path}"))?;
            let inner = r[..end].trim();
            if let Some(q) = inner.strip_prefix('\'').and_then(|q| q.strip_suffix('\'')) {
                steps.push(Step::Field(q.to_string()));
            } else if let Some(q) = inner.strip_prefix('"').and_then(|q| q.strip_suffix('"')) {
                steps.push(Step::Field(q.to_string()));
            } else {
                steps.push(Step::Index(inner.parse().map_err(|_| format!("bad index in JSONPath {path}"))?));
            }
            rest = &r[end + 1..];
        } else {
            return Err(format!("bad JSONPath {path}"));
        }
    }
    Ok(steps)
}

fn extract_json_field(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let steps = json_path(arg_str(a, 1)?)?;
    let Ok(mut node) = parse_strict(arg_str(a, 0)?) else {
        return Ok(Value::Null);
    };
    for step in steps {
        node = match (step, node) {
            (Step::Field(f), Json::Object(fields)) => {
                match fields.into_iter().find(|(k, _)| *k == f) {
                    Some((_, v)) => v,
                    None => return Ok(Value::Null),
                }
            }
            (Step::Index(i), Json::Array(mut items)) => {
                if i < 0 || i as usize >= items.len() {
                    return Ok(Value::Null);
                }
                items.swap_remove(i as usize)
            }
            _ => return Ok(Value::Null),
        };
    }
    Ok(match node {
        Json::Null => Value::Null,
        Json::String(s) => Value::String(s),
        other => Value::String(other.to_json_string()),
    })
}

fn is_json_string(a: &[Value], _: &SqlType) -> EvalResult {
    Ok(match &a[0] {
        Value::String(s) => Value::Boolean(parse_strict(s).is_ok()),
        _ => Value::Boolean(false),
    })
}

fn array_contains_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::String, SqlType::String | SqlType::Int | SqlType::Bigint | SqlType::Double | SqlType::Boolean] => {
            Ok(SqlType::Boolean)
        }
        _ => Err(reject(name, a)),
    }
}

fn json_array_contains(a: &[Value], _: &SqlType) -> EvalResult {
    let Value::String(text) = &a[0] else { return Ok(Value::Boolean(false)) };
    let Ok(Json::Array(items)) = parse_strict(text) else { return Ok(Value::Boolean(false)) };
    let found = items.iter().any(|j| match (j, &a[1]) {
        (Json::Null, Value::Null) => true,
        (Json::String(s), Value::String(v)) => s == v,
        (Json::Bool(b), Value::Boolean(v)) => b == v,
        (Json::Number(n), Value::Int(v)) => n.parse::<i64>().ok() == Some(i64::from(*v)),
        (Json::Number(n), Value::Bigint(v)) => n.parse::<i64>().ok() == Some(*v),
        (Json::Number(n), Value::Double(v)) => {
            (n.contains(['.', 'e', 'E'])) && n.parse::<f64>().ok() == Some(*v)
        }
        _ => false,
    });
    Ok(Value::Boolean(found))
}

fn json_array_length(a: &[Value], _: &SqlType) -> EvalResult {
    let Value::String(text) = &a[0] else { return Ok(Value::Null) };
    match parse_strict(text) {
        Ok(Json::Array(items)) => Ok(Value::Int(items.len() as i32)),
        _ => Ok(Value::Null),
    }
}

fn concat_type(name: &str, a: &[SqlType]) -> TypeResult {
    if !a.is_empty() && a.iter().all(|t| *t == SqlType::String) {
        Ok(SqlType::String)
    } else {
        Err(reject(name, a))
    }
}

/// ksqlDB's JSON_CONCAT: objects merge (later keys win); otherwise every
/// argument is appended into one array (non-arrays as single elements).
fn json_concat(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let mut docs = Vec::with_capacity(a.len());
    for i in 0..a.len() {
        match parse_strict(arg_str(a, i)?) {
            Ok(j) => docs.push(j),
            Err(_) => return Ok(Value::Null),
        }
    }
    let result = if docs.iter().all(|d| matches!(d, Json::Object(_))) {
        let mut out: Vec<(String, Json)> = Vec::new();
        for d in docs {
            if let Json::Object(fields) = d {
                for (k, v) in fields {
                    if let Some(slot) = out.iter_mut().find(|(n, _)| *n == k) {
                        slot.1 = v;
                    } else {
                        out.push((k, v));
                    }
                }
            }
        }
        Json::Object(out)
    } else {
        let mut out = Vec::new();
        for d in docs {
            match d {
                Json::Array(items) => out.extend(items),
                other => out.push(other),
            }
        }
        Json::Array(out)
    };
    Ok(Value::String(result.to_json_string()))
}

fn json_keys(a: &[Value], _: &SqlType) -> EvalResult {
    let Value::String(text) = &a[0] else { return Ok(Value::Null) };
    match parse_strict(text) {
        Ok(Json::Object(fields)) => Ok(Value::Array(fields.into_iter().map(|(k, _)| Value::String(k)).collect())),
        _ => Ok(Value::Null),
    }
}

fn json_records(a: &[Value], _: &SqlType) -> EvalResult {
    let Value::String(text) = &a[0] else { return Ok(Value::Null) };
    match parse_strict(text) {
        Ok(Json::Object(fields)) => Ok(Value::Map(
            fields.into_iter().map(|(k, v)| (Value::String(k), Value::String(v.to_json_string()))).collect(),
        )),
        _ => Ok(Value::Null),
    }
}

fn json_items(a: &[Value], _: &SqlType) -> EvalResult {
    let Value::String(text) = &a[0] else { return Ok(Value::Null) };
    match parse_strict(text) {
        Ok(Json::Array(items)) => Ok(Value::Array(items.iter().map(|v| Value::String(v.to_json_string())).collect())),
        _ => Ok(Value::Null),
    }
}

fn to_json_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [_] => Ok(SqlType::String),
        _ => Err(reject(name, a)),
    }
}

/// A value as JSON, the way ksqlDB's JSON format writes it.
pub(crate) fn value_to_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Int(x) => Json::Number(x.to_string()),
        Value::Bigint(x) => Json::Number(x.to_string()),
        Value::Double(x) => {
            if x.is_finite() {
                Json::Number(java_double(*x))
            } else {
                Json::String(java_double(*x))
            }
        }
        Value::Decimal(u, s) => Json::Number(super::collections::decimal_text(*u, *s)),
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(super::string::base64_encode(b)),
        Value::Date(d) => Json::String(super::datetime::date_iso(*d)),
        Value::Time(t) => Json::String(super::datetime::time_iso(*t)),
        Value::Timestamp(t) => Json::String(super::datetime::timestamp_iso(*t)),
        Value::Array(items) => Json::Array(items.iter().map(value_to_json).collect()),
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Value::String(s) => s.clone(),
                        other => value_to_json(other).to_json_string(),
                    };
                    (key, value_to_json(v))
                })
                .collect(),
        ),
        Value::Struct(fields) => Json::Object(fields.iter().map(|(k, v)| (k.clone(), value_to_json(v))).collect()),
    }
}

fn to_json_string(a: &[Value], _: &SqlType) -> EvalResult {
    Ok(Value::String(value_to_json(&a[0]).to_json_string()))
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{call, s};
    use super::*;

    #[test]
    fn extract_json_field_paths() {
        let doc = s(r#"{"name": "cdc", "version": "1", "@type": "UDF"}"#);
        assert_eq!(call("EXTRACTJSONFIELD", &[doc.clone(), s("$.name")]), s("cdc"));
        assert_eq!(call("EXTRACTJSONFIELD", &[doc.clone(), s("$.@type")]), s("UDF"));
        assert_eq!(call("EXTRACTJSONFIELD", &[doc, s("$.missing")]), Value::Null);
        let arr = s(r#"{"array": [1.23450, {"a": [true]}]}"#);
        assert_eq!(call("EXTRACTJSONFIELD", &[arr.clone(), s("$.array[0]")]), s("1.23450"));
        assert_eq!(call("EXTRACTJSONFIELD", &[arr.clone(), s("$.array[-1]")]), Value::Null);
        assert_eq!(call("EXTRACTJSONFIELD", &[arr.clone(), s("$.array[1]")]), s(r#"{"a":[true]}"#));
        assert_eq!(call("EXTRACTJSONFIELD", &[arr, s("$['array'][1].a[0]")]), s("true"));
        assert_eq!(call("EXTRACTJSONFIELD", &[s("not json"), s("$.a")]), Value::Null);
    }

    #[test]
    fn json_predicates_and_lengths() {
        for (t, ok) in [("1", true), ("abc", false), ("[1, 2, 3]", true), ("\"abc\"", true), ("", false)] {
            assert_eq!(call("IS_JSON_STRING", &[s(t)]), Value::Boolean(ok), "{t}");
        }
        assert_eq!(call("JSON_ARRAY_CONTAINS", &[s(r#"["Pink", null]"#), s("Pink")]), Value::Boolean(true));
        assert_eq!(call("JSON_ARRAY_CONTAINS", &[s(r#"["Red"]"#), s("Pink")]), Value::Boolean(false));
        assert_eq!(call("JSON_ARRAY_CONTAINS", &[s("[1, 2]"), Value::Int(2)]), Value::Boolean(true));
        assert_eq!(call("JSON_ARRAY_LENGTH", &[s("[1, [2]]")]), Value::Int(2));
    }

    #[test]
    fn json_concat_cases() {
        let c = |x: &str, y: &str| call("JSON_CONCAT", &[s(x), s(y)]);
        assert_eq!(c(r#"{"a": 1}"#, r#"{"b": 2}"#), s(r#"{"a":1,"b":2}"#));
        assert_eq!(c(r#"{"a": {"5": 6}}"#, r#"{"a": {"3": 4}}"#), s(r#"{"a":{"3":4}}"#));
        assert_eq!(c("[1, 2]", "[3, 4]"), s("[1,2,3,4]"));
        assert_eq!(c("null", "null"), s("[null,null]"));
        assert_eq!(c("[1, 2]", r#"{"a": 1}"#), s(r#"[1,2,{"a":1}]"#));
        assert_eq!(c("[1, [2]]", "[[[3]], [[[4]]]]"), s("[1,[2],[[3]],[[[4]]]]"));
        assert_eq!(c("1", ""), Value::Null);
    }

    #[test]
    fn items_keys_records() {
        assert_eq!(
            call("JSON_ITEMS", &[s(r#"[{"type": "A"}, 2]"#)]),
            Value::Array(vec![s(r#"{"type":"A"}"#), s("2")])
        );
        assert_eq!(call("JSON_KEYS", &[s(r#"{"a": 1, "b": 2}"#)]), Value::Array(vec![s("a"), s("b")]));
        assert_eq!(
            call("JSON_RECORDS", &[s(r#"{"a": "x", "b": [1]}"#)]),
            Value::Map(vec![(s("a"), s("\"x\"")), (s("b"), s("[1]"))])
        );
    }

    #[test]
    fn to_json_string_values() {
        assert_eq!(call("TO_JSON_STRING", &[Value::Null]), s("null"));
        assert_eq!(call("TO_JSON_STRING", &[s("abc")]), s("\"abc\""));
        assert_eq!(call("TO_JSON_STRING", &[Value::Double(123.456)]), s("123.456"));
        assert_eq!(call("TO_JSON_STRING", &[Value::Decimal(123_456, 3)]), s("123.456"));
        assert_eq!(call("TO_JSON_STRING", &[Value::Bytes(b"!".to_vec())]), s("\"IQ==\""));
        assert_eq!(call("TO_JSON_STRING", &[Value::Date(1000)]), s("\"1972-09-27\""));
        assert_eq!(call("TO_JSON_STRING", &[Value::Time(60_220_000)]), s("\"16:43:40\""));
        assert_eq!(call("TO_JSON_STRING", &[Value::Timestamp(60_220_000_000)]), s("\"1971-11-28T23:46:40.000\""));
        assert_eq!(
            call("TO_JSON_STRING", &[Value::Struct(vec![("ID".into(), Value::Int(1)), ("NAME".into(), s("Alice"))])]),
            s(r#"{"ID":1,"NAME":"Alice"}"#)
        );
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(0.0001234), "1.234E-4");
    }
}
