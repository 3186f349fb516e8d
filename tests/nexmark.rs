//! Nexmark queries as SQL (`riffle::nexmark`), checked against a direct
//! computation over the same generated events: every query's output topic
//! must hold exactly what the query means (multisets of rows, or the
//! final row per key for tables), not just the right number of records.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use riffle::log::{Log, LogClient, LogConfig, StoredRecord};
use riffle::nexmark::{load, run_query, Auction, Bid, Event, Generator, GeneratorConfig, LoadStats, Person, Query};
use serde_json::Value;

/// 150k events, 1 ms apart: 150 s of event time, so that 10-second
/// windows close many times, after the 30-second grace of q5 and q7.
fn config() -> GeneratorConfig {
    GeneratorConfig { events: 150_000, inter_event_delay_us: 1000, ..Default::default() }
}

struct Events {
    persons: Vec<Person>,
    auctions: Vec<Auction>,
    bids: Vec<Bid>,
    max_ts: i64,
}

fn events(config: &GeneratorConfig) -> Events {
    let mut e = Events { persons: Vec::new(), auctions: Vec::new(), bids: Vec::new(), max_ts: i64::MIN };
    for ev in Generator::new(config.clone()) {
        e.max_ts = e.max_ts.max(ev.date_time());
        match ev {
            Event::Person(p) => e.persons.push(p),
            Event::Auction(a) => e.auctions.push(a),
            Event::Bid(b) => e.bids.push(b),
        }
    }
    e
}

/// Runs `query` on a fresh log with `threads` partitions and returns its
/// output records.
fn run(query: Query, threads: usize) -> Vec<StoredRecord> {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = Arc::new(Log::open(dir.path().join("log"), LogConfig::default()).expect("log opens"));
    let config = config();
    let loaded: LoadStats = load(&log, &config, threads as i32).expect("load");
    let stats = run_query(log.clone(), query, &config, &loaded, threads, &dir.path().join("state")).expect("query runs");
    assert_eq!(stats.late_records, 0, "{query}: records dropped as late");
    let topic = query.output_topic();
    let mut out = Vec::new();
    for p in 0..log.partition_count(topic).expect("output topic") {
        let mut pos = 0;
        loop {
            let f = log.read(topic, p, pos, 1 << 20).expect("read");
            if f.records.is_empty() {
                break;
            }
            pos = f.next_offset;
            out.extend(f.records);
        }
    }
    assert_eq!(out.len() as u64, stats.output_records);
    out
}

fn key_i64(r: &StoredRecord) -> i64 {
    let k = r.key.as_ref().expect("keyed output");
    i64::from_be_bytes(k[..8].try_into().expect("8-byte key"))
}

fn value(r: &StoredRecord) -> Value {
    serde_json::from_slice(r.value.as_ref().expect("a value")).expect("JSON value")
}

fn int(v: &Value, field: &str) -> i64 {
    v[field].as_i64().unwrap_or_else(|| panic!("{field} in {v}"))
}

fn string(v: &Value, field: &str) -> String {
    v[field].as_str().unwrap_or_else(|| panic!("{field} in {v}")).to_string()
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

#[test]
fn q0_passes_every_bid_through() {
    let e = events(&config());
    let out = run(Query::Q0, 1);
    let got: Vec<_> = out
        .iter()
        .map(|r| {
            let v = value(r);
            (key_i64(r), int(&v, "BIDDER"), int(&v, "PRICE"), int(&v, "DATETIME"), string(&v, "EXTRA"))
        })
        .collect();
    let want: Vec<_> = e.bids.iter().map(|b| (b.auction, b.bidder, b.price, b.date_time, b.extra.clone())).collect();
    assert_eq!(got.len(), want.len());
    assert_eq!(sorted(got), sorted(want));
}

#[test]
fn q1_converts_every_price() {
    let e = events(&config());
    let out = run(Query::Q1, 1);
    assert_eq!(out.len(), e.bids.len());
    let mut got: Vec<(i64, i64, i64, f64)> = out
        .iter()
        .map(|r| {
            let v = value(r);
            (key_i64(r), int(&v, "BIDDER"), int(&v, "DATETIME"), v["PRICE"].as_f64().expect("PRICE"))
        })
        .collect();
    let mut want: Vec<(i64, i64, i64, f64)> =
        e.bids.iter().map(|b| (b.auction, b.bidder, b.date_time, b.price as f64 * 0.908)).collect();
    let cmp = |a: &(i64, i64, i64, f64), b: &(i64, i64, i64, f64)| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)).then(a.3.total_cmp(&b.3));
    got.sort_by(cmp);
    want.sort_by(cmp);
    for (g, w) in got.iter().zip(&want) {
        assert_eq!((g.0, g.1, g.2), (w.0, w.1, w.2));
        assert!((g.3 - w.3).abs() <= 1e-9 * w.3.abs().max(1.0), "{g:?} vs {w:?}");
    }
}

#[test]
fn q2_selects_auctions_divisible_by_123() {
    let e = events(&config());
    let out = run(Query::Q2, 1);
    let got: Vec<_> = out.iter().map(|r| (key_i64(r), int(&value(r), "PRICE"))).collect();
    let want: Vec<_> = e.bids.iter().filter(|b| b.auction % 123 == 0).map(|b| (b.auction, b.price)).collect();
    assert!(!want.is_empty());
    assert_eq!(sorted(got), sorted(want));
}

fn q3_expected(e: &Events) -> Vec<(i64, String, String, String, i64)> {
    // A nested loop, as the query's definition reads.
    let mut want = Vec::new();
    for a in e.auctions.iter().filter(|a| a.category == 10) {
        for p in &e.persons {
            if p.id == a.seller && ["OR", "ID", "CA"].contains(&p.state.as_str()) {
                want.push((p.id, p.name.clone(), p.city.clone(), p.state.clone(), a.id));
            }
        }
    }
    want
}

fn q3_rows(out: &[StoredRecord]) -> Vec<(i64, String, String, String, i64)> {
    out.iter()
        .map(|r| {
            let v = value(r);
            (key_i64(r), string(&v, "NAME"), string(&v, "CITY"), string(&v, "STATE"), int(&v, "AUCTION"))
        })
        .collect()
}

#[test]
fn q3_joins_auctions_with_their_sellers() {
    let e = events(&config());
    let want = q3_expected(&e);
    assert!(!want.is_empty());
    assert_eq!(sorted(q3_rows(&run(Query::Q3, 1))), sorted(want.clone()));
    assert_eq!(sorted(q3_rows(&run(Query::Q3, 2))), sorted(want), "two partitions, two threads");
}

#[test]
fn q4_averages_the_winning_bids_per_category() {
    let e = events(&config());
    let mut max_per_auction: HashMap<i64, i64> = HashMap::new();
    let auctions: HashMap<i64, &Auction> = e.auctions.iter().map(|a| (a.id, a)).collect();
    for b in &e.bids {
        let a = auctions[&b.auction];
        if a.date_time <= b.date_time && b.date_time <= a.expires {
            let m = max_per_auction.entry(a.id).or_insert(i64::MIN);
            *m = (*m).max(b.price);
        }
    }
    let mut per_category: BTreeMap<i64, (f64, u64)> = BTreeMap::new();
    for (id, max) in &max_per_auction {
        let s = per_category.entry(auctions[id].category).or_default();
        s.0 += *max as f64;
        s.1 += 1;
    }
    let out = run(Query::Q4, 1);
    let mut last: BTreeMap<i64, f64> = BTreeMap::new();
    for r in &out {
        last.insert(key_i64(r), value(r)["AVG_FINAL"].as_f64().expect("AVG_FINAL"));
    }
    assert_eq!(last.keys().collect::<Vec<_>>(), per_category.keys().collect::<Vec<_>>());
    for (c, (sum, n)) in &per_category {
        let want = sum / *n as f64;
        assert!((last[c] - want).abs() <= 1e-6 * want, "category {c}: {} vs {want}", last[c]);
    }
}

#[test]
fn q5_finds_the_hottest_auctions_per_hopping_window() {
    let e = events(&config());
    // Bid counts per (window start, auction); windows of 10 s every 2 s.
    let mut counts: BTreeMap<i64, HashMap<i64, i64>> = BTreeMap::new();
    for b in &e.bids {
        let last_start = b.date_time - b.date_time.rem_euclid(2000);
        let mut s = last_start;
        while s > b.date_time - 10_000 {
            *counts.entry(s).or_default().entry(b.auction).or_default() += 1;
            s -= 2000;
        }
    }
    let mut want: BTreeMap<i64, BTreeSet<(i64, i64)>> = BTreeMap::new();
    for (s, per_auction) in &counts {
        let max = per_auction.values().copied().max().unwrap_or(0);
        want.insert(*s, per_auction.iter().filter(|(_, n)| **n == max).map(|(a, n)| (*a, *n)).collect());
    }
    let mut got: BTreeMap<i64, BTreeSet<(i64, i64)>> = BTreeMap::new();
    for r in run(Query::Q5, 1) {
        let v = value(&r);
        assert!(got.entry(key_i64(&r)).or_default().insert((int(&v, "AUCTION"), int(&v, "NUM"))), "duplicate row");
    }
    // A window's result is final once the next hop's window has closed and
    // the maximum's 30-second grace has passed.
    let complete: Vec<i64> = want.keys().copied().filter(|s| s + 12_000 + 30_000 <= e.max_ts).collect();
    assert!(complete.len() >= 20, "{} complete windows", complete.len());
    for s in &complete {
        assert_eq!(got.get(s), want.get(s), "window starting {s}");
    }
    for (s, rows) in &got {
        assert_eq!(Some(rows), want.get(s), "window starting {s}");
    }
}

#[test]
fn q7_finds_the_highest_bids_per_tumbling_window() {
    let e = events(&config());
    let mut max: BTreeMap<i64, i64> = BTreeMap::new();
    for b in &e.bids {
        let w = b.date_time - b.date_time.rem_euclid(10_000);
        let m = max.entry(w).or_insert(i64::MIN);
        *m = (*m).max(b.price);
    }
    let mut want: BTreeMap<i64, Vec<(i64, i64, i64, i64, String)>> = BTreeMap::new();
    for b in &e.bids {
        let w = b.date_time - b.date_time.rem_euclid(10_000);
        if b.price == max[&w] {
            want.entry(w).or_default().push((b.auction, b.price, b.bidder, b.date_time, b.extra.clone()));
        }
    }
    let mut got: BTreeMap<i64, Vec<(i64, i64, i64, i64, String)>> = BTreeMap::new();
    for r in run(Query::Q7, 1) {
        let v = value(&r);
        let ts = int(&v, "DATETIME");
        let row = (int(&v, "AUCTION"), key_i64(&r), int(&v, "BIDDER"), ts, string(&v, "EXTRA"));
        got.entry(ts - ts.rem_euclid(10_000)).or_default().push(row);
    }
    for rows in got.values_mut() {
        rows.sort();
    }
    for rows in want.values_mut() {
        rows.sort();
    }
    // A window's maximum is final once the next window has closed and the
    // 30-second grace has passed.
    let complete: Vec<i64> = want.keys().copied().filter(|w| w + 20_000 + 30_000 <= e.max_ts).collect();
    assert!(complete.len() >= 4, "{} complete windows", complete.len());
    for w in &complete {
        assert_eq!(got.get(w), want.get(w), "window {w}");
    }
    for (w, rows) in &got {
        assert_eq!(Some(rows), want.get(w), "window {w}");
    }
}

fn q8_expected(e: &Events) -> BTreeMap<(i64, i64), String> {
    let window = |ts: i64| ts - ts.rem_euclid(10_000);
    let sellers: BTreeSet<(i64, i64)> = e.auctions.iter().map(|a| (a.seller, window(a.date_time))).collect();
    e.persons
        .iter()
        .filter(|p| sellers.contains(&(p.id, window(p.date_time))))
        .map(|p| ((p.id, window(p.date_time)), p.name.clone()))
        .collect()
}

fn q8_rows(out: &[StoredRecord]) -> BTreeMap<(i64, i64), String> {
    let mut got = BTreeMap::new();
    for r in out {
        let k: Value = serde_json::from_slice(r.key.as_ref().expect("key")).expect("JSON key");
        got.insert((int(&k, "ID"), int(&k, "STARTTIME")), string(&value(r), "NAME"));
    }
    got
}

#[test]
fn q8_finds_people_who_sell_in_their_first_window() {
    let e = events(&config());
    let want = q8_expected(&e);
    assert!(want.len() > 100, "{} new sellers", want.len());
    assert_eq!(q8_rows(&run(Query::Q8, 1)), want);
    assert_eq!(q8_rows(&run(Query::Q8, 2)), want, "two partitions, two threads");
}

#[test]
fn every_query_parses_by_name() {
    for q in Query::ALL {
        assert_eq!(Query::parse(q.name()), Some(q));
        assert!(!q.inputs().is_empty());
    }
    assert_eq!(Query::parse("q6"), None);
}
