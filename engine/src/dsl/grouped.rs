//! Grouped streams and their aggregations: [`KGroupedStream`] and its
//! windowed forms, [`TimeWindowedKStream`] (time and sliding windows) and
//! [`SessionWindowedKStream`].
//!
//! `count` maps to the plan's built-in `COUNT(*)`; `aggregate` and
//! `reduce` run the closures as an aggregate function (see `aggregator`), so
//! every aggregation is one `Aggregate` plan node with its window.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use super::aggregator::{ClosureAggregate, Merge, Step};
use super::builder::Node;
use super::codec::{KEY, VALUE};
use super::{Data, KTable, SessionWindows, SlidingWindows, TimeWindows, Windowed};
use crate::plan::{AggFunc, Expr, WindowSpec};

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::TimeWindows {}
    impl Sealed for super::SessionWindows {}
    impl Sealed for super::SlidingWindows {}
}

/// Window definitions accepted by [`KGroupedStream::windowed_by`]:
/// [`TimeWindows`] and [`SlidingWindows`] give a [`TimeWindowedKStream`],
/// [`SessionWindows`] a [`SessionWindowedKStream`].
pub trait Windows: sealed::Sealed {
    /// The windowed grouped stream these windows make.
    type Stream<K: Data, V: Data>;

    /// Applies the windows to `grouped` (what `windowed_by` calls).
    fn window<K: Data, V: Data>(self, grouped: &KGroupedStream<K, V>) -> Self::Stream<K, V>;
}

impl Windows for TimeWindows {
    type Stream<K: Data, V: Data> = TimeWindowedKStream<K, V>;

    fn window<K: Data, V: Data>(self, grouped: &KGroupedStream<K, V>) -> TimeWindowedKStream<K, V> {
        TimeWindowedKStream { node: grouped.node.clone(), window: self.spec(), _t: PhantomData }
    }
}

impl Windows for SlidingWindows {
    type Stream<K: Data, V: Data> = TimeWindowedKStream<K, V>;

    fn window<K: Data, V: Data>(self, grouped: &KGroupedStream<K, V>) -> TimeWindowedKStream<K, V> {
        TimeWindowedKStream { node: grouped.node.clone(), window: self.spec(), _t: PhantomData }
    }
}

impl Windows for SessionWindows {
    type Stream<K: Data, V: Data> = SessionWindowedKStream<K, V>;

    fn window<K: Data, V: Data>(self, grouped: &KGroupedStream<K, V>) -> SessionWindowedKStream<K, V> {
        SessionWindowedKStream { node: grouped.node.clone(), windows: self, _t: PhantomData }
    }
}

/// `COUNT(*)` into the `value` column.
fn count_node(node: &Node, window: Option<WindowSpec>) -> Node {
    let key = if window.is_some() { node.key.windowed() } else { node.key };
    node.with(key, false, |p| p.aggregate(window, vec![(AggFunc::CountStar, vec![], VALUE.into())]))
}

/// A closure aggregation into the `value` column.
fn fold_node<K: Data, V: Data, A: Data>(
    node: &Node,
    window: Option<WindowSpec>,
    kind: &str,
    step: Step<K, V, A>,
    merge: Option<Merge<A>>,
) -> Node {
    let func = Arc::new(ClosureAggregate::new(node.name(kind), node.key, step, merge));
    let key = if window.is_some() { node.key.windowed() } else { node.key };
    node.with(key, false, |p| {
        p.aggregate(window, vec![(AggFunc::Udaf(func), vec![Expr::col(KEY), Expr::col(VALUE)], VALUE.into())])
    })
}

fn aggregate_step<K: Data, V: Data, A: Data>(
    init: impl Fn() -> A + Send + Sync + 'static,
    adder: impl Fn(&K, &V, A) -> A + Send + Sync + 'static,
) -> Step<K, V, A> {
    Arc::new(move |k: &K, v: V, agg: Option<A>| adder(k, &v, agg.unwrap_or_else(&init)))
}

/// A shared reducer.
type Reducer<V> = Arc<dyn Fn(V, &V) -> V + Send + Sync>;

fn reduce_step<K: Data, V: Data>(reducer: Reducer<V>) -> Step<K, V, V> {
    Arc::new(move |_k: &K, v: V, agg: Option<V>| match agg {
        Some(a) => reducer(a, &v),
        None => v,
    })
}

macro_rules! handle_impls {
    ($t:ident) => {
        impl<K, V> Clone for $t<K, V> {
            fn clone(&self) -> Self {
                self.clone_fields()
            }
        }

        impl<K, V> fmt::Debug for $t<K, V> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($t))
                    .field("key", &std::any::type_name::<K>())
                    .field("value", &std::any::type_name::<V>())
                    .finish()
            }
        }
    };
}

/// A stream grouped by key, ready to aggregate (Kafka Streams'
/// `KGroupedStream`). The data is already partitioned by the group key.
pub struct KGroupedStream<K, V> {
    node: Node,
    _t: PhantomData<fn() -> (K, V)>,
}

impl<K, V> KGroupedStream<K, V> {
    fn clone_fields(&self) -> Self {
        KGroupedStream { node: self.node.clone(), _t: PhantomData }
    }
}
handle_impls!(KGroupedStream);

impl<K: Data, V: Data> KGroupedStream<K, V> {
    pub(crate) fn from_node(node: Node) -> Self {
        KGroupedStream { node, _t: PhantomData }
    }

    /// The number of records per key.
    pub fn count(&self) -> KTable<K, i64> {
        KTable::from_node(count_node(&self.node, None))
    }

    /// Folds each key's records: the first record of a key folds into
    /// `init()`, each later one into the previous result.
    pub fn aggregate<A: Data, I, F>(&self, init: I, adder: F) -> KTable<K, A>
    where
        I: Fn() -> A + Send + Sync + 'static,
        F: Fn(&K, &V, A) -> A + Send + Sync + 'static,
    {
        KTable::from_node(fold_node(&self.node, None, "KSTREAM-AGGREGATE", aggregate_step(init, adder), None))
    }

    /// Combines each key's values: the first value as is, each later one
    /// with `reducer(previous, value)`.
    pub fn reduce<F>(&self, reducer: F) -> KTable<K, V>
    where
        F: Fn(V, &V) -> V + Send + Sync + 'static,
    {
        KTable::from_node(fold_node(&self.node, None, "KSTREAM-REDUCE", reduce_step::<K, V>(Arc::new(reducer)), None))
    }

    /// Aggregates per window: `TimeWindows` (tumbling, hopping),
    /// `SlidingWindows` or `SessionWindows`.
    pub fn windowed_by<W: Windows>(&self, windows: W) -> W::Stream<K, V> {
        windows.window(self)
    }
}

/// A grouped stream over time windows, tumbling, hopping or sliding
/// (Kafka Streams' `TimeWindowedKStream`). Results are tables keyed by
/// [`Windowed<K>`].
pub struct TimeWindowedKStream<K, V> {
    node: Node,
    window: WindowSpec,
    _t: PhantomData<fn() -> (K, V)>,
}

impl<K, V> TimeWindowedKStream<K, V> {
    fn clone_fields(&self) -> Self {
        TimeWindowedKStream { node: self.node.clone(), window: self.window, _t: PhantomData }
    }
}
handle_impls!(TimeWindowedKStream);

impl<K: Data, V: Data> TimeWindowedKStream<K, V> {
    /// The number of records per key and window.
    pub fn count(&self) -> KTable<Windowed<K>, i64> {
        KTable::from_node(count_node(&self.node, Some(self.window)))
    }

    /// Folds each key's records per window, starting from `init()` in each
    /// window.
    pub fn aggregate<A: Data, I, F>(&self, init: I, adder: F) -> KTable<Windowed<K>, A>
    where
        I: Fn() -> A + Send + Sync + 'static,
        F: Fn(&K, &V, A) -> A + Send + Sync + 'static,
    {
        let step = aggregate_step(init, adder);
        KTable::from_node(fold_node(&self.node, Some(self.window), "KSTREAM-AGGREGATE", step, None))
    }

    /// Combines each key's values per window.
    pub fn reduce<F>(&self, reducer: F) -> KTable<Windowed<K>, V>
    where
        F: Fn(V, &V) -> V + Send + Sync + 'static,
    {
        let step = reduce_step::<K, V>(Arc::new(reducer));
        KTable::from_node(fold_node(&self.node, Some(self.window), "KSTREAM-REDUCE", step, None))
    }
}

/// A grouped stream over session windows (Kafka Streams'
/// `SessionWindowedKStream`). Results are tables keyed by [`Windowed<K>`],
/// whose `end` is the time of the session's last record.
pub struct SessionWindowedKStream<K, V> {
    node: Node,
    windows: SessionWindows,
    _t: PhantomData<fn() -> (K, V)>,
}

impl<K, V> SessionWindowedKStream<K, V> {
    fn clone_fields(&self) -> Self {
        SessionWindowedKStream { node: self.node.clone(), windows: self.windows, _t: PhantomData }
    }
}
handle_impls!(SessionWindowedKStream);

impl<K: Data, V: Data> SessionWindowedKStream<K, V> {
    /// The number of records per key and session.
    pub fn count(&self) -> KTable<Windowed<K>, i64> {
        KTable::from_node(count_node(&self.node, Some(self.windows.spec())))
    }

    /// Folds each key's records per session. When a record bridges two
    /// sessions, their aggregates are combined with `merger(earlier,
    /// later)`.
    pub fn aggregate<A: Data, I, F, M>(&self, init: I, adder: F, merger: M) -> KTable<Windowed<K>, A>
    where
        I: Fn() -> A + Send + Sync + 'static,
        F: Fn(&K, &V, A) -> A + Send + Sync + 'static,
        M: Fn(A, A) -> A + Send + Sync + 'static,
    {
        let step = aggregate_step(init, adder);
        let merge: Merge<A> = Arc::new(merger);
        KTable::from_node(fold_node(&self.node, Some(self.windows.spec()), "KSTREAM-AGGREGATE", step, Some(merge)))
    }

    /// Combines each key's values per session; merged sessions combine
    /// with the same `reducer`.
    pub fn reduce<F>(&self, reducer: F) -> KTable<Windowed<K>, V>
    where
        F: Fn(V, &V) -> V + Send + Sync + 'static,
    {
        let reducer: Reducer<V> = Arc::new(reducer);
        let r2 = reducer.clone();
        let merge: Merge<V> = Arc::new(move |a: V, b: V| r2(a, &b));
        let step = reduce_step::<K, V>(reducer);
        KTable::from_node(fold_node(&self.node, Some(self.windows.spec()), "KSTREAM-REDUCE", step, Some(merge)))
    }
}
