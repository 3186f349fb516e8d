//! Oracle tests: random event streams (out of order, some late) through
//! tumbling and hopping windowed aggregations, compared with a naive
//! recomputation of Kafka Streams' semantics (a record joins every window
//! that contains it and has not closed: window end > max time seen − grace;
//! emit-final follows KIP-825's emit-on-window-close, bounded by the window
//! store's retention).

use std::collections::BTreeMap;
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

fn run(events: &[Ev], w: WindowSpec, final_only: bool, batch: bool) -> (Vec<((String, i64), (i64, i64, i64, i64))>, u64) {
    let mut d = TestDriver::new("oracle", &[plan(w, final_only)]).unwrap();
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
