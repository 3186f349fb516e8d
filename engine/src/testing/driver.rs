//! [`TestDriver`]: runs a topology synchronously and deterministically.
//!
//! Input records are appended to a real embedded log (in a temporary
//! directory); after every `pipe` the driver runs every task of every
//! sub-topology, in order, until nothing is left to read (repartition
//! topics included), then commits, exactly as Kafka's
//! `TopologyTestDriver` commits after each record. Stores are in memory.
//! The cache is off by default, so every input record produces its update
//! (ksqlDB's test semantics); `with_cache` turns it on.
//!
//! What it does **not** simulate: several application instances and
//! rebalances, worker threads (everything runs on the caller's thread),
//! crashes between a store flush and an offset commit, wall-clock-driven
//! commits (it commits after every pipe), and network or broker failures.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use riffle_log::client::LogClient;
use riffle_log::record::Record;
use riffle_log::{Log, LogConfig, TopicConfig};
use riffle_state::BackendKind;

use crate::error::{EngineError, Result};
use crate::physical::Topology;
use crate::plan::LogicalPlan;
use crate::runtime::{prepare_topics, MetricsSnapshot, StreamTask, StreamsConfig};

/// A record read from an output topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRecord {
    /// Partition it was written to.
    pub partition: i32,
    /// Key bytes.
    pub key: Option<Bytes>,
    /// Value bytes (`None`: tombstone).
    pub value: Option<Bytes>,
    /// Record timestamp.
    pub timestamp: i64,
    /// Record headers (those of the input record the row came from, for
    /// stateless pipelines).
    pub headers: Vec<riffle_log::record::Header>,
}

impl OutputRecord {
    /// The key as UTF-8 (lossy), for assertions.
    pub fn key_str(&self) -> Option<String> {
        self.key.as_ref().map(|k| String::from_utf8_lossy(k).into_owned())
    }

    /// The value parsed as JSON.
    pub fn value_json(&self) -> Option<serde_json::Value> {
        self.value.as_ref().and_then(|v| serde_json::from_slice(v).ok())
    }
}

/// Synchronous, deterministic test harness. See the module docs.
///
/// ```
/// use std::sync::Arc;
/// use arrow::datatypes::{DataType, Field, Schema};
/// use riffle_engine::{PlanBuilder, TestDriver, plan::{AggFunc, Expr, TimestampSpec, WindowSpec}, format::{JsonFormat, KafkaFormat}};
///
/// let value = Schema::new(vec![Field::new("page", DataType::Utf8, true)]);
/// let plan = PlanBuilder::stream("views", Arc::new(KafkaFormat), Arc::new(JsonFormat), &[], value, TimestampSpec::Record)?
///     .group_by(vec![(Expr::col("page"), "page".into())])?
///     .aggregate(Some(WindowSpec::tumbling(1000, 0)), vec![(AggFunc::CountStar, vec![], "n".into())])?
///     .to_stream()?
///     .sink("counts", Arc::new(KafkaFormat), Arc::new(JsonFormat))?
///     .build();
/// let mut driver = TestDriver::new("doc", &[plan])?;
/// driver.pipe("views", None, Some(br#"{"page":"a"}"#), 10)?;
/// driver.pipe("views", None, Some(br#"{"page":"a"}"#), 20)?;
/// let out = driver.read_output("counts")?;
/// assert_eq!(out.len(), 2);
/// assert_eq!(out[1].value_json().unwrap()["n"], 2);
/// # Ok::<(), riffle_engine::EngineError>(())
/// ```
pub struct TestDriver {
    _dir: tempfile::TempDir,
    log: Arc<Log>,
    topology: Arc<Topology>,
    config: StreamsConfig,
    tasks: Vec<StreamTask>,
    read_positions: BTreeMap<(String, i32), i64>,
    wall_clock_ms: i64,
    input_partitions: i32,
}

impl std::fmt::Debug for TestDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDriver").field("application_id", &self.config.application_id).finish()
    }
}

impl TestDriver {
    /// A driver for `plans`; source topics are created with one partition.
    ///
    /// # Errors
    /// Plans that do not lower; I/O on the temporary directory.
    pub fn new(application_id: &str, plans: &[Arc<LogicalPlan>]) -> Result<Self> {
        Self::with_config(application_id, plans, 1, false)
    }

    /// A driver with `partitions` per source topic and the cache on or off.
    ///
    /// # Errors
    /// As [`TestDriver::new`].
    pub fn with_config(application_id: &str, plans: &[Arc<LogicalPlan>], partitions: i32, cache: bool) -> Result<Self> {
        let io = |e: std::io::Error| EngineError::Internal(format!("test driver temp dir: {e}"));
        let dir = tempfile::tempdir().map_err(io)?;
        let log = Arc::new(Log::open(dir.path().join("log"), LogConfig::default()).map_err(|e| EngineError::log("test driver log", e))?);
        let mut config = StreamsConfig::new(application_id, dir.path().join("state"));
        config.backend = BackendKind::Memory;
        config.cache_max_bytes = if cache { 1 << 20 } else { 0 };
        let topology = Arc::new(Topology::lower(application_id, plans)?);
        for t in topology.source_topics() {
            LogClient::ensure_topic(&*log, &t, &TopicConfig::with_partitions(partitions)).map_err(|e| EngineError::log(&t, e))?;
        }
        Ok(TestDriver {
            _dir: dir,
            log,
            topology,
            config,
            tasks: Vec::new(),
            read_positions: BTreeMap::new(),
            wall_clock_ms: 0,
            input_partitions: partitions,
        })
    }

    fn ensure_tasks(&mut self) -> Result<()> {
        if !self.tasks.is_empty() {
            return Ok(());
        }
        let log: Arc<dyn LogClient> = self.log.clone();
        for id in prepare_topics(&self.topology, &*log)? {
            self.tasks.push(StreamTask::new(&self.topology, id, &self.config, log.clone())?);
        }
        Ok(())
    }

    /// The embedded log (to create extra topics or read anything).
    pub fn log(&self) -> &Arc<Log> {
        &self.log
    }

    /// Appends one record to `topic` (partition by key hash, or 0 without a
    /// key) and processes everything it leads to.
    ///
    /// # Errors
    /// Unknown topic; task failures.
    pub fn pipe(&mut self, topic: &str, key: Option<&[u8]>, value: Option<&[u8]>, timestamp: i64) -> Result<()> {
        let partition = match key {
            Some(k) => riffle_log::partitioner::partition_for_key(k, self.input_partitions),
            None => 0,
        };
        let rec = Record {
            key: key.map(Bytes::copy_from_slice),
            value: value.map(Bytes::copy_from_slice),
            timestamp: Some(timestamp),
            headers: Vec::new(),
        };
        self.log.append(topic, partition, &[rec]).map_err(|e| EngineError::log(topic, e))?;
        self.run()
    }

    /// Appends many records at once (one log batch per partition), then
    /// processes: operators see them as one Arrow batch.
    ///
    /// # Errors
    /// As [`TestDriver::pipe`].
    pub fn pipe_batch(&mut self, topic: &str, records: &[(Option<&[u8]>, Option<&[u8]>, i64)]) -> Result<()> {
        let mut per: BTreeMap<i32, Vec<Record>> = BTreeMap::new();
        for (k, v, ts) in records {
            let p = k.map_or(0, |k| riffle_log::partitioner::partition_for_key(k, self.input_partitions));
            per.entry(p).or_default().push(Record {
                key: k.map(Bytes::copy_from_slice),
                value: v.map(Bytes::copy_from_slice),
                timestamp: Some(*ts),
                headers: Vec::new(),
            });
        }
        for (p, recs) in per {
            self.log.append(topic, p, &recs).map_err(|e| EngineError::log(topic, e))?;
        }
        self.run()
    }

    /// Runs every task until no input is left, then commits all of them.
    ///
    /// # Errors
    /// Task failures.
    pub fn run(&mut self) -> Result<()> {
        self.ensure_tasks()?;
        loop {
            let mut read = 0;
            for t in &mut self.tasks {
                read += t.poll()?;
            }
            if read == 0 {
                break;
            }
        }
        for t in &mut self.tasks {
            t.commit()?;
        }
        Ok(())
    }

    /// Moves the mocked wall clock forward and runs wall-clock punctuations.
    ///
    /// # Errors
    /// Task failures.
    pub fn advance_wall_clock(&mut self, by: Duration) -> Result<()> {
        self.ensure_tasks()?;
        self.wall_clock_ms += by.as_millis() as i64;
        for t in &mut self.tasks {
            t.wall_clock(self.wall_clock_ms)?;
        }
        self.run()
    }

    /// Records written to `topic` since the last call, in partition then
    /// offset order.
    ///
    /// # Errors
    /// Unknown topic.
    pub fn read_output(&mut self, topic: &str) -> Result<Vec<OutputRecord>> {
        let n = self.log.partition_count(topic).map_err(|e| EngineError::log(topic, e))?;
        let mut out = Vec::new();
        for p in 0..n {
            let pos = self.read_positions.entry((topic.to_string(), p)).or_insert(0);
            loop {
                let f = self.log.read(topic, p, *pos, 1 << 20).map_err(|e| EngineError::log(topic, e))?;
                if f.records.is_empty() {
                    break;
                }
                for r in f.records {
                    out.push(OutputRecord { partition: p, key: r.key, value: r.value, timestamp: r.timestamp, headers: r.headers });
                }
                *pos = f.next_offset;
            }
        }
        Ok(out)
    }

    /// Sum of all tasks' counters (decode errors, late records, …).
    pub fn metrics(&self) -> MetricsSnapshot {
        self.tasks.iter().fold(MetricsSnapshot::default(), |acc, t| acc + t.metrics().snapshot())
    }

    /// The lowered topology.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }
}
