//! Operators: the physical counterparts of plan nodes (`Filter` /
//! `FilterOp`, …), one per file. An operator receives [`Batch`]es on its
//! input ports, emits batches through its [`OpContext`], and keeps state
//! only in stores it opens in [`Operator::init`].
//!
//! The contract, which the runtime and the [`TestDriver`](crate::TestDriver)
//! both honour:
//! - `init` runs once per task before any batch. It opens (registers) the
//!   operator's stores; the task restores them from their changelogs after
//!   every `init` returned, so `init` must not read them: read on first use.
//! - `on_batch` gets rows in input order; batches of one port arrive in
//!   offset order.
//! - `on_time` runs after every input batch with the task's stream time
//!   (the largest event time the task has read); operators that close windows
//!   or punctuate on stream time do it here.
//! - `on_wall_clock` runs about every `poll` with the system time (or the
//!   test driver's mocked time).
//! - `on_commit` runs before the task commits: flush caches into stores and
//!   emit what the cache held back. After it returns, the runtime flushes the
//!   stores (changelog), then the sinks, then commits input offsets.

pub(crate) mod accumulator;
pub(crate) mod aggregate;
pub(crate) mod filter;
pub(crate) mod flat_map;
pub(crate) mod foreign_key_join;
pub(crate) mod join_rows;
pub(crate) mod join_stream_stream;
pub(crate) mod join_stream_table;
pub(crate) mod join_table_table;
pub(crate) mod project;
pub(crate) mod select_key;
pub(crate) mod session;
pub(crate) mod sliding;
pub(crate) mod sink;
pub(crate) mod table;

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::row::RowConverter;

use riffle_state::{KeyValueSpec, KvStore, SessionSpec, SessionStoreImpl, StateManager, WindowStoreImpl};

use crate::batch::Batch;
use crate::error::{EngineError, Result};
use crate::runtime::TaskMetrics;

/// A physical operator. See the module docs for the call order.
pub trait Operator: Send {
    /// Display name (for errors and metrics).
    fn name(&self) -> &str;

    /// Opens stores and prepares state. Runs once, before the stores are
    /// restored (see the module docs).
    ///
    /// # Errors
    /// Store failures.
    fn init(&mut self, _ctx: &mut InitContext<'_>) -> Result<()> {
        Ok(())
    }

    /// Processes rows that arrived on input `port`.
    ///
    /// # Errors
    /// Failures that should stop the task (bad records are skipped earlier,
    /// at decode time).
    fn on_batch(&mut self, port: usize, batch: Batch, ctx: &mut OpContext<'_>) -> Result<()>;

    /// Stream time advanced to `ctx.stream_time`. No-op by default.
    ///
    /// # Errors
    /// As `on_batch`.
    fn on_time(&mut self, _ctx: &mut OpContext<'_>) -> Result<()> {
        Ok(())
    }

    /// Wall-clock tick at `ctx.wall_clock_ms`. No-op by default.
    ///
    /// # Errors
    /// As `on_batch`.
    fn on_wall_clock(&mut self, _ctx: &mut OpContext<'_>) -> Result<()> {
        Ok(())
    }

    /// The task is about to commit: write cached state into stores and emit
    /// held-back updates. No-op by default.
    ///
    /// # Errors
    /// Store failures.
    fn on_commit(&mut self, _ctx: &mut OpContext<'_>) -> Result<()> {
        Ok(())
    }

    /// Interactive query: the current rows of the store named `store`, in
    /// the operator's output schema — for `key` (one row of the key
    /// columns) or every key, and for windowed stores the windows starting
    /// in `windows` (inclusive; every window when `None`). `None` when the
    /// operator does not own `store`. What operators hold in memory and
    /// have not written to the store yet is included.
    ///
    /// # Errors
    /// A key batch that does not match the key columns; store failures.
    fn query(&mut self, _store: &str, _key: Option<&RecordBatch>, _windows: Option<(i64, i64)>) -> Result<Option<RecordBatch>> {
        Ok(None)
    }
}

/// Turns a one-row key batch into row-format bytes with `conv`.
pub(crate) fn query_key(conv: &RowConverter, key: &RecordBatch, store: &str) -> Result<Vec<u8>> {
    if key.num_rows() != 1 {
        return Err(EngineError::Expr {
            expr: format!("key of store {store:?}"),
            reason: format!("a key lookup needs exactly one key row, got {}", key.num_rows()),
        });
    }
    let rows = conv.convert_columns(key.columns()).map_err(|e| EngineError::Expr {
        expr: format!("key of store {store:?}"),
        reason: format!("the key does not match the store's key columns: {e}"),
    })?;
    Ok(rows.row(0).as_ref().to_vec())
}

/// What an operator can do while processing.
pub struct OpContext<'a> {
    pub(crate) out: &'a mut Vec<Batch>,
    /// The task's stream time: the largest event time read so far
    /// (`i64::MIN` before the first record).
    pub stream_time: i64,
    /// Wall-clock time, ms since the epoch (mocked by the test driver).
    pub wall_clock_ms: i64,
    /// The task's counters.
    pub metrics: &'a TaskMetrics,
    /// Whether the write-back cache is on (updates per key deduplicated per
    /// commit) or off (one update per input record).
    pub caching: bool,
}

impl OpContext<'_> {
    /// Sends `batch` to this operator's consumers (empty batches are
    /// dropped).
    pub fn emit(&mut self, batch: Batch) {
        if !batch.is_empty() {
            self.out.push(batch);
        }
    }
}

/// Access to the task's stores while an operator initializes.
pub struct InitContext<'a> {
    pub(crate) state: &'a mut StateManager,
    pub(crate) opened: &'a mut Vec<String>,
    /// The task's partition.
    pub partition: i32,
    /// Write-back cache size for each store (0 = off).
    pub cache_bytes: usize,
}

impl InitContext<'_> {
    /// Opens (or creates) a key-value store.
    ///
    /// # Errors
    /// Duplicate names, store failures.
    pub fn key_value_store(&mut self, spec: KeyValueSpec) -> Result<Arc<KvStore>> {
        let name = spec.name.clone();
        let s = self.state.key_value_store(spec).map_err(|e| EngineError::state(&name, e))?;
        self.opened.push(name);
        Ok(s)
    }

    /// Opens a window store.
    ///
    /// # Errors
    /// As [`InitContext::key_value_store`].
    pub fn window_store(&mut self, spec: riffle_state::WindowSpec) -> Result<Arc<WindowStoreImpl>> {
        let name = spec.name.clone();
        let s = self.state.window_store(spec).map_err(|e| EngineError::state(&name, e))?;
        self.opened.push(name);
        Ok(s)
    }

    /// Opens a session store.
    ///
    /// # Errors
    /// As [`InitContext::key_value_store`].
    pub fn session_store(&mut self, spec: SessionSpec) -> Result<Arc<SessionStoreImpl>> {
        let name = spec.name.clone();
        let s = self.state.session_store(spec).map_err(|e| EngineError::state(&name, e))?;
        self.opened.push(name);
        Ok(s)
    }
}
