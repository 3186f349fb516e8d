//! `riffle groups list | describe`: consumer groups, their members and
//! their committed offsets and lag (like `kafka-consumer-groups`).

use std::collections::BTreeMap;

use clap::Subcommand;
use riffle_log::group::ConsumerAssignment;
use riffle_log::{Log, TopicPartition};

use super::{with_log_sync, DataDirArg, DirMode};

/// Consumer-group inspection.
#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// List consumer groups with their state.
    List {
        #[command(flatten)]
        dir: DataDirArg,
    },
    /// Show a group's state, members and per-partition offsets and lag.
    Describe {
        /// Group id.
        group: String,
        #[command(flatten)]
        dir: DataDirArg,
    },
}

/// Runs a groups command.
///
/// # Errors
/// An unknown group; I/O errors opening the log.
pub fn run(cmd: GroupsCommand) -> anyhow::Result<()> {
    match cmd {
        GroupsCommand::List { dir } => with_log_sync(&dir.data_dir, DirMode::Existing, |log| {
            let groups = log.groups().list_groups();
            if groups.is_empty() {
                eprintln!("no consumer groups (they appear once a consumer with --group commits)");
            }
            for (id, _, state) in groups {
                println!("{id}\t{}", state.as_str());
            }
            Ok(())
        }),
        GroupsCommand::Describe { group, dir } => {
            with_log_sync(&dir.data_dir, DirMode::Existing, |log| describe(log, &group))
        }
    }
}

/// One line of the offsets table.
struct Row {
    /// The group's committed offset (`None`: assigned but never committed).
    committed: Option<i64>,
    /// The partition's high watermark (log-end offset).
    end: Option<i64>,
    /// `end - committed`.
    lag: Option<i64>,
}

fn describe(log: &Log, group: &str) -> anyhow::Result<()> {
    let Some(desc) = log.groups().describe_group(group) else {
        anyhow::bail!("consumer group {group:?} does not exist; `riffle groups list` shows the groups");
    };
    // Which member owns which partition, from the current assignment.
    let mut owner: BTreeMap<TopicPartition, String> = BTreeMap::new();
    for m in &desc.members {
        if let Ok(a) = ConsumerAssignment::decode(&m.assignment) {
            for tp in a.partitions {
                owner.insert(tp, m.member_id.clone());
            }
        }
    }
    println!(
        "Group {group}: state {}, {} member(s), generation {}{}",
        desc.state.as_str(),
        desc.members.len(),
        desc.generation_id,
        desc.protocol.as_deref().map(|p| format!(", assignor {p}")).unwrap_or_default()
    );
    for m in &desc.members {
        println!("  member {} (client {})", m.member_id, m.client_id);
    }
    println!();
    let mut rows: BTreeMap<TopicPartition, Row> = BTreeMap::new();
    for l in log.group_lag(group) {
        rows.insert(l.partition, Row { committed: Some(l.committed), end: l.high_watermark, lag: l.lag });
    }
    for tp in owner.keys() {
        rows.entry(tp.clone()).or_insert_with(|| {
            let end = log.partition(&tp.topic, tp.partition).ok().map(|p| p.high_watermark());
            Row { committed: None, end, lag: None }
        });
    }
    if rows.is_empty() {
        println!("The group has no committed offsets and no assigned partitions.");
        return Ok(());
    }
    let w = rows.keys().map(|tp| tp.topic.len()).max().unwrap_or(5).max(5);
    println!(
        "{:<w$}  {:>9}  {:>14}  {:>14}  {:>10}  CONSUMER-ID",
        "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG"
    );
    let dash = |v: Option<i64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    for (tp, row) in &rows {
        println!(
            "{:<w$}  {:>9}  {:>14}  {:>14}  {:>10}  {}",
            tp.topic,
            tp.partition,
            dash(row.committed),
            dash(row.end),
            dash(row.lag),
            owner.get(tp).map_or("-", String::as_str)
        );
    }
    Ok(())
}
