//! Retention: deleting whole sealed segments by age and by size.
//!
//! Only a prefix of sealed segments is ever removed, so offsets stay dense
//! from the log start offset; the active segment is never deleted.

use std::sync::Arc;

use crate::error::Result;
use crate::partition::Partition;
use crate::segment::Segment;

impl Partition {
    /// Deletes the oldest sealed segments that are past `retention.ms`
    /// (their newest record is older than `now_ms - retention.ms`) or that
    /// push the partition over `retention.bytes`. Returns how many segments
    /// were removed.
    ///
    /// # Errors
    /// I/O errors deleting files (the segments are already unlinked from the
    /// partition by then, so no reader sees them).
    pub fn enforce_retention(&self, now_ms: i64) -> Result<usize> {
        let config = self.config();
        let segs = self.segments_snapshot();
        let Some((_active, sealed)) = segs.split_last() else { return Ok(0) };
        // Size first, then age on what is left (Kafka's order): one pass
        // reaches the fixpoint, so an expired segment that only becomes the
        // oldest once the size rule removed its predecessors goes now, not
        // at the next cleaner run.
        let mut expired = 0;
        if let Some(limit) = config.retention_bytes {
            let mut size: u64 = segs.iter().map(|s| s.len()).sum();
            for s in sealed {
                if size < limit + s.len() {
                    break;
                }
                size -= s.len();
                expired += 1;
            }
        }
        if let Some(ms) = config.retention_ms {
            expired += sealed[expired..].iter().take_while(|s| segment_time(s) < now_ms - ms).count();
        }
        if expired == 0 {
            return Ok(0);
        }
        let new_start = segs[expired].base_offset();
        let removed = self.remove_segments_before(new_start);
        for s in &removed {
            tracing::info!(
                topic = self.topic(), partition = self.index(), segment = %s.path().display(),
                "retention deleted segment"
            );
            s.delete_files()?;
        }
        Ok(removed.len())
    }
}

/// The time retention judges a segment by: its newest record, or its file
/// time when it holds no timestamps.
fn segment_time(s: &Arc<Segment>) -> i64 {
    if s.max_timestamp() >= 0 {
        s.max_timestamp()
    } else {
        s.created_ms()
    }
}
