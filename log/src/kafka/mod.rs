//! The Kafka wire-protocol listener: lets any Kafka client, tool or
//! connector use the built-in [`Log`] as if it were a one-node Kafka broker.
//!
//! ```text
//!  Kafka client ──TCP──► server.rs: accept loop, one task per connection,
//!                         size-prefixed frames (≤ socket.request.max.bytes)
//!                            │  header (kafka-protocol crate), api key + version
//!                            ▼
//!                        dispatch: one handler per API, in its own file
//!   api_versions.rs  metadata.rs  produce.rs  fetch.rs  offsets.rs
//!   groups.rs (JoinGroup … OffsetFetch)  admin.rs (Create/DeleteTopics,
//!   DescribeConfigs)  txn.rs (InitProducerId, AddPartitionsToTxn,
//!   AddOffsetsToTxn, TxnOffsetCommit, EndTxn)
//!   guard.rs: every request body is walked along its schema first
//!                            │
//!                            ▼
//!                 Log / Partition / GroupCoordinator (this crate)
//! ```
//!
//! What it is: a single-broker view of the log. Every partition's leader is
//! this node (id 0); the node is also the group coordinator. Produce and
//! fetch move record batches as opaque bytes: a produced RecordBatch v2 is
//! validated (CRC, structure, record count) by [`Partition::append_batch`]
//! and stored as-is; a fetch returns the stored bytes unchanged.
//!
//! Transactions: the log's transaction coordinator (`txn.rs` of this crate)
//! handles transactional ids, markers, the last stable offset and the
//! aborted-transaction index that `read_committed` fetches return. It
//! verifies transactional produces and offset commits against the open
//! transaction (KIP-890 part 1).
//!
//! What it is not: replication, SASL/TLS, quotas, KIP-848's consumer group
//! protocol, or KIP-890 part 2 (Produce v12's implicit AddPartitionsToTxn).
//!
//! Requests on one connection are answered in order, one at a time, as
//! Kafka does; a long-polling fetch holds its connection until it returns.
//! A frame that cannot be decoded (unknown API key, unsupported version,
//! truncated fields) closes the connection, as Kafka does; an unsupported
//! ApiVersions version is answered with a v0 body and `UNSUPPORTED_VERSION`.
//!
//! # Examples
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use riffle_log::{Log, LogConfig};
//! use riffle_log::kafka::{KafkaConfig, KafkaServer};
//! let dir = tempfile::tempdir().unwrap();
//! let log = Log::open(dir.path(), LogConfig::default()).unwrap();
//! let server = KafkaServer::bind(log.clone(), KafkaConfig::local("127.0.0.1:0".parse().unwrap()))
//!     .await
//!     .unwrap();
//! assert_ne!(server.local_addr().port(), 0);
//! server.shutdown().await;
//! log.close().unwrap();
//! # });
//! ```
//!
//! [`Partition::append_batch`]: crate::Partition::append_batch

mod admin;
mod api_versions;
mod client;
mod fetch;
mod groups;
mod guard;
mod metadata;
mod offsets;
mod produce;
mod server;
mod txn;

use std::net::SocketAddr;

use kafka_protocol::protocol::StrBytes;

use crate::error::{GroupErrorCode, LogError, TxnErrorCode};
use crate::log::{Log, TopicId};

pub use api_versions::supported_versions;
pub use client::KafkaLogClient;
pub use server::{decode_request_frame, KafkaServer};

/// Kafka's default `socket.request.max.bytes` (100 MiB).
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 100 * 1024 * 1024;

/// Listener settings.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// Address to listen on (port 0 picks a free one).
    pub listen: SocketAddr,
    /// Host advertised in Metadata and FindCoordinator; `None` = the
    /// listening IP (use a name clients can reach when listening on 0.0.0.0).
    pub advertised_host: Option<String>,
    /// `socket.request.max.bytes`: larger frames close the connection before
    /// anything is allocated for them.
    pub max_request_bytes: usize,
    /// The broker's node id.
    pub node_id: i32,
    /// The cluster id reported in Metadata.
    pub cluster_id: String,
    /// Whether Metadata may create unknown topics when the client asks
    /// (`allow_auto_topic_creation`); Kafka's `auto.create.topics.enable`.
    pub auto_create_topics: bool,
}

impl KafkaConfig {
    /// Defaults for a listener on `listen`.
    pub fn local(listen: SocketAddr) -> Self {
        KafkaConfig {
            listen,
            advertised_host: None,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            node_id: 0,
            cluster_id: "riffle-cluster".into(),
            auto_create_topics: true,
        }
    }
}

/// What every handler sees: the log and how this broker presents itself.
pub(crate) struct Broker {
    pub log: Log,
    pub node_id: i32,
    pub host: StrBytes,
    pub port: i32,
    pub cluster_id: StrBytes,
    pub auto_create_topics: bool,
}

/// Kafka error codes used by the listener (the full table is Kafka's
/// `Errors.java`; only the codes Riffle sends are named).
pub(crate) mod code {
    pub const NONE: i16 = 0;
    pub const UNKNOWN_SERVER_ERROR: i16 = -1;
    pub const OFFSET_OUT_OF_RANGE: i16 = 1;
    pub const CORRUPT_MESSAGE: i16 = 2;
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const NOT_LEADER_OR_FOLLOWER: i16 = 6;
    pub const MESSAGE_TOO_LARGE: i16 = 10;
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    pub const INVALID_TOPIC_EXCEPTION: i16 = 17;
    pub const INVALID_REQUIRED_ACKS: i16 = 21;
    pub const ILLEGAL_GENERATION: i16 = 22;
    pub const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
    pub const INVALID_GROUP_ID: i16 = 24;
    pub const UNKNOWN_MEMBER_ID: i16 = 25;
    pub const INVALID_SESSION_TIMEOUT: i16 = 26;
    pub const REBALANCE_IN_PROGRESS: i16 = 27;
    pub const UNSUPPORTED_VERSION: i16 = 35;
    pub const TOPIC_ALREADY_EXISTS: i16 = 36;
    pub const INVALID_PARTITIONS: i16 = 37;
    pub const INVALID_REPLICATION_FACTOR: i16 = 38;
    pub const INVALID_REQUEST: i16 = 42;
    pub const INVALID_CONFIG: i16 = 40;
    pub const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
    pub const INVALID_PRODUCER_EPOCH: i16 = 47;
    pub const INVALID_TXN_STATE: i16 = 48;
    pub const INVALID_PRODUCER_ID_MAPPING: i16 = 49;
    pub const OPERATION_NOT_ATTEMPTED: i16 = 55;
    pub const KAFKA_STORAGE_ERROR: i16 = 56;
    pub const NON_EMPTY_GROUP: i16 = 68;
    pub const GROUP_ID_NOT_FOUND: i16 = 69;
    pub const MEMBER_ID_REQUIRED: i16 = 79;
    pub const GROUP_MAX_SIZE_REACHED: i16 = 81;
    pub const UNKNOWN_TOPIC_ID: i16 = 100;
}

/// The Kafka error code for a log error.
pub(crate) fn error_code(e: &LogError) -> i16 {
    match e {
        LogError::UnknownTopic { .. } | LogError::UnknownPartition { .. } => code::UNKNOWN_TOPIC_OR_PARTITION,
        LogError::TopicExists { .. } => code::TOPIC_ALREADY_EXISTS,
        LogError::InvalidTopicName { .. } => code::INVALID_TOPIC_EXCEPTION,
        LogError::InvalidConfig { key, .. } if key == "partitions" => code::INVALID_PARTITIONS,
        LogError::InvalidConfig { key, .. } if key == "group.id" => code::INVALID_GROUP_ID,
        LogError::InvalidConfig { .. } => code::INVALID_CONFIG,
        LogError::RecordTooLarge { .. } => code::MESSAGE_TOO_LARGE,
        LogError::OffsetOutOfRange { .. } => code::OFFSET_OUT_OF_RANGE,
        LogError::InvalidBatch { .. } => code::CORRUPT_MESSAGE,
        LogError::OutOfOrderSequence { .. } => code::OUT_OF_ORDER_SEQUENCE_NUMBER,
        LogError::ProducerFenced { .. } => code::INVALID_PRODUCER_EPOCH,
        LogError::Group { code, .. } => group_code(*code),
        LogError::Transaction { code, .. } => match code {
            TxnErrorCode::ProducerFenced => code::INVALID_PRODUCER_EPOCH,
            TxnErrorCode::InvalidProducerIdMapping => code::INVALID_PRODUCER_ID_MAPPING,
            TxnErrorCode::InvalidTxnState => code::INVALID_TXN_STATE,
        },
        LogError::Closed => code::NOT_LEADER_OR_FOLLOWER,
        LogError::Corrupt { .. } | LogError::Io { .. } => code::KAFKA_STORAGE_ERROR,
        _ => code::UNKNOWN_SERVER_ERROR,
    }
}

fn group_code(c: GroupErrorCode) -> i16 {
    match c {
        GroupErrorCode::UnknownMemberId => code::UNKNOWN_MEMBER_ID,
        GroupErrorCode::IllegalGeneration => code::ILLEGAL_GENERATION,
        GroupErrorCode::RebalanceInProgress => code::REBALANCE_IN_PROGRESS,
        GroupErrorCode::InconsistentGroupProtocol => code::INCONSISTENT_GROUP_PROTOCOL,
        GroupErrorCode::GroupMaxSizeReached => code::GROUP_MAX_SIZE_REACHED,
        GroupErrorCode::InvalidSessionTimeout => code::INVALID_SESSION_TIMEOUT,
        GroupErrorCode::NonEmptyGroup => code::NON_EMPTY_GROUP,
        GroupErrorCode::GroupIdNotFound => code::GROUP_ID_NOT_FOUND,
        GroupErrorCode::CoordinatorNotAvailable => code::COORDINATOR_NOT_AVAILABLE,
        GroupErrorCode::MemberIdRequired => code::MEMBER_ID_REQUIRED,
    }
}

/// A topic id as the protocol's UUID.
pub(crate) fn uuid_of(id: TopicId) -> uuid::Uuid {
    uuid::Uuid::from_bytes(id.0)
}

/// Finds a topic's name by its id (Fetch v13+, DeleteTopics v6).
pub(crate) fn topic_name_by_id(log: &Log, id: uuid::Uuid) -> Option<String> {
    let want = TopicId(*id.as_bytes());
    log.topics().into_iter().find(|t| t.id() == want).map(|t| t.name().to_string())
}

/// An owned string as the protocol's string type.
pub(crate) fn str_bytes(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}
