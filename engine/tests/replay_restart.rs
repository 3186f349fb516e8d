//! Replay and crash tests on the threaded runtime with RocksDB stores:
//! the same input run straight through, and with the app killed (no clean
//! shutdown) and restarted in the middle, gives the same final table; a
//! kill during processing loses no input (at-least-once).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::{DataType, Field, Schema};
use bytes::Bytes;
use riffle_engine::format::{JsonFormat, KafkaFormat};
use riffle_engine::plan::{AggFunc, Expr, TimestampSpec, WindowSpec};
use riffle_engine::{PlanBuilder, StreamsApp, StreamsConfig};
use riffle_log::client::LogClient;
use riffle_log::{Log, LogConfig, Record, TopicConfig};

fn load(log: &Log, from: usize, to: usize) {
    for i in from..to {
        let user = format!("u{}", i % 37);
        let v = format!(r#"{{"user":"{user}","amount":{}}}"#, i % 11);
        let p = (i % 3) as i32;
        log.append(
            "ev",
            p,
            &[Record { key: None, value: Some(Bytes::from(v)), timestamp: Some(i as i64 * 10), headers: vec![] }],
        )
        .unwrap();
    }
}

fn plan(out: &str) -> Arc<riffle_engine::plan::LogicalPlan> {
    let value = Schema::new(vec![Field::new("user", DataType::Utf8, true), Field::new("amount", DataType::Int64, true)]);
    PlanBuilder::stream("ev", Arc::new(KafkaFormat), Arc::new(JsonFormat), &[], value, TimestampSpec::Record)
        .unwrap()
        // Re-keys by user: exercises the repartition topic between two sub-topologies.
        .group_by(vec![(Expr::col("user"), "user".into())])
        .unwrap()
        .aggregate(
            Some(WindowSpec::tumbling(5_000, 60_000)),
            vec![(AggFunc::CountStar, vec![], "n".into()), (AggFunc::Sum, vec![Expr::col("amount")], "total".into())],
        )
        .unwrap()
        .to_stream()
        .unwrap()
        .sink(out, Arc::new(KafkaFormat), Arc::new(JsonFormat))
        .unwrap()
        .build()
}

fn config(app: &str, dir: &std::path::Path) -> StreamsConfig {
    let mut c = StreamsConfig::new(app, dir.join(format!("state-{app}")));
    c.commit_interval = Duration::from_millis(20);
    c.num_stream_threads = 2;
    // Static membership: a restarted instance takes its old place in the
    // group at once instead of waiting out the killed one's session.
    c.group_instance_id = Some(format!("{app}-instance-1"));
    c
}

/// Latest value per key of a topic: the table it describes.
fn table(log: &Log, topic: &str) -> BTreeMap<Vec<u8>, serde_json::Value> {
    let mut t = BTreeMap::new();
    for p in 0..log.partition_count(topic).unwrap() {
        let mut pos = 0;
        loop {
            let f = log.read(topic, p, pos, 1 << 20).unwrap();
            if f.records.is_empty() {
                break;
            }
            for r in f.records {
                t.insert(r.key.unwrap().to_vec(), serde_json::from_slice(&r.value.unwrap()).unwrap());
            }
            pos = f.next_offset;
        }
    }
    t
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).with_test_writer().try_init();
}

fn run_to_idle(log: &Arc<Log>, app: &str, out: &str, dir: &std::path::Path) -> StreamsApp {
    init_tracing();
    let mut a = StreamsApp::new(&[plan(out)], log.clone(), config(app, dir)).unwrap();
    a.start().unwrap();
    a.wait_until_idle(Duration::from_secs(60)).unwrap();
    a
}

#[test]
fn killed_and_restarted_app_gives_the_same_final_table() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Log::open(dir.path().join("log"), LogConfig::default()).unwrap());
    log.create_topic("ev", TopicConfig::with_partitions(3)).unwrap();
    load(&log, 0, 1500);

    run_to_idle(&log, "straight", "out-straight", dir.path()).close().unwrap();

    // Same first half, then a kill after the app caught up and committed.
    let a = run_to_idle(&log, "crashy", "out-crashy", dir.path());
    std::thread::sleep(Duration::from_millis(100)); // > commit interval: the last commit covers everything
    a.kill();
    // The restarted app restores its stores from RocksDB/changelog and
    // resumes from the committed offsets.
    run_to_idle(&log, "crashy", "out-crashy", dir.path()).close().unwrap();

    let straight = table(&log, "out-straight");
    assert_eq!(straight.len(), 37 * 3, "37 users × 3 windows of 5 s over 15 s");
    assert_eq!(table(&log, "out-crashy"), straight);

    // More input after the restart: both continue identically.
    load(&log, 1500, 2000);
    run_to_idle(&log, "straight", "out-straight", dir.path()).close().unwrap();
    run_to_idle(&log, "crashy", "out-crashy", dir.path()).close().unwrap();
    assert_eq!(table(&log, "out-crashy"), table(&log, "out-straight"));
}

#[test]
fn a_kill_while_processing_loses_no_input() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Log::open(dir.path().join("log"), LogConfig::default()).unwrap());
    log.create_topic("ev", TopicConfig::with_partitions(3)).unwrap();
    load(&log, 0, 3000);
    run_to_idle(&log, "straight", "out-straight", dir.path()).close().unwrap();

    let mut a = StreamsApp::new(&[plan("out-crashy")], log.clone(), config("crashy", dir.path())).unwrap();
    a.start().unwrap();
    std::thread::sleep(Duration::from_millis(30));
    a.kill();
    run_to_idle(&log, "crashy", "out-crashy", dir.path()).close().unwrap();

    // At-least-once: every window is there and no count is below the
    // straight run's (records after the last commit may count twice).
    let straight = table(&log, "out-straight");
    let crashy = table(&log, "out-crashy");
    assert_eq!(crashy.keys().collect::<Vec<_>>(), straight.keys().collect::<Vec<_>>());
    for (k, v) in &straight {
        assert!(crashy[k]["n"].as_i64() >= v["n"].as_i64(), "window {k:?} lost input: {} < {}", crashy[k]["n"], v["n"]);
    }
}
