//! [`StreamsApp`]: runs a topology's tasks on `num.stream.threads` worker
//! threads, commits every `commit.interval.ms`, and stops cleanly (a final
//! commit, stores closed).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use riffle_log::client::LogClient;
use riffle_log::TopicConfig;

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
    workers: Vec<JoinHandle<Result<()>>>,
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
            workers: Vec::new(),
            status: Arc::new(Mutex::new(Vec::new())),
            metrics: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// The lowered topology (what `EXPLAIN` shows below the plan).
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Checks source topics exist, creates internal topics, and starts the
    /// worker threads with the tasks spread over them.
    ///
    /// # Errors
    /// Missing source topics (create them first), log failures.
    pub fn start(&mut self) -> Result<()> {
        let tasks = prepare_topics(&self.topology, &*self.log)?;
        let threads = self.config.num_stream_threads.min(tasks.len().max(1));
        let mut per_thread: Vec<Vec<TaskId>> = vec![Vec::new(); threads];
        for (i, t) in tasks.into_iter().enumerate() {
            per_thread[i % threads].push(t);
        }
        *self.status.lock() = (0..threads).map(|_| ThreadStatus::default()).collect();
        for (n, ids) in per_thread.into_iter().enumerate() {
            let topology = self.topology.clone();
            let config = self.config.clone();
            let log = self.log.clone();
            let stop = self.stop.clone();
            let abort = self.abort.clone();
            let status = self.status.clone();
            let metrics = self.metrics.clone();
            let name = format!("{}-StreamThread-{}", self.config.application_id, n + 1);
            let handle = std::thread::Builder::new()
                .name(name)
                .spawn(move || {
                    let r = run_thread(n, &topology, &config, log, &ids, (&stop, &abort), &status, &metrics);
                    if let Err(e) = &r {
                        tracing::error!(thread = n, "stream thread failed: {e}");
                        status.lock()[n].error = Some(e.to_string());
                    }
                    r
                })
                .map_err(|e| EngineError::NotRunning { app: self.config.application_id.clone(), reason: e.to_string() })?;
            self.workers.push(handle);
        }
        Ok(())
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

    /// Stops the threads **without** a final commit, as a crash would:
    /// tasks are dropped mid-flight, no offsets or checkpoints are written.
    /// A new app with the same id resumes from the last commit and
    /// reprocesses what came after it (at-least-once). For crash tests.
    pub fn kill(mut self) {
        self.abort.store(true, Ordering::SeqCst);
        self.stop.store(true, Ordering::SeqCst);
        for h in self.workers.drain(..) {
            let _ = h.join();
        }
    }

    /// Stops the threads after a final commit of every task.
    ///
    /// # Errors
    /// The first error a worker thread hit.
    pub fn close(mut self) -> Result<()> {
        self.stop.store(true, Ordering::SeqCst);
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
        first.map_or(Ok(()), Err)
    }
}

impl Drop for StreamsApp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for h in self.workers.drain(..) {
            let _ = h.join();
        }
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

#[allow(clippy::too_many_arguments)]
fn run_thread(
    n: usize,
    topology: &Topology,
    config: &StreamsConfig,
    log: Arc<dyn LogClient>,
    ids: &[TaskId],
    (stop, abort): (&AtomicBool, &AtomicBool),
    status: &Mutex<Vec<ThreadStatus>>,
    metrics: &Mutex<Vec<Arc<TaskMetrics>>>,
) -> Result<()> {
    let mut tasks = Vec::with_capacity(ids.len());
    for &id in ids {
        let t = StreamTask::new(topology, id, config, log.clone())?;
        metrics.lock().push(t.metrics().clone());
        tasks.push(t);
    }
    status.lock()[n].started = true;
    let mut last_commit = Instant::now();
    let mut last_tick = Instant::now();
    // Records processed since the last commit: an idle thread commits them
    // before it reports idle, so that what operator caches hold reaches
    // the output (and downstream queries) without waiting for the next
    // commit interval.
    let mut uncommitted = false;
    while !stop.load(Ordering::SeqCst) {
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
        if last_commit.elapsed() >= config.commit_interval || (read == 0 && uncommitted) {
            for t in &mut tasks {
                t.commit()?;
            }
            last_commit = Instant::now();
            if read == 0 && uncommitted {
                // The commit may have flushed cached rows into topics
                // this thread reads: look again before reporting idle.
                uncommitted = false;
                status.lock()[n].idle = false;
                continue;
            }
            uncommitted = false;
        }
        if read == 0 {
            let mut lag = 0;
            for t in &tasks {
                lag += t.lag()?;
            }
            status.lock()[n].idle = lag == 0;
            std::thread::sleep(Duration::from_millis(1));
        } else {
            status.lock()[n].idle = false;
        }
    }
    if abort.load(Ordering::SeqCst) {
        return Ok(());
    }
    let mut first = None;
    for t in tasks {
        if let Err(e) = t.close() {
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}
