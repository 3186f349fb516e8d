//! End-to-end behaviour of simple pipelines through the TestDriver:
//! filter/project, windowed counts with and without emit-final, late
//! records, and bad input.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use riffle_engine::format::{JsonFormat, KafkaFormat};
use riffle_engine::plan::{AggFunc, Expr, TimestampSpec, WindowSpec};
use riffle_engine::{PlanBuilder, TestDriver};

fn events() -> PlanBuilder {
    let value = Schema::new(vec![
        Field::new("user", DataType::Utf8, true),
        Field::new("action", DataType::Utf8, true),
        Field::new("amount", DataType::Float64, true),
    ]);
    PlanBuilder::stream("events", Arc::new(KafkaFormat), Arc::new(JsonFormat), &[], value, TimestampSpec::Record).unwrap()
}

fn ev(user: &str, action: &str, amount: f64) -> Vec<u8> {
    format!(r#"{{"user":"{user}","action":"{action}","amount":{amount}}}"#).into_bytes()
}

#[test]
fn record_headers_ride_through_stateless_operators() {
    use riffle_log::client::LogClient;
    use riffle_log::record::{Header, Record};
    let plan = events()
        .filter(Expr::col("action").eq(Expr::lit("buy")))
        .unwrap()
        .project(vec![(Expr::col("user"), "user".into())])
        .unwrap()
        .sink("out", Arc::new(KafkaFormat), Arc::new(JsonFormat))
        .unwrap()
        .build();
    let mut d = TestDriver::new("t-headers", &[plan]).unwrap();
    let rec = |action: &str, headers: Vec<Header>| Record {
        key: None,
        value: Some(ev("a", action, 1.0).into()),
        timestamp: Some(1),
        headers,
    };
    let h = |k: &str, v: &'static [u8]| Header { key: k.into(), value: Some(bytes::Bytes::from_static(v)) };
    d.log()
        .append("events", 0, &[rec("buy", vec![h("trace", b"1"), h("trace", b"2")]), rec("view", vec![h("x", b"y")]), rec("buy", vec![])])
        .unwrap();
    d.run().unwrap();
    let out = d.read_output("out").unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].headers, vec![h("trace", b"1"), h("trace", b"2")]);
    assert!(out[1].headers.is_empty());
}

/// An aggregation's update carries the headers of the record that caused
/// it, per record without a cache and the last updating record's with one
/// (Kafka Streams forwards the triggering record's context).
#[test]
fn aggregation_updates_carry_the_headers_of_the_record_that_caused_them() {
    use riffle_log::client::LogClient;
    use riffle_log::record::{Header, Record};
    let plan = || {
        events()
            .group_by(vec![(Expr::col("user"), "user".into())])
            .unwrap()
            .aggregate(None, vec![(AggFunc::CountStar, vec![], "n".into())])
            .unwrap()
            .to_stream()
            .unwrap()
            .sink("counts", Arc::new(KafkaFormat), Arc::new(JsonFormat))
            .unwrap()
            .build()
    };
    let h = |v: &'static [u8]| vec![Header { key: "trace".into(), value: Some(bytes::Bytes::from_static(v)) }];
    let rec = |user: &str, headers: Vec<Header>| Record {
        key: None,
        value: Some(ev(user, "buy", 1.0).into()),
        timestamp: Some(1),
        headers,
    };
    let input = [rec("a", h(b"1")), rec("b", vec![]), rec("a", h(b"2"))];
    for cache in [false, true] {
        let mut d = TestDriver::with_config(&format!("t-agg-headers-{cache}"), &[plan()], 1, cache).unwrap();
        d.log().append("events", 0, &input).unwrap();
        d.run().unwrap();
        let out = d.read_output("counts").unwrap();
        let seen: Vec<_> = out.iter().map(|r| (r.key_str().unwrap(), r.headers.clone())).collect();
        let expected = if cache {
            vec![("a".to_string(), h(b"2")), ("b".to_string(), vec![])]
        } else {
            vec![("a".to_string(), h(b"1")), ("b".to_string(), vec![]), ("a".to_string(), h(b"2"))]
        };
        assert_eq!(seen, expected, "cache {cache}");
    }
}

#[test]
fn filter_and_project_keep_matching_rows_in_order() {
    let plan = events()
        .filter(Expr::col("action").eq(Expr::lit("buy")))
        .unwrap()
        .project(vec![(Expr::col("user"), "user".into()), (Expr::col("amount").mul(Expr::lit(2.0)), "double".into())])
        .unwrap()
        .sink("out", Arc::new(KafkaFormat), Arc::new(JsonFormat))
        .unwrap()
        .build();
    let mut d = TestDriver::new("t1", &[plan]).unwrap();
    d.pipe("events", None, Some(&ev("a", "buy", 1.5)), 1).unwrap();
    d.pipe("events", None, Some(&ev("b", "view", 2.0)), 2).unwrap();
    d.pipe("events", None, Some(&ev("c", "buy", 3.0)), 3).unwrap();
    let out = d.read_output("out").unwrap();
    let vals: Vec<_> = out.iter().map(|r| r.value_json().unwrap()).collect();
    assert_eq!(vals, vec![serde_json::json!({"user":"a","double":3.0}), serde_json::json!({"user":"c","double":6.0})]);
    assert_eq!(out.iter().map(|r| r.timestamp).collect::<Vec<_>>(), vec![1, 3]);
}

fn windowed_counts(final_only: bool, grace: i64) -> Arc<riffle_engine::plan::LogicalPlan> {
    let b = events()
        .group_by(vec![(Expr::col("user"), "user".into())])
        .unwrap()
        .aggregate(
            Some(WindowSpec::tumbling(100, grace)),
            vec![(AggFunc::CountStar, vec![], "n".into()), (AggFunc::Sum, vec![Expr::col("amount")], "total".into())],
        )
        .unwrap();
    let b = if final_only { b.suppress().unwrap() } else { b };
    b.to_stream().unwrap().sink("counts", Arc::new(KafkaFormat), Arc::new(JsonFormat)).unwrap().build()
}

#[test]
fn tumbling_count_emits_one_update_per_record_with_window_bounds() {
    let mut d = TestDriver::new("t2", &[windowed_counts(false, 0)]).unwrap();
    d.pipe("events", None, Some(&ev("a", "x", 1.0)), 10).unwrap();
    d.pipe("events", None, Some(&ev("a", "x", 2.0)), 50).unwrap();
    d.pipe("events", None, Some(&ev("a", "x", 4.0)), 120).unwrap();
    let out = d.read_output("counts").unwrap();
    assert_eq!(out.len(), 3);
    let v: Vec<_> = out.iter().map(|r| r.value_json().unwrap()).collect();
    assert_eq!(v[0], serde_json::json!({"n":1,"total":1.0}));
    assert_eq!(v[1], serde_json::json!({"n":2,"total":3.0}));
    assert_eq!(v[2], serde_json::json!({"n":1,"total":4.0}));
    // Windowed key: KAFKA string key + 8-byte big-endian window start.
    let k = out[2].key.as_ref().unwrap();
    assert_eq!(&k[..1], b"a");
    assert_eq!(i64::from_be_bytes(k[1..9].try_into().unwrap()), 100);
    assert_eq!(out[1].timestamp, 50);
}

#[test]
fn emit_final_gives_one_row_per_window_after_grace_and_drops_late_records() {
    let mut d = TestDriver::new("t3", &[windowed_counts(true, 20)]).unwrap();
    d.pipe("events", None, Some(&ev("a", "x", 1.0)), 10).unwrap();
    d.pipe("events", None, Some(&ev("b", "x", 1.0)), 20).unwrap();
    d.pipe("events", None, Some(&ev("a", "x", 1.0)), 90).unwrap();
    // Stream time 110 < 100 + 20: window [0,100) still open.
    d.pipe("events", None, Some(&ev("a", "x", 1.0)), 110).unwrap();
    assert!(d.read_output("counts").unwrap().is_empty());
    // Within grace: accepted into [0,100).
    d.pipe("events", None, Some(&ev("b", "x", 5.0)), 95).unwrap();
    // Stream time 120 closes [0,100).
    d.pipe("events", None, Some(&ev("c", "x", 1.0)), 120).unwrap();
    let out = d.read_output("counts").unwrap();
    let rows: Vec<_> = out.iter().map(|r| (r.key.as_ref().unwrap()[..1].to_vec(), r.value_json().unwrap())).collect();
    assert_eq!(
        rows,
        vec![
            (b"a".to_vec(), serde_json::json!({"n":2,"total":2.0})),
            (b"b".to_vec(), serde_json::json!({"n":2,"total":6.0})),
        ]
    );
    // Late: window [0,100) closed at stream time 120.
    d.pipe("events", None, Some(&ev("a", "x", 1.0)), 30).unwrap();
    assert_eq!(d.metrics().late_records, 1);
    assert!(d.read_output("counts").unwrap().is_empty());
}

#[test]
fn undecodable_records_are_skipped_and_counted() {
    let plan = events().sink("out", Arc::new(KafkaFormat), Arc::new(JsonFormat)).unwrap().build();
    let mut d = TestDriver::new("t4", &[plan]).unwrap();
    d.pipe_batch(
        "events",
        &[
            (None, Some(&ev("a", "x", 1.0)), 1),
            (None, Some(b"{not json"), 2),
            (None, Some(br#"{"user":"b","amount":"lots"}"#), 3),
            (None, Some(&ev("c", "x", 3.0)), 4),
        ],
    )
    .unwrap();
    let out = d.read_output("out").unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(d.metrics().decode_errors, 2);
    assert_eq!(out[1].value_json().unwrap()["user"], "c");
}

#[test]
fn explain_prints_an_indented_tree() {
    let plan = windowed_counts(true, 0);
    let text = plan.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("Sink: topic=counts"), "{text}");
    assert!(lines.iter().any(|l| l.trim_start().starts_with("Aggregate: COUNT(*) AS n, SUM(amount) AS total window=TUMBLING(size=100ms, grace=0ms)")), "{text}");
    assert!(lines.iter().any(|l| l.starts_with("            Source: topic=events")), "{text}");
}

#[test]
fn a_table_shared_by_two_sinks_across_a_repartition_is_computed_once() {
    let counts = events()
        .group_by(vec![(Expr::col("user"), "user".into())])
        .unwrap()
        .aggregate(Some(WindowSpec::tumbling(100, 0)), vec![(AggFunc::CountStar, vec![], "n".into())])
        .unwrap();
    let sink = |b: PlanBuilder, topic: &str| b.to_stream().unwrap().sink(topic, Arc::new(KafkaFormat), Arc::new(JsonFormat)).unwrap().build();
    let all = sink(counts.clone(), "all");
    let big = sink(counts.clone().filter(Expr::col("n").gt(Expr::lit(1i64))).unwrap(), "big");
    let mut d = TestDriver::new("shared", &[all, big]).unwrap();
    // One aggregate instance: one aggregate sub-topology besides the re-keying one.
    assert_eq!(d.topology().subtopologies.len(), 2, "{}", d.topology());
    for (i, ts) in [10, 20, 30, 150].iter().enumerate() {
        d.pipe("events", None, Some(&ev(if i == 2 { "b" } else { "a" }, "x", 1.0)), *ts).unwrap();
    }
    let n = |rs: Vec<riffle_engine::testing::OutputRecord>| rs.iter().map(|r| r.value_json().unwrap()["n"].as_i64().unwrap()).collect::<Vec<_>>();
    assert_eq!(n(d.read_output("all").unwrap()), vec![1, 2, 1, 1]);
    // The filtered table: deletes for rows that do not match, as null values.
    let big = d.read_output("big").unwrap();
    assert_eq!(big.iter().filter(|r| r.value.is_some()).count(), 1);

    // Suppress is fused into its aggregate: sharing that aggregate is refused.
    let fin = sink(counts.clone().suppress().unwrap(), "fin");
    let err = TestDriver::new("shared2", &[sink(counts, "all"), fin]).unwrap_err();
    assert!(err.to_string().contains("separate aggregation"), "{err}");
}

#[test]
fn sink_takes_record_timestamps_from_a_column_and_drops_negative_ones() {
    let plan = events()
        .project(vec![(Expr::col("user"), "user".into()), (Expr::col("amount").cast(DataType::Int64), "at".into())])
        .unwrap()
        .sink("out", Arc::new(KafkaFormat), Arc::new(JsonFormat))
        .unwrap()
        .with_output_timestamp("at")
        .unwrap()
        .build();
    let mut d = TestDriver::new("t-out-ts", &[plan]).unwrap();
    d.pipe("events", None, Some(&ev("a", "buy", 7.0)), 100).unwrap();
    d.pipe("events", None, Some(&ev("b", "buy", -2.0)), 200).unwrap();
    d.pipe("events", None, Some(br#"{"user":"c"}"#), 300).unwrap();
    let out = d.read_output("out").unwrap();
    // 7 from the column; the negative row is dropped; NULL falls back to the event time.
    assert_eq!(out.iter().map(|r| r.timestamp).collect::<Vec<_>>(), vec![7, 300]);
    let err = events().sink("x", Arc::new(KafkaFormat), Arc::new(JsonFormat)).unwrap().with_output_timestamp("user");
    assert!(err.unwrap_err().to_string().contains("must be BIGINT or TIMESTAMP"));
}

#[test]
fn sink_takes_record_timestamps_from_an_expression_and_drops_rows_where_it_is_null() {
    let plan = events()
        .sink("out", Arc::new(KafkaFormat), Arc::new(JsonFormat))
        .unwrap()
        .with_output_timestamp_expr(Expr::col("amount").cast(DataType::Int64))
        .unwrap()
        .build();
    let mut d = TestDriver::new("t-out-ts-expr", &[plan]).unwrap();
    d.pipe("events", None, Some(&ev("a", "buy", 7.0)), 100).unwrap();
    d.pipe("events", None, Some(br#"{"user":"c"}"#), 300).unwrap();
    d.pipe("events", None, Some(&ev("b", "buy", 9.0)), 400).unwrap();
    let out = d.read_output("out").unwrap();
    // Unlike a column, a NULL expression (a timestamp that cannot be
    // extracted) drops the row rather than falling back to the event time.
    assert_eq!(out.iter().map(|r| r.timestamp).collect::<Vec<_>>(), vec![7, 9]);
    let err = events().sink("x", Arc::new(KafkaFormat), Arc::new(JsonFormat)).unwrap().with_output_timestamp_expr(Expr::col("user"));
    assert!(err.unwrap_err().to_string().contains("must be BIGINT or TIMESTAMP"));
}

/// Records in the application's changelog topics (every store's).
fn changelog_records(d: &TestDriver) -> usize {
    d.log()
        .topics()
        .iter()
        .filter(|t| t.name().ends_with("-changelog"))
        .flat_map(|t| t.partitions().to_vec())
        .map(|p| p.read_records(0, usize::MAX).unwrap().len())
        .sum()
}

#[test]
fn closed_windows_reach_the_store_only_when_it_is_named_or_holds_them() {
    let counts = |name: Option<&str>| {
        let b = events()
            .group_by(vec![(Expr::col("user"), "user".into())])
            .unwrap()
            .aggregate(Some(WindowSpec::tumbling(100, 0)), vec![(AggFunc::CountStar, vec![], "n".into())])
            .unwrap();
        let b = match name {
            Some(n) => b.materialize_as(n).unwrap(),
            None => b,
        };
        b.suppress().unwrap().to_stream().unwrap().sink("counts", Arc::new(KafkaFormat), Arc::new(JsonFormat)).unwrap().build()
    };
    // Windows [0,100) and [100,200) open and close within one commit
    // interval; [200,300) is open at the commit.
    let input: Vec<(Option<&[u8]>, Option<Vec<u8>>, i64)> = vec![
        (None, Some(ev("a", "x", 1.0)), 10),
        (None, Some(ev("b", "x", 1.0)), 20),
        (None, Some(ev("a", "x", 1.0)), 150),
        (None, Some(ev("c", "x", 1.0)), 160),
        (None, Some(ev("d", "x", 1.0)), 210),
    ];
    let input: Vec<(Option<&[u8]>, Option<&[u8]>, i64)> = input.iter().map(|(k, v, t)| (*k, v.as_deref(), *t)).collect();
    for (name, written) in [(None, 1), (Some("counts-store"), 5)] {
        let mut d = TestDriver::new("t-retain", &[counts(name)]).unwrap();
        d.pipe_batch("events", &input).unwrap();
        assert_eq!(d.read_output("counts").unwrap().len(), 4, "{name:?}");
        // Unnamed: nobody reads a closed window again, so only the open
        // one is written. Named: every window stays queryable.
        assert_eq!(changelog_records(&d), written, "{name:?}");
    }
    // A window the store already holds (written at a commit while open)
    // gets its final value written at close, never left partial.
    let mut d = TestDriver::new("t-retain-2", &[counts(None)]).unwrap();
    d.pipe("events", None, Some(&ev("a", "x", 1.0)), 10).unwrap();
    assert_eq!(changelog_records(&d), 1);
    d.pipe_batch("events", &[(None, Some(&ev("a", "x", 1.0)), 30), (None, Some(&ev("b", "x", 1.0)), 40), (None, Some(&ev("e", "x", 1.0)), 150)])
        .unwrap();
    // a's final value (the window it was stored in), e at the commit; b
    // was never stored.
    assert_eq!(changelog_records(&d), 3);
    let out = d.read_output("counts").unwrap();
    assert_eq!(out.iter().map(|r| r.value_json().unwrap()).collect::<Vec<_>>(), vec![serde_json::json!({"n":2}), serde_json::json!({"n":1})]);
}
