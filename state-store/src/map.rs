//! [`OrderedMap`]: the storage primitive every store is built from, and
//! [`Backend`]: where maps live (RocksDB column families or memory).
//!
//! Stores stack on maps: a typed facade (key-value, window, session) over an
//! optional write-back cache, over an optional changelog, over a physical
//! map (or a set of time-segmented maps). Every layer speaks this trait on
//! *encoded* keys, so the cache and changelog are written once for all three
//! store kinds.

use std::fmt::Debug;
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::Result;

/// A batch of writes: `Some(value)` puts, `None` deletes.
pub type WriteBatch = [(Bytes, Option<Bytes>)];

/// An ordered map from bytes to bytes.
///
/// # Contract
/// - `write` applies its whole batch atomically with respect to readers.
/// - Each `get` and each `range` sees one consistent state (ranges are
///   materialized from one snapshot).
/// - After `flush` returns, everything written before it is durable in this
///   layer and the layers below (for a cache: handed to the inner map; for
///   RocksDB: memtables written to SST files).
pub trait OrderedMap: Send + Sync + Debug {
    /// The value of `key`.
    ///
    /// # Errors
    /// Backend errors.
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>>;

    /// Applies puts and deletes.
    ///
    /// # Errors
    /// Backend or changelog errors; then nothing of the batch is applied to
    /// this layer.
    fn write(&self, batch: &WriteBatch) -> Result<()>;

    /// Entries between the bounds, in key order (descending if `reverse`).
    ///
    /// # Errors
    /// Backend errors.
    fn range(&self, from: Bound<&[u8]>, to: Bound<&[u8]>, reverse: bool) -> Result<Vec<(Bytes, Bytes)>>;

    /// An estimate of the number of entries.
    ///
    /// # Errors
    /// Backend errors.
    fn approximate_len(&self) -> Result<u64>;

    /// Makes all writes so far durable (see the contract above).
    ///
    /// # Errors
    /// Backend or changelog errors.
    fn flush(&self) -> Result<()>;
}

/// Where maps live: one per task directory.
pub trait Backend: Send + Sync + Debug {
    /// True for backends that keep data on disk.
    fn persistent(&self) -> bool;

    /// Opens (or creates) the map `name`.
    ///
    /// # Errors
    /// Backend errors.
    fn open_map(&self, name: &str) -> Result<Arc<dyn OrderedMap>>;

    /// Deletes the map `name` and its data (dropping a whole window
    /// segment is one call, not a range delete).
    ///
    /// # Errors
    /// Backend errors.
    fn drop_map(&self, name: &str) -> Result<()>;

    /// Names of the maps that exist.
    fn map_names(&self) -> Vec<String>;

    /// Makes every map's writes durable.
    ///
    /// # Errors
    /// Backend errors.
    fn flush(&self) -> Result<()>;
}

/// The smallest key greater than every key that starts with `prefix`
/// (`None` when there is none: the prefix is all `0xff`).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut s = prefix.to_vec();
    while let Some(last) = s.pop() {
        if last < 0xff {
            s.push(last + 1);
            return Some(s);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successor_of_prefixes() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_successor(&[0xff, 0xff]), None);
        assert_eq!(prefix_successor(b""), None);
    }
}
