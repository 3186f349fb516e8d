//! Orders enriched with their customer: a stream-table left join.
//!
//! Customers are a table (latest row per customer id; a later update wins);
//! orders are a stream keyed by customer id. Each order is joined with the
//! customer row current at the order's time; an order for an unknown
//! customer still comes out (left join) with no customer. Runs on an
//! embedded log, prints the enriched orders and exits.
//!
//! ```sh
//! cargo run --release --example orders_enrichment
//! ```

use std::sync::Arc;
use std::time::Duration;

use riffle::engine::dsl::{KStream, KTable, StreamsBuilder};
use riffle::engine::StreamsConfig;
use riffle::log::{Log, LogClient, LogConfig, Record, TopicConfig};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Customer {
    name: String,
    tier: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Order {
    order_id: u32,
    amount: f64,
}

#[derive(Debug, Serialize, Deserialize)]
struct EnrichedOrder {
    order_id: u32,
    amount: f64,
    customer: Option<String>,
    tier: Option<String>,
}

fn send(log: &Log, topic: &str, key: &str, value: &impl Serialize, ts: i64) -> anyhow::Result<()> {
    let record = Record { timestamp: Some(ts), ..Record::keyed(key.to_string(), serde_json::to_vec(value)?) };
    log.append(topic, 0, &[record])?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = Arc::new(Log::open(dir.path().join("log"), LogConfig::default())?);
    // Co-partitioned inputs: the same key goes to the same partition of both.
    log.create_topic("customers", TopicConfig::with_partitions(1))?;
    log.create_topic("orders", TopicConfig::with_partitions(1))?;

    let c = |name: &str, tier: &str| Customer { name: name.into(), tier: tier.into() };
    send(&log, "customers", "c1", &c("Ada", "gold"), 1_000)?;
    send(&log, "customers", "c2", &c("Grace", "silver"), 1_000)?;
    send(&log, "orders", "c1", &Order { order_id: 1, amount: 25.0 }, 2_000)?;
    send(&log, "orders", "c2", &Order { order_id: 2, amount: 12.5 }, 3_000)?;
    send(&log, "orders", "c3", &Order { order_id: 3, amount: 99.0 }, 4_000)?; // unknown customer
    send(&log, "customers", "c2", &c("Grace", "gold"), 5_000)?; // an upgrade
    send(&log, "orders", "c2", &Order { order_id: 4, amount: 40.0 }, 6_000)?;

    let builder = StreamsBuilder::new();
    let customers: KTable<String, Customer> = builder.table("customers");
    let orders: KStream<String, Order> = builder.stream("orders");
    orders
        .left_join(&customers, |order: &Order, customer: Option<&Customer>| EnrichedOrder {
            order_id: order.order_id,
            amount: order.amount,
            customer: customer.map(|c| c.name.clone()),
            tier: customer.map(|c| c.tier.clone()),
        })
        .to("orders-enriched");

    let mut app = builder.build(log.clone(), StreamsConfig::new("orders-enrichment", dir.path().join("state")))?;
    app.start()?;
    app.wait_until_idle(Duration::from_secs(30))?;
    app.close()?;

    let mut out = Vec::new();
    for r in log.read("orders-enriched", 0, 0, 1 << 20)?.records {
        let e: EnrichedOrder = serde_json::from_slice(&r.value.unwrap_or_default())?;
        println!(
            "order {} ({:>5.2}) customer {:<8} tier {}",
            e.order_id,
            e.amount,
            e.customer.as_deref().unwrap_or("-"),
            e.tier.as_deref().unwrap_or("-")
        );
        out.push(e);
    }
    anyhow::ensure!(out.len() == 4, "expected 4 enriched orders, got {}", out.len());
    anyhow::ensure!(out[1].tier.as_deref() == Some("silver") && out[3].tier.as_deref() == Some("gold"));
    anyhow::ensure!(out[2].customer.is_none());
    Ok(())
}
