//! One log segment: `<base offset, 20 digits>.log` holding RecordBatch v2
//! bytes back to back, with its `.index` and `.timeindex`.
//!
//! Only the partition's writer appends (under the partition's write lock);
//! readers use positional reads below [`Segment::len`], which is published
//! after the bytes are written, so a reader never sees half a batch.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use parking_lot::RwLock;

use crate::batch::{verify_crc, BatchHeader, BATCH_HEADER_LEN};
use crate::error::{LogError, Result};
use crate::index::{OffsetIndex, TimeIndex};

/// Add an index entry after at least this many bytes (Kafka's
/// `index.interval.bytes`).
pub(crate) const INDEX_INTERVAL_BYTES: u64 = 4096;

/// File name of the segment starting at `base`.
pub(crate) fn log_file_name(base: i64) -> String {
    format!("{base:020}.log")
}

/// Where a segment's bytes stopped being valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadTail {
    /// Byte position of the first invalid batch.
    pub position: u64,
    /// Offset of the last good batch's successor (where the bad one starts).
    pub offset: i64,
    /// Why it is invalid.
    pub reason: String,
}

#[derive(Debug, Default)]
struct Indexes {
    offsets: OffsetIndex,
    times: TimeIndex,
    bytes_since_entry: u64,
}

/// One segment file and its indexes.
#[derive(Debug)]
pub(crate) struct Segment {
    base_offset: i64,
    path: PathBuf,
    file: File,
    size: AtomicU64,
    next_offset: AtomicI64,
    max_timestamp: AtomicI64,
    indexes: RwLock<Indexes>,
    /// Wall-clock creation time (ms) for `segment.ms`.
    created_ms: i64,
}

impl Segment {
    /// Creates an empty segment file (replacing a stale empty one).
    pub(crate) fn create(dir: &Path, base_offset: i64, now_ms: i64) -> Result<Self> {
        let path = dir.join(log_file_name(base_offset));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| LogError::io(&path, e))?;
        Ok(Segment {
            base_offset,
            path,
            file,
            size: AtomicU64::new(0),
            next_offset: AtomicI64::new(base_offset),
            max_timestamp: AtomicI64::new(-1),
            indexes: RwLock::new(Indexes::default()),
            created_ms: now_ms,
        })
    }

    /// Opens an existing segment.
    ///
    /// With `validate`, every batch's CRC is checked and a bad tail is
    /// reported (the caller truncates it). Without, the index files are loaded
    /// (or rebuilt from batch headers when missing or inconsistent).
    pub(crate) fn open(dir: &Path, base_offset: i64, validate: bool) -> Result<(Self, Option<BadTail>)> {
        let path = dir.join(log_file_name(base_offset));
        let file = OpenOptions::new().read(true).write(true).open(&path).map_err(|e| LogError::io(&path, e))?;
        let meta = file.metadata().map_err(|e| LogError::io(&path, e))?;
        let created_ms = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as i64);
        let seg = Segment {
            base_offset,
            path,
            file,
            size: AtomicU64::new(meta.len()),
            next_offset: AtomicI64::new(base_offset),
            max_timestamp: AtomicI64::new(-1),
            indexes: RwLock::new(Indexes::default()),
            created_ms,
        };
        let loaded = !validate && seg.load_indexes();
        let start = if loaded { u64::from(seg.indexes.read().offsets.lookup(u32::MAX)) } else { 0 };
        let bad = seg.rebuild_from(start, validate, !loaded)?;
        Ok((seg, bad))
    }

    /// Scans batches from `start`, recomputing next offset, max timestamp and
    /// (when `reindex`) the indexes. Stops at the first invalid batch.
    fn rebuild_from(&self, start: u64, verify: bool, reindex: bool) -> Result<Option<BadTail>> {
        let file_len = self.len();
        if reindex {
            *self.indexes.write() = Indexes::default();
        }
        let mut pos = start;
        let mut max_ts = self.max_timestamp.load(Ordering::Relaxed);
        let mut next = self.base_offset;
        let mut bad = None;
        while pos < file_len {
            match self.check_batch_at(pos, file_len, verify, next) {
                Ok(h) => {
                    if reindex {
                        self.index_batch(&h, pos, &mut self.indexes.write(), max_ts.max(h.max_timestamp));
                    }
                    max_ts = max_ts.max(h.max_timestamp);
                    next = h.next_offset();
                    pos += h.total_len() as u64;
                }
                Err(reason) => {
                    bad = Some(BadTail { position: pos, offset: next, reason });
                    break;
                }
            }
        }
        if !reindex {
            // Index entries were loaded; the running max before `start` comes
            // from the time index's last entry.
            max_ts = max_ts.max(self.indexes.read().times.max_timestamp());
        }
        self.next_offset.store(next.max(self.base_offset), Ordering::Relaxed);
        self.max_timestamp.store(max_ts, Ordering::Relaxed);
        Ok(bad)
    }

    /// Reads and checks the batch at `pos` (header always; CRC if `verify`).
    fn check_batch_at(&self, pos: u64, file_len: u64, verify: bool, min_base: i64) -> Result<BatchHeader, String> {
        if file_len - pos < BATCH_HEADER_LEN as u64 {
            return Err(format!("{} trailing bytes are too few for a batch header", file_len - pos));
        }
        let mut head = [0u8; BATCH_HEADER_LEN];
        self.file.read_exact_at(&mut head, pos).map_err(|e| format!("read failed: {e}"))?;
        let h = BatchHeader::parse(&head)?;
        if pos + h.total_len() as u64 > file_len {
            return Err(format!("batch of {} bytes runs past the end of the file (torn write)", h.total_len()));
        }
        if h.base_offset < min_base {
            return Err(format!("batch base offset {} goes backwards (expected >= {min_base})", h.base_offset));
        }
        if verify {
            let mut whole = vec![0u8; h.total_len()];
            self.file.read_exact_at(&mut whole, pos).map_err(|e| format!("read failed: {e}"))?;
            verify_crc(&whole, &h)?;
        }
        Ok(h)
    }

    fn index_batch(&self, h: &BatchHeader, pos: u64, idx: &mut Indexes, running_max_ts: i64) {
        let rel = (h.base_offset - self.base_offset) as u32;
        if idx.bytes_since_entry >= INDEX_INTERVAL_BYTES || pos == 0 {
            idx.offsets.push(rel, pos as u32);
            idx.times.push(running_max_ts, rel);
            idx.bytes_since_entry = 0;
        }
        idx.bytes_since_entry += h.total_len() as u64;
    }

    fn load_indexes(&self) -> bool {
        let read = |ext: &str| fs::read(self.path.with_extension(ext)).ok();
        let (Some(o), Some(t)) = (read("index"), read("timeindex")) else { return false };
        let Some(offsets) = OffsetIndex::decode(&o, self.len()) else { return false };
        let Some(times) = TimeIndex::decode(&t, u32::MAX) else { return false };
        *self.indexes.write() = Indexes { offsets, times, bytes_since_entry: 0 };
        true
    }

    /// Appends one batch (already validated, offsets assigned).
    pub(crate) fn append(&self, batch: &[u8], h: &BatchHeader) -> Result<()> {
        let pos = self.len();
        self.file.write_all_at(batch, pos).map_err(|e| LogError::io(&self.path, e))?;
        self.appended(batch.len(), pos, h);
        Ok(())
    }

    /// Appends one validated batch with `base_offset` written in place of
    /// its first 8 bytes (the base offset field, outside the CRC), so the
    /// caller's bytes need not be copied to be changed. The base offset
    /// goes first: a crash between the two writes leaves a torn tail that
    /// recovery cuts, as for any torn write.
    pub(crate) fn append_rebased(&self, base_offset: i64, batch: &[u8], h: &BatchHeader) -> Result<()> {
        let rest = batch.get(8..).ok_or_else(|| LogError::InvalidBatch { reason: "batch shorter than its header".into() })?;
        let pos = self.len();
        self.file.write_all_at(&base_offset.to_be_bytes(), pos).map_err(|e| LogError::io(&self.path, e))?;
        self.file.write_all_at(rest, pos + 8).map_err(|e| LogError::io(&self.path, e))?;
        self.appended(batch.len(), pos, h);
        Ok(())
    }

    /// Indexes a batch written at `pos` and publishes the new end.
    fn appended(&self, len: usize, pos: u64, h: &BatchHeader) {
        let max_ts = self.max_timestamp.load(Ordering::Relaxed).max(h.max_timestamp);
        self.index_batch(h, pos, &mut self.indexes.write(), max_ts);
        self.max_timestamp.store(max_ts, Ordering::Relaxed);
        self.next_offset.store(h.next_offset(), Ordering::Release);
        self.size.store(pos + len as u64, Ordering::Release);
    }

    /// Position of the first batch containing an offset `>= offset`, or
    /// `None` if the segment has no such batch.
    pub(crate) fn find_position(&self, offset: i64) -> Result<Option<(u64, BatchHeader)>, (u64, String)> {
        let rel = (offset - self.base_offset).clamp(0, u32::MAX as i64) as u32;
        let start = u64::from(self.indexes.read().offsets.lookup(rel));
        self.scan_until(start, |h| h.last_offset() >= offset)
    }

    /// Position of the first batch that may hold a record with timestamp
    /// `>= ts` (its max timestamp is `>= ts`).
    pub(crate) fn find_by_timestamp(&self, ts: i64) -> Result<Option<(u64, BatchHeader)>, (u64, String)> {
        let rel = self.indexes.read().times.lookup(ts);
        let start = u64::from(self.indexes.read().offsets.lookup(rel));
        self.scan_until(start, |h| h.max_timestamp >= ts)
    }

    fn scan_until(
        &self,
        mut pos: u64,
        mut pred: impl FnMut(&BatchHeader) -> bool,
    ) -> Result<Option<(u64, BatchHeader)>, (u64, String)> {
        let end = self.len();
        let mut head = [0u8; BATCH_HEADER_LEN];
        while pos + BATCH_HEADER_LEN as u64 <= end {
            self.file.read_exact_at(&mut head, pos).map_err(|e| (pos, format!("read failed: {e}")))?;
            let h = BatchHeader::parse(&head).map_err(|e| (pos, e))?;
            if pos + h.total_len() as u64 > end {
                return Err((pos, "batch runs past the end of the segment".into()));
            }
            if pred(&h) {
                return Ok(Some((pos, h)));
            }
            pos += h.total_len() as u64;
        }
        Ok(None)
    }

    /// Iterates the headers of all batches, in order.
    pub(crate) fn headers(&self) -> Result<Vec<(u64, BatchHeader)>, (u64, String)> {
        let mut out = Vec::new();
        let mut pos = 0;
        while let Some((p, h)) = self.scan_until(pos, |_| true)? {
            pos = p + h.total_len() as u64;
            out.push((p, h));
        }
        Ok(out)
    }

    /// Reads `len` bytes at `pos`.
    pub(crate) fn read_at(&self, pos: u64, len: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        self.file.read_exact_at(&mut buf, pos).map_err(|e| LogError::io(&self.path, e))?;
        Ok(buf)
    }

    /// Cuts the file at `pos`, returning the removed bytes (kept aside by the
    /// caller so nothing is silently lost).
    pub(crate) fn truncate_to(&self, pos: u64) -> Result<Vec<u8>> {
        let len = self.len();
        let cut = if pos < len { self.read_at(pos, (len - pos) as usize)? } else { Vec::new() };
        self.file.set_len(pos).map_err(|e| LogError::io(&self.path, e))?;
        self.size.store(pos, Ordering::Release);
        let mut idx = self.indexes.write();
        idx.offsets.truncate_to_position(pos as u32);
        drop(idx);
        // Recompute next offset / max timestamp / time index from the kept batches.
        self.rebuild_from(0, false, true)?;
        let next = self.next_offset();
        self.indexes.write().times.truncate_to_offset((next - self.base_offset) as u32);
        Ok(cut)
    }

    /// Writes the index files and fsyncs everything (on roll and clean close).
    pub(crate) fn seal(&self) -> Result<()> {
        self.flush()?;
        let idx = self.indexes.read();
        write_file_synced(&self.path.with_extension("index"), &idx.offsets.encode())?;
        write_file_synced(&self.path.with_extension("timeindex"), &idx.times.encode())?;
        Ok(())
    }

    /// fdatasync of the log file.
    pub(crate) fn flush(&self) -> Result<()> {
        self.file.sync_data().map_err(|e| LogError::io(&self.path, e))
    }

    /// Removes the segment's files.
    pub(crate) fn delete_files(&self) -> Result<()> {
        for ext in ["log", "index", "timeindex"] {
            let p = self.path.with_extension(ext);
            match fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(LogError::io(p, e)),
            }
        }
        Ok(())
    }

    /// First offset this segment may hold.
    pub(crate) fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// Offset after the last batch.
    pub(crate) fn next_offset(&self) -> i64 {
        self.next_offset.load(Ordering::Acquire)
    }

    /// Bytes of complete batches.
    pub(crate) fn len(&self) -> u64 {
        self.size.load(Ordering::Acquire)
    }

    /// Largest timestamp stored (-1 when empty).
    pub(crate) fn max_timestamp(&self) -> i64 {
        self.max_timestamp.load(Ordering::Relaxed)
    }

    /// Creation time in ms since the epoch.
    pub(crate) fn created_ms(&self) -> i64 {
        self.created_ms
    }

    /// The `.log` path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// Writes `bytes` to `path` through a temporary file, fsync and rename.
pub(crate) fn write_file_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("file")
    ));
    let write = || -> std::io::Result<()> {
        let f = File::create(&tmp)?;
        f.write_all_at(bytes, 0)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| LogError::io(path, e))
}
