//! The one error type of `riffle-state`.

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = StateError> = std::result::Result<T, E>;

/// What can go wrong in a state store, sorted by whose fault it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    // ---- user errors -------------------------------------------------------
    /// A store name registered twice, or an invalid store spec.
    #[error("store {store:?}: {reason}")]
    InvalidStore {
        /// The store.
        store: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// An operation on a store that was closed.
    #[error("store {store:?} is closed")]
    Closed {
        /// The store.
        store: String,
    },

    // ---- external errors ---------------------------------------------------
    /// RocksDB reported an error.
    #[error("RocksDB error in {path}: {message}")]
    RocksDb {
        /// The database directory.
        path: PathBuf,
        /// RocksDB's message.
        message: String,
    },
    /// File-system trouble in the state directory.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The changelog topic could not be written or read.
    #[error("changelog {topic}-{partition} of store {store:?}: {source}")]
    Changelog {
        /// The store.
        store: String,
        /// Changelog topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The log's error.
        #[source]
        source: riffle_log::LogError,
    },
    /// A restore stopped making progress before the changelog's end: the log
    /// kept answering reads with nothing. The store is not used half
    /// restored; the task fails and can be retried.
    #[error(
        "restoring store {store:?} from {topic}-{partition}: no records at offset {offset} although the \
         changelog ends at {end}; is the broker serving this partition?"
    )]
    RestoreStalled {
        /// The store.
        store: String,
        /// Changelog topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Where the reads stopped.
        offset: i64,
        /// The end the restore was reading to.
        end: i64,
    },

    // ---- corruption --------------------------------------------------------
    /// Local state that cannot be trusted. The manager recovers by wiping the
    /// local copy and restoring from the changelog (Kafka's
    /// `TaskCorruptedException`); this error surfaces only when that is not
    /// possible.
    #[error("corrupt state in {path}: {reason}; wipe the directory to rebuild it from the changelog")]
    Corrupt {
        /// The file or directory.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
}

impl StateError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StateError::Io { path: path.into(), source }
    }

    pub(crate) fn rocks(path: impl Into<PathBuf>, e: rocksdb::Error) -> Self {
        StateError::RocksDb { path: path.into(), message: e.into_string() }
    }
}
