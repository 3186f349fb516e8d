//! Operator families end to end through a task (decode → operator → sink),
//! on Nexmark-shaped JSON records keyed by an 8-byte id: a hopping-window
//! count with emit-final (Nexmark q5's first step), a window join of
//! auctions and bids (q4's), and a stream-table join of auctions with
//! people (q3's). Each iteration runs a fresh in-memory-store
//! `TestDriver` over 20,000 input records.
//!
//! Run: `cargo bench -p riffle-engine --bench operators`.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use riffle_engine::format::{JsonFormat, KafkaFormat};
use riffle_engine::plan::{AggFunc, Expr, JoinKind, JoinWindow, LogicalPlan, TimestampSpec, WindowSpec};
use riffle_engine::testing::TestDriver;
use riffle_engine::PlanBuilder;

const RECORDS: usize = 20_000;
const BASE_TS: i64 = 1_436_918_400_000;

type Input = Vec<(Vec<u8>, Vec<u8>, i64)>;

fn bid_schema() -> Schema {
    Schema::new(vec![
        Field::new("bidder", DataType::Int64, true),
        Field::new("price", DataType::Int64, true),
        Field::new("dateTime", DataType::Int64, true),
    ])
}

fn auction_schema() -> Schema {
    Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("seller", DataType::Int64, true),
        Field::new("category", DataType::Int64, true),
        Field::new("dateTime", DataType::Int64, true),
    ])
}

fn stream(topic: &str, key: &str, value: Schema) -> PlanBuilder {
    PlanBuilder::stream(
        topic,
        Arc::new(KafkaFormat),
        Arc::new(JsonFormat),
        &[Field::new(key, DataType::Int64, true)],
        value,
        TimestampSpec::Column("dateTime".into()),
    )
    .expect("source")
}

/// Bids 1 ms apart on 100 auctions (half of them on one hot auction).
fn bids(n: usize) -> Input {
    (0..n)
        .map(|i| {
            let auction = if i % 2 == 0 { 1000 } else { 1000 + (i as i64 * 7919) % 100 };
            let ts = BASE_TS + i as i64;
            let v = format!(r#"{{"bidder":{},"price":{},"dateTime":{ts}}}"#, 2000 + i % 1000, (i * 7) % 100_000);
            (auction.to_be_bytes().to_vec(), v.into_bytes(), ts)
        })
        .collect()
}

/// Auctions 15 ms apart, keyed by `key` (the id, or the seller).
fn auctions(n: usize, by_seller: bool) -> Input {
    (0..n)
        .map(|i| {
            let (id, seller, ts) = (1000 + i as i64, 1000 + (i as i64 % 500), BASE_TS + 15 * i as i64);
            let v = format!(r#"{{"id":{id},"seller":{seller},"category":{},"dateTime":{ts}}}"#, 10 + i % 5);
            ((if by_seller { seller } else { id }).to_be_bytes().to_vec(), v.into_bytes(), ts)
        })
        .collect()
}

/// Appends `input` in chunks of 4,000 records (under the log's 1 MiB batch
/// limit) and runs the tasks after each.
fn pipe(driver: &mut TestDriver, topic: &str, input: &Input) {
    for chunk in input.chunks(4000) {
        let recs: Vec<(Option<&[u8]>, Option<&[u8]>, i64)> =
            chunk.iter().map(|(k, v, ts)| (Some(k.as_slice()), Some(v.as_slice()), *ts)).collect();
        driver.pipe_batch(topic, &recs).expect("pipe");
    }
}

fn window_aggregate_plan() -> Arc<LogicalPlan> {
    stream("bid", "auction", bid_schema())
        .group_by(vec![(Expr::col("auction"), "auction".into())])
        .and_then(|b| {
            b.aggregate(Some(WindowSpec::hopping(10_000, 2_000, 0)), vec![(AggFunc::CountStar, vec![], "num".into())])
        })
        .and_then(|b| b.suppress())
        .and_then(|b| b.to_stream())
        .and_then(|b| b.sink("out", Arc::new(KafkaFormat), Arc::new(JsonFormat)))
        .expect("plan")
        .build()
}

fn window_join_plan() -> Arc<LogicalPlan> {
    let window = JoinWindow { before_ms: 0, after_ms: 300, grace_ms: 0, eager: false };
    stream("auction", "k", auction_schema())
        .join(stream("bid", "auction", bid_schema()), JoinKind::Inner, Some(window))
        .and_then(|b| b.sink("out", Arc::new(KafkaFormat), Arc::new(JsonFormat)))
        .expect("plan")
        .build()
}

fn stream_table_join_plan() -> Arc<LogicalPlan> {
    let person = PlanBuilder::table(
        "person",
        Arc::new(KafkaFormat),
        Arc::new(JsonFormat),
        &[Field::new("id", DataType::Int64, true)],
        Schema::new(vec![Field::new("name", DataType::Utf8, true), Field::new("state", DataType::Utf8, true)]),
        TimestampSpec::Record,
    )
    .expect("table");
    stream("auction", "k", auction_schema())
        .join(person, JoinKind::Inner, None)
        .and_then(|b| b.sink("out", Arc::new(KafkaFormat), Arc::new(JsonFormat)))
        .expect("plan")
        .build()
}

fn operators(c: &mut Criterion) {
    let mut g = c.benchmark_group("operators");
    g.sample_size(10);
    g.throughput(Throughput::Elements(RECORDS as u64));

    let plan = window_aggregate_plan();
    let input = bids(RECORDS);
    g.bench_function("window_aggregate_hopping_count_emit_final", |b| {
        b.iter_batched(
            || TestDriver::with_config("bench-wagg", &[plan.clone()], 1, true).expect("driver"),
            |mut d| {
                pipe(&mut d, "bid", &input);
                black_box(d.metrics())
            },
            BatchSize::PerIteration,
        )
    });

    let plan = window_join_plan();
    let (a, b_in) = (auctions(RECORDS / 16, false), bids(RECORDS - RECORDS / 16));
    g.bench_function("window_join_auction_bid", |b| {
        b.iter_batched(
            || TestDriver::with_config("bench-wjoin", &[plan.clone()], 1, true).expect("driver"),
            |mut d| {
                pipe(&mut d, "auction", &a);
                pipe(&mut d, "bid", &b_in);
                black_box(d.metrics())
            },
            BatchSize::PerIteration,
        )
    });

    let plan = stream_table_join_plan();
    let people: Input = (0..500i64)
        .map(|i| ((1000 + i).to_be_bytes().to_vec(), format!(r#"{{"name":"p{i}","state":"OR"}}"#).into_bytes(), BASE_TS))
        .collect();
    let a = auctions(RECORDS, true);
    g.bench_function("stream_table_join_auction_person", |b| {
        b.iter_batched(
            || {
                let mut d = TestDriver::with_config("bench-stjoin", &[plan.clone()], 1, true).expect("driver");
                pipe(&mut d, "person", &people);
                d
            },
            |mut d| {
                pipe(&mut d, "auction", &a);
                black_box(d.metrics())
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, operators);
criterion_main!(benches);
