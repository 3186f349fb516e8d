//! Time-segmented maps for window and session stores.
//!
//! Entries are routed by a time taken from their encoded key (window start,
//! or session end) into segments of `segment_interval` ms, each its own map
//! (`<store>#<segment id>`). Retention then drops whole segments: once the
//! largest time seen passes a segment's end by `retention`, the segment's map
//! is dropped in one call. Writes into an already expired segment are
//! ignored, as in Kafka Streams.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;

use crate::error::{Result, StateError};
use crate::map::{Backend, OrderedMap, WriteBatch};

/// Extracts the routing time from an encoded key.
pub(crate) type TimeOf = fn(&[u8]) -> Option<i64>;

#[derive(Debug, Default)]
struct Segments {
    maps: BTreeMap<i64, Arc<dyn OrderedMap>>,
    /// Largest routing time seen (stream time of the store).
    observed: Option<i64>,
    /// Records dropped because their segment had expired.
    expired_writes: u64,
}

/// An [`OrderedMap`] spread over time segments.
#[derive(Debug)]
pub(crate) struct SegmentedMap {
    name: String,
    backend: Arc<dyn Backend>,
    time_of: TimeOf,
    interval: i64,
    retention: i64,
    segments: RwLock<Segments>,
}

fn segment_id(t: i64, interval: i64) -> i64 {
    t.div_euclid(interval)
}

impl SegmentedMap {
    /// Opens the store's existing segments.
    pub(crate) fn open(
        name: &str,
        backend: Arc<dyn Backend>,
        time_of: TimeOf,
        interval: i64,
        retention: i64,
    ) -> Result<Self> {
        if interval <= 0 || retention < 0 {
            return Err(StateError::InvalidStore {
                store: name.into(),
                reason: format!("segment interval ({interval} ms) must be positive and retention ({retention} ms) non-negative"),
            });
        }
        let prefix = format!("{name}#");
        let mut maps = BTreeMap::new();
        for n in backend.map_names() {
            if let Some(id) = n.strip_prefix(&prefix).and_then(|s| s.parse::<i64>().ok()) {
                maps.insert(id, backend.open_map(&n)?);
            }
        }
        // Stream time is not persisted; the newest segment's start bounds it
        // from below so expiry never runs backwards after a restart.
        let observed = maps.keys().next_back().map(|id| id * interval);
        Ok(SegmentedMap {
            name: name.to_string(),
            backend,
            time_of,
            interval,
            retention,
            segments: RwLock::new(Segments { maps, observed, expired_writes: 0 }),
        })
    }

    fn segment_name(&self, id: i64) -> String {
        format!("{}#{id}", self.name)
    }

    /// First segment id that is still live.
    fn min_live(&self, observed: Option<i64>) -> i64 {
        observed.map_or(i64::MIN, |t| segment_id(t.saturating_sub(self.retention), self.interval))
    }

    fn time(&self, key: &[u8]) -> Result<i64> {
        (self.time_of)(key).ok_or_else(|| StateError::Corrupt {
            path: self.name.clone().into(),
            reason: format!("a key of {} bytes does not carry a timestamp", key.len()),
        })
    }

    /// Segments that may hold keys between the bounds.
    fn segments_for(&self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> Vec<Arc<dyn OrderedMap>> {
        let lo = match from {
            Bound::Included(k) | Bound::Excluded(k) => (self.time_of)(k).map(|t| segment_id(t, self.interval)),
            Bound::Unbounded => None,
        };
        let hi = match to {
            Bound::Included(k) | Bound::Excluded(k) => (self.time_of)(k).map(|t| segment_id(t, self.interval)),
            Bound::Unbounded => None,
        };
        let segs = self.segments.read();
        segs.maps
            .range(lo.unwrap_or(i64::MIN)..=hi.unwrap_or(i64::MAX).max(lo.unwrap_or(i64::MIN)))
            .map(|(_, m)| m.clone())
            .collect()
    }

    /// Advances stream time to `t` and says whether an entry at `t` is still
    /// inside retention. Facades call this before writing, so a put behind
    /// retention is refused at once even when a cache holds it back from
    /// this map until the next flush.
    pub(crate) fn admit(&self, t: i64) -> bool {
        let mut segs = self.segments.write();
        let observed = Some(segs.observed.map_or(t, |o| o.max(t)));
        segs.observed = observed;
        let live = segment_id(t, self.interval) >= self.min_live(observed);
        if !live {
            segs.expired_writes += 1;
        }
        live
    }

    /// Whether an entry at `t` is inside retention now (without advancing
    /// stream time). Reads use it so that entries a cache still holds for a
    /// dropped segment are never served.
    pub(crate) fn is_live(&self, t: i64) -> bool {
        let segs = self.segments.read();
        segment_id(t, self.interval) >= self.min_live(segs.observed)
    }

    /// Records dropped because they were older than retention.
    pub(crate) fn expired_writes(&self) -> u64 {
        self.segments.read().expired_writes
    }

    /// Ids of the live segments.
    pub(crate) fn segment_ids(&self) -> Vec<i64> {
        self.segments.read().maps.keys().copied().collect()
    }
}

impl OrderedMap for SegmentedMap {
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let id = segment_id(self.time(key)?, self.interval);
        let map = self.segments.read().maps.get(&id).cloned();
        match map {
            Some(m) => m.get(key),
            None => Ok(None),
        }
    }

    fn write(&self, batch: &WriteBatch) -> Result<()> {
        let mut by_segment: BTreeMap<i64, Vec<(Bytes, Option<Bytes>)>> = BTreeMap::new();
        let mut max_t = None;
        for (k, v) in batch {
            let t = self.time(k)?;
            max_t = Some(max_t.map_or(t, |m: i64| m.max(t)));
            by_segment.entry(segment_id(t, self.interval)).or_default().push((k.clone(), v.clone()));
        }
        let mut segs = self.segments.write();
        let observed = match (segs.observed, max_t) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let min_live = self.min_live(observed);
        for (id, entries) in by_segment {
            if id < min_live {
                segs.expired_writes += entries.len() as u64;
                continue;
            }
            let map = match segs.maps.get(&id) {
                Some(m) => m.clone(),
                None => {
                    let m = self.backend.open_map(&self.segment_name(id))?;
                    segs.maps.insert(id, m.clone());
                    m
                }
            };
            map.write(&entries)?;
        }
        segs.observed = observed;
        let expired: Vec<i64> = segs.maps.range(..min_live).map(|(id, _)| *id).collect();
        for id in expired {
            segs.maps.remove(&id);
            self.backend.drop_map(&self.segment_name(id))?;
            tracing::debug!(store = %self.name, segment = id, "dropped expired segment");
        }
        Ok(())
    }

    fn range(&self, from: Bound<&[u8]>, to: Bound<&[u8]>, reverse: bool) -> Result<Vec<(Bytes, Bytes)>> {
        let mut segs = self.segments_for(from, to);
        if reverse {
            segs.reverse();
        }
        let mut out = Vec::new();
        for s in segs {
            out.extend(s.range(from, to, reverse)?);
        }
        // Segments split by time, keys order by (key, time): merge-sort the
        // per-segment runs back into key order.
        if reverse {
            out.sort_by(|a, b| b.0.cmp(&a.0));
        } else {
            out.sort_by(|a, b| a.0.cmp(&b.0));
        }
        Ok(out)
    }

    fn approximate_len(&self) -> Result<u64> {
        let maps: Vec<_> = self.segments.read().maps.values().cloned().collect();
        maps.iter().map(|m| m.approximate_len()).sum()
    }

    fn flush(&self) -> Result<()> {
        let maps: Vec<_> = self.segments.read().maps.values().cloned().collect();
        maps.iter().try_for_each(|m| m.flush())
    }
}
