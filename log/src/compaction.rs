//! Log compaction: keep only the latest record per key in sealed segments.
//!
//! - Offsets are preserved: kept records keep their offsets, rewritten
//!   batches keep their base offset and last offset delta.
//! - A tombstone (null value) that is the latest for its key is kept until
//!   its timestamp is older than `delete.retention.ms`, so consumers that are
//!   behind still see the delete.
//! - Segments younger than `min.compaction.lag.ms` are left alone, and so
//!   are segments that reach past the last stable offset: an open
//!   transaction's records must not supersede anything before it commits.
//! - Records of aborted transactions never count as a key's latest value
//!   and are removed (Kafka's cleaner does the same); the ABORT and COMMIT
//!   markers are kept, so `read_committed` readers still see the
//!   transaction boundaries.
//! - The active segment is never compacted, so appends are never blocked;
//!   readers keep reading a replaced segment through their open handle.
//! - Crash safety: the cleaned copy is written as `<base>.cleaned`, the
//!   old indexes are removed, then it is renamed over `<base>.log` (atomic).
//!   A crash before the rename leaves the old segment; after it, indexes
//!   are rebuilt on open.

use std::collections::HashMap;
use std::fs;
use std::sync::Arc;

use bytes::Bytes;

use crate::batch::{self, decode_batch, BatchBuilder, BatchHeader, ProducerFields};
use crate::error::{LogError, Result};
use crate::partition::Partition;
use crate::record::Record;
use crate::segment::{log_file_name, Segment};

/// What one compaction pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CompactionStats {
    /// Segments rewritten.
    pub segments: usize,
    /// Records read.
    pub records_read: u64,
    /// Records dropped (superseded values, expired tombstones and records of
    /// aborted transactions).
    pub records_removed: u64,
}

impl Partition {
    /// Compacts the sealed segments that are older than
    /// `min.compaction.lag.ms`.
    ///
    /// # Errors
    /// I/O errors, or [`LogError::Corrupt`] if a batch fails validation (the
    /// segment is then left as it is).
    pub fn compact(&self, now_ms: i64) -> Result<CompactionStats> {
        let config = self.config();
        let segs = self.segments_snapshot();
        let Some((_active, sealed)) = segs.split_last() else { return Ok(CompactionStats::default()) };
        let lag = config.min_compaction_lag_ms;
        let stable = self.last_stable_offset();
        let n = sealed
            .iter()
            .take_while(|s| s.max_timestamp() <= now_ms - lag && s.next_offset() <= stable)
            .count();
        let cleanable = &sealed[..n];
        let (Some(first), Some(last)) = (cleanable.first(), cleanable.last()) else {
            return Ok(CompactionStats::default());
        };
        let aborted = self.aborted_transactions(first.base_offset(), last.next_offset());
        let is_aborted = |h: &BatchHeader| {
            !h.is_control()
                && h.is_transactional()
                && aborted.iter().any(|a| a.producer_id == h.producer_id && a.first_offset <= h.base_offset && h.base_offset < a.last_offset)
        };
        // Pass 1: the latest committed offset of every key.
        let mut latest: HashMap<Bytes, i64> = HashMap::new();
        for seg in cleanable {
            for_each_batch(self, seg, |_, h, recs| {
                if is_aborted(h) {
                    return;
                }
                for r in recs {
                    if let Some(k) = &r.key {
                        latest.insert(k.clone(), r.offset);
                    }
                }
            })?;
        }
        // Pass 2: rewrite each segment that loses records.
        let horizon = now_ms - config.delete_retention_ms;
        let mut stats = CompactionStats::default();
        for seg in cleanable {
            let mut out: Vec<u8> = Vec::with_capacity(seg.len() as usize);
            let mut removed = 0u64;
            let mut failed = None;
            for_each_batch(self, seg, |bytes, h, recs| {
                stats.records_read += recs.len() as u64;
                if h.is_control() {
                    out.extend_from_slice(bytes);
                    return;
                }
                if is_aborted(h) {
                    // The records go; the header stays, so the producer's
                    // sequence state rebuilds the same after a restart.
                    removed += recs.len() as u64;
                    match batch::emptied_batch(bytes) {
                        Ok(b) => out.extend_from_slice(&b),
                        Err(reason) => failed = Some(LogError::Internal(format!("emptying an aborted batch: {reason}"))),
                    }
                    return;
                }
                let keep: Vec<_> = recs
                    .iter()
                    .filter(|r| match &r.key {
                        None => true,
                        Some(k) => latest.get(k) == Some(&r.offset) && (r.value.is_some() || r.timestamp >= horizon),
                    })
                    .collect();
                removed += (recs.len() - keep.len()) as u64;
                if keep.len() == recs.len() {
                    out.extend_from_slice(bytes);
                } else if !keep.is_empty() {
                    match rebuild_batch(h, &keep) {
                        Ok(b) => out.extend_from_slice(&b),
                        Err(e) => failed = Some(e),
                    }
                }
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
            if removed == 0 {
                continue;
            }
            stats.records_removed += removed;
            stats.segments += 1;
            self.swap_segment(seg, &out)?;
        }
        if stats.segments > 0 {
            tracing::info!(
                topic = self.topic(), partition = self.index(), segments = stats.segments,
                removed = stats.records_removed, "compacted"
            );
        }
        Ok(stats)
    }

    fn swap_segment(&self, old: &Arc<Segment>, bytes: &[u8]) -> Result<()> {
        let base = old.base_offset();
        let dir = self.dir();
        let cleaned = dir.join(format!("{base:020}.cleaned"));
        let write = || -> std::io::Result<()> {
            fs::write(&cleaned, bytes)?;
            fs::File::open(&cleaned)?.sync_all()
        };
        write().map_err(|e| LogError::io(&cleaned, e))?;
        let log_path = dir.join(log_file_name(base));
        for ext in ["index", "timeindex"] {
            let p = log_path.with_extension(ext);
            if let Err(e) = fs::remove_file(&p) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    return Err(LogError::io(p, e));
                }
            }
        }
        fs::rename(&cleaned, &log_path).map_err(|e| LogError::io(&log_path, e))?;
        let (new, bad) = Segment::open(dir, base, true)?;
        if let Some(bad) = bad {
            return Err(LogError::Internal(format!("compacted segment {base} does not validate: {}", bad.reason)));
        }
        new.seal()?;
        self.replace_segment(old, Arc::new(new))
    }
}

/// Calls `f(batch bytes, header, records)` for every batch of `seg`.
fn for_each_batch(
    p: &Partition,
    seg: &Segment,
    mut f: impl FnMut(&[u8], &BatchHeader, &[crate::record::StoredRecord]),
) -> Result<()> {
    let corrupt = |position: u64, offset: i64, reason: String| LogError::Corrupt {
        topic: p.topic().to_string(),
        partition: p.index(),
        offset,
        path: seg.path().to_path_buf(),
        position,
        reason,
    };
    let headers = seg.headers().map_err(|(pos, r)| corrupt(pos, seg.base_offset(), r))?;
    for (pos, h) in headers {
        let bytes = Bytes::from(seg.read_at(pos, h.total_len())?);
        let (_, recs) = decode_batch(&bytes).map_err(|r| corrupt(pos, h.base_offset, r))?;
        f(&bytes, &h, &recs);
    }
    Ok(())
}

/// Re-encodes a batch keeping only `keep`, with the original base offset,
/// offsets, timestamps, codec, producer fields and last offset delta.
fn rebuild_batch(h: &BatchHeader, keep: &[&crate::record::StoredRecord]) -> Result<Vec<u8>> {
    let mut b = BatchBuilder::new(h.compression().unwrap_or_default());
    b.set_producer(ProducerFields {
        producer_id: h.producer_id,
        producer_epoch: h.producer_epoch,
        base_sequence: h.base_sequence,
        transactional: h.is_transactional(),
    });
    for r in keep {
        let rec = Record { key: r.key.clone(), value: r.value.clone(), timestamp: None, headers: r.headers.clone() };
        b.push_at(&rec, (r.offset - h.base_offset) as i32, r.timestamp);
    }
    b.set_last_offset_delta(h.last_offset_delta);
    let mut out = b
        .build(h.base_offset)
        .map_err(|e| LogError::Internal(format!("re-compressing a compacted batch failed: {e}")))?
        .to_vec();
    if h.is_log_append_time() {
        batch::set_log_append_time(&mut out, h.max_timestamp);
    }
    Ok(out)
}
