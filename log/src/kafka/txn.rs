//! Producer ids: InitProducerId for idempotent producers.
//!
//! Transactions are not implemented over the wire yet: a request that names
//! a `transactional_id` is refused with `TRANSACTIONAL_ID_AUTHORIZATION_FAILED`,
//! which clients treat as fatal (they fail fast instead of retrying forever).

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::{code, error_code, Broker};

/// Hands out a fresh producer id at epoch 0.
pub(crate) fn init_producer_id(b: &Broker, req: InitProducerIdRequest) -> InitProducerIdResponse {
    let mut resp = InitProducerIdResponse::default();
    resp.producer_id = ProducerId(-1);
    resp.producer_epoch = -1;
    if req.transactional_id.is_some() {
        resp.error_code = code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        return resp;
    }
    match b.log.init_producer_id() {
        Ok((id, epoch)) => {
            resp.producer_id = ProducerId(id);
            resp.producer_epoch = epoch;
        }
        Err(e) => resp.error_code = error_code(&e),
    }
    resp
}
