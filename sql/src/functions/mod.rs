//! ksqlDB's function library.
//!
//! Functions are written row at a time over [`Value`]s — simple to write
//! and to check against ksqlDB's semantics — and adapted to the engine's
//! vectorized [`ScalarFunction`] / [`AggregateFunction`] traits here, so the
//! engine runs them inside its Arrow operators like any other function. The
//! hot built-ins (arithmetic, comparison, CAST, LIKE, …) are not here: the
//! engine evaluates those with Arrow kernels.
//!
//! A scalar function is a [`Udf`]: a name, a return-type rule over the
//! argument types (which also rejects argument types it does not take) and
//! an evaluator. An aggregate is a [`Udaf`] whose [`AggState`] is kept per
//! group and window and stored as a [`Value`] (see [`crate::value_codec`]).
//! A table function is a [`Udtf`].

pub mod aggregate;
pub mod scalar;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::DataType;
use riffle_engine::functions::{Accumulator, AggregateFunction, ScalarFunction, TableFunction};
use riffle_engine::plan::ScalarValue;
use riffle_engine::{EngineError, Result as EngineResult};

use crate::types::SqlType;
use crate::value::{to_array, Value};
use crate::value_codec;

/// Return type of a function for the given argument types, or why these
/// arguments are not accepted.
pub type ReturnType = fn(&[SqlType]) -> Result<SqlType, String>;

/// A scalar function evaluated row by row. An `Err` from `eval` becomes
/// NULL for that row (ksqlDB logs the failure to its processing log and
/// goes on); it is not a query failure.
#[derive(Clone)]
pub struct Udf {
    /// Name, upper case.
    pub name: &'static str,
    /// One line for `DESCRIBE FUNCTION` / `SHOW FUNCTIONS`.
    pub description: &'static str,
    /// Function category for `SHOW FUNCTIONS` (`STRING`, `MATHEMATICAL`, …).
    pub category: &'static str,
    /// Return type for argument types.
    pub return_type: ReturnType,
    /// Evaluates one row: argument values and the resolved return type.
    pub eval: fn(&[Value], &SqlType) -> Result<Value, String>,
}

/// Per-group state of an aggregate.
pub trait AggState: Send + fmt::Debug {
    /// Adds one row's argument values.
    fn add(&mut self, args: &[Value]);
    /// Removes one row's argument values (table aggregations). `false` when
    /// the function cannot undo.
    fn retract(&mut self, _args: &[Value]) -> bool {
        false
    }
    /// Folds in the state of another accumulator of the same function (as
    /// written by [`AggState::to_state`]); used when session windows merge.
    fn merge(&mut self, other: Value);
    /// The current result.
    fn result(&self) -> Value;
    /// The state as a value, for the state store.
    fn to_state(&self) -> Value;
    /// Replaces the state with one from [`AggState::to_state`].
    fn load(&mut self, state: Value);
}

/// An aggregate function.
#[derive(Clone)]
pub struct Udaf {
    /// Name, upper case.
    pub name: &'static str,
    /// One line for `DESCRIBE FUNCTION`.
    pub description: &'static str,
    /// Result type for argument types.
    pub return_type: ReturnType,
    /// A fresh state for these argument types.
    pub init: fn(&[SqlType]) -> Box<dyn AggState>,
}

/// A table function: each row gives zero or more values.
#[derive(Clone)]
pub struct Udtf {
    /// Name, upper case.
    pub name: &'static str,
    /// One line for `DESCRIBE FUNCTION`.
    pub description: &'static str,
    /// Type of the produced values.
    pub return_type: ReturnType,
    /// The values one input row produces.
    pub eval: fn(&[Value]) -> Vec<Value>,
}

macro_rules! debug_by_name {
    ($($t:ty),*) => {$(
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.name)
            }
        }
    )*};
}
debug_by_name!(Udf, Udaf, Udtf);

fn sql_types(args: &[DataType]) -> EngineResult<Vec<SqlType>> {
    args.iter()
        .map(|t| SqlType::from_arrow(t).map_err(|e| EngineError::Internal(e.to_string())))
        .collect()
}

fn bad_args(name: &str, why: String) -> EngineError {
    EngineError::Plan { node: format!("function {name}"), reason: why }
}

impl ScalarFunction for Udf {
    fn name(&self) -> &str {
        self.name
    }

    fn return_type(&self, args: &[DataType]) -> EngineResult<DataType> {
        let types = sql_types(args)?;
        (self.return_type)(&types).map(|t| t.to_arrow()).map_err(|why| bad_args(self.name, why))
    }

    fn invoke(&self, args: &[ArrayRef], rows: usize) -> EngineResult<ArrayRef> {
        let types = sql_types(&args.iter().map(|a| a.data_type().clone()).collect::<Vec<_>>())?;
        let ret = (self.return_type)(&types).map_err(|why| bad_args(self.name, why))?;
        let mut out = Vec::with_capacity(rows);
        let mut row_args = Vec::with_capacity(args.len());
        for r in 0..rows {
            row_args.clear();
            row_args.extend(args.iter().map(|a| Value::from_array(a.as_ref(), r)));
            out.push(match (self.eval)(&row_args, &ret) {
                Ok(v) => v,
                Err(why) => {
                    tracing::debug!(function = self.name, %why, "function failed; result is NULL");
                    Value::Null
                }
            });
        }
        to_array(&out, &ret).map_err(|e| EngineError::Internal(e.to_string()))
    }
}

/// The engine-facing accumulator of a [`Udaf`].
struct UdafAccumulator {
    name: &'static str,
    ret: SqlType,
    state: Box<dyn AggState>,
}

impl fmt::Debug for UdafAccumulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdafAccumulator").field("name", &self.name).field("state", &self.state).finish()
    }
}

fn row_values(args: &[ArrayRef], row: usize) -> Vec<Value> {
    args.iter().map(|a| Value::from_array(a.as_ref(), row)).collect()
}

impl Accumulator for UdafAccumulator {
    fn update(&mut self, args: &[ArrayRef], row: usize) -> EngineResult<()> {
        self.state.add(&row_values(args, row));
        Ok(())
    }

    fn retract(&mut self, args: &[ArrayRef], row: usize) -> EngineResult<()> {
        if self.state.retract(&row_values(args, row)) {
            Ok(())
        } else {
            Err(bad_args(self.name, format!("{} cannot be used on a table: it cannot undo a value", self.name)))
        }
    }

    fn merge(&mut self, other: &[u8]) -> EngineResult<()> {
        let v = value_codec::decode(other).map_err(|e| EngineError::Internal(e.to_string()))?;
        self.state.merge(v);
        Ok(())
    }

    fn evaluate(&self) -> ScalarValue {
        let v = self.state.result().coerce(&self.ret).unwrap_or(Value::Null);
        // Primitive results as typed scalars (the engine builds primitive
        // output columns from those); everything else as a one-row array.
        match (v, &self.ret) {
            (Value::Null, t) => ScalarValue::Null(t.to_arrow()),
            (Value::Boolean(b), _) => ScalarValue::Boolean(b),
            (Value::Int(i), _) => ScalarValue::Int32(i),
            (Value::Bigint(i), _) => ScalarValue::Int64(i),
            (Value::Double(d), _) => ScalarValue::Float64(d),
            (Value::String(s), _) => ScalarValue::Utf8(s),
            (Value::Timestamp(t), _) => ScalarValue::TimestampMs(t),
            (v, t) => match to_array(&[v], t) {
                Ok(a) => ScalarValue::Array(a),
                Err(_) => ScalarValue::Null(t.to_arrow()),
            },
        }
    }

    fn state(&self) -> Vec<u8> {
        value_codec::encode(&self.state.to_state())
    }

    fn load(&mut self, state: &[u8]) -> EngineResult<()> {
        let v = value_codec::decode(state).map_err(|e| EngineError::Internal(e.to_string()))?;
        self.state.load(v);
        Ok(())
    }
}

impl AggregateFunction for Udaf {
    fn name(&self) -> &str {
        self.name
    }

    fn return_type(&self, args: &[DataType]) -> EngineResult<DataType> {
        let types = sql_types(args)?;
        (self.return_type)(&types).map(|t| t.to_arrow()).map_err(|why| bad_args(self.name, why))
    }

    fn accumulator(&self, args: &[DataType]) -> EngineResult<Box<dyn Accumulator>> {
        let types = sql_types(args)?;
        let ret = (self.return_type)(&types).map_err(|why| bad_args(self.name, why))?;
        Ok(Box::new(UdafAccumulator { name: self.name, ret, state: (self.init)(&types) }))
    }
}

impl TableFunction for Udtf {
    fn name(&self) -> &str {
        self.name
    }

    fn return_type(&self, args: &[DataType]) -> EngineResult<DataType> {
        let types = sql_types(args)?;
        (self.return_type)(&types).map(|t| t.to_arrow()).map_err(|why| bad_args(self.name, why))
    }

    fn invoke(&self, args: &[ArrayRef], rows: usize) -> EngineResult<(ArrayRef, Vec<u32>)> {
        let types = sql_types(&args.iter().map(|a| a.data_type().clone()).collect::<Vec<_>>())?;
        let ret = (self.return_type)(&types).map_err(|why| bad_args(self.name, why))?;
        let mut out = Vec::new();
        let mut from = Vec::new();
        for r in 0..rows {
            for v in (self.eval)(&row_values(args, r)) {
                out.push(v);
                from.push(r as u32);
            }
        }
        Ok((to_array(&out, &ret).map_err(|e| EngineError::Internal(e.to_string()))?, from))
    }
}

/// Every function the SQL layer knows, by upper-case name.
#[derive(Debug, Clone, Default)]
pub struct Functions {
    scalar: BTreeMap<String, Arc<Udf>>,
    aggregate: BTreeMap<String, Arc<Udaf>>,
    table: BTreeMap<String, Arc<Udtf>>,
}

impl Functions {
    /// ksqlDB's built-in library.
    pub fn builtin() -> Self {
        let mut f = Functions::default();
        for u in scalar::all() {
            f.scalar.insert(u.name.to_string(), Arc::new(u));
        }
        for u in aggregate::all() {
            f.aggregate.insert(u.name.to_string(), Arc::new(u));
        }
        for u in scalar::table_functions() {
            f.table.insert(u.name.to_string(), Arc::new(u));
        }
        f
    }

    /// A scalar function by name (any case).
    pub fn scalar(&self, name: &str) -> Option<Arc<Udf>> {
        self.scalar.get(&name.to_ascii_uppercase()).cloned()
    }

    /// An aggregate function by name (any case).
    pub fn aggregate(&self, name: &str) -> Option<Arc<Udaf>> {
        self.aggregate.get(&name.to_ascii_uppercase()).cloned()
    }

    /// A table function by name (any case).
    pub fn table(&self, name: &str) -> Option<Arc<Udtf>> {
        self.table.get(&name.to_ascii_uppercase()).cloned()
    }

    /// `(name, kind)` of every function, sorted by name.
    pub fn list(&self) -> Vec<(String, &'static str)> {
        let mut v: Vec<(String, &'static str)> = self
            .scalar
            .keys()
            .map(|n| (n.clone(), "SCALAR"))
            .chain(self.aggregate.keys().map(|n| (n.clone(), "AGGREGATE")))
            .chain(self.table.keys().map(|n| (n.clone(), "TABLE")))
            .collect();
        v.sort();
        v
    }
}
