//! [`KTable`]: a typed changelog (the latest value per key).

use std::fmt;
use std::marker::PhantomData;

use super::builder::Node;
use super::closure_op::Shape;
use super::kstream::{filter_fn, joiner_fn, map_values_fn};
use super::{Data, KStream, Suppressed};
use crate::error::EngineError;
use crate::plan::JoinKind;

/// A table with keys `K` and values `V` (Kafka Streams' `KTable`): the
/// latest value per key, and the stream of its updates. Cheap to clone.
///
/// Tables come from [`StreamsBuilder::table`](super::StreamsBuilder::table),
/// aggregations ([`KGroupedStream::count`](super::KGroupedStream::count), …)
/// and [`KStream::to_table`]. Windowed aggregations give tables keyed by
/// [`Windowed<K>`](super::Windowed).
///
/// Operations on a table keep table semantics: a row that a filter drops
/// deletes its key downstream, and deletes pass every operation without
/// calling its closure.
pub struct KTable<K, V> {
    pub(crate) node: Node,
    _t: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for KTable<K, V> {
    fn clone(&self) -> Self {
        KTable { node: self.node.clone(), _t: PhantomData }
    }
}

impl<K, V> fmt::Debug for KTable<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KTable")
            .field("key", &std::any::type_name::<K>())
            .field("value", &std::any::type_name::<V>())
            .field("plan", &self.node.plan.as_ref().map(|p| p.clone().build().to_string()))
            .finish()
    }
}

impl<K: Data, V: Data> KTable<K, V> {
    pub(crate) fn from_node(node: Node) -> Self {
        KTable { node, _t: PhantomData }
    }

    /// Keeps the rows for which `predicate` is true; a row that stops
    /// matching deletes its key.
    pub fn filter<F>(&self, predicate: F) -> KTable<K, V>
    where
        F: Fn(&K, &V) -> bool + Send + Sync + 'static,
    {
        let f = filter_fn(self.node.key, predicate);
        KTable::from_node(self.node.closure("KTABLE-FILTER", Shape::Keep, self.node.key, f))
    }

    /// Keeps the rows for which `predicate` is false.
    pub fn filter_not<F>(&self, predicate: F) -> KTable<K, V>
    where
        F: Fn(&K, &V) -> bool + Send + Sync + 'static,
    {
        let f = filter_fn(self.node.key, move |k: &K, v: &V| !predicate(k, v));
        KTable::from_node(self.node.closure("KTABLE-FILTER", Shape::Keep, self.node.key, f))
    }

    /// Replaces each value by `mapper(value)`.
    pub fn map_values<V2: Data, F>(&self, mapper: F) -> KTable<K, V2>
    where
        F: Fn(&V) -> V2 + Send + Sync + 'static,
    {
        KTable::from_node(self.node.closure("KTABLE-MAPVALUES", Shape::Keep, self.node.key, map_values_fn(mapper)))
    }

    /// The table's updates as a stream. Deletes stay in it as tombstones:
    /// [`KStream::to`] writes them as null values, key-preserving stream
    /// operations pass them on without calling their closures, and re-keying
    /// ones drop them.
    pub fn to_stream(&self) -> KStream<K, V> {
        KStream::from_node(self.node.with(self.node.key, false, |p| p.to_stream()))
    }

    /// Names this table's store so that a running app can be queried by
    /// that name ([`StreamsApp::key_value_store`](crate::StreamsApp::key_value_store),
    /// [`StreamsApp::window_store`](crate::StreamsApp::window_store));
    /// Kafka Streams' `Materialized.as(name)`. Must directly follow an
    /// aggregation (`count`, `aggregate`, `reduce`). A named windowed store
    /// keeps closed windows for its retention; an unnamed one drops them
    /// when they close.
    pub fn materialize_as(&self, name: &str) -> KTable<K, V> {
        KTable::from_node(self.node.with(self.node.key, false, |p| p.materialize_as(name)))
    }

    /// Holds back updates of a windowed table until each window closes,
    /// then emits one final row per key and window. Must directly follow a
    /// windowed aggregation.
    pub fn suppress(&self, _suppressed: Suppressed) -> KTable<K, V> {
        KTable::from_node(self.node.with(self.node.key, false, |p| p.suppress()))
    }

    fn join_node<VO: Data, VR: Data>(
        &self,
        other: &KTable<K, VO>,
        kind: JoinKind,
        joiner: impl Fn(Option<&V>, Option<&VO>) -> Option<VR> + Send + Sync + 'static,
    ) -> KTable<K, VR> {
        if self.node.key.unit {
            self.node.record(EngineError::plan("KTable::join", "tables keyed by () cannot be joined"));
        }
        let joined = self.node.with_other(&other.node, self.node.key, |l, r| l.join(r, kind, None));
        KTable::from_node(joined.closure("KTABLE-JOINER", Shape::Keep, self.node.key, joiner_fn(joiner)))
    }

    /// Joins with `other` on the key: a row for every key present in both,
    /// updated when either side changes.
    pub fn join<VO: Data, VR: Data, F>(&self, other: &KTable<K, VO>, joiner: F) -> KTable<K, VR>
    where
        F: Fn(&V, &VO) -> VR + Send + Sync + 'static,
    {
        self.join_node(other, JoinKind::Inner, move |l, r| Some(joiner(l?, r?)))
    }

    /// As [`KTable::join`], with a row for every key of this table (`None`
    /// for keys `other` lacks).
    pub fn left_join<VO: Data, VR: Data, F>(&self, other: &KTable<K, VO>, joiner: F) -> KTable<K, VR>
    where
        F: Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
    {
        self.join_node(other, JoinKind::Left, move |l, r| Some(joiner(l?, r)))
    }

    /// As [`KTable::join`], with a row for every key of either table.
    pub fn outer_join<VO: Data, VR: Data, F>(&self, other: &KTable<K, VO>, joiner: F) -> KTable<K, VR>
    where
        F: Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync + 'static,
    {
        self.join_node(other, JoinKind::Outer, move |l, r| if l.is_none() && r.is_none() { None } else { Some(joiner(l, r)) })
    }
}
