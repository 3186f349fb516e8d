//! `ForeignKeyJoin` / `ForeignKeyJoinOp`: a table-table join where an
//! expression over the left row names the right row's key (Kafka Streams'
//! KIP-213 `KTable#join(other, foreignKeyExtractor, …)`), INNER or LEFT.
//! Output is keyed by the left table's key.
//!
//! **Limitation: one task.** Kafka Streams sends subscriptions and responses
//! through internal topics so that a left row can meet its right row in
//! whatever partition that lives. This operator instead keeps both tables in
//! the same task, which is correct only when every left row and the right
//! row it references are in the same task — in practice, when both inputs
//! have a single partition. Lowering refuses the join when the
//! sub-topology's inputs have more than one partition.
//!
//! State (three key-value stores):
//! - `left`: primary key → the left row and the foreign key it had;
//! - `right`: right key → the right row;
//! - `index`: (foreign key, primary key) → nothing, to find the left rows
//!   that reference a right key.
//!
//! Emission follows Kafka Streams:
//! - a left upsert emits the joined row (LEFT: always, right side NULL when
//!   missing; INNER: when the right row exists, or a delete when the foreign
//!   key changed to one without a right row);
//! - a left delete emits a delete;
//! - a right update re-emits every left row that references it (INNER: a
//!   delete for each when the right row was deleted).
//!
//! Left rows whose foreign key is NULL never match. Output event time is
//! the larger of the two rows' times.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::row::{RowConverter, SortField};
use bytes::Bytes;
use riffle_state::encoding::escape_into;
use riffle_state::{KeyValueSpec, KeyValueStore, KvStore, ReadOnlyKeyValueStore};

use super::join_rows::{null_keys, stored_time, JoinLayout, JoinedRows, Part};
use super::{InitContext, OpContext, Operator};
use crate::batch::Batch;
use crate::error::{EngineError, Result};
use crate::physical::expr::evaluate;
use crate::plan::{Expr, JoinKind, Meta};

/// Marks a stored left row without a foreign key.
const NO_FK: u32 = u32::MAX;

/// The foreign-key join operator. See the module docs.
pub(crate) struct ForeignKeyJoinOp {
    name: String,
    kind: JoinKind,
    foreign_key: Expr,
    layout: JoinLayout,
    left_key_len: usize,
    right_key_conv: RowConverter,
    right_key_type: DataType,
    /// Store names: left rows, right rows, index.
    store_names: [String; 3],
    stores: Option<[Arc<KvStore>; 3]>,
}

/// A stored left row: its foreign key (if any) and its encoded row.
fn encode_left(fk: Option<&[u8]>, row: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + fk.map_or(0, <[u8]>::len) + row.len());
    match fk {
        Some(f) => {
            v.extend_from_slice(&(f.len() as u32).to_be_bytes());
            v.extend_from_slice(f);
        }
        None => v.extend_from_slice(&NO_FK.to_be_bytes()),
    }
    v.extend_from_slice(row);
    v
}

/// Splits a stored left row into its foreign key and its encoded row.
fn decode_left(v: &Bytes) -> Option<(Option<Bytes>, Bytes)> {
    let n = u32::from_be_bytes(v.get(..4)?.try_into().ok()?);
    if n == NO_FK {
        return Some((None, v.slice(4..)));
    }
    let end = 4usize.checked_add(n as usize)?;
    if v.len() < end {
        return None;
    }
    Some((Some(v.slice(4..end)), v.slice(end..)))
}

fn index_prefix(fk: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(fk.len() + 2);
    escape_into(&mut k, fk);
    k
}

fn index_key(fk: &[u8], pk: &[u8]) -> Vec<u8> {
    let mut k = index_prefix(fk);
    k.extend_from_slice(pk);
    k
}

impl ForeignKeyJoinOp {
    /// A foreign-key join of tables `left` and `right` into `out`; stores
    /// are named `<store_prefix>-left`, `-right` and `-index`.
    ///
    /// # Errors
    /// OUTER joins, a right table whose key is not one column, key-less
    /// inputs.
    pub(crate) fn new(
        name: String,
        store_prefix: &str,
        kind: JoinKind,
        foreign_key: Expr,
        left: &Meta,
        right: &Meta,
        out: &Meta,
    ) -> Result<Self> {
        if kind == JoinKind::Outer {
            return Err(EngineError::plan(&name, "foreign-key joins are INNER or LEFT"));
        }
        if right.key_len != 1 {
            return Err(EngineError::plan(&name, "the right table of a foreign-key join needs exactly one key column"));
        }
        let layout = JoinLayout::new(
            &name,
            out.schema.clone(),
            out.key_len,
            (&left.schema, left.value_start()),
            (&right.schema, right.value_start()),
        )?;
        let right_key_type = right.schema.field(0).data_type().clone();
        let right_key_conv =
            RowConverter::new(vec![SortField::new(right_key_type.clone())]).map_err(|e| EngineError::arrow(&name, e))?;
        Ok(ForeignKeyJoinOp {
            name,
            kind,
            foreign_key,
            layout,
            left_key_len: left.key_len,
            right_key_conv,
            right_key_type,
            store_names: [format!("{store_prefix}-left"), format!("{store_prefix}-right"), format!("{store_prefix}-index")],
            stores: None,
        })
    }

    fn stores(&self) -> Result<[Arc<KvStore>; 3]> {
        self.stores.clone().ok_or_else(|| EngineError::Internal(format!("{} used before init", self.name)))
    }

    fn serr(&self, store: usize) -> impl Fn(riffle_state::StateError) -> EngineError + '_ {
        move |e| EngineError::state(&self.store_names[store], e)
    }

    fn corrupt(&self) -> EngineError {
        EngineError::Internal(format!("{}: a stored left row does not decode", self.name))
    }

    /// Left table changes: keep the row and the index, emit its join.
    fn on_left(&self, batch: &Batch, out: &mut JoinedRows) -> Result<()> {
        let [left, right, index] = self.stores()?;
        let pks = self.layout.keys(&batch.rows)?;
        let null_pk = null_keys(&batch.rows, self.left_key_len);
        let fk_col = evaluate(&self.foreign_key, batch)?;
        let fk_col: ArrayRef = if fk_col.data_type() == &self.right_key_type {
            fk_col
        } else {
            cast(&fk_col, &self.right_key_type).map_err(|e| EngineError::arrow(&self.name, e))?
        };
        let fks = self.right_key_conv.convert_columns(std::slice::from_ref(&fk_col)).map_err(|e| EngineError::arrow(&self.name, e))?;
        let encoded = self.layout.left.encode(batch)?;
        let ts = batch.timestamps.values();
        for i in 0..batch.len() {
            if null_pk[i] {
                continue;
            }
            let pk = pks.row(i);
            let pk = pk.as_ref();
            let old = left.get(pk).map_err(self.serr(0))?;
            let old_fk = match &old {
                Some(v) => decode_left(v).ok_or_else(|| self.corrupt())?.0,
                None => None,
            };
            if batch.is_delete(i) {
                if old.is_none() {
                    continue;
                }
                left.delete(pk).map_err(self.serr(0))?;
                if let Some(f) = &old_fk {
                    index.delete(&index_key(f, pk)).map_err(self.serr(2))?;
                }
                out.push_delete(pk, ts[i]);
                continue;
            }
            let new_fk = fk_col.is_valid(i).then(|| fks.row(i));
            let new_fk = new_fk.as_ref().map(|r| r.as_ref());
            if old_fk.as_deref() != new_fk {
                if let Some(f) = &old_fk {
                    index.delete(&index_key(f, pk)).map_err(self.serr(2))?;
                }
                if let Some(f) = new_fk {
                    index.put(&index_key(f, pk), &[]).map_err(self.serr(2))?;
                }
            }
            left.put(pk, &encode_left(new_fk, &encoded[i])).map_err(self.serr(0))?;
            let found = match new_fk {
                Some(f) => right.get(f).map_err(self.serr(1))?,
                None => None,
            };
            let t = found.as_deref().map_or(ts[i], |r| ts[i].max(stored_time(r)));
            match (found, self.kind) {
                (Some(r), _) => out.push(pk, Part::Input(i as u32), Part::Stored(r), t, false),
                (None, JoinKind::Left) => out.push(pk, Part::Input(i as u32), Part::Null, t, false),
                (None, _) if old.is_some() && old_fk.as_deref() != new_fk => out.push_delete(pk, t),
                (None, _) => {}
            }
        }
        Ok(())
    }

    /// Right table changes: keep the row, re-emit the left rows that
    /// reference it.
    fn on_right(&self, batch: &Batch, out: &mut JoinedRows) -> Result<()> {
        let [left, right, index] = self.stores()?;
        let keys = self
            .right_key_conv
            .convert_columns(&batch.rows.columns()[..1])
            .map_err(|e| EngineError::arrow(&self.name, e))?;
        let null_key = null_keys(&batch.rows, 1);
        let encoded = self.layout.right.encode(batch)?;
        let ts = batch.timestamps.values();
        for i in 0..batch.len() {
            if null_key[i] {
                continue;
            }
            let k = keys.row(i);
            let k = k.as_ref();
            let deleted = batch.is_delete(i);
            if deleted {
                if right.delete(k).map_err(self.serr(1))?.is_none() {
                    continue;
                }
            } else {
                right.put(k, &encoded[i]).map_err(self.serr(1))?;
            }
            let prefix = index_prefix(k);
            for (ik, _) in index.prefix_scan(&prefix).map_err(self.serr(2))? {
                let pk = ik.slice(prefix.len()..);
                let Some(lv) = left.get(&pk).map_err(self.serr(0))? else { continue };
                let (_, row) = decode_left(&lv).ok_or_else(|| self.corrupt())?;
                let t = ts[i].max(stored_time(&row));
                match (deleted, self.kind) {
                    (false, _) => out.push(&pk, Part::Stored(row), Part::Input(i as u32), t, false),
                    (true, JoinKind::Left) => out.push(&pk, Part::Stored(row), Part::Null, t, false),
                    (true, _) => out.push_delete(&pk, t),
                }
            }
        }
        Ok(())
    }
}

impl Operator for ForeignKeyJoinOp {
    fn name(&self) -> &str {
        &self.name
    }

    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        let mut open = |name: &String| ctx.key_value_store(KeyValueSpec { name: name.clone(), cache_bytes: 0, logged: true });
        let left = open(&self.store_names[0])?;
        let right = open(&self.store_names[1])?;
        let index = open(&self.store_names[2])?;
        self.stores = Some([left, right, index]);
        Ok(())
    }

    fn on_batch(&mut self, port: usize, batch: Batch, ctx: &mut OpContext<'_>) -> Result<()> {
        let mut out = JoinedRows::default();
        match port {
            0 => self.on_left(&batch, &mut out)?,
            1 => self.on_right(&batch, &mut out)?,
            p => return Err(EngineError::Internal(format!("{} has no input port {p}", self.name))),
        }
        let (li, ri) = if port == 0 { (Some(&batch.rows), None) } else { (None, Some(&batch.rows)) };
        if let Some(b) = self.layout.assemble(&out, li, ri, batch.headers.as_ref(), true)? {
            ctx.emit(b);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_left_rows_round_trip_with_and_without_a_foreign_key() {
        let v = Bytes::from(encode_left(Some(b"fk\0"), b"row"));
        assert_eq!(decode_left(&v), Some((Some(Bytes::from_static(b"fk\0")), Bytes::from_static(b"row"))));
        let v = Bytes::from(encode_left(None, b"row"));
        assert_eq!(decode_left(&v), Some((None, Bytes::from_static(b"row"))));
        assert_eq!(decode_left(&Bytes::from_static(&[0, 0, 0, 9, 1])), None);
        assert_eq!(decode_left(&Bytes::from_static(&[0, 0])), None);
    }

    #[test]
    fn index_keys_of_one_foreign_key_share_a_prefix_no_other_key_has() {
        let a = index_key(b"a", b"pk1");
        let ab = index_key(b"ab", b"pk1");
        assert!(a.starts_with(&index_prefix(b"a")));
        assert!(!ab.starts_with(&index_prefix(b"a")));
    }
}
