//! One group's state machine: its members, its generation and the
//! transitions of Kafka's classic rebalance protocol.
//!
//! [`Group`] knows nothing about locks, storage or request validation: the
//! [`GroupCoordinator`](super::GroupCoordinator) does those and calls the
//! transition methods here with the current time. Pending JoinGroup and
//! SyncGroup calls are `oneshot` senders parked on their member; a
//! transition that completes a phase answers them.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;

use super::coordinator::JoinGroupResponse;
use super::offsets::OffsetAndMetadata;
use crate::error::{GroupErrorCode, LogError, Result};
use crate::topic::TopicPartition;

/// The state of a consumer group (Kafka's names and meanings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    /// No members; the group may still hold committed offsets.
    Empty,
    /// A rebalance started: waiting for members to (re)join.
    PreparingRebalance,
    /// Every member joined: waiting for the leader's SyncGroup.
    CompletingRebalance,
    /// The leader's assignment was handed out; members heartbeat.
    Stable,
    /// The group was deleted (or cleaned up); requests that still hold it
    /// are told the coordinator is not available and retry.
    Dead,
}

impl GroupState {
    /// Whether the protocol allows moving from `self` to `next`.
    ///
    /// ```text
    /// Empty               -> PreparingRebalance | Dead
    /// PreparingRebalance  -> CompletingRebalance | Empty | Dead
    /// CompletingRebalance -> Stable | PreparingRebalance | Dead
    /// Stable              -> PreparingRebalance | Dead
    /// Dead                -> Dead
    /// ```
    pub fn can_transition_to(self, next: GroupState) -> bool {
        use GroupState::*;
        match next {
            Empty => self == PreparingRebalance,
            PreparingRebalance => matches!(self, Empty | CompletingRebalance | Stable),
            CompletingRebalance => self == PreparingRebalance,
            Stable => self == CompletingRebalance,
            Dead => true,
        }
    }

    /// Kafka's name of the state, as DescribeGroups and ListGroups report it.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

impl fmt::Display for GroupState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub(crate) type JoinSender = oneshot::Sender<Result<JoinGroupResponse>>;
pub(crate) type SyncSender = oneshot::Sender<Result<Bytes>>;

/// A member of a group.
pub(crate) struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    /// `(protocol name, metadata)` in the member's order of preference.
    pub protocols: Vec<(String, Bytes)>,
    /// What the leader assigned it in the current generation.
    pub assignment: Bytes,
    pub last_heartbeat: Instant,
    pub join_waiter: Option<JoinSender>,
    pub sync_waiter: Option<SyncSender>,
}

impl Member {
    /// The metadata the member sent for `protocol`.
    pub fn metadata(&self, protocol: &str) -> Option<&Bytes> {
        self.protocols.iter().find(|(p, _)| p == protocol).map(|(_, m)| m)
    }

    fn session_expired(&self, now: Instant) -> bool {
        // Members parked in a JoinGroup or SyncGroup are alive by definition.
        self.join_waiter.is_none()
            && self.sync_waiter.is_none()
            && now.saturating_duration_since(self.last_heartbeat) >= self.session_timeout
    }
}

/// The initial-rebalance delay of a group that was empty: joins are held
/// until `until` (pushed back by each new member, never past `cap`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct InitialDelay {
    pub until: Instant,
    pub cap: Instant,
}

/// One consumer group.
pub(crate) struct Group {
    pub id: String,
    pub state: GroupState,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub generation_id: i32,
    pub leader: Option<String>,
    pub members: BTreeMap<String, Member>,
    pub offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    /// When the join phase gives up on members that did not rejoin.
    pub join_deadline: Option<Instant>,
    pub initial_delay: Option<InitialDelay>,
    /// When the sync phase gives up on members that did not sync.
    pub sync_deadline: Option<Instant>,
}

impl Group {
    pub fn new(id: &str) -> Self {
        Group {
            id: id.to_string(),
            state: GroupState::Empty,
            protocol_type: None,
            protocol: None,
            generation_id: 0,
            leader: None,
            members: BTreeMap::new(),
            offsets: BTreeMap::new(),
            join_deadline: None,
            initial_delay: None,
            sync_deadline: None,
        }
    }

    pub fn error(&self, code: GroupErrorCode, reason: impl Into<String>) -> LogError {
        LogError::group(&self.id, code, reason)
    }

    fn transition(&mut self, next: GroupState) {
        if !self.state.can_transition_to(next) {
            tracing::error!(group = %self.id, from = %self.state, to = %next, "invalid group state transition (bug)");
            debug_assert!(false, "invalid transition {} -> {next}", self.state);
        }
        tracing::debug!(group = %self.id, from = %self.state, to = %next, generation = self.generation_id, "group state");
        self.state = next;
    }

    /// Marks the group deleted.
    pub fn mark_dead(&mut self) {
        self.transition(GroupState::Dead);
    }

    /// Whether a member with these protocols may join: any non-empty
    /// protocol set when the group is empty, otherwise the same protocol type
    /// and at least one protocol that every other member supports too.
    pub fn supports_protocols(&self, protocol_type: &str, protocols: &[(String, Bytes)], except: &str) -> bool {
        if protocol_type.is_empty() || protocols.is_empty() {
            return false;
        }
        let others: Vec<&Member> = self.members.values().filter(|m| m.id != except).collect();
        if others.is_empty() {
            return true;
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols
                .iter()
                .any(|(p, _)| others.iter().all(|m| m.protocols.iter().any(|(q, _)| q == p)))
    }

    /// Adds a member; the first member of a generation-less group leads.
    pub fn add_member(&mut self, member: Member, protocol_type: &str) {
        if self.members.is_empty() {
            self.protocol_type = Some(protocol_type.to_string());
        }
        if self.leader.is_none() {
            self.leader = Some(member.id.clone());
        }
        self.members.insert(member.id.clone(), member);
    }

    /// Removes a member without reacting to it; parked calls get `code`.
    fn detach_member(&mut self, member_id: &str, code: GroupErrorCode, why: &str) -> Option<Member> {
        let mut m = self.members.remove(member_id)?;
        if let Some(tx) = m.join_waiter.take() {
            let _ = tx.send(Err(self.error(code, format!("member {member_id} removed: {why}"))));
        }
        if let Some(tx) = m.sync_waiter.take() {
            let _ = tx.send(Err(self.error(code, format!("member {member_id} removed: {why}"))));
        }
        if self.leader.as_deref() == Some(member_id) {
            self.leader = self.members.keys().next().cloned();
        }
        tracing::info!(group = %self.id, member = member_id, reason = why, "member removed");
        Some(m)
    }

    /// Removes a member and reacts: a rebalance, or completing the join
    /// phase if everyone else has rejoined.
    pub fn remove_member(&mut self, member_id: &str, now: Instant, why: &str) -> bool {
        if self.detach_member(member_id, GroupErrorCode::UnknownMemberId, why).is_none() {
            return false;
        }
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => self.prepare_rebalance(now, Duration::ZERO, why),
            GroupState::PreparingRebalance => self.maybe_complete_join(now),
            GroupState::Empty | GroupState::Dead => {}
        }
        true
    }

    /// Starts a rebalance (Stable, CompletingRebalance or Empty →
    /// PreparingRebalance). From CompletingRebalance, members waiting in
    /// SyncGroup are told to rejoin.
    pub fn prepare_rebalance(&mut self, now: Instant, initial_delay: Duration, why: &str) {
        if self.state == GroupState::CompletingRebalance {
            for m in self.members.values_mut() {
                m.assignment = Bytes::new();
                if let Some(tx) = m.sync_waiter.take() {
                    let _ = tx.send(Err(LogError::group(
                        &self.id,
                        GroupErrorCode::RebalanceInProgress,
                        format!("a new rebalance started ({why}); rejoin the group"),
                    )));
                }
            }
        }
        let from_empty = self.state == GroupState::Empty;
        tracing::info!(group = %self.id, generation = self.generation_id, reason = why, "preparing rebalance");
        self.transition(GroupState::PreparingRebalance);
        let timeout = self.rebalance_timeout();
        self.join_deadline = Some(now + timeout);
        self.sync_deadline = None;
        self.initial_delay = (from_empty && !initial_delay.is_zero())
            .then(|| InitialDelay { until: now + initial_delay.min(timeout), cap: now + timeout });
        self.maybe_complete_join(now);
    }

    /// A new member arrived during the initial delay: wait a bit longer.
    pub fn extend_initial_delay(&mut self, now: Instant, delay: Duration) {
        if let Some(d) = &mut self.initial_delay {
            d.until = (now + delay).min(d.cap).max(d.until);
        }
    }

    fn rebalance_timeout(&self) -> Duration {
        self.members.values().map(|m| m.rebalance_timeout).max().unwrap_or(Duration::ZERO)
    }

    /// Completes the join phase if every member has rejoined and the
    /// initial delay (if any) is over.
    pub fn maybe_complete_join(&mut self, now: Instant) {
        if self.state != GroupState::PreparingRebalance {
            return;
        }
        if self.initial_delay.is_some_and(|d| now < d.until) && !self.members.is_empty() {
            return;
        }
        if self.members.values().all(|m| m.join_waiter.is_some()) {
            self.complete_join(now);
        }
    }

    /// Ends the join phase: members that did not rejoin are removed, the
    /// generation advances, and every parked JoinGroup is answered (the
    /// leader also gets every member's metadata).
    pub fn complete_join(&mut self, now: Instant) {
        let missing: Vec<String> =
            self.members.values().filter(|m| m.join_waiter.is_none()).map(|m| m.id.clone()).collect();
        for id in missing {
            self.detach_member(&id, GroupErrorCode::UnknownMemberId, "did not rejoin before the rebalance timeout");
        }
        self.join_deadline = None;
        self.initial_delay = None;
        self.generation_id = self.generation_id.wrapping_add(1);
        if self.members.is_empty() {
            self.protocol = None;
            self.leader = None;
            self.transition(GroupState::Empty);
            return;
        }
        let protocol = self.select_protocol();
        if !self.leader.as_ref().is_some_and(|l| self.members.contains_key(l)) {
            self.leader = self.members.keys().next().cloned();
        }
        let leader = self.leader.clone().unwrap_or_default();
        self.protocol = Some(protocol.clone());
        self.transition(GroupState::CompletingRebalance);
        self.sync_deadline = Some(now + self.rebalance_timeout());
        tracing::info!(group = %self.id, generation = self.generation_id, %protocol, %leader,
            members = self.members.len(), "join phase complete");

        let all: Vec<(String, Option<String>, Bytes)> = self
            .members
            .values()
            .map(|m| (m.id.clone(), m.instance_id.clone(), m.metadata(&protocol).cloned().unwrap_or_default()))
            .collect();
        for m in self.members.values_mut() {
            m.last_heartbeat = now;
            m.assignment = Bytes::new();
            if let Some(tx) = m.join_waiter.take() {
                let _ = tx.send(Ok(JoinGroupResponse {
                    generation_id: self.generation_id,
                    protocol_name: protocol.clone(),
                    leader: leader.clone(),
                    member_id: m.id.clone(),
                    members: if m.id == leader { all.clone() } else { Vec::new() },
                }));
            }
        }
    }

    /// The response a member gets when it rejoins an unchanged
    /// CompletingRebalance group (it lost its first answer).
    pub fn current_join_response(&self, member_id: &str) -> JoinGroupResponse {
        let protocol = self.protocol.clone().unwrap_or_default();
        let leader = self.leader.clone().unwrap_or_default();
        let members = if leader == member_id {
            self.members
                .values()
                .map(|m| (m.id.clone(), m.instance_id.clone(), m.metadata(&protocol).cloned().unwrap_or_default()))
                .collect()
        } else {
            Vec::new()
        };
        JoinGroupResponse {
            generation_id: self.generation_id,
            protocol_name: protocol,
            leader,
            member_id: member_id.to_string(),
            members,
        }
    }

    /// The protocol every member supports that most members prefer; ties go
    /// to the leader's (else the first member's) order of preference.
    fn select_protocol(&self) -> String {
        let supported_by_all = |p: &str| self.members.values().all(|m| m.protocols.iter().any(|(q, _)| q == p));
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some((p, _)) = m.protocols.iter().find(|(p, _)| supported_by_all(p)) {
                *votes.entry(p.as_str()).or_default() += 1;
            }
        }
        let reference = self
            .leader
            .as_ref()
            .and_then(|l| self.members.get(l))
            .or_else(|| self.members.values().next());
        let rank = |p: &str| {
            reference.and_then(|m| m.protocols.iter().position(|(q, _)| q == p)).unwrap_or(usize::MAX)
        };
        votes
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| rank(b.0).cmp(&rank(a.0))))
            .map(|(p, _)| p.to_string())
            .unwrap_or_default()
    }

    /// The leader's SyncGroup: store every assignment, hand them out and
    /// become Stable. Members the leader left out get empty bytes.
    pub fn complete_sync(&mut self, assignments: Vec<(String, Bytes)>) {
        let mut assignments: BTreeMap<String, Bytes> = assignments.into_iter().collect();
        for m in self.members.values_mut() {
            m.assignment = assignments.remove(&m.id).unwrap_or_default();
            if let Some(tx) = m.sync_waiter.take() {
                let _ = tx.send(Ok(m.assignment.clone()));
            }
        }
        if !assignments.is_empty() {
            tracing::warn!(group = %self.id, unknown = ?assignments.keys().collect::<Vec<_>>(),
                "leader assigned partitions to members that are not in the group; ignored");
        }
        self.sync_deadline = None;
        self.transition(GroupState::Stable);
        tracing::info!(group = %self.id, generation = self.generation_id, "group stable");
    }

    /// Time-driven transitions: expired sessions, an expired join phase or
    /// initial delay, and an expired sync phase.
    pub fn tick(&mut self, now: Instant) {
        let expired: Vec<String> =
            self.members.values().filter(|m| m.session_expired(now)).map(|m| m.id.clone()).collect();
        for id in expired {
            self.remove_member(&id, now, "session timed out");
        }
        match self.state {
            GroupState::PreparingRebalance => {
                if self.join_deadline.is_some_and(|d| now >= d) {
                    self.complete_join(now);
                } else {
                    if self.initial_delay.is_some_and(|d| now >= d.until) {
                        self.initial_delay = None;
                    }
                    self.maybe_complete_join(now);
                }
            }
            GroupState::CompletingRebalance if self.sync_deadline.is_some_and(|d| now >= d) => {
                let missing: Vec<String> =
                    self.members.values().filter(|m| m.sync_waiter.is_none()).map(|m| m.id.clone()).collect();
                for id in missing {
                    self.detach_member(&id, GroupErrorCode::UnknownMemberId, "did not sync before the rebalance timeout");
                }
                self.prepare_rebalance(now, Duration::ZERO, "sync phase timed out");
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::GroupState::*;
    use super::*;

    #[test]
    fn transitions_follow_kafka() {
        let all = [Empty, PreparingRebalance, CompletingRebalance, Stable, Dead];
        let allowed: Vec<(GroupState, GroupState)> = all
            .iter()
            .flat_map(|&a| all.iter().map(move |&b| (a, b)))
            .filter(|&(a, b)| a.can_transition_to(b))
            .filter(|&(_, b)| b != Dead)
            .collect();
        assert_eq!(
            allowed,
            vec![
                (Empty, PreparingRebalance),
                (PreparingRebalance, Empty),
                (PreparingRebalance, CompletingRebalance),
                (CompletingRebalance, PreparingRebalance),
                (CompletingRebalance, Stable),
                (Stable, PreparingRebalance),
            ]
        );
        assert!(all.iter().all(|s| s.can_transition_to(Dead)));
        assert_eq!(CompletingRebalance.to_string(), "CompletingRebalance");
    }

    fn member(id: &str, protocols: &[&str], now: Instant) -> Member {
        Member {
            id: id.into(),
            instance_id: None,
            client_id: "c".into(),
            session_timeout: Duration::from_secs(10),
            rebalance_timeout: Duration::from_secs(30),
            protocols: protocols.iter().map(|p| (p.to_string(), Bytes::from(p.to_string()))).collect(),
            assignment: Bytes::new(),
            last_heartbeat: now,
            join_waiter: None,
            sync_waiter: None,
        }
    }

    #[test]
    fn protocol_vote_prefers_common_and_popular() {
        let now = Instant::now();
        let mut g = Group::new("g");
        g.add_member(member("a", &["range", "sticky"], now), "consumer");
        g.add_member(member("b", &["sticky", "range"], now), "consumer");
        g.add_member(member("c", &["sticky", "range", "rr"], now), "consumer");
        assert_eq!(g.select_protocol(), "sticky");
        assert!(g.supports_protocols("consumer", &[("range".into(), Bytes::new())], "x"));
        assert!(!g.supports_protocols("consumer", &[("rr".into(), Bytes::new())], "x"));
        assert!(!g.supports_protocols("connect", &[("range".into(), Bytes::new())], "x"));
        // A tie goes to the leader's preference.
        let mut g = Group::new("g");
        g.add_member(member("a", &["range", "sticky"], now), "consumer");
        g.add_member(member("b", &["sticky", "range"], now), "consumer");
        assert_eq!(g.select_protocol(), "range");
    }
}
