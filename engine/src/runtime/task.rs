//! [`StreamTask`]: one sub-topology on one partition. A task owns its
//! operators, its stores (restored from their changelogs when it starts)
//! and its input positions. The hot loop is synchronous: `poll` reads what
//! is available, decodes it into Arrow batches and pushes them through the
//! operators; `commit` flushes operator caches, stores (changelog), and then
//! commits the input offsets (at-least-once).

use std::sync::Arc;

use riffle_log::client::LogClient;
use riffle_log::record::StoredRecord;
use riffle_log::TopicPartition;
use riffle_state::{LoggingRestoreListener, StateManager, StateManagerConfig};

use super::{StreamsConfig, TaskMetrics};
use crate::batch::Batch;
use crate::error::{EngineError, Result};
use crate::operators::{InitContext, OpContext, Operator};
use crate::physical::{SourceDecoder, Topology};

/// Identifies a task: sub-topology and partition (Kafka Streams' `0_3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId {
    /// Sub-topology index.
    pub subtopology: usize,
    /// Partition of its source topics.
    pub partition: i32,
}

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}", self.subtopology, self.partition)
    }
}

struct TaskNode {
    op: Option<Box<dyn Operator>>,
    outputs: Vec<(usize, usize)>,
}

struct TaskSource {
    decoder: SourceDecoder,
    node: usize,
    position: i64,
    /// Fetched but not yet processed (multi-source tasks merge by time).
    buffered: std::collections::VecDeque<StoredRecord>,
}

/// One running task. See the module docs.
pub struct StreamTask {
    id: TaskId,
    application_id: String,
    nodes: Vec<TaskNode>,
    sources: Vec<TaskSource>,
    state: StateManager,
    log: Arc<dyn LogClient>,
    stream_time: i64,
    wall_clock_ms: i64,
    metrics: Arc<TaskMetrics>,
    caching: bool,
    max_poll_bytes: usize,
    committed: Vec<i64>,
    /// Set when the task runs in a group member: commits carry the member's
    /// id and generation, and are refused once the task has moved.
    member: Option<Arc<super::group::MemberIdentity>>,
}

impl std::fmt::Debug for StreamTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamTask").field("id", &self.id).field("stream_time", &self.stream_time).finish()
    }
}

impl StreamTask {
    /// Creates the task's operators, opens and restores its stores, and
    /// positions its inputs at the committed offsets (or the start of the
    /// log when nothing was committed: `auto.offset.reset=earliest`).
    ///
    /// # Errors
    /// Store, log or plan failures.
    pub fn new(topology: &Topology, id: TaskId, config: &StreamsConfig, log: Arc<dyn LogClient>) -> Result<Self> {
        let sub = topology
            .subtopologies
            .get(id.subtopology)
            .ok_or_else(|| EngineError::Internal(format!("no sub-topology {}", id.subtopology)))?;
        let ctx = format!("task {id}");
        let partitions = sub
            .sources
            .iter()
            .filter_map(|s| log.partition_count(&s.topic).ok())
            .max()
            .unwrap_or(1);
        let mut state = StateManager::open(StateManagerConfig {
            task_dir: config.state_dir.join(&config.application_id).join(id.to_string()),
            application_id: config.application_id.clone(),
            partition: id.partition,
            changelog_partitions: partitions,
            backend: config.backend,
            memory: config.state_memory.clone(),
            log: Some(log.clone()),
        })
        .map_err(|e| EngineError::state(&ctx, e))?;
        let ops = topology.operators(id.subtopology, id.partition, &log)?;
        let mut nodes: Vec<TaskNode> = ops
            .into_iter()
            .zip(sub.nodes.iter())
            .map(|(op, n)| TaskNode { op, outputs: n.outputs.clone() })
            .collect();
        let mut opened = Vec::new();
        for n in nodes.iter_mut().rev() {
            if let Some(op) = n.op.as_mut() {
                let mut ictx = InitContext {
                    state: &mut state,
                    opened: &mut opened,
                    partition: id.partition,
                    cache_bytes: config.cache_max_bytes,
                };
                op.init(&mut ictx)?;
            }
        }
        let summary = state.restore(&mut LoggingRestoreListener).map_err(|e| EngineError::state(&ctx, e))?;
        if summary.records > 0 {
            tracing::info!(task = %id, records = summary.records, "restored state");
        }
        let mut sources = Vec::new();
        let mut committed = Vec::new();
        for (si, spec) in sub.sources.iter().enumerate() {
            let node = sub
                .nodes
                .iter()
                .position(|n| matches!(n.kind, crate::physical::NodeKind::Source(x) if x == si))
                .ok_or_else(|| EngineError::Internal("source without node".into()))?;
            let tp = TopicPartition::new(spec.topic.clone(), id.partition);
            let position = match log.committed_offset(&config.application_id, &tp).map_err(|e| EngineError::log(&ctx, e))? {
                Some(o) => o,
                None => log.offsets(&spec.topic, id.partition).map_err(|e| EngineError::log(&ctx, e))?.0,
            };
            committed.push(position);
            sources.push(TaskSource {
                decoder: match &config.processing_log {
                    Some(pl) => SourceDecoder::new(spec.clone(), id.partition)?.with_processing_log(pl.clone(), &config.application_id),
                    None => SourceDecoder::new(spec.clone(), id.partition)?,
                },
                node,
                position,
                buffered: Default::default(),
            });
        }
        Ok(StreamTask {
            id,
            application_id: config.application_id.clone(),
            nodes,
            sources,
            state,
            log,
            stream_time: i64::MIN,
            wall_clock_ms: 0,
            metrics: Arc::new(TaskMetrics::default()),
            caching: config.cache_max_bytes > 0,
            max_poll_bytes: config.max_poll_bytes,
            committed,
            member: None,
        })
    }

    /// Commits as a member of the application's group from now on.
    pub(crate) fn in_group(mut self, member: Arc<super::group::MemberIdentity>) -> Self {
        self.member = Some(member);
        self
    }

    /// The task id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The task's counters.
    pub fn metrics(&self) -> &Arc<TaskMetrics> {
        &self.metrics
    }

    /// The largest event time read so far.
    pub fn stream_time(&self) -> i64 {
        self.stream_time
    }

    /// Names of the task's stores.
    pub fn store_names(&self) -> std::collections::BTreeSet<String> {
        self.state.store_names()
    }

    /// Records not yet read from the task's inputs.
    ///
    /// # Errors
    /// Log failures.
    pub fn lag(&self) -> Result<i64> {
        let mut lag = 0;
        for s in &self.sources {
            let (_, hw) = self.log.offsets(&s.decoder.spec().topic, self.id.partition).map_err(|e| EngineError::log("lag", e))?;
            lag += (hw - s.position).max(0) + s.buffered.len() as i64;
        }
        Ok(lag)
    }

    fn run_op(&mut self, node: usize, f: &mut dyn FnMut(&mut dyn Operator, &mut OpContext<'_>) -> Result<()>) -> Result<()> {
        let mut out = Vec::new();
        if let Some(op) = self.nodes[node].op.as_mut() {
            let mut ctx = OpContext {
                out: &mut out,
                stream_time: self.stream_time,
                wall_clock_ms: self.wall_clock_ms,
                metrics: &self.metrics,
                caching: self.caching,
            };
            f(op.as_mut(), &mut ctx)?;
        }
        self.route(node, out)
    }

    fn route(&mut self, node: usize, out: Vec<Batch>) -> Result<()> {
        if out.is_empty() {
            return Ok(());
        }
        let outputs = self.nodes[node].outputs.clone();
        for b in out {
            // Every consumer but the last gets a (cheap, Arc-backed) clone.
            if let Some((&(last, last_port), rest)) = outputs.split_last() {
                for &(child, port) in rest {
                    self.push(child, port, b.clone())?;
                }
                self.push(last, last_port, b)?;
            }
        }
        Ok(())
    }

    fn push(&mut self, node: usize, port: usize, batch: Batch) -> Result<()> {
        if self.nodes[node].op.is_none() {
            return self.route(node, vec![batch]);
        }
        let mut batch = Some(batch);
        self.run_op(node, &mut |op, ctx| match batch.take() {
            Some(b) => op.on_batch(port, b, ctx),
            None => Ok(()),
        })
    }

    fn process(&mut self, source: usize, records: &[StoredRecord]) -> Result<()> {
        let decoded = self.sources[source].decoder.decode(records, &self.metrics)?;
        if let Some(batch) = decoded {
            if let Some(max) = arrow::compute::max(&batch.timestamps) {
                self.stream_time = self.stream_time.max(max);
            }
            let node = self.sources[source].node;
            self.route(node, vec![batch])?;
            for i in (0..self.nodes.len()).rev() {
                self.run_op(i, &mut |op, ctx| op.on_time(ctx))?;
            }
        }
        Ok(())
    }

    /// Reads and processes what the inputs have (about `max_poll_bytes` per
    /// input). Returns the number of records read, or processed from
    /// earlier reads if more (0: nothing was left to do).
    ///
    /// # Errors
    /// Log, store or operator failures: the task must be closed and
    /// recreated (its state restores from the changelog).
    pub fn poll(&mut self) -> Result<usize> {
        let mut read = 0;
        for s in &mut self.sources {
            if !s.buffered.is_empty() {
                continue;
            }
            let f = self
                .log
                .read(&s.decoder.spec().topic, self.id.partition, s.position, self.max_poll_bytes)
                .map_err(|e| EngineError::log(format!("read {}-{}", s.decoder.spec().topic, self.id.partition), e))?;
            s.position = f.next_offset.max(s.position);
            read += f.records.len();
            s.buffered.extend(f.records);
        }
        if self.sources.len() == 1 {
            let recs: Vec<StoredRecord> = self.sources[0].buffered.drain(..).collect();
            if !recs.is_empty() {
                self.process(0, &recs)?;
            }
            return Ok(read);
        }
        // Several inputs (joins, merges): process in event-time order, in
        // runs from one input, while every input that has data buffered
        // still has some (Kafka Streams' partition-group choice). An input
        // that runs dry stops the pass: the next poll refills it before the
        // others move further ahead in event time.
        let had_data: Vec<bool> = self.sources.iter().map(|s| !s.buffered.is_empty()).collect();
        let mut processed = 0;
        // On equal timestamps a table's update goes first, so that a stream
        // record joined against the table sees rows of its own time.
        let rank = |s: &TaskSource, ts: i64| (ts, s.decoder.spec().kind == crate::plan::Kind::Stream);
        while !self.sources.iter().zip(&had_data).any(|(s, &had)| had && s.buffered.is_empty()) {
            let mut best: Option<(usize, (i64, bool))> = None;
            for (i, s) in self.sources.iter().enumerate() {
                if let Some(r) = s.buffered.front() {
                    let k = rank(s, r.timestamp);
                    if best.is_none_or(|(_, b)| k < b) {
                        best = Some((i, k));
                    }
                }
            }
            let Some((i, _)) = best else { break };
            let limit = self
                .sources
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .filter_map(|(_, s)| s.buffered.front().map(|r| rank(s, r.timestamp)))
                .min();
            let mut run = Vec::new();
            while let Some(r) = self.sources[i].buffered.front() {
                if !run.is_empty() && limit.is_some_and(|l| rank(&self.sources[i], r.timestamp) > l) {
                    break;
                }
                if let Some(r) = self.sources[i].buffered.pop_front() {
                    run.push(r);
                }
            }
            processed += run.len();
            self.process(i, &run)?;
        }
        // Records left buffered count as work, so that callers poll again.
        Ok(read.max(processed))
    }

    /// Interactive query of the store `store` (see
    /// [`Operator::query`](crate::operators::Operator::query)); `None` when
    /// no operator of this task owns it.
    ///
    /// # Errors
    /// A key that does not match the store's key columns; store failures.
    pub fn query(
        &mut self,
        store: &str,
        key: Option<&arrow::array::RecordBatch>,
        windows: Option<(i64, i64)>,
    ) -> Result<Option<arrow::array::RecordBatch>> {
        for n in &mut self.nodes {
            if let Some(op) = n.op.as_mut() {
                if let Some(rows) = op.query(store, key, windows)? {
                    return Ok(Some(rows));
                }
            }
        }
        Ok(None)
    }

    /// Tells punctuating operators the wall-clock time.
    ///
    /// # Errors
    /// Operator failures.
    pub fn wall_clock(&mut self, now_ms: i64) -> Result<()> {
        self.wall_clock_ms = now_ms;
        for i in (0..self.nodes.len()).rev() {
            self.run_op(i, &mut |op, ctx| op.on_wall_clock(ctx))?;
        }
        Ok(())
    }

    /// Commits: operator caches → stores → changelog and checkpoint →
    /// input offsets. After a crash the task resumes from the last commit
    /// and reprocesses at most what came after it.
    ///
    /// # Errors
    /// Store or log failures.
    pub fn commit(&mut self) -> Result<()> {
        for i in (0..self.nodes.len()).rev() {
            self.run_op(i, &mut |op, ctx| op.on_commit(ctx))?;
        }
        let ctx = format!("task {}", self.id);
        self.state.commit().map_err(|e| EngineError::state(&ctx, e))?;
        let positions: Vec<i64> = self
            .sources
            .iter()
            .map(|s| s.buffered.front().map_or(s.position, |r| r.offset))
            .collect();
        if positions != self.committed {
            let offsets: Vec<(TopicPartition, i64)> = self
                .sources
                .iter()
                .zip(&positions)
                .map(|(s, &p)| (TopicPartition::new(s.decoder.spec().topic.clone(), self.id.partition), p))
                .collect();
            let committed = match &self.member {
                Some(m) => {
                    let (member, generation) = m.get();
                    self.log.commit_member_offsets(&self.application_id, &member, generation, &offsets)
                }
                None => self.log.commit_offsets(&self.application_id, &offsets),
            };
            committed.map_err(|e| EngineError::log(&ctx, e))?;
            self.committed = positions;
        }
        Ok(())
    }

    /// Commits and closes the stores.
    ///
    /// # Errors
    /// As [`StreamTask::commit`].
    pub fn close(mut self) -> Result<()> {
        let committed = self.commit();
        let ctx = format!("task {}", self.id);
        // The stores close even when the commit failed (the changelog and
        // the committed offsets decide what a restart sees).
        let closed = self.state.close().map_err(|e| EngineError::state(&ctx, e));
        committed.and(closed)
    }
}
