//! Two instances of one application (same application id, their own state
//! directories) on one log: the group splits the tasks between them, and
//! when one stops — cleanly or by a crash — the other takes its tasks over
//! with their state, restored from the changelogs. The final table must
//! equal a direct count of the input.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use bytes::Bytes;
use riffle_engine::format::{JsonFormat, KafkaFormat};
use riffle_engine::plan::{AggFunc, Expr, TimestampSpec};
use riffle_engine::{PlanBuilder, StreamsApp, StreamsConfig, TaskId};
use riffle_log::client::LogClient;
use riffle_log::{Log, LogConfig, Record, TopicConfig};

const PARTITIONS: i32 = 4;
const USERS: usize = 29;

fn load(log: &Log, from: usize, to: usize) {
    for i in from..to {
        let user = format!("u{}", i % USERS);
        let v = format!(r#"{{"user":"{user}","amount":{}}}"#, i % 7);
        let r = Record { key: None, value: Some(Bytes::from(v)), timestamp: Some(i as i64), headers: vec![] };
        log.append("clicks", (i % PARTITIONS as usize) as i32, &[r]).unwrap();
    }
}

/// Count and sum per user, re-keyed through a repartition topic (two
/// sub-topologies: 2 × 4 tasks).
fn plan() -> Arc<riffle_engine::plan::LogicalPlan> {
    let value = Schema::new(vec![Field::new("user", DataType::Utf8, true), Field::new("amount", DataType::Int64, true)]);
    PlanBuilder::stream("clicks", Arc::new(KafkaFormat), Arc::new(JsonFormat), &[], value, TimestampSpec::Record)
        .unwrap()
        .group_by(vec![(Expr::col("user"), "user".into())])
        .unwrap()
        .aggregate(
            None,
            vec![(AggFunc::CountStar, vec![], "n".into()), (AggFunc::Sum, vec![Expr::col("amount")], "total".into())],
        )
        .unwrap()
        .materialize_as("user-counts")
        .unwrap()
        .to_stream()
        .unwrap()
        .sink("counts", Arc::new(KafkaFormat), Arc::new(JsonFormat))
        .unwrap()
        .build()
}

fn config(dir: &std::path::Path, instance: &str) -> StreamsConfig {
    let mut c = StreamsConfig::new("clicks-per-user", dir.join(format!("state-{instance}")));
    c.commit_interval = Duration::from_millis(50);
    c.num_stream_threads = 2;
    c.heartbeat_interval = Duration::from_millis(50);
    c.session_timeout = Duration::from_secs(6);
    c.application_server = Some(format!("{instance}:8080"));
    c
}

fn start(log: &Arc<Log>, c: StreamsConfig) -> StreamsApp {
    let mut app = StreamsApp::new(&[plan()], log.clone(), c).unwrap();
    app.start().unwrap();
    app
}

fn all_tasks() -> BTreeSet<TaskId> {
    (0..2).flat_map(|s| (0..PARTITIONS).map(move |p| TaskId { subtopology: s, partition: p })).collect()
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Latest `(n, total)` per user in the output topic.
fn table(log: &Log) -> BTreeMap<String, (i64, i64)> {
    let mut t = BTreeMap::new();
    for p in 0..log.partition_count("counts").unwrap() {
        let mut pos = 0;
        loop {
            let f = log.read("counts", p, pos, 1 << 20).unwrap();
            if f.records.is_empty() {
                break;
            }
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

/// `(n, total)` of `user` from an instance's store, if it holds the key.
fn lookup(app: &StreamsApp, user: &str) -> Option<(i64, i64)> {
    let schema = Arc::new(Schema::new(vec![Field::new("user", DataType::Utf8, true)]));
    let key = RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(vec![user]))]).unwrap();
    let rows = app.query("user-counts", Some(&key), None).unwrap();
    assert!(rows.num_rows() <= 1);
    if rows.num_rows() == 0 {
        return None;
    }
    let col = |name: &str| rows.column_by_name(name).unwrap().as_any().downcast_ref::<Int64Array>().unwrap().value(0);
    Some((col("n"), col("total")))
}

fn expected(events: usize) -> BTreeMap<String, (i64, i64)> {
    let mut t: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for i in 0..events {
        let e = t.entry(format!("u{}", i % USERS)).or_default();
        e.0 += 1;
        e.1 += (i % 7) as i64;
    }
    t
}

fn new_log(dir: &std::path::Path) -> Arc<Log> {
    let log = Arc::new(Log::open(dir.join("log"), LogConfig::default()).unwrap());
    log.create_topic("clicks", TopicConfig::with_partitions(PARTITIONS)).unwrap();
    log
}

#[test]
fn two_instances_split_the_tasks_and_one_takes_over_when_the_other_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let log = new_log(dir.path());
    load(&log, 0, 2_000);

    let a = start(&log, config(dir.path(), "a"));
    a.wait_until_idle(Duration::from_secs(30)).unwrap();
    assert_eq!(a.local_tasks().into_iter().collect::<BTreeSet<_>>(), all_tasks(), "alone, a runs every task");

    // b joins: the group rebalances and the tasks are split 4 / 4.
    let b = start(&log, config(dir.path(), "b"));
    wait_for("the tasks to be split", Duration::from_secs(30), || {
        a.local_tasks().len() == 4 && b.local_tasks().len() == 4
    });
    let (ta, tb): (BTreeSet<_>, BTreeSet<_>) = (a.local_tasks().into_iter().collect(), b.local_tasks().into_iter().collect());
    assert!(ta.is_disjoint(&tb), "a task runs on one instance only: {ta:?} / {tb:?}");
    assert_eq!(ta.union(&tb).copied().collect::<BTreeSet<_>>(), all_tasks());
    // Both instances know who owns what.
    assert_eq!(a.instances(), b.instances());
    assert_eq!(a.instances().len(), 2);

    load(&log, 2_000, 4_000);
    a.wait_until_idle(Duration::from_secs(30)).unwrap();
    b.wait_until_idle(Duration::from_secs(30)).unwrap();
    assert_eq!(table(&log), expected(4_000), "split between two instances");

    // Interactive queries: each key lives on the instance the metadata
    // names, and only there; together the instances hold every key.
    let want = expected(4_000);
    for (user, (n, total)) in &want {
        let owner = a.key_owner("user-counts", user.as_bytes()).unwrap().expect("every partition has an owner");
        assert_eq!(Some(owner.clone()), b.key_owner("user-counts", user.as_bytes()).unwrap());
        let (mine, other) = if owner.endpoint.as_deref() == Some("a:8080") { (&a, &b) } else { (&b, &a) };
        assert_eq!(lookup(mine, user), Some((*n, *total)), "{user} on its owner {:?}", owner.endpoint);
        assert_eq!(lookup(other, user), None, "{user} is not on the other instance");
    }
    let rows = a.query("user-counts", None, None).unwrap().num_rows() + b.query("user-counts", None, None).unwrap().num_rows();
    assert_eq!(rows, USERS);
    assert!(a.query("no-such-store", None, None).unwrap_err().to_string().contains("queryable stores: user-counts"));

    // a leaves: b takes every task over, restoring a's stores from the
    // changelogs, and the counts continue from where a committed them.
    a.close().unwrap();
    wait_for("b to own every task", Duration::from_secs(30), || b.local_tasks().len() == 8);
    load(&log, 4_000, 5_000);
    b.wait_until_idle(Duration::from_secs(30)).unwrap();
    assert_eq!(table(&log), expected(5_000), "after the takeover");
    // b answers for every key now, with the state it took over.
    for (user, counts) in expected(5_000) {
        assert_eq!(lookup(&b, &user), Some(counts));
    }
    assert_eq!(b.instances().len(), 1);
    b.close().unwrap();
}

#[test]
fn a_crashed_instance_loses_its_tasks_to_the_survivor_after_its_session_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let log = new_log(dir.path());
    load(&log, 0, 2_000);

    let a = start(&log, config(dir.path(), "a"));
    a.wait_until_idle(Duration::from_secs(30)).unwrap();
    let b = start(&log, config(dir.path(), "b"));
    wait_for("the tasks to be split", Duration::from_secs(30), || {
        a.local_tasks().len() == 4 && b.local_tasks().len() == 4
    });
    load(&log, 2_000, 3_000);
    // Crash a mid-flight: no final commit, no LeaveGroup.
    std::thread::sleep(Duration::from_millis(5));
    a.kill();
    load(&log, 3_000, 4_000);
    // The group notices when a's session (6 s) expires.
    wait_for("b to own every task", Duration::from_secs(30), || b.local_tasks().len() == 8);
    b.wait_until_idle(Duration::from_secs(30)).unwrap();
    b.close().unwrap();

    // At-least-once: every user is there and no count is below the truth
    // (what a processed after its last commit is processed again).
    let got = table(&log);
    let want = expected(4_000);
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
    for (user, (n, _)) in &want {
        assert!(got[user].0 >= *n, "{user} lost input: {} < {n}", got[user].0);
    }
}
