//! Built-in aggregate functions with ksqlDB's names and semantics.
//!
//! Each function is a [`Udaf`]: a return-type rule (which also rejects the
//! argument types ksqlDB rejects, with ksqlDB's wording) and a fresh
//! [`AggState`](super::AggState) per group and window. Literal arguments
//! (TOPK's `k`, EARLIEST_BY_OFFSET's `n` and `ignoreNulls`, …) arrive as
//! ordinary argument values on every row.
//!
//! | function | arguments | result | on tables |
//! |---|---|---|---|
//! | `COUNT` | `()` or `(any)` | BIGINT (non-NULL values; all rows with no argument) | yes |
//! | `SUM` | INT / BIGINT / DOUBLE / DECIMAL(p,s) | same type (DECIMAL keeps p and s) | yes |
//! | `SUM_LIST` | ARRAY<INT / BIGINT / DOUBLE> | the element type | yes |
//! | `AVG` | INT / BIGINT / DOUBLE / DECIMAL | DOUBLE | yes |
//! | `MIN`, `MAX` | INT, BIGINT, DOUBLE, DECIMAL, STRING, BYTES, DATE, TIME, TIMESTAMP | same type | no |
//! | `STDDEV_SAMP` | INT / BIGINT / DOUBLE / DECIMAL | DOUBLE (the sample *variance*, a ksqlDB bug kept) | yes |
//! | `STDDEV_SAMPLE` | INT / BIGINT / DOUBLE / DECIMAL | DOUBLE | yes |
//! | `CORRELATION` | two numerics | DOUBLE | yes |
//! | `COUNT_DISTINCT` | any | BIGINT | no |
//! | `COLLECT_LIST` | any [, INT limit] | ARRAY<T> | yes |
//! | `COLLECT_SET` | any [, INT limit] | ARRAY<T> | no |
//! | `HISTOGRAM` | STRING | MAP<STRING, BIGINT> | yes |
//! | `TOPK` | T [, cols…], INT k | ARRAY<T> or ARRAY<STRUCT<sort_col T, col0 …>> | no |
//! | `TOPKDISTINCT` | T, INT k | ARRAY<T> | no |
//! | `EARLIEST_BY_OFFSET`, `LATEST_BY_OFFSET` | T [, INT n] [, BOOLEAN ignoreNulls] | T, or ARRAY<T> with n | no |
//!
//! ksqlDB's test-only UDAFs (`TEST_UDAF`, `MULTI_ARG`, `FOUR_ARG`,
//! `FIVE_ARG`, `VAR_ARG`, `GENERIC_VAR_ARG`) are fixtures in
//! [`fixtures`]; see [`TEST_FIXTURES`].

mod collect;
mod attr;
mod fixtures;
mod numeric;
mod offset;

use std::cmp::Ordering;

use super::Udaf;
use crate::types::SqlType;
use crate::value::Value;

/// Names of the aggregate functions that can undo a value, so that they
/// can aggregate a table (ksqlDB's `TableUdaf`s). Using any other on a
/// table source is an error ("The aggregation functions … cannot be
/// applied to a table source, only to a stream source.").
pub const TABLE_AGGREGATES: &[&str] = &[
    "AVG",
    "COLLECT_LIST",
    "CORRELATION",
    "COUNT",
    "HISTOGRAM",
    "STDDEV_SAMP",
    "STDDEV_SAMPLE",
    "SUM",
    "SUM_LIST",
    "TEST_UDAF",
];

/// Names of the aggregate functions whose intermediate state is a
/// STRUCT, ARRAY or MAP; ksqlDB rejects them with value formats that
/// cannot hold those (DELIMITED, KAFKA): "One of the functions used in the
/// statement has an intermediate type that the value format can not
/// handle. Please remove the function or change the format."
pub const COMPLEX_INTERMEDIATE: &[&str] = &[
    "AVG",
    "COLLECT_LIST",
    "COLLECT_SET",
    "CORRELATION",
    "COUNT_DISTINCT",
    "EARLIEST_BY_OFFSET",
    "GENERIC_VAR_ARG",
    "HISTOGRAM",
    "LATEST_BY_OFFSET",
    "STDDEV_SAMP",
    "STDDEV_SAMPLE",
    "TOPK",
    "TOPKDISTINCT",
];

/// Names of the aggregates that exist only because ksqlDB's conformance
/// tests load them from its test classpath; they are not part of ksqlDB's
/// documented library.
pub const TEST_FIXTURES: &[&str] = &["FIVE_ARG", "FOUR_ARG", "GENERIC_VAR_ARG", "MULTI_ARG", "TEST_UDAF", "VAR_ARG"];

/// Whether the named aggregate can aggregate a table (it can undo).
pub fn supports_tables(name: &str) -> bool {
    TABLE_AGGREGATES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Whether the named aggregate keeps a STRUCT/ARRAY/MAP intermediate state.
pub fn has_complex_intermediate(name: &str) -> bool {
    COMPLEX_INTERMEDIATE.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Every built-in aggregate function, plus ksqlDB's test fixtures (see
/// [`TEST_FIXTURES`]).
pub fn all() -> Vec<Udaf> {
    let mut v = numeric::all();
    v.extend(collect::all());
    v.extend(offset::all());
    v.extend(fixtures::all());
    v.extend(attr::all());
    v
}

/// ksqlDB's message for argument types no overload takes.
pub(crate) fn reject(name: &str, args: &[SqlType]) -> String {
    let list: Vec<String> = args.iter().map(ToString::to_string).collect();
    format!("Function '{name}' does not accept parameters ({}).", list.join(", "))
}

/// Whether `t` is a type MIN, MAX and TOPK can order.
pub(crate) fn is_orderable(t: &SqlType) -> bool {
    matches!(
        t,
        SqlType::Int
            | SqlType::Bigint
            | SqlType::Double
            | SqlType::Decimal { .. }
            | SqlType::String
            | SqlType::Bytes
            | SqlType::Date
            | SqlType::Time
            | SqlType::Timestamp
    )
}

/// Orders two non-NULL values of one type the way ksqlDB (Java) does:
/// numbers numerically (doubles by `Double.compareTo`), strings by UTF-16
/// code units, bytes as signed bytes. NULL sorts first; values of
/// unrelated types compare equal.
pub(crate) fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Boolean(x), Value::Boolean(y)) => x.cmp(y),
        (Value::Double(x), Value::Double(y)) => java_double_cmp(*x, *y),
        (Value::Decimal(x, sx), Value::Decimal(y, sy)) => decimal_cmp(*x, *sx, *y, *sy),
        (Value::String(x), Value::String(y)) => x.encode_utf16().cmp(y.encode_utf16()),
        (Value::Bytes(x), Value::Bytes(y)) => x.iter().map(|&b| b as i8).cmp(y.iter().map(|&b| b as i8)),
        (Value::Date(x), Value::Date(y)) | (Value::Time(x), Value::Time(y)) => x.cmp(y),
        (Value::Timestamp(x), Value::Timestamp(y)) => x.cmp(y),
        _ => match (a.as_i64(), b.as_i64()) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => java_double_cmp(x, y),
                _ => Ordering::Equal,
            },
        },
    }
}

/// `Double.compare`: -0.0 < 0.0, NaN above everything and equal to itself.
fn java_double_cmp(x: f64, y: f64) -> Ordering {
    match (x.is_nan(), y.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => x.total_cmp(&y),
    }
}

fn decimal_cmp(x: i128, sx: i8, y: i128, sy: i8) -> Ordering {
    let s = sx.max(sy);
    let up = |u: i128, from: i8| 10i128.checked_pow((i32::from(s) - i32::from(from)) as u32).and_then(|m| u.checked_mul(m));
    match (up(x, sx), up(y, sy)) {
        (Some(a), Some(b)) => a.cmp(&b),
        _ => java_double_cmp(x as f64 / 10f64.powi(i32::from(sx)), y as f64 / 10f64.powi(i32::from(sy))),
    }
}

/// The `i`-th field of a state struct, or NULL.
pub(crate) fn field(state: &Value, i: usize) -> &Value {
    match state {
        Value::Struct(fields) => fields.get(i).map_or(&Value::Null, |(_, v)| v),
        _ => &Value::Null,
    }
}

/// A state struct from named values.
pub(crate) fn state_struct(fields: Vec<(&str, Value)>) -> Value {
    Value::Struct(fields.into_iter().map(|(n, v)| (n.to_string(), v)).collect())
}

/// The items of an ARRAY state value (empty for anything else).
pub(crate) fn items(v: Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items,
        _ => Vec::new(),
    }
}

/// An integer argument (INT or BIGINT), for literal arguments such as
/// TOPK's `k`.
pub(crate) fn int_arg(args: &[Value], i: usize) -> Option<i64> {
    args.get(i).and_then(Value::as_i64)
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers for the aggregate tests.

    use crate::functions::{AggState, Udaf};
    use crate::types::SqlType;
    use crate::value::Value;
    use crate::value_codec;

    /// The named aggregate.
    pub fn udaf(name: &str) -> Udaf {
        super::all().into_iter().find(|u| u.name == name).unwrap_or_else(|| panic!("no aggregate {name}"))
    }

    /// A fresh state of `name` for `types`, after checking the types are
    /// accepted.
    pub fn state(name: &str, types: &[SqlType]) -> Box<dyn AggState> {
        let u = udaf(name);
        (u.return_type)(types).unwrap();
        (u.init)(types)
    }

    /// Adds each row and collects the result after each, going through the
    /// codec between rows as the state store does.
    pub fn run(name: &str, types: &[SqlType], rows: Vec<Vec<Value>>) -> Vec<Value> {
        let u = udaf(name);
        let mut out = Vec::new();
        let mut bytes = value_codec::encode(&(u.init)(types).to_state());
        for row in rows {
            let mut s = (u.init)(types);
            s.load(value_codec::decode(&bytes).unwrap());
            s.add(&row);
            out.push(s.result());
            bytes = value_codec::encode(&s.to_state());
        }
        out
    }

    /// The return type of `name` for `types`.
    pub fn ret(name: &str, types: &[SqlType]) -> Result<SqlType, String> {
        (udaf(name).return_type)(types)
    }

    /// Shorthand for a one-argument row.
    pub fn one(v: Value) -> Vec<Value> {
        vec![v]
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn names_are_unique_and_upper_case() {
        let mut names: Vec<&str> = all().iter().map(|u| u.name).collect();
        assert!(names.iter().all(|n| n.chars().all(|c| !c.is_ascii_lowercase())));
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(n, names.len());
        for t in TABLE_AGGREGATES.iter().chain(COMPLEX_INTERMEDIATE).chain(TEST_FIXTURES) {
            assert!(names.contains(t), "{t} is listed but not defined");
        }
    }

    #[test]
    fn only_table_aggregates_undo() {
        for u in all() {
            let types: Vec<SqlType> = match u.name {
                "CORRELATION" => vec![SqlType::Double, SqlType::Double],
                "SUM_LIST" => vec![SqlType::Array(Box::new(SqlType::Int))],
                "HISTOGRAM" => vec![SqlType::String],
                "TOPK" | "TOPKDISTINCT" => vec![SqlType::Int, SqlType::Int],
                "MULTI_ARG" => vec![SqlType::Bigint, SqlType::String, SqlType::Int],
                "FOUR_ARG" => vec![SqlType::Bigint, SqlType::String, SqlType::String, SqlType::String, SqlType::Int],
                "FIVE_ARG" => {
                    vec![SqlType::Bigint, SqlType::String, SqlType::String, SqlType::String, SqlType::Int, SqlType::Int]
                }
                "VAR_ARG" => vec![SqlType::Bigint],
                "GENERIC_VAR_ARG" => vec![SqlType::Int, SqlType::Int],
                _ => vec![SqlType::Int],
            };
            (u.return_type)(&types).unwrap_or_else(|e| panic!("{}: {e}", u.name));
            let mut s = (u.init)(&types);
            let undone = s.retract(&vec![Value::Null; types.len()]);
            assert_eq!(undone, supports_tables(u.name), "{}", u.name);
        }
    }

    #[test]
    fn java_ordering() {
        assert_eq!(compare(&Value::Double(-0.0), &Value::Double(0.0)), Ordering::Less);
        assert_eq!(compare(&Value::Double(f64::NAN), &Value::Double(f64::INFINITY)), Ordering::Greater);
        assert_eq!(compare(&Value::Decimal(510, 2), &Value::Decimal(51, 1)), Ordering::Equal);
        assert_eq!(compare(&Value::Decimal(-1012, 2), &Value::Decimal(0, 2)), Ordering::Less);
        // Java compares bytes as signed.
        assert_eq!(compare(&Value::Bytes(vec![0x80]), &Value::Bytes(vec![0x7f])), Ordering::Less);
        // UTF-16 order: U+FFFD sorts after a supplementary character.
        assert_eq!(compare(&Value::String("\u{fffd}".into()), &Value::String("\u{1f600}".into())), Ordering::Greater);
        assert_eq!(compare(&Value::Int(3), &Value::Bigint(2)), Ordering::Greater);
    }

    #[test]
    fn rejection_wording() {
        assert_eq!(
            reject("VAR_ARG", &[SqlType::Bigint, SqlType::Int]),
            "Function 'VAR_ARG' does not accept parameters (BIGINT, INTEGER)."
        );
        assert_eq!(ret("SUM", &[SqlType::String]), Err("Function 'SUM' does not accept parameters (STRING).".into()));
    }
}
