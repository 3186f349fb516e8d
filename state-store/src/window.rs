//! The window store facade: keys are `(record key, window start, seq)`,
//! stored in time segments (see [`crate::encoding`] and the segmented map).

use std::ops::Bound;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use crate::encoding::{parse_window_key, window_key};
use crate::error::{Result, StateError};
use crate::segmented::SegmentedMap;
use crate::store::{impl_state_store, Core, ReadOnlyWindowStore, WindowStore, WindowedEntry};

/// A window store over a map stack whose bottom is a segmented map.
#[derive(Debug)]
pub struct WindowStoreImpl {
    pub(crate) core: Core,
    pub(crate) segments: Arc<SegmentedMap>,
    pub(crate) retention_ms: i64,
    /// Keep every put (stream-stream join buffers) instead of overwriting.
    pub(crate) retain_duplicates: bool,
    pub(crate) seq: AtomicU32,
}

impl_state_store!(WindowStoreImpl);

impl WindowStoreImpl {
    fn decode(&self, k: &Bytes, v: Bytes) -> Result<WindowedEntry> {
        let (key, window_start, _) = parse_window_key(k).ok_or_else(|| StateError::Corrupt {
            path: self.core.name.clone().into(),
            reason: "a window key does not decode".into(),
        })?;
        Ok(WindowedEntry { key: Bytes::from(key), window_start, value: v })
    }

    /// Ids of the time segments currently kept (for retention checks).
    pub fn segment_ids(&self) -> Vec<i64> {
        self.segments.segment_ids()
    }

    /// Puts dropped because their window was past retention.
    pub fn expired_writes(&self) -> u64 {
        self.segments.expired_writes()
    }
}

impl ReadOnlyWindowStore for WindowStoreImpl {
    fn fetch(&self, key: &[u8], window_start: i64) -> Result<Option<Bytes>> {
        if !self.segments.is_live(window_start) {
            return Ok(None);
        }
        if self.retain_duplicates {
            return Ok(self.fetch_range(key, window_start, window_start)?.into_iter().next().map(|(_, v)| v));
        }
        self.core.map()?.get(&window_key(key, window_start, 0))
    }

    fn fetch_range(&self, key: &[u8], from: i64, to: i64) -> Result<Vec<(i64, Bytes)>> {
        if from > to {
            return Ok(Vec::new());
        }
        let lo = window_key(key, from, 0);
        let hi = window_key(key, to, u32::MAX);
        self.core
            .map()?
            .range(Bound::Included(&lo), Bound::Included(&hi), false)?
            .into_iter()
            .map(|(k, v)| self.decode(&k, v))
            .filter(|e| e.as_ref().map_or(true, |e| self.segments.is_live(e.window_start)))
            .map(|e| e.map(|e| (e.window_start, e.value)))
            .collect()
    }

    fn fetch_key_range(&self, key_from: &[u8], key_to: &[u8], from: i64, to: i64) -> Result<Vec<WindowedEntry>> {
        if from > to || key_from > key_to {
            return Ok(Vec::new());
        }
        let lo = window_key(key_from, from, 0);
        let hi = window_key(key_to, to, u32::MAX);
        let mut out = Vec::new();
        for (k, v) in self.core.map()?.range(Bound::Included(&lo), Bound::Included(&hi), false)? {
            let e = self.decode(&k, v)?;
            if (from..=to).contains(&e.window_start) && self.segments.is_live(e.window_start) {
                out.push(e);
            }
        }
        Ok(out)
    }

    fn all(&self) -> Result<Vec<WindowedEntry>> {
        self.core
            .map()?
            .range(Bound::Unbounded, Bound::Unbounded, false)?
            .into_iter()
            .map(|(k, v)| self.decode(&k, v))
            .filter(|e| e.as_ref().map_or(true, |e| self.segments.is_live(e.window_start)))
            .collect()
    }
}

impl WindowStore for WindowStoreImpl {
    fn put(&self, key: &[u8], window_start: i64, value: Option<&[u8]>) -> Result<()> {
        let seq = if self.retain_duplicates {
            if value.is_none() {
                return Ok(()); // Kafka ignores null puts into duplicate-retaining stores.
            }
            self.seq.fetch_add(1, Ordering::Relaxed)
        } else {
            0
        };
        let map = self.core.map()?;
        if !self.segments.admit(window_start) {
            return Ok(());
        }
        let k = Bytes::from(window_key(key, window_start, seq));
        map.write(&[(k, value.map(Bytes::copy_from_slice))])
    }

    fn put_all(&self, entries: &[(Bytes, i64, Option<Bytes>)]) -> Result<()> {
        if self.retain_duplicates {
            for (k, start, v) in entries {
                self.put(k, *start, v.as_deref())?;
            }
            return Ok(());
        }
        let map = self.core.map()?;
        let batch: Vec<(Bytes, Option<Bytes>)> = entries
            .iter()
            .filter(|(_, start, _)| self.segments.admit(*start))
            .map(|(k, start, v)| (Bytes::from(window_key(k, *start, 0)), v.clone()))
            .collect();
        if batch.is_empty() {
            return Ok(());
        }
        map.write(&batch)
    }

    fn retention_ms(&self) -> i64 {
        self.retention_ms
    }
}
