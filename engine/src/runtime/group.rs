//! Task assignment through the log's consumer group: the application id is
//! the group, and every [`StreamsApp`](super::StreamsApp) instance is one
//! member. The leader of each generation splits the tasks (sub-topology ×
//! partition) between the members; the others take what they are given.
//!
//! The rebalance protocol is Kafka's *eager* one, as Kafka Streams used it
//! before KIP-429:
//!
//! 1. A member's heartbeat learns that the group is rebalancing (a member
//!    joined, left or timed out).
//! 2. The member asks its worker threads to **suspend**: each commits its
//!    tasks (caches → stores → changelogs, then input offsets) and parks.
//! 3. The member rejoins; the leader assigns; everyone syncs.
//! 4. The workers close the tasks they lost and open (and restore from the
//!    changelogs) the tasks they gained, then resume. A task that stays
//!    with the member stays open — no restore.
//!
//! The assignment is balanced (task counts differ by at most one) and
//! sticky (a member keeps the tasks it had, as far as the balance allows).
//! Members describe themselves in the subscription's user data and learn
//! every member's tasks and endpoint (`application.server`) from the
//! assignment's user data — that is what key-owner metadata for interactive
//! queries is answered from.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};
use riffle_log::client::LogClient;
use riffle_log::group::{ConsumerAssignment, ConsumerSubscription, JoinGroupRequest, CONSUMER_PROTOCOL_TYPE};
use riffle_log::{GroupErrorCode, LogError};
use serde::{Deserialize, Serialize};

use super::{StreamsConfig, TaskId};
use crate::error::{EngineError, Result};

/// The assignor's name in JoinGroup; members of one application must agree.
pub(crate) const STREAMS_ASSIGNOR: &str = "riffle-streams";
const INFO_VERSION: u32 = 1;

/// What a member tells the leader.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct MemberInfo {
    version: u32,
    /// `application.server` (host:port), if the instance serves queries.
    endpoint: Option<String>,
    /// Tasks the member had in the previous generation.
    owned: Vec<(usize, i32)>,
}

/// One member's share, as every member learns it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct MemberTasks {
    /// The member id in the group.
    pub member_id: String,
    /// Its `application.server`.
    pub endpoint: Option<String>,
    /// Its tasks.
    pub tasks: Vec<(usize, i32)>,
}

/// What the leader tells each member: the whole assignment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct AssignmentInfo {
    version: u32,
    members: Vec<MemberTasks>,
}

fn tid((subtopology, partition): (usize, i32)) -> TaskId {
    TaskId { subtopology, partition }
}

fn pair(t: TaskId) -> (usize, i32) {
    (t.subtopology, t.partition)
}

/// Splits `tasks` between `members` (`member id → tasks it owned`):
/// balanced, then sticky. Deterministic for the same input.
pub(crate) fn assign_tasks(tasks: &[TaskId], members: &BTreeMap<String, Vec<TaskId>>) -> BTreeMap<String, Vec<TaskId>> {
    let mut out: BTreeMap<String, Vec<TaskId>> = members.keys().map(|m| (m.clone(), Vec::new())).collect();
    if members.is_empty() {
        return out;
    }
    let n = members.len();
    let (base, extra) = (tasks.len() / n, tasks.len() % n);
    // The members that owned the most get the larger quotas: less movement.
    let mut order: Vec<&String> = members.keys().collect();
    order.sort_by_key(|m| std::cmp::Reverse(members[*m].len()));
    let mut capacity: BTreeMap<&String, usize> =
        order.iter().enumerate().map(|(i, m)| (*m, base + usize::from(i < extra))).collect();
    let all: BTreeSet<TaskId> = tasks.iter().copied().collect();
    let mut placed = BTreeSet::new();
    // Sticky pass: a task stays with a previous owner that has room.
    for m in &order {
        for t in &members[*m] {
            if all.contains(t) && !placed.contains(t) && capacity[*m] > 0 {
                placed.insert(*t);
                if let Some(c) = capacity.get_mut(*m) {
                    *c -= 1;
                }
                if let Some(v) = out.get_mut(*m) {
                    v.push(*t);
                }
            }
        }
    }
    // The rest go to whoever has the most room left.
    for t in all.difference(&placed) {
        let Some((m, _)) = capacity.iter().filter(|(_, c)| **c > 0).max_by_key(|(m, c)| (**c, std::cmp::Reverse(**m))) else {
            break;
        };
        let m = (*m).clone();
        if let Some(c) = capacity.get_mut(&m) {
            *c -= 1;
        }
        if let Some(v) = out.get_mut(&m) {
            v.push(*t);
        }
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

/// The member's current identity, which offset commits carry so that a
/// member that lost its tasks cannot overwrite the new owner's progress.
#[derive(Debug, Default)]
pub(crate) struct MemberIdentity {
    inner: Mutex<(String, i32)>,
}

impl MemberIdentity {
    pub(crate) fn get(&self) -> (String, i32) {
        self.inner.lock().clone()
    }
    fn set(&self, member_id: &str, generation: i32) {
        *self.inner.lock() = (member_id.to_string(), generation);
    }
}

/// What the member thread tells the worker threads.
#[derive(Debug, Default)]
pub(crate) struct ControlState {
    /// Workers must commit their tasks and park.
    pub suspend: bool,
    /// Per worker: parked after a suspend request.
    pub parked: Vec<bool>,
    /// Bumped with every published assignment.
    pub epoch: u64,
    /// Per worker: the tasks it should run.
    pub per_thread: Vec<Vec<TaskId>>,
    /// Every member's tasks and endpoint, from the last assignment.
    pub members: Vec<MemberTasks>,
    /// A worker found its tasks fenced (a commit was refused): rejoin.
    pub lost: bool,
}

/// An interactive query waiting for a worker thread.
pub(crate) struct QueryJob {
    pub store: String,
    pub key: Option<arrow::array::RecordBatch>,
    pub windows: Option<(i64, i64)>,
    pub reply: std::sync::mpsc::Sender<Result<Vec<arrow::array::RecordBatch>>>,
}

/// Shared between the member thread and the workers.
#[derive(Default)]
pub(crate) struct Control {
    pub state: Mutex<ControlState>,
    pub cv: Condvar,
    /// Bumped on every change the workers must look at (cheap to poll).
    pub changed: AtomicU64,
    pub identity: Arc<MemberIdentity>,
    /// Per worker: queries to answer from its tasks' stores.
    pub inbox: Vec<Mutex<Vec<QueryJob>>>,
    /// Queries waiting in any inbox (cheap to poll).
    pub queued: AtomicU64,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control").field("state", &*self.state.lock()).finish_non_exhaustive()
    }
}

impl Control {
    pub(crate) fn new(threads: usize) -> Self {
        let c = Control { inbox: (0..threads).map(|_| Mutex::new(Vec::new())).collect(), ..Control::default() };
        c.state.lock().parked = vec![false; threads];
        c.state.lock().per_thread = vec![Vec::new(); threads];
        c
    }

    /// Queues `job` for worker `n`.
    pub(crate) fn ask(&self, n: usize, job: QueryJob) {
        if let Some(inbox) = self.inbox.get(n) {
            inbox.lock().push(job);
            self.queued.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Takes worker `n`'s queued queries.
    pub(crate) fn take_queries(&self, n: usize) -> Vec<QueryJob> {
        if self.queued.load(Ordering::SeqCst) == 0 {
            return Vec::new();
        }
        let jobs = self.inbox.get(n).map(|i| std::mem::take(&mut *i.lock())).unwrap_or_default();
        self.queued.fetch_sub(jobs.len() as u64, Ordering::SeqCst);
        jobs
    }

    fn bump(&self) {
        self.changed.fetch_add(1, Ordering::SeqCst);
        self.cv.notify_all();
    }

    /// A worker reports that its commit was refused: its tasks were given
    /// to another member.
    pub(crate) fn report_lost(&self) {
        let mut st = self.state.lock();
        st.lost = true;
        // The whole member lost its generation: no worker keeps or reopens
        // a task until the rejoin hands out new ones.
        st.per_thread.iter_mut().for_each(Vec::clear);
        drop(st);
        self.bump();
    }

    pub(crate) fn notify(&self) {
        self.cv.notify_all();
    }
}

/// True for the errors that mean "this member no longer owns its tasks".
pub(crate) fn is_fenced(e: &LogError) -> bool {
    matches!(
        e,
        LogError::Group { code: GroupErrorCode::IllegalGeneration | GroupErrorCode::UnknownMemberId | GroupErrorCode::RebalanceInProgress, .. }
    )
}

/// The member thread's loop: join, publish, heartbeat, and rebalance when
/// the group asks. Returns when `stop` is set (leaving the group unless
/// `abort` is set too, as a crash would).
pub(crate) struct GroupMember {
    pub log: Arc<dyn LogClient>,
    pub config: StreamsConfig,
    pub tasks: Vec<TaskId>,
    pub topics: Vec<String>,
    pub control: Arc<Control>,
    /// Set once the workers have stopped (and made their final commits).
    pub stop: Arc<AtomicBool>,
    /// Stop as a crash would: without leaving the group.
    pub abort: Arc<AtomicBool>,
}

impl GroupMember {
    fn group(&self) -> &str {
        &self.config.application_id
    }

    pub(crate) fn run(self) -> Result<()> {
        let mut member_id = String::new();
        let mut generation = -1;
        let mut owned: Vec<TaskId> = Vec::new();
        let mut failures = 0u32;
        'member: loop {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            match self.join_and_sync(&mut member_id, &mut generation, &owned) {
                Ok(info) => {
                    failures = 0;
                    owned = self.publish(&member_id, generation, info);
                }
                Err(e) => {
                    failures += 1;
                    if let EngineError::Log { source: LogError::Group { code, .. }, .. } = &e {
                        if matches!(code, GroupErrorCode::UnknownMemberId | GroupErrorCode::IllegalGeneration) {
                            member_id.clear();
                        }
                        let retriable = matches!(
                            code,
                            GroupErrorCode::RebalanceInProgress
                                | GroupErrorCode::UnknownMemberId
                                | GroupErrorCode::IllegalGeneration
                                | GroupErrorCode::CoordinatorNotAvailable
                        );
                        if retriable && failures < 50 {
                            tracing::debug!(group = self.group(), "rejoining after: {e}");
                            std::thread::sleep(Duration::from_millis(20));
                            continue;
                        }
                    }
                    return Err(e);
                }
            }
            // Heartbeat until the group rebalances or the app stops.
            let mut last = Instant::now();
            loop {
                if self.stop.load(Ordering::SeqCst) {
                    break 'member;
                }
                if std::mem::take(&mut self.control.state.lock().lost) {
                    tracing::warn!(group = self.group(), member = %member_id, "tasks were fenced; rejoining");
                    member_id.clear();
                    owned.clear();
                    break;
                }
                if last.elapsed() >= self.config.heartbeat_interval {
                    last = Instant::now();
                    match self.log.heartbeat(self.group(), &member_id, generation) {
                        Ok(()) => {}
                        Err(LogError::Group { code: GroupErrorCode::RebalanceInProgress, .. }) => break,
                        Err(e @ LogError::Group { code: GroupErrorCode::UnknownMemberId | GroupErrorCode::IllegalGeneration, .. }) => {
                            tracing::warn!(group = self.group(), "lost group membership ({e}); rejoining");
                            member_id.clear();
                            break;
                        }
                        Err(e) => tracing::warn!(group = self.group(), "heartbeat failed: {e}"),
                    }
                }
                let mut st = self.control.state.lock();
                self.control.cv.wait_for(&mut st, Duration::from_millis(20));
            }
            self.suspend_workers();
        }
        let static_member = self.config.group_instance_id.is_some();
        if !self.abort.load(Ordering::SeqCst) && !static_member && !member_id.is_empty() {
            if let Err(e) = self.log.leave_group(self.group(), &member_id) {
                tracing::debug!(group = self.group(), "leave group: {e}");
            }
        }
        Ok(())
    }

    /// Asks every worker to commit and park, and waits until they have.
    fn suspend_workers(&self) {
        let mut st = self.control.state.lock();
        st.suspend = true;
        st.parked.iter_mut().for_each(|p| *p = false);
        drop(st);
        self.control.bump();
        let mut st = self.control.state.lock();
        while !st.parked.iter().all(|p| *p) && !self.stop.load(Ordering::SeqCst) {
            self.control.cv.wait_for(&mut st, Duration::from_millis(20));
        }
    }

    fn join_and_sync(&self, member_id: &mut String, generation: &mut i32, owned: &[TaskId]) -> Result<AssignmentInfo> {
        let ctx = || format!("application {:?} joining its group", self.group());
        let info = MemberInfo { version: INFO_VERSION, endpoint: self.config.application_server.clone(), owned: owned.iter().map(|t| pair(*t)).collect() };
        let user_data = serde_json::to_vec(&info).map_err(|e| EngineError::Internal(e.to_string()))?;
        let sub = ConsumerSubscription { user_data: Some(Bytes::from(user_data)), ..ConsumerSubscription::new(self.topics.clone()) };
        let metadata = sub.encode(0).map_err(|e| EngineError::log(ctx(), e))?;
        let req = JoinGroupRequest {
            group_id: self.group().to_string(),
            member_id: member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
            client_id: format!("{}-StreamThread", self.group()),
            session_timeout: self.config.session_timeout,
            rebalance_timeout: self.config.rebalance_timeout,
            protocol_type: CONSUMER_PROTOCOL_TYPE.to_string(),
            protocols: vec![(STREAMS_ASSIGNOR.to_string(), metadata)],
        };
        let joined = self.log.join_group(req).map_err(|e| EngineError::log(ctx(), e))?;
        *member_id = joined.member_id.clone();
        *generation = joined.generation_id;
        let assignments = if joined.leader == joined.member_id { self.lead(&joined.members)? } else { Vec::new() };
        let bytes = self
            .log
            .sync_group(self.group(), member_id, *generation, assignments, self.config.rebalance_timeout)
            .map_err(|e| EngineError::log(ctx(), e))?;
        let assignment = ConsumerAssignment::decode(&bytes).map_err(|e| EngineError::log(ctx(), e))?;
        let data = assignment.user_data.unwrap_or_default();
        let info: AssignmentInfo = serde_json::from_slice(&data).map_err(|e| {
            EngineError::Internal(format!("{}: the leader's assignment is not a riffle-streams assignment: {e}", ctx()))
        })?;
        if info.version != INFO_VERSION {
            return Err(EngineError::Internal(format!("{}: assignment version {} (this instance speaks {INFO_VERSION})", ctx(), info.version)));
        }
        Ok(info)
    }

    /// The leader's part: every member's tasks.
    fn lead(&self, members: &[(String, Option<String>, Bytes)]) -> Result<Vec<(String, Bytes)>> {
        let mut owned = BTreeMap::new();
        let mut endpoints = BTreeMap::new();
        for (id, _, meta) in members {
            let sub = ConsumerSubscription::decode(meta).map_err(|e| EngineError::log("group member subscription", e))?;
            let info: MemberInfo = serde_json::from_slice(sub.user_data.as_deref().unwrap_or_default()).map_err(|e| {
                EngineError::Config {
                    key: "application.id".into(),
                    reason: format!(
                        "member {id} of group {:?} is not a riffle stream application ({e}); \
                         application ids must not be shared with plain consumer groups",
                        self.group()
                    ),
                }
            })?;
            owned.insert(id.clone(), info.owned.into_iter().map(tid).collect::<Vec<_>>());
            endpoints.insert(id.clone(), info.endpoint);
        }
        let split = assign_tasks(&self.tasks, &owned);
        let all = AssignmentInfo {
            version: INFO_VERSION,
            members: split
                .iter()
                .map(|(m, ts)| MemberTasks {
                    member_id: m.clone(),
                    endpoint: endpoints.get(m).cloned().flatten(),
                    tasks: ts.iter().map(|t| pair(*t)).collect(),
                })
                .collect(),
        };
        let data = Bytes::from(serde_json::to_vec(&all).map_err(|e| EngineError::Internal(e.to_string()))?);
        split
            .keys()
            .map(|m| {
                let a = ConsumerAssignment { partitions: Vec::new(), user_data: Some(data.clone()) };
                Ok((m.clone(), a.encode(0).map_err(|e| EngineError::log("assignment", e))?))
            })
            .collect()
    }

    /// Hands this member's tasks to the workers (a task stays on the
    /// thread that ran it) and releases them. Returns the member's tasks.
    fn publish(&self, member_id: &str, generation: i32, info: AssignmentInfo) -> Vec<TaskId> {
        let mine: Vec<TaskId> = info
            .members
            .iter()
            .find(|m| m.member_id == member_id)
            .map(|m| m.tasks.iter().map(|t| tid(*t)).collect())
            .unwrap_or_default();
        self.control.identity.set(member_id, generation);
        let mut st = self.control.state.lock();
        let threads = st.per_thread.len().max(1);
        let keep: BTreeSet<TaskId> = mine.iter().copied().collect();
        let mut per_thread: Vec<Vec<TaskId>> =
            st.per_thread.iter().map(|ts| ts.iter().copied().filter(|t| keep.contains(t)).collect()).collect();
        per_thread.resize(threads, Vec::new());
        let placed: BTreeSet<TaskId> = per_thread.iter().flatten().copied().collect();
        for t in mine.iter().filter(|t| !placed.contains(t)) {
            if let Some(least) = per_thread.iter_mut().min_by_key(|v| v.len()) {
                least.push(*t);
            }
        }
        tracing::info!(
            group = self.group(), member = member_id, generation, tasks = ?mine.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "assignment received"
        );
        st.per_thread = per_thread;
        st.members = info.members;
        st.epoch += 1;
        st.suspend = false;
        drop(st);
        self.control.bump();
        mine
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: usize, p: i32) -> TaskId {
        TaskId { subtopology: s, partition: p }
    }

    #[test]
    fn assignment_is_balanced_and_complete() {
        let tasks: Vec<TaskId> = (0..2).flat_map(|s| (0..5).map(move |p| t(s, p))).collect();
        let members: BTreeMap<String, Vec<TaskId>> =
            ["a", "b", "c"].iter().map(|m| (m.to_string(), Vec::new())).collect();
        let out = assign_tasks(&tasks, &members);
        let mut sizes: Vec<usize> = out.values().map(Vec::len).collect();
        sizes.sort();
        assert_eq!(sizes, vec![3, 3, 4]);
        let mut all: Vec<TaskId> = out.values().flatten().copied().collect();
        all.sort();
        assert_eq!(all, tasks);
    }

    #[test]
    fn a_newcomer_takes_tasks_without_reshuffling_the_rest() {
        let tasks: Vec<TaskId> = (0..4).map(|p| t(0, p)).collect();
        let mut members = BTreeMap::new();
        members.insert("a".to_string(), tasks.clone());
        members.insert("b".to_string(), Vec::new());
        let out = assign_tasks(&tasks, &members);
        assert_eq!(out["a"].len(), 2);
        assert_eq!(out["b"].len(), 2);
        // a kept two of its own and gave up the other two.
        assert!(out["a"].iter().all(|x| tasks.contains(x)));
        // When b leaves again, a gets everything back.
        let mut alone = BTreeMap::new();
        alone.insert("a".to_string(), out["a"].clone());
        assert_eq!(assign_tasks(&tasks, &alone)["a"], tasks);
    }

    #[test]
    fn previous_owners_keep_their_tasks_when_balanced() {
        let tasks: Vec<TaskId> = (0..4).map(|p| t(0, p)).collect();
        let mut members = BTreeMap::new();
        members.insert("a".to_string(), vec![t(0, 1), t(0, 3)]);
        members.insert("b".to_string(), vec![t(0, 0), t(0, 2)]);
        let out = assign_tasks(&tasks, &members);
        assert_eq!(out["a"], vec![t(0, 1), t(0, 3)]);
        assert_eq!(out["b"], vec![t(0, 0), t(0, 2)]);
    }

    #[test]
    fn no_members_no_assignment_and_more_members_than_tasks() {
        assert!(assign_tasks(&[t(0, 0)], &BTreeMap::new()).is_empty());
        let members: BTreeMap<String, Vec<TaskId>> =
            ["a", "b", "c"].iter().map(|m| (m.to_string(), Vec::new())).collect();
        let out = assign_tasks(&[t(0, 0)], &members);
        assert_eq!(out.values().map(Vec::len).sum::<usize>(), 1);
    }
}
