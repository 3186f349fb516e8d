//! Metadata: brokers (just this one), topics with their stable ids, and
//! partitions (all led by this node).
//!
//! Unknown topics are created only when the client asks
//! (`allow_auto_topic_creation`, always implied before v4) *and* the
//! listener allows it ([`KafkaConfig::auto_create_topics`](super::KafkaConfig)).

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};

use super::{code, error_code, str_bytes, topic_name_by_id, uuid_of, Broker};
use crate::log::Topic;

pub(crate) fn handle(b: &Broker, req: MetadataRequest, version: i16) -> MetadataResponse {
    let mut resp = MetadataResponse::default();
    let mut broker = MetadataResponseBroker::default();
    broker.node_id = BrokerId(b.node_id);
    broker.host = b.host.clone();
    broker.port = b.port;
    resp.brokers = vec![broker];
    if version >= 2 {
        resp.cluster_id = Some(b.cluster_id.clone());
    }
    if version >= 1 {
        resp.controller_id = BrokerId(b.node_id);
    }
    // v0 sends an empty list for "all topics"; v1+ sends null.
    let all = match &req.topics {
        None => true,
        Some(t) => t.is_empty() && version == 0,
    };
    if all {
        resp.topics = b.log.topics().iter().map(|t| describe(b, t, version)).collect();
        return resp;
    }
    let auto_create = b.auto_create_topics && (version < 4 || req.allow_auto_topic_creation);
    for t in req.topics.unwrap_or_default() {
        let name = match t.name {
            Some(n) => n.0.to_string(),
            None => match topic_name_by_id(&b.log, t.topic_id) {
                Some(n) => n,
                None => {
                    let mut r = MetadataResponseTopic::default();
                    r.error_code = code::UNKNOWN_TOPIC_ID;
                    r.topic_id = t.topic_id;
                    r.name = None;
                    resp.topics.push(r);
                    continue;
                }
            },
        };
        let found = match b.log.topic(&name) {
            Err(_) if auto_create => b.log.ensure_topic(&name, b.log.config().default_topic.clone()),
            other => other,
        };
        match found {
            Ok(topic) => resp.topics.push(describe(b, &topic, version)),
            Err(e) => {
                let mut r = MetadataResponseTopic::default();
                r.error_code = error_code(&e);
                r.name = Some(TopicName(str_bytes(name)));
                resp.topics.push(r);
            }
        }
    }
    resp
}

fn describe(b: &Broker, t: &Topic, version: i16) -> MetadataResponseTopic {
    let mut r = MetadataResponseTopic::default();
    r.name = Some(TopicName(str_bytes(t.name())));
    if version >= 10 {
        r.topic_id = uuid_of(t.id());
    }
    if version >= 1 {
        r.is_internal = t.is_internal();
    }
    r.partitions = t
        .partitions()
        .iter()
        .map(|p| {
            let mut mp = MetadataResponsePartition::default();
            mp.partition_index = p.index();
            mp.leader_id = BrokerId(b.node_id);
            if version >= 7 {
                mp.leader_epoch = 0;
            }
            mp.replica_nodes = vec![BrokerId(b.node_id)];
            mp.isr_nodes = vec![BrokerId(b.node_id)];
            mp
        })
        .collect();
    r
}
