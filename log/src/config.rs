//! Log-wide configuration and durability levels.

use std::time::Duration;

use crate::group::CoordinatorConfig;
use crate::topic::TopicConfig;

/// When an append counts as durable, and so when it is acknowledged.
///
/// Every level survives a crash of the Riffle *process*: acknowledged bytes
/// are in the kernel's page cache. They differ in what survives a crash of
/// the *machine* (power loss, kernel panic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Acknowledged once written to the page cache. A machine crash can lose
    /// anything the kernel had not yet written back (typically up to ~30 s).
    /// Fastest; the usual choice with replication (Kafka's default).
    #[default]
    PageCache,
    /// Acknowledged once in the page cache; a background flusher fsyncs every
    /// partition at this interval. A machine crash loses at most about one
    /// interval of acknowledged appends.
    Interval(Duration),
    /// Each append is fsynced (fdatasync) before it is acknowledged. A
    /// machine crash loses nothing that was acknowledged.
    Fsync,
}

impl Durability {
    /// Parses `none` / `page-cache`, `interval` / `interval:<ms>`, `fsync`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" | "page-cache" => Some(Durability::PageCache),
            "fsync" => Some(Durability::Fsync),
            "interval" => Some(Durability::Interval(Duration::from_millis(1000))),
            _ => {
                let ms = s.strip_prefix("interval:")?.parse().ok()?;
                Some(Durability::Interval(Duration::from_millis(ms)))
            }
        }
    }
}

/// Configuration of a whole [`Log`](crate::Log).
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Durability of appends.
    pub durability: Durability,
    /// Defaults for new topics (per-topic settings override them).
    pub default_topic: TopicConfig,
    /// How often the background cleaner applies retention and compaction.
    pub retention_check_interval: Duration,
    /// Partitions of the internal `__consumer_offsets` topic.
    pub offsets_topic_partitions: i32,
    /// Consumer-group coordinator settings. The embedded default waits no
    /// initial rebalance delay (Kafka's broker waits 3 s to gather members).
    pub group: CoordinatorConfig,
    /// Whether to run the background cleaner thread (tests drive it by hand).
    pub background_cleaner: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            durability: Durability::PageCache,
            default_topic: TopicConfig::default(),
            retention_check_interval: Duration::from_secs(30),
            offsets_topic_partitions: 1,
            group: CoordinatorConfig { initial_rebalance_delay: Duration::ZERO, ..Default::default() },
            background_cleaner: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durability_names() {
        assert_eq!(Durability::parse("none"), Some(Durability::PageCache));
        assert_eq!(Durability::parse("fsync"), Some(Durability::Fsync));
        assert_eq!(Durability::parse("interval:50"), Some(Durability::Interval(Duration::from_millis(50))));
        assert_eq!(Durability::parse("sometimes"), None);
    }
}
