//! `riffle topic create | list | describe | delete`.

use clap::Subcommand;
use riffle_log::TopicConfig;

use riffle_log::LogError;

use super::{parse_key_value, with_log_sync, DataDirArg, DirMode};

/// Topic administration.
#[derive(Debug, Subcommand)]
pub enum TopicCommand {
    /// Create a topic.
    Create {
        /// Topic name (letters, digits, '.', '_', '-'; at most 249 characters).
        name: String,
        /// Number of partitions.
        #[arg(long, default_value_t = 1)]
        partitions: i32,
        /// A topic config with its Kafka name, e.g. `retention.ms=60000`.
        /// Repeat for several.
        #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
        configs: Vec<(String, String)>,
        #[command(flatten)]
        dir: DataDirArg,
    },
    /// List topics (internal ones, starting with `__`, are marked).
    List {
        #[command(flatten)]
        dir: DataDirArg,
    },
    /// Show a topic's id, configs and per-partition offsets and sizes.
    Describe {
        /// Topic name.
        name: String,
        #[command(flatten)]
        dir: DataDirArg,
    },
    /// Delete a topic and all its data.
    Delete {
        /// Topic name.
        name: String,
        #[command(flatten)]
        dir: DataDirArg,
    },
}

/// Runs a topic command.
///
/// # Errors
/// The log's errors (unknown topic, invalid name or config, I/O).
pub fn run(cmd: TopicCommand) -> anyhow::Result<()> {
    match cmd {
        TopicCommand::Create { name, partitions, configs, dir } => {
            // Refuse a bad name before creating a data directory for it.
            riffle_log::validate_topic_name(&name)?;
            with_log_sync(&dir.data_dir, DirMode::Create, |log| {
                let mut config = TopicConfig { partitions, ..log.config().default_topic.clone() };
                for (k, v) in &configs {
                    config.set(k, v)?;
                }
                let t = log.create_topic(&name, config)?;
                println!("Created topic {name} with {} partition(s) (id {}).", t.partitions().len(), t.id());
                Ok(())
            })
        }
        TopicCommand::List { dir } => with_log_sync(&dir.data_dir, DirMode::Existing, |log| {
            for t in log.topics() {
                if t.is_internal() {
                    println!("{} (internal)", t.name());
                } else {
                    println!("{}", t.name());
                }
            }
            Ok(())
        }),
        TopicCommand::Describe { name, dir } => with_log_sync(&dir.data_dir, DirMode::Existing, |log| {
            let (t, parts) = log.describe_topic(&name)?;
            let config = t.config();
            println!("Topic: {}\tTopicId: {}\tPartitionCount: {}", t.name(), t.id(), parts.len());
            let configs: Vec<String> = config.to_map().into_iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!("Configs: {}", configs.join(","));
            println!(
                "{:>9}  {:>16}  {:>16}  {:>14}  {:>8}",
                "PARTITION", "LOG-START-OFFSET", "HIGH-WATERMARK", "SIZE-BYTES", "SEGMENTS"
            );
            for p in parts {
                println!(
                    "{:>9}  {:>16}  {:>16}  {:>14}  {:>8}",
                    p.partition, p.log_start_offset, p.high_watermark, p.size_bytes, p.segments
                );
            }
            Ok(())
        }),
        TopicCommand::Delete { name, dir } => with_log_sync(&dir.data_dir, DirMode::Existing, |log| {
            match log.delete_topic(&name) {
                Err(LogError::UnknownTopic { .. }) => {
                    anyhow::bail!("unknown topic {name:?}; `riffle topic list` shows the topics")
                }
                other => other?,
            }
            println!("Deleted topic {name}.");
            Ok(())
        }),
    }
}
