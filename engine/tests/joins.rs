//! Joins through the TestDriver: stream-table, table-table, stream-stream
//! (windowed, with grace and late rows) and foreign-key joins, plus oracle
//! tests that check stream-table LEFT and stream-stream INNER joins on
//! random out-of-order input against a naive recomputation.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use riffle_engine::format::{JsonFormat, KafkaFormat};
use riffle_engine::plan::{Expr, JoinKind, JoinWindow, LogicalPlan, TimestampSpec};
use riffle_engine::testing::OutputRecord;
use riffle_engine::{PlanBuilder, TestDriver};
use serde_json::{json, Value};

fn key_field() -> Field {
    Field::new("id", DataType::Utf8, true)
}

fn source(topic: &str, table: bool, values: &[(&str, DataType)]) -> PlanBuilder {
    let value = Schema::new(values.iter().map(|(n, t)| Field::new(*n, t.clone(), true)).collect::<Vec<_>>());
    let (k, v) = (Arc::new(KafkaFormat), Arc::new(JsonFormat));
    let b = if table {
        PlanBuilder::table(topic, k, v, &[key_field()], value, TimestampSpec::Record)
    } else {
        PlanBuilder::stream(topic, k, v, &[key_field()], value, TimestampSpec::Record)
    };
    b.unwrap()
}

fn sink(b: PlanBuilder) -> Arc<LogicalPlan> {
    b.sink("out", Arc::new(KafkaFormat), Arc::new(JsonFormat)).unwrap().build()
}

/// (key, value or None for a tombstone, timestamp) of each output record.
fn rows(out: &[OutputRecord]) -> Vec<(String, Option<Value>, i64)> {
    out.iter().map(|r| (r.key_str().unwrap_or_default(), r.value_json(), r.timestamp)).collect()
}

fn pipe(d: &mut TestDriver, topic: &str, key: &str, value: Option<Value>, ts: i64) {
    let v = value.map(|v| v.to_string().into_bytes());
    d.pipe(topic, Some(key.as_bytes()), v.as_deref(), ts).unwrap();
}

fn stream_table(kind: JoinKind) -> Arc<LogicalPlan> {
    let s = source("clicks", false, &[("amount", DataType::Int64)]);
    let t = source("users", true, &[("name", DataType::Utf8)]);
    sink(s.join(t, kind, None).unwrap())
}

#[test]
fn stream_table_inner_join_looks_up_the_table_as_of_each_event() {
    let mut d = TestDriver::new("st-inner", &[stream_table(JoinKind::Inner)]).unwrap();
    pipe(&mut d, "users", "a", Some(json!({"name": "A1"})), 0);
    pipe(&mut d, "clicks", "a", Some(json!({"amount": 1})), 10);
    pipe(&mut d, "clicks", "b", Some(json!({"amount": 2})), 11);
    pipe(&mut d, "users", "a", Some(json!({"name": "A2"})), 20);
    pipe(&mut d, "clicks", "a", Some(json!({"amount": 3})), 30);
    pipe(&mut d, "users", "a", None, 40);
    pipe(&mut d, "clicks", "a", Some(json!({"amount": 4})), 50);
    assert_eq!(
        rows(&d.read_output("out").unwrap()),
        vec![
            ("a".into(), Some(json!({"amount": 1, "name": "A1"})), 10),
            ("a".into(), Some(json!({"amount": 3, "name": "A2"})), 30),
        ]
    );
}

#[test]
fn stream_table_left_join_emits_nulls_for_missing_rows_and_table_updates_emit_nothing() {
    let mut d = TestDriver::new("st-left", &[stream_table(JoinKind::Left)]).unwrap();
    pipe(&mut d, "users", "a", Some(json!({"name": "A1"})), 0);
    assert!(d.read_output("out").unwrap().is_empty());
    pipe(&mut d, "clicks", "a", Some(json!({"amount": 1})), 10);
    pipe(&mut d, "clicks", "b", Some(json!({"amount": 2})), 11);
    pipe(&mut d, "users", "a", None, 12);
    pipe(&mut d, "clicks", "a", Some(json!({"amount": 3})), 13);
    assert_eq!(
        rows(&d.read_output("out").unwrap()),
        vec![
            ("a".into(), Some(json!({"amount": 1, "name": "A1"})), 10),
            ("b".into(), Some(json!({"amount": 2, "name": null})), 11),
            ("a".into(), Some(json!({"amount": 3, "name": null})), 13),
        ]
    );
}

fn table_table(kind: JoinKind) -> Arc<LogicalPlan> {
    let l = source("left", true, &[("l", DataType::Utf8)]);
    let r = source("right", true, &[("r", DataType::Utf8)]);
    sink(l.join(r, kind, None).unwrap())
}

/// Left and right updates of one key, in the order of ksqlDB's
/// `table to table` golden test.
fn table_table_script(d: &mut TestDriver) {
    pipe(d, "left", "k", Some(json!({"l": "a"})), 0);
    pipe(d, "right", "k", Some(json!({"r": "b"})), 10);
    pipe(d, "left", "k", Some(json!({"l": "c"})), 20);
    pipe(d, "right", "k", None, 30);
    pipe(d, "left", "k", None, 40);
    pipe(d, "right", "k", Some(json!({"r": "d"})), 50);
    pipe(d, "right", "k", None, 60);
}

#[test]
fn table_table_inner_join_emits_rows_and_deletes_when_the_match_goes() {
    let mut d = TestDriver::new("tt-inner", &[table_table(JoinKind::Inner)]).unwrap();
    table_table_script(&mut d);
    assert_eq!(
        rows(&d.read_output("out").unwrap()),
        vec![
            ("k".into(), Some(json!({"l": "a", "r": "b"})), 10),
            ("k".into(), Some(json!({"l": "c", "r": "b"})), 20),
            ("k".into(), None, 30),
        ]
    );
}

#[test]
fn table_table_left_join_follows_the_left_side() {
    let mut d = TestDriver::new("tt-left", &[table_table(JoinKind::Left)]).unwrap();
    table_table_script(&mut d);
    assert_eq!(
        rows(&d.read_output("out").unwrap()),
        vec![
            ("k".into(), Some(json!({"l": "a", "r": null})), 0),
            ("k".into(), Some(json!({"l": "a", "r": "b"})), 10),
            ("k".into(), Some(json!({"l": "c", "r": "b"})), 20),
            ("k".into(), Some(json!({"l": "c", "r": null})), 30),
            ("k".into(), None, 40),
        ]
    );
}

#[test]
fn table_table_outer_join_deletes_only_when_both_sides_are_gone() {
    let mut d = TestDriver::new("tt-outer", &[table_table(JoinKind::Outer)]).unwrap();
    table_table_script(&mut d);
    assert_eq!(
        rows(&d.read_output("out").unwrap()),
        vec![
            ("k".into(), Some(json!({"l": "a", "r": null})), 0),
            ("k".into(), Some(json!({"l": "a", "r": "b"})), 10),
            ("k".into(), Some(json!({"l": "c", "r": "b"})), 20),
            ("k".into(), Some(json!({"l": "c", "r": null})), 30),
            ("k".into(), None, 40),
            ("k".into(), Some(json!({"l": null, "r": "d"})), 50),
            ("k".into(), None, 60),
        ]
    );
}

#[test]
fn table_table_output_time_is_the_later_of_the_two_rows() {
    let mut d = TestDriver::new("tt-time", &[table_table(JoinKind::Inner)]).unwrap();
    pipe(&mut d, "right", "k", Some(json!({"r": "b"})), 100);
    pipe(&mut d, "left", "k", Some(json!({"l": "a"})), 50);
    assert_eq!(rows(&d.read_output("out").unwrap()), vec![("k".into(), Some(json!({"l": "a", "r": "b"})), 100)]);
}

fn stream_stream(kind: JoinKind, before: i64, after: i64, grace: i64) -> Arc<LogicalPlan> {
    let l = source("left", false, &[("lv", DataType::Int64)]);
    let r = source("right", false, &[("rv", DataType::Int64)]);
    let w = JoinWindow { before_ms: before, after_ms: after, grace_ms: grace, eager: false };
    sink(l.join(r, kind, Some(w)).unwrap())
}

#[test]
fn stream_stream_inner_join_pairs_rows_within_the_window_both_ways() {
    let mut d = TestDriver::new("ss-inner", &[stream_stream(JoinKind::Inner, 10, 20, 100)]).unwrap();
    pipe(&mut d, "left", "k", Some(json!({"lv": 1})), 100);
    // Right rows may be 10 ms before and 20 ms after the left one.
    pipe(&mut d, "right", "k", Some(json!({"rv": 1})), 89);
    pipe(&mut d, "right", "k", Some(json!({"rv": 2})), 90);
    pipe(&mut d, "right", "k", Some(json!({"rv": 3})), 120);
    pipe(&mut d, "right", "k", Some(json!({"rv": 4})), 121);
    pipe(&mut d, "right", "other", Some(json!({"rv": 5})), 100);
    // A left row joins the buffered right rows in [t - 10, t + 20].
    pipe(&mut d, "left", "k", Some(json!({"lv": 2})), 111);
    assert_eq!(
        rows(&d.read_output("out").unwrap()),
        vec![
            ("k".into(), Some(json!({"lv": 1, "rv": 2})), 100),
            ("k".into(), Some(json!({"lv": 1, "rv": 3})), 120),
            ("k".into(), Some(json!({"lv": 2, "rv": 3})), 120),
            ("k".into(), Some(json!({"lv": 2, "rv": 4})), 121),
        ]
    );
}

#[test]
fn stream_stream_inner_join_drops_and_counts_rows_after_their_window_closed() {
    let mut d = TestDriver::new("ss-late", &[stream_stream(JoinKind::Inner, 10, 10, 5)]).unwrap();
    pipe(&mut d, "left", "k", Some(json!({"lv": 1})), 100);
    pipe(&mut d, "right", "x", Some(json!({"rv": 0})), 200);
    // Right at 105: its window [95, 115] closed at 105 + 10 + 5 < 200.
    pipe(&mut d, "right", "k", Some(json!({"rv": 1})), 105);
    assert!(d.read_output("out").unwrap().is_empty());
    assert_eq!(d.metrics().late_records, 1);
}

#[test]
fn stream_stream_left_join_emits_unmatched_rows_only_after_the_window_closes() {
    let mut d = TestDriver::new("ss-left", &[stream_stream(JoinKind::Left, 10, 10, 5)]).unwrap();
    pipe(&mut d, "left", "a", Some(json!({"lv": 1})), 100);
    pipe(&mut d, "left", "b", Some(json!({"lv": 2})), 101);
    // Within grace: joins, so "a" never comes out unjoined.
    pipe(&mut d, "right", "a", Some(json!({"rv": 1})), 108);
    assert_eq!(rows(&d.read_output("out").unwrap()), vec![("a".into(), Some(json!({"lv": 1, "rv": 1})), 108)]);
    // Stream time 116 = 101 + 10 + 5: "b"'s window is still open.
    pipe(&mut d, "right", "z", Some(json!({"rv": 9})), 116);
    assert!(d.read_output("out").unwrap().is_empty());
    // 117 closes it: "b" comes out with the right side NULL, at its own time.
    pipe(&mut d, "right", "z", Some(json!({"rv": 9})), 117);
    assert_eq!(rows(&d.read_output("out").unwrap()), vec![("b".into(), Some(json!({"lv": 2, "rv": null})), 101)]);
    // A late left row comes out at once, unjoined; a late right row is dropped.
    pipe(&mut d, "left", "c", Some(json!({"lv": 3})), 50);
    pipe(&mut d, "right", "c", Some(json!({"rv": 3})), 50);
    assert_eq!(rows(&d.read_output("out").unwrap()), vec![("c".into(), Some(json!({"lv": 3, "rv": null})), 50)]);
    assert_eq!(d.metrics().late_records, 1);
}

#[test]
fn stream_stream_outer_join_reproduces_the_ksqldb_grace_period_case() {
    // ksqlDB's "stream stream full outer join with out of order and custom
    // grace period": WITHIN 1 minute GRACE PERIOD 1 minute.
    let mut d = TestDriver::new("ss-outer", &[stream_stream(JoinKind::Outer, 60_000, 60_000, 60_000)]).unwrap();
    pipe(&mut d, "left", "0", Some(json!({"lv": 0})), 0);
    pipe(&mut d, "right", "0", Some(json!({"rv": 0})), 60_000);
    pipe(&mut d, "right", "1", Some(json!({"rv": 1})), 330_000);
    pipe(&mut d, "right", "2", Some(json!({"rv": 2})), 90_000);
    pipe(&mut d, "left", "2", Some(json!({"lv": 2})), 90_000);
    pipe(&mut d, "right", "3", Some(json!({"rv": 3})), 60_000);
    pipe(&mut d, "left", "3", Some(json!({"lv": 3})), 60_000);
    assert_eq!(
        rows(&d.read_output("out").unwrap()),
        vec![
            ("0".into(), Some(json!({"lv": 0, "rv": 0})), 60_000),
            ("2".into(), Some(json!({"lv": null, "rv": 2})), 90_000),
            ("2".into(), Some(json!({"lv": 2, "rv": null})), 90_000),
            ("3".into(), Some(json!({"lv": null, "rv": 3})), 60_000),
            ("3".into(), Some(json!({"lv": 3, "rv": null})), 60_000),
        ]
    );
}

#[test]
fn stream_stream_outer_join_emits_both_sides_unmatched_after_close() {
    let mut d = TestDriver::new("ss-outer2", &[stream_stream(JoinKind::Outer, 5, 5, 0)]).unwrap();
    pipe(&mut d, "left", "a", Some(json!({"lv": 1})), 10);
    pipe(&mut d, "right", "b", Some(json!({"rv": 2})), 11);
    pipe(&mut d, "right", "z", Some(json!({"rv": 0})), 100);
    let mut got = rows(&d.read_output("out").unwrap());
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![("a".into(), Some(json!({"lv": 1, "rv": null})), 10), ("b".into(), Some(json!({"lv": null, "rv": 2})), 11)]
    );
}

fn fk_join(kind: JoinKind) -> Arc<LogicalPlan> {
    let l = source("orders", true, &[("name", DataType::Utf8), ("fk", DataType::Utf8)]);
    let r = source("products", true, &[("f1", DataType::Utf8)]);
    sink(l.foreign_key_join(r, Expr::col("fk"), kind).unwrap())
}

#[test]
fn foreign_key_inner_join_reproduces_the_ksqldb_golden_case() {
    let mut d = TestDriver::new("fk-inner", &[fk_join(JoinKind::Inner)]).unwrap();
    pipe(&mut d, "products", "0", Some(json!({"f1": "blah"})), 0);
    pipe(&mut d, "orders", "1", Some(json!({"name": "zero", "fk": "0"})), 10_000);
    pipe(&mut d, "orders", "0", Some(json!({"name": "foo", "fk": "100"})), 13_000);
    pipe(&mut d, "products", "0", Some(json!({"f1": "a"})), 15_000);
    pipe(&mut d, "orders", "10", Some(json!({"name": "bar", "fk": "0"})), 16_000);
    pipe(&mut d, "products", "0", None, 17_000);
    pipe(&mut d, "orders", "1", None, 18_000);
    assert_eq!(
        rows(&d.read_output("out").unwrap()),
        vec![
            ("1".into(), Some(json!({"name": "zero", "fk": "0", "f1": "blah"})), 10_000),
            ("1".into(), Some(json!({"name": "zero", "fk": "0", "f1": "a"})), 15_000),
            ("10".into(), Some(json!({"name": "bar", "fk": "0", "f1": "a"})), 16_000),
            ("1".into(), None, 17_000),
            ("10".into(), None, 17_000),
            ("1".into(), None, 18_000),
        ]
    );
}

#[test]
fn foreign_key_left_join_follows_foreign_key_changes() {
    let mut d = TestDriver::new("fk-left", &[fk_join(JoinKind::Left)]).unwrap();
    pipe(&mut d, "orders", "1", Some(json!({"name": "zero", "fk": "0"})), 0);
    pipe(&mut d, "products", "0", Some(json!({"f1": "blah"})), 10_000);
    pipe(&mut d, "products", "5", Some(json!({"f1": "five"})), 11_000);
    // The foreign key moves: the old product no longer updates this row.
    pipe(&mut d, "orders", "1", Some(json!({"name": "zero", "fk": "5"})), 12_000);
    pipe(&mut d, "products", "0", Some(json!({"f1": "ignored"})), 13_000);
    pipe(&mut d, "products", "5", None, 14_000);
    pipe(&mut d, "orders", "1", None, 15_000);
    assert_eq!(
        rows(&d.read_output("out").unwrap()),
        vec![
            ("1".into(), Some(json!({"name": "zero", "fk": "0", "f1": null})), 0),
            ("1".into(), Some(json!({"name": "zero", "fk": "0", "f1": "blah"})), 10_000),
            ("1".into(), Some(json!({"name": "zero", "fk": "5", "f1": "five"})), 12_000),
            ("1".into(), Some(json!({"name": "zero", "fk": "5", "f1": null})), 14_000),
            ("1".into(), None, 15_000),
        ]
    );
}

#[test]
fn foreign_key_join_refuses_multi_partition_inputs() {
    let mut d = TestDriver::with_config("fk-parts", &[fk_join(JoinKind::Inner)], 2, false).unwrap();
    let err = d.pipe("orders", Some(b"1"), Some(br#"{"name":"x","fk":"0"}"#), 0).unwrap_err();
    assert!(err.to_string().contains("one partition"), "{err}");
}

// ---- oracles -------------------------------------------------------------

/// One input event of an oracle run.
#[derive(Debug, Clone)]
struct Event {
    right: bool,
    key: String,
    /// `None`: a table tombstone.
    value: Option<i64>,
    ts: i64,
}

/// Random events: keys from a small set, timestamps drifting upwards with
/// out-of-order jitter.
fn events(seed: u64, n: usize, tombstones: bool) -> Vec<Event> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut base = 1_000i64;
    (0..n)
        .map(|i| {
            base += rng.gen_range(0..20);
            let value = if tombstones && rng.gen_bool(0.15) { None } else { Some(i as i64) };
            Event {
                right: rng.gen_bool(0.5),
                key: format!("k{}", rng.gen_range(0..5)),
                value,
                ts: (base - rng.gen_range(0..60)).max(0),
            }
        })
        .collect()
}

/// Pipes `events` in order, several consecutive events of one side at once
/// (one Arrow batch), so operators see multi-row batches.
fn pipe_all(d: &mut TestDriver, events: &[Event], left_value: &str, right_value: &str, left: &str, right: &str) {
    let mut i = 0;
    let mut rng = StdRng::seed_from_u64(7);
    while i < events.len() {
        let side = events[i].right;
        let mut j = i + 1;
        let max = rng.gen_range(1..6);
        while j < events.len() && j - i < max && events[j].right == side {
            j += 1;
        }
        let (topic, field) = if side { (right, right_value) } else { (left, left_value) };
        let payloads: Vec<Option<Vec<u8>>> =
            events[i..j].iter().map(|e| e.value.map(|v| json!({ field: v }).to_string().into_bytes())).collect();
        let recs: Vec<(Option<&[u8]>, Option<&[u8]>, i64)> =
            events[i..j].iter().zip(&payloads).map(|(e, p)| (Some(e.key.as_bytes()), p.as_deref(), e.ts)).collect();
        d.pipe_batch(topic, &recs).unwrap();
        i = j;
    }
}

#[test]
fn stream_table_left_join_matches_a_naive_recomputation() {
    for seed in 0..4u64 {
        let evs = events(seed, 300, true);
        // Stream rows never carry tombstones.
        let evs: Vec<Event> = evs.into_iter().filter(|e| e.right || e.value.is_some()).collect();
        let l = source("stream", false, &[("sv", DataType::Int64)]);
        let r = source("table", true, &[("tv", DataType::Int64)]);
        let plan = sink(l.join(r, JoinKind::Left, None).unwrap());
        let mut d = TestDriver::new(&format!("st-oracle-{seed}"), &[plan]).unwrap();
        pipe_all(&mut d, &evs, "sv", "tv", "stream", "table");
        let mut table: HashMap<String, i64> = HashMap::new();
        let mut expected = Vec::new();
        for e in &evs {
            if e.right {
                match e.value {
                    Some(v) => table.insert(e.key.clone(), v),
                    None => table.remove(&e.key),
                };
            } else {
                let tv = table.get(&e.key).map_or(Value::Null, |v| json!(v));
                expected.push((e.key.clone(), Some(json!({"sv": e.value, "tv": tv})), e.ts));
            }
        }
        assert_eq!(rows(&d.read_output("out").unwrap()), expected, "seed {seed}");
    }
}

#[test]
fn stream_stream_inner_join_matches_a_naive_recomputation() {
    let (before, after, grace) = (25i64, 40i64, 15i64);
    for seed in 10..14u64 {
        let evs = events(seed, 300, false);
        let plan = stream_stream(JoinKind::Inner, before, after, grace);
        let mut d = TestDriver::new(&format!("ss-oracle-{seed}"), &[plan]).unwrap();
        pipe_all(&mut d, &evs, "lv", "rv", "left", "right");
        // Naive: a row is late when its window (end + grace) has passed
        // stream time; every pair of rows that are not late and lie within
        // the window of each other is joined once.
        let mut observed = i64::MIN;
        let mut kept: Vec<&Event> = Vec::new();
        let mut late = 0;
        for e in &evs {
            observed = observed.max(e.ts);
            let end = if e.right { before } else { after };
            if e.ts + end + grace < observed {
                late += 1;
            } else {
                kept.push(e);
            }
        }
        let mut expected = Vec::new();
        for l in kept.iter().filter(|e| !e.right) {
            for r in kept.iter().filter(|e| e.right && e.key == l.key) {
                if l.ts - before <= r.ts && r.ts <= l.ts + after {
                    expected.push((l.key.clone(), Some(json!({"lv": l.value, "rv": r.value})), l.ts.max(r.ts)));
                }
            }
        }
        let mut got = rows(&d.read_output("out").unwrap());
        let key = |r: &(String, Option<Value>, i64)| (r.0.clone(), r.1.as_ref().map(Value::to_string), r.2);
        got.sort_by_key(key);
        expected.sort_by_key(key);
        assert!(!expected.is_empty() && late > 0, "seed {seed}: the input should exercise joins and late rows");
        assert_eq!(got.len(), expected.len(), "seed {seed}");
        assert_eq!(got, expected, "seed {seed}");
        assert_eq!(d.metrics().late_records, late, "seed {seed}");
    }
}
