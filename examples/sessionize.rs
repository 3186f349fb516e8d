//! Sessionize clicks: per user, clicks less than 30 minutes apart form one
//! session; a click that bridges two sessions merges them. Prints each
//! user's final sessions (start, end, clicks) and exits.
//!
//! ```sh
//! cargo run --release --example sessionize
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use riffle::engine::dsl::{KStream, SessionWindows, StreamsBuilder};
use riffle::engine::StreamsConfig;
use riffle::log::{Log, LogClient, LogConfig, Record, TopicConfig};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Click {
    url: String,
}

const MIN: i64 = 60_000;

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = Arc::new(Log::open(dir.path().join("log"), LogConfig::default())?);
    log.create_topic("clicks", TopicConfig::with_partitions(1))?;
    // (user, minute): alice has two sessions, [0, 10] and [60, 65], until a
    // late click at 35 bridges them into one; bob has one.
    let clicks = [("alice", 0), ("alice", 10), ("bob", 12), ("alice", 60), ("alice", 65), ("bob", 30), ("alice", 35)];
    for (user, minute) in clicks {
        let v = serde_json::to_vec(&Click { url: format!("/page/{minute}") })?;
        log.append("clicks", 0, &[Record { timestamp: Some(minute * MIN), ..Record::keyed(user, v) }])?;
    }

    let builder = StreamsBuilder::new();
    let clicks: KStream<String, Click> = builder.stream("clicks");
    clicks
        .group_by_key()
        .windowed_by(SessionWindows::with_inactivity_gap(Duration::from_secs(30 * 60)))
        .count()
        .to_stream()
        .to("sessions");

    let mut app = builder.build(log.clone(), StreamsConfig::new("sessionize", dir.path().join("state")))?;
    app.start()?;
    app.wait_until_idle(Duration::from_secs(30))?;
    app.close()?;

    // The sessions topic is a changelog: merged-away sessions get
    // tombstones. Replay it into the final table.
    let mut sessions: BTreeMap<(String, i64, i64), i64> = BTreeMap::new();
    for r in log.read("sessions", 0, 0, 1 << 20)?.records {
        let key = r.key.unwrap_or_default();
        let (user, bounds) = key.split_at(key.len() - 16);
        let end = i64::from_be_bytes(bounds[..8].try_into()?);
        let start = i64::from_be_bytes(bounds[8..].try_into()?);
        let k = (String::from_utf8_lossy(user).into_owned(), start, end);
        match r.value {
            Some(v) => {
                sessions.insert(k, serde_json::from_slice(&v)?);
            }
            None => {
                sessions.remove(&k);
            }
        }
    }
    println!("{:<6} {:>6} {:>6} {:>7}", "user", "start", "end", "clicks");
    for ((user, start, end), n) in &sessions {
        println!("{user:<6} {:>5}m {:>5}m {n:>7}", start / MIN, end / MIN);
    }
    let expected: Vec<i64> = vec![5, 2];
    anyhow::ensure!(sessions.values().copied().collect::<Vec<_>>() == expected, "unexpected sessions: {sessions:?}");
    Ok(())
}
