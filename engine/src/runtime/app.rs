//! [`StreamsApp`]: one instance of a stream application. It joins the
//! consumer group named by the application id (see `group.rs`), runs the
//! tasks the group gives it on `num.stream.threads` worker threads, commits
//! every `commit.interval.ms`, answers interactive queries on named stores
//! through the worker that owns each task, and stops cleanly (a final
//! commit, stores closed, the group left).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use riffle_log::client::LogClient;
use riffle_log::TopicConfig;

use super::group::{self, Control, GroupMember};
use super::{MetricsSnapshot, StreamTask, StreamsConfig, TaskId, TaskMetrics};
use crate::error::{EngineError, Result};
use crate::physical::{NodeKind, Topology};
use crate::plan::LogicalPlan;

#[derive(Debug, Default)]
struct ThreadStatus {
    /// Last pass read nothing and the tasks had no lag.
    idle: bool,
    /// Tasks created and restored.
    started: bool,
    error: Option<String>,
}

/// One instance of an application, as every instance learns it from the
/// group (Kafka Streams' `StreamsMetadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceMetadata {
    /// Its member id in the group.
    pub member_id: String,
    /// Its `application.server`, where it answers queries.
    pub endpoint: Option<String>,
    /// The tasks it runs.
    pub tasks: Vec<TaskId>,
}

impl From<&group::MemberTasks> for InstanceMetadata {
    fn from(m: &group::MemberTasks) -> Self {
        InstanceMetadata {
            member_id: m.member_id.clone(),
            endpoint: m.endpoint.clone(),
            tasks: m.tasks.iter().map(|&(subtopology, partition)| TaskId { subtopology, partition }).collect(),
        }
    }
}

/// A running stream-processing application. See the module docs.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use arrow::datatypes::{DataType, Field, Schema};
/// use riffle_engine::{PlanBuilder, StreamsApp, StreamsConfig, plan::{Expr, TimestampSpec}, format::{JsonFormat, KafkaFormat}};
/// use riffle_log::{Log, LogConfig, TopicConfig, Record, client::LogClient};
///
/// let dir = tempfile::tempdir()?;
/// let log = Arc::new(Log::open(dir.path().join("log"), LogConfig::default())?);
/// log.create_topic("in", TopicConfig::with_partitions(1))?;
/// log.append("in", 0, &[Record::value(&br#"{"n":1}"#[..]), Record::value(&br#"{"n":5}"#[..])])?;
/// let value = Schema::new(vec![Field::new("n", DataType::Int64, true)]);
/// let plan = PlanBuilder::stream("in", Arc::new(KafkaFormat), Arc::new(JsonFormat), &[], value, TimestampSpec::Record)?
///     .filter(Expr::col("n").gt(Expr::lit(2i64)))?
///     .sink("out", Arc::new(KafkaFormat), Arc::new(JsonFormat))?
///     .build();
/// let mut app = StreamsApp::new(&[plan], log.clone(), StreamsConfig::new("doc-app", dir.path().join("state")))?;
/// app.start()?;
/// app.wait_until_idle(Duration::from_secs(10))?;
/// app.close()?;
/// assert_eq!(log.read("out", 0, 0, 1 << 20)?.records.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct StreamsApp {
    topology: Arc<Topology>,
    config: StreamsConfig,
    log: Arc<dyn LogClient>,
    stop: Arc<AtomicBool>,
    abort: Arc<AtomicBool>,
    member_stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<Result<()>>>,
    member: Option<JoinHandle<Result<()>>>,
    control: Arc<Control>,
    status: Arc<Mutex<Vec<ThreadStatus>>>,
    metrics: Arc<Mutex<Vec<Arc<TaskMetrics>>>>,
}

impl std::fmt::Debug for StreamsApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamsApp").field("application_id", &self.config.application_id).finish()
    }
}

impl StreamsApp {
    /// Lowers `plans` for `config.application_id`.
    ///
    /// # Errors
    /// Plans the runtime cannot run; bad config.
    pub fn new(plans: &[Arc<LogicalPlan>], log: Arc<dyn LogClient>, config: StreamsConfig) -> Result<Self> {
        if config.num_stream_threads == 0 {
            return Err(EngineError::Config { key: "num.stream.threads".into(), reason: "must be at least 1".into() });
        }
        let topology = Arc::new(Topology::lower(&config.application_id, plans)?);
        Ok(StreamsApp {
            topology,
            config,
            log,
            stop: Arc::new(AtomicBool::new(false)),
            abort: Arc::new(AtomicBool::new(false)),
            member_stop: Arc::new(AtomicBool::new(false)),
            workers: Vec::new(),
            member: None,
            control: Arc::new(Control::new(0)),
            status: Arc::new(Mutex::new(Vec::new())),
            metrics: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// The lowered topology (what `EXPLAIN` shows below the plan).
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Checks source topics exist, creates internal topics, joins the
    /// application's group (the application id) and starts the worker
    /// threads, which run the tasks the group assigns to this instance.
    ///
    /// # Errors
    /// Missing source topics (create them first), log failures, starting
    /// twice.
    pub fn start(&mut self) -> Result<()> {
        if self.member.is_some() {
            return Err(EngineError::NotRunning { app: self.config.application_id.clone(), reason: "already started".into() });
        }
        let tasks = prepare_topics(&self.topology, &*self.log)?;
        let threads = self.config.num_stream_threads.min(tasks.len().max(1));
        *self.status.lock() = (0..threads).map(|_| ThreadStatus::default()).collect();
        self.control = Arc::new(Control::new(threads));
        let topics: BTreeSet<String> =
            self.topology.subtopologies.iter().flat_map(|s| s.sources.iter().map(|x| x.topic.clone())).collect();
        let member = GroupMember {
            log: self.log.clone(),
            config: self.config.clone(),
            tasks,
            topics: topics.into_iter().collect(),
            control: self.control.clone(),
            stop: self.member_stop.clone(),
            abort: self.abort.clone(),
        };
        let spawn_error = |e: std::io::Error| EngineError::NotRunning { app: self.config.application_id.clone(), reason: e.to_string() };
        let status = self.status.clone();
        let handle = std::thread::Builder::new()
            .name(format!("{}-GroupMember", self.config.application_id))
            .spawn(move || {
                let r = member.run();
                if let Err(e) = &r {
                    tracing::error!("group member failed: {e}");
                    if let Some(s) = status.lock().first_mut() {
                        s.error = Some(e.to_string());
                    }
                }
                r
            })
            .map_err(spawn_error)?;
        self.member = Some(handle);
        for n in 0..threads {
            let worker = Worker {
                n,
                topology: self.topology.clone(),
                config: self.config.clone(),
                log: self.log.clone(),
                control: self.control.clone(),
                stop: self.stop.clone(),
                abort: self.abort.clone(),
                status: self.status.clone(),
                metrics: self.metrics.clone(),
            };
            let name = format!("{}-StreamThread-{}", self.config.application_id, n + 1);
            let handle = std::thread::Builder::new()
                .name(name)
                .spawn(move || {
                    let r = worker.run();
                    worker.control.state.lock().parked.get_mut(n).map(|p| *p = true);
                    worker.control.notify();
                    if let Err(e) = &r {
                        tracing::error!(thread = n, "stream thread failed: {e}");
                        worker.status.lock()[n].error = Some(e.to_string());
                    }
                    r
                })
                .map_err(spawn_error)?;
            self.workers.push(handle);
        }
        Ok(())
    }

    /// Interactive query of the store named `store` (see
    /// [`PlanBuilder::materialize_as`](crate::PlanBuilder::materialize_as))
    /// across this instance's tasks: the current rows for `key` (one row of
    /// the store's key columns) or for every key, and for windowed stores
    /// the windows that start in `windows` (inclusive; all when `None`).
    /// Rows have the aggregation's output schema (key columns,
    /// `WINDOWSTART`/`WINDOWEND` when windowed, aggregates). Keys that live
    /// on another instance are not here: ask [`key_owner`](Self::key_owner)
    /// where they are.
    ///
    /// The answer reflects every record the tasks have processed, also what
    /// is not committed yet; it waits while the instance rebalances.
    ///
    /// # Errors
    /// An unknown store name; a key that does not match the key columns;
    /// the app is not running, or rebalanced for longer than 30 s.
    pub fn query(
        &self,
        store: &str,
        key: Option<&arrow::array::RecordBatch>,
        windows: Option<(i64, i64)>,
    ) -> Result<arrow::array::RecordBatch> {
        let (_, _, schema) = self.store_info(store)?;
        let not_running = |reason: &str| EngineError::NotRunning { app: self.config.application_id.clone(), reason: reason.to_string() };
        if self.workers.is_empty() {
            return Err(not_running("the app is not started; start it before querying its stores"));
        }
        let (tx, rx) = std::sync::mpsc::channel();
        for n in 0..self.workers.len() {
            let job = group::QueryJob { store: store.to_string(), key: key.cloned(), windows, reply: tx.clone() };
            self.control.ask(n, job);
        }
        drop(tx);
        let mut batches = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        for _ in 0..self.workers.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(r) => batches.extend(r?),
                Err(_) => return Err(not_running("the stream threads did not answer the query (stopped, or still rebalancing)")),
            }
        }
        arrow::compute::concat_batches(&schema, &batches).map_err(|e| EngineError::arrow(store, e))
    }

    fn store_info(&self, store: &str) -> Result<(String, usize, arrow::datatypes::SchemaRef)> {
        let stores = self.topology.queryable_stores();
        let names: Vec<&str> = stores.iter().map(|(n, _, _)| n.as_str()).collect();
        let hint = if names.is_empty() {
            "; the app has no queryable stores (name one with materialize_as)".to_string()
        } else {
            format!("; queryable stores: {}", names.join(", "))
        };
        stores
            .iter()
            .find(|(name, _, _)| name == store)
            .cloned()
            .ok_or(EngineError::Unknown { what: "queryable store", name: store.to_string(), hint })
    }

    /// Every instance of the application, as the group's last assignment
    /// describes it (Kafka Streams' `metadataForAllStreamsClients`).
    pub fn instances(&self) -> Vec<InstanceMetadata> {
        self.control.state.lock().members.iter().map(InstanceMetadata::from).collect()
    }

    /// The instance that holds `key` of store `store` (Kafka Streams'
    /// `queryMetadataForKey`): `key` is the key as serialized on the topic
    /// the store's sub-topology reads (for DSL string keys, the string's
    /// bytes), which decides its partition. `None` while no instance owns
    /// that partition (during a rebalance).
    ///
    /// # Errors
    /// An unknown store; log failures.
    pub fn key_owner(&self, store: &str, key: &[u8]) -> Result<Option<InstanceMetadata>> {
        let (_, sub, _) = self.store_info(store)?;
        let topic = self.topology.subtopologies[sub]
            .sources
            .first()
            .map(|s| s.topic.clone())
            .ok_or_else(|| EngineError::Internal(format!("sub-topology {sub} has no source")))?;
        let partitions = self.log.partition_count(&topic).map_err(|e| EngineError::log(&topic, e))?;
        let task = TaskId { subtopology: sub, partition: riffle_log::partition_for_key(key, partitions) };
        Ok(self.instances().into_iter().find(|i| i.tasks.contains(&task)))
    }

    /// The tasks this instance runs now.
    pub fn local_tasks(&self) -> Vec<TaskId> {
        let mut v: Vec<TaskId> = self.control.state.lock().per_thread.iter().flatten().copied().collect();
        v.sort();
        v
    }

    /// Blocks until every task has processed everything in its inputs (and
    /// what that produced in repartition topics), or `timeout` passes.
    ///
    /// # Errors
    /// A failed worker thread; the timeout.
    pub fn wait_until_idle(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut idle_rounds = 0;
        loop {
            {
                let st = self.status.lock();
                if let Some(e) = st.iter().find_map(|s| s.error.clone()) {
                    return Err(EngineError::NotRunning { app: self.config.application_id.clone(), reason: e });
                }
                if st.iter().all(|s| s.idle && s.started) {
                    idle_rounds += 1;
                } else {
                    idle_rounds = 0;
                }
            }
            // Two consecutive idle observations: repartition output produced
            // by one thread has been seen by the others.
            if idle_rounds >= 3 {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(EngineError::NotRunning {
                    app: self.config.application_id.clone(),
                    reason: format!("not idle after {timeout:?}"),
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sum of all tasks' counters.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.metrics.lock().iter().fold(MetricsSnapshot::default(), |acc, m| acc + m.snapshot())
    }

    /// Stops the threads **without** a final commit and without leaving
    /// the group, as a crash would: tasks are dropped mid-flight, no offsets
    /// or checkpoints are written, and the group gives this instance's
    /// tasks to the others only after `session.timeout.ms`. A new app with
    /// the same id resumes from the last commit and reprocesses what came
    /// after it (at-least-once). For crash tests.
    pub fn kill(mut self) {
        self.abort.store(true, Ordering::SeqCst);
        let _ = self.stop_threads();
    }

    /// Stops the threads after a final commit of every task, then leaves
    /// the group (the other instances take the tasks over at once).
    ///
    /// # Errors
    /// The first error a worker thread hit.
    pub fn close(mut self) -> Result<()> {
        self.stop_threads()
    }

    fn stop_threads(&mut self) -> Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        self.control.notify();
        let mut first = None;
        for h in self.workers.drain(..) {
            match h.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    first.get_or_insert(e);
                }
                Err(_) => {
                    first.get_or_insert(EngineError::Internal("a stream thread panicked".into()));
                }
            }
        }
        // The member leaves only after the workers' final commits.
        self.member_stop.store(true, Ordering::SeqCst);
        self.control.notify();
        if let Some(h) = self.member.take() {
            match h.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    first.get_or_insert(e);
                }
                Err(_) => {
                    first.get_or_insert(EngineError::Internal("the group member thread panicked".into()));
                }
            }
        }
        first.map_or(Ok(()), Err)
    }
}

impl Drop for StreamsApp {
    fn drop(&mut self) {
        let _ = self.stop_threads();
    }
}

/// Creates repartition topics (producer sub-topologies first) and lists the
/// tasks: one per sub-topology and partition.
pub fn prepare_topics(topology: &Topology, log: &dyn LogClient) -> Result<Vec<TaskId>> {
    // A sub-topology's repartition topics get its partition count, which is
    // known once its own inputs exist: create them producers first, in as
    // many passes as the chain of repartitions is long.
    let subs = &topology.subtopologies;
    let mut partitions_of: Vec<Option<i32>> = vec![None; subs.len()];
    for _ in 0..subs.len() {
        for sub in subs {
            if partitions_of[sub.id].is_some() {
                continue;
            }
            let mut partitions = 0;
            let mut ready = true;
            for s in &sub.sources {
                let n = match log.partition_count(&s.topic) {
                    Ok(n) => n,
                    Err(_) if s.internal => {
                        ready = false;
                        break;
                    }
                    Err(e) => {
                        return Err(EngineError::log(
                            format!("source topic {:?} (create it before starting the app)", s.topic),
                            e,
                        ))
                    }
                };
                if partitions != 0 && n != partitions {
                    return Err(EngineError::plan(
                        format!("sub-topology {}", sub.id),
                        format!("inputs are not co-partitioned: {} has {n} partitions, others {partitions}; repartition one side", s.topic),
                    ));
                }
                partitions = n;
            }
            if !ready {
                continue;
            }
            for node in &sub.nodes {
                if let NodeKind::RepartitionSink { topic, partitions: p, .. } = &node.kind {
                    let n = p.unwrap_or(partitions.max(1));
                    log.ensure_topic(topic, &TopicConfig::with_partitions(n)).map_err(|e| EngineError::log(topic, e))?;
                }
            }
            partitions_of[sub.id] = Some(partitions);
        }
    }
    let mut tasks = Vec::new();
    for sub in subs {
        let n = partitions_of[sub.id]
            .ok_or_else(|| EngineError::Internal(format!("sub-topology {} reads a repartition topic nothing writes", sub.id)))?;
        for p in 0..n {
            tasks.push(TaskId { subtopology: sub.id, partition: p });
        }
    }
    Ok(tasks)
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn is_fenced(e: &EngineError) -> bool {
    matches!(e, EngineError::Log { source, .. } if group::is_fenced(source))
}

/// One worker thread: runs the tasks the group member hands it.
struct Worker {
    n: usize,
    topology: Arc<Topology>,
    config: StreamsConfig,
    log: Arc<dyn LogClient>,
    control: Arc<Control>,
    stop: Arc<AtomicBool>,
    abort: Arc<AtomicBool>,
    status: Arc<Mutex<Vec<ThreadStatus>>>,
    metrics: Arc<Mutex<Vec<Arc<TaskMetrics>>>>,
}

impl Worker {
    fn set_idle(&self, idle: bool) {
        self.status.lock()[self.n].idle = idle;
    }

    /// Commits every task. A refused commit means the tasks were given to
    /// another member: they are dropped without a commit (their stores
    /// restore from the changelog wherever they run next) and the member
    /// rejoins.
    fn commit_all(&self, tasks: &mut Vec<StreamTask>) -> Result<()> {
        for t in tasks.iter_mut() {
            match t.commit() {
                Ok(()) => {}
                Err(e) if is_fenced(&e) => {
                    tracing::warn!(thread = self.n, "tasks migrated to another instance ({e}); dropping them");
                    tasks.clear();
                    self.control.report_lost();
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Follows the group member: commits and parks on a suspend request,
    /// then closes lost tasks and opens gained ones.
    fn follow(&self, tasks: &mut Vec<StreamTask>) -> Result<()> {
        let suspend = {
            let st = self.control.state.lock();
            st.suspend && !st.parked.get(self.n).copied().unwrap_or(true)
        };
        // Whatever follows changes the tasks: not idle until a pass over
        // them says so.
        self.set_idle(false);
        if suspend {
            self.commit_all(tasks)?;
            let mut st = self.control.state.lock();
            if let Some(p) = st.parked.get_mut(self.n) {
                *p = true;
            }
            self.control.notify();
            while st.suspend && !self.stop.load(Ordering::SeqCst) {
                self.control.cv.wait_for(&mut st, Duration::from_millis(20));
            }
        }
        let (epoch, want) = {
            let st = self.control.state.lock();
            (st.epoch, st.per_thread.get(self.n).cloned().unwrap_or_default())
        };
        if epoch == 0 || self.stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        let want: BTreeSet<TaskId> = want.into_iter().collect();
        let (keep, revoked): (Vec<StreamTask>, Vec<StreamTask>) = tasks.drain(..).partition(|t| want.contains(&t.id()));
        for t in revoked {
            let id = t.id();
            match t.close() {
                Ok(()) => tracing::info!(task = %id, "task revoked and closed"),
                Err(e) if is_fenced(&e) => tracing::warn!(task = %id, "revoked task closed without a commit: {e}"),
                Err(e) => return Err(e),
            }
        }
        *tasks = keep;
        for &id in &want {
            if tasks.iter().any(|t| t.id() == id) {
                continue;
            }
            let t = StreamTask::new(&self.topology, id, &self.config, self.log.clone())?.in_group(self.control.identity.clone());
            self.metrics.lock().push(t.metrics().clone());
            tasks.push(t);
        }
        self.status.lock()[self.n].started = true;
        Ok(())
    }

    fn run(&self) -> Result<()> {
        let mut tasks: Vec<StreamTask> = Vec::new();
        let mut seen = u64::MAX;
        let mut last_commit = Instant::now();
        let mut last_tick = Instant::now();
        // Records processed since the last commit: an idle thread commits
        // them before it reports idle, so that what operator caches hold
        // reaches the output (and downstream queries) without waiting for
        // the next commit interval.
        let mut uncommitted = false;
        let mut idle_passes: u64 = 0;
        while !self.stop.load(Ordering::SeqCst) {
            let changed = self.control.changed.load(Ordering::SeqCst);
            if changed != seen {
                seen = changed;
                self.follow(&mut tasks)?;
                continue;
            }
            for job in self.control.take_queries(self.n) {
                let mut answer = Vec::new();
                let mut failed = None;
                for t in &mut tasks {
                    match t.query(&job.store, job.key.as_ref(), job.windows) {
                        Ok(Some(rows)) => answer.push(rows),
                        Ok(None) => {}
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                // The asker may have given up; nothing to do then.
                let _ = job.reply.send(failed.map_or(Ok(answer), Err));
            }
            let mut read = 0;
            for t in &mut tasks {
                read += t.poll()?;
            }
            uncommitted |= read > 0;
            if last_tick.elapsed() >= Duration::from_millis(100) {
                let now = now_ms();
                for t in &mut tasks {
                    t.wall_clock(now)?;
                }
                last_tick = Instant::now();
            }
            if last_commit.elapsed() >= self.config.commit_interval || (read == 0 && uncommitted) {
                self.commit_all(&mut tasks)?;
                last_commit = Instant::now();
                if read == 0 && uncommitted {
                    // The commit may have flushed cached rows into topics
                    // this thread reads: look again before reporting idle.
                    uncommitted = false;
                    self.set_idle(false);
                    continue;
                }
                uncommitted = false;
            }
            if read == 0 {
                let mut lag = 0;
                for t in &tasks {
                    lag += t.lag()?;
                }
                self.set_idle(lag == 0);
                // Back off while nothing arrives (1 ms, growing to 5 ms):
                // each pass asks the log for offsets, which over the Kafka
                // protocol is a request per source.
                idle_passes = (idle_passes + 1).min(5);
                std::thread::sleep(Duration::from_millis(idle_passes));
            } else {
                idle_passes = 0;
                self.set_idle(false);
            }
        }
        if self.abort.load(Ordering::SeqCst) {
            return Ok(());
        }
        let mut first = None;
        for t in tasks {
            if let Err(e) = t.close() {
                if is_fenced(&e) {
                    tracing::warn!("final commit refused (the group moved on; the new owner reprocesses): {e}");
                } else {
                    first.get_or_insert(e);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }
}
