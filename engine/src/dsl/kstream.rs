//! [`KStream`]: a typed stream of key-value records.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use super::builder::{Node, SinkInfo};
use super::closure_op::{RowError, RowFn, RowIn, RowOut, Shape};
use super::codec::{encode_key, encode_value, KeyLayout};
use super::format::{SerdeJson, SerdeKey};
use super::{Data, JoinWindows, KGroupedStream, KTable};
use crate::error::EngineError;
use crate::plan::JoinKind;

/// A stream of records with keys `K` and values `V` (Kafka Streams'
/// `KStream`). Cheap to clone; every operation returns a new handle and
/// leaves this one usable, so a stream can feed several branches.
///
/// Operations whose closure changes the key ([`KStream::map`],
/// [`KStream::flat_map`], [`KStream::select_key`]) mark the stream for
/// repartitioning; the repartition topic is added by the next operation that
/// needs data partitioned by key ([`KStream::group_by_key`], joins,
/// [`KStream::to_table`]), as in Kafka Streams.
///
/// Closures run once per record, on the task's thread, with the key and
/// value deserialized from the stream's columns; their results are
/// serialized back. A record that does not deserialize is skipped and
/// counted in `decode_errors`.
pub struct KStream<K, V> {
    pub(crate) node: Node,
    _t: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for KStream<K, V> {
    fn clone(&self) -> Self {
        KStream { node: self.node.clone(), _t: PhantomData }
    }
}

impl<K, V> fmt::Debug for KStream<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KStream")
            .field("key", &std::any::type_name::<K>())
            .field("value", &std::any::type_name::<V>())
            .field("plan", &self.node.plan.as_ref().map(|p| p.clone().build().to_string()))
            .finish()
    }
}

/// Serializes a closure's value for a [`RowOut`].
pub(crate) fn out_value<T: Data>(v: &T) -> Result<String, RowError> {
    encode_value(v).map_err(RowError::Fail)
}

/// Serializes a closure's key for a [`RowOut`].
pub(crate) fn out_key<T: Data>(layout: KeyLayout, k: &T) -> Result<String, RowError> {
    encode_key(layout, k).map_err(RowError::Fail)
}

/// A row function keeping rows that `keep` accepts.
pub(crate) fn filter_fn<K: Data, V: Data>(
    layout: KeyLayout,
    keep: impl Fn(&K, &V) -> bool + Send + Sync + 'static,
) -> RowFn {
    Arc::new(move |row: &RowIn<'_>, out: &mut Vec<RowOut>| {
        let (k, v) = (row.key::<K>(layout)?, row.value::<V>()?);
        if keep(&k, &v) {
            out.push(row.unchanged());
        }
        Ok(())
    })
}

/// A row function replacing each value by `f(value)`.
pub(crate) fn map_values_fn<V: Data, V2: Data>(f: impl Fn(&V) -> V2 + Send + Sync + 'static) -> RowFn {
    Arc::new(move |row: &RowIn<'_>, out: &mut Vec<RowOut>| {
        let v2 = f(&row.value::<V>()?);
        out.push(RowOut { key: None, value: Some(out_value(&v2)?) });
        Ok(())
    })
}

/// A row function applying a value joiner to a joined row. The joiner
/// gives `None` for a row its join kind does not emit (a missing side of an
/// inner join), which then produces nothing.
pub(crate) fn joiner_fn<V: Data, VO: Data, VR: Data>(
    joiner: impl Fn(Option<&V>, Option<&VO>) -> Option<VR> + Send + Sync + 'static,
) -> RowFn {
    Arc::new(move |row: &RowIn<'_>, out: &mut Vec<RowOut>| {
        let (l, r) = (row.value_opt::<V>()?, row.right_opt::<VO>()?);
        if let Some(v) = joiner(l.as_ref(), r.as_ref()) {
            out.push(RowOut { key: None, value: Some(out_value(&v)?) });
        }
        Ok(())
    })
}

impl<K: Data, V: Data> KStream<K, V> {
    pub(crate) fn from_node(node: Node) -> Self {
        KStream { node, _t: PhantomData }
    }

    /// Keeps the records for which `predicate` is true.
    pub fn filter<F>(&self, predicate: F) -> KStream<K, V>
    where
        F: Fn(&K, &V) -> bool + Send + Sync + 'static,
    {
        let f = filter_fn(self.node.key, predicate);
        KStream::from_node(self.node.closure("KSTREAM-FILTER", Shape::Keep, self.node.key, f))
    }

    /// Keeps the records for which `predicate` is false.
    pub fn filter_not<F>(&self, predicate: F) -> KStream<K, V>
    where
        F: Fn(&K, &V) -> bool + Send + Sync + 'static,
    {
        let f = filter_fn(self.node.key, move |k: &K, v: &V| !predicate(k, v));
        KStream::from_node(self.node.closure("KSTREAM-FILTER", Shape::Keep, self.node.key, f))
    }

    /// Replaces each value by `mapper(value)`; keys stay, so no
    /// repartitioning is needed.
    pub fn map_values<V2: Data, F>(&self, mapper: F) -> KStream<K, V2>
    where
        F: Fn(&V) -> V2 + Send + Sync + 'static,
    {
        KStream::from_node(self.node.closure("KSTREAM-MAPVALUES", Shape::Keep, self.node.key, map_values_fn(mapper)))
    }

    /// Replaces each record by `mapper(key, value)`. Marks the stream for
    /// repartitioning.
    pub fn map<K2: Data, V2: Data, F>(&self, mapper: F) -> KStream<K2, V2>
    where
        F: Fn(&K, &V) -> (K2, V2) + Send + Sync + 'static,
    {
        let (layout, out_layout) = (self.node.key, KeyLayout::of::<K2>());
        let f: RowFn = Arc::new(move |row: &RowIn<'_>, out: &mut Vec<RowOut>| {
            let (k2, v2) = mapper(&row.key::<K>(layout)?, &row.value::<V>()?);
            out.push(RowOut { key: Some(out_key(out_layout, &k2)?), value: Some(out_value(&v2)?) });
            Ok(())
        });
        KStream::from_node(self.node.closure("KSTREAM-MAP", Shape::Rekey, out_layout, f))
    }

    /// Replaces each value by the values `mapper(value)` yields (zero or
    /// more), each with the record's key and time.
    pub fn flat_map_values<V2: Data, I, F>(&self, mapper: F) -> KStream<K, V2>
    where
        I: IntoIterator<Item = V2>,
        F: Fn(&V) -> I + Send + Sync + 'static,
    {
        let f: RowFn = Arc::new(move |row: &RowIn<'_>, out: &mut Vec<RowOut>| {
            for v2 in mapper(&row.value::<V>()?) {
                out.push(RowOut { key: None, value: Some(out_value(&v2)?) });
            }
            Ok(())
        });
        KStream::from_node(self.node.closure("KSTREAM-FLATMAPVALUES", Shape::Keep, self.node.key, f))
    }

    /// Replaces each record by the records `mapper(key, value)` yields.
    /// Marks the stream for repartitioning.
    pub fn flat_map<K2: Data, V2: Data, I, F>(&self, mapper: F) -> KStream<K2, V2>
    where
        I: IntoIterator<Item = (K2, V2)>,
        F: Fn(&K, &V) -> I + Send + Sync + 'static,
    {
        let (layout, out_layout) = (self.node.key, KeyLayout::of::<K2>());
        let f: RowFn = Arc::new(move |row: &RowIn<'_>, out: &mut Vec<RowOut>| {
            for (k2, v2) in mapper(&row.key::<K>(layout)?, &row.value::<V>()?) {
                out.push(RowOut { key: Some(out_key(out_layout, &k2)?), value: Some(out_value(&v2)?) });
            }
            Ok(())
        });
        KStream::from_node(self.node.closure("KSTREAM-FLATMAP", Shape::Rekey, out_layout, f))
    }

    /// Sets each record's key to `mapper(key, value)`. Marks the stream for
    /// repartitioning.
    pub fn select_key<K2: Data, F>(&self, mapper: F) -> KStream<K2, V>
    where
        F: Fn(&K, &V) -> K2 + Send + Sync + 'static,
    {
        let (layout, out_layout) = (self.node.key, KeyLayout::of::<K2>());
        let f: RowFn = Arc::new(move |row: &RowIn<'_>, out: &mut Vec<RowOut>| {
            let k2 = mapper(&row.key::<K>(layout)?, &row.value::<V>()?);
            out.push(RowOut { key: Some(out_key(out_layout, &k2)?), ..row.unchanged() });
            Ok(())
        });
        KStream::from_node(self.node.closure("KSTREAM-KEY-SELECT", Shape::Rekey, out_layout, f))
    }

    /// Calls `action` on each record and passes the record on unchanged.
    pub fn peek<F>(&self, action: F) -> KStream<K, V>
    where
        F: Fn(&K, &V) + Send + Sync + 'static,
    {
        let f = filter_fn(self.node.key, move |k: &K, v: &V| {
            action(k, v);
            true
        });
        KStream::from_node(self.node.closure("KSTREAM-PEEK", Shape::Keep, self.node.key, f))
    }

    /// Calls `action` on each record; a terminal operation (an output of the
    /// topology, like [`KStream::to`]).
    pub fn foreach<F>(&self, action: F)
    where
        F: Fn(&K, &V) + Send + Sync + 'static,
    {
        let f = filter_fn(self.node.key, move |k: &K, v: &V| {
            action(k, v);
            false
        });
        self.node.closure("KSTREAM-FOREACH", Shape::Keep, self.node.key, f).add_root(None);
    }

    /// Interleaves this stream with `other` (records of each keep their
    /// order).
    pub fn merge(&self, other: &KStream<K, V>) -> KStream<K, V> {
        // Both sides in the canonical layout (a count's BIGINT value column
        // becomes JSON text), so their schemas match.
        let canonical = |n: &Node| {
            let utf8 = n.plan.as_ref().is_none_or(|p| {
                let m = p.meta();
                m.schema.fields().last().is_some_and(|f| f.data_type() == &arrow::datatypes::DataType::Utf8)
            });
            if utf8 {
                n.clone()
            } else {
                n.closure("KSTREAM-MERGE-INPUT", Shape::Keep, n.key, filter_fn::<K, V>(n.key, |_, _| true))
            }
        };
        let (l, r) = (canonical(&self.node), canonical(&other.node));
        let repartition = l.repartition || r.repartition;
        let mut merged = l.with_other(&r, l.key, |a, b| a.merge(vec![b]));
        merged.repartition = repartition;
        KStream::from_node(merged)
    }

    /// Redistributes the records by their current key through an internal
    /// topic, now (Kafka Streams' `repartition()`).
    pub fn repartition(&self) -> KStream<K, V> {
        KStream::from_node(self.node.with(self.node.key, false, |p| p.repartition(None)))
    }

    /// Writes the stream to `topic` (created when missing): keys through
    /// [`SerdeKey`] (windowed keys in Kafka Streams' windowed layout, `()`
    /// keys as null keys), values as JSON, record time = event time.
    pub fn to(&self, topic: &str) {
        let node = if self.node.key.unit && self.node.has_key_column() {
            let f = filter_fn::<K, V>(self.node.key, |_, _| true);
            self.node.closure("KSTREAM-SINK-UNKEY", Shape::DropKey, self.node.key, f)
        } else {
            self.node.clone()
        };
        let sink = node.with(node.key, false, |p| {
            let key = SerdeKey::<serde_json::Value>::with_layout(node.key);
            p.sink(topic, Arc::new(key), Arc::new(SerdeJson::<serde_json::Value>::new()))
        });
        let window = sink.plan.as_ref().and_then(|p| p.meta().window);
        sink.add_root(Some((topic, SinkInfo { window, key: node.key })));
    }

    /// The stream read as a changelog: a table holding the latest value per
    /// key.
    pub fn to_table(&self) -> KTable<K, V> {
        KTable::from_node(self.node.repartitioned().with(self.node.key, false, |p| p.to_table()))
    }

    /// Groups the records by their key, for an aggregation.
    pub fn group_by_key(&self) -> KGroupedStream<K, V> {
        let node = if self.node.has_key_column() || self.node.plan.is_none() {
            self.node.clone()
        } else {
            // Unit keys: one group, under the key `null`.
            let f = filter_fn::<K, V>(self.node.key, |_, _| true);
            let with_key: RowFn = Arc::new(move |row: &RowIn<'_>, out: &mut Vec<RowOut>| {
                f(row, out)?;
                for r in out.iter_mut() {
                    r.key = Some("null".into());
                }
                Ok(())
            });
            self.node.closure("KSTREAM-KEY-SELECT", Shape::Rekey, self.node.key, with_key)
        };
        KGroupedStream::from_node(node.repartitioned())
    }

    /// Groups the records by `key(key, value)`, for an aggregation: a
    /// re-key and a repartition (Kafka Streams' `groupBy`).
    pub fn group_by<K2: Data, F>(&self, key: F) -> KGroupedStream<K2, V>
    where
        F: Fn(&K, &V) -> K2 + Send + Sync + 'static,
    {
        self.select_key(key).group_by_key()
    }

    fn join_node<VR: Data>(
        &self,
        other: &Node,
        kind: JoinKind,
        window: Option<JoinWindows>,
        f: RowFn,
    ) -> KStream<K, VR> {
        if self.node.key.unit {
            self.node.record(EngineError::plan("KStream::join", "joins match records by key; a stream keyed by () has none"));
        }
        let (left, right) = (self.node.repartitioned(), other.repartitioned());
        let joined = left.with_other(&right, self.node.key, |l, r| l.join(r, kind, window.map(|w| w.spec())));
        KStream::from_node(joined.closure("KSTREAM-JOINER", Shape::Keep, self.node.key, f))
    }

    /// Joins each record with the table's current value for its key;
    /// records without one are dropped. Table updates emit nothing.
    pub fn join<VT: Data, VR: Data, F>(&self, table: &KTable<K, VT>, joiner: F) -> KStream<K, VR>
    where
        F: Fn(&V, &VT) -> VR + Send + Sync + 'static,
    {
        let f = joiner_fn(move |l: Option<&V>, r: Option<&VT>| Some(joiner(l?, r?)));
        self.join_node(&table.node, JoinKind::Inner, None, f)
    }

    /// As [`KStream::join`], but records without a table value are joined
    /// with `None`.
    pub fn left_join<VT: Data, VR: Data, F>(&self, table: &KTable<K, VT>, joiner: F) -> KStream<K, VR>
    where
        F: Fn(&V, Option<&VT>) -> VR + Send + Sync + 'static,
    {
        let f = joiner_fn(move |l: Option<&V>, r: Option<&VT>| Some(joiner(l?, r)));
        self.join_node(&table.node, JoinKind::Left, None, f)
    }

    /// Joins records of the two streams with the same key whose times are
    /// within `windows`.
    pub fn join_stream<VO: Data, VR: Data, F>(&self, other: &KStream<K, VO>, joiner: F, windows: JoinWindows) -> KStream<K, VR>
    where
        F: Fn(&V, &VO) -> VR + Send + Sync + 'static,
    {
        let f = joiner_fn(move |l: Option<&V>, r: Option<&VO>| Some(joiner(l?, r?)));
        self.join_node(&other.node, JoinKind::Inner, Some(windows), f)
    }

    /// As [`KStream::join_stream`], but every left record is emitted, with
    /// `None` when no right record matched in time.
    pub fn left_join_stream<VO: Data, VR: Data, F>(&self, other: &KStream<K, VO>, joiner: F, windows: JoinWindows) -> KStream<K, VR>
    where
        F: Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
    {
        let f = joiner_fn(move |l: Option<&V>, r: Option<&VO>| Some(joiner(l?, r)));
        self.join_node(&other.node, JoinKind::Left, Some(windows), f)
    }

    /// As [`KStream::join_stream`], but records of either side without a
    /// match are emitted with `None` for the other side.
    pub fn outer_join_stream<VO: Data, VR: Data, F>(&self, other: &KStream<K, VO>, joiner: F, windows: JoinWindows) -> KStream<K, VR>
    where
        F: Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync + 'static,
    {
        let f = joiner_fn(move |l: Option<&V>, r: Option<&VO>| {
            if l.is_none() && r.is_none() {
                return None;
            }
            Some(joiner(l, r))
        });
        self.join_node(&other.node, JoinKind::Outer, Some(windows), f)
    }
}
