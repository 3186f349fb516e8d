//! Kafka's *consumer protocol*: the payloads that consumers put inside a
//! group's JoinGroup member metadata ([`ConsumerSubscription`]) and SyncGroup
//! assignments ([`ConsumerAssignment`]).
//!
//! The coordinator treats both as opaque bytes; only members (and their
//! assignors) read them. Encoding them byte-for-byte as Kafka does lets real
//! Kafka clients and Riffle's embedded consumer share one group.
//!
//! ```text
//! Subscription => version:int16 topics:[string] user_data:nullable_bytes
//!                 owned_partitions:[topic:string partitions:[int32]]   (v1+)
//!                 generation_id:int32                                  (v2+, default -1)
//!                 rack_id:nullable_string                              (v3+, default null)
//! Assignment   => version:int16 partitions:[topic:string partitions:[int32]]
//!                 user_data:nullable_bytes                             (same in v0..=3)
//! ```
//!
//! Decoders accept versions above [`CONSUMER_PROTOCOL_MAX_VERSION`] and ignore
//! trailing bytes, as Kafka does, so newer clients can still join.
//!
//! # Examples
//! ```
//! use riffle_log::group::ConsumerSubscription;
//! let sub = ConsumerSubscription::new(vec!["clicks".into()]);
//! let bytes = sub.encode(3)?;
//! assert_eq!(ConsumerSubscription::decode(&bytes)?, sub);
//! # Ok::<(), riffle_log::LogError>(())
//! ```

use bytes::{BufMut, Bytes, BytesMut};

use super::codec::{array_count, put_nullable_bytes, put_nullable_string, put_string, DecodeError, Reader};
use crate::error::{GroupErrorCode, LogError, Result};
use crate::topic::TopicPartition;

/// The `protocol_type` that consumer groups use in JoinGroup.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// The newest consumer protocol version Riffle writes.
pub const CONSUMER_PROTOCOL_MAX_VERSION: i16 = 3;

/// A consumer's JoinGroup metadata: what it subscribes to and what it owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerSubscription {
    /// Subscribed topics.
    pub topics: Vec<String>,
    /// Assignor-specific bytes.
    pub user_data: Option<Bytes>,
    /// Partitions the member owns now (v1+; the cooperative protocol uses it).
    pub owned_partitions: Vec<TopicPartition>,
    /// The generation in which `owned_partitions` were assigned (v2+; -1 when unknown).
    pub generation_id: i32,
    /// The member's rack (v3+).
    pub rack_id: Option<String>,
}

impl ConsumerSubscription {
    /// A subscription to `topics` that owns nothing.
    pub fn new(topics: Vec<String>) -> Self {
        ConsumerSubscription {
            topics,
            user_data: None,
            owned_partitions: Vec::new(),
            generation_id: -1,
            rack_id: None,
        }
    }

    /// Encodes at `version`. Fields that `version` lacks are dropped, as Kafka
    /// does (`owned_partitions` below v1, `generation_id` below v2, `rack_id`
    /// below v3).
    ///
    /// # Errors
    /// A `Group` error with code `InconsistentGroupProtocol` when `version` is
    /// outside `0..=3` or a value does not fit the encoding (a string longer
    /// than 32767 bytes).
    pub fn encode(&self, version: i16) -> Result<Bytes> {
        check_version(version, "subscription")?;
        let mut buf = BytesMut::new();
        buf.put_i16(version);
        buf.put_i32(array_count(self.topics.len(), "topics").map_err(encode_err)?);
        for t in &self.topics {
            put_string(&mut buf, t, "topic name").map_err(encode_err)?;
        }
        put_nullable_bytes(&mut buf, self.user_data.as_deref(), "user data").map_err(encode_err)?;
        if version >= 1 {
            put_partitions(&mut buf, &self.owned_partitions)?;
        }
        if version >= 2 {
            buf.put_i32(self.generation_id);
        }
        if version >= 3 {
            put_nullable_string(&mut buf, self.rack_id.as_deref(), "rack id").map_err(encode_err)?;
        }
        Ok(buf.freeze())
    }

    /// Decodes any version; fields newer than the payload's version get their
    /// defaults, and bytes after the fields Riffle knows are ignored.
    ///
    /// # Errors
    /// A `Group` error with code `InconsistentGroupProtocol` saying where the
    /// payload is truncated or malformed.
    pub fn decode(buf: &[u8]) -> Result<Self> {
        let mut r = Reader::new(buf);
        let what = "consumer subscription";
        let version = read_version(&mut r, what)?;
        let n = r.array_len("topics", 2).map_err(|e| decode_err(what, e))?;
        let mut topics = Vec::with_capacity(n);
        for _ in 0..n {
            topics.push(r.string("topic name").map_err(|e| decode_err(what, e))?);
        }
        let user_data = r
            .nullable_bytes("user data")
            .map_err(|e| decode_err(what, e))?
            .map(Bytes::copy_from_slice);
        let owned_partitions =
            if version >= 1 { read_partitions(&mut r, what)? } else { Vec::new() };
        let generation_id =
            if version >= 2 { r.i32("generation id").map_err(|e| decode_err(what, e))? } else { -1 };
        let rack_id = if version >= 3 {
            r.nullable_string("rack id").map_err(|e| decode_err(what, e))?
        } else {
            None
        };
        Ok(ConsumerSubscription { topics, user_data, owned_partitions, generation_id, rack_id })
    }
}

/// A member's SyncGroup assignment: the partitions it should consume.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsumerAssignment {
    /// Assigned partitions.
    pub partitions: Vec<TopicPartition>,
    /// Assignor-specific bytes.
    pub user_data: Option<Bytes>,
}

impl ConsumerAssignment {
    /// An assignment of `partitions` without user data.
    pub fn new(partitions: Vec<TopicPartition>) -> Self {
        ConsumerAssignment { partitions, user_data: None }
    }

    /// Encodes at `version` (the layout is the same for `0..=3`).
    ///
    /// # Errors
    /// As [`ConsumerSubscription::encode`].
    pub fn encode(&self, version: i16) -> Result<Bytes> {
        check_version(version, "assignment")?;
        let mut buf = BytesMut::new();
        buf.put_i16(version);
        put_partitions(&mut buf, &self.partitions)?;
        put_nullable_bytes(&mut buf, self.user_data.as_deref(), "user data").map_err(encode_err)?;
        Ok(buf.freeze())
    }

    /// Decodes any version, ignoring trailing bytes.
    ///
    /// An empty payload decodes as an empty assignment: that is what the
    /// coordinator hands a member the leader gave nothing to.
    ///
    /// # Errors
    /// As [`ConsumerSubscription::decode`].
    pub fn decode(buf: &[u8]) -> Result<Self> {
        if buf.is_empty() {
            return Ok(ConsumerAssignment::default());
        }
        let what = "consumer assignment";
        let mut r = Reader::new(buf);
        read_version(&mut r, what)?;
        let partitions = read_partitions(&mut r, what)?;
        let user_data = r
            .nullable_bytes("user data")
            .map_err(|e| decode_err(what, e))?
            .map(Bytes::copy_from_slice);
        Ok(ConsumerAssignment { partitions, user_data })
    }
}

fn check_version(version: i16, what: &str) -> Result<()> {
    if (0..=CONSUMER_PROTOCOL_MAX_VERSION).contains(&version) {
        Ok(())
    } else {
        Err(protocol_error(format!(
            "cannot encode consumer {what} version {version}; supported: 0..={CONSUMER_PROTOCOL_MAX_VERSION}"
        )))
    }
}

fn read_version(r: &mut Reader<'_>, what: &'static str) -> Result<i16> {
    let version = r.i16("version").map_err(|e| decode_err(what, e))?;
    if version < 0 {
        return Err(protocol_error(format!("malformed {what}: negative version {version}")));
    }
    Ok(version)
}

/// Writes partitions grouped by topic: each run of consecutive entries with
/// the same topic becomes one `(topic, [partition])` element, so the order of
/// the list survives a round trip.
fn put_partitions(buf: &mut BytesMut, partitions: &[TopicPartition]) -> Result<()> {
    let runs: Vec<&[TopicPartition]> = partitions.chunk_by(|a, b| a.topic == b.topic).collect();
    buf.put_i32(array_count(runs.len(), "topic partitions").map_err(encode_err)?);
    for run in runs {
        put_string(buf, &run[0].topic, "topic name").map_err(encode_err)?;
        buf.put_i32(array_count(run.len(), "partitions").map_err(encode_err)?);
        for tp in run {
            buf.put_i32(tp.partition);
        }
    }
    Ok(())
}

fn read_partitions(r: &mut Reader<'_>, what: &'static str) -> Result<Vec<TopicPartition>> {
    let n = r.array_len("topic partitions", 6).map_err(|e| decode_err(what, e))?;
    let mut out = Vec::new();
    for _ in 0..n {
        let topic = r.string("topic name").map_err(|e| decode_err(what, e))?;
        let m = r.array_len("partitions", 4).map_err(|e| decode_err(what, e))?;
        out.reserve(m);
        for _ in 0..m {
            let partition = r.i32("partition").map_err(|e| decode_err(what, e))?;
            out.push(TopicPartition { topic: topic.clone(), partition });
        }
    }
    Ok(out)
}

fn protocol_error(reason: String) -> LogError {
    // The payload does not know its group; callers that do may re-wrap.
    LogError::group("", GroupErrorCode::InconsistentGroupProtocol, reason)
}

fn decode_err(what: &str, e: DecodeError) -> LogError {
    protocol_error(format!("malformed {what}: {e}"))
}

fn encode_err(e: super::codec::EncodeError) -> LogError {
    protocol_error(format!("cannot encode consumer protocol payload: {e}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tp(t: &str, p: i32) -> TopicPartition {
        TopicPartition::new(t, p)
    }

    fn sample() -> ConsumerSubscription {
        ConsumerSubscription {
            topics: vec!["a".into(), "bc".into()],
            user_data: Some(Bytes::from_static(&[9, 8])),
            owned_partitions: vec![tp("a", 0), tp("a", 2), tp("bc", 1)],
            generation_id: 7,
            rack_id: Some("r1".into()),
        }
    }

    /// The v3 bytes, written out by hand from Kafka's schema.
    const SAMPLE_V3: &[u8] = &[
        0, 3, // version
        0, 0, 0, 2, // 2 topics
        0, 1, b'a', // "a"
        0, 2, b'b', b'c', // "bc"
        0, 0, 0, 2, 9, 8, // user data
        0, 0, 0, 2, // 2 owned topics
        0, 1, b'a', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, // a: [0, 2]
        0, 2, b'b', b'c', 0, 0, 0, 1, 0, 0, 0, 1, // bc: [1]
        0, 0, 0, 7, // generation
        0, 2, b'r', b'1', // rack
    ];

    #[test]
    fn subscription_v3_matches_hand_written_bytes() {
        assert_eq!(&sample().encode(3).unwrap()[..], SAMPLE_V3);
        assert_eq!(ConsumerSubscription::decode(SAMPLE_V3).unwrap(), sample());
    }

    #[test]
    fn subscription_v0_matches_hand_written_bytes() {
        let bytes: &[u8] = &[0, 0, 0, 0, 0, 1, 0, 1, b'a', 0xff, 0xff, 0xff, 0xff];
        let sub = ConsumerSubscription::new(vec!["a".into()]);
        assert_eq!(&sub.encode(0).unwrap()[..], bytes);
        assert_eq!(ConsumerSubscription::decode(bytes).unwrap(), sub);
        // v0 drops the newer fields.
        let v0 = ConsumerSubscription::decode(&sample().encode(0).unwrap()).unwrap();
        assert!(v0.owned_partitions.is_empty());
        assert_eq!(v0.generation_id, -1);
        assert_eq!(v0.rack_id, None);
    }

    #[test]
    fn assignment_matches_hand_written_bytes() {
        let bytes: &[u8] = &[
            0, 1, // version
            0, 0, 0, 1, 0, 1, b'x', 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, // x: [3, 4]
            0xff, 0xff, 0xff, 0xff, // null user data
        ];
        let a = ConsumerAssignment::new(vec![tp("x", 3), tp("x", 4)]);
        assert_eq!(&a.encode(1).unwrap()[..], bytes);
        assert_eq!(ConsumerAssignment::decode(bytes).unwrap(), a);
        assert_eq!(ConsumerAssignment::decode(&[]).unwrap(), ConsumerAssignment::default());
    }

    #[test]
    fn higher_version_with_trailing_bytes_is_accepted() {
        let mut v = SAMPLE_V3.to_vec();
        v[1] = 9; // version 9
        v.extend_from_slice(&[1, 2, 3, 4, 5]);
        assert_eq!(ConsumerSubscription::decode(&v).unwrap(), sample());
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        for len in 0..SAMPLE_V3.len() {
            let err = ConsumerSubscription::decode(&SAMPLE_V3[..len]).unwrap_err();
            match err {
                LogError::Group { code, reason, .. } => {
                    assert_eq!(code, GroupErrorCode::InconsistentGroupProtocol);
                    assert!(reason.contains("truncated"), "{reason}");
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn unsupported_encode_version_is_refused() {
        assert!(sample().encode(4).is_err());
        assert!(ConsumerAssignment::default().encode(-1).is_err());
    }

    fn arb_tp() -> impl Strategy<Value = TopicPartition> {
        ("[a-c]{1,3}", 0..50i32).prop_map(|(t, p)| TopicPartition::new(t, p))
    }

    proptest! {
        #[test]
        fn subscription_round_trips(
            topics in prop::collection::vec("[a-z._-]{1,12}", 0..5),
            user_data in prop::option::of(prop::collection::vec(any::<u8>(), 0..20)),
            owned in prop::collection::vec(arb_tp(), 0..10),
            generation_id in any::<i32>(),
            rack_id in prop::option::of("[a-z0-9]{0,6}"),
        ) {
            let sub = ConsumerSubscription {
                topics, user_data: user_data.map(Bytes::from), owned_partitions: owned, generation_id, rack_id,
            };
            let back = ConsumerSubscription::decode(&sub.encode(3).unwrap()).unwrap();
            prop_assert_eq!(&back, &sub);
            let v1 = ConsumerSubscription::decode(&sub.encode(1).unwrap()).unwrap();
            prop_assert_eq!(&v1.owned_partitions, &sub.owned_partitions);
            prop_assert_eq!(v1.generation_id, -1);
        }

        #[test]
        fn assignment_round_trips(
            parts in prop::collection::vec(arb_tp(), 0..20),
            user_data in prop::option::of(prop::collection::vec(any::<u8>(), 0..20)),
            version in 0..=3i16,
        ) {
            let a = ConsumerAssignment { partitions: parts, user_data: user_data.map(Bytes::from) };
            prop_assert_eq!(ConsumerAssignment::decode(&a.encode(version).unwrap()).unwrap(), a);
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = ConsumerSubscription::decode(&bytes);
            let _ = ConsumerAssignment::decode(&bytes);
        }
    }
}
