//! Windowed `Join` of two streams / `StreamStreamJoinOp` (Kafka Streams'
//! `KStream#join(KStream, JoinWindows)`, `leftJoin`, `outerJoin`).
//!
//! Port 0 receives left rows, port 1 right rows. Each side is buffered in a
//! window store that keeps duplicates (window start = the row's event time,
//! retention `before + after + grace`, negative bounds counted as 0). A left row at `t` joins the buffered
//! right rows of its key with times in `[t - before, t + after]`; a right
//! row at `t` joins the left rows in `[t - after, t + before]`. Each pair is
//! emitted once, by whichever of the two rows arrives second, with the
//! larger of the two times.
//!
//! Time. The operator's stream time is the largest event time it has seen
//! (advanced row by row, and to the task's stream time after each batch). A
//! left row's window closes when stream time passes `t + after + grace`, a
//! right row's when it passes `t + before + grace` (Kafka Streams' rule; a
//! negative bound counts as 0 here, so no row is late on arrival).
//! A row that arrives after its own window closed is *late*: it is neither
//! buffered nor joined. Late rows of a side that must appear in the output
//! (the left of a LEFT join, either side of an OUTER join) are emitted at
//! once with the other side NULL, as Kafka Streams does; other late rows are
//! dropped and counted in `late_records`.
//!
//! Unjoined rows (LEFT/OUTER). Kafka Streams 3.x emits a row with the other
//! side NULL only once its window has closed without a match, so input in
//! time order gives no "unjoined, then joined" pairs (an out-of-order row
//! of the other side that is still within its own grace can match a row
//! already emitted unjoined, exactly as in Kafka Streams). Rows that found no match
//! wait in an *outer buffer* (a key-value store ordered by close time); a
//! later match removes them, and when stream time passes their close time
//! they are emitted (before the output of the row that advanced time). The
//! `eager` mode instead emits an unjoined row as soon as it finds no match
//! (Kafka Streams' behaviour before 3.0, and ksqlDB's for `WITHIN` without
//! `GRACE PERIOD`); later matches are emitted too.
//!
//! Rows with a NULL in the key never match; those of an emitting side are
//! emitted at once unjoined, the rest are skipped.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use riffle_state::encoding::{escape_into, time_bytes, unescape};
use riffle_state::{KeyValueSpec, KeyValueStore, KvStore, ReadOnlyKeyValueStore, ReadOnlyWindowStore, WindowStore, WindowStoreImpl};

use super::join_rows::{null_keys, JoinLayout, JoinedRows, Part};
use super::{InitContext, OpContext, Operator};
use crate::batch::Batch;
use crate::error::{EngineError, Result};
use crate::plan::{JoinKind, JoinWindow, Meta};

const LEFT: usize = 0;
const RIGHT: usize = 1;

/// The stream-stream join operator. See the module docs.
pub(crate) struct StreamStreamJoinOp {
    name: String,
    kind: JoinKind,
    window: JoinWindow,
    eager: bool,
    layout: JoinLayout,
    key_len: usize,
    /// Store names: left buffer, right buffer, outer buffer.
    store_names: [String; 3],
    buffers: Option<[Arc<WindowStoreImpl>; 2]>,
    outer: Option<Arc<KvStore>>,
    observed: i64,
}

impl StreamStreamJoinOp {
    /// A windowed join of streams `left` and `right` into `out`; stores are
    /// named `<store_prefix>-left`, `-right` and `-outer`.
    ///
    /// # Errors
    /// A window whose bounds are negative in sum or whose grace is negative;
    /// key-less inputs.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        name: String,
        store_prefix: &str,
        kind: JoinKind,
        window: JoinWindow,
        eager: bool,
        left: &Meta,
        right: &Meta,
        out: &Meta,
    ) -> Result<Self> {
        if window.grace_ms < 0 || window.before_ms.saturating_add(window.after_ms) < 0 {
            return Err(EngineError::plan(
                &name,
                format!(
                    "join window must not be empty and grace must not be negative (before {} ms, after {} ms, grace {} ms)",
                    window.before_ms, window.after_ms, window.grace_ms
                ),
            ));
        }
        let layout = JoinLayout::new(
            &name,
            out.schema.clone(),
            out.key_len,
            (&left.schema, left.value_start()),
            (&right.schema, right.value_start()),
        )?;
        Ok(StreamStreamJoinOp {
            name,
            kind,
            window,
            eager,
            layout,
            key_len: out.key_len,
            store_names: [format!("{store_prefix}-left"), format!("{store_prefix}-right"), format!("{store_prefix}-outer")],
            buffers: None,
            outer: None,
            observed: i64::MIN,
        })
    }

    /// Whether unmatched rows of `side` appear in the output.
    fn emits_unmatched(&self, side: usize) -> bool {
        match self.kind {
            JoinKind::Inner => false,
            JoinKind::Left => side == LEFT,
            JoinKind::Outer => true,
        }
    }

    /// How long after its own time a row of `side` can still be joined:
    /// its window's end (never before the row itself) plus grace.
    fn close_offset(&self, side: usize) -> i64 {
        let w = self.window;
        let end = if side == LEFT { w.after_ms } else { w.before_ms };
        end.max(0).saturating_add(w.grace_ms)
    }

    /// Times of the other side's rows a row of `side` at `t` joins.
    fn partner_range(&self, side: usize, t: i64) -> (i64, i64) {
        let w = self.window;
        if side == LEFT {
            (t.saturating_sub(w.before_ms), t.saturating_add(w.after_ms))
        } else {
            (t.saturating_sub(w.after_ms), t.saturating_add(w.before_ms))
        }
    }

    /// Outer-buffer key prefix of the rows of `side` with `key` at `t`.
    fn outer_prefix(&self, side: usize, key: &[u8], t: i64) -> Vec<u8> {
        let mut k = Vec::with_capacity(key.len() + 21);
        k.extend_from_slice(&time_bytes(t.saturating_add(self.close_offset(side))));
        k.push(side as u8);
        escape_into(&mut k, key);
        k.extend_from_slice(&time_bytes(t));
        k
    }

    fn outer_store(&self) -> Result<Option<&Arc<KvStore>>> {
        match (&self.outer, self.eager || self.kind == JoinKind::Inner) {
            (Some(s), false) => Ok(Some(s)),
            (None, false) => Err(EngineError::Internal(format!("{} used before init", self.name))),
            (_, true) => Ok(None),
        }
    }

    /// Emits (into `out`) and forgets the buffered unmatched rows whose
    /// window closed before the operator's stream time.
    fn flush_closed(&self, out: &mut JoinedRows) -> Result<()> {
        let Some(store) = self.outer_store()? else { return Ok(()) };
        if self.observed == i64::MIN {
            return Ok(());
        }
        let serr = |e| EngineError::state(&self.store_names[2], e);
        let closed = store.range(&[], &time_bytes(self.observed)).map_err(serr)?;
        for (k, v) in closed {
            let bad = || EngineError::Internal(format!("{}: an outer-buffer key does not decode", self.name));
            let side = *k.get(8).ok_or_else(bad)? as usize;
            let (key, used) = unescape(k.get(9..).ok_or_else(bad)?).ok_or_else(bad)?;
            let t_bytes = k.get(9 + used..17 + used).ok_or_else(bad)?;
            let t = (u64::from_be_bytes(t_bytes.try_into().map_err(|_| bad())?) ^ (1 << 63)) as i64;
            let (l, r) = if side == LEFT { (Part::Stored(v), Part::Null) } else { (Part::Null, Part::Stored(v)) };
            out.push(&key, l, r, t, false);
            store.delete(&k).map_err(serr)?;
        }
        Ok(())
    }
}

impl Operator for StreamStreamJoinOp {
    fn name(&self) -> &str {
        &self.name
    }

    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        let w = self.window;
        // Every partner of a row that is not late is at most this far behind
        // stream time.
        let retention = w.before_ms.max(0).saturating_add(w.after_ms.max(0)).saturating_add(w.grace_ms);
        let mut buffer = |name: &String| {
            ctx.window_store(riffle_state::WindowSpec {
                name: name.clone(),
                retention_ms: retention,
                segment_interval_ms: None,
                retain_duplicates: true,
                cache_bytes: 0,
                logged: true,
            })
        };
        let left = buffer(&self.store_names[0])?;
        let right = buffer(&self.store_names[1])?;
        self.buffers = Some([left, right]);
        if !self.eager && self.kind != JoinKind::Inner {
            self.outer =
                Some(ctx.key_value_store(KeyValueSpec { name: self.store_names[2].clone(), cache_bytes: 0, logged: true })?);
        }
        Ok(())
    }

    fn on_batch(&mut self, side: usize, batch: Batch, ctx: &mut OpContext<'_>) -> Result<()> {
        if side > RIGHT {
            return Err(EngineError::Internal(format!("{} has no input port {side}", self.name)));
        }
        let buffers = self.buffers.clone().ok_or_else(|| EngineError::Internal(format!("{} used before init", self.name)))?;
        let (own, other) = (&buffers[side], &buffers[1 - side]);
        let outer = self.outer_store()?.cloned();
        let keys = self.layout.keys(&batch.rows)?;
        let nulls = null_keys(&batch.rows, self.key_len);
        let encoded = if side == LEFT { self.layout.left.encode(&batch)? } else { self.layout.right.encode(&batch)? };
        let ts = batch.timestamps.values();
        let this_part = |i: usize| Part::Input(i as u32);
        let pair = |mine: Part, theirs: Part| if side == LEFT { (mine, theirs) } else { (theirs, mine) };
        let mut out = JoinedRows::default();
        let mut late = 0u64;
        for i in 0..batch.len() {
            let t = ts[i];
            self.observed = self.observed.max(t);
            let k = keys.row(i);
            let k = k.as_ref();
            let emits = self.emits_unmatched(side);
            if t == self.observed {
                self.flush_closed(&mut out)?;
            }
            if nulls[i] || t.saturating_add(self.close_offset(side)) < self.observed {
                if emits {
                    let (l, r) = pair(this_part(i), Part::Null);
                    out.push(k, l, r, t, false);
                } else if !nulls[i] {
                    late += 1;
                }
                continue;
            }
            own.put(k, t, Some(&encoded[i])).map_err(|e| EngineError::state(&self.store_names[side], e))?;
            let (from, to) = self.partner_range(side, t);
            let matches = other.fetch_range(k, from, to).map_err(|e| EngineError::state(&self.store_names[1 - side], e))?;
            for (their_t, v) in &matches {
                if let (Some(o), true) = (&outer, self.emits_unmatched(1 - side)) {
                    let serr = |e| EngineError::state(&self.store_names[2], e);
                    for (ok, _) in o.prefix_scan(&self.outer_prefix(1 - side, k, *their_t)).map_err(serr)? {
                        o.delete(&ok).map_err(serr)?;
                    }
                }
                let (l, r) = pair(this_part(i), Part::Stored(v.clone()));
                out.push(k, l, r, t.max(*their_t), false);
            }
            if matches.is_empty() && emits {
                match &outer {
                    Some(o) => {
                        let serr = |e| EngineError::state(&self.store_names[2], e);
                        let mut key = self.outer_prefix(side, k, t);
                        let seq = o.prefix_scan(&key).map_err(serr)?.len() as u32;
                        key.extend_from_slice(&seq.to_be_bytes());
                        o.put(&key, &encoded[i]).map_err(serr)?;
                    }
                    None => {
                        let (l, r) = pair(this_part(i), Part::Null);
                        out.push(k, l, r, t, false);
                    }
                }
            }
        }
        if late > 0 {
            ctx.metrics.late_records.fetch_add(late, Ordering::Relaxed);
            tracing::debug!(operator = %self.name, late, "dropped stream-stream join rows whose window had closed");
        }
        let (li, ri) = if side == LEFT { (Some(&batch.rows), None) } else { (None, Some(&batch.rows)) };
        if let Some(b) = self.layout.assemble(&out, li, ri, batch.headers.as_ref(), false)? {
            ctx.emit(b);
        }
        Ok(())
    }

    fn on_time(&mut self, ctx: &mut OpContext<'_>) -> Result<()> {
        if ctx.stream_time <= self.observed {
            return Ok(());
        }
        self.observed = ctx.stream_time;
        let mut out = JoinedRows::default();
        self.flush_closed(&mut out)?;
        if let Some(b) = self.layout.assemble(&out, None, None, None, false)? {
            ctx.emit(b);
        }
        Ok(())
    }
}
