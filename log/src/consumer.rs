//! The [`Consumer`]: reads assigned partitions, or subscribes to topics as a
//! member of a consumer group and gets partitions from the group's assignor.
//!
//! Group membership follows Kafka's classic protocol through the log's
//! [`GroupCoordinator`](crate::group::GroupCoordinator): join → the leader
//! assigns (range or cooperative-sticky) → sync → heartbeats from `poll`.
//! With the cooperative protocol a member keeps its partitions through a
//! rebalance and gives up only those that move (then rejoins once more); with
//! the eager protocol (`range`) it gives up everything before rejoining.
//!
//! Heartbeats are sent from [`Consumer::poll`], so an application that stops
//! polling for longer than the session timeout leaves the group — the same
//! liveness contract as Kafka's `max.poll.interval.ms`.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::error::{GroupErrorCode, LogError, Result};
use crate::group::{
    ConsumerAssignment, ConsumerSubscription, CooperativeStickyAssignor, JoinGroupRequest, OffsetAndMetadata,
    PartitionAssignor, RangeAssignor, CONSUMER_PROTOCOL_TYPE,
};
use crate::log::Log;
use crate::partition::{now_ms, Partition};
use crate::record::Header;
use crate::topic::TopicPartition;

/// Where to start when a partition has no committed offset
/// (`auto.offset.reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OffsetReset {
    /// The first offset still stored.
    Earliest,
    /// The high watermark: only new records.
    #[default]
    Latest,
    /// Fail with [`LogError::OffsetOutOfRange`].
    None,
}

/// A partition assignment strategy (`partition.assignment.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignor {
    /// Contiguous ranges per topic; eager rebalancing.
    Range,
    /// Balanced and sticky; incremental cooperative rebalancing.
    CooperativeSticky,
}

impl Assignor {
    fn imp(self) -> Box<dyn PartitionAssignor> {
        match self {
            Assignor::Range => Box::new(RangeAssignor),
            Assignor::CooperativeSticky => Box::new(CooperativeStickyAssignor),
        }
    }
}

/// Consumer settings (Kafka names in the docs).
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// `group.id`: needed for `subscribe` and for commits.
    pub group_id: Option<String>,
    /// `client.id`: prefixes the member id.
    pub client_id: String,
    /// `auto.offset.reset`.
    pub auto_offset_reset: OffsetReset,
    /// `enable.auto.commit`: commit positions every `auto_commit_interval`
    /// from `poll`, and on rebalance and close.
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms`.
    pub auto_commit_interval: Duration,
    /// `max.poll.records`.
    pub max_poll_records: usize,
    /// `max.partition.fetch.bytes`.
    pub max_partition_fetch_bytes: usize,
    /// `session.timeout.ms`.
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms`.
    pub heartbeat_interval: Duration,
    /// `max.poll.interval.ms`, sent as the rebalance timeout.
    pub rebalance_timeout: Duration,
    /// `partition.assignment.strategy`, in order of preference. The protocol
    /// is cooperative only when every listed assignor is.
    pub assignors: Vec<Assignor>,
    /// `isolation.level`: with [`IsolationLevel::ReadCommitted`] the
    /// consumer reads only up to the last stable offset and skips the
    /// records of aborted transactions.
    pub isolation_level: IsolationLevel,
}

/// Which transactional records a consumer sees (Kafka's `isolation.level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IsolationLevel {
    /// Everything up to the high watermark, open and aborted transactions
    /// included (Kafka's default).
    #[default]
    ReadUncommitted,
    /// Committed data only: reads stop at the last stable offset, and
    /// aborted transactions' records are skipped.
    ReadCommitted,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            group_id: None,
            client_id: "riffle-consumer".into(),
            auto_offset_reset: OffsetReset::Latest,
            enable_auto_commit: true,
            auto_commit_interval: Duration::from_secs(5),
            max_poll_records: 500,
            max_partition_fetch_bytes: 1 << 20,
            session_timeout: Duration::from_secs(45),
            heartbeat_interval: Duration::from_secs(3),
            rebalance_timeout: Duration::from_secs(300),
            assignors: vec![Assignor::CooperativeSticky],
            isolation_level: IsolationLevel::ReadUncommitted,
        }
    }
}

impl ConsumerConfig {
    /// A config for group `group`.
    pub fn group(group: impl Into<String>) -> Self {
        ConsumerConfig { group_id: Some(group.into()), ..Default::default() }
    }
}

/// A record as the consumer returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// Topic.
    pub topic: Arc<str>,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Timestamp (ms).
    pub timestamp: i64,
    /// Key.
    pub key: Option<Bytes>,
    /// Value (`None` = tombstone).
    pub value: Option<Bytes>,
    /// Headers.
    pub headers: Vec<Header>,
}

#[derive(Debug)]
struct Assigned {
    partition: Arc<Partition>,
    topic: Arc<str>,
    /// Next offset to return; resolved lazily from the committed offset or
    /// the reset policy.
    position: Option<i64>,
}

#[derive(Debug, Clone)]
struct Membership {
    member_id: String,
    generation: i32,
    last_heartbeat: Instant,
}

/// A consumer of the embedded log. See the [module docs](self).
///
/// # Examples
/// ```
/// use riffle_log::{Log, LogConfig, TopicConfig, Record, AppendOptions};
/// use riffle_log::consumer::{Consumer, ConsumerConfig, OffsetReset};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// let log = Log::open(dir.path(), LogConfig::default()).unwrap();
/// log.create_topic("events", TopicConfig::default()).unwrap();
/// log.partition("events", 0).unwrap().append(&[Record::value("hi")], &AppendOptions::default()).unwrap();
/// let mut c = Consumer::new(&log, ConsumerConfig {
///     auto_offset_reset: OffsetReset::Earliest,
///     ..ConsumerConfig::group("readers")
/// });
/// c.subscribe(&["events"]).unwrap();
/// let recs = c.poll(std::time::Duration::from_secs(5)).await.unwrap();
/// assert_eq!(recs[0].value.as_deref(), Some(&b"hi"[..]));
/// c.commit().unwrap();
/// c.close().unwrap();
/// # });
/// ```
#[derive(Debug)]
pub struct Consumer {
    log: Log,
    config: ConsumerConfig,
    subscription: Vec<String>,
    assigned: BTreeMap<TopicPartition, Assigned>,
    member: Option<Membership>,
    needs_rejoin: bool,
    last_auto_commit: Instant,
    next_start: usize,
}

impl Consumer {
    /// A consumer with nothing assigned yet.
    pub fn new(log: &Log, config: ConsumerConfig) -> Self {
        Consumer {
            log: log.clone(),
            config,
            subscription: Vec::new(),
            assigned: BTreeMap::new(),
            member: None,
            needs_rejoin: false,
            last_auto_commit: Instant::now(),
            next_start: 0,
        }
    }

    /// Reads exactly these partitions (no group membership; commits, if a
    /// group id is set, are "simple" commits).
    ///
    /// # Errors
    /// [`LogError::UnknownTopic`] / [`LogError::UnknownPartition`].
    pub fn assign(&mut self, partitions: Vec<TopicPartition>) -> Result<()> {
        if self.member.is_some() || !self.subscription.is_empty() {
            return Err(LogError::InvalidConfig {
                key: "assign".into(),
                value: format!("{partitions:?}"),
                reason: "this consumer is subscribed; a consumer either subscribes or assigns".into(),
            });
        }
        let mut assigned = BTreeMap::new();
        for tp in partitions {
            let p = self.log.partition(&tp.topic, tp.partition)?;
            assigned.insert(tp.clone(), Assigned { partition: p, topic: Arc::from(tp.topic.as_str()), position: None });
        }
        self.assigned = assigned;
        Ok(())
    }

    /// Joins the consumer group and subscribes to `topics`; partitions arrive
    /// with the first `poll`.
    ///
    /// # Errors
    /// [`LogError::InvalidConfig`] without a `group_id`;
    /// [`LogError::UnknownTopic`].
    pub fn subscribe(&mut self, topics: &[&str]) -> Result<()> {
        if self.config.group_id.is_none() {
            return Err(LogError::InvalidConfig {
                key: "group.id".into(),
                value: String::new(),
                reason: "subscribe needs a consumer group; set group_id (or use assign)".into(),
            });
        }
        for t in topics {
            self.log.topic(t)?;
        }
        self.subscription = topics.iter().map(|t| t.to_string()).collect();
        self.needs_rejoin = true;
        Ok(())
    }

    /// The partitions currently assigned.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.assigned.keys().cloned().collect()
    }

    /// The member id and generation, while in a group.
    pub fn membership(&self) -> Option<(String, i32)> {
        self.member.as_ref().map(|m| (m.member_id.clone(), m.generation))
    }

    /// Moves the position of an assigned partition.
    ///
    /// # Errors
    /// [`LogError::InvalidConfig`] when `tp` is not assigned.
    pub fn seek(&mut self, tp: &TopicPartition, offset: i64) -> Result<()> {
        let a = self.assigned.get_mut(tp).ok_or_else(|| LogError::InvalidConfig {
            key: "seek".into(),
            value: tp.to_string(),
            reason: "the partition is not assigned to this consumer".into(),
        })?;
        a.position = Some(offset);
        Ok(())
    }

    /// Positions every assigned partition at the first record with timestamp
    /// `>= ts` (or the end when there is none).
    ///
    /// # Errors
    /// Corruption errors from the time index scan.
    pub fn seek_to_timestamp(&mut self, ts: i64) -> Result<()> {
        for a in self.assigned.values_mut() {
            let off = a.partition.offset_for_timestamp(ts)?.map_or(a.partition.high_watermark(), |(o, _)| o);
            a.position = Some(off);
        }
        Ok(())
    }

    /// The next offset `poll` returns for `tp`, once known.
    pub fn position(&self, tp: &TopicPartition) -> Option<i64> {
        self.assigned.get(tp).and_then(|a| a.position)
    }

    /// Waits up to `timeout` for records from the assigned partitions,
    /// keeping group membership alive. Returns as soon as any are there, at
    /// most `max_poll_records`.
    ///
    /// # Errors
    /// Group errors the consumer cannot recover from by rejoining,
    /// [`LogError::OffsetOutOfRange`] with `OffsetReset::None`, corruption.
    pub async fn poll(&mut self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        let deadline = Instant::now() + timeout;
        loop {
            if !self.subscription.is_empty() {
                self.maintain_membership().await?;
            }
            self.maybe_auto_commit()?;
            let recs = self.fetch_available()?;
            let now = Instant::now();
            if !recs.is_empty() || now >= deadline {
                return Ok(recs);
            }
            let mut wake = deadline;
            if let Some(m) = &self.member {
                wake = wake.min(m.last_heartbeat + self.config.heartbeat_interval);
            }
            if self.assigned.is_empty() {
                tokio::time::sleep_until(wake.into()).await;
                continue;
            }
            let waits: Vec<Pin<Box<dyn Future<Output = ()> + Send + '_>>> = self
                .assigned
                .values()
                .map(|a| -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
                    let pos = a.position.unwrap_or(0);
                    Box::pin(a.partition.wait_for_async(pos))
                })
                .collect();
            let mut waits = waits;
            let any = std::future::poll_fn(move |cx| {
                if waits.iter_mut().any(|w| w.as_mut().poll(cx).is_ready()) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            });
            let _ = tokio::time::timeout_at(wake.into(), any).await;
        }
    }

    /// Reads what is available now, without waiting.
    fn fetch_available(&mut self) -> Result<Vec<ConsumerRecord>> {
        let mut out = Vec::new();
        let n = self.assigned.len();
        if n == 0 {
            return Ok(out);
        }
        let start = self.next_start % n;
        self.next_start = self.next_start.wrapping_add(1);
        let keys: Vec<TopicPartition> = self.assigned.keys().cloned().collect();
        for i in 0..n {
            if out.len() >= self.config.max_poll_records {
                break;
            }
            let tp = &keys[(start + i) % n];
            let pos = self.resolve_position(tp)?;
            let Some(a) = self.assigned.get_mut(tp) else { continue };
            let committed = self.config.isolation_level == IsolationLevel::ReadCommitted;
            let read = if committed {
                a.partition.read_committed(pos, self.config.max_partition_fetch_bytes)
            } else {
                a.partition.read(pos, self.config.max_partition_fetch_bytes)
            };
            let aborted = if committed {
                a.partition.aborted_transactions(pos, a.partition.last_stable_offset())
            } else {
                Vec::new()
            };
            let fetched = match read {
                Ok(f) => f,
                Err(e @ LogError::OffsetOutOfRange { .. }) => {
                    let LogError::OffsetOutOfRange { log_start, high_watermark, .. } = e else { unreachable!() };
                    let reset = match self.config.auto_offset_reset {
                        OffsetReset::Earliest => log_start,
                        OffsetReset::Latest => high_watermark,
                        OffsetReset::None => return Err(e),
                    };
                    tracing::info!(partition = %tp, from = pos, to = reset, "offset out of range; reset");
                    a.position = Some(reset);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut next = pos;
            'batches: for batch in fetched.decoded() {
                let (h, recs) = batch.map_err(|reason| LogError::Corrupt {
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                    offset: pos,
                    path: a.partition.dir().to_path_buf(),
                    position: 0,
                    reason,
                })?;
                let skip = h.is_transactional()
                    && aborted.iter().any(|t| {
                        t.producer_id == h.producer_id && t.first_offset <= h.base_offset && h.base_offset < t.last_offset
                    });
                if !h.is_control() && !skip {
                    let from = next;
                    for r in recs.into_iter().filter(|r| r.offset >= from) {
                        if out.len() >= self.config.max_poll_records {
                            break 'batches;
                        }
                        next = r.offset + 1;
                        out.push(ConsumerRecord {
                            topic: a.topic.clone(),
                            partition: tp.partition,
                            offset: r.offset,
                            timestamp: r.timestamp,
                            key: r.key,
                            value: r.value,
                            headers: r.headers,
                        });
                    }
                }
                next = next.max(h.next_offset());
            }
            a.position = Some(next);
        }
        Ok(out)
    }

    fn resolve_position(&mut self, tp: &TopicPartition) -> Result<i64> {
        let Some(a) = self.assigned.get(tp) else { return Ok(0) };
        if let Some(p) = a.position {
            return Ok(p);
        }
        let committed = match &self.config.group_id {
            Some(g) => self.log.groups().fetch_offsets(g, Some(std::slice::from_ref(tp))).remove(tp),
            None => None,
        };
        let pos = match committed {
            Some(c) => c.offset,
            None => match self.config.auto_offset_reset {
                OffsetReset::Earliest => a.partition.log_start_offset(),
                OffsetReset::Latest => a.partition.high_watermark(),
                OffsetReset::None => {
                    return Err(LogError::OffsetOutOfRange {
                        topic: tp.topic.clone(),
                        partition: tp.partition,
                        offset: -1,
                        log_start: a.partition.log_start_offset(),
                        high_watermark: a.partition.high_watermark(),
                    })
                }
            },
        };
        if let Some(a) = self.assigned.get_mut(tp) {
            a.position = Some(pos);
        }
        Ok(pos)
    }

    /// Commits the current position of every assigned partition.
    ///
    /// # Errors
    /// [`LogError::InvalidConfig`] without a group id; group errors
    /// (`RebalanceInProgress`, `IllegalGeneration`: the partitions may have
    /// moved — the next poll rejoins).
    pub fn commit(&mut self) -> Result<()> {
        let offsets: Vec<_> =
            self.assigned.iter().filter_map(|(tp, a)| Some((tp.clone(), a.position?))).collect();
        self.commit_offsets(offsets)
    }

    /// Commits explicit offsets (the next offset to read, as in Kafka).
    ///
    /// # Errors
    /// As [`commit`](Self::commit).
    pub fn commit_offsets(&mut self, offsets: Vec<(TopicPartition, i64)>) -> Result<()> {
        let group = self.config.group_id.clone().ok_or_else(|| LogError::InvalidConfig {
            key: "group.id".into(),
            value: String::new(),
            reason: "committing offsets needs a consumer group id".into(),
        })?;
        let (member, generation) = match &self.member {
            Some(m) => (m.member_id.clone(), m.generation),
            None => (String::new(), -1),
        };
        let ts = now_ms();
        let offsets = offsets.into_iter().map(|(tp, o)| (tp, OffsetAndMetadata::new(o, ts))).collect();
        let r = self.log.groups().commit_offsets(&group, &member, generation, offsets);
        if let Err(LogError::Group { code, .. }) = &r {
            if matches!(
                code,
                GroupErrorCode::RebalanceInProgress | GroupErrorCode::IllegalGeneration | GroupErrorCode::UnknownMemberId
            ) {
                self.needs_rejoin = true;
            }
        }
        r
    }

    /// The committed offset of `tp` for this consumer's group.
    pub fn committed(&self, tp: &TopicPartition) -> Option<i64> {
        let g = self.config.group_id.as_ref()?;
        self.log.groups().fetch_offsets(g, Some(std::slice::from_ref(tp))).remove(tp).map(|o| o.offset)
    }

    fn maybe_auto_commit(&mut self) -> Result<()> {
        if self.config.enable_auto_commit
            && self.config.group_id.is_some()
            && self.last_auto_commit.elapsed() >= self.config.auto_commit_interval
        {
            self.last_auto_commit = Instant::now();
            if let Err(e) = self.commit() {
                tracing::warn!(error = %e, "auto-commit failed; will retry");
            }
        }
        Ok(())
    }

    fn cooperative(&self) -> bool {
        self.config.assignors.iter().all(|a| *a == Assignor::CooperativeSticky)
    }

    /// Heartbeats when due and (re)joins when needed.
    async fn maintain_membership(&mut self) -> Result<()> {
        let group = self.config.group_id.clone().unwrap_or_default();
        if let (false, Some(m)) = (self.needs_rejoin, &mut self.member) {
            if m.last_heartbeat.elapsed() < self.config.heartbeat_interval {
                return Ok(());
            }
            m.last_heartbeat = Instant::now();
            match self.log.groups().heartbeat(&group, &m.member_id, m.generation, Instant::now()) {
                Ok(()) => return Ok(()),
                Err(LogError::Group { code: GroupErrorCode::RebalanceInProgress, .. }) => self.needs_rejoin = true,
                Err(LogError::Group {
                    code: GroupErrorCode::UnknownMemberId | GroupErrorCode::IllegalGeneration, ..
                }) => {
                    tracing::warn!(group, "lost group membership (session expired?); partitions lost, rejoining");
                    self.member = None;
                    self.assigned.clear();
                    self.needs_rejoin = true;
                }
                Err(e) => return Err(e),
            }
        }
        let mut rounds = 0;
        while self.needs_rejoin || self.member.is_none() {
            rounds += 1;
            if rounds > 10 {
                return Err(LogError::group(
                    &group,
                    GroupErrorCode::RebalanceInProgress,
                    "the group did not settle after 10 rebalances; retry poll",
                ));
            }
            self.join_and_sync(&group).await?;
        }
        Ok(())
    }

    async fn join_and_sync(&mut self, group: &str) -> Result<()> {
        let cooperative = self.cooperative();
        if !cooperative {
            self.revoke(self.assigned.keys().cloned().collect());
        }
        let owned: Vec<TopicPartition> = self.assigned.keys().cloned().collect();
        let sub = ConsumerSubscription {
            owned_partitions: owned,
            generation_id: self.member.as_ref().map_or(-1, |m| m.generation),
            ..ConsumerSubscription::new(self.subscription.clone())
        };
        let metadata = sub.encode(3)?;
        let req = JoinGroupRequest {
            group_id: group.to_string(),
            member_id: self.member.as_ref().map(|m| m.member_id.clone()).unwrap_or_default(),
            group_instance_id: None,
            client_id: self.config.client_id.clone(),
            session_timeout: self.config.session_timeout,
            rebalance_timeout: self.config.rebalance_timeout,
            protocol_type: CONSUMER_PROTOCOL_TYPE.to_string(),
            protocols: self.config.assignors.iter().map(|a| (a.imp().name().to_string(), metadata.clone())).collect(),
        };
        let join = self.log.groups().join_group(req, Instant::now());
        let joined = match join.await {
            Ok(r) => r?,
            Err(_) => return Err(LogError::group(group, GroupErrorCode::CoordinatorNotAvailable, "join abandoned")),
        };
        let assignments = if joined.leader == joined.member_id {
            self.assign_as_leader(&joined.protocol_name, &joined.members)?
        } else {
            Vec::new()
        };
        let sync = self.log.groups().sync_group(
            group,
            &joined.member_id,
            joined.generation_id,
            assignments,
            Instant::now(),
        );
        self.member = Some(Membership {
            member_id: joined.member_id.clone(),
            generation: joined.generation_id,
            last_heartbeat: Instant::now(),
        });
        let bytes = match sync.await {
            Ok(Ok(b)) => b,
            Ok(Err(LogError::Group { code: GroupErrorCode::RebalanceInProgress, .. })) => {
                self.needs_rejoin = true;
                return Ok(());
            }
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(LogError::group(group, GroupErrorCode::CoordinatorNotAvailable, "sync abandoned")),
        };
        let new: BTreeSet<TopicPartition> = if bytes.is_empty() {
            BTreeSet::new()
        } else {
            ConsumerAssignment::decode(&bytes)?.partitions.into_iter().collect()
        };
        let lost: Vec<TopicPartition> = self.assigned.keys().filter(|tp| !new.contains(*tp)).cloned().collect();
        self.needs_rejoin = cooperative && !lost.is_empty();
        self.revoke(lost);
        for tp in new {
            if !self.assigned.contains_key(&tp) {
                let p = self.log.partition(&tp.topic, tp.partition)?;
                self.assigned
                    .insert(tp.clone(), Assigned { partition: p, topic: Arc::from(tp.topic.as_str()), position: None });
            }
        }
        tracing::debug!(
            group, member = %joined.member_id, generation = joined.generation_id,
            partitions = self.assigned.len(), "joined group"
        );
        Ok(())
    }

    /// Gives up partitions, committing their positions first when
    /// auto-commit is on.
    fn revoke(&mut self, partitions: Vec<TopicPartition>) {
        if partitions.is_empty() {
            return;
        }
        if self.config.enable_auto_commit && self.member.is_some() {
            let offsets: Vec<_> = partitions
                .iter()
                .filter_map(|tp| Some((tp.clone(), self.assigned.get(tp)?.position?)))
                .collect();
            if let Err(e) = self.commit_offsets(offsets) {
                tracing::warn!(error = %e, "commit on revoke failed");
            }
        }
        for tp in partitions {
            self.assigned.remove(&tp);
        }
    }

    fn assign_as_leader(
        &self,
        protocol: &str,
        members: &[(String, Option<String>, Bytes)],
    ) -> Result<Vec<(String, Bytes)>> {
        let assignor = self
            .config
            .assignors
            .iter()
            .map(|a| a.imp())
            .find(|a| a.name() == protocol)
            .ok_or_else(|| {
                LogError::group(
                    self.config.group_id.as_deref().unwrap_or(""),
                    GroupErrorCode::InconsistentGroupProtocol,
                    format!("the group chose assignor {protocol:?}, which this consumer does not have"),
                )
            })?;
        let mut subs = BTreeMap::new();
        let mut topics = BTreeMap::new();
        for (id, _, meta) in members {
            let s = ConsumerSubscription::decode(meta)?;
            for t in &s.topics {
                if let Ok(topic) = self.log.topic(t) {
                    topics.insert(t.clone(), topic.partitions().len() as i32);
                }
            }
            subs.insert(id.clone(), s);
        }
        assignor
            .assign(&topics, &subs)
            .into_iter()
            .map(|(m, parts)| Ok((m, ConsumerAssignment::new(parts).encode(3)?)))
            .collect()
    }

    /// Commits (with auto-commit on) and leaves the group. Idempotent.
    ///
    /// # Errors
    /// The commit's error; the consumer leaves the group regardless.
    pub fn close(&mut self) -> Result<()> {
        let commit = if self.config.enable_auto_commit && self.config.group_id.is_some() {
            self.commit()
        } else {
            Ok(())
        };
        if let (Some(m), Some(g)) = (self.member.take(), &self.config.group_id) {
            let _ = self.log.groups().leave_group(g, &[m.member_id], Instant::now());
        }
        self.assigned.clear();
        self.subscription.clear();
        commit
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        if let (Some(m), Some(g)) = (self.member.take(), &self.config.group_id) {
            let _ = self.log.groups().leave_group(g, &[m.member_id], Instant::now());
        }
    }
}
