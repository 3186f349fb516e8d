//! The TCP side: accept loop, one task per connection, size-prefixed
//! frames, request header decoding and dispatch to the API handlers.
//!
//! A frame is `length: i32` then `length` bytes. A negative length, or one
//! above `socket.request.max.bytes`, closes the connection before anything
//! is allocated for it; the body buffer grows only as bytes actually arrive,
//! so a peer announcing 100 MiB and sending 10 bytes costs 64 KiB.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{admin, api_versions, fetch, groups, guard, metadata, offsets, produce, str_bytes, txn, Broker, KafkaConfig};
use crate::log::Log;

/// Why a connection is closed instead of answered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RequestError {
    #[error("frame of {0} bytes is negative or above socket.request.max.bytes")]
    FrameSize(i64),
    #[error("frame of {0} bytes is too short for a request header")]
    ShortFrame(usize),
    #[error("unknown API key {0}")]
    UnknownApiKey(i16),
    #[error("{api:?} version {version} is not supported")]
    UnsupportedVersion { api: ApiKey, version: i16 },
    #[error("malformed {api:?} v{version} request: {reason}")]
    Malformed { api: ApiKey, version: i16, reason: String },
    #[error("cannot encode the {api:?} v{version} response: {reason}")]
    Encode { api: ApiKey, version: i16, reason: String },
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A running Kafka listener. Dropping it leaves the listener running until
/// the runtime stops; call [`shutdown`](Self::shutdown) to stop it.
#[derive(Debug)]
pub struct KafkaServer {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    accept: JoinHandle<()>,
}

impl KafkaServer {
    /// Binds `config.listen` and starts accepting Kafka clients on the
    /// current tokio runtime.
    ///
    /// # Errors
    /// The bind error (address in use, permission denied).
    pub async fn bind(log: Log, config: KafkaConfig) -> io::Result<KafkaServer> {
        let listener = TcpListener::bind(config.listen).await?;
        let local_addr = listener.local_addr()?;
        let host = config.advertised_host.clone().unwrap_or_else(|| local_addr.ip().to_string());
        let broker = Arc::new(Broker {
            log,
            node_id: config.node_id,
            host: str_bytes(host),
            port: i32::from(local_addr.port()),
            cluster_id: str_bytes(config.cluster_id.clone()),
            auto_create_topics: config.auto_create_topics,
        });
        let (stop, stopped) = watch::channel(false);
        let max = config.max_request_bytes;
        let accept = tokio::spawn(accept_loop(listener, broker, max, stopped));
        tracing::info!(addr = %local_addr, "Kafka listener started");
        Ok(KafkaServer { local_addr, stop, accept })
    }

    /// The address it listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, closes every connection (in-flight long polls are
    /// cut short) and waits for the accept loop to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.accept.await;
    }
}

async fn accept_loop(listener: TcpListener, broker: Arc<Broker>, max: usize, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let broker = broker.clone();
                    let mut stop = stopped.clone();
                    tokio::spawn(async move {
                        tokio::select! {
                            _ = stop.changed() => {}
                            r = serve_connection(stream, &broker, max) => {
                                if let Err(e) = r {
                                    tracing::debug!(%peer, error = %e, "closing Kafka connection");
                                }
                            }
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
}

async fn serve_connection(stream: TcpStream, broker: &Broker, max: usize) -> Result<(), RequestError> {
    let (mut rd, mut wr) = stream.into_split();
    loop {
        let Some(frame) = read_frame(&mut rd, max).await? else { return Ok(()) };
        if let Some(response) = handle_frame(broker, frame).await? {
            wr.write_all(&response).await?;
        }
    }
}

/// Reads one size-prefixed frame; `None` at a clean end of stream.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(rd: &mut R, max: usize) -> Result<Option<Bytes>, RequestError> {
    let mut len = [0u8; 4];
    match rd.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = i32::from_be_bytes(len);
    if len < 0 || len as usize > max {
        return Err(RequestError::FrameSize(len.into()));
    }
    let len = len as usize;
    let mut buf = BytesMut::with_capacity(len.min(64 * 1024));
    while buf.len() < len {
        if buf.capacity() == buf.len() {
            buf.reserve((len - buf.len()).min(buf.len().max(64 * 1024)));
        }
        let want = (len - buf.len()) as u64;
        let n = (&mut *rd).take(want).read_buf(&mut buf).await?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed inside a frame").into());
        }
    }
    Ok(Some(buf.freeze()))
}

/// A request frame's checked header.
pub(crate) struct FrameHead {
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    client_id: String,
}

/// What the header of a frame says to do.
pub(crate) enum Head {
    /// Decode the body (already walked by the guard) and run it.
    Request(FrameHead),
    /// Answer with this frame at once (an ApiVersions version we do not know).
    AnswerNow(BytesMut),
}

/// Reads and checks a frame's request header, leaving `frame` at the body,
/// and walks the body with the pre-decode guard (see guard.rs) so nothing
/// the body claims can make the decoder over-allocate.
///
/// # Errors
/// A [`RequestError`] when the connection must be closed.
pub(crate) fn read_head(frame: &mut Bytes) -> Result<Head, RequestError> {
    if frame.len() < 8 {
        return Err(RequestError::ShortFrame(frame.len()));
    }
    let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let api = ApiKey::try_from(raw_key).map_err(|_| RequestError::UnknownApiKey(raw_key))?;
    let supported = api_versions::supported_versions(api);
    if api == ApiKey::ApiVersions && supported.is_some_and(|(lo, hi)| version < lo || version > hi) {
        return encode(api, 0, correlation_id, &api_versions::unsupported()).map(Head::AnswerNow);
    }
    let Some((lo, hi)) = supported else { return Err(RequestError::UnsupportedVersion { api, version }) };
    if version < lo || version > hi {
        return Err(RequestError::UnsupportedVersion { api, version });
    }
    let header = RequestHeader::decode(frame, api.request_header_version(version))
        .map_err(|e| RequestError::Malformed { api, version, reason: e.to_string() })?;
    let client_id = header.client_id.as_deref().unwrap_or("").to_string();
    guard::check_request(api, version, frame)
        .map_err(|reason| RequestError::Malformed { api, version, reason: format!("pre-decode guard: {reason}") })?;
    Ok(Head::Request(FrameHead { api, version, correlation_id, client_id }))
}

/// Decodes a request frame as the listener does (header, version check,
/// guard walk, body decode) without running it: the entry point of the
/// `request_decoder` fuzz target.
///
/// # Errors
/// Why the listener would close the connection.
pub fn decode_request_frame(frame: &[u8]) -> Result<(), String> {
    use kafka_protocol::messages::*;
    let mut frame = Bytes::copy_from_slice(frame);
    let head = match read_head(&mut frame).map_err(|e| e.to_string())? {
        Head::AnswerNow(_) => return Ok(()),
        Head::Request(h) => h,
    };
    let (api, version) = (head.api, head.version);
    fn body<T: Decodable>(frame: &mut Bytes, version: i16) -> Result<(), String> {
        T::decode(frame, version).map(drop).map_err(|e| e.to_string())
    }
    let b = &mut frame;
    match api {
        ApiKey::ApiVersions => body::<ApiVersionsRequest>(b, version),
        ApiKey::Metadata => body::<MetadataRequest>(b, version),
        ApiKey::Produce => body::<ProduceRequest>(b, version),
        ApiKey::Fetch => body::<FetchRequest>(b, version),
        ApiKey::ListOffsets => body::<ListOffsetsRequest>(b, version),
        ApiKey::FindCoordinator => body::<FindCoordinatorRequest>(b, version),
        ApiKey::JoinGroup => body::<JoinGroupRequest>(b, version),
        ApiKey::SyncGroup => body::<SyncGroupRequest>(b, version),
        ApiKey::Heartbeat => body::<HeartbeatRequest>(b, version),
        ApiKey::LeaveGroup => body::<LeaveGroupRequest>(b, version),
        ApiKey::OffsetCommit => body::<OffsetCommitRequest>(b, version),
        ApiKey::OffsetFetch => body::<OffsetFetchRequest>(b, version),
        ApiKey::DescribeGroups => body::<DescribeGroupsRequest>(b, version),
        ApiKey::ListGroups => body::<ListGroupsRequest>(b, version),
        ApiKey::CreateTopics => body::<CreateTopicsRequest>(b, version),
        ApiKey::DeleteTopics => body::<DeleteTopicsRequest>(b, version),
        ApiKey::DescribeConfigs => body::<DescribeConfigsRequest>(b, version),
        ApiKey::InitProducerId => body::<InitProducerIdRequest>(b, version),
        ApiKey::AddPartitionsToTxn => body::<AddPartitionsToTxnRequest>(b, version),
        ApiKey::AddOffsetsToTxn => body::<AddOffsetsToTxnRequest>(b, version),
        ApiKey::EndTxn => body::<EndTxnRequest>(b, version),
        ApiKey::TxnOffsetCommit => body::<TxnOffsetCommitRequest>(b, version),
        _ => Err(format!("{api:?} has no decoder here")),
    }
}

/// Decodes a request frame, runs it and returns the response frame
/// (`None` when the request gets no response: Produce with acks=0).
///
/// # Errors
/// A [`RequestError`] when the connection must be closed.
pub(crate) async fn handle_frame(broker: &Broker, mut frame: Bytes) -> Result<Option<BytesMut>, RequestError> {
    let FrameHead { api, version, correlation_id, client_id } = match read_head(&mut frame)? {
        Head::AnswerNow(answer) => return Ok(Some(answer)),
        Head::Request(head) => head,
    };
    let body = &mut frame;
    macro_rules! run {
        ($handler:expr) => {{
            let req = Decodable::decode(body, version)
                .map_err(|e| RequestError::Malformed { api, version, reason: e.to_string() })?;
            let resp = $handler(req);
            encode(api, version, correlation_id, &resp).map(Some)
        }};
    }
    match api {
        ApiKey::ApiVersions => run!(api_versions::handle),
        ApiKey::Metadata => run!(|r| metadata::handle(broker, r, version)),
        ApiKey::Produce => {
            let req: kafka_protocol::messages::ProduceRequest = Decodable::decode(body, version)
                .map_err(|e| RequestError::Malformed { api, version, reason: e.to_string() })?;
            let acks = req.acks;
            let resp = produce::handle(broker, req, version);
            if acks == 0 {
                return Ok(None);
            }
            encode(api, version, correlation_id, &resp).map(Some)
        }
        ApiKey::Fetch => {
            let req = Decodable::decode(body, version)
                .map_err(|e| RequestError::Malformed { api, version, reason: e.to_string() })?;
            let resp = fetch::handle(broker, req, version).await;
            encode(api, version, correlation_id, &resp).map(Some)
        }
        ApiKey::ListOffsets => run!(|r| offsets::list_offsets(broker, r)),
        ApiKey::FindCoordinator => run!(|r| groups::find_coordinator(broker, r, version)),
        ApiKey::JoinGroup => {
            let req = Decodable::decode(body, version)
                .map_err(|e| RequestError::Malformed { api, version, reason: e.to_string() })?;
            let resp = groups::join_group(broker, req, &client_id, version).await;
            encode(api, version, correlation_id, &resp).map(Some)
        }
        ApiKey::SyncGroup => {
            let req = Decodable::decode(body, version)
                .map_err(|e| RequestError::Malformed { api, version, reason: e.to_string() })?;
            let resp = groups::sync_group(broker, req).await;
            encode(api, version, correlation_id, &resp).map(Some)
        }
        ApiKey::Heartbeat => run!(|r| groups::heartbeat(broker, r)),
        ApiKey::LeaveGroup => run!(|r| groups::leave_group(broker, r, version)),
        ApiKey::OffsetCommit => run!(|r| groups::offset_commit(broker, r)),
        ApiKey::OffsetFetch => run!(|r| groups::offset_fetch(broker, r, version)),
        ApiKey::DescribeGroups => run!(|r| groups::describe_groups(broker, r, version)),
        ApiKey::ListGroups => run!(|r| groups::list_groups(broker, r, version)),
        ApiKey::CreateTopics => run!(|r| admin::create_topics(broker, r, version)),
        ApiKey::DeleteTopics => run!(|r| admin::delete_topics(broker, r, version)),
        ApiKey::DescribeConfigs => run!(|r| admin::describe_configs(broker, r)),
        ApiKey::InitProducerId => run!(|r| txn::init_producer_id(broker, r)),
        ApiKey::AddPartitionsToTxn => run!(|r| txn::add_partitions_to_txn(broker, r)),
        ApiKey::AddOffsetsToTxn => run!(|r| txn::add_offsets_to_txn(broker, r)),
        ApiKey::TxnOffsetCommit => run!(|r| txn::txn_offset_commit(broker, r)),
        ApiKey::EndTxn => run!(|r| txn::end_txn(broker, r)),
        _ => Err(RequestError::UnsupportedVersion { api, version }),
    }
}

/// A whole response frame: length, header, body.
fn encode<R: Encodable>(api: ApiKey, version: i16, correlation_id: i32, body: &R) -> Result<BytesMut, RequestError> {
    let mut header = ResponseHeader::default();
    header.correlation_id = correlation_id;
    let header_version = api.response_header_version(version);
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i32(0);
    header
        .encode(&mut buf, header_version)
        .map_err(|e| RequestError::Encode { api, version, reason: e.to_string() })?;
    body.encode(&mut buf, version).map_err(|e| RequestError::Encode { api, version, reason: e.to_string() })?;
    let len = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf)
}
