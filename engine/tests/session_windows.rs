//! Session-window aggregation through the TestDriver: merges (a bridging
//! record replaces two sessions), late records, emit-final, the cache, the
//! ksqlDB golden cases, and oracles against naive sessionization.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use riffle_engine::format::{JsonFormat, KafkaFormat};
use riffle_engine::plan::{AggFunc, Expr, LogicalPlan, TimestampSpec, WindowSpec};
use riffle_engine::testing::OutputRecord;
use riffle_engine::{PlanBuilder, TestDriver};
use serde_json::{json, Value};

/// `SELECT user, COUNT(*) AS n, SUM(v) AS total … WINDOW SESSION` (or
/// `MAX(v) AS m` with `max`).
fn sessions(gap: i64, grace: i64, final_only: bool, max: bool) -> Arc<LogicalPlan> {
    let value = Schema::new(vec![Field::new("v", DataType::Int64, true)]);
    let key = [Field::new("user", DataType::Utf8, true)];
    let aggs = if max {
        vec![(AggFunc::Max, vec![Expr::col("v")], "m".to_string())]
    } else {
        vec![(AggFunc::CountStar, vec![], "n".to_string()), (AggFunc::Sum, vec![Expr::col("v")], "total".to_string())]
    };
    let b = PlanBuilder::stream("clicks", Arc::new(KafkaFormat), Arc::new(JsonFormat), &key, value, TimestampSpec::Record)
        .unwrap()
        .aggregate(Some(WindowSpec::session(gap, grace)), aggs)
        .unwrap();
    let b = if final_only { b.suppress().unwrap() } else { b };
    b.to_stream().unwrap().sink("out", Arc::new(KafkaFormat), Arc::new(JsonFormat)).unwrap().build()
}

/// An output record: key, window start, window end, value (None: delete),
/// timestamp.
type Row = (String, i64, i64, Option<Value>, i64);

/// Splits a session key (`key | end | start`, 8-byte big-endian each).
fn row(r: &OutputRecord) -> Row {
    let k = r.key.as_ref().expect("session rows have keys");
    let n = k.len() - 16;
    let end = i64::from_be_bytes(k[n..n + 8].try_into().unwrap());
    let start = i64::from_be_bytes(k[n + 8..].try_into().unwrap());
    (String::from_utf8_lossy(&k[..n]).into_owned(), start, end, r.value_json(), r.timestamp)
}

fn output(d: &mut TestDriver) -> Vec<Row> {
    d.read_output("out").unwrap().iter().map(row).collect()
}

fn click(d: &mut TestDriver, user: &str, v: i64, ts: i64) {
    d.pipe("clicks", Some(user.as_bytes()), Some(json!({ "v": v }).to_string().as_bytes()), ts).unwrap();
}

fn r(user: &str, start: i64, end: i64, value: Option<Value>, ts: i64) -> Row {
    (user.to_string(), start, end, value, ts)
}

#[test]
fn a_bridging_record_merges_two_sessions_and_deletes_them() {
    let mut d = TestDriver::new("sess-merge", &[sessions(10, 100, false, false)]).unwrap();
    click(&mut d, "a", 1, 0);
    click(&mut d, "a", 2, 20);
    assert_eq!(
        output(&mut d),
        vec![r("a", 0, 0, Some(json!({"n": 1, "total": 1})), 0), r("a", 20, 20, Some(json!({"n": 1, "total": 2})), 20)]
    );
    // 10 is within the gap of both sessions: they become one.
    click(&mut d, "a", 4, 10);
    assert_eq!(
        output(&mut d),
        vec![r("a", 0, 0, None, 0), r("a", 20, 20, None, 20), r("a", 0, 20, Some(json!({"n": 3, "total": 7})), 20)]
    );
    // Inside a session: the session is rewritten (delete, then the new row).
    click(&mut d, "a", 8, 5);
    assert_eq!(output(&mut d), vec![r("a", 0, 20, None, 20), r("a", 0, 20, Some(json!({"n": 4, "total": 15})), 20)]);
    // Other keys never merge.
    click(&mut d, "b", 1, 12);
    assert_eq!(output(&mut d), vec![r("b", 12, 12, Some(json!({"n": 1, "total": 1})), 12)]);
}

#[test]
fn records_for_closed_sessions_are_dropped_and_counted() {
    let mut d = TestDriver::new("sess-late", &[sessions(10, 5, false, false)]).unwrap();
    click(&mut d, "a", 1, 0);
    click(&mut d, "b", 1, 100);
    output(&mut d);
    // Stream time 100: sessions ending before 100 - 10 - 5 = 85 are closed.
    click(&mut d, "a", 1, 5);
    click(&mut d, "a", 1, 84);
    assert!(output(&mut d).is_empty());
    assert_eq!(d.metrics().late_records, 2);
    click(&mut d, "a", 1, 85);
    assert_eq!(output(&mut d), vec![r("a", 85, 85, Some(json!({"n": 1, "total": 1})), 85)]);
}

#[test]
fn emit_final_reproduces_the_ksqldb_golden_case() {
    // ksqlDB's "should support final results for session windows":
    // SESSION (5 ms, GRACE PERIOD 6 ms) … EMIT FINAL.
    let mut d = TestDriver::new("sess-final", &[sessions(5, 6, true, false)]).unwrap();
    for ts in [0, 4, 8, 12, 14, 30, 29, 17, 42] {
        click(&mut d, "k1", 1, ts);
    }
    assert_eq!(
        output(&mut d),
        vec![r("k1", 0, 14, Some(json!({"n": 5, "total": 5})), 14), r("k1", 29, 30, Some(json!({"n": 2, "total": 2})), 30)]
    );
    assert_eq!(d.metrics().late_records, 1);
}

#[test]
fn out_of_order_records_follow_the_ksqldb_golden_cases() {
    // "out of order - no grace period" (ksqlDB's default grace: 24 hours).
    let input = [("0", 0, 0), ("0", 1, 70_010), ("0", 5, 10_009), ("0", 6, 10_010), ("1", 100, 10_009), ("1", 101, 10_010), ("1", 200, 86_412_022), ("1", 200, 60_000)];
    let mut d = TestDriver::new("sess-qtt1", &[sessions(30_000, 24 * 3_600_000, false, true)]).unwrap();
    for (k, v, ts) in input {
        click(&mut d, k, v, ts);
    }
    let m = |v: i64| Some(json!({ "m": v }));
    assert_eq!(
        output(&mut d),
        vec![
            r("0", 0, 0, m(0), 0),
            r("0", 70_010, 70_010, m(1), 70_010),
            r("0", 0, 0, None, 0),
            r("0", 0, 10_009, m(5), 10_009),
            r("0", 0, 10_009, None, 10_009),
            r("0", 0, 10_010, m(6), 10_010),
            r("1", 10_009, 10_009, m(100), 10_009),
            r("1", 10_009, 10_009, None, 10_009),
            r("1", 10_009, 10_010, m(101), 10_010),
            r("1", 86_412_022, 86_412_022, m(200), 86_412_022),
            r("1", 60_000, 60_000, m(200), 60_000),
        ]
    );
    // "out of order - explicit grace period": GRACE PERIOD 1 MINUTE.
    let input = [("0", 0, 0), ("0", 1, 100_010), ("0", 5, 10_009), ("0", 6, 10_010), ("1", 100, 10_009), ("1", 101, 10_010), ("1", 200, 86_412_022), ("1", 200, 60_000)];
    let mut d = TestDriver::new("sess-qtt2", &[sessions(30_000, 60_000, false, true)]).unwrap();
    for (k, v, ts) in input {
        click(&mut d, k, v, ts);
    }
    assert_eq!(
        output(&mut d),
        vec![
            r("0", 0, 0, m(0), 0),
            r("0", 100_010, 100_010, m(1), 100_010),
            r("0", 10_010, 10_010, m(6), 10_010),
            r("1", 10_010, 10_010, m(101), 10_010),
            r("1", 86_412_022, 86_412_022, m(200), 86_412_022),
        ]
    );
    assert_eq!(d.metrics().late_records, 3);
}

#[test]
fn with_the_cache_on_each_commit_emits_the_latest_sessions_only() {
    let mut d = TestDriver::with_config("sess-cache", &[sessions(10, 100, false, false)], 1, true).unwrap();
    let recs: Vec<(i64, Vec<u8>)> = [0, 5, 7].iter().map(|&t| (t, br#"{"v":1}"#.to_vec())).collect();
    let batch: Vec<(Option<&[u8]>, Option<&[u8]>, i64)> = recs.iter().map(|(t, v)| (Some(&b"a"[..]), Some(&v[..]), *t)).collect();
    d.pipe_batch("clicks", &batch).unwrap();
    // Sessions [0,0] and [0,5] lived only between two commits: never seen.
    assert_eq!(output(&mut d), vec![r("a", 0, 7, Some(json!({"n": 3, "total": 3})), 7)]);
    click(&mut d, "a", 1, 30);
    click(&mut d, "a", 1, 15);
    assert_eq!(
        output(&mut d),
        vec![
            r("a", 30, 30, Some(json!({"n": 1, "total": 1})), 30),
            r("a", 0, 7, None, 7),
            r("a", 0, 15, Some(json!({"n": 4, "total": 4})), 15),
        ]
    );
}

// ---- oracles -------------------------------------------------------------

/// Random clicks: a few users, timestamps drifting upwards with jitter.
fn clicks(seed: u64, n: usize) -> Vec<(String, i64, i64)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut base = 0i64;
    (0..n)
        .map(|i| {
            base += rng.gen_range(0..12);
            (format!("u{}", rng.gen_range(0..4)), i as i64, (base - rng.gen_range(0..40)).max(0))
        })
        .collect()
}

/// Offline sessionization: per key, sorted times split where the distance
/// exceeds the gap. `(key, start, end) → (count, sum)`.
fn naive_sessions(input: &[(String, i64, i64)], gap: i64) -> BTreeMap<(String, i64, i64), (i64, i64)> {
    let mut per_key: HashMap<&str, Vec<(i64, i64)>> = HashMap::new();
    for (k, v, t) in input {
        per_key.entry(k).or_default().push((*t, *v));
    }
    let mut out = BTreeMap::new();
    for (k, mut recs) in per_key {
        recs.sort();
        let mut cur: Option<(i64, i64, i64, i64)> = None;
        for (t, v) in recs {
            cur = match cur {
                Some((s, e, n, sum)) if t - e <= gap => Some((s, t, n + 1, sum + v)),
                Some((s, e, n, sum)) => {
                    out.insert((k.to_string(), s, e), (n, sum));
                    Some((t, t, 1, v))
                }
                None => Some((t, t, 1, v)),
            };
        }
        if let Some((s, e, n, sum)) = cur {
            out.insert((k.to_string(), s, e), (n, sum));
        }
    }
    out
}

/// The table an output changelog describes.
fn materialize(rows: &[Row]) -> BTreeMap<(String, i64, i64), (i64, i64)> {
    let mut t = BTreeMap::new();
    for (k, s, e, v, _) in rows {
        match v {
            Some(v) => t.insert((k.clone(), *s, *e), (v["n"].as_i64().unwrap(), v["total"].as_i64().unwrap())),
            None => t.remove(&(k.clone(), *s, *e)),
        };
    }
    t
}

fn pipe_in_chunks(d: &mut TestDriver, input: &[(String, i64, i64)], seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let payloads: Vec<Vec<u8>> = input.iter().map(|(_, v, _)| json!({ "v": v }).to_string().into_bytes()).collect();
    let mut i = 0;
    while i < input.len() {
        let j = (i + rng.gen_range(1..5)).min(input.len());
        let recs: Vec<(Option<&[u8]>, Option<&[u8]>, i64)> =
            (i..j).map(|x| (Some(input[x].0.as_bytes()), Some(&payloads[x][..]), input[x].2)).collect();
        d.pipe_batch("clicks", &recs).unwrap();
        i = j;
    }
}

#[test]
fn sessions_match_offline_sessionization_when_nothing_is_late() {
    for seed in 0..4u64 {
        let input = clicks(seed, 400);
        let gap = 15;
        let mut d = TestDriver::new(&format!("sess-oracle-{seed}"), &[sessions(gap, 1_000, false, false)]).unwrap();
        pipe_in_chunks(&mut d, &input, seed);
        let out = output(&mut d);
        assert!(out.iter().any(|x| x.3.is_none()), "seed {seed}: the input should merge sessions");
        assert_eq!(materialize(&out), naive_sessions(&input, gap), "seed {seed}");
        assert_eq!(d.metrics().late_records, 0);
    }
}

#[test]
fn emit_final_gives_each_offline_session_exactly_once() {
    for seed in 20..23u64 {
        let input = clicks(seed, 300);
        let gap = 15;
        let mut d = TestDriver::new(&format!("sess-final-oracle-{seed}"), &[sessions(gap, 100, true, false)]).unwrap();
        pipe_in_chunks(&mut d, &input, seed);
        // Far in the future, for another user: closes every session.
        click(&mut d, "flush", 0, 1_000_000);
        let out = output(&mut d);
        assert!(out.iter().all(|x| x.3.is_some()));
        let emitted: Vec<_> = out.iter().map(|x| (x.0.clone(), x.1, x.2)).collect();
        let mut unique = emitted.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), emitted.len(), "seed {seed}: a session was emitted twice");
        assert_eq!(materialize(&out), naive_sessions(&input, gap), "seed {seed}");
    }
}

#[test]
fn sessions_with_late_records_match_a_naive_incremental_model() {
    let (gap, grace) = (15i64, 5i64);
    for seed in 40..44u64 {
        let input = clicks(seed, 400);
        let mut d = TestDriver::new(&format!("sess-late-oracle-{seed}"), &[sessions(gap, grace, false, false)]).unwrap();
        pipe_in_chunks(&mut d, &input, seed);
        // The model: a list of (start, end, count, sum) per key.
        let mut model: HashMap<String, Vec<(i64, i64, i64, i64)>> = HashMap::new();
        let (mut observed, mut late) = (i64::MIN, 0u64);
        let mut expected: Vec<Row> = Vec::new();
        for (k, v, t) in &input {
            observed = observed.max(*t);
            let close = observed - gap - grace;
            let list = model.entry(k.clone()).or_default();
            let (mut found, rest): (Vec<_>, Vec<_>) =
                list.iter().copied().partition(|&(s, e, _, _)| e >= t - gap && s <= t + gap && e > close);
            found.sort();
            let merged = found.iter().fold((*t, *t), |(s, e), x| (s.min(x.0), e.max(x.1)));
            if merged.1 < close {
                late += 1;
                continue;
            }
            if merged != (*t, *t) {
                for x in &found {
                    expected.push(r(k, x.0, x.1, None, x.1));
                }
            }
            let n = found.iter().map(|x| x.2).sum::<i64>() + 1;
            let sum = found.iter().map(|x| x.3).sum::<i64>() + v;
            expected.push(r(k, merged.0, merged.1, Some(json!({"n": n, "total": sum})), merged.1));
            *list = rest;
            list.push((merged.0, merged.1, n, sum));
        }
        assert!(late > 0, "seed {seed}: the input should have late records");
        assert_eq!(output(&mut d), expected, "seed {seed}");
        assert_eq!(d.metrics().late_records, late, "seed {seed}");
    }
}
