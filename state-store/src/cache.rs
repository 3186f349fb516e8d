//! The write-back cache decorator.
//!
//! Writes land in the cache and are deduplicated per key; they reach the
//! inner map (and so the changelog) on [`flush`](OrderedMap::flush) — the
//! task's commit — or when the cache outgrows its byte budget. Every flushed
//! entry is handed to the [`FlushListener`], which is how an aggregation
//! emits one update per key per commit instead of one per input record.
//!
//! - Dirty entries are flushed in the order they first became dirty, so
//!   downstream sees updates in a stable order.
//! - When the budget is exceeded the least recently used entries are evicted;
//!   evicting a dirty entry first flushes *all* dirty entries (keeping their
//!   order).
//! - A budget of 0 bytes makes the cache a pass-through: each write goes to
//!   the inner map and the listener at once (ksqlDB's test semantics).
//! - Reads see the cache merged over the inner map, under one lock, so every
//!   read is consistent even while the owner writes.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::error::Result;
use crate::map::{OrderedMap, WriteBatch};

/// One entry leaving the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlushedEntry {
    /// Encoded key.
    pub key: Bytes,
    /// The new value (`None` = deleted).
    pub new_value: Option<Bytes>,
    /// The value the inner store held before (only when the listener asked
    /// for old values).
    pub old_value: Option<Bytes>,
}

/// Receives flushed entries, in order.
pub type FlushListener = Box<dyn FnMut(&[FlushedEntry]) + Send>;

#[derive(Debug)]
struct Entry {
    value: Option<Bytes>,
    lru: u64,
    dirty: Option<u64>,
}

#[derive(Default)]
struct State {
    entries: BTreeMap<Bytes, Entry>,
    lru: BTreeMap<u64, Bytes>,
    dirty: BTreeMap<u64, Bytes>,
    seq: u64,
    bytes: usize,
    listener: Option<(FlushListener, bool)>,
    hits: u64,
    misses: u64,
}

fn entry_size(k: &Bytes, v: &Option<Bytes>) -> usize {
    k.len() + v.as_ref().map_or(0, Bytes::len) + 48
}

/// A bounded write-back cache over an inner map.
pub struct CachingMap {
    inner: Arc<dyn OrderedMap>,
    max_bytes: usize,
    state: Mutex<State>,
}

impl std::fmt::Debug for CachingMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.state.lock();
        f.debug_struct("CachingMap")
            .field("max_bytes", &self.max_bytes)
            .field("bytes", &s.bytes)
            .field("entries", &s.entries.len())
            .field("dirty", &s.dirty.len())
            .finish()
    }
}

impl CachingMap {
    /// A cache of at most `max_bytes` over `inner` (0 = pass-through).
    pub fn new(inner: Arc<dyn OrderedMap>, max_bytes: usize) -> Self {
        CachingMap { inner, max_bytes, state: Mutex::new(State::default()) }
    }

    /// Sets the listener that receives flushed entries; with
    /// `send_old_values` each entry carries the inner store's previous value.
    pub fn set_flush_listener(&self, listener: FlushListener, send_old_values: bool) {
        self.state.lock().listener = Some((listener, send_old_values));
    }

    /// `(hits, misses)` of reads so far.
    pub fn hit_stats(&self) -> (u64, u64) {
        let s = self.state.lock();
        (s.hits, s.misses)
    }

    /// Dirty entries waiting for a flush.
    pub fn dirty_count(&self) -> usize {
        self.state.lock().dirty.len()
    }

    fn touch(s: &mut State, key: &Bytes) {
        s.seq += 1;
        let seq = s.seq;
        if let Some(e) = s.entries.get_mut(key) {
            s.lru.remove(&e.lru);
            e.lru = seq;
            s.lru.insert(seq, key.clone());
        }
    }

    fn insert(s: &mut State, key: Bytes, value: Option<Bytes>, dirty: bool) {
        s.seq += 1;
        let seq = s.seq;
        let size = entry_size(&key, &value);
        match s.entries.get_mut(&key) {
            Some(e) => {
                s.bytes = s.bytes + size - entry_size(&key, &e.value);
                s.lru.remove(&e.lru);
                e.lru = seq;
                e.value = value;
                if dirty && e.dirty.is_none() {
                    e.dirty = Some(seq);
                    s.dirty.insert(seq, key.clone());
                }
            }
            None => {
                s.bytes += size;
                s.entries.insert(key.clone(), Entry { value, lru: seq, dirty: dirty.then_some(seq) });
                if dirty {
                    s.dirty.insert(seq, key.clone());
                }
            }
        }
        s.lru.insert(seq, key);
    }

    /// Writes every dirty entry to the inner map and tells the listener.
    fn flush_dirty(&self, s: &mut State) -> Result<()> {
        if s.dirty.is_empty() {
            return Ok(());
        }
        let keys: Vec<Bytes> = std::mem::take(&mut s.dirty).into_values().collect();
        let batch: Vec<(Bytes, Option<Bytes>)> =
            keys.iter().map(|k| (k.clone(), s.entries.get(k).and_then(|e| e.value.clone()))).collect();
        self.write_through(s, &batch)?;
        for k in &keys {
            if let Some(e) = s.entries.get_mut(k) {
                e.dirty = None;
            }
        }
        Ok(())
    }

    /// Writes `batch` to the inner map and hands it to the listener.
    fn write_through(&self, s: &mut State, batch: &WriteBatch) -> Result<()> {
        let want_old = matches!(s.listener, Some((_, true)));
        let old: Vec<Option<Bytes>> = if want_old {
            batch.iter().map(|(k, _)| self.inner.get(k)).collect::<Result<_>>()?
        } else {
            vec![None; batch.len()]
        };
        self.inner.write(batch)?;
        if let Some((listener, _)) = s.listener.as_mut() {
            let flushed: Vec<FlushedEntry> = batch
                .iter()
                .zip(old)
                .map(|((k, v), o)| FlushedEntry { key: k.clone(), new_value: v.clone(), old_value: o })
                .collect();
            listener(&flushed);
        }
        Ok(())
    }

    fn evict(&self, s: &mut State) -> Result<()> {
        while s.bytes > self.max_bytes {
            let Some((&seq, key)) = s.lru.iter().next() else { break };
            let key = key.clone();
            if s.entries.get(&key).is_some_and(|e| e.dirty.is_some()) {
                self.flush_dirty(s)?;
            }
            s.lru.remove(&seq);
            if let Some(e) = s.entries.remove(&key) {
                s.bytes -= entry_size(&key, &e.value);
            }
        }
        Ok(())
    }
}

impl OrderedMap for CachingMap {
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let mut s = self.state.lock();
        let k = Bytes::copy_from_slice(key);
        if let Some(e) = s.entries.get(&k) {
            let v = e.value.clone();
            s.hits += 1;
            Self::touch(&mut s, &k);
            return Ok(v);
        }
        s.misses += 1;
        let v = self.inner.get(key)?;
        if self.max_bytes > 0 {
            Self::insert(&mut s, k, v.clone(), false);
            self.evict(&mut s)?;
        }
        Ok(v)
    }

    fn write(&self, batch: &WriteBatch) -> Result<()> {
        let mut s = self.state.lock();
        if self.max_bytes == 0 {
            return self.write_through(&mut s, batch);
        }
        for (k, v) in batch {
            Self::insert(&mut s, k.clone(), v.clone(), true);
        }
        self.evict(&mut s)
    }

    fn range(&self, from: Bound<&[u8]>, to: Bound<&[u8]>, reverse: bool) -> Result<Vec<(Bytes, Bytes)>> {
        let s = self.state.lock();
        let inner = self.inner.range(from, to, false)?;
        let mut merged: BTreeMap<Bytes, Option<Bytes>> = inner.into_iter().map(|(k, v)| (k, Some(v))).collect();
        let valid = match (from, to) {
            (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => a <= b,
            _ => true,
        };
        if valid {
            for (k, e) in s.entries.range::<[u8], _>((from, to)) {
                if e.dirty.is_some() {
                    merged.insert(k.clone(), e.value.clone());
                }
            }
        }
        let it = merged.into_iter().filter_map(|(k, v)| Some((k, v?)));
        Ok(if reverse { it.rev().collect() } else { it.collect() })
    }

    fn approximate_len(&self) -> Result<u64> {
        let s = self.state.lock();
        let new_dirty = s.dirty.len() as u64;
        Ok(self.inner.approximate_len()? + new_dirty)
    }

    fn flush(&self) -> Result<()> {
        let mut s = self.state.lock();
        self.flush_dirty(&mut s)?;
        drop(s);
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryMap;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn recorder(cache: &CachingMap) -> Arc<Mutex<Vec<FlushedEntry>>> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        cache.set_flush_listener(Box::new(move |e| s2.lock().extend_from_slice(e)), true);
        seen
    }

    #[test]
    fn dedupes_until_flush_in_first_dirty_order() {
        let inner = Arc::new(MemoryMap::default());
        let cache = CachingMap::new(inner.clone(), 1 << 20);
        let seen = recorder(&cache);
        cache.write(&[(b("b"), Some(b("1")))]).unwrap();
        cache.write(&[(b("a"), Some(b("1")))]).unwrap();
        cache.write(&[(b("b"), Some(b("2")))]).unwrap();
        assert_eq!(inner.get(b"b").unwrap(), None, "nothing reaches the inner map before flush");
        assert_eq!(cache.get(b"b").unwrap(), Some(b("2")));
        cache.flush().unwrap();
        let seen = seen.lock().clone();
        assert_eq!(seen.iter().map(|e| e.key.clone()).collect::<Vec<_>>(), vec![b("b"), b("a")]);
        assert_eq!(seen[0].new_value, Some(b("2")));
        assert_eq!(inner.get(b"b").unwrap(), Some(b("2")));
    }

    #[test]
    fn zero_bytes_is_pass_through_with_old_values() {
        let inner = Arc::new(MemoryMap::default());
        let cache = CachingMap::new(inner.clone(), 0);
        let seen = recorder(&cache);
        cache.write(&[(b("k"), Some(b("1")))]).unwrap();
        cache.write(&[(b("k"), Some(b("2")))]).unwrap();
        let seen = seen.lock().clone();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1].old_value, Some(b("1")));
        assert_eq!(inner.get(b"k").unwrap(), Some(b("2")));
    }

    #[test]
    fn eviction_flushes_dirty_entries_and_ranges_merge() {
        let inner = Arc::new(MemoryMap::default());
        inner.write(&[(b("a"), Some(b("old"))), (b("c"), Some(b("keep")))]).unwrap();
        let cache = CachingMap::new(inner.clone(), 200);
        cache.write(&[(b("a"), None), (b("b"), Some(b("new")))]).unwrap();
        let r = cache.range(Bound::Unbounded, Bound::Unbounded, false).unwrap();
        assert_eq!(r, vec![(b("b"), b("new")), (b("c"), b("keep"))], "dirty delete hides, dirty put shows");
        for i in 0..20 {
            cache.write(&[(b(&format!("k{i:02}")), Some(b("v")))]).unwrap();
        }
        assert!(inner.get(b"k00").unwrap().is_some(), "eviction flushed dirty entries");
        assert_eq!(inner.get(b"a").unwrap(), None);
    }
}
