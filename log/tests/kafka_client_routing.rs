//! `KafkaLogClient` routes requests the way Kafka's clients do: it asks the
//! bootstrap broker for metadata, then sends produce, fetch and offset
//! lookups to the partition's leader and group requests to the group's
//! coordinator, at the addresses the cluster advertises. When a leader
//! moves, the client finds it again.
//!
//! The broker is a real riffle listener. The client bootstraps through a
//! small TCP relay that records the API key of every request passing
//! through it. Whatever the client sends to the advertised address bypasses
//! the relay, so the relay shows which requests the client routed and which
//! it sent to the bootstrap broker.

#![cfg(feature = "kafka")]
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use riffle_log::group::JoinGroupRequest;
use riffle_log::kafka::{KafkaConfig, KafkaLogClient, KafkaServer};
use riffle_log::{Log, LogClient, LogConfig, Record, TopicConfig, TopicPartition};

/// A TCP relay in front of the broker that notes each request's API key.
struct Relay {
    addr: SocketAddr,
    target: Arc<Mutex<SocketAddr>>,
    seen: Arc<Mutex<Vec<i16>>>,
}

impl Relay {
    fn start(target: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let target = Arc::new(Mutex::new(target));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (t, s) = (target.clone(), seen.clone());
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let to = *t.lock().unwrap();
                let Ok(server) = TcpStream::connect(to) else { continue };
                let seen = s.clone();
                let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                thread::spawn(move || {
                    // Client to broker, frame by frame: [len][api key]...
                    let mut len = [0u8; 4];
                    while c_in.read_exact(&mut len).is_ok() {
                        let mut frame = vec![0u8; i32::from_be_bytes(len).max(0) as usize];
                        if c_in.read_exact(&mut frame).is_err() || frame.len() < 2 {
                            break;
                        }
                        seen.lock().unwrap().push(i16::from_be_bytes([frame[0], frame[1]]));
                        if s_out.write_all(&len).and_then(|()| s_out.write_all(&frame)).is_err() {
                            break;
                        }
                    }
                    let _ = s_out.shutdown(Shutdown::Both);
                });
                let (mut s_in, mut c_out) = (server, client);
                thread::spawn(move || {
                    let _ = std::io::copy(&mut s_in, &mut c_out);
                    let _ = c_out.shutdown(Shutdown::Both);
                });
            }
        });
        Relay { addr, target, seen }
    }

    fn retarget(&self, to: SocketAddr) {
        *self.target.lock().unwrap() = to;
    }

    /// API keys seen so far, forgetting them.
    fn take(&self) -> Vec<i16> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

/// A riffle broker on a fresh port, over the log in `dir`.
struct Broker {
    rt: tokio::runtime::Runtime,
    server: Option<KafkaServer>,
    log: Log,
}

impl Broker {
    fn start(dir: &Path) -> Broker {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let log = Log::open(dir, LogConfig::default()).unwrap();
        let server = rt.block_on(KafkaServer::bind(log.clone(), KafkaConfig::local("127.0.0.1:0".parse().unwrap())));
        Broker { rt, server: Some(server.unwrap()), log }
    }

    fn addr(&self) -> SocketAddr {
        self.server.as_ref().unwrap().local_addr()
    }

    fn stop(mut self) {
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.shutdown());
        }
        self.log.close().unwrap();
    }
}

const METADATA: i16 = 3;
const CREATE_TOPICS: i16 = 19;
const FIND_COORDINATOR: i16 = 10;

fn values(client: &KafkaLogClient, topic: &str, partition: i32) -> Vec<String> {
    let fetched = client.read(topic, partition, 0, 1 << 20).unwrap();
    fetched.records.into_iter().map(|r| String::from_utf8(r.value.unwrap().to_vec()).unwrap()).collect()
}

#[test]
fn partition_and_group_requests_go_to_the_advertised_leader_and_coordinator() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let relay = Relay::start(broker.addr());
    let client = KafkaLogClient::connect(&relay.addr.to_string(), "routing-test").unwrap();

    assert_eq!(client.ensure_topic("t", &TopicConfig::with_partitions(2)).unwrap(), 2);
    client.append("t", 1, &[Record::value("a"), Record::value("b")]).unwrap();
    assert_eq!(values(&client, "t", 1), ["a", "b"]);
    assert_eq!(client.offsets("t", 1).unwrap(), (0, 2));

    let joined = client
        .join_group(JoinGroupRequest {
            group_id: "g".into(),
            member_id: String::new(),
            group_instance_id: None,
            client_id: "routing-test".into(),
            session_timeout: Duration::from_secs(10),
            rebalance_timeout: Duration::from_secs(1),
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), Bytes::from_static(b"m"))],
        })
        .unwrap();
    client
        .sync_group("g", &joined.member_id, joined.generation_id, vec![(joined.member_id.clone(), Bytes::new())], Duration::from_secs(5))
        .unwrap();
    client.heartbeat("g", &joined.member_id, joined.generation_id).unwrap();
    let tp = TopicPartition::new("t", 1);
    client.commit_member_offsets("g", &joined.member_id, joined.generation_id, &[(tp.clone(), 2)]).unwrap();
    assert_eq!(client.committed_offset("g", &tp).unwrap(), Some(2));
    client.leave_group("g", &joined.member_id).unwrap();

    // Only cluster-wide questions went to the bootstrap address.
    let seen = relay.take();
    assert!(seen.iter().all(|k| [METADATA, CREATE_TOPICS, FIND_COORDINATOR].contains(k)), "through the relay: {seen:?}");
    assert!(seen.contains(&METADATA) && seen.contains(&FIND_COORDINATOR), "{seen:?}");
    drop(client);
    broker.stop();
}

#[test]
fn a_leader_that_moved_is_found_through_fresh_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let first = Broker::start(dir.path());
    let relay = Relay::start(first.addr());
    let client = KafkaLogClient::connect(&relay.addr.to_string(), "routing-test").unwrap();
    client.ensure_topic("t", &TopicConfig::with_partitions(1)).unwrap();
    client.append("t", 0, &[Record::value("before")]).unwrap();

    // The partition's leader moves: the same log comes back on another port,
    // and the bootstrap address now leads there.
    first.stop();
    let second = Broker::start(dir.path());
    relay.retarget(second.addr());
    relay.take();

    client.append("t", 0, &[Record::value("after")]).unwrap();
    assert_eq!(values(&client, "t", 0), ["before", "after"]);
    assert_eq!(relay.take(), [METADATA], "one metadata refresh, then straight to the new leader");
    drop(client);
    second.stop();
}
