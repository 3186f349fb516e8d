//! Fetch long polling through the Kafka listener: a fetch with nothing to
//! return waits, an append to any of its partitions answers it at once,
//! and with no append it returns empty at `max_wait_ms`.

#![cfg(feature = "kafka")]
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{ApiKey, FetchRequest, FetchResponse, RequestHeader, ResponseHeader, TopicName};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use riffle_log::kafka::{KafkaConfig, KafkaServer};
use riffle_log::{AppendOptions, Log, LogConfig, Record, TopicConfig};

const VERSION: i16 = 11;

fn fetch_frame(max_wait_ms: i32) -> Vec<u8> {
    let mut req = FetchRequest::default();
    req.replica_id = kafka_protocol::messages::BrokerId(-1);
    req.max_wait_ms = max_wait_ms;
    req.min_bytes = 1;
    req.max_bytes = 1 << 20;
    let mut topic = FetchTopic::default();
    topic.topic = TopicName(StrBytes::from_static_str("t"));
    topic.partitions = (0..3)
        .map(|i| {
            let mut p = FetchPartition::default();
            p.partition = i;
            p.fetch_offset = 0;
            p.partition_max_bytes = 1 << 20;
            p
        })
        .collect();
    req.topics = vec![topic];
    let mut h = RequestHeader::default();
    h.request_api_key = ApiKey::Fetch as i16;
    h.request_api_version = VERSION;
    h.correlation_id = 1;
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    h.encode(&mut buf, ApiKey::Fetch.request_header_version(VERSION)).unwrap();
    req.encode(&mut buf, VERSION).unwrap();
    let len = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&len.to_be_bytes());
    buf.to_vec()
}

/// Sends a fetch of partitions 0..3 from offset 0 and returns, per
/// partition, the record bytes received, with the time the answer took.
fn fetch(addr: std::net::SocketAddr, max_wait_ms: i32) -> (Vec<usize>, Duration) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let t0 = Instant::now();
    s.write_all(&fetch_frame(max_wait_ms)).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    let took = t0.elapsed();
    let mut body = Bytes::from(body);
    let header = ResponseHeader::decode(&mut body, ApiKey::Fetch.response_header_version(VERSION)).unwrap();
    assert_eq!(header.correlation_id, 1);
    let resp = FetchResponse::decode(&mut body, VERSION).unwrap();
    let sizes = resp.responses[0].partitions.iter().map(|p| p.records.as_ref().map_or(0, |r| r.len())).collect();
    (sizes, took)
}

#[test]
fn an_append_answers_a_waiting_fetch_and_no_append_waits_for_max_wait() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), LogConfig::default()).unwrap();
    log.create_topic("t", TopicConfig::with_partitions(3)).unwrap();
    let server = rt.block_on(KafkaServer::bind(log.clone(), KafkaConfig::local("127.0.0.1:0".parse().unwrap()))).unwrap();
    let addr = server.local_addr();

    // Nothing is appended: the fetch returns empty, after about max_wait.
    let (sizes, took) = fetch(addr, 300);
    assert_eq!(sizes, vec![0, 0, 0]);
    assert!(took >= Duration::from_millis(250), "returned after {took:?}, before max_wait");

    // An append to one partition answers a fetch that would wait 10 s.
    let appender = {
        let log = log.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            let p = log.partition("t", 2).unwrap();
            p.append(&[Record::value("wake up")], &AppendOptions::default()).unwrap();
        })
    };
    let (sizes, took) = fetch(addr, 10_000);
    appender.join().unwrap();
    assert!(sizes[2] > 0 && sizes[0] == 0 && sizes[1] == 0, "{sizes:?}");
    assert!(took < Duration::from_secs(5), "the append did not end the long poll ({took:?})");

    rt.block_on(server.shutdown());
    log.close().unwrap();
}
