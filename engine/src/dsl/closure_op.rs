//! `ClosureOp`: the one operator behind every DSL closure (`filter`,
//! `map_values`, `map`, `flat_map`, `select_key`, `peek`, `foreach`, join
//! value joiners). It is planned as a `Process` node through
//! [`PlanBuilder::process`](crate::PlanBuilder::process) with a
//! [`ClosureSupplier`].
//!
//! The operator is untyped: per row it hands a [`RowIn`] (the key and value
//! as column text) to a type-erased [`RowFn`] that the typed DSL built
//! around the user's closure; that function deserializes, calls the
//! closure, and pushes zero or more [`RowOut`]s with re-serialized text.
//!
//! Semantics per input kind:
//! - **stream**: every output row becomes a row, with the input row's event
//!   time. Delete rows (tombstones of a table turned into a stream) pass
//!   through without calling the closure, and are dropped when re-keying,
//!   since a typed closure cannot receive a missing value.
//! - **table**: deletes pass through without calling the closure; a row the
//!   closure drops becomes a delete of its key (Kafka Streams'
//!   `KTable.filter`); more than one output row is an error. Old values,
//!   when the input carries them, are mapped the same way.
//!
//! A row whose key or value does not decode is skipped, logged and counted
//! in `decode_errors`; a closure result that cannot be serialized stops the
//! task with an error naming the operator.

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray, UInt32Array};
use arrow::compute::take;
use arrow::array::AsArray;
use arrow::datatypes::{Int64Type, SchemaRef};
use serde::de::DeserializeOwned;

use super::codec::{decode_key, decode_value, KeyLayout, TextColumn, KEY, RIGHT_VALUE, VALUE};
use crate::batch::{Batch, Change};
use crate::error::{EngineError, Result};
use crate::operators::{OpContext, Operator};
use crate::plan::{Kind, Meta, WINDOWEND, WINDOWSTART};
use crate::processor::ProcessorSupplier;

/// One input row as the erased closure sees it.
pub(crate) struct RowIn<'a> {
    /// Key column text (`null` when the node has no key column).
    pub(crate) key: Cow<'a, str>,
    /// Window bounds of windowed rows.
    pub(crate) window: Option<(i64, i64)>,
    /// Value JSON text; `None` for a missing side of an outer join.
    pub(crate) value: Option<Cow<'a, str>>,
    /// Right side's value JSON text after a join.
    pub(crate) right: Option<Cow<'a, str>>,
}

/// Why a row produced nothing.
#[derive(Debug)]
pub(crate) enum RowError {
    /// Bad data: skip the row and count it.
    Skip(String),
    /// A result that cannot be written: stop the task.
    Fail(String),
}

impl RowIn<'_> {
    /// The typed key.
    pub(crate) fn key<K: DeserializeOwned>(&self, layout: KeyLayout) -> Result<K, RowError> {
        decode_key(layout, &self.key, self.window).map_err(RowError::Skip)
    }

    /// The typed value; a missing value is bad data.
    pub(crate) fn value<V: DeserializeOwned>(&self) -> Result<V, RowError> {
        match &self.value {
            Some(t) => decode_value(t).map_err(RowError::Skip),
            None => Err(RowError::Skip("the row has no value".into())),
        }
    }

    /// The typed value, `None` when missing (outer joins).
    pub(crate) fn value_opt<V: DeserializeOwned>(&self) -> Result<Option<V>, RowError> {
        self.value.as_deref().map(decode_value).transpose().map_err(RowError::Skip)
    }

    /// The typed right-side value, `None` when missing.
    pub(crate) fn right_opt<V: DeserializeOwned>(&self) -> Result<Option<V>, RowError> {
        self.right.as_deref().map(decode_value).transpose().map_err(RowError::Skip)
    }

    /// An output row that keeps this row's key and value as they are.
    pub(crate) fn unchanged(&self) -> RowOut {
        RowOut { key: None, value: self.value.as_deref().map(str::to_owned) }
    }
}

/// One output row.
#[derive(Debug)]
pub(crate) struct RowOut {
    /// New key text (re-keying shapes); `None` keeps the input key.
    pub(crate) key: Option<String>,
    /// Value JSON text; `None` writes NULL.
    pub(crate) value: Option<String>,
}

/// The erased closure: reads a row, pushes its output rows.
pub(crate) type RowFn = Arc<dyn Fn(&RowIn<'_>, &mut Vec<RowOut>) -> Result<(), RowError> + Send + Sync>;

/// How the output columns relate to the input's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Same key (and window); new value column.
    Keep,
    /// New key column from [`RowOut::key`]; no window.
    Rekey,
    /// No key column (unit keys before a sink).
    DropKey,
}

impl Shape {
    /// The output description for `input`.
    pub(crate) fn meta(self, input: &Meta) -> Meta {
        use arrow::datatypes::{DataType, Field, Schema};
        let value = Field::new(VALUE, DataType::Utf8, true);
        match self {
            Shape::Keep => {
                let mut fields: Vec<Field> =
                    input.schema.fields()[..input.value_start()].iter().map(|f| (**f).clone()).collect();
                fields.push(value);
                Meta { schema: Arc::new(Schema::new(fields)), ..input.clone() }
            }
            Shape::Rekey => Meta {
                schema: Arc::new(Schema::new(vec![Field::new(KEY, DataType::Utf8, true), value])),
                key_len: 1,
                kind: Kind::Stream,
                window: None,
                time: input.time.clone(),
            },
            Shape::DropKey => Meta {
                schema: Arc::new(Schema::new(vec![value])),
                key_len: 0,
                window: None,
                ..input.clone()
            },
        }
    }
}

/// Everything a [`ClosureOp`] needs; shared by the operators of all tasks.
pub(crate) struct ClosureSpec {
    name: String,
    f: RowFn,
    shape: Shape,
    table: bool,
    key: Option<usize>,
    window: Option<(usize, usize)>,
    value: Option<usize>,
    right: Option<usize>,
    out: SchemaRef,
}

impl ClosureSpec {
    /// A spec for a closure over `input` giving `out`.
    pub(crate) fn new(name: String, f: RowFn, shape: Shape, input: &Meta, out: &Meta) -> Self {
        let s = &input.schema;
        ClosureSpec {
            name,
            f,
            shape,
            table: input.kind == Kind::Table,
            key: (input.key_len == 1).then_some(0),
            window: input.window.map(|_| (input.key_len, input.key_len + 1)),
            value: s.index_of(VALUE).ok(),
            right: s.index_of(RIGHT_VALUE).ok(),
            out: out.schema.clone(),
        }
    }
}

/// Makes one [`ClosureOp`] per task.
pub(crate) struct ClosureSupplier(pub(crate) Arc<ClosureSpec>);

impl fmt::Debug for ClosureSupplier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClosureSupplier").field("name", &self.0.name).field("shape", &self.0.shape).finish()
    }
}

impl ProcessorSupplier for ClosureSupplier {
    fn get(&self, _partition: i32) -> Box<dyn Operator> {
        Box::new(ClosureOp { spec: self.0.clone() })
    }
}

/// Runs a DSL closure per row. See the module docs.
pub(crate) struct ClosureOp {
    spec: Arc<ClosureSpec>,
}

/// The columns a closure reads, downcast once per batch.
struct Cols<'a> {
    key: TextColumn<'a>,
    window: Option<(&'a Int64Array, &'a Int64Array)>,
    value: TextColumn<'a>,
    right: TextColumn<'a>,
}

/// Output rows under construction.
#[derive(Default)]
struct Out {
    src: Vec<u32>,
    keys: Vec<Option<String>>,
    values: Vec<Option<String>>,
    deleted: Vec<bool>,
}

impl ClosureOp {
    /// The input columns of `rows`, read once per batch.
    fn columns<'a>(&self, rows: &'a RecordBatch) -> Cols<'a> {
        let s = &*self.spec;
        let int = |c: usize| rows.column(c).as_primitive_opt::<Int64Type>();
        Cols {
            key: TextColumn::new(s.key.map(|k| rows.column(k))),
            window: s.window.and_then(|(a, b)| Some((int(a)?, int(b)?))),
            value: TextColumn::new(s.value.map(|v| rows.column(v))),
            right: TextColumn::new(s.right.map(|v| rows.column(v))),
        }
    }

    /// Calls the closure on row `i`, leaving its output in `buf`;
    /// `Ok(false)` when the row was skipped as bad data.
    fn call(&self, cols: &Cols<'_>, i: usize, ctx: &OpContext<'_>, buf: &mut Vec<RowOut>) -> Result<bool> {
        let s = &*self.spec;
        let bound = |a: &Int64Array| a.is_valid(i).then(|| a.value(i));
        let row = RowIn {
            key: cols.key.get(i).unwrap_or(Cow::Borrowed("null")),
            window: cols.window.and_then(|(a, b)| Some((bound(a)?, bound(b)?))),
            value: cols.value.get(i),
            right: cols.right.get(i),
        };
        buf.clear();
        match (s.f)(&row, buf) {
            Ok(()) => Ok(true),
            Err(RowError::Skip(reason)) => {
                buf.clear();
                ctx.metrics.decode_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(operator = %s.name, "skipping row: {reason}");
                Ok(false)
            }
            Err(RowError::Fail(reason)) => Err(EngineError::expr(&s.name, reason)),
        }
    }

    /// Builds output rows (in the output schema) from `out`, reading kept
    /// keys and windows from `rows`.
    fn assemble(&self, rows: &RecordBatch, out: &Out) -> Result<RecordBatch> {
        let s = &*self.spec;
        let err = |e| EngineError::arrow(&s.name, e);
        let idx = UInt32Array::from(out.src.clone());
        let in_keys = TextColumn::new(s.key.map(|k| rows.column(k)));
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(s.out.fields().len());
        for f in s.out.fields() {
            let col: ArrayRef = match f.name().as_str() {
                KEY => {
                    let keys: Vec<Option<Cow<'_, str>>> = out
                        .keys
                        .iter()
                        .zip(&out.src)
                        .map(|(k, &src)| match k {
                            Some(k) => Some(Cow::Borrowed(k.as_str())),
                            None => in_keys.get(src as usize),
                        })
                        .collect();
                    Arc::new(keys.iter().map(|k| k.as_deref()).collect::<StringArray>())
                }
                WINDOWSTART | WINDOWEND => {
                    let (a, b) = s.window.ok_or_else(|| EngineError::Internal(format!("{}: window columns without a window", s.name)))?;
                    let c = if f.name() == WINDOWSTART { a } else { b };
                    take(rows.column(c), &idx, None).map_err(err)?
                }
                _ => Arc::new(out.values.iter().map(Option::as_deref).collect::<StringArray>()),
            };
            cols.push(col);
        }
        RecordBatch::try_new(s.out.clone(), cols).map_err(err)
    }

    fn on_stream(&self, batch: &Batch, ctx: &OpContext<'_>) -> Result<(Out, bool)> {
        let mut out = Out::default();
        let mut buf = Vec::new();
        let mut any_delete = false;
        let cols = self.columns(&batch.rows);
        for i in 0..batch.len() {
            if batch.is_delete(i) {
                if self.spec.shape != Shape::Rekey {
                    out.src.push(i as u32);
                    out.keys.push(None);
                    out.values.push(None);
                    out.deleted.push(true);
                    any_delete = true;
                }
                continue;
            }
            if !self.call(&cols, i, ctx, &mut buf)? {
                continue;
            }
            for r in buf.drain(..) {
                out.src.push(i as u32);
                out.keys.push(r.key);
                out.values.push(r.value);
                out.deleted.push(false);
            }
        }
        Ok((out, any_delete))
    }

    /// Maps one table row (new or old): `None` when the closure dropped it.
    fn table_row(&self, cols: &Cols<'_>, i: usize, ctx: &OpContext<'_>, buf: &mut Vec<RowOut>) -> Result<Option<RowOut>> {
        if !self.call(cols, i, ctx, buf)? {
            return Ok(None);
        }
        if buf.len() > 1 {
            return Err(EngineError::expr(&self.spec.name, "a table operation must give at most one row per input row"));
        }
        Ok(buf.pop())
    }

    fn on_table(&self, batch: Batch, ctx: &mut OpContext<'_>) -> Result<()> {
        let n = batch.len();
        let mut out = Out::default();
        let mut buf = Vec::new();
        let old = batch.change.as_ref().and_then(|c| c.old.as_ref());
        let cols = self.columns(&batch.rows);
        let old_cols = old.map(|(rows, _)| self.columns(rows));
        let mut old_out = Out::default();
        let mut old_present = Vec::with_capacity(n);
        for i in 0..n {
            let new = if batch.is_delete(i) { None } else { self.table_row(&cols, i, ctx, &mut buf)? };
            let prev = match (old, &old_cols) {
                (Some((_, present)), Some(oc)) if present.is_valid(i) && present.value(i) => self.table_row(oc, i, ctx, &mut buf)?,
                _ => None,
            };
            if new.is_none() && prev.is_none() && old.is_some() {
                // Neither side exists downstream: nothing changed.
                continue;
            }
            out.src.push(i as u32);
            out.keys.push(None);
            out.deleted.push(new.is_none());
            out.values.push(new.and_then(|r| r.value));
            old_out.src.push(i as u32);
            old_out.keys.push(None);
            old_out.deleted.push(false);
            old_present.push(prev.is_some());
            old_out.values.push(prev.and_then(|r| r.value));
        }
        if out.src.is_empty() {
            return Ok(());
        }
        let rows = self.assemble(&batch.rows, &out)?;
        let old = match old {
            Some((old_rows, _)) => Some((self.assemble(old_rows, &old_out)?, BooleanArray::from(old_present))),
            None => None,
        };
        let timestamps = pick_times(&batch, &out.src);
        ctx.emit(Batch { rows, timestamps, change: Some(Change { deleted: BooleanArray::from(out.deleted), old }), headers: None });
        Ok(())
    }
}

fn pick_times(batch: &Batch, src: &[u32]) -> Int64Array {
    let ts = batch.timestamps.values();
    Int64Array::from_iter_values(src.iter().map(|&i| ts[i as usize]))
}

impl Operator for ClosureOp {
    fn name(&self) -> &str {
        &self.spec.name
    }

    fn on_batch(&mut self, _port: usize, batch: Batch, ctx: &mut OpContext<'_>) -> Result<()> {
        if self.spec.table && self.spec.shape == Shape::Keep {
            return self.on_table(batch, ctx);
        }
        let (out, any_delete) = self.on_stream(&batch, ctx)?;
        if out.src.is_empty() {
            return Ok(());
        }
        let rows = self.assemble(&batch.rows, &out)?;
        let timestamps = pick_times(&batch, &out.src);
        let change = any_delete.then(|| Change { deleted: BooleanArray::from(out.deleted), old: None });
        ctx.emit(Batch { rows, timestamps, change, headers: None });
        Ok(())
    }
}
