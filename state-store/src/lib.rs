//! # riffle-state — state stores for Riffle's streams engine
//!
//! The persistent state behind every aggregation, join and materialized
//! table: key-value, window and session stores over RocksDB (the default)
//! or memory, with a write-back cache, changelog topics in the log, a
//! checkpoint file and restore.
//!
//! ```text
//!  KvStore / WindowStoreImpl / SessionStoreImpl      typed facades (encode keys)
//!        │
//!  CachingMap        write-back cache: dedupe per key, flush on commit/eviction → listener
//!        │
//!  LoggedMap         append to `<application.id>-<store>-changelog`, partition = task partition
//!        │
//!  physical map      RocksDB column family (or memory); window/session stores: one per time segment
//! ```
//!
//! A [`StateManager`] owns one task directory: one RocksDB instance, the
//! stores registered in it, the checkpoint, restore and commit.
//!
//! What it is not: a distributed store. Replication is the changelog topic;
//! a task that moves to another process restores from it.
//!
//! ## Example
//! ```
//! use std::sync::Arc;
//! use riffle_log::{Log, LogConfig, LogClient};
//! use riffle_state::{BackendKind, KeyValueSpec, KeyValueStore, ReadOnlyKeyValueStore,
//!     LoggingRestoreListener, StateManager, StateManagerConfig, StateMemory};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let log = Log::open(dir.path().join("log"), LogConfig::default()).unwrap();
//! let config = StateManagerConfig {
//!     task_dir: dir.path().join("state/0_0"),
//!     application_id: "counts-app".into(),
//!     partition: 0,
//!     changelog_partitions: 1,
//!     backend: BackendKind::RocksDb,
//!     memory: StateMemory::new(64 << 20),
//!     log: Some(Arc::new(log.clone()) as Arc<dyn LogClient>),
//! };
//! let mut state = StateManager::open(config.clone()).unwrap();
//! let spec = KeyValueSpec { name: "counts".into(), cache_bytes: 1 << 20, logged: true };
//! let counts = state.key_value_store(spec.clone()).unwrap();
//! state.restore(&mut LoggingRestoreListener).unwrap();
//! counts.put(b"user-1", b"3").unwrap();
//! state.close().unwrap();
//! drop((state, counts)); // the last handle closes RocksDB
//!
//! // Lose the local database: the store comes back from its changelog.
//! std::fs::remove_dir_all(dir.path().join("state")).unwrap();
//! let mut state = StateManager::open(config).unwrap();
//! let counts = state.key_value_store(spec).unwrap();
//! let summary = state.restore(&mut LoggingRestoreListener).unwrap();
//! assert_eq!(summary.records, 1);
//! assert_eq!(counts.get(b"user-1").unwrap().as_deref(), Some(&b"3"[..]));
//! ```

pub mod cache;
pub mod changelog;
pub mod checkpoint;
pub mod encoding;
pub mod error;
pub mod kv;
pub mod manager;
pub mod map;
pub mod memory;
pub mod rocksdb;
mod segmented;
pub mod session;
pub mod store;
pub mod window;

pub use cache::{CachingMap, FlushListener, FlushedEntry};
pub use changelog::{changelog_topic, LoggingRestoreListener, RestoreListener, RestoreProgress};
pub use error::{Result, StateError};
pub use kv::KvStore;
pub use manager::{
    BackendKind, KeyValueSpec, RestoreSummary, SessionSpec, StateManager, StateManagerConfig, WindowSpec,
};
pub use map::{Backend, OrderedMap};
pub use memory::{MemoryBackend, MemoryMap};
pub use rocksdb::{RocksDbBackend, StateMemory};
pub use session::SessionStoreImpl;
pub use store::{
    KeyValue, KeyValueStore, ReadOnlyKeyValueStore, ReadOnlySessionStore, ReadOnlyWindowStore, SessionEntry,
    SessionStore, SessionWindow, StateStore, WindowStore, WindowedEntry,
};
pub use window::WindowStoreImpl;
