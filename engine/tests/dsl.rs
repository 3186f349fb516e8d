//! The typed Rust DSL end to end through the TestDriver: stateless closure
//! operations, grouped and windowed aggregations with suppression, table
//! sources, bad input, unit and JSON keys, plan errors, a real StreamsApp,
//! and (last) joins and session windows.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use riffle_engine::dsl::{
    JoinWindows, KStream, KTable, SessionWindows, SlidingWindows, StreamsBuilder, Suppressed, TestRecord, TimeWindows,
    Windowed,
};
use serde::{Deserialize, Serialize};

type Res = anyhow::Result<()>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    item: String,
    amount: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Receipt {
    item: String,
    cents: i64,
}

fn order(item: &str, amount: i64) -> Order {
    Order { item: item.into(), amount }
}

fn s(x: &str) -> String {
    x.to_string()
}

#[test]
fn filter_and_map_values_keep_keys_times_and_order() -> Res {
    let builder = StreamsBuilder::new();
    let orders: KStream<String, Order> = builder.stream("orders");
    orders
        .filter(|_customer, o| o.amount >= 10)
        .map_values(|o| Receipt { item: o.item.clone(), cents: o.amount * 100 })
        .to("receipts");
    let mut d = builder.test_driver("dsl-filter")?;
    d.pipe_input("orders", s("ann"), order("tea", 12), 5)?;
    d.pipe_input("orders", s("bob"), order("gum", 1), 6)?;
    d.pipe_input("orders", s("cid"), order("pie", 10), 7)?;
    let out = d.read_output::<String, Receipt>("receipts")?;
    assert_eq!(
        out,
        vec![
            TestRecord { key: s("ann"), value: Some(Receipt { item: s("tea"), cents: 1200 }), timestamp: 5 },
            TestRecord { key: s("cid"), value: Some(Receipt { item: s("pie"), cents: 1000 }), timestamp: 7 },
        ]
    );
    // String keys go on the wire as plain UTF-8, as Kafka's StringSerializer writes them.
    d.pipe_input("orders", s("dee"), order("jam", 50), 8)?;
    let raw = d.driver().read_output("receipts")?;
    assert_eq!(raw[0].key.as_deref(), Some(&b"dee"[..]));
    Ok(())
}

/// Counts per item in 100 ms windows with 10 ms grace, every update or
/// only final results. (One sink per builder: the lowering does not yet
/// share a repartitioned aggregate between two outputs.)
fn item_counts(final_only: bool) -> anyhow::Result<riffle_engine::dsl::TypedTestDriver> {
    let builder = StreamsBuilder::new();
    let orders: KStream<String, Order> = builder.stream("orders");
    let counts: KTable<Windowed<String>, i64> = orders
        .group_by(|_customer, o| o.item.clone())
        .windowed_by(TimeWindows::of(Duration::from_millis(100)).grace(Duration::from_millis(10)))
        .count();
    let counts = if final_only { counts.suppress(Suppressed::until_window_closes()) } else { counts };
    counts.to_stream().to("counts");
    Ok(builder.test_driver(if final_only { "dsl-finals" } else { "dsl-updates" })?)
}

fn win(key: &str, start: i64) -> Windowed<String> {
    Windowed { key: s(key), start, end: start + 100 }
}

#[test]
fn group_by_windowed_count_updates_per_record() -> Res {
    let mut d = item_counts(false)?;
    d.pipe_input("orders", s("ann"), order("tea", 1), 10)?;
    d.pipe_input("orders", s("bob"), order("tea", 1), 50)?;
    d.pipe_input("orders", s("ann"), order("pie", 1), 99)?;
    d.pipe_input("orders", s("cid"), order("tea", 1), 105)?;
    let updates = d.read_output::<Windowed<String>, i64>("counts")?;
    let got: Vec<_> = updates.iter().map(|r| (r.key.clone(), r.value, r.timestamp)).collect();
    assert_eq!(
        got,
        vec![
            (win("tea", 0), Some(1), 10),
            (win("tea", 0), Some(2), 50),
            (win("pie", 0), Some(1), 99),
            (win("tea", 100), Some(1), 105)
        ]
    );
    // The key bytes are Kafka Streams' windowed layout: key, then the 8-byte start.
    d.pipe_input("orders", s("dee"), order("jam", 1), 230)?;
    let raw = d.driver().read_output("counts")?;
    let key = raw[0].key.clone().unwrap_or_default();
    assert_eq!(&key[..3], b"jam");
    assert_eq!(key[3..], 200i64.to_be_bytes());
    Ok(())
}

#[test]
fn group_by_windowed_count_with_suppress_emits_one_final_count_per_window() -> Res {
    let mut d = item_counts(true)?;
    d.pipe_input("orders", s("ann"), order("tea", 1), 10)?;
    d.pipe_input("orders", s("bob"), order("tea", 1), 50)?;
    d.pipe_input("orders", s("ann"), order("pie", 1), 99)?;
    d.pipe_input("orders", s("cid"), order("tea", 1), 105)?;
    // [0, 100) is still within its grace period at stream time 105.
    assert!(d.read_output::<Windowed<String>, i64>("counts")?.is_empty());
    d.pipe_input("orders", s("bob"), order("tea", 1), 95)?; // late but within grace
    d.pipe_input("orders", s("dee"), order("jam", 1), 110)?; // closes [0, 100)
    let finals = d.read_key_values::<Windowed<String>, i64>("counts")?;
    assert_eq!(finals, vec![(win("pie", 0), 1), (win("tea", 0), 3)]);
    d.pipe_input("orders", s("eve"), order("tea", 1), 20)?; // too late: dropped
    assert_eq!(d.metrics().late_records, 1);
    assert!(d.read_output::<Windowed<String>, i64>("counts")?.is_empty());
    Ok(())
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Basket {
    items: Vec<String>,
    total: i64,
}

#[test]
fn aggregate_and_reduce_fold_with_closures() -> Res {
    let builder = StreamsBuilder::new();
    let orders: KStream<String, Order> = builder.stream("orders");
    let grouped = orders.group_by_key();
    grouped
        .aggregate(Basket::default, |_customer, o, mut b| {
            b.items.push(o.item.clone());
            b.total += o.amount;
            b
        })
        .to_stream()
        .to("baskets");
    grouped
        .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_millis(100)))
        .reduce(|a, o| if o.amount > a.amount { o.clone() } else { a })
        .to_stream()
        .to("biggest");
    let mut d = builder.test_driver("dsl-aggregate")?;
    d.pipe_input("orders", s("ann"), order("tea", 3), 1)?;
    d.pipe_input("orders", s("bob"), order("gum", 1), 2)?;
    d.pipe_input("orders", s("ann"), order("pie", 5), 3)?;
    d.pipe_input("orders", s("ann"), order("jam", 4), 150)?;
    let baskets = d.read_key_values::<String, Basket>("baskets")?;
    assert_eq!(baskets.len(), 4);
    assert_eq!(baskets[2], (s("ann"), Basket { items: vec![s("tea"), s("pie")], total: 8 }));
    assert_eq!(baskets[3].1.total, 12);
    let biggest = d.read_key_values::<Windowed<String>, Order>("biggest")?;
    let ann0 = Windowed { key: s("ann"), start: 0, end: 100 };
    assert_eq!(biggest[2], (ann0, order("pie", 5)));
    assert_eq!(biggest[3].0.start, 100);
    assert_eq!(biggest[3].1, order("jam", 4));
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    name: String,
    country: String,
}

#[test]
fn table_source_upserts_deletes_and_filters_to_tombstones() -> Res {
    let builder = StreamsBuilder::new();
    let users: KTable<String, User> = builder.table("users");
    users
        .filter(|_id, u| u.country == "NO")
        .map_values(|u| u.name.to_uppercase())
        .to_stream()
        .to("norwegians");
    let mut d = builder.test_driver("dsl-table")?;
    let user = |n: &str, c: &str| User { name: s(n), country: s(c) };
    d.pipe_input("users", s("u1"), user("ola", "NO"), 1)?;
    d.pipe_input("users", s("u2"), user("ann", "SE"), 2)?;
    d.pipe_input("users", s("u1"), user("ola", "DK"), 3)?; // leaves the filter: a delete
    d.pipe_input("users", s("u2"), user("ann", "NO"), 4)?;
    d.pipe_tombstone("users", s("u2"), 5)?;
    let out = d.read_output::<String, String>("norwegians")?;
    let got: Vec<(String, Option<String>)> = out.into_iter().map(|r| (r.key, r.value)).collect();
    assert_eq!(
        got,
        vec![(s("u1"), Some(s("OLA"))), (s("u1"), None), (s("u2"), Some(s("ANN"))), (s("u2"), None)]
    );
    Ok(())
}

#[test]
fn bad_json_and_wrong_shapes_are_skipped_and_counted() -> Res {
    let builder = StreamsBuilder::new();
    let orders: KStream<String, Order> = builder.stream("orders");
    orders.map_values(|o| o.amount).to("amounts");
    let mut d = builder.test_driver("dsl-bad-input")?;
    d.pipe_raw("orders", Some(b"ann"), Some(br#"{"item":"tea","amount":2}"#), 1)?;
    d.pipe_raw("orders", Some(b"bob"), Some(b"{not json"), 2)?;
    d.pipe_raw("orders", Some(b"cid"), Some(br#"{"item":"tea","amount":"lots"}"#), 3)?;
    d.pipe_raw("orders", Some(b"dee"), Some(&[0xff, 0xfe]), 4)?;
    // A record without a key is not an error on a stream: it flows on with a
    // null key (as in Kafka Streams and ksqlDB).
    d.pipe_raw("orders", None, Some(br#"{"item":"pie","amount":1}"#), 5)?;
    d.pipe_raw("orders", Some(b"eve"), Some(br#"{"item":"pie","amount":7}"#), 6)?;
    let out = d.driver().read_output("amounts")?;
    let got: Vec<(Option<String>, String)> = out
        .iter()
        .map(|r| (r.key_str(), String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned()))
        .collect();
    assert_eq!(got, vec![(Some(s("ann")), s("2")), (None, s("1")), (Some(s("eve")), s("7"))]);
    assert_eq!(d.metrics().decode_errors, 3);
    Ok(())
}

#[test]
fn map_rekeys_to_json_keys_and_repartitions_before_counting() -> Res {
    let builder = StreamsBuilder::new();
    let orders: KStream<String, Order> = builder.stream("orders");
    orders
        .map(|_customer, o| (o.amount, o.item.clone()))
        .group_by_key()
        .count()
        .to_stream()
        .to("by-amount");
    let plans = builder.describe()?;
    assert!(plans.contains("Repartition"), "{plans}");
    assert!(plans.contains("KSTREAM-MAP-"), "{plans}");
    let mut d = builder.test_driver("dsl-rekey")?;
    d.pipe_input("orders", s("ann"), order("tea", 3), 1)?;
    d.pipe_input("orders", s("bob"), order("gum", 3), 2)?;
    d.pipe_input("orders", s("cid"), order("pie", 4), 3)?;
    assert_eq!(d.read_key_values::<i64, i64>("by-amount")?, vec![(3, 1), (3, 2), (4, 1)]);
    Ok(())
}

#[test]
fn flat_map_values_peek_foreach_and_merge() -> Res {
    let builder = StreamsBuilder::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let spent = Arc::new(Mutex::new(0i64));
    let online: KStream<String, Order> = builder.stream("online");
    let shop: KStream<String, Order> = builder.stream("shop");
    let all = online.merge(&shop);
    let seen2 = seen.clone();
    all.peek(move |k, o| seen2.lock().push(format!("{k}:{}", o.item)))
        .flat_map_values(|o| o.item.chars().map(String::from).collect::<Vec<_>>())
        .to("letters");
    let spent2 = spent.clone();
    all.foreach(move |_k, o| *spent2.lock() += o.amount);
    let mut d = builder.test_driver("dsl-stateless")?;
    d.pipe_input("online", s("ann"), order("ab", 2), 1)?;
    d.pipe_input("shop", s("bob"), order("c", 3), 2)?;
    assert_eq!(
        d.read_key_values::<String, String>("letters")?,
        vec![(s("ann"), s("a")), (s("ann"), s("b")), (s("bob"), s("c"))]
    );
    assert_eq!(*seen.lock(), vec![s("ann:ab"), s("bob:c")]);
    assert_eq!(*spent.lock(), 5);
    Ok(())
}

#[test]
fn unit_keys_read_no_keys_write_null_keys_and_count_as_one_group() -> Res {
    let builder = StreamsBuilder::new();
    let clicks: KStream<(), Order> = builder.stream("clicks");
    clicks.map_values(|o| o.item.clone()).to("items");
    clicks.group_by_key().count().to_stream().to("total");
    let mut d = builder.test_driver("dsl-unit")?;
    d.pipe_input("clicks", (), order("tea", 1), 1)?;
    d.pipe_raw("clicks", Some(b"ignored"), Some(br#"{"item":"pie","amount":1}"#), 2)?;
    let items = d.driver().read_output("items")?;
    assert!(items.iter().all(|r| r.key.is_none()));
    assert_eq!(items.len(), 2);
    let total = d.read_output::<(), i64>("total")?;
    assert_eq!(total.iter().map(|r| r.value).collect::<Vec<_>>(), vec![Some(1), Some(2)]);
    Ok(())
}

#[test]
fn plan_mistakes_surface_when_building() {
    let builder = StreamsBuilder::new();
    let orders: KStream<String, Order> = builder.stream("orders");
    // Suppress needs a windowed aggregation.
    orders.group_by_key().count().suppress(Suppressed::until_window_closes()).to_stream().to("x");
    let err = builder.plans().map(|_| ()).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("suppress"), "{err}");
    assert!(builder.test_driver("dsl-errors").is_err());
    let empty = StreamsBuilder::new();
    let _unused: KStream<String, Order> = empty.stream("orders");
    let err = empty.plans().map(|_| ()).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("no outputs"), "{err}");
}

#[test]
fn streams_app_runs_a_dsl_topology() -> Res {
    use riffle_engine::StreamsConfig;
    use riffle_log::client::LogClient;
    use riffle_log::{Log, LogConfig, Record, TopicConfig};

    let dir = tempfile::tempdir()?;
    let log = Arc::new(Log::open(dir.path().join("log"), LogConfig::default())?);
    log.create_topic("orders", TopicConfig::with_partitions(2))?;
    for (p, k, v) in [(0, "ann", r#"{"item":"tea","amount":3}"#), (1, "bob", r#"{"item":"pie","amount":20}"#)] {
        log.append("orders", p, &[Record { key: Some(k.into()), value: Some(v.into()), timestamp: Some(1), headers: vec![] }])?;
    }
    let builder = StreamsBuilder::new();
    let orders: KStream<String, Order> = builder.stream("orders");
    orders.filter(|_, o| o.amount > 10).map_values(|o| o.item.clone()).to("big");
    let mut app = builder.build(log.clone(), StreamsConfig::new("dsl-app", dir.path().join("state")))?;
    app.start()?;
    app.wait_until_idle(Duration::from_secs(20))?;
    app.close()?;
    let mut out = Vec::new();
    for p in 0..log.partition_count("big")? {
        out.extend(log.read("big", p, 0, 1 << 20)?.records);
    }
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].key.as_deref(), Some(&b"bob"[..]));
    assert_eq!(out[0].value.as_deref(), Some(&br#""pie""#[..]));
    Ok(())
}

#[test]
fn a_running_app_answers_interactive_queries_on_its_named_stores() -> Res {
    use riffle_engine::StreamsConfig;
    use riffle_log::client::LogClient;
    use riffle_log::{Log, LogConfig, Record, TopicConfig};

    let dir = tempfile::tempdir()?;
    let log = Arc::new(Log::open(dir.path().join("log"), LogConfig::default())?);
    log.create_topic("orders", TopicConfig::with_partitions(2))?;
    let rows = [("ann", "tea", 3, 1_000), ("bob", "pie", 20, 2_000), ("ann", "jam", 5, 61_000), ("ann", "tea", 2, 62_000)];
    for (k, item, amount, ts) in rows {
        let v = format!(r#"{{"item":"{item}","amount":{amount}}}"#);
        let r = Record { key: Some(k.into()), value: Some(v.into()), timestamp: Some(ts), headers: vec![] };
        // Keyed input is partitioned by key, as a Kafka producer does.
        log.append("orders", riffle_log::partition_for_key(k.as_bytes(), 2), &[r])?;
    }
    let builder = StreamsBuilder::new();
    let orders: KStream<String, Order> = builder.stream("orders");
    let spent = orders.group_by_key().aggregate(|| 0i64, |_, o, total| total + o.amount).materialize_as("spent");
    spent.to_stream().to("spent-out");
    let per_minute = orders
        .group_by_key()
        .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_secs(60)))
        .count()
        .materialize_as("orders-per-minute");
    per_minute.to_stream().to("per-minute-out");
    let sessions = orders
        .group_by_key()
        .windowed_by(SessionWindows::with_inactivity_gap(Duration::from_secs(5)))
        .count()
        .materialize_as("order-sessions");
    sessions.to_stream().to("sessions-out");
    let sliding = orders
        .group_by_key()
        .windowed_by(SlidingWindows::of_time_difference_with_no_grace(Duration::from_secs(10)))
        .count()
        .materialize_as("orders-last-10s");
    sliding.to_stream().to("sliding-out");
    let mut config = StreamsConfig::new("dsl-iq", dir.path().join("state"));
    config.application_server = Some("localhost:7070".into());
    let mut app = builder.build(log.clone(), config)?;
    app.start()?;
    app.wait_until_idle(Duration::from_secs(20))?;

    let spent = app.key_value_store::<String, i64>("spent");
    assert_eq!(spent.get(&s("ann"))?, Some(10));
    assert_eq!(spent.get(&s("bob"))?, Some(20));
    assert_eq!(spent.get(&s("cat"))?, None);
    let mut all = spent.all()?;
    all.sort();
    assert_eq!(all, vec![(s("ann"), 10), (s("bob"), 20)]);
    let owner = spent.key_owner(&s("ann"))?;
    assert_eq!(owner.and_then(|o| o.endpoint).as_deref(), Some("localhost:7070"));

    let windows = app.window_store::<String, i64>("orders-per-minute");
    let w = |start: i64| Windowed { key: s("ann"), start, end: start + 60_000 };
    assert_eq!(windows.fetch(&s("ann"), 0, 120_000)?, vec![(w(0), 1), (w(60_000), 2)]);
    assert_eq!(windows.fetch(&s("ann"), 60_000, 60_000)?, vec![(w(60_000), 2)]);
    assert_eq!(windows.all()?.len(), 3);

    // Session and sliding stores answer through the same windowed view.
    let sessions = app.window_store::<String, i64>("order-sessions");
    let session = |start: i64, end: i64| Windowed { key: s("ann"), start, end };
    assert_eq!(sessions.fetch(&s("ann"), 0, i64::MAX)?, vec![(session(1_000, 1_000), 1), (session(61_000, 62_000), 2)]);
    let sliding = app.window_store::<String, i64>("orders-last-10s");
    let last_10s: Vec<_> = sliding.fetch(&s("ann"), 0, i64::MAX)?;
    // [0,10s] {1s}, [1.001s,11.001s] is empty and so absent, [51s,61s] {61s},
    // [52s,62s] {61s,62s}, [61.001s,71.001s] {62s}.
    let w = |start: i64| Windowed { key: s("ann"), start, end: start + 10_000 };
    assert_eq!(last_10s, vec![(w(0), 1), (w(51_000), 1), (w(52_000), 2), (w(61_001), 1)]);

    // A name the app does not have says which names it has.
    let err = app.key_value_store::<String, i64>("nope").get(&s("ann")).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("orders-per-minute") && err.contains("spent"), "{err}");
    app.close()?;
    Ok(())
}

// ---- joins and session windows (their operators land separately) ----------

#[test]
fn stream_table_join_enriches_records_with_the_current_table_value() -> Res {
    let builder = StreamsBuilder::new();
    let orders: KStream<String, Order> = builder.stream("orders");
    let users: KTable<String, User> = builder.table("users");
    orders.join(&users, |o, u| format!("{} bought {}", u.name, o.item)).to("enriched");
    orders.left_join(&users, |o, u| (o.item.clone(), u.map(|u| u.country.clone()))).to("left");
    let mut d = builder.test_driver("dsl-stream-table-join")?;
    d.pipe_input("users", s("u1"), User { name: s("ola"), country: s("NO") }, 1)?;
    d.pipe_input("orders", s("u1"), order("tea", 1), 2)?;
    d.pipe_input("orders", s("u2"), order("pie", 1), 3)?;
    assert_eq!(d.read_key_values::<String, String>("enriched")?, vec![(s("u1"), s("ola bought tea"))]);
    assert_eq!(
        d.read_key_values::<String, (String, Option<String>)>("left")?,
        vec![(s("u1"), (s("tea"), Some(s("NO")))), (s("u2"), (s("pie"), None))]
    );
    Ok(())
}

#[test]
fn stream_stream_join_matches_records_within_the_window() -> Res {
    let builder = StreamsBuilder::new();
    let orders: KStream<String, Order> = builder.stream("orders");
    let payments: KStream<String, i64> = builder.stream("payments");
    orders
        .join_stream(&payments, |o, paid| o.amount == *paid, JoinWindows::of_time_difference_with_no_grace(Duration::from_millis(10)))
        .to("settled");
    let mut d = builder.test_driver("dsl-stream-stream-join")?;
    d.pipe_input("orders", s("ann"), order("tea", 5), 100)?;
    d.pipe_input("payments", s("ann"), 5i64, 105)?;
    d.pipe_input("payments", s("ann"), 5i64, 200)?;
    assert_eq!(d.read_key_values::<String, bool>("settled")?, vec![(s("ann"), true)]);
    Ok(())
}

#[test]
fn table_table_join_updates_on_either_side() -> Res {
    let builder = StreamsBuilder::new();
    let users: KTable<String, User> = builder.table("users");
    let scores: KTable<String, i64> = builder.table("scores");
    users.join(&scores, |u, sc| format!("{}={sc}", u.name)).to_stream().to("joined");
    let mut d = builder.test_driver("dsl-table-table-join")?;
    d.pipe_input("users", s("u1"), User { name: s("ola"), country: s("NO") }, 1)?;
    d.pipe_input("scores", s("u1"), 7i64, 2)?;
    d.pipe_input("scores", s("u1"), 9i64, 3)?;
    assert_eq!(d.read_key_values::<String, String>("joined")?, vec![(s("u1"), s("ola=7")), (s("u1"), s("ola=9"))]);
    Ok(())
}

#[test]
fn session_windows_count_and_merge_sessions() -> Res {
    let builder = StreamsBuilder::new();
    let orders: KStream<String, Order> = builder.stream("orders");
    let gap = SessionWindows::with_inactivity_gap(Duration::from_millis(10)).grace(Duration::from_millis(50));
    let sessions = orders.group_by_key().windowed_by(gap);
    sessions.count().to_stream().to("session-counts");
    sessions.aggregate(|| 0i64, |_k, o, sum| sum + o.amount, |a, b| a + b).to_stream().to("session-sums");
    let mut d = builder.test_driver("dsl-sessions")?;
    d.pipe_input("orders", s("ann"), order("a", 1), 100)?;
    d.pipe_input("orders", s("ann"), order("b", 2), 120)?;
    d.pipe_input("orders", s("ann"), order("c", 4), 110)?; // bridges both sessions
    let ann = |start, end| Windowed { key: s("ann"), start, end };
    let counts = d.read_output::<Windowed<String>, i64>("session-counts")?;
    let got: Vec<_> = counts.into_iter().map(|r| (r.key, r.value)).collect();
    assert_eq!(
        got,
        vec![
            (ann(100, 100), Some(1)),
            (ann(120, 120), Some(1)),
            // The bridging record merges both sessions: their rows are deleted.
            (ann(100, 100), None),
            (ann(120, 120), None),
            (ann(100, 120), Some(3)),
        ]
    );
    let sums = d.read_output::<Windowed<String>, i64>("session-sums")?;
    assert_eq!(sums.last().map(|r| (r.key.clone(), r.value)), Some((ann(100, 120), Some(7))));
    Ok(())
}
