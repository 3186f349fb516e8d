//! The changelog decorator and restore.
//!
//! Every write that reaches a logged store is first appended to its
//! changelog — the compacted topic `<application.id>-<store>-changelog`,
//! partition = the task's partition — and only then applied to the map
//! below. The local store is therefore never ahead of its changelog, so
//! replaying the changelog from any checkpointed offset converges to exactly
//! the state the changelog describes. Window and session keys are stored in
//! the changelog in their encoded form, so the window travels with the key.

use std::ops::Bound;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;
use riffle_log::{LogClient, Record};

use crate::error::{Result, StateError};
use crate::map::{OrderedMap, WriteBatch};

/// Name of a store's changelog topic.
pub fn changelog_topic(application_id: &str, store: &str) -> String {
    format!("{application_id}-{store}-changelog")
}

/// Where a store's changes go.
#[derive(Debug, Clone)]
pub struct ChangelogTarget {
    /// The log.
    pub log: Arc<dyn LogClient>,
    /// Changelog topic.
    pub topic: String,
    /// Partition (the task's partition).
    pub partition: i32,
}

/// A map whose writes are appended to a changelog first.
#[derive(Debug)]
pub(crate) struct LoggedMap {
    store: String,
    inner: Arc<dyn OrderedMap>,
    target: ChangelogTarget,
    /// The changelog offset after the last write this store appended (or
    /// the restored end), i.e. what a checkpoint records.
    next_offset: Mutex<Option<i64>>,
}

impl LoggedMap {
    pub(crate) fn new(store: &str, inner: Arc<dyn OrderedMap>, target: ChangelogTarget) -> Self {
        LoggedMap { store: store.to_string(), inner, target, next_offset: Mutex::new(None) }
    }

    pub(crate) fn target(&self) -> &ChangelogTarget {
        &self.target
    }

    /// The offset a checkpoint may record for this store.
    pub(crate) fn checkpoint_offset(&self) -> Option<i64> {
        *self.next_offset.lock()
    }

    pub(crate) fn set_checkpoint_offset(&self, offset: i64) {
        *self.next_offset.lock() = Some(offset);
    }

    fn err(&self, source: riffle_log::LogError) -> StateError {
        StateError::Changelog {
            store: self.store.clone(),
            topic: self.target.topic.clone(),
            partition: self.target.partition,
            source,
        }
    }
}

/// Payload bytes per changelog append.
const CHANGELOG_BATCH_BYTES: usize = 512 * 1024;

impl OrderedMap for LoggedMap {
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        self.inner.get(key)
    }

    fn write(&self, batch: &WriteBatch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let records: Vec<Record> =
            batch.iter().map(|(k, v)| Record { key: Some(k.clone()), value: v.clone(), ..Default::default() }).collect();
        // One log batch per ~512 KiB, so a large write stays under the
        // topic's max.message.bytes (1 MiB by default).
        let mut last = None;
        let mut start = 0;
        let mut size = 0;
        for (i, r) in records.iter().enumerate() {
            size += r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len()) + 24;
            if size >= CHANGELOG_BATCH_BYTES || i + 1 == records.len() {
                let info = self
                    .target
                    .log
                    .append(&self.target.topic, self.target.partition, &records[start..=i])
                    .map_err(|e| self.err(e))?;
                last = Some(info.last_offset);
                start = i + 1;
                size = 0;
            }
        }
        self.inner.write(batch)?;
        if let Some(l) = last {
            *self.next_offset.lock() = Some(l + 1);
        }
        Ok(())
    }

    fn range(&self, from: Bound<&[u8]>, to: Bound<&[u8]>, reverse: bool) -> Result<Vec<(Bytes, Bytes)>> {
        self.inner.range(from, to, reverse)
    }

    fn approximate_len(&self) -> Result<u64> {
        self.inner.approximate_len()
    }

    fn flush(&self) -> Result<()> {
        self.inner.flush()
    }
}

/// Empty reads in a row below the changelog's end before a restore fails.
const RESTORE_STALLS: u32 = 200;

/// Progress of a restore, reported to a [`RestoreListener`].
#[derive(Debug, Clone, PartialEq)]
pub struct RestoreProgress {
    /// The store.
    pub store: String,
    /// Changelog topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// First offset replayed.
    pub start_offset: i64,
    /// Offset the restore runs to.
    pub end_offset: i64,
    /// Records applied so far.
    pub records: u64,
    /// Records per second so far.
    pub records_per_s: f64,
    /// True on the last report of this store.
    pub done: bool,
}

/// Receives restore progress.
pub trait RestoreListener {
    /// Called after each bulk write and once at the end of each store.
    fn on_progress(&mut self, progress: &RestoreProgress);
}

/// A listener that logs progress through `tracing`.
#[derive(Debug, Default)]
pub struct LoggingRestoreListener;

impl RestoreListener for LoggingRestoreListener {
    fn on_progress(&mut self, p: &RestoreProgress) {
        if p.done {
            tracing::info!(
                store = %p.store, topic = %p.topic, partition = p.partition, records = p.records,
                records_per_s = p.records_per_s as u64, "restore finished"
            );
        }
    }
}

/// Replays `target` from `start` to its current end into `into` (the
/// physical map: no cache, no changelog), in bulk batches.
pub(crate) fn restore(
    store: &str,
    target: &ChangelogTarget,
    into: &dyn OrderedMap,
    start: i64,
    listener: &mut dyn RestoreListener,
) -> Result<RestoreProgress> {
    let err = |source| StateError::Changelog {
        store: store.to_string(),
        topic: target.topic.clone(),
        partition: target.partition,
        source,
    };
    let (log_start, end) = target.log.offsets(&target.topic, target.partition).map_err(err)?;
    let began = Instant::now();
    let mut progress = RestoreProgress {
        store: store.to_string(),
        topic: target.topic.clone(),
        partition: target.partition,
        start_offset: start.max(log_start),
        end_offset: end,
        records: 0,
        records_per_s: 0.0,
        done: false,
    };
    let mut offset = progress.start_offset;
    let mut stalls = 0;
    while offset < end {
        let fetched = target.log.read(&target.topic, target.partition, offset, 8 << 20).map_err(err)?;
        let batch: Vec<(Bytes, Option<Bytes>)> = fetched
            .records
            .into_iter()
            .filter(|r| r.offset < end)
            .filter_map(|r| Some((r.key?, r.value)))
            .collect();
        into.write(&batch)?;
        progress.records += batch.len() as u64;
        progress.records_per_s = progress.records as f64 / began.elapsed().as_secs_f64().max(1e-9);
        listener.on_progress(&progress);
        if fetched.next_offset <= offset {
            // A remote broker may answer a fetch with nothing although the
            // offsets said more is there; ask again for a while, and never
            // report a partial restore as complete.
            stalls += 1;
            if stalls > RESTORE_STALLS {
                return Err(StateError::RestoreStalled {
                    store: store.to_string(),
                    topic: target.topic.clone(),
                    partition: target.partition,
                    offset,
                    end,
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
            continue;
        }
        stalls = 0;
        offset = fetched.next_offset;
    }
    progress.done = true;
    progress.records_per_s = progress.records as f64 / began.elapsed().as_secs_f64().max(1e-9);
    listener.on_progress(&progress);
    Ok(progress)
}
