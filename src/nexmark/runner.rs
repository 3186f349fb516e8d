//! Loading generated events into an embedded log, and running one query
//! on a threaded [`StreamsApp`] from the log to its output topic.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use riffle_engine::{StreamsApp, StreamsConfig};
use riffle_log::client::LogClient;
use riffle_log::{Log, Record, TopicConfig};

use super::generator::{Generator, GeneratorConfig};
use super::queries::Query;

/// What went wrong loading or running a query.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NexmarkError {
    /// The query's SQL did not compile (a bug in the query text or the
    /// SQL layer).
    #[error("query {query}: {source}")]
    Sql {
        /// The query.
        query: Query,
        /// The SQL layer's error.
        source: riffle_sql::SqlError,
    },
    /// The engine failed to start or run the query.
    #[error("query {query}: {source}")]
    Engine {
        /// The query.
        query: Query,
        /// The engine's error.
        source: riffle_engine::EngineError,
    },
    /// Creating, appending to or reading a topic failed.
    #[error("topic {topic}: {source}")]
    Log {
        /// The topic.
        topic: String,
        /// The log's error.
        source: riffle_log::LogError,
    },
    /// The run finished but did not read every input record, or dropped
    /// some (undecodable or late): the figure would be wrong.
    #[error("query {query}: {reason}")]
    Incomplete {
        /// The query.
        query: Query,
        /// What was missing.
        reason: String,
    },
}

/// Records written by [`load`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Person records.
    pub persons: u64,
    /// Auction records.
    pub auctions: u64,
    /// Bid records.
    pub bids: u64,
    /// JSON value bytes, all topics.
    pub bytes: u64,
}

impl LoadStats {
    /// Records in `topic` (`person`, `auction` or `bid`).
    pub fn records_in(&self, topic: &str) -> u64 {
        match topic {
            "person" => self.persons,
            "auction" => self.auctions,
            "bid" => self.bids,
            _ => 0,
        }
    }
}

/// Generates `config.events` events into topics `person`, `auction` and
/// `bid` of `log`, each with `partitions` partitions (created here),
/// partitioned by key as Kafka's default partitioner does.
///
/// # Errors
/// The topics exist already; append failures.
pub fn load(log: &Log, config: &GeneratorConfig, partitions: i32) -> Result<LoadStats, NexmarkError> {
    load_with_progress(log, config, partitions, &mut crate::progress::Progress::hidden())
}

/// [`load`], reporting progress (events generated) to `progress`.
///
/// # Errors
/// As [`load`].
pub fn load_with_progress(
    log: &Log,
    config: &GeneratorConfig,
    partitions: i32,
    progress: &mut crate::progress::Progress,
) -> Result<LoadStats, NexmarkError> {
    const TOPICS: [&str; 3] = ["person", "auction", "bid"];
    // Appends stay well under the log's 1 MiB batch limit.
    const BATCH_BYTES: usize = 256 << 10;
    for t in TOPICS {
        log.create_topic(t, TopicConfig::with_partitions(partitions))
            .map_err(|source| NexmarkError::Log { topic: t.into(), source })?;
    }
    let parts = partitions.max(1) as usize;
    let mut pending: Vec<Vec<Record>> = vec![Vec::new(); TOPICS.len() * parts];
    let mut pending_bytes = vec![0usize; TOPICS.len() * parts];
    let mut stats = LoadStats::default();
    let mut json = String::with_capacity(1024);
    let flush = |slot: usize, records: &mut Vec<Record>| -> Result<(), NexmarkError> {
        let topic = TOPICS[slot / parts];
        log.append(topic, (slot % parts) as i32, &std::mem::take(records))
            .map_err(|source| NexmarkError::Log { topic: topic.into(), source })
            .map(|_| ())
    };
    for event in Generator::new(config.clone()) {
        let t = match event.topic() {
            "person" => {
                stats.persons += 1;
                0
            }
            "auction" => {
                stats.auctions += 1;
                1
            }
            _ => {
                stats.bids += 1;
                2
            }
        };
        json.clear();
        event.write_json(&mut json);
        stats.bytes += json.len() as u64;
        let key = event.key();
        let p = riffle_log::partition_for_key(&key, partitions) as usize;
        let slot = t * parts + p;
        pending[slot].push(Record {
            key: Some(Bytes::copy_from_slice(&key)),
            value: Some(Bytes::copy_from_slice(json.as_bytes())),
            timestamp: Some(event.date_time()),
            headers: Vec::new(),
        });
        pending_bytes[slot] += json.len() + 40;
        if pending_bytes[slot] >= BATCH_BYTES {
            flush(slot, &mut pending[slot])?;
            pending_bytes[slot] = 0;
        }
        let generated = stats.persons + stats.auctions + stats.bids;
        if generated % 10_000 == 0 {
            progress.advance(10_000);
        }
    }
    progress.finish();
    for (slot, records) in pending.iter_mut().enumerate() {
        if !records.is_empty() {
            flush(slot, records)?;
        }
    }
    Ok(stats)
}

/// One query's run, as [`run_query`] measured it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunStats {
    /// The query.
    pub query: Query,
    /// Worker threads.
    pub threads: usize,
    /// Seconds from start until every task was idle and the app closed.
    pub elapsed_s: f64,
    /// Records of the query's source topics (what it had to read).
    pub input_records: u64,
    /// Records in the output topic.
    pub output_records: u64,
    /// Records windowed operators dropped as too late (behind their
    /// window's grace period).
    pub late_records: u64,
}

/// Compiles `query` (see [`Query::sql`]) and runs it with `threads`
/// worker threads over the topics [`load`] wrote, from the first record
/// until every task is idle and the app has closed (final commit). State
/// lives under `state_dir`. The output is left in the log.
///
/// # Errors
/// SQL or engine failures; a run that did not read all of its input or
/// dropped records.
pub fn run_query(
    log: Arc<Log>,
    query: Query,
    config: &GeneratorConfig,
    loaded: &LoadStats,
    threads: usize,
    state_dir: &Path,
) -> Result<RunStats, NexmarkError> {
    let mut session = riffle_sql::Session::new(Default::default()).map_err(|source| NexmarkError::Sql { query, source })?;
    let plans: Vec<_> = session
        .compile(&query.sql(config))
        .map_err(|source| NexmarkError::Sql { query, source })?
        .into_iter()
        .map(|(_, plan)| plan)
        .collect();
    // Topics the chained statements write and read (`CREATE … AS SELECT`
    // outputs): created up front, one partition per thread, as ksqlDB
    // creates a query's sink topic when the query starts.
    for source in session.catalog().sources.values() {
        if log.partition_count(&source.topic).is_err() {
            log.create_topic(&source.topic, TopicConfig::with_partitions(threads.max(1) as i32))
                .map_err(|e| NexmarkError::Log { topic: source.topic.clone(), source: e })?;
        }
    }
    let mut streams = StreamsConfig::new(format!("nexmark-{}", query.name()), state_dir);
    streams.num_stream_threads = threads.max(1);
    let client: Arc<dyn LogClient> = log.clone();
    let engine = |source| NexmarkError::Engine { query, source };
    let mut app = StreamsApp::new(&plans, client, streams).map_err(engine)?;
    let start = Instant::now();
    app.start().map_err(engine)?;
    app.wait_until_idle(Duration::from_secs(3600)).map_err(engine)?;
    let metrics = app.metrics();
    app.close().map_err(engine)?;
    let elapsed_s = start.elapsed().as_secs_f64();
    let input_records: u64 = query.inputs().iter().map(|t| loaded.records_in(t)).sum();
    if metrics.records_in < input_records {
        return Err(NexmarkError::Incomplete {
            query,
            reason: format!("read {} records, the inputs hold {input_records}", metrics.records_in),
        });
    }
    if metrics.decode_errors != 0 {
        return Err(NexmarkError::Incomplete { query, reason: format!("{} records did not decode", metrics.decode_errors) });
    }
    let topic = query.output_topic();
    let mut output_records = 0;
    let lerr = |source| NexmarkError::Log { topic: topic.into(), source };
    for p in 0..log.partition_count(topic).map_err(lerr)? {
        let (start_off, hw) = log.offsets(topic, p).map_err(lerr)?;
        output_records += (hw - start_off).max(0) as u64;
    }
    Ok(RunStats { query, threads: threads.max(1), elapsed_s, input_records, output_records, late_records: metrics.late_records })
}
