//! Array, map and NULL-handling functions: ARRAY_CONTAINS, ARRAY_DISTINCT,
//! ARRAY_EXCEPT, ARRAY_INTERSECT, ARRAY_UNION, ARRAY_CONCAT, ARRAY_JOIN,
//! ARRAY_LENGTH, ARRAY_MAX, ARRAY_MIN, ARRAY_SORT, ARRAY_REMOVE, SLICE,
//! GENERATE_SERIES, ENTRIES, MAP_KEYS, MAP_VALUES, MAP_UNION, AS_MAP,
//! AS_VALUE, COALESCE, IFNULL, NULLIF.

use std::cmp::Ordering;

use super::{any_null, arg_array, arg_int, intish, nullish, reject, udf, EvalResult, TypeResult};
use crate::functions::Udf;
use crate::types::SqlType;
use crate::value::Value;

/// The collection and NULL functions.
pub(super) fn all() -> Vec<Udf> {
    vec![
        udf!("ARRAY_CONTAINS", "ARRAY", "Whether an array contains a value.", contains_type, array_contains),
        udf!("ARRAY_DISTINCT", "ARRAY", "The distinct elements, in first-seen order.", same_array, array_distinct),
        udf!("ARRAY_EXCEPT", "ARRAY", "Distinct elements of the first array not in the second.", two_arrays, array_except),
        udf!("ARRAY_INTERSECT", "ARRAY", "Distinct elements in both arrays.", two_arrays, array_intersect),
        udf!("ARRAY_UNION", "ARRAY", "Distinct elements of either array.", two_arrays, array_union),
        udf!("ARRAY_CONCAT", "ARRAY", "The second array appended to the first.", two_arrays, array_concat),
        udf!("ARRAY_JOIN", "ARRAY", "Elements joined into a string (default delimiter ',').", join_type, array_join),
        udf!("ARRAY_LENGTH", "ARRAY", "Number of elements.", length_type, array_length),
        udf!("ARRAY_MAX", "ARRAY", "Largest non-NULL element.", element_type, |a, _| array_extreme(a, Ordering::Greater)),
        udf!("ARRAY_MIN", "ARRAY", "Smallest non-NULL element.", element_type, |a, _| array_extreme(a, Ordering::Less)),
        udf!("ARRAY_SORT", "ARRAY", "Sorted elements (ASC or DESC), NULLs last.", sort_type, array_sort),
        udf!("ARRAY_REMOVE", "ARRAY", "The array without every element equal to the value.", contains_array_type, array_remove),
        udf!("SLICE", "ARRAY", "Elements from a 1-based start to an end, inclusive.", slice_type, slice),
        udf!("GENERATE_SERIES", "ARRAY", "Integers from start to end, inclusive, by step.", series_type, generate_series),
        udf!("ENTRIES", "MAP", "A map's entries as structs of K and V.", entries_type, entries),
        udf!("MAP_KEYS", "MAP", "A map's keys.", map_keys_type, map_keys),
        udf!("MAP_VALUES", "MAP", "A map's values.", map_values_type, map_values),
        udf!("MAP_UNION", "MAP", "Two maps merged; the second wins on equal keys.", map_union_type, map_union),
        udf!("AS_MAP", "MAP", "A map from an array of keys and an array of values.", as_map_type, as_map),
        udf!("AS_VALUE", "OTHER", "The argument, unchanged (copies a key into the value).", identity_type, |a, _| {
            Ok(a.first().cloned().unwrap_or(Value::Null))
        }),
        udf!("COALESCE", "OTHER", "The first non-NULL argument.", coalesce_type, coalesce),
        udf!("IFNULL", "OTHER", "The first argument, or the second when it is NULL.", ifnull_type, coalesce),
        udf!("NULLIF", "OTHER", "NULL when both arguments are equal, else the first.", nullif_type, nullif),
    ]
}

/// Orders two non-NULL values of comparable types (numbers across types).
pub(crate) fn compare_values(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Boolean(x), Value::Boolean(y)) => Some(x.cmp(y)),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bytes(x), Value::Bytes(y)) => Some(x.cmp(y)),
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Bigint(x), Value::Bigint(y)) => Some(x.cmp(y)),
        (Value::Date(x), Value::Date(y)) | (Value::Time(x), Value::Time(y)) => Some(x.cmp(y)),
        (Value::Timestamp(x), Value::Timestamp(y)) => Some(x.cmp(y)),
        (Value::Decimal(x, s), Value::Decimal(y, t)) => {
            let scale = (*s).max(*t);
            let up = |u: i128, from: i8| u.checked_mul(10i128.checked_pow(u32::from((scale - from) as u8))?);
            match (up(*x, *s), up(*y, *t)) {
                (Some(x), Some(y)) => Some(x.cmp(&y)),
                _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                match compare_nullable(p, q) {
                    Some(Ordering::Equal) => {}
                    other => return other,
                }
            }
            Some(x.len().cmp(&y.len()))
        }
        _ => {
            if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
                return Some(x.cmp(&y));
            }
            a.as_f64()?.partial_cmp(&b.as_f64()?)
        }
    }
}

/// [`compare_values`] with NULLs last.
fn compare_nullable(a: &Value, b: &Value) -> Option<Ordering> {
    match (a.is_null(), b.is_null()) {
        (true, true) => Some(Ordering::Equal),
        (true, false) => Some(Ordering::Greater),
        (false, true) => Some(Ordering::Less),
        _ => compare_values(a, b),
    }
}

fn contains_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::Array(_), _] => Ok(SqlType::Boolean),
        _ => Err(reject(name, a)),
    }
}

/// Equality across numeric types (an INT literal searched in a BIGINT
/// array).
fn loosely_equal(a: &Value, b: &Value) -> bool {
    a == b || (!a.is_null() && !b.is_null() && compare_values(a, b) == Some(Ordering::Equal))
}

fn array_contains(a: &[Value], _: &SqlType) -> EvalResult {
    match &a[0] {
        Value::Array(items) => Ok(Value::Boolean(items.iter().any(|x| loosely_equal(x, &a[1])))),
        _ => Ok(Value::Boolean(false)),
    }
}

fn same_array(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [t @ SqlType::Array(_)] => Ok(t.clone()),
        _ => Err(reject(name, a)),
    }
}

fn two_arrays(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [t @ SqlType::Array(x), SqlType::Array(y)] if x == y => Ok(t.clone()),
        [t @ SqlType::Array(x), SqlType::Array(y)] if x.is_numeric() && y.is_numeric() => {
            if x.is_integer() && y.is_integer() {
                Ok(SqlType::Array(Box::new(SqlType::Bigint)))
            } else if **x == SqlType::Double || **y == SqlType::Double {
                Ok(SqlType::Array(Box::new(SqlType::Double)))
            } else {
                Ok(t.clone())
            }
        }
        [t @ SqlType::Array(_), n] | [n, t @ SqlType::Array(_)] if nullish(n) => Ok(t.clone()),
        _ => Err(reject(name, a)),
    }
}

fn distinct(items: impl IntoIterator<Item = Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for v in items {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

fn array_distinct(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    Ok(Value::Array(distinct(arg_array(a, 0)?.iter().cloned())))
}

/// Both arguments as arrays coerced to the result's element type.
fn both(a: &[Value], ret: &SqlType) -> Result<Option<(Vec<Value>, Vec<Value>)>, String> {
    if any_null(a) {
        return Ok(None);
    }
    let fit = |v: &Value| v.clone().coerce(ret).ok_or("array does not fit the result type");
    let (Value::Array(x), Value::Array(y)) = (fit(&a[0])?, fit(&a[1])?) else {
        return Err("not arrays".into());
    };
    Ok(Some((x, y)))
}

fn array_except(a: &[Value], ret: &SqlType) -> EvalResult {
    let Some((x, y)) = both(a, ret)? else { return Ok(Value::Null) };
    Ok(Value::Array(distinct(x.into_iter().filter(|v| !y.contains(v)))))
}

fn array_intersect(a: &[Value], ret: &SqlType) -> EvalResult {
    let Some((x, y)) = both(a, ret)? else { return Ok(Value::Null) };
    Ok(Value::Array(distinct(x.into_iter().filter(|v| y.contains(v)))))
}

fn array_union(a: &[Value], ret: &SqlType) -> EvalResult {
    let Some((x, y)) = both(a, ret)? else { return Ok(Value::Null) };
    Ok(Value::Array(distinct(x.into_iter().chain(y))))
}

fn array_concat(a: &[Value], ret: &SqlType) -> EvalResult {
    let fit = |v: &Value| v.clone().coerce(ret).ok_or("array does not fit the result type");
    match (fit(&a[0])?, fit(&a[1])?) {
        (Value::Null, Value::Null) => Ok(Value::Null),
        (Value::Array(x), Value::Null) | (Value::Null, Value::Array(x)) => Ok(Value::Array(x)),
        (Value::Array(x), Value::Array(y)) => Ok(Value::Array(x.into_iter().chain(y).collect())),
        _ => Err("not arrays".into()),
    }
}

fn join_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::Array(e)] | [SqlType::Array(e), SqlType::String]
            if !matches!(**e, SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_)) =>
        {
            Ok(SqlType::String)
        }
        _ => Err(reject(name, a)),
    }
}

/// A primitive value as ksqlDB prints it inside ARRAY_JOIN.
fn plain_text(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Boolean(b) => b.to_string(),
        Value::Int(x) => x.to_string(),
        Value::Bigint(x) => x.to_string(),
        Value::Double(x) => super::json::java_double(*x),
        Value::Decimal(u, s) => decimal_text(*u, *s),
        Value::String(s) => s.clone(),
        other => format!("{other:?}"),
    }
}

/// A decimal as plain text with its scale (`12.30`).
pub(crate) fn decimal_text(u: i128, s: i8) -> String {
    if s <= 0 {
        let zeros = "0".repeat((-i32::from(s)) as usize);
        return if u == 0 { "0".into() } else { format!("{u}{zeros}") };
    }
    let s = s as usize;
    let digits = u.unsigned_abs().to_string();
    let digits = if digits.len() <= s { format!("{}{digits}", "0".repeat(s + 1 - digits.len())) } else { digits };
    let (int, frac) = digits.split_at(digits.len() - s);
    format!("{}{int}.{frac}", if u < 0 { "-" } else { "" })
}

fn array_join(a: &[Value], _: &SqlType) -> EvalResult {
    let Value::Array(items) = &a[0] else { return Ok(Value::Null) };
    let sep = match a.get(1) {
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Null) => "",
        _ => ",",
    };
    Ok(Value::String(items.iter().map(plain_text).collect::<Vec<_>>().join(sep)))
}

fn length_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::Array(_)] => Ok(SqlType::Int),
        _ => Err(reject(name, a)),
    }
}

fn array_length(a: &[Value], _: &SqlType) -> EvalResult {
    Ok(match &a[0] {
        Value::Array(items) => Value::Int(items.len() as i32),
        _ => Value::Null,
    })
}

fn element_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::Array(e)] => Ok((**e).clone()),
        _ => Err(reject(name, a)),
    }
}

fn array_extreme(a: &[Value], want: Ordering) -> EvalResult {
    let Value::Array(items) = &a[0] else { return Ok(Value::Null) };
    let mut best: Option<&Value> = None;
    for v in items.iter().filter(|v| !v.is_null()) {
        best = match best {
            Some(b) if compare_values(v, b) != Some(want) => Some(b),
            _ => Some(v),
        };
    }
    Ok(best.cloned().unwrap_or(Value::Null))
}

fn sort_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [t @ SqlType::Array(_)] | [t @ SqlType::Array(_), SqlType::String] => Ok(t.clone()),
        _ => Err(reject(name, a)),
    }
}

fn array_sort(a: &[Value], _: &SqlType) -> EvalResult {
    let Value::Array(items) = &a[0] else { return Ok(Value::Null) };
    let desc = match a.get(1) {
        None => false,
        Some(Value::String(d)) => match d.to_ascii_uppercase().as_str() {
            "ASC" => false,
            "DESC" => true,
            other => return Err(format!("ARRAY_SORT direction must be ASC or DESC, not {other}")),
        },
        Some(_) => return Ok(Value::Null),
    };
    let (mut vals, nulls): (Vec<Value>, Vec<Value>) = items.iter().cloned().partition(|v| !v.is_null());
    vals.sort_by(|x, y| compare_values(x, y).unwrap_or(Ordering::Equal));
    if desc {
        vals.reverse();
    }
    vals.extend(nulls);
    Ok(Value::Array(vals))
}

fn contains_array_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [t @ SqlType::Array(_), _] => Ok(t.clone()),
        _ => Err(reject(name, a)),
    }
}

fn array_remove(a: &[Value], _: &SqlType) -> EvalResult {
    let Value::Array(items) = &a[0] else { return Ok(Value::Null) };
    Ok(Value::Array(items.iter().filter(|v| !loosely_equal(v, &a[1])).cloned().collect()))
}

fn slice_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [t @ SqlType::Array(_), f, e] if intish(f) && intish(e) => Ok(t.clone()),
        _ => Err(reject(name, a)),
    }
}

/// ksqlDB's SLICE: 1-based, inclusive; a NULL bound means that end of
/// the array.
fn slice(a: &[Value], _: &SqlType) -> EvalResult {
    let Value::Array(items) = &a[0] else { return Ok(Value::Null) };
    let n = items.len() as i64;
    let from = if a[1].is_null() { 1 } else { arg_int(a, 1)? };
    let to = if a[2].is_null() { n } else { arg_int(a, 2)? };
    let from = (from - 1).max(0);
    let to = to.min(n);
    if from >= to {
        return Ok(Value::Array(Vec::new()));
    }
    Ok(Value::Array(items[from as usize..to as usize].to_vec()))
}

fn series_type(name: &str, a: &[SqlType]) -> TypeResult {
    let typed: Vec<&SqlType> = a.iter().filter(|t| !nullish(t)).collect();
    match a.len() {
        2 | 3 if a.iter().all(intish) => {
            if typed.iter().any(|t| **t == SqlType::Bigint) {
                Ok(SqlType::Array(Box::new(SqlType::Bigint)))
            } else {
                Ok(SqlType::Array(Box::new(SqlType::Int)))
            }
        }
        _ => Err(reject(name, a)),
    }
}

fn generate_series(a: &[Value], ret: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let (start, end) = (arg_int(a, 0)?, arg_int(a, 1)?);
    let step = if a.len() > 2 {
        arg_int(a, 2)?
    } else if end >= start {
        1
    } else {
        -1
    };
    if step == 0 {
        return Err("GENERATE_SERIES step cannot be zero".into());
    }
    if (end - start).signum() * step.signum() < 0 {
        return Err("GENERATE_SERIES step has the wrong sign".into());
    }
    let count = (end - start) / step + 1;
    if count > 10_000_000 {
        return Err("GENERATE_SERIES too large".into());
    }
    let big = matches!(ret, SqlType::Array(e) if **e == SqlType::Bigint);
    Ok(Value::Array(
        (0..count)
            .map(|i| {
                let v = start + i * step;
                if big {
                    Value::Bigint(v)
                } else {
                    Value::Int(v as i32)
                }
            })
            .collect(),
    ))
}

fn entries_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::Map(k, v), SqlType::Boolean] if **k == SqlType::String => Ok(SqlType::Array(Box::new(
            SqlType::Struct(vec![("K".into(), SqlType::String), ("V".into(), (**v).clone())]),
        ))),
        _ => Err(reject(name, a)),
    }
}

fn entries(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let Value::Map(m) = &a[0] else { return Err("not a map".into()) };
    let mut m = m.clone();
    if a[1] == Value::Boolean(true) {
        m.sort_by(|x, y| compare_nullable(&x.0, &y.0).unwrap_or(Ordering::Equal));
    }
    Ok(Value::Array(m.into_iter().map(|(k, v)| Value::Struct(vec![("K".into(), k), ("V".into(), v)])).collect()))
}

fn map_keys_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::Map(k, _)] => Ok(SqlType::Array(k.clone())),
        _ => Err(reject(name, a)),
    }
}

fn map_values_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::Map(_, v)] => Ok(SqlType::Array(v.clone())),
        _ => Err(reject(name, a)),
    }
}

fn map_keys(a: &[Value], _: &SqlType) -> EvalResult {
    Ok(match &a[0] {
        Value::Map(m) => Value::Array(m.iter().map(|(k, _)| k.clone()).collect()),
        _ => Value::Null,
    })
}

fn map_values(a: &[Value], _: &SqlType) -> EvalResult {
    Ok(match &a[0] {
        Value::Map(m) => Value::Array(m.iter().map(|(_, v)| v.clone()).collect()),
        _ => Value::Null,
    })
}

fn map_union_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [t @ SqlType::Map(..), u] if t == u => Ok(t.clone()),
        [t @ SqlType::Map(..), n] | [n, t @ SqlType::Map(..)] if nullish(n) => Ok(t.clone()),
        _ => Err(reject(name, a)),
    }
}

fn map_union(a: &[Value], _: &SqlType) -> EvalResult {
    match (&a[0], &a[1]) {
        (Value::Null, Value::Null) => Ok(Value::Null),
        (Value::Map(m), Value::Null) | (Value::Null, Value::Map(m)) => Ok(Value::Map(m.clone())),
        (Value::Map(x), Value::Map(y)) => {
            let mut out = x.clone();
            for (k, v) in y {
                if let Some(slot) = out.iter_mut().find(|(q, _)| q == k) {
                    slot.1 = v.clone();
                } else {
                    out.push((k.clone(), v.clone()));
                }
            }
            Ok(Value::Map(out))
        }
        _ => Err("not maps".into()),
    }
}

fn as_map_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::Array(k), SqlType::Array(v)] if **k == SqlType::String => {
            Ok(SqlType::Map(k.clone(), v.clone()))
        }
        _ => Err(reject(name, a)),
    }
}

fn as_map(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let (keys, vals) = (arg_array(a, 0)?, arg_array(a, 1)?);
    let mut out: Vec<(Value, Value)> = Vec::new();
    for (k, v) in keys.iter().zip(vals) {
        if let Some(slot) = out.iter_mut().find(|(q, _)| q == k) {
            slot.1 = v.clone();
        } else {
            out.push((k.clone(), v.clone()));
        }
    }
    Ok(Value::Map(out))
}

fn identity_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [t] => Ok(t.clone()),
        _ => Err(reject(name, a)),
    }
}

/// The common type of COALESCE-style arguments: the first typed argument's
/// type, numbers widening; untyped NULLs (STRING) fit anything.
fn common_type(a: &[SqlType]) -> Option<SqlType> {
    let typed: Vec<&SqlType> = a.iter().filter(|t| !nullish(t)).collect();
    let Some(first) = typed.first() else {
        return a.first().cloned();
    };
    if typed.iter().all(|t| t == first) {
        return Some((*first).clone());
    }
    if typed.iter().all(|t| t.is_numeric()) {
        if typed.iter().any(|t| **t == SqlType::Double) {
            return Some(SqlType::Double);
        }
        if typed.iter().all(|t| t.is_integer()) {
            return Some(SqlType::Bigint);
        }
        let (mut int_digits, mut scale) = (0i32, 0i32);
        for t in &typed {
            let (p, s) = t.as_decimal()?;
            int_digits = int_digits.max(i32::from(p) - i32::from(s));
            scale = scale.max(i32::from(s));
        }
        return Some(SqlType::Decimal { precision: (int_digits + scale).min(38) as u8, scale: scale as i8 });
    }
    None
}

fn coalesce_type(name: &str, a: &[SqlType]) -> TypeResult {
    if a.is_empty() {
        return Err(format!("Function '{name}' does not accept parameters ()"));
    }
    common_type(a).ok_or_else(|| reject(name, a))
}

fn ifnull_type(name: &str, a: &[SqlType]) -> TypeResult {
    if a.len() != 2 {
        return Err(reject(name, a));
    }
    common_type(a).ok_or_else(|| reject(name, a))
}

fn coalesce(a: &[Value], ret: &SqlType) -> EvalResult {
    for v in a {
        if !v.is_null() {
            return v.clone().coerce(ret).ok_or_else(|| "argument does not fit the result type".into());
        }
    }
    Ok(Value::Null)
}

fn nullif_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [t, _] => Ok(t.clone()),
        _ => Err(reject(name, a)),
    }
}

fn nullif(a: &[Value], _: &SqlType) -> EvalResult {
    if !a[0].is_null() && loosely_equal(&a[0], &a[1]) {
        Ok(Value::Null)
    } else {
        Ok(a[0].clone())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{call, call_typed, rt};
    use super::*;

    fn ints(v: &[i32]) -> Value {
        Value::Array(v.iter().map(|x| Value::Int(*x)).collect())
    }

    fn strs(v: &[&str]) -> Value {
        Value::Array(v.iter().map(|x| Value::String((*x).into())).collect())
    }

    #[test]
    fn sort_puts_nulls_last_both_ways() {
        let v = Value::Array(vec![Value::Int(0), Value::Null, Value::Int(1), Value::Int(0), Value::Int(-1)]);
        let want = Value::Array(vec![Value::Int(-1), Value::Int(0), Value::Int(0), Value::Int(1), Value::Null]);
        assert_eq!(call("ARRAY_SORT", &[v.clone()]), want);
        let want = Value::Array(vec![Value::Int(1), Value::Int(0), Value::Int(0), Value::Int(-1), Value::Null]);
        assert_eq!(call("ARRAY_SORT", &[v, Value::String("desc".into())]), want);
        assert_eq!(
            call("ARRAY_SORT", &[strs(&["foo", "fo", "Food", "F", "food"])]),
            strs(&["F", "Food", "fo", "foo", "food"])
        );
        let d = Value::Array(vec![Value::Decimal(10, 1), Value::Decimal(-99, 1), Value::Decimal(90, 1)]);
        assert_eq!(call("ARRAY_MAX", &[d.clone()]), Value::Decimal(90, 1));
        assert_eq!(call("ARRAY_MIN", &[d]), Value::Decimal(-99, 1));
        let t = [SqlType::Array(Box::new(SqlType::Int))];
        assert_eq!(call_typed("ARRAY_MAX", &[Value::Array(vec![])], &t), Value::Null);
    }

    #[test]
    fn set_functions() {
        let a = strs(&["foo", "bar", "foo"]);
        assert_eq!(call("ARRAY_DISTINCT", &[a.clone()]), strs(&["foo", "bar"]));
        assert_eq!(call("ARRAY_EXCEPT", &[a.clone(), strs(&["bar", "baz"])]), strs(&["foo"]));
        assert_eq!(call("ARRAY_INTERSECT", &[a.clone(), strs(&["foo", "baz"])]), strs(&["foo"]));
        assert_eq!(call("ARRAY_UNION", &[a.clone(), strs(&["foo", "baz"])]), strs(&["foo", "bar", "baz"]));
        assert_eq!(call("ARRAY_CONCAT", &[a, strs(&["baz"])]), strs(&["foo", "bar", "foo", "baz"]));
        assert_eq!(call("ARRAY_CONTAINS", &[ints(&[1, 2]), Value::Int(2)]), Value::Boolean(true));
        assert_eq!(call("ARRAY_REMOVE", &[ints(&[1, 2, 1]), Value::Int(1)]), ints(&[2]));
        assert_eq!(call("ARRAY_JOIN", &[ints(&[1, 2])]), Value::String("1,2".into()));
        assert_eq!(call("ARRAY_LENGTH", &[ints(&[1, 2])]), Value::Int(2));
    }

    #[test]
    fn slices_and_series() {
        assert_eq!(call("SLICE", &[strs(&["a", "b", "c", "d"]), Value::Int(2), Value::Int(3)]), strs(&["b", "c"]));
        assert_eq!(call("GENERATE_SERIES", &[Value::Int(4), Value::Int(0)]), ints(&[4, 3, 2, 1, 0]));
        assert_eq!(call("GENERATE_SERIES", &[Value::Int(-2), Value::Int(1), Value::Int(2)]), ints(&[-2, 0]));
        assert_eq!(call("GENERATE_SERIES", &[Value::Int(9), Value::Int(0), Value::Int(-3)]), ints(&[9, 6, 3, 0]));
        assert_eq!(call("GENERATE_SERIES", &[Value::Int(0), Value::Int(9), Value::Int(-3)]), Value::Null);
    }

    #[test]
    fn maps() {
        let m = Value::Map(vec![
            (Value::String("K2".into()), Value::Int(2)),
            (Value::String("K1".into()), Value::Int(1)),
        ]);
        let e = call("ENTRIES", &[m.clone(), Value::Boolean(true)]);
        assert_eq!(
            e,
            Value::Array(vec![
                Value::Struct(vec![("K".into(), Value::String("K1".into())), ("V".into(), Value::Int(1))]),
                Value::Struct(vec![("K".into(), Value::String("K2".into())), ("V".into(), Value::Int(2))]),
            ])
        );
        assert_eq!(call("MAP_KEYS", &[m.clone()]), strs(&["K2", "K1"]));
        assert_eq!(call("MAP_VALUES", &[m.clone()]), ints(&[2, 1]));
        let m2 = Value::Map(vec![(Value::String("K1".into()), Value::Int(9))]);
        assert_eq!(
            call("MAP_UNION", &[m, m2]),
            Value::Map(vec![
                (Value::String("K2".into()), Value::Int(2)),
                (Value::String("K1".into()), Value::Int(9)),
            ])
        );
    }

    #[test]
    fn null_functions() {
        let t = [SqlType::String, SqlType::Int, SqlType::Int];
        assert_eq!(rt("COALESCE", &t), Ok(SqlType::Int));
        assert_eq!(call_typed("COALESCE", &[Value::Null, Value::Null, Value::Int(3)], &t), Value::Int(3));
        assert_eq!(rt("COALESCE", &[]), Err("Function 'COALESCE' does not accept parameters ()".into()));
        assert_eq!(call("IFNULL", &[Value::String("a".into()), Value::String("b".into())]), Value::String("a".into()));
        assert_eq!(call("NULLIF", &[Value::Int(1), Value::Int(1)]), Value::Null);
        assert_eq!(call("NULLIF", &[Value::Int(1), Value::Int(2)]), Value::Int(1));
        assert_eq!(decimal_text(-5, 2), "-0.05");
        assert_eq!(decimal_text(12345, 2), "123.45");
    }
}
