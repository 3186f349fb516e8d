//! [`KafkaLogClient`]: a [`LogClient`] that talks the Kafka protocol to a
//! broker or a cluster: `riffle server` / `riffle broker`, Kafka, or any
//! Kafka-compatible broker. Stream applications in different processes that
//! point at the same cluster share its topics, offsets and consumer groups,
//! so they split an application's tasks between them exactly as instances in
//! one process do over the embedded log.
//!
//! Routing, as Kafka's own clients do it: Metadata (asked of the bootstrap
//! broker) names every partition's leader and the brokers' advertised
//! addresses; produce, fetch and offset lookups go to the partition's
//! leader, and group requests (join, sync, heartbeat, leave, offset commit
//! and fetch) to the group's coordinator, found with FindCoordinator. Topic
//! creation goes to the bootstrap broker, which forwards it to the
//! controller. Routes are cached; an answer that says the route is stale
//! (NOT_LEADER_OR_FOLLOWER, NOT_COORDINATOR, …) or a broker that cannot be
//! reached drops the route, and the request is sent once more along a
//! fresh one.
//!
//! Blocking and simple on purpose: one request per pooled TCP connection at
//! a time (a caller that blocks in JoinGroup holds its own connection, the
//! others keep fetching on theirs) and no request pipelining.
//!
//! API versions: Metadata v7, Produce v7 (acks=all), Fetch v11, ListOffsets
//! v5, CreateTopics v4, FindCoordinator v2, OffsetCommit v7, OffsetFetch v6,
//! JoinGroup v5, SyncGroup v3, Heartbeat v3, LeaveGroup v3: versions every
//! broker since Kafka 2.3 speaks, and none that needs topic ids.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use parking_lot::Mutex;

use crate::batch::{decode_batch, BatchBuilder, BatchHeader};
use crate::client::{Fetched, LogClient};
use crate::compression::Compression;
use crate::error::{GroupErrorCode, LogError, Result};
use crate::group::{JoinGroupRequest as Join, JoinGroupResponse as Joined};
use crate::partition::AppendInfo;
use crate::record::Record;
use crate::topic::{TopicConfig, TopicPartition};

/// Responses larger than this are refused (a broken or hostile peer).
const MAX_RESPONSE: usize = 256 << 20;
/// Socket timeout for requests that do not block on purpose.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A [`LogClient`] over the Kafka protocol. See the [module docs](self).
///
/// ```no_run
/// use std::sync::Arc;
/// use riffle_log::client::LogClient;
/// use riffle_log::kafka::KafkaLogClient;
/// let log: Arc<dyn LogClient> = Arc::new(KafkaLogClient::connect("127.0.0.1:9092", "my-app")?);
/// println!("{} partitions", log.partition_count("events")?);
/// # Ok::<(), riffle_log::LogError>(())
/// ```
pub struct KafkaLogClient {
    bootstrap: String,
    client_id: String,
    /// Idle connections, by broker address.
    pools: Mutex<HashMap<String, Vec<TcpStream>>>,
    correlation: AtomicI32,
    routes: Mutex<Routes>,
}

/// Where requests go, as the cluster last said.
#[derive(Debug, Default)]
struct Routes {
    /// Advertised `host:port` of each broker, by node id (from Metadata).
    brokers: HashMap<i32, String>,
    /// The leader's node id of each partition seen in a Metadata answer.
    leaders: HashMap<TopicPartition, i32>,
    /// Each group's coordinator address (from FindCoordinator).
    coordinators: HashMap<String, String>,
}

impl Routes {
    /// Takes in a Metadata answer: every broker, and the leader of every
    /// partition that has one.
    fn learn(&mut self, resp: &MetadataResponse) {
        for b in &resp.brokers {
            self.brokers.insert(b.node_id.0, format!("{}:{}", b.host.as_str(), b.port));
        }
        for t in &resp.topics {
            let Some(topic) = &t.name else { continue };
            for p in &t.partitions {
                let tp = TopicPartition::new(topic.0.as_str(), p.partition_index);
                if p.leader_id.0 >= 0 {
                    self.leaders.insert(tp, p.leader_id.0);
                } else {
                    self.leaders.remove(&tp);
                }
            }
        }
    }

    fn leader(&self, tp: &TopicPartition) -> Option<String> {
        self.leaders.get(tp).and_then(|node| self.brokers.get(node)).cloned()
    }
}

/// Why one request/response exchange failed.
enum Failure {
    /// The connection failed (closed, reset, timed out).
    Io(std::io::Error),
    /// The bytes were not a valid answer.
    Protocol(String),
}

/// Where a routed request goes (Metadata, FindCoordinator and CreateTopics
/// go to the bootstrap broker).
#[derive(Debug, Clone, Copy)]
enum To<'a> {
    /// The leader of a partition.
    Leader(&'a str, i32),
    /// The coordinator of a group.
    Coordinator(&'a str),
}

/// Error codes that say the request went to the wrong broker: the route is
/// stale and worth asking again.
fn stale_route(code: i16) -> bool {
    matches!(
        ResponseError::try_from_code(code),
        Some(
            ResponseError::NotLeaderOrFollower
                | ResponseError::LeaderNotAvailable
                | ResponseError::FencedLeaderEpoch
                | ResponseError::UnknownLeaderEpoch
                | ResponseError::NotCoordinator
                | ResponseError::CoordinatorNotAvailable
        )
    )
}

/// A group request's answer: its error code decides whether the request
/// reached the group's coordinator.
trait GroupAnswer {
    fn error_code(&self) -> i16;
}

macro_rules! group_answer {
    ($($t:ty),*) => {$(
        impl GroupAnswer for $t {
            fn error_code(&self) -> i16 {
                self.error_code
            }
        }
    )*};
}
group_answer!(OffsetFetchResponse, JoinGroupResponse, SyncGroupResponse, HeartbeatResponse, LeaveGroupResponse);

impl GroupAnswer for OffsetCommitResponse {
    /// OffsetCommit has no top-level code: the first partition's error.
    fn error_code(&self) -> i16 {
        self.topics.iter().flat_map(|t| &t.partitions).map(|p| p.error_code).find(|&c| c != 0).unwrap_or(0)
    }
}

impl std::fmt::Debug for KafkaLogClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaLogClient").field("bootstrap", &self.bootstrap).field("client_id", &self.client_id).finish()
    }
}

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

impl KafkaLogClient {
    /// Connects to the bootstrap broker `broker` (`host:port`) once to check
    /// it answers, and names the connections `client_id`. The other brokers
    /// of a cluster are found through it.
    ///
    /// # Errors
    /// [`LogError::Remote`] when the broker cannot be reached.
    pub fn connect(broker: &str, client_id: &str) -> Result<Self> {
        let client = KafkaLogClient {
            bootstrap: broker.to_string(),
            client_id: client_id.to_string(),
            pools: Mutex::new(HashMap::new()),
            correlation: AtomicI32::new(1),
            routes: Mutex::new(Routes::default()),
        };
        let conn = client.open(broker)?;
        client.pools.lock().entry(broker.to_string()).or_default().push(conn);
        Ok(client)
    }

    fn remote(&self, reason: impl Into<String>) -> LogError {
        LogError::Remote { broker: self.bootstrap.clone(), reason: reason.into() }
    }

    fn open(&self, addr: &str) -> Result<TcpStream> {
        let addrs = addr.to_socket_addrs().map_err(|e| self.remote(format!("cannot resolve {addr:?}: {e}")))?;
        let mut last = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, Duration::from_secs(10)) {
                Ok(s) => {
                    // Small requests (heartbeats, commits) must not wait for Nagle.
                    s.set_nodelay(true).map_err(|e| self.remote(e.to_string()))?;
                    return Ok(s);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(self.remote(format!(
            "cannot connect to {addr}: {}; is `riffle server` (or another broker) listening there?",
            last.map_or_else(|| "no address".to_string(), |e| e.to_string())
        )))
    }

    /// The address a request for `to` goes to, asking the cluster when the
    /// route is not known yet.
    fn address(&self, to: To<'_>) -> Result<String> {
        match to {
            To::Leader(topic, partition) => {
                let tp = TopicPartition::new(topic, partition);
                if let Some(addr) = self.routes.lock().leader(&tp) {
                    return Ok(addr);
                }
                let t = self.metadata(topic)?;
                if !t.partitions.iter().any(|p| p.partition_index == partition) {
                    return Err(LogError::UnknownPartition {
                        topic: topic.to_string(),
                        partition,
                        partitions: i32::try_from(t.partitions.len()).unwrap_or(i32::MAX),
                    });
                }
                self.routes.lock().leader(&tp).ok_or_else(|| {
                    self.remote(format!("{topic}-{partition} has no leader right now (LEADER_NOT_AVAILABLE)"))
                })
            }
            To::Coordinator(group) => {
                if let Some(addr) = self.routes.lock().coordinators.get(group) {
                    return Ok(addr.clone());
                }
                let mut req = FindCoordinatorRequest::default();
                req.key = text(group);
                req.key_type = 0;
                let resp: FindCoordinatorResponse =
                    self.exchange(&self.bootstrap, ApiKey::FindCoordinator, 2, &req, REQUEST_TIMEOUT)?;
                self.group_error(group, resp.error_code, "FindCoordinator")?;
                let addr = format!("{}:{}", resp.host.as_str(), resp.port);
                self.routes.lock().coordinators.insert(group.to_string(), addr.clone());
                Ok(addr)
            }
        }
    }

    /// Forgets the route for `to`, so the next request asks again.
    fn forget(&self, to: To<'_>) {
        let mut routes = self.routes.lock();
        match to {
            To::Leader(topic, partition) => {
                routes.leaders.remove(&TopicPartition::new(topic, partition));
            }
            To::Coordinator(group) => {
                routes.coordinators.remove(group);
            }
        }
    }

    /// Sends a request along the route for `to`. `attempt` sends it to the
    /// address it is given and returns what it read with the error code that
    /// decides whether the route was stale. A stale answer, or a broker
    /// that cannot be reached, drops the route, and the request is sent once
    /// more along a fresh one. The second answer is returned whatever its
    /// code: the caller turns that into its error.
    fn routed<T>(&self, to: To<'_>, mut attempt: impl FnMut(&str) -> Result<(T, i16)>) -> Result<T> {
        let mut retry = true;
        loop {
            let addr = self.address(to)?;
            match attempt(&addr) {
                Ok((_, code)) if retry && stale_route(code) => {
                    tracing::debug!(?to, %addr, code, "stale route; asking the cluster again");
                }
                Ok((answer, _)) => return Ok(answer),
                Err(LogError::Remote { reason, .. }) if retry => {
                    tracing::debug!(?to, %addr, %reason, "broker unreachable; asking the cluster again");
                }
                Err(e) => return Err(e),
            }
            self.forget(to);
            retry = false;
        }
    }

    /// Sends a one-partition request to the partition's leader (see
    /// [`routed`](Self::routed)) and picks that partition's answer out of
    /// the response; its error code, after at most one re-route, becomes
    /// the error.
    #[allow(clippy::too_many_arguments)]
    fn to_leader<Req: Encodable, Resp: Decodable, P>(
        &self,
        topic: &str,
        partition: i32,
        api: ApiKey,
        version: i16,
        req: &Req,
        pick: impl Fn(Resp) -> Option<P>,
        code: impl Fn(&P) -> i16,
    ) -> Result<P> {
        let what = format!("{api:?}");
        let p = self.routed(To::Leader(topic, partition), |addr| {
            let resp: Resp = self.exchange(addr, api, version, req, REQUEST_TIMEOUT)?;
            let p = pick(resp).ok_or_else(|| self.remote(format!("{what}: no answer for {topic}-{partition}")))?;
            let c = code(&p);
            Ok((p, c))
        })?;
        self.partition_error(code(&p), topic, partition, &what)?;
        Ok(p)
    }

    /// Sends a group request to the group's coordinator (see [`routed`](Self::routed)).
    fn to_coordinator<Req: Encodable, Resp: Decodable + GroupAnswer>(
        &self,
        group: &str,
        api: ApiKey,
        version: i16,
        req: &Req,
        timeout: Duration,
    ) -> Result<Resp> {
        self.routed(To::Coordinator(group), |addr| {
            let resp: Resp = self.exchange(addr, api, version, req, timeout)?;
            let code = resp.error_code();
            Ok((resp, code))
        })
    }

    /// Metadata for `topic` from the bootstrap broker; the routes learn
    /// every broker and partition leader in the answer.
    fn metadata(&self, topic: &str) -> Result<MetadataResponseTopic> {
        let mut t = MetadataRequestTopic::default();
        t.name = Some(name(topic));
        let mut req = MetadataRequest::default();
        req.topics = Some(vec![t]);
        req.allow_auto_topic_creation = false;
        let resp: MetadataResponse = self.exchange(&self.bootstrap, ApiKey::Metadata, 7, &req, REQUEST_TIMEOUT)?;
        self.routes.lock().learn(&resp);
        let t = resp
            .topics
            .into_iter()
            .find(|t| t.name.as_ref().is_some_and(|n| n.0.as_str() == topic))
            .ok_or_else(|| LogError::UnknownTopic { topic: topic.to_string() })?;
        self.partition_error(t.error_code, topic, -1, "Metadata")?;
        Ok(t)
    }

    /// Sends one request to the broker at `addr` and reads its response, on
    /// a pooled connection. A pooled connection the broker has closed since
    /// (a restart, an idle timeout) is replaced by a fresh one once.
    fn exchange<Req: Encodable, Resp: Decodable>(
        &self,
        addr: &str,
        api: ApiKey,
        version: i16,
        req: &Req,
        timeout: Duration,
    ) -> Result<Resp> {
        let what = format!("{api:?} v{version} to {addr}");
        let pooled = self.pools.lock().get_mut(addr).and_then(Vec::pop);
        let fresh = pooled.is_none();
        let mut conn = match pooled {
            Some(c) => c,
            None => self.open(addr)?,
        };
        let resp = match self.send_receive(&mut conn, api, version, req, timeout) {
            Err(Failure::Io(e)) if !fresh && !matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                tracing::debug!(%what, error = %e, "pooled connection failed; retrying on a new one");
                conn = self.open(addr)?;
                self.send_receive(&mut conn, api, version, req, timeout)
            }
            r => r,
        }
        .map_err(|f| match f {
            Failure::Io(e) => self.remote(format!("{what}: {e}")),
            Failure::Protocol(reason) => self.remote(format!("{what}: {reason}")),
        })?;
        self.pools.lock().entry(addr.to_string()).or_default().push(conn);
        Ok(resp)
    }

    fn send_receive<Req: Encodable, Resp: Decodable>(
        &self,
        conn: &mut TcpStream,
        api: ApiKey,
        version: i16,
        req: &Req,
        timeout: Duration,
    ) -> std::result::Result<Resp, Failure> {
        let correlation_id = self.correlation.fetch_add(1, Ordering::Relaxed);
        let mut header = RequestHeader::default();
        header.request_api_key = api as i16;
        header.request_api_version = version;
        header.correlation_id = correlation_id;
        header.client_id = Some(text(&self.client_id));
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&[0; 4]);
        header
            .encode(&mut buf, api.request_header_version(version))
            .and_then(|()| req.encode(&mut buf, version))
            .map_err(|e| Failure::Protocol(format!("cannot encode the request: {e}")))?;
        let len = i32::try_from(buf.len() - 4).map_err(|_| Failure::Protocol("request too large".into()))?;
        buf[..4].copy_from_slice(&len.to_be_bytes());
        conn.set_read_timeout(Some(timeout)).map_err(Failure::Io)?;
        conn.set_write_timeout(Some(REQUEST_TIMEOUT)).map_err(Failure::Io)?;
        conn.write_all(&buf).map_err(Failure::Io)?;
        let mut len = [0u8; 4];
        conn.read_exact(&mut len).map_err(Failure::Io)?;
        let len = i32::from_be_bytes(len);
        let len = usize::try_from(len)
            .ok()
            .filter(|l| *l <= MAX_RESPONSE)
            .ok_or_else(|| Failure::Protocol(format!("response length {len} is out of range")))?;
        let mut body = vec![0u8; len];
        conn.read_exact(&mut body).map_err(Failure::Io)?;
        let mut body = Bytes::from(body);
        let head = ResponseHeader::decode(&mut body, api.response_header_version(version))
            .map_err(|e| Failure::Protocol(format!("bad response header: {e}")))?;
        if head.correlation_id != correlation_id {
            return Err(Failure::Protocol(format!(
                "response for request {} arrived for request {correlation_id}",
                head.correlation_id
            )));
        }
        Resp::decode(&mut body, version).map_err(|e| Failure::Protocol(format!("bad response: {e}")))
    }

    /// A partition-level error code as a [`LogError`].
    fn partition_error(&self, code: i16, topic: &str, partition: i32, what: &str) -> Result<()> {
        match ResponseError::try_from_code(code) {
            None => Ok(()),
            Some(ResponseError::UnknownTopicOrPartition) => Err(LogError::UnknownTopic { topic: topic.to_string() }),
            Some(e) => Err(self.remote(format!("{what} {topic}-{partition}: {e} (error code {code})"))),
        }
    }

    fn group_error(&self, group: &str, code: i16, what: &str) -> Result<()> {
        let Some(e) = ResponseError::try_from_code(code) else { return Ok(()) };
        let mapped = match e {
            ResponseError::UnknownMemberId => Some(GroupErrorCode::UnknownMemberId),
            ResponseError::IllegalGeneration => Some(GroupErrorCode::IllegalGeneration),
            ResponseError::RebalanceInProgress => Some(GroupErrorCode::RebalanceInProgress),
            ResponseError::InconsistentGroupProtocol => Some(GroupErrorCode::InconsistentGroupProtocol),
            ResponseError::GroupMaxSizeReached => Some(GroupErrorCode::GroupMaxSizeReached),
            ResponseError::InvalidSessionTimeout => Some(GroupErrorCode::InvalidSessionTimeout),
            ResponseError::NonEmptyGroup => Some(GroupErrorCode::NonEmptyGroup),
            ResponseError::GroupIdNotFound => Some(GroupErrorCode::GroupIdNotFound),
            ResponseError::CoordinatorNotAvailable | ResponseError::NotCoordinator | ResponseError::CoordinatorLoadInProgress => {
                Some(GroupErrorCode::CoordinatorNotAvailable)
            }
            ResponseError::MemberIdRequired => Some(GroupErrorCode::MemberIdRequired),
            _ => None,
        };
        Err(match mapped {
            Some(c) => LogError::group(group, c, format!("{what}: the broker answered {e}")),
            None => self.remote(format!("{what} for group {group:?}: {e} (error code {code})")),
        })
    }

    fn list_offset(&self, topic: &str, partition: i32, timestamp: i64) -> Result<i64> {
        let mut p = ListOffsetsPartition::default();
        p.partition_index = partition;
        p.timestamp = timestamp;
        p.current_leader_epoch = -1;
        let mut t = ListOffsetsTopic::default();
        t.name = name(topic);
        t.partitions = vec![p];
        let mut req = ListOffsetsRequest::default();
        req.replica_id = BrokerId(-1);
        req.topics = vec![t];
        let p = self.to_leader(
            topic,
            partition,
            ApiKey::ListOffsets,
            5,
            &req,
            |resp: ListOffsetsResponse| resp.topics.into_iter().flat_map(|t| t.partitions).find(|x| x.partition_index == partition),
            |p| p.error_code,
        )?;
        Ok(p.offset)
    }

    /// One partition's fetch answer (`None` when the broker left it out).
    fn fetch(&self, topic: &str, partition: i32, offset: i64, max_bytes: usize) -> Result<Option<kafka_protocol::messages::fetch_response::PartitionData>> {
        let max = i32::try_from(max_bytes).unwrap_or(i32::MAX);
        let mut p = FetchPartition::default();
        p.partition = partition;
        p.fetch_offset = offset;
        p.partition_max_bytes = max;
        p.current_leader_epoch = -1;
        p.log_start_offset = -1;
        let mut t = FetchTopic::default();
        t.topic = name(topic);
        t.partitions = vec![p];
        let mut req = FetchRequest::default();
        req.replica_id = BrokerId(-1);
        // 1 ms, not 0: Tansu answers a fetch that may not wait with no
        // records at all, even when it has some. Kafka and Riffle answer at
        // once when there is data, so this only delays empty fetches.
        req.max_wait_ms = 1;
        req.min_bytes = 1;
        req.max_bytes = max;
        req.isolation_level = 0;
        req.session_epoch = -1;
        req.topics = vec![t];
        let (top_code, p) = self.routed(To::Leader(topic, partition), |addr| {
            let resp: FetchResponse = self.exchange(addr, ApiKey::Fetch, 11, &req, REQUEST_TIMEOUT)?;
            let p = resp.responses.into_iter().flat_map(|t| t.partitions).find(|p| p.partition_index == partition);
            let code = if resp.error_code != 0 { resp.error_code } else { p.as_ref().map_or(0, |p| p.error_code) };
            Ok(((resp.error_code, p), code))
        })?;
        self.partition_error(top_code, topic, partition, "Fetch")?;
        let Some(p) = p else {
            return Ok(None);
        };
        if ResponseError::try_from_code(p.error_code) == Some(ResponseError::OffsetOutOfRange) {
            return Err(LogError::OffsetOutOfRange {
                topic: topic.to_string(),
                partition,
                offset,
                log_start: p.log_start_offset,
                high_watermark: p.high_watermark,
            });
        }
        self.partition_error(p.error_code, topic, partition, "Fetch")?;
        Ok(Some(p))
    }
}

/// Records of `batches` (concatenated RecordBatch v2 bytes) at or after
/// `offset`, skipping control batches, with where the next read starts.
fn records_from(batches: &Bytes, offset: i64) -> std::result::Result<(Vec<crate::record::StoredRecord>, i64), String> {
    let mut out = Vec::new();
    let mut next = offset;
    let mut pos = 0;
    while pos + 61 <= batches.len() {
        let header = BatchHeader::parse(&batches[pos..])?;
        let end = pos + header.total_len();
        if end > batches.len() {
            break; // a partial batch at the end of a fetch: read it next time
        }
        let (h, records) = decode_batch(&batches.slice(pos..end))?;
        if !h.is_control() {
            out.extend(records.into_iter().filter(|r| r.offset >= offset));
        }
        next = next.max(h.next_offset());
        pos = end;
    }
    Ok((out, next))
}

impl LogClient for KafkaLogClient {
    fn ensure_topic(&self, topic: &str, config: &TopicConfig) -> Result<i32> {
        let defaults = TopicConfig::default().to_map();
        let mut t = CreatableTopic::default();
        t.name = name(topic);
        t.num_partitions = config.partitions;
        t.replication_factor = 1;
        t.configs = config
            .to_map()
            .into_iter()
            .filter(|(k, v)| *k != "partitions" && defaults.get(k) != Some(v))
            .map(|(k, v)| {
                let mut c = CreatableTopicConfig::default();
                c.name = text(k);
                c.value = Some(StrBytes::from_string(v));
                c
            })
            .collect();
        let mut req = CreateTopicsRequest::default();
        req.topics = vec![t];
        req.timeout_ms = 30_000;
        let resp: CreateTopicsResponse = self.exchange(&self.bootstrap, ApiKey::CreateTopics, 4, &req, REQUEST_TIMEOUT)?;
        let r = resp.topics.into_iter().next().ok_or_else(|| self.remote("CreateTopics: empty answer"))?;
        match ResponseError::try_from_code(r.error_code) {
            None | Some(ResponseError::TopicAlreadyExists) => self.partition_count(topic),
            Some(e) => Err(self.remote(format!(
                "CreateTopics {topic:?}: {e}{}",
                r.error_message.map(|m| format!(" ({})", m.as_str())).unwrap_or_default()
            ))),
        }
    }

    fn partition_count(&self, topic: &str) -> Result<i32> {
        let t = self.metadata(topic)?;
        i32::try_from(t.partitions.len()).map_err(|_| self.remote("Metadata: too many partitions"))
    }

    fn append(&self, topic: &str, partition: i32, records: &[Record]) -> Result<AppendInfo> {
        if records.is_empty() {
            return Err(LogError::InvalidBatch { reason: "an append needs at least one record".into() });
        }
        let now = crate::partition::now_ms();
        let mut b = BatchBuilder::new(Compression::None);
        for r in records {
            b.push(r, now);
        }
        let batch = b.build(0).map_err(|e| self.remote(format!("encoding a batch: {e}")))?;
        let mut pd = PartitionProduceData::default();
        pd.index = partition;
        pd.records = Some(batch);
        let mut td = TopicProduceData::default();
        td.name = name(topic);
        td.partition_data = vec![pd];
        let mut req = ProduceRequest::default();
        req.acks = -1;
        req.timeout_ms = 30_000;
        req.topic_data = vec![td];
        let p = self.to_leader(
            topic,
            partition,
            ApiKey::Produce,
            7,
            &req,
            |resp: ProduceResponse| resp.responses.into_iter().flat_map(|t| t.partition_responses).find(|p| p.index == partition),
            |p| p.error_code,
        )?;
        Ok(AppendInfo {
            base_offset: p.base_offset,
            last_offset: p.base_offset + records.len() as i64 - 1,
            log_append_time: (p.log_append_time_ms >= 0).then_some(p.log_append_time_ms),
            duplicate: false,
        })
    }

    fn read(&self, topic: &str, partition: i32, offset: i64, max_bytes: usize) -> Result<Fetched> {
        let Some(p) = self.fetch(topic, partition, offset, max_bytes)? else {
            // Some brokers leave partitions without news out of the answer.
            return Ok(Fetched { records: Vec::new(), next_offset: offset, high_watermark: offset });
        };
        let bytes = p.records.unwrap_or_default();
        let (records, next_offset) = records_from(&bytes, offset)
            .map_err(|reason| self.remote(format!("Fetch {topic}-{partition} at {offset}: a fetched batch does not decode: {reason}")))?;
        Ok(Fetched { records, next_offset, high_watermark: p.high_watermark })
    }

    fn offsets(&self, topic: &str, partition: i32) -> Result<(i64, i64)> {
        let start = self.list_offset(topic, partition, -2)?;
        // The high watermark from a (tiny) fetch rather than
        // ListOffsets(latest): Tansu answers the latter with the last
        // batch's base offset + 1, short of the end when batches hold
        // several records. Brokers that leave an empty partition out of a
        // fetch answer are asked with ListOffsets instead.
        match self.fetch(topic, partition, start, 1)? {
            Some(p) => Ok((start, p.high_watermark.max(start))),
            None => Ok((start, self.list_offset(topic, partition, -1)?)),
        }
    }

    fn committed_offset(&self, group: &str, tp: &TopicPartition) -> Result<Option<i64>> {
        let mut t = OffsetFetchRequestTopic::default();
        t.name = name(&tp.topic);
        t.partition_indexes = vec![tp.partition];
        let mut req = OffsetFetchRequest::default();
        req.group_id = GroupId(text(group));
        req.topics = Some(vec![t]);
        let resp: OffsetFetchResponse = self.to_coordinator(group, ApiKey::OffsetFetch, 6, &req, REQUEST_TIMEOUT)?;
        self.group_error(group, resp.error_code, "OffsetFetch")?;
        let p = resp.topics.into_iter().flat_map(|t| t.partitions).find(|p| p.partition_index == tp.partition);
        match p {
            None => Ok(None),
            Some(p) => {
                self.partition_error(p.error_code, &tp.topic, tp.partition, "OffsetFetch")?;
                Ok((p.committed_offset >= 0).then_some(p.committed_offset))
            }
        }
    }

    fn join_group(&self, req: Join) -> Result<Joined> {
        let group = req.group_id.clone();
        let mut member_id = req.member_id.clone();
        // Kafka (KIP-394) may first answer MEMBER_ID_REQUIRED with the id to
        // rejoin with.
        for _ in 0..3 {
            let mut r = JoinGroupRequest::default();
            r.group_id = GroupId(text(&group));
            r.session_timeout_ms = i32::try_from(req.session_timeout.as_millis()).unwrap_or(i32::MAX);
            r.rebalance_timeout_ms = i32::try_from(req.rebalance_timeout.as_millis()).unwrap_or(i32::MAX);
            r.member_id = text(&member_id);
            r.group_instance_id = req.group_instance_id.as_deref().map(text);
            r.protocol_type = text(&req.protocol_type);
            r.protocols = req
                .protocols
                .iter()
                .map(|(n, m)| {
                    let mut p = JoinGroupRequestProtocol::default();
                    p.name = text(n);
                    p.metadata = m.clone();
                    p
                })
                .collect();
            let timeout = req.rebalance_timeout + Duration::from_secs(5);
            let resp: JoinGroupResponse = self.to_coordinator(&group, ApiKey::JoinGroup, 5, &r, timeout)?;
            if ResponseError::try_from_code(resp.error_code) == Some(ResponseError::MemberIdRequired) {
                member_id = resp.member_id.to_string();
                continue;
            }
            self.group_error(&group, resp.error_code, "JoinGroup")?;
            return Ok(Joined {
                generation_id: resp.generation_id,
                protocol_name: resp.protocol_name.map(|p| p.to_string()).unwrap_or_default(),
                leader: resp.leader.to_string(),
                member_id: resp.member_id.to_string(),
                members: resp
                    .members
                    .into_iter()
                    .map(|m| (m.member_id.to_string(), m.group_instance_id.map(|i| i.to_string()), m.metadata))
                    .collect(),
            });
        }
        Err(LogError::group(&group, GroupErrorCode::MemberIdRequired, "JoinGroup kept asking for a member id"))
    }

    fn sync_group(
        &self,
        group: &str,
        member_id: &str,
        generation_id: i32,
        assignments: Vec<(String, Bytes)>,
        timeout: Duration,
    ) -> Result<Bytes> {
        let mut req = SyncGroupRequest::default();
        req.group_id = GroupId(text(group));
        req.generation_id = generation_id;
        req.member_id = text(member_id);
        req.assignments = assignments
            .into_iter()
            .map(|(m, a)| {
                let mut x = SyncGroupRequestAssignment::default();
                x.member_id = StrBytes::from_string(m);
                x.assignment = a;
                x
            })
            .collect();
        let resp: SyncGroupResponse = self.to_coordinator(group, ApiKey::SyncGroup, 3, &req, timeout + Duration::from_secs(5))?;
        self.group_error(group, resp.error_code, "SyncGroup")?;
        Ok(resp.assignment)
    }

    fn heartbeat(&self, group: &str, member_id: &str, generation_id: i32) -> Result<()> {
        let mut req = HeartbeatRequest::default();
        req.group_id = GroupId(text(group));
        req.generation_id = generation_id;
        req.member_id = text(member_id);
        let resp: HeartbeatResponse = self.to_coordinator(group, ApiKey::Heartbeat, 3, &req, REQUEST_TIMEOUT)?;
        self.group_error(group, resp.error_code, "Heartbeat")
    }

    fn leave_group(&self, group: &str, member_id: &str) -> Result<()> {
        let mut m = MemberIdentity::default();
        m.member_id = text(member_id);
        let mut req = LeaveGroupRequest::default();
        req.group_id = GroupId(text(group));
        req.members = vec![m];
        let resp: LeaveGroupResponse = self.to_coordinator(group, ApiKey::LeaveGroup, 3, &req, REQUEST_TIMEOUT)?;
        self.group_error(group, resp.error_code, "LeaveGroup")?;
        for m in resp.members {
            self.group_error(group, m.error_code, "LeaveGroup")?;
        }
        Ok(())
    }

    fn commit_member_offsets(
        &self,
        group: &str,
        member_id: &str,
        generation_id: i32,
        offsets: &[(TopicPartition, i64)],
    ) -> Result<()> {
        let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
        for (tp, o) in offsets {
            let mut p = OffsetCommitRequestPartition::default();
            p.partition_index = tp.partition;
            p.committed_offset = *o;
            p.committed_leader_epoch = -1;
            match topics.iter_mut().find(|t| t.name.0.as_str() == tp.topic) {
                Some(t) => t.partitions.push(p),
                None => {
                    let mut t = OffsetCommitRequestTopic::default();
                    t.name = name(&tp.topic);
                    t.partitions = vec![p];
                    topics.push(t);
                }
            }
        }
        let mut req = OffsetCommitRequest::default();
        req.group_id = GroupId(text(group));
        req.generation_id_or_member_epoch = generation_id;
        req.member_id = text(member_id);
        req.retention_time_ms = -1;
        req.topics = topics;
        let resp: OffsetCommitResponse = self.to_coordinator(group, ApiKey::OffsetCommit, 7, &req, REQUEST_TIMEOUT)?;
        for t in resp.topics {
            for p in t.partitions {
                self.group_error(group, p.error_code, "OffsetCommit")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::batch::{control_batch, set_base_offset, ControlType};

    fn batch(base: i64, values: &[&str]) -> Bytes {
        let mut b = BatchBuilder::new(Compression::None);
        for v in values {
            b.push(&Record::value(v.to_string()), 1);
        }
        let mut bytes = b.build(0).unwrap().to_vec();
        set_base_offset(&mut bytes, base);
        Bytes::from(bytes)
    }

    #[test]
    fn fetched_batches_skip_control_batches_earlier_offsets_and_a_cut_off_tail() {
        let mut control = control_batch(7, 0, ControlType::Commit, 1).to_vec();
        set_base_offset(&mut control, 3);
        let tail = batch(4, &["e"]);
        let mut all = Vec::new();
        all.extend_from_slice(&batch(0, &["a", "b", "c"]));
        all.extend_from_slice(&control);
        // A fetch may end inside a batch: that batch is read next time.
        all.extend_from_slice(&tail[..tail.len() - 5]);
        let (records, next) = records_from(&Bytes::from(all), 1).unwrap();
        let values: Vec<_> = records.iter().map(|r| (r.offset, r.value.clone().unwrap())).collect();
        assert_eq!(values, vec![(1, Bytes::from("b")), (2, Bytes::from("c"))]);
        assert_eq!(next, 4, "past the control batch, before the cut-off one");
    }

    #[test]
    fn a_corrupt_fetched_batch_is_an_error_not_a_panic() {
        let mut bytes = batch(0, &["a"]).to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        assert!(records_from(&Bytes::from(bytes), 0).is_err());
        assert!(records_from(&Bytes::from_static(&[0u8; 10]), 0).unwrap().0.is_empty(), "too short for a header");
    }
}
