//! Sliding-window `Aggregate` / `SlidingOp` (Kafka Streams'
//! `windowedBy(SlidingWindows)`, its `KStreamSlidingWindowAggregate`).
//!
//! # Windows
//!
//! With time difference `d`, the windows of a key are `[start, start + d]`,
//! both ends inclusive, and exist only where its records are. A record at
//! `t` has its *left window* `[t - d, t]` (`[0, d]` when `t < d`: windows
//! never start before 0) and, once a record of the key falls in it, its
//! *right window* `[t + 1, t + 1 + d]`. A window holds every record of the
//! key whose time is in its range, so each window is a distinct set of
//! records. Output rows carry `WINDOWSTART = start`, `WINDOWEND = start + d`
//! and, as event time, the latest record time in the window.
//!
//! ```text
//! d = 10, records at 10, 5, 15:   [0,10] {5,10}    [5,15] {5,10,15}
//!                                 [6,16] {10,15}   [11,21] {15}
//! ```
//!
//! # Time
//!
//! Stream time is the largest event time seen; `close = stream time -
//! grace`. A record with `t + d < close` (even its right window has closed)
//! is late: dropped and counted in `late_records`. Windows with `end >=
//! close` are *open*; only open windows are emitted. Records with a
//! negative time, and deletes, are skipped.
//!
//! # Bookkeeping
//!
//! Windows live in a changelogged window store keyed by (key, start), the
//! value being the latest record time then the aggregate state. A record at
//! `t` reads its key's windows starting in `[t - 2d - 1, t + 1]` and
//! ([`plan_record`]):
//!
//! - adds itself to every window containing `t`;
//! - creates its left window, if missing, from the window ending before `t`
//!   with the largest start, which holds exactly the records of `[t - d, t)`
//!   when its latest record is at or after `t - d` (else from nothing), and
//!   adds itself;
//! - creates its right window, if missing, as a copy of the window
//!   containing `t` with the largest start, when that window holds a record
//!   after `t`: it then holds exactly the records of `(t, t + 1 + d]`;
//! - creates the right window of the previous record `p` (the latest
//!   before `t`) if missing and `t <= p + 1 + d`: it holds only the record.
//!
//! Those copies are right only if every window of the key near `t` exists
//! and holds all its records. So, unlike Kafka Streams, the operator keeps
//! updating and creating closed windows that a later accepted record can
//! still read (start at or after `close - 3d - 1`, which the store's
//! retention keeps), without emitting them. What was emitted never changes
//! because of that; windows created later simply hold every accepted record
//! in their range. (Kafka Streams skips closed windows, so a record whose
//! windows had all closed when it arrived is missing from windows created
//! after it.)
//!
//! # Emission
//!
//! - cache off: per record, every open window it changed, in Kafka Streams'
//!   order: windows containing `t` by descending start, then the previous
//!   record's new right window, the new left window, the new right window;
//!   for records before `d` (Kafka's `processEarly`): windows containing
//!   `t` other than `[0, d]` by ascending start, the new right window, the
//!   previous record's new right window, then `[0, d]`;
//! - cache on: at each commit, the latest state of every open window
//!   changed since the last one, by (start, key);
//! - final (`EMIT FINAL` / suppress): KIP-825's emit-on-window-close, one
//!   row per window once stream time passes `end + grace`, by (end, key).
//!   Open windows wait in their own changelogged store, so every window
//!   that was ever open is emitted exactly once, even after a jump in
//!   stream time.
//!
//! The observed stream time is written to a small changelogged store at
//! each commit and read back on first use (the task restores its stores
//! after `init`), so a restored task drops, closes and emits as the old one
//! would have.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::row::RowConverter;
use bytes::Bytes;
use riffle_state::encoding::{escape_into, time_bytes, unescape};
use riffle_state::{
    KeyValueSpec, KeyValueStore, KvStore, ReadOnlyKeyValueStore, ReadOnlyWindowStore, StateError, WindowStore,
    WindowStoreImpl,
};

use super::accumulator::{carry_rows, AggInput, decode_state, encode_state, new_accs, Acc, ArgCol, OutBuilder};
use super::{InitContext, OpContext, Operator};
use crate::batch::Batch;
use crate::error::{EngineError, Result};
use crate::physical::expr::evaluate;
use crate::plan::{AggExpr, AggFunc, Aggregate, WindowKind};

/// What a record does to one window of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Adds the record to the existing window starting here.
    Update(i64),
    /// Creates the window starting here, holding only the record.
    Create(i64),
    /// Creates window `start` holding the records of window `from` and the
    /// record.
    Extend { start: i64, from: i64 },
    /// Creates window `start` holding the records of window `from` (not the
    /// record).
    Copy { start: i64, from: i64 },
}

/// The steps of a record at `t` (`t >= 0`) with time difference `d`, in
/// emission order. `found` lists the key's windows as `(start, latest
/// record time)`, sorted by start, and must hold every window starting in
/// `[t - 2d - 1, t + 1]`. See the module docs.
fn plan_record(t: i64, d: i64, found: &[(i64, i64)]) -> Vec<Step> {
    let exists = |s: i64| found.binary_search_by_key(&s, |w| w.0).is_ok();
    let end = |s: i64| s.saturating_add(d);
    let early = t < d;
    let left = if early { 0 } else { t - d };
    let containing: Vec<(i64, i64)> = found.iter().copied().filter(|&(s, _)| s <= t && t <= end(s)).collect();
    let right = t.saturating_add(1);
    let right_step = if exists(right) {
        None
    } else {
        containing.last().filter(|w| w.1 > t).map(|w| Step::Copy { start: right, from: w.0 })
    };
    let previous = found.iter().map(|w| w.1).filter(|&m| m < t).max();
    let previous_right = previous
        .filter(|&p| end(p.saturating_add(1)) >= t)
        .map(|p| p + 1)
        .filter(|&s| s != left && !exists(s))
        .map(Step::Create);
    let mut steps = Vec::with_capacity(containing.len() + 3);
    if early {
        steps.extend(containing.iter().filter(|w| w.0 > 0).map(|w| Step::Update(w.0)));
        steps.extend(right_step);
        steps.extend(previous_right);
        steps.push(if exists(0) { Step::Update(0) } else { Step::Create(0) });
    } else {
        steps.extend(containing.iter().rev().map(|w| Step::Update(w.0)));
        steps.extend(previous_right);
        if !exists(left) {
            let source = found.iter().rev().find(|&&(s, _)| end(s) < t);
            steps.push(match source {
                Some(&(from, latest)) if latest >= left => Step::Extend { start: left, from },
                _ => Step::Create(left),
            });
        }
        steps.extend(right_step);
    }
    steps
}

/// Runs `steps` over `found` (window start → value before the record).
/// `add(v)` returns `v` with the record added (`None`: the record alone).
/// Returns each step's window start and new value, in order.
fn apply_steps<V: Clone>(
    steps: &[Step],
    found: &BTreeMap<i64, V>,
    mut add: impl FnMut(Option<&V>) -> Result<V>,
) -> Result<Vec<(i64, V)>> {
    let get = |s: i64| found.get(&s).ok_or_else(|| EngineError::Internal(format!("sliding window {s} was planned but not read")));
    steps
        .iter()
        .map(|&step| {
            Ok(match step {
                Step::Update(s) => (s, add(Some(get(s)?))?),
                Step::Create(s) => (s, add(None)?),
                Step::Extend { start, from } => (start, add(Some(get(from)?))?),
                Step::Copy { start, from } => (start, get(from)?.clone()),
            })
        })
        .collect()
}

/// One window's value: the latest record time and the encoded aggregate
/// state ([`encode_state`]).
#[derive(Debug, Clone)]
struct Win {
    latest: i64,
    state: Bytes,
}

impl Win {
    /// Store layout: 8-byte big-endian latest time, then the state (the
    /// time-window aggregate's layout).
    fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(8 + self.state.len());
        out.extend_from_slice(&self.latest.to_be_bytes());
        out.extend_from_slice(&self.state);
        Bytes::from(out)
    }

    fn decode(bytes: &Bytes) -> Option<Win> {
        let ts = bytes.get(..8)?;
        let latest = i64::from_be_bytes(ts.try_into().ok()?);
        Some(Win { latest, state: bytes.slice(8..) })
    }
}

/// An output row: key bytes, window start, value.
type Row = (Box<[u8]>, i64, Win);

/// A decoded window state: the carried row and the accumulators.
type State = (Option<Box<[u8]>>, Vec<Acc>);

/// The pending-store key of a window: `end | escaped key`.
fn pending_key(key: &[u8], end: i64) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 10);
    k.extend_from_slice(&time_bytes(end));
    escape_into(&mut k, key);
    k
}

fn time_of(b: &[u8]) -> Option<i64> {
    Some((u64::from_be_bytes(b.try_into().ok()?) ^ (1 << 63)) as i64)
}

/// Key of the observed stream time in the time store.
const OBSERVED_KEY: &[u8] = b"observed-stream-time";


/// The sliding-window aggregation operator. See the module docs.
pub(crate) struct SlidingOp {
    name: String,
    store_name: String,
    pending_name: String,
    time_name: String,
    difference: i64,
    grace: i64,
    retention: i64,
    final_only: bool,
    key_len: usize,
    key_conv: RowConverter,
    aggs: Vec<AggExpr>,
    arg_types: Vec<Vec<DataType>>,
    carry_idx: Vec<usize>,
    carry_conv: Option<RowConverter>,
    /// Row bytes of an all-NULL carry row.
    null_carry: Vec<u8>,
    out_schema: SchemaRef,
    store: Option<Arc<WindowStoreImpl>>,
    /// Final mode: open windows not yet emitted, `end | key` → value.
    pending: Option<Arc<KvStore>>,
    /// The observed stream time, as of the last commit.
    time_store: Option<Arc<KvStore>>,
    /// Cache mode: open windows changed since the last commit, by (start,
    /// key) → latest value.
    changed: BTreeMap<(i64, Box<[u8]>), Win>,
    observed: i64,
    /// The observed stream time last written to or read from the time
    /// store; `None` until read (stores are restored after `init`).
    saved_observed: Option<i64>,
}

impl SlidingOp {
    /// A sliding-window aggregation as the `plan` node says (its window
    /// must be a sliding window); with `final_only`, only closed windows are
    /// emitted.
    ///
    /// # Errors
    /// A window that is not a valid sliding window; unknown carried
    /// columns; argument types the aggregates reject.
    pub(crate) fn new(name: String, store_name: String, plan: &Aggregate, final_only: bool) -> Result<Self> {
        let (input, aggs, carry, out) = (plan.input.meta(), plan.aggs.clone(), &plan.carry[..], &plan.meta);
        let window = plan.window.ok_or_else(|| EngineError::plan(&name, "this operator needs a window"))?;
        let WindowKind::Sliding { difference_ms } = window.kind else {
            return Err(EngineError::plan(&name, "the sliding-window operator needs a sliding window"));
        };
        window.validate().map_err(|r| EngineError::plan(&name, r))?;
        let AggInput { key_conv, arg_types, carry_idx, carry_conv, null_carry } = AggInput::new(&name, input, &aggs, carry)?;
        Ok(SlidingOp {
            pending_name: format!("{store_name}-final"),
            time_name: format!("{store_name}-time"),
            name,
            store_name,
            difference: difference_ms,
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
            time_store: None,
            changed: BTreeMap::new(),
            observed: i64::MIN,
            saved_observed: None,
        })
    }

    fn corrupt(&self, reason: &str) -> EngineError {
        EngineError::state(
            &self.store_name,
            StateError::Corrupt { path: self.store_name.clone().into(), reason: reason.to_string() },
        )
    }

    fn opened<T>(&self, s: &Option<Arc<T>>) -> Result<Arc<T>> {
        s.clone().ok_or_else(|| EngineError::Internal(format!("{} used before init", self.name)))
    }

    /// Reads the stream time the task had at its last commit (once, on
    /// first use: the task restores its stores after `init`).
    fn load_observed(&mut self) -> Result<()> {
        if self.saved_observed.is_some() {
            return Ok(());
        }
        let time_store = self.opened(&self.time_store)?;
        let saved = match time_store.get(OBSERVED_KEY).map_err(|e| EngineError::state(&self.time_name, e))? {
            Some(v) => {
                let bytes: [u8; 8] = v[..].try_into().map_err(|_| self.corrupt("the stored stream time does not decode"))?;
                i64::from_be_bytes(bytes)
            }
            None => i64::MIN,
        };
        self.observed = self.observed.max(saved);
        self.saved_observed = Some(saved);
        Ok(())
    }

    fn close_time(&self) -> i64 {
        self.observed.saturating_sub(self.grace)
    }

    /// Decodes a window's state (carried row and accumulators).
    fn decode_state(&self, w: &Win) -> Result<State> {
        let mut accs = new_accs(&self.aggs, &self.arg_types)?;
        let carry = decode_state(&w.state, &mut accs).map_err(|_| self.corrupt("a sliding-window aggregate does not decode"))?;
        Ok((carry, accs))
    }

    /// Records that open window `start` of `key` now holds `w`.
    fn note(&mut self, key: &[u8], start: i64, w: Win, caching: bool, out: &mut Vec<Row>) -> Result<()> {
        if self.final_only {
            let pending = self.opened(&self.pending)?;
            let end = start.saturating_add(self.difference);
            pending.put(&pending_key(key, end), &w.encode()).map_err(|e| EngineError::state(&self.pending_name, e))?;
        } else if caching {
            self.changed.insert((start, key.into()), w);
        } else {
            out.push((key.into(), start, w));
        }
        Ok(())
    }

    /// Output rows for `items` (event time = latest record time).
    fn rows(&self, items: &[Row]) -> Result<Batch> {
        let err = |e| EngineError::arrow(&self.name, e);
        let parser = self.key_conv.parser();
        let mut cols: Vec<ArrayRef> = self.key_conv.convert_rows(items.iter().map(|(k, _, _)| parser.parse(k))).map_err(err)?;
        cols.push(Arc::new(Int64Array::from_iter_values(items.iter().map(|(_, s, _)| *s))));
        cols.push(Arc::new(Int64Array::from_iter_values(items.iter().map(|(_, s, _)| s.saturating_add(self.difference)))));
        let states = items.iter().map(|(_, _, w)| self.decode_state(w)).collect::<Result<Vec<_>>>()?;
        if let Some(conv) = &self.carry_conv {
            let parser = conv.parser();
            let carried = conv
                .convert_rows(states.iter().map(|(c, _)| parser.parse(c.as_deref().unwrap_or(&self.null_carry))))
                .map_err(err)?;
            cols.extend(carried);
        }
        let first_agg = cols.len();
        for j in 0..self.aggs.len() {
            let t = self.out_schema.field(first_agg + j).data_type().clone();
            let mut b = OutBuilder::new(&t, items.len())?;
            for (_, accs) in &states {
                accs[j].append_to(&mut b);
            }
            cols.push(b.finish(&t)?);
        }
        let rows = RecordBatch::try_new(self.out_schema.clone(), cols).map_err(err)?;
        Ok(Batch::new(rows, Int64Array::from_iter_values(items.iter().map(|(_, _, w)| w.latest))))
    }

    /// Final mode: emits and forgets the windows that closed.
    fn emit_closed(&mut self, ctx: &mut OpContext<'_>) -> Result<()> {
        let Some(pending) = self.pending.clone() else { return Ok(()) };
        if self.observed == i64::MIN {
            return Ok(());
        }
        let close = self.close_time();
        let serr = |e| EngineError::state(&self.pending_name, e);
        let candidates = pending.range(&[], &time_bytes(close)).map_err(serr)?;
        let mut items: Vec<Row> = Vec::with_capacity(candidates.len());
        let bad = || self.corrupt("a pending sliding-window key does not decode");
        for (k, v) in &candidates {
            let end = time_of(k.get(..8).ok_or_else(bad)?).ok_or_else(bad)?;
            if end >= close {
                continue;
            }
            let (key, _) = unescape(k.get(8..).ok_or_else(bad)?).ok_or_else(bad)?;
            let w = Win::decode(v).ok_or_else(bad)?;
            items.push((key.into(), end.saturating_sub(self.difference), w));
            pending.delete(k).map_err(serr)?;
        }
        if !items.is_empty() {
            let batch = self.rows(&items)?;
            ctx.emit(batch);
        }
        Ok(())
    }
}

impl Operator for SlidingOp {
    fn query(&mut self, store: &str, key: Option<&RecordBatch>, windows: Option<(i64, i64)>) -> Result<Option<RecordBatch>> {
        if store != self.store_name {
            return Ok(None);
        }
        // Windows are written to the store as they change: it is current.
        let key = key.map(|k| super::query_key(&self.key_conv, k, &self.store_name)).transpose()?;
        let (lo, hi) = windows.unwrap_or((0, i64::MAX));
        let err = |e| EngineError::state(&self.store_name, e);
        let s = self.opened(&self.store)?;
        let found: Vec<(Vec<u8>, i64, Bytes)> = match &key {
            Some(k) => s.fetch_range(k, lo, hi).map_err(err)?.into_iter().map(|(start, v)| (k.clone(), start, v)).collect(),
            None => s
                .all()
                .map_err(err)?
                .into_iter()
                .filter(|e| (lo..=hi).contains(&e.window_start))
                .map(|e| (e.key.to_vec(), e.window_start, e.value))
                .collect(),
        };
        let items = found
            .into_iter()
            .map(|(k, start, v)| {
                let w = Win::decode(&v).ok_or_else(|| self.corrupt("a stored sliding window is truncated"))?;
                Ok((k.into_boxed_slice(), start, w))
            })
            .collect::<Result<Vec<Row>>>()?;
        Ok(Some(self.rows(&items)?.rows))
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        self.store = Some(ctx.window_store(riffle_state::WindowSpec {
            name: self.store_name.clone(),
            retention_ms: self.retention,
            segment_interval_ms: None,
            retain_duplicates: false,
            cache_bytes: 0,
            logged: true,
        })?);
        self.time_store =
            Some(ctx.key_value_store(KeyValueSpec { name: self.time_name.clone(), cache_bytes: 0, logged: true })?);
        if self.final_only {
            self.pending =
                Some(ctx.key_value_store(KeyValueSpec { name: self.pending_name.clone(), cache_bytes: 0, logged: true })?);
        }
        Ok(())
    }

    fn on_batch(&mut self, _port: usize, batch: Batch, ctx: &mut OpContext<'_>) -> Result<()> {
        self.load_observed()?;
        let store = self.opened(&self.store)?;
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
        let d = self.difference;
        let ts = batch.timestamps.values();
        let mut out: Vec<Row> = Vec::new();
        let mut late = 0u64;
        for i in 0..batch.len() {
            let t = ts[i];
            if batch.is_delete(i) || t < 0 {
                continue;
            }
            self.observed = self.observed.max(t);
            let close = self.close_time();
            if t.saturating_add(d) < close {
                late += 1;
                continue;
            }
            let key = keys.row(i);
            let key = key.as_ref();
            let from = t.saturating_sub(d.saturating_mul(2).saturating_add(1)).max(0);
            let mut found = BTreeMap::new();
            for (start, v) in store.fetch_range(key, from, t.saturating_add(1)).map_err(serr)? {
                let w = Win::decode(&v).ok_or_else(|| self.corrupt("a sliding-window value is truncated"))?;
                found.insert(start, w);
            }
            let summary: Vec<(i64, i64)> = found.iter().map(|(s, w)| (*s, w.latest)).collect();
            let steps = plan_record(t, d, &summary);
            let record_carry = carry.as_ref().map(|c| c.row(i));
            let changed = apply_steps(&steps, &found, |prev| {
                let (old_carry, mut accs, latest) = match prev {
                    Some(w) => {
                        let (c, a) = self.decode_state(w)?;
                        (c, a, w.latest.max(t))
                    }
                    None => (None, new_accs(&self.aggs, &self.arg_types)?, t),
                };
                for (j, acc) in accs.iter_mut().enumerate() {
                    acc.update(&arg_cols[j], &arg_arrays[j], i, stars[j])?;
                }
                let mut state = Vec::with_capacity(32);
                match &record_carry {
                    Some(r) => encode_state(Some(r.as_ref()), &accs, &mut state),
                    None => encode_state(old_carry.as_deref(), &accs, &mut state),
                }
                Ok(Win { latest, state: Bytes::from(state) })
            })?;
            let writes: Vec<(Bytes, i64, Option<Bytes>)> =
                changed.iter().map(|(s, w)| (Bytes::copy_from_slice(key), *s, Some(w.encode()))).collect();
            store.put_all(&writes).map_err(serr)?;
            for (start, w) in changed {
                if start.saturating_add(d) >= close {
                    self.note(key, start, w, ctx.caching, &mut out)?;
                }
            }
        }
        if late > 0 {
            ctx.metrics.late_records.fetch_add(late, Ordering::Relaxed);
            tracing::debug!(operator = %self.name, late, "dropped records for closed sliding windows");
        }
        if !out.is_empty() {
            let b = self.rows(&out)?;
            ctx.emit(b);
        }
        self.emit_closed(ctx)
    }

    fn on_commit(&mut self, ctx: &mut OpContext<'_>) -> Result<()> {
        if !self.changed.is_empty() {
            let items: Vec<Row> = std::mem::take(&mut self.changed).into_iter().map(|((s, k), w)| (k, s, w)).collect();
            let b = self.rows(&items)?;
            ctx.emit(b);
        }
        self.load_observed()?;
        if self.saved_observed != Some(self.observed) {
            let time_store = self.opened(&self.time_store)?;
            time_store
                .put(OBSERVED_KEY, &self.observed.to_be_bytes())
                .map_err(|e| EngineError::state(&self.time_name, e))?;
            self.saved_observed = Some(self.observed);
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    /// The operator's per-record loop over string aggregates, as Kafka's
    /// tests use them: `init` then `agg + "+" + value` (or, for `reduce`,
    /// the first value alone).
    struct Sim {
        d: i64,
        grace: i64,
        reduce: bool,
        observed: i64,
        /// key → start → (latest, aggregate).
        windows: BTreeMap<&'static str, BTreeMap<i64, (i64, String)>>,
        /// Emitted (key, start, aggregate, timestamp), in order.
        out: Vec<(&'static str, i64, String, i64)>,
    }

    impl Sim {
        fn new(d: i64, grace: i64) -> Self {
            Sim { d, grace, reduce: false, observed: i64::MIN, windows: BTreeMap::new(), out: Vec::new() }
        }

        fn pipe(&mut self, key: &'static str, v: &str, t: i64) {
            self.observed = self.observed.max(t);
            let close = self.observed - self.grace;
            if t + self.d < close {
                return;
            }
            let windows = self.windows.entry(key).or_default();
            let from = (t - 2 * self.d - 1).max(0);
            let found: BTreeMap<i64, (i64, String)> = windows.range(from..=t + 1).map(|(s, w)| (*s, w.clone())).collect();
            let summary: Vec<(i64, i64)> = found.iter().map(|(s, w)| (*s, w.0)).collect();
            let steps = plan_record(t, self.d, &summary);
            let reduce = self.reduce;
            let changed = apply_steps(&steps, &found, |prev| {
                Ok(match prev {
                    Some((latest, agg)) => ((*latest).max(t), format!("{agg}+{v}")),
                    None if reduce => (t, v.to_string()),
                    None => (t, format!("0+{v}")),
                })
            })
            .unwrap();
            for (s, w) in changed {
                windows.insert(s, w.clone());
                if s + self.d >= close {
                    self.out.push((key, s, w.1, w.0));
                }
            }
        }

        /// Emitted aggregates and timestamps per window start.
        fn by_start(&self) -> BTreeMap<i64, BTreeSet<(String, i64)>> {
            let mut m: BTreeMap<i64, BTreeSet<(String, i64)>> = BTreeMap::new();
            for (_, s, agg, ts) in &self.out {
                m.entry(*s).or_default().insert((agg.clone(), *ts));
            }
            m
        }
    }

    fn set(items: &[(&str, i64)]) -> BTreeSet<(String, i64)> {
        items.iter().map(|(a, t)| (a.to_string(), *t)).collect()
    }

    #[test]
    fn records_at_10_5_15_make_the_windows_of_the_definition() {
        let d = 10;
        // 10: its left window [0, 10] (10 >= d, so no early handling).
        assert_eq!(plan_record(10, d, &[]), vec![Step::Create(0)]);
        // 5 (early): right window [6, 16] copies [0, 10] ({10}); then [0, 10] gets 5.
        assert_eq!(plan_record(5, d, &[(0, 10)]), vec![Step::Copy { start: 6, from: 0 }, Step::Update(0)]);
        // 15: [6, 16] gets it; 10's right window [11, 21] is new; its left
        // window [5, 15] extends [0, 10] ({5, 10}); no record after 15.
        assert_eq!(
            plan_record(15, d, &[(0, 10), (6, 10)]),
            vec![Step::Update(6), Step::Create(11), Step::Extend { start: 5, from: 0 }]
        );
        let mut sim = Sim::new(d, 100);
        for (v, t) in [("a", 10), ("b", 5), ("c", 15)] {
            sim.pipe("k", v, t);
        }
        let finals: Vec<(i64, String)> = sim.windows["k"].iter().map(|(s, w)| (*s, w.1.clone())).collect();
        let expect = [(0, "0+a+b"), (5, "0+a+b+c"), (6, "0+a+c"), (11, "0+c")];
        assert_eq!(finals, expect.iter().map(|(s, a)| (*s, a.to_string())).collect::<Vec<_>>());
    }

    #[test]
    fn a_record_between_two_updates_both_and_a_duplicate_only_updates() {
        // A second record at 10 finds its left window and no later record.
        assert_eq!(plan_record(10, 10, &[(0, 10)]), vec![Step::Update(0)]);
        // Records at 10 and 20 ([0, 10], [10, 20], [11, 21]), then 15: both
        // windows holding 15 by descending start, its left window [5, 15]
        // from [0, 10], its right window [16, 26] as a copy of [11, 21].
        let found = [(0, 10), (10, 20), (11, 20)];
        assert_eq!(
            plan_record(15, 10, &found),
            vec![Step::Update(11), Step::Update(10), Step::Extend { start: 5, from: 0 }, Step::Copy { start: 16, from: 11 }]
        );
        // 15 again: every window exists.
        let found = [(0, 10), (5, 15), (10, 20), (11, 20), (16, 20)];
        assert_eq!(plan_record(15, 10, &found), vec![Step::Update(11), Step::Update(10), Step::Update(5)]);
    }

    #[test]
    fn the_previous_right_window_is_the_left_window_when_they_coincide() {
        // Previous record at 9, new at 20 (d = 10): 9's right window [10, 20]
        // is 20's left window, made once.
        assert_eq!(plan_record(20, 10, &[(0, 9)]), vec![Step::Create(10)]);
    }

    /// Kafka Streams' `KStreamSlidingWindowAggregateTest.testAggregateSmallInput`
    /// (cache off): d = 10, grace = 5.
    #[test]
    fn kafka_aggregate_small_input() {
        let mut sim = Sim::new(10, 5);
        for (v, t) in [("1", 10), ("2", 10), ("3", 14), ("4", 15), ("5", 20), ("6", 22), ("7", 30)] {
            sim.pipe("A", v, t);
        }
        let expected: BTreeMap<i64, BTreeSet<(String, i64)>> = [
            (0, set(&[("0+1", 10), ("0+1+2", 10)])),
            (4, set(&[("0+1+2+3", 14)])),
            (5, set(&[("0+1+2+3+4", 15)])),
            (10, set(&[("0+1+2+3+4+5", 20)])),
            (11, set(&[("0+3", 14), ("0+3+4", 15), ("0+3+4+5", 20)])),
            (12, set(&[("0+3+4+5+6", 22)])),
            (15, set(&[("0+4", 15), ("0+4+5", 20), ("0+4+5+6", 22)])),
            (16, set(&[("0+5", 20), ("0+5+6", 22)])),
            (20, set(&[("0+5+6+7", 30)])),
            (21, set(&[("0+6", 22), ("0+6+7", 30)])),
            (23, set(&[("0+7", 30)])),
        ]
        .into_iter()
        .collect();
        assert_eq!(sim.by_start(), expected);
    }

    /// Kafka Streams' `testReduceSmallInput` (cache off): d = 10, grace = 5.
    #[test]
    fn kafka_reduce_small_input() {
        let mut sim = Sim::new(10, 5);
        sim.reduce = true;
        for (v, t) in [("1", 10), ("2", 14), ("3", 15), ("4", 22), ("5", 26), ("6", 30)] {
            sim.pipe("A", v, t);
        }
        let expected: BTreeMap<i64, BTreeSet<(String, i64)>> = [
            (0, set(&[("1", 10)])),
            (4, set(&[("1+2", 14)])),
            (5, set(&[("1+2+3", 15)])),
            (11, set(&[("2", 14), ("2+3", 15)])),
            (12, set(&[("2+3+4", 22)])),
            (15, set(&[("3", 15), ("3+4", 22)])),
            (16, set(&[("4", 22), ("4+5", 26)])),
            (20, set(&[("4+5+6", 30)])),
            (23, set(&[("5", 26), ("5+6", 30)])),
            (27, set(&[("6", 30)])),
        ]
        .into_iter()
        .collect();
        assert_eq!(sim.by_start(), expected);
    }

    /// Out of order within grace, from Kafka's `testAggregateLargeInput`
    /// (key A, grace 50): 15 arrives after 20 and 22, in Kafka's order.
    #[test]
    fn an_out_of_order_record_updates_and_creates_in_kafka_order() {
        let mut sim = Sim::new(10, 50);
        for (v, t) in [("1", 10), ("2", 20), ("3", 22)] {
            sim.pipe("A", v, t);
        }
        sim.out.clear();
        sim.pipe("A", "4", 15);
        let out: Vec<(i64, &str, i64)> = sim.out.iter().map(|(_, s, a, t)| (*s, a.as_str(), *t)).collect();
        assert_eq!(
            out,
            vec![(12, "0+2+3+4", 22), (11, "0+2+4", 20), (10, "0+1+2+4", 20), (5, "0+1+4", 15), (16, "0+2+3", 22)]
        );
    }

    /// A record whose own windows have all closed still counts in windows
    /// created later (Kafka Streams loses it there: its test expects
    /// `[5, 15]` = "0+2" for key C in `testAggregateLargeInput` with emit
    /// final).
    #[test]
    fn a_record_behind_close_counts_in_later_windows() {
        let mut sim = Sim::new(10, 10);
        sim.pipe("B", "x", 25); // stream time 25, close 15
        sim.out.clear();
        sim.pipe("C", "1", 11); // [1, 11] has closed: kept, not emitted
        assert!(sim.out.is_empty());
        sim.pipe("C", "2", 15);
        let out: Vec<(i64, &str)> = sim.out.iter().map(|(_, s, a, _)| (*s, a.as_str())).collect();
        assert_eq!(out, vec![(12, "0+2"), (5, "0+1+2")]);
        // Late: even its right window [5 + 1, 16] closed before 25 - 10.
        sim.out.clear();
        sim.pipe("C", "3", 4);
        assert!(sim.out.is_empty());
        assert_eq!(sim.windows["C"].len(), 3);
    }
}
