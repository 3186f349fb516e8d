//! One partition: an ordered run of segments, the writer that appends to the
//! last one, and readers that fetch whole batches below the high watermark.
//!
//! Appends to one partition are serialized by its writer lock; appends to
//! different partitions proceed in parallel. Readers never take the writer
//! lock: they read positions below the published segment size and the high
//! watermark, which are stored after the bytes are written.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Condvar, Mutex, RwLock};

use crate::batch::{self, decode_batch, BatchBuilder, BatchHeader, ControlType, ProducerFields, BATCH_HEADER_LEN};
use crate::compression::Compression;
use crate::config::Durability;
use crate::error::{LogError, Result};
use crate::producer_state::{AbortedTxn, ProducerStateTable, SequenceCheck};
use crate::record::{Record, StoredRecord};
use crate::segment::Segment;
use crate::topic::{TimestampType, TopicConfig};

/// Name of the marker a clean close leaves in the partition directory.
const CLEAN_SHUTDOWN: &str = "clean-shutdown";

/// How a produced batch is encoded.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppendOptions {
    /// Compression codec.
    pub compression: Compression,
    /// Idempotence fields (default: not idempotent).
    pub producer: ProducerFields,
}

/// The result of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Offset of the last record.
    pub last_offset: i64,
    /// The LogAppendTime stamped on the batch, when the topic uses it.
    pub log_append_time: Option<i64>,
    /// True when the batch was a retry of one already written (nothing new
    /// was stored; offsets are the original ones).
    pub duplicate: bool,
}

/// Whole batches fetched from a partition, as stored bytes.
#[derive(Debug, Clone)]
pub struct FetchedBatches {
    /// Concatenated RecordBatch v2 bytes, each batch CRC-checked by
    /// [`Partition::read`]. The first batch may start before the requested
    /// offset.
    pub bytes: Bytes,
    /// The partition's high watermark at the time of the read.
    pub high_watermark: i64,
    /// The partition's log start offset at the time of the read.
    pub log_start_offset: i64,
}

impl FetchedBatches {
    /// Decodes the records at or after `from_offset`, skipping control
    /// batches.
    ///
    /// # Errors
    /// A message if a batch does not decode (it was CRC-checked on read, so
    /// this means a bug or a codec failure).
    pub fn records(&self, from_offset: i64) -> Result<Vec<StoredRecord>, String> {
        let mut out = Vec::new();
        for batch in self.batches() {
            batch::decode_data_records_onto(&batch, from_offset, &mut out)?;
        }
        Ok(out)
    }

    /// Iterates the batches as separate byte slices.
    pub fn batches(&self) -> impl Iterator<Item = Bytes> + '_ {
        let mut pos = 0;
        std::iter::from_fn(move || {
            let h = BatchHeader::parse(self.bytes.get(pos..)?).ok()?;
            let b = self.bytes.slice(pos..pos + h.total_len());
            pos += h.total_len();
            Some(b)
        })
    }

    /// Decodes each batch. The CRC is not computed again: `bytes` come
    /// from [`Partition::read`], which verified every batch it returned.
    pub fn decoded(&self) -> impl Iterator<Item = Result<(BatchHeader, Vec<StoredRecord>), String>> + '_ {
        self.batches().map(|b| batch::decode_crc_verified_batch(&b))
    }

    /// True when nothing was fetched.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

#[derive(Debug)]
struct Writer {
    producers: ProducerStateTable,
    /// Bytes written since the last fsync (for `Durability::Interval`).
    dirty: bool,
}

/// One partition of a topic.
#[derive(Debug)]
pub struct Partition {
    topic: Arc<str>,
    index: i32,
    dir: PathBuf,
    config: RwLock<Arc<TopicConfig>>,
    durability: Durability,
    segments: RwLock<BTreeMap<i64, Arc<Segment>>>,
    writer: Mutex<Writer>,
    high_watermark: AtomicI64,
    /// First offset of the oldest open transaction, or the high watermark.
    last_stable: AtomicI64,
    log_start_offset: AtomicI64,
    closed: AtomicBool,
    notify: tokio::sync::Notify,
    wait_lock: Mutex<()>,
    wait_cv: Condvar,
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Partition {
    /// Opens (or creates) the partition stored in `dir`, recovering after an
    /// unclean shutdown: the active segment is CRC-checked batch by batch and
    /// a torn or corrupt tail is cut off (the cut bytes are kept beside the
    /// segment as `<segment>.log.truncated-<ms>`, and the cut is logged).
    pub(crate) fn open(
        dir: PathBuf,
        topic: Arc<str>,
        index: i32,
        config: Arc<TopicConfig>,
        durability: Durability,
    ) -> Result<Arc<Self>> {
        fs::create_dir_all(&dir).map_err(|e| LogError::io(&dir, e))?;
        let marker = dir.join(CLEAN_SHUTDOWN);
        let clean = marker.exists();
        if clean {
            fs::remove_file(&marker).map_err(|e| LogError::io(&marker, e))?;
        }
        let bases = segment_bases(&dir)?;
        let mut segments = BTreeMap::new();
        for (i, &base) in bases.iter().enumerate() {
            let active = i + 1 == bases.len();
            let (seg, bad) = Segment::open(&dir, base, active && !clean)?;
            if let Some(bad) = bad {
                if active {
                    let cut = seg.truncate_to(bad.position)?;
                    let keep = seg.path().with_extension(format!("log.truncated-{}", now_ms()));
                    fs::write(&keep, &cut).map_err(|e| LogError::io(&keep, e))?;
                    tracing::warn!(
                        topic = %topic, partition = index, segment = %seg.path().display(),
                        position = bad.position, offset = bad.offset, bytes = cut.len(), reason = %bad.reason,
                        kept = %keep.display(),
                        "recovery truncated an invalid tail of the active segment"
                    );
                } else {
                    tracing::error!(
                        topic = %topic, partition = index, segment = %seg.path().display(),
                        position = bad.position, reason = %bad.reason,
                        "a sealed segment is damaged; reads past this point will fail with a corruption error"
                    );
                }
            }
            segments.insert(base, Arc::new(seg));
        }
        if segments.is_empty() {
            segments.insert(0, Arc::new(Segment::create(&dir, 0, now_ms())?));
        }
        let mut producers = ProducerStateTable::default();
        for seg in segments.values() {
            let headers = seg.headers().map_err(|(pos, reason)| LogError::Corrupt {
                topic: topic.to_string(),
                partition: index,
                offset: seg.base_offset(),
                path: seg.path().to_path_buf(),
                position: pos,
                reason,
            });
            match headers {
                Ok(hs) => {
                    for (pos, h) in &hs {
                        if !h.is_control() {
                            producers.record(h);
                            continue;
                        }
                        // Markers: their type is in the record key.
                        match seg.read_at(*pos, h.total_len()).ok().as_deref().and_then(batch::control_type) {
                            Some(kind) => producers.record_marker(h, kind),
                            None => tracing::warn!(offset = h.base_offset, "unreadable transaction marker ignored"),
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot rebuild producer state past a damaged segment"),
            }
        }
        let first = segments.values().next().map_or(0, |s| s.base_offset());
        let end = segments.values().next_back().map_or(0, |s| s.next_offset());
        producers.trim_aborted(first);
        let stable = producers.first_unstable_offset().unwrap_or(end).min(end);
        Ok(Arc::new(Partition {
            topic,
            index,
            dir,
            config: RwLock::new(config),
            durability,
            segments: RwLock::new(segments),
            writer: Mutex::new(Writer { producers, dirty: false }),
            high_watermark: AtomicI64::new(end),
            last_stable: AtomicI64::new(stable),
            log_start_offset: AtomicI64::new(first),
            closed: AtomicBool::new(false),
            notify: tokio::sync::Notify::new(),
            wait_lock: Mutex::new(()),
            wait_cv: Condvar::new(),
        }))
    }

    /// Topic name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Partition index.
    pub fn index(&self) -> i32 {
        self.index
    }

    /// The next offset to be written; everything below it is readable.
    pub fn high_watermark(&self) -> i64 {
        self.high_watermark.load(Ordering::Acquire)
    }

    /// The last stable offset: the first offset of the oldest transaction
    /// still open in this partition, or the high watermark when none is.
    /// `read_committed` readers see nothing at or past it.
    pub fn last_stable_offset(&self) -> i64 {
        self.last_stable.load(Ordering::Acquire)
    }

    /// The aborted transactions that overlap offsets `from..to`, oldest
    /// first: what a `read_committed` fetch of that range returns so the
    /// client can drop the aborted batches.
    pub fn aborted_transactions(&self, from: i64, to: i64) -> Vec<AbortedTxn> {
        self.writer.lock().producers.aborted_between(from, to)
    }

    /// Appends a transaction marker (a control batch) for `producer_id`,
    /// closing its open transaction in this partition.
    ///
    /// # Errors
    /// [`LogError::ProducerFenced`] when the partition has seen a newer
    /// epoch of the producer; I/O errors.
    pub fn append_marker(&self, producer_id: i64, producer_epoch: i16, kind: ControlType) -> Result<AppendInfo> {
        let batch = batch::control_batch(producer_id, producer_epoch, kind, now_ms());
        self.append_trusted(&batch)
    }

    /// The first offset still stored.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset.load(Ordering::Acquire)
    }

    /// Bytes stored in all segments.
    pub fn size_bytes(&self) -> u64 {
        self.segments.read().values().map(|s| s.len()).sum()
    }

    /// Number of segments.
    pub fn segment_count(&self) -> usize {
        self.segments.read().len()
    }

    /// The partition's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn config(&self) -> Arc<TopicConfig> {
        self.config.read().clone()
    }

    pub(crate) fn set_config(&self, c: Arc<TopicConfig>) {
        *self.config.write() = c;
    }

    pub(crate) fn segments_snapshot(&self) -> Vec<Arc<Segment>> {
        self.segments.read().values().cloned().collect()
    }

    /// Encodes `records` as one batch and appends it.
    ///
    /// # Errors
    /// [`LogError::RecordTooLarge`], idempotence errors, I/O errors.
    ///
    /// # Panics
    /// Never; an empty slice is refused with [`LogError::InvalidBatch`].
    pub fn append(&self, records: &[Record], opts: &AppendOptions) -> Result<AppendInfo> {
        if records.is_empty() {
            return Err(LogError::InvalidBatch { reason: "a batch needs at least one record".into() });
        }
        self.check_keys(records.iter().map(|r| r.key.is_some()))?;
        let now = now_ms();
        let mut b = BatchBuilder::with_capacity(
            opts.compression,
            records.iter().map(Record::approx_size).sum::<usize>() + BATCH_HEADER_LEN,
        );
        b.set_producer(opts.producer);
        for r in records {
            b.push(r, now);
        }
        let bytes = b.build(0).map_err(|e| LogError::Internal(format!("compression failed: {e}")))?;
        self.append_trusted(&bytes)
    }

    /// Appends a RecordBatch v2 received from outside (e.g. a Kafka producer):
    /// it is fully validated (CRC, structure, record count) before offsets
    /// are assigned.
    ///
    /// # Errors
    /// [`LogError::InvalidBatch`] for malformed bytes, plus those of
    /// [`append`](Self::append).
    ///
    /// The bytes are written to the segment as they are, with the assigned
    /// base offset in place of theirs: a batch borrowed from a request
    /// buffer is not copied on the way.
    pub fn append_batch(&self, batch: impl AsRef<[u8]>) -> Result<AppendInfo> {
        let batch = batch.as_ref();
        let (h, all_keyed) = batch::validate_batch(batch).map_err(|reason| LogError::InvalidBatch { reason })?;
        if h.is_control() {
            return Err(LogError::InvalidBatch { reason: "clients may not write control batches".into() });
        }
        if batch.len() != h.total_len() {
            return Err(LogError::InvalidBatch {
                reason: format!("{} bytes given for a batch of {} bytes", batch.len(), h.total_len()),
            });
        }
        // Deltas are strictly increasing and at most lastOffsetDelta, so
        // count - 1 == lastOffsetDelta means exactly 0..count.
        if h.record_count <= 0 || h.last_offset_delta != h.record_count - 1 {
            return Err(LogError::InvalidBatch {
                reason: "produced batches need consecutive offset deltas 0..count".into(),
            });
        }
        self.check_keys_with(&self.config(), all_keyed)?;
        self.append_trusted(batch)
    }

    /// Compacted topics need a key on every record (Kafka refuses them too:
    /// compaction could never remove a keyless record).
    pub(crate) fn check_keys(&self, mut has_key: impl Iterator<Item = bool>) -> Result<()> {
        self.check_keys_with(&self.config(), has_key.all(|k| k))
    }

    /// [`check_keys`](Self::check_keys) with a config the caller already holds.
    pub(crate) fn check_keys_with(&self, config: &TopicConfig, all_keyed: bool) -> Result<()> {
        if config.cleanup_policy.compacts() && !all_keyed {
            return Err(LogError::InvalidBatch {
                reason: format!(
                    "{}-{} is a compacted topic and cannot accept a record without a key; give every record a key",
                    self.topic, self.index
                ),
            });
        }
        Ok(())
    }

    /// Appends an encoded batch whose structure is known to be valid.
    pub(crate) fn append_trusted(&self, batch: &[u8]) -> Result<AppendInfo> {
        if self.closed.load(Ordering::Acquire) {
            return Err(LogError::Closed);
        }
        let config = self.config();
        if batch.len() > config.max_message_bytes {
            return Err(LogError::RecordTooLarge {
                topic: self.topic.to_string(),
                partition: self.index,
                size: batch.len(),
                max: config.max_message_bytes,
            });
        }
        let mut w = self.writer.lock();
        let mut header = BatchHeader::parse(batch).map_err(|reason| LogError::InvalidBatch { reason })?;
        let marker = if header.is_control() { batch::control_type(batch) } else { None };
        let check = match marker {
            Some(_) => w.producers.check_marker(&header),
            None => w.producers.check(&header),
        };
        match check {
            SequenceCheck::Append => {}
            SequenceCheck::Duplicate(m) => {
                return Ok(AppendInfo {
                    base_offset: m.base_offset,
                    last_offset: m.last_offset,
                    log_append_time: None,
                    duplicate: true,
                })
            }
            SequenceCheck::Fenced { current_epoch } => {
                return Err(LogError::ProducerFenced {
                    producer_id: header.producer_id,
                    epoch: header.producer_epoch,
                    current_epoch,
                })
            }
            SequenceCheck::OutOfOrder { expected } => {
                return Err(LogError::OutOfOrderSequence {
                    topic: self.topic.to_string(),
                    partition: self.index,
                    producer_id: header.producer_id,
                    expected,
                    got: header.base_sequence,
                })
            }
        }
        let base = self.high_watermark();
        header.base_offset = base;
        let log_append_time = (config.timestamp_type == TimestampType::LogAppendTime).then(now_ms);
        let active = self.active_for(&header, batch.len(), &config)?;
        match log_append_time {
            // The common case: the bytes go out as they came, base offset patched on the way.
            None => active.append_rebased(base, batch, &header)?,
            // LogAppendTime rewrites the max timestamp and so the CRC: on a copy.
            Some(t) => {
                let mut owned = batch.to_vec();
                batch::set_base_offset(&mut owned, base);
                batch::set_log_append_time(&mut owned, t);
                header = BatchHeader::parse(&owned).map_err(|reason| LogError::InvalidBatch { reason })?;
                active.append(&owned, &header)?;
            }
        }
        match self.durability {
            Durability::Fsync => active.flush()?,
            Durability::Interval(_) => w.dirty = true,
            Durability::PageCache => {}
        }
        match marker {
            Some(kind) => w.producers.record_marker(&header, kind),
            None => w.producers.record(&header),
        }
        let end = header.next_offset();
        let stable = w.producers.first_unstable_offset().unwrap_or(end).min(end);
        self.last_stable.store(stable, Ordering::Release);
        self.high_watermark.store(end, Ordering::Release);
        drop(w);
        self.wake_readers();
        Ok(AppendInfo { base_offset: base, last_offset: header.last_offset(), log_append_time, duplicate: false })
    }

    /// The segment to append to, rolling a new one when the active one is
    /// full, too old, or its relative offsets would overflow.
    fn active_for(&self, h: &BatchHeader, len: usize, config: &TopicConfig) -> Result<Arc<Segment>> {
        let active = self
            .segments
            .read()
            .values()
            .next_back()
            .cloned()
            .ok_or_else(|| LogError::Internal("partition without segments".into()))?;
        let too_big = active.len() > 0 && active.len() + len as u64 > config.segment_bytes;
        let too_old = config.segment_ms.is_some_and(|ms| active.len() > 0 && now_ms() - active.created_ms() > ms);
        let overflow = h.last_offset() - active.base_offset() > i32::MAX as i64 / 2;
        if !(too_big || too_old || overflow) {
            return Ok(active);
        }
        active.seal()?;
        let seg = Arc::new(Segment::create(&self.dir, h.base_offset, now_ms())?);
        self.segments.write().insert(h.base_offset, seg.clone());
        Ok(seg)
    }

    fn wake_readers(&self) {
        self.notify.notify_waiters();
        let _g = self.wait_lock.lock();
        self.wait_cv.notify_all();
    }

    /// Reads whole batches starting with the one that contains `offset`, up
    /// to about `max_bytes` (at least one batch, even a larger one).
    ///
    /// # Errors
    /// [`LogError::OffsetOutOfRange`] outside `[log_start, high_watermark]`;
    /// [`LogError::Corrupt`] when the first batch fails its CRC (later bad
    /// batches are left for the next read, which then fails on them).
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<FetchedBatches> {
        self.read_below(offset, max_bytes, false)
    }

    /// [`read`](Self::read) for `read_committed` readers: only batches below
    /// the last stable offset. Aborted batches are still returned (as Kafka
    /// does); [`aborted_transactions`](Self::aborted_transactions) says which.
    ///
    /// # Errors
    /// As [`read`](Self::read).
    pub fn read_committed(&self, offset: i64, max_bytes: usize) -> Result<FetchedBatches> {
        self.read_below(offset, max_bytes, true)
    }

    fn read_below(&self, offset: i64, max_bytes: usize, committed: bool) -> Result<FetchedBatches> {
        // The stable offset is loaded first: it never passes the watermark
        // loaded after it.
        let stable = self.last_stable_offset();
        let hw = self.high_watermark();
        let limit = if committed { stable.min(hw) } else { hw };
        let start = self.log_start_offset();
        let empty = || FetchedBatches { bytes: Bytes::new(), high_watermark: hw, log_start_offset: start };
        if offset < start || offset > hw {
            return Err(LogError::OffsetOutOfRange {
                topic: self.topic.to_string(),
                partition: self.index,
                offset,
                log_start: start,
                high_watermark: hw,
            });
        }
        if offset >= limit {
            return Ok(empty());
        }
        let mut next = {
            let segs = self.segments.read();
            segs.range(..=offset).next_back().or_else(|| segs.iter().next()).map(|(_, s)| s.clone())
        };
        while let Some(seg) = next {
            match seg.find_position(offset) {
                Ok(Some((pos, h))) if h.base_offset < limit => {
                    let bytes = self.read_from(&seg, pos, &h, max_bytes, limit)?;
                    return Ok(FetchedBatches { bytes, high_watermark: hw, log_start_offset: start });
                }
                Ok(Some(_)) => return Ok(empty()),
                Ok(None) => {}
                Err((position, reason)) => return Err(self.corrupt(&seg, offset, position, reason)),
            }
            next = self.segments.read().range(seg.base_offset() + 1..).next().map(|(_, s)| s.clone());
        }
        Ok(empty())
    }

    fn read_from(&self, seg: &Segment, pos: u64, first: &BatchHeader, max_bytes: usize, hw: i64) -> Result<Bytes> {
        let avail = (seg.len() - pos) as usize;
        let want = avail.min(max_bytes).max(first.total_len());
        let buf = seg.read_at(pos, want)?;
        let mut p = 0;
        while p + BATCH_HEADER_LEN <= buf.len() {
            let h = match BatchHeader::parse(&buf[p..]) {
                Ok(h) => h,
                Err(reason) if p == 0 => return Err(self.corrupt(seg, first.base_offset, pos, reason)),
                Err(_) => break,
            };
            if p + h.total_len() > buf.len() || h.base_offset >= hw {
                break;
            }
            if let Err(reason) = batch::verify_crc(&buf[p..p + h.total_len()], &h) {
                if p == 0 {
                    return Err(self.corrupt(seg, h.base_offset, pos, reason));
                }
                break;
            }
            p += h.total_len();
        }
        let mut buf = buf;
        buf.truncate(p);
        Ok(Bytes::from(buf))
    }

    fn corrupt(&self, seg: &Segment, offset: i64, position: u64, reason: String) -> LogError {
        LogError::Corrupt {
            topic: self.topic.to_string(),
            partition: self.index,
            offset,
            path: seg.path().to_path_buf(),
            position,
            reason,
        }
    }

    /// Convenience: decoded records from `offset`, at most about `max_bytes`.
    ///
    /// # Errors
    /// As [`read`](Self::read).
    pub fn read_records(&self, offset: i64, max_bytes: usize) -> Result<Vec<StoredRecord>> {
        let f = self.read(offset, max_bytes)?;
        f.records(offset).map_err(|reason| LogError::Corrupt {
            topic: self.topic.to_string(),
            partition: self.index,
            offset,
            path: self.dir.clone(),
            position: 0,
            reason,
        })
    }

    /// The first offset whose record timestamp is `>= ts`, with that
    /// timestamp; `None` when every record is older.
    ///
    /// # Errors
    /// [`LogError::Corrupt`] if a batch on the way is damaged.
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>> {
        let start = self.log_start_offset();
        for seg in self.segments_snapshot() {
            if seg.max_timestamp() < ts {
                continue;
            }
            let mut from = match seg.find_by_timestamp(ts) {
                Ok(Some((pos, _))) => pos,
                Ok(None) => continue,
                Err((p, reason)) => return Err(self.corrupt(&seg, seg.base_offset(), p, reason)),
            };
            while from < seg.len() {
                let head = seg.read_at(from, BATCH_HEADER_LEN)?;
                let h = BatchHeader::parse(&head).map_err(|r| self.corrupt(&seg, seg.base_offset(), from, r))?;
                if h.max_timestamp >= ts && !h.is_control() {
                    let bytes = Bytes::from(seg.read_at(from, h.total_len())?);
                    let (_, recs) = decode_batch(&bytes).map_err(|r| self.corrupt(&seg, h.base_offset, from, r))?;
                    if let Some(r) = recs.iter().find(|r| r.timestamp >= ts && r.offset >= start) {
                        return Ok(Some((r.offset, r.timestamp)));
                    }
                }
                from += h.total_len() as u64;
            }
        }
        Ok(None)
    }

    /// Blocks until data past `offset` exists (high watermark `> offset`),
    /// the partition closes, or `timeout` passes. Returns true if data is
    /// there.
    pub fn wait_for(&self, offset: i64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut g = self.wait_lock.lock();
        loop {
            if self.high_watermark() > offset {
                return true;
            }
            if self.closed.load(Ordering::Acquire) || self.wait_cv.wait_until(&mut g, deadline).timed_out() {
                return self.high_watermark() > offset;
            }
        }
    }

    /// Waits (async, no polling) until data past `offset` exists or the
    /// partition closes.
    pub async fn wait_for_async(&self, offset: i64) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.high_watermark() > offset || self.closed.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    /// fsyncs the active segment if it has unsynced appends.
    ///
    /// # Errors
    /// I/O errors.
    pub fn flush(&self) -> Result<()> {
        let mut w = self.writer.lock();
        if let Some(seg) = self.segments.read().values().next_back() {
            seg.flush()?;
        }
        w.dirty = false;
        Ok(())
    }

    pub(crate) fn flush_if_dirty(&self) -> Result<()> {
        if self.writer.lock().dirty {
            self.flush()?;
        }
        Ok(())
    }

    /// Seals the active segment and marks the directory as cleanly closed,
    /// so the next open skips tail validation. Idempotent.
    pub(crate) fn close(&self) -> Result<()> {
        let _w = self.writer.lock();
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        if let Some(seg) = self.segments.read().values().next_back() {
            seg.seal()?;
        }
        let marker = self.dir.join(CLEAN_SHUTDOWN);
        fs::write(&marker, self.high_watermark().to_string()).map_err(|e| LogError::io(&marker, e))?;
        drop(_w);
        self.wake_readers();
        Ok(())
    }

    /// Marks the partition closed without writing anything (topic deletion).
    pub(crate) fn shut(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake_readers();
    }

    /// Removes the oldest segments from the map (retention), advancing the
    /// log start offset. The active segment is never removed.
    pub(crate) fn remove_segments_before(&self, new_start: i64) -> Vec<Arc<Segment>> {
        let mut w = self.writer.lock();
        let mut segs = self.segments.write();
        let mut removed = Vec::new();
        while segs.len() > 1 {
            let Some((&base, seg)) = segs.iter().next() else { break };
            if seg.next_offset() > new_start || base >= new_start {
                break;
            }
            removed.push(seg.clone());
            segs.remove(&base);
        }
        if let Some((_, first)) = segs.iter().next() {
            self.log_start_offset.store(first.base_offset().max(self.log_start_offset()), Ordering::Release);
        }
        w.producers.trim_aborted(self.log_start_offset());
        removed
    }

    /// Swaps a sealed segment for its compacted replacement.
    pub(crate) fn replace_segment(&self, old: &Arc<Segment>, new: Arc<Segment>) -> Result<()> {
        let _w = self.writer.lock();
        let mut segs = self.segments.write();
        match segs.get(&old.base_offset()) {
            Some(s) if Arc::ptr_eq(s, old) => {
                segs.insert(new.base_offset(), new);
                Ok(())
            }
            _ => Err(LogError::Internal(format!("segment {} changed during compaction", old.base_offset()))),
        }
    }
}

/// Base offsets of the `.log` files in `dir`, sorted. Leftover temporary
/// files from an interrupted write or compaction are removed.
fn segment_bases(dir: &Path) -> Result<Vec<i64>> {
    let mut bases = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| LogError::io(dir, e))? {
        let entry = entry.map_err(|e| LogError::io(dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".tmp") || name.ends_with(".cleaned") {
            let p = entry.path();
            fs::remove_file(&p).map_err(|e| LogError::io(&p, e))?;
            continue;
        }
        if let Some(stem) = name.strip_suffix(".log") {
            if let Ok(base) = stem.parse::<i64>() {
                bases.push(base);
            }
        }
    }
    bases.sort_unstable();
    Ok(bases)
}
