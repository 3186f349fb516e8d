//! `riffle perf workload w1|f1`: the engine end to end, from log to output
//! topic, on pre-loaded events
//! `{"user_id":"u<0..100000>","action":<one of 5>,"amount":<float>,"ts":<ms>}`
//! (ts about 1 ms apart, up to 2 s out of order), keyed by `user_id`, in a
//! topic with one partition per thread. Loading is not timed.
//!
//! - **W1**: per user, 1-minute tumbling windows (grace 2 s, which covers
//!   the disorder), `COUNT(*)` and `SUM(amount)`, emit final.
//! - **F1**: `action = 'purchase'`, project `user_id, amount, ts`.
//!
//! The clock runs from `StreamsApp::start` until every task has read all
//! of its input and the app has closed (a final commit: stores flushed to
//! RocksDB and the changelog, output appended, offsets committed).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use arrow::datatypes::{DataType, Field, Schema};
use bytes::Bytes;
use clap::{Args, ValueEnum};
use rand::{Rng, SeedableRng};
use riffle::engine::format::{JsonFormat, KafkaFormat};
use riffle::engine::plan::{AggFunc, Expr, TimestampSpec, WindowSpec};
use riffle::engine::{PlanBuilder, StreamsApp, StreamsConfig};
use riffle::log::{Log, LogClient, LogConfig, Record, TopicConfig};

/// Which pipeline.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Workload {
    /// Windowed count + sum per user, emit final.
    W1,
    /// Filter + project.
    F1,
}

/// Arguments of `riffle perf workload`.
#[derive(Debug, Args)]
pub struct WorkloadPerfArgs {
    /// w1 or f1.
    #[arg(value_enum)]
    workload: Workload,
    /// Directory for the log and the state (a fresh subdirectory is used).
    #[arg(long, default_value = "./riffle-data")]
    data_dir: PathBuf,
    /// Events to pre-load.
    #[arg(long, default_value_t = 5_000_000)]
    events: u64,
    /// Worker threads (`num.stream.threads`) and input partitions.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Print one JSON object as the last line.
    #[arg(long)]
    json: bool,
    /// Build the pipeline from ksqlDB SQL (`riffle-sql`) instead of the
    /// plan builder (W1 and F1 both).
    #[arg(long)]
    sql: bool,
}

/// The W1 and F1 pipelines as ksqlDB statements over the same topic.
const SQL_SOURCE: &str = "CREATE STREAM events (k STRING KEY, user_id STRING, action STRING, amount DOUBLE, ts BIGINT) \
     WITH (kafka_topic='events', value_format='JSON', timestamp='ts');";
const SQL_W1: &str = "CREATE TABLE w1 WITH (kafka_topic='w1-out', key_format='KAFKA') AS \
     SELECT k, COUNT(*) AS events, SUM(amount) AS amount FROM events \
     WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 2 SECONDS) GROUP BY k EMIT FINAL;";
const SQL_F1: &str = "CREATE STREAM f1 WITH (kafka_topic='f1-out') AS \
     SELECT k, user_id, amount, ts FROM events WHERE action = 'purchase';";

fn sql_plan(workload: Workload) -> anyhow::Result<Arc<riffle::engine::plan::LogicalPlan>> {
    let mut session = riffle_sql::Session::new(Default::default())?;
    let query = match workload {
        Workload::W1 => SQL_W1,
        Workload::F1 => SQL_F1,
    };
    let mut plans = session.compile(&format!("{SQL_SOURCE}\n{query}"))?;
    anyhow::ensure!(plans.len() == 1, "expected one persistent query, got {}", plans.len());
    Ok(plans.remove(0).1)
}

const ACTIONS: [&str; 5] = ["view", "click", "add_to_cart", "purchase", "share"];
const USERS: u64 = 100_000;

fn load(log: &Log, topic: &str, events: u64, partitions: i32) -> anyhow::Result<u64> {
    log.create_topic(topic, TopicConfig::with_partitions(partitions))?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let base: i64 = 1_700_000_000_000;
    let mut pending: Vec<Vec<Record>> = vec![Vec::new(); partitions as usize];
    let mut bytes = 0u64;
    for i in 0..events {
        let user = format!("u{}", rng.gen_range(0..USERS));
        let action = ACTIONS[rng.gen_range(0..ACTIONS.len())];
        let amount: f64 = (rng.gen_range(0..100_000) as f64) / 100.0;
        let ts = base + i as i64 - rng.gen_range(0..2000);
        let value = format!(r#"{{"user_id":"{user}","action":"{action}","amount":{amount},"ts":{ts}}}"#);
        bytes += value.len() as u64;
        let p = riffle::log::partitioner::partition_for_key(user.as_bytes(), partitions);
        pending[p as usize].push(Record {
            key: Some(Bytes::from(user)),
            value: Some(Bytes::from(value)),
            timestamp: Some(ts),
            headers: Vec::new(),
        });
        if pending[p as usize].len() == 2000 {
            log.append(topic, p, &std::mem::take(&mut pending[p as usize]))?;
        }
    }
    for (p, recs) in pending.into_iter().enumerate() {
        if !recs.is_empty() {
            log.append(topic, p as i32, &recs)?;
        }
    }
    Ok(bytes)
}

/// Runs the workload.
///
/// # Errors
/// Bad arguments, log or engine failures, an output that is not what the
/// pipeline must produce.
pub fn run(args: WorkloadPerfArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.threads >= 1, "--threads must be at least 1");
    let dir = args.data_dir.join(format!("perf-workload-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    let log = Arc::new(Log::open(dir.join("log"), LogConfig::default())?);
    let partitions = args.threads as i32;
    let t0 = Instant::now();
    let bytes = load(&log, "events", args.events, partitions)?;
    let load_s = t0.elapsed().as_secs_f64();

    let key = [Field::new("k", DataType::Utf8, true)];
    let value = Schema::new(vec![
        Field::new("user_id", DataType::Utf8, true),
        Field::new("action", DataType::Utf8, true),
        Field::new("amount", DataType::Float64, true),
        Field::new("ts", DataType::Int64, true),
    ]);
    let source = PlanBuilder::stream(
        "events",
        Arc::new(KafkaFormat),
        Arc::new(JsonFormat),
        &key,
        value,
        TimestampSpec::Column("ts".into()),
    )?;
    let (name, plan) = match args.workload {
        w if args.sql => (if matches!(w, Workload::W1) { "w1" } else { "f1" }, sql_plan(w)?),
        Workload::W1 => (
            "w1",
            source
                // Input is keyed (and partitioned) by user: groupByKey, no repartition.
                .group_by(vec![(Expr::col("k"), "k".into())])?
                .aggregate(
                    Some(WindowSpec::tumbling(60_000, 2_000)),
                    vec![
                        (AggFunc::CountStar, vec![], "events".into()),
                        (AggFunc::Sum, vec![Expr::col("amount")], "amount".into()),
                    ],
                )?
                .suppress()?
                .to_stream()?
                .sink("w1-out", Arc::new(KafkaFormat), Arc::new(JsonFormat))?
                .build(),
        ),
        Workload::F1 => (
            "f1",
            source
                .filter(Expr::col("action").eq(Expr::lit("purchase")))?
                .project(vec![
                    (Expr::col("user_id"), "user_id".into()),
                    (Expr::col("amount"), "amount".into()),
                    (Expr::col("ts"), "ts".into()),
                ])?
                .sink("f1-out", Arc::new(KafkaFormat), Arc::new(JsonFormat))?
                .build(),
        ),
    };
    let mut config = StreamsConfig::new(format!("perf-{name}"), dir.join("state"));
    config.num_stream_threads = args.threads;
    let mut app = StreamsApp::new(&[plan], log.clone(), config)?;
    let start = Instant::now();
    app.start()?;
    app.wait_until_idle(Duration::from_secs(3600))?;
    let metrics = app.metrics();
    app.close()?;
    let elapsed = start.elapsed().as_secs_f64();
    let out_topic = format!("{name}-out");
    let mut output = 0u64;
    for p in 0..log.partition_count(&out_topic)? {
        let (start_off, hw) = log.offsets(&out_topic, p)?;
        output += (hw - start_off) as u64;
    }
    anyhow::ensure!(metrics.records_in == args.events, "read {} of {} events", metrics.records_in, args.events);
    anyhow::ensure!(metrics.decode_errors == 0 && metrics.late_records == 0, "unexpected drops: {metrics:?}");
    let eps = args.events as f64 / elapsed;
    log.close()?;
    std::fs::remove_dir_all(&dir).ok();
    if !args.json {
        println!(
            "{name}: {} events ({:.1} MB) in {:.3} s on {} thread(s): {:.0} events/s; {} output records (load took {:.1} s)",
            args.events,
            bytes as f64 / 1e6,
            elapsed,
            args.threads,
            eps,
            output,
            load_s
        );
    }
    println!(
        "{}",
        serde_json::json!({
            "workload": name,
            "sql": args.sql,
            "events": args.events,
            "threads": args.threads,
            "elapsed_s": elapsed,
            "events_per_s": eps,
            "output_records": output,
            "input_mb": bytes as f64 / 1e6,
        })
    );
    Ok(())
}
