//! Consumer groups over the wire: FindCoordinator, JoinGroup, SyncGroup,
//! Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups and
//! ListGroups, each a thin translation onto the log's
//! [`GroupCoordinator`](crate::group::GroupCoordinator). This node is the
//! coordinator of every group (and every transactional id).

use std::time::{Duration, Instant};

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions, OffsetFetchResponseTopic,
    OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    BrokerId, DescribeGroupsRequest, DescribeGroupsResponse, FindCoordinatorRequest, FindCoordinatorResponse,
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse,
    ListGroupsRequest, ListGroupsResponse, OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest,
    OffsetFetchResponse, SyncGroupRequest, SyncGroupResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::{code, error_code, str_bytes, Broker};
use crate::group::{self, OffsetAndMetadata};
use crate::partition::now_ms;
use crate::topic::TopicPartition;

/// Committed offsets of one topic: `(partition, offset if committed)`.
type TopicOffsets = (TopicName, Vec<(i32, Option<OffsetAndMetadata>)>);

fn ms(v: i32) -> Duration {
    Duration::from_millis(v.max(0) as u64)
}

pub(crate) fn find_coordinator(b: &Broker, req: FindCoordinatorRequest, version: i16) -> FindCoordinatorResponse {
    let mut resp = FindCoordinatorResponse::default();
    if version >= 4 {
        resp.coordinators = req
            .coordinator_keys
            .into_iter()
            .map(|key| {
                let mut c = Coordinator::default();
                c.key = key;
                c.node_id = BrokerId(b.node_id);
                c.host = b.host.clone();
                c.port = b.port;
                c
            })
            .collect();
    } else {
        resp.node_id = BrokerId(b.node_id);
        resp.host = b.host.clone();
        resp.port = b.port;
    }
    resp
}

pub(crate) async fn join_group(b: &Broker, req: JoinGroupRequest, client_id: &str, version: i16) -> JoinGroupResponse {
    let mut resp = JoinGroupResponse::default();
    if version >= 7 {
        resp.protocol_type = Some(req.protocol_type.clone());
    }
    let rebalance = if req.rebalance_timeout_ms > 0 { req.rebalance_timeout_ms } else { req.session_timeout_ms };
    let rx = b.log.groups().join_group(
        group::JoinGroupRequest {
            group_id: req.group_id.0.to_string(),
            member_id: req.member_id.to_string(),
            group_instance_id: req.group_instance_id.as_ref().map(|s| s.to_string()),
            client_id: client_id.to_string(),
            session_timeout: ms(req.session_timeout_ms),
            rebalance_timeout: ms(rebalance),
            protocol_type: req.protocol_type.to_string(),
            protocols: req.protocols.into_iter().map(|p| (p.name.to_string(), p.metadata)).collect(),
        },
        Instant::now(),
    );
    match rx.await {
        Ok(Ok(j)) => {
            resp.generation_id = j.generation_id;
            resp.protocol_name = Some(str_bytes(j.protocol_name));
            resp.leader = str_bytes(j.leader);
            resp.member_id = str_bytes(j.member_id);
            resp.members = j
                .members
                .into_iter()
                .map(|(id, instance, metadata)| {
                    let mut m = JoinGroupResponseMember::default();
                    m.member_id = str_bytes(id);
                    if version >= 5 {
                        m.group_instance_id = instance.map(str_bytes);
                    }
                    m.metadata = metadata;
                    m
                })
                .collect();
        }
        Ok(Err(e)) => {
            resp.error_code = error_code(&e);
            resp.generation_id = -1;
            resp.member_id = req.member_id;
        }
        Err(_) => {
            resp.error_code = code::COORDINATOR_NOT_AVAILABLE;
            resp.generation_id = -1;
        }
    }
    resp
}

pub(crate) async fn sync_group(b: &Broker, req: SyncGroupRequest) -> SyncGroupResponse {
    let mut resp = SyncGroupResponse::default();
    resp.protocol_type = req.protocol_type.clone();
    resp.protocol_name = req.protocol_name.clone();
    let assignments = req.assignments.into_iter().map(|a| (a.member_id.to_string(), a.assignment)).collect();
    let rx = b.log.groups().sync_group(&req.group_id.0, &req.member_id, req.generation_id, assignments, Instant::now());
    match rx.await {
        Ok(Ok(assignment)) => resp.assignment = assignment,
        Ok(Err(e)) => resp.error_code = error_code(&e),
        Err(_) => resp.error_code = code::COORDINATOR_NOT_AVAILABLE,
    }
    resp
}

pub(crate) fn heartbeat(b: &Broker, req: HeartbeatRequest) -> HeartbeatResponse {
    let mut resp = HeartbeatResponse::default();
    if let Err(e) = b.log.groups().heartbeat(&req.group_id.0, &req.member_id, req.generation_id, Instant::now()) {
        resp.error_code = error_code(&e);
    }
    resp
}

pub(crate) fn leave_group(b: &Broker, req: LeaveGroupRequest, version: i16) -> LeaveGroupResponse {
    let mut resp = LeaveGroupResponse::default();
    let groups = b.log.groups();
    if version < 3 {
        if let Err(e) = groups.leave_group(&req.group_id.0, &[req.member_id.to_string()], Instant::now()) {
            resp.error_code = error_code(&e);
        }
        return resp;
    }
    for m in req.members {
        let mut mr = MemberResponse::default();
        if let Err(e) = groups.leave_group(&req.group_id.0, &[m.member_id.to_string()], Instant::now()) {
            mr.error_code = error_code(&e);
        }
        mr.member_id = m.member_id;
        mr.group_instance_id = m.group_instance_id;
        resp.members.push(mr);
    }
    resp
}

/// An offset as OffsetCommit and TxnOffsetCommit carry it (a negative leader
/// epoch means "none", a null metadata string means empty).
pub(crate) fn committed(offset: i64, leader_epoch: i32, metadata: Option<&str>, now: i64) -> OffsetAndMetadata {
    let mut o = OffsetAndMetadata::new(offset, now);
    o.leader_epoch = (leader_epoch >= 0).then_some(leader_epoch);
    o.metadata = metadata.unwrap_or("").to_string();
    o
}

pub(crate) fn offset_commit(b: &Broker, req: OffsetCommitRequest) -> OffsetCommitResponse {
    let now = now_ms();
    let mut offsets = Vec::new();
    for t in &req.topics {
        for p in &t.partitions {
            let o = committed(p.committed_offset, p.committed_leader_epoch, p.committed_metadata.as_deref(), now);
            offsets.push((TopicPartition::new(t.name.0.to_string(), p.partition_index), o));
        }
    }
    let result =
        b.log.groups().commit_offsets(&req.group_id.0, &req.member_id, req.generation_id_or_member_epoch, offsets);
    let c = result.as_ref().err().map_or(code::NONE, error_code);
    let mut resp = OffsetCommitResponse::default();
    resp.topics = req
        .topics
        .into_iter()
        .map(|t| {
            let mut tr = OffsetCommitResponseTopic::default();
            tr.partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut pr = OffsetCommitResponsePartition::default();
                    pr.partition_index = p.partition_index;
                    pr.error_code = c;
                    pr
                })
                .collect();
            tr.name = t.name;
            tr.topic_id = t.topic_id;
            tr
        })
        .collect();
    resp
}

/// One group's committed offsets for `topics` (`None` = all of them), as
/// `(topic, [(partition, offset)])`; uncommitted partitions get offset -1.
fn fetch_group(b: &Broker, group: &str, topics: Option<Vec<(TopicName, Vec<i32>)>>) -> Vec<TopicOffsets> {
    let coordinator = b.log.groups();
    match topics {
        None => {
            let mut out: Vec<TopicOffsets> = Vec::new();
            for (tp, o) in coordinator.fetch_offsets(group, None) {
                match out.last_mut() {
                    Some((name, ps)) if name.0.as_str() == tp.topic => ps.push((tp.partition, Some(o))),
                    _ => out.push((TopicName(str_bytes(tp.topic)), vec![(tp.partition, Some(o))])),
                }
            }
            out
        }
        Some(ts) => ts
            .into_iter()
            .map(|(name, parts)| {
                let tps: Vec<TopicPartition> = parts.iter().map(|&p| TopicPartition::new(name.0.to_string(), p)).collect();
                let mut found = coordinator.fetch_offsets(group, Some(&tps));
                let ps = tps.into_iter().map(|tp| (tp.partition, found.remove(&tp))).collect();
                (name, ps)
            })
            .collect(),
    }
}

fn offset_fields(o: &Option<OffsetAndMetadata>, version: i16) -> (i64, i32, Option<StrBytes>) {
    match o {
        Some(o) if version >= 5 => (o.offset, o.leader_epoch.unwrap_or(-1), Some(str_bytes(o.metadata.clone()))),
        Some(o) => (o.offset, -1, Some(str_bytes(o.metadata.clone()))),
        None => (-1, -1, Some(StrBytes::new())),
    }
}

pub(crate) fn offset_fetch(b: &Broker, req: OffsetFetchRequest, version: i16) -> OffsetFetchResponse {
    let mut resp = OffsetFetchResponse::default();
    if version >= 8 {
        for g in req.groups {
            let topics = g.topics.map(|ts| ts.into_iter().map(|t| (t.name, t.partition_indexes)).collect());
            let mut gr = OffsetFetchResponseGroup::default();
            gr.topics = fetch_group(b, &g.group_id.0, topics)
                .into_iter()
                .map(|(name, ps)| {
                    let mut tr = OffsetFetchResponseTopics::default();
                    tr.name = name;
                    tr.partitions = ps
                        .iter()
                        .map(|(p, o)| {
                            let (offset, epoch, metadata) = offset_fields(o, version);
                            let mut pr = OffsetFetchResponsePartitions::default();
                            pr.partition_index = *p;
                            pr.committed_offset = offset;
                            pr.committed_leader_epoch = epoch;
                            pr.metadata = metadata;
                            pr
                        })
                        .collect();
                    tr
                })
                .collect();
            gr.group_id = g.group_id;
            resp.groups.push(gr);
        }
        return resp;
    }
    let topics = req.topics.map(|ts| ts.into_iter().map(|t| (t.name, t.partition_indexes)).collect());
    resp.topics = fetch_group(b, &req.group_id.0, topics)
        .into_iter()
        .map(|(name, ps)| {
            let mut tr = OffsetFetchResponseTopic::default();
            tr.name = name;
            tr.partitions = ps
                .iter()
                .map(|(p, o)| {
                    let (offset, epoch, metadata) = offset_fields(o, version);
                    let mut pr = OffsetFetchResponsePartition::default();
                    pr.partition_index = *p;
                    pr.committed_offset = offset;
                    pr.committed_leader_epoch = epoch;
                    pr.metadata = metadata;
                    pr
                })
                .collect();
            tr
        })
        .collect();
    resp
}

pub(crate) fn describe_groups(b: &Broker, req: DescribeGroupsRequest, version: i16) -> DescribeGroupsResponse {
    let mut resp = DescribeGroupsResponse::default();
    for id in req.groups {
        let mut g = DescribedGroup::default();
        match b.log.groups().describe_group(&id.0) {
            None => g.group_state = StrBytes::from_static_str("Dead"),
            Some(d) => {
                g.group_state = StrBytes::from_static_str(d.state.as_str());
                g.protocol_type = str_bytes(d.protocol_type);
                g.protocol_data = str_bytes(d.protocol.unwrap_or_default());
                g.members = d
                    .members
                    .into_iter()
                    .map(|m| {
                        let mut dm = DescribedGroupMember::default();
                        dm.member_id = str_bytes(m.member_id);
                        if version >= 4 {
                            dm.group_instance_id = m.group_instance_id.map(str_bytes);
                        }
                        dm.client_id = str_bytes(m.client_id);
                        dm.client_host = StrBytes::from_static_str("/127.0.0.1");
                        dm.member_metadata = m.metadata;
                        dm.member_assignment = m.assignment;
                        dm
                    })
                    .collect();
            }
        }
        g.group_id = id;
        resp.groups.push(g);
    }
    resp
}

pub(crate) fn list_groups(b: &Broker, req: ListGroupsRequest, version: i16) -> ListGroupsResponse {
    let mut resp = ListGroupsResponse::default();
    let wanted = |state: &str| {
        req.states_filter.is_empty() || req.states_filter.iter().any(|s| s.eq_ignore_ascii_case(state))
    };
    resp.groups = b
        .log
        .groups()
        .list_groups()
        .into_iter()
        .filter(|(_, _, state)| wanted(state.as_str()))
        .map(|(id, protocol_type, state)| {
            let mut g = ListedGroup::default();
            g.group_id = kafka_protocol::messages::GroupId(str_bytes(id));
            g.protocol_type = str_bytes(protocol_type);
            if version >= 4 {
                g.group_state = StrBytes::from_static_str(state.as_str());
            }
            if version >= 5 {
                g.group_type = StrBytes::from_static_str("classic");
            }
            g
        })
        .collect();
    resp
}

