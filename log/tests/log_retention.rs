//! Retention deletes only whole, sealed, expired segments from the front
//! of a partition, by `retention.ms` and `retention.bytes`.

use std::fs;
use std::path::Path;

use proptest::prelude::*;
use riffle_log::{AppendOptions, Log, LogConfig, LogError, Partition, Record, TopicConfig};

const NOW: i64 = 10_000_000;

fn open(dir: &Path) -> Log {
    Log::open(dir, LogConfig { background_cleaner: false, ..Default::default() }).expect("open log")
}

/// `(base offset, file size)` of every segment on disk, in order.
fn segments_on_disk(dir: &Path) -> Vec<(i64, u64)> {
    let mut v: Vec<(i64, u64)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .map(|p| (p.file_stem().unwrap().to_str().unwrap().parse().unwrap(), fs::metadata(&p).unwrap().len()))
        .collect();
    v.sort();
    v
}

/// How many leading segments Kafka's rules delete, applied in Kafka's
/// order: first while the partition without the oldest segment is still at
/// least `retention.bytes`, then, from what is left, a prefix of sealed
/// segments whose newest record is older than `now - retention.ms`.
fn expected_deleted(segs: &[(i64, u64, i64)], retention_ms: Option<i64>, retention_bytes: Option<u64>) -> usize {
    let sealed = &segs[..segs.len() - 1];
    let mut deleted = 0;
    if let Some(limit) = retention_bytes {
        let mut total: u64 = segs.iter().map(|s| s.1).sum();
        for &(_, size, _) in sealed {
            if total - size < limit {
                break;
            }
            total -= size;
            deleted += 1;
        }
    }
    if let Some(ms) = retention_ms {
        for &(_, _, max_ts) in &sealed[deleted..] {
            if NOW - max_ts <= ms {
                break;
            }
            deleted += 1;
        }
    }
    deleted
}

fn assert_reads_start_at(p: &Partition, start: i64) {
    assert_eq!(p.log_start_offset(), start);
    if start > 0 {
        for below in [0, start - 1] {
            match p.read(below, 1 << 20) {
                Err(LogError::OffsetOutOfRange { offset, log_start, .. }) => {
                    assert_eq!((offset, log_start), (below, start));
                }
                other => panic!("read below log start {start} at {below} gave {other:?}"),
            }
        }
    }
    let recs = p.read_records(start, 1).unwrap();
    assert_eq!(recs[0].offset, start);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn retention_removes_exactly_the_expired_prefix_of_sealed_segments(
        segs in proptest::collection::vec((1usize..4, 520usize..900, 0i64..NOW), 1..16),
        retention_ms in proptest::option::of(0i64..NOW),
        bytes_fraction in proptest::option::of(0.0f64..1.2),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path());
        // Every batch is over half of segment.bytes: each append rolls a new segment.
        let config = TopicConfig { segment_bytes: 1024, retention_ms: None, retention_bytes: None, ..Default::default() };
        log.create_topic("t", config).unwrap();
        let p = log.partition("t", 0).unwrap();
        let mut bases = Vec::new();
        for (i, &(n, len, ts)) in segs.iter().enumerate() {
            // Timestamps up to `ts`, out of order: the segment's max is `ts`.
            let recs: Vec<Record> = (0..n)
                .map(|j| Record::keyed(format!("k{i}"), vec![b'v'; len]).with_timestamp(ts - (j as i64 * 7919) % (ts + 1)))
                .collect();
            let info = p.append(&recs, &AppendOptions::default()).unwrap();
            bases.push(info.base_offset);
        }
        let pdir = dir.path().join("topics/t/0");
        let disk = segments_on_disk(&pdir);
        prop_assert_eq!(disk.iter().map(|d| d.0).collect::<Vec<_>>(), bases.clone());
        let model: Vec<(i64, u64, i64)> = disk.iter().zip(&segs).map(|(&(b, s), &(_, _, ts))| (b, s, ts)).collect();
        let total: u64 = disk.iter().map(|d| d.1).sum();
        let retention_bytes = bytes_fraction.map(|f| (total as f64 * f) as u64);
        let deleted = expected_deleted(&model, retention_ms, retention_bytes);

        log.alter_topic_config("t", "retention.ms", &retention_ms.unwrap_or(-1).to_string()).unwrap();
        log.alter_topic_config("t", "retention.bytes", &retention_bytes.map_or(-1, |b| b as i64).to_string()).unwrap();
        let removed = p.enforce_retention(NOW).unwrap();
        prop_assert_eq!(removed, deleted);
        let remaining = segments_on_disk(&pdir);
        prop_assert_eq!(&remaining[..], &disk[deleted..]);
        prop_assert!(!remaining.is_empty(), "the active segment is never removed");
        prop_assert_eq!(p.segment_count(), remaining.len());
        prop_assert_eq!(p.high_watermark(), bases.last().unwrap() + segs.last().unwrap().0 as i64);
        assert_reads_start_at(&p, bases[deleted]);
        // Index files of deleted segments are gone too.
        for &(b, _) in &disk[..deleted] {
            let idx = pdir.join(format!("{b:020}.index"));
            prop_assert!(!idx.exists());
        }
        // Idempotent: a second pass at the same time removes nothing more.
        prop_assert_eq!(p.enforce_retention(NOW).unwrap(), 0);
        // The log start survives reopen, and appends continue.
        log.close().unwrap();
        drop(p);
        drop(log);
        let log = open(dir.path());
        let p = log.partition("t", 0).unwrap();
        assert_reads_start_at(&p, bases[deleted]);
        let hw = p.high_watermark();
        prop_assert_eq!(p.append(&[Record::keyed("k", "v")], &AppendOptions::default()).unwrap().base_offset, hw);
        log.close().unwrap();
    }
}

#[test]
fn topic_configs_that_could_not_be_reloaded_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let bad = [
        TopicConfig { segment_bytes: 1, ..Default::default() },
        TopicConfig { max_message_bytes: 10, ..Default::default() },
        TopicConfig { segment_ms: Some(0), ..Default::default() },
    ];
    for c in bad {
        assert!(matches!(log.create_topic("t", c.clone()), Err(LogError::InvalidConfig { .. })), "{c:?} accepted");
        assert!(log.topic("t").is_err());
    }
    log.create_topic("t", TopicConfig { segment_bytes: 1024, ..Default::default() }).unwrap();
    log.close().unwrap();
    drop(log);
    // The data directory still opens.
    let log = open(dir.path());
    assert_eq!(log.topic("t").unwrap().config().segment_bytes, 1024);
    log.close().unwrap();
}

#[test]
fn an_expired_active_segment_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("t", TopicConfig { retention_ms: Some(1), retention_bytes: Some(0), ..Default::default() })
        .unwrap();
    let p = log.partition("t", 0).unwrap();
    p.append(&[Record::value("old").with_timestamp(1)], &AppendOptions::default()).unwrap();
    assert_eq!(p.enforce_retention(NOW).unwrap(), 0);
    assert_eq!(p.log_start_offset(), 0);
    assert_eq!(p.read_records(0, 1 << 20).unwrap().len(), 1);
}

#[test]
fn the_cleaner_applies_retention_to_delete_topics_only() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let old = |i: i64| Record::keyed(format!("k{i}"), vec![b'v'; 600]).with_timestamp(1_000 + i);
    for (name, policy) in [("del", "delete"), ("cmp", "compact")] {
        log.create_topic(name, TopicConfig { segment_bytes: 1024, retention_ms: Some(60_000), ..Default::default() })
            .unwrap();
        log.alter_topic_config(name, "cleanup.policy", policy).unwrap();
        let p = log.partition(name, 0).unwrap();
        for i in 0..5 {
            p.append(&[old(i)], &AppendOptions::default()).unwrap();
        }
    }
    log.run_cleaner().unwrap();
    let del = log.partition("del", 0).unwrap();
    assert_eq!((del.log_start_offset(), del.segment_count()), (4, 1));
    let cmp = log.partition("cmp", 0).unwrap();
    assert_eq!((cmp.log_start_offset(), cmp.segment_count()), (0, 5));
}
