//! Tests of the coordinator, driven with hand-made time.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use tokio::sync::oneshot::error::TryRecvError;

use super::*;
use crate::group::assignor::{CooperativeStickyAssignor, PartitionAssignor, RangeAssignor};
use crate::group::offsets::MemoryOffsetStorage;
use crate::group::protocol::{ConsumerAssignment, ConsumerSubscription};

const SESSION: Duration = Duration::from_secs(10);
const REBALANCE: Duration = Duration::from_secs(30);

fn setup() -> (GroupCoordinator, Arc<MemoryOffsetStorage>, Instant) {
    let storage = Arc::new(MemoryOffsetStorage::default());
    let config = CoordinatorConfig { initial_rebalance_delay: Duration::ZERO, ..Default::default() };
    (GroupCoordinator::new(config, storage.clone()), storage, Instant::now())
}

fn request(member_id: &str, protocols: Vec<(String, Bytes)>) -> JoinGroupRequest {
    JoinGroupRequest {
        group_id: "g".into(),
        member_id: member_id.into(),
        group_instance_id: None,
        client_id: "client".into(),
        session_timeout: SESSION,
        rebalance_timeout: REBALANCE,
        protocol_type: "consumer".into(),
        protocols,
    }
}

fn join(c: &GroupCoordinator, member_id: &str, now: Instant) -> oneshot::Receiver<Result<JoinGroupResponse>> {
    c.join_group(request(member_id, vec![("range".into(), Bytes::from_static(b"meta"))]), now)
}

fn ready<T: std::fmt::Debug>(rx: &mut oneshot::Receiver<Result<T>>) -> T {
    match rx.try_recv() {
        Ok(r) => r.unwrap(),
        Err(e) => panic!("not answered: {e:?}"),
    }
}

fn pending<T: std::fmt::Debug>(rx: &mut oneshot::Receiver<Result<T>>) {
    assert_eq!(rx.try_recv().unwrap_err(), TryRecvError::Empty);
}

fn code<T: std::fmt::Debug>(r: Result<T>) -> GroupErrorCode {
    match r {
        Err(LogError::Group { code, .. }) => code,
        other => panic!("expected a group error, got {other:?}"),
    }
}

fn failed<T: std::fmt::Debug>(rx: &mut oneshot::Receiver<Result<T>>) -> GroupErrorCode {
    code(rx.try_recv().expect("answered"))
}

fn state(c: &GroupCoordinator) -> GroupState {
    c.describe_group("g").unwrap().state
}

/// Joins one member and syncs it: a Stable group of one.
fn stable_single(c: &GroupCoordinator, now: Instant) -> JoinGroupResponse {
    let a = ready(&mut join(c, "", now));
    ready(&mut c.sync_group("g", &a.member_id, a.generation_id, vec![(a.member_id.clone(), "A".into())], now));
    a
}

#[test]
fn single_member_join_sync_heartbeat_stable() {
    let (c, _, t0) = setup();
    let a = ready(&mut join(&c, "", t0));
    assert!(a.member_id.starts_with("client-"), "{}", a.member_id);
    assert_eq!(a.member_id.len(), "client-".len() + 36);
    assert_eq!((a.generation_id, a.protocol_name.as_str()), (1, "range"));
    assert_eq!(a.leader, a.member_id);
    assert_eq!(a.members, vec![(a.member_id.clone(), None, Bytes::from_static(b"meta"))]);
    assert_eq!(state(&c), GroupState::CompletingRebalance);

    let got = ready(&mut c.sync_group("g", &a.member_id, 1, vec![(a.member_id.clone(), "mine".into())], t0));
    assert_eq!(got, "mine");
    assert_eq!(state(&c), GroupState::Stable);
    c.heartbeat("g", &a.member_id, 1, t0 + Duration::from_secs(5)).unwrap();
    c.tick(t0 + Duration::from_secs(12)); // 7 s after the last heartbeat
    assert_eq!(state(&c), GroupState::Stable);

    let d = c.describe_group("g").unwrap();
    assert_eq!((d.protocol_type.as_str(), d.protocol.as_deref(), d.generation_id), ("consumer", Some("range"), 1));
    assert_eq!(d.members[0].assignment, "mine");
    assert_eq!(d.members[0].metadata, "meta");
    assert_eq!(c.list_groups(), vec![("g".into(), "consumer".into(), GroupState::Stable)]);
    // A stable member syncing again gets its assignment back.
    assert_eq!(ready(&mut c.sync_group("g", &a.member_id, 1, vec![], t0)), "mine");
}

#[test]
fn two_members_get_assignments_from_the_leader() {
    let (c, _, t0) = setup();
    let a = stable_single(&c, t0);
    let mut b_rx = join(&c, "", t0);
    pending(&mut b_rx);
    assert_eq!(code(c.heartbeat("g", &a.member_id, 1, t0)), GroupErrorCode::RebalanceInProgress);
    let a2 = ready(&mut join(&c, &a.member_id, t0));
    let b = ready(&mut b_rx);
    assert_eq!((a2.generation_id, b.generation_id), (2, 2));
    assert_eq!(a2.leader, a.member_id, "the leader stays leader");
    assert_eq!(a2.members.len(), 2);
    assert!(b.members.is_empty(), "followers do not get the member list");

    let mut b_sync = c.sync_group("g", &b.member_id, 2, vec![], t0);
    pending(&mut b_sync);
    assert_eq!(state(&c), GroupState::CompletingRebalance);
    let assignments = vec![(a.member_id.clone(), "for-a".into()), (b.member_id.clone(), "for-b".into())];
    assert_eq!(ready(&mut c.sync_group("g", &a.member_id, 2, assignments, t0)), "for-a");
    assert_eq!(ready(&mut b_sync), "for-b");
    assert_eq!(state(&c), GroupState::Stable);
    c.heartbeat("g", &b.member_id, 2, t0).unwrap();
}

#[test]
fn third_member_makes_heartbeats_answer_rebalance_in_progress() {
    let (c, _, t0) = setup();
    let a = stable_single(&c, t0);
    let mut b_rx = join(&c, "", t0);
    let a = ready(&mut join(&c, &a.member_id, t0));
    let b = ready(&mut b_rx);
    ready(&mut c.sync_group("g", &a.member_id, 2, vec![], t0));
    ready(&mut c.sync_group("g", &b.member_id, 2, vec![], t0));

    let mut c_rx = join(&c, "", t0);
    assert_eq!(state(&c), GroupState::PreparingRebalance);
    for m in [&a.member_id, &b.member_id] {
        assert_eq!(code(c.heartbeat("g", m, 2, t0)), GroupErrorCode::RebalanceInProgress);
    }
    assert_eq!(failed(&mut c.sync_group("g", &a.member_id, 2, vec![], t0)), GroupErrorCode::RebalanceInProgress);
    let mut a_rx = join(&c, &a.member_id, t0);
    pending(&mut a_rx);
    let mut b_rx = join(&c, &b.member_id, t0);
    let (a3, b3, c3) = (ready(&mut a_rx), ready(&mut b_rx), ready(&mut c_rx));
    assert_eq!([a3.generation_id, b3.generation_id, c3.generation_id], [3, 3, 3]);
    assert_eq!(code(c.heartbeat("g", &a.member_id, 2, t0)), GroupErrorCode::IllegalGeneration);
    assert_eq!(code(c.heartbeat("g", "nobody", 3, t0)), GroupErrorCode::UnknownMemberId);
}

#[test]
fn expired_session_removes_member_and_others_rebalance() {
    let (c, _, t0) = setup();
    let a = stable_single(&c, t0);
    let mut b_rx = join(&c, "", t0);
    let a = ready(&mut join(&c, &a.member_id, t0));
    let b = ready(&mut b_rx);
    ready(&mut c.sync_group("g", &a.member_id, 2, vec![], t0));
    ready(&mut c.sync_group("g", &b.member_id, 2, vec![], t0));

    // a keeps heartbeating, b goes silent.
    let t = |s| t0 + Duration::from_secs(s);
    c.heartbeat("g", &a.member_id, 2, t(6)).unwrap();
    c.tick(t(9));
    assert_eq!(state(&c), GroupState::Stable);
    c.tick(t(10));
    assert_eq!(state(&c), GroupState::PreparingRebalance);
    assert_eq!(code(c.heartbeat("g", &b.member_id, 2, t(10))), GroupErrorCode::UnknownMemberId);
    assert_eq!(code(c.heartbeat("g", &a.member_id, 2, t(10))), GroupErrorCode::RebalanceInProgress);
    let a3 = ready(&mut join(&c, &a.member_id, t(10)));
    assert_eq!((a3.generation_id, a3.members.len()), (3, 1));
}

#[test]
fn leave_group_rebalances_and_last_leave_empties() {
    let (c, _, t0) = setup();
    let a = stable_single(&c, t0);
    let mut b_rx = join(&c, "", t0);
    ready(&mut join(&c, &a.member_id, t0));
    let b = ready(&mut b_rx);
    ready(&mut c.sync_group("g", &a.member_id, 2, vec![], t0));

    c.leave_group("g", std::slice::from_ref(&b.member_id), t0).unwrap();
    assert_eq!(state(&c), GroupState::PreparingRebalance);
    let a3 = ready(&mut join(&c, &a.member_id, t0));
    assert_eq!(a3.members.len(), 1);
    assert_eq!(code(c.leave_group("g", &["ghost".into()], t0)), GroupErrorCode::UnknownMemberId);

    c.leave_group("g", std::slice::from_ref(&a.member_id), t0).unwrap();
    let d = c.describe_group("g").unwrap();
    assert_eq!((d.state, d.members.len(), d.generation_id), (GroupState::Empty, 0, 4));
    // An Empty group without offsets is forgotten on the next tick.
    c.tick(t0);
    assert!(c.describe_group("g").is_none());
}

#[test]
fn rebalance_timeout_removes_member_that_did_not_rejoin() {
    let (c, _, t0) = setup();
    let a = stable_single(&c, t0);
    let mut b_rx = join(&c, "", t0);
    ready(&mut join(&c, &a.member_id, t0));
    let b = ready(&mut b_rx);
    ready(&mut c.sync_group("g", &a.member_id, 2, vec![], t0));
    ready(&mut c.sync_group("g", &b.member_id, 2, vec![], t0));

    // b rejoins; a keeps heartbeating (so its session lives) but never rejoins.
    let mut b_rx = join(&c, &b.member_id, t0);
    let t = |s| t0 + Duration::from_secs(s);
    for s in (5..30).step_by(5) {
        assert_eq!(code(c.heartbeat("g", &a.member_id, 2, t(s))), GroupErrorCode::RebalanceInProgress);
        c.tick(t(s));
        pending(&mut b_rx);
    }
    c.tick(t(30));
    let b3 = ready(&mut b_rx);
    assert_eq!((b3.generation_id, b3.leader.as_str(), b3.members.len()), (3, b.member_id.as_str(), 1));
    assert_eq!(code(c.heartbeat("g", &a.member_id, 2, t(31))), GroupErrorCode::UnknownMemberId);
}

#[test]
fn sync_timeout_fails_waiting_followers() {
    let (c, _, t0) = setup();
    let a = stable_single(&c, t0);
    let mut b_rx = join(&c, "", t0);
    ready(&mut join(&c, &a.member_id, t0));
    let b = ready(&mut b_rx);
    let mut b_sync = c.sync_group("g", &b.member_id, 2, vec![], t0);
    c.tick(t0 + REBALANCE); // the leader never syncs
    assert_eq!(failed(&mut b_sync), GroupErrorCode::RebalanceInProgress);
    assert_eq!(code(c.heartbeat("g", &a.member_id, 2, t0 + REBALANCE)), GroupErrorCode::UnknownMemberId);
    let b3 = ready(&mut join(&c, &b.member_id, t0 + REBALANCE));
    assert_eq!((b3.generation_id, b3.leader), (3, b.member_id));
}

#[test]
fn initial_delay_gathers_members_into_one_generation() {
    let storage = Arc::new(MemoryOffsetStorage::default());
    let config = CoordinatorConfig { initial_rebalance_delay: Duration::from_secs(3), ..Default::default() };
    let c = GroupCoordinator::new(config, storage);
    let t0 = Instant::now();
    let mut a = join(&c, "", t0);
    c.tick(t0 + Duration::from_secs(2));
    let mut b = join(&c, "", t0 + Duration::from_secs(2));
    c.tick(t0 + Duration::from_secs(4));
    pending(&mut a); // extended to t0 + 5 s by b
    c.tick(t0 + Duration::from_secs(5));
    assert_eq!((ready(&mut a).generation_id, ready(&mut b).generation_id), (1, 1));
}

#[test]
fn join_validation() {
    let (c, _, t0) = setup();
    let mut r = request("", vec![("range".into(), Bytes::new())]);
    r.session_timeout = Duration::from_secs(1);
    assert_eq!(failed(&mut c.join_group(r, t0)), GroupErrorCode::InvalidSessionTimeout);
    assert_eq!(failed(&mut c.join_group(request("", vec![]), t0)), GroupErrorCode::InconsistentGroupProtocol);
    stable_single(&c, t0);
    let mut other = request("", vec![("roundrobin".into(), Bytes::new())]);
    assert_eq!(failed(&mut c.join_group(other.clone(), t0)), GroupErrorCode::InconsistentGroupProtocol);
    other.protocol_type = "connect".into();
    other.protocols = vec![("range".into(), Bytes::new())];
    assert_eq!(failed(&mut c.join_group(other, t0)), GroupErrorCode::InconsistentGroupProtocol);
    assert_eq!(failed(&mut join(&c, "ghost", t0)), GroupErrorCode::UnknownMemberId);
    assert_eq!(failed(&mut c.sync_group("nope", "x", 1, vec![], t0)), GroupErrorCode::UnknownMemberId);
    assert_eq!(state(&c), GroupState::Stable, "rejected joins do not disturb the group");
}

#[test]
fn max_group_size_is_enforced() {
    let config = CoordinatorConfig { initial_rebalance_delay: Duration::ZERO, max_group_size: 1, ..Default::default() };
    let c = GroupCoordinator::new(config, Arc::new(MemoryOffsetStorage::default()));
    let t0 = Instant::now();
    stable_single(&c, t0);
    assert_eq!(failed(&mut join(&c, "", t0)), GroupErrorCode::GroupMaxSizeReached);
}

#[test]
fn static_member_restart_replaces_old_id() {
    let (c, _, t0) = setup();
    let mut r = request("", vec![("range".into(), Bytes::new())]);
    r.group_instance_id = Some("host-1".into());
    let first = ready(&mut c.join_group(r.clone(), t0));
    let second = ready(&mut c.join_group(r, t0));
    assert_ne!(first.member_id, second.member_id);
    let d = c.describe_group("g").unwrap();
    assert_eq!(d.members.len(), 1);
    assert_eq!(d.members[0].group_instance_id.as_deref(), Some("host-1"));
    assert_eq!(code(c.heartbeat("g", &first.member_id, second.generation_id, t0)), GroupErrorCode::UnknownMemberId);
}

fn offset(o: i64) -> OffsetAndMetadata {
    OffsetAndMetadata { offset: o, leader_epoch: Some(3), metadata: format!("m{o}"), commit_timestamp_ms: 1000 + o }
}

#[test]
fn commit_checks_member_and_generation() {
    let (c, _, t0) = setup();
    let tp = TopicPartition::new("t", 0);
    assert_eq!(code(c.commit_offsets("g", "x", 1, vec![(tp.clone(), offset(1))])), GroupErrorCode::IllegalGeneration);
    let a = ready(&mut join(&c, "", t0));
    assert_eq!(
        code(c.commit_offsets("g", &a.member_id, 1, vec![(tp.clone(), offset(1))])),
        GroupErrorCode::RebalanceInProgress,
        "CompletingRebalance"
    );
    ready(&mut c.sync_group("g", &a.member_id, 1, vec![], t0));
    assert_eq!(code(c.commit_offsets("g", &a.member_id, 7, vec![(tp.clone(), offset(1))])), GroupErrorCode::IllegalGeneration);
    assert_eq!(code(c.commit_offsets("g", "ghost", 1, vec![(tp.clone(), offset(1))])), GroupErrorCode::UnknownMemberId);
    assert_eq!(code(c.commit_offsets("g", "", -1, vec![(tp.clone(), offset(1))])), GroupErrorCode::UnknownMemberId);
    assert!(c.fetch_offsets("g", None).is_empty());
    c.commit_offsets("g", &a.member_id, 1, vec![(tp.clone(), offset(5))]).unwrap();
    assert_eq!(c.fetch_offsets("g", Some(&[tp.clone(), TopicPartition::new("t", 1)])), BTreeMap::from([(tp, offset(5))]));
}

#[test]
fn simple_commit_creates_an_empty_group() {
    let (c, _, _) = setup();
    let tp = TopicPartition::new("t", 2);
    c.commit_offsets("manual", "", -1, vec![(tp.clone(), offset(9))]).unwrap();
    assert_eq!(c.fetch_offsets("manual", None)[&tp], offset(9));
    assert_eq!(c.list_groups(), vec![("manual".into(), String::new(), GroupState::Empty)]);
    c.tick(Instant::now());
    assert!(c.describe_group("manual").is_some(), "groups with offsets are kept");
}

#[test]
fn failed_append_leaves_offsets_invisible() {
    let (c, storage, _) = setup();
    let tp = TopicPartition::new("t", 0);
    storage.set_failing(true);
    assert!(matches!(c.commit_offsets("g", "", -1, vec![(tp.clone(), offset(1))]), Err(LogError::Io { .. })));
    assert!(c.fetch_offsets("g", None).is_empty());
    storage.set_failing(false);
    c.commit_offsets("g", "", -1, vec![(tp.clone(), offset(2))]).unwrap();
    assert_eq!(c.fetch_offsets("g", None)[&tp], offset(2));
}

#[test]
fn offsets_survive_load_of_what_storage_recorded() {
    let (c, storage, t0) = setup();
    let a = stable_single(&c, t0);
    let (t0p0, t0p1) = (TopicPartition::new("t", 0), TopicPartition::new("t", 1));
    c.commit_offsets("g", &a.member_id, 1, vec![(t0p0.clone(), offset(1)), (t0p1.clone(), offset(2))]).unwrap();
    c.commit_offsets("g", &a.member_id, 1, vec![(t0p0.clone(), offset(10))]).unwrap();
    c.commit_offsets("other", "", -1, vec![(t0p0.clone(), offset(4))]).unwrap();
    c.commit_offsets("gone", "", -1, vec![(t0p0.clone(), offset(4))]).unwrap();
    c.delete_group("gone").unwrap();
    assert_eq!(code(c.delete_group("g")), GroupErrorCode::NonEmptyGroup);
    assert_eq!(code(c.delete_group("gone")), GroupErrorCode::GroupIdNotFound);

    let records = storage.records();
    assert_eq!(records.last().map(|r| r.1.is_none()), Some(true), "deletion wrote a tombstone");
    let (restarted, _, _) = setup();
    restarted.load(records.into_iter()).unwrap();
    assert_eq!(restarted.fetch_offsets("g", None), c.fetch_offsets("g", None));
    assert_eq!(restarted.fetch_offsets("g", None)[&t0p0], offset(10));
    assert_eq!(restarted.fetch_offsets("other", None)[&t0p0], offset(4));
    assert!(restarted.describe_group("gone").is_none());
    assert_eq!(restarted.describe_group("g").unwrap().state, GroupState::Empty);
}

#[test]
fn load_skips_unknown_versions_and_names_malformed_records() {
    let (c, _, _) = setup();
    let key = crate::group::offsets::encode_offset_key("g", &TopicPartition::new("t", 0)).unwrap();
    let value = crate::group::offsets::encode_offset_value(&offset(3)).unwrap();
    let records = vec![
        (Bytes::from_static(&[0, 2, 0, 1, b'g']), Some(Bytes::from_static(&[0, 3]))), // group metadata: skipped
        (key.clone(), Some(Bytes::from_static(&[0, 9, 1]))),                          // future value: skipped
        (key.clone(), Some(value)),
    ];
    c.load(records.into_iter()).unwrap();
    assert_eq!(c.fetch_offsets("g", None)[&TopicPartition::new("t", 0)], offset(3));

    let bad = vec![(key.clone(), None), (key.slice(..5), None)];
    match c.load(bad.into_iter()) {
        Err(LogError::InvalidBatch { reason }) => assert!(reason.contains("record #1"), "{reason}"),
        other => panic!("expected InvalidBatch, got {other:?}"),
    }
    assert_eq!(c.fetch_offsets("g", None).len(), 1, "a failed load applies nothing");
}

/// A simulated consumer for the end-to-end tests.
struct Client {
    id: String,
    owned: Vec<TopicPartition>,
    generation: i32,
}

/// One rebalance: every client (re)joins offering `assignor`, the leader
/// assigns with it, everyone syncs. Returns whether any client lost (revoked)
/// a partition it owned.
fn rebalance(c: &GroupCoordinator, clients: &mut [Client], assignor: &dyn PartitionAssignor, topics: &BTreeMap<String, i32>, now: Instant) -> bool {
    // New clients first: a known member rejoining alone would complete the
    // join phase before the newcomers arrive (as in Kafka).
    let mut order: Vec<usize> = (0..clients.len()).collect();
    order.sort_by_key(|&i| !clients[i].id.is_empty());
    let mut rxs: Vec<(usize, oneshot::Receiver<Result<JoinGroupResponse>>)> = Vec::new();
    for i in order {
        let cl = &clients[i];
        let sub = ConsumerSubscription {
            owned_partitions: cl.owned.clone(),
            generation_id: cl.generation,
            ..ConsumerSubscription::new(topics.keys().cloned().collect())
        };
        let protocols = vec![(assignor.name().to_string(), sub.encode(3).unwrap()), ("other".into(), Bytes::new())];
        rxs.push((i, c.join_group(request(&cl.id, protocols), now)));
    }
    rxs.sort_by_key(|(i, _)| *i);
    let responses: Vec<JoinGroupResponse> = rxs.iter_mut().map(|(_, rx)| ready(rx)).collect();
    let leader = responses.iter().find(|r| r.leader == r.member_id).unwrap();
    assert_eq!(leader.protocol_name, assignor.name());
    let subs: BTreeMap<String, ConsumerSubscription> = leader
        .members
        .iter()
        .map(|(id, _, meta)| (id.clone(), ConsumerSubscription::decode(meta).unwrap()))
        .collect();
    let assignments: Vec<(String, Bytes)> = assignor
        .assign(topics, &subs)
        .into_iter()
        .map(|(id, parts)| (id, ConsumerAssignment::new(parts).encode(3).unwrap()))
        .collect();
    let mut syncs: Vec<_> = responses
        .iter()
        .map(|r| {
            let a = if r.member_id == r.leader { assignments.clone() } else { Vec::new() };
            c.sync_group("g", &r.member_id, r.generation_id, a, now)
        })
        .collect();
    let mut revoked = false;
    for ((cl, r), rx) in clients.iter_mut().zip(&responses).zip(&mut syncs) {
        let new = ConsumerAssignment::decode(&ready(rx)).unwrap().partitions;
        revoked |= cl.owned.iter().any(|tp| !new.contains(tp));
        cl.id = r.member_id.clone();
        cl.owned = new;
        cl.generation = r.generation_id;
    }
    // Nobody may own a partition another client still owns.
    let mut seen = BTreeSet::new();
    for tp in clients.iter().flat_map(|cl| &cl.owned) {
        assert!(seen.insert(tp.clone()), "{tp} owned twice");
    }
    revoked
}

fn new_client() -> Client {
    Client { id: String::new(), owned: Vec::new(), generation: -1 }
}

fn check_final(clients: &[Client], total: usize) {
    let counts: Vec<usize> = clients.iter().map(|cl| cl.owned.len()).collect();
    assert_eq!(counts.iter().sum::<usize>(), total, "{counts:?}");
    assert!(counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1, "{counts:?}");
}

#[test]
fn end_to_end_range_assignor() {
    let (c, _, t0) = setup();
    let topics = BTreeMap::from([("clicks".to_string(), 6), ("views".to_string(), 3)]);
    let mut clients = vec![new_client()];
    assert!(!rebalance(&c, &mut clients, &RangeAssignor, &topics, t0));
    assert_eq!(clients[0].owned.len(), 9);
    clients.push(new_client());
    clients.push(new_client());
    rebalance(&c, &mut clients, &RangeAssignor, &topics, t0);
    check_final(&clients, 9);
    assert_eq!(state(&c), GroupState::Stable);
}

#[test]
fn end_to_end_cooperative_sticky_assignor() {
    let (c, _, t0) = setup();
    let topics = BTreeMap::from([("clicks".to_string(), 6), ("views".to_string(), 3)]);
    let mut clients = vec![new_client()];
    rebalance(&c, &mut clients, &CooperativeStickyAssignor, &topics, t0);
    clients.push(new_client());
    clients.push(new_client());
    // Round one: the first client keeps its share and revokes the rest,
    // which nobody gets yet; round two hands them out.
    assert!(rebalance(&c, &mut clients, &CooperativeStickyAssignor, &topics, t0));
    assert_eq!(clients.iter().map(|cl| cl.owned.len()).collect::<Vec<_>>(), [3, 0, 0]);
    let kept = clients[0].owned.clone();
    assert!(!rebalance(&c, &mut clients, &CooperativeStickyAssignor, &topics, t0));
    check_final(&clients, 9);
    assert_eq!(clients[0].owned, kept, "sticky");
    assert_eq!(c.describe_group("g").unwrap().generation_id, 3);
}
