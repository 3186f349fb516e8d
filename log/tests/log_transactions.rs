//! Transactions in the log: the last stable offset, `read_committed` reads,
//! the aborted-transaction index, the coordinator's fencing and held-back
//! offsets, timeouts, and all of it surviving a restart.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use riffle_log::topic::TopicPartition;
use riffle_log::{
    decode_batch, AbortedTxn, BatchBuilder, BatchHeader, Compression, Log, LogConfig, LogError, ProducerFields, Record,
    TopicConfig, TxnErrorCode, TxnState,
};

fn open(dir: &Path) -> Log {
    Log::open(dir, LogConfig { background_cleaner: false, ..Default::default() }).unwrap()
}

/// A transactional batch of `n` records.
fn txn_batch(pid: i64, epoch: i16, seq: i32, n: usize, tag: &str) -> Vec<u8> {
    let mut b = BatchBuilder::new(Compression::None);
    b.set_producer(ProducerFields { producer_id: pid, producer_epoch: epoch, base_sequence: seq, transactional: true });
    for i in 0..n {
        b.push(&Record::value(format!("{tag}-{i}")), 1_000);
    }
    b.build(0).unwrap().to_vec()
}

/// What a `read_committed` client keeps: data batches below the LSO, minus
/// the aborted ones (using the aborted list as Kafka clients do).
fn committed_values(log: &Log, topic: &str) -> Vec<String> {
    let p = log.partition(topic, 0).unwrap();
    let f = p.read_committed(0, 1 << 20).unwrap();
    let aborted = p.aborted_transactions(0, p.last_stable_offset());
    let mut out = Vec::new();
    for b in f.batches() {
        let (h, recs) = decode_batch(&b).unwrap();
        if h.is_control() {
            continue;
        }
        let skip = h.is_transactional()
            && aborted.iter().any(|a| a.producer_id == h.producer_id && a.first_offset <= h.base_offset && h.base_offset < a.last_offset);
        if !skip {
            out.extend(recs.into_iter().map(|r| String::from_utf8(r.value.unwrap().to_vec()).unwrap()));
        }
    }
    out
}

#[test]
fn last_stable_offset_and_aborted_index_follow_markers_and_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("t", TopicConfig::with_partitions(1)).unwrap();
    let (a, ea) = log.init_transactional_producer("A", 60_000, None).unwrap();
    let (b, eb) = log.init_transactional_producer("B", 60_000, None).unwrap();
    let p = log.partition("t", 0).unwrap();
    for (id, pid, epoch) in [("A", a, ea), ("B", b, eb)] {
        log.add_partitions_to_txn(id, pid, epoch, [TopicPartition::new("t", 0)]).unwrap();
    }
    p.append_batch(txn_batch(a, ea, 0, 2, "a")).unwrap(); // 0..=1
    p.append_batch(txn_batch(b, eb, 0, 1, "b")).unwrap(); // 2
    assert_eq!(p.high_watermark(), 3);
    assert_eq!(p.last_stable_offset(), 0, "A's open transaction starts at 0");
    assert!(p.read_committed(0, 1 << 20).unwrap().is_empty());
    assert_eq!(p.read(0, 1 << 20).unwrap().batches().count(), 2, "read_uncommitted sees both");

    log.end_txn("A", a, ea, false).unwrap(); // ABORT marker at 3
    assert_eq!(p.last_stable_offset(), 2, "now B's transaction is the oldest open one");
    assert_eq!(p.aborted_transactions(0, 10), vec![AbortedTxn { producer_id: a, first_offset: 0, last_offset: 3 }]);
    log.end_txn("B", b, eb, true).unwrap(); // COMMIT marker at 4
    assert_eq!(p.last_stable_offset(), 5);
    assert_eq!(committed_values(&log, "t"), vec!["b-0"]);

    // Repeating the EndTxn that completed is fine; the other way is not.
    log.end_txn("B", b, eb, true).unwrap();
    let e = log.end_txn("B", b, eb, false).unwrap_err();
    assert!(matches!(e, LogError::Transaction { code: TxnErrorCode::InvalidTxnState, .. }), "{e}");

    // An open transaction at shutdown stays open after the restart.
    log.add_partitions_to_txn("B", b, eb, [TopicPartition::new("t", 0)]).unwrap();
    p.append_batch(txn_batch(b, eb, 1, 1, "open")).unwrap(); // 5
    drop(p);
    log.close().unwrap();
    drop(log);

    let log = open(dir.path());
    let p = log.partition("t", 0).unwrap();
    assert_eq!(p.last_stable_offset(), 5);
    assert_eq!(p.aborted_transactions(0, 10), vec![AbortedTxn { producer_id: a, first_offset: 0, last_offset: 3 }]);
    assert_eq!(log.transaction_state("B").map(|s| s.0), Some(TxnState::Ongoing));
    log.end_txn("B", b, eb, true).unwrap();
    assert_eq!(p.last_stable_offset(), 7);
    assert_eq!(committed_values(&log, "t"), vec!["b-0", "open-0"]);
    let markers: Vec<BatchHeader> = p
        .read(0, 1 << 20)
        .unwrap()
        .batches()
        .map(|b| BatchHeader::parse(&b).unwrap())
        .filter(BatchHeader::is_control)
        .collect();
    assert_eq!(markers.len(), 3);
    log.close().unwrap();
}

#[test]
fn a_new_epoch_aborts_the_open_transaction_and_fences_the_old_producer() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("t", TopicConfig::with_partitions(2)).unwrap();
    let (pid, e0) = log.init_transactional_producer("x", 60_000, None).unwrap();
    let tps = [TopicPartition::new("t", 0), TopicPartition::new("t", 1)];
    log.add_partitions_to_txn("x", pid, e0, tps.clone()).unwrap();
    for i in 0..2 {
        log.partition("t", i).unwrap().append_batch(txn_batch(pid, e0, 0, 1, "zombie")).unwrap();
    }
    let (pid2, e1) = log.init_transactional_producer("x", 60_000, None).unwrap();
    assert_eq!((pid2, e1), (pid, e0 + 1));
    for i in 0..2 {
        let p = log.partition("t", i).unwrap();
        assert_eq!(p.last_stable_offset(), p.high_watermark(), "aborted by the new epoch's marker");
        assert_eq!(p.aborted_transactions(0, 10).len(), 1);
        // The zombie can neither write to the partition nor end its transaction.
        let e = p.append_batch(txn_batch(pid, e0, 1, 1, "late")).unwrap_err();
        assert!(matches!(e, LogError::ProducerFenced { .. }), "{e}");
    }
    let e = log.end_txn("x", pid, e0, true).unwrap_err();
    assert!(matches!(e, LogError::Transaction { code: TxnErrorCode::ProducerFenced, .. }), "{e}");
    let e = log.add_partitions_to_txn("x", pid, e0, tps).unwrap_err();
    assert!(matches!(e, LogError::Transaction { code: TxnErrorCode::ProducerFenced, .. }), "{e}");
    log.close().unwrap();
}

#[test]
fn transactional_offsets_are_visible_on_commit_only() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("in", TopicConfig::with_partitions(1)).unwrap();
    let tp = TopicPartition::new("in", 0);
    let offset = |o: i64| riffle_log::group::OffsetAndMetadata::new(o, 0);
    let (pid, epoch) = log.init_transactional_producer("etl", 60_000, None).unwrap();

    log.add_offsets_to_txn("etl", pid, epoch, "g").unwrap();
    log.txn_offset_commit("etl", pid, epoch, "g", vec![(tp.clone(), offset(10))]).unwrap();
    assert!(log.groups().fetch_offsets("g", None).is_empty(), "held until commit");
    log.end_txn("etl", pid, epoch, false).unwrap();
    assert!(log.groups().fetch_offsets("g", None).is_empty(), "dropped by the abort");

    log.add_offsets_to_txn("etl", pid, epoch, "g").unwrap();
    log.txn_offset_commit("etl", pid, epoch, "g", vec![(tp.clone(), offset(20))]).unwrap();
    log.end_txn("etl", pid, epoch, true).unwrap();
    assert_eq!(log.groups().fetch_offsets("g", None).get(&tp).map(|o| o.offset), Some(20));
    log.close().unwrap();
    drop(log);

    let log = open(dir.path());
    assert_eq!(log.groups().fetch_offsets("g", None).get(&tp).map(|o| o.offset), Some(20));
    // The coordinator state survived too: the next init bumps the epoch.
    assert_eq!(log.init_transactional_producer("etl", 60_000, None).unwrap(), (pid, epoch + 1));
    log.close().unwrap();
}

#[test]
fn a_transaction_past_its_timeout_is_aborted_with_a_bumped_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("t", TopicConfig::with_partitions(1)).unwrap();
    let (pid, epoch) = log.init_transactional_producer("slow", 100, None).unwrap();
    log.add_partitions_to_txn("slow", pid, epoch, [TopicPartition::new("t", 0)]).unwrap();
    let p = log.partition("t", 0).unwrap();
    p.append_batch(txn_batch(pid, epoch, 0, 3, "late")).unwrap();
    assert_eq!(p.last_stable_offset(), 0);
    assert_eq!(log.abort_expired_transactions(riffle_now() - 50_000), 0, "not yet expired");
    assert_eq!(log.abort_expired_transactions(riffle_now() + 1_000), 1);
    assert_eq!(p.last_stable_offset(), p.high_watermark());
    assert_eq!(log.transaction_state("slow"), Some((TxnState::CompleteAbort, pid, epoch + 1)));
    let e = log.end_txn("slow", pid, epoch, true).unwrap_err();
    assert!(matches!(e, LogError::Transaction { code: TxnErrorCode::ProducerFenced, .. }), "{e}");
    assert!(committed_values(&log, "t").is_empty());
    log.close().unwrap();
}

fn riffle_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// A transactional batch of keyed records `(key, value)`.
fn keyed_txn_batch(pid: i64, epoch: i16, seq: i32, kvs: &[(&str, &str)]) -> Vec<u8> {
    let mut b = BatchBuilder::new(Compression::None);
    b.set_producer(ProducerFields { producer_id: pid, producer_epoch: epoch, base_sequence: seq, transactional: true });
    for (k, v) in kvs {
        // Padded so that segments (at least 1 KiB) roll every batch or two.
        b.push(&Record::keyed(k.to_string(), format!("{v}|{}", "-".repeat(500))), 1_000);
    }
    b.build(0).unwrap().to_vec()
}

fn unpad(v: &[u8]) -> String {
    String::from_utf8_lossy(v).split('|').next().unwrap_or_default().to_string()
}

/// Latest value per key as a compacted-topic reader sees it (committed
/// data only).
fn latest_committed(log: &Log, topic: &str) -> std::collections::BTreeMap<String, String> {
    let p = log.partition(topic, 0).unwrap();
    let aborted = p.aborted_transactions(0, p.last_stable_offset());
    let mut out = std::collections::BTreeMap::new();
    let mut offset = 0;
    while offset < p.last_stable_offset() {
        for b in p.read_committed(offset, 1 << 20).unwrap().batches() {
            let (h, recs) = decode_batch(&b).unwrap();
            offset = h.next_offset();
            let skip = h.is_transactional()
                && aborted.iter().any(|a| a.producer_id == h.producer_id && a.first_offset <= h.base_offset && h.base_offset < a.last_offset);
            if h.is_control() || skip {
                continue;
            }
            for r in recs {
                out.insert(String::from_utf8(r.key.unwrap().to_vec()).unwrap(), unpad(&r.value.unwrap()));
            }
        }
    }
    out
}

#[test]
fn compaction_removes_aborted_records_keeps_committed_values_and_stops_at_open_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let mut config = TopicConfig::compacted(1);
    config.segment_bytes = 1024; // a segment per batch or two
    config.min_compaction_lag_ms = 0;
    log.create_topic("c", config).unwrap();
    let p = log.partition("c", 0).unwrap();
    let (a, ea) = log.init_transactional_producer("A", 60_000, None).unwrap();
    let tp = || [TopicPartition::new("c", 0)];
    let mut seq = 0;
    let mut txn = |kvs: &[(&str, &str)], commit: bool| {
        log.add_partitions_to_txn("A", a, ea, tp()).unwrap();
        p.append_batch(keyed_txn_batch(a, ea, seq, kvs)).unwrap();
        seq += kvs.len() as i32;
        log.end_txn("A", a, ea, commit).unwrap();
    };
    txn(&[("k", "committed-1"), ("j", "j-1")], true);
    // An aborted write must neither survive nor supersede k's committed value.
    txn(&[("k", "aborted"), ("x", "aborted-only")], false);
    txn(&[("j", "j-2")], true);
    // An open transaction past the last stable offset: nothing from here on
    // may be compacted yet.
    log.add_partitions_to_txn("A", a, ea, tp()).unwrap();
    p.append_batch(keyed_txn_batch(a, ea, seq, &[("j", "open")])).unwrap();
    let before = latest_committed(&log, "c");
    assert_eq!(before.get("k").map(String::as_str), Some("committed-1"));

    let stats = p.compact(i64::MAX / 2).unwrap();
    assert!(stats.records_removed >= 3, "the two aborted records and j's old value: {stats:?}");
    // Reading everything (read_uncommitted), the aborted records are gone.
    let mut all: Vec<String> = Vec::new();
    let mut offset = 0;
    while offset < p.high_watermark() {
        for b in p.read(offset, 1 << 20).unwrap().batches() {
            let (h, recs) = decode_batch(&b).unwrap();
            all.extend(recs.into_iter().filter(|r| r.offset >= offset).filter_map(|r| r.value.map(|v| unpad(&v))));
            offset = h.next_offset();
        }
    }
    assert!(!all.iter().any(|v| v.starts_with("aborted")), "{all:?}");
    assert!(all.contains(&"committed-1".to_string()), "k's committed value stays: {all:?}");
    assert!(all.contains(&"open".to_string()), "the open transaction is untouched");
    assert_eq!(latest_committed(&log, "c"), before);

    // The producer's sequence state is the same after a restart: its next
    // batch is in order.
    log.end_txn("A", a, ea, true).unwrap();
    drop(p);
    log.close().unwrap();
    drop(log);
    let log = open(dir.path());
    let p = log.partition("c", 0).unwrap();
    log.add_partitions_to_txn("A", a, ea, tp()).unwrap();
    p.append_batch(keyed_txn_batch(a, ea, seq + 1, &[("k", "committed-2")])).unwrap();
    log.end_txn("A", a, ea, true).unwrap();
    assert_eq!(latest_committed(&log, "c").get("k").map(String::as_str), Some("committed-2"));
    log.close().unwrap();
}

#[test]
fn a_read_committed_consumer_sees_committed_records_only() {
    use riffle_log::consumer::{Consumer, ConsumerConfig, IsolationLevel, OffsetReset};
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("t", TopicConfig::with_partitions(1)).unwrap();
    let p = log.partition("t", 0).unwrap();
    let tp = || [TopicPartition::new("t", 0)];
    let (a, ea) = log.init_transactional_producer("A", 60_000, None).unwrap();
    let (b, eb) = log.init_transactional_producer("B", 60_000, None).unwrap();
    log.add_partitions_to_txn("A", a, ea, tp()).unwrap();
    p.append_batch(txn_batch(a, ea, 0, 2, "aborted")).unwrap();
    log.add_partitions_to_txn("B", b, eb, tp()).unwrap();
    p.append_batch(txn_batch(b, eb, 0, 1, "committed")).unwrap();
    log.end_txn("A", a, ea, false).unwrap();
    log.end_txn("B", b, eb, true).unwrap();
    log.add_partitions_to_txn("B", b, eb, tp()).unwrap();
    p.append_batch(txn_batch(b, eb, 1, 1, "open")).unwrap();

    let poll_all = |isolation: IsolationLevel| {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let mut c = Consumer::new(
                &log,
                ConsumerConfig { auto_offset_reset: OffsetReset::Earliest, isolation_level: isolation, ..Default::default() },
            );
            c.assign(tp().to_vec()).unwrap();
            let mut values = Vec::new();
            loop {
                let recs = c.poll(std::time::Duration::from_millis(50)).await.unwrap();
                if recs.is_empty() {
                    break;
                }
                values.extend(recs.into_iter().map(|r| String::from_utf8(r.value.unwrap().to_vec()).unwrap()));
            }
            values
        })
    };
    assert_eq!(poll_all(IsolationLevel::ReadUncommitted), vec!["aborted-0", "aborted-1", "committed-0", "open-0"]);
    assert_eq!(poll_all(IsolationLevel::ReadCommitted), vec!["committed-0"], "no aborted records, nothing past the LSO");
    log.end_txn("B", b, eb, true).unwrap();
    assert_eq!(poll_all(IsolationLevel::ReadCommitted), vec!["committed-0", "open-0"]);
    log.close().unwrap();
}

/// KIP-890 part 1: a client's transactional batch is appended only to a
/// partition of the open transaction. Without the check, a batch arriving
/// after EndTxn (a retry, a late request) would open a transaction that no
/// marker closes and freeze the last stable offset.
#[test]
fn transactional_produce_is_verified_against_the_open_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("t", TopicConfig::with_partitions(2)).unwrap();
    let (pid, epoch) = log.init_transactional_producer("v", 60_000, None).unwrap();
    let p0 = log.partition("t", 0).unwrap();
    let p1 = log.partition("t", 1).unwrap();
    let not_added = |e: LogError| {
        assert!(matches!(e, LogError::Transaction { code: TxnErrorCode::InvalidTxnState, .. }), "{e}");
        assert!(e.to_string().contains("Partition was not added to the transaction"), "{e}");
    };

    // No transaction open yet.
    not_added(log.append_transactional("v", &p0, &txn_batch(pid, epoch, 0, 1, "early"), pid, epoch).unwrap_err());
    assert_eq!(p0.high_watermark(), 0, "nothing was appended");

    // Open with partition 0 only: 0 accepts, 1 refuses.
    log.add_partitions_to_txn("v", pid, epoch, [TopicPartition::new("t", 0)]).unwrap();
    log.append_transactional("v", &p0, &txn_batch(pid, epoch, 0, 2, "in"), pid, epoch).unwrap();
    not_added(log.append_transactional("v", &p1, &txn_batch(pid, epoch, 0, 1, "stray"), pid, epoch).unwrap_err());
    assert_eq!(p1.high_watermark(), 0);

    // After the commit, a late batch of the same epoch is refused and the
    // last stable offset stays at the end of the log.
    log.end_txn("v", pid, epoch, true).unwrap();
    let end = p0.high_watermark();
    not_added(log.append_transactional("v", &p0, &txn_batch(pid, epoch, 2, 1, "late"), pid, epoch).unwrap_err());
    assert_eq!((p0.high_watermark(), p0.last_stable_offset()), (end, end));
    assert_eq!(committed_values(&log, "t"), vec!["in-0", "in-1"]);

    // A producer that does not own the id, or an old epoch, is refused too.
    log.add_partitions_to_txn("v", pid, epoch, [TopicPartition::new("t", 0)]).unwrap();
    let e = log.append_transactional("v", &p0, &txn_batch(pid + 1, 0, 0, 1, "other"), pid + 1, 0).unwrap_err();
    assert!(matches!(e, LogError::Transaction { code: TxnErrorCode::InvalidProducerIdMapping, .. }), "{e}");
    let e = log.append_transactional("nobody", &p0, &txn_batch(pid, epoch, 2, 1, "x"), pid, epoch).unwrap_err();
    assert!(matches!(e, LogError::Transaction { code: TxnErrorCode::InvalidProducerIdMapping, .. }), "{e}");
    let (_, e1) = log.init_transactional_producer("v", 60_000, None).unwrap();
    let e = log.append_transactional("v", &p0, &txn_batch(pid, epoch, 2, 1, "zombie"), pid, epoch).unwrap_err();
    assert!(matches!(e, LogError::Transaction { code: TxnErrorCode::ProducerFenced, .. }), "{e}");
    assert_eq!(e1, epoch + 1);
    log.close().unwrap();
}

#[test]
fn transactional_offset_commit_needs_the_group_in_the_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("in", TopicConfig::with_partitions(1)).unwrap();
    let tp = TopicPartition::new("in", 0);
    let at = |o: i64| vec![(tp.clone(), riffle_log::group::OffsetAndMetadata::new(o, 0))];
    let (pid, epoch) = log.init_transactional_producer("o", 60_000, None).unwrap();
    let refused = |e: LogError| {
        assert!(matches!(e, LogError::Transaction { code: TxnErrorCode::InvalidTxnState, .. }), "{e}");
        assert!(e.to_string().contains("AddOffsetsToTxn"), "{e}");
    };
    // No transaction open; then one open without the group.
    refused(log.txn_offset_commit("o", pid, epoch, "g", at(5)).unwrap_err());
    log.add_partitions_to_txn("o", pid, epoch, [TopicPartition::new("in", 0)]).unwrap();
    refused(log.txn_offset_commit("o", pid, epoch, "g", at(5)).unwrap_err());
    log.add_offsets_to_txn("o", pid, epoch, "g").unwrap();
    refused(log.txn_offset_commit("o", pid, epoch, "other-group", at(5)).unwrap_err());
    log.txn_offset_commit("o", pid, epoch, "g", at(5)).unwrap();
    log.end_txn("o", pid, epoch, true).unwrap();
    assert_eq!(log.groups().fetch_offsets("g", None).get(&tp).map(|o| o.offset), Some(5));
    log.close().unwrap();
}
