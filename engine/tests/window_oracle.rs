//! Oracle tests: random event streams (out of order, some late) through
//! tumbling, hopping and sliding windowed aggregations, compared with a
//! naive recomputation of Kafka Streams' semantics.
//!
//! - Tumbling and hopping: a record joins every window that contains it and
//!   has not closed (window end > max time seen − grace); emit-final follows
//!   KIP-825's emit-on-window-close, bounded by the window store's
//!   retention.
//! - Sliding: recomputed from the definition, not from the operator's
//!   algorithm. A key's windows are, for each accepted record at `t`, its
//!   left window `[t − d, t]` (`[0, d]` when `t < d`) and its right window
//!   `[t + 1, t + 1 + d]` when some record falls in it; a window holds every
//!   accepted record in its range. A record with `t + d < close` is late;
//!   after each accepted record, every open window (end ≥ close) that is
//!   new or contains it is emitted; emit-final gives each window that was
//!   ever open once, with its last open value.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use rand::{Rng, SeedableRng};
use riffle_engine::format::{JsonFormat, KafkaFormat};
use riffle_engine::plan::{AggFunc, Expr, TimestampSpec, WindowSpec};
use riffle_engine::{PlanBuilder, TestDriver};

#[derive(Debug, Clone)]
struct Ev {
    user: String,
    amount: i64,
    ts: i64,
}

fn random_events(seed: u64, n: usize) -> Vec<Ev> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut t = 0i64;
    (0..n)
        .map(|_| {
            t += rng.gen_range(0..40);
            // Mostly in order, some records up to 300 ms behind (some late).
            let ts = if rng.gen_bool(0.2) { (t - rng.gen_range(0..300)).max(0) } else { t };
            Ev { user: format!("u{}", rng.gen_range(0..5)), amount: rng.gen_range(-50..100), ts }
        })
        .collect()
}

/// (user, window start) → (count, sum, min, max) of accepted records.
type Table = BTreeMap<(String, i64), (i64, i64, i64, i64)>;

fn naive(events: &[Ev], w: WindowSpec) -> (Table, u64) {
    let mut table = Table::new();
    let mut observed = i64::MIN;
    let mut late = 0;
    let mut starts = Vec::new();
    for e in events {
        observed = observed.max(e.ts);
        w.window_starts(e.ts, &mut starts);
        let live: Vec<i64> = starts.iter().copied().filter(|s| s + w.size_ms() > observed - w.grace_ms).collect();
        if live.is_empty() {
            late += 1;
            continue;
        }
        for s in live {
            let v = table.entry((e.user.clone(), s)).or_insert((0, 0, i64::MAX, i64::MIN));
            v.0 += 1;
            v.1 += e.amount;
            v.2 = v.2.min(e.amount);
            v.3 = v.3.max(e.amount);
        }
    }
    (table, late)
}

/// Emit-final as Kafka Streams' `KStreamWindowAggregate` does it (KIP-825):
/// after each record, once the close time (stream time − grace) has moved,
/// the windows starting in `[lower, close − size]` are emitted, where
/// `lower` follows the previous emission and is raised to the window
/// store's stream time (the latest window start written) minus its
/// retention (size + grace).
fn naive_final(events: &[Ev], w: WindowSpec) -> Table {
    let mut table = Table::new();
    let mut emitted = Table::new();
    let mut observed = i64::MIN;
    let mut store_time = i64::MIN;
    let mut last_close: Option<i64> = None;
    let mut starts = Vec::new();
    for e in events {
        observed = observed.max(e.ts);
        w.window_starts(e.ts, &mut starts);
        let live: Vec<i64> = starts.iter().copied().filter(|s| s + w.size_ms() > observed - w.grace_ms).collect();
        if live.is_empty() {
            continue;
        }
        for &s in &live {
            let v = table.entry((e.user.clone(), s)).or_insert((0, 0, i64::MAX, i64::MIN));
            v.0 += 1;
            v.1 += e.amount;
            v.2 = v.2.min(e.amount);
            v.3 = v.3.max(e.amount);
            store_time = store_time.max(s);
        }
        let close = observed - w.grace_ms;
        if last_close.is_some_and(|l| l >= close) {
            continue;
        }
        let upper = close - w.size_ms();
        if upper < 0 {
            continue;
        }
        let lower = last_close.map_or(0, |l| (l - w.size_ms()).max(0) + 1);
        let from = lower.max(store_time - w.store_retention_ms());
        for ((user, s), v) in &table {
            if (from..=upper).contains(s) {
                emitted.insert((user.clone(), *s), *v);
            }
        }
        last_close = Some(close);
    }
    emitted
}

fn plan(w: WindowSpec, final_only: bool) -> Arc<riffle_engine::plan::LogicalPlan> {
    let value = Schema::new(vec![Field::new("user", DataType::Utf8, true), Field::new("amount", DataType::Int64, true)]);
    let b = PlanBuilder::stream("ev", Arc::new(KafkaFormat), Arc::new(JsonFormat), &[], value, TimestampSpec::Record)
        .unwrap()
        .group_by(vec![(Expr::col("user"), "user".into())])
        .unwrap()
        .aggregate(
            Some(w),
            vec![
                (AggFunc::CountStar, vec![], "n".into()),
                (AggFunc::Sum, vec![Expr::col("amount")], "total".into()),
                (AggFunc::Min, vec![Expr::col("amount")], "lo".into()),
                (AggFunc::Max, vec![Expr::col("amount")], "hi".into()),
            ],
        )
        .unwrap();
    let b = if final_only { b.suppress().unwrap() } else { b };
    b.to_stream().unwrap().sink("out", Arc::new(KafkaFormat), Arc::new(JsonFormat)).unwrap().build()
}

/// Output rows in order, ((user, window start), (count, sum, min, max)),
/// and the late-record count.
type Output = (Vec<((String, i64), (i64, i64, i64, i64))>, u64);

fn run(events: &[Ev], w: WindowSpec, final_only: bool, batch: bool) -> Output {
    run_with_cache(events, w, final_only, batch, false)
}

fn run_with_cache(events: &[Ev], w: WindowSpec, final_only: bool, batch: bool, cache: bool) -> Output {
    let mut d = TestDriver::with_config("oracle", &[plan(w, final_only)], 1, cache).unwrap();
    let payloads: Vec<Vec<u8>> =
        events.iter().map(|e| format!(r#"{{"user":"{}","amount":{}}}"#, e.user, e.amount).into_bytes()).collect();
    if batch {
        let recs: Vec<_> = events.iter().zip(&payloads).map(|(e, p)| (None, Some(&p[..]), e.ts)).collect();
        d.pipe_batch("ev", &recs).unwrap();
    } else {
        for (e, p) in events.iter().zip(&payloads) {
            d.pipe("ev", None, Some(p), e.ts).unwrap();
        }
    }
    let out = d
        .read_output("out")
        .unwrap()
        .into_iter()
        .map(|r| {
            let k = r.key.clone().unwrap();
            let user = String::from_utf8(k[..k.len() - 8].to_vec()).unwrap();
            let start = i64::from_be_bytes(k[k.len() - 8..].try_into().unwrap());
            let v = r.value_json().unwrap();
            let f = |n: &str| v[n].as_i64().unwrap();
            ((user, start), (f("n"), f("total"), f("lo"), f("hi")))
        })
        .collect();
    (out, d.metrics().late_records)
}

fn check(seed: u64, w: WindowSpec) {
    let events = random_events(seed, 400);
    let (expected, late) = naive(&events, w);
    for batch in [false, true] {
        // Every update, one per accepted record and window: the last per key is the naive aggregate.
        let (updates, late_seen) = run(&events, w, false, batch);
        assert_eq!(late_seen, late, "seed {seed} late count");
        let mut latest = Table::new();
        for (k, v) in &updates {
            latest.insert(k.clone(), *v);
        }
        assert_eq!(latest, expected, "seed {seed} {w} batch={batch}: latest updates");
        // Emit final: the windows emit-on-window-close emits, once each.
        let (finals, _) = run(&events, w, true, batch);
        let closed = naive_final(&events, w);
        let mut seen = Table::new();
        for (k, v) in &finals {
            assert!(seen.insert(k.clone(), *v).is_none(), "seed {seed}: window {k:?} emitted twice");
        }
        assert_eq!(seen, closed, "seed {seed} {w} batch={batch}: final results");
    }
}

#[test]
fn tumbling_windows_match_naive_recomputation() {
    for seed in 0..8 {
        check(seed, WindowSpec::tumbling(200, 100));
        check(seed, WindowSpec::tumbling(100, 0));
    }
}

#[test]
fn hopping_windows_match_naive_recomputation() {
    for seed in 0..8 {
        check(seed, WindowSpec::hopping(300, 100, 50));
    }
}

/// Window starts of a key's accepted record times, by the definition: each
/// record's left window, and its right window when a record falls in it.
fn sliding_starts(times: &[i64], d: i64) -> BTreeSet<i64> {
    let mut starts = BTreeSet::new();
    for &t in times {
        starts.insert((t - d).max(0));
        if times.iter().any(|&r| r > t && r <= t + 1 + d) {
            starts.insert(t + 1);
        }
    }
    starts
}

/// What a sliding-window aggregation must emit for `events`: the last
/// update of every window, the number of updates (cache off), the final
/// results (emit final) and the late-record count.
struct SlidingExpect {
    latest: Table,
    updates: usize,
    finals: Table,
    late: u64,
}

fn naive_sliding(events: &[Ev], w: WindowSpec) -> SlidingExpect {
    let d = w.size_ms();
    let mut records: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    let mut latest = Table::new();
    let mut updates = 0;
    let mut late = 0;
    let mut observed = i64::MIN;
    for e in events {
        observed = observed.max(e.ts);
        let close = observed - w.grace_ms;
        if e.ts + d < close {
            late += 1;
            continue;
        }
        let recs = records.entry(e.user.clone()).or_default();
        let before = sliding_starts(&recs.iter().map(|r| r.0).collect::<Vec<_>>(), d);
        recs.push((e.ts, e.amount));
        let after = sliding_starts(&recs.iter().map(|r| r.0).collect::<Vec<_>>(), d);
        for s in after {
            let changed = !before.contains(&s) || (s..=s + d).contains(&e.ts);
            if !changed || s + d < close {
                continue;
            }
            let mut v = (0, 0, i64::MAX, i64::MIN);
            for &(_, amount) in recs.iter().filter(|(t, _)| (s..=s + d).contains(t)) {
                v.0 += 1;
                v.1 += amount;
                v.2 = v.2.min(amount);
                v.3 = v.3.max(amount);
            }
            latest.insert((e.user.clone(), s), v);
            updates += 1;
        }
    }
    let close = observed - w.grace_ms;
    let finals = latest.iter().filter(|((_, s), _)| s + d < close).map(|(k, v)| (k.clone(), *v)).collect();
    SlidingExpect { latest, updates, finals, late }
}

/// Asserts `actual == expected`, naming only the windows that differ.
fn assert_same_windows(actual: &Table, expected: &Table, what: &str) {
    let keys: BTreeSet<&(String, i64)> = actual.keys().chain(expected.keys()).collect();
    let diff: Vec<_> =
        keys.into_iter().filter(|k| actual.get(*k) != expected.get(*k)).map(|k| (k, actual.get(k), expected.get(k))).take(10).collect();
    assert!(diff.is_empty(), "{what}: (window, actual, expected) differ: {diff:?}");
}

fn check_sliding(seed: u64, w: WindowSpec) {
    let events = random_events(seed, 400);
    let expect = naive_sliding(&events, w);
    for batch in [false, true] {
        // Cache off: one update per changed open window and record.
        let (updates, late) = run(&events, w, false, batch);
        assert_eq!(late, expect.late, "seed {seed} {w}: late count");
        assert_eq!(updates.len(), expect.updates, "seed {seed} {w} batch={batch}: number of updates");
        let mut latest = Table::new();
        for (k, v) in &updates {
            latest.insert(k.clone(), *v);
        }
        assert_same_windows(&latest, &expect.latest, &format!("seed {seed} {w} batch={batch}: latest updates"));
        // Cache on: fewer updates, the same latest values.
        let (cached, _) = run_with_cache(&events, w, false, batch, true);
        let mut latest = Table::new();
        for (k, v) in &cached {
            latest.insert(k.clone(), *v);
        }
        assert_same_windows(&latest, &expect.latest, &format!("seed {seed} {w} batch={batch}: latest cached updates"));
        // Emit final: every window that closed, once.
        let (finals, _) = run(&events, w, true, batch);
        let mut seen = Table::new();
        for (k, v) in &finals {
            assert!(seen.insert(k.clone(), *v).is_none(), "seed {seed} {w}: window {k:?} emitted twice");
        }
        assert_same_windows(&seen, &expect.finals, &format!("seed {seed} {w} batch={batch}: final results"));
    }
}

#[test]
fn sliding_windows_match_naive_recomputation() {
    for seed in 0..8 {
        // Out-of-order records within grace, some late.
        check_sliding(seed, WindowSpec::sliding(100, 50));
        // No grace: records behind stream time only reach right windows.
        check_sliding(seed, WindowSpec::sliding(30, 0));
        // Grace beyond the disorder: nothing is late.
        check_sliding(seed, WindowSpec::sliding(200, 400));
    }
}

#[test]
fn sliding_windows_before_the_time_difference_share_the_first_window() {
    // d larger than most of the stream: many records before d ([0, d]).
    for seed in 0..4 {
        check_sliding(seed, WindowSpec::sliding(2_000, 100));
    }
}
