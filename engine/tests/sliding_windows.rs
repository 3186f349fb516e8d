//! Sliding-window aggregation (Kafka Streams' `SlidingWindows`) through the
//! DSL and the TestDriver: a count, Kafka Streams' own expected outputs for
//! `KStreamSlidingWindowAggregateTest` (update order and values, emit
//! final), late records, EXPLAIN, and a restart that restores the stores
//! from their changelogs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::{DataType, Field, Schema};
use bytes::Bytes;
use riffle_engine::dsl::{KStream, KTable, SlidingWindows, StreamsBuilder, Suppressed, TestRecord, Windowed};
use riffle_engine::format::{JsonFormat, KafkaFormat};
use riffle_engine::plan::{AggFunc, Expr, TimestampSpec, WindowSpec};
use riffle_engine::{PlanBuilder, StreamsApp, StreamsConfig};
use riffle_log::client::LogClient;
use riffle_log::{Log, LogConfig, Record, TopicConfig};

type Res = anyhow::Result<()>;

/// An output row: key, window start, window end, value, timestamp.
type Row<V> = (String, i64, i64, V, i64);

fn rows<V>(out: Vec<TestRecord<Windowed<String>, V>>) -> Vec<Row<V>> {
    out.into_iter().filter_map(|r| r.value.map(|v| (r.key.key, r.key.start, r.key.end, v, r.timestamp))).collect()
}

#[test]
fn a_sliding_count_emits_every_window_update_in_kafka_order() -> Res {
    let builder = StreamsBuilder::new();
    let clicks: KStream<String, String> = builder.stream("clicks");
    let counts: KTable<Windowed<String>, i64> = clicks
        .group_by_key()
        .windowed_by(SlidingWindows::of_time_difference_and_grace(Duration::from_millis(10), Duration::from_millis(5)))
        .count();
    counts.to_stream().to("counts");
    let mut d = builder.test_driver("sliding-count")?;
    for t in [10, 10, 14, 15, 20, 22, 30] {
        d.pipe_input("clicks", "A".to_string(), "click".to_string(), t)?;
    }
    let w = |start: i64, n: i64, ts: i64| ("A".to_string(), start, start + 10, n, ts);
    assert_eq!(
        rows(d.read_output::<Windowed<String>, i64>("counts")?),
        vec![
            w(0, 1, 10),
            w(0, 2, 10),
            // 14: 10's right window, then 14's left window.
            w(11, 1, 14),
            w(4, 3, 14),
            // 15: [11, 21] holds it; 14's right window; 15's left window.
            w(11, 2, 15),
            w(15, 1, 15),
            w(5, 4, 15),
            w(15, 2, 20),
            w(11, 3, 20),
            w(16, 1, 20),
            w(10, 5, 20),
            w(16, 2, 22),
            w(15, 3, 22),
            w(21, 1, 22),
            w(12, 4, 22),
            w(21, 2, 30),
            w(23, 1, 30),
            w(20, 3, 30),
        ]
    );
    Ok(())
}

/// Kafka Streams' `testAggregateLargeInput` input: keys A to D, d = 10,
/// out-of-order records, string aggregates `0+v1+v2…`.
fn kafka_large_input(grace_ms: u64, emit_final: bool) -> anyhow::Result<Vec<Row<String>>> {
    let builder = StreamsBuilder::new();
    let input: KStream<String, String> = builder.stream("topic1");
    let table: KTable<Windowed<String>, String> = input
        .group_by_key()
        .windowed_by(SlidingWindows::of_time_difference_and_grace(Duration::from_millis(10), Duration::from_millis(grace_ms)))
        .aggregate(|| "0".to_string(), |_k, v: &String, agg: String| format!("{agg}+{v}"));
    let table = if emit_final { table.suppress(Suppressed::until_window_closes()) } else { table };
    table.to_stream().to("out");
    let mut d = builder.test_driver("sliding-kafka-large")?;
    let input = [
        ("A", "1", 10),
        ("A", "2", 20),
        ("A", "3", 22),
        ("A", "4", 15),
        ("B", "1", 12),
        ("B", "2", 13),
        ("B", "3", 18),
        ("B", "4", 19),
        ("B", "5", 25),
        ("B", "6", 14),
        ("C", "1", 11),
        ("C", "2", 15),
        ("C", "3", 16),
        ("C", "4", 21),
        ("C", "5", 23),
        ("D", "4", 11),
        ("D", "2", 12),
        ("D", "3", 29),
        ("D", "5", 16),
    ];
    for (k, v, t) in input {
        d.pipe_input("topic1", k.to_string(), v.to_string(), t)?;
    }
    let mut out = rows(d.read_output::<Windowed<String>, String>("out")?);
    // As Kafka's test: sorted by key and window start, updates of one
    // window in emission order.
    out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    Ok(out)
}

fn expected(rows: &[(&str, i64, &str, i64)]) -> Vec<Row<String>> {
    rows.iter().map(|&(k, s, v, ts)| (k.to_string(), s, s + 10, v.to_string(), ts)).collect()
}

#[test]
fn kafka_large_input_with_every_update() -> Res {
    // Grace 50: no window closes, so this is exactly Kafka Streams' output.
    let want = expected(&[
        ("A", 0, "0+1", 10),
        ("A", 5, "0+1+4", 15),
        ("A", 10, "0+1+2", 20),
        ("A", 10, "0+1+2+4", 20),
        ("A", 11, "0+2", 20),
        ("A", 11, "0+2+4", 20),
        ("A", 12, "0+2+3", 22),
        ("A", 12, "0+2+3+4", 22),
        ("A", 16, "0+2+3", 22),
        ("A", 21, "0+3", 22),
        ("B", 2, "0+1", 12),
        ("B", 3, "0+1+2", 13),
        ("B", 4, "0+1+2+6", 14),
        ("B", 8, "0+1+2+3", 18),
        ("B", 8, "0+1+2+3+6", 18),
        ("B", 9, "0+1+2+3+4", 19),
        ("B", 9, "0+1+2+3+4+6", 19),
        ("B", 13, "0+2", 13),
        ("B", 13, "0+2+3", 18),
        ("B", 13, "0+2+3+4", 19),
        ("B", 13, "0+2+3+4+6", 19),
        ("B", 14, "0+3", 18),
        ("B", 14, "0+3+4", 19),
        ("B", 14, "0+3+4+6", 19),
        ("B", 15, "0+3+4+5", 25),
        ("B", 19, "0+4", 19),
        ("B", 19, "0+4+5", 25),
        ("B", 20, "0+5", 25),
        ("C", 1, "0+1", 11),
        ("C", 5, "0+1+2", 15),
        ("C", 6, "0+1+2+3", 16),
        ("C", 11, "0+1+2+3+4", 21),
        ("C", 12, "0+2", 15),
        ("C", 12, "0+2+3", 16),
        ("C", 12, "0+2+3+4", 21),
        ("C", 13, "0+2+3+4+5", 23),
        ("C", 16, "0+3", 16),
        ("C", 16, "0+3+4", 21),
        ("C", 16, "0+3+4+5", 23),
        ("C", 17, "0+4", 21),
        ("C", 17, "0+4+5", 23),
        ("C", 22, "0+5", 23),
        ("D", 1, "0+4", 11),
        ("D", 2, "0+4+2", 12),
        ("D", 6, "0+4+2+5", 16),
        ("D", 12, "0+2", 12),
        ("D", 12, "0+2+5", 16),
        ("D", 13, "0+5", 16),
        ("D", 19, "0+3", 29),
    ]);
    assert_eq!(kafka_large_input(50, false)?, want);
    Ok(())
}

#[test]
fn kafka_large_input_with_final_results() -> Res {
    // Grace 10: windows ending before stream time − 10 are final. Kafka
    // Streams expects C's [5, 15] = "0+2" and [6, 16] = "0+2+3": C@11
    // arrived when all its own windows had closed and Kafka forgets it.
    // Here every accepted record counts in every window of its range.
    let want = expected(&[
        ("A", 0, "0+1", 10),
        ("A", 5, "0+1+4", 15),
        ("B", 2, "0+1", 12),
        ("B", 3, "0+1+2", 13),
        ("B", 8, "0+1+2+3+6", 18),
        ("C", 5, "0+1+2", 15),
        ("C", 6, "0+1+2+3", 16),
    ]);
    assert_eq!(kafka_large_input(10, true)?, want);
    Ok(())
}

#[test]
fn late_records_are_dropped_and_counted() -> Res {
    let builder = StreamsBuilder::new();
    let clicks: KStream<String, String> = builder.stream("clicks");
    clicks
        .group_by_key()
        .windowed_by(SlidingWindows::of_time_difference_with_no_grace(Duration::from_millis(10)))
        .count()
        .to_stream()
        .to("counts");
    let mut d = builder.test_driver("sliding-late")?;
    d.pipe_input("clicks", "A".to_string(), "x".to_string(), 100)?;
    d.read_output::<Windowed<String>, i64>("counts")?;
    // Stream time 100, no grace: 89 + 10 < 100, even 89's right window
    // [90, 100] has closed.
    d.pipe_input("clicks", "B".to_string(), "x".to_string(), 89)?;
    assert!(d.read_output::<Windowed<String>, i64>("counts")?.is_empty());
    assert_eq!(d.metrics().late_records, 1);
    // 99 is accepted: its left window [89, 99] has closed (not emitted), but
    // 100's left window [90, 100] is open and 99's new right window
    // [100, 110] holds 100.
    d.pipe_input("clicks", "A".to_string(), "x".to_string(), 99)?;
    assert_eq!(
        rows(d.read_output::<Windowed<String>, i64>("counts")?),
        vec![("A".to_string(), 90, 100, 2, 100), ("A".to_string(), 100, 110, 1, 100)]
    );
    assert_eq!(d.metrics().late_records, 1);
    Ok(())
}

#[test]
fn explain_shows_the_sliding_window() -> Res {
    let builder = StreamsBuilder::new();
    let clicks: KStream<String, String> = builder.stream("clicks");
    clicks
        .group_by_key()
        .windowed_by(SlidingWindows::of_time_difference_and_grace(Duration::from_secs(10), Duration::from_secs(2)))
        .count()
        .to_stream()
        .to("counts");
    let text = builder.describe()?;
    assert!(text.contains("window=SLIDING(difference=10000ms, grace=2000ms)"), "{text}");
    Ok(())
}

#[test]
fn a_zero_time_difference_is_a_plan_error() {
    let builder = StreamsBuilder::new();
    let clicks: KStream<String, String> = builder.stream("clicks");
    clicks.group_by_key().windowed_by(SlidingWindows::of_time_difference_with_no_grace(Duration::ZERO)).count().to_stream().to("c");
    let err = builder.plans().unwrap_err().to_string();
    assert!(err.contains("time difference must be positive"), "{err}");
}

// ---- restart: stores restored from their changelogs ----

/// Records `from..to` of a stream mostly in time order, every 7th 400 ms
/// behind (late with d = 100, grace = 100), every 5th 120 ms behind (in
/// grace, its left window often closed).
fn load(log: &Log, from: usize, to: usize) {
    for i in from..to {
        let user = format!("u{}", i % 5);
        let mut ts = i as i64 * 30;
        if i % 7 == 3 {
            ts -= 400;
        } else if i % 5 == 1 {
            ts -= 120;
        }
        let v = format!(r#"{{"user":"{user}","amount":{}}}"#, i % 11);
        let rec = Record { key: None, value: Some(Bytes::from(v)), timestamp: Some(ts.max(0)), headers: vec![] };
        log.append("ev", 0, &[rec]).unwrap();
    }
}

fn plan(out: &str, final_only: bool) -> Arc<riffle_engine::plan::LogicalPlan> {
    let value = Schema::new(vec![Field::new("user", DataType::Utf8, true), Field::new("amount", DataType::Int64, true)]);
    let b = PlanBuilder::stream("ev", Arc::new(KafkaFormat), Arc::new(JsonFormat), &[], value, TimestampSpec::Record)
        .unwrap()
        .group_by(vec![(Expr::col("user"), "user".into())])
        .unwrap()
        .aggregate(
            Some(WindowSpec::sliding(100, 100)),
            vec![(AggFunc::CountStar, vec![], "n".into()), (AggFunc::Sum, vec![Expr::col("amount")], "total".into())],
        )
        .unwrap();
    let b = if final_only { b.suppress().unwrap() } else { b };
    b.to_stream().unwrap().sink(out, Arc::new(KafkaFormat), Arc::new(JsonFormat)).unwrap().build()
}

fn run_to_idle(log: &Arc<Log>, app: &str, out: &str, final_only: bool, state: &std::path::Path) {
    let mut c = StreamsConfig::new(app, state);
    c.commit_interval = Duration::from_millis(20);
    let mut a = StreamsApp::new(&[plan(out, final_only)], log.clone(), c).unwrap();
    a.start().unwrap();
    a.wait_until_idle(Duration::from_secs(60)).unwrap();
    a.close().unwrap();
}

/// Every record of a topic, in order: (key, value).
fn records(log: &Log, topic: &str) -> Vec<(Vec<u8>, serde_json::Value)> {
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let f = log.read(topic, 0, pos, 1 << 20).unwrap();
        if f.records.is_empty() {
            break;
        }
        for r in f.records {
            out.push((r.key.unwrap().to_vec(), serde_json::from_slice(&r.value.unwrap()).unwrap()));
        }
        pos = f.next_offset;
    }
    out
}

#[test]
fn a_restarted_app_restores_its_windows_and_stream_time_from_the_changelogs() {
    let apps = [("every-update", false), ("final", true)];
    // Straight: all 300 records in one run.
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Log::open(dir.path().join("log"), LogConfig::default()).unwrap());
    log.create_topic("ev", TopicConfig::with_partitions(1)).unwrap();
    load(&log, 0, 300);
    for (app, final_only) in apps {
        run_to_idle(&log, app, app, final_only, &dir.path().join(app));
    }
    // Split: the first 150 records, then the rest on an empty state
    // directory, so the windows, the stream time and the pending final
    // results all come back from their changelogs. Record 150 is late
    // only for a task that remembers the stream time.
    let dir2 = tempfile::tempdir().unwrap();
    let log2 = Arc::new(Log::open(dir2.path().join("log"), LogConfig::default()).unwrap());
    log2.create_topic("ev", TopicConfig::with_partitions(1)).unwrap();
    load(&log2, 0, 150);
    for (app, final_only) in apps {
        run_to_idle(&log2, app, app, final_only, &dir2.path().join(format!("{app}-first")));
    }
    load(&log2, 150, 300);
    for (app, final_only) in apps {
        run_to_idle(&log2, app, app, final_only, &dir2.path().join(format!("{app}-second")));
    }
    // Every update: the cache emits at commits, which follow the wall
    // clock, so compare the tables the updates describe.
    let table = |log: &Log| records(log, "every-update").into_iter().collect::<BTreeMap<_, _>>();
    let straight = table(&log);
    assert!(straight.len() > 100, "{} windows", straight.len());
    let split = table(&log2);
    let differ: Vec<_> = straight
        .keys()
        .chain(split.keys())
        .filter(|k| straight.get(*k) != split.get(*k))
        .map(|k| (String::from_utf8_lossy(k).into_owned(), straight.get(k), split.get(k)))
        .take(8)
        .collect();
    assert!(differ.is_empty(), "the restarted run's windows differ (window, straight, split): {differ:?}");
    // Final results do not depend on commits: the same records in the same
    // order, each window once.
    let finals = records(&log, "final");
    assert!(finals.len() > 100, "{} final results", finals.len());
    assert!(records(&log2, "final") == finals, "the restarted run's final results differ");
    let distinct: BTreeMap<_, _> = finals.iter().cloned().collect();
    assert_eq!(distinct.len(), finals.len());
}
