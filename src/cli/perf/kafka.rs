//! `riffle perf kafka produce | e2e`: a load generator for any Kafka broker
//! (riffle's own listener, Tansu, Apache Kafka) built on librdkafka through
//! the `rdkafka` crate. Only in builds with `--features kafka-bench`.
//!
//! Why librdkafka from Rust: on a small machine the client shares the cores
//! with the broker, and a client that spends microseconds per record in an
//! interpreter measures itself, not the broker. Here the per-record cost is
//! librdkafka's (a copy, a queue insert, and its share of lz4 per batch).
//!
//! ```text
//!  produce:  P producer threads ──send/poll──► librdkafka ──Produce──► broker
//!            (clock: first send … last flush() returns, all acks in)
//!  e2e:      paced producer (RATE/s, stamp in the first 8 value bytes)
//!                 └──► broker ──Fetch (long poll)──► consumer thread:
//!                                                    now − stamp per record
//! ```
//!
//! Values are 1 KiB (by default), 1,024 distinct ones: random hex words
//! (`--payload words`, the values of `tests/interop/bench.py`'s Python
//! client) or JSON order events (`--payload json`). The topic is created
//! fresh through the admin API. With `--broker-pid`, the broker's CPU time
//! (user + system from `/proc/<pid>/stat`) over the timed part is reported
//! next to this process's own, so records per broker CPU-second can be
//! compared even when the client and the broker compete for the same
//! cores (where, with lz4, the client's compression costs more per record
//! than the broker: see BENCHMARKS.md).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::{Offset, TopicPartitionList};

use super::latency::Latencies;

/// `riffle perf kafka` commands.
#[derive(Debug, Subcommand)]
pub enum KafkaPerfCommand {
    /// Produce N records as fast as the broker acknowledges them; report
    /// records/s (wall clock) and, with --broker-pid, broker CPU per record.
    Produce(ProduceArgs),
    /// End-to-end latency (produce → broker → consumer) at a fixed rate.
    E2e(E2eArgs),
}

/// Options shared by both commands.
#[derive(Debug, Args)]
pub struct Common {
    /// The broker (bootstrap.servers).
    #[arg(long, default_value = "127.0.0.1:9092")]
    bootstrap: String,
    /// Topic to create (default: `perf-kafka-<nanos>`); it must not exist.
    #[arg(long)]
    topic: Option<String>,
    /// Partitions of the new topic.
    #[arg(long, default_value_t = 4)]
    partitions: i32,
    /// Value size in bytes (at least 8: the e2e stamp).
    #[arg(long, default_value_t = 1024)]
    record_size: usize,
    /// What the values hold: `words` (random hex words; lz4 batches keep
    /// ~70% of the bytes) or `json` (order events with ids, amounts and a
    /// free-text note; ~40%).
    #[arg(long, value_enum, default_value_t = Payload::Words)]
    payload: Payload,
    /// librdkafka compression.type (none, gzip, snappy, lz4).
    #[arg(long, default_value = "lz4")]
    compression: String,
    /// acks: all (-1), 1 or 0.
    #[arg(long, default_value = "all")]
    acks: String,
    /// The broker's process id: report its CPU time over the timed part.
    #[arg(long)]
    broker_pid: Option<u32>,
    /// Extra librdkafka producer settings, e.g. `-X socket.nagle.disable=true`.
    #[arg(short = 'X', long = "property", value_name = "KEY=VALUE")]
    properties: Vec<String>,
    /// Print one JSON object as the last line instead of a summary.
    #[arg(long)]
    json: bool,
}

/// Value contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Payload {
    /// Random hex words separated by spaces.
    Words,
    /// JSON order events.
    Json,
}

/// Options of `riffle perf kafka produce`.
#[derive(Debug, Args)]
pub struct ProduceArgs {
    #[command(flatten)]
    common: Common,
    /// Records to send, in all.
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
    /// Producer instances, one thread each (records are split evenly).
    #[arg(long, default_value_t = 1)]
    producers: u64,
    /// linger.ms.
    #[arg(long, default_value_t = 5)]
    linger_ms: u64,
    /// batch.size in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    batch_size: usize,
}

/// Options of `riffle perf kafka e2e`.
#[derive(Debug, Args)]
pub struct E2eArgs {
    #[command(flatten)]
    common: Common,
    /// Records per second, spread over the partitions round-robin.
    #[arg(long, default_value_t = 50_000)]
    rate: u64,
    /// Seconds to produce for.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Leading seconds left out of the percentiles (connection warm-up).
    #[arg(long, default_value_t = 1.0)]
    warmup_s: f64,
    /// The producer's linger.ms.
    #[arg(long, default_value_t = 1)]
    linger_ms: u64,
    /// The consumer's fetch.wait.max.ms (the broker's long-poll limit).
    #[arg(long, default_value_t = 100)]
    fetch_wait_ms: u64,
}

/// Runs a `riffle perf kafka` command.
///
/// # Errors
/// Bad arguments, a broker that cannot be reached or refuses the topic,
/// records that were not delivered.
pub async fn run(cmd: KafkaPerfCommand) -> anyhow::Result<()> {
    let common = match &cmd {
        KafkaPerfCommand::Produce(a) => &a.common,
        KafkaPerfCommand::E2e(a) => &a.common,
    };
    if common.record_size < 8 {
        bail!("--record-size must be at least 8 bytes (the e2e stamp)");
    }
    let topic = common.topic.clone().unwrap_or_else(|| {
        format!("perf-kafka-{}", std::time::SystemTime::UNIX_EPOCH.elapsed().unwrap_or_default().as_nanos())
    });
    create_topic(common, &topic).await?;
    let report = match &cmd {
        KafkaPerfCommand::Produce(a) => tokio::task::block_in_place(|| produce(a, &topic))?,
        KafkaPerfCommand::E2e(a) => tokio::task::block_in_place(|| e2e(a, &topic))?,
    };
    if common.json {
        println!("{report}");
    } else if let serde_json::Value::Object(m) = &report {
        for (k, v) in m {
            println!("{k:>28}: {v}");
        }
    }
    Ok(())
}

async fn create_topic(c: &Common, topic: &str) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", &c.bootstrap).create().context("cannot create the admin client")?;
    let new = NewTopic::new(topic, c.partitions, TopicReplication::Fixed(1));
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(15)));
    let results = tokio::time::timeout(Duration::from_secs(30), admin.create_topics([&new], &opts))
        .await
        .with_context(|| format!("no CreateTopics answer from {} in 30 s", c.bootstrap))?
        .context("CreateTopics failed")?;
    for r in results {
        if let Err((name, code)) = r {
            bail!("cannot create topic {name}: {code}");
        }
    }
    Ok(())
}

/// The client settings both commands' producers share.
fn producer_config(c: &Common, linger_ms: u64) -> anyhow::Result<ClientConfig> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", &c.bootstrap)
        .set("compression.type", &c.compression)
        .set("acks", &c.acks)
        .set("linger.ms", linger_ms.to_string())
        .set("enable.idempotence", "false")
        .set("queue.buffering.max.kbytes", (1 << 20).to_string())
        .set("queue.buffering.max.messages", "1000000")
        // Failed deliveries only: success is a flush() that leaves nothing
        // in flight, and a callback per record would cost the client time.
        .set("delivery.report.only.error", "true");
    for p in &c.properties {
        let (k, v) = p.split_once('=').with_context(|| format!("-X {p}: expected KEY=VALUE"))?;
        cfg.set(k, v);
    }
    Ok(cfg)
}

/// Counts failed deliveries and keeps the first error.
#[derive(Default)]
struct Deliveries {
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            self.failed.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut first) = self.first_error.lock() {
                first.get_or_insert_with(|| e.to_string());
            }
        }
    }
}

impl Deliveries {
    fn check(&self) -> anyhow::Result<()> {
        let failed = self.failed.load(Ordering::Relaxed);
        if failed > 0 {
            let first = self.first_error.lock().ok().and_then(|f| f.clone()).unwrap_or_default();
            bail!("{failed} records were not delivered; first error: {first}");
        }
        Ok(())
    }
}

/// Sends one record, waiting (and serving callbacks) while librdkafka's
/// queue is full.
fn send(p: &BaseProducer<Deliveries>, mut rec: BaseRecord<'_, (), [u8]>) -> anyhow::Result<()> {
    loop {
        match p.send(rec) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                rec = r;
                p.poll(Duration::from_millis(1));
            }
            Err((e, _)) => return Err(e).context("produce failed"),
        }
    }
}

/// Flushes and checks that every record was acknowledged.
fn finish(p: &BaseProducer<Deliveries>, timeout: Duration) -> anyhow::Result<()> {
    p.flush(timeout).context("flush did not finish")?;
    p.poll(Duration::ZERO);
    p.context().check()?;
    if p.in_flight_count() != 0 {
        bail!("{} records still in flight after flush", p.in_flight_count());
    }
    Ok(())
}

fn produce(a: &ProduceArgs, topic: &str) -> anyhow::Result<serde_json::Value> {
    let c = &a.common;
    if a.producers == 0 || a.records < a.producers {
        bail!("need at least one producer and one record per producer");
    }
    let mut cfg = producer_config(c, a.linger_ms)?;
    cfg.set("batch.size", a.batch_size.to_string());
    let producers = (0..a.producers)
        .map(|_| cfg.create_with_context::<_, BaseProducer<Deliveries>>(Deliveries::default()))
        .collect::<Result<Vec<_>, _>>()
        .context("cannot create the producers")?;
    // Connect and learn the topic's leaders before the clock starts.
    for p in &producers {
        p.client().fetch_metadata(Some(topic), Duration::from_secs(10)).context("metadata request failed")?;
    }
    let pool = values(c.payload, 1024, c.record_size);
    let each = a.records / a.producers;
    let cpu0 = CpuSnapshot::take(c.broker_pid);
    let t0 = Instant::now();
    std::thread::scope(|s| {
        let handles: Vec<_> = producers
            .iter()
            .map(|p| {
                let pool = &pool;
                s.spawn(move || -> anyhow::Result<()> {
                    for i in 0..each {
                        send(p, BaseRecord::to(topic).payload(pool[(i % 1024) as usize].as_slice()))?;
                        if i % 1024 == 0 {
                            p.poll(Duration::ZERO);
                        }
                    }
                    finish(p, Duration::from_secs(300))
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| h.join().map_err(|_| anyhow::anyhow!("a producer thread panicked"))?)
    })?;
    let secs = t0.elapsed().as_secs_f64();
    let cpu = CpuSnapshot::take(c.broker_pid).since(&cpu0);
    let n = each * a.producers;
    let mut out = serde_json::json!({
        "test": "produce",
        "topic": topic,
        "records": n,
        "record_size": c.record_size,
        "partitions": c.partitions,
        "compression": c.compression,
        "acks": c.acks,
        "producers": a.producers,
        "seconds": secs,
        "records_per_s": n as f64 / secs,
        "mb_per_s": (n * c.record_size as u64) as f64 / 1e6 / secs,
        "client_cpu_s": cpu.client,
    });
    if let Some(b) = cpu.broker {
        out["broker_cpu_s"] = b.into();
        out["records_per_broker_cpu_s"] = (n as f64 / b.max(1e-3)).into();
    }
    Ok(out)
}

fn e2e(a: &E2eArgs, topic: &str) -> anyhow::Result<serde_json::Value> {
    let c = &a.common;
    if a.rate == 0 || a.seconds == 0 {
        bail!("--rate and --seconds must be positive");
    }
    let total = a.rate * a.seconds;
    let base = Instant::now();
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &c.bootstrap)
        .set("group.id", "riffle-perf-e2e")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("fetch.wait.max.ms", a.fetch_wait_ms.to_string())
        .set("fetch.min.bytes", "1")
        .create()
        .context("cannot create the consumer")?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..c.partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning).context("bad partition")?;
    }
    consumer.assign(&tpl).context("assign failed")?;
    // Connect and start fetching before the producer starts.
    let warm_until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < warm_until {
        if let Some(Ok(_)) = consumer.poll(Duration::from_millis(100)) {
            bail!("topic {topic} is not empty");
        }
    }
    let producer: BaseProducer<Deliveries> =
        producer_config(c, a.linger_ms)?.create_with_context(Deliveries::default()).context("cannot create the producer")?;
    producer.client().fetch_metadata(Some(topic), Duration::from_secs(10)).context("metadata request failed")?;
    let deadline = Instant::now() + Duration::from_secs(a.seconds + 60);
    let cpu0 = CpuSnapshot::take(c.broker_pid);
    // Set when producing fails, so the consumer stops waiting for records.
    let failed = AtomicBool::new(false);
    let (sent_secs, samples) = std::thread::scope(|s| -> anyhow::Result<_> {
        let receiver = s.spawn(|| {
            let mut samples: Vec<(u64, u64)> = Vec::with_capacity(total as usize);
            let mut errors = 0u64;
            while (samples.len() as u64) < total && Instant::now() < deadline && !failed.load(Ordering::Relaxed) {
                match consumer.poll(Duration::from_millis(100)) {
                    Some(Ok(m)) => {
                        let now = base.elapsed().as_nanos() as u64;
                        let stamp = m.payload().and_then(|v| v.get(..8)).and_then(|b| <[u8; 8]>::try_from(b).ok());
                        if let Some(stamp) = stamp {
                            let sent = u64::from_le_bytes(stamp);
                            samples.push((sent, now.saturating_sub(sent)));
                        }
                    }
                    Some(Err(_)) => errors += 1,
                    None => {}
                }
            }
            (samples, errors)
        });
        let paced = || -> anyhow::Result<f64> {
            let mut value = values(c.payload, 1, c.record_size).swap_remove(0);
            let chunk = (a.rate / 1000).max(1);
            let t0 = Instant::now();
            let mut sent = 0u64;
            while sent < total {
                let due = t0 + Duration::from_secs_f64(sent as f64 / a.rate as f64);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                for _ in 0..chunk.min(total - sent) {
                    let stamp = base.elapsed().as_nanos() as u64;
                    value[..8].copy_from_slice(&stamp.to_le_bytes());
                    let partition = (sent % c.partitions as u64) as i32;
                    send(&producer, BaseRecord::to(topic).payload(value.as_slice()).partition(partition))?;
                    sent += 1;
                }
                producer.poll(Duration::ZERO);
            }
            // The pace reached while producing (the final flush is not pacing).
            let sent_secs = t0.elapsed().as_secs_f64();
            finish(&producer, Duration::from_secs(60))?;
            Ok(sent_secs)
        };
        let sent_secs = paced().inspect_err(|_| failed.store(true, Ordering::Relaxed));
        let (samples, errors) = receiver.join().map_err(|_| anyhow::anyhow!("the consumer thread panicked"))?;
        let sent_secs = sent_secs?;
        if errors > 0 {
            eprintln!("warning: the consumer saw {errors} errors");
        }
        Ok((sent_secs, samples))
    })?;
    let cpu = CpuSnapshot::take(c.broker_pid).since(&cpu0);
    let received = samples.len() as u64;
    let first = samples.iter().map(|s| s.0).min().unwrap_or(0);
    let skip = first + (a.warmup_s * 1e9) as u64;
    let mut lat = Latencies::with_capacity(samples.len());
    for &(_, d) in samples.iter().filter(|s| s.0 >= skip) {
        lat.record(Duration::from_nanos(d));
    }
    let counted = lat.len();
    let p = lat.percentiles().context("no records after the warm-up were received")?;
    let mut out = serde_json::json!({
        "test": "e2e",
        "topic": topic,
        "rate": a.rate,
        "achieved_rate": total as f64 / sent_secs,
        "expected": total,
        "received": received,
        "counted": counted,
        "record_size": c.record_size,
        "partitions": c.partitions,
        "compression": c.compression,
        "acks": c.acks,
        "linger_ms": a.linger_ms,
        "p50_ms": p.p50,
        "p99_ms": p.p99,
        "p999_ms": p.p999,
        "max_ms": p.max,
        "avg_ms": p.avg,
        "client_cpu_s": cpu.client,
    });
    if let Some(b) = cpu.broker {
        out["broker_cpu_s"] = b.into();
    }
    if received < total {
        bail!("only {received} of {total} records came back: {out}");
    }
    Ok(out)
}

/// `n` distinct values of `size` bytes.
///
/// `Words`: random hex words separated by spaces, so lz4 finds some short
/// matches but not a trivial run (the values of `tests/interop/bench.py`).
/// `Json`: an order event per value (ids, a customer, items, amounts, a
/// user agent), its `note` field filled with words to exactly `size` bytes.
fn values(payload: Payload, n: usize, size: usize) -> Vec<Vec<u8>> {
    let mut rng = StdRng::seed_from_u64(7);
    let hex: Vec<String> = (0..4096).map(|_| format!("{:x}", rng.gen::<u64>() >> 24)).collect();
    const WORDS: [&str; 24] = [
        "delivery", "parcel", "please", "leave", "at", "the", "door", "ring", "bell", "twice", "gift", "wrap",
        "fragile", "handle", "with", "care", "back", "entrance", "call", "on", "arrival", "no", "invoice", "thanks",
    ];
    const AGENTS: [&str; 3] = [
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    ];
    (0..n)
        .map(|i| {
            let mut v = Vec::with_capacity(size + 64);
            match payload {
                Payload::Words => {
                    while v.len() < size {
                        if !v.is_empty() {
                            v.push(b' ');
                        }
                        v.extend_from_slice(hex[rng.gen_range(0..hex.len())].as_bytes());
                    }
                }
                Payload::Json => {
                    let items: Vec<String> = (0..rng.gen_range(1..5))
                        .map(|_| {
                            format!(
                                r#"{{"sku":"SKU-{:06}","qty":{},"unit_price":{:.2}}}"#,
                                rng.gen_range(0..1_000_000),
                                rng.gen_range(1..5),
                                rng.gen_range(1.0..200.0)
                            )
                        })
                        .collect();
                    let head = format!(
                        r#"{{"order_id":"{:016x}","ts":{},"customer":{{"id":"c{}","country":"{}","segment":"{}"}},"items":[{}],"total":{:.2},"currency":"EUR","status":"{}","user_agent":"{}","session":"{:032x}","note":""#,
                        rng.gen::<u64>(),
                        1_700_000_000_000u64 + i as u64 * 13,
                        rng.gen_range(0..100_000),
                        ["DE", "FR", "NL", "GB", "US"][rng.gen_range(0..5)],
                        ["retail", "business", "vip"][rng.gen_range(0..3)],
                        items.join(","),
                        rng.gen_range(5.0..900.0),
                        ["created", "paid", "shipped"][rng.gen_range(0..3)],
                        AGENTS[rng.gen_range(0..AGENTS.len())],
                        rng.gen::<u128>(),
                    );
                    v.extend_from_slice(head.as_bytes());
                    while v.len() + 2 < size {
                        v.extend_from_slice(WORDS[rng.gen_range(0..WORDS.len())].as_bytes());
                        v.push(b' ');
                    }
                    v.truncate(size.saturating_sub(2));
                    v.extend_from_slice(b"\"}");
                }
            }
            v.truncate(size);
            v
        })
        .collect()
}

/// CPU seconds (user + system) of the broker and of this process.
struct CpuSnapshot {
    broker: Option<f64>,
    client: f64,
}

impl CpuSnapshot {
    fn take(broker_pid: Option<u32>) -> Self {
        CpuSnapshot {
            broker: broker_pid.and_then(|pid| cpu_seconds(&pid.to_string())),
            client: cpu_seconds("self").unwrap_or(0.0),
        }
    }

    fn since(&self, earlier: &CpuSnapshot) -> CpuSnapshot {
        CpuSnapshot {
            broker: self.broker.zip(earlier.broker).map(|(a, b)| a - b),
            client: self.client - earlier.client,
        }
    }
}

/// utime + stime of `/proc/<pid>/stat`, in seconds. The kernel reports
/// them in USER_HZ ticks, which is 100 on every Linux ABI.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after it are fixed.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_have_the_asked_size_and_differ() {
        for payload in [Payload::Words, Payload::Json] {
            let v = values(payload, 3, 1024);
            assert!(v.iter().all(|v| v.len() == 1024));
            assert_ne!(v[0], v[1]);
        }
        let json = values(Payload::Json, 1, 1024).swap_remove(0);
        assert!(json.starts_with(b"{") && json.ends_with(b"\"}"), "{}", String::from_utf8_lossy(&json));
    }

    #[test]
    fn own_cpu_time_is_readable() {
        assert!(cpu_seconds("self").is_some());
    }
}
