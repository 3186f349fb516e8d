//! Counting and arithmetic aggregates: COUNT, COUNT_DISTINCT, SUM,
//! SUM_LIST, AVG, MIN, MAX, STDDEV_SAMP, STDDEV_SAMPLE and CORRELATION.

use super::{compare, field, is_orderable, items, reject, state_struct};
use crate::functions::{AggState, Udaf};
use crate::types::SqlType;
use crate::value::{rescale, Value};

/// The numeric aggregates.
pub(super) fn all() -> Vec<Udaf> {
    vec![
        Udaf {
            name: "COUNT",
            description: "Counts the rows (with no argument) or the non-NULL values of the argument.",
            return_type: count_type,
            init: |_| Box::new(Count(0)),
        },
        Udaf {
            name: "COUNT_DISTINCT",
            description: "Counts the distinct non-NULL values of the argument.",
            return_type: count_distinct_type,
            init: |_| Box::new(CountDistinct(Vec::new())),
        },
        Udaf {
            name: "SUM",
            description: "Sums the non-NULL values; 0 when there are none.",
            return_type: sum_type,
            init: |t| Box::new(Sum::new(t.first().map_or(Num::Bigint, Num::of))),
        },
        Udaf {
            name: "SUM_LIST",
            description: "Sums the non-NULL elements of every array.",
            return_type: sum_list_type,
            init: |t| {
                let kind = match t.first() {
                    Some(SqlType::Array(e)) => Num::of(e),
                    _ => Num::Bigint,
                };
                Box::new(SumList(Sum::new(kind)))
            },
        },
        Udaf {
            name: "AVG",
            description: "Averages the non-NULL values, as a DOUBLE.",
            return_type: |t| one_numeric("AVG", t).map(|_| SqlType::Double),
            init: |t| Box::new(Avg::new(t.first().map_or(Num::Double, Num::of))),
        },
        Udaf {
            name: "MIN",
            description: "The smallest non-NULL value.",
            return_type: |t| extreme_type("MIN", t),
            init: |_| Box::new(Extreme { max: false, value: Value::Null }),
        },
        Udaf {
            name: "MAX",
            description: "The largest non-NULL value.",
            return_type: |t| extreme_type("MAX", t),
            init: |_| Box::new(Extreme { max: true, value: Value::Null }),
        },
        Udaf {
            name: "STDDEV_SAMP",
            description: "The sample variance of the non-NULL values (ksqlDB's STDDEV_SAMP returns the variance).",
            return_type: |t| one_numeric("STDDEV_SAMP", t).map(|_| SqlType::Double),
            init: |_| Box::new(StdDev { sqrt: false, count: 0, sum: 0.0, m2: 0.0 }),
        },
        Udaf {
            name: "STDDEV_SAMPLE",
            description: "The sample standard deviation of the non-NULL values.",
            return_type: |t| one_numeric("STDDEV_SAMPLE", t).map(|_| SqlType::Double),
            init: |_| Box::new(StdDev { sqrt: true, count: 0, sum: 0.0, m2: 0.0 }),
        },
        Udaf {
            name: "CORRELATION",
            description: "The Pearson correlation coefficient of two columns (rows where either is NULL are skipped).",
            return_type: |t| {
                if t.len() == 2 && t.iter().all(SqlType::is_numeric) {
                    Ok(SqlType::Double)
                } else {
                    Err(reject("CORRELATION", t))
                }
            },
            init: |_| Box::new(Correlation::default()),
        },
    ]
}

fn count_type(t: &[SqlType]) -> Result<SqlType, String> {
    if t.len() <= 1 {
        Ok(SqlType::Bigint)
    } else {
        Err(reject("COUNT", t))
    }
}

fn count_distinct_type(t: &[SqlType]) -> Result<SqlType, String> {
    if t.len() == 1 {
        Ok(SqlType::Bigint)
    } else {
        Err(reject("COUNT_DISTINCT", t))
    }
}

fn one_numeric<'a>(name: &str, t: &'a [SqlType]) -> Result<&'a SqlType, String> {
    match t {
        [x] if x.is_numeric() => Ok(x),
        _ => Err(reject(name, t)),
    }
}

fn sum_type(t: &[SqlType]) -> Result<SqlType, String> {
    one_numeric("SUM", t).cloned()
}

fn sum_list_type(t: &[SqlType]) -> Result<SqlType, String> {
    match t {
        [SqlType::Array(e)] if matches!(**e, SqlType::Int | SqlType::Bigint | SqlType::Double) => Ok((**e).clone()),
        _ => Err(reject("SUM_LIST", t)),
    }
}

fn extreme_type(name: &str, t: &[SqlType]) -> Result<SqlType, String> {
    match t {
        [x] if is_orderable(x) => Ok(x.clone()),
        _ => Err(reject(name, t)),
    }
}

/// The numeric type an arithmetic aggregate works in.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Num {
    Int,
    Bigint,
    Double,
    Decimal { precision: u8, scale: i8 },
}

impl Num {
    fn of(t: &SqlType) -> Num {
        match t {
            SqlType::Int => Num::Int,
            SqlType::Bigint => Num::Bigint,
            SqlType::Decimal { precision, scale } => Num::Decimal { precision: *precision, scale: *scale },
            _ => Num::Double,
        }
    }
}

/// COUNT: the number of rows, or of non-NULL argument values.
#[derive(Debug)]
struct Count(i64);

impl AggState for Count {
    fn add(&mut self, args: &[Value]) {
        if args.first().is_none_or(|v| !v.is_null()) {
            self.0 += 1;
        }
    }
    fn retract(&mut self, args: &[Value]) -> bool {
        if args.first().is_none_or(|v| !v.is_null()) {
            self.0 -= 1;
        }
        true
    }
    fn merge(&mut self, other: Value) {
        self.0 += other.as_i64().unwrap_or(0);
    }
    fn result(&self) -> Value {
        Value::Bigint(self.0)
    }
    fn to_state(&self) -> Value {
        Value::Bigint(self.0)
    }
    fn load(&mut self, state: Value) {
        self.0 = state.as_i64().unwrap_or(0);
    }
}

/// COUNT_DISTINCT: the distinct values seen (exact, where ksqlDB uses an
/// approximate sketch; the two agree on small sets).
#[derive(Debug)]
struct CountDistinct(Vec<Value>);

impl CountDistinct {
    fn insert(&mut self, v: Value) {
        if let Err(at) = self.0.binary_search_by(|x| total_order(x, &v)) {
            self.0.insert(at, v);
        }
    }
}

/// A total order over any values (ordering by type first), for keeping
/// distinct values sorted.
fn total_order(a: &Value, b: &Value) -> std::cmp::Ordering {
    let rank = |v: &Value| match v {
        Value::Null => 0,
        Value::Boolean(_) => 1,
        Value::Int(_) | Value::Bigint(_) => 2,
        Value::Double(_) => 3,
        Value::Decimal(..) => 4,
        Value::String(_) => 5,
        Value::Bytes(_) => 6,
        Value::Date(_) => 7,
        Value::Time(_) => 8,
        Value::Timestamp(_) => 9,
        Value::Array(_) => 10,
        Value::Map(_) => 11,
        Value::Struct(_) => 12,
    };
    rank(a).cmp(&rank(b)).then_with(|| match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len().cmp(&y.len()).then_with(|| {
                x.iter().zip(y).map(|(p, q)| total_order(p, q)).find(|o| o.is_ne()).unwrap_or(std::cmp::Ordering::Equal)
            })
        }
        (Value::Map(_), Value::Map(_)) | (Value::Struct(_), Value::Struct(_)) => {
            format!("{a:?}").cmp(&format!("{b:?}"))
        }
        _ => compare(a, b),
    })
}

impl AggState for CountDistinct {
    fn add(&mut self, args: &[Value]) {
        if let Some(v) = args.first().filter(|v| !v.is_null()) {
            self.insert(v.clone());
        }
    }
    fn merge(&mut self, other: Value) {
        for v in items(other) {
            self.insert(v);
        }
    }
    fn result(&self) -> Value {
        Value::Bigint(self.0.len() as i64)
    }
    fn to_state(&self) -> Value {
        Value::Array(self.0.clone())
    }
    fn load(&mut self, state: Value) {
        self.0.clear();
        for v in items(state) {
            self.insert(v);
        }
    }
}

/// A running sum in the argument's type. INT and BIGINT wrap on overflow
/// as Java does; a DECIMAL sum that no longer fits the argument's
/// precision is NULL (ksqlDB fails the query with "Numeric field
/// overflow").
#[derive(Debug)]
struct Sum {
    kind: Num,
    int: i64,
    dbl: f64,
    dec: i128,
}

impl Sum {
    fn new(kind: Num) -> Sum {
        Sum { kind, int: 0, dbl: 0.0, dec: 0 }
    }

    /// Adds (`neg` false) or subtracts one value; NULL is ignored.
    fn apply(&mut self, v: &Value, neg: bool) {
        match self.kind {
            Num::Int => {
                if let Some(x) = v.as_i64() {
                    let x = x as i32;
                    let cur = self.int as i32;
                    self.int = i64::from(if neg { cur.wrapping_sub(x) } else { cur.wrapping_add(x) });
                }
            }
            Num::Bigint => {
                if let Some(x) = v.as_i64() {
                    self.int = if neg { self.int.wrapping_sub(x) } else { self.int.wrapping_add(x) };
                }
            }
            Num::Double => {
                if let Some(x) = v.as_f64() {
                    self.dbl = if neg { self.dbl - x } else { self.dbl + x };
                }
            }
            Num::Decimal { scale, .. } => {
                let unscaled = match v {
                    Value::Decimal(u, s) => rescale(*u, *s, 38, scale),
                    Value::Int(_) | Value::Bigint(_) => v.as_i64().and_then(|i| rescale(i128::from(i), 0, 38, scale)),
                    _ => None,
                };
                if let Some(x) = unscaled {
                    self.dec = if neg { self.dec.saturating_sub(x) } else { self.dec.saturating_add(x) };
                }
            }
        }
    }

    fn result(&self) -> Value {
        match self.kind {
            Num::Int => Value::Int(self.int as i32),
            Num::Bigint => Value::Bigint(self.int),
            Num::Double => Value::Double(self.dbl),
            Num::Decimal { precision, scale } => {
                let fits = 10i128.checked_pow(u32::from(precision)).is_none_or(|limit| self.dec.abs() < limit);
                if fits {
                    Value::Decimal(self.dec, scale)
                } else {
                    Value::Null
                }
            }
        }
    }

    fn to_state(&self) -> Value {
        match self.kind {
            Num::Decimal { scale, .. } => Value::Decimal(self.dec, scale),
            _ => self.result(),
        }
    }

    fn load(&mut self, state: &Value) {
        *self = Sum::new(self.kind);
        self.apply(state, false);
    }
}

impl AggState for Sum {
    fn add(&mut self, args: &[Value]) {
        if let Some(v) = args.first() {
            self.apply(v, false);
        }
    }
    fn retract(&mut self, args: &[Value]) -> bool {
        if let Some(v) = args.first() {
            self.apply(v, true);
        }
        true
    }
    fn merge(&mut self, other: Value) {
        self.apply(&other, false);
    }
    fn result(&self) -> Value {
        Sum::result(self)
    }
    fn to_state(&self) -> Value {
        Sum::to_state(self)
    }
    fn load(&mut self, state: Value) {
        Sum::load(self, &state);
    }
}

/// SUM_LIST: a [`Sum`] over the elements of every array.
#[derive(Debug)]
struct SumList(Sum);

impl AggState for SumList {
    fn add(&mut self, args: &[Value]) {
        if let Some(Value::Array(xs)) = args.first() {
            for x in xs {
                self.0.apply(x, false);
            }
        }
    }
    fn retract(&mut self, args: &[Value]) -> bool {
        if let Some(Value::Array(xs)) = args.first() {
            for x in xs {
                self.0.apply(x, true);
            }
        }
        true
    }
    fn merge(&mut self, other: Value) {
        self.0.apply(&other, false);
    }
    fn result(&self) -> Value {
        self.0.result()
    }
    fn to_state(&self) -> Value {
        self.0.to_state()
    }
    fn load(&mut self, state: Value) {
        self.0.load(&state);
    }
}

/// AVG: sum and count of the non-NULL values. Integers are summed as a
/// (wrapping) BIGINT, everything else as a DOUBLE. No values: 0.0.
#[derive(Debug)]
struct Avg {
    sum: Sum,
    count: i64,
}

impl Avg {
    fn new(kind: Num) -> Avg {
        let kind = if matches!(kind, Num::Int | Num::Bigint) { Num::Bigint } else { Num::Double };
        Avg { sum: Sum::new(kind), count: 0 }
    }
}

impl AggState for Avg {
    fn add(&mut self, args: &[Value]) {
        if let Some(v) = args.first().filter(|v| !v.is_null()) {
            self.sum.apply(v, false);
            self.count += 1;
        }
    }
    fn retract(&mut self, args: &[Value]) -> bool {
        if let Some(v) = args.first().filter(|v| !v.is_null()) {
            self.sum.apply(v, true);
            self.count -= 1;
        }
        true
    }
    fn merge(&mut self, other: Value) {
        self.sum.apply(field(&other, 0), false);
        self.count += field(&other, 1).as_i64().unwrap_or(0);
    }
    fn result(&self) -> Value {
        if self.count == 0 {
            return Value::Double(0.0);
        }
        let sum = self.sum.result().as_f64().unwrap_or(0.0);
        Value::Double(sum / self.count as f64)
    }
    fn to_state(&self) -> Value {
        state_struct(vec![("SUM", self.sum.to_state()), ("COUNT", Value::Bigint(self.count))])
    }
    fn load(&mut self, state: Value) {
        self.sum.load(field(&state, 0));
        self.count = field(&state, 1).as_i64().unwrap_or(0);
    }
}

/// MIN or MAX of the non-NULL values; NULL when there are none.
#[derive(Debug)]
struct Extreme {
    max: bool,
    value: Value,
}

impl Extreme {
    fn offer(&mut self, v: &Value) {
        if v.is_null() {
            return;
        }
        let better = self.value.is_null() || {
            let o = compare(v, &self.value);
            if self.max {
                o.is_gt()
            } else {
                o.is_lt()
            }
        };
        if better {
            self.value = v.clone();
        }
    }
}

impl AggState for Extreme {
    fn add(&mut self, args: &[Value]) {
        if let Some(v) = args.first() {
            self.offer(v);
        }
    }
    fn merge(&mut self, other: Value) {
        self.offer(&other);
    }
    fn result(&self) -> Value {
        self.value.clone()
    }
    fn to_state(&self) -> Value {
        self.value.clone()
    }
    fn load(&mut self, state: Value) {
        self.value = state;
    }
}

/// STDDEV_SAMP / STDDEV_SAMPLE: count, sum and the running sum of squared
/// deviations (updated one value at a time). Fewer than two values: 0.0.
#[derive(Debug)]
struct StdDev {
    sqrt: bool,
    count: i64,
    sum: f64,
    m2: f64,
}

impl AggState for StdDev {
    fn add(&mut self, args: &[Value]) {
        let Some(x) = args.first().and_then(Value::as_f64) else { return };
        self.count += 1;
        self.sum += x;
        if self.count > 1 {
            let n = self.count as f64;
            let d = n * x - self.sum;
            self.m2 += d * d / (n * (n - 1.0));
        }
    }
    fn retract(&mut self, args: &[Value]) -> bool {
        let Some(x) = args.first().and_then(Value::as_f64) else { return true };
        if self.count <= 1 {
            self.count = 0;
            self.sum = 0.0;
            self.m2 = 0.0;
            return true;
        }
        let n = self.count as f64;
        let d = n * x - self.sum;
        self.m2 -= d * d / (n * (n - 1.0));
        self.sum -= x;
        self.count -= 1;
        true
    }
    fn merge(&mut self, other: Value) {
        let (nb, sb, mb) = (
            field(&other, 0).as_i64().unwrap_or(0),
            field(&other, 1).as_f64().unwrap_or(0.0),
            field(&other, 2).as_f64().unwrap_or(0.0),
        );
        if nb == 0 {
            return;
        }
        if self.count == 0 {
            (self.count, self.sum, self.m2) = (nb, sb, mb);
            return;
        }
        let (na, nbf) = (self.count as f64, nb as f64);
        let delta = sb / nbf - self.sum / na;
        self.m2 += mb + delta * delta * na * nbf / (na + nbf);
        self.count += nb;
        self.sum += sb;
    }
    fn result(&self) -> Value {
        if self.count < 2 {
            return Value::Double(0.0);
        }
        let variance = self.m2 / (self.count - 1) as f64;
        Value::Double(if self.sqrt { variance.sqrt() } else { variance })
    }
    fn to_state(&self) -> Value {
        state_struct(vec![
            ("COUNT", Value::Bigint(self.count)),
            ("SUM", Value::Double(self.sum)),
            ("M2", Value::Double(self.m2)),
        ])
    }
    fn load(&mut self, state: Value) {
        self.count = field(&state, 0).as_i64().unwrap_or(0);
        self.sum = field(&state, 1).as_f64().unwrap_or(0.0);
        self.m2 = field(&state, 2).as_f64().unwrap_or(0.0);
    }
}

/// CORRELATION: sums of x, y, x², y², xy and the count; the result is
/// `(n·Σxy − Σx·Σy) / √((n·Σx² − (Σx)²)(n·Σy² − (Σy)²))` (NaN with fewer
/// than two distinct points, as in ksqlDB).
#[derive(Debug, Default)]
struct Correlation {
    sums: [f64; 5],
    count: i64,
}

const CORRELATION_FIELDS: [&str; 5] = ["X_SUM", "Y_SUM", "X_SQUARED_SUM", "Y_SQUARED_SUM", "XY_SUM"];

impl Correlation {
    fn apply(&mut self, args: &[Value], sign: f64) {
        let (Some(x), Some(y)) = (args.first().and_then(Value::as_f64), args.get(1).and_then(Value::as_f64)) else {
            return;
        };
        for (s, d) in self.sums.iter_mut().zip([x, y, x * x, y * y, x * y]) {
            *s += sign * d;
        }
        self.count += sign as i64;
    }
}

impl AggState for Correlation {
    fn add(&mut self, args: &[Value]) {
        self.apply(args, 1.0);
    }
    fn retract(&mut self, args: &[Value]) -> bool {
        self.apply(args, -1.0);
        true
    }
    fn merge(&mut self, other: Value) {
        for (i, s) in self.sums.iter_mut().enumerate() {
            *s += field(&other, i).as_f64().unwrap_or(0.0);
        }
        self.count += field(&other, 5).as_i64().unwrap_or(0);
    }
    fn result(&self) -> Value {
        let [sx, sy, sxx, syy, sxy] = self.sums;
        let n = self.count as f64;
        let numerator = n * sxy - sx * sy;
        let denominator = ((n * sxx - sx * sx) * (n * syy - sy * sy)).sqrt();
        Value::Double(numerator / denominator)
    }
    fn to_state(&self) -> Value {
        let mut fields: Vec<(&str, Value)> =
            CORRELATION_FIELDS.iter().zip(self.sums).map(|(n, s)| (*n, Value::Double(s))).collect();
        fields.push(("COUNT", Value::Bigint(self.count)));
        state_struct(fields)
    }
    fn load(&mut self, state: Value) {
        *self = Correlation::default();
        self.merge(state);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::types::SqlType;
    use crate::value::Value;

    fn ints(xs: &[Option<i32>]) -> Vec<Vec<Value>> {
        xs.iter().map(|x| one(x.map_or(Value::Null, Value::Int))).collect()
    }

    fn doubles(xs: &[Option<f64>]) -> Vec<Vec<Value>> {
        xs.iter().map(|x| one(x.map_or(Value::Null, Value::Double))).collect()
    }

    fn d(xs: &[f64]) -> Vec<Value> {
        xs.iter().map(|x| Value::Double(*x)).collect()
    }

    #[test]
    fn count_counts_rows_or_non_null_values() {
        assert_eq!(ret("COUNT", &[]), Ok(SqlType::Bigint));
        assert_eq!(ret("COUNT", &[SqlType::String]), Ok(SqlType::Bigint));
        let got = run("COUNT", &[SqlType::Int], ints(&[Some(1), None, Some(3)]));
        assert_eq!(got, vec![Value::Bigint(1), Value::Bigint(1), Value::Bigint(2)]);
        let got = run("COUNT", &[], vec![vec![], vec![]]);
        assert_eq!(got, vec![Value::Bigint(1), Value::Bigint(2)]);
        // count.json "should count back to zero".
        let mut s = state("COUNT", &[]);
        s.add(&[]);
        s.add(&[]);
        assert!(s.retract(&[]));
        assert!(s.retract(&[]));
        assert_eq!(s.result(), Value::Bigint(0));
    }

    #[test]
    fn count_distinct_ignores_nulls() {
        let names = ["one", "two", "one", "two"].iter().map(|s| one(Value::String((*s).into())));
        let mut rows: Vec<Vec<Value>> = names.collect();
        rows.push(one(Value::Null));
        let got = run("COUNT_DISTINCT", &[SqlType::String], rows);
        assert_eq!(got, [1, 2, 2, 2, 2].map(Value::Bigint).to_vec());
    }

    #[test]
    fn sum_types_and_values() {
        assert_eq!(ret("SUM", &[SqlType::Int]), Ok(SqlType::Int));
        assert_eq!(
            ret("SUM", &[SqlType::Decimal { precision: 4, scale: 1 }]),
            Ok(SqlType::Decimal { precision: 4, scale: 1 })
        );
        assert!(ret("SUM", &[SqlType::String]).is_err());
        // sum.json "sum int".
        assert_eq!(run("SUM", &[SqlType::Int], ints(&[Some(0), Some(100)])), vec![Value::Int(0), Value::Int(100)]);
        // sum.json "sum double".
        assert_eq!(run("SUM", &[SqlType::Double], doubles(&[Some(500.9), Some(300.8)])), d(&[500.9, 801.7]));
        // "sum decimal with overflow": DECIMAL(4,1) overflows at 1202.5.
        let t = [SqlType::Decimal { precision: 4, scale: 1 }];
        let rows = [5009, 3008, 4008].iter().map(|u| one(Value::Decimal(*u, 1))).collect();
        assert_eq!(run("SUM", &t, rows), vec![Value::Decimal(5009, 1), Value::Decimal(8017, 1), Value::Null]);
        // "sum int left join of table": NULLs are ignored, an empty sum is 0.
        let mut s = state("SUM", &[SqlType::Int]);
        s.add(&[Value::Null]);
        assert_eq!(s.result(), Value::Int(0));
        s.add(&[Value::Int(5)]);
        assert!(s.retract(&[Value::Int(5)]));
        s.add(&[Value::Int(20)]);
        assert_eq!(s.result(), Value::Int(20));
        // Java int arithmetic wraps.
        assert_eq!(run("SUM", &[SqlType::Int], ints(&[Some(i32::MAX), Some(1)]))[1], Value::Int(i32::MIN));
    }

    #[test]
    fn sum_list_sums_elements() {
        let t = [SqlType::Array(Box::new(SqlType::Double))];
        assert_eq!(ret("SUM_LIST", &t), Ok(SqlType::Double));
        let rows = vec![
            one(Value::Array(d(&[1.0, 1.0]))),
            one(Value::Array(d(&[2.0, 2.0]))),
            one(Value::Array(d(&[922337203685.0, 1.0]))),
            one(Value::Array(vec![Value::Double(1.0), Value::Double(1.0), Value::Null])),
        ];
        assert_eq!(run("SUM_LIST", &t, rows), d(&[2.0, 6.0, 922337203692.0, 922337203694.0]));
    }

    #[test]
    fn avg_matches_average_udaf_json() {
        let got = run("AVG", &[SqlType::Int], ints(&[Some(1), Some(2), Some(2), None]));
        assert_eq!(got, d(&[1.0, 1.5, 1.6666666666666667, 1.6666666666666667]));
        let rows = [-1, i64::MAX, 1].iter().map(|x| one(Value::Bigint(*x))).collect();
        assert_eq!(run("AVG", &[SqlType::Bigint], rows), d(&[-1.0, 4.611686018427388e18, 3.0744573456182584e18]));
        let got = run("AVG", &[SqlType::Double], doubles(&[Some(-1.8), Some(9223372036854.775807), Some(100.2)]));
        assert_eq!(got, d(&[-1.8, 4.611686018426487E12, 3.074457345651058E12]));
        let got = run("AVG", &[SqlType::Double], doubles(&[Some(2.3), Some(-200000.6), Some(0.0)]));
        assert_eq!(got, d(&[2.3, -99999.15000000001, -66666.1]));
        // "average udaf with table".
        let mut s = state("AVG", &[SqlType::Int]);
        s.add(&[Value::Int(1)]);
        s.add(&[Value::Int(2)]);
        assert!(s.retract(&[Value::Int(1)]));
        s.add(&[Value::Null]);
        assert_eq!(s.result(), Value::Double(2.0));
        assert!(s.retract(&[Value::Null]));
        s.add(&[Value::Int(4)]);
        assert_eq!(s.result(), Value::Double(3.0));
    }

    #[test]
    fn min_max_over_many_types() {
        let got = run("MAX", &[SqlType::Int], ints(&[None, Some(-2147483647), Some(5), None, Some(2000), Some(100)]));
        assert_eq!(got, vec![Value::Null, Value::Int(-2147483647), Value::Int(5), Value::Int(5), Value::Int(2000), Value::Int(2000)]);
        let t = [SqlType::Decimal { precision: 4, scale: 2 }];
        let rows = [-1012, 0, 510, 2099, 1011].iter().map(|u| one(Value::Decimal(*u, 2))).collect();
        let got = run("MAX", &t, rows);
        assert_eq!(got, [-1012, 0, 510, 2099, 2099].iter().map(|u| Value::Decimal(*u, 2)).collect::<Vec<_>>());
        let rows = ["B", "A", "F", "D"].iter().map(|s| one(Value::String((*s).into()))).collect();
        let got = run("MIN", &[SqlType::String], rows);
        assert_eq!(got, ["B", "A", "A", "A"].iter().map(|s| Value::String((*s).into())).collect::<Vec<_>>());
        let rows = [1000, -1, 50].iter().map(|t| one(Value::Timestamp(*t))).collect();
        assert_eq!(run("MIN", &[SqlType::Timestamp], rows)[2], Value::Timestamp(-1));
        assert_eq!(ret("MAX", &[SqlType::Bytes]), Ok(SqlType::Bytes));
        assert!(ret("MAX", &[SqlType::Boolean]).is_err());
        assert!(ret("MIN", &[SqlType::Array(Box::new(SqlType::Int))]).is_err());
    }

    #[test]
    fn stddev_matches_standarddeviation_json() {
        let rows = ints(&[Some(0), Some(10), Some(7), Some(6)]);
        assert_eq!(run("STDDEV_SAMP", &[SqlType::Int], rows.clone()), d(&[0.0, 50.0, 26.333333333333332, 17.583333333333332]));
        assert_eq!(
            run("STDDEV_SAMPLE", &[SqlType::Int], rows),
            d(&[0.0, 7.0710678118654755, 5.131601439446884, 4.193248541803041])
        );
        let rows = [2147483648, 100, -2].iter().map(|x| one(Value::Bigint(*x))).collect::<Vec<_>>();
        assert_eq!(run("STDDEV_SAMP", &[SqlType::Bigint], rows.clone()), d(&[0.0, 2.3058427944653343e18, 1.5372286026580004e18]));
        assert_eq!(run("STDDEV_SAMPLE", &[SqlType::Bigint], rows), d(&[0.0, 1518500179.2773468, 1239850233.9629574]));
        let rows = doubles(&[Some(-1.8), Some(2.3), Some(100.2), None]);
        assert_eq!(run("STDDEV_SAMP", &[SqlType::Double], rows), d(&[0.0, 8.405, 3334.2033333333347, 3334.2033333333347]));
        let rows = doubles(&[Some(9223372036854.775), Some(300.8), Some(-200000.6), Some(0.0)]);
        assert_eq!(
            run("STDDEV_SAMPLE", &[SqlType::Double], rows),
            d(&[0.0, 6521908912453.693, 5325116385962.54, 4611686051710.689])
        );
        let rows = doubles(&[Some(10.0), Some(12.0), Some(13.0), Some(14.0), Some(16.0)]);
        assert_eq!(run("STDDEV_SAMP", &[SqlType::Double], rows), d(&[0.0, 2.0, 2.333333333333333, 2.9166666666666665, 5.0]));
    }

    #[test]
    fn stddev_undo_and_merge() {
        let mut a = state("STDDEV_SAMP", &[SqlType::Int]);
        for x in [0, 10, 7] {
            a.add(&[Value::Int(x)]);
        }
        assert!(a.retract(&[Value::Int(7)]));
        assert_eq!(a.result(), Value::Double(50.0));
        let mut b = state("STDDEV_SAMP", &[SqlType::Int]);
        b.add(&[Value::Int(7)]);
        b.add(&[Value::Int(6)]);
        a.merge(b.to_state());
        let Value::Double(v) = a.result() else { panic!() };
        assert!((v - 17.583333333333332).abs() < 1e-9);
    }

    #[test]
    fn correlation() {
        let t = [SqlType::Double, SqlType::Double];
        let mut s = state("CORRELATION", &t);
        for (x, y) in [(1.0, 2.0), (2.0, 4.0), (3.0, 6.5)] {
            s.add(&[Value::Double(x), Value::Double(y)]);
        }
        s.add(&[Value::Null, Value::Double(1.0)]);
        let Value::Double(r) = s.result() else { panic!() };
        assert!(r > 0.99 && r <= 1.0, "{r}");
        assert!(s.retract(&[Value::Double(3.0), Value::Double(6.5)]));
        assert_eq!(s.result(), Value::Double(1.0));
        assert!(ret("CORRELATION", &[SqlType::Double]).is_err());
    }
}
