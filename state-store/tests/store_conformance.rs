//! One conformance suite per store trait, run against both backends
//! (RocksDB and memory) and with the cache on and off: every combination
//! must give the same answers.

use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;
use riffle_log::{Log, LogClient, LogConfig};
use riffle_state::{
    BackendKind, KeyValueSpec, KeyValueStore, LoggingRestoreListener, ReadOnlyKeyValueStore, ReadOnlySessionStore,
    ReadOnlyWindowStore, SessionSpec, SessionStore, SessionWindow, StateError, StateManager, StateManagerConfig,
    StateMemory, StateStore, WindowSpec, WindowStore,
};

/// Fields drop in declaration order: the stores and the log close before
/// their directory is deleted.
struct Fixture {
    manager: StateManager,
    _log: Log,
    _dir: tempfile::TempDir,
}

fn fixture(backend: BackendKind) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path().join("log"), LogConfig { background_cleaner: false, ..Default::default() }).unwrap();
    let manager = StateManager::open(StateManagerConfig {
        task_dir: dir.path().join("task"),
        application_id: "conformance".into(),
        partition: 0,
        changelog_partitions: 1,
        backend,
        memory: StateMemory::new(32 << 20),
        log: Some(Arc::new(log.clone()) as Arc<dyn LogClient>),
    })
    .unwrap();
    Fixture { manager, _log: log, _dir: dir }
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn kv_contract(backend: BackendKind, cache_bytes: usize) {
    let mut f = fixture(backend);
    let s = f.manager.key_value_store(KeyValueSpec { name: "kv".into(), cache_bytes, logged: true }).unwrap();
    f.manager.restore(&mut LoggingRestoreListener).unwrap();
    assert_eq!(s.get(b"missing").unwrap(), None);
    s.put(b"b", b"2").unwrap();
    s.put(b"a", b"1").unwrap();
    s.put_all(&[(b("c"), b("3")), (b("ab"), b("12")), (b("a\0"), b("nul"))]).unwrap();
    s.put(b"b", b"two").unwrap();
    assert_eq!(s.get(b"b").unwrap(), Some(b("two")), "overwrite");
    let keys = |v: Vec<(Bytes, Bytes)>| v.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
    assert_eq!(keys(s.all().unwrap()), vec![b("a"), b("a\0"), b("ab"), b("b"), b("c")], "all in key order");
    assert_eq!(keys(s.range(b"a\0", b"b").unwrap()), vec![b("a\0"), b("ab"), b("b")], "inclusive range");
    assert!(s.range(b"c", b"a").unwrap().is_empty(), "inverted range is empty");
    assert_eq!(keys(s.prefix_scan(b"a").unwrap()), vec![b("a"), b("a\0"), b("ab")]);
    assert_eq!(s.delete(b"a").unwrap(), Some(b("1")), "delete returns the old value");
    assert_eq!(s.delete(b"a").unwrap(), None);
    assert_eq!(s.get(b"a").unwrap(), None);
    assert_eq!(keys(s.prefix_scan(b"a").unwrap()), vec![b("a\0"), b("ab")]);
    s.flush().unwrap();
    let approx = s.approximate_num_entries().unwrap() as i64;
    assert!((approx - 4).abs() <= 2, "approximate count after flush: {approx} for 4 entries");
    assert_eq!(s.get(b"ab").unwrap(), Some(b("12")), "reads after flush");
    s.close().unwrap();
    s.close().unwrap();
    assert!(!s.is_open());
    assert!(matches!(s.get(b"ab"), Err(StateError::Closed { .. })));
}

fn window_contract(backend: BackendKind, cache_bytes: usize) {
    let mut f = fixture(backend);
    let spec = WindowSpec {
        name: "win".into(),
        retention_ms: 10_000,
        segment_interval_ms: Some(2_000),
        retain_duplicates: false,
        cache_bytes,
        logged: true,
    };
    let w = f.manager.window_store(spec).unwrap();
    f.manager.restore(&mut LoggingRestoreListener).unwrap();
    for (k, t, v) in [("k", 0, "a"), ("k", 1_000, "b"), ("k", 5_000, "c"), ("k2", 1_000, "x"), ("k\0", 1_000, "z")] {
        w.put(k.as_bytes(), t, Some(v.as_bytes())).unwrap();
    }
    w.put(b"k", 1_000, Some(b"b2")).unwrap();
    assert_eq!(w.fetch(b"k", 1_000).unwrap(), Some(b("b2")));
    assert_eq!(w.fetch(b"k", 2_000).unwrap(), None);
    assert_eq!(
        w.fetch_range(b"k", 0, 5_000).unwrap(),
        vec![(0, b("a")), (1_000, b("b2")), (5_000, b("c"))],
        "one key's windows in time order, no other key mixed in"
    );
    assert_eq!(w.fetch_range(b"k", 500, 4_999).unwrap(), vec![(1_000, b("b2"))]);
    let kr = w.fetch_key_range(b"k", b"k2", 1_000, 1_000).unwrap();
    assert_eq!(kr.iter().map(|e| (e.key.clone(), e.value.clone())).collect::<Vec<_>>(), vec![
        (b("k"), b("b2")),
        (b("k\0"), b("z")),
        (b("k2"), b("x"))
    ]);
    w.put(b"k", 0, None).unwrap();
    assert_eq!(w.fetch(b"k", 0).unwrap(), None, "null put deletes");
    assert_eq!(w.all().unwrap().len(), 4);
    // Advance stream time far enough that everything before 20_000 - 10_000 expires.
    w.put(b"late", 20_000, Some(b"now")).unwrap();
    w.flush().unwrap();
    assert_eq!(w.fetch_range(b"k", 0, 9_999).unwrap(), vec![], "expired windows are gone");
    w.put(b"k", 1_000, Some(b"too-late")).unwrap();
    assert_eq!(w.fetch(b"k", 1_000).unwrap(), None, "puts behind retention are ignored");
    assert_eq!(w.retention_ms(), 10_000);
}

fn window_duplicates(backend: BackendKind) {
    let mut f = fixture(backend);
    let spec = WindowSpec {
        name: "join-buffer".into(),
        retention_ms: 60_000,
        segment_interval_ms: None,
        retain_duplicates: true,
        cache_bytes: 0,
        logged: true,
    };
    let w = f.manager.window_store(spec).unwrap();
    w.put(b"k", 100, Some(b"1")).unwrap();
    w.put(b"k", 100, Some(b"2")).unwrap();
    w.put(b"k", 100, None).unwrap();
    assert_eq!(w.fetch_range(b"k", 0, 200).unwrap(), vec![(100, b("1")), (100, b("2"))]);
}

fn session_contract(backend: BackendKind, cache_bytes: usize) {
    let mut f = fixture(backend);
    let spec = SessionSpec { name: "sessions".into(), retention_ms: 100_000, cache_bytes, logged: true };
    let s = f.manager.session_store(spec).unwrap();
    f.manager.restore(&mut LoggingRestoreListener).unwrap();
    let w = |start, end| SessionWindow { start, end };
    s.put(b"u", w(0, 10), b"a").unwrap();
    s.put(b"u", w(20, 30), b"b").unwrap();
    s.put(b"u", w(100, 100), b"c").unwrap();
    s.put(b"v", w(5, 25), b"other").unwrap();
    let found = |e: i64, l: i64| {
        s.find_sessions(b"u", e, l).unwrap().into_iter().map(|x| (x.window.start, x.window.end)).collect::<Vec<_>>()
    };
    assert_eq!(found(5, 25), vec![(0, 10), (20, 30)], "overlap [5, 25]");
    assert_eq!(found(11, 19), vec![], "gap between sessions");
    assert_eq!(found(30, 200), vec![(20, 30), (100, 100)]);
    assert_eq!(s.fetch_session(b"u", w(20, 30)).unwrap(), Some(b("b")));
    s.remove(b"u", w(20, 30)).unwrap();
    assert_eq!(s.fetch_session(b"u", w(20, 30)).unwrap(), None);
    assert_eq!(s.fetch(b"u").unwrap().len(), 2);
    assert_eq!(s.fetch(b"v").unwrap()[0].value, b("other"));
    assert!(s.put(b"u", w(10, 5), b"x").is_err(), "end before start is refused");
}

macro_rules! suite {
    ($($name:ident: $f:expr;)*) => {$(
        #[test]
        fn $name() {
            $f
        }
    )*};
}

suite! {
    kv_rocksdb_uncached: kv_contract(BackendKind::RocksDb, 0);
    kv_rocksdb_cached: kv_contract(BackendKind::RocksDb, 1 << 20);
    kv_rocksdb_tiny_cache: kv_contract(BackendKind::RocksDb, 150);
    kv_memory_uncached: kv_contract(BackendKind::Memory, 0);
    kv_memory_cached: kv_contract(BackendKind::Memory, 1 << 20);
    window_rocksdb_uncached: window_contract(BackendKind::RocksDb, 0);
    window_rocksdb_cached: window_contract(BackendKind::RocksDb, 1 << 20);
    window_memory_uncached: window_contract(BackendKind::Memory, 0);
    window_memory_cached: window_contract(BackendKind::Memory, 1 << 20);
    window_duplicates_rocksdb: window_duplicates(BackendKind::RocksDb);
    window_duplicates_memory: window_duplicates(BackendKind::Memory);
    session_rocksdb_uncached: session_contract(BackendKind::RocksDb, 0);
    session_rocksdb_cached: session_contract(BackendKind::RocksDb, 1 << 20);
    session_memory_uncached: session_contract(BackendKind::Memory, 0);
    session_memory_cached: session_contract(BackendKind::Memory, 1 << 20);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random operations give the same reads on RocksDB and memory, cached
    /// or not, as on a BTreeMap oracle.
    #[test]
    fn backends_agree_with_an_oracle(ops in proptest::collection::vec((0u8..3, 0u8..20, any::<u8>()), 1..200)) {
        let mut oracle = std::collections::BTreeMap::new();
        // Declared last, dropped first: store handles close before their fixtures.
        let mut fixtures = Vec::new();
        let mut stores = Vec::new();
        for (backend, cache) in [(BackendKind::RocksDb, 0), (BackendKind::RocksDb, 300), (BackendKind::Memory, 0), (BackendKind::Memory, 300)] {
            let mut f = fixture(backend);
            stores.push(f.manager.key_value_store(KeyValueSpec { name: "kv".into(), cache_bytes: cache, logged: true }).unwrap());
            fixtures.push(f);
        }
        for (op, k, v) in ops {
            let key = vec![b'k', k];
            match op {
                0 | 1 => { oracle.insert(key.clone(), vec![v]); for s in &stores { s.put(&key, &[v]).unwrap(); } }
                _ => { oracle.remove(&key); for s in &stores { s.delete(&key).unwrap(); } }
            }
        }
        let expected: Vec<(Bytes, Bytes)> = oracle.into_iter().map(|(k, v)| (Bytes::from(k), Bytes::from(v))).collect();
        for s in &stores {
            prop_assert_eq!(&s.all().unwrap(), &expected);
        }
    }
}
