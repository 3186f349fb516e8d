//! Topic administration: CreateTopics, DeleteTopics and DescribeConfigs.
//!
//! One node holds one replica, so a replication factor other than 1 (or -1,
//! "the broker default") is refused with `INVALID_REPLICATION_FACTOR`.
//! Topic configs use Kafka's names ([`TopicConfig::set`]).

use kafka_protocol::messages::create_topics_response::{CreatableTopicConfigs, CreatableTopicResult};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::describe_configs_response::{DescribeConfigsResourceResult, DescribeConfigsResult};
use kafka_protocol::messages::{
    CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse, DescribeConfigsRequest,
    DescribeConfigsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::{code, error_code, str_bytes, topic_name_by_id, uuid_of, Broker};
use crate::error::LogError;
use crate::topic::TopicConfig;

/// DescribeConfigs resource types.
const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;
/// Config sources.
const SOURCE_TOPIC: i8 = 1;
const SOURCE_DEFAULT: i8 = 5;

/// `(name, value, source)` of each config, or `(error code, message)`.
type ConfigEntries = Result<Vec<(String, String, i8)>, (i16, String)>;

pub(crate) fn create_topics(b: &Broker, req: CreateTopicsRequest, version: i16) -> CreateTopicsResponse {
    let mut resp = CreateTopicsResponse::default();
    for t in req.topics {
        let mut r = CreatableTopicResult::default();
        let result = (|| -> Result<TopicConfig, (i16, String)> {
            if !matches!(t.replication_factor, -1 | 1) {
                return Err((
                    code::INVALID_REPLICATION_FACTOR,
                    format!("replication factor {} is not possible on one node; use 1", t.replication_factor),
                ));
            }
            let mut c = b.log.config().default_topic.clone();
            if t.num_partitions > 0 {
                c.partitions = t.num_partitions;
            } else if t.num_partitions == 0 || t.num_partitions < -1 {
                return Err((code::INVALID_PARTITIONS, format!("{} partitions", t.num_partitions)));
            }
            if !t.assignments.is_empty() {
                c.partitions = t.assignments.len() as i32;
            }
            for cfg in &t.configs {
                if let Some(v) = &cfg.value {
                    c.set(&cfg.name, v).map_err(|e| (error_code(&e), e.to_string()))?;
                }
            }
            Ok(c)
        })();
        let created = result.and_then(|c| {
            if req.validate_only {
                crate::topic::validate_topic_name(&t.name.0).map_err(|e| (error_code(&e), e.to_string()))?;
                if b.log.topic(&t.name.0).is_ok() {
                    let e = LogError::TopicExists { topic: t.name.0.to_string() };
                    return Err((error_code(&e), e.to_string()));
                }
                return Ok((None, c));
            }
            b.log.create_topic(&t.name.0, c.clone()).map(|t| (Some(t.id()), c)).map_err(|e| (error_code(&e), e.to_string()))
        });
        match created {
            Ok((id, c)) => {
                if let Some(id) = id.filter(|_| version >= 7) {
                    r.topic_id = uuid_of(id);
                }
                if version < 5 {
                    r.name = t.name;
                    resp.topics.push(r);
                    continue;
                }
                r.num_partitions = c.partitions;
                r.replication_factor = 1;
                r.configs = Some(
                    c.to_map()
                        .into_iter()
                        .filter(|(k, _)| *k != "partitions")
                        .map(|(k, v)| {
                            let mut cc = CreatableTopicConfigs::default();
                            cc.name = StrBytes::from_static_str(k);
                            cc.value = Some(str_bytes(v));
                            cc.config_source = SOURCE_DEFAULT;
                            cc
                        })
                        .collect(),
                );
            }
            Err((c, msg)) => {
                r.error_code = c;
                r.error_message = Some(str_bytes(msg));
            }
        }
        r.name = t.name;
        resp.topics.push(r);
    }
    resp
}

pub(crate) fn delete_topics(b: &Broker, req: DeleteTopicsRequest, version: i16) -> DeleteTopicsResponse {
    let mut resp = DeleteTopicsResponse::default();
    let targets: Vec<(Option<String>, uuid::Uuid)> = if version >= 6 {
        req.topics
            .into_iter()
            .map(|t| match t.name {
                Some(n) => (Some(n.0.to_string()), t.topic_id),
                None => (topic_name_by_id(&b.log, t.topic_id), t.topic_id),
            })
            .collect()
    } else {
        req.topic_names.into_iter().map(|n| (Some(n.0.to_string()), uuid::Uuid::nil())).collect()
    };
    for (name, id) in targets {
        let mut r = DeletableTopicResult::default();
        r.topic_id = id;
        match &name {
            None => r.error_code = code::UNKNOWN_TOPIC_ID,
            Some(n) => {
                if let Some(t) = b.log.topic(n).ok().filter(|_| version >= 6) {
                    r.topic_id = uuid_of(t.id());
                }
                if let Err(e) = b.log.delete_topic(n) {
                    r.error_code = error_code(&e);
                    if version >= 5 {
                        r.error_message = Some(str_bytes(e.to_string()));
                    }
                }
            }
        }
        r.name = name.map(|n| TopicName(str_bytes(n)));
        resp.responses.push(r);
    }
    resp
}

pub(crate) fn describe_configs(b: &Broker, req: DescribeConfigsRequest) -> DescribeConfigsResponse {
    let mut resp = DescribeConfigsResponse::default();
    for res in req.resources {
        let mut r = DescribeConfigsResult::default();
        let entries: ConfigEntries = match res.resource_type {
            RESOURCE_TOPIC => b.log.topic(&res.resource_name).map_err(|e| (error_code(&e), e.to_string())).map(|t| {
                let defaults = b.log.config().default_topic.to_map();
                t.config()
                    .to_map()
                    .into_iter()
                    .filter(|(k, _)| *k != "partitions")
                    .map(|(k, v)| {
                        let source = if defaults.get(k) == Some(&v) { SOURCE_DEFAULT } else { SOURCE_TOPIC };
                        (k.to_string(), v, source)
                    })
                    .collect()
            }),
            RESOURCE_BROKER => Ok(b
                .log
                .config()
                .default_topic
                .to_map()
                .into_iter()
                .filter(|(k, _)| *k != "partitions")
                .map(|(k, v)| (format!("log.{k}"), v, SOURCE_DEFAULT))
                .collect()),
            other => Err((code::INVALID_REQUEST, format!("resource type {other} is not supported"))),
        };
        match entries {
            Ok(es) => {
                let keys = res.configuration_keys.as_ref();
                r.configs = es
                    .into_iter()
                    .filter(|(k, _, _)| keys.is_none_or(|ks| ks.iter().any(|w| w.as_str() == k)))
                    .map(|(k, v, source)| {
                        let mut c = DescribeConfigsResourceResult::default();
                        c.name = str_bytes(k);
                        c.value = Some(str_bytes(v));
                        c.config_source = source;
                        c
                    })
                    .collect();
            }
            Err((c, msg)) => {
                r.error_code = c;
                r.error_message = Some(str_bytes(msg));
            }
        }
        r.resource_type = res.resource_type;
        r.resource_name = res.resource_name;
        resp.results.push(r);
    }
    resp
}
