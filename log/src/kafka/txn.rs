//! Producer ids and transactions: InitProducerId, AddPartitionsToTxn,
//! AddOffsetsToTxn, TxnOffsetCommit and EndTxn, answered by the log's
//! transaction coordinator (`crate::txn`). This node is the coordinator of
//! every transactional id (FindCoordinator with key type 1 names it).
//!
//! AddPartitionsToTxn is offered up to v3, the last version clients send
//! (v4+ is KIP-890's broker-to-broker verification, which this node does
//! in-process: see `crate::txn`); EndTxn, AddOffsetsToTxn and
//! TxnOffsetCommit stop before KIP-890 part 2's epoch-per-transaction
//! versions.

use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest, AddPartitionsToTxnResponse,
    EndTxnRequest, EndTxnResponse, InitProducerIdRequest, InitProducerIdResponse, ProducerId, TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
};

use super::{code, error_code, Broker};
use super::groups::committed;
use crate::partition::now_ms;
use crate::topic::TopicPartition;

/// A fresh producer id at epoch 0 (idempotent producers), or the
/// transactional id's producer id with a bumped epoch.
pub(crate) fn init_producer_id(b: &Broker, req: InitProducerIdRequest) -> InitProducerIdResponse {
    let mut resp = InitProducerIdResponse::default();
    resp.producer_id = ProducerId(-1);
    resp.producer_epoch = -1;
    let result = match req.transactional_id.as_ref().filter(|id| !id.0.is_empty()) {
        Some(id) => {
            let expected = (req.producer_id.0 >= 0).then_some((req.producer_id.0, req.producer_epoch));
            b.log.init_transactional_producer(&id.0, req.transaction_timeout_ms, expected)
        }
        None => b.log.init_producer_id(),
    };
    match result {
        Ok((id, epoch)) => {
            resp.producer_id = ProducerId(id);
            resp.producer_epoch = epoch;
        }
        Err(e) => resp.error_code = error_code(&e),
    }
    resp
}

/// AddPartitionsToTxn v0-3: one transaction per request. Unknown partitions
/// fail the whole request (the others get OPERATION_NOT_ATTEMPTED), as in
/// Kafka.
pub(crate) fn add_partitions_to_txn(b: &Broker, req: AddPartitionsToTxnRequest) -> AddPartitionsToTxnResponse {
    let id = req.v3_and_below_transactional_id.0.to_string();
    let mut wanted = Vec::new();
    let mut unknown = false;
    for t in &req.v3_and_below_topics {
        for &p in &t.partitions {
            let exists = b.log.partition(&t.name.0, p).is_ok();
            unknown |= !exists;
            wanted.push((t.name.clone(), p, exists));
        }
    }
    let result = if unknown {
        Err(None)
    } else {
        let tps = wanted.iter().map(|(t, p, _)| TopicPartition::new(t.0.to_string(), *p));
        b.log
            .add_partitions_to_txn(&id, req.v3_and_below_producer_id.0, req.v3_and_below_producer_epoch, tps)
            .map_err(|e| Some(error_code(&e)))
    };
    let mut resp = AddPartitionsToTxnResponse::default();
    for (name, partition, exists) in wanted {
        let c = match &result {
            Ok(()) => code::NONE,
            Err(Some(c)) => *c,
            Err(None) if exists => code::OPERATION_NOT_ATTEMPTED,
            Err(None) => code::UNKNOWN_TOPIC_OR_PARTITION,
        };
        let mut pr = AddPartitionsToTxnPartitionResult::default();
        pr.partition_index = partition;
        pr.partition_error_code = c;
        match resp.results_by_topic_v3_and_below.iter_mut().find(|t| t.name == name) {
            Some(t) => t.results_by_partition.push(pr),
            None => {
                let mut tr = AddPartitionsToTxnTopicResult::default();
                tr.name = name;
                tr.results_by_partition.push(pr);
                resp.results_by_topic_v3_and_below.push(tr);
            }
        }
    }
    resp
}

pub(crate) fn add_offsets_to_txn(b: &Broker, req: AddOffsetsToTxnRequest) -> AddOffsetsToTxnResponse {
    let mut resp = AddOffsetsToTxnResponse::default();
    let r = b.log.add_offsets_to_txn(&req.transactional_id.0, req.producer_id.0, req.producer_epoch, &req.group_id.0);
    resp.error_code = r.err().map_or(code::NONE, |e| error_code(&e));
    resp
}

/// Offsets are held by the transaction and committed by EndTxn(commit).
pub(crate) fn txn_offset_commit(b: &Broker, req: TxnOffsetCommitRequest) -> TxnOffsetCommitResponse {
    let now = now_ms();
    let mut offsets = Vec::new();
    for t in &req.topics {
        for p in &t.partitions {
            let o = committed(p.committed_offset, p.committed_leader_epoch, p.committed_metadata.as_deref(), now);
            offsets.push((TopicPartition::new(t.name.0.to_string(), p.partition_index), o));
        }
    }
    let r = b.log.txn_offset_commit(&req.transactional_id.0, req.producer_id.0, req.producer_epoch, &req.group_id.0, offsets);
    let c = r.err().map_or(code::NONE, |e| error_code(&e));
    let mut resp = TxnOffsetCommitResponse::default();
    for t in req.topics {
        let mut tr = TxnOffsetCommitResponseTopic::default();
        tr.partitions = t
            .partitions
            .iter()
            .map(|p| {
                let mut pr = TxnOffsetCommitResponsePartition::default();
                pr.partition_index = p.partition_index;
                pr.error_code = c;
                pr
            })
            .collect();
        tr.name = t.name;
        resp.topics.push(tr);
    }
    resp
}

pub(crate) fn end_txn(b: &Broker, req: EndTxnRequest) -> EndTxnResponse {
    let mut resp = EndTxnResponse::default();
    resp.producer_id = ProducerId(-1);
    resp.producer_epoch = -1;
    let r = b.log.end_txn(&req.transactional_id.0, req.producer_id.0, req.producer_epoch, req.committed);
    if let Err(e) = &r {
        tracing::debug!(error = %e, "EndTxn refused");
    }
    resp.error_code = r.err().map_or(code::NONE, |e| error_code(&e));
    resp
}
