//! Produce/consume behaviour of the partitioned log: round trips across
//! segment rolls, fetch semantics, timestamp lookup, blocking and async
//! waits, limits, topic names, reopen, the batching producer and
//! idempotent appends.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;
use riffle_log::{
    decode_batch, partition_for_key, AppendOptions, BatchBuilder, BatchHeader, Compression, Log, LogConfig, LogError,
    Partition, Producer, ProducerConfig, ProducerFields, Record, StoredRecord, TimestampType, TopicConfig,
};

fn config() -> LogConfig {
    LogConfig { background_cleaner: false, ..Default::default() }
}

fn open(dir: &Path) -> Log {
    Log::open(dir, config()).expect("open log")
}

fn small_segments(partitions: i32, segment_bytes: u64) -> TopicConfig {
    TopicConfig { segment_bytes, retention_ms: None, ..TopicConfig::with_partitions(partitions) }
}

/// Reads every record of a partition from the log start, batch by batch.
fn read_all(p: &Partition) -> Vec<StoredRecord> {
    let mut out = Vec::new();
    let mut offset = p.log_start_offset();
    while offset < p.high_watermark() {
        let f = p.read(offset, 64 * 1024).expect("read");
        assert!(!f.is_empty(), "empty fetch at {offset} below hw {}", p.high_watermark());
        let mut next = offset;
        for b in f.batches() {
            let (h, recs) = decode_batch(&b).expect("decode");
            out.extend(recs.into_iter().filter(|r| r.offset >= offset));
            next = h.next_offset();
        }
        offset = next;
    }
    out
}

fn value_of(r: &StoredRecord) -> &[u8] {
    r.value.as_deref().expect("value")
}

#[test]
fn records_round_trip_across_segment_rolls() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("t", small_segments(1, 1024)).unwrap();
    let p = log.partition("t", 0).unwrap();
    let mut expected = Vec::new();
    for i in 0..200 {
        let n = 1 + i % 5;
        let recs: Vec<Record> = (0..n)
            .map(|j| Record::keyed(format!("k{i}-{j}"), format!("value-{i}-{j}")).with_timestamp(1_000 + i as i64))
            .collect();
        let info = p.append(&recs, &AppendOptions::default()).unwrap();
        assert_eq!(info.base_offset, expected.len() as i64);
        assert_eq!(info.last_offset, info.base_offset + n as i64 - 1);
        expected.extend(recs);
    }
    assert!(p.segment_count() > 5, "segment.bytes=1024 should roll many segments, got {}", p.segment_count());
    assert_eq!(p.high_watermark(), expected.len() as i64);
    let got = read_all(&p);
    assert_eq!(got.len(), expected.len());
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g.offset, i as i64);
        assert_eq!(g.key, e.key);
        assert_eq!(g.value, e.value);
        assert_eq!(Some(g.timestamp), e.timestamp);
    }
    // Reading from every single offset starts at exactly that record.
    for o in (0..expected.len() as i64).step_by(7) {
        let recs = p.read_records(o, 1).unwrap();
        assert_eq!(recs.first().map(|r| r.offset), Some(o));
    }
    log.close().unwrap();
}

#[test]
fn read_mid_batch_returns_the_batch_containing_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("t", TopicConfig::default()).unwrap();
    let p = log.partition("t", 0).unwrap();
    let five: Vec<Record> = (0..5).map(|i| Record::value(format!("a{i}"))).collect();
    p.append(&five, &AppendOptions::default()).unwrap();
    p.append(&[Record::value("b0"), Record::value("b1")], &AppendOptions::default()).unwrap();
    let f = p.read(2, 1 << 20).unwrap();
    let headers: Vec<BatchHeader> = f.batches().map(|b| BatchHeader::parse(&b).unwrap()).collect();
    assert_eq!(headers.iter().map(|h| h.base_offset).collect::<Vec<_>>(), vec![0, 5]);
    let recs = f.records(2).unwrap();
    assert_eq!(recs.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![2, 3, 4, 5, 6]);
    assert_eq!(value_of(&recs[0]), b"a2");
    // The last offset of the second batch.
    let f = p.read(6, 1 << 20).unwrap();
    assert_eq!(BatchHeader::parse(&f.bytes).unwrap().base_offset, 5);
    // At the high watermark: empty, not an error; past it: out of range.
    assert!(p.read(7, 1 << 20).unwrap().is_empty());
    assert!(matches!(p.read(8, 1 << 20), Err(LogError::OffsetOutOfRange { offset: 8, high_watermark: 7, .. })));
    assert!(matches!(p.read(-1, 1 << 20), Err(LogError::OffsetOutOfRange { .. })));
}

#[test]
fn read_with_tiny_max_bytes_still_returns_one_whole_batch() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("t", TopicConfig::default()).unwrap();
    let p = log.partition("t", 0).unwrap();
    let big: Vec<Record> = (0..10).map(|i| Record::value(vec![i as u8; 300])).collect();
    p.append(&big, &AppendOptions::default()).unwrap();
    p.append(&big, &AppendOptions::default()).unwrap();
    for max in [0, 1, 61, 500] {
        let f = p.read(3, max).unwrap();
        let batches: Vec<Bytes> = f.batches().collect();
        assert_eq!(batches.len(), 1, "max_bytes={max}");
        let h = BatchHeader::parse(&batches[0]).unwrap();
        assert_eq!(h.total_len(), f.bytes.len(), "exactly one whole batch");
        assert_eq!((h.base_offset, h.record_count), (0, 10));
        decode_batch(&batches[0]).unwrap();
    }
}

fn naive_offset_for_timestamp(all: &[(i64, i64)], ts: i64) -> Option<(i64, i64)> {
    all.iter().find(|&&(_, t)| t >= ts).copied()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn offset_for_timestamp_matches_a_naive_scan(
        batches in proptest::collection::vec(proptest::collection::vec(0i64..10_000, 1..12), 1..60),
        pad in 0usize..400,
        queries in proptest::collection::vec(-10i64..10_100, 1..30),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path());
        log.create_topic("t", small_segments(1, 2048)).unwrap();
        let p = log.partition("t", 0).unwrap();
        let mut all = Vec::new();
        for b in &batches {
            let recs: Vec<Record> = b.iter().map(|&ts| Record::value(vec![b'x'; pad]).with_timestamp(ts)).collect();
            let info = p.append(&recs, &AppendOptions::default()).unwrap();
            all.extend(b.iter().enumerate().map(|(i, &ts)| (info.base_offset + i as i64, ts)));
        }
        for q in queries.iter().copied().chain(all.iter().map(|&(_, t)| t)) {
            prop_assert_eq!(p.offset_for_timestamp(q).unwrap(), naive_offset_for_timestamp(&all, q), "ts {}", q);
        }
        // After a close and reopen (indexes loaded from files) the answers are the same.
        log.close().unwrap();
        drop(p);
        drop(log);
        let log = open(dir.path());
        let p = log.partition("t", 0).unwrap();
        for q in queries {
            prop_assert_eq!(p.offset_for_timestamp(q).unwrap(), naive_offset_for_timestamp(&all, q), "ts {} after reopen", q);
        }
        log.close().unwrap();
    }
}

#[test]
fn blocking_wait_for_wakes_when_another_thread_appends() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("t", TopicConfig::default()).unwrap();
    let p = log.partition("t", 0).unwrap();
    // Nothing arrives: times out and says so.
    let t0 = Instant::now();
    assert!(!p.wait_for(0, Duration::from_millis(100)));
    assert!(t0.elapsed() >= Duration::from_millis(90));

    let writer = {
        let p = p.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            p.append(&[Record::value("x")], &AppendOptions::default()).unwrap();
        })
    };
    let t0 = Instant::now();
    assert!(p.wait_for(0, Duration::from_secs(20)));
    let waited = t0.elapsed();
    assert!(waited < Duration::from_secs(5), "woke only after {waited:?}");
    assert_eq!(p.high_watermark(), 1);
    writer.join().unwrap();
    // Data already there: returns at once.
    assert!(p.wait_for(0, Duration::ZERO));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_wait_for_wakes_when_another_thread_appends() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("t", TopicConfig::default()).unwrap();
    let p = log.partition("t", 0).unwrap();
    let writer = {
        let p = p.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            p.append(&[Record::value("x")], &AppendOptions::default()).unwrap();
        })
    };
    let t0 = Instant::now();
    tokio::time::timeout(Duration::from_secs(20), p.wait_for_async(0)).await.expect("woken by the append");
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_eq!(p.high_watermark(), 1);
    writer.join().unwrap();
    // Not woken by nothing.
    assert!(tokio::time::timeout(Duration::from_millis(100), p.wait_for_async(1)).await.is_err());
}

#[test]
fn a_batch_over_max_message_bytes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("t", TopicConfig { max_message_bytes: 300, ..Default::default() }).unwrap();
    let p = log.partition("t", 0).unwrap();
    let err = p.append(&[Record::value(vec![0u8; 500])], &AppendOptions::default()).unwrap_err();
    match err {
        LogError::RecordTooLarge { topic, partition, size, max } => {
            assert_eq!((topic.as_str(), partition, max), ("t", 0, 300));
            assert!(size > 500);
        }
        other => panic!("expected RecordTooLarge, got {other:?}"),
    }
    assert_eq!(p.high_watermark(), 0, "nothing was written");
    p.append(&[Record::value(vec![0u8; 100])], &AppendOptions::default()).unwrap();
    assert_eq!(p.high_watermark(), 1);
    // The producer refuses a record that alone is too large at once.
    let producer = Producer::new(&log, ProducerConfig::default()).unwrap();
    assert!(matches!(producer.send("t", Record::value(vec![0u8; 500])), Err(LogError::RecordTooLarge { .. })));
    producer.flush().unwrap();
    assert_eq!(p.high_watermark(), 1);
}

#[test]
fn topic_names_are_validated_like_kafka() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    for bad in ["", ".", "..", "has space", "a/b", "ünï", &"x".repeat(250)] {
        assert!(
            matches!(log.create_topic(bad, TopicConfig::default()), Err(LogError::InvalidTopicName { .. })),
            "{bad:?} accepted"
        );
    }
    log.create_topic("metrics.v1", TopicConfig::default()).unwrap();
    assert!(matches!(
        log.create_topic("metrics_v1", TopicConfig::default()),
        Err(LogError::InvalidTopicName { reason, .. }) if reason.contains("metrics.v1")
    ));
    assert!(matches!(log.create_topic("metrics.v1", TopicConfig::default()), Err(LogError::TopicExists { .. })));
    log.create_topic(&"y".repeat(249), TopicConfig::default()).unwrap();
    assert!(matches!(log.create_topic("z", TopicConfig::with_partitions(0)), Err(LogError::InvalidConfig { .. })));
    assert!(matches!(log.partition("nope", 0), Err(LogError::UnknownTopic { .. })));
    assert!(matches!(log.partition("metrics.v1", 1), Err(LogError::UnknownPartition { partitions: 1, .. })));
}

#[test]
fn log_append_time_topics_stamp_the_append_time() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("t", TopicConfig { timestamp_type: TimestampType::LogAppendTime, ..Default::default() }).unwrap();
    let p = log.partition("t", 0).unwrap();
    let before = now_ms();
    let info = p
        .append(&[Record::value("a").with_timestamp(5), Record::value("b").with_timestamp(7)], &AppendOptions::default())
        .unwrap();
    let after = now_ms();
    let t = info.log_append_time.expect("LogAppendTime reported");
    assert!((before..=after).contains(&t));
    let recs = p.read_records(0, 1 << 20).unwrap();
    assert!(recs.iter().all(|r| r.timestamp == t), "{recs:?}");
    // CreateTime topics keep the producer's timestamps.
    log.create_topic("c", TopicConfig::default()).unwrap();
    let c = log.partition("c", 0).unwrap();
    assert_eq!(c.append(&[Record::value("a").with_timestamp(5)], &AppendOptions::default()).unwrap().log_append_time, None);
    assert_eq!(c.read_records(0, 1 << 20).unwrap()[0].timestamp, 5);
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[test]
fn data_and_topic_ids_survive_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (id, id2) = {
        let log = open(dir.path());
        let t = log.create_topic("t", small_segments(3, 1024)).unwrap();
        let t2 = log.create_topic("u.v", TopicConfig::default()).unwrap();
        for i in 0..90 {
            let p = log.partition("t", i % 3).unwrap();
            p.append(&[Record::keyed(format!("k{i}"), format!("v{i}"))], &AppendOptions::default()).unwrap();
        }
        log.close().unwrap();
        (t.id(), t2.id())
    };
    let log = open(dir.path());
    assert_eq!(log.topic("t").unwrap().id(), id);
    assert_eq!(log.topic("u.v").unwrap().id(), id2);
    assert_ne!(id, id2);
    assert_eq!(log.topic("t").unwrap().config().segment_bytes, 1024);
    for part in 0..3 {
        let p = log.partition("t", part).unwrap();
        assert_eq!(p.high_watermark(), 30);
        let recs = read_all(&p);
        let want: Vec<String> = (0..90).filter(|i| i % 3 == part).map(|i| format!("v{i}")).collect();
        let got: Vec<String> = recs.iter().map(|r| String::from_utf8(value_of(r).to_vec()).unwrap()).collect();
        assert_eq!(got, want);
        // Appends continue after the last offset.
        assert_eq!(p.append(&[Record::value("more")], &AppendOptions::default()).unwrap().base_offset, 30);
    }
    // The name collision rule still applies to reloaded topics.
    assert!(log.create_topic("u_v", TopicConfig::default()).is_err());
    log.close().unwrap();
}

#[test]
fn a_deleted_topic_can_be_recreated_empty() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let old = log.create_topic("t", TopicConfig::with_partitions(2)).unwrap();
    let p = log.partition("t", 0).unwrap();
    p.append(&[Record::value("old")], &AppendOptions::default()).unwrap();
    log.delete_topic("t").unwrap();
    assert!(matches!(log.topic("t"), Err(LogError::UnknownTopic { .. })));
    assert!(matches!(p.append(&[Record::value("x")], &AppendOptions::default()), Err(LogError::Closed)));
    // A waiter on a deleted partition does not hang.
    assert!(!p.wait_for(5, Duration::from_secs(10)));
    assert!(matches!(log.delete_topic("t"), Err(LogError::UnknownTopic { .. })));
    let new = log.create_topic("t", TopicConfig::with_partitions(1)).unwrap();
    assert_ne!(old.id(), new.id());
    let p = log.partition("t", 0).unwrap();
    assert_eq!(p.high_watermark(), 0);
    assert_eq!(p.append(&[Record::value("new")], &AppendOptions::default()).unwrap().base_offset, 0);
    log.close().unwrap();
    drop(log);
    let log = open(dir.path());
    let p = log.partition("t", 0).unwrap();
    assert_eq!(log.topic("t").unwrap().partitions().len(), 1);
    let recs = read_all(&p);
    assert_eq!(recs.len(), 1);
    assert_eq!(value_of(&recs[0]), b"new");
    log.close().unwrap();
}

#[test]
fn producer_puts_keyed_records_on_their_murmur2_partition() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("t", TopicConfig::with_partitions(5)).unwrap();
    let producer = Producer::new(&log, ProducerConfig::default()).unwrap();
    let futs: Vec<_> = (0..200)
        .map(|i| {
            let key = format!("key-{i}");
            (key.clone(), producer.send("t", Record::keyed(key, format!("v{i}"))).unwrap())
        })
        .collect();
    producer.flush().unwrap();
    let mut used = BTreeSet::new();
    for (key, fut) in futs {
        let meta = fut.wait().unwrap();
        assert_eq!(meta.partition, partition_for_key(key.as_bytes(), 5), "{key}");
        used.insert(meta.partition);
        let p = log.partition("t", meta.partition).unwrap();
        let r = &p.read_records(meta.offset, 1).unwrap()[0];
        assert_eq!(r.offset, meta.offset);
        assert_eq!(r.key.as_deref(), Some(key.as_bytes()));
    }
    assert_eq!(used.len(), 5);
}

#[test]
fn producer_spreads_keyless_records_and_futures_give_their_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("t", TopicConfig::with_partitions(4)).unwrap();
    let producer = Producer::new(&log, ProducerConfig { batch_size: 1024, ..Default::default() }).unwrap();
    let mut futs = Vec::new();
    for i in 0..400 {
        futs.push((i, producer.send("t", Record::value(format!("value-{i:04}-{}", "p".repeat(40)))).unwrap()));
        if i % 20 == 19 {
            producer.flush().unwrap();
        }
    }
    producer.flush().unwrap();
    let mut per_partition = [0usize; 4];
    let mut seen = BTreeSet::new();
    for (i, fut) in futs {
        let meta = fut.wait().unwrap();
        per_partition[meta.partition as usize] += 1;
        assert!(seen.insert((meta.partition, meta.offset)), "two records at {meta:?}");
        let p = log.partition("t", meta.partition).unwrap();
        let r = &p.read_records(meta.offset, 1).unwrap()[0];
        assert!(value_of(r).starts_with(format!("value-{i:04}").as_bytes()));
    }
    let used = per_partition.iter().filter(|&&n| n > 0).count();
    assert!(used >= 3, "keyless records should spread over partitions: {per_partition:?}");
    let total: i64 = (0..4).map(|i| log.partition("t", i).unwrap().high_watermark()).sum();
    assert_eq!(total, 400);
}

#[tokio::test]
async fn producer_delivery_futures_can_be_awaited() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("t", TopicConfig::default()).unwrap();
    let producer = Producer::new(&log, ProducerConfig { linger: Duration::from_millis(5), ..Default::default() }).unwrap();
    let a = producer.send("t", Record::value("a")).unwrap();
    let b = producer.send("t", Record::value("b")).unwrap();
    // No flush: the linger thread appends the batch.
    let (a, b) = tokio::time::timeout(Duration::from_secs(10), async { (a.await, b.await) }).await.unwrap();
    assert_eq!((a.unwrap().offset, b.unwrap().offset), (0, 1));
}

fn idempotent_batch(pid: i64, epoch: i16, seq: i32, values: &[&str]) -> Vec<u8> {
    let mut b = BatchBuilder::new(Compression::None);
    b.set_producer(ProducerFields { producer_id: pid, producer_epoch: epoch, base_sequence: seq, transactional: false });
    for v in values {
        b.push(&Record::value(v.to_string()), 1_000);
    }
    b.build(0).unwrap().to_vec()
}

#[test]
fn a_retried_idempotent_batch_is_written_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("t", TopicConfig::default()).unwrap();
    let p = log.partition("t", 0).unwrap();
    let (pid, epoch) = log.init_producer_id().unwrap();
    p.append(&[Record::value("other")], &AppendOptions::default()).unwrap();
    let batch = idempotent_batch(pid, epoch, 0, &["a", "b", "c"]);
    let first = p.append_batch(batch.clone()).unwrap();
    assert_eq!((first.base_offset, first.last_offset, first.duplicate), (1, 3, false));
    let again = p.append_batch(batch).unwrap();
    assert_eq!((again.base_offset, again.last_offset, again.duplicate), (1, 3, true));
    assert_eq!(p.high_watermark(), 4, "the retry wrote nothing");
    let next = p.append_batch(idempotent_batch(pid, epoch, 3, &["d"])).unwrap();
    assert_eq!((next.base_offset, next.duplicate), (4, false));
    let values: Vec<Vec<u8>> = read_all(&p).iter().map(|r| value_of(r).to_vec()).collect();
    assert_eq!(values, vec![b"other".to_vec(), b"a".to_vec(), b"b".to_vec(), b"c".to_vec(), b"d".to_vec()]);
}

#[test]
fn a_sequence_gap_is_out_of_order_and_an_old_epoch_is_fenced() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("t", TopicConfig::default()).unwrap();
    let p = log.partition("t", 0).unwrap();
    let (pid, _) = log.init_producer_id().unwrap();
    // A new producer must start at sequence 0.
    assert!(matches!(
        p.append_batch(idempotent_batch(pid, 0, 4, &["x"])),
        Err(LogError::OutOfOrderSequence { expected: 0, got: 4, .. })
    ));
    p.append_batch(idempotent_batch(pid, 0, 0, &["a", "b"])).unwrap();
    match p.append_batch(idempotent_batch(pid, 0, 5, &["gap"])) {
        Err(LogError::OutOfOrderSequence { producer_id, expected, got, .. }) => {
            assert_eq!((producer_id, expected, got), (pid, 2, 5));
        }
        other => panic!("expected OutOfOrderSequence, got {other:?}"),
    }
    assert_eq!(p.high_watermark(), 2);
    // A bumped epoch starts over at 0 and fences the old epoch.
    p.append_batch(idempotent_batch(pid, 1, 0, &["e1"])).unwrap();
    match p.append_batch(idempotent_batch(pid, 0, 2, &["stale"])) {
        Err(LogError::ProducerFenced { producer_id, epoch, current_epoch }) => {
            assert_eq!((producer_id, epoch, current_epoch), (pid, 0, 1));
        }
        other => panic!("expected ProducerFenced, got {other:?}"),
    }
    assert_eq!(p.high_watermark(), 3);
    // Producer ids are unique.
    assert_ne!(log.init_producer_id().unwrap().0, pid);
}

#[test]
fn malformed_raw_batches_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("t", TopicConfig::default()).unwrap();
    let p = log.partition("t", 0).unwrap();
    let mut bad = idempotent_batch(-1, -1, -1, &["a", "b"]);
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    assert!(matches!(p.append_batch(bad), Err(LogError::InvalidBatch { .. })));
    let mut long = idempotent_batch(-1, -1, -1, &["a"]);
    long.push(0);
    assert!(matches!(p.append_batch(long), Err(LogError::InvalidBatch { .. })));
    assert!(matches!(p.append_batch(vec![1, 2, 3]), Err(LogError::InvalidBatch { .. })));
    assert!(matches!(p.append(&[], &AppendOptions::default()), Err(LogError::InvalidBatch { .. })));
    assert_eq!(p.high_watermark(), 0);
}

#[test]
fn producer_state_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let batch;
    let pid;
    {
        let log = open(dir.path());
        log.create_topic("t", small_segments(1, 1024)).unwrap();
        let p = log.partition("t", 0).unwrap();
        pid = log.init_producer_id().unwrap().0;
        let mut seq = 0;
        let mut last = Vec::new();
        // Enough batches to roll segments, so state is rebuilt from several.
        for i in 0..30 {
            last = idempotent_batch(pid, 0, seq, &["x", &format!("value-{i}-{}", "p".repeat(40))]);
            p.append_batch(last.clone()).unwrap();
            seq += 2;
        }
        assert!(p.segment_count() > 1);
        batch = last;
        log.close().unwrap();
    }
    for clean in [true, false] {
        let log = open(dir.path());
        let p = log.partition("t", 0).unwrap();
        let hw = p.high_watermark();
        let again = p.append_batch(batch.clone()).unwrap();
        assert!(again.duplicate, "clean={clean}");
        assert_eq!((again.base_offset, again.last_offset), (58, 59));
        assert_eq!(p.high_watermark(), hw);
        assert!(matches!(
            p.append_batch(idempotent_batch(pid, 0, 99, &["gap"])),
            Err(LogError::OutOfOrderSequence { expected: 60, .. })
        ));
        // A fresh producer id is not handed out twice across reopen.
        assert!(log.init_producer_id().unwrap().0 > pid);
        log.close().unwrap();
        drop(p);
        drop(log);
        if clean {
            std::fs::remove_file(dir.path().join("topics/t/0/clean-shutdown")).unwrap();
        }
    }
}

fn check_dense(p: &Partition, expected: usize) -> Vec<StoredRecord> {
    let recs = read_all(p);
    assert_eq!(p.high_watermark(), expected as i64);
    assert_eq!(recs.len(), expected);
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r.offset, i as i64, "offsets are dense");
    }
    recs
}

#[test]
fn concurrent_appends_to_many_partitions_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("t", small_segments(4, 4096)).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let p = log.partition("t", t).unwrap();
            std::thread::spawn(move || {
                for i in 0..300 {
                    let info = p
                        .append(&[Record::value(format!("{t}-{i}")), Record::value(format!("{t}-{i}b"))], &AppendOptions::default())
                        .unwrap();
                    assert_eq!(info.base_offset, 2 * i);
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|h| h.join().unwrap());
    for t in 0..4 {
        let recs = check_dense(&log.partition("t", t).unwrap(), 600);
        assert!(recs.iter().all(|r| value_of(r).starts_with(format!("{t}-").as_bytes())));
    }
}

#[test]
fn concurrent_appends_to_one_partition_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("t", small_segments(1, 4096)).unwrap();
    let p = log.partition("t", 0).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let p = p.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                for i in 0..300 {
                    let codec = [Compression::None, Compression::Lz4][i % 2];
                    let opts = AppendOptions { compression: codec, ..Default::default() };
                    let info = p.append(&[Record::value(format!("{t}-{i}"))], &opts).unwrap();
                    got.push(info.base_offset);
                }
                got
            })
        })
        .collect();
    let acked: Vec<Vec<i64>> = threads.into_iter().map(|h| h.join().unwrap()).collect();
    let recs = check_dense(&p, 1200);
    let mut all = BTreeSet::new();
    for (t, offsets) in acked.iter().enumerate() {
        assert!(offsets.windows(2).all(|w| w[0] < w[1]), "one thread's appends are ordered");
        for (i, &o) in offsets.iter().enumerate() {
            assert!(all.insert(o));
            assert_eq!(value_of(&recs[o as usize]), format!("{t}-{i}").as_bytes());
        }
    }
    assert!(p.segment_count() > 1);
}
