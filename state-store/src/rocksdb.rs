//! The RocksDB backend: one RocksDB instance per task directory, one column
//! family per map (a key-value store, or one time segment of a window or
//! session store).
//!
//! Why column families rather than one instance per store (Kafka Streams'
//! layout): a task's stores share one write-ahead path, one set of
//! background threads and one manifest, and dropping a window segment is a
//! `drop_cf` — as cheap as deleting a per-segment instance, without opening
//! dozens of databases per task.
//!
//! Memory: every instance in the process charges its block cache *and* its
//! memtables to one [`StateMemory`] budget (RocksDB's `WriteBufferManager`
//! accounts memtables in the shared LRU cache), and index and filter blocks
//! live in the cache too, so the budget bounds what RocksDB holds.
//!
//! Durability: the RocksDB write-ahead log is off. A store is made durable by
//! its changelog topic; `flush` writes memtables to SST files before the
//! checkpoint records the changelog offset they cover (as Kafka Streams does).

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DBCompressionType, DBWithThreadMode, IteratorMode,
    MultiThreaded, Options, ReadOptions, WriteBufferManager, WriteOptions,
};

use crate::error::{Result, StateError};
use crate::map::{Backend, OrderedMap, WriteBatch};

type Db = DBWithThreadMode<MultiThreaded>;

/// The process-wide memory budget of all RocksDB stores.
///
/// RocksDB accounts block cache, memtables (through the write-buffer
/// manager) and index/filter blocks in one LRU cache; it does *not* account
/// table readers, flush and compaction buffers, or allocator overhead. So
/// the accounted cache gets [`CACHE_SHARE`] of the budget and the rest is
/// headroom for what RocksDB cannot see, which keeps the process's resident
/// memory for RocksDB near the budget (measured in BENCHMARKS.md).
#[derive(Clone)]
pub struct StateMemory {
    cache: Cache,
    write_buffers: WriteBufferManager,
    budget: usize,
}

impl std::fmt::Debug for StateMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateMemory").field("budget", &self.budget).field("usage", &self.usage()).finish()
    }
}

/// Share of the budget given to RocksDB's accounted cache.
pub const CACHE_SHARE: f64 = 0.6;

impl StateMemory {
    /// A budget of `budget` bytes: the accounted cache is [`CACHE_SHARE`] of
    /// it, and memtables may take up to half of the cache.
    pub fn new(budget: usize) -> Self {
        let budget = budget.max(8 << 20);
        let cache_bytes = (budget as f64 * CACHE_SHARE) as usize;
        let cache = Cache::new_lru_cache(cache_bytes);
        let write_buffers =
            WriteBufferManager::new_write_buffer_manager_with_cache(cache_bytes / 2, false, cache.clone());
        StateMemory { cache, write_buffers, budget }
    }

    /// The configured budget in bytes.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Bytes currently charged to RocksDB's accounted cache (blocks +
    /// memtables), at most [`CACHE_SHARE`] of the budget.
    pub fn usage(&self) -> usize {
        self.cache.get_usage()
    }
}

impl Default for StateMemory {
    /// 128 MiB, shared by every store that uses this value.
    fn default() -> Self {
        StateMemory::new(128 << 20)
    }
}

/// One RocksDB instance (a task directory).
pub struct RocksDbBackend {
    path: PathBuf,
    db: Arc<Db>,
    memory: StateMemory,
}

impl std::fmt::Debug for RocksDbBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksDbBackend").field("path", &self.path).finish_non_exhaustive()
    }
}

fn cf_options(memory: &StateMemory) -> Options {
    // Bounded memory: index and filter blocks live in the shared cache, in
    // its high-priority pool so data blocks and memtable reservations cannot
    // evict them; both are partitioned so a lookup reads small partitions,
    // not a whole file's filter, and only the top level stays pinned.
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(&memory.cache);
    table.set_cache_index_and_filter_blocks(true);
    table.set_cache_index_and_filter_blocks_with_high_priority(true);
    table.set_pin_top_level_index_and_filter(true);
    table.set_index_type(rocksdb::BlockBasedIndexType::TwoLevelIndexSearch);
    table.set_partition_filters(true);
    table.set_metadata_block_size(4096);
    table.set_bloom_filter(10.0, false);
    table.set_block_size(16 * 1024);
    let mut o = Options::default();
    o.set_block_based_table_factory(&table);
    o.set_compression_type(DBCompressionType::Lz4);
    o.set_write_buffer_size((memory.budget / 8).clamp(4 << 20, 64 << 20));
    o.set_max_write_buffer_number(3);
    o
}

/// The database options every store instance uses (shared cache, memtable
/// accounting, background jobs), so a raw-RocksDB baseline can be measured
/// on equal terms.
pub fn db_options(memory: &StateMemory) -> Options {
    let mut opts = cf_options(memory);
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    opts.set_write_buffer_manager(&memory.write_buffers);
    opts.set_max_background_jobs(2);
    opts.set_keep_log_file_num(2);
    opts
}

impl RocksDbBackend {
    /// Opens (or creates) the database in `path`, with every column family
    /// it already has.
    ///
    /// # Errors
    /// [`StateError::RocksDb`] when RocksDB refuses — including for a
    /// corrupt database, which the [`StateManager`](crate::StateManager)
    /// answers by wiping and restoring.
    pub fn open(path: &Path, memory: StateMemory) -> Result<Self> {
        std::fs::create_dir_all(path).map_err(|e| StateError::io(path, e))?;
        let opts = db_options(&memory);
        let names = if path.join("CURRENT").exists() {
            Db::list_cf(&opts, path).map_err(|e| StateError::rocks(path, e))?
        } else {
            vec!["default".to_string()]
        };
        let descriptors = names.iter().map(|n| ColumnFamilyDescriptor::new(n, cf_options(&memory)));
        let db = Db::open_cf_descriptors(&opts, path, descriptors).map_err(|e| StateError::rocks(path, e))?;
        Ok(RocksDbBackend { path: path.to_path_buf(), db: Arc::new(db), memory })
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Backend for RocksDbBackend {
    fn persistent(&self) -> bool {
        true
    }

    fn open_map(&self, name: &str) -> Result<Arc<dyn OrderedMap>> {
        if self.db.cf_handle(name).is_none() {
            self.db.create_cf(name, &cf_options(&self.memory)).map_err(|e| StateError::rocks(&self.path, e))?;
        }
        Ok(Arc::new(RocksMap { name: name.to_string(), db: self.db.clone(), path: self.path.clone() }))
    }

    fn drop_map(&self, name: &str) -> Result<()> {
        if self.db.cf_handle(name).is_some() {
            self.db.drop_cf(name).map_err(|e| StateError::rocks(&self.path, e))?;
        }
        Ok(())
    }

    fn map_names(&self) -> Vec<String> {
        let opts = Options::default();
        Db::list_cf(&opts, &self.path).unwrap_or_default().into_iter().filter(|n| n != "default").collect()
    }

    fn flush(&self) -> Result<()> {
        for name in self.map_names() {
            if let Some(cf) = self.db.cf_handle(&name) {
                self.db.flush_cf(&cf).map_err(|e| StateError::rocks(&self.path, e))?;
            }
        }
        Ok(())
    }
}

/// One column family.
struct RocksMap {
    name: String,
    db: Arc<Db>,
    path: PathBuf,
}

impl std::fmt::Debug for RocksMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksMap").field("name", &self.name).field("path", &self.path).finish()
    }
}

impl RocksMap {
    fn err(&self, e: rocksdb::Error) -> StateError {
        StateError::rocks(&self.path, e)
    }

    fn cf(&self) -> Result<Arc<rocksdb::BoundColumnFamily<'_>>> {
        self.db.cf_handle(&self.name).ok_or_else(|| StateError::InvalidStore {
            store: self.name.clone(),
            reason: "its column family was dropped".into(),
        })
    }
}

impl OrderedMap for RocksMap {
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let cf = self.cf()?;
        let v = self.db.get_pinned_cf(&cf, key).map_err(|e| self.err(e))?;
        Ok(v.map(|v| Bytes::copy_from_slice(&v)))
    }

    fn write(&self, batch: &WriteBatch) -> Result<()> {
        let cf = self.cf()?;
        let mut wb = rocksdb::WriteBatch::default();
        for (k, v) in batch {
            match v {
                Some(v) => wb.put_cf(&cf, k, v),
                None => wb.delete_cf(&cf, k),
            }
        }
        let mut wo = WriteOptions::default();
        wo.disable_wal(true);
        self.db.write_opt(wb, &wo).map_err(|e| self.err(e))
    }

    fn range(&self, from: Bound<&[u8]>, to: Bound<&[u8]>, reverse: bool) -> Result<Vec<(Bytes, Bytes)>> {
        let cf = self.cf()?;
        let mut ro = ReadOptions::default();
        if let Bound::Included(k) | Bound::Excluded(k) = from {
            ro.set_iterate_lower_bound(k.to_vec());
        }
        match to {
            Bound::Excluded(k) => ro.set_iterate_upper_bound(k.to_vec()),
            Bound::Included(k) => {
                let mut succ = k.to_vec();
                succ.push(0);
                ro.set_iterate_upper_bound(succ);
            }
            Bound::Unbounded => {}
        }
        let mode = if reverse { IteratorMode::End } else { IteratorMode::Start };
        let mut out = Vec::new();
        for item in self.db.iterator_cf_opt(&cf, ro, mode) {
            let (k, v) = item.map_err(|e| self.err(e))?;
            if let Bound::Excluded(lo) = from {
                if &*k == lo {
                    continue;
                }
            }
            out.push((Bytes::from(k.into_vec()), Bytes::from(v.into_vec())));
        }
        Ok(out)
    }

    fn approximate_len(&self) -> Result<u64> {
        let cf = self.cf()?;
        Ok(self.db.property_int_value_cf(&cf, "rocksdb.estimate-num-keys").map_err(|e| self.err(e))?.unwrap_or(0))
    }

    fn flush(&self) -> Result<()> {
        let cf = self.cf()?;
        self.db.flush_cf(&cf).map_err(|e| self.err(e))
    }
}
