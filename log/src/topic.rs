//! Topics: names, per-topic configuration and the `(topic, partition)` pair.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::error::{LogError, Result};

/// Longest topic name Kafka accepts.
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// A `(topic, partition)` pair.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index, `0..partitions`.
    pub partition: i32,
}

impl TopicPartition {
    /// Makes a pair.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition { topic: topic.into(), partition }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// Checks a topic name the way Kafka does: 1..=249 characters from
/// `[a-zA-Z0-9._-]`, and not `.` or `..`.
///
/// # Errors
/// [`LogError::InvalidTopicName`] saying which rule is broken.
///
/// # Examples
/// ```
/// use riffle_log::validate_topic_name;
/// assert!(validate_topic_name("page_views.v1").is_ok());
/// assert!(validate_topic_name("bad name").is_err());
/// ```
pub fn validate_topic_name(name: &str) -> Result<()> {
    let bad = |reason: String| LogError::InvalidTopicName { name: name.to_string(), reason };
    if name.is_empty() {
        return Err(bad("the name is empty".into()));
    }
    if name == "." || name == ".." {
        return Err(bad("'.' and '..' are not allowed as topic names".into()));
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return Err(bad(format!(
            "the name is {} characters long; the maximum is {MAX_TOPIC_NAME_LEN}",
            name.len()
        )));
    }
    if let Some((i, c)) =
        name.char_indices().find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(bad(format!(
            "character {c:?} at position {i} is not allowed; use only ASCII letters, digits, '.', '_' and '-'"
        )));
    }
    Ok(())
}

/// Two names that differ only in `.` versus `_` collide in Kafka's metric
/// names, so Kafka refuses to create the second one. This returns the form
/// they are compared in.
pub fn collision_form(name: &str) -> String {
    name.replace('.', "_")
}

/// What happens to old data in a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanupPolicy {
    /// Delete whole segments past retention (time or size).
    Delete,
    /// Keep the latest value per key (log compaction).
    Compact,
    /// Compact, and also delete segments past retention.
    CompactDelete,
}

impl CleanupPolicy {
    /// True when the cleaner compacts this topic.
    pub fn compacts(self) -> bool {
        matches!(self, CleanupPolicy::Compact | CleanupPolicy::CompactDelete)
    }
    /// True when retention deletes segments of this topic.
    pub fn deletes(self) -> bool {
        matches!(self, CleanupPolicy::Delete | CleanupPolicy::CompactDelete)
    }
    fn as_str(self) -> &'static str {
        match self {
            CleanupPolicy::Delete => "delete",
            CleanupPolicy::Compact => "compact",
            CleanupPolicy::CompactDelete => "compact,delete",
        }
    }
}

/// Which timestamp a stored record carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    /// The producer's timestamp is kept.
    CreateTime,
    /// The log overwrites the batch timestamp with the append time.
    LogAppendTime,
}

/// Per-topic configuration, with Kafka's names and defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicConfig {
    /// Number of partitions (`>= 1`).
    pub partitions: i32,
    /// `retention.ms`: delete segments whose newest record is older; `None` = forever.
    pub retention_ms: Option<i64>,
    /// `retention.bytes`: per-partition size bound; `None` = unbounded.
    pub retention_bytes: Option<u64>,
    /// `segment.bytes`: roll the active segment past this size.
    pub segment_bytes: u64,
    /// `segment.ms`: roll the active segment when it is older than this.
    pub segment_ms: Option<i64>,
    /// `cleanup.policy`.
    pub cleanup_policy: CleanupPolicy,
    /// `delete.retention.ms`: how long compaction keeps tombstones.
    pub delete_retention_ms: i64,
    /// `min.compaction.lag.ms`: records younger than this are not compacted.
    pub min_compaction_lag_ms: i64,
    /// `max.message.bytes`: largest accepted record batch.
    pub max_message_bytes: usize,
    /// `message.timestamp.type`.
    pub timestamp_type: TimestampType,
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            partitions: 1,
            retention_ms: Some(7 * 24 * 3600 * 1000),
            retention_bytes: None,
            segment_bytes: 1 << 30,
            segment_ms: None,
            cleanup_policy: CleanupPolicy::Delete,
            delete_retention_ms: 24 * 3600 * 1000,
            min_compaction_lag_ms: 0,
            max_message_bytes: 1_048_588,
            timestamp_type: TimestampType::CreateTime,
        }
    }
}

impl TopicConfig {
    /// A default config with `partitions` partitions.
    pub fn with_partitions(partitions: i32) -> Self {
        TopicConfig { partitions, ..Default::default() }
    }

    /// A compacted topic (for changelogs and internal state).
    pub fn compacted(partitions: i32) -> Self {
        TopicConfig {
            partitions,
            retention_ms: None,
            cleanup_policy: CleanupPolicy::Compact,
            segment_bytes: 100 << 20,
            ..Default::default()
        }
    }

    /// Sets one config by its Kafka name.
    ///
    /// # Errors
    /// [`LogError::InvalidConfig`] for unknown keys or unparsable values.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let invalid = |reason: &str| LogError::InvalidConfig {
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        };
        let int = || value.trim().parse::<i64>().map_err(|_| invalid("expected an integer"));
        match key {
            "partitions" => {
                let n = int()?;
                if !(1..=100_000).contains(&n) {
                    return Err(invalid("partitions must be between 1 and 100000"));
                }
                self.partitions = n as i32;
            }
            "retention.ms" => {
                let n = int()?;
                self.retention_ms = if n < 0 { None } else { Some(n) };
            }
            "retention.bytes" => {
                let n = int()?;
                self.retention_bytes = if n < 0 { None } else { Some(n as u64) };
            }
            "segment.bytes" => {
                let n = int()?;
                if n < 1024 {
                    return Err(invalid("segment.bytes must be at least 1024"));
                }
                self.segment_bytes = n as u64;
            }
            "segment.ms" => {
                let n = int()?;
                if n <= 0 {
                    return Err(invalid("segment.ms must be positive"));
                }
                self.segment_ms = Some(n);
            }
            "cleanup.policy" => {
                let mut parts: Vec<&str> = value.split(',').map(str::trim).collect();
                parts.sort_unstable();
                self.cleanup_policy = match parts.as_slice() {
                    ["delete"] => CleanupPolicy::Delete,
                    ["compact"] => CleanupPolicy::Compact,
                    ["compact", "delete"] => CleanupPolicy::CompactDelete,
                    _ => return Err(invalid("expected delete, compact or compact,delete")),
                };
            }
            "delete.retention.ms" => self.delete_retention_ms = int()?.max(0),
            "min.compaction.lag.ms" => self.min_compaction_lag_ms = int()?.max(0),
            "max.message.bytes" => {
                let n = int()?;
                if n < 64 {
                    return Err(invalid("max.message.bytes must be at least 64"));
                }
                self.max_message_bytes = n as usize;
            }
            "message.timestamp.type" => {
                self.timestamp_type = match value {
                    "CreateTime" => TimestampType::CreateTime,
                    "LogAppendTime" => TimestampType::LogAppendTime,
                    _ => return Err(invalid("expected CreateTime or LogAppendTime")),
                }
            }
            _ => {
                return Err(invalid(
                    "unknown topic config; known: partitions, retention.ms, retention.bytes, \
                     segment.bytes, segment.ms, cleanup.policy, delete.retention.ms, \
                     min.compaction.lag.ms, max.message.bytes, message.timestamp.type",
                ))
            }
        }
        Ok(())
    }

    /// All configs as Kafka names and values (what `describe` shows and what
    /// is persisted).
    pub fn to_map(&self) -> BTreeMap<&'static str, String> {
        let opt = |v: Option<i64>| v.unwrap_or(-1).to_string();
        let mut m = BTreeMap::new();
        m.insert("partitions", self.partitions.to_string());
        m.insert("retention.ms", opt(self.retention_ms));
        m.insert("retention.bytes", self.retention_bytes.map_or(-1, |b| b as i64).to_string());
        m.insert("segment.bytes", self.segment_bytes.to_string());
        if let Some(ms) = self.segment_ms {
            m.insert("segment.ms", ms.to_string());
        }
        m.insert("cleanup.policy", self.cleanup_policy.as_str().to_string());
        m.insert("delete.retention.ms", self.delete_retention_ms.to_string());
        m.insert("min.compaction.lag.ms", self.min_compaction_lag_ms.to_string());
        m.insert("max.message.bytes", self.max_message_bytes.to_string());
        m.insert(
            "message.timestamp.type",
            match self.timestamp_type {
                TimestampType::CreateTime => "CreateTime",
                TimestampType::LogAppendTime => "LogAppendTime",
            }
            .to_string(),
        );
        m
    }

    /// The segment roll age as a duration, if set.
    pub fn segment_age(&self) -> Option<Duration> {
        self.segment_ms.map(|ms| Duration::from_millis(ms as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_topic_name_rules() {
        for ok in ["a", "A-b_c.d", "x".repeat(249).as_str(), "__consumer_offsets"] {
            assert!(validate_topic_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "has space", "slash/y", "ünï", &"x".repeat(250)] {
            let err = validate_topic_name(bad).unwrap_err().to_string();
            assert!(err.contains("invalid topic name"), "{bad}: {err}");
        }
    }

    #[test]
    fn config_round_trips_through_kafka_names() {
        let mut c = TopicConfig::default();
        c.set("cleanup.policy", "delete,compact").unwrap();
        c.set("retention.ms", "1000").unwrap();
        c.set("message.timestamp.type", "LogAppendTime").unwrap();
        let mut d = TopicConfig::default();
        for (k, v) in c.to_map() {
            d.set(k, &v).unwrap();
        }
        assert_eq!(c, d);
        assert!(c.set("retention.ms", "soon").is_err());
        assert!(c.set("no.such.key", "1").unwrap_err().to_string().contains("unknown topic config"));
    }
}
