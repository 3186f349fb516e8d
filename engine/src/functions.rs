//! The extension point for functions: scalar functions, aggregate functions
//! and table functions that the SQL layer (or a user) registers on top of the
//! built-ins the engine evaluates itself.
//!
//! A scalar function is vectorized: it receives whole Arrow arrays and
//! returns one. An aggregate function hands out [`Accumulator`]s that the
//! aggregate operator keeps per group and window, and stores in its state
//! store as bytes. A table function turns each input row into zero or more
//! rows (`EXPLODE`).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::DataType;

use crate::error::Result;
use crate::plan::ScalarValue;

/// A vectorized scalar function.
pub trait ScalarFunction: Send + Sync + Debug {
    /// Name as written in queries (upper case for SQL functions).
    fn name(&self) -> &str;

    /// Result type for these argument types.
    ///
    /// # Errors
    /// Argument types the function does not accept; the message says which.
    fn return_type(&self, args: &[DataType]) -> Result<DataType>;

    /// Evaluates the function over `rows` rows; each argument array has
    /// `rows` entries.
    ///
    /// # Errors
    /// Evaluation failures that should stop the query (not bad values: those
    /// give NULL, as in ksqlDB).
    fn invoke(&self, args: &[ArrayRef], rows: usize) -> Result<ArrayRef>;
}

/// Per-group state of an aggregate function.
pub trait Accumulator: Send + Debug {
    /// Adds row `row` of the argument arrays.
    ///
    /// # Errors
    /// Values the function cannot take.
    fn update(&mut self, args: &[ArrayRef], row: usize) -> Result<()>;

    /// Removes row `row` (table aggregations, when a row leaves its group).
    ///
    /// # Errors
    /// Functions that cannot undo (the default) say so.
    fn retract(&mut self, _args: &[ArrayRef], _row: usize) -> Result<()> {
        Err(crate::EngineError::Plan {
            node: "Aggregate".into(),
            reason: "this aggregate function cannot be used on a table (it has no undo)".into(),
        })
    }

    /// Folds another accumulator of the same function in (session merges).
    ///
    /// # Errors
    /// When `other` came from a different function.
    fn merge(&mut self, other: &[u8]) -> Result<()>;

    /// The current result.
    fn evaluate(&self) -> ScalarValue;

    /// Serialized state, for the state store.
    fn state(&self) -> Vec<u8>;

    /// Replaces the state with one written by [`Accumulator::state`].
    ///
    /// # Errors
    /// Bytes that do not decode.
    fn load(&mut self, state: &[u8]) -> Result<()>;
}

/// A user-defined aggregate function.
pub trait AggregateFunction: Send + Sync + Debug {
    /// Name as written in queries.
    fn name(&self) -> &str;

    /// Result type for these argument types.
    ///
    /// # Errors
    /// Argument types the function does not accept.
    fn return_type(&self, args: &[DataType]) -> Result<DataType>;

    /// A fresh accumulator.
    ///
    /// # Errors
    /// Argument types the function does not accept.
    fn accumulator(&self, args: &[DataType]) -> Result<Box<dyn Accumulator>>;
}

/// A table function: each input row gives zero or more output values.
pub trait TableFunction: Send + Sync + Debug {
    /// Name as written in queries.
    fn name(&self) -> &str;

    /// Type of the produced values.
    ///
    /// # Errors
    /// Argument types the function does not accept.
    fn return_type(&self, args: &[DataType]) -> Result<DataType>;

    /// Evaluates over `rows` input rows; returns the produced values and, for
    /// each, the index of the input row it came from (non-decreasing).
    ///
    /// # Errors
    /// Evaluation failures.
    fn invoke(&self, args: &[ArrayRef], rows: usize) -> Result<(ArrayRef, Vec<u32>)>;
}

/// Functions by name (names compare case-insensitively).
#[derive(Debug, Default, Clone)]
pub struct FunctionRegistry {
    scalar: BTreeMap<String, Arc<dyn ScalarFunction>>,
    aggregate: BTreeMap<String, Arc<dyn AggregateFunction>>,
    table: BTreeMap<String, Arc<dyn TableFunction>>,
}

impl FunctionRegistry {
    /// An empty registry (the engine's built-in operators and aggregates need
    /// no registration).
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a scalar function, replacing one of the same name.
    pub fn register_scalar(&mut self, f: Arc<dyn ScalarFunction>) {
        self.scalar.insert(f.name().to_ascii_uppercase(), f);
    }

    /// Registers an aggregate function.
    pub fn register_aggregate(&mut self, f: Arc<dyn AggregateFunction>) {
        self.aggregate.insert(f.name().to_ascii_uppercase(), f);
    }

    /// Registers a table function.
    pub fn register_table(&mut self, f: Arc<dyn TableFunction>) {
        self.table.insert(f.name().to_ascii_uppercase(), f);
    }

    /// A scalar function by name.
    pub fn scalar(&self, name: &str) -> Option<Arc<dyn ScalarFunction>> {
        self.scalar.get(&name.to_ascii_uppercase()).cloned()
    }

    /// An aggregate function by name.
    pub fn aggregate(&self, name: &str) -> Option<Arc<dyn AggregateFunction>> {
        self.aggregate.get(&name.to_ascii_uppercase()).cloned()
    }

    /// A table function by name.
    pub fn table(&self, name: &str) -> Option<Arc<dyn TableFunction>> {
        self.table.get(&name.to_ascii_uppercase()).cloned()
    }

    /// Names of all registered functions, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> =
            self.scalar.keys().chain(self.aggregate.keys()).chain(self.table.keys()).cloned().collect();
        v.sort();
        v.dedup();
        v
    }
}
