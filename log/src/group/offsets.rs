//! Committed offsets and their durable form.
//!
//! The coordinator keeps each group's committed offsets in memory and makes
//! every commit durable through an [`OffsetStorage`] *before* it becomes
//! visible. Riffle backs the storage with the compacted internal topic
//! `__consumer_offsets`; on startup the coordinator replays that topic with
//! [`GroupCoordinator::load`](super::GroupCoordinator::load).
//!
//! Records use Kafka's own `__consumer_offsets` layout, so the key doubles as
//! the compaction key (one live record per group and partition):
//!
//! ```text
//! key   (v1) => version:int16 group:string topic:string partition:int32
//! value (v3) => version:int16 offset:int64 leader_epoch:int32 (-1 = none)
//!               metadata:string commit_timestamp:int64
//! tombstone  => key with a null value: the offset was deleted
//! ```
//!
//! Key versions 0 and 1 are offset keys; other key versions (Kafka's group
//! metadata records, version 2) are not offsets and are skipped on load.
//! Value versions 0..=3 are read; newer ones are skipped with a warning.

use bytes::{BufMut, Bytes, BytesMut};

use super::codec::{put_string, Reader};
use crate::error::{LogError, Result};
use crate::topic::TopicPartition;

/// Largest commit metadata string accepted (Kafka's `offset.metadata.max.bytes` default).
pub const MAX_OFFSET_METADATA_BYTES: usize = 4096;

/// Key version Riffle writes for offset commits.
pub const OFFSET_KEY_VERSION: i16 = 1;

/// Value version Riffle writes for offset commits.
pub const OFFSET_VALUE_VERSION: i16 = 3;

/// A committed position of a group in one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetAndMetadata {
    /// The next offset the group will consume.
    pub offset: i64,
    /// The leader epoch of the last consumed record, when known.
    pub leader_epoch: Option<i32>,
    /// Free-form client metadata (at most [`MAX_OFFSET_METADATA_BYTES`]).
    pub metadata: String,
    /// When the commit was made, milliseconds since the Unix epoch.
    pub commit_timestamp_ms: i64,
}

impl OffsetAndMetadata {
    /// An offset without epoch or metadata.
    pub fn new(offset: i64, commit_timestamp_ms: i64) -> Self {
        OffsetAndMetadata { offset, leader_epoch: None, metadata: String::new(), commit_timestamp_ms }
    }
}

/// Where the coordinator makes commits durable.
///
/// # Contract
/// - `append` is atomic for its batch: when it returns `Ok`, every record is
///   durable (as durable as the implementation promises) and will be
///   returned, in order, by a later replay; when it returns `Err`, the
///   coordinator treats none of them as committed.
/// - Records for one key are replayed in append order (a compacted topic may
///   drop all but the last one for a key, which gives the same state).
/// - The coordinator calls `append` while holding the group's lock, so
///   appends for one group never race; it should not block for long.
pub trait OffsetStorage: Send + Sync {
    /// Appends `(key, value)` records; a `None` value is a tombstone.
    ///
    /// # Errors
    /// Any error; the coordinator passes it to the committing caller.
    fn append(&self, records: Vec<(Bytes, Option<Bytes>)>) -> Result<()>;
}

/// A decoded `__consumer_offsets` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OffsetRecordKey {
    /// An offset commit of `group` for `partition`.
    Offset {
        /// The group id.
        group: String,
        /// The partition.
        partition: TopicPartition,
    },
    /// A key version that is not an offset commit (e.g. Kafka's group metadata, v2).
    Other {
        /// The key's version.
        version: i16,
    },
}

/// Encodes the key of an offset record.
///
/// # Errors
/// [`LogError::InvalidConfig`] when the group id or topic is longer than a
/// Kafka string allows (32767 bytes).
pub(crate) fn encode_offset_key(group: &str, partition: &TopicPartition) -> Result<Bytes> {
    let mut buf = BytesMut::with_capacity(8 + group.len() + partition.topic.len());
    buf.put_i16(OFFSET_KEY_VERSION);
    put_string(&mut buf, group, "group id").map_err(|e| too_long("group.id", group, e))?;
    put_string(&mut buf, &partition.topic, "topic").map_err(|e| too_long("topic", &partition.topic, e))?;
    buf.put_i32(partition.partition);
    Ok(buf.freeze())
}

/// Encodes the value of an offset record (version 3).
///
/// # Errors
/// [`LogError::InvalidConfig`] when the metadata is longer than
/// [`MAX_OFFSET_METADATA_BYTES`].
pub(crate) fn encode_offset_value(value: &OffsetAndMetadata) -> Result<Bytes> {
    if value.metadata.len() > MAX_OFFSET_METADATA_BYTES {
        return Err(LogError::InvalidConfig {
            key: "offset.metadata.max.bytes".into(),
            value: value.metadata.len().to_string(),
            reason: format!(
                "commit metadata of {} bytes exceeds the {MAX_OFFSET_METADATA_BYTES}-byte limit; shorten it",
                value.metadata.len()
            ),
        });
    }
    let mut buf = BytesMut::with_capacity(24 + value.metadata.len());
    buf.put_i16(OFFSET_VALUE_VERSION);
    buf.put_i64(value.offset);
    buf.put_i32(value.leader_epoch.unwrap_or(-1));
    put_string(&mut buf, &value.metadata, "metadata")
        .map_err(|e| too_long("metadata", &value.metadata, e))?;
    buf.put_i64(value.commit_timestamp_ms);
    Ok(buf.freeze())
}

/// Decodes an offset record key.
///
/// # Errors
/// A message saying where an offset key (version 0 or 1) is truncated or
/// malformed; the caller adds which record it was.
pub(crate) fn decode_offset_key(buf: &[u8]) -> std::result::Result<OffsetRecordKey, String> {
    let mut r = Reader::new(buf);
    let version = r.i16("key version").map_err(|e| e.to_string())?;
    if !(0..=1).contains(&version) {
        return Ok(OffsetRecordKey::Other { version });
    }
    let group = r.string("group id").map_err(|e| e.to_string())?;
    let topic = r.string("topic").map_err(|e| e.to_string())?;
    let partition = r.i32("partition").map_err(|e| e.to_string())?;
    Ok(OffsetRecordKey::Offset { group, partition: TopicPartition { topic, partition } })
}

/// Decodes an offset record value; `Ok(None)` for a version newer than 3.
///
/// # Errors
/// A message saying where a value is truncated or malformed.
pub(crate) fn decode_offset_value(buf: &[u8]) -> std::result::Result<Option<OffsetAndMetadata>, String> {
    let mut r = Reader::new(buf);
    let e = |e: super::codec::DecodeError| e.to_string();
    let version = r.i16("value version").map_err(e)?;
    if !(0..=3).contains(&version) {
        return if version < 0 { Err(format!("negative value version {version}")) } else { Ok(None) };
    }
    let offset = r.i64("offset").map_err(e)?;
    let leader_epoch = if version >= 3 { Some(r.i32("leader epoch").map_err(e)?) } else { None };
    let metadata = r.string("metadata").map_err(e)?;
    let commit_timestamp_ms = r.i64("commit timestamp").map_err(e)?;
    if version == 1 {
        r.i64("expire timestamp").map_err(e)?;
    }
    Ok(Some(OffsetAndMetadata {
        offset,
        leader_epoch: leader_epoch.filter(|&e| e >= 0),
        metadata,
        commit_timestamp_ms,
    }))
}

fn too_long(key: &str, value: &str, e: super::codec::EncodeError) -> LogError {
    let shown: String = value.chars().take(40).collect();
    LogError::InvalidConfig { key: key.into(), value: format!("{shown}..."), reason: e.to_string() }
}

/// An [`OffsetStorage`] that keeps records in a `Vec`, for tests.
#[cfg(test)]
#[derive(Default)]
pub(crate) struct MemoryOffsetStorage {
    records: parking_lot::Mutex<Vec<(Bytes, Option<Bytes>)>>,
    fail: std::sync::atomic::AtomicBool,
}

#[cfg(test)]
impl MemoryOffsetStorage {
    /// Everything appended so far, in order.
    pub fn records(&self) -> Vec<(Bytes, Option<Bytes>)> {
        self.records.lock().clone()
    }

    /// Makes later appends fail (or succeed again).
    pub fn set_failing(&self, fail: bool) {
        self.fail.store(fail, std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(test)]
impl OffsetStorage for MemoryOffsetStorage {
    fn append(&self, records: Vec<(Bytes, Option<Bytes>)>) -> Result<()> {
        if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(LogError::io("memory-offsets", std::io::Error::other("injected failure")));
        }
        self.records.lock().extend(records);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn key_and_value_match_hand_written_bytes() {
        let key = encode_offset_key("g", &TopicPartition::new("t", 2)).unwrap();
        assert_eq!(&key[..], &[0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 2]);
        let v = OffsetAndMetadata { offset: 5, leader_epoch: None, metadata: "m".into(), commit_timestamp_ms: 9 };
        let value = encode_offset_value(&v).unwrap();
        assert_eq!(
            &value[..],
            &[0, 3, 0, 0, 0, 0, 0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0, 1, b'm', 0, 0, 0, 0, 0, 0, 0, 9]
        );
    }

    #[test]
    fn older_value_versions_decode() {
        // v1: offset, metadata, commit ts, expire ts.
        let v1 = [0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4];
        let got = decode_offset_value(&v1).unwrap().unwrap();
        assert_eq!(got, OffsetAndMetadata { offset: 7, leader_epoch: None, metadata: String::new(), commit_timestamp_ms: 3 });
        assert_eq!(decode_offset_value(&[0, 4, 1, 2]).unwrap(), None, "newer versions are skipped");
        assert!(decode_offset_value(&v1[..20]).unwrap_err().contains("truncated"));
    }

    #[test]
    fn other_key_versions_are_not_offsets() {
        assert_eq!(decode_offset_key(&[0, 2, 0, 1, b'g']).unwrap(), OffsetRecordKey::Other { version: 2 });
        assert!(decode_offset_key(&[0, 1, 0, 5, b'g']).is_err());
    }

    #[test]
    fn oversized_metadata_is_refused() {
        let v = OffsetAndMetadata { metadata: "x".repeat(MAX_OFFSET_METADATA_BYTES + 1), ..OffsetAndMetadata::new(1, 1) };
        assert!(matches!(encode_offset_value(&v), Err(LogError::InvalidConfig { .. })));
    }

    proptest! {
        #[test]
        fn records_round_trip(
            group in "[a-z-]{1,20}", topic in "[a-z.]{1,20}", partition in 0..1000i32,
            offset in any::<i64>(), epoch in prop::option::of(0..i32::MAX),
            metadata in "[ -~]{0,30}", ts in any::<i64>(),
        ) {
            let tp = TopicPartition::new(topic, partition);
            let key = encode_offset_key(&group, &tp).unwrap();
            prop_assert_eq!(decode_offset_key(&key).unwrap(), OffsetRecordKey::Offset { group, partition: tp });
            let v = OffsetAndMetadata { offset, leader_epoch: epoch, metadata, commit_timestamp_ms: ts };
            prop_assert_eq!(decode_offset_value(&encode_offset_value(&v).unwrap()).unwrap(), Some(v));
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..40)) {
            let _ = decode_offset_key(&bytes);
            let _ = decode_offset_value(&bytes);
        }
    }
}
