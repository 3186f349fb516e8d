//! ListOffsets: earliest (-2), latest (-1) and by timestamp.
//!
//! Latest is the high watermark, or the last stable offset for
//! `read_committed`. A timestamp lookup answers the first offset whose
//! record timestamp is at or after it, or offset -1 when every record is
//! older (Kafka's answer). Max-timestamp (-3) is answered with the offset of
//! the last record.

use kafka_protocol::messages::list_offsets_response::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use super::{error_code, Broker};

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;

pub(crate) fn list_offsets(b: &Broker, req: ListOffsetsRequest) -> ListOffsetsResponse {
    let read_committed = req.isolation_level == 1;
    let mut resp = ListOffsetsResponse::default();
    for t in req.topics {
        let mut tr = ListOffsetsTopicResponse::default();
        for p in t.partitions {
            let mut pr = ListOffsetsPartitionResponse::default();
            pr.partition_index = p.partition_index;
            pr.timestamp = -1;
            pr.offset = -1;
            match b.log.partition(&t.name.0, p.partition_index) {
                Err(e) => pr.error_code = error_code(&e),
                Ok(part) => match p.timestamp {
                    EARLIEST => pr.offset = part.log_start_offset(),
                    LATEST if read_committed => pr.offset = part.last_stable_offset(),
                    LATEST => pr.offset = part.high_watermark(),
                    MAX_TIMESTAMP => pr.offset = (part.high_watermark() - 1).max(part.log_start_offset()),
                    ts => match part.offset_for_timestamp(ts) {
                        Ok(Some((offset, found))) => {
                            pr.offset = offset;
                            pr.timestamp = found;
                        }
                        Ok(None) => {}
                        Err(e) => pr.error_code = error_code(&e),
                    },
                },
            }
            tr.partitions.push(pr);
        }
        tr.name = t.name;
        resp.topics.push(tr);
    }
    resp
}
