//! ksqlDB's test-only UDAFs, which its conformance tests load from the
//! test classpath. Their behaviour here is what those tests pin down:
//!
//! * `TEST_UDAF(x)`: the sum of INT, BIGINT or DOUBLE values, or the
//!   field-wise sum of a struct of numbers; can undo.
//! * `MULTI_ARG(BIGINT, STRING, INT init, STRING…)`,
//!   `FOUR_ARG(BIGINT, STRING, STRING, STRING, INT init, STRING…)`,
//!   `FIVE_ARG(BIGINT, STRING, STRING, STRING, INT, INT init, STRING…)`:
//!   BIGINT; starts at `init` plus the lengths of the trailing strings, then
//!   adds every row's numbers and string lengths (NULL adds nothing).
//! * `VAR_ARG(BIGINT, STRING…)`: BIGINT; the sum of the numbers and the
//!   string lengths of every row.
//! * `GENERIC_VAR_ARG(T, INT, U…)`: ARRAY<T>; collects the first argument
//!   of every row in which no argument is NULL. The trailing arguments must
//!   share one type.

use super::{items, reject};
use crate::functions::{AggState, Udaf};
use crate::types::SqlType;
use crate::value::Value;

/// The test-only aggregates.
pub(super) fn all() -> Vec<Udaf> {
    vec![
        Udaf {
            name: "TEST_UDAF",
            description: "Test fixture: sums numbers, or structs of numbers field by field.",
            return_type: test_udaf_type,
            init: |t| Box::new(TestSum(zero_of(t.first().unwrap_or(&SqlType::Bigint)))),
        },
        Udaf {
            name: "MULTI_ARG",
            description: "Test fixture: sums numbers and string lengths, with an initial value.",
            return_type: |t| columns_type("MULTI_ARG", &[Col::Long, Col::Str], t),
            init: |_| Box::new(Lengths { columns: 2, has_init: true, total: None }),
        },
        Udaf {
            name: "FOUR_ARG",
            description: "Test fixture: sums numbers and string lengths, with an initial value.",
            return_type: |t| columns_type("FOUR_ARG", &[Col::Long, Col::Str, Col::Str, Col::Str], t),
            init: |_| Box::new(Lengths { columns: 4, has_init: true, total: None }),
        },
        Udaf {
            name: "FIVE_ARG",
            description: "Test fixture: sums numbers and string lengths, with an initial value.",
            return_type: |t| columns_type("FIVE_ARG", &[Col::Long, Col::Str, Col::Str, Col::Str, Col::Int], t),
            init: |_| Box::new(Lengths { columns: 5, has_init: true, total: None }),
        },
        Udaf {
            name: "VAR_ARG",
            description: "Test fixture: sums a number and the lengths of any number of strings.",
            return_type: |t| match t {
                [first, rest @ ..] if is_long(first) && rest.iter().all(|r| *r == SqlType::String) => {
                    Ok(SqlType::Bigint)
                }
                _ => Err(reject("VAR_ARG", t)),
            },
            init: |t| Box::new(Lengths { columns: t.len(), has_init: false, total: None }),
        },
        Udaf {
            name: "GENERIC_VAR_ARG",
            description: "Test fixture: collects the first argument of rows with no NULL argument.",
            return_type: |t| match t {
                [first, SqlType::Int, rest @ ..] if rest.iter().all(|r| same_kind(r, &rest[0])) => {
                    Ok(SqlType::Array(Box::new(first.clone())))
                }
                _ => Err(reject("GENERIC_VAR_ARG", t)),
            },
            init: |_| Box::new(AllPresent(Vec::new())),
        },
    ]
}

fn is_long(t: &SqlType) -> bool {
    t.is_integer()
}

fn same_kind(a: &SqlType, b: &SqlType) -> bool {
    matches!((a, b), (SqlType::Decimal { .. }, SqlType::Decimal { .. })) || a == b
}

fn test_udaf_type(t: &[SqlType]) -> Result<SqlType, String> {
    match t {
        [x @ (SqlType::Int | SqlType::Bigint | SqlType::Double)] => Ok(x.clone()),
        [x @ SqlType::Struct(fields)]
            if fields.iter().all(|(_, f)| matches!(f, SqlType::Int | SqlType::Bigint | SqlType::Double)) =>
        {
            Ok(x.clone())
        }
        _ => Err(reject("TEST_UDAF", t)),
    }
}

fn zero_of(t: &SqlType) -> Value {
    match t {
        SqlType::Int => Value::Int(0),
        SqlType::Double => Value::Double(0.0),
        SqlType::Struct(fields) => Value::Struct(fields.iter().map(|(n, f)| (n.clone(), zero_of(f))).collect()),
        _ => Value::Bigint(0),
    }
}

/// Adds (or with `neg`, subtracts) `x` into `acc`, keeping `acc`'s type.
fn add_into(acc: &mut Value, x: &Value, neg: bool) {
    match acc {
        Value::Int(a) => {
            if let Some(b) = x.as_i64() {
                let b = b as i32;
                *a = if neg { a.wrapping_sub(b) } else { a.wrapping_add(b) };
            }
        }
        Value::Bigint(a) => {
            if let Some(b) = x.as_i64() {
                *a = if neg { a.wrapping_sub(b) } else { a.wrapping_add(b) };
            }
        }
        Value::Double(a) => {
            if let Some(b) = x.as_f64() {
                *a = if neg { *a - b } else { *a + b };
            }
        }
        Value::Struct(fields) => {
            if let Value::Struct(xs) = x {
                for (name, f) in fields.iter_mut() {
                    if let Some((_, v)) = xs.iter().find(|(n, _)| n == name) {
                        add_into(f, v, neg);
                    }
                }
            }
        }
        _ => {}
    }
}

/// TEST_UDAF.
#[derive(Debug)]
struct TestSum(Value);

impl AggState for TestSum {
    fn add(&mut self, args: &[Value]) {
        if let Some(x) = args.first() {
            add_into(&mut self.0, x, false);
        }
    }
    fn retract(&mut self, args: &[Value]) -> bool {
        if let Some(x) = args.first() {
            add_into(&mut self.0, x, true);
        }
        true
    }
    fn merge(&mut self, other: Value) {
        add_into(&mut self.0, &other, false);
    }
    fn result(&self) -> Value {
        self.0.clone()
    }
    fn to_state(&self) -> Value {
        self.0.clone()
    }
    fn load(&mut self, state: Value) {
        if !state.is_null() {
            self.0 = state;
        }
    }
}

/// A fixed argument of the MULTI_ARG family.
#[derive(Clone, Copy)]
enum Col {
    Long,
    Int,
    Str,
}

/// `columns`, then an INT initial value, then any number of STRINGs.
fn columns_type(name: &str, columns: &[Col], t: &[SqlType]) -> Result<SqlType, String> {
    let ok = t.len() > columns.len()
        && columns.iter().zip(t).all(|(c, ty)| match c {
            Col::Long => ty.is_integer(),
            Col::Int => *ty == SqlType::Int,
            Col::Str => *ty == SqlType::String,
        })
        && t[columns.len()] == SqlType::Int
        && t[columns.len() + 1..].iter().all(|ty| *ty == SqlType::String);
    if ok {
        Ok(SqlType::Bigint)
    } else {
        Err(reject(name, t))
    }
}

fn contribution(v: &Value) -> i64 {
    match v {
        Value::String(s) => s.chars().count() as i64,
        other => other.as_i64().unwrap_or(0),
    }
}

/// MULTI_ARG, FOUR_ARG, FIVE_ARG and VAR_ARG.
#[derive(Debug)]
struct Lengths {
    /// How many leading arguments are per-row columns.
    columns: usize,
    /// Whether an INT initial value and trailing strings follow them.
    has_init: bool,
    /// The running total; `None` until the first row sets the initial value.
    total: Option<i64>,
}

impl AggState for Lengths {
    fn add(&mut self, args: &[Value]) {
        let split = self.columns.min(args.len());
        let (cols, rest) = args.split_at(split);
        let start = if self.has_init { rest.iter().map(contribution).fold(0i64, i64::wrapping_add) } else { 0 };
        let total = self.total.unwrap_or(start);
        let vars: &[Value] = if self.has_init { &[] } else { rest };
        let row = cols.iter().chain(vars).map(contribution).fold(0i64, i64::wrapping_add);
        self.total = Some(total.wrapping_add(row));
    }
    fn merge(&mut self, other: Value) {
        if let Some(o) = other.as_i64() {
            self.total = Some(self.total.map_or(o, |t| t.wrapping_add(o)));
        }
    }
    fn result(&self) -> Value {
        self.total.map_or(Value::Null, Value::Bigint)
    }
    fn to_state(&self) -> Value {
        self.result()
    }
    fn load(&mut self, state: Value) {
        self.total = state.as_i64();
    }
}

/// GENERIC_VAR_ARG.
#[derive(Debug)]
struct AllPresent(Vec<Value>);

impl AggState for AllPresent {
    fn add(&mut self, args: &[Value]) {
        if !args.is_empty() && args.iter().all(|a| !a.is_null()) {
            self.0.push(args[0].clone());
        }
    }
    fn merge(&mut self, other: Value) {
        self.0.extend(items(other));
    }
    fn result(&self) -> Value {
        Value::Array(self.0.clone())
    }
    fn to_state(&self) -> Value {
        self.result()
    }
    fn load(&mut self, state: Value) {
        self.0 = items(state);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::types::SqlType;
    use crate::value::Value;

    fn s(x: Option<&str>) -> Value {
        x.map_or(Value::Null, |x| Value::String(x.into()))
    }
    fn b(x: Option<i64>) -> Value {
        x.map_or(Value::Null, Value::Bigint)
    }
    fn lit(xs: &[&str]) -> Vec<Value> {
        xs.iter().map(|x| Value::String((*x).into())).collect()
    }

    /// multi-arg-udaf.json, key 0.
    const KEY0: [(Option<i64>, Option<&str>); 4] =
        [(Some(6), Some("hi")), (None, Some("hello")), (Some(5), None), (Some(21), Some("aggregate"))];

    #[test]
    fn multi_arg() {
        let t = [SqlType::Bigint, SqlType::String, SqlType::Int, SqlType::String, SqlType::String, SqlType::String];
        assert_eq!(ret("MULTI_ARG", &t), Ok(SqlType::Bigint));
        let rows = KEY0
            .iter()
            .map(|(f, sc)| [vec![b(*f), s(*sc), Value::Int(5)], lit(&["10", "20", "3"])].concat())
            .collect();
        assert_eq!(run("MULTI_ARG", &t, rows), [18, 23, 28, 58].map(Value::Bigint).to_vec());
        let rows = KEY0.iter().map(|(f, sc)| vec![b(*f), s(*sc), Value::Int(5)]).collect();
        assert_eq!(run("MULTI_ARG", &t[..3], rows), [13, 18, 23, 53].map(Value::Bigint).to_vec());
        assert_eq!(
            ret("MULTI_ARG", &[SqlType::Bigint, SqlType::String]),
            Err("Function 'MULTI_ARG' does not accept parameters (BIGINT, STRING).".into())
        );
        assert!(ret("MULTI_ARG", &[SqlType::Bigint, SqlType::Int, SqlType::String, SqlType::String, SqlType::String]).is_err());
        assert!(ret("MULTI_ARG", &[SqlType::String, SqlType::Int, SqlType::String]).is_err());
    }

    #[test]
    fn five_arg() {
        let t = [
            SqlType::Bigint,
            SqlType::String,
            SqlType::String,
            SqlType::String,
            SqlType::Int,
            SqlType::Int,
            SqlType::String,
            SqlType::String,
            SqlType::String,
        ];
        let row = [vec![b(Some(6)), s(Some("hi")), s(Some("apples")), Value::Null, Value::Int(9), Value::Int(5)], lit(&["10", "20", "3"])].concat();
        assert_eq!(run("FIVE_ARG", &t, vec![row]), vec![Value::Bigint(33)]);
    }

    #[test]
    fn var_arg() {
        let t = [SqlType::Bigint, SqlType::String, SqlType::String, SqlType::String];
        let rows = KEY0.iter().map(|(f, sc)| vec![b(*f), s(*sc), s(Some("hello")), s(Some("world"))]).collect();
        assert_eq!(run("VAR_ARG", &t, rows), [18, 33, 48, 88].map(Value::Bigint).to_vec());
        let rows = KEY0.iter().map(|(f, _)| vec![b(*f)]).collect();
        assert_eq!(run("VAR_ARG", &t[..1], rows), [6, 6, 11, 32].map(Value::Bigint).to_vec());
        assert_eq!(
            ret("VAR_ARG", &[SqlType::Bigint, SqlType::Int]),
            Err("Function 'VAR_ARG' does not accept parameters (BIGINT, INTEGER).".into())
        );
    }

    #[test]
    fn generic_var_arg() {
        let dec = SqlType::Decimal { precision: 5, scale: 1 };
        let t = [dec.clone(), SqlType::Int, SqlType::Double, SqlType::Double, SqlType::Double];
        assert_eq!(ret("GENERIC_VAR_ARG", &t), Ok(SqlType::Array(Box::new(dec.clone()))));
        let bad = [dec, SqlType::Int, SqlType::Double, SqlType::String, SqlType::Double];
        assert_eq!(
            ret("GENERIC_VAR_ARG", &bad),
            Err("Function 'GENERIC_VAR_ARG' does not accept parameters (DECIMAL(5, 1), INTEGER, DOUBLE, STRING, DOUBLE).".into())
        );
        let row = |f: Option<i128>, n: Option<i32>, x: Option<f64>| {
            vec![f.map_or(Value::Null, |u| Value::Decimal(u, 1)), n.map_or(Value::Null, Value::Int), x.map_or(Value::Null, Value::Double), Value::Double(1.0), Value::Double(2.0)]
        };
        let got = run("GENERIC_VAR_ARG", &t, vec![row(Some(61), Some(5), Some(1.0)), row(None, Some(5), Some(1.0)), row(Some(51), None, Some(1.0)), row(Some(218), Some(10), None), row(Some(7), Some(1), Some(0.0))]);
        assert_eq!(got[4], Value::Array(vec![Value::Decimal(61, 1), Value::Decimal(7, 1)]));
    }

    #[test]
    fn test_udaf_sums_and_undoes() {
        let rows = [-2147483647, 5, 2000, 100].iter().map(|x| one(Value::Int(*x))).collect();
        assert_eq!(run("TEST_UDAF", &[SqlType::Int], rows), [-2147483647, -2147483642, -2147481642, -2147481542].map(Value::Int).to_vec());
        let mut st = state("TEST_UDAF", &[SqlType::Bigint]);
        for x in [2, 3, 1] {
            st.add(&[Value::Bigint(x)]);
        }
        assert!(st.retract(&[Value::Bigint(1)]));
        assert_eq!(st.result(), Value::Bigint(5));
        let t = [SqlType::Struct(vec![("A".into(), SqlType::Int), ("B".into(), SqlType::Int)])];
        let v = |a: i32, b2: i32| Value::Struct(vec![("A".into(), Value::Int(a)), ("B".into(), Value::Int(b2))]);
        assert_eq!(run("TEST_UDAF", &t, vec![one(v(1, 2)), one(v(2, 3))]), vec![v(1, 2), v(3, 5)]);
    }
}
