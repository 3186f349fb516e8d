//! Changelogs, checkpoints and restore: local state lost, stale or corrupt
//! always comes back exactly as the changelog describes it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;
use riffle_log::{Log, LogClient, LogConfig};
use riffle_state::{
    changelog_topic, BackendKind, KeyValueSpec, KeyValueStore, KvStore, LoggingRestoreListener,
    ReadOnlyKeyValueStore, ReadOnlyWindowStore, RestoreListener, RestoreProgress, StateManager,
    StateManagerConfig, StateMemory, WindowSpec, WindowStore,
};

fn open_log(dir: &Path) -> Log {
    Log::open(dir.join("log"), LogConfig { background_cleaner: false, ..Default::default() }).unwrap()
}

fn config(dir: &Path, log: &Log, backend: BackendKind) -> StateManagerConfig {
    StateManagerConfig {
        task_dir: dir.join("state").join("0_0"),
        application_id: "app".into(),
        partition: 0,
        changelog_partitions: 1,
        backend,
        memory: StateMemory::new(32 << 20),
        log: Some(Arc::new(log.clone()) as Arc<dyn LogClient>),
    }
}

fn kv_spec(cache_bytes: usize) -> KeyValueSpec {
    KeyValueSpec { name: "counts".into(), cache_bytes, logged: true }
}

fn open_kv(cfg: &StateManagerConfig, cache: usize) -> (StateManager, Arc<KvStore>, riffle_state::RestoreSummary) {
    let mut m = StateManager::open(cfg.clone()).unwrap();
    let s = m.key_value_store(kv_spec(cache)).unwrap();
    let summary = m.restore(&mut LoggingRestoreListener).unwrap();
    (m, s, summary)
}

fn contents(s: &KvStore) -> BTreeMap<Vec<u8>, Vec<u8>> {
    s.all().unwrap().into_iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Random puts and deletes, then the whole local state directory is
    /// deleted: the restored store equals an in-memory oracle.
    #[test]
    fn changelog_round_trip_after_losing_local_state(
        ops in proptest::collection::vec((any::<bool>(), 0u16..64, any::<u32>()), 1..300),
        cache in prop_oneof![Just(0usize), Just(512usize), Just(1usize << 20)],
        commit_every in 1usize..50,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let log = open_log(dir.path());
        let cfg = config(dir.path(), &log, BackendKind::RocksDb);
        let (mut m, s, _) = open_kv(&cfg, cache);
        let mut oracle = BTreeMap::new();
        for (i, (put, k, v)) in ops.iter().enumerate() {
            let key = format!("key-{k}").into_bytes();
            if *put {
                s.put(&key, &v.to_be_bytes()).unwrap();
                oracle.insert(key, v.to_be_bytes().to_vec());
            } else {
                s.delete(&key).unwrap();
                oracle.remove(&key);
            }
            if i % commit_every == 0 {
                m.commit().unwrap();
            }
        }
        m.close().unwrap();
        drop((m, s));
        std::fs::remove_dir_all(dir.path().join("state")).unwrap();
        let (_m, s, summary) = open_kv(&cfg, cache);
        prop_assert_eq!(summary.full.clone(), vec!["counts".to_string()]);
        prop_assert_eq!(contents(&s), oracle.clone());
        // The memory backend rebuilds the same state from the same changelog.
        let mem = config(dir.path(), &log, BackendKind::Memory);
        let (_m2, s2, _) = open_kv(&StateManagerConfig { task_dir: dir.path().join("mem"), ..mem }, cache);
        prop_assert_eq!(contents(&s2), oracle);
    }
}

#[derive(Default)]
struct Recorder(Vec<RestoreProgress>);

impl RestoreListener for Recorder {
    fn on_progress(&mut self, p: &RestoreProgress) {
        self.0.push(p.clone());
    }
}

#[test]
fn checkpoint_then_tail_restore_replays_only_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    let cfg = config(dir.path(), &log, BackendKind::RocksDb);
    let (mut m, s, _) = open_kv(&cfg, 0);
    for i in 0..100u32 {
        s.put(format!("k{i}").as_bytes(), b"v1").unwrap();
    }
    m.commit().unwrap();
    let topic = changelog_topic("app", "counts");
    assert_eq!(m.checkpointed_offsets().get(&(topic.clone(), 0)), Some(&100));
    // 30 more writes reach the changelog, then the task dies without a
    // commit (no checkpoint update, memtables possibly lost: no WAL).
    for i in 0..30u32 {
        s.put(format!("k{i}").as_bytes(), b"v2").unwrap();
    }
    drop((m, s));
    let mut m = StateManager::open(cfg.clone()).unwrap();
    assert_eq!(m.wipe_reason(), None, "a valid checkpoint keeps local state");
    let s = m.key_value_store(kv_spec(0)).unwrap();
    let mut rec = Recorder::default();
    let summary = m.restore(&mut rec).unwrap();
    assert_eq!(summary.tail, vec!["counts".to_string()]);
    assert_eq!(summary.records, 30, "only the changelog tail past the checkpoint is replayed");
    let last = rec.0.last().unwrap();
    assert!(last.done && last.start_offset == 100 && last.end_offset == 130 && last.records == 30);
    assert_eq!(s.get(b"k0").unwrap(), Some(Bytes::from_static(b"v2")));
    assert_eq!(s.get(b"k99").unwrap(), Some(Bytes::from_static(b"v1")));
    assert_eq!(m.checkpointed_offsets().get(&(topic, 0)), Some(&130), "restore checkpoints its end");
}

#[test]
fn corrupt_checkpoint_leads_to_full_restore_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    let cfg = config(dir.path(), &log, BackendKind::RocksDb);
    let (mut m, s, _) = open_kv(&cfg, 0);
    s.put(b"a", b"1").unwrap();
    s.put(b"b", b"2").unwrap();
    m.close().unwrap();
    drop((m, s));
    let ck = cfg.task_dir.join(".checkpoint");
    let mut bytes = std::fs::read(&ck).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0x20;
    std::fs::write(&ck, bytes).unwrap();
    let mut m = StateManager::open(cfg.clone()).unwrap();
    assert!(m.wipe_reason().unwrap().contains("corrupt checkpoint"), "{:?}", m.wipe_reason());
    let s = m.key_value_store(kv_spec(0)).unwrap();
    let summary = m.restore(&mut LoggingRestoreListener).unwrap();
    assert_eq!((summary.records, summary.full.len()), (2, 1));
    assert_eq!(s.get(b"b").unwrap(), Some(Bytes::from_static(b"2")));
}

#[test]
fn corrupt_database_leads_to_full_restore_never_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    let cfg = config(dir.path(), &log, BackendKind::RocksDb);
    let (mut m, s, _) = open_kv(&cfg, 0);
    for i in 0..50u32 {
        s.put(format!("k{i}").as_bytes(), &i.to_be_bytes()).unwrap();
    }
    m.close().unwrap();
    drop((m, s));
    // Garble RocksDB's manifest pointer and every SST file.
    let db = cfg.task_dir.join("rocksdb");
    std::fs::write(db.join("CURRENT"), b"MANIFEST-999999\n").unwrap();
    for e in std::fs::read_dir(&db).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "sst") {
            std::fs::write(e.path(), b"not an sst file").unwrap();
        }
    }
    let mut m = StateManager::open(cfg.clone()).unwrap();
    assert!(m.wipe_reason().unwrap().contains("does not open"), "{:?}", m.wipe_reason());
    let s = m.key_value_store(kv_spec(0)).unwrap();
    let summary = m.restore(&mut LoggingRestoreListener).unwrap();
    assert_eq!(summary.records, 50);
    assert_eq!(s.get(b"k7").unwrap(), Some(Bytes::copy_from_slice(&7u32.to_be_bytes())));
}

#[test]
fn missing_checkpoint_with_a_database_wipes_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    let cfg = config(dir.path(), &log, BackendKind::RocksDb);
    let (mut m, s, _) = open_kv(&cfg, 0);
    s.put(b"a", b"1").unwrap();
    m.close().unwrap();
    drop((m, s));
    std::fs::remove_file(cfg.task_dir.join(".checkpoint")).unwrap();
    let (m, s, summary) = open_kv(&cfg, 0);
    assert!(m.wipe_reason().unwrap().contains("no checkpoint"));
    assert_eq!((summary.records, s.get(b"a").unwrap()), (1, Some(Bytes::from_static(b"1"))));
}

#[test]
fn window_retention_drops_exactly_the_expired_segments() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    let cfg = config(dir.path(), &log, BackendKind::RocksDb);
    let mut m = StateManager::open(cfg.clone()).unwrap();
    let spec = WindowSpec {
        name: "w".into(),
        retention_ms: 5_000,
        segment_interval_ms: Some(1_000),
        retain_duplicates: false,
        cache_bytes: 0,
        logged: true,
    };
    let w = m.window_store(spec.clone()).unwrap();
    m.restore(&mut LoggingRestoreListener).unwrap();
    for t in (0..10_000).step_by(500) {
        w.put(b"k", t, Some(b"v")).unwrap();
    }
    // Stream time 9_500: live segments are those with id >= (9_500 - 5_000) / 1_000 = 4.
    assert_eq!(w.segment_ids(), vec![4, 5, 6, 7, 8, 9]);
    let starts: Vec<i64> = w.fetch_range(b"k", 0, 20_000).unwrap().into_iter().map(|(t, _)| t).collect();
    assert_eq!(starts, (4_000..10_000).step_by(500).collect::<Vec<_>>());
    // The dropped segments are gone from RocksDB too, and a restart keeps it so.
    m.close().unwrap();
    drop((m, w));
    let mut m = StateManager::open(cfg).unwrap();
    let w = m.window_store(spec).unwrap();
    m.restore(&mut LoggingRestoreListener).unwrap();
    assert_eq!(w.segment_ids(), vec![4, 5, 6, 7, 8, 9]);
    assert_eq!(w.fetch_range(b"k", 0, 3_999).unwrap(), vec![]);
}

#[test]
fn read_only_handles_read_while_the_owner_writes() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    let cfg = config(dir.path(), &log, BackendKind::RocksDb);
    let (mut m, s, _) = open_kv(&cfg, 1 << 16);
    let reader: Arc<dyn ReadOnlyKeyValueStore> = s.clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let r = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // The writer always writes "a" and "b" together with equal values.
                let all = reader.all().unwrap();
                if all.len() == 2 {
                    assert_eq!(all[0].1, all[1].1, "a read saw half of a batch");
                }
                reads += 1;
            }
            reads
        })
    };
    for i in 0..2_000u32 {
        let v = Bytes::copy_from_slice(&i.to_be_bytes());
        s.put_all(&[(Bytes::from_static(b"a"), v.clone()), (Bytes::from_static(b"b"), v)]).unwrap();
        if i % 100 == 0 {
            m.commit().unwrap();
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(r.join().unwrap() > 0);
}
