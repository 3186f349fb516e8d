//! `Join` of two tables / `TableTableJoinOp` (Kafka Streams'
//! `KTable#join`, `leftJoin`, `outerJoin` on the primary key).
//!
//! Port 0 receives the left table's changes, port 1 the right's. Each side
//! is materialized in the operator's own key-value store. An update on
//! either side recomputes the joined row of its key against the other
//! side's current row:
//!
//! | kind  | the key has a joined row when |
//! |-------|-------------------------------|
//! | INNER | both sides have a row         |
//! | LEFT  | the left side has a row       |
//! | OUTER | either side has a row         |
//!
//! If it has one after the update, the row is emitted (missing side NULL);
//! if it had one before but not after, a delete is emitted; if it had none
//! before or after (an inner join whose other side is missing), nothing is.
//! A delete of a key the side did not hold changes nothing and emits
//! nothing. The output is a table: batches carry `Change { deleted, old:
//! None }`. Output event time is the larger of the updated row's time and
//! the other side's stored row's time (ksqlDB semantics).

use std::sync::Arc;

use riffle_state::{KeyValueSpec, KeyValueStore, KvStore, ReadOnlyKeyValueStore};

use super::join_rows::{null_keys, stored_time, JoinLayout, JoinedRows, Part};
use super::{InitContext, OpContext, Operator};
use crate::batch::Batch;
use crate::error::{EngineError, Result};
use crate::plan::{JoinKind, Meta};

/// The table-table join operator. See the module docs.
pub(crate) struct TableTableJoinOp {
    name: String,
    /// Store names: left side, right side.
    store_names: [String; 2],
    kind: JoinKind,
    layout: JoinLayout,
    key_len: usize,
    stores: Option<[Arc<KvStore>; 2]>,
}

impl TableTableJoinOp {
    /// A join of tables `left` and `right` into `out`; stores are named
    /// `<store_prefix>-left` and `<store_prefix>-right`.
    ///
    /// # Errors
    /// Key-less inputs.
    pub(crate) fn new(name: String, store_prefix: &str, kind: JoinKind, left: &Meta, right: &Meta, out: &Meta) -> Result<Self> {
        let layout = JoinLayout::new(
            &name,
            out.schema.clone(),
            out.key_len,
            (&left.schema, left.value_start()),
            (&right.schema, right.value_start()),
        )?;
        Ok(TableTableJoinOp {
            name,
            store_names: [format!("{store_prefix}-left"), format!("{store_prefix}-right")],
            kind,
            layout,
            key_len: out.key_len,
            stores: None,
        })
    }

    /// Whether the key has a joined row when the left/right rows are
    /// present as given.
    fn joined(&self, left: bool, right: bool) -> bool {
        match self.kind {
            JoinKind::Inner => left && right,
            JoinKind::Left => left,
            JoinKind::Outer => left || right,
        }
    }
}

impl Operator for TableTableJoinOp {
    fn name(&self) -> &str {
        &self.name
    }

    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        let mut open = |name: &String| ctx.key_value_store(KeyValueSpec { name: name.clone(), cache_bytes: 0, logged: true });
        let left = open(&self.store_names[0])?;
        let right = open(&self.store_names[1])?;
        self.stores = Some([left, right]);
        Ok(())
    }

    fn on_batch(&mut self, port: usize, batch: Batch, ctx: &mut OpContext<'_>) -> Result<()> {
        if port > 1 {
            return Err(EngineError::Internal(format!("{} has no input port {port}", self.name)));
        }
        let [left_store, right_store] =
            self.stores.clone().ok_or_else(|| EngineError::Internal(format!("{} used before init", self.name)))?;
        let (this, other) = if port == 0 { (left_store, right_store) } else { (right_store, left_store) };
        let (this_name, other_name) = (&self.store_names[port], &self.store_names[1 - port]);
        let side = if port == 0 { &self.layout.left } else { &self.layout.right };
        let keys = self.layout.keys(&batch.rows)?;
        let nulls = null_keys(&batch.rows, self.key_len);
        let encoded = side.encode(&batch)?;
        let ts = batch.timestamps.values();
        let mut out = JoinedRows::default();
        for i in 0..batch.len() {
            if nulls[i] {
                continue;
            }
            let k = keys.row(i);
            let k = k.as_ref();
            let deleted = batch.is_delete(i);
            let before = this.get(k).map_err(|e| EngineError::state(this_name, e))?;
            if deleted {
                if before.is_none() {
                    continue;
                }
                this.delete(k).map_err(|e| EngineError::state(this_name, e))?;
            } else {
                this.put(k, &encoded[i]).map_err(|e| EngineError::state(this_name, e))?;
            }
            let other_row = other.get(k).map_err(|e| EngineError::state(other_name, e))?;
            let (had, has) = if port == 0 {
                (self.joined(before.is_some(), other_row.is_some()), self.joined(!deleted, other_row.is_some()))
            } else {
                (self.joined(other_row.is_some(), before.is_some()), self.joined(other_row.is_some(), !deleted))
            };
            let t = other_row.as_deref().map_or(ts[i], |o| ts[i].max(stored_time(o)));
            if has {
                let this_part = if deleted { Part::Null } else { Part::Input(i as u32) };
                let other_part = other_row.map_or(Part::Null, Part::Stored);
                let (l, r) = if port == 0 { (this_part, other_part) } else { (other_part, this_part) };
                out.push(k, l, r, t, false);
            } else if had {
                out.push_delete(k, t);
            }
        }
        let (li, ri) = if port == 0 { (Some(&batch.rows), None) } else { (None, Some(&batch.rows)) };
        if let Some(b) = self.layout.assemble(&out, li, ri, batch.headers.as_ref(), true)? {
            ctx.emit(b);
        }
        Ok(())
    }
}
