//! `Aggregate` / `AggregateOp`: grouped aggregation per key, optionally per
//! tumbling or hopping window, with the emit-final (suppress) behaviour
//! fused in. Session windows are in [`super::session`], sliding windows in
//! [`super::sliding`].
//!
//! State: slots live in memory (a map per window start) and are written
//! behind to the store (window store or key-value store, changelogged) on
//! every commit and when a window closes (closed windows of an unnamed
//! store only where the store holds an older version of the slot). A slot
//! that is not in memory is read from the store, so a restored task
//! continues where the old one committed.
//!
//! Emission, as Kafka Streams and ksqlDB define it:
//! - cache off: one update per input record, in input order;
//! - cache on: the latest update of each changed key at each commit;
//! - final (`EMIT FINAL`): Kafka Streams' emit-on-window-close (KIP-825),
//!   which ksqlDB uses. After each record, once the close time (stream time
//!   − grace) has advanced, the windows that closed since the last emission
//!   are read back from the window store in (start, key) order and emitted
//!   with their own timestamps. The read is bounded below by the store's
//!   retention (its stream time, the latest window start written, minus
//!   size + grace), so after a jump in stream time windows that fell out of
//!   retention are never emitted — as in ksqlDB.
//!
//! Late records (window end ≤ observed stream time − grace) are dropped and
//! counted in `late_records`.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::SchemaRef;
use arrow::row::RowConverter;
use bytes::Bytes;
use hashbrown::hash_map::EntryRef;
use hashbrown::HashMap;
use riffle_state::{KeyValueSpec, KeyValueStore, KvStore, ReadOnlyKeyValueStore, ReadOnlyWindowStore, WindowStore, WindowStoreImpl};

use super::accumulator::{carry_rows, AggInput, decode_state, encode_state, Accs, ArgCol, FreshAccs, OutBuilder};
use super::{InitContext, OpContext, Operator};
use crate::batch::Batch;
use riffle_log::record::Header;
use crate::error::{EngineError, Result};
use crate::physical::expr::evaluate;
use crate::plan::{AggExpr, AggFunc, Aggregate, WindowSpec};

/// Sentinel window start for non-windowed aggregation.
const NO_WINDOW: i64 = i64::MIN;

pub(crate) struct Slot {
    accs: Accs,
    ts: i64,
    carry: Option<Box<[u8]>>,
    /// Changed since last written to the store.
    dirty: bool,
    /// Changed since last emitted (cache-on mode).
    pending: bool,
    /// The store holds a version of this slot (it was read from there or
    /// written there at a commit).
    stored: bool,
    /// The Kafka headers of the record that last updated the slot, which
    /// its next emission carries (Kafka Streams forwards the context of the
    /// record that triggered the update). Not stored: after a restore a
    /// slot has none until its next update. Boxed so that a slot without
    /// headers (nearly all) pays one pointer, not a `Vec`'s three words.
    #[allow(clippy::box_collection)]
    headers: Option<Box<Vec<Header>>>,
}

/// The aggregation's store: a window store for windowed aggregations, a
/// key-value store otherwise (set at `init`).
struct SlotStore {
    name: String,
    window: Option<Arc<WindowStoreImpl>>,
    kv: Option<Arc<KvStore>>,
    /// Whether the store may hold anything (checked once): a fresh store
    /// is not read for every new slot.
    may_have_data: Option<bool>,
}

impl SlotStore {
    fn err(&self) -> impl Fn(riffle_state::StateError) -> EngineError + '_ {
        move |e| EngineError::state(&self.name, e)
    }

    /// The stored version of a slot, if the store has one.
    fn fetch(&mut self, key: &[u8], start: i64) -> Result<Option<Bytes>> {
        let may = match self.may_have_data {
            Some(v) => v,
            None => {
                let v = match (&self.window, &self.kv) {
                    (Some(w), _) => !w.segment_ids().is_empty(),
                    (_, Some(k)) => {
                        k.approximate_num_entries().map_err(self.err())? > 0 || !k.all().map_err(self.err())?.is_empty()
                    }
                    _ => false,
                };
                self.may_have_data = Some(v);
                v
            }
        };
        if !may {
            return Ok(None);
        }
        match (&self.window, &self.kv) {
            (Some(w), _) => w.fetch(key, start).map_err(self.err()),
            (_, Some(k)) => k.get(key).map_err(self.err()),
            _ => Ok(None),
        }
    }
}

/// One window's groups: an index from key bytes to position, and the slots
/// in the order they were made. A new group appends its slot next to the
/// last one instead of writing a wide entry at a random place of the table,
/// and the index stays small enough to stay in cache.
struct WindowSlots {
    index: HashMap<Vec<u8>, u32, ahash::RandomState>,
    slots: Vec<Slot>,
}

impl WindowSlots {
    fn with_capacity(n: usize) -> Self {
        WindowSlots { index: HashMap::with_capacity_and_hasher(n, Default::default()), slots: Vec::with_capacity(n) }
    }

    fn len(&self) -> usize {
        self.slots.len()
    }

    /// `(key bytes, slot)` pairs, in no particular order.
    fn iter(&self) -> impl Iterator<Item = (&[u8], &Slot)> {
        self.index.iter().map(|(k, &i)| (&k[..], &self.slots[i as usize]))
    }

    /// The slot of `key`, made by `make` if the window has none.
    fn get_or_insert(&mut self, key: &[u8], make: impl FnOnce() -> Result<Slot>) -> Result<&mut Slot> {
        let i = match self.index.entry_ref(key) {
            EntryRef::Occupied(o) => *o.get() as usize,
            EntryRef::Vacant(v) => {
                let i = self.slots.len();
                let pos = u32::try_from(i).map_err(|_| EngineError::Internal("more than 2^32 groups in one window".into()))?;
                self.slots.push(make()?);
                v.insert(pos);
                i
            }
        };
        Ok(&mut self.slots[i])
    }
}

pub(crate) struct AggregateOp {
    name: String,
    store: SlotStore,
    window: Option<WindowSpec>,
    final_only: bool,
    /// The store is named (`materialize_as`) and interactive queries read it.
    queryable: bool,
    key_len: usize,
    key_conv: RowConverter,
    aggs: Vec<AggExpr>,
    fresh: FreshAccs,
    carry_idx: Vec<usize>,
    carry_conv: Option<RowConverter>,
    out_schema: SchemaRef,
    windows: BTreeMap<i64, WindowSlots>,
    observed: i64,
    /// Close time of the last final emission (emit-final mode).
    last_emit_close: Option<i64>,
    /// Stream time of the window store: the latest window start written.
    store_time: i64,
    starts: Vec<i64>,
    /// Slots of the last window evicted: a new window's map starts this
    /// large instead of growing through every power of two.
    window_capacity: usize,
}


impl AggregateOp {
    pub(crate) fn new(name: String, store_name: String, plan: &Aggregate, final_only: bool) -> Result<Self> {
        let (input, aggs, carry, out) = (plan.input.meta(), plan.aggs.clone(), &plan.carry[..], &plan.meta);
        let window = plan.window;
        let AggInput { key_conv, arg_types, carry_idx, carry_conv, .. } = AggInput::new(&name, input, &aggs, carry)?;
        let fresh = FreshAccs::new(&aggs, &arg_types)?;
        Ok(AggregateOp {
            name,
            store: SlotStore { name: store_name, window: None, kv: None, may_have_data: None },
            window,
            final_only,
            queryable: plan.store.is_some(),
            key_len: input.key_len,
            key_conv,
            aggs,
            fresh,
            carry_idx,
            carry_conv,
            out_schema: out.schema.clone(),
            windows: BTreeMap::new(),
            observed: i64::MIN,
            last_emit_close: None,
            store_time: i64::MIN,
            starts: Vec::new(),
            window_capacity: 0,
        })
    }

    /// Store layout: 8-byte output timestamp, then [`encode_state`].
    fn encode_slot(slot: &Slot) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        out.extend_from_slice(&slot.ts.to_be_bytes());
        encode_state(slot.carry.as_deref(), &slot.accs, &mut out);
        out
    }

    fn decode_slot(&self, bytes: &[u8]) -> Result<Slot> {
        stored_slot(&self.fresh, &self.store.name, bytes)
    }

    fn window_end(&self, start: i64) -> i64 {
        start.saturating_add(self.window.map_or(0, |w| w.size_ms()))
    }

    /// Writes slots to the store in one batch (one changelog append).
    fn persist(&self, items: &[(&[u8], i64, &Slot)]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let err = |e| EngineError::state(&self.store.name, e);
        match (&self.store.window, &self.store.kv) {
            (Some(w), _) => {
                let batch: Vec<(Bytes, i64, Option<Bytes>)> = items
                    .iter()
                    .map(|(k, start, s)| (Bytes::copy_from_slice(k), *start, Some(Bytes::from(Self::encode_slot(s)))))
                    .collect();
                w.put_all(&batch).map_err(err)
            }
            (_, Some(k)) => {
                let batch: Vec<(Bytes, Bytes)> =
                    items.iter().map(|(key, _, s)| (Bytes::copy_from_slice(key), Bytes::from(Self::encode_slot(s)))).collect();
                k.put_all(&batch).map_err(err)
            }
            _ => Ok(()),
        }
    }

    /// Builds output rows from `(key bytes, window start, slot)` triples.
    fn rows_from_slots(&self, items: &[(&[u8], i64, &Slot)]) -> Result<Batch> {
        let parser = self.key_conv.parser();
        let keys = self
            .key_conv
            .convert_rows(items.iter().map(|(k, _, _)| parser.parse(k)))
            .map_err(|e| EngineError::arrow(&self.name, e))?;
        let mut cols: Vec<ArrayRef> = keys;
        if self.window.is_some() {
            cols.push(Arc::new(Int64Array::from_iter_values(items.iter().map(|(_, s, _)| *s))));
            cols.push(Arc::new(Int64Array::from_iter_values(items.iter().map(|(_, s, _)| self.window_end(*s)))));
        }
        if let Some(conv) = &self.carry_conv {
            let parser = conv.parser();
            let empty: Vec<u8> = Vec::new();
            // Slots always have carry once updated; missing carry cannot be parsed, so substitute nulls.
            if items.iter().all(|(_, _, s)| s.carry.is_some()) {
                let carried = conv
                    .convert_rows(items.iter().map(|(_, _, s)| parser.parse(s.carry.as_deref().unwrap_or(&empty))))
                    .map_err(|e| EngineError::arrow(&self.name, e))?;
                cols.extend(carried);
            } else {
                for f in &self.out_schema.fields()[cols.len()..cols.len() + self.carry_idx.len()] {
                    cols.push(arrow::array::new_null_array(f.data_type(), items.len()));
                }
            }
        }
        let first_agg = cols.len();
        for (j, _) in self.aggs.iter().enumerate() {
            let t = self.out_schema.field(first_agg + j).data_type().clone();
            let mut b = OutBuilder::new(&t, items.len())?;
            for (_, _, s) in items {
                s.accs[j].append_to(&mut b);
            }
            cols.push(b.finish(&t)?);
        }
        let rows = RecordBatch::try_new(self.out_schema.clone(), cols).map_err(|e| EngineError::arrow(&self.name, e))?;
        let ts = Int64Array::from_iter_values(items.iter().map(|(_, _, s)| s.ts));
        let mut batch = Batch::new(rows, ts);
        if items.iter().any(|(_, _, s)| s.headers.is_some()) {
            batch.headers =
                Some(Arc::new(items.iter().map(|(_, _, s)| s.headers.as_deref().cloned().unwrap_or_default()).collect()));
        }
        Ok(batch)
    }

    /// The window-start range `[from, to]` the next final emission reads,
    /// if stream time has closed windows since the last one (Kafka Streams'
    /// `KStreamWindowAggregate.maybeForwardFinalResult`).
    fn final_range(&self, w: &WindowSpec) -> Option<(i64, i64)> {
        if self.observed == i64::MIN {
            return None;
        }
        let close = self.observed.saturating_sub(w.grace_ms);
        if self.last_emit_close.is_some_and(|last| last >= close) {
            return None;
        }
        let size = w.size_ms();
        let upper = close.saturating_sub(size);
        if upper < 0 {
            return None;
        }
        let lower = match self.last_emit_close {
            None => 0,
            Some(last) => last.saturating_sub(size).max(0) + 1,
        };
        // The store keeps windows starting at or after its stream time minus
        // retention; older ones read as absent.
        let from = lower.max(self.store_time.saturating_sub(w.store_retention_ms()));
        Some((from, upper))
    }

    /// Emit-final mode: emits the windows that closed since the last
    /// emission and evicts every window that can no longer be emitted.
    fn emit_final(&mut self, ctx: &mut OpContext<'_>) -> Result<()> {
        let Some(w) = self.window else { return Ok(()) };
        let Some((from, upper)) = self.final_range(&w) else { return Ok(()) };
        self.last_emit_close = Some(self.observed.saturating_sub(w.grace_ms));
        self.evict_windows(
            |_, start| start <= upper,
            |this, start, items| {
                if start >= from {
                    ctx.emit(this.rows_from_slots(items)?);
                }
                Ok(())
            },
        )
    }

    /// Removes the earliest windows while `closed(start)` holds, oldest
    /// first: persists their dirty slots, then hands the window's slots
    /// (sorted by key) to `each`.
    ///
    /// A closed window of a store nobody can query is dead state: no record
    /// updates it again (it would be late) and no reader asks for it, which
    /// is Kafka Streams' default retention of size + grace. Its slots are
    /// written only where the store already holds an older version, so the
    /// store never keeps a stale partial result; the rest are dropped
    /// unwritten (Flink's fire-and-purge).
    fn evict_windows(
        &mut self,
        closed: impl Fn(&Self, i64) -> bool,
        mut each: impl FnMut(&Self, i64, &[(&[u8], i64, &Slot)]) -> Result<()>,
    ) -> Result<()> {
        loop {
            let Some((&start, _)) = self.windows.iter().next() else { break };
            if !closed(self, start) {
                break;
            }
            let Some(slots) = self.windows.remove(&start) else { break };
            self.window_capacity = slots.len();
            let items = sorted_by_key(start, &slots);
            let queryable = self.queryable;
            let dirty: Vec<_> = items.iter().filter(|(_, _, s)| s.dirty && (queryable || s.stored)).cloned().collect();
            self.persist(&dirty)?;
            each(self, start, &items)?;
        }
        Ok(())
    }

    /// Evicts closed windows after persisting them (emitting pending ones
    /// when caching); emit-final mode emits in [`Self::emit_final`] instead.
    fn close_windows(&mut self, ctx: &mut OpContext<'_>) -> Result<()> {
        let Some(w) = self.window else { return Ok(()) };
        if self.final_only {
            return Ok(());
        }
        let (time, grace) = (self.observed, w.grace_ms);
        if time == i64::MIN {
            return Ok(());
        }
        self.evict_windows(
            |this, start| this.window_end(start).saturating_add(grace) <= time,
            |this, _, items| {
                if ctx.caching {
                    let pending: Vec<_> = items.iter().filter(|(_, _, s)| s.pending).cloned().collect();
                    if !pending.is_empty() {
                        ctx.emit(this.rows_from_slots(&pending)?);
                    }
                }
                Ok(())
            },
        )
    }
}

/// A window's slots in key-byte order. Sorting compares an 8-byte prefix
/// of each key first (one integer compare decides almost every pair) and the
/// whole keys only on a tie.
fn sorted_by_key(start: i64, slots: &WindowSlots) -> Vec<(&[u8], i64, &Slot)> {
    let prefix = |k: &[u8]| {
        let mut p = [0u8; 8];
        let n = k.len().min(8);
        p[..n].copy_from_slice(&k[..n]);
        u64::from_be_bytes(p)
    };
    let mut keyed: Vec<(u64, &[u8], &Slot)> = slots.iter().map(|(k, s)| (prefix(k), k, s)).collect();
    keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    keyed.into_iter().map(|(_, k, s)| (k, start, s)).collect()
}

/// A slot with no rows yet.
fn fresh_slot(fresh: &FreshAccs) -> Result<Slot> {
    let accs = fresh.make()?;
    Ok(Slot { accs, ts: i64::MIN, carry: None, dirty: false, pending: false, stored: false, headers: None })
}

/// A slot read back from the store (layout: [`AggregateOp::encode_slot`]).
fn stored_slot(fresh: &FreshAccs, store: &str, bytes: &[u8]) -> Result<Slot> {
    let mut slot = fresh_slot(fresh)?;
    let bad = || {
        EngineError::state(
            store,
            riffle_state::StateError::Corrupt { path: store.into(), reason: "aggregate value is truncated".into() },
        )
    };
    let (ts, rest) = bytes.split_at_checked(8).ok_or_else(bad)?;
    slot.ts = i64::from_be_bytes(ts.try_into().map_err(|_| bad())?);
    slot.carry = decode_state(rest, &mut slot.accs).map_err(|_| bad())?;
    slot.stored = true;
    Ok(slot)
}

impl AggregateOp {
    /// Current rows for an interactive query: stored slots, overridden by
    /// the newer ones held in memory.
    fn query_rows(&self, key: Option<&RecordBatch>, windows: Option<(i64, i64)>) -> Result<RecordBatch> {
        let key = key.map(|k| super::query_key(&self.key_conv, k, &self.store.name)).transpose()?;
        let (lo, hi) = match (self.window, windows) {
            (None, _) => (NO_WINDOW, NO_WINDOW),
            (Some(_), Some((lo, hi))) => (lo.max(NO_WINDOW + 1), hi),
            (Some(_), None) => (NO_WINDOW + 1, i64::MAX),
        };
        if lo > hi {
            return Ok(RecordBatch::new_empty(self.out_schema.clone()));
        }
        let err = |e| EngineError::state(&self.store.name, e);
        let mut stored: Vec<(Vec<u8>, i64, Bytes)> = Vec::new();
        match (&self.store.window, &self.store.kv, &key) {
            (Some(w), _, Some(k)) => stored.extend(w.fetch_range(k, lo, hi).map_err(err)?.into_iter().map(|(s, v)| (k.clone(), s, v))),
            (Some(w), _, None) => stored.extend(
                w.all().map_err(err)?.into_iter().filter(|e| (lo..=hi).contains(&e.window_start)).map(|e| (e.key.to_vec(), e.window_start, e.value)),
            ),
            (_, Some(s), Some(k)) => stored.extend(s.get(k).map_err(err)?.map(|v| (k.clone(), NO_WINDOW, v))),
            (_, Some(s), None) => stored.extend(s.all().map_err(err)?.into_iter().map(|(k, v)| (k.to_vec(), NO_WINDOW, v))),
            _ => {}
        }
        let decoded: Vec<(Vec<u8>, i64, Slot)> =
            stored.into_iter().map(|(k, s, v)| Ok((k, s, self.decode_slot(&v)?))).collect::<Result<_>>()?;
        let mut items: BTreeMap<(i64, &[u8]), &Slot> = BTreeMap::new();
        for (start, slots) in self.windows.range(lo..=hi) {
            for (k, slot) in slots.iter() {
                if key.as_deref().is_none_or(|want| want == &k[..]) {
                    items.insert((*start, &k[..]), slot);
                }
            }
        }
        for (k, start, slot) in &decoded {
            items.entry((*start, &k[..])).or_insert(slot);
        }
        let rows: Vec<(&[u8], i64, &Slot)> = items.into_iter().map(|((start, k), slot)| (k, start, slot)).collect();
        Ok(self.rows_from_slots(&rows)?.rows)
    }
}

impl Operator for AggregateOp {
    fn query(&mut self, store: &str, key: Option<&RecordBatch>, windows: Option<(i64, i64)>) -> Result<Option<RecordBatch>> {
        if store != self.store.name {
            return Ok(None);
        }
        self.query_rows(key, windows).map(Some)
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        match self.window {
            Some(w) => {
                self.store.window = Some(ctx.window_store(riffle_state::WindowSpec {
                    name: self.store.name.clone(),
                    retention_ms: w.store_retention_ms(),
                    segment_interval_ms: None,
                    retain_duplicates: false,
                    cache_bytes: 0,
                    logged: true,
                })?)
            }
            None => {
                self.store.kv = Some(ctx.key_value_store(KeyValueSpec {
                    name: self.store.name.clone(),
                    cache_bytes: 0,
                    logged: true,
                })?)
            }
        }
        Ok(())
    }

    fn on_batch(&mut self, _port: usize, batch: Batch, ctx: &mut OpContext<'_>) -> Result<()> {
        let n = batch.len();
        let cols = batch.rows.columns();
        let keys = self.key_conv.convert_columns(&cols[..self.key_len]).map_err(|e| EngineError::arrow(&self.name, e))?;
        let mut arg_arrays: Vec<Vec<ArrayRef>> = Vec::with_capacity(self.aggs.len());
        for a in &self.aggs {
            arg_arrays.push(a.args.iter().map(|e| evaluate(e, &batch)).collect::<Result<Vec<_>>>()?);
        }
        let arg_cols: Vec<ArgCol<'_>> = arg_arrays.iter().map(|v| ArgCol::new(v.first())).collect();
        // A table grouped by its own key: each update carries the row it
        // replaces, retracted before the new row is added (Kafka Streams'
        // `KTableAggregate` subtracts the old value, adds the new, and
        // forwards once).
        let (old_arrays, old_present) = match batch.change.as_ref().and_then(|c| c.old.as_ref()) {
            Some((old_rows, present)) if self.window.is_none() => {
                let ob = Batch::new(old_rows.clone(), batch.timestamps.clone());
                let mut arrays: Vec<Vec<ArrayRef>> = Vec::with_capacity(self.aggs.len());
                for a in &self.aggs {
                    arrays.push(a.args.iter().map(|e| evaluate(e, &ob)).collect::<Result<Vec<_>>>()?);
                }
                (arrays, Some(present.clone()))
            }
            _ => (Vec::new(), None),
        };
        let old_cols: Vec<ArgCol<'_>> = old_arrays.iter().map(|v| ArgCol::new(v.first())).collect();
        let stars: Vec<bool> = self.aggs.iter().map(|a| matches!(a.func, AggFunc::CountStar)).collect();
        let carry = carry_rows(&self.name, self.carry_conv.as_ref(), &self.carry_idx, cols)?;
        let per_record = !self.final_only && !ctx.caching;
        let mut emit_rows: Vec<u32> = Vec::new();
        let mut emit_starts: Vec<i64> = Vec::new();
        let mut emit_ts: Vec<i64> = Vec::new();
        let first_agg = self.out_schema.fields().len() - self.aggs.len();
        let mut builders: Vec<OutBuilder> = if per_record {
            (0..self.aggs.len())
                .map(|j| OutBuilder::new(self.out_schema.field(first_agg + j).data_type(), n))
                .collect::<Result<_>>()?
        } else {
            Vec::new()
        };
        let tss = batch.timestamps.values();
        let mut late = 0u64;
        let mut starts = std::mem::take(&mut self.starts);
        for i in 0..n {
            let ts = tss[i];
            let retract = batch.is_delete(i);
            let key = keys.row(i);
            let key = key.as_ref();
            starts.clear();
            match self.window {
                Some(w) => {
                    self.observed = self.observed.max(ts);
                    let close = self.observed.saturating_sub(w.grace_ms);
                    w.window_starts(ts, &mut starts);
                    let before = starts.len();
                    starts.retain(|s| s.saturating_add(w.size_ms()) > close);
                    if starts.len() < before && starts.is_empty() {
                        late += 1;
                        continue;
                    }
                    if let Some(&last) = starts.last() {
                        self.store_time = self.store_time.max(last);
                    }
                }
                None => starts.push(NO_WINDOW),
            }
            for &start in &starts {
                // One probe finds the slot or places a new one (read from
                // the store when it has one).
                let capacity = self.window_capacity;
                let slots = self.windows.entry(start).or_insert_with(|| WindowSlots::with_capacity(capacity));
                let (store, fresh) = (&mut self.store, &self.fresh);
                let slot = slots.get_or_insert(key, || {
                    Ok(match store.fetch(key, start)? {
                        Some(b) => stored_slot(fresh, &store.name, &b)?,
                        None => fresh_slot(fresh)?,
                    })
                })?;
                let replaces = old_present.as_ref().is_some_and(|p| p.is_valid(i) && p.value(i));
                for (j, acc) in slot.accs.iter_mut().enumerate() {
                    if replaces {
                        acc.retract(&old_cols[j], &old_arrays[j], i, stars[j])?;
                        if !retract {
                            acc.update(&arg_cols[j], &arg_arrays[j], i, stars[j])?;
                        }
                    } else if retract {
                        acc.retract(&arg_cols[j], &arg_arrays[j], i, stars[j])?;
                    } else {
                        acc.update(&arg_cols[j], &arg_arrays[j], i, stars[j])?;
                    }
                }
                slot.ts = slot.ts.max(ts);
                // Emitted later from the slot (cache, EMIT FINAL): keep the
                // headers there; per record they come from the batch.
                if let (false, Some(h)) = (per_record, &batch.headers) {
                    slot.headers = (!h[i].is_empty()).then(|| Box::new(h[i].clone()));
                }
                if let Some(c) = &carry {
                    if !retract {
                        slot.carry = Some(c.row(i).as_ref().into());
                    }
                }
                slot.dirty = true;
                slot.pending = true;
                if per_record {
                    emit_rows.push(i as u32);
                    emit_starts.push(start);
                    emit_ts.push(slot.ts);
                    for (j, b) in builders.iter_mut().enumerate() {
                        slot.accs[j].append_to(b);
                    }
                }
            }
            if self.final_only {
                self.emit_final(ctx)?;
            }
        }
        self.starts = starts;
        if late > 0 {
            ctx.metrics.late_records.fetch_add(late, Ordering::Relaxed);
            tracing::debug!(operator = %self.name, late, "dropped records for closed windows");
        }
        if per_record && !emit_rows.is_empty() {
            let headers =
                batch.headers.as_ref().map(|h| Arc::new(emit_rows.iter().map(|&i| h[i as usize].clone()).collect()));
            let idx = UInt32Array::from(emit_rows);
            let mut out: Vec<ArrayRef> = Vec::with_capacity(self.out_schema.fields().len());
            for c in &cols[..self.key_len] {
                out.push(take(c, &idx, None).map_err(|e| EngineError::arrow(&self.name, e))?);
            }
            if let Some(w) = self.window {
                let size = w.size_ms();
                out.push(Arc::new(Int64Array::from(emit_starts.clone())));
                out.push(Arc::new(Int64Array::from_iter_values(emit_starts.iter().map(|s| s.saturating_add(size)))));
            }
            for &ci in &self.carry_idx {
                out.push(take(&cols[ci], &idx, None).map_err(|e| EngineError::arrow(&self.name, e))?);
            }
            for (j, b) in builders.iter_mut().enumerate() {
                out.push(b.finish(self.out_schema.field(first_agg + j).data_type())?);
            }
            let rows = RecordBatch::try_new(self.out_schema.clone(), out).map_err(|e| EngineError::arrow(&self.name, e))?;
            let mut b = Batch::new(rows, Int64Array::from(emit_ts));
            b.headers = headers;
            if self.window.is_none() {
                b.change = Some(crate::batch::Change { deleted: arrow::array::BooleanArray::from(vec![false; b.len()]), old: None });
            }
            ctx.emit(b);
        }
        self.close_windows(ctx)
    }

    fn on_time(&mut self, ctx: &mut OpContext<'_>) -> Result<()> {
        self.close_windows(ctx)
    }

    fn on_commit(&mut self, ctx: &mut OpContext<'_>) -> Result<()> {
        let mut pending: Vec<(&[u8], i64, &Slot)> = Vec::new();
        let mut dirty: Vec<(&[u8], i64, &Slot)> = Vec::new();
        for (&start, slots) in &self.windows {
            for (k, s) in slots.iter() {
                if s.dirty {
                    dirty.push((k, start, s));
                }
                if ctx.caching && !self.final_only && s.pending {
                    pending.push((k, start, s));
                }
            }
        }
        self.persist(&dirty)?;
        if !pending.is_empty() {
            pending.sort_unstable_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
            let batch = self.rows_from_slots(&pending)?;
            ctx.emit(batch);
        }
        let cap = 1 << 20;
        let total: usize = self.windows.values().map(WindowSlots::len).sum();
        for slots in self.windows.values_mut() {
            for s in &mut slots.slots {
                s.stored |= s.dirty;
                s.dirty = false;
                s.pending = false;
            }
        }
        if self.window.is_none() && total > cap {
            // Clean slots are in the store; drop them to bound memory.
            self.windows.clear();
        }
        Ok(())
    }
}
