//! The group coordinator: request validation, locking and durability around
//! each group's [state machine](super::state).
//!
//! Every method takes the current time as `now`, so the coordinator is
//! deterministic: tests drive time by hand, and in Riffle a background
//! thread calls [`GroupCoordinator::tick`] with `Instant::now()` every ~50 ms.
//!
//! Locking: a map lock guards the set of groups and is held only to find or
//! insert a group; each group has its own lock, held for the whole request
//! (including the [`OffsetStorage::append`] of a commit, which keeps commits
//! of one group in order). The map lock is never taken while a group lock is
//! held.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::offsets::{
    decode_offset_key, decode_offset_value, encode_offset_key, encode_offset_value, OffsetAndMetadata,
    OffsetRecordKey, OffsetStorage,
};
use super::state::{Group, GroupState, Member};
use crate::error::{GroupErrorCode, LogError, Result};
use crate::topic::TopicPartition;

/// Coordinator limits, as Kafka's broker configs of the same names.
#[derive(Debug, Clone)]
pub struct CoordinatorConfig {
    /// `group.initial.rebalance.delay.ms`: how long the first rebalance of an
    /// empty group waits for more members (each newcomer extends it, up to
    /// the rebalance timeout). Default 3 s; embedded single-consumer use and
    /// tests set 0.
    pub initial_rebalance_delay: Duration,
    /// `group.min.session.timeout.ms` (default 6 s).
    pub min_session_timeout: Duration,
    /// `group.max.session.timeout.ms` (default 30 min).
    pub max_session_timeout: Duration,
    /// `group.max.size` (default unlimited).
    pub max_group_size: usize,
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        CoordinatorConfig {
            initial_rebalance_delay: Duration::from_secs(3),
            min_session_timeout: Duration::from_secs(6),
            max_session_timeout: Duration::from_secs(30 * 60),
            max_group_size: usize::MAX,
        }
    }
}

/// A JoinGroup request.
#[derive(Debug, Clone)]
pub struct JoinGroupRequest {
    /// The group to join.
    pub group_id: String,
    /// `""` for a new member; the id the coordinator gave it otherwise.
    pub member_id: String,
    /// Static membership id (`group.instance.id`).
    pub group_instance_id: Option<String>,
    /// The client's id; prefixes generated member ids.
    pub client_id: String,
    /// How long without a heartbeat before the member is removed.
    pub session_timeout: Duration,
    /// How long a rebalance waits for the member to rejoin and sync.
    pub rebalance_timeout: Duration,
    /// E.g. `"consumer"`; all members must agree.
    pub protocol_type: String,
    /// `(protocol name, metadata)` in order of preference.
    pub protocols: Vec<(String, Bytes)>,
}

/// The answer to a JoinGroup, sent when the join phase completes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupResponse {
    /// The new generation.
    pub generation_id: i32,
    /// The protocol (assignor) chosen for the generation.
    pub protocol_name: String,
    /// The leader's member id.
    pub leader: String,
    /// This member's id (new members learn theirs here).
    pub member_id: String,
    /// `(member id, instance id, metadata)` of every member; only the leader
    /// gets it, everyone else gets an empty list.
    pub members: Vec<(String, Option<String>, Bytes)>,
}

/// A member as DescribeGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    /// The member id.
    pub member_id: String,
    /// Its static instance id.
    pub group_instance_id: Option<String>,
    /// Its client id.
    pub client_id: String,
    /// Its metadata for the chosen protocol (empty before one is chosen).
    pub metadata: Bytes,
    /// Its current assignment (empty until the group is Stable).
    pub assignment: Bytes,
}

/// A group as DescribeGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// Current state.
    pub state: GroupState,
    /// Protocol type (`""` for a group that only stores offsets).
    pub protocol_type: String,
    /// The chosen protocol, once a generation has one.
    pub protocol: Option<String>,
    /// Current members.
    pub members: Vec<MemberDescription>,
    /// Current generation.
    pub generation_id: i32,
}

/// Kafka's classic group coordinator, in process.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use std::time::{Duration, Instant};
/// use bytes::Bytes;
/// use riffle_log::group::{CoordinatorConfig, GroupCoordinator, JoinGroupRequest, OffsetStorage};
///
/// struct Discard;
/// impl OffsetStorage for Discard {
///     fn append(&self, _: Vec<(Bytes, Option<Bytes>)>) -> riffle_log::Result<()> { Ok(()) }
/// }
///
/// let config = CoordinatorConfig { initial_rebalance_delay: Duration::ZERO, ..Default::default() };
/// let coordinator = GroupCoordinator::new(config, Arc::new(Discard));
/// let now = Instant::now();
/// let mut rx = coordinator.join_group(JoinGroupRequest {
///     group_id: "g".into(), member_id: String::new(), group_instance_id: None,
///     client_id: "app".into(), session_timeout: Duration::from_secs(10),
///     rebalance_timeout: Duration::from_secs(30), protocol_type: "consumer".into(),
///     protocols: vec![("range".into(), Bytes::new())],
/// }, now);
/// let joined = rx.try_recv().expect("a lone member joins at once")?;
/// assert_eq!(joined.leader, joined.member_id);
/// let mut rx = coordinator.sync_group("g", &joined.member_id, joined.generation_id,
///     vec![(joined.member_id.clone(), Bytes::from_static(b"mine"))], now);
/// assert_eq!(rx.try_recv().expect("the leader's sync completes")?, "mine");
/// # Ok::<(), riffle_log::LogError>(())
/// ```
pub struct GroupCoordinator {
    config: CoordinatorConfig,
    storage: Arc<dyn OffsetStorage>,
    groups: Mutex<HashMap<String, Arc<Mutex<Group>>>>,
}

impl GroupCoordinator {
    /// A coordinator with no groups; call [`load`](Self::load) to restore
    /// committed offsets.
    pub fn new(config: CoordinatorConfig, storage: Arc<dyn OffsetStorage>) -> Self {
        GroupCoordinator { config, storage, groups: Mutex::new(HashMap::new()) }
    }

    fn get(&self, group_id: &str) -> Option<Arc<Mutex<Group>>> {
        self.groups.lock().get(group_id).cloned()
    }

    /// Runs `f` on the group, creating it if needed. A group that dies
    /// between lookup and lock (deleted, cleaned up) is recreated.
    fn with_group_or_create<T>(&self, group_id: &str, f: impl FnOnce(&mut Group) -> T) -> T {
        loop {
            let arc = self
                .groups
                .lock()
                .entry(group_id.to_string())
                .or_insert_with(|| Arc::new(Mutex::new(Group::new(group_id))))
                .clone();
            let mut g = arc.lock();
            if g.state != GroupState::Dead {
                return f(&mut g);
            }
        }
    }

    /// Runs `f` on a live group; `None` when there is none.
    fn with_group<T>(&self, group_id: &str, f: impl FnOnce(&mut Group) -> T) -> Option<T> {
        let arc = self.get(group_id)?;
        let mut g = arc.lock();
        (g.state != GroupState::Dead).then(|| f(&mut g))
    }

    /// Joins (or rejoins) a group. The receiver resolves when the join phase
    /// completes: at once for errors, otherwise when every known member has
    /// rejoined or the rebalance timeout expired (see [`tick`](Self::tick)).
    ///
    /// A member with an empty `member_id` gets a generated id
    /// `{client_id}-{random uuid}`. A static member (with a
    /// `group_instance_id`) rejoining with an empty id replaces its old
    /// member id, and the group rebalances.
    ///
    /// # Errors
    /// Through the receiver, `Group` errors with code:
    /// `InvalidSessionTimeout` (outside the configured range),
    /// `InconsistentGroupProtocol` (empty protocols, another protocol type,
    /// or no protocol in common with the other members), `UnknownMemberId`,
    /// `GroupMaxSizeReached`; [`LogError::InvalidConfig`] for an empty group id.
    pub fn join_group(&self, req: JoinGroupRequest, now: Instant) -> oneshot::Receiver<Result<JoinGroupResponse>> {
        let (tx, rx) = oneshot::channel();
        if let Err(e) = self.validate_join(&req) {
            let _ = tx.send(Err(e));
            return rx;
        }
        let delay = self.config.initial_rebalance_delay;
        let max_size = self.config.max_group_size;
        let group_id = req.group_id.clone();
        self.with_group_or_create(&group_id, move |g| {
            if !g.supports_protocols(&req.protocol_type, &req.protocols, &req.member_id) {
                let _ = tx.send(Err(g.error(
                    GroupErrorCode::InconsistentGroupProtocol,
                    format!(
                        "protocol type {:?} with protocols {:?} does not match the group's type {:?} \
                         or has no protocol every member supports",
                        req.protocol_type,
                        req.protocols.iter().map(|(p, _)| p).collect::<Vec<_>>(),
                        g.protocol_type.as_deref().unwrap_or("")
                    ),
                )));
                return;
            }
            if req.member_id.is_empty() {
                join_new_member(g, req, tx, now, delay, max_size);
            } else {
                join_known_member(g, req, tx, now, delay);
            }
        });
        rx
    }

    fn validate_join(&self, req: &JoinGroupRequest) -> Result<()> {
        if req.group_id.is_empty() {
            return Err(LogError::InvalidConfig {
                key: "group.id".into(),
                value: String::new(),
                reason: "a consumer group needs a non-empty group id".into(),
            });
        }
        let (min, max) = (self.config.min_session_timeout, self.config.max_session_timeout);
        if req.session_timeout < min || req.session_timeout > max {
            return Err(LogError::group(
                &req.group_id,
                GroupErrorCode::InvalidSessionTimeout,
                format!(
                    "session timeout {:?} is outside the allowed {min:?}..={max:?}; \
                     change session.timeout.ms or the coordinator's limits",
                    req.session_timeout
                ),
            ));
        }
        if req.protocol_type.is_empty() || req.protocols.is_empty() {
            return Err(LogError::group(
                &req.group_id,
                GroupErrorCode::InconsistentGroupProtocol,
                "JoinGroup needs a protocol type and at least one protocol",
            ));
        }
        Ok(())
    }

    /// Sends a member's SyncGroup. The leader's call carries every member's
    /// assignment; it makes the group Stable and answers everyone. A
    /// follower's receiver resolves when the leader's sync arrives (or with
    /// `RebalanceInProgress` if the sync phase is abandoned).
    ///
    /// # Errors
    /// Through the receiver, `Group` errors with code `UnknownMemberId`,
    /// `IllegalGeneration`, `RebalanceInProgress` (the group is preparing a
    /// rebalance: rejoin), `CoordinatorNotAvailable` (the group was deleted).
    pub fn sync_group(
        &self,
        group_id: &str,
        member_id: &str,
        generation_id: i32,
        assignments: Vec<(String, Bytes)>,
        now: Instant,
    ) -> oneshot::Receiver<Result<Bytes>> {
        let (tx, rx) = oneshot::channel();
        let done = self.with_group(group_id, |g| {
            let Some(member) = g.members.get_mut(member_id) else {
                let _ = tx.send(Err(unknown_member(g, member_id)));
                return;
            };
            if generation_id != g.generation_id {
                let _ = tx.send(Err(illegal_generation(g, generation_id)));
                return;
            }
            match g.state {
                GroupState::PreparingRebalance => {
                    let _ = tx.send(Err(rebalancing(g)));
                }
                GroupState::Stable => {
                    member.last_heartbeat = now;
                    let _ = tx.send(Ok(member.assignment.clone()));
                }
                GroupState::CompletingRebalance => {
                    member.last_heartbeat = now;
                    if let Some(old) = member.sync_waiter.replace(tx) {
                        let _ = old.send(Err(LogError::group(
                            group_id,
                            GroupErrorCode::RebalanceInProgress,
                            "superseded by a newer SyncGroup from the same member",
                        )));
                    }
                    if g.leader.as_deref() == Some(member_id) {
                        g.complete_sync(assignments);
                    }
                }
                GroupState::Empty | GroupState::Dead => {
                    let _ = tx.send(Err(unknown_member(g, member_id)));
                }
            }
        });
        if done.is_none() {
            return not_found_receiver(group_id, member_id);
        }
        rx
    }

    /// Records a member's heartbeat.
    ///
    /// # Errors
    /// `Group` errors with code `RebalanceInProgress` while a rebalance is
    /// being prepared (the member must rejoin), `UnknownMemberId`,
    /// `IllegalGeneration`.
    pub fn heartbeat(&self, group_id: &str, member_id: &str, generation_id: i32, now: Instant) -> Result<()> {
        self.with_group(group_id, |g| {
            let state = g.state;
            let generation = g.generation_id;
            let Some(member) = g.members.get_mut(member_id) else {
                return Err(unknown_member(g, member_id));
            };
            if generation_id != generation {
                return Err(illegal_generation(g, generation_id));
            }
            member.last_heartbeat = now;
            match state {
                GroupState::PreparingRebalance => Err(rebalancing(g)),
                _ => Ok(()),
            }
        })
        .unwrap_or_else(|| Err(no_group(group_id, member_id)))
    }

    /// Removes members from a group (a consumer's clean shutdown); the rest
    /// rebalance, and a group whose last member left becomes Empty.
    ///
    /// # Errors
    /// `UnknownMemberId` if any id is not a member (the known ones still leave).
    pub fn leave_group(&self, group_id: &str, member_ids: &[String], now: Instant) -> Result<()> {
        self.with_group(group_id, |g| {
            let mut unknown = Vec::new();
            for id in member_ids {
                if !g.remove_member(id, now, "left the group") {
                    unknown.push(id.as_str());
                }
            }
            if unknown.is_empty() {
                Ok(())
            } else {
                Err(g.error(GroupErrorCode::UnknownMemberId, format!("members {unknown:?} are not in the group")))
            }
        })
        .unwrap_or_else(|| Err(no_group(group_id, member_ids.first().map_or("", String::as_str))))
    }

    /// Advances time: removes members whose session expired, completes a join
    /// phase whose rebalance timeout (or initial delay) expired, abandons a
    /// sync phase whose timeout expired (removing members that never synced
    /// and rebalancing), and forgets Empty groups without offsets.
    pub fn tick(&self, now: Instant) {
        let groups: Vec<Arc<Mutex<Group>>> = self.groups.lock().values().cloned().collect();
        for arc in groups {
            let mut g = arc.lock();
            if g.state != GroupState::Dead {
                g.tick(now);
            }
        }
        let mut map = self.groups.lock();
        map.retain(|_, arc| {
            // A busy group is not idle; look again next tick.
            let Some(mut g) = arc.try_lock() else { return true };
            let idle = g.state == GroupState::Empty && g.members.is_empty() && g.offsets.is_empty();
            if idle {
                g.mark_dead();
            }
            !idle
        });
    }

    /// Commits offsets. They are appended to the [`OffsetStorage`] first and
    /// become visible to [`fetch_offsets`](Self::fetch_offsets) only after the
    /// append succeeded.
    ///
    /// A *simple* commit (`generation_id < 0`, any member id) is allowed
    /// while the group has no members, and creates the group (Empty) if
    /// needed: that is how consumers using manual assignment store offsets.
    ///
    /// # Errors
    /// `Group` errors with code `IllegalGeneration` (wrong generation, or a
    /// group commit to a group that does not exist), `UnknownMemberId`,
    /// `RebalanceInProgress` (while the group is CompletingRebalance);
    /// [`LogError::InvalidConfig`] for oversized metadata; whatever the
    /// storage's `append` returns.
    pub fn commit_offsets(
        &self,
        group_id: &str,
        member_id: &str,
        generation_id: i32,
        offsets: Vec<(TopicPartition, OffsetAndMetadata)>,
    ) -> Result<()> {
        let records = offsets
            .iter()
            .map(|(tp, v)| Ok((encode_offset_key(group_id, tp)?, Some(encode_offset_value(v)?))))
            .collect::<Result<Vec<_>>>()?;
        let commit = |g: &mut Group| -> Result<()> {
            let simple = generation_id < 0 && g.members.is_empty();
            if !simple {
                if g.state == GroupState::CompletingRebalance {
                    return Err(rebalancing(g));
                }
                if !g.members.contains_key(member_id) {
                    return Err(unknown_member(g, member_id));
                }
                if generation_id != g.generation_id {
                    return Err(illegal_generation(g, generation_id));
                }
            }
            if offsets.is_empty() {
                return Ok(());
            }
            self.storage.append(records)?;
            g.offsets.extend(offsets);
            Ok(())
        };
        if generation_id < 0 {
            self.with_group_or_create(group_id, commit)
        } else {
            self.with_group(group_id, commit).unwrap_or_else(|| {
                Err(LogError::group(
                    group_id,
                    GroupErrorCode::IllegalGeneration,
                    format!("group does not exist, so generation {generation_id} is stale; rejoin"),
                ))
            })
        }
    }

    /// Commits offsets on behalf of a committed transaction (offsets sent
    /// with TxnOffsetCommit become visible when EndTxn commits). No member
    /// or generation check: the transaction coordinator fenced the producer
    /// already. Creates the group (Empty) if needed.
    ///
    /// # Errors
    /// [`LogError::InvalidConfig`] for oversized metadata; the storage's error.
    pub fn commit_transactional_offsets(
        &self,
        group_id: &str,
        offsets: Vec<(TopicPartition, OffsetAndMetadata)>,
    ) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let records = offsets
            .iter()
            .map(|(tp, v)| Ok((encode_offset_key(group_id, tp)?, Some(encode_offset_value(v)?))))
            .collect::<Result<Vec<_>>>()?;
        self.with_group_or_create(group_id, |g| {
            self.storage.append(records)?;
            g.offsets.extend(offsets);
            Ok(())
        })
    }

    /// The group's committed offsets: all of them, or those of `partitions`
    /// (partitions without a commit are absent from the result).
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        partitions: Option<&[TopicPartition]>,
    ) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
        self.with_group(group_id, |g| match partitions {
            None => g.offsets.clone(),
            Some(ps) => ps.iter().filter_map(|tp| Some((tp.clone(), g.offsets.get(tp)?.clone()))).collect(),
        })
        .unwrap_or_default()
    }

    /// Deletes an Empty group and its offsets (tombstones are appended to the
    /// storage first).
    ///
    /// # Errors
    /// `Group` errors with code `GroupIdNotFound` or `NonEmptyGroup`; the
    /// storage's error (the group is then kept).
    pub fn delete_group(&self, group_id: &str) -> Result<()> {
        let not_found = || LogError::group(group_id, GroupErrorCode::GroupIdNotFound, "no such group");
        let mut map = self.groups.lock();
        let arc = map.get(group_id).cloned().ok_or_else(not_found)?;
        let mut g = arc.lock();
        match g.state {
            GroupState::Dead => return Err(not_found()),
            GroupState::Empty => {}
            state => {
                return Err(g.error(
                    GroupErrorCode::NonEmptyGroup,
                    format!("group is {state} with {} member(s); stop its consumers first", g.members.len()),
                ))
            }
        }
        let tombstones = g
            .offsets
            .keys()
            .map(|tp| Ok((encode_offset_key(group_id, tp)?, None)))
            .collect::<Result<Vec<_>>>()?;
        if !tombstones.is_empty() {
            self.storage.append(tombstones)?;
        }
        g.offsets.clear();
        g.mark_dead();
        map.remove(group_id);
        tracing::info!(group = group_id, "group deleted");
        Ok(())
    }

    /// Every live group as `(group id, protocol type, state)`, sorted by id.
    pub fn list_groups(&self) -> Vec<(String, String, GroupState)> {
        let groups: Vec<Arc<Mutex<Group>>> = self.groups.lock().values().cloned().collect();
        let mut out: Vec<_> = groups
            .iter()
            .filter_map(|arc| {
                let g = arc.lock();
                (g.state != GroupState::Dead)
                    .then(|| (g.id.clone(), g.protocol_type.clone().unwrap_or_default(), g.state))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Describes a group; `None` when it does not exist.
    pub fn describe_group(&self, group_id: &str) -> Option<GroupDescription> {
        self.with_group(group_id, |g| GroupDescription {
            state: g.state,
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            protocol: g.protocol.clone(),
            generation_id: g.generation_id,
            members: g
                .members
                .values()
                .map(|m| MemberDescription {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    metadata: g.protocol.as_deref().and_then(|p| m.metadata(p)).cloned().unwrap_or_default(),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        })
    }

    /// Replays `__consumer_offsets` records (in log order) on startup: later
    /// records win, tombstones delete. Records whose key or value version is
    /// not an offset commit Riffle understands are skipped with a warning.
    /// Nothing is applied unless every record parses.
    ///
    /// # Errors
    /// [`LogError::InvalidBatch`] naming the record (by position in the
    /// iterator) whose key or value is malformed.
    pub fn load(&self, records: impl Iterator<Item = (Bytes, Option<Bytes>)>) -> Result<()> {
        let mut staged: BTreeMap<(String, TopicPartition), Option<OffsetAndMetadata>> = BTreeMap::new();
        for (i, (key, value)) in records.enumerate() {
            let bad = |what: &str, reason: String| LogError::InvalidBatch {
                reason: format!("__consumer_offsets record #{i}: malformed {what}: {reason}"),
            };
            let (group, tp) = match decode_offset_key(&key).map_err(|r| bad("key", r))? {
                OffsetRecordKey::Offset { group, partition } => (group, partition),
                OffsetRecordKey::Other { version } => {
                    tracing::warn!(record = i, key_version = version, "skipping __consumer_offsets record with an unknown key version");
                    continue;
                }
            };
            let value = match value {
                None => None,
                Some(v) => match decode_offset_value(&v).map_err(|r| bad("value", r))? {
                    Some(v) => Some(v),
                    None => {
                        let version = v.get(..2).map(|b| i16::from_be_bytes([b[0], b[1]]));
                        tracing::warn!(record = i, group = %group, partition = %tp, value_version = ?version,
                            "skipping __consumer_offsets record with an unknown value version");
                        continue;
                    }
                },
            };
            staged.insert((group, tp), value);
        }
        let mut by_group: BTreeMap<String, Vec<(TopicPartition, Option<OffsetAndMetadata>)>> = BTreeMap::new();
        for ((group, tp), v) in staged {
            by_group.entry(group).or_default().push((tp, v));
        }
        for (group, entries) in by_group {
            if entries.iter().all(|(_, v)| v.is_none()) && self.get(&group).is_none() {
                continue; // only deletions of a group we do not have
            }
            self.with_group_or_create(&group, |g| {
                for (tp, v) in entries {
                    match v {
                        Some(v) => g.offsets.insert(tp, v),
                        None => g.offsets.remove(&tp),
                    };
                }
            });
        }
        Ok(())
    }
}

/// A new member (empty member id) joins.
fn join_new_member(
    g: &mut Group,
    req: JoinGroupRequest,
    tx: super::state::JoinSender,
    now: Instant,
    delay: Duration,
    max_size: usize,
) {
    if let Some(instance) = &req.group_instance_id {
        let old = g.members.values().find(|m| m.instance_id.as_ref() == Some(instance)).map(|m| m.id.clone());
        if let Some(old) = old {
            // The same static instance restarted: fence its old member id.
            g.remove_member(&old, now, "replaced by a new member with the same group.instance.id");
        }
    }
    if g.members.len() >= max_size {
        let _ = tx.send(Err(g.error(
            GroupErrorCode::GroupMaxSizeReached,
            format!("the group has reached group.max.size={max_size}"),
        )));
        return;
    }
    let id = format!("{}-{}", req.client_id, random_uuid());
    let member = Member {
        id: id.clone(),
        instance_id: req.group_instance_id,
        client_id: req.client_id,
        session_timeout: req.session_timeout,
        rebalance_timeout: req.rebalance_timeout,
        protocols: req.protocols,
        assignment: Bytes::new(),
        last_heartbeat: now,
        join_waiter: Some(tx),
        sync_waiter: None,
    };
    g.add_member(member, &req.protocol_type);
    tracing::info!(group = %g.id, member = %id, "new member joined");
    match g.state {
        GroupState::PreparingRebalance => {
            g.extend_initial_delay(now, delay);
            g.maybe_complete_join(now);
        }
        _ => g.prepare_rebalance(now, delay, "a new member joined"),
    }
}

/// A known member rejoins.
fn join_known_member(
    g: &mut Group,
    req: JoinGroupRequest,
    tx: super::state::JoinSender,
    now: Instant,
    delay: Duration,
) {
    let state = g.state;
    let group_id = g.id.clone();
    let Some(member) = g.members.get_mut(&req.member_id) else {
        let _ = tx.send(Err(unknown_member(g, &req.member_id)));
        return;
    };
    if req.group_instance_id.is_some() && member.instance_id != req.group_instance_id {
        let _ = tx.send(Err(LogError::group(
            &group_id,
            GroupErrorCode::UnknownMemberId,
            format!(
                "member {} does not belong to group.instance.id {:?}; it was fenced by a newer instance",
                req.member_id, req.group_instance_id
            ),
        )));
        return;
    }
    let unchanged = member.protocols == req.protocols;
    member.session_timeout = req.session_timeout;
    member.rebalance_timeout = req.rebalance_timeout;
    member.client_id = req.client_id;
    member.protocols = req.protocols;
    member.last_heartbeat = now;
    if state == GroupState::CompletingRebalance && unchanged {
        // It lost its JoinGroup answer: give it the current generation again.
        let _ = tx.send(Ok(g.current_join_response(&req.member_id)));
        return;
    }
    if let Some(old) = member.join_waiter.replace(tx) {
        let _ = old.send(Err(LogError::group(
            &group_id,
            GroupErrorCode::RebalanceInProgress,
            "superseded by a newer JoinGroup from the same member",
        )));
    }
    match state {
        GroupState::PreparingRebalance => g.maybe_complete_join(now),
        _ => g.prepare_rebalance(now, delay, "a member rejoined"),
    }
}

/// A random version-4 UUID in its usual text form, as Kafka's member ids use.
fn random_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn unknown_member(g: &Group, member_id: &str) -> LogError {
    g.error(
        GroupErrorCode::UnknownMemberId,
        format!("member {member_id:?} is not in the group (it may have timed out); rejoin with an empty member id"),
    )
}

fn illegal_generation(g: &Group, generation_id: i32) -> LogError {
    g.error(
        GroupErrorCode::IllegalGeneration,
        format!("generation {generation_id} is not the current generation {}; rejoin", g.generation_id),
    )
}

fn rebalancing(g: &Group) -> LogError {
    g.error(GroupErrorCode::RebalanceInProgress, "the group is rebalancing; rejoin")
}

fn no_group(group_id: &str, member_id: &str) -> LogError {
    LogError::group(
        group_id,
        GroupErrorCode::UnknownMemberId,
        format!("group does not exist, so member {member_id:?} is unknown; rejoin with an empty member id"),
    )
}

fn not_found_receiver(group_id: &str, member_id: &str) -> oneshot::Receiver<Result<Bytes>> {
    let (tx, rx) = oneshot::channel();
    let _ = tx.send(Err(no_group(group_id, member_id)));
    rx
}

#[cfg(test)]
mod tests;
