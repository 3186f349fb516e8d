//! `riffle quickstart`: a self-contained tour that finishes by itself.
//! Creates a `pageviews` topic, produces ~10,000 JSON pageviews keyed by
//! user id, reads them back through a consumer group, commits, and shows
//! the figures, then runs a streams app that counts views per page (step
//! 5). Step 6 starts the SQL engine with its REST API on the same log,
//! declares a stream over the topic and a `CREATE TABLE … AS SELECT …
//! WINDOW TUMBLING … GROUP BY` query, watches the live table change while
//! new pageviews arrive for a few seconds (a push query), answers a pull
//! query, and shows what to try next.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use rand::Rng;
use riffle_log::{
    Consumer, ConsumerConfig, Log, LogConfig, OffsetReset, Producer, ProducerConfig, Record, TopicConfig,
};

use super::{with_log, DirMode};

const TOPIC: &str = "pageviews";
const GROUP: &str = "quickstart-readers";
const RECORDS: usize = 10_000;
const PARTITIONS: i32 = 3;

/// Arguments of `riffle quickstart`.
#[derive(Debug, Args)]
pub struct QuickstartArgs {
    /// Where to keep the data (default: a fresh directory under the system
    /// temp dir, so every run starts clean).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

/// Runs the quickstart.
///
/// # Errors
/// A data directory that already has a `pageviews` topic; I/O errors.
pub async fn run(args: QuickstartArgs) -> anyhow::Result<()> {
    let dir = match args.data_dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("riffle-quickstart-{:08x}", rand::random::<u32>())),
    };
    println!("Riffle quickstart — data directory: {}", dir.display());
    with_log(&dir, DirMode::Create, LogConfig::default(), tour).await?;
    print_next_steps(&dir);
    Ok(())
}

async fn tour(log: Log) -> anyhow::Result<()> {
    log.create_topic(TOPIC, TopicConfig::with_partitions(PARTITIONS)).context(
        "the quickstart needs a data directory without a `pageviews` topic; omit --data-dir for a fresh one",
    )?;
    println!("\n1. Created topic `{TOPIC}` with {PARTITIONS} partitions.");

    let started = Instant::now();
    let produced = tokio::task::block_in_place(|| produce(&log))?;
    let produce_time = started.elapsed();
    println!(
        "2. Produced {RECORDS} JSON pageviews keyed by user id in {:.1} ms ({:.0} records/s).",
        ms(produce_time),
        RECORDS as f64 / produce_time.as_secs_f64()
    );
    println!("   {:>9}  {:>8}  {:>13}", "partition", "records", "offsets");
    for (p, n) in &produced {
        println!("   {p:>9}  {n:>8}  {:>13}", format!("0..{}", n));
    }

    let started = Instant::now();
    let (consumed, sample) = consume(&log).await?;
    let consume_time = started.elapsed();
    println!(
        "3. Consumed {consumed} records as group `{GROUP}` in {:.1} ms ({:.0} records/s) and committed.",
        ms(consume_time),
        consumed as f64 / consume_time.as_secs_f64()
    );
    if let Some((key, value)) = sample {
        println!("   first record: key={key} value={value}");
    }

    let lag: i64 = log.group_lag(GROUP).iter().filter_map(|l| l.lag).sum();
    println!("4. Group `{GROUP}` lag: {lag} (every record was read and committed).");
    if consumed != RECORDS as u64 || lag != 0 {
        anyhow::bail!("the quickstart read {consumed} of {RECORDS} records (lag {lag}); this is a bug in riffle");
    }

    let started = Instant::now();
    let counts = tokio::task::block_in_place(|| count_per_page(&log))?;
    println!(
        "5. Ran a streams app (re-key by page → repartition → COUNT per page, RocksDB state) in {:.1} ms:",
        ms(started.elapsed())
    );
    let mut total = 0;
    for (page, n) in &counts {
        println!("   {page:<14} {n:>6}");
        total += n;
    }
    if total != RECORDS as i64 {
        anyhow::bail!("the streams app counted {total} of {RECORDS} pageviews; this is a bug in riffle");
    }
    sql_tour(&log).await
}

/// Seconds of live pageviews in step 7.
const LIVE_SECONDS: u64 = 3;

/// Steps 6–8: SQL over the same topic, through the REST API.
async fn sql_tour(log: &Log) -> anyhow::Result<()> {
    use riffle::server::{RestClient, Server, ServerConfig};
    use serde_json::json;

    let config = ServerConfig { rest: "127.0.0.1:0".parse()?, kafka: None, ..ServerConfig::default() };
    let server = Server::start(log.clone(), log.dir(), config).await?;
    let client = RestClient::new(server.rest_addr());
    println!("\n6. Started the SQL engine (ksqlDB-compatible REST API on http://{}) and ran:", server.rest_addr());
    let statements = [
        "CREATE STREAM pageviews_stream (user STRING KEY, page STRING, ts BIGINT, view_id INT) \
         WITH (kafka_topic='pageviews', value_format='JSON', timestamp='ts');",
        "CREATE TABLE views_per_page AS SELECT page, COUNT(*) AS views, COUNT_DISTINCT(user) AS users \
         FROM pageviews_stream WINDOW TUMBLING (SIZE 1 HOUR) GROUP BY page EMIT CHANGES;",
    ];
    for sql in statements {
        let r = client.ksql(sql, &json!({})).await?;
        if r.status != 200 {
            anyhow::bail!("the quickstart's statement failed: {}: {}", sql, r.body["message"]);
        }
        println!("   {sql}\n     → {}", r.body[0]["commandStatus"]["message"].as_str().unwrap_or("ok"));
    }

    // 7. A push query shows every change while new pageviews arrive.
    let mut rows = client.query_stream("SELECT page, views, users FROM views_per_page EMIT CHANGES;", &json!({})).await?;
    let meta = rows.next().await?.ok_or_else(|| anyhow::anyhow!("the push query returned no header"))?;
    let producer_log = log.clone();
    let producing = tokio::task::spawn_blocking(move || live_pageviews(&producer_log));
    let mut latest: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut updates = 0u64;
    let mut next_print = Instant::now() + Duration::from_secs(1);
    let end = Instant::now() + Duration::from_secs(LIVE_SECONDS) + Duration::from_millis(500);
    println!("7. Live: a push query (SELECT page, views, users FROM views_per_page EMIT CHANGES) while new pageviews arrive:");
    while Instant::now() < end {
        match tokio::time::timeout(Duration::from_millis(100), rows.next()).await {
            Ok(Ok(Some(row))) => {
                if let (Some(page), Some(views), Some(users)) = (row[0].as_str(), row[1].as_i64(), row[2].as_i64()) {
                    latest.insert(page.to_string(), (views, users));
                    updates += 1;
                }
            }
            Ok(Ok(None)) => break,
            Ok(Err(e)) => return Err(e),
            Err(_) => {}
        }
        if Instant::now() >= next_print {
            let line: Vec<String> = latest.iter().map(|(p, (v, _))| format!("{p} {v}")).collect();
            println!("   {updates:>5} updates so far · views in this hour: {}", line.join(" · "));
            next_print += Duration::from_secs(1);
        }
    }
    if let Some(id) = meta["queryId"].as_str() {
        client.close_query(id).await?;
    }
    let live = producing.await.context("live producer")??;
    println!("   ({live} new pageviews in {LIVE_SECONDS} s; the table changed {updates} times)");

    // 8. A pull query reads the table's current state.
    let r = client.query("SELECT page, WINDOWSTART, views, users FROM views_per_page WHERE page = '/checkout';", &json!({})).await?;
    if r.status != 200 {
        anyhow::bail!("the quickstart's pull query failed: {}", r.body["message"]);
    }
    println!("8. Pull query: SELECT page, WINDOWSTART, views, users FROM views_per_page WHERE page = '/checkout';");
    for e in r.body.as_array().into_iter().flatten() {
        if let Some(schema) = e["header"]["schema"].as_str() {
            println!("   {schema}");
        }
        if let Some(cols) = e["row"]["columns"].as_array() {
            println!("   {}", cols.iter().map(ToString::to_string).collect::<Vec<_>>().join(" | "));
        }
    }
    server.shutdown().await;
    Ok(())
}

/// Produces pageviews for [`LIVE_SECONDS`] seconds (about 200 a second);
/// returns how many.
fn live_pageviews(log: &Log) -> anyhow::Result<u64> {
    const PAGES: [&str; 3] = ["/checkout", "/cart", "/products/42"];
    let producer = Producer::new(log, ProducerConfig::default())?;
    let mut rng = rand::thread_rng();
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(LIVE_SECONDS) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let user = format!("user-{}", rng.gen_range(0..200));
        let page = PAGES[rng.gen_range(0..PAGES.len())];
        let value = serde_json::json!({ "user": user, "page": page, "ts": now, "view_id": RECORDS as u64 + n });
        producer.send(TOPIC, Record::keyed(user, value.to_string()))?;
        producer.flush()?;
        n += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    producer.close()?;
    Ok(n)
}

/// Step 5: a stream application on the same log, counting views per page
/// into the table topic `pageviews-per-page`; returns the final table.
fn count_per_page(log: &Log) -> anyhow::Result<BTreeMap<String, i64>> {
    use std::sync::Arc;

    use arrow::datatypes::{DataType, Field, Schema};
    use riffle::engine::format::{JsonFormat, KafkaFormat};
    use riffle::engine::plan::{AggFunc, Expr, TimestampSpec};
    use riffle::engine::{PlanBuilder, StreamsApp, StreamsConfig};
    use riffle_log::client::LogClient;

    let value = Schema::new(vec![Field::new("page", DataType::Utf8, true), Field::new("ts", DataType::Int64, true)]);
    let plan = PlanBuilder::stream(TOPIC, Arc::new(KafkaFormat), Arc::new(JsonFormat), &[], value, TimestampSpec::Column("ts".into()))?
        .group_by(vec![(Expr::col("page"), "page".into())])?
        .aggregate(None, vec![(AggFunc::CountStar, vec![], "views".into())])?
        .sink("pageviews-per-page", Arc::new(KafkaFormat), Arc::new(JsonFormat))?
        .build();
    let mut config = StreamsConfig::new("quickstart-page-counts", log.dir().join("streams-state"));
    config.commit_interval = Duration::from_millis(100);
    let client: Arc<dyn LogClient> = Arc::new(log.clone());
    let mut app = StreamsApp::new(&[plan], client, config)?;
    app.start()?;
    app.wait_until_idle(Duration::from_secs(60))?;
    app.close()?;
    let mut table = BTreeMap::new();
    for p in 0..LogClient::partition_count(log, "pageviews-per-page")? {
        let mut pos = 0;
        loop {
            let f = LogClient::read(log, "pageviews-per-page", p, pos, 1 << 20)?;
            if f.records.is_empty() {
                break;
            }
            for r in f.records {
                let page = String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()).into_owned();
                let v: serde_json::Value = serde_json::from_slice(r.value.as_deref().unwrap_or(b"null"))?;
                table.insert(page, v["views"].as_i64().unwrap_or(0));
            }
            pos = f.next_offset;
        }
    }
    Ok(table)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Produces the pageviews; returns records per partition.
fn produce(log: &Log) -> anyhow::Result<BTreeMap<i32, u64>> {
    const PAGES: [&str; 6] = ["/", "/products", "/products/42", "/cart", "/checkout", "/help"];
    let producer = Producer::new(log, ProducerConfig::default())?;
    let mut rng = rand::thread_rng();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let mut deliveries = Vec::with_capacity(RECORDS);
    for i in 0..RECORDS {
        let user = format!("user-{}", rng.gen_range(0..200));
        let page = PAGES[rng.gen_range(0..PAGES.len())];
        let value = serde_json::json!({ "user": user, "page": page, "ts": now + i as u128, "view_id": i });
        deliveries.push(producer.send(TOPIC, Record::keyed(user, value.to_string()))?);
    }
    producer.close()?;
    let mut per_partition = BTreeMap::new();
    for d in deliveries {
        let meta = d.wait().map_err(|e| anyhow::anyhow!("a pageview was not stored: {e}"))?;
        *per_partition.entry(meta.partition).or_insert(0) += 1;
    }
    Ok(per_partition)
}

/// Reads everything through the group and commits; returns the count and
/// the first record.
async fn consume(log: &Log) -> anyhow::Result<(u64, Option<(String, String)>)> {
    let config = ConsumerConfig {
        auto_offset_reset: OffsetReset::Earliest,
        enable_auto_commit: false,
        max_poll_records: 2_000,
        ..ConsumerConfig::group(GROUP)
    };
    let mut consumer = Consumer::new(log, config);
    consumer.subscribe(&[TOPIC])?;
    let mut count = 0u64;
    let mut sample = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    while count < RECORDS as u64 && Instant::now() < deadline {
        let records = consumer.poll(Duration::from_millis(500)).await?;
        if sample.is_none() {
            sample = records.first().map(|r| {
                let s =
                    |b: &Option<bytes::Bytes>| String::from_utf8_lossy(b.as_deref().unwrap_or(b"null")).into_owned();
                (s(&r.key), s(&r.value))
            });
        }
        count += records.len() as u64;
        consumer.commit()?;
    }
    consumer.close()?;
    Ok((count, sample))
}

fn print_next_steps(dir: &std::path::Path) {
    let d = dir.display();
    println!(
        "\nWhat to try next (the data stays in {d}):\n\
         \n  riffle topic describe {TOPIC} --data-dir {d}\
         \n  riffle consume {TOPIC} --from-beginning --max-messages 5 --print-key --data-dir {d}\
         \n  riffle groups describe {GROUP} --data-dir {d}\
         \n  echo 'user-1:{{\"page\":\"/\"}}' | riffle produce {TOPIC} --key-separator : --data-dir {d}\
         \n  riffle groups describe {GROUP} --data-dir {d}      # lag is now 1\
         \n  riffle consume pageviews-per-page --from-beginning --print-key --data-dir {d}\
         \n  riffle sql --data-dir {d} -e 'SHOW TABLES;'\
         \n  riffle sql --data-dir {d}      # then: SELECT * FROM views_per_page EMIT CHANGES;\
         \n  riffle server --data-dir {d}   # REST on 127.0.0.1:8088, Kafka on 127.0.0.1:9092\
         \n  riffle perf produce --data-dir {d} --records 1000000 --record-size 100 --partitions 1 --durability none\
         \n\nRemove the directory when done: rm -r {d}"
    );
}
