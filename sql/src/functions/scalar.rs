//! Built-in scalar and table functions (string, math, date and time, JSON,
//! collections, URL, …) with ksqlDB's names and semantics.
//!
//! Each family lives in its own submodule; this module holds the helpers
//! they share (argument-type rejection messages, NULL propagation, value
//! views) and the registry ([`all`], [`table_functions`]).
//!
//! Untyped NULL literals reach return-type rules as `STRING` (see
//! [`SqlType::from_arrow`]); rules accept a `STRING` where ksqlDB would
//! accept a NULL literal of another type, and the evaluators then see
//! `Value::Null`.

mod collections;
mod datetime;
mod json;
mod math;
mod string;
mod url;

use super::{Udf, Udtf};
use crate::types::SqlType;
use crate::value::Value;

/// Result of a return-type rule.
pub(crate) type TypeResult = Result<SqlType, String>;
/// Result of one evaluation.
pub(crate) type EvalResult = Result<Value, String>;

/// The name ksqlDB prints for a function in its error messages (the name
/// its UDF class declares, which is lower case for some).
fn display_name(name: &str) -> String {
    const LOWER: &[&str] = &[
        "DATEADD",
        "DATESUB",
        "TIMEADD",
        "TIMESUB",
        "TIMESTAMPADD",
        "TIMESTAMPSUB",
        "GREATEST",
        "LEAST",
        "EXPLODE",
    ];
    if LOWER.contains(&name) {
        name.to_ascii_lowercase()
    } else {
        name.to_string()
    }
}

/// ksqlDB's message for argument types a function does not take.
pub(crate) fn reject(name: &str, args: &[SqlType]) -> String {
    let list: Vec<String> = args.iter().map(ToString::to_string).collect();
    format!("Function '{}' does not accept parameters ({}).", display_name(name), list.join(", "))
}

/// ksqlDB's message when several overloads fit equally well.
pub(crate) fn ambiguous(name: &str, args: &[SqlType]) -> String {
    let list: Vec<String> = args.iter().map(ToString::to_string).collect();
    format!(
        "Function '{}' cannot be resolved due to ambiguous method parameters ({}).",
        display_name(name),
        list.join(", ")
    )
}

/// Whether `t` may be an untyped NULL literal (those arrive as STRING).
pub(crate) fn nullish(t: &SqlType) -> bool {
    *t == SqlType::String
}

/// An integer parameter (INT or BIGINT, or an untyped NULL).
pub(crate) fn intish(t: &SqlType) -> bool {
    t.is_integer() || nullish(t)
}

/// A numeric parameter (or an untyped NULL).
pub(crate) fn numish(t: &SqlType) -> bool {
    t.is_numeric() || nullish(t)
}

/// Whether any argument is NULL.
pub(crate) fn any_null(args: &[Value]) -> bool {
    args.iter().any(Value::is_null)
}

/// Argument `i` as a string.
pub(crate) fn arg_str(args: &[Value], i: usize) -> Result<&str, String> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s),
        other => Err(format!("argument {} is not a string: {other:?}", i + 1)),
    }
}

/// Argument `i` as an integer.
pub(crate) fn arg_int(args: &[Value], i: usize) -> Result<i64, String> {
    match args.get(i) {
        Some(Value::Int(v)) => Ok(i64::from(*v)),
        Some(Value::Bigint(v)) => Ok(*v),
        other => Err(format!("argument {} is not an integer: {other:?}", i + 1)),
    }
}

/// Argument `i` as a double.
pub(crate) fn arg_f64(args: &[Value], i: usize) -> Result<f64, String> {
    args.get(i).and_then(Value::as_f64).ok_or_else(|| format!("argument {} is not a number", i + 1))
}

/// Argument `i` as a list.
pub(crate) fn arg_array(args: &[Value], i: usize) -> Result<&[Value], String> {
    match args.get(i) {
        Some(Value::Array(v)) => Ok(v),
        other => Err(format!("argument {} is not an array: {other:?}", i + 1)),
    }
}

/// An integer result of the resolved return type.
pub(crate) fn int_result(v: i64, ret: &SqlType) -> EvalResult {
    match ret {
        SqlType::Int => i32::try_from(v).map(Value::Int).map_err(|_| format!("{v} overflows INT")),
        _ => Ok(Value::Bigint(v)),
    }
}

/// Declares a [`Udf`]: `udf!(NAME, CATEGORY, "description", return_rule, eval)`
/// where `return_rule(name, args)` may use the name in its messages.
macro_rules! udf {
    ($name:literal, $cat:literal, $desc:literal, $rt:path, $eval:expr) => {
        $crate::functions::Udf {
            name: $name,
            description: $desc,
            category: $cat,
            return_type: |a| $rt($name, a),
            eval: $eval,
        }
    };
}
pub(crate) use udf;

/// Every built-in scalar function.
pub fn all() -> Vec<Udf> {
    let mut v = Vec::new();
    v.extend(string::all());
    v.extend(math::all());
    v.extend(datetime::all());
    v.extend(json::all());
    v.extend(collections::all());
    v.extend(url::all());
    v
}

fn explode_type(name: &str, args: &[SqlType]) -> TypeResult {
    match args {
        [SqlType::Array(e)] => Ok((**e).clone()),
        _ => Err(format!(
            "{}\nValid alternatives are:\nexplode(ARRAY<DECIMAL> input)\nexplode(ARRAY<T> list)",
            reject(name, args)
        )),
    }
}

fn explode(args: &[Value]) -> Vec<Value> {
    match args.first() {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    }
}

fn cube_type(name: &str, args: &[SqlType]) -> TypeResult {
    match args {
        [t @ SqlType::Array(_)] => Ok(t.clone()),
        _ => Err(reject(name, args)),
    }
}

/// Every combination of the list's values and NULL (ksqlDB's
/// `CUBE_EXPLODE`): for `[a, b]`, `[NULL, NULL]`, `[NULL, b]`, `[a, NULL]`,
/// `[a, b]`. A NULL element yields only NULL in its slot.
fn cube_explode(args: &[Value]) -> Vec<Value> {
    let Some(Value::Array(items)) = args.first() else {
        return Vec::new();
    };
    if items.len() > 20 {
        return Vec::new();
    }
    let n = items.len();
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for mask in 0..(1u32 << n) {
        // Bit (n-1-i) set means element i is kept.
        let row: Vec<Value> = (0..n)
            .map(|i| if mask & (1 << (n - 1 - i)) != 0 { items[i].clone() } else { Value::Null })
            .collect();
        if seen.insert(format!("{row:?}")) {
            out.push(Value::Array(row));
        }
    }
    out
}

/// Every built-in table function.
pub fn table_functions() -> Vec<Udtf> {
    vec![
        Udtf {
            name: "EXPLODE",
            description: "Explodes an array: one row per element.",
            return_type: |a| explode_type("EXPLODE", a),
            eval: explode,
        },
        Udtf {
            name: "CUBE_EXPLODE",
            description: "Every combination of the array's values and NULL, one row each.",
            return_type: |a| cube_type("CUBE_EXPLODE", a),
            eval: cube_explode,
        },
    ]
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;

    /// Finds a built-in by name.
    pub(crate) fn f(name: &str) -> Udf {
        all().into_iter().find(|u| u.name == name).unwrap_or_else(|| panic!("no function {name}"))
    }

    /// Resolves the return type and evaluates; errors become NULL.
    pub(crate) fn call(name: &str, args: &[Value]) -> Value {
        let types: Vec<SqlType> = args.iter().map(|v| v.sql_type().unwrap_or(SqlType::String)).collect();
        call_typed(name, args, &types)
    }

    /// As [`call`], with explicit argument types.
    pub(crate) fn call_typed(name: &str, args: &[Value], types: &[SqlType]) -> Value {
        let u = f(name);
        let ret = (u.return_type)(types).unwrap_or_else(|e| panic!("{name}: {e}"));
        (u.eval)(args, &ret).unwrap_or(Value::Null)
    }

    /// The return type for argument types.
    pub(crate) fn rt(name: &str, types: &[SqlType]) -> Result<SqlType, String> {
        (f(name).return_type)(types)
    }

    /// A string value.
    pub(crate) fn s(v: &str) -> Value {
        Value::String(v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explode_yields_elements_and_nothing_for_null() {
        let t = table_functions();
        let e = &t[0];
        assert_eq!((e.eval)(&[Value::Array(vec![Value::Int(1), Value::Int(2)])]).len(), 2);
        assert!((e.eval)(&[Value::Null]).is_empty());
        let err = (e.return_type)(&[SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Int))]).unwrap_err();
        assert_eq!(
            err,
            "Function 'explode' does not accept parameters (MAP<STRING, INTEGER>).\nValid alternatives are:\nexplode(ARRAY<DECIMAL> input)\nexplode(ARRAY<T> list)"
        );
    }

    #[test]
    fn cube_explode_combinations() {
        let rows = cube_explode(&[Value::Array(vec![Value::Int(1), Value::Int(2)])]);
        assert_eq!(
            rows,
            vec![
                Value::Array(vec![Value::Null, Value::Null]),
                Value::Array(vec![Value::Null, Value::Int(2)]),
                Value::Array(vec![Value::Int(1), Value::Null]),
                Value::Array(vec![Value::Int(1), Value::Int(2)]),
            ]
        );
    }

    #[test]
    fn all_names_are_unique_and_upper_case() {
        let mut names: Vec<&str> = all().iter().map(|u| u.name).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "duplicate function names");
        assert!(names.iter().all(|n| n.chars().all(|c| !c.is_ascii_lowercase())));
    }
}
