//! Log compaction keeps the latest record per key at its original offset,
//! drops superseded values and old tombstones, leaves young segments and the
//! active segment alone, and runs alongside appends and reads.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use proptest::prelude::*;
use riffle_log::{
    decode_batch, AppendOptions, CleanupPolicy, Compression, Log, LogConfig, Partition, Record, StoredRecord,
    TopicConfig,
};

const NOW: i64 = 1_000_000_000;
const DELETE_RETENTION: i64 = 100_000;

fn open(dir: &Path) -> Log {
    Log::open(dir, LogConfig { background_cleaner: false, ..Default::default() }).expect("open log")
}

fn compacted_config(min_lag: i64) -> TopicConfig {
    TopicConfig {
        cleanup_policy: CleanupPolicy::Compact,
        segment_bytes: 1024,
        retention_ms: None,
        delete_retention_ms: DELETE_RETENTION,
        min_compaction_lag_ms: min_lag,
        ..TopicConfig::default()
    }
}

/// Every record from the log start, checking offsets strictly increase.
fn read_all(p: &Partition) -> Vec<StoredRecord> {
    let mut out: Vec<StoredRecord> = Vec::new();
    let mut offset = p.log_start_offset();
    while offset < p.high_watermark() {
        let f = p.read(offset, 8 * 1024).expect("read");
        assert!(!f.is_empty(), "empty read at {offset} < hw {}", p.high_watermark());
        for b in f.batches() {
            let (h, recs) = decode_batch(&b).expect("decode");
            for r in recs.into_iter().filter(|r| r.offset >= offset) {
                if let Some(last) = out.last() {
                    assert!(r.offset > last.offset, "offsets strictly increase: {} then {}", last.offset, r.offset);
                }
                out.push(r);
            }
            offset = h.next_offset();
        }
    }
    out
}

/// The first record at or after `offset`, reading like a consumer: a fetch
/// may return only a batch whose remaining records were compacted away, so
/// continue from its end.
fn first_record_from(p: &Partition, mut offset: i64) -> Option<i64> {
    while offset < p.high_watermark() {
        let f = p.read(offset, 1).expect("read");
        let batches: Vec<_> = f.batches().collect();
        assert_eq!(batches.len(), 1, "one whole batch even with max_bytes = 1");
        let (h, recs) = decode_batch(&batches[0]).expect("decode");
        assert!(h.last_offset() >= offset, "the batch holds or follows the offset");
        if let Some(r) = recs.iter().find(|r| r.offset >= offset) {
            return Some(r.offset);
        }
        offset = h.next_offset();
    }
    None
}

/// A filler record larger than `segment.bytes`: it rolls a new active
/// segment, so everything written before it is sealed.
fn roll(p: &Partition) -> i64 {
    let before = p.segment_count();
    let info = p.append(&[Record::keyed("~filler", vec![b'f'; 1100]).with_timestamp(NOW)], &AppendOptions::default()).unwrap();
    assert_eq!(p.segment_count(), before + 1, "the filler rolled a segment");
    info.base_offset
}

#[derive(Debug, Clone)]
struct Op {
    key: u8,
    /// `None` = tombstone.
    value_len: Option<usize>,
    age: i64,
}

fn op() -> impl Strategy<Value = Op> {
    (0u8..10, proptest::option::weighted(0.8, 0usize..120), 0i64..2 * DELETE_RETENTION)
        .prop_map(|(key, value_len, age)| Op { key, value_len, age })
}

fn codec() -> impl Strategy<Value = Compression> {
    prop_oneof![Just(Compression::None), Just(Compression::Lz4), Just(Compression::Zstd), Just(Compression::Gzip)]
}

type Row = (i64, Vec<u8>, Option<Vec<u8>>, i64);

fn row(r: &StoredRecord) -> Row {
    (r.offset, r.key.as_ref().unwrap().to_vec(), r.value.as_ref().map(|v| v.to_vec()), r.timestamp)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn compaction_keeps_exactly_the_latest_record_per_key_at_its_offset(
        batches in proptest::collection::vec((proptest::collection::vec(op(), 1..5), codec()), 1..50),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path());
        log.create_topic("t", compacted_config(0)).unwrap();
        let p = log.partition("t", 0).unwrap();
        let mut written: Vec<Row> = Vec::new();
        for (ops, c) in &batches {
            let recs: Vec<Record> = ops
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    let key = format!("key-{}", o.key);
                    let ts = NOW - o.age;
                    match o.value_len {
                        Some(n) => Record::keyed(key, format!("{}-{i}-{}", written.len(), "v".repeat(n))),
                        None => Record::tombstone(key),
                    }
                    .with_timestamp(ts)
                })
                .collect();
            let info = p.append(&recs, &AppendOptions { compression: *c, ..Default::default() }).unwrap();
            for (i, r) in recs.iter().enumerate() {
                written.push((
                    info.base_offset + i as i64,
                    r.key.as_ref().unwrap().to_vec(),
                    r.value.as_ref().map(|v| v.to_vec()),
                    r.timestamp.unwrap(),
                ));
            }
        }
        let filler = roll(&p);
        let sealed_segments = p.segment_count() - 1;
        let hw = p.high_watermark();

        // The model: the latest offset of each key; keep it unless it is a
        // tombstone older than delete.retention.ms.
        let mut latest: HashMap<Vec<u8>, i64> = HashMap::new();
        for (o, k, _, _) in &written {
            latest.insert(k.clone(), *o);
        }
        let horizon = NOW - DELETE_RETENTION;
        let expected: Vec<Row> = written
            .iter()
            .filter(|(o, k, v, ts)| latest[k] == *o && (v.is_some() || *ts >= horizon))
            .cloned()
            .collect();

        let stats = p.compact(NOW).unwrap();
        prop_assert_eq!(stats.records_removed as usize, written.len() - expected.len());
        prop_assert_eq!(p.high_watermark(), hw, "compaction never moves the high watermark");
        prop_assert_eq!(p.log_start_offset(), 0);
        prop_assert_eq!(p.segment_count(), sealed_segments + 1);
        let got = read_all(&p);
        let (filler_rec, compacted) = got.split_last().unwrap();
        prop_assert_eq!(filler_rec.offset, filler, "the active segment is untouched");
        let compacted: Vec<Row> = compacted.iter().map(row).collect();
        prop_assert_eq!(&compacted, &expected);
        // Reading from any offset lands on the first kept record at or after it.
        for o in (0..filler).step_by(3) {
            let first = first_record_from(&p, o);
            let want = expected.iter().map(|r| r.0).find(|&x| x >= o).unwrap_or(filler);
            prop_assert_eq!(first, Some(want), "read at {}", o);
        }
        // A second pass finds nothing more to do.
        prop_assert_eq!(p.compact(NOW).unwrap().records_removed, 0);
        // After a reopen (clean and not) the compacted data is the same.
        log.close().unwrap();
        drop(p);
        drop(log);
        for clean in [true, false] {
            if !clean {
                fs::remove_file(dir.path().join("topics/t/0/clean-shutdown")).unwrap();
            }
            let log = open(dir.path());
            let p = log.partition("t", 0).unwrap();
            prop_assert_eq!(p.high_watermark(), hw);
            let again: Vec<Row> = read_all(&p).iter().map(row).collect();
            prop_assert_eq!(&again[..again.len() - 1], &expected[..]);
            log.close().unwrap();
        }
    }
}

#[test]
fn tombstones_live_for_delete_retention_ms() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("t", compacted_config(0)).unwrap();
    let p = log.partition("t", 0).unwrap();
    let opts = AppendOptions::default();
    p.append(&[Record::keyed("a", "1").with_timestamp(NOW - 500_000)], &opts).unwrap();
    p.append(&[Record::keyed("b", "1").with_timestamp(NOW - 500_000)], &opts).unwrap();
    p.append(&[Record::tombstone("a").with_timestamp(NOW - DELETE_RETENTION - 1)], &opts).unwrap(); // old
    p.append(&[Record::tombstone("b").with_timestamp(NOW - DELETE_RETENTION + 1)], &opts).unwrap(); // young
    roll(&p);
    p.compact(NOW).unwrap();
    let rows: Vec<(i64, Option<Vec<u8>>)> =
        read_all(&p).iter().filter(|r| r.key.as_deref() != Some(b"~filler")).map(|r| (r.offset, r.value.as_ref().map(|v| v.to_vec()))).collect();
    assert_eq!(rows, vec![(3, None)], "the old tombstone and both superseded values are gone");
    // Later, the young tombstone expires too.
    p.compact(NOW + DELETE_RETENTION).unwrap();
    assert!(read_all(&p).iter().all(|r| r.key.as_deref() == Some(b"~filler")));
}

#[test]
fn min_compaction_lag_leaves_young_segments_alone() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let lag = 60_000;
    log.create_topic("t", compacted_config(lag)).unwrap();
    let p = log.partition("t", 0).unwrap();
    let opts = AppendOptions::default();
    // Old segment: k0..k4 twice each.
    for round in 0..2 {
        for k in 0..5 {
            p.append(&[Record::keyed(format!("k{k}"), format!("old{round}")).with_timestamp(NOW - 2 * lag)], &opts).unwrap();
        }
    }
    roll(&p);
    // Young segment: overwrites k0..k4 again, and twice.
    for round in 0..2 {
        for k in 0..5 {
            p.append(&[Record::keyed(format!("k{k}"), format!("young{round}")).with_timestamp(NOW - lag / 2)], &opts).unwrap();
        }
    }
    roll(&p);
    let pdir = dir.path().join("topics/t/0");
    let young_file = pdir.join(format!("{:020}.log", 11));
    let young_before = fs::read(&young_file).unwrap();
    let stats = p.compact(NOW).unwrap();
    // Only the old segment is cleaned, against keys seen in cleanable segments only.
    assert_eq!(stats.records_removed, 5);
    assert_eq!(fs::read(&young_file).unwrap(), young_before, "the young segment is untouched");
    let vals: Vec<(i64, String)> = read_all(&p)
        .iter()
        .filter(|r| r.key.as_deref() != Some(b"~filler"))
        .map(|r| (r.offset, String::from_utf8(r.value.as_ref().unwrap().to_vec()).unwrap()))
        .collect();
    let want: Vec<(i64, String)> = (5..10)
        .map(|o| (o, "old1".to_string()))
        .chain((11..21).map(|o| (o, if o < 16 { "young0" } else { "young1" }.to_string())))
        .collect();
    assert_eq!(vals, want);
    // Once old enough, the young segment is compacted too.
    p.compact(NOW + lag).unwrap();
    let vals: Vec<i64> = read_all(&p).iter().filter(|r| r.key.as_deref() != Some(b"~filler")).map(|r| r.offset).collect();
    assert_eq!(vals, (16..21).collect::<Vec<_>>());
}

#[test]
fn appends_and_reads_keep_working_during_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("t", compacted_config(0)).unwrap();
    let p = log.partition("t", 0).unwrap();
    // Plenty of superseded data in sealed segments.
    for i in 0..600 {
        p.append(&[Record::keyed(format!("old{}", i % 7), format!("{i}-{}", "x".repeat(50))).with_timestamp(NOW)], &AppendOptions::default())
            .unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let p = p.clone();
        std::thread::spawn(move || {
            (0..1500)
                .map(|i| {
                    let v = format!("new-{i}-{}", "y".repeat(40));
                    let o = p.append(&[Record::keyed(format!("new{i}"), v.clone()).with_timestamp(NOW)], &AppendOptions::default()).unwrap();
                    (o.base_offset, v)
                })
                .collect::<Vec<_>>()
        })
    };
    let reader = {
        let (p, stop) = (p.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut passes = 0;
            while !stop.load(Ordering::Relaxed) {
                let recs = read_all(&p);
                assert!(!recs.is_empty());
                passes += 1;
            }
            passes
        })
    };
    // Compact while the writer runs, and at least three times in all, so the
    // assertion below does not depend on how the threads get scheduled.
    let mut compactions = 0;
    while !writer.is_finished() || compactions < 3 {
        p.compact(NOW).unwrap();
        compactions += 1;
    }
    let acked = writer.join().unwrap();
    p.compact(NOW).unwrap();
    stop.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    assert!(compactions > 1);
    let all = read_all(&p);
    let by_offset: HashMap<i64, &StoredRecord> = all.iter().map(|r| (r.offset, r)).collect();
    for (o, v) in &acked {
        let r = by_offset.get(o).unwrap_or_else(|| panic!("acknowledged offset {o} missing"));
        assert_eq!(r.value.as_deref(), Some(v.as_bytes()));
    }
    // Of the old keys, only the latest value of each is left.
    let old: Vec<&StoredRecord> = all.iter().filter(|r| r.key.as_ref().unwrap().starts_with(b"old")).collect();
    assert_eq!(old.len(), 7);
    assert_eq!(old.iter().map(|r| r.offset).collect::<Vec<_>>(), (593..600).collect::<Vec<_>>());
}
