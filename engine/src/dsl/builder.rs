//! [`StreamsBuilder`], and `Node`: what every typed handle holds (the plan
//! so far, its key layout, whether it must be repartitioned before the next
//! grouping or join, and the shared builder state where sinks and errors go).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use parking_lot::Mutex;
use riffle_log::client::LogClient;

use super::closure_op::{ClosureSpec, ClosureSupplier, RowFn, Shape};
use super::codec::{KeyLayout, KEY, VALUE};
use super::format::{SerdeJson, SerdeKey};
use super::testing::TypedTestDriver;
use super::{Data, KStream, KTable};
use crate::builder::PlanBuilder;
use crate::error::{EngineError, Result};
use crate::plan::{LogicalPlan, TimestampSpec, WindowSpec};
use crate::runtime::{StreamsApp, StreamsConfig};

/// What the builder knows about a sink topic (to decode it in tests).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SinkInfo {
    /// The window of windowed outputs.
    pub(crate) window: Option<WindowSpec>,
    /// The layout of the written keys.
    pub(crate) key: KeyLayout,
}

/// State shared by a builder and every handle made from it.
#[derive(Default)]
pub(crate) struct State {
    next_id: u64,
    roots: Vec<Arc<LogicalPlan>>,
    errors: Vec<EngineError>,
    pub(crate) sinks: BTreeMap<String, SinkInfo>,
}

pub(crate) type Shared = Arc<Mutex<State>>;

/// Builds a topology from typed streams and tables (Kafka Streams'
/// `StreamsBuilder`). See the [module docs](super).
///
/// Handles ([`KStream`], [`KTable`], …) share the builder's state: calling
/// [`KStream::to`] or [`KStream::foreach`] adds an output to the topology.
/// Mistakes the types cannot catch (an empty topic name, suppressing an
/// unwindowed table, joining a windowed table) are recorded where they
/// happen and returned by [`StreamsBuilder::plans`],
/// [`StreamsBuilder::build`] and [`StreamsBuilder::test_driver`], so
/// pipelines chain without a `?` per step.
pub struct StreamsBuilder {
    shared: Shared,
}

impl Default for StreamsBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for StreamsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.shared.lock();
        f.debug_struct("StreamsBuilder").field("outputs", &s.roots.len()).field("errors", &s.errors.len()).finish()
    }
}

impl StreamsBuilder {
    /// An empty topology.
    pub fn new() -> Self {
        StreamsBuilder { shared: Arc::new(Mutex::new(State::default())) }
    }

    fn source<K: Data, V: Data>(&self, topic: &str, table: bool) -> Node {
        let key = KeyLayout::of::<K>();
        let key_fields = if key.unit { vec![] } else { vec![Field::new(KEY, DataType::Utf8, true)] };
        let value = Schema::new(vec![Field::new(VALUE, DataType::Utf8, true)]);
        let (kf, vf) = (Arc::new(SerdeKey::<K>::new()), Arc::new(SerdeJson::<V>::new()));
        let plan = if table {
            PlanBuilder::table(topic, kf, vf, &key_fields, value, TimestampSpec::Record)
        } else {
            PlanBuilder::stream(topic, kf, vf, &key_fields, value, TimestampSpec::Record)
        };
        let node = Node { shared: self.shared.clone(), plan: None, key, repartition: false };
        match plan {
            Ok(p) => Node { plan: Some(p), ..node },
            Err(e) => {
                node.record(e);
                node
            }
        }
    }

    /// A stream of the records of `topic`, event time from the record
    /// timestamps. Keys decode as `K` (see [`SerdeKey`]); records without a
    /// key are skipped, unless `K` is `()`, which reads no keys at all.
    /// Values decode as JSON `V` (see [`SerdeJson`]); records whose value
    /// does not, or is null, are skipped with the reason logged and counted
    /// in `decode_errors`.
    pub fn stream<K: Data, V: Data>(&self, topic: &str) -> KStream<K, V> {
        KStream::from_node(self.source::<K, V>(topic, false))
    }

    /// A table over the changelog in `topic`: each record upserts its key,
    /// a null value deletes it. Keys and values decode as for
    /// [`StreamsBuilder::stream`]; a table needs a key type other than `()`.
    pub fn table<K: Data, V: Data>(&self, topic: &str) -> KTable<K, V> {
        KTable::from_node(self.source::<K, V>(topic, true))
    }

    /// The plans of the topology's outputs, for
    /// [`TestDriver`](crate::TestDriver) or [`StreamsApp`].
    ///
    /// # Errors
    /// The first mistake recorded while building (with a count of the
    /// others); a topology without outputs.
    pub fn plans(&self) -> Result<Vec<Arc<LogicalPlan>>> {
        let s = self.shared.lock();
        if let Some(first) = s.errors.first() {
            let more = match s.errors.len() - 1 {
                0 => String::new(),
                n => format!(" (and {n} more problem(s) after this one)"),
            };
            return Err(match first {
                EngineError::Plan { node, reason } => EngineError::plan(node.clone(), format!("{reason}{more}")),
                other => EngineError::plan("StreamsBuilder", format!("{other}{more}")),
            });
        }
        if s.roots.is_empty() {
            return Err(EngineError::plan(
                "StreamsBuilder",
                "the topology has no outputs; end a stream with KStream::to or KStream::foreach",
            ));
        }
        Ok(s.roots.clone())
    }

    /// The topology's plans as indented trees (what `EXPLAIN` prints).
    ///
    /// # Errors
    /// As [`StreamsBuilder::plans`].
    pub fn describe(&self) -> Result<String> {
        Ok(self.plans()?.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))
    }

    /// An application running the topology against `log`. Start it with
    /// [`StreamsApp::start`].
    ///
    /// # Errors
    /// As [`StreamsBuilder::plans`]; plans the runtime cannot run; bad
    /// config.
    pub fn build(&self, log: Arc<dyn LogClient>, config: StreamsConfig) -> Result<StreamsApp> {
        StreamsApp::new(&self.plans()?, log, config)
    }

    /// A typed [`TestDriver`](crate::TestDriver) over the topology, with one
    /// partition per input topic and the cache off.
    ///
    /// # Errors
    /// As [`StreamsBuilder::build`].
    pub fn test_driver(&self, application_id: &str) -> Result<TypedTestDriver> {
        let plans = self.plans()?;
        let sinks = self.shared.lock().sinks.clone();
        TypedTestDriver::new(application_id, &plans, sinks)
    }
}

/// The untyped part of every handle.
#[derive(Clone)]
pub(crate) struct Node {
    pub(crate) shared: Shared,
    /// `None` once a step failed (the error is recorded in the state).
    pub(crate) plan: Option<PlanBuilder>,
    pub(crate) key: KeyLayout,
    /// The key changed since the data was last partitioned by key.
    pub(crate) repartition: bool,
}

impl Node {
    /// Records a mistake for `plans` to report.
    pub(crate) fn record(&self, e: EngineError) {
        self.shared.lock().errors.push(e);
    }

    /// A fresh name in Kafka Streams' style (`KSTREAM-FILTER-0000000003`);
    /// stable for a program that builds the same topology in the same order.
    pub(crate) fn name(&self, kind: &str) -> String {
        let mut s = self.shared.lock();
        s.next_id += 1;
        format!("{kind}-{:010}", s.next_id)
    }

    /// The next node: `f` applied to the plan, or the recorded error.
    pub(crate) fn with(&self, key: KeyLayout, repartition: bool, f: impl FnOnce(PlanBuilder) -> Result<PlanBuilder>) -> Node {
        let plan = self.plan.clone().and_then(|p| match f(p) {
            Ok(p) => Some(p),
            Err(e) => {
                self.record(e);
                None
            }
        });
        Node { shared: self.shared.clone(), plan, key, repartition }
    }

    /// A node combining this one with `other` (joins, merges).
    pub(crate) fn with_other(
        &self,
        other: &Node,
        key: KeyLayout,
        f: impl FnOnce(PlanBuilder, PlanBuilder) -> Result<PlanBuilder>,
    ) -> Node {
        if !Arc::ptr_eq(&self.shared, &other.shared) {
            self.record(EngineError::plan("StreamsBuilder", "cannot combine streams or tables of different StreamsBuilders"));
            return Node { plan: None, ..self.clone() };
        }
        let Some(right) = other.plan.clone() else {
            return Node { plan: None, key, ..self.clone() };
        };
        self.with(key, false, |left| f(left, right))
    }

    /// A closure operator over this node (see `closure_op`).
    pub(crate) fn closure(&self, kind: &str, shape: Shape, key: KeyLayout, f: RowFn) -> Node {
        let name = self.name(kind);
        let repartition = self.repartition || shape == Shape::Rekey;
        self.with(key, repartition, |p| {
            let out = shape.meta(p.meta());
            let spec = ClosureSpec::new(name.clone(), f, shape, p.meta(), &out);
            p.process(&name, Arc::new(ClosureSupplier(Arc::new(spec))), Some(out))
        })
    }

    /// This node partitioned by its key: a repartition when the key changed.
    pub(crate) fn repartitioned(&self) -> Node {
        if self.repartition {
            self.with(self.key, false, |p| p.repartition(None))
        } else {
            self.clone()
        }
    }

    /// Whether the node has a key column (unit keys have none until an
    /// operation adds one).
    pub(crate) fn has_key_column(&self) -> bool {
        self.plan.as_ref().is_some_and(|p| p.meta().key_len > 0)
    }

    /// Adds this node's plan as an output of the topology.
    pub(crate) fn add_root(&self, sink: Option<(&str, SinkInfo)>) {
        if let Some(p) = &self.plan {
            let mut s = self.shared.lock();
            s.roots.push(p.clone().build());
            if let Some((topic, info)) = sink {
                s.sinks.insert(topic.to_string(), info);
            }
        }
    }
}
