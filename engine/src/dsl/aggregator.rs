//! Closure aggregations (`aggregate`, `reduce`) as an
//! [`AggregateFunction`]: the plan's `Aggregate` node runs them like any
//! registered function, so they get windows, suppression, caching and
//! changelogged state for free.
//!
//! The function takes two arguments, the group key column and the value
//! column. Its accumulator holds the typed aggregate; its state (what the
//! store keeps) is the aggregate's `serde_json` bytes, or empty before the
//! first value; its result is the same JSON text, as a Utf8 column.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::DataType;

use super::codec::{decode_key, decode_value, encode_value, KeyLayout, TextColumn};
use super::Data;
use crate::error::{EngineError, Result};
use crate::functions::{Accumulator, AggregateFunction};
use crate::plan::ScalarValue;

/// Folds one value into the aggregate (`None` before the first value).
pub(crate) type Step<K, V, A> = Arc<dyn Fn(&K, V, Option<A>) -> A + Send + Sync>;
/// Merges two aggregates of one key (session merges).
pub(crate) type Merge<A> = Arc<dyn Fn(A, A) -> A + Send + Sync>;

/// Ties a function to its key, value and aggregate types without owning any.
type Types<K, V, A> = PhantomData<fn() -> (K, V, A)>;

/// A closure aggregation over keys `K` and values `V` into `A`.
pub(crate) struct ClosureAggregate<K, V, A> {
    name: String,
    key: KeyLayout,
    step: Step<K, V, A>,
    merge: Option<Merge<A>>,
    _t: Types<K, V, A>,
}

impl<K, V, A> ClosureAggregate<K, V, A> {
    /// A function named `name` (unique within its builder: the name is part
    /// of the plan, which names the state store).
    pub(crate) fn new(name: String, key: KeyLayout, step: Step<K, V, A>, merge: Option<Merge<A>>) -> Self {
        ClosureAggregate { name, key, step, merge, _t: PhantomData }
    }
}

impl<K, V, A> fmt::Debug for ClosureAggregate<K, V, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClosureAggregate")
            .field("name", &self.name)
            .field("aggregate", &std::any::type_name::<A>())
            .finish()
    }
}

impl<K: Data, V: Data, A: Data> AggregateFunction for ClosureAggregate<K, V, A> {
    fn name(&self) -> &str {
        &self.name
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        if args.len() != 2 {
            return Err(EngineError::plan(&self.name, format!("takes the key and the value, got {} argument(s)", args.len())));
        }
        Ok(DataType::Utf8)
    }

    fn accumulator(&self, _args: &[DataType]) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(ClosureAccumulator::<K, V, A> {
            name: self.name.clone(),
            key: self.key,
            step: self.step.clone(),
            merge: self.merge.clone(),
            agg: None,
            json: None,
            _t: PhantomData,
        }))
    }
}

/// Per-group state of a [`ClosureAggregate`].
struct ClosureAccumulator<K, V, A> {
    name: String,
    key: KeyLayout,
    step: Step<K, V, A>,
    merge: Option<Merge<A>>,
    agg: Option<A>,
    /// `agg` as JSON, kept current so `state` and `evaluate` cannot fail.
    json: Option<String>,
    _t: PhantomData<fn() -> (K, V)>,
}

impl<K, V, A> fmt::Debug for ClosureAccumulator<K, V, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClosureAccumulator").field("name", &self.name).field("state", &self.json).finish()
    }
}

impl<K: Data, V: Data, A: Data> ClosureAccumulator<K, V, A> {
    fn set(&mut self, agg: A) -> Result<()> {
        let json = encode_value(&agg).map_err(|r| EngineError::expr(&self.name, r));
        self.agg = Some(agg);
        self.json = Some(json?);
        Ok(())
    }
}

impl<K: Data, V: Data, A: Data> Accumulator for ClosureAccumulator<K, V, A> {
    fn update(&mut self, args: &[ArrayRef], row: usize) -> Result<()> {
        let key = TextColumn::new(args.first()).get(row);
        let value = TextColumn::new(args.get(1)).get(row);
        let decoded = match (key, value) {
            (Some(k), Some(v)) => decode_key::<K>(self.key, &k, None).and_then(|k| Ok((k, decode_value::<V>(&v)?))),
            _ => Err("the row has no key or no value".to_string()),
        };
        match decoded {
            Ok((k, v)) => {
                let agg = (self.step)(&k, v, self.agg.take());
                self.set(agg)
            }
            Err(reason) => {
                // Sources check values against their types, so this takes a
                // plan that feeds the aggregation something else.
                tracing::warn!(aggregate = %self.name, "skipping row: {reason}");
                Ok(())
            }
        }
    }

    fn merge(&mut self, other: &[u8]) -> Result<()> {
        let Some(merge) = self.merge.clone() else {
            return Err(EngineError::plan(&self.name, "this aggregation cannot merge sessions; give it a merger"));
        };
        if other.is_empty() {
            return Ok(());
        }
        let other: A = serde_json::from_slice(other).map_err(|e| self.corrupt(&e))?;
        let agg = match self.agg.take() {
            Some(mine) => merge(mine, other),
            None => other,
        };
        self.set(agg)
    }

    fn evaluate(&self) -> ScalarValue {
        match &self.json {
            Some(j) => ScalarValue::Utf8(j.clone()),
            None => ScalarValue::Null(DataType::Utf8),
        }
    }

    fn state(&self) -> Vec<u8> {
        self.json.as_ref().map(|j| j.as_bytes().to_vec()).unwrap_or_default()
    }

    fn load(&mut self, state: &[u8]) -> Result<()> {
        if state.is_empty() {
            self.agg = None;
            self.json = None;
            return Ok(());
        }
        let agg: A = serde_json::from_slice(state).map_err(|e| self.corrupt(&e))?;
        self.agg = Some(agg);
        self.json = Some(String::from_utf8_lossy(state).into_owned());
        Ok(())
    }
}

impl<K, V, A> ClosureAccumulator<K, V, A> {
    fn corrupt(&self, e: &serde_json::Error) -> EngineError {
        EngineError::plan(
            &self.name,
            format!(
                "stored aggregate does not decode as {} ({e}); if the aggregate type changed, reset the application's state",
                std::any::type_name::<A>()
            ),
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use arrow::array::StringArray;

    use super::*;

    fn sum() -> ClosureAggregate<String, i64, i64> {
        let step: Step<String, i64, i64> = Arc::new(|_k, v, a| a.unwrap_or(0) + v);
        ClosureAggregate::new("SUM_DSL".into(), KeyLayout::of::<String>(), step, Some(Arc::new(|a, b| a + b)))
    }

    fn args(k: &str, v: &str) -> Vec<ArrayRef> {
        vec![Arc::new(StringArray::from(vec![k])), Arc::new(StringArray::from(vec![v]))]
    }

    #[test]
    fn folds_saves_loads_and_merges() {
        let f = sum();
        let mut acc = f.accumulator(&[]).unwrap();
        assert_eq!(acc.evaluate(), ScalarValue::Null(DataType::Utf8));
        acc.update(&args("a", "2"), 0).unwrap();
        acc.update(&args("a", "3"), 0).unwrap();
        acc.update(&args("a", "oops"), 0).unwrap();
        assert_eq!(acc.state(), b"5");
        let mut other = f.accumulator(&[]).unwrap();
        other.load(b"10").unwrap();
        other.merge(&acc.state()).unwrap();
        assert_eq!(other.evaluate(), ScalarValue::Utf8("15".into()));
        assert!(other.load(b"\"x\"").unwrap_err().to_string().contains("reset"));
    }
}
