//! Fetch: stored batches served as-is, with long polling.
//!
//! A fetch first reads every requested partition. If fewer than `min_bytes`
//! came back and `max_wait_ms` has not passed, it waits (without polling)
//! for an append to any of those partitions and reads again. Record sets are
//! never null: a partition with nothing new gets an empty one. From v13 on
//! topics are named by their ids.
//!
//! A `read_committed` fetch reads only below the last stable offset and
//! lists the aborted transactions overlapping what it returns (producer id
//! and first offset), so the client can drop their batches; the COMMIT and
//! ABORT control batches are returned as stored, as Kafka does.
//!
//! Fetch sessions (KIP-227) are declined: the response's session id is 0,
//! so clients keep sending full fetch requests.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{AbortedTransaction, FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, ProducerId};

use super::{code, error_code, topic_name_by_id, Broker};
use crate::batch::BatchHeader;
use crate::partition::Partition;

/// One partition to read, resolved up front.
struct Wanted {
    topic: usize,
    partition: Result<Arc<Partition>, i16>,
    index: i32,
    offset: i64,
    max_bytes: usize,
}

pub(crate) async fn handle(b: &Broker, req: FetchRequest, version: i16) -> FetchResponse {
    let read_committed = req.isolation_level == 1;
    let mut topics = Vec::new();
    let mut wanted = Vec::new();
    for t in &req.topics {
        let name = if version >= 13 { topic_name_by_id(&b.log, t.topic_id) } else { Some(t.topic.0.to_string()) };
        let missing = if version >= 13 { code::UNKNOWN_TOPIC_ID } else { code::UNKNOWN_TOPIC_OR_PARTITION };
        let mut tr = FetchableTopicResponse::default();
        tr.topic = t.topic.clone();
        tr.topic_id = t.topic_id;
        topics.push(tr);
        for p in &t.partitions {
            let partition = match &name {
                Some(n) => b.log.partition(n, p.partition).map_err(|e| error_code(&e)),
                None => Err(missing),
            };
            wanted.push(Wanted {
                topic: topics.len() - 1,
                partition,
                index: p.partition,
                offset: p.fetch_offset,
                max_bytes: p.partition_max_bytes.max(0) as usize,
            });
        }
    }
    let deadline = Instant::now() + Duration::from_millis(req.max_wait_ms.max(0) as u64);
    let min_bytes = req.min_bytes.max(0) as usize;
    let max_bytes = if req.max_bytes <= 0 { usize::MAX } else { req.max_bytes as usize };
    let parts = loop {
        let (parts, total, any_error) = read_all(&wanted, max_bytes, read_committed, version);
        if total >= min_bytes.max(1) || any_error || Instant::now() >= deadline {
            break parts;
        }
        wait_for_data(&wanted, deadline).await;
        if Instant::now() >= deadline {
            break read_all(&wanted, max_bytes, read_committed, version).0;
        }
    };
    for (w, pd) in wanted.iter().zip(parts) {
        topics[w.topic].partitions.push(pd);
    }
    let mut resp = FetchResponse::default();
    resp.session_id = 0;
    resp.responses = topics;
    resp
}

/// Reads every partition; returns the answers, the bytes read and whether
/// any partition failed (errors are answered at once, as Kafka does).
fn read_all(wanted: &[Wanted], max_bytes: usize, read_committed: bool, version: i16) -> (Vec<PartitionData>, usize, bool) {
    let mut left = max_bytes;
    let mut total = 0;
    let mut any_error = false;
    let parts = wanted
        .iter()
        .map(|w| {
            let mut pd = PartitionData::default();
            pd.partition_index = w.index;
            pd.preferred_read_replica = BrokerId(-1);
            pd.records = Some(Bytes::new());
            pd.aborted_transactions = read_committed.then(Vec::new);
            let p = match &w.partition {
                Ok(p) => p,
                Err(c) => {
                    pd.error_code = *c;
                    pd.high_watermark = -1;
                    pd.last_stable_offset = -1;
                    pd.log_start_offset = -1;
                    any_error = true;
                    return pd;
                }
            };
            pd.high_watermark = p.high_watermark();
            pd.last_stable_offset = p.last_stable_offset();
            if version >= 5 {
                pd.log_start_offset = p.log_start_offset();
            }
            // The first partition with data returns at least one batch even
            // past the limits (Kafka's KIP-74 rule); later ones respect them.
            let budget = w.max_bytes.min(left);
            if budget == 0 && total > 0 {
                return pd;
            }
            let read = if read_committed { p.read_committed(w.offset, budget.max(1)) } else { p.read(w.offset, budget.max(1)) };
            match read {
                Ok(f) => {
                    pd.high_watermark = f.high_watermark;
                    if read_committed {
                        let end = f.batches().filter_map(|b| BatchHeader::parse(&b).ok()).map(|h| h.next_offset()).last();
                        if let Some(end) = end {
                            pd.aborted_transactions = Some(
                                p.aborted_transactions(w.offset, end)
                                    .into_iter()
                                    .map(|a| {
                                        let mut t = AbortedTransaction::default();
                                        t.producer_id = ProducerId(a.producer_id);
                                        t.first_offset = a.first_offset;
                                        t
                                    })
                                    .collect(),
                            );
                        }
                    }
                    if version >= 5 {
                        pd.log_start_offset = f.log_start_offset;
                    }
                    total += f.bytes.len();
                    left = left.saturating_sub(f.bytes.len());
                    pd.records = Some(f.bytes);
                }
                Err(e) => {
                    pd.error_code = error_code(&e);
                    any_error = true;
                }
            }
            pd
        })
        .collect();
    (parts, total, any_error)
}

/// Waits until any wanted partition gets data past its fetch offset, or the
/// deadline.
///
/// The partitions' append notifications are polled together in this task:
/// no task is spawned per partition, so a long poll costs no scheduling
/// work beyond the wake-up an append sends.
async fn wait_for_data(wanted: &[Wanted], deadline: Instant) {
    let mut waits: Vec<Pin<Box<dyn Future<Output = ()> + Send + '_>>> = wanted
        .iter()
        .filter_map(|w| {
            let p = w.partition.as_ref().ok()?;
            // Wait for data past what is there now (not merely past the
            // fetch offset), or a min_bytes wait would spin.
            let offset = w.offset.max(p.high_watermark());
            Some(Box::pin(p.wait_for_async(offset)) as Pin<Box<dyn Future<Output = ()> + Send + '_>>)
        })
        .collect();
    if waits.is_empty() {
        tokio::time::sleep_until(deadline.into()).await;
        return;
    }
    let before: Vec<i64> = wanted.iter().filter_map(|w| w.partition.as_ref().ok()).map(|p| p.high_watermark()).collect();
    let any = std::future::poll_fn(|cx| {
        if waits.iter_mut().any(|w| w.as_mut().poll(cx).is_ready()) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    });
    let _ = tokio::time::timeout_at(deadline.into(), any).await;
    let after = wanted.iter().filter_map(|w| w.partition.as_ref().ok()).map(|p| p.high_watermark());
    if after.eq(before) {
        // Woken by a closing (deleted) partition, not by data: do not spin.
        tokio::time::sleep_until((Instant::now() + Duration::from_millis(10)).min(deadline).into()).await;
    }
}
