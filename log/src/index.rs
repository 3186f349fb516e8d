//! Sparse per-segment indexes, in Kafka's on-disk layout.
//!
//! - `.index`: `[relativeOffset: u32][position: u32]` big-endian, one entry
//!   about every `index.interval.bytes` of log, keyed by a batch's base offset.
//! - `.timeindex`: `[timestamp: i64][relativeOffset: u32]`, where the timestamp
//!   is the segment's running maximum, so entries are monotonic.
//!
//! Indexes are kept in memory and written when a segment is sealed or the log
//! closes cleanly; a missing or inconsistent index file is rebuilt from the
//! segment on open.

/// Offset → file position, sparse.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct OffsetIndex {
    entries: Vec<(u32, u32)>,
}

impl OffsetIndex {
    /// Adds an entry; relative offsets and positions must increase.
    pub(crate) fn push(&mut self, rel_offset: u32, position: u32) {
        if self.entries.last().is_none_or(|&(o, p)| o < rel_offset && p < position) {
            self.entries.push((rel_offset, position));
        }
    }

    /// Position of the last indexed batch whose base offset is `<= rel_offset`
    /// (0 when none is).
    pub(crate) fn lookup(&self, rel_offset: u32) -> u32 {
        let i = self.entries.partition_point(|&(o, _)| o <= rel_offset);
        if i == 0 {
            0
        } else {
            self.entries[i - 1].1
        }
    }

    /// Drops entries at or past `position` (after truncation).
    pub(crate) fn truncate_to_position(&mut self, position: u32) {
        let i = self.entries.partition_point(|&(_, p)| p < position);
        self.entries.truncate(i);
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * 8);
        for &(o, p) in &self.entries {
            out.extend_from_slice(&o.to_be_bytes());
            out.extend_from_slice(&p.to_be_bytes());
        }
        out
    }

    /// Parses an index file; `None` if it is inconsistent with a segment of
    /// `segment_len` bytes (then the caller rebuilds it).
    pub(crate) fn decode(bytes: &[u8], segment_len: u64) -> Option<Self> {
        if bytes.len() % 8 != 0 {
            return None;
        }
        let mut idx = OffsetIndex::default();
        for c in bytes.chunks_exact(8) {
            let o = u32::from_be_bytes(c[0..4].try_into().ok()?);
            let p = u32::from_be_bytes(c[4..8].try_into().ok()?);
            if u64::from(p) >= segment_len || idx.entries.last().is_some_and(|&(lo, lp)| lo >= o || lp >= p) {
                return None;
            }
            idx.entries.push((o, p));
        }
        Some(idx)
    }
}

/// Max-timestamp-so-far → relative offset, sparse.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct TimeIndex {
    entries: Vec<(i64, u32)>,
}

impl TimeIndex {
    /// Adds an entry when the running maximum grew.
    pub(crate) fn push(&mut self, max_ts: i64, rel_offset: u32) {
        if self.entries.last().is_none_or(|&(t, o)| t < max_ts && o < rel_offset) {
            self.entries.push((max_ts, rel_offset));
        }
    }

    /// A relative offset from which scanning finds the first record with
    /// timestamp `>= ts`: every record before it has a smaller timestamp.
    pub(crate) fn lookup(&self, ts: i64) -> u32 {
        let i = self.entries.partition_point(|&(t, _)| t < ts);
        if i == 0 {
            0
        } else {
            self.entries[i - 1].1
        }
    }

    /// The largest timestamp indexed (-1 when empty).
    pub(crate) fn max_timestamp(&self) -> i64 {
        self.entries.last().map_or(-1, |&(t, _)| t)
    }

    /// Drops entries for offsets at or past `rel_offset`.
    pub(crate) fn truncate_to_offset(&mut self, rel_offset: u32) {
        let i = self.entries.partition_point(|&(_, o)| o < rel_offset);
        self.entries.truncate(i);
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * 12);
        for &(t, o) in &self.entries {
            out.extend_from_slice(&t.to_be_bytes());
            out.extend_from_slice(&o.to_be_bytes());
        }
        out
    }

    /// Parses a time index file; `None` if inconsistent.
    pub(crate) fn decode(bytes: &[u8], max_rel_offset: u32) -> Option<Self> {
        if bytes.len() % 12 != 0 {
            return None;
        }
        let mut idx = TimeIndex::default();
        for c in bytes.chunks_exact(12) {
            let t = i64::from_be_bytes(c[0..8].try_into().ok()?);
            let o = u32::from_be_bytes(c[8..12].try_into().ok()?);
            if o > max_rel_offset || idx.entries.last().is_some_and(|&(lt, lo)| lt >= t || lo >= o) {
                return None;
            }
            idx.entries.push((t, o));
        }
        Some(idx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_lookup_finds_floor_entry() {
        let mut i = OffsetIndex::default();
        i.push(0, 0);
        i.push(10, 4096);
        i.push(20, 8192);
        i.push(15, 9000); // out of order: ignored
        assert_eq!(i.lookup(0), 0);
        assert_eq!(i.lookup(9), 0);
        assert_eq!(i.lookup(10), 4096);
        assert_eq!(i.lookup(25), 8192);
        let d = OffsetIndex::decode(&i.encode(), 10_000).unwrap();
        assert_eq!(d, i);
        assert!(OffsetIndex::decode(&i.encode(), 8000).is_none(), "entry past segment end");
        i.truncate_to_position(8192);
        assert_eq!(i.lookup(25), 4096);
    }

    #[test]
    fn time_lookup_starts_before_first_candidate() {
        let mut t = TimeIndex::default();
        t.push(100, 0);
        t.push(200, 5);
        t.push(300, 9);
        assert_eq!(t.lookup(50), 0);
        assert_eq!(t.lookup(150), 0);
        assert_eq!(t.lookup(250), 5);
        assert_eq!(t.lookup(301), 9);
        assert_eq!(TimeIndex::decode(&t.encode(), 9).unwrap(), t);
        assert!(TimeIndex::decode(&t.encode(), 8).is_none());
    }
}
