//! Kafka's RecordBatch v2 (magic 2): the unit of storage, replication and
//! fetch. Stored on disk exactly as it travels on the wire.
//!
//! ```text
//! offset  field                    covered by CRC-32C
//!  0      baseOffset: i64
//!  8      batchLength: i32         (bytes after this field)
//! 12      partitionLeaderEpoch: i32
//! 16      magic: i8 (= 2)
//! 17      crc: u32                 ── CRC-32C of bytes 21..end
//! 21      attributes: i16          ┐ bits 0-2 codec, 3 LogAppendTime,
//! 23      lastOffsetDelta: i32     │ 4 transactional, 5 control
//! 27      baseTimestamp: i64       │
//! 35      maxTimestamp: i64        │
//! 43      producerId: i64          │
//! 51      producerEpoch: i16       │
//! 53      baseSequence: i32        │
//! 57      recordCount: i32         │
//! 61      records (maybe compressed)┘
//! ```

use bytes::{BufMut, Bytes, BytesMut};

use crate::compression::Compression;
use crate::record::{self, Cursor, Record, StoredRecord};

/// Size of the fixed batch header.
pub const BATCH_HEADER_LEN: usize = 61;
/// baseOffset + batchLength: the part of the header not counted in `batchLength`.
pub const LOG_OVERHEAD: usize = 12;
/// Offset of the CRC field.
const CRC_OFFSET: usize = 17;
/// First byte covered by the CRC.
const ATTRIBUTES_OFFSET: usize = 21;
const MAX_TIMESTAMP_OFFSET: usize = 35;

const TIMESTAMP_TYPE_BIT: i16 = 1 << 3;
const TRANSACTIONAL_BIT: i16 = 1 << 4;
const CONTROL_BIT: i16 = 1 << 5;

/// "No producer" in idempotence fields.
pub const NO_PRODUCER_ID: i64 = -1;
/// "No sequence" in idempotence fields.
pub const NO_SEQUENCE: i32 = -1;

/// The parsed fixed header of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Bytes after the length field.
    pub batch_length: i32,
    /// Leader epoch (always 0 in the single-node log).
    pub partition_leader_epoch: i32,
    /// Stored CRC-32C.
    pub crc: u32,
    /// Attribute bits.
    pub attributes: i16,
    /// `last offset - base offset`.
    pub last_offset_delta: i32,
    /// Timestamp of the first record.
    pub base_timestamp: i64,
    /// Largest timestamp in the batch (or the LogAppendTime).
    pub max_timestamp: i64,
    /// Idempotent producer id, or -1.
    pub producer_id: i64,
    /// Producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence of the first record, or -1.
    pub base_sequence: i32,
    /// Number of records.
    pub record_count: i32,
}

impl BatchHeader {
    /// Parses the first [`BATCH_HEADER_LEN`] bytes. Checks magic and the
    /// length fields, not the CRC.
    ///
    /// # Errors
    /// A message naming the bad field.
    pub fn parse(buf: &[u8]) -> Result<Self, String> {
        if buf.len() < BATCH_HEADER_LEN {
            return Err(format!("batch header needs {BATCH_HEADER_LEN} bytes, only {} present", buf.len()));
        }
        let i64_at = |p: usize| i64::from_be_bytes(buf[p..p + 8].try_into().unwrap_or([0; 8]));
        let i32_at = |p: usize| i32::from_be_bytes(buf[p..p + 4].try_into().unwrap_or([0; 4]));
        let i16_at = |p: usize| i16::from_be_bytes(buf[p..p + 2].try_into().unwrap_or([0; 2]));
        let magic = buf[16] as i8;
        if magic != 2 {
            return Err(format!("unsupported magic byte {magic} (only RecordBatch v2, magic 2, is stored)"));
        }
        let h = BatchHeader {
            base_offset: i64_at(0),
            batch_length: i32_at(8),
            partition_leader_epoch: i32_at(12),
            crc: i32_at(CRC_OFFSET) as u32,
            attributes: i16_at(ATTRIBUTES_OFFSET),
            last_offset_delta: i32_at(23),
            base_timestamp: i64_at(27),
            max_timestamp: i64_at(MAX_TIMESTAMP_OFFSET),
            producer_id: i64_at(43),
            producer_epoch: i16_at(51),
            base_sequence: i32_at(53),
            record_count: i32_at(57),
        };
        if (h.batch_length as i64) < (BATCH_HEADER_LEN - LOG_OVERHEAD) as i64 {
            return Err(format!("batch length {} is smaller than the header", h.batch_length));
        }
        if h.record_count < 0 || h.last_offset_delta < 0 {
            return Err(format!(
                "negative record count ({}) or last offset delta ({})",
                h.record_count, h.last_offset_delta
            ));
        }
        Ok(h)
    }

    /// Whole size of the batch in bytes, header included.
    pub fn total_len(&self) -> usize {
        LOG_OVERHEAD + self.batch_length as usize
    }

    /// Offset of the last record (the batch's last offset even when
    /// compaction removed records from it).
    pub fn last_offset(&self) -> i64 {
        self.base_offset + self.last_offset_delta as i64
    }

    /// The next offset after this batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }

    /// The codec.
    pub fn compression(&self) -> Option<Compression> {
        Compression::from_attribute(self.attributes)
    }

    /// True when record timestamps are replaced by the LogAppendTime.
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_BIT != 0
    }

    /// True for batches of a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }

    /// True for control batches (transaction markers).
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }

    /// Sequence of the last record.
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence == NO_SEQUENCE {
            NO_SEQUENCE
        } else {
            // Sequences wrap at i32::MAX, as in Kafka.
            ((self.base_sequence as i64 + self.last_offset_delta as i64) % (i32::MAX as i64 + 1)) as i32
        }
    }
}

/// CRC-32C over `batch[21..]`, as stored in the header.
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(&batch[ATTRIBUTES_OFFSET..])
}

/// A copy of `batch` with no records: the header (offsets, timestamps,
/// producer id, epoch and sequence) is kept, the record count is 0 and the
/// codec is cleared. What compaction leaves of a batch whose records are all
/// removed but whose producer state must survive a restart (Kafka keeps such
/// empty batches for the same reason).
///
/// # Errors
/// A batch shorter than its header.
pub fn emptied_batch(batch: &[u8]) -> Result<Vec<u8>, String> {
    let head = batch.get(..BATCH_HEADER_LEN).ok_or_else(|| format!("a batch of {} bytes has no complete header", batch.len()))?;
    let mut out = head.to_vec();
    out[8..12].copy_from_slice(&((BATCH_HEADER_LEN - LOG_OVERHEAD) as i32).to_be_bytes());
    let attributes = i16::from_be_bytes([out[ATTRIBUTES_OFFSET], out[ATTRIBUTES_OFFSET + 1]]) & !0x07;
    out[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attributes.to_be_bytes());
    out[57..61].copy_from_slice(&0i32.to_be_bytes());
    let crc = compute_crc(&out);
    out[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(out)
}

/// Checks the stored CRC of a complete batch.
///
/// # Errors
/// A message with both checksums.
pub fn verify_crc(batch: &[u8], header: &BatchHeader) -> Result<(), String> {
    let actual = compute_crc(batch);
    if actual != header.crc {
        return Err(format!("CRC-32C mismatch: stored {:#010x}, computed {actual:#010x}", header.crc));
    }
    Ok(())
}

/// Overwrites the base offset (outside the CRC).
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) {
    batch[0..8].copy_from_slice(&base_offset.to_be_bytes());
}

/// Marks the batch LogAppendTime with `ts` as its max timestamp and updates
/// the CRC.
pub fn set_log_append_time(batch: &mut [u8], ts: i64) {
    let attrs = i16::from_be_bytes([batch[ATTRIBUTES_OFFSET], batch[ATTRIBUTES_OFFSET + 1]]) | TIMESTAMP_TYPE_BIT;
    batch[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attrs.to_be_bytes());
    batch[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8].copy_from_slice(&ts.to_be_bytes());
    let crc = compute_crc(batch);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

/// A transaction marker (control record type 0 = ABORT, 1 = COMMIT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlType {
    /// The transaction's records are to be skipped by `read_committed` readers.
    Abort,
    /// The transaction's records become visible.
    Commit,
}

/// Builds a control batch holding one transaction marker, as Kafka writes
/// it: attributes transactional + control, no sequence, one record whose key
/// is `version: i16 = 0, type: i16` and whose value is Kafka's
/// `EndTxnMarker` (`version: i16 = 0, coordinator_epoch: i32`).
pub fn control_batch(producer_id: i64, producer_epoch: i16, kind: ControlType, ts: i64) -> Bytes {
    let mut key = Vec::with_capacity(4);
    key.extend_from_slice(&0i16.to_be_bytes());
    key.extend_from_slice(&(kind as i16).to_be_bytes());
    let mut value = Vec::with_capacity(6);
    value.extend_from_slice(&0i16.to_be_bytes());
    value.extend_from_slice(&0i32.to_be_bytes());
    let mut b = BatchBuilder::new(Compression::None);
    b.set_producer(ProducerFields { producer_id, producer_epoch, base_sequence: NO_SEQUENCE, transactional: true });
    b.push(&Record { key: Some(key.into()), value: Some(value.into()), timestamp: Some(ts), ..Default::default() }, ts);
    // An uncompressed build cannot fail.
    let mut buf = b.build(0).map(Vec::from).unwrap_or_default();
    if buf.len() >= BATCH_HEADER_LEN {
        let attrs = i16::from_be_bytes([buf[ATTRIBUTES_OFFSET], buf[ATTRIBUTES_OFFSET + 1]]) | CONTROL_BIT;
        buf[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attrs.to_be_bytes());
        let crc = compute_crc(&buf);
        buf[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    }
    Bytes::from(buf)
}

/// The marker type of a control batch (`None` if it is not one, or its
/// first record's key is not a marker key).
pub fn control_type(batch: &[u8]) -> Option<ControlType> {
    let (h, recs) = decode_batch(&Bytes::copy_from_slice(batch)).ok()?;
    if !h.is_control() {
        return None;
    }
    let key = recs.first()?.key.as_ref()?;
    match key.get(2..4)? {
        [0, 0] => Some(ControlType::Abort),
        [0, 1] => Some(ControlType::Commit),
        _ => None,
    }
}

/// Idempotence / transaction fields written into a batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerFields {
    /// Producer id, or [`NO_PRODUCER_ID`].
    pub producer_id: i64,
    /// Producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence of the first record, or [`NO_SEQUENCE`].
    pub base_sequence: i32,
    /// Whether the batch belongs to a transaction.
    pub transactional: bool,
}

impl Default for ProducerFields {
    fn default() -> Self {
        ProducerFields {
            producer_id: NO_PRODUCER_ID,
            producer_epoch: -1,
            base_sequence: NO_SEQUENCE,
            transactional: false,
        }
    }
}

/// Builds one RecordBatch v2 from records.
///
/// # Examples
/// ```
/// use riffle_log::{BatchBuilder, Compression, Record, decode_batch};
/// let mut b = BatchBuilder::new(Compression::Lz4);
/// b.push(&Record::keyed("k", "v").with_timestamp(1_000), 0);
/// b.push(&Record::value("w").with_timestamp(1_005), 0);
/// let bytes = b.build(42).unwrap();
/// let records = decode_batch(&bytes).unwrap().1;
/// assert_eq!(records[1].offset, 43);
/// assert_eq!(records[1].timestamp, 1_005);
/// ```
#[derive(Debug)]
pub struct BatchBuilder {
    compression: Compression,
    /// Header placeholder + uncompressed records.
    buf: BytesMut,
    count: i32,
    last_offset_delta: i32,
    base_timestamp: Option<i64>,
    max_timestamp: i64,
    producer: ProducerFields,
}

impl BatchBuilder {
    /// An empty builder.
    pub fn new(compression: Compression) -> Self {
        Self::with_capacity(compression, 16 * 1024)
    }

    /// An empty builder with `capacity` bytes reserved.
    pub fn with_capacity(compression: Compression, capacity: usize) -> Self {
        let mut buf = BytesMut::with_capacity(capacity.max(BATCH_HEADER_LEN));
        buf.put_bytes(0, BATCH_HEADER_LEN);
        BatchBuilder {
            compression,
            buf,
            count: 0,
            last_offset_delta: -1,
            base_timestamp: None,
            max_timestamp: -1,
            producer: ProducerFields::default(),
        }
    }

    /// Sets idempotence fields.
    pub fn set_producer(&mut self, p: ProducerFields) {
        self.producer = p;
    }

    /// Appends a record with the next offset delta. A record without a
    /// timestamp gets `default_ts`.
    pub fn push(&mut self, r: &Record, default_ts: i64) {
        let delta = self.last_offset_delta + 1;
        self.push_at(r, delta, r.timestamp.unwrap_or(default_ts));
    }

    /// Appends a record at an explicit offset delta and timestamp (deltas
    /// must increase; compaction uses gaps).
    pub fn push_at(&mut self, r: &Record, offset_delta: i32, ts: i64) {
        let base = *self.base_timestamp.get_or_insert(ts);
        record::encode_record(&mut self.buf, r, ts - base, offset_delta);
        self.count += 1;
        self.last_offset_delta = offset_delta;
        self.max_timestamp = self.max_timestamp.max(ts);
    }

    /// Keeps a larger last offset delta than the last record's (compaction
    /// preserves a batch's offset range after dropping records).
    pub fn set_last_offset_delta(&mut self, delta: i32) {
        self.last_offset_delta = self.last_offset_delta.max(delta);
    }

    /// Records pushed so far.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True before the first push.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Uncompressed size so far, header included.
    pub fn size(&self) -> usize {
        self.buf.len()
    }

    /// Bytes `r` would add (uncompressed).
    pub fn size_of(&self, r: &Record, default_ts: i64) -> usize {
        let base = self.base_timestamp.unwrap_or(r.timestamp.unwrap_or(default_ts));
        record::encoded_len(r, r.timestamp.unwrap_or(default_ts) - base, self.last_offset_delta + 1)
    }

    /// Finishes the batch with `base_offset`.
    ///
    /// # Errors
    /// An I/O error from the compressor.
    pub fn build(self, base_offset: i64) -> std::io::Result<Bytes> {
        let BatchBuilder { compression, mut buf, count, last_offset_delta, base_timestamp, max_timestamp, producer } =
            self;
        if compression != Compression::None {
            let z = compression.compress(&buf[BATCH_HEADER_LEN..])?;
            buf.truncate(BATCH_HEADER_LEN);
            buf.extend_from_slice(&z);
        }
        let mut attributes = compression.attribute();
        if producer.transactional {
            attributes |= TRANSACTIONAL_BIT;
        }
        let len = buf.len();
        let mut h = &mut buf[..BATCH_HEADER_LEN];
        h.put_i64(base_offset);
        h.put_i32((len - LOG_OVERHEAD) as i32);
        h.put_i32(0);
        h.put_i8(2);
        h.put_u32(0);
        h.put_i16(attributes);
        h.put_i32(last_offset_delta.max(0));
        h.put_i64(base_timestamp.unwrap_or(-1));
        h.put_i64(max_timestamp);
        h.put_i64(producer.producer_id);
        h.put_i16(producer.producer_epoch);
        h.put_i32(producer.base_sequence);
        h.put_i32(count);
        let crc = compute_crc(&buf);
        buf[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        Ok(buf.freeze())
    }
}

/// Checks a whole batch as [`decode_batch`] does (CRC, codec, every
/// record's structure, offset deltas, record count) without building the
/// records. Returns the header and whether every record has a key.
///
/// The decompressed section goes to a per-thread buffer that is reused, so
/// validating a produced batch allocates nothing in the steady state.
///
/// # Errors
/// A message saying what is malformed (never panics on any input).
pub fn validate_batch(batch: &[u8]) -> Result<(BatchHeader, bool), String> {
    thread_local! {
        static SECTION: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let h = BatchHeader::parse(batch)?;
    if batch.len() < h.total_len() {
        return Err(format!("batch claims {} bytes but only {} are present", h.total_len(), batch.len()));
    }
    let batch = &batch[..h.total_len()];
    verify_crc(batch, &h)?;
    let codec = h.compression().ok_or_else(|| format!("unknown compression codec {}", h.attributes & 7))?;
    if codec == Compression::None {
        return walk_records(&h, &batch[BATCH_HEADER_LEN..]).map(|k| (h, k));
    }
    SECTION.with(|buf| {
        let mut buf = buf.borrow_mut();
        let n = codec.decompress_reusing(&batch[BATCH_HEADER_LEN..], &mut buf)?;
        let all_keyed = walk_records(&h, &buf[..n]);
        if buf.capacity() > 16 << 20 {
            // Do not keep a rare huge batch's memory for the thread's life.
            *buf = Vec::new();
        }
        all_keyed.map(|k| (h, k))
    })
}

/// Walks a record section; returns whether every record has a key.
fn walk_records(h: &BatchHeader, section: &[u8]) -> Result<bool, String> {
    if h.record_count as usize > section.len() / 7 + 1 {
        return Err(format!("record count {} is larger than the payload can hold", h.record_count));
    }
    let mut cur = Cursor::new(section);
    let mut prev_delta = -1i64;
    let mut all_keyed = true;
    for i in 0..h.record_count {
        let (od, has_key) = record::skip_record(&mut cur).map_err(|e| format!("record {i}: {e}"))?;
        if (od as i64) <= prev_delta || od > h.last_offset_delta {
            return Err(format!("record {i}: offset delta {od} is out of order or past lastOffsetDelta"));
        }
        prev_delta = od as i64;
        all_keyed &= has_key;
    }
    if cur.remaining() != 0 {
        return Err(format!("{} stray bytes after the last record", cur.remaining()));
    }
    Ok(all_keyed)
}

/// Decodes a whole batch: checks CRC and structure, decompresses, and
/// returns its records with absolute offsets and final timestamps.
///
/// # Errors
/// A message saying what is malformed (never panics on any input).
pub fn decode_batch(batch: &Bytes) -> Result<(BatchHeader, Vec<StoredRecord>), String> {
    decode(batch, true)
}

/// [`decode_batch`] for bytes whose CRC was already verified (batches read
/// from a partition), so the hot read path computes it once.
pub(crate) fn decode_crc_verified_batch(batch: &Bytes) -> Result<(BatchHeader, Vec<StoredRecord>), String> {
    decode(batch, false)
}

fn decode(batch: &Bytes, check_crc: bool) -> Result<(BatchHeader, Vec<StoredRecord>), String> {
    let mut out = Vec::new();
    let h = decode_onto(batch, check_crc, i64::MIN, &mut out)?;
    Ok((h, out))
}

/// Decodes a batch whose CRC was verified when it was read, appending its
/// records at or after offset `from` to `out`; a control batch's records
/// are checked but not kept. Readers collect a fetch's records this way
/// without a vector per batch.
pub(crate) fn decode_data_records_onto(batch: &Bytes, from: i64, out: &mut Vec<StoredRecord>) -> Result<BatchHeader, String> {
    let before = out.len();
    let h = decode_onto(batch, false, from, out)?;
    if h.is_control() {
        out.truncate(before);
    }
    Ok(h)
}

fn decode_onto(batch: &Bytes, check_crc: bool, from: i64, out: &mut Vec<StoredRecord>) -> Result<BatchHeader, String> {
    let h = BatchHeader::parse(batch)?;
    if batch.len() < h.total_len() {
        return Err(format!("batch claims {} bytes but only {} are present", h.total_len(), batch.len()));
    }
    let batch = batch.slice(..h.total_len());
    if check_crc {
        verify_crc(&batch, &h)?;
    }
    let codec = h.compression().ok_or_else(|| format!("unknown compression codec {}", h.attributes & 7))?;
    let section = if codec == Compression::None {
        batch.slice(BATCH_HEADER_LEN..)
    } else {
        Bytes::from(codec.decompress(&batch[BATCH_HEADER_LEN..])?)
    };
    let mut cur = Cursor::new(&section);
    // Each record takes at least 7 bytes; refuse counts the payload cannot hold.
    if h.record_count as usize > section.len() / 7 + 1 {
        return Err(format!("record count {} is larger than the payload can hold", h.record_count));
    }
    out.reserve(h.record_count as usize);
    let mut prev_delta = -1i64;
    for i in 0..h.record_count {
        let (od, td, key, value, headers) =
            record::decode_record(&section, &mut cur).map_err(|e| format!("record {i}: {e}"))?;
        if (od as i64) <= prev_delta || od > h.last_offset_delta {
            return Err(format!("record {i}: offset delta {od} is out of order or past lastOffsetDelta"));
        }
        prev_delta = od as i64;
        let timestamp = if h.is_log_append_time() { h.max_timestamp } else { h.base_timestamp.wrapping_add(td) };
        let offset = h.base_offset + od as i64;
        if offset >= from {
            out.push(StoredRecord { offset, timestamp, key, value, headers });
        }
    }
    if cur.remaining() != 0 {
        return Err(format!("{} stray bytes after the last record", cur.remaining()));
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Header;
    use proptest::prelude::*;

    fn arb_record() -> impl Strategy<Value = Record> {
        let bytes = || proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64).prop_map(Bytes::from));
        (bytes(), bytes(), 0i64..1_000_000, proptest::collection::vec(("[a-z]{0,4}", bytes()), 0..3)).prop_map(
            |(key, value, ts, hs)| Record {
                key,
                value,
                timestamp: Some(ts),
                headers: hs.into_iter().map(|(key, value)| Header { key, value }).collect(),
            },
        )
    }

    fn codec() -> impl Strategy<Value = Compression> {
        prop::sample::select(Compression::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn batches_round_trip(records in proptest::collection::vec(arb_record(), 1..40), c in codec(), base in 0i64..1<<40) {
            let mut b = BatchBuilder::new(c);
            for r in &records { b.push(r, 0); }
            let bytes = b.build(base).unwrap();
            let (h, out) = decode_batch(&bytes).unwrap();
            prop_assert_eq!(h.record_count as usize, records.len());
            prop_assert_eq!(h.last_offset(), base + records.len() as i64 - 1);
            prop_assert_eq!(h.max_timestamp, records.iter().filter_map(|r| r.timestamp).max().unwrap());
            for (i, (r, s)) in records.iter().zip(&out).enumerate() {
                prop_assert_eq!(s.offset, base + i as i64);
                prop_assert_eq!(Some(s.timestamp), r.timestamp);
                prop_assert_eq!(&s.key, &r.key);
                prop_assert_eq!(&s.value, &r.value);
                prop_assert_eq!(&s.headers, &r.headers);
            }
        }

        #[test]
        fn any_flipped_byte_is_detected(records in proptest::collection::vec(arb_record(), 1..5), pos: prop::sample::Index, bit in 0u8..8) {
            let mut b = BatchBuilder::new(Compression::None);
            for r in &records { b.push(r, 0); }
            let mut bytes = b.build(0).unwrap().to_vec();
            // Bytes 0..17 (offset, length, epoch, magic) are outside the CRC;
            // flips there are caught by the length/magic checks or by position.
            let p = ATTRIBUTES_OFFSET + pos.index(bytes.len() - ATTRIBUTES_OFFSET);
            bytes[p] ^= 1 << bit;
            prop_assert!(decode_batch(&Bytes::from(bytes)).is_err());
        }

        #[test]
        fn decoding_garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_batch(&Bytes::from(data));
        }
    }

    #[test]
    fn log_append_time_overrides_record_timestamps() {
        let mut b = BatchBuilder::new(Compression::None);
        b.push(&Record::value("a").with_timestamp(5), 0);
        b.push(&Record::value("b").with_timestamp(9), 0);
        let mut bytes = b.build(0).unwrap().to_vec();
        set_log_append_time(&mut bytes, 777);
        set_base_offset(&mut bytes, 10);
        let (h, recs) = decode_batch(&Bytes::from(bytes)).unwrap();
        assert!(h.is_log_append_time());
        assert_eq!(recs.iter().map(|r| (r.offset, r.timestamp)).collect::<Vec<_>>(), vec![(10, 777), (11, 777)]);
    }

    #[test]
    fn header_layout_matches_kafka() {
        let mut b = BatchBuilder::new(Compression::None);
        b.set_producer(ProducerFields { producer_id: 7, producer_epoch: 2, base_sequence: 11, transactional: true });
        b.push(&Record::keyed("k", "v").with_timestamp(100), 0);
        let bytes = b.build(3).unwrap();
        assert_eq!(bytes[16], 2, "magic at byte 16");
        let h = BatchHeader::parse(&bytes).unwrap();
        assert_eq!((h.base_offset, h.producer_id, h.producer_epoch, h.base_sequence), (3, 7, 2, 11));
        assert!(h.is_transactional() && !h.is_control());
        assert_eq!(h.total_len(), bytes.len());
        // 61-byte header + record: len(1) attrs(1) tsΔ(1) offΔ(1) klen(1) k(1) vlen(1) v(1) hdrs(1) = 9.
        assert_eq!(bytes.len(), 61 + 9);
    }

    #[test]
    fn control_batches_carry_the_marker_type() {
        for kind in [ControlType::Abort, ControlType::Commit] {
            let b = control_batch(7, 3, kind, 1_000);
            let h = BatchHeader::parse(&b).unwrap();
            assert!(h.is_control() && h.is_transactional());
            assert_eq!((h.producer_id, h.producer_epoch, h.base_sequence), (7, 3, NO_SEQUENCE));
            verify_crc(&b, &h).unwrap();
            assert_eq!(control_type(&b), Some(kind));
            let (_, recs) = decode_batch(&b).unwrap();
            assert_eq!(recs[0].value.as_deref(), Some(&[0u8, 0, 0, 0, 0, 0][..]));
        }
    }
}
