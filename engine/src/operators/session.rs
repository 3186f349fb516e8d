//! Session-window `Aggregate` / `SessionOp` (Kafka Streams'
//! `windowedBy(SessionWindows)`, ksqlDB's `WINDOW SESSION`).
//!
//! A session of a key is `[start, end]` (both inclusive): the times of its
//! first and last record. A record at `t` joins every session of its key
//! that ends at or after `t - gap` and starts at or before `t + gap`; all of
//! them and the record merge into one session `[min start, max end]` whose
//! aggregate is the merge of theirs plus the record (a record can bridge
//! two sessions).
//!
//! Time, as Kafka Streams 3.x (and ksqlDB's golden tests) define it: the
//! operator's stream time is the largest event time it has seen, and
//! `close = stream time - gap - grace`. Sessions with `end <= close` are
//! closed and never merged into again (Kafka's store-retention rule); a
//! record whose merged session would end before `close` is late: dropped
//! and counted in `late_records`.
//!
//! Emission (the row's event time is always the session end):
//! - cache off: per record, a delete for each session merged away (unless it
//!   is exactly the new session), then the new session's row;
//! - cache on: at each commit, the latest state of every session touched
//!   since the last one (a row, or a delete for a merged-away session);
//! - final (`EMIT FINAL`): one row per session once the largest accepted
//!   event time reaches `end + gap + grace` (the session can no longer
//!   change). Pending sessions wait in their own changelogged store.
//!
//! Output rows have the aggregate's schema: key columns, `WINDOWSTART`,
//! `WINDOWEND`, carried columns, aggregates. Deletes carry
//! `Change { deleted }` with NULL values.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::row::RowConverter;
use riffle_state::encoding::{escape_into, time_bytes, unescape};
use riffle_state::{
    KeyValueSpec, KeyValueStore, KvStore, ReadOnlyKeyValueStore, ReadOnlySessionStore, SessionSpec, SessionStore,
    SessionStoreImpl, SessionWindow,
};

use super::accumulator::{carry_rows, AggInput, decode_state, encode_state, new_accs, Acc, ArgCol, OutBuilder};
use super::{InitContext, OpContext, Operator};
use crate::batch::{Batch, Change};
use crate::error::{EngineError, Result};
use crate::physical::expr::evaluate;
use crate::plan::{AggExpr, AggFunc, Aggregate, WindowKind};

/// One session's aggregate state.
struct SessionSlot {
    accs: Vec<Acc>,
    carry: Option<Box<[u8]>>,
}

/// A session as the output sees it: key, window, and its state (`None`: the
/// session was merged away).
type SessionRow = (Box<[u8]>, SessionWindow, Option<SessionSlot>);

/// Cache mode: `(key, start, end)` of a touched session → its latest state
/// (`None`: merged away) and whether it was in the store before.
type Touched = BTreeMap<(Box<[u8]>, i64, i64), (Option<Vec<u8>>, bool)>;

/// The session-window aggregation operator. See the module docs.
pub(crate) struct SessionOp {
    name: String,
    store_name: String,
    pending_name: String,
    gap: i64,
    grace: i64,
    retention: i64,
    final_only: bool,
    key_len: usize,
    key_conv: RowConverter,
    aggs: Vec<AggExpr>,
    arg_types: Vec<Vec<DataType>>,
    carry_idx: Vec<usize>,
    carry_conv: Option<RowConverter>,
    /// Row bytes of an all-NULL carry row (for deletes).
    null_carry: Vec<u8>,
    out_schema: SchemaRef,
    store: Option<Arc<SessionStoreImpl>>,
    /// Final mode: sessions not yet emitted, `end | key | start` → state.
    pending: Option<Arc<KvStore>>,
    /// Cache mode: sessions touched since the last commit → latest state,
    /// and whether the session was in the store before (a session made and
    /// merged away between two commits was never seen: no delete for it).
    changed: Touched,
    observed: i64,
    suppress_time: i64,
}


fn pending_key(key: &[u8], w: SessionWindow) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 18);
    k.extend_from_slice(&time_bytes(w.end));
    escape_into(&mut k, key);
    k.extend_from_slice(&time_bytes(w.start));
    k
}

fn time_of(b: &[u8]) -> Option<i64> {
    Some((u64::from_be_bytes(b.try_into().ok()?) ^ (1 << 63)) as i64)
}

impl SessionOp {
    /// A session aggregation as the `plan` node says (its window must be a
    /// session window); with `final_only`, only closed sessions are emitted.
    ///
    /// # Errors
    /// A window that is not a session window; unknown carried columns;
    /// argument types the aggregates reject.
    pub(crate) fn new(name: String, store_name: String, plan: &Aggregate, final_only: bool) -> Result<Self> {
        let (input, aggs, carry, out) = (plan.input.meta(), plan.aggs.clone(), &plan.carry[..], &plan.meta);
        let window = plan.window.ok_or_else(|| EngineError::plan(&name, "this operator needs a window"))?;
        let WindowKind::Session { gap_ms } = window.kind else {
            return Err(EngineError::plan(&name, "the session operator needs a session window"));
        };
        window.validate().map_err(|r| EngineError::plan(&name, r))?;
        let AggInput { key_conv, arg_types, carry_idx, carry_conv, null_carry } = AggInput::new(&name, input, &aggs, carry)?;
        Ok(SessionOp {
            pending_name: format!("{store_name}-final"),
            name,
            store_name,
            gap: gap_ms,
            grace: window.grace_ms,
            retention: window.store_retention_ms(),
            final_only,
            key_len: input.key_len,
            key_conv,
            aggs,
            arg_types,
            carry_idx,
            carry_conv,
            null_carry,
            out_schema: out.schema.clone(),
            store: None,
            pending: None,
            changed: BTreeMap::new(),
            observed: i64::MIN,
            suppress_time: i64::MIN,
        })
    }

    fn new_slot(&self) -> Result<SessionSlot> {
        Ok(SessionSlot { accs: new_accs(&self.aggs, &self.arg_types)?, carry: None })
    }

    /// Store layout: [`encode_state`], the same as the time-window aggregate's.
    fn encode(slot: &SessionSlot) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        encode_state(slot.carry.as_deref(), &slot.accs, &mut out);
        out
    }

    fn decode(&self, bytes: &[u8]) -> Result<SessionSlot> {
        let mut slot = self.new_slot()?;
        slot.carry = decode_state(bytes, &mut slot.accs)
            .map_err(|e| EngineError::Internal(format!("{}: a stored session does not decode: {e}", self.name)))?;
        Ok(slot)
    }

    fn store(&self) -> Result<&Arc<SessionStoreImpl>> {
        self.store.as_ref().ok_or_else(|| EngineError::Internal(format!("{} used before init", self.name)))
    }

    /// Sessions end before this are closed.
    fn close_time(&self, time: i64) -> i64 {
        time.saturating_sub(self.gap).saturating_sub(self.grace)
    }

    /// Output rows for `items` (event time = session end).
    fn rows(&self, items: &[SessionRow]) -> Result<Batch> {
        let err = |e| EngineError::arrow(&self.name, e);
        let parser = self.key_conv.parser();
        let mut cols: Vec<ArrayRef> = self.key_conv.convert_rows(items.iter().map(|(k, _, _)| parser.parse(k))).map_err(err)?;
        cols.push(Arc::new(Int64Array::from_iter_values(items.iter().map(|(_, w, _)| w.start))));
        cols.push(Arc::new(Int64Array::from_iter_values(items.iter().map(|(_, w, _)| w.end))));
        if let Some(conv) = &self.carry_conv {
            let parser = conv.parser();
            let carried = conv
                .convert_rows(items.iter().map(|(_, _, s)| {
                    parser.parse(s.as_ref().and_then(|s| s.carry.as_deref()).unwrap_or(&self.null_carry))
                }))
                .map_err(err)?;
            cols.extend(carried);
        }
        let first_agg = cols.len();
        for j in 0..self.aggs.len() {
            let t = self.out_schema.field(first_agg + j).data_type().clone();
            let mut b = OutBuilder::new(&t, items.len())?;
            for (_, _, s) in items {
                match s {
                    Some(s) => s.accs[j].append_to(&mut b),
                    None => b.append_null(),
                }
            }
            cols.push(b.finish(&t)?);
        }
        let rows = RecordBatch::try_new(self.out_schema.clone(), cols).map_err(err)?;
        let mut batch = Batch::new(rows, Int64Array::from_iter_values(items.iter().map(|(_, w, _)| w.end)));
        batch.change = Some(Change { deleted: BooleanArray::from_iter(items.iter().map(|(_, _, s)| Some(s.is_none()))), old: None });
        Ok(batch)
    }

    /// Final mode: emits and forgets the sessions that can no longer change.
    fn emit_closed(&mut self, ctx: &mut OpContext<'_>) -> Result<()> {
        let Some(pending) = self.pending.clone() else { return Ok(()) };
        if self.suppress_time == i64::MIN {
            return Ok(());
        }
        let limit = self.close_time(self.suppress_time).saturating_add(1);
        let serr = |e| EngineError::state(&self.pending_name, e);
        let closed = pending.range(&[], &time_bytes(limit)).map_err(serr)?;
        if closed.is_empty() {
            return Ok(());
        }
        let bad = || EngineError::Internal(format!("{}: a pending session key does not decode", self.name));
        let mut items: Vec<SessionRow> = Vec::with_capacity(closed.len());
        for (k, v) in &closed {
            let end = time_of(k.get(..8).ok_or_else(bad)?).ok_or_else(bad)?;
            let (key, used) = unescape(k.get(8..).ok_or_else(bad)?).ok_or_else(bad)?;
            let start = time_of(k.get(8 + used..).ok_or_else(bad)?).ok_or_else(bad)?;
            items.push((key.into(), SessionWindow { start, end }, Some(self.decode(v)?)));
            pending.delete(k).map_err(serr)?;
        }
        let batch = self.rows(&items)?;
        ctx.emit(batch);
        Ok(())
    }

    /// Records that session `w` of `key` changed to `state` (`None`: merged
    /// away; `slot` is the same state, for per-record output). `existed`:
    /// the session was in the store before this change.
    #[allow(clippy::too_many_arguments)]
    fn note(
        &mut self,
        key: &[u8],
        w: SessionWindow,
        state: Option<&[u8]>,
        slot: Option<SessionSlot>,
        existed: bool,
        caching: bool,
        out: &mut Vec<SessionRow>,
    ) -> Result<()> {
        if self.final_only {
            let pending = self.pending.clone().ok_or_else(|| EngineError::Internal(format!("{} used before init", self.name)))?;
            let serr = |e| EngineError::state(&self.pending_name, e);
            match state {
                Some(v) => pending.put(&pending_key(key, w), v).map_err(serr)?,
                None => pending.delete(&pending_key(key, w)).map(|_| ()).map_err(serr)?,
            }
        } else if caching {
            let e = self.changed.entry((key.into(), w.start, w.end)).or_insert((None, existed));
            e.0 = state.map(<[u8]>::to_vec);
        } else {
            out.push((key.into(), w, slot));
        }
        Ok(())
    }
}

impl Operator for SessionOp {
    fn query(&mut self, store: &str, key: Option<&RecordBatch>, windows: Option<(i64, i64)>) -> Result<Option<RecordBatch>> {
        if store != self.store_name {
            return Ok(None);
        }
        // Sessions are written to the store as they change: it is current.
        let key = key.map(|k| super::query_key(&self.key_conv, k, &self.store_name)).transpose()?;
        let (lo, hi) = windows.unwrap_or((i64::MIN, i64::MAX));
        let err = |e| EngineError::state(&self.store_name, e);
        let s = self.store()?;
        let Some(k) = &key else {
            return Err(EngineError::Expr {
                expr: format!("query of store {store:?}"),
                reason: "session stores are queried by key; give the key".into(),
            });
        };
        let found = s.fetch(k).map_err(err)?;
        let items: Vec<SessionRow> = found
            .into_iter()
            .filter(|e| (lo..=hi).contains(&e.window.start))
            .map(|e| Ok((e.key.to_vec().into_boxed_slice(), e.window, Some(self.decode(&e.value)?))))
            .collect::<Result<_>>()?;
        Ok(Some(self.rows(&items)?.rows))
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        self.store = Some(ctx.session_store(SessionSpec {
            name: self.store_name.clone(),
            retention_ms: self.retention,
            cache_bytes: 0,
            logged: true,
        })?);
        if self.final_only {
            self.pending =
                Some(ctx.key_value_store(KeyValueSpec { name: self.pending_name.clone(), cache_bytes: 0, logged: true })?);
        }
        Ok(())
    }

    fn on_batch(&mut self, _port: usize, batch: Batch, ctx: &mut OpContext<'_>) -> Result<()> {
        let store = self.store()?.clone();
        let store_name = self.store_name.clone();
        let serr = |e| EngineError::state(&store_name, e);
        let cols = batch.rows.columns();
        let keys = self.key_conv.convert_columns(&cols[..self.key_len]).map_err(|e| EngineError::arrow(&self.name, e))?;
        let mut arg_arrays: Vec<Vec<ArrayRef>> = Vec::with_capacity(self.aggs.len());
        for a in &self.aggs {
            arg_arrays.push(a.args.iter().map(|e| evaluate(e, &batch)).collect::<Result<Vec<_>>>()?);
        }
        let arg_cols: Vec<ArgCol<'_>> = arg_arrays.iter().map(|v| ArgCol::new(v.first())).collect();
        let stars: Vec<bool> = self.aggs.iter().map(|a| matches!(a.func, AggFunc::CountStar)).collect();
        let carry = carry_rows(&self.name, self.carry_conv.as_ref(), &self.carry_idx, cols)?;
        let ts = batch.timestamps.values();
        let mut out: Vec<SessionRow> = Vec::new();
        let mut late = 0u64;
        for i in 0..batch.len() {
            if batch.is_delete(i) {
                continue; // a session cannot take a row back
            }
            let t = ts[i];
            let key = keys.row(i);
            let key = key.as_ref();
            self.observed = self.observed.max(t);
            let close = self.close_time(self.observed);
            let found: Vec<_> = store
                .find_sessions(key, t.saturating_sub(self.gap), t.saturating_add(self.gap))
                .map_err(serr)?
                .into_iter()
                .filter(|s| s.window.end > close)
                .collect();
            let new_window = SessionWindow { start: t, end: t };
            let merged = found.iter().fold(new_window, |w, s| SessionWindow {
                start: w.start.min(s.window.start),
                end: w.end.max(s.window.end),
            });
            if merged.end < close {
                late += 1;
                continue;
            }
            let mut slot = self.new_slot()?;
            for s in &found {
                let old = self.decode(&s.value)?;
                for (a, b) in slot.accs.iter_mut().zip(&old.accs) {
                    a.merge(b)?;
                }
            }
            for (j, acc) in slot.accs.iter_mut().enumerate() {
                acc.update(&arg_cols[j], &arg_arrays[j], i, stars[j])?;
            }
            slot.carry = carry.as_ref().map(|c| c.row(i).as_ref().into());
            if merged != new_window {
                for s in &found {
                    store.remove(key, s.window).map_err(serr)?;
                    self.note(key, s.window, None, None, true, ctx.caching, &mut out)?;
                }
            }
            let value = Self::encode(&slot);
            store.put(key, merged, &value).map_err(serr)?;
            let existed = found.iter().any(|s| s.window == merged);
            self.note(key, merged, Some(&value), Some(slot), existed, ctx.caching, &mut out)?;
            self.suppress_time = self.suppress_time.max(t);
        }
        if late > 0 {
            ctx.metrics.late_records.fetch_add(late, Ordering::Relaxed);
            tracing::debug!(operator = %self.name, late, "dropped records for closed sessions");
        }
        if !out.is_empty() {
            let b = self.rows(&out)?;
            ctx.emit(b);
        }
        self.emit_closed(ctx)
    }

    fn on_time(&mut self, ctx: &mut OpContext<'_>) -> Result<()> {
        self.emit_closed(ctx)
    }

    fn on_commit(&mut self, ctx: &mut OpContext<'_>) -> Result<()> {
        if self.changed.is_empty() {
            return Ok(());
        }
        let changed = std::mem::take(&mut self.changed);
        let mut items: Vec<SessionRow> = Vec::with_capacity(changed.len());
        for ((k, start, end), (v, existed)) in changed {
            if v.is_none() && !existed {
                continue;
            }
            let slot = v.map(|v| self.decode(&v)).transpose()?;
            items.push((k, SessionWindow { start, end }, slot));
        }
        if !items.is_empty() {
            let b = self.rows(&items)?;
            ctx.emit(b);
        }
        Ok(())
    }
}
