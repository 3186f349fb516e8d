//! `Join` of a stream with a table / `StreamTableJoinOp` (Kafka Streams'
//! `KStream#join(KTable)` and `leftJoin`).
//!
//! Port 0 receives stream rows, port 1 the table's changes. The operator
//! keeps its own copy of the table in a key-value store (key row bytes →
//! [`RowCodec`](super::table::RowCodec) value); table changes update it and
//! emit nothing. Each stream row looks its key up at the moment it is
//! processed — the task feeds both inputs in event-time order, so that is the
//! table "as of" the row's time, as in Kafka Streams:
//!
//! - INNER: rows without a table row are dropped;
//! - LEFT: they are emitted with the table's columns NULL.
//!
//! Stream rows with a NULL in the key never match (SQL equality); a LEFT
//! join still emits them. Output rows keep the stream row's event time.

use std::sync::Arc;

use riffle_state::{KeyValueSpec, KeyValueStore, KvStore, ReadOnlyKeyValueStore};

use super::join_rows::{null_keys, JoinLayout, JoinedRows, Part};
use super::{InitContext, OpContext, Operator};
use crate::batch::Batch;
use crate::error::{EngineError, Result};
use crate::plan::{JoinKind, Meta};

/// The stream-table join operator. See the module docs.
pub(crate) struct StreamTableJoinOp {
    name: String,
    store_name: String,
    kind: JoinKind,
    layout: JoinLayout,
    key_len: usize,
    table: Option<Arc<KvStore>>,
}

impl StreamTableJoinOp {
    /// A join of a stream (`left`) with a table (`right`) into `out`.
    ///
    /// # Errors
    /// OUTER joins (Kafka Streams has none for stream-table), key-less
    /// inputs.
    pub(crate) fn new(name: String, store_name: String, kind: JoinKind, left: &Meta, right: &Meta, out: &Meta) -> Result<Self> {
        if kind == JoinKind::Outer {
            return Err(EngineError::plan(&name, "stream-table joins are INNER or LEFT"));
        }
        let layout = JoinLayout::new(
            &name,
            out.schema.clone(),
            out.key_len,
            (&left.schema, left.value_start()),
            (&right.schema, right.value_start()),
        )?;
        Ok(StreamTableJoinOp { name, store_name, kind, layout, key_len: out.key_len, table: None })
    }

    fn store(&self) -> Result<Arc<KvStore>> {
        self.table.clone().ok_or_else(|| EngineError::Internal(format!("{} used before init", self.name)))
    }

    /// Applies table changes to the operator's copy of the table.
    fn update_table(&self, batch: &Batch) -> Result<()> {
        let store = self.store()?;
        let serr = |e| EngineError::state(&self.store_name, e);
        let keys = self.layout.keys(&batch.rows)?;
        let nulls = null_keys(&batch.rows, self.key_len);
        let values = self.layout.right.encode(batch)?;
        for (i, v) in values.iter().enumerate() {
            if nulls[i] {
                continue;
            }
            let k = keys.row(i);
            if batch.is_delete(i) {
                store.delete(k.as_ref()).map_err(serr)?;
            } else {
                store.put(k.as_ref(), v).map_err(serr)?;
            }
        }
        Ok(())
    }

    /// Joins stream rows with the table as it is now.
    fn join_stream(&self, batch: &Batch, ctx: &mut OpContext<'_>) -> Result<()> {
        let store = self.store()?;
        let keys = self.layout.keys(&batch.rows)?;
        let nulls = null_keys(&batch.rows, self.key_len);
        let ts = batch.timestamps.values();
        let mut out = JoinedRows::default();
        for i in 0..batch.len() {
            let k = keys.row(i);
            let found = if nulls[i] { None } else { store.get(k.as_ref()).map_err(|e| EngineError::state(&self.store_name, e))? };
            let right = match found {
                Some(v) => Part::Stored(v),
                None if self.kind == JoinKind::Left => Part::Null,
                None => continue,
            };
            out.push(k.as_ref(), Part::Input(i as u32), right, ts[i], false);
        }
        if let Some(b) = self.layout.assemble(&out, Some(&batch.rows), None, batch.headers.as_ref(), false)? {
            ctx.emit(b);
        }
        Ok(())
    }
}

impl Operator for StreamTableJoinOp {
    fn name(&self) -> &str {
        &self.name
    }

    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        self.table = Some(ctx.key_value_store(KeyValueSpec { name: self.store_name.clone(), cache_bytes: 0, logged: true })?);
        Ok(())
    }

    fn on_batch(&mut self, port: usize, batch: Batch, ctx: &mut OpContext<'_>) -> Result<()> {
        match port {
            0 => self.join_stream(&batch, ctx),
            1 => self.update_table(&batch),
            p => Err(EngineError::Internal(format!("{} has no input port {p}", self.name))),
        }
    }
}
