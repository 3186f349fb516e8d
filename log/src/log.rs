//! The [`Log`]: a data directory of topics, their partitions, the consumer
//! group coordinator and the background maintenance threads.
//!
//! ```text
//! <data-dir>/
//!   .lock                          one process per directory
//!   meta/producer-ids              next free producer-id block
//!   topics/<name>/topic.meta       topic id + config (atomic rewrite)
//!   topics/<name>/<partition>/     segments: 00000000000000000000.log, .index, .timeindex
//!   trash/                         deleted topics, removed in the background
//! ```

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};

use crate::config::{Durability, LogConfig};
use crate::error::{LogError, Result};
use crate::group::{GroupCoordinator, OffsetStorage};
use crate::partition::{now_ms, AppendOptions, Partition};
use crate::partitioner::partition_for_key;
use crate::record::Record;
use crate::segment::write_file_synced;
use crate::topic::{collision_form, validate_topic_name, TopicConfig};
use crate::txn::{TxnCoordinator, TRANSACTION_STATE_TOPIC};

/// Name of the internal compacted topic holding committed group offsets.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// A 16-byte topic id, stable for the topic's life (Kafka's topic UUID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicId(pub [u8; 16]);

impl std::fmt::Display for TopicId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// A topic: its id, config and partitions.
#[derive(Debug)]
pub struct Topic {
    name: String,
    id: TopicId,
    config: RwLock<Arc<TopicConfig>>,
    partitions: Vec<Arc<Partition>>,
    dir: PathBuf,
}

impl Topic {
    /// Topic name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Stable topic id.
    pub fn id(&self) -> TopicId {
        self.id
    }
    /// Current config.
    pub fn config(&self) -> Arc<TopicConfig> {
        self.config.read().clone()
    }
    /// Its partitions, by index.
    pub fn partitions(&self) -> &[Arc<Partition>] {
        &self.partitions
    }
    /// True for Riffle's internal topics (names starting with `__`).
    pub fn is_internal(&self) -> bool {
        self.name.starts_with("__")
    }
}

/// Summary of one partition, for `describe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Index.
    pub partition: i32,
    /// First stored offset.
    pub log_start_offset: i64,
    /// Next offset to be written.
    pub high_watermark: i64,
    /// Bytes on disk.
    pub size_bytes: u64,
    /// Segment files.
    pub segments: usize,
}

pub(crate) struct LogInner {
    dir: PathBuf,
    config: LogConfig,
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    /// Serializes topic creation and deletion.
    admin: Mutex<()>,
    producer_ids: Mutex<(i64, i64)>,
    groups: Arc<GroupCoordinator>,
    txns: TxnCoordinator,
    closed: AtomicBool,
    stop: Arc<StopSignal>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    _lock: File,
}

/// The partitioned log on a data directory. Cheap to clone; all clones share
/// one log. Dropping the last clone does not close it cleanly: call
/// [`close`](Log::close).
///
/// # Examples
/// ```
/// use riffle_log::{Log, LogConfig, Record, TopicConfig, AppendOptions};
/// let dir = tempfile::tempdir().unwrap();
/// let log = Log::open(dir.path(), LogConfig::default()).unwrap();
/// log.create_topic("clicks", TopicConfig::with_partitions(3)).unwrap();
/// let p = log.partition("clicks", 0).unwrap();
/// let info = p.append(&[Record::keyed("user-1", "home")], &AppendOptions::default()).unwrap();
/// assert_eq!(info.base_offset, 0);
/// let recs = p.read_records(0, 1 << 20).unwrap();
/// assert_eq!(recs[0].value.as_deref(), Some(&b"home"[..]));
/// log.close().unwrap();
/// ```
#[derive(Clone)]
pub struct Log {
    pub(crate) inner: Arc<LogInner>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log").field("dir", &self.inner.dir).finish_non_exhaustive()
    }
}

const PRODUCER_ID_BLOCK: i64 = 1000;

impl Log {
    /// Opens the log in `dir` (created if missing), recovering every
    /// partition, and starts the background threads.
    ///
    /// # Errors
    /// [`LogError::Io`] when the directory cannot be used — including when
    /// another process holds it open.
    pub fn open(dir: impl AsRef<Path>, config: LogConfig) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        for sub in ["meta", "topics", "trash"] {
            let p = dir.join(sub);
            fs::create_dir_all(&p).map_err(|e| LogError::io(&p, e))?;
        }
        let lock_path = dir.join(".lock");
        let lock = File::create(&lock_path).map_err(|e| LogError::io(&lock_path, e))?;
        lock.try_lock().map_err(|e| {
            LogError::io(
                &lock_path,
                std::io::Error::new(
                    std::io::ErrorKind::WouldBlock,
                    format!("{e}: another riffle process is using this data directory; stop it or pick another --data-dir"),
                ),
            )
        })?;
        empty_trash(&dir.join("trash"));
        let mut topics = BTreeMap::new();
        let tdir = dir.join("topics");
        for entry in fs::read_dir(&tdir).map_err(|e| LogError::io(&tdir, e))? {
            let entry = entry.map_err(|e| LogError::io(&tdir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if validate_topic_name(&name).is_err() {
                tracing::warn!(dir = %entry.path().display(), "ignoring a directory that is not a topic");
                continue;
            }
            let t = load_topic(&entry.path(), &name, config.durability)?;
            topics.insert(name, Arc::new(t));
        }
        let producer_ids = allocate_producer_ids(&dir.join("meta/producer-ids"))?;
        let offsets_topic = match topics.get(OFFSETS_TOPIC) {
            Some(t) => t.clone(),
            None => {
                let c = TopicConfig::compacted(config.offsets_topic_partitions.max(1));
                let t = Arc::new(create_topic_files(&dir, OFFSETS_TOPIC, c, config.durability)?);
                topics.insert(OFFSETS_TOPIC.to_string(), t.clone());
                t
            }
        };
        let groups = Arc::new(GroupCoordinator::new(
            config.group.clone(),
            Arc::new(OffsetsTopic { topic: offsets_topic.clone() }),
        ));
        replay_offsets(&groups, &offsets_topic)?;
        let txn_topic = match topics.get(TRANSACTION_STATE_TOPIC) {
            Some(t) => t.clone(),
            None => {
                let c = TopicConfig::compacted(1);
                let t = Arc::new(create_topic_files(&dir, TRANSACTION_STATE_TOPIC, c, config.durability)?);
                topics.insert(TRANSACTION_STATE_TOPIC.to_string(), t.clone());
                t
            }
        };
        let txns = TxnCoordinator::load(txn_topic)?;
        let log = Log {
            inner: Arc::new(LogInner {
                dir,
                config,
                topics: RwLock::new(topics),
                admin: Mutex::new(()),
                producer_ids: Mutex::new(producer_ids),
                groups,
                txns,
                closed: AtomicBool::new(false),
                stop: Arc::new(StopSignal::default()),
                threads: Mutex::new(Vec::new()),
                _lock: lock,
            }),
        };
        if let Err(e) = log.recover_transactions() {
            tracing::error!(error = %e, "cannot complete transactions left in Prepare; they stay pending");
        }
        log.start_background();
        Ok(log)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The log's configuration.
    pub fn config(&self) -> &LogConfig {
        &self.inner.config
    }

    /// Creates a topic.
    ///
    /// # Errors
    /// [`LogError::InvalidTopicName`], [`LogError::TopicExists`] (also for a
    /// name that differs from an existing one only in `.` vs `_`, as Kafka
    /// refuses), [`LogError::InvalidConfig`], I/O errors.
    pub fn create_topic(&self, name: &str, config: TopicConfig) -> Result<Arc<Topic>> {
        validate_topic_name(name)?;
        if !(1..=100_000).contains(&config.partitions) {
            return Err(LogError::InvalidConfig {
                key: "partitions".into(),
                value: config.partitions.to_string(),
                reason: "a topic needs between 1 and 100000 partitions".into(),
            });
        }
        // The same rules as `alter_topic_config` and reopening (which parses
        // topic.meta with `TopicConfig::set`): a value accepted here but
        // refused there would make the whole data directory unopenable.
        let mut checked = TopicConfig::default();
        config.to_map().into_iter().try_for_each(|(k, v)| checked.set(k, &v))?;
        let _admin = self.inner.admin.lock();
        {
            let topics = self.inner.topics.read();
            if topics.contains_key(name) {
                return Err(LogError::TopicExists { topic: name.to_string() });
            }
            if let Some(other) = topics.keys().find(|t| collision_form(t) == collision_form(name)) {
                return Err(LogError::InvalidTopicName {
                    name: name.to_string(),
                    reason: format!("it collides with existing topic {other:?} ('.' and '_' are treated alike)"),
                });
            }
        }
        let topic = Arc::new(create_topic_files(&self.inner.dir, name, config, self.inner.config.durability)?);
        self.inner.topics.write().insert(name.to_string(), topic.clone());
        tracing::info!(topic = name, partitions = topic.partitions.len(), "created topic");
        Ok(topic)
    }

    /// Creates a topic unless it exists; returns it either way.
    ///
    /// # Errors
    /// As [`create_topic`](Self::create_topic).
    pub fn ensure_topic(&self, name: &str, config: TopicConfig) -> Result<Arc<Topic>> {
        match self.create_topic(name, config) {
            Err(LogError::TopicExists { .. }) => self.topic(name),
            other => other,
        }
    }

    /// Deletes a topic and its data. Readers waiting on it are woken.
    ///
    /// # Errors
    /// [`LogError::UnknownTopic`], I/O errors.
    pub fn delete_topic(&self, name: &str) -> Result<()> {
        if name == OFFSETS_TOPIC {
            return Err(LogError::InvalidTopicName {
                name: name.into(),
                reason: "it is an internal topic holding consumer-group offsets and cannot be deleted".into(),
            });
        }
        let _admin = self.inner.admin.lock();
        let topic =
            self.inner.topics.write().remove(name).ok_or_else(|| LogError::UnknownTopic { topic: name.into() })?;
        topic.partitions.iter().for_each(|p| p.shut());
        let trash = self.inner.dir.join("trash").join(format!("{name}-{}", topic.id));
        fs::rename(&topic.dir, &trash).map_err(|e| LogError::io(&topic.dir, e))?;
        empty_trash(&self.inner.dir.join("trash"));
        tracing::info!(topic = name, "deleted topic");
        Ok(())
    }

    /// Changes one config of a topic (Kafka's `AlterConfigs`).
    ///
    /// # Errors
    /// [`LogError::InvalidConfig`]; `partitions` cannot be changed here.
    pub fn alter_topic_config(&self, name: &str, key: &str, value: &str) -> Result<()> {
        let _admin = self.inner.admin.lock();
        let topic = self.topic(name)?;
        if key == "partitions" {
            return Err(LogError::InvalidConfig {
                key: key.into(),
                value: value.into(),
                reason: "the partition count of an existing topic cannot be changed".into(),
            });
        }
        let mut c = (*topic.config()).clone();
        c.set(key, value)?;
        write_topic_meta(&topic.dir, topic.id, &c)?;
        let c = Arc::new(c);
        topic.partitions.iter().for_each(|p| p.set_config(c.clone()));
        *topic.config.write() = c;
        Ok(())
    }

    /// A topic by name.
    ///
    /// # Errors
    /// [`LogError::UnknownTopic`].
    pub fn topic(&self, name: &str) -> Result<Arc<Topic>> {
        self.inner.topics.read().get(name).cloned().ok_or_else(|| LogError::UnknownTopic { topic: name.into() })
    }

    /// All topics, by name.
    pub fn topics(&self) -> Vec<Arc<Topic>> {
        self.inner.topics.read().values().cloned().collect()
    }

    /// One partition.
    ///
    /// # Errors
    /// [`LogError::UnknownTopic`], [`LogError::UnknownPartition`].
    pub fn partition(&self, topic: &str, partition: i32) -> Result<Arc<Partition>> {
        let t = self.topic(topic)?;
        usize::try_from(partition).ok().and_then(|i| t.partitions.get(i)).cloned().ok_or(
            LogError::UnknownPartition { topic: topic.into(), partition, partitions: t.partitions.len() as i32 },
        )
    }

    /// Offsets and sizes of every partition of a topic.
    ///
    /// # Errors
    /// [`LogError::UnknownTopic`].
    pub fn describe_topic(&self, name: &str) -> Result<(Arc<Topic>, Vec<PartitionInfo>)> {
        let t = self.topic(name)?;
        let parts = t
            .partitions
            .iter()
            .map(|p| PartitionInfo {
                partition: p.index(),
                log_start_offset: p.log_start_offset(),
                high_watermark: p.high_watermark(),
                size_bytes: p.size_bytes(),
                segments: p.segment_count(),
            })
            .collect();
        Ok((t, parts))
    }

    /// A fresh producer id for an idempotent producer (epoch 0).
    ///
    /// # Errors
    /// I/O errors while reserving a new block of ids.
    pub fn init_producer_id(&self) -> Result<(i64, i16)> {
        let mut ids = self.inner.producer_ids.lock();
        if ids.0 >= ids.1 {
            *ids = allocate_producer_ids(&self.inner.dir.join("meta/producer-ids"))?;
        }
        let id = ids.0;
        ids.0 += 1;
        Ok((id, 0))
    }

    /// The transaction coordinator's state (see `txn.rs`).
    pub(crate) fn txn_coordinator(&self) -> &TxnCoordinator {
        &self.inner.txns
    }

    /// The consumer-group coordinator (offsets persist in
    /// [`OFFSETS_TOPIC`]).
    pub fn groups(&self) -> &GroupCoordinator {
        &self.inner.groups
    }

    /// Committed offset, high watermark and lag of every partition that
    /// `group` has committed for (Kafka's `kafka-consumer-groups --describe`).
    pub fn group_lag(&self, group: &str) -> Vec<GroupPartitionLag> {
        self.groups()
            .fetch_offsets(group, None)
            .into_iter()
            .map(|(tp, o)| {
                let hw = self.partition(&tp.topic, tp.partition).map(|p| p.high_watermark()).ok();
                GroupPartitionLag { lag: hw.map(|h| (h - o.offset).max(0)), high_watermark: hw, committed: o.offset, partition: tp }
            })
            .collect()
    }

    /// fsyncs every partition.
    ///
    /// # Errors
    /// The first I/O error.
    pub fn flush(&self) -> Result<()> {
        self.topics().iter().flat_map(|t| t.partitions.iter()).try_for_each(|p| p.flush())
    }

    /// Stops the background threads, seals active segments and marks every
    /// partition cleanly closed. Idempotent.
    ///
    /// # Errors
    /// The first I/O error (the others are still attempted).
    pub fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.inner.stop.stop();
        for h in self.inner.threads.lock().drain(..) {
            let _ = h.join();
        }
        let mut first_err = None;
        for p in self.topics().iter().flat_map(|t| t.partitions.iter()) {
            if let Err(e) = p.close() {
                tracing::error!(error = %e, "closing partition");
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// True once [`close`](Self::close) ran.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Applies retention (and compaction) to every topic now.
    ///
    /// # Errors
    /// The first error; other partitions are still processed.
    pub fn run_cleaner(&self) -> Result<()> {
        let now = now_ms();
        let mut first_err = None;
        for t in self.topics() {
            let c = t.config();
            for p in &t.partitions {
                let r = (|| {
                    if c.cleanup_policy.deletes() {
                        p.enforce_retention(now)?;
                    }
                    if c.cleanup_policy.compacts() {
                        p.compact(now)?;
                    }
                    Ok::<_, LogError>(())
                })();
                if let Err(e) = r {
                    tracing::error!(topic = %t.name, partition = p.index(), error = %e, "cleaner failed");
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn start_background(&self) {
        let mut threads = self.inner.threads.lock();
        if let Durability::Interval(every) = self.inner.config.durability {
            let weak = Arc::downgrade(&self.inner);
            threads.push(spawn_periodic("riffle-flusher", weak, every, |log| {
                for p in log.topics().iter().flat_map(|t| t.partitions.iter()) {
                    if let Err(e) = p.flush_if_dirty() {
                        tracing::error!(error = %e, "interval flush failed");
                    }
                }
            }));
        }
        {
            let weak = Arc::downgrade(&self.inner);
            threads.push(spawn_periodic("riffle-groups", weak, Duration::from_millis(50), |log| {
                log.groups().tick(Instant::now());
            }));
        }
        {
            let weak = Arc::downgrade(&self.inner);
            threads.push(spawn_periodic("riffle-txn-timeouts", weak, Duration::from_millis(500), |log| {
                log.abort_expired_transactions(now_ms());
            }));
        }
        if self.inner.config.background_cleaner {
            let weak = Arc::downgrade(&self.inner);
            let every = self.inner.config.retention_check_interval;
            threads.push(spawn_periodic("riffle-cleaner", weak, every, |log| {
                let _ = log.run_cleaner();
            }));
        }
    }
}

/// Tells background threads to stop; they sleep on it between runs.
#[derive(Debug, Default)]
struct StopSignal {
    stopped: Mutex<bool>,
    cv: Condvar,
}

impl StopSignal {
    fn stop(&self) {
        *self.stopped.lock() = true;
        self.cv.notify_all();
    }

    /// Sleeps up to `d`; returns true when stopped.
    fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut stopped = self.stopped.lock();
        while !*stopped && !self.cv.wait_until(&mut stopped, deadline).timed_out() {}
        *stopped
    }
}

impl Drop for LogInner {
    fn drop(&mut self) {
        // A log dropped without `close` still stops its threads (the next
        // open then recovers the active segments).
        self.stop.stop();
    }
}

/// Runs `f` every `every` until the log stops or is dropped. The thread only
/// holds the log while `f` runs.
fn spawn_periodic(
    name: &str,
    weak: Weak<LogInner>,
    every: Duration,
    f: impl Fn(&Log) + Send + 'static,
) -> JoinHandle<()> {
    let stop = weak.upgrade().map(|i| i.stop.clone()).unwrap_or_default();
    let spawn = std::thread::Builder::new().name(name.to_string()).spawn(move || {
        while !stop.sleep(every) {
            let Some(inner) = weak.upgrade() else { return };
            f(&Log { inner });
        }
    });
    match spawn {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, thread = name, "cannot start background thread");
            std::thread::spawn(|| {})
        }
    }
}

/// One partition's position for a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPartitionLag {
    /// The partition.
    pub partition: crate::topic::TopicPartition,
    /// The committed offset (the next offset the group will read).
    pub committed: i64,
    /// The partition's high watermark (`None` if the topic is gone).
    pub high_watermark: Option<i64>,
    /// `high_watermark - committed`.
    pub lag: Option<i64>,
}

/// Group offsets stored in the compacted `__consumer_offsets` topic; a key
/// always maps to the same partition, so its commits stay in order.
struct OffsetsTopic {
    topic: Arc<Topic>,
}

impl OffsetStorage for OffsetsTopic {
    fn append(&self, records: Vec<(bytes::Bytes, Option<bytes::Bytes>)>) -> Result<()> {
        let n = self.topic.partitions.len() as i32;
        let mut per_partition: BTreeMap<i32, Vec<Record>> = BTreeMap::new();
        for (key, value) in records {
            let p = partition_for_key(&key, n);
            per_partition.entry(p).or_default().push(Record { key: Some(key), value, ..Default::default() });
        }
        for (p, recs) in per_partition {
            self.topic.partitions[p as usize].append(&recs, &AppendOptions::default())?;
        }
        Ok(())
    }
}

fn replay_offsets(groups: &GroupCoordinator, topic: &Topic) -> Result<()> {
    for p in &topic.partitions {
        let mut offset = p.log_start_offset();
        let mut records = Vec::new();
        while offset < p.high_watermark() {
            let f = p.read(offset, 4 << 20)?;
            if f.is_empty() {
                break;
            }
            let recs = p.read_records(offset, 4 << 20)?;
            offset = f.batches().filter_map(|b| crate::batch::BatchHeader::parse(&b).ok()).map(|h| h.next_offset()).max().unwrap_or(offset + 1);
            records.extend(recs.into_iter().filter_map(|r| Some((r.key?, r.value))));
        }
        groups.load(records.into_iter())?;
    }
    Ok(())
}

fn create_topic_files(data_dir: &Path, name: &str, config: TopicConfig, durability: Durability) -> Result<Topic> {
    let dir = data_dir.join("topics").join(name);
    fs::create_dir_all(&dir).map_err(|e| LogError::io(&dir, e))?;
    let id = TopicId(rand::random());
    write_topic_meta(&dir, id, &config)?;
    let config = Arc::new(config);
    let partitions = (0..config.partitions)
        .map(|p| Partition::open(dir.join(p.to_string()), Arc::from(name), p, config.clone(), durability))
        .collect::<Result<Vec<_>>>()?;
    Ok(Topic { name: name.to_string(), id, config: RwLock::new(config), partitions, dir })
}

fn write_topic_meta(dir: &Path, id: TopicId, config: &TopicConfig) -> Result<()> {
    let mut s = format!("id={id}\n");
    for (k, v) in config.to_map() {
        s.push_str(&format!("{k}={v}\n"));
    }
    write_file_synced(&dir.join("topic.meta"), s.as_bytes())
}

fn load_topic(dir: &Path, name: &str, durability: Durability) -> Result<Topic> {
    let meta = dir.join("topic.meta");
    let text = fs::read_to_string(&meta).map_err(|e| LogError::io(&meta, e))?;
    let mut id = None;
    let mut config = TopicConfig::default();
    for (n, line) in text.lines().enumerate() {
        let Some((k, v)) = line.split_once('=') else { continue };
        if k == "id" {
            id = parse_topic_id(v);
        } else if let Err(e) = config.set(k, v) {
            return Err(LogError::io(
                &meta,
                std::io::Error::new(std::io::ErrorKind::InvalidData, format!("line {}: {e}", n + 1)),
            ));
        }
    }
    let id = id.ok_or_else(|| {
        LogError::io(&meta, std::io::Error::new(std::io::ErrorKind::InvalidData, "missing or malformed topic id"))
    })?;
    let config = Arc::new(config);
    let partitions = (0..config.partitions)
        .map(|p| Partition::open(dir.join(p.to_string()), Arc::from(name), p, config.clone(), durability))
        .collect::<Result<Vec<_>>>()?;
    Ok(Topic { name: name.to_string(), id, config: RwLock::new(config), partitions, dir: dir.to_path_buf() })
}

fn parse_topic_id(hex: &str) -> Option<TopicId> {
    if hex.len() != 32 {
        return None;
    }
    let mut id = [0u8; 16];
    for (i, b) in id.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(TopicId(id))
}

/// Reserves the next block of producer ids, durably, and returns it.
fn allocate_producer_ids(path: &Path) -> Result<(i64, i64)> {
    let start = match fs::read_to_string(path) {
        Ok(s) => s.trim().parse::<i64>().map_err(|_| {
            LogError::io(path, std::io::Error::new(std::io::ErrorKind::InvalidData, "not an integer"))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(LogError::io(path, e)),
    };
    let end = start + PRODUCER_ID_BLOCK;
    write_file_synced(path, end.to_string().as_bytes())?;
    Ok((start, end))
}

fn empty_trash(trash: &Path) {
    if let Ok(entries) = fs::read_dir(trash) {
        for e in entries.flatten() {
            if let Err(err) = fs::remove_dir_all(e.path()) {
                tracing::warn!(path = %e.path().display(), error = %err, "could not remove deleted topic data");
            }
        }
    }
}
