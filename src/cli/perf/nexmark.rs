//! `riffle perf nexmark`: the Nexmark queries as ksqlDB SQL (see
//! [`riffle::nexmark`]) on generated events, each timed from the log to its
//! output topic.
//!
//! The generator writes `--events` events as JSON into topics `person`,
//! `auction` and `bid` (one partition per thread) of a fresh embedded log;
//! loading is not timed. Each query then runs in its own application with
//! `--threads` worker threads until every task is idle and the app has
//! closed (final commit). `events_per_s` is all generated events divided
//! by that time (the Nexmark convention: the events of the whole stream);
//! `input_records` says how many of them the query's topics hold. Peak RSS
//! is the process's high-water mark, reset before each query.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use riffle::log::{Log, LogConfig};
use riffle::nexmark::{load_with_progress, run_query, GeneratorConfig, Query};
use riffle::progress::Progress;

/// Arguments of `riffle perf nexmark`.
#[derive(Debug, Args)]
pub struct NexmarkPerfArgs {
    /// Directory for the log and the state (a fresh subdirectory is used).
    #[arg(long, default_value = "./riffle-data")]
    data_dir: PathBuf,
    /// Events to generate (2% people, 6% auctions, 92% bids).
    #[arg(long, default_value_t = 2_000_000)]
    events: u64,
    /// Worker threads (`num.stream.threads`) and partitions per topic.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Comma-separated queries: q0,q1,q2,q3,q4,q5,q7,q8 (the default: all).
    #[arg(long, default_value = "q0,q1,q2,q3,q4,q5,q7,q8")]
    queries: String,
    /// Event time between consecutive events, microseconds (100: 10,000
    /// events per second of event time, the reference rate).
    #[arg(long, default_value_t = 100)]
    inter_event_delay_us: u64,
    /// Seed of the generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Print one JSON object per query instead of the summary lines.
    #[arg(long)]
    json: bool,
}

/// A `/proc/self/status` field in KiB (Linux), if present.
fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets the peak RSS (`VmHWM`) to the current RSS (Linux; a no-op
/// elsewhere).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Runs the benchmark.
///
/// # Errors
/// Bad arguments, log or engine failures, a query that did not read all
/// of its input.
pub fn run(args: NexmarkPerfArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.threads >= 1, "--threads must be at least 1");
    anyhow::ensure!(args.events >= 50, "--events must be at least 50");
    let queries = args
        .queries
        .split(',')
        .filter(|q| !q.trim().is_empty())
        .map(|q| Query::parse(q).with_context(|| format!("unknown query {q:?}; known: q0,q1,q2,q3,q4,q5,q7,q8")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let dir = args.data_dir.join(format!("perf-nexmark-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    let log = Arc::new(Log::open(dir.join("log"), LogConfig::default())?);
    let config = GeneratorConfig {
        events: args.events,
        inter_event_delay_us: args.inter_event_delay_us,
        seed: args.seed,
        ..Default::default()
    };
    let t0 = Instant::now();
    let mut progress = if args.json { Progress::hidden() } else { Progress::new("generating events", args.events) };
    let loaded = load_with_progress(&log, &config, args.threads as i32, &mut progress)?;
    if !args.json {
        println!(
            "loaded {} events ({} people, {} auctions, {} bids; {:.1} MB of JSON) in {:.1} s",
            args.events,
            loaded.persons,
            loaded.auctions,
            loaded.bids,
            loaded.bytes as f64 / 1e6,
            t0.elapsed().as_secs_f64()
        );
    }
    for query in queries {
        reset_peak_rss();
        let state = dir.join(format!("state-{query}"));
        let stats = run_query(log.clone(), query, &config, &loaded, args.threads, &state)?;
        let peak_rss_mb = status_kb("VmHWM:").unwrap_or(0) as f64 / 1024.0;
        std::fs::remove_dir_all(&state).ok();
        let eps = args.events as f64 / stats.elapsed_s.max(1e-9);
        if args.json {
            println!(
                "{}",
                serde_json::json!({
                    "query": query.name(),
                    "events": args.events,
                    "threads": args.threads,
                    "elapsed_s": stats.elapsed_s,
                    "events_per_s": eps,
                    "events_per_s_per_thread": eps / args.threads as f64,
                    "input_records": stats.input_records,
                    "input_records_per_s": stats.input_records as f64 / stats.elapsed_s.max(1e-9),
                    "output_records": stats.output_records,
                    "late_records": stats.late_records,
                    "peak_rss_mb": peak_rss_mb,
                })
            );
        } else {
            println!(
                "{query}: {} events in {:.3} s on {} thread(s): {:.0} events/s ({} input records, {} output records, {} late, peak RSS {:.0} MiB)",
                args.events, stats.elapsed_s, args.threads, eps, stats.input_records, stats.output_records, stats.late_records, peak_rss_mb
            );
        }
    }
    log.close()?;
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
