//! Hot paths of the state stores: key-value put/get on both backends (with
//! and without the changelog), cached writes, and a window fetch.
//!
//! Run: `cargo bench -p riffle-state --bench state_store`.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use riffle_log::{Log, LogClient, LogConfig};
use riffle_state::{
    BackendKind, KeyValueSpec, KeyValueStore, LoggingRestoreListener, ReadOnlyKeyValueStore, ReadOnlyWindowStore,
    StateManager, StateManagerConfig, StateMemory, WindowSpec, WindowStore,
};

fn manager(dir: &std::path::Path, backend: BackendKind, log: Option<&Log>) -> StateManager {
    StateManager::open(StateManagerConfig {
        task_dir: dir.join(format!("{backend:?}-{}", log.is_some())),
        application_id: "bench".into(),
        partition: 0,
        changelog_partitions: 1,
        backend,
        memory: StateMemory::new(128 << 20),
        log: log.map(|l| Arc::new(l.clone()) as Arc<dyn LogClient>),
    })
    .expect("open")
}

fn kv(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path().join("log"), LogConfig { background_cleaner: false, ..Default::default() })
        .expect("log");
    let value = Bytes::from(vec![b'v'; 100]);
    let mut g = c.benchmark_group("kv");
    g.throughput(Throughput::Elements(1000));
    for (backend, logged) in
        [(BackendKind::Memory, false), (BackendKind::RocksDb, false), (BackendKind::RocksDb, true)]
    {
        let mut m = manager(dir.path(), backend, logged.then_some(&log));
        let s = m
            .key_value_store(KeyValueSpec { name: "s".into(), cache_bytes: 0, logged })
            .expect("store");
        m.restore(&mut LoggingRestoreListener).expect("restore");
        let mut n = 0u64;
        g.bench_function(format!("put_all_1000_{backend:?}_logged={logged}"), |b| {
            b.iter(|| {
                let batch: Vec<(Bytes, Bytes)> = (0..1000)
                    .map(|_| {
                        n += 1;
                        (Bytes::from(format!("key-{:010}", n % 200_000)), value.clone())
                    })
                    .collect();
                s.put_all(&batch).expect("put");
            })
        });
        g.bench_function(format!("get_1000_{backend:?}_logged={logged}"), |b| {
            b.iter(|| {
                for i in 0..1000u64 {
                    black_box(s.get(format!("key-{:010}", (i * 7919) % 200_000).as_bytes()).expect("get"));
                }
            })
        });
    }
    let mut m = manager(dir.path(), BackendKind::RocksDb, None);
    let cached = m
        .key_value_store(KeyValueSpec { name: "cached".into(), cache_bytes: 10 << 20, logged: false })
        .expect("store");
    g.bench_function("cached_put_1000_hot_keys", |b| {
        b.iter(|| {
            for i in 0..1000u64 {
                cached.put(format!("k{}", i % 100).as_bytes(), b"1").expect("put");
            }
        })
    });
    g.finish();
}

fn window(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut m = manager(dir.path(), BackendKind::RocksDb, None);
    let w = m
        .window_store(WindowSpec {
            name: "w".into(),
            retention_ms: 3_600_000,
            segment_interval_ms: None,
            retain_duplicates: false,
            cache_bytes: 0,
            logged: false,
        })
        .expect("store");
    for k in 0..1000u32 {
        for t in 0..60 {
            w.put(format!("user-{k}").as_bytes(), t * 60_000, Some(b"count")).expect("put");
        }
    }
    let mut g = c.benchmark_group("window");
    g.bench_function("fetch_one_key_one_hour", |b| {
        let mut k = 0u32;
        b.iter(|| {
            k = (k + 1) % 1000;
            black_box(w.fetch_range(format!("user-{k}").as_bytes(), 0, 3_600_000).expect("fetch"))
        })
    });
    g.finish();
}

criterion_group!(benches, kv, window);
criterion_main!(benches);
