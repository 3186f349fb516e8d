//! Aggregates that collect values: COLLECT_LIST, COLLECT_SET, HISTOGRAM,
//! TOPK and TOPKDISTINCT.

use super::{compare, field, int_arg, is_orderable, items, reject, state_struct};
use crate::functions::{AggState, Udaf};
use crate::types::SqlType;
use crate::value::Value;

/// ksqlDB's default for `ksql.functions.collect_list.limit` and
/// `ksql.functions.collect_set.limit`.
pub const DEFAULT_COLLECT_LIMIT: i64 = 1000;

/// The most distinct values HISTOGRAM counts; later new values are ignored.
pub const HISTOGRAM_LIMIT: usize = 1000;

/// The collecting aggregates.
pub(super) fn all() -> Vec<Udaf> {
    vec![
        Udaf {
            name: "COLLECT_LIST",
            description: "An array of every value, NULLs included, in arrival order \
                          (up to ksql.functions.collect_list.limit values).",
            return_type: |t| collect_type("COLLECT_LIST", t),
            init: |_| Box::new(Collect { distinct: false, limit: None, items: Vec::new() }),
        },
        Udaf {
            name: "COLLECT_SET",
            description: "An array of the distinct values, in arrival order \
                          (up to ksql.functions.collect_set.limit values).",
            return_type: |t| collect_type("COLLECT_SET", t),
            init: |_| Box::new(Collect { distinct: true, limit: None, items: Vec::new() }),
        },
        Udaf {
            name: "HISTOGRAM",
            description: "A map from each distinct non-NULL string to the number of times it occurred.",
            return_type: |t| match t {
                [SqlType::String] => Ok(SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Bigint))),
                _ => Err(reject("HISTOGRAM", t)),
            },
            init: |_| Box::new(Histogram(Vec::new())),
        },
        Udaf {
            name: "TOPK",
            description: "The k largest non-NULL values, largest first; with extra columns, \
                          structs of the value (sort_col) and the columns (col0, col1, …).",
            return_type: topk_type,
            init: |t| Box::new(TopK { distinct: false, with_cols: t.len() > 2, k: None, items: Vec::new() }),
        },
        Udaf {
            name: "TOPKDISTINCT",
            description: "The k largest distinct non-NULL values, largest first.",
            return_type: |t| match t {
                [v, k] if is_orderable(v) && k.is_integer() => Ok(SqlType::Array(Box::new(v.clone()))),
                _ => Err(reject("TOPKDISTINCT", t)),
            },
            init: |_| Box::new(TopK { distinct: true, with_cols: false, k: None, items: Vec::new() }),
        },
    ]
}

/// `(T)` or `(T, INT limit)`: the limit is how the planner passes
/// `ksql.functions.collect_*.limit`; it is not ksqlDB syntax.
fn collect_type(name: &str, t: &[SqlType]) -> Result<SqlType, String> {
    match t {
        [v] | [v, SqlType::Int | SqlType::Bigint] => Ok(SqlType::Array(Box::new(v.clone()))),
        _ => Err(reject(name, t)),
    }
}

fn topk_type(t: &[SqlType]) -> Result<SqlType, String> {
    match t {
        [v, k] if is_orderable(v) && k.is_integer() => Ok(SqlType::Array(Box::new(v.clone()))),
        [v, cols @ .., k] if is_orderable(v) && k.is_integer() => {
            let mut fields = vec![("sort_col".to_string(), v.clone())];
            fields.extend(cols.iter().enumerate().map(|(i, c)| (format!("col{i}"), c.clone())));
            Ok(SqlType::Array(Box::new(SqlType::Struct(fields))))
        }
        _ => Err(reject("TOPK", t)),
    }
}

/// COLLECT_LIST / COLLECT_SET.
#[derive(Debug)]
struct Collect {
    distinct: bool,
    /// The limit from the optional second argument, once a row has shown it.
    limit: Option<i64>,
    items: Vec<Value>,
}

impl Collect {
    fn push(&mut self, v: Value) {
        let limit = self.limit.unwrap_or(DEFAULT_COLLECT_LIMIT).max(0) as usize;
        if self.items.len() >= limit || (self.distinct && self.items.contains(&v)) {
            return;
        }
        self.items.push(v);
    }
}

impl AggState for Collect {
    fn add(&mut self, args: &[Value]) {
        if let Some(l) = int_arg(args, 1) {
            self.limit = Some(l);
        }
        if let Some(v) = args.first() {
            self.push(v.clone());
        }
    }
    fn retract(&mut self, args: &[Value]) -> bool {
        if self.distinct {
            return false;
        }
        if let Some(at) = args.first().and_then(|v| self.items.iter().position(|x| x == v)) {
            self.items.remove(at);
        }
        true
    }
    fn merge(&mut self, other: Value) {
        if self.limit.is_none() {
            self.limit = field(&other, 0).as_i64();
        }
        for v in items(field(&other, 1).clone()) {
            self.push(v);
        }
    }
    fn result(&self) -> Value {
        Value::Array(self.items.clone())
    }
    fn to_state(&self) -> Value {
        state_struct(vec![
            ("LIMIT", self.limit.map_or(Value::Null, Value::Bigint)),
            ("ITEMS", Value::Array(self.items.clone())),
        ])
    }
    fn load(&mut self, state: Value) {
        self.limit = field(&state, 0).as_i64();
        self.items = items(field(&state, 1).clone());
    }
}

/// HISTOGRAM: counts per distinct string, in first-seen order.
#[derive(Debug)]
struct Histogram(Vec<(String, i64)>);

impl Histogram {
    fn bump(&mut self, key: &str, by: i64) {
        if let Some(at) = self.0.iter().position(|(k, _)| k == key) {
            self.0[at].1 += by;
            if self.0[at].1 <= 0 {
                self.0.remove(at);
            }
        } else if by > 0 && self.0.len() < HISTOGRAM_LIMIT {
            self.0.push((key.to_string(), by));
        }
    }
}

impl AggState for Histogram {
    fn add(&mut self, args: &[Value]) {
        if let Some(s) = args.first().and_then(Value::as_str) {
            self.bump(s, 1);
        }
    }
    fn retract(&mut self, args: &[Value]) -> bool {
        if let Some(s) = args.first().and_then(Value::as_str) {
            self.bump(s, -1);
        }
        true
    }
    fn merge(&mut self, other: Value) {
        if let Value::Map(entries) = other {
            for (k, n) in entries {
                if let (Some(k), Some(n)) = (k.as_str(), n.as_i64()) {
                    self.bump(k, n);
                }
            }
        }
    }
    fn result(&self) -> Value {
        Value::Map(self.0.iter().map(|(k, n)| (Value::String(k.clone()), Value::Bigint(*n))).collect())
    }
    fn to_state(&self) -> Value {
        self.result()
    }
    fn load(&mut self, state: Value) {
        self.0.clear();
        self.merge(state);
    }
}

/// TOPK / TOPKDISTINCT: the largest values seen, largest first; a value
/// equal to one already kept goes after it.
#[derive(Debug)]
struct TopK {
    distinct: bool,
    /// Whether items are `sort_col, col0, …` structs.
    with_cols: bool,
    /// `k`, from the last argument, once a row has shown it.
    k: Option<i64>,
    items: Vec<Value>,
}

impl TopK {
    fn sort_value(item: &Value) -> &Value {
        match item {
            Value::Struct(fields) => fields.first().map_or(&Value::Null, |(_, v)| v),
            v => v,
        }
    }

    fn insert(&mut self, item: Value) {
        let key = Self::sort_value(&item);
        if key.is_null() {
            return;
        }
        if self.distinct && self.items.iter().any(|x| compare(Self::sort_value(x), key).is_eq()) {
            return;
        }
        let at = self.items.partition_point(|x| compare(Self::sort_value(x), key).is_ge());
        let k = self.k.unwrap_or(i64::MAX).max(0);
        if (at as i64) < k {
            self.items.insert(at, item);
            self.items.truncate(usize::try_from(k).unwrap_or(usize::MAX));
        }
    }
}

impl AggState for TopK {
    fn add(&mut self, args: &[Value]) {
        let Some((last, rest)) = args.split_last() else { return };
        if let Some(k) = last.as_i64() {
            self.k = Some(k);
        }
        let Some(value) = rest.first() else { return };
        let item = if self.with_cols {
            let mut fields = vec![("sort_col".to_string(), value.clone())];
            fields.extend(rest[1..].iter().enumerate().map(|(i, c)| (format!("col{i}"), c.clone())));
            Value::Struct(fields)
        } else {
            value.clone()
        };
        self.insert(item);
    }
    fn merge(&mut self, other: Value) {
        if self.k.is_none() {
            self.k = field(&other, 0).as_i64();
        }
        for item in items(field(&other, 1).clone()) {
            self.insert(item);
        }
    }
    fn result(&self) -> Value {
        Value::Array(self.items.clone())
    }
    fn to_state(&self) -> Value {
        state_struct(vec![
            ("K", self.k.map_or(Value::Null, Value::Bigint)),
            ("ITEMS", Value::Array(self.items.clone())),
        ])
    }
    fn load(&mut self, state: Value) {
        self.k = field(&state, 0).as_i64();
        self.items = items(field(&state, 1).clone());
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::types::SqlType;
    use crate::value::Value;

    fn s(x: &str) -> Value {
        Value::String(x.into())
    }

    #[test]
    fn collect_list_keeps_nulls_and_order() {
        let t = [SqlType::String];
        assert_eq!(ret("COLLECT_LIST", &t), Ok(SqlType::Array(Box::new(SqlType::String))));
        let rows = vec![one(s("baz")), one(s("baz")), one(s("foo")), one(Value::Null)];
        let got = run("COLLECT_LIST", &t, rows);
        assert_eq!(got[3], Value::Array(vec![s("baz"), s("baz"), s("foo"), Value::Null]));
        // "collect_list int table": the old value is retracted first.
        let mut st = state("COLLECT_LIST", &[SqlType::Int]);
        st.add(&[Value::Int(0)]);
        assert!(st.retract(&[Value::Int(0)]));
        st.add(&[Value::Int(100)]);
        assert_eq!(st.result(), Value::Array(vec![Value::Int(100)]));
    }

    #[test]
    fn collect_limits() {
        // "collect_list with limit of 1": the planner passes the limit.
        let t = [SqlType::Int, SqlType::Int];
        let got = run("COLLECT_LIST", &t, vec![vec![Value::Int(0), Value::Int(1)], vec![Value::Int(100), Value::Int(1)]]);
        assert_eq!(got, vec![Value::Array(vec![Value::Int(0)]), Value::Array(vec![Value::Int(0)])]);
        let mut st = state("COLLECT_LIST", &[SqlType::Int]);
        for i in 0..1005 {
            st.add(&[Value::Int(i)]);
        }
        let Value::Array(all) = st.result() else { panic!() };
        assert_eq!(all.len(), 1000);
    }

    #[test]
    fn collect_set_is_distinct_and_stream_only() {
        let rows = vec![one(s("a")), one(s("b")), one(s("a")), one(Value::Null), one(Value::Null)];
        let got = run("COLLECT_SET", &[SqlType::String], rows);
        assert_eq!(got[4], Value::Array(vec![s("a"), s("b"), Value::Null]));
        assert!(!state("COLLECT_SET", &[SqlType::String]).retract(&[s("a")]));
    }

    #[test]
    fn collect_merges_in_order_up_to_the_limit() {
        let t = [SqlType::Int, SqlType::Int];
        let mut a = state("COLLECT_LIST", &t);
        a.add(&[Value::Int(1), Value::Int(3)]);
        let mut b = state("COLLECT_LIST", &t);
        b.add(&[Value::Int(2), Value::Int(3)]);
        b.add(&[Value::Int(3), Value::Int(3)]);
        b.add(&[Value::Int(4), Value::Int(3)]);
        let mut fresh = state("COLLECT_LIST", &t);
        fresh.merge(a.to_state());
        fresh.merge(b.to_state());
        assert_eq!(fresh.result(), Value::Array(vec![Value::Int(1), Value::Int(2), Value::Int(3)]));
    }

    #[test]
    fn histogram_counts_and_undoes() {
        // histogram.json "histogram on a table", region west.
        let mut h = state("HISTOGRAM", &[SqlType::String]);
        h.add(&[s("carol")]);
        h.add(&[s("dave")]);
        h.add(&[s("bob")]);
        let m = |xs: &[(&str, i64)]| Value::Map(xs.iter().map(|(k, n)| (s(k), Value::Bigint(*n))).collect());
        assert_eq!(h.result(), m(&[("carol", 1), ("dave", 1), ("bob", 1)]));
        assert!(h.retract(&[s("bob")]));
        assert_eq!(h.result(), m(&[("carol", 1), ("dave", 1)]));
        h.add(&[s("dave")]);
        h.add(&[Value::Null]);
        assert_eq!(h.result(), m(&[("carol", 1), ("dave", 2)]));
        assert!(ret("HISTOGRAM", &[SqlType::Int]).is_err());
    }

    #[test]
    fn topk_matches_topk_group_by_json() {
        let t = [SqlType::Int, SqlType::Int];
        let rows = [0, 100, 99, 7, 100].iter().map(|v| vec![Value::Int(*v), Value::Int(3)]).collect();
        let got = run("TOPK", &t, rows);
        let arr = |xs: &[i32]| Value::Array(xs.iter().map(|x| Value::Int(*x)).collect());
        assert_eq!(got, vec![arr(&[0]), arr(&[100, 0]), arr(&[100, 99, 0]), arr(&[100, 99, 7]), arr(&[100, 100, 99])]);
        let t = [SqlType::String, SqlType::Int];
        let rows = ["a", "b", "c", "b", "d"].iter().map(|v| vec![s(v), Value::Int(3)]).collect();
        let got = run("TOPK", &t, rows);
        assert_eq!(got[4], Value::Array(vec![s("d"), s("c"), s("b")]));
    }

    #[test]
    fn topk_with_columns_builds_structs() {
        let t = [SqlType::Int, SqlType::String, SqlType::Int];
        let st = SqlType::Struct(vec![("sort_col".into(), SqlType::Int), ("col0".into(), SqlType::String)]);
        assert_eq!(ret("TOPK", &t), Ok(SqlType::Array(Box::new(st))));
        let rows = [(Value::Int(0), s("zero")), (Value::Int(100), s("one")), (Value::Int(99), s("two")), (Value::Null, s("three")), (Value::Int(100), Value::Null)]
            .into_iter()
            .map(|(v, n)| vec![v, n, Value::Int(3)])
            .collect();
        let got = run("TOPK", &t, rows);
        let item = |v: i32, n: Value| Value::Struct(vec![("sort_col".into(), Value::Int(v)), ("col0".into(), n)]);
        assert_eq!(got[3], Value::Array(vec![item(100, s("one")), item(99, s("two")), item(0, s("zero"))]));
        assert_eq!(got[4], Value::Array(vec![item(100, s("one")), item(100, Value::Null), item(99, s("two"))]));
    }

    #[test]
    fn topkdistinct_matches_tumbling_windows_json() {
        let t = [SqlType::Double, SqlType::Int];
        let rows = [0.0, 100.0, 10.0, 100.0, 100.0].iter().map(|v| vec![Value::Double(*v), Value::Int(2)]).collect();
        let got = run("TOPKDISTINCT", &t, rows);
        let arr = |xs: &[f64]| Value::Array(xs.iter().map(|x| Value::Double(*x)).collect());
        assert_eq!(got, vec![arr(&[0.0]), arr(&[100.0, 0.0]), arr(&[100.0, 10.0]), arr(&[100.0, 10.0]), arr(&[100.0, 10.0])]);
        assert!(ret("TOPKDISTINCT", &[SqlType::Double, SqlType::String, SqlType::Int]).is_err());
    }

    #[test]
    fn topk_merge() {
        let t = [SqlType::Int, SqlType::Int];
        let mut a = state("TOPK", &t);
        a.add(&[Value::Int(5), Value::Int(2)]);
        a.add(&[Value::Int(1), Value::Int(2)]);
        let mut fresh = state("TOPK", &t);
        fresh.merge(a.to_state());
        fresh.add(&[Value::Int(3), Value::Int(2)]);
        assert_eq!(fresh.result(), Value::Array(vec![Value::Int(5), Value::Int(3)]));
    }
}
