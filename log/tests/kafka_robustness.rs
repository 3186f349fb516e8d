//! The Kafka listener against malformed input on raw TCP sockets: every bad
//! frame gets an error response or a closed connection, the broker keeps
//! serving other connections, and nothing large is allocated on a peer's say.

#![cfg(feature = "kafka")]
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ProduceRequest, RequestHeader};
use kafka_protocol::protocol::{Encodable, StrBytes};
use riffle_log::kafka::{KafkaConfig, KafkaServer};
use riffle_log::{BatchBuilder, Compression, Log, LogConfig, Record, TopicConfig};

struct Fixture {
    rt: tokio::runtime::Runtime,
    server: Option<KafkaServer>,
    log: Log,
    _dir: tempfile::TempDir,
}

impl Fixture {
    fn new(max_request_bytes: usize) -> Fixture {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open(dir.path(), LogConfig::default()).unwrap();
        log.create_topic("t", TopicConfig::with_partitions(1)).unwrap();
        let mut config = KafkaConfig::local("127.0.0.1:0".parse().unwrap());
        config.max_request_bytes = max_request_bytes;
        let server = rt.block_on(KafkaServer::bind(log.clone(), config)).unwrap();
        Fixture { rt, server: Some(server), log, _dir: dir }
    }

    fn addr(&self) -> SocketAddr {
        self.server.as_ref().unwrap().local_addr()
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    /// The broker still answers a well-formed ApiVersions on a new connection.
    fn assert_alive(&self) {
        let mut s = self.connect();
        s.write_all(&request(ApiKey::ApiVersions, 3, 7, &ApiVersionsRequest::default())).unwrap();
        let resp = read_response(&mut s).expect("ApiVersions answered");
        assert_eq!(&resp[0..4], &7i32.to_be_bytes(), "correlation id");
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.shutdown());
        }
        let _ = self.log.close();
    }
}

fn request<R: Encodable>(api: ApiKey, version: i16, correlation_id: i32, body: &R) -> Vec<u8> {
    let mut h = RequestHeader::default();
    h.request_api_key = api as i16;
    h.request_api_version = version;
    h.correlation_id = correlation_id;
    h.client_id = Some(StrBytes::from_static_str("robustness"));
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    h.encode(&mut buf, api.request_header_version(version)).unwrap();
    body.encode(&mut buf, version).unwrap();
    let len = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&len.to_be_bytes());
    buf.to_vec()
}

/// One response frame (without its length), or `None` if the connection closed.
fn read_response(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).ok()?;
    Some(body)
}

fn assert_closed(s: &mut TcpStream) {
    let mut buf = [0u8; 16];
    match s.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("expected the connection to be closed, got {other:?}"),
    }
}

#[test]
fn oversized_and_negative_frame_lengths_close_the_connection() {
    let f = Fixture::new(1024);
    for len in [1025i32, i32::MAX, -1, i32::MIN] {
        let mut s = f.connect();
        s.write_all(&len.to_be_bytes()).unwrap();
        assert_closed(&mut s);
    }
    // A request just over socket.request.max.bytes, fully sent.
    let mut s = f.connect();
    let mut frame = 2000i32.to_be_bytes().to_vec();
    frame.extend(std::iter::repeat_n(0u8, 2000));
    let _ = s.write_all(&frame);
    assert_closed(&mut s);
    f.assert_alive();
}

#[test]
fn truncated_frames_and_short_headers_are_survived() {
    let f = Fixture::new(1 << 20);
    // Announces 100 bytes, sends 10, hangs up.
    let mut s = f.connect();
    s.write_all(&100i32.to_be_bytes()).unwrap();
    s.write_all(&[0u8; 10]).unwrap();
    drop(s);
    // A frame shorter than a request header.
    let mut s = f.connect();
    s.write_all(&3i32.to_be_bytes()).unwrap();
    s.write_all(&[0, 18, 0]).unwrap();
    assert_closed(&mut s);
    // A valid header whose body is cut short (ApiVersions v3 needs strings).
    let mut full = request(ApiKey::ApiVersions, 3, 1, &ApiVersionsRequest::default());
    full.truncate(full.len() - 2);
    let len = (full.len() - 4) as i32;
    full[0..4].copy_from_slice(&len.to_be_bytes());
    let mut s = f.connect();
    s.write_all(&full).unwrap();
    assert_closed(&mut s);
    f.assert_alive();
}

#[test]
fn unknown_api_keys_and_versions_close_the_connection() {
    let f = Fixture::new(1 << 20);
    for (key, version) in [(999i16, 0i16), (-5, 0), (ApiKey::Produce as i16, 0), (ApiKey::Fetch as i16, 99)] {
        let mut s = f.connect();
        let mut frame = BytesMut::new();
        frame.put_i32(10);
        frame.put_i16(key);
        frame.put_i16(version);
        frame.put_i32(42);
        frame.put_i16(-1);
        s.write_all(&frame).unwrap();
        assert_closed(&mut s);
    }
    f.assert_alive();
}

#[test]
fn unsupported_api_versions_version_gets_a_v0_error_body() {
    let f = Fixture::new(1 << 20);
    let mut s = f.connect();
    let mut frame = BytesMut::new();
    frame.put_i32(0);
    frame.put_i16(ApiKey::ApiVersions as i16);
    frame.put_i16(77);
    frame.put_i32(5);
    frame.put_i16(-1);
    frame.put_u8(0);
    let len = (frame.len() - 4) as i32;
    frame[0..4].copy_from_slice(&len.to_be_bytes());
    s.write_all(&frame).unwrap();
    let resp = read_response(&mut s).expect("an answer");
    assert_eq!(&resp[0..4], &5i32.to_be_bytes());
    // v0 body: error_code then a non-compact array of (key, min, max).
    assert_eq!(i16::from_be_bytes([resp[4], resp[5]]), 35, "UNSUPPORTED_VERSION");
    let n = i32::from_be_bytes([resp[6], resp[7], resp[8], resp[9]]);
    assert!(n > 10);
    assert_eq!(resp.len(), 10 + n as usize * 6, "nothing but the v0 body");
}

#[test]
fn produce_with_lying_record_count_is_refused_not_stored() {
    let f = Fixture::new(1 << 20);
    let mut b = BatchBuilder::new(Compression::None);
    b.push(&Record::value("only-one"), 0);
    let mut batch = b.build(0).unwrap().to_vec();
    // recordCount at byte 57 claims a million records; fix the CRC so only
    // the count is wrong.
    batch[57..61].copy_from_slice(&1_000_000i32.to_be_bytes());
    let crc = crc32c::crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    let mut req = ProduceRequest::default();
    req.acks = 1;
    req.timeout_ms = 1000;
    let mut pd = kafka_protocol::messages::produce_request::PartitionProduceData::default();
    pd.index = 0;
    pd.records = Some(batch.into());
    let mut td = kafka_protocol::messages::produce_request::TopicProduceData::default();
    td.name = kafka_protocol::messages::TopicName(StrBytes::from_static_str("t"));
    td.partition_data = vec![pd];
    req.topic_data = vec![td];
    let mut s = f.connect();
    s.write_all(&request(ApiKey::Produce, 9, 3, &req)).unwrap();
    let resp = read_response(&mut s).expect("a produce response");
    assert_eq!(&resp[0..4], &3i32.to_be_bytes());
    assert_eq!(f.log.partition("t", 0).unwrap().high_watermark(), 0, "nothing stored");
    f.assert_alive();
}

/// KIP-890 part 1 on the wire: a transactional batch for a partition that
/// is not in the open transaction is refused with INVALID_TXN_STATE and not
/// stored; once AddPartitionsToTxn has added the partition it is accepted.
#[test]
fn transactional_produce_outside_the_transaction_is_refused() {
    use kafka_protocol::messages::{ProduceResponse, ResponseHeader, TransactionalId};
    use kafka_protocol::protocol::Decodable;
    use riffle_log::ProducerFields;

    let f = Fixture::new(1 << 20);
    let (pid, epoch) = f.log.init_transactional_producer("w", 60_000, None).unwrap();
    let produce = |seq: i32, correlation_id: i32| {
        let mut b = BatchBuilder::new(Compression::None);
        b.set_producer(ProducerFields { producer_id: pid, producer_epoch: epoch, base_sequence: seq, transactional: true });
        b.push(&Record::value("in-txn"), 0);
        let mut req = ProduceRequest::default();
        req.transactional_id = Some(TransactionalId(StrBytes::from_static_str("w")));
        req.acks = -1;
        req.timeout_ms = 1000;
        let mut pd = kafka_protocol::messages::produce_request::PartitionProduceData::default();
        pd.records = Some(b.build(0).unwrap());
        let mut td = kafka_protocol::messages::produce_request::TopicProduceData::default();
        td.name = kafka_protocol::messages::TopicName(StrBytes::from_static_str("t"));
        td.partition_data = vec![pd];
        req.topic_data = vec![td];
        let mut s = f.connect();
        s.write_all(&request(ApiKey::Produce, 9, correlation_id, &req)).unwrap();
        let mut resp = bytes::Bytes::from(read_response(&mut s).expect("a produce response"));
        ResponseHeader::decode(&mut resp, ApiKey::Produce.response_header_version(9)).unwrap();
        let resp = ProduceResponse::decode(&mut resp, 9).unwrap();
        resp.responses[0].partition_responses[0].clone()
    };
    let refused = produce(0, 1);
    assert_eq!(refused.error_code, 48, "INVALID_TXN_STATE");
    let msg = refused.error_message.map(|m| m.to_string()).unwrap_or_default();
    assert!(msg.contains("Partition was not added to the transaction"), "{msg}");
    assert_eq!(f.log.partition("t", 0).unwrap().high_watermark(), 0, "nothing stored");

    f.log.add_partitions_to_txn("w", pid, epoch, [riffle_log::topic::TopicPartition::new("t", 0)]).unwrap();
    let accepted = produce(0, 2);
    assert_eq!((accepted.error_code, accepted.base_offset), (0, 0));
    assert_eq!(f.log.partition("t", 0).unwrap().high_watermark(), 1);
}

/// A raw request frame: header v1 (null client id) or v2 (plus empty tagged
/// fields), then `body` as given.
fn raw_frame(api: ApiKey, version: i16, body: &[u8]) -> Vec<u8> {
    let mut frame = BytesMut::new();
    frame.put_i32(0);
    frame.put_i16(api as i16);
    frame.put_i16(version);
    frame.put_i32(99);
    frame.put_i16(-1);
    if api.request_header_version(version) >= 2 {
        frame.put_u8(0);
    }
    frame.put_slice(body);
    let len = (frame.len() - 4) as i32;
    frame[0..4].copy_from_slice(&len.to_be_bytes());
    frame.to_vec()
}

/// Bodies of a few bytes whose array lengths ask `kafka-protocol` 0.18 for
/// allocations of many gigabytes (`Vec::with_capacity` before any bounds
/// check; a failed allocation aborts the whole process). Each must close
/// its connection and leave the broker serving.
#[test]
fn huge_array_lengths_close_the_connection_without_allocating() {
    let f = Fixture::new(1 << 20);
    let compact_max = [0xff, 0xff, 0xff, 0xff, 0x0f]; // u32::MAX as a varint: 2^32 - 2 elements
    let mut cases: Vec<(ApiKey, i16, Vec<u8>)> = vec![
        // Metadata v0 with 0x033c0c00 topics (the published reproducer), then 2^31 - 1.
        (ApiKey::Metadata, 0, vec![0x03, 0x3c, 0x0c, 0x00, 0, 0, 0, 0]),
        (ApiKey::Metadata, 0, i32::MAX.to_be_bytes().to_vec()),
        (ApiKey::Metadata, 12, compact_max.to_vec()),
        (ApiKey::DescribeGroups, 0, i32::MAX.to_be_bytes().to_vec()),
        (ApiKey::DescribeGroups, 5, compact_max.to_vec()),
        (ApiKey::CreateTopics, 2, i32::MAX.to_be_bytes().to_vec()),
        (ApiKey::ListGroups, 4, compact_max.to_vec()),
    ];
    // Produce v3: null transactional id, acks, timeout, then the topic array.
    let mut produce = vec![0xff, 0xff, 0, 1, 0, 0, 0x03, 0xe8];
    produce.extend(i32::MAX.to_be_bytes());
    cases.push((ApiKey::Produce, 3, produce));
    // Produce v9: the same with compact encodings.
    let mut produce = vec![0x00, 0, 1, 0, 0, 0x03, 0xe8];
    produce.extend(compact_max);
    cases.push((ApiKey::Produce, 9, produce));
    // Fetch v4: replica id, max wait, min bytes, max bytes, isolation, topics.
    let mut fetch = vec![0xff; 4];
    fetch.extend([0u8; 12]);
    fetch.push(0);
    fetch.extend(i32::MAX.to_be_bytes());
    cases.push((ApiKey::Fetch, 4, fetch));
    // Fetch v12: one topic named "t" whose partition array is huge.
    let mut fetch = vec![0xff; 4];
    fetch.extend([0u8; 12]);
    fetch.push(0);
    fetch.extend([0u8; 8]); // session id and epoch
    fetch.extend([0x02, 0x02, b't']);
    fetch.extend(compact_max);
    cases.push((ApiKey::Fetch, 12, fetch));
    // OffsetCommit v2: group, generation, member, retention, topics.
    let mut commit = vec![0, 1, b'g', 0, 0, 0, 1, 0, 1, b'm'];
    commit.extend([0u8; 8]);
    commit.extend(i32::MAX.to_be_bytes());
    cases.push((ApiKey::OffsetCommit, 2, commit));
    // JoinGroup v0: group, session timeout, member, protocol type, protocols.
    let mut join = vec![0, 1, b'g', 0, 0, 0x75, 0x30, 0, 0, 0, 8];
    join.extend(b"consumer");
    join.extend(i32::MAX.to_be_bytes());
    cases.push((ApiKey::JoinGroup, 0, join));
    for (api, version, body) in cases {
        let mut s = f.connect();
        s.write_all(&raw_frame(api, version, &body)).unwrap();
        assert_closed(&mut s);
        f.assert_alive();
    }
}

/// Valid frames (without the length prefix) of several APIs and versions.
fn valid_frames() -> Vec<Vec<u8>> {
    use kafka_protocol::messages::{
        fetch_request, produce_request, FetchRequest, MetadataRequest, OffsetCommitRequest, TopicName,
    };
    let strip = |f: Vec<u8>| f[4..].to_vec();
    let mut frames = vec![
        strip(request(ApiKey::ApiVersions, 3, 1, &ApiVersionsRequest::default())),
        strip(request(ApiKey::ApiVersions, 0, 1, &ApiVersionsRequest::default())),
    ];
    let mut md = MetadataRequest::default();
    md.topics = Some(vec![kafka_protocol::messages::metadata_request::MetadataRequestTopic::default()
        .with_name(Some(TopicName(StrBytes::from_static_str("t"))))]);
    for v in [0, 4, 9, 12] {
        frames.push(strip(request(ApiKey::Metadata, v, 2, &md)));
    }
    let mut b = BatchBuilder::new(Compression::Lz4);
    b.push(&Record::value("v"), 0);
    let pd = produce_request::PartitionProduceData::default().with_records(Some(b.build(0).unwrap()));
    let td = produce_request::TopicProduceData::default()
        .with_name(TopicName(StrBytes::from_static_str("t")))
        .with_partition_data(vec![pd]);
    let produce = ProduceRequest::default().with_acks(1).with_topic_data(vec![td]);
    for v in [3, 9] {
        frames.push(strip(request(ApiKey::Produce, v, 3, &produce)));
    }
    let fp = fetch_request::FetchPartition::default().with_partition_max_bytes(1 << 20);
    let ft = fetch_request::FetchTopic::default().with_topic(TopicName(StrBytes::from_static_str("t"))).with_partitions(vec![fp]);
    let fetch = FetchRequest::default().with_topics(vec![ft]).with_max_bytes(1 << 20);
    for v in [4, 11, 12] {
        frames.push(strip(request(ApiKey::Fetch, v, 4, &fetch)));
    }
    frames.push(strip(request(ApiKey::OffsetCommit, 8, 5, &OffsetCommitRequest::default())));
    frames
}

#[test]
fn valid_frames_decode_through_the_listener_path() {
    for f in valid_frames() {
        riffle_log::kafka::decode_request_frame(&f).unwrap();
    }
}

/// The fuzz target's entry point on random bytes and on random mutations of
/// valid frames (a bounded stand-in for `cargo fuzz` where nightly is
/// missing): it returns, never panics, never aborts on an allocation.
#[test]
fn random_and_mutated_frames_never_panic() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let seeds = valid_frames();
    for i in 0..200_000u32 {
        let frame: Vec<u8> = if i % 4 == 0 {
            let n = rng.gen_range(0..64);
            (0..n).map(|_| rng.gen()).collect()
        } else {
            let mut f = seeds[rng.gen_range(0..seeds.len())].clone();
            for _ in 0..rng.gen_range(1..4) {
                if f.is_empty() {
                    break;
                }
                let at = rng.gen_range(0..f.len());
                match rng.gen_range(0..4) {
                    0 => f[at] = rng.gen(),
                    1 => f[at] = 0xff,
                    2 => f.truncate(at),
                    _ => f.splice(at..at, [0x7f, 0xff, 0xff, 0xff]).for_each(drop),
                }
            }
            f
        };
        let _ = riffle_log::kafka::decode_request_frame(&frame);
    }
}

/// Writes `valid_frames()` to fuzz/seeds/ (run by hand, see fuzz/README.md).
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, f) in valid_frames().iter().enumerate() {
        std::fs::write(dir.join(format!("frame-{i:02}")), f).unwrap();
    }
}

/// Frames `cargo fuzz` found (fuzz/regressions/): Fetch v17 requests whose
/// partition carries a known tag (ReplicaDirectoryId, a UUID) that declares
/// size 0. The decoder reads 16 bytes for it anyway, so a guard that skipped
/// tags by their declared size lost step with the decoder, which then met a
/// compact array of ~2^32 partitions and asked for 17 GB. The guard must
/// refuse them itself.
#[test]
fn fuzz_found_frames_are_refused_by_the_guard() {
    for frame in [
        &include_bytes!("../../fuzz/regressions/fetch-v17-tagged-uuid-oom-1")[..],
        &include_bytes!("../../fuzz/regressions/fetch-v17-tagged-uuid-oom-2")[..],
    ] {
        let e = riffle_log::kafka::decode_request_frame(frame).unwrap_err();
        assert!(e.contains("pre-decode guard"), "refused by the decoder, not the guard: {e}");
    }
}
