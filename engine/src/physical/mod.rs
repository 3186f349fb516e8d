//! Lowering, in one place: logical plans → a [`Topology`] of
//! sub-topologies, cut at every `Repartition`. Each sub-topology runs as one
//! task per partition of its source topics; [`Topology::operators`] makes a
//! task's operators.
//!
//! Also the vectorized expression evaluator ([`expr`]).

pub mod expr;
mod snapshot;
mod source;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use riffle_log::client::LogClient;

pub use snapshot::evaluate_snapshot;
pub use source::{SourceDecoder, SourceSpec};

use crate::builder::fingerprint;
use crate::error::{EngineError, Result};
use crate::operators::{aggregate::AggregateOp, filter::FilterOp, project::ProjectOp, select_key::SelectKeyOp, sink::{SinkOp, SinkTime}, table::{TableOp, ToStreamOp}, Operator};
use crate::operators::{
    flat_map::FlatMapOp, foreign_key_join::ForeignKeyJoinOp, join_stream_stream::StreamStreamJoinOp,
    join_stream_table::StreamTableJoinOp, join_table_table::TableTableJoinOp, session::SessionOp, sliding::SlidingOp,
};
use crate::plan::{Kind, LogicalPlan, TimestampSpec};

/// One physical node of a sub-topology.
#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    /// Rows from `sources[i]` enter here (no operator).
    Source(usize),
    /// An operator made from a plan node.
    Plan(Arc<LogicalPlan>),
    /// Materializes a source table.
    Table(Arc<LogicalPlan>),
    /// Writes to an internal repartition topic.
    RepartitionSink { plan: Arc<LogicalPlan>, topic: String, partitions: Option<i32> },
    /// Passes rows through (fused suppress).
    Identity(&'static str),
}

/// A node and the consumers of its output.
#[derive(Debug, Clone)]
pub(crate) struct PhysNode {
    pub(crate) kind: NodeKind,
    /// `(consumer node, consumer input port)`.
    pub(crate) outputs: Vec<(usize, usize)>,
}

/// A connected piece of the plan between repartitions.
#[derive(Debug, Clone)]
pub struct SubTopology {
    /// Index in the topology.
    pub id: usize,
    /// Topics read (co-partitioned: task `p` reads partition `p` of each).
    pub sources: Vec<SourceSpec>,
    pub(crate) nodes: Vec<PhysNode>,
    /// Aggregates whose output is suppressed (emit final).
    pub(crate) final_aggregates: Vec<usize>,
}

/// The lowered application.
#[derive(Debug, Clone)]
pub struct Topology {
    /// The application id (prefix of internal topics and the consumer group).
    pub application_id: String,
    /// Sub-topologies; later ones never feed earlier ones.
    pub subtopologies: Vec<SubTopology>,
}

impl Topology {
    /// Lowers `plans` (each usually ending in a sink) for `application_id`.
    ///
    /// # Errors
    /// Plan nodes the runtime cannot run yet (named in the message).
    pub fn lower(application_id: &str, plans: &[Arc<LogicalPlan>]) -> Result<Topology> {
        if application_id.is_empty() {
            return Err(EngineError::Config { key: "application.id".into(), reason: "must not be empty".into() });
        }
        let mut l = Lowering {
            app: application_id.to_string(),
            subs: Vec::new(),
            seen: HashMap::new(),
            repartitions: Default::default(),
        };
        // Plans that share a node (a table feeding two sinks) are lowered
        // into one sub-topology, so the shared operator and its store exist
        // once; independent plans get their own.
        for group in connected_groups(plans) {
            let sub = l.new_sub();
            for i in group {
                l.visit(&plans[i], sub)?;
            }
        }
        // Sub-topologies were created consumer-first; run producers first.
        let mut subs = l.subs;
        subs.reverse();
        subs.retain(|s| !s.nodes.is_empty());
        // Suppress is fused into its aggregate, so that aggregate cannot also
        // feed consumers that want every update.
        for s in &subs {
            for &a in &s.final_aggregates {
                if s.nodes[a].outputs.len() > 1 {
                    return Err(EngineError::plan(
                        "Suppress",
                        "this aggregation feeds both EMIT FINAL (suppress) and other consumers; \
                         build a separate aggregation for each",
                    ));
                }
            }
        }
        for (i, s) in subs.iter_mut().enumerate() {
            s.id = i;
        }
        let topology = Topology { application_id: application_id.to_string(), subtopologies: subs };
        let mut named = HashMap::new();
        for (name, sub, _) in topology.queryable_stores() {
            if named.insert(name.clone(), sub).is_some() {
                return Err(EngineError::plan(
                    "Materialized",
                    format!("two aggregations are materialized as {name:?}; store names must be unique in an application"),
                ));
            }
        }
        Ok(topology)
    }

    /// Stores named with `materialize_as` (queryable while the app runs),
    /// with the sub-topology that owns each and the schema of their rows.
    pub fn queryable_stores(&self) -> Vec<(String, usize, arrow::datatypes::SchemaRef)> {
        let mut v = Vec::new();
        for s in &self.subtopologies {
            for n in &s.nodes {
                if let NodeKind::Plan(p) = &n.kind {
                    if let LogicalPlan::Aggregate(a) = &**p {
                        if let Some(name) = &a.store {
                            v.push((name.clone(), s.id, a.meta.schema.clone()));
                        }
                    }
                }
            }
        }
        v
    }

    /// Input topics of the application (not internal ones).
    pub fn source_topics(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .subtopologies
            .iter()
            .flat_map(|s| s.sources.iter().filter(|x| !x.internal).map(|x| x.topic.clone()))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Makes the operators of sub-topology `sub` for the task of
    /// `partition`; `None` entries are sources. Sinks write through `log`.
    ///
    /// # Errors
    /// Plan nodes without a runtime operator; sink topics that cannot be
    /// created.
    pub(crate) fn operators(&self, sub: usize, partition: i32, log: &Arc<dyn LogClient>) -> Result<Vec<Option<Box<dyn Operator>>>> {
        let s = &self.subtopologies[sub];
        let mut out = Vec::with_capacity(s.nodes.len());
        for (idx, node) in s.nodes.iter().enumerate() {
            let name = |p: &LogicalPlan| format!("{}-{}-{}", p.name(), sub, idx);
            let op: Option<Box<dyn Operator>> = match &node.kind {
                NodeKind::Source(_) => None,
                NodeKind::Identity(n) => Some(Box::new(ToStreamOp { name: (*n).to_string() })),
                NodeKind::Table(p) => {
                    let m = p.meta();
                    Some(Box::new(TableOp::new(
                        format!("Table-{sub}-{idx}"),
                        format!("table-{}", fingerprint(p)),
                        m.schema.clone(),
                        m.key_len,
                        m.value_start(),
                        matches!(**p, LogicalPlan::ToTable(_)),
                    )?))
                }
                NodeKind::RepartitionSink { plan, topic, partitions } => {
                    let m = plan.meta();
                    let parts = match partitions {
                        Some(p) => *p,
                        None => self.partitions_of_sub(sub, log)?,
                    };
                    Some(Box::new(SinkOp {
                        name: format!("RepartitionSink-{sub}-{idx}"),
                        topic: topic.clone(),
                        key_format: source::internal_key_format(m),
                        value_format: Arc::new(crate::format::JsonFormat),
                        key_len: m.key_len,
                        windowed: None,
                        value_start: m.value_start(),
                        partitions: parts,
                        task_partition: partition,
                        log: log.clone(),
                        mark_retractions: true,
                        timestamp: SinkTime::Event,
                    }))
                }
                NodeKind::Plan(p) => Some(self.plan_operator(p, idx, name(p), sub, partition, log, s)?),
            };
            out.push(op);
        }
        Ok(out)
    }

    fn partitions_of_sub(&self, sub: usize, log: &Arc<dyn LogClient>) -> Result<i32> {
        let s = &self.subtopologies[sub];
        let mut n = 1;
        for src in &s.sources {
            if let Ok(c) = log.partition_count(&src.topic) {
                n = n.max(c);
            }
        }
        Ok(n)
    }

    #[allow(clippy::too_many_arguments)]
    fn plan_operator(
        &self,
        p: &Arc<LogicalPlan>,
        idx: usize,
        name: String,
        sub: usize,
        partition: i32,
        log: &Arc<dyn LogClient>,
        s: &SubTopology,
    ) -> Result<Box<dyn Operator>> {
        Ok(match &**p {
            LogicalPlan::Filter(f) => Box::new(FilterOp::new(name, f.predicate.clone(), f.meta.kind == Kind::Table, f.meta.value_start())),
            LogicalPlan::Project(x) => Box::new(ProjectOp::new(
                name,
                x.exprs.iter().map(|(e, _)| e.clone()).collect(),
                x.meta.value_start(),
                x.meta.schema.clone(),
            )),
            LogicalPlan::SelectKey(k) => {
                let input = k.input.meta();
                let values = k.meta.schema.fields()[k.meta.key_len..]
                    .iter()
                    .map(|f| input.schema.index_of(f.name()).map_err(|e| EngineError::arrow(&name, e)))
                    .collect::<Result<Vec<_>>>()?;
                let rename_only = k.key.len() == input.key_len
                    && k.key.iter().enumerate().all(|(j, (e, _))| {
                        matches!(e, crate::plan::Expr::Column(c) if input.schema.field(j).name() == c)
                    });
                Box::new(SelectKeyOp::new(
                    name,
                    k.key.iter().map(|(e, _)| e.clone()).collect(),
                    values,
                    k.meta.schema.clone(),
                    input.kind == Kind::Table,
                    rename_only,
                ))
            }
            LogicalPlan::Aggregate(a) => {
                let store = a.store.clone().unwrap_or_else(|| format!("aggregate-{}", fingerprint(p)));
                let final_only = s.final_aggregates.contains(&idx);
                match a.window {
                    Some(w) if w.is_session() => {
                        Box::new(SessionOp::new(name, store, a, final_only)?)
                    }
                    Some(w) if w.is_sliding() => {
                        Box::new(SlidingOp::new(name, store, a, final_only)?)
                    }
                    _ => Box::new(AggregateOp::new(name, store, a, final_only)?),
                }
            }
            LogicalPlan::Join(j) => {
                let (l, r) = (j.left.meta(), j.right.meta());
                let store = format!("join-{}", fingerprint(p));
                match (l.kind, r.kind, j.window) {
                    (Kind::Stream, Kind::Stream, Some(w)) => {
                        Box::new(StreamStreamJoinOp::new(name, &store, j.kind, w, w.eager, l, r, &j.meta)?)
                    }
                    (Kind::Stream, Kind::Table, None) => Box::new(StreamTableJoinOp::new(name, store, j.kind, l, r, &j.meta)?),
                    (Kind::Table, Kind::Table, None) => Box::new(TableTableJoinOp::new(name, &store, j.kind, l, r, &j.meta)?),
                    (lk, rk, w) => {
                        return Err(EngineError::plan(
                            &name,
                            format!("no {} join of a {lk} with a {rk}{}", j.kind, if w.is_some() { " with a window" } else { "" }),
                        ))
                    }
                }
            }
            LogicalPlan::ForeignKeyJoin(j) => {
                let parts = self.partitions_of_sub(sub, log)?;
                if parts > 1 {
                    return Err(EngineError::plan(
                        &name,
                        format!(
                            "foreign-key joins run inside one task, so their inputs must have one partition (they have {parts}); \
                             re-key the left table by the foreign key and use a key join, or use single-partition topics"
                        ),
                    ));
                }
                let store = format!("fkjoin-{}", fingerprint(p));
                Box::new(ForeignKeyJoinOp::new(name, &store, j.kind, j.foreign_key.clone(), j.left.meta(), j.right.meta(), &j.meta)?)
            }
            LogicalPlan::FlatMap(f) => Box::new(FlatMapOp::new(name, f.calls.clone(), f.meta.schema.clone())),
            LogicalPlan::Suppress(_) | LogicalPlan::ToStream(_) | LogicalPlan::Merge(_) => Box::new(ToStreamOp { name }),
            LogicalPlan::Sink(k) => {
                let parts = match k.partitions {
                    Some(p) => p,
                    None => self.partitions_of_sub(sub, log)?,
                };
                let mut cfg = riffle_log::TopicConfig::with_partitions(parts);
                if k.meta.kind == Kind::Table {
                    cfg.set("cleanup.policy", "compact").map_err(|e| EngineError::log(&k.topic, e))?;
                }
                let actual = log.ensure_topic(&k.topic, &cfg).map_err(|e| EngineError::log(format!("sink topic {}", k.topic), e))?;
                Box::new(SinkOp {
                    name,
                    topic: k.topic.clone(),
                    key_format: k.key_format.clone(),
                    value_format: k.value_format.clone(),
                    key_len: k.meta.key_len,
                    windowed: k.meta.window.map(|w| w.is_session()),
                    value_start: k.meta.value_start(),
                    partitions: actual,
                    task_partition: partition,
                    log: log.clone(),
                    mark_retractions: false,
                    timestamp: match &k.timestamp {
                        TimestampSpec::Record => SinkTime::Event,
                        TimestampSpec::Column(c) => {
                            SinkTime::Column(k.meta.schema.index_of(c).map_err(|e| EngineError::arrow(&k.topic, e))?)
                        }
                        TimestampSpec::Expr(e) => SinkTime::Expr(e.clone()),
                    },
                })
            }
            LogicalPlan::Process(x) => x.supplier.get(partition),
            other => {
                return Err(EngineError::plan(
                    format!("{}-{sub}", other.name()),
                    format!("{} is part of the plan IR but has no runtime operator yet", other.name()),
                ))
            }
        })
    }
}

/// Indices of `plans` grouped by shared nodes.
fn connected_groups(plans: &[Arc<LogicalPlan>]) -> Vec<Vec<usize>> {
    fn collect(p: &Arc<LogicalPlan>, out: &mut std::collections::HashSet<usize>) {
        if out.insert(Arc::as_ptr(p) as *const () as usize) {
            for i in p.inputs() {
                collect(i, out);
            }
        }
    }
    let sets: Vec<std::collections::HashSet<usize>> = plans
        .iter()
        .map(|p| {
            let mut s = Default::default();
            collect(p, &mut s);
            s
        })
        .collect();
    let mut group_of: Vec<usize> = (0..plans.len()).collect();
    for i in 0..plans.len() {
        for j in 0..i {
            if !sets[i].is_disjoint(&sets[j]) {
                let (from, to) = (group_of[i], group_of[j]);
                for g in &mut group_of {
                    if *g == from {
                        *g = to;
                    }
                }
            }
        }
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut ids: Vec<usize> = Vec::new();
    for (i, &g) in group_of.iter().enumerate() {
        match ids.iter().position(|&x| x == g) {
            Some(k) => groups[k].push(i),
            None => {
                ids.push(g);
                groups.push(vec![i]);
            }
        }
    }
    groups
}

struct Lowering {
    app: String,
    subs: Vec<SubTopology>,
    /// (sub, plan pointer) → node index.
    seen: HashMap<(usize, usize), usize>,
    /// Repartition nodes whose producing side is already lowered.
    repartitions: std::collections::HashSet<usize>,
}

impl Lowering {
    fn new_sub(&mut self) -> usize {
        let id = self.subs.len();
        self.subs.push(SubTopology { id, sources: Vec::new(), nodes: Vec::new(), final_aggregates: Vec::new() });
        id
    }

    fn add(&mut self, sub: usize, kind: NodeKind) -> usize {
        let nodes = &mut self.subs[sub].nodes;
        nodes.push(PhysNode { kind, outputs: Vec::new() });
        nodes.len() - 1
    }

    /// Adds `plan` (and its inputs) to `sub`; returns its node index.
    fn visit(&mut self, plan: &Arc<LogicalPlan>, sub: usize) -> Result<usize> {
        let key = (sub, Arc::as_ptr(plan) as *const () as usize);
        if let Some(&i) = self.seen.get(&key) {
            return Ok(i);
        }
        let idx = match &**plan {
            LogicalPlan::Source(s) => {
                let src = self.subs[sub].sources.len();
                let node = self.add(sub, NodeKind::Source(src));
                self.subs[sub].sources.push(SourceSpec::from_source(s, false));
                if s.meta.kind == Kind::Table {
                    let t = self.add(sub, NodeKind::Table(plan.clone()));
                    self.subs[sub].nodes[node].outputs.push((t, 0));
                    t
                } else {
                    node
                }
            }
            LogicalPlan::Repartition(r) => {
                let topic = format!("{}-{}-repartition", self.app, r.name);
                let src = self.subs[sub].sources.len();
                let node = self.add(sub, NodeKind::Source(src));
                self.subs[sub].sources.push(SourceSpec::repartition(&topic, &r.meta));
                // A repartition shared by several consumers is written once:
                // its producing side is lowered only the first time.
                let ptr = Arc::as_ptr(plan) as *const () as usize;
                if self.repartitions.insert(ptr) {
                    let below = self.new_sub();
                    let sink = self.add(below, NodeKind::RepartitionSink { plan: plan.clone(), topic, partitions: r.partitions });
                    let input = self.visit(&r.input, below)?;
                    self.subs[below].nodes[input].outputs.push((sink, 0));
                }
                node
            }
            LogicalPlan::Suppress(x) => {
                let node = self.add(sub, NodeKind::Identity("Suppress"));
                let input = self.visit(&x.input, sub)?;
                if matches!(*x.input, LogicalPlan::Aggregate(_)) {
                    self.subs[sub].final_aggregates.push(input);
                } else {
                    return Err(EngineError::plan("Suppress", "suppress must directly follow a windowed aggregation"));
                }
                self.subs[sub].nodes[input].outputs.push((node, 0));
                node
            }
            other => {
                let kind = if matches!(other, LogicalPlan::ToTable(_)) { NodeKind::Table(plan.clone()) } else { NodeKind::Plan(plan.clone()) };
                let node = self.add(sub, kind);
                for (port, input) in other.inputs().into_iter().enumerate() {
                    let i = self.visit(input, sub)?;
                    self.subs[sub].nodes[i].outputs.push((node, port));
                }
                node
            }
        };
        self.seen.insert(key, idx);
        Ok(idx)
    }
}

impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Topology {}", self.application_id)?;
        for s in &self.subtopologies {
            writeln!(f, "  Sub-topology {}: sources [{}]", s.id, s.sources.iter().map(|x| x.topic.as_str()).collect::<Vec<_>>().join(", "))?;
            for (i, n) in s.nodes.iter().enumerate() {
                let what = match &n.kind {
                    NodeKind::Source(x) => format!("Source {}", s.sources[*x].topic),
                    NodeKind::Plan(p) => p.name().to_string(),
                    NodeKind::Table(_) => "Table (materialize)".into(),
                    NodeKind::RepartitionSink { topic, .. } => format!("Sink {topic}"),
                    NodeKind::Identity(n) => (*n).to_string(),
                };
                let outs: Vec<String> = n.outputs.iter().map(|(c, _)| c.to_string()).collect();
                writeln!(f, "    {i}: {what} -> [{}]", outs.join(", "))?;
            }
        }
        Ok(())
    }
}
