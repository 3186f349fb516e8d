//! The in-memory backend: one `BTreeMap` per map, behind a read-write lock.
//! Nothing survives a restart; stores on it rebuild from their changelog.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use crate::error::Result;
use crate::map::{Backend, OrderedMap, WriteBatch};

/// An in-memory ordered map.
#[derive(Debug, Default)]
pub struct MemoryMap {
    entries: RwLock<BTreeMap<Bytes, Bytes>>,
}

impl OrderedMap for MemoryMap {
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        Ok(self.entries.read().get(key).cloned())
    }

    fn write(&self, batch: &WriteBatch) -> Result<()> {
        let mut m = self.entries.write();
        for (k, v) in batch {
            match v {
                Some(v) => m.insert(k.clone(), v.clone()),
                None => m.remove(k),
            };
        }
        Ok(())
    }

    fn range(&self, from: Bound<&[u8]>, to: Bound<&[u8]>, reverse: bool) -> Result<Vec<(Bytes, Bytes)>> {
        if let (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) = (from, to) {
            if a > b || (a == b && (matches!(from, Bound::Excluded(_)) || matches!(to, Bound::Excluded(_)))) {
                return Ok(Vec::new());
            }
        }
        let m = self.entries.read();
        let it = m.range::<[u8], _>((from, to)).map(|(k, v)| (k.clone(), v.clone()));
        Ok(if reverse { it.rev().collect() } else { it.collect() })
    }

    fn approximate_len(&self) -> Result<u64> {
        Ok(self.entries.read().len() as u64)
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }
}

/// Backend whose maps live in memory.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    maps: Mutex<HashMap<String, Arc<MemoryMap>>>,
}

impl MemoryBackend {
    /// An empty backend.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Backend for MemoryBackend {
    fn persistent(&self) -> bool {
        false
    }

    fn open_map(&self, name: &str) -> Result<Arc<dyn OrderedMap>> {
        Ok(self.maps.lock().entry(name.to_string()).or_default().clone())
    }

    fn drop_map(&self, name: &str) -> Result<()> {
        self.maps.lock().remove(name);
        Ok(())
    }

    fn map_names(&self) -> Vec<String> {
        self.maps.lock().keys().cloned().collect()
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }
}
