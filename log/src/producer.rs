//! The batched, idempotent [`Producer`].
//!
//! ```text
//! send(record) ──► partitioner ──► accumulator(topic, partition) ──► Partition::append
//!                  murmur2 / sticky   one open batch; appended when full,      (serialized per
//!                                      after `linger`, or on flush()           partition)
//! ```
//!
//! Every `send` returns a [`DeliveryFuture`]: await it (or `wait()` for it)
//! to learn the record's offset. All records of a batch share one completion
//! state, so a future costs one reference count, not an allocation.
//!
//! With `idempotent` (the default, as in Kafka 3+) the producer takes a
//! producer id from the log and numbers its batches per partition, so a
//! retried batch is never written twice.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};

use crate::batch::{BatchBuilder, ProducerFields, NO_PRODUCER_ID, NO_SEQUENCE};
use crate::compression::Compression;
use crate::error::{LogError, Result};
use crate::log::Log;
use crate::partition::{now_ms, Partition};
use crate::partitioner::partition_for_key;
use crate::record::Record;

/// Producer settings (Kafka names in the docs).
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    /// `batch.size`: a partition's open batch is appended once it reaches this
    /// many (uncompressed) bytes.
    pub batch_size: usize,
    /// `linger.ms`: an open batch is appended at the latest this long after
    /// its first record.
    pub linger: Duration,
    /// `compression.type`.
    pub compression: Compression,
    /// `enable.idempotence`.
    pub idempotent: bool,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            batch_size: 64 * 1024,
            linger: Duration::from_millis(5),
            compression: Compression::None,
            idempotent: true,
        }
    }
}

/// Where a record was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// Topic.
    pub topic: Arc<str>,
    /// Partition.
    pub partition: i32,
    /// Offset of the record.
    pub offset: i64,
    /// Timestamp stored (the LogAppendTime for such topics).
    pub timestamp: i64,
}

/// The outcome a delivery future resolves to. The error is shared by all
/// records of the failed batch.
pub type DeliveryResult = std::result::Result<RecordMetadata, Arc<LogError>>;

#[derive(Debug, Default)]
struct BatchState {
    result: Option<std::result::Result<(i64, Option<i64>), Arc<LogError>>>,
    acked_at: Option<Instant>,
    wakers: Vec<Waker>,
}

/// Completion state shared by the records of one batch.
#[derive(Debug, Default)]
struct BatchShared {
    state: Mutex<BatchState>,
    cv: Condvar,
}

impl BatchShared {
    fn complete(&self, r: std::result::Result<(i64, Option<i64>), Arc<LogError>>) {
        let mut s = self.state.lock();
        s.result = Some(r);
        s.acked_at = Some(Instant::now());
        for w in s.wakers.drain(..) {
            w.wake();
        }
        drop(s);
        self.cv.notify_all();
    }
}

/// Resolves to where one sent record was stored.
#[derive(Debug)]
pub struct DeliveryFuture {
    shared: Arc<BatchShared>,
    index: i64,
    timestamp: i64,
    topic: Arc<str>,
    partition: i32,
}

impl DeliveryFuture {
    fn output(&self, r: &std::result::Result<(i64, Option<i64>), Arc<LogError>>) -> DeliveryResult {
        r.clone().map(|(base, lat)| RecordMetadata {
            topic: self.topic.clone(),
            partition: self.partition,
            offset: base + self.index,
            timestamp: lat.unwrap_or(self.timestamp),
        })
    }

    /// Blocks until the record's batch is appended (or failed).
    pub fn wait(self) -> DeliveryResult {
        let mut s = self.shared.state.lock();
        loop {
            if let Some(r) = &s.result {
                return self.output(r);
            }
            self.shared.cv.wait(&mut s);
        }
    }

    /// When the batch was acknowledged, if it has been (for latency figures).
    pub fn acked_at(&self) -> Option<Instant> {
        self.shared.state.lock().acked_at
    }

    /// True once the outcome is known.
    pub fn is_done(&self) -> bool {
        self.shared.state.lock().result.is_some()
    }
}

impl Future for DeliveryFuture {
    type Output = DeliveryResult;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<DeliveryResult> {
        let mut s = self.shared.state.lock();
        match &s.result {
            Some(r) => Poll::Ready(self.output(r)),
            None => {
                if !s.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    s.wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

#[derive(Debug)]
struct Accumulator {
    partition: Arc<Partition>,
    open: Option<OpenBatch>,
    next_sequence: i32,
}

#[derive(Debug)]
struct OpenBatch {
    builder: BatchBuilder,
    shared: Arc<BatchShared>,
    started: Instant,
}

#[derive(Debug)]
struct TopicState {
    name: Arc<str>,
    accumulators: Vec<Mutex<Accumulator>>,
    sticky: AtomicUsize,
}

#[derive(Debug)]
struct ProducerInner {
    log: Log,
    config: ProducerConfig,
    producer: Option<(i64, i16)>,
    topics: RwLock<HashMap<String, Arc<TopicState>>>,
    closed: AtomicBool,
}

/// A batching producer into the embedded log. Cheap to clone; clones share
/// batches. Safe to use from many threads.
///
/// # Examples
/// ```
/// use riffle_log::{Log, LogConfig, TopicConfig, Record, Producer, ProducerConfig};
/// let dir = tempfile::tempdir().unwrap();
/// let log = Log::open(dir.path(), LogConfig::default()).unwrap();
/// log.create_topic("orders", TopicConfig::with_partitions(2)).unwrap();
/// let producer = Producer::new(&log, ProducerConfig::default()).unwrap();
/// let delivery = producer.send("orders", Record::keyed("o-1", "{\"amount\": 3}")).unwrap();
/// producer.flush().unwrap();
/// let meta = delivery.wait().unwrap();
/// assert_eq!(meta.offset, 0);
/// ```
#[derive(Debug, Clone)]
pub struct Producer {
    inner: Arc<ProducerInner>,
}

impl Producer {
    /// Creates a producer (taking a producer id when idempotent) and starts
    /// its linger thread.
    ///
    /// # Errors
    /// I/O errors reserving a producer id.
    pub fn new(log: &Log, config: ProducerConfig) -> Result<Self> {
        let producer = if config.idempotent { Some(log.init_producer_id()?) } else { None };
        let inner = Arc::new(ProducerInner {
            log: log.clone(),
            config,
            producer,
            topics: RwLock::new(HashMap::new()),
            closed: AtomicBool::new(false),
        });
        spawn_linger(Arc::downgrade(&inner));
        Ok(Producer { inner })
    }

    /// The producer id and epoch, when idempotent.
    pub fn producer_id(&self) -> Option<(i64, i16)> {
        self.inner.producer
    }

    fn topic_state(&self, topic: &str) -> Result<Arc<TopicState>> {
        if let Some(t) = self.inner.topics.read().get(topic) {
            return Ok(t.clone());
        }
        let t = self.inner.log.topic(topic)?;
        let state = Arc::new(TopicState {
            name: Arc::from(topic),
            accumulators: t
                .partitions()
                .iter()
                .map(|p| Mutex::new(Accumulator { partition: p.clone(), open: None, next_sequence: 0 }))
                .collect(),
            sticky: AtomicUsize::new(rand::random::<u16>() as usize),
        });
        self.inner.topics.write().insert(topic.to_string(), state.clone());
        Ok(state)
    }

    /// Sends a record, choosing the partition like Kafka: by murmur2 of the
    /// key, or sticky (one partition per batch) without a key.
    ///
    /// # Errors
    /// [`LogError::UnknownTopic`]; [`LogError::RecordTooLarge`] for an
    /// uncompressed record that alone exceeds the topic's `max.message.bytes`
    /// (compressed batches are checked when appended); errors of a batch
    /// that had to be appended to make room. Errors of the batch this record
    /// joins arrive through the returned future.
    pub fn send(&self, topic: &str, record: Record) -> Result<DeliveryFuture> {
        self.send_inner(topic, None, record)
    }

    /// Sends a record to an explicit partition.
    ///
    /// # Errors
    /// As [`send`](Self::send), plus [`LogError::UnknownPartition`].
    pub fn send_to(&self, topic: &str, partition: i32, record: Record) -> Result<DeliveryFuture> {
        self.send_inner(topic, Some(partition), record)
    }

    fn send_inner(&self, topic: &str, partition: Option<i32>, record: Record) -> Result<DeliveryFuture> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(LogError::Closed);
        }
        let t = self.topic_state(topic)?;
        let n = t.accumulators.len() as i32;
        let p = match (partition, &record.key) {
            (Some(p), _) if (0..n).contains(&p) => p,
            (Some(p), _) => {
                return Err(LogError::UnknownPartition { topic: topic.into(), partition: p, partitions: n })
            }
            (None, Some(k)) => partition_for_key(k, n),
            (None, None) => (t.sticky.load(Ordering::Relaxed) % n as usize) as i32,
        };
        let now = now_ms();
        let timestamp = record.timestamp.unwrap_or(now);
        let mut acc = t.accumulators[p as usize].lock();
        let config = acc.partition.config();
        acc.partition.check_keys_with(&config, record.key.is_some())?;
        let max = config.max_message_bytes;
        let alone = crate::batch::BATCH_HEADER_LEN + crate::record::encoded_len(&record, 0, 0);
        if self.inner.config.compression == Compression::None && alone > max {
            return Err(LogError::RecordTooLarge { topic: topic.into(), partition: p, size: alone, max });
        }
        let size = acc.open.as_ref().map_or(0, |o| o.builder.size_of(&record, now));
        if let Some(open) = &acc.open {
            if open.builder.size() + size > self.inner.config.batch_size.min(max) {
                self.append_open(&t, &mut acc);
            }
        }
        let open = acc.open.get_or_insert_with(|| OpenBatch {
            builder: BatchBuilder::with_capacity(self.inner.config.compression, self.inner.config.batch_size + 1024),
            shared: Arc::new(BatchShared::default()),
            started: Instant::now(),
        });
        let index = open.builder.len() as i64;
        open.builder.push(&record, now);
        let fut =
            DeliveryFuture { shared: open.shared.clone(), index, timestamp, topic: t.name.clone(), partition: p };
        if open.builder.size() >= self.inner.config.batch_size {
            self.append_open(&t, &mut acc);
        }
        Ok(fut)
    }

    /// Appends the open batch of `acc` (called with its lock held, so one
    /// partition's batches are appended in sequence order).
    fn append_open(&self, t: &TopicState, acc: &mut Accumulator) {
        let Some(open) = acc.open.take() else { return };
        if t.accumulators.len() > 1 {
            t.sticky.fetch_add(1, Ordering::Relaxed);
        }
        let mut builder = open.builder;
        let count = builder.len() as i32;
        let fields = match self.inner.producer {
            Some((id, epoch)) => ProducerFields {
                producer_id: id,
                producer_epoch: epoch,
                base_sequence: acc.next_sequence,
                transactional: false,
            },
            None => ProducerFields { producer_id: NO_PRODUCER_ID, producer_epoch: -1, base_sequence: NO_SEQUENCE, transactional: false },
        };
        builder.set_producer(fields);
        let result = builder
            .build(0)
            .map_err(|e| LogError::Internal(format!("compression failed: {e}")))
            .and_then(|bytes| acc.partition.append_trusted(&bytes));
        match result {
            Ok(info) => {
                if fields.producer_id != NO_PRODUCER_ID {
                    acc.next_sequence = acc.next_sequence.wrapping_add(count) & i32::MAX;
                }
                open.shared.complete(Ok((info.base_offset, info.log_append_time)));
            }
            Err(e) => open.shared.complete(Err(Arc::new(e))),
        }
    }

    /// Appends every open batch now and returns when all are acknowledged.
    ///
    /// # Errors
    /// Never fails itself; per-record errors arrive through the futures.
    pub fn flush(&self) -> Result<()> {
        self.drain(|_| true);
        Ok(())
    }

    fn drain(&self, due: impl Fn(&OpenBatch) -> bool) {
        let topics: Vec<_> = self.inner.topics.read().values().cloned().collect();
        for t in topics {
            for acc in &t.accumulators {
                let mut acc = acc.lock();
                if acc.open.as_ref().is_some_and(&due) {
                    self.append_open(&t, &mut acc);
                }
            }
        }
    }

    /// Flushes and stops accepting records.
    ///
    /// # Errors
    /// As [`flush`](Self::flush).
    pub fn close(&self) -> Result<()> {
        self.flush()?;
        self.inner.closed.store(true, Ordering::Release);
        Ok(())
    }
}

fn spawn_linger(weak: Weak<ProducerInner>) {
    let tick = weak.upgrade().map_or(Duration::from_millis(5), |i| (i.config.linger / 2).max(Duration::from_millis(1)));
    let r = std::thread::Builder::new().name("riffle-producer-linger".into()).spawn(move || loop {
        std::thread::sleep(tick);
        let Some(inner) = weak.upgrade() else { return };
        if inner.closed.load(Ordering::Acquire) || inner.log.is_closed() {
            return;
        }
        let linger = inner.config.linger;
        Producer { inner }.drain(|o| o.started.elapsed() >= linger);
    });
    if let Err(e) = r {
        tracing::error!(error = %e, "cannot start the producer linger thread; batches append when full or on flush");
    }
}
