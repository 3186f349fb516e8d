//! Pageviews per page in 1-minute tumbling windows, final results only.
//!
//! Runs on an embedded log in a temporary directory, produces a few
//! hundred pageviews, runs the app until it has processed them, prints the
//! window counts and exits.
//!
//! ```sh
//! cargo run --release --example pageview_counts
//! ```

use std::sync::Arc;
use std::time::Duration;

use riffle::engine::dsl::{KStream, StreamsBuilder, Suppressed, TimeWindows};
use riffle::engine::StreamsConfig;
use riffle::log::{Log, LogClient, LogConfig, Record, TopicConfig};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct PageView {
    page: String,
}

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = Arc::new(Log::open(dir.path().join("log"), LogConfig::default())?);
    // One partition: with no grace period, records from several partitions
    // interleaved out of time order after the re-key would count as late.
    log.create_topic("pageviews", TopicConfig::with_partitions(1))?;

    // Five minutes of pageviews, one every second, keyed by user.
    let pages = ["/", "/docs", "/pricing"];
    for i in 0..300i64 {
        let user = format!("user-{}", i % 7);
        let view = serde_json::to_vec(&PageView { page: pages[(i % 5 % 3) as usize].into() })?;
        log.append("pageviews", 0, &[Record { timestamp: Some(i * 1000), ..Record::keyed(user, view) }])?;
    }

    let builder = StreamsBuilder::new();
    let views: KStream<String, PageView> = builder.stream("pageviews");
    views
        .group_by(|_user, view| view.page.clone())
        .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_secs(60)))
        .count()
        .suppress(Suppressed::until_window_closes())
        .to_stream()
        .to("pageview-counts");

    let mut app = builder.build(log.clone(), StreamsConfig::new("pageview-counts", dir.path().join("state")))?;
    app.start()?;
    app.wait_until_idle(Duration::from_secs(30))?;
    let metrics = app.metrics();
    app.close()?;

    // The four closed windows (the fifth is still open: no record after it).
    let mut rows = Vec::new();
    for p in 0..log.partition_count("pageview-counts")? {
        for r in log.read("pageview-counts", p, 0, 1 << 20)?.records {
            let key = r.key.unwrap_or_default();
            let (page, start) = key.split_at(key.len() - 8);
            let start = i64::from_be_bytes(start.try_into()?);
            let count: i64 = serde_json::from_slice(&r.value.unwrap_or_default())?;
            rows.push((start, String::from_utf8_lossy(page).into_owned(), count));
        }
    }
    rows.sort();
    println!("{:>8}  {:<10} {:>5}", "window", "page", "views");
    for (start, page, count) in &rows {
        println!("{:>7}s  {:<10} {:>5}", start / 1000, page, count);
    }
    println!("{} records read, {} late, {} written", metrics.records_in, metrics.late_records, metrics.records_out);
    anyhow::ensure!(rows.len() == 12 && rows.iter().map(|r| r.2).sum::<i64>() == 240, "unexpected result: {rows:?}");
    Ok(())
}
