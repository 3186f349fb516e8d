//! `riffle perf produce`: one in-process producer sends N records of S
//! bytes as fast as it can; reports records/s, MB/s and the send→ack
//! latency distribution, next to the disk's direct-IO write rate.
//!
//! Payloads are slices of one pre-generated random buffer, so generating
//! them costs nothing in the timed loop. Latency is sampled on up to
//! 200,000 records (every k-th), whose futures wait in a bounded queue.
//! Dirty pages of earlier runs are written back (`sync`) before the clock
//! starts, so they do not throttle this run.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use clap::Args;
use rand::Rng;
use riffle_log::{
    Compression, DeliveryFuture, Durability, Log, LogConfig, Producer, ProducerConfig, Record, TopicConfig,
};

use super::latency::{Latencies, Percentiles};
use super::{disk, mb_per_s};
use crate::cli::produce::parse_compression;
use crate::cli::{with_log, DataDirArg, DirMode};

/// Arguments of `riffle perf produce`.
#[derive(Debug, Args)]
pub struct ProducePerfArgs {
    #[command(flatten)]
    dir: DataDirArg,
    /// Topic to create (default: `perf-<random>`). It must not exist.
    #[arg(long)]
    topic: Option<String>,
    /// Records to send.
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    record_size: usize,
    /// Partitions of the new topic.
    #[arg(long, default_value_t = 1)]
    partitions: i32,
    /// none (page cache), interval[:ms] (background fsync) or fsync (each append).
    #[arg(long, default_value = "none", value_parser = parse_durability)]
    durability: Durability,
    /// Producer batch.size in bytes.
    #[arg(long, default_value_t = 256 * 1024)]
    batch_size: usize,
    /// Producer linger in milliseconds.
    #[arg(long, default_value_t = 5)]
    linger_ms: u64,
    /// Batch compression.
    #[arg(long, default_value = "none", value_parser = parse_compression)]
    compression: Compression,
    /// Give records 8-byte keys (partitioned by murmur2) instead of null
    /// keys (sticky partitioner).
    #[arg(long)]
    keys: bool,
    /// Measure the disk's direct-IO write rate with dd (default: on for
    /// text output, off with --json).
    #[arg(long, overrides_with = "no_dd")]
    dd: bool,
    /// Skip the dd measurement.
    #[arg(long)]
    no_dd: bool,
    /// Print one JSON object as the last line instead of the text summary.
    #[arg(long)]
    json: bool,
}

/// Parses a durability level as [`Durability::parse`] does.
pub fn parse_durability(s: &str) -> Result<Durability, String> {
    Durability::parse(s).ok_or_else(|| format!("unknown durability {s:?}; use none, interval, interval:<ms> or fsync"))
}

/// The codec's name as `--compression` takes it.
pub(super) fn compression_name(c: Compression) -> String {
    format!("{c:?}").to_lowercase()
}

/// What a produce run measured.
#[derive(Debug)]
pub(super) struct ProduceStats {
    pub(super) topic: String,
    pub(super) records: u64,
    pub(super) payload_bytes: u64,
    pub(super) stored_bytes: u64,
    pub(super) elapsed: Duration,
    pub(super) latency: Option<Percentiles>,
    pub(super) samples: usize,
}

/// Runs `riffle perf produce`.
///
/// # Errors
/// Bad arguments, an existing topic, records that were not stored.
pub async fn run(a: ProducePerfArgs) -> anyhow::Result<()> {
    if a.records == 0 || a.record_size == 0 {
        anyhow::bail!("--records and --record-size must be at least 1");
    }
    std::fs::create_dir_all(&a.dir.data_dir)
        .with_context(|| format!("cannot create the data directory {}", a.dir.data_dir.display()))?;
    let run_dd = a.dd || (!a.no_dd && !a.json);
    let dd = if run_dd {
        if !a.json {
            println!(
                "Measuring the disk's write rate: dd bs=1M count=512 oflag=direct in {} …",
                a.dir.data_dir.display()
            );
        }
        match disk::dd_write_mb_per_s(&a.dir.data_dir) {
            Ok(r) => Some(r),
            Err(e) => {
                eprintln!("warning: {e:#}");
                None
            }
        }
    } else {
        None
    };
    let config = LogConfig { durability: a.durability, ..LogConfig::default() };
    let topic = a.topic.clone().unwrap_or_else(|| format!("perf-{:08x}", rand::random::<u32>()));
    let producer_config = ProducerConfig {
        batch_size: a.batch_size,
        linger: Duration::from_millis(a.linger_ms),
        compression: a.compression,
        idempotent: true,
    };
    let stats = with_log(&a.dir.data_dir, DirMode::Create, config, |log| {
        let (topic, pc) = (topic.clone(), producer_config.clone());
        async move {
            tokio::task::block_in_place(|| {
                produce_records(&log, &topic, a.partitions, a.records, a.record_size, a.keys, pc, true)
            })
        }
    })
    .await?;
    report(&a, &stats, dd);
    Ok(())
}

fn report(a: &ProducePerfArgs, s: &ProduceStats, dd: Option<f64>) {
    let secs = s.elapsed.as_secs_f64();
    let rps = s.records as f64 / secs;
    let mbps = mb_per_s(s.payload_bytes, secs);
    let stored_mbps = mb_per_s(s.stored_bytes, secs);
    let ratio = dd.map(|d| mbps / d);
    let l = s.latency;
    if a.json {
        let v = serde_json::json!({
            "command": "produce",
            "topic": s.topic,
            "records": s.records,
            "record_size": a.record_size,
            "partitions": a.partitions,
            "durability": format!("{:?}", a.durability),
            "batch_size": a.batch_size,
            "compression": compression_name(a.compression),
            "seconds": secs,
            "records_per_s": rps,
            "mb_per_s": mbps,
            "stored_mb_per_s": stored_mbps,
            "p50_ms": l.map(|l| l.p50),
            "p99_ms": l.map(|l| l.p99),
            "p999_ms": l.map(|l| l.p999),
            "max_ms": l.map(|l| l.max),
            "avg_ms": l.map(|l| l.avg),
            "latency_samples": s.samples,
            "dd_mb_per_s": dd,
            "ratio_to_dd": ratio,
        });
        println!("{v}");
        return;
    }
    println!(
        "{} records sent to topic {} ({} partition(s), durability {:?}, batch {} B, compression {}).",
        s.records,
        s.topic,
        a.partitions,
        a.durability,
        a.batch_size,
        compression_name(a.compression)
    );
    println!("{rps:.0} records/s, {mbps:.1} MB/s payload ({stored_mbps:.1} MB/s written to the log) in {secs:.2} s.");
    if let Some(l) = l {
        println!(
            "send→ack latency ({} samples): avg {:.2} ms, p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms.",
            s.samples, l.avg, l.p50, l.p99, l.p999, l.max
        );
    }
    if let (Some(d), Some(r)) = (dd, ratio) {
        println!("disk (dd, direct I/O): {d:.1} MB/s; riffle payload rate = {:.0}% of it.", r * 100.0);
    }
    println!("Read it back: riffle perf consume --data-dir {} --topic {}", a.dir.data_dir.display(), s.topic);
}

/// At most this many send→ack samples (every k-th record), so that timing
/// the records does not slow down sending them.
const MAX_SAMPLES: u64 = 200_000;

/// A random buffer whose windows serve as payloads.
struct PayloadPool {
    buf: Bytes,
    size: usize,
}

/// Distinct payload start positions.
const POOL_SHIFTS: usize = 1021;

impl PayloadPool {
    fn new(size: usize) -> Self {
        let mut rng = rand::thread_rng();
        let buf: Vec<u8> = (0..size + POOL_SHIFTS).map(|_| rng.gen_range(b'A'..=b'Z')).collect();
        PayloadPool { buf: Bytes::from(buf), size }
    }

    fn get(&self, i: u64) -> Bytes {
        let at = (i % POOL_SHIFTS as u64) as usize;
        self.buf.slice(at..at + self.size)
    }
}

/// Creates `topic` and sends `n` records of `size` bytes through one
/// producer; measures (when `measure`) the time from the first send until
/// every record is acknowledged, and sampled send→ack latencies.
///
/// # Errors
/// An existing topic, send errors, or fewer records stored than sent.
#[allow(clippy::too_many_arguments)]
pub(super) fn produce_records(
    log: &Log,
    topic: &str,
    partitions: i32,
    n: u64,
    size: usize,
    keys: bool,
    config: ProducerConfig,
    measure: bool,
) -> anyhow::Result<ProduceStats> {
    log.create_topic(topic, TopicConfig::with_partitions(partitions))?;
    let producer = Producer::new(log, config)?;
    let pool = PayloadPool::new(size);
    if measure {
        // Earlier runs' dirty pages would otherwise throttle this one.
        if let Err(e) = std::process::Command::new("sync").status() {
            tracing::warn!(error = %e, "could not run sync before the measurement");
        }
    }
    let every = if measure { n.div_ceil(MAX_SAMPLES).max(1) } else { u64::MAX };
    let mut lat = Latencies::with_capacity(if measure { (n / every + 1) as usize } else { 0 });
    let mut in_flight: VecDeque<(Instant, DeliveryFuture)> = VecDeque::with_capacity(4096);
    let mut failure = None;
    let mut settle = |sent: Instant, f: DeliveryFuture, lat: &mut Latencies| {
        let acked = f.acked_at();
        match f.wait() {
            Ok(_) => lat.record(acked.unwrap_or_else(Instant::now).saturating_duration_since(sent)),
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    };
    let started = Instant::now();
    for i in 0..n {
        let key = keys.then(|| Bytes::copy_from_slice(&i.to_be_bytes()));
        let record = Record { key, value: Some(pool.get(i)), ..Record::default() };
        if i % every != 0 {
            producer.send(topic, record)?;
            continue;
        }
        let sent = Instant::now();
        in_flight.push_back((sent, producer.send(topic, record)?));
        while in_flight.len() > 4000 || in_flight.front().is_some_and(|(_, f)| f.is_done()) {
            if let Some((t, f)) = in_flight.pop_front() {
                settle(t, f, &mut lat);
            }
        }
    }
    producer.flush()?;
    let elapsed = started.elapsed();
    for (t, f) in in_flight.drain(..) {
        settle(t, f, &mut lat);
    }
    producer.close()?;
    if let Some(e) = failure {
        anyhow::bail!("records were not stored: {e}");
    }
    let (_, parts) = log.describe_topic(topic)?;
    let stored: i64 = parts.iter().map(|p| p.high_watermark - p.log_start_offset).sum();
    if stored != n as i64 {
        anyhow::bail!("sent {n} records but the topic holds {stored}; this is a bug in riffle");
    }
    let samples = lat.len();
    Ok(ProduceStats {
        topic: topic.to_string(),
        records: n,
        payload_bytes: n * (size as u64 + if keys { 8 } else { 0 }),
        stored_bytes: parts.iter().map(|p| p.size_bytes).sum(),
        elapsed,
        latency: lat.percentiles(),
        samples,
    })
}
