//! EARLIEST_BY_OFFSET and LATEST_BY_OFFSET.
//!
//! Forms: `(v)`, `(v, ignoreNulls BOOLEAN)`, `(v, n INT)`,
//! `(v, n INT, ignoreNulls BOOLEAN)`; `ignoreNulls` defaults to true. With
//! `n` the result is an ARRAY of up to `n` values, oldest first; without,
//! the single value (NULL when there is none).
//!
//! Rows arrive in offset order, so each kept value is stamped with a
//! process-wide sequence number; merging two states (session windows)
//! orders their values by it. The counter is moved past every sequence
//! number loaded from a state store, so stamps stay increasing across
//! restarts.

use std::sync::atomic::{AtomicI64, Ordering as AtomicOrdering};

use super::{field, int_arg, items, reject, state_struct};
use crate::functions::{AggState, Udaf};
use crate::types::SqlType;
use crate::value::Value;

static SEQUENCE: AtomicI64 = AtomicI64::new(0);

fn next_sequence() -> i64 {
    SEQUENCE.fetch_add(1, AtomicOrdering::Relaxed)
}

fn observe_sequence(seq: i64) {
    SEQUENCE.fetch_max(seq.saturating_add(1), AtomicOrdering::Relaxed);
}

/// EARLIEST_BY_OFFSET and LATEST_BY_OFFSET.
pub(super) fn all() -> Vec<Udaf> {
    vec![
        Udaf {
            name: "EARLIEST_BY_OFFSET",
            description: "The earliest value (or n values) by offset, skipping NULLs unless ignoreNulls is false.",
            return_type: |t| offset_type("EARLIEST_BY_OFFSET", t),
            init: |t| Box::new(ByOffset::new(false, t)),
        },
        Udaf {
            name: "LATEST_BY_OFFSET",
            description: "The latest value (or n values) by offset, skipping NULLs unless ignoreNulls is false.",
            return_type: |t| offset_type("LATEST_BY_OFFSET", t),
            init: |t| Box::new(ByOffset::new(true, t)),
        },
    ]
}

/// Where the optional arguments are: `(n index, ignoreNulls index)`.
fn shape(t: &[SqlType]) -> Option<(Option<usize>, Option<usize>)> {
    match t {
        [_] => Some((None, None)),
        [_, SqlType::Boolean] => Some((None, Some(1))),
        [_, n] if n.is_integer() => Some((Some(1), None)),
        [_, n, SqlType::Boolean] if n.is_integer() => Some((Some(1), Some(2))),
        _ => None,
    }
}

fn offset_type(name: &str, t: &[SqlType]) -> Result<SqlType, String> {
    match (shape(t), t.first()) {
        (Some((None, _)), Some(v)) => Ok(v.clone()),
        (Some((Some(_), _)), Some(v)) => Ok(SqlType::Array(Box::new(v.clone()))),
        _ => Err(reject(name, t)),
    }
}

#[derive(Debug)]
struct ByOffset {
    latest: bool,
    n_arg: Option<usize>,
    ignore_arg: Option<usize>,
    /// `n`, once a row has shown it (1 for the single-value form).
    n: Option<i64>,
    /// `(sequence, value)`, oldest first.
    kept: Vec<(i64, Value)>,
}

impl ByOffset {
    fn new(latest: bool, t: &[SqlType]) -> ByOffset {
        let (n_arg, ignore_arg) = shape(t).unwrap_or((None, None));
        ByOffset { latest, n_arg, ignore_arg, n: if n_arg.is_none() { Some(1) } else { None }, kept: Vec::new() }
    }

    fn limit(&self) -> usize {
        usize::try_from(self.n.unwrap_or(1).max(0)).unwrap_or(0)
    }

    /// Keeps the `n` earliest or latest of `kept`, in sequence order.
    fn trim(&mut self) {
        self.kept.sort_by_key(|(seq, _)| *seq);
        let n = self.limit();
        if self.kept.len() > n {
            if self.latest {
                self.kept.drain(..self.kept.len() - n);
            } else {
                self.kept.truncate(n);
            }
        }
    }
}

impl AggState for ByOffset {
    fn add(&mut self, args: &[Value]) {
        if let Some(n) = self.n_arg.and_then(|i| int_arg(args, i)) {
            self.n = Some(n);
        }
        let ignore_nulls = match self.ignore_arg.and_then(|i| args.get(i)) {
            Some(Value::Boolean(b)) => *b,
            _ => true,
        };
        let value = args.first().cloned().unwrap_or(Value::Null);
        if value.is_null() && ignore_nulls {
            return;
        }
        if !self.latest && self.kept.len() >= self.limit() {
            return;
        }
        self.kept.push((next_sequence(), value));
        self.trim();
    }
    fn merge(&mut self, other: Value) {
        if self.n.is_none() {
            self.n = field(&other, 0).as_i64();
        }
        for item in items(field(&other, 1).clone()) {
            let seq = field(&item, 0).as_i64().unwrap_or(0);
            observe_sequence(seq);
            self.kept.push((seq, field(&item, 1).clone()));
        }
        self.trim();
    }
    fn result(&self) -> Value {
        if self.n_arg.is_some() {
            Value::Array(self.kept.iter().map(|(_, v)| v.clone()).collect())
        } else {
            self.kept.first().map_or(Value::Null, |(_, v)| v.clone())
        }
    }
    fn to_state(&self) -> Value {
        let kept = self
            .kept
            .iter()
            .map(|(seq, v)| state_struct(vec![("SEQ", Value::Bigint(*seq)), ("VAL", v.clone())]))
            .collect();
        state_struct(vec![("N", self.n.map_or(Value::Null, Value::Bigint)), ("ITEMS", Value::Array(kept))])
    }
    fn load(&mut self, state: Value) {
        self.kept.clear();
        self.n = if self.n_arg.is_none() { Some(1) } else { None };
        self.merge(state);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::types::SqlType;
    use crate::value::Value;

    fn int(x: Option<i32>) -> Value {
        x.map_or(Value::Null, Value::Int)
    }

    fn with(xs: &[Option<i32>], extra: &[Value]) -> Vec<Vec<Value>> {
        xs.iter().map(|x| std::iter::once(int(*x)).chain(extra.iter().cloned()).collect()).collect()
    }

    fn arr(xs: &[Option<i32>]) -> Value {
        Value::Array(xs.iter().map(|x| int(*x)).collect())
    }

    #[test]
    fn types() {
        assert_eq!(ret("EARLIEST_BY_OFFSET", &[SqlType::Int]), Ok(SqlType::Int));
        assert_eq!(ret("EARLIEST_BY_OFFSET", &[SqlType::Int, SqlType::Boolean]), Ok(SqlType::Int));
        let arr_t = Ok(SqlType::Array(Box::new(SqlType::Int)));
        assert_eq!(ret("LATEST_BY_OFFSET", &[SqlType::Int, SqlType::Int]), arr_t);
        assert_eq!(ret("LATEST_BY_OFFSET", &[SqlType::Int, SqlType::Int, SqlType::Boolean]), arr_t);
        assert!(ret("LATEST_BY_OFFSET", &[SqlType::Int, SqlType::String]).is_err());
    }

    #[test]
    fn earliest_matches_earliest_offset_udaf_json() {
        let t1 = [SqlType::Int];
        let tb = [SqlType::Int, SqlType::Boolean];
        let tn = [SqlType::Int, SqlType::Int];
        let tnb = [SqlType::Int, SqlType::Int, SqlType::Boolean];
        let (t, f) = (Value::Boolean(true), Value::Boolean(false));
        let two = Value::Int(2);
        // null first
        assert_eq!(run("EARLIEST_BY_OFFSET", &tb, with(&[None, Some(13)], &[t.clone()])), vec![Value::Null, Value::Int(13)]);
        assert_eq!(run("EARLIEST_BY_OFFSET", &tn, with(&[None, Some(13)], &[two.clone()])), vec![arr(&[]), arr(&[Some(13)])]);
        assert_eq!(run("EARLIEST_BY_OFFSET", &tb, with(&[None, Some(13)], &[f.clone()])), vec![Value::Null, Value::Null]);
        assert_eq!(
            run("EARLIEST_BY_OFFSET", &tnb, with(&[None, Some(13)], &[two.clone(), f.clone()])),
            vec![arr(&[None]), arr(&[None, Some(13)])]
        );
        // nulls later
        assert_eq!(run("EARLIEST_BY_OFFSET", &t1, with(&[Some(12), None, Some(13)], &[])), vec![Value::Int(12); 3]);
        assert_eq!(
            run("EARLIEST_BY_OFFSET", &tn, with(&[Some(12), None, Some(13)], &[two.clone()])),
            vec![arr(&[Some(12)]), arr(&[Some(12)]), arr(&[Some(12), Some(13)])]
        );
        assert_eq!(
            run("EARLIEST_BY_OFFSET", &tnb, with(&[Some(12), None, Some(13)], &[two, f])),
            vec![arr(&[Some(12)]), arr(&[Some(12), None]), arr(&[Some(12), None])]
        );
    }

    #[test]
    fn latest_keeps_the_newest() {
        let got = run("LATEST_BY_OFFSET", &[SqlType::Int], with(&[Some(12), None, Some(13)], &[]));
        assert_eq!(got, vec![Value::Int(12), Value::Int(12), Value::Int(13)]);
        let got = run("LATEST_BY_OFFSET", &[SqlType::Int, SqlType::Int], with(&[Some(1), Some(2), Some(3)], &[Value::Int(2)]));
        assert_eq!(got[2], arr(&[Some(2), Some(3)]));
        let got = run("LATEST_BY_OFFSET", &[SqlType::Int, SqlType::Boolean], with(&[Some(1), None], &[Value::Boolean(false)]));
        assert_eq!(got[1], Value::Null);
    }

    /// "merging session windows - with nulls not ignored - N": windows
    /// holding [null] and [1] merge into a fresh state with a late null.
    #[test]
    fn session_merge_orders_by_arrival() {
        let t = [SqlType::Int, SqlType::Int, SqlType::Boolean];
        let args = |v: Value| vec![v, Value::Int(2), Value::Boolean(false)];
        let mut first = state("EARLIEST_BY_OFFSET", &t);
        first.add(&args(Value::Null));
        let mut second = state("EARLIEST_BY_OFFSET", &t);
        second.add(&args(Value::Int(1)));
        let mut merged = state("EARLIEST_BY_OFFSET", &t);
        merged.merge(first.to_state());
        merged.merge(second.to_state());
        merged.add(&args(Value::Null));
        assert_eq!(merged.result(), arr(&[None, Some(1)]));

        // Single form, nulls ignored: windows [1] (after a skipped null) merge to 1.
        let mut a = state("EARLIEST_BY_OFFSET", &[SqlType::Int]);
        a.add(&[Value::Int(1)]);
        let mut b = state("EARLIEST_BY_OFFSET", &[SqlType::Int]);
        b.add(&[Value::Int(3)]);
        let mut m = state("EARLIEST_BY_OFFSET", &[SqlType::Int]);
        m.merge(b.to_state());
        m.merge(a.to_state());
        m.add(&[Value::Int(2)]);
        assert_eq!(m.result(), Value::Int(1));
    }

    #[test]
    fn loaded_sequences_stay_ordered() {
        let mut a = state("LATEST_BY_OFFSET", &[SqlType::Int]);
        a.load(crate::functions::aggregate::state_struct(vec![
            ("N", Value::Bigint(1)),
            (
                "ITEMS",
                Value::Array(vec![crate::functions::aggregate::state_struct(vec![
                    ("SEQ", Value::Bigint(i64::MAX / 2)),
                    ("VAL", Value::Int(7)),
                ])]),
            ),
        ]));
        a.add(&[Value::Int(8)]);
        assert_eq!(a.result(), Value::Int(8));
    }
}
