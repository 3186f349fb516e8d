//! `riffle perf consume`: one consumer reads a whole topic (assigned
//! partitions, from the earliest offset); reports records/s, MB/s and the
//! latency of each `poll`.

use std::time::{Duration, Instant};

use clap::Args;
use riffle_log::{Consumer, ConsumerConfig, Log, LogConfig, OffsetReset, ProducerConfig, TopicPartition};

use super::latency::{Latencies, Percentiles};
use super::mb_per_s;
use super::produce::produce_records;
use crate::cli::{with_log, DataDirArg, DirMode};

/// Arguments of `riffle perf consume`.
#[derive(Debug, Args)]
pub struct ConsumePerfArgs {
    #[command(flatten)]
    dir: DataDirArg,
    /// Topic to read (e.g. one written by `riffle perf produce`). With
    /// --records, the topic to create and preload (default `perf-<random>`).
    #[arg(long)]
    topic: Option<String>,
    /// Preload this many records first (untimed) into a new topic.
    #[arg(long)]
    records: Option<u64>,
    /// Value size of preloaded records.
    #[arg(long, default_value_t = 1024)]
    record_size: usize,
    /// Partitions of a preloaded topic.
    #[arg(long, default_value_t = 1)]
    partitions: i32,
    /// max.partition.fetch.bytes.
    #[arg(long, default_value_t = 4 << 20)]
    fetch_bytes: usize,
    /// max.poll.records.
    #[arg(long, default_value_t = 50_000)]
    max_poll_records: usize,
    /// Print one JSON object as the last line instead of the text summary.
    #[arg(long)]
    json: bool,
}

struct ConsumeStats {
    topic: String,
    records: u64,
    bytes: u64,
    elapsed: Duration,
    polls: usize,
    latency: Option<Percentiles>,
}

/// Runs `riffle perf consume`.
///
/// # Errors
/// Neither --topic nor --records; an unknown topic; consumer errors; a
/// topic that could not be read to its end.
pub async fn run(a: ConsumePerfArgs) -> anyhow::Result<()> {
    if a.topic.is_none() && a.records.is_none() {
        anyhow::bail!("pass --topic T to read an existing topic, or --records N to preload a new one");
    }
    let mode = if a.records.is_some() { DirMode::Create } else { DirMode::Existing };
    let dir = a.dir.data_dir.clone();
    let stats = with_log(&dir, mode, LogConfig::default(), |log| async move {
        let topic = match a.records {
            Some(n) => {
                let topic = a.topic.clone().unwrap_or_else(|| format!("perf-{:08x}", rand::random::<u32>()));
                let config = ProducerConfig { batch_size: 256 * 1024, ..ProducerConfig::default() };
                tokio::task::block_in_place(|| {
                    produce_records(&log, &topic, a.partitions, n, a.record_size, false, config, false)
                })?;
                topic
            }
            None => a.topic.clone().unwrap_or_default(),
        };
        let stats = consume_all(&log, &topic, &a).await?;
        Ok((stats, a))
    })
    .await?;
    report(&stats.1, &stats.0);
    Ok(())
}

async fn consume_all(log: &Log, topic: &str, a: &ConsumePerfArgs) -> anyhow::Result<ConsumeStats> {
    let (t, parts) = log.describe_topic(topic)?;
    let total: i64 = parts.iter().map(|p| p.high_watermark - p.log_start_offset).sum();
    if total == 0 {
        anyhow::bail!(
            "topic {topic:?} is empty; fill it with `riffle perf produce --topic {topic}` or pass --records N"
        );
    }
    let config = ConsumerConfig {
        auto_offset_reset: OffsetReset::Earliest,
        enable_auto_commit: false,
        max_poll_records: a.max_poll_records,
        max_partition_fetch_bytes: a.fetch_bytes,
        ..ConsumerConfig::default()
    };
    let mut consumer = Consumer::new(log, config);
    consumer.assign((0..t.partitions().len() as i32).map(|p| TopicPartition::new(topic, p)).collect())?;
    let mut lat = Latencies::with_capacity(1024);
    let (mut records, mut bytes) = (0u64, 0u64);
    let started = Instant::now();
    let mut last_progress = Instant::now();
    while records < total as u64 {
        let t0 = Instant::now();
        let batch = consumer.poll(Duration::from_secs(1)).await?;
        lat.record(t0.elapsed());
        if batch.is_empty() {
            if last_progress.elapsed() > Duration::from_secs(10) {
                anyhow::bail!(
                    "read {records} of {total} records, then nothing for 10 s; is the topic being truncated?"
                );
            }
            continue;
        }
        last_progress = Instant::now();
        records += batch.len() as u64;
        bytes += batch
            .iter()
            .map(|r| (r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len())) as u64)
            .sum::<u64>();
    }
    let elapsed = started.elapsed();
    let polls = lat.len();
    consumer.close()?;
    Ok(ConsumeStats { topic: topic.to_string(), records, bytes, elapsed, polls, latency: lat.percentiles() })
}

fn report(a: &ConsumePerfArgs, s: &ConsumeStats) {
    let secs = s.elapsed.as_secs_f64();
    let rps = s.records as f64 / secs;
    let mbps = mb_per_s(s.bytes, secs);
    if a.json {
        let l = s.latency;
        let v = serde_json::json!({
            "command": "consume",
            "topic": s.topic,
            "records": s.records,
            "bytes": s.bytes,
            "seconds": secs,
            "records_per_s": rps,
            "mb_per_s": mbps,
            "polls": s.polls,
            "p50_ms": l.map(|l| l.p50),
            "p99_ms": l.map(|l| l.p99),
            "max_ms": l.map(|l| l.max),
        });
        println!("{v}");
        return;
    }
    println!("{} records ({} bytes of payload) read from topic {} in {secs:.2} s.", s.records, s.bytes, s.topic);
    println!("{rps:.0} records/s, {mbps:.1} MB/s.");
    if let Some(l) = s.latency {
        println!("poll latency ({} polls): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms.", s.polls, l.p50, l.p99, l.max);
    }
}
