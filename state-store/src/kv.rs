//! The key-value store facade.

use std::ops::Bound;

use bytes::Bytes;

use crate::error::Result;
use crate::map::prefix_successor;
use crate::store::{impl_state_store, Core, KeyValue, KeyValueStore, ReadOnlyKeyValueStore};

/// A key-value store over a map stack (cache → changelog → backend).
#[derive(Debug)]
pub struct KvStore {
    pub(crate) core: Core,
}

impl_state_store!(KvStore);

impl ReadOnlyKeyValueStore for KvStore {
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        self.core.map()?.get(key)
    }

    fn range(&self, from: &[u8], to: &[u8]) -> Result<Vec<KeyValue>> {
        if from > to {
            return Ok(Vec::new());
        }
        self.core.map()?.range(Bound::Included(from), Bound::Included(to), false)
    }

    fn prefix_scan(&self, prefix: &[u8]) -> Result<Vec<KeyValue>> {
        let upper = prefix_successor(prefix);
        let to = upper.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        self.core.map()?.range(Bound::Included(prefix), to, false)
    }

    fn all(&self) -> Result<Vec<KeyValue>> {
        self.core.map()?.range(Bound::Unbounded, Bound::Unbounded, false)
    }

    fn approximate_num_entries(&self) -> Result<u64> {
        self.core.map()?.approximate_len()
    }
}

impl KeyValueStore for KvStore {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.core.map()?.write(&[(Bytes::copy_from_slice(key), Some(Bytes::copy_from_slice(value)))])
    }

    fn put_all(&self, entries: &[KeyValue]) -> Result<()> {
        let batch: Vec<_> = entries.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
        self.core.map()?.write(&batch)
    }

    fn delete(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let map = self.core.map()?;
        let old = map.get(key)?;
        if old.is_some() {
            map.write(&[(Bytes::copy_from_slice(key), None)])?;
        }
        Ok(old)
    }
}
