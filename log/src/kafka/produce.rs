//! Produce: each partition's records are RecordBatch v2 bytes that the log
//! validates (CRC, structure, record count, idempotence sequence) and stores
//! unchanged apart from the assigned base offset. Every codec the log can
//! decode (none, gzip, snappy, lz4, zstd) is accepted.
//!
//! acks 0, 1 and -1 behave the same on one node: the append is acknowledged
//! once the log's durability level holds (for acks=0 nothing is sent back).
//!
//! A transactional batch is verified with the transaction coordinator
//! before it is appended (KIP-890 part 1, see `crate::txn`): its producer
//! must own the request's transactional id and the partition must have been
//! added to the open transaction, or the partition is refused with
//! INVALID_TXN_STATE.

use bytes::Bytes;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};

use super::{code, error_code, str_bytes, Broker};
use crate::batch::BatchHeader;
use crate::error::LogError;
use crate::partition::AppendInfo;

pub(crate) fn handle(b: &Broker, req: ProduceRequest, version: i16) -> ProduceResponse {
    let mut resp = ProduceResponse::default();
    let acks_ok = (-1..=1).contains(&req.acks);
    let txn_id = req.transactional_id.as_ref().map(|id| id.0.to_string());
    for topic in req.topic_data {
        let mut tr = TopicProduceResponse::default();
        let name = topic.name.0.to_string();
        for pd in topic.partition_data {
            let mut pr = PartitionProduceResponse::default();
            pr.index = pd.index;
            pr.base_offset = -1;
            pr.log_append_time_ms = -1;
            pr.log_start_offset = -1;
            let result = if acks_ok {
                append(b, &name, pd.index, pd.records.unwrap_or_default(), txn_id.as_deref())
            } else {
                Err((code::INVALID_REQUIRED_ACKS, format!("acks must be -1, 0 or 1, not {}", req.acks)))
            };
            match result {
                Ok((info, start)) => {
                    pr.base_offset = info.base_offset;
                    pr.log_append_time_ms = info.log_append_time.unwrap_or(-1);
                    if version >= 5 {
                        pr.log_start_offset = start;
                    }
                }
                Err((c, msg)) => {
                    tracing::debug!(topic = %name, partition = pd.index, error = %msg, "produce refused");
                    pr.error_code = c;
                    if version >= 8 {
                        pr.error_message = Some(str_bytes(msg));
                    }
                }
            }
            tr.partition_responses.push(pr);
        }
        tr.name = topic.name;
        resp.responses.push(tr);
    }
    resp
}

/// Appends every batch in `records` (clients send one per partition);
/// transactional ones only once the coordinator has verified them against
/// `txn_id`, the request's transactional id.
fn append(
    b: &Broker,
    topic: &str,
    partition: i32,
    records: Bytes,
    txn_id: Option<&str>,
) -> Result<(AppendInfo, i64), (i16, String)> {
    let fail = |e: LogError| (error_code(&e), e.to_string());
    let p = b.log.partition(topic, partition).map_err(fail)?;
    if records.is_empty() {
        return Err((code::CORRUPT_MESSAGE, "the produce request holds no record batch".into()));
    }
    let mut first: Option<AppendInfo> = None;
    let mut pos = 0;
    while pos < records.len() {
        let h = BatchHeader::parse(&records[pos..]).map_err(|reason| fail(LogError::InvalidBatch { reason }))?;
        let end = pos.checked_add(h.total_len()).filter(|&e| e <= records.len()).ok_or_else(|| {
            fail(LogError::InvalidBatch {
                reason: format!("batch of {} bytes runs past the {} bytes sent", h.total_len(), records.len() - pos),
            })
        })?;
        let batch = &records[pos..end];
        let info = if h.is_transactional() {
            let id = txn_id.ok_or_else(|| {
                (
                    code::INVALID_TXN_STATE,
                    "a transactional batch needs the produce request's transactional id".to_string(),
                )
            })?;
            b.log.append_transactional(id, &p, batch, h.producer_id, h.producer_epoch).map_err(fail)?
        } else {
            p.append_batch(batch).map_err(fail)?
        };
        first.get_or_insert(info);
        pos = end;
    }
    let info = first.ok_or((code::CORRUPT_MESSAGE, "no batch".to_string()))?;
    Ok((info, p.log_start_offset()))
}
