//! The store traits: a minimal [`StateStore`] lifecycle and typed key-value,
//! window and session stores over bytes, each split into a read-only part
//! (what interactive queries get) and a writable part (what the owning task
//! gets).
//!
//! What callers may assume:
//! - After `flush` returns, every earlier write is in the local store and in
//!   its changelog (when logged); a checkpoint taken then is exact.
//! - After a restore, the store holds exactly what its changelog describes.
//! - Reads from other threads are safe while the owner writes; each call
//!   sees one consistent state (range results are materialized from one
//!   snapshot).
//! - `close` is idempotent; any other call on a closed store fails with
//!   [`StateError::Closed`](crate::StateError::Closed).

use bytes::Bytes;

use crate::error::Result;

/// A key-value pair.
pub type KeyValue = (Bytes, Bytes);

/// The lifecycle every store has.
pub trait StateStore: Send + Sync {
    /// The store's name (unique within a task).
    fn name(&self) -> &str;
    /// True when the data lives on disk (RocksDB).
    fn persistent(&self) -> bool;
    /// Writes cached updates through to the store and its changelog and
    /// makes them durable locally.
    ///
    /// # Errors
    /// Backend or changelog errors.
    fn flush(&self) -> Result<()>;
    /// Flushes and closes; idempotent.
    ///
    /// # Errors
    /// As [`flush`](Self::flush).
    fn close(&self) -> Result<()>;
    /// False after [`close`](Self::close).
    fn is_open(&self) -> bool;
}

/// Reads of a key-value store.
pub trait ReadOnlyKeyValueStore: Send + Sync {
    /// The value of `key`.
    ///
    /// # Errors
    /// Backend errors, or the store is closed.
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>>;
    /// Entries with `from <= key <= to`, in key order.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    fn range(&self, from: &[u8], to: &[u8]) -> Result<Vec<KeyValue>>;
    /// Entries whose key starts with `prefix`, in key order.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    fn prefix_scan(&self, prefix: &[u8]) -> Result<Vec<KeyValue>>;
    /// All entries in key order.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    fn all(&self) -> Result<Vec<KeyValue>>;
    /// An estimate of the number of entries.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    fn approximate_num_entries(&self) -> Result<u64>;
}

/// A key-value store.
pub trait KeyValueStore: StateStore + ReadOnlyKeyValueStore {
    /// Sets `key` to `value`.
    ///
    /// # Errors
    /// Backend or changelog errors.
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()>;
    /// Sets many keys at once (one batch).
    ///
    /// # Errors
    /// As [`put`](Self::put).
    fn put_all(&self, entries: &[KeyValue]) -> Result<()>;
    /// Removes `key`, returning its old value.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    fn delete(&self, key: &[u8]) -> Result<Option<Bytes>>;
}

/// A windowed entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowedEntry {
    /// The record key.
    pub key: Bytes,
    /// Window start (ms).
    pub window_start: i64,
    /// The value.
    pub value: Bytes,
}

/// Reads of a window store. Windows are identified by key and start time.
pub trait ReadOnlyWindowStore: Send + Sync {
    /// The value of one window.
    ///
    /// # Errors
    /// Backend errors, or the store is closed.
    fn fetch(&self, key: &[u8], window_start: i64) -> Result<Option<Bytes>>;
    /// Windows of `key` whose start is in `[from, to]`, in time order (one
    /// seek per time segment).
    ///
    /// # Errors
    /// As [`fetch`](Self::fetch).
    fn fetch_range(&self, key: &[u8], from: i64, to: i64) -> Result<Vec<(i64, Bytes)>>;
    /// Windows of keys in `[key_from, key_to]` whose start is in `[from, to]`.
    ///
    /// # Errors
    /// As [`fetch`](Self::fetch).
    fn fetch_key_range(&self, key_from: &[u8], key_to: &[u8], from: i64, to: i64) -> Result<Vec<WindowedEntry>>;
    /// Every window still retained.
    ///
    /// # Errors
    /// As [`fetch`](Self::fetch).
    fn all(&self) -> Result<Vec<WindowedEntry>>;
}

/// A window store.
pub trait WindowStore: StateStore + ReadOnlyWindowStore {
    /// Sets (or with `None` deletes) the value of a window. Windows older
    /// than the retention period (behind the newest start seen) are ignored.
    ///
    /// # Errors
    /// Backend or changelog errors.
    fn put(&self, key: &[u8], window_start: i64, value: Option<&[u8]>) -> Result<()>;

    /// Writes many windows at once: `(key, window start, value)`; one
    /// storage batch and one changelog append instead of one per entry.
    ///
    /// # Errors
    /// As [`WindowStore::put`].
    fn put_all(&self, entries: &[(Bytes, i64, Option<Bytes>)]) -> Result<()> {
        for (k, start, v) in entries {
            self.put(k, *start, v.as_deref())?;
        }
        Ok(())
    }
    /// The retention period in ms.
    fn retention_ms(&self) -> i64;
}

/// A session window: `[start, end]`, both inclusive, as in Kafka Streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionWindow {
    /// Time of the first record (ms).
    pub start: i64,
    /// Time of the last record (ms).
    pub end: i64,
}

/// A session with its key and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEntry {
    /// The record key.
    pub key: Bytes,
    /// The session's bounds.
    pub window: SessionWindow,
    /// The aggregate.
    pub value: Bytes,
}

/// Reads of a session store.
pub trait ReadOnlySessionStore: Send + Sync {
    /// Sessions of `key` that end at or after `earliest_end` and start at or
    /// before `latest_start` — the sessions a new record may merge with.
    ///
    /// # Errors
    /// Backend errors, or the store is closed.
    fn find_sessions(&self, key: &[u8], earliest_end: i64, latest_start: i64) -> Result<Vec<SessionEntry>>;
    /// The value of one exact session.
    ///
    /// # Errors
    /// As [`find_sessions`](Self::find_sessions).
    fn fetch_session(&self, key: &[u8], window: SessionWindow) -> Result<Option<Bytes>>;
    /// All sessions of `key`.
    ///
    /// # Errors
    /// As [`find_sessions`](Self::find_sessions).
    fn fetch(&self, key: &[u8]) -> Result<Vec<SessionEntry>>;
}

/// A session store.
pub trait SessionStore: StateStore + ReadOnlySessionStore {
    /// Stores a session's aggregate.
    ///
    /// # Errors
    /// Backend or changelog errors.
    fn put(&self, key: &[u8], window: SessionWindow, value: &[u8]) -> Result<()>;
    /// Removes a session (after merging it into a larger one).
    ///
    /// # Errors
    /// As [`put`](Self::put).
    fn remove(&self, key: &[u8], window: SessionWindow) -> Result<()>;
}

/// What every store facade holds: its name, the top of its map stack and
/// whether it is open.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) name: String,
    pub(crate) persistent: bool,
    /// The top of the stack: always a cache (a 0-byte one is a pass-through).
    pub(crate) top: std::sync::Arc<crate::cache::CachingMap>,
    pub(crate) open: std::sync::atomic::AtomicBool,
}

impl Core {
    pub(crate) fn new(name: &str, persistent: bool, top: std::sync::Arc<crate::cache::CachingMap>) -> Self {
        Core { name: name.to_string(), persistent, top, open: std::sync::atomic::AtomicBool::new(true) }
    }

    /// The map stack, or `Closed`.
    pub(crate) fn map(&self) -> Result<&dyn crate::map::OrderedMap> {
        if self.open.load(std::sync::atomic::Ordering::Acquire) {
            Ok(&*self.top)
        } else {
            Err(crate::error::StateError::Closed { store: self.name.clone() })
        }
    }

    pub(crate) fn flush(&self) -> Result<()> {
        self.map()?.flush()
    }

    pub(crate) fn close(&self) -> Result<()> {
        if self.open.load(std::sync::atomic::Ordering::Acquire) {
            crate::map::OrderedMap::flush(&*self.top)?;
            self.open.store(false, std::sync::atomic::Ordering::Release);
        }
        Ok(())
    }
}

/// Implements [`StateStore`] for a facade with a `core: Core` field.
macro_rules! impl_state_store {
    ($t:ty) => {
        impl $crate::store::StateStore for $t {
            fn name(&self) -> &str {
                &self.core.name
            }
            fn persistent(&self) -> bool {
                self.core.persistent
            }
            fn flush(&self) -> $crate::error::Result<()> {
                self.core.flush()
            }
            fn close(&self) -> $crate::error::Result<()> {
                self.core.close()
            }
            fn is_open(&self) -> bool {
                self.core.open.load(std::sync::atomic::Ordering::Acquire)
            }
        }

        impl $t {
            /// Receives every entry leaving the store's cache, in order (per
            /// write when the cache is 0 bytes). Keys are in the store's
            /// encoded form (see [`crate::encoding`]).
            pub fn set_flush_listener(&self, listener: $crate::cache::FlushListener, send_old_values: bool) {
                self.core.top.set_flush_listener(listener, send_old_values);
            }
        }
    };
}
pub(crate) use impl_state_store;
