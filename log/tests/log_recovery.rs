//! Recovery of a partition after an unclean shutdown: torn and garbage
//! tails are cut (and kept aside), corruption in sealed segments is refused
//! with a precise error, and lost index files are rebuilt.

use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use riffle_log::{
    decode_batch, AppendOptions, Compression, Durability, Log, LogConfig, LogError, Partition, Record,
    StoredRecord, TopicConfig,
};

fn open(dir: &Path) -> Log {
    Log::open(dir, LogConfig { background_cleaner: false, durability: Durability::PageCache, ..Default::default() })
        .expect("open log")
}

fn topic_config(segment_bytes: u64) -> TopicConfig {
    TopicConfig { segment_bytes, retention_ms: None, ..TopicConfig::default() }
}

fn partition_dir(dir: &Path) -> PathBuf {
    dir.join("topics").join("t").join("0")
}

fn files_with(dir: &Path, pred: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| pred(p.file_name().unwrap().to_str().unwrap()))
        .collect();
    v.sort();
    v
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    files_with(dir, |n| n.ends_with(".log"))
}

/// Reads every record from the log start; panics on any error.
fn read_all(p: &Partition) -> Vec<StoredRecord> {
    let mut out = Vec::new();
    let mut offset = p.log_start_offset();
    while offset < p.high_watermark() {
        let f = p.read(offset, 32 * 1024).expect("read");
        assert!(!f.is_empty());
        for b in f.batches() {
            let (h, recs) = decode_batch(&b).expect("decode");
            out.extend(recs.into_iter().filter(|r| r.offset >= offset));
            offset = h.next_offset();
        }
    }
    out
}

fn codec() -> impl Strategy<Value = Compression> {
    prop::sample::select(Compression::ALL.to_vec())
}

fn batch_values(i: usize, n: usize, len: usize) -> Vec<Vec<u8>> {
    (0..n).map(|j| format!("b{i}-r{j}-{}", "v".repeat(len)).into_bytes()).collect()
}

#[derive(Debug, Clone, Copy)]
enum Crash {
    /// Drop every handle without `close`: no clean-shutdown marker.
    DropWithoutClose,
    /// Close cleanly, then remove the marker.
    CloseAndRemoveMarker,
}

/// Writes `batches` (records per batch, codec) and returns, per batch, its
/// values and end position in the active segment (`None` when the batch
/// went to an older segment).
fn write_batches(dir: &Path, batches: &[(usize, Compression)], len: usize, crash: Crash) -> Vec<(i64, Vec<Vec<u8>>)> {
    let log = open(dir);
    log.create_topic("t", topic_config(4096)).unwrap();
    let p = log.partition("t", 0).unwrap();
    let mut written = Vec::new();
    for (i, &(n, c)) in batches.iter().enumerate() {
        let values = batch_values(i, n, len);
        let recs: Vec<Record> = values.iter().map(|v| Record::keyed(format!("k{i}"), v.clone())).collect();
        let info = p.append(&recs, &AppendOptions { compression: c, ..Default::default() }).unwrap();
        written.push((info.base_offset, values));
    }
    match crash {
        Crash::DropWithoutClose => {}
        Crash::CloseAndRemoveMarker => {
            log.close().unwrap();
            fs::remove_file(partition_dir(dir).join("clean-shutdown")).unwrap();
        }
    }
    drop(p);
    drop(log);
    written
}

/// `(base offset, byte end)` of each batch of a segment file, parsed by hand.
fn batch_ends(bytes: &[u8]) -> Vec<(i64, usize)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 12 <= bytes.len() {
        let base = i64::from_be_bytes(bytes[pos..pos + 8].try_into().unwrap());
        let len = i32::from_be_bytes(bytes[pos + 8..pos + 12].try_into().unwrap()) as usize;
        pos += 12 + len;
        out.push((base, pos));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn a_torn_active_segment_keeps_exactly_the_whole_batches_before_the_cut(
        batches in proptest::collection::vec((1usize..6, codec()), 1..40),
        len in 0usize..200,
        cut in any::<prop::sample::Index>(),
        close_first in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let crash = if close_first { Crash::CloseAndRemoveMarker } else { Crash::DropWithoutClose };
        let written = write_batches(dir.path(), &batches, len, crash);
        let pdir = partition_dir(dir.path());
        let active = segment_files(&pdir).pop().unwrap();
        let bytes = fs::read(&active).unwrap();
        let active_base: i64 = active.file_stem().unwrap().to_str().unwrap().parse().unwrap();
        let cut_at = cut.index(bytes.len() + 1);
        fs::OpenOptions::new().write(true).open(&active).unwrap().set_len(cut_at as u64).unwrap();
        // Whole batches of the active segment that end at or before the cut survive.
        let survivors_in_active: Vec<i64> =
            batch_ends(&bytes).into_iter().filter(|&(_, end)| end <= cut_at).map(|(b, _)| b).collect();
        let expected: Vec<&(i64, Vec<Vec<u8>>)> = written
            .iter()
            .filter(|(base, _)| *base < active_base || survivors_in_active.contains(base))
            .collect();
        let expected_hw = expected.last().map_or(0, |(b, v)| b + v.len() as i64);

        let log = open(dir.path());
        let p = log.partition("t", 0).unwrap();
        prop_assert_eq!(p.high_watermark(), expected_hw);
        let got = read_all(&p);
        let want: Vec<(i64, Vec<u8>)> = expected
            .iter()
            .flat_map(|(b, vs)| vs.iter().enumerate().map(move |(i, v)| (b + i as i64, v.clone())))
            .collect();
        let got: Vec<(i64, Vec<u8>)> = got.iter().map(|r| (r.offset, r.value.clone().unwrap().to_vec())).collect();
        prop_assert_eq!(got, want);
        // Cut bytes are kept beside the segment, byte for byte.
        let kept = files_with(&pdir, |n| n.contains(".log.truncated-"));
        let valid_end = batch_ends(&bytes).into_iter().filter(|&(_, e)| e <= cut_at).map(|(_, e)| e).max().unwrap_or(0);
        if valid_end < cut_at {
            prop_assert_eq!(kept.len(), 1);
            prop_assert_eq!(fs::read(&kept[0]).unwrap(), bytes[valid_end..cut_at].to_vec());
        } else {
            prop_assert!(kept.is_empty(), "nothing was cut, nothing kept: {:?}", kept);
        }
        prop_assert_eq!(fs::metadata(&active).unwrap().len() as usize, valid_end);
        // New appends continue from the high watermark and read back.
        let info = p.append(&[Record::keyed("new", "after")], &AppendOptions::default()).unwrap();
        prop_assert_eq!(info.base_offset, expected_hw);
        let last = p.read_records(expected_hw, 1 << 20).unwrap();
        prop_assert_eq!(last.len(), 1);
        prop_assert_eq!(last[0].value.as_deref(), Some(&b"after"[..]));
        log.close().unwrap();
        drop(p);
        drop(log);
        // And a clean reopen sees the same.
        let log = open(dir.path());
        let p = log.partition("t", 0).unwrap();
        prop_assert_eq!(p.high_watermark(), expected_hw + 1);
        prop_assert_eq!(read_all(&p).len(), want_len(&expected) + 1);
        log.close().unwrap();
    }
}

fn want_len(expected: &[&(i64, Vec<Vec<u8>>)]) -> usize {
    expected.iter().map(|(_, v)| v.len()).sum()
}

#[test]
fn garbage_after_the_last_batch_is_cut() {
    for garbage in [vec![0u8; 7], vec![0u8; 200], (0..500).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>()] {
        let dir = tempfile::tempdir().unwrap();
        let written = write_batches(dir.path(), &[(3, Compression::None), (2, Compression::Lz4)], 10, Crash::DropWithoutClose);
        let pdir = partition_dir(dir.path());
        let seg = segment_files(&pdir).pop().unwrap();
        let good = fs::read(&seg).unwrap();
        let mut bytes = good.clone();
        bytes.extend_from_slice(&garbage);
        fs::write(&seg, &bytes).unwrap();
        let log = open(dir.path());
        let p = log.partition("t", 0).unwrap();
        assert_eq!(p.high_watermark(), 5);
        assert_eq!(read_all(&p).len(), 5);
        assert_eq!(fs::read(&seg).unwrap(), good);
        let kept = files_with(&pdir, |n| n.contains(".log.truncated-"));
        assert_eq!(kept.len(), 1);
        assert_eq!(fs::read(&kept[0]).unwrap(), garbage);
        assert_eq!(p.append(&[Record::value("x")], &AppendOptions::default()).unwrap().base_offset, 5);
        assert_eq!(written.len(), 2);
        log.close().unwrap();
    }
}

/// Writes enough data to seal several segments; returns the number of records.
fn fill_segments(dir: &Path) -> i64 {
    let log = open(dir);
    log.create_topic("t", topic_config(2048)).unwrap();
    let p = log.partition("t", 0).unwrap();
    for i in 0..60 {
        let recs: Vec<Record> =
            (0..3).map(|j| Record::keyed(format!("k{i}"), format!("v{i}-{j}-{}", "x".repeat(60))).with_timestamp(10_000 + i * 10 + j)).collect();
        p.append(&recs, &AppendOptions::default()).unwrap();
    }
    assert!(p.segment_count() >= 4);
    let hw = p.high_watermark();
    log.close().unwrap();
    hw
}

#[test]
fn a_flipped_byte_in_a_sealed_segment_is_reported_never_served() {
    for clean in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let hw = fill_segments(dir.path());
        let pdir = partition_dir(dir.path());
        if !clean {
            fs::remove_file(pdir.join("clean-shutdown")).unwrap();
        }
        let segs = segment_files(&pdir);
        // The second segment: sealed, not the active one.
        let victim = &segs[1];
        let mut bytes = fs::read(victim).unwrap();
        let ends = batch_ends(&bytes);
        // Damage a value byte inside the segment's second batch.
        let (bad_base, bad_end) = ends[1];
        let flip_at = bad_end - 3;
        bytes[flip_at] ^= 0x40;
        fs::write(victim, &bytes).unwrap();

        let log = open(dir.path());
        let p = log.partition("t", 0).unwrap();
        assert_eq!(p.high_watermark(), hw, "a sealed segment is not truncated");
        // Everything before the damaged batch reads fine.
        let mut offset = 0;
        while offset < bad_base {
            let recs = p.read_records(offset, 1).unwrap();
            assert_eq!(recs[0].offset, offset);
            offset += 1;
        }
        // Every offset of the damaged batch gives a Corrupt error naming it.
        for o in bad_base..bad_base + 3 {
            match p.read(o, 1 << 20) {
                Err(e @ LogError::Corrupt { .. }) => {
                    let LogError::Corrupt { ref topic, partition, offset, .. } = e else { unreachable!() };
                    assert_eq!((topic.as_str(), partition, offset), ("t", 0, bad_base));
                    let msg = e.to_string();
                    assert!(msg.contains("t-0") && msg.contains(&format!("offset {bad_base}")), "{msg}");
                }
                other => panic!("clean={clean}: reading offset {o} of a corrupt batch gave {other:?}"),
            }
        }
        // A read that starts before it stops before the damaged batch.
        let f = p.read(bad_base - 1, 1 << 20).unwrap();
        let recs = f.records(bad_base - 1).unwrap();
        assert!(recs.iter().all(|r| r.offset < bad_base), "{:?}", recs.last());
        assert!(!recs.is_empty());
        // Later batches are still readable.
        let after = p.read_records(bad_base + 3, 1).unwrap();
        assert_eq!(after[0].offset, bad_base + 3);
        log.close().unwrap();
    }
}

#[test]
fn lost_index_files_are_rebuilt_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let hw = fill_segments(dir.path());
    let pdir = partition_dir(dir.path());
    let before = {
        let log = open(dir.path());
        let p = log.partition("t", 0).unwrap();
        let all = read_all(&p);
        let ts: Vec<_> = (9_990..10_700).step_by(7).map(|t| p.offset_for_timestamp(t).unwrap()).collect();
        log.close().unwrap();
        (all, ts)
    };
    let idx = files_with(&pdir, |n| n.ends_with(".index") || n.ends_with(".timeindex"));
    assert!(idx.len() >= 6, "sealed segments have index files: {idx:?}");
    for f in &idx {
        fs::remove_file(f).unwrap();
    }
    // Also a garbled (inconsistent) index for the first segment.
    fs::write(pdir.join(format!("{:020}.index", 0)), [0xffu8; 16]).unwrap();
    let log = open(dir.path());
    let p = log.partition("t", 0).unwrap();
    assert_eq!(p.high_watermark(), hw);
    let all = read_all(&p);
    assert_eq!(all, before.0);
    for o in 0..hw {
        assert_eq!(p.read_records(o, 1).unwrap()[0].offset, o);
    }
    let ts: Vec<_> = (9_990..10_700).step_by(7).map(|t| p.offset_for_timestamp(t).unwrap()).collect();
    assert_eq!(ts, before.1);
    // Spot-check against the data itself.
    assert_eq!(p.offset_for_timestamp(10_000 + 25 * 10 + 1).unwrap(), Some((76, 10_251)));
    assert_eq!(p.offset_for_timestamp(99_999).unwrap(), None);
    log.close().unwrap();
}

#[test]
fn a_missing_clean_shutdown_marker_with_intact_data_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let hw = fill_segments(dir.path());
    let pdir = partition_dir(dir.path());
    let before = {
        let log = open(dir.path());
        let all = read_all(&log.partition("t", 0).unwrap());
        log.close().unwrap();
        all
    };
    fs::remove_file(pdir.join("clean-shutdown")).unwrap();
    let log = open(dir.path());
    let p = log.partition("t", 0).unwrap();
    assert_eq!(p.high_watermark(), hw);
    assert_eq!(read_all(&p), before);
    assert!(files_with(&pdir, |n| n.contains("truncated")).is_empty(), "nothing was cut");
    log.close().unwrap();
}

#[test]
fn a_log_dropped_without_close_reopens_with_everything() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_batches(dir.path(), &[(2, Compression::Zstd); 50], 100, Crash::DropWithoutClose);
    let log = open(dir.path());
    let p = log.partition("t", 0).unwrap();
    assert_eq!(p.high_watermark(), 100);
    let got = read_all(&p);
    let want: Vec<Vec<u8>> = written.iter().flat_map(|(_, v)| v.clone()).collect();
    assert_eq!(got.iter().map(|r| r.value.clone().unwrap().to_vec()).collect::<Vec<_>>(), want);
    log.close().unwrap();
}

#[test]
fn a_data_directory_is_used_by_one_log_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let second = Log::open(dir.path(), LogConfig { background_cleaner: false, ..Default::default() });
    assert!(matches!(second, Err(LogError::Io { .. })), "{second:?}");
    log.close().unwrap();
    drop(log);
    // Released once the log is gone.
    open(dir.path()).close().unwrap();
}
