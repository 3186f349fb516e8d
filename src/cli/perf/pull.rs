//! `riffle perf pull`: pull-query key lookups on a large table, in process
//! and over the REST API, in one run.
//!
//! 1. N keyed JSON rows go into a topic (not timed) and a table is declared
//!    on it; a first query materializes the snapshot (timed separately);
//! 2. in process: `Engine::query` with `SELECT … WHERE id = '<random key>'`
//!    one at a time — parse, plan, lookup, evaluate — latency per lookup;
//! 3. over REST: C client tasks on keep-alive HTTP/1.1 connections, each
//!    sending `POST /query` lookups back to back; lookups per second.
//!
//! Every answer is checked (one row, the right value).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use rand::Rng;
use riffle::progress::Progress;
use riffle::server::{QueryStart, Server, ServerConfig};
use riffle_log::{Log, LogConfig, Producer, ProducerConfig, Record, TopicConfig};

/// Arguments of `riffle perf pull`.
#[derive(Debug, Args)]
pub struct PullPerfArgs {
    /// Directory for the log (a fresh subdirectory is used).
    #[arg(long, default_value = "./riffle-data")]
    data_dir: PathBuf,
    /// Rows in the table.
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// In-process lookups to time.
    #[arg(long, default_value_t = 100_000)]
    lookups: u64,
    /// Seconds of REST load.
    #[arg(long, default_value_t = 10)]
    rest_seconds: u64,
    /// Concurrent REST clients (keep-alive connections).
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Print one JSON object as the last line.
    #[arg(long)]
    json: bool,
}

fn key(i: u64) -> String {
    format!("k{i:09}")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs the benchmark.
///
/// # Errors
/// Log or server failures; a lookup that returns the wrong answer.
pub async fn run(args: PullPerfArgs) -> anyhow::Result<()> {
    let dir = args.data_dir.join(format!("perf-pull-{:08x}", rand::random::<u32>()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let log = Log::open(&dir, LogConfig::default())?;
    let say = |s: String| {
        if !args.json {
            println!("{s}");
        }
    };

    // 1. Data and table.
    log.create_topic("kv", TopicConfig::with_partitions(1))?;
    let started = Instant::now();
    tokio::task::block_in_place(|| -> anyhow::Result<()> {
        let producer = Producer::new(&log, ProducerConfig::default())?;
        let mut progress: Progress = if args.json { Progress::hidden() } else { Progress::new("loading rows", args.keys) };
        for i in 0..args.keys {
            producer.send("kv", Record::keyed(key(i), format!("{{\"V\":{i}}}")))?;
            if i % 10_000 == 9_999 {
                progress.advance(10_000);
            }
        }
        producer.close()?;
        progress.finish();
        Ok(())
    })?;
    say(format!("loaded {} rows in {:.1} s", args.keys, started.elapsed().as_secs_f64()));
    let config = ServerConfig { rest: "127.0.0.1:0".parse()?, kafka: None, ..ServerConfig::default() };
    let server = Server::start(log.clone(), &dir, config).await?;
    let engine = server.engine().clone();
    let props = std::collections::BTreeMap::new();
    engine
        .ksql("CREATE SOURCE TABLE kv (id STRING PRIMARY KEY, v BIGINT) WITH (kafka_topic='kv', value_format='JSON');", &props)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let check = |i: u64, start: QueryStart| -> anyhow::Result<()> {
        match start {
            QueryStart::Pull(r) if r.rows.len() == 1 && r.rows[0][0].as_i64() == Some(i as i64) => Ok(()),
            QueryStart::Pull(r) => anyhow::bail!("lookup of {} returned {:?}", key(i), r.rows),
            QueryStart::Push(_) => anyhow::bail!("a pull query started a push query"),
        }
    };
    let started = Instant::now();
    let first = tokio::task::block_in_place(|| engine.query(&format!("SELECT v FROM kv WHERE id = '{}';", key(0)), &props))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    check(0, first)?;
    let materialize_s = started.elapsed().as_secs_f64();
    say(format!("first query (materializes the {}-row snapshot): {materialize_s:.2} s", args.keys));

    // 2. In process.
    let mut rng = rand::thread_rng();
    let mut lat = Vec::with_capacity(args.lookups as usize);
    let started = Instant::now();
    tokio::task::block_in_place(|| -> anyhow::Result<()> {
        for _ in 0..args.lookups {
            let i = rng.gen_range(0..args.keys);
            let t = Instant::now();
            let r = engine.query(&format!("SELECT v FROM kv WHERE id = '{}';", key(i)), &props).map_err(|e| anyhow::anyhow!("{e}"))?;
            lat.push(t.elapsed().as_secs_f64() * 1e3);
            check(i, r)?;
        }
        Ok(())
    })?;
    let in_process_rate = args.lookups as f64 / started.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let (p50, p99, p999) = (percentile(&lat, 0.5), percentile(&lat, 0.99), percentile(&lat, 0.999));
    say(format!(
        "in process: {} lookups, {in_process_rate:.0}/s; latency p50 {p50:.3} ms, p99 {p99:.3} ms, p99.9 {p999:.3} ms",
        args.lookups
    ));

    // 3. Over REST: first GET /healthcheck (the HTTP floor of this
    // machine and client), then the lookups, same clients and duration.
    let addr = server.rest_addr();
    let mut rates = Vec::new();
    for lookups in [false, true] {
        let done = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(args.rest_seconds);
        let mut tasks = Vec::new();
        for _ in 0..args.clients {
            let done = done.clone();
            let keys = args.keys;
            tasks.push(tokio::spawn(async move { rest_client(addr, keys, deadline, done, lookups).await }));
        }
        let started = Instant::now();
        for t in tasks {
            t.await.context("REST client task")??;
        }
        let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
        say(format!(
            "over REST, {}: {} clients, {} requests in {:.1} s: {rate:.0}/s",
            if lookups { "pull-query lookups" } else { "GET /healthcheck (HTTP floor)" },
            args.clients,
            done.load(Ordering::Relaxed),
            started.elapsed().as_secs_f64()
        ));
        rates.push(rate);
    }
    let (http_floor, rest_rate) = (rates[0], rates[1]);
    server.shutdown().await;
    log.close()?;
    let _ = std::fs::remove_dir_all(&dir);
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "keys": args.keys, "materialize_s": materialize_s,
                "in_process_lookups_per_s": in_process_rate, "p50_ms": p50, "p99_ms": p99, "p999_ms": p999,
                "rest_clients": args.clients, "rest_lookups_per_s": rest_rate, "rest_healthcheck_per_s": http_floor,
            })
        );
    }
    Ok(())
}

/// One keep-alive connection sending lookups until `deadline`.
async fn rest_client(
    addr: std::net::SocketAddr,
    keys: u64,
    deadline: Instant,
    done: Arc<AtomicU64>,
    lookups: bool,
) -> anyhow::Result<()> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::from_entropy();
    while Instant::now() < deadline {
        let i = rng.gen_range(0..keys);
        let req = if lookups {
            let body = serde_json::json!({"ksql": format!("SELECT v FROM kv WHERE id = '{}';", key(i))}).to_string();
            hyper::Request::builder()
                .method("POST")
                .uri("/query")
                .header("host", addr.to_string())
                .header("content-type", "application/vnd.ksql.v1+json")
                .body(Full::new(Bytes::from(body)))?
        } else {
            hyper::Request::builder().method("GET").uri("/healthcheck").header("host", addr.to_string()).body(Full::new(Bytes::new()))?
        };
        sender.ready().await?;
        let resp = sender.send_request(req).await?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        let text = String::from_utf8_lossy(&bytes);
        if !status.is_success() || (lookups && !text.contains(&format!("[{i}]"))) {
            anyhow::bail!("REST lookup of {} got {status}: {text}", key(i));
        }
        done.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}
