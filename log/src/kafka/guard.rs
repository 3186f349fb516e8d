//! The pre-decode guard: walks a request body along its schema and refuses
//! any length prefix larger than the bytes left, before the
//! `kafka-protocol` decoder sees it.
//!
//! Why: `kafka-protocol` 0.18 decodes an array by calling
//! `Vec::with_capacity(n)` with `n` taken from the wire, before it checks
//! that `n` elements can fit in the buffer. A dozen bytes claiming two
//! billion elements ask for hundreds of gigabytes, and a failed allocation
//! aborts the process (it is not a panic that could be caught). Strings and
//! bytes are bounds-checked by the crate, but are checked here too.
//!
//! How: every request type the listener accepts has a table below, one
//! [`Field`] per wire field with the versions it exists in, written from
//! Kafka's message schemas (`clients/src/main/resources/common/message/`).
//! From the API's first flexible version on, strings, bytes and arrays are
//! compact (unsigned-varint length + 1) and every struct ends with tagged
//! fields, which are skipped by their declared size. The walk reads every
//! element of every array, so a request that passes holds, for each array,
//! at least one byte per element it announces: what the decoder then
//! allocates is bounded by the frame's size (itself capped by
//! `socket.request.max.bytes`) times the size of one decoded element.
//!
//! Known tagged fields (in the accepted requests only Fetch's `ClusterId`,
//! `ReplicaState`, `ReplicaDirectoryId` and `HighWatermark`) are decoded by
//! type, whatever size their tag declares, so the walk reads them by type
//! too: skipping them by the declared size would let the walk and the
//! decoder part ways (the fuzzer found exactly that: a zero-size
//! `ReplicaDirectoryId` tag shifted the decoder 16 bytes, onto a huge
//! array length the walk never saw).
//!
//! A request that fails the walk closes the connection, as Kafka does for a
//! request it cannot parse. Trailing bytes after the last field are
//! tolerated (the decoder ignores them too).

use kafka_protocol::messages::ApiKey;

/// One wire field: the versions it is present in and its type; for a
/// tagged field, its tag.
#[derive(Debug, Clone, Copy)]
struct Field {
    lo: i16,
    hi: i16,
    ty: Ty,
    tag: Option<u32>,
}

/// Wire types, as far as lengths are concerned. Nullability does not
/// matter here: a null is always short, and the decoder refuses nulls where
/// the schema forbids them.
#[derive(Debug, Clone, Copy)]
enum Ty {
    /// A fixed-size scalar of this many bytes (int8 … int64, bool, uuid).
    Fixed(usize),
    /// STRING (int16 length) or COMPACT_STRING.
    Str,
    /// BYTES / RECORDS (int32 length) or their compact forms.
    Bytes,
    /// ARRAY (int32 length) or COMPACT_ARRAY of this element type.
    Array(Elem),
    /// A nested struct (only as a tagged field's value here).
    Struct(&'static [Field]),
}

/// An array's element type.
#[derive(Debug, Clone, Copy)]
enum Elem {
    Fixed(usize),
    Str,
    Struct(&'static [Field]),
}

const MAX: i16 = i16::MAX;
const BOOL: Ty = Ty::Fixed(1);
const I8: Ty = Ty::Fixed(1);
const I16: Ty = Ty::Fixed(2);
const I32: Ty = Ty::Fixed(4);
const I64: Ty = Ty::Fixed(8);
const UUID: Ty = Ty::Fixed(16);
const STR: Ty = Ty::Str;
const BYTES: Ty = Ty::Bytes;
const STRS: Ty = Ty::Array(Elem::Str);
const I32S: Ty = Ty::Array(Elem::Fixed(4));

/// A field present in every version.
const fn all(ty: Ty) -> Field {
    Field { lo: 0, hi: MAX, ty, tag: None }
}
/// A field present from version `lo` on.
const fn from(lo: i16, ty: Ty) -> Field {
    Field { lo, hi: MAX, ty, tag: None }
}
/// A field present in versions `lo..=hi`.
const fn range(lo: i16, hi: i16, ty: Ty) -> Field {
    Field { lo, hi, ty, tag: None }
}
/// A known tagged field, valid from version `lo` on. The decoder reads its
/// value by type, whatever size the tag declares, so the walk must too.
const fn tagged(tag: u32, lo: i16, ty: Ty) -> Field {
    Field { lo, hi: MAX, ty, tag: Some(tag) }
}
const fn structs(fields: &'static [Field]) -> Ty {
    Ty::Array(Elem::Struct(fields))
}

// ApiVersions (flexible from v3).
const API_VERSIONS: &[Field] = &[from(3, STR), from(3, STR)];

// Metadata (flexible from v9).
const METADATA_TOPIC: &[Field] = &[from(10, UUID), all(STR)];
const METADATA: &[Field] = &[all(structs(METADATA_TOPIC)), from(4, BOOL), range(8, 10, BOOL), from(8, BOOL)];

// Produce (flexible from v9; v3 is the oldest the crate decodes).
const PRODUCE_PARTITION: &[Field] = &[all(I32), all(BYTES)];
const PRODUCE_TOPIC: &[Field] = &[range(0, 12, STR), from(13, UUID), all(structs(PRODUCE_PARTITION))];
const PRODUCE: &[Field] = &[all(STR), all(I16), all(I32), all(structs(PRODUCE_TOPIC))];

// Fetch (flexible from v12; v4 is the oldest the crate decodes).
const FETCH_PARTITION: &[Field] = &[
    all(I32),
    from(9, I32),
    all(I64),
    from(12, I32),
    from(5, I64),
    all(I32),
    tagged(0, 17, UUID), // ReplicaDirectoryId
    tagged(1, 18, I64),  // HighWatermark
];
const FETCH_TOPIC: &[Field] = &[range(0, 12, STR), from(13, UUID), all(structs(FETCH_PARTITION))];
const FETCH_FORGOTTEN: &[Field] = &[range(7, 12, STR), from(13, UUID), from(7, I32S)];
const FETCH_REPLICA_STATE: &[Field] = &[from(15, I32), from(15, I64)];
const FETCH: &[Field] = &[
    tagged(0, 12, STR),                                 // ClusterId
    tagged(1, 15, Ty::Struct(FETCH_REPLICA_STATE)),     // ReplicaState
    range(0, 14, I32),
    all(I32),
    all(I32),
    all(I32),
    all(I8),
    from(7, I32),
    from(7, I32),
    all(structs(FETCH_TOPIC)),
    from(7, structs(FETCH_FORGOTTEN)),
    from(11, STR),
];

// ListOffsets (flexible from v6; v1 is the oldest the crate decodes).
const LIST_OFFSETS_PARTITION: &[Field] = &[all(I32), from(4, I32), all(I64)];
const LIST_OFFSETS_TOPIC: &[Field] = &[all(STR), all(structs(LIST_OFFSETS_PARTITION))];
const LIST_OFFSETS: &[Field] = &[all(I32), from(2, I8), all(structs(LIST_OFFSETS_TOPIC)), from(10, I32)];

// FindCoordinator (flexible from v3).
const FIND_COORDINATOR: &[Field] = &[range(0, 3, STR), from(1, I8), from(4, STRS)];

// JoinGroup (flexible from v6).
const JOIN_GROUP_PROTOCOL: &[Field] = &[all(STR), all(BYTES)];
const JOIN_GROUP: &[Field] = &[
    all(STR),
    all(I32),
    from(1, I32),
    all(STR),
    from(5, STR),
    all(STR),
    all(structs(JOIN_GROUP_PROTOCOL)),
    from(8, STR),
];

// SyncGroup (flexible from v4).
const SYNC_GROUP_ASSIGNMENT: &[Field] = &[all(STR), all(BYTES)];
const SYNC_GROUP: &[Field] =
    &[all(STR), all(I32), all(STR), from(3, STR), from(5, STR), from(5, STR), all(structs(SYNC_GROUP_ASSIGNMENT))];

// Heartbeat (flexible from v4).
const HEARTBEAT: &[Field] = &[all(STR), all(I32), all(STR), from(3, STR)];

// LeaveGroup (flexible from v4).
const LEAVE_GROUP_MEMBER: &[Field] = &[all(STR), all(STR), from(5, STR)];
const LEAVE_GROUP: &[Field] = &[all(STR), range(0, 2, STR), from(3, structs(LEAVE_GROUP_MEMBER))];

// OffsetCommit (flexible from v8; v2 is the oldest the crate decodes).
const OFFSET_COMMIT_PARTITION: &[Field] = &[all(I32), all(I64), from(6, I32), all(STR)];
const OFFSET_COMMIT_TOPIC: &[Field] = &[all(STR), all(structs(OFFSET_COMMIT_PARTITION))];
const OFFSET_COMMIT: &[Field] =
    &[all(STR), all(I32), all(STR), from(7, STR), range(0, 4, I64), all(structs(OFFSET_COMMIT_TOPIC))];

// OffsetFetch (flexible from v6; one group before v8, a batch of groups after).
const OFFSET_FETCH_TOPIC: &[Field] = &[all(STR), all(I32S)];
const OFFSET_FETCH_GROUP: &[Field] = &[all(STR), from(9, STR), from(9, I32), all(structs(OFFSET_FETCH_TOPIC))];
const OFFSET_FETCH: &[Field] =
    &[range(0, 7, STR), range(0, 7, structs(OFFSET_FETCH_TOPIC)), from(8, structs(OFFSET_FETCH_GROUP)), from(7, BOOL)];

// DescribeGroups (flexible from v5) and ListGroups (flexible from v3).
const DESCRIBE_GROUPS: &[Field] = &[all(STRS), from(3, BOOL)];
const LIST_GROUPS: &[Field] = &[from(4, STRS), from(5, STRS)];

// CreateTopics (flexible from v5; v2 is the oldest the crate decodes).
const CREATE_TOPICS_ASSIGNMENT: &[Field] = &[all(I32), all(I32S)];
const CREATE_TOPICS_CONFIG: &[Field] = &[all(STR), all(STR)];
const CREATE_TOPICS_TOPIC: &[Field] = &[
    all(STR),
    all(I32),
    all(I16),
    all(structs(CREATE_TOPICS_ASSIGNMENT)),
    all(structs(CREATE_TOPICS_CONFIG)),
];
const CREATE_TOPICS: &[Field] = &[all(structs(CREATE_TOPICS_TOPIC)), all(I32), all(BOOL)];

// DeleteTopics (flexible from v4).
const DELETE_TOPICS_STATE: &[Field] = &[all(STR), all(UUID)];
const DELETE_TOPICS: &[Field] = &[from(6, structs(DELETE_TOPICS_STATE)), range(0, 5, STRS), all(I32)];

// DescribeConfigs (flexible from v4).
const DESCRIBE_CONFIGS_RESOURCE: &[Field] = &[all(I8), all(STR), all(STRS)];
const DESCRIBE_CONFIGS: &[Field] = &[all(structs(DESCRIBE_CONFIGS_RESOURCE)), all(BOOL), from(3, BOOL)];

// InitProducerId (flexible from v2).
const INIT_PRODUCER_ID: &[Field] = &[all(STR), all(I32), from(3, I64), from(3, I16)];

// AddPartitionsToTxn (flexible from v3; batched transactions from v4).
const ADD_PARTITIONS_TOPIC: &[Field] = &[all(STR), all(I32S)];
const ADD_PARTITIONS_TXN: &[Field] = &[all(STR), all(I64), all(I16), all(BOOL), all(structs(ADD_PARTITIONS_TOPIC))];
const ADD_PARTITIONS_TO_TXN: &[Field] = &[
    from(4, structs(ADD_PARTITIONS_TXN)),
    range(0, 3, STR),
    range(0, 3, I64),
    range(0, 3, I16),
    range(0, 3, structs(ADD_PARTITIONS_TOPIC)),
];

// AddOffsetsToTxn and EndTxn (flexible from v3).
const ADD_OFFSETS_TO_TXN: &[Field] = &[all(STR), all(I64), all(I16), all(STR)];
const END_TXN: &[Field] = &[all(STR), all(I64), all(I16), all(BOOL)];

// TxnOffsetCommit (flexible from v3).
const TXN_COMMIT_PARTITION: &[Field] = &[all(I32), all(I64), from(2, I32), all(STR)];
const TXN_COMMIT_TOPIC: &[Field] = &[all(STR), all(structs(TXN_COMMIT_PARTITION))];
const TXN_OFFSET_COMMIT: &[Field] = &[
    all(STR),
    all(STR),
    all(I64),
    all(I16),
    from(3, I32),
    from(3, STR),
    from(3, STR),
    all(structs(TXN_COMMIT_TOPIC)),
];

/// The request schema of `api`: its first flexible version and its fields.
/// `None` for the APIs the listener does not accept.
fn schema(api: ApiKey) -> Option<(i16, &'static [Field])> {
    Some(match api {
        ApiKey::ApiVersions => (3, API_VERSIONS),
        ApiKey::Metadata => (9, METADATA),
        ApiKey::Produce => (9, PRODUCE),
        ApiKey::Fetch => (12, FETCH),
        ApiKey::ListOffsets => (6, LIST_OFFSETS),
        ApiKey::FindCoordinator => (3, FIND_COORDINATOR),
        ApiKey::JoinGroup => (6, JOIN_GROUP),
        ApiKey::SyncGroup => (4, SYNC_GROUP),
        ApiKey::Heartbeat => (4, HEARTBEAT),
        ApiKey::LeaveGroup => (4, LEAVE_GROUP),
        ApiKey::OffsetCommit => (8, OFFSET_COMMIT),
        ApiKey::OffsetFetch => (6, OFFSET_FETCH),
        ApiKey::DescribeGroups => (5, DESCRIBE_GROUPS),
        ApiKey::ListGroups => (3, LIST_GROUPS),
        ApiKey::CreateTopics => (5, CREATE_TOPICS),
        ApiKey::DeleteTopics => (4, DELETE_TOPICS),
        ApiKey::DescribeConfigs => (4, DESCRIBE_CONFIGS),
        ApiKey::InitProducerId => (2, INIT_PRODUCER_ID),
        ApiKey::AddPartitionsToTxn => (3, ADD_PARTITIONS_TO_TXN),
        ApiKey::AddOffsetsToTxn => (3, ADD_OFFSETS_TO_TXN),
        ApiKey::EndTxn => (3, END_TXN),
        ApiKey::TxnOffsetCommit => (3, TXN_OFFSET_COMMIT),
        _ => return None,
    })
}

/// Whether the guard knows the request schema of `api`.
#[cfg(test)]
pub(crate) fn knows(api: ApiKey) -> bool {
    schema(api).is_some()
}

/// Walks a request body (the bytes after the request header).
///
/// Returns the number of bytes the schema's fields take.
///
/// # Errors
/// Why the body cannot be a well-formed request of this version: a length
/// larger than the bytes left, a negative length other than null, a
/// truncated field, or an API the guard has no schema for.
pub(crate) fn check_request(api: ApiKey, version: i16, body: &[u8]) -> Result<usize, String> {
    let (flexible_from, fields) = schema(api).ok_or_else(|| format!("no request schema for {api:?}"))?;
    let mut w = Walker { buf: body, pos: 0, version, flexible: version >= flexible_from };
    w.walk_struct(fields)?;
    Ok(w.pos)
}

struct Walker<'a> {
    buf: &'a [u8],
    pos: usize,
    version: i16,
    flexible: bool,
}

impl Walker<'_> {
    fn left(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn skip(&mut self, n: usize, what: &str) -> Result<(), String> {
        if n > self.left() {
            return Err(format!("{what} of {n} bytes at byte {} runs past the {} bytes left", self.pos, self.left()));
        }
        self.pos += n;
        Ok(())
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let b = self.buf.get(self.pos..self.pos + N).ok_or_else(|| format!("truncated at byte {}", self.pos))?;
        self.pos += N;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    /// An unsigned varint of at most 5 bytes (Kafka's u32 varint).
    fn uvarint(&mut self) -> Result<u32, String> {
        let mut value: u32 = 0;
        for i in 0..5 {
            let [b] = self.take::<1>()?;
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(format!("unsigned varint longer than 5 bytes before byte {}", self.pos))
    }

    /// A length prefix: `None` for null, else a count that is at most the
    /// bytes left (every element, character or byte takes at least one).
    fn length(&mut self, classic_width: usize, what: &str) -> Result<Option<usize>, String> {
        let n: i64 = if self.flexible {
            i64::from(self.uvarint()?) - 1
        } else if classic_width == 2 {
            i64::from(i16::from_be_bytes(self.take()?))
        } else {
            i64::from(i32::from_be_bytes(self.take()?))
        };
        match n {
            -1 => Ok(None),
            n if n < 0 => Err(format!("{what} length {n} is negative")),
            n if n as u64 > self.left() as u64 => {
                Err(format!("{what} length {n} at byte {} is larger than the {} bytes left", self.pos, self.left()))
            }
            n => Ok(Some(n as usize)),
        }
    }

    fn walk_struct(&mut self, fields: &'static [Field]) -> Result<(), String> {
        let version = self.version;
        for f in fields.iter().filter(|f| f.tag.is_none() && (f.lo..=f.hi).contains(&version)) {
            self.walk(f.ty)?;
        }
        if self.flexible {
            self.tagged_fields(fields)?;
        }
        Ok(())
    }

    /// The tagged-field section: unknown tags are skipped by their declared
    /// size (the decoder keeps them as opaque bytes); known ones are walked
    /// by type, as the decoder reads them, and refused in versions that do
    /// not have them (the decoder refuses them too).
    fn tagged_fields(&mut self, fields: &'static [Field]) -> Result<(), String> {
        let count = self.uvarint()?;
        if count as usize > self.left() {
            return Err(format!("{count} tagged fields cannot fit in {} bytes", self.left()));
        }
        for _ in 0..count {
            let tag = self.uvarint()?;
            let size = self.uvarint()? as usize;
            match fields.iter().find(|f| f.tag == Some(tag)) {
                Some(f) if (f.lo..=f.hi).contains(&self.version) => self.walk(f.ty)?,
                Some(_) => return Err(format!("tag {tag} is not valid in version {}", self.version)),
                None => self.skip(size, "tagged field")?,
            }
        }
        Ok(())
    }

    fn walk(&mut self, ty: Ty) -> Result<(), String> {
        match ty {
            Ty::Fixed(n) => self.skip(n, "field"),
            Ty::Str => match self.length(2, "string")? {
                Some(n) => self.skip(n, "string"),
                None => Ok(()),
            },
            Ty::Bytes => match self.length(4, "bytes")? {
                Some(n) => self.skip(n, "bytes"),
                None => Ok(()),
            },
            Ty::Array(elem) => {
                let Some(n) = self.length(4, "array")? else { return Ok(()) };
                for _ in 0..n {
                    match elem {
                        Elem::Fixed(size) => self.skip(size, "array element")?,
                        Elem::Str => self.walk(Ty::Str)?,
                        Elem::Struct(fields) => self.walk_struct(fields)?,
                    }
                }
                Ok(())
            }
            Ty::Struct(fields) => self.walk_struct(fields),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use bytes::{Bytes, BytesMut};
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::{Encodable, StrBytes};

    use super::*;
    use crate::kafka::api_versions::IMPLEMENTED;

    /// The request in `version`, or `None` when it sets a field that
    /// version lacks.
    fn encoded<R: Encodable>(r: &R, version: i16) -> Option<Vec<u8>> {
        let mut buf = BytesMut::new();
        r.encode(&mut buf, version).ok()?;
        Some(buf.to_vec())
    }

    /// The walk of a correctly encoded request ends exactly at its end, in
    /// every version the crate knows that can encode it (at least one), not
    /// only those the listener accepts today.
    fn assert_exact<R: Encodable>(api: ApiKey, r: &R) {
        let range = api.valid_versions();
        let mut checked = 0;
        for v in range.min..=range.max {
            let Some(bytes) = encoded(r, v) else { continue };
            checked += 1;
            assert_eq!(check_request(api, v, &bytes), Ok(bytes.len()), "{api:?} v{v}");
            // Any truncation that cuts a length-prefixed field short is caught
            // or leaves the walk short; it never reads past the end.
            for cut in 0..bytes.len() {
                if let Ok(n) = check_request(api, v, &bytes[..cut]) {
                    assert!(n <= cut);
                }
            }
        }
        assert!(checked > 0, "{api:?}: no version could encode the request");
    }

    fn s(x: &str) -> StrBytes {
        StrBytes::from_string(x.to_string())
    }

    #[test]
    fn every_accepted_api_has_a_schema() {
        for (api, _, _) in IMPLEMENTED {
            assert!(knows(*api), "{api:?}");
        }
    }

    #[test]
    fn default_requests_walk_exactly() {
        macro_rules! check {
            ($($api:ident => $ty:ty),* $(,)?) => {$(
                assert_exact(ApiKey::$api, &<$ty>::default());
            )*};
        }
        check!(
            ApiVersions => ApiVersionsRequest, Metadata => MetadataRequest, Produce => ProduceRequest,
            Fetch => FetchRequest, ListOffsets => ListOffsetsRequest, FindCoordinator => FindCoordinatorRequest,
            JoinGroup => JoinGroupRequest, SyncGroup => SyncGroupRequest, Heartbeat => HeartbeatRequest,
            LeaveGroup => LeaveGroupRequest, OffsetCommit => OffsetCommitRequest, OffsetFetch => OffsetFetchRequest,
            DescribeGroups => DescribeGroupsRequest, ListGroups => ListGroupsRequest,
            CreateTopics => CreateTopicsRequest, DeleteTopics => DeleteTopicsRequest,
            DescribeConfigs => DescribeConfigsRequest, InitProducerId => InitProducerIdRequest,
            AddPartitionsToTxn => AddPartitionsToTxnRequest, AddOffsetsToTxn => AddOffsetsToTxnRequest,
            EndTxn => EndTxnRequest, TxnOffsetCommit => TxnOffsetCommitRequest,
        );
    }

    #[test]
    fn populated_requests_walk_exactly() {
        use kafka_protocol::messages::{
            add_partitions_to_txn_request as apt, create_topics_request as ct, delete_topics_request as dt,
            describe_configs_request as dc, fetch_request as fr, join_group_request as jg, leave_group_request as lg,
            list_offsets_request as lo, metadata_request as md, offset_commit_request as oc,
            offset_fetch_request as of, produce_request as pr, sync_group_request as sg,
            txn_offset_commit_request as tc,
        };
        let mut m = MetadataRequest::default();
        m.topics = Some(vec![md::MetadataRequestTopic::default().with_name(Some(TopicName(s("a")))); 3]);
        assert_exact(ApiKey::Metadata, &m);

        let part = pr::PartitionProduceData::default().with_index(1).with_records(Some(Bytes::from_static(b"xyz")));
        let topic = pr::TopicProduceData::default().with_name(TopicName(s("t"))).with_partition_data(vec![part; 2]);
        assert_exact(ApiKey::Produce, &ProduceRequest::default().with_topic_data(vec![topic; 2]).with_acks(-1));

        let fp = fr::FetchPartition::default().with_partition(3).with_fetch_offset(9);
        let ft = fr::FetchTopic::default().with_topic(TopicName(s("t"))).with_partitions(vec![fp; 2]);
        let forgotten = fr::ForgottenTopic::default().with_topic(TopicName(s("f"))).with_partitions(vec![1, 2]);
        let fetch = FetchRequest::default()
            .with_topics(vec![ft; 2])
            .with_forgotten_topics_data(vec![forgotten])
            .with_rack_id(s("r"))
            .with_cluster_id(Some(s("c")));
        assert_exact(ApiKey::Fetch, &fetch);
        let fp = fr::FetchPartition::default().with_partition(3).with_last_fetched_epoch(2);
        let by_id = fr::FetchTopic::default().with_topic_id(uuid::Uuid::from_u128(7)).with_partitions(vec![fp; 2]);
        let forgotten = fr::ForgottenTopic::default().with_topic_id(uuid::Uuid::from_u128(8)).with_partitions(vec![1]);
        let fetch = FetchRequest::default()
            .with_topics(vec![by_id; 2])
            .with_forgotten_topics_data(vec![forgotten])
            .with_rack_id(s("r"))
            .with_cluster_id(Some(s("c")));
        assert_exact(ApiKey::Fetch, &fetch);

        let lp = lo::ListOffsetsPartition::default().with_partition_index(1).with_timestamp(-1);
        let lt = lo::ListOffsetsTopic::default().with_name(TopicName(s("t"))).with_partitions(vec![lp; 2]);
        assert_exact(ApiKey::ListOffsets, &ListOffsetsRequest::default().with_topics(vec![lt]));

        let jp = jg::JoinGroupRequestProtocol::default().with_name(s("range")).with_metadata(Bytes::from_static(b"m"));
        let join = JoinGroupRequest::default()
            .with_group_id(GroupId(s("g")))
            .with_protocol_type(s("consumer"))
            .with_protocols(vec![jp; 2]);
        assert_exact(ApiKey::JoinGroup, &join);

        let sa = sg::SyncGroupRequestAssignment::default().with_member_id(s("m")).with_assignment(Bytes::from_static(b"a"));
        assert_exact(ApiKey::SyncGroup, &SyncGroupRequest::default().with_assignments(vec![sa; 2]));

        let member = lg::MemberIdentity::default().with_member_id(s("m")).with_reason(Some(s("bye")));
        assert_exact(ApiKey::LeaveGroup, &LeaveGroupRequest::default().with_members(vec![member; 2]));

        let cp = oc::OffsetCommitRequestPartition::default().with_committed_offset(5).with_committed_metadata(Some(s("md")));
        let ctop = oc::OffsetCommitRequestTopic::default().with_name(TopicName(s("t"))).with_partitions(vec![cp; 2]);
        assert_exact(ApiKey::OffsetCommit, &OffsetCommitRequest::default().with_topics(vec![ctop; 2]));

        let ft = of::OffsetFetchRequestTopic::default().with_name(TopicName(s("t"))).with_partition_indexes(vec![0, 1]);
        let gt = of::OffsetFetchRequestTopics::default().with_name(TopicName(s("t"))).with_partition_indexes(vec![0]);
        let g = of::OffsetFetchRequestGroup::default().with_group_id(GroupId(s("g"))).with_topics(Some(vec![gt; 2]));
        assert_exact(ApiKey::OffsetFetch, &OffsetFetchRequest::default().with_topics(Some(vec![ft; 2])));
        let batched = OffsetFetchRequest::default().with_groups(vec![g; 2]).with_require_stable(true);
        assert_exact(ApiKey::OffsetFetch, &batched);

        let groups = vec![GroupId(s("a")), GroupId(s("b"))];
        assert_exact(ApiKey::DescribeGroups, &DescribeGroupsRequest::default().with_groups(groups));
        let states = vec![s("Stable"), s("Empty")];
        assert_exact(ApiKey::ListGroups, &ListGroupsRequest::default().with_states_filter(states.clone()).with_types_filter(states));
        let keys = vec![s("g1"), s("g2")];
        assert_exact(ApiKey::FindCoordinator, &FindCoordinatorRequest::default().with_key(s("g")).with_key_type(1));
        assert_exact(ApiKey::FindCoordinator, &FindCoordinatorRequest::default().with_coordinator_keys(keys));

        let asg = ct::CreatableReplicaAssignment::default().with_partition_index(0).with_broker_ids(vec![BrokerId(0); 3]);
        let cfg = ct::CreatableTopicConfig::default().with_name(s("cleanup.policy")).with_value(Some(s("compact")));
        let topic = ct::CreatableTopic::default().with_name(TopicName(s("t"))).with_assignments(vec![asg; 2]).with_configs(vec![cfg; 2]);
        assert_exact(ApiKey::CreateTopics, &CreateTopicsRequest::default().with_topics(vec![topic; 2]));

        let state = dt::DeleteTopicState::default().with_name(Some(TopicName(s("t"))));
        assert_exact(ApiKey::DeleteTopics, &DeleteTopicsRequest::default().with_topics(vec![state; 2]));
        let by_name = DeleteTopicsRequest::default().with_topic_names(vec![TopicName(s("t")); 2]);
        assert_exact(ApiKey::DeleteTopics, &by_name);

        let res = dc::DescribeConfigsResource::default().with_resource_type(2).with_resource_name(s("t")).with_configuration_keys(Some(vec![s("k")]));
        assert_exact(ApiKey::DescribeConfigs, &DescribeConfigsRequest::default().with_resources(vec![res; 2]));

        let at = apt::AddPartitionsToTxnTopic::default().with_name(TopicName(s("t"))).with_partitions(vec![0, 1]);
        let tx = apt::AddPartitionsToTxnTransaction::default()
            .with_transactional_id(TransactionalId(s("x")))
            .with_topics(vec![at.clone(); 2]);
        assert_exact(ApiKey::AddPartitionsToTxn, &AddPartitionsToTxnRequest::default().with_transactions(vec![tx; 2]));
        let old = AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(TransactionalId(s("x")))
            .with_v3_and_below_topics(vec![at; 2]);
        assert_exact(ApiKey::AddPartitionsToTxn, &old);

        let tp = tc::TxnOffsetCommitRequestPartition::default().with_committed_offset(3).with_committed_metadata(Some(s("m")));
        let tt = tc::TxnOffsetCommitRequestTopic::default().with_name(TopicName(s("t"))).with_partitions(vec![tp; 2]);
        let commit = TxnOffsetCommitRequest::default()
            .with_transactional_id(TransactionalId(s("x")))
            .with_group_id(GroupId(s("g")))
            .with_group_instance_id(Some(s("i")))
            .with_topics(vec![tt; 2]);
        assert_exact(ApiKey::TxnOffsetCommit, &commit);
    }

    #[test]
    fn huge_lengths_are_refused() {
        // Metadata v0: topic array claiming 0x033c0c00 topics.
        assert!(check_request(ApiKey::Metadata, 0, &[0x03, 0x3c, 0x0c, 0x00, 0, 0, 0, 0]).is_err());
        // Metadata v9: compact array claiming 2^32 - 2 topics.
        assert!(check_request(ApiKey::Metadata, 9, &[0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0]).is_err());
        // A varint of six bytes.
        assert!(check_request(ApiKey::Metadata, 9, &[0xff; 6]).is_err());
        // Produce v3: transactional id null, acks, timeout, then 2^31-1 topics.
        let mut p = vec![0xff, 0xff, 0, 1, 0, 0, 0, 1];
        p.extend(i32::MAX.to_be_bytes());
        assert!(check_request(ApiKey::Produce, 3, &p).is_err());
        // A negative (non-null) array length.
        assert!(check_request(ApiKey::DescribeGroups, 0, &(-2i32).to_be_bytes()).is_err());
        // Too many tagged fields.
        assert!(check_request(ApiKey::ApiVersions, 3, &[0, 0, 0xff, 0xff, 0x03]).is_err());
    }
}
