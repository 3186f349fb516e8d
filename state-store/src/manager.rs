//! [`StateManager`]: the stores of one task directory, their changelogs,
//! the checkpoint, restore and commit (Kafka Streams' state manager).
//!
//! ```text
//! <task dir>/rocksdb/     one RocksDB instance; a column family per store (per segment)
//! <task dir>/.checkpoint  changelog offsets the local state covers
//! ```
//!
//! On open the manager decides how much to replay:
//! - a valid checkpoint and a local database → replay only the changelog
//!   tail past the checkpointed offsets;
//! - no checkpoint with a local database (an unclean stop before any
//!   commit), a corrupt checkpoint, a missing or corrupt database → wipe the
//!   local state (saying why) and rebuild from the start of the changelog.
//!
//! [`commit`](StateManager::commit) flushes every store (cache → changelog →
//! local), then writes the checkpoint, so the checkpoint never claims more
//! than the local state holds.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU32;
use std::sync::Arc;

use riffle_log::{LogClient, TopicConfig};

use crate::cache::CachingMap;
use crate::changelog::{changelog_topic, restore, ChangelogTarget, LoggedMap, RestoreListener};
use crate::checkpoint::{Checkpoint, CheckpointState, Offsets};
use crate::encoding::{session_key_time, window_key_time};
use crate::error::{Result, StateError};
use crate::kv::KvStore;
use crate::map::{Backend, OrderedMap};
use crate::memory::MemoryBackend;
use crate::rocksdb::{RocksDbBackend, StateMemory};
use crate::segmented::{SegmentedMap, TimeOf};
use crate::session::SessionStoreImpl;
use crate::store::{Core, StateStore};
use crate::window::WindowStoreImpl;

/// Which backend a task's stores use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendKind {
    /// RocksDB on disk (persistent; the default).
    #[default]
    RocksDb,
    /// In memory (rebuilt from the changelog on every open).
    Memory,
}

/// Configuration of one task's state.
#[derive(Debug, Clone)]
pub struct StateManagerConfig {
    /// The task's directory.
    pub task_dir: PathBuf,
    /// Prefix of changelog topic names (`<application.id>-<store>-changelog`).
    pub application_id: String,
    /// The task's partition (= the changelog partition).
    pub partition: i32,
    /// Partitions of changelog topics (= the input topic's partitions).
    pub changelog_partitions: i32,
    /// Backend for the stores.
    pub backend: BackendKind,
    /// Shared memory budget of RocksDB stores.
    pub memory: StateMemory,
    /// The log that holds changelogs; `None` disables changelogging.
    pub log: Option<Arc<dyn LogClient>>,
}

/// A key-value store to register.
#[derive(Debug, Clone)]
pub struct KeyValueSpec {
    /// Store name (topic-name characters).
    pub name: String,
    /// Write-back cache size (0 = every write goes through at once).
    pub cache_bytes: usize,
    /// Whether writes go to a changelog.
    pub logged: bool,
}

/// A window store to register.
#[derive(Debug, Clone)]
pub struct WindowSpec {
    /// Store name.
    pub name: String,
    /// How long windows are kept behind the newest window start.
    pub retention_ms: i64,
    /// Segment width; default `max(retention / 2, 60 s)` as in Kafka.
    pub segment_interval_ms: Option<i64>,
    /// Keep every put (join buffers) instead of one value per window.
    pub retain_duplicates: bool,
    /// Write-back cache size.
    pub cache_bytes: usize,
    /// Whether writes go to a changelog.
    pub logged: bool,
}

/// A session store to register.
#[derive(Debug, Clone)]
pub struct SessionSpec {
    /// Store name.
    pub name: String,
    /// How long sessions are kept behind the newest session end.
    pub retention_ms: i64,
    /// Write-back cache size.
    pub cache_bytes: usize,
    /// Whether writes go to a changelog.
    pub logged: bool,
}

/// What a restore did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RestoreSummary {
    /// Records replayed over all stores.
    pub records: u64,
    /// Stores restored from the start of their changelog.
    pub full: Vec<String>,
    /// Stores restored from a checkpointed offset.
    pub tail: Vec<String>,
}

struct Registered {
    name: String,
    facade: Arc<dyn StateStore>,
    physical: Arc<dyn OrderedMap>,
    logged: Option<Arc<LoggedMap>>,
    restored: bool,
}

/// The stores of one task. See the [module docs](self).
pub struct StateManager {
    config: StateManagerConfig,
    backend: Arc<dyn Backend>,
    checkpoint: Checkpoint,
    checkpointed: Offsets,
    wiped: Option<String>,
    stores: Vec<Registered>,
}

impl std::fmt::Debug for StateManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateManager")
            .field("task_dir", &self.config.task_dir)
            .field("stores", &self.stores.iter().map(|s| &s.name).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn wipe(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StateError::io(dir, e)),
    }
}

impl StateManager {
    /// Opens the task directory; see the [module docs](self) for how local
    /// state is judged. Stores are registered next, then [`restore`](Self::restore).
    ///
    /// # Errors
    /// I/O errors, or a database that cannot be opened even after a wipe.
    pub fn open(config: StateManagerConfig) -> Result<Self> {
        fs::create_dir_all(&config.task_dir).map_err(|e| StateError::io(&config.task_dir, e))?;
        let checkpoint = Checkpoint::new(config.task_dir.join(".checkpoint"));
        let db_dir = config.task_dir.join("rocksdb");
        let persistent = config.backend == BackendKind::RocksDb;
        let db_exists = db_dir.join("CURRENT").exists();
        let mut checkpointed = Offsets::new();
        let mut wiped = None;
        match checkpoint.read()? {
            CheckpointState::Valid(o) if db_exists && persistent => checkpointed = o,
            CheckpointState::Valid(_) if persistent => wiped = Some("the checkpoint has no local database".into()),
            CheckpointState::Missing if db_exists => {
                wiped = Some("no checkpoint (the task stopped before a commit)".into())
            }
            CheckpointState::Corrupt(why) => wiped = Some(format!("corrupt checkpoint: {why}")),
            _ => {}
        }
        let backend: Arc<dyn Backend> = match config.backend {
            BackendKind::Memory => Arc::new(MemoryBackend::new()),
            BackendKind::RocksDb => {
                if wiped.is_some() {
                    wipe(&db_dir)?;
                }
                match RocksDbBackend::open(&db_dir, config.memory.clone()) {
                    Ok(b) => Arc::new(b),
                    Err(e) => {
                        wiped = Some(format!("the local database does not open: {e}"));
                        wipe(&db_dir)?;
                        checkpointed.clear();
                        Arc::new(RocksDbBackend::open(&db_dir, config.memory.clone())?)
                    }
                }
            }
        };
        if let Some(why) = &wiped {
            tracing::warn!(task_dir = %config.task_dir.display(), reason = %why,
                "local state wiped; it will be rebuilt from the changelogs");
            checkpoint.delete()?;
        }
        Ok(StateManager { config, backend, checkpoint, checkpointed, wiped, stores: Vec::new() })
    }

    /// Why local state was wiped at open, if it was.
    pub fn wipe_reason(&self) -> Option<&str> {
        self.wiped.as_deref()
    }

    fn check_name(&self, name: &str) -> Result<()> {
        let bad = |reason: String| StateError::InvalidStore { store: name.to_string(), reason };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
            return Err(bad("store names use only ASCII letters, digits, '.', '_' and '-' (they name topics)".into()));
        }
        if self.stores.iter().any(|s| s.name == name) {
            return Err(bad("a store with this name is already registered in this task".into()));
        }
        Ok(())
    }

    fn changelog(&self, name: &str, logged: bool, config: TopicConfig) -> Result<Option<ChangelogTarget>> {
        let Some(log) = self.config.log.clone().filter(|_| logged) else { return Ok(None) };
        let topic = changelog_topic(&self.config.application_id, name);
        let err = |source| StateError::Changelog {
            store: name.to_string(),
            topic: topic.clone(),
            partition: self.config.partition,
            source,
        };
        let partitions = log.ensure_topic(&topic, &config).map_err(err)?;
        if partitions <= self.config.partition {
            return Err(StateError::InvalidStore {
                store: name.into(),
                reason: format!(
                    "changelog {topic} has {partitions} partition(s) but this task is partition {}; \
                     the changelog needs one partition per input partition",
                    self.config.partition
                ),
            });
        }
        Ok(Some(ChangelogTarget { log, topic, partition: self.config.partition }))
    }

    fn stack(
        &mut self,
        name: &str,
        physical: Arc<dyn OrderedMap>,
        target: Option<ChangelogTarget>,
        cache_bytes: usize,
    ) -> (Arc<CachingMap>, Option<Arc<LoggedMap>>) {
        let logged = target.map(|t| Arc::new(LoggedMap::new(name, physical.clone(), t)));
        let below: Arc<dyn OrderedMap> = match &logged {
            Some(l) => l.clone(),
            None => physical,
        };
        (Arc::new(CachingMap::new(below, cache_bytes)), logged)
    }

    /// Registers a key-value store.
    ///
    /// # Errors
    /// A bad or duplicate name, changelog or backend errors.
    pub fn key_value_store(&mut self, spec: KeyValueSpec) -> Result<Arc<KvStore>> {
        self.check_name(&spec.name)?;
        let physical = self.backend.open_map(&spec.name)?;
        let target = self.changelog(&spec.name, spec.logged, TopicConfig::compacted(self.config.changelog_partitions))?;
        let (top, logged) = self.stack(&spec.name, physical.clone(), target, spec.cache_bytes);
        let store = Arc::new(KvStore { core: Core::new(&spec.name, self.backend.persistent(), top) });
        self.register(&spec.name, store.clone(), physical, logged);
        Ok(store)
    }

    fn segmented(&self, name: &str, time_of: TimeOf, retention: i64, interval: Option<i64>) -> Result<Arc<SegmentedMap>> {
        let interval = interval.unwrap_or((retention / 2).max(60_000));
        Ok(Arc::new(SegmentedMap::open(name, self.backend.clone(), time_of, interval, retention)?))
    }

    fn windowed_changelog_config(&self, retention_ms: i64) -> TopicConfig {
        // Kafka: windowed changelogs are compact,delete with retention past the store's.
        let mut c = TopicConfig::compacted(self.config.changelog_partitions);
        c.cleanup_policy = riffle_log::CleanupPolicy::CompactDelete;
        c.retention_ms = Some(retention_ms.saturating_add(24 * 3600 * 1000));
        c
    }

    /// Registers a window store.
    ///
    /// # Errors
    /// A bad or duplicate name or spec, changelog or backend errors.
    pub fn window_store(&mut self, spec: WindowSpec) -> Result<Arc<WindowStoreImpl>> {
        self.check_name(&spec.name)?;
        let segments = self.segmented(&spec.name, window_key_time, spec.retention_ms, spec.segment_interval_ms)?;
        let target = self.changelog(&spec.name, spec.logged, self.windowed_changelog_config(spec.retention_ms))?;
        let (top, logged) = self.stack(&spec.name, segments.clone(), target, spec.cache_bytes);
        let store = Arc::new(WindowStoreImpl {
            core: Core::new(&spec.name, self.backend.persistent(), top),
            segments: segments.clone(),
            retention_ms: spec.retention_ms,
            retain_duplicates: spec.retain_duplicates,
            seq: AtomicU32::new(0),
        });
        self.register(&spec.name, store.clone(), segments, logged);
        Ok(store)
    }

    /// Registers a session store.
    ///
    /// # Errors
    /// A bad or duplicate name or spec, changelog or backend errors.
    pub fn session_store(&mut self, spec: SessionSpec) -> Result<Arc<SessionStoreImpl>> {
        self.check_name(&spec.name)?;
        let segments = self.segmented(&spec.name, session_key_time, spec.retention_ms, None)?;
        let target = self.changelog(&spec.name, spec.logged, self.windowed_changelog_config(spec.retention_ms))?;
        let (top, logged) = self.stack(&spec.name, segments.clone(), target, spec.cache_bytes);
        let store = Arc::new(SessionStoreImpl {
            core: Core::new(&spec.name, self.backend.persistent(), top),
            segments: segments.clone(),
        });
        self.register(&spec.name, store.clone(), segments, logged);
        Ok(store)
    }

    fn register(
        &mut self,
        name: &str,
        facade: Arc<dyn StateStore>,
        physical: Arc<dyn OrderedMap>,
        logged: Option<Arc<LoggedMap>>,
    ) {
        self.stores.push(Registered { name: name.to_string(), facade, physical, logged, restored: false });
    }

    /// Restores every registered store that has not been restored yet:
    /// from its checkpointed offset when local state is trusted, otherwise
    /// from the start of its changelog. Writes a checkpoint afterwards.
    ///
    /// # Errors
    /// Changelog or backend errors.
    pub fn restore(&mut self, listener: &mut dyn RestoreListener) -> Result<RestoreSummary> {
        let mut summary = RestoreSummary::default();
        for s in self.stores.iter_mut().filter(|s| !s.restored) {
            s.restored = true;
            let Some(logged) = &s.logged else { continue };
            let t = logged.target();
            let key = (t.topic.clone(), t.partition);
            let (_, end) = t.log.offsets(&t.topic, t.partition).map_err(|source| StateError::Changelog {
                store: s.name.clone(),
                topic: t.topic.clone(),
                partition: t.partition,
                source,
            })?;
            let start = match self.checkpointed.get(&key) {
                Some(&o) if o <= end => {
                    summary.tail.push(s.name.clone());
                    o
                }
                Some(&o) => {
                    tracing::warn!(store = %s.name, checkpoint = o, end,
                        "the checkpoint is past the changelog's end; clearing the store and restoring in full");
                    clear(&*s.physical)?;
                    summary.full.push(s.name.clone());
                    0
                }
                None => {
                    summary.full.push(s.name.clone());
                    0
                }
            };
            let p = restore(&s.name, t, &*s.physical, start, listener)?;
            summary.records += p.records;
            logged.set_checkpoint_offset(p.end_offset);
        }
        self.write_checkpoint()?;
        Ok(summary)
    }

    fn write_checkpoint(&mut self) -> Result<()> {
        if !self.backend.persistent() {
            return Ok(());
        }
        let mut offsets = Offsets::new();
        for s in &self.stores {
            if let Some(l) = &s.logged {
                if let Some(o) = l.checkpoint_offset() {
                    offsets.insert((l.target().topic.clone(), l.target().partition), o);
                }
            }
        }
        self.checkpoint.write(&offsets)?;
        self.checkpointed = offsets;
        Ok(())
    }

    /// Flushes every store (cache → changelog → local state, memtables to
    /// disk), then writes the checkpoint.
    ///
    /// # Errors
    /// The first store or checkpoint error; the checkpoint is then not
    /// advanced.
    pub fn commit(&mut self) -> Result<()> {
        for s in &self.stores {
            s.facade.flush()?;
        }
        self.write_checkpoint()
    }

    /// Commits and closes every store. Idempotent.
    ///
    /// # Errors
    /// As [`commit`](Self::commit).
    pub fn close(&mut self) -> Result<()> {
        self.commit()?;
        for s in &self.stores {
            s.facade.close()?;
        }
        Ok(())
    }

    /// Names of the registered stores.
    pub fn store_names(&self) -> BTreeSet<String> {
        self.stores.iter().map(|s| s.name.clone()).collect()
    }

    /// The checkpointed changelog offsets (after the last commit or restore).
    pub fn checkpointed_offsets(&self) -> &Offsets {
        &self.checkpointed
    }
}

/// Deletes every entry of a map (used when a checkpoint is ahead of its
/// changelog and the store must be rebuilt from scratch).
fn clear(map: &dyn OrderedMap) -> Result<()> {
    let all = map.range(std::ops::Bound::Unbounded, std::ops::Bound::Unbounded, false)?;
    let deletes: Vec<_> = all.into_iter().map(|(k, _)| (k, None)).collect();
    map.write(&deletes)
}
