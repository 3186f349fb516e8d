//! [`LogClient`]: the one narrow interface through which the layers above
//! (state stores, the engine) use a log. Riffle's embedded [`Log`]
//! implements it in-process; a Kafka-cluster implementation (over the Kafka
//! protocol) plugs in behind the same trait, so nothing above reaches into
//! segment files.

use std::sync::Arc;

use crate::error::{LogError, Result};
use crate::log::Log;
use crate::partition::{AppendInfo, AppendOptions};
use crate::record::{Record, StoredRecord};
use crate::error::GroupErrorCode;
use crate::group::{JoinGroupRequest, JoinGroupResponse, OffsetAndMetadata};
use crate::topic::{TopicConfig, TopicPartition};

/// Records read from one partition.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    /// Records at or after the requested offset (control records skipped).
    pub records: Vec<StoredRecord>,
    /// Where the next read should start (past compaction gaps and control
    /// batches, so it always makes progress when something was read).
    pub next_offset: i64,
    /// The partition's high watermark at the time of the read.
    pub high_watermark: i64,
}

/// What the engine and state stores need from a log.
///
/// Implementations are shared between threads. Appends to one partition
/// from one caller are stored in call order.
pub trait LogClient: Send + Sync + std::fmt::Debug {
    /// Creates `topic` with `config` unless it exists; returns its partition
    /// count (the existing one if it existed).
    ///
    /// # Errors
    /// Invalid names or configs, I/O.
    fn ensure_topic(&self, topic: &str, config: &TopicConfig) -> Result<i32>;

    /// Partition count of an existing topic.
    ///
    /// # Errors
    /// [`LogError::UnknownTopic`].
    fn partition_count(&self, topic: &str) -> Result<i32>;

    /// Appends records to one partition as one batch; acknowledged at the
    /// log's durability level.
    ///
    /// # Errors
    /// As [`Partition::append`](crate::Partition::append).
    fn append(&self, topic: &str, partition: i32, records: &[Record]) -> Result<AppendInfo>;

    /// Reads records from `offset`, about `max_bytes` worth.
    ///
    /// # Errors
    /// [`LogError::OffsetOutOfRange`], corruption, unknown topic.
    fn read(&self, topic: &str, partition: i32, offset: i64, max_bytes: usize) -> Result<Fetched>;

    /// `(log start offset, high watermark)` of a partition.
    ///
    /// # Errors
    /// Unknown topic or partition.
    fn offsets(&self, topic: &str, partition: i32) -> Result<(i64, i64)>;

    /// Commits `offsets` (the next offset to read per partition) for
    /// `group` as a standalone (simple) commit, the way a stream
    /// application commits its input positions.
    ///
    /// # Errors
    /// A group with live classic members refuses simple commits; I/O.
    fn commit_offsets(&self, group: &str, offsets: &[(TopicPartition, i64)]) -> Result<()> {
        self.commit_member_offsets(group, "", -1, offsets)
    }

    /// The committed offset of `tp` for `group`, if any.
    ///
    /// # Errors
    /// Implementation-specific (network) failures.
    fn committed_offset(&self, group: &str, tp: &TopicPartition) -> Result<Option<i64>>;

    /// Joins (or rejoins) `req.group_id` through Kafka's classic group
    /// protocol and blocks until the join phase completes (every member
    /// rejoined) or `req.rebalance_timeout` passes. This is how a stream
    /// application whose instances share an application id learns who its
    /// peers are; its leader then assigns tasks with
    /// [`sync_group`](Self::sync_group).
    ///
    /// Blocks the calling thread: call it from a plain thread, not from an
    /// async task.
    ///
    /// # Errors
    /// `Group` errors (`InvalidSessionTimeout`, `InconsistentGroupProtocol`,
    /// `UnknownMemberId`, …); `CoordinatorNotAvailable` when the wait times out.
    fn join_group(&self, req: JoinGroupRequest) -> Result<JoinGroupResponse>;

    /// Sends this member's SyncGroup (the leader's carries every member's
    /// assignment) and blocks until the member's own assignment arrives.
    ///
    /// # Errors
    /// `Group` errors: `RebalanceInProgress` (rejoin), `IllegalGeneration`,
    /// `UnknownMemberId`; `CoordinatorNotAvailable` on timeout.
    fn sync_group(
        &self,
        group: &str,
        member_id: &str,
        generation_id: i32,
        assignments: Vec<(String, bytes::Bytes)>,
        timeout: std::time::Duration,
    ) -> Result<bytes::Bytes>;

    /// A member's heartbeat.
    ///
    /// # Errors
    /// `Group` errors: `RebalanceInProgress` (rejoin), `IllegalGeneration`,
    /// `UnknownMemberId` (the member was removed: its partitions are lost).
    fn heartbeat(&self, group: &str, member_id: &str, generation_id: i32) -> Result<()>;

    /// Leaves the group at once (no wait for the session timeout).
    ///
    /// # Errors
    /// `Group` errors (`UnknownMemberId`).
    fn leave_group(&self, group: &str, member_id: &str) -> Result<()>;

    /// Commits offsets as member `member_id` of generation `generation_id`:
    /// refused once the group has moved on, so that a member that lost its
    /// partitions cannot overwrite the new owner's progress.
    ///
    /// # Errors
    /// `Group` errors: `IllegalGeneration`, `UnknownMemberId`,
    /// `RebalanceInProgress`; I/O.
    fn commit_member_offsets(
        &self,
        group: &str,
        member_id: &str,
        generation_id: i32,
        offsets: &[(TopicPartition, i64)],
    ) -> Result<()>;
}

/// Waits for a coordinator answer without needing (or tolerating the lack
/// of) an async runtime: polls the receiver until `timeout`.
fn wait_for<T>(
    group: &str,
    what: &str,
    mut rx: tokio::sync::oneshot::Receiver<Result<T>>,
    timeout: std::time::Duration,
) -> Result<T> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match rx.try_recv() {
            Ok(r) => return r,
            Err(tokio::sync::oneshot::error::TryRecvError::Closed) => {
                return Err(LogError::group(group, GroupErrorCode::CoordinatorNotAvailable, format!("{what} abandoned")))
            }
            Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {}
        }
        if std::time::Instant::now() >= deadline {
            return Err(LogError::group(
                group,
                GroupErrorCode::CoordinatorNotAvailable,
                format!("{what} did not complete within {timeout:?}"),
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

impl LogClient for Log {
    fn ensure_topic(&self, topic: &str, config: &TopicConfig) -> Result<i32> {
        Ok(Log::ensure_topic(self, topic, config.clone())?.partitions().len() as i32)
    }

    fn partition_count(&self, topic: &str) -> Result<i32> {
        Ok(self.topic(topic)?.partitions().len() as i32)
    }

    fn append(&self, topic: &str, partition: i32, records: &[Record]) -> Result<AppendInfo> {
        self.partition(topic, partition)?.append(records, &AppendOptions::default())
    }

    fn read(&self, topic: &str, partition: i32, offset: i64, max_bytes: usize) -> Result<Fetched> {
        let p = self.partition(topic, partition)?;
        let f = p.read(offset, max_bytes)?;
        let mut next = offset;
        let mut records = Vec::new();
        for batch in f.batches() {
            let h = crate::batch::decode_data_records_onto(&batch, offset, &mut records).map_err(|reason| LogError::Corrupt {
                topic: topic.to_string(),
                partition,
                offset,
                path: p.dir().to_path_buf(),
                position: 0,
                reason,
            })?;
            next = next.max(h.next_offset());
        }
        Ok(Fetched { records, next_offset: next, high_watermark: f.high_watermark })
    }

    fn offsets(&self, topic: &str, partition: i32) -> Result<(i64, i64)> {
        let p = self.partition(topic, partition)?;
        Ok((p.log_start_offset(), p.high_watermark()))
    }

    fn committed_offset(&self, group: &str, tp: &TopicPartition) -> Result<Option<i64>> {
        Ok(self.groups().fetch_offsets(group, Some(std::slice::from_ref(tp))).get(tp).map(|v| v.offset))
    }

    fn join_group(&self, req: JoinGroupRequest) -> Result<JoinGroupResponse> {
        let group = req.group_id.clone();
        // The coordinator answers within the rebalance timeout; allow a
        // little more for its tick.
        let timeout = req.rebalance_timeout + std::time::Duration::from_secs(1);
        wait_for(&group, "JoinGroup", self.groups().join_group(req, std::time::Instant::now()), timeout)
    }

    fn sync_group(
        &self,
        group: &str,
        member_id: &str,
        generation_id: i32,
        assignments: Vec<(String, bytes::Bytes)>,
        timeout: std::time::Duration,
    ) -> Result<bytes::Bytes> {
        let rx = self.groups().sync_group(group, member_id, generation_id, assignments, std::time::Instant::now());
        wait_for(group, "SyncGroup", rx, timeout)
    }

    fn heartbeat(&self, group: &str, member_id: &str, generation_id: i32) -> Result<()> {
        self.groups().heartbeat(group, member_id, generation_id, std::time::Instant::now())
    }

    fn leave_group(&self, group: &str, member_id: &str) -> Result<()> {
        self.groups().leave_group(group, &[member_id.to_string()], std::time::Instant::now())
    }

    fn commit_member_offsets(
        &self,
        group: &str,
        member_id: &str,
        generation_id: i32,
        offsets: &[(TopicPartition, i64)],
    ) -> Result<()> {
        let now = crate::partition::now_ms();
        let offsets = offsets.iter().map(|(tp, o)| (tp.clone(), OffsetAndMetadata::new(*o, now))).collect();
        self.groups().commit_offsets(group, member_id, generation_id, offsets)
    }
}

impl<T: LogClient + ?Sized> LogClient for Arc<T> {
    fn ensure_topic(&self, topic: &str, config: &TopicConfig) -> Result<i32> {
        (**self).ensure_topic(topic, config)
    }
    fn partition_count(&self, topic: &str) -> Result<i32> {
        (**self).partition_count(topic)
    }
    fn append(&self, topic: &str, partition: i32, records: &[Record]) -> Result<AppendInfo> {
        (**self).append(topic, partition, records)
    }
    fn read(&self, topic: &str, partition: i32, offset: i64, max_bytes: usize) -> Result<Fetched> {
        (**self).read(topic, partition, offset, max_bytes)
    }
    fn offsets(&self, topic: &str, partition: i32) -> Result<(i64, i64)> {
        (**self).offsets(topic, partition)
    }
    fn commit_offsets(&self, group: &str, offsets: &[(TopicPartition, i64)]) -> Result<()> {
        (**self).commit_offsets(group, offsets)
    }
    fn committed_offset(&self, group: &str, tp: &TopicPartition) -> Result<Option<i64>> {
        (**self).committed_offset(group, tp)
    }
    fn join_group(&self, req: JoinGroupRequest) -> Result<JoinGroupResponse> {
        (**self).join_group(req)
    }
    fn sync_group(
        &self,
        group: &str,
        member_id: &str,
        generation_id: i32,
        assignments: Vec<(String, bytes::Bytes)>,
        timeout: std::time::Duration,
    ) -> Result<bytes::Bytes> {
        (**self).sync_group(group, member_id, generation_id, assignments, timeout)
    }
    fn heartbeat(&self, group: &str, member_id: &str, generation_id: i32) -> Result<()> {
        (**self).heartbeat(group, member_id, generation_id)
    }
    fn leave_group(&self, group: &str, member_id: &str) -> Result<()> {
        (**self).leave_group(group, member_id)
    }
    fn commit_member_offsets(
        &self,
        group: &str,
        member_id: &str,
        generation_id: i32,
        offsets: &[(TopicPartition, i64)],
    ) -> Result<()> {
        (**self).commit_member_offsets(group, member_id, generation_id, offsets)
    }
}
