//! `riffle perf state`: the state-store stack against raw RocksDB, in one run.
//!
//! 1. raw RocksDB: `WriteBatch` puts of N keys (WAL off, the same memory
//!    budget and column-family options family as the stores use);
//! 2. the full stack (key-value store → changelog append → RocksDB, cache
//!    off): the same N keys in batches of the same size (`put_all`), and a
//!    second run of single `put`s (one changelog append each);
//! 3. random gets, range scans of 100 keys;
//! 4. the local state directory is deleted and the store restored from its
//!    changelog.
//!
//! Peak RSS is read from `/proc/self/status` and compared to the budget.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use bytes::Bytes;
use clap::Args;
use riffle::log::{Log, LogClient, LogConfig};
use riffle_state::{
    BackendKind, KeyValueSpec, KeyValueStore, LoggingRestoreListener, ReadOnlyKeyValueStore, StateManager,
    StateManagerConfig, StateMemory,
};

/// Arguments of `riffle perf state`.
#[derive(Debug, Args)]
pub struct StatePerfArgs {
    /// Directory for the log and the stores (a fresh subdirectory is used).
    #[arg(long, default_value = "./riffle-data")]
    data_dir: PathBuf,
    /// Number of distinct keys.
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Keys per batch for the batched puts (raw and store alike).
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// The RocksDB memory budget (block cache + memtables), in MiB.
    #[arg(long, default_value_t = 256)]
    memory_mb: usize,
    /// Single `put` calls to time (0 = skip).
    #[arg(long, default_value_t = 200_000)]
    single_puts: u64,
    /// Print one JSON object as the last line.
    #[arg(long)]
    json: bool,
}

/// Key `i` of a run: `i ↦ i·m mod n` with `m` coprime to `n` is a
/// permutation of `[0, n)`, so every key is visited once, in a scrambled
/// order.
fn key(i: u64, n: u64) -> Vec<u8> {
    key_number(scramble(i, n))
}

fn key_number(j: u64) -> Vec<u8> {
    format!("key-{j:012}").into_bytes()
}

fn scramble(i: u64, n: u64) -> u64 {
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    let n = n.max(1);
    let mut m = (0x9E37_79B9_7F4A_7C15u64 % n) | 1;
    while gcd(m, n) != 1 {
        m += 2;
    }
    ((i % n) as u128 * m as u128 % n as u128) as u64
}

fn rss_kb(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()
}

fn rate(n: u64, started: Instant) -> f64 {
    n as f64 / started.elapsed().as_secs_f64().max(1e-9)
}

fn raw_rocksdb_puts(dir: &Path, args: &StatePerfArgs, memory: &StateMemory, value: &[u8]) -> anyhow::Result<f64> {
    let opts = riffle_state::rocksdb::db_options(memory);
    let db = rocksdb::DB::open(&opts, dir).context("opening the raw RocksDB baseline")?;
    let mut wo = rocksdb::WriteOptions::default();
    wo.disable_wal(true);
    let started = Instant::now();
    let mut i = 0;
    while i < args.keys {
        let mut wb = rocksdb::WriteBatch::default();
        for j in i..(i + args.batch as u64).min(args.keys) {
            wb.put(key(j, args.keys), value);
        }
        db.write_opt(wb, &wo)?;
        i += args.batch as u64;
    }
    Ok(rate(args.keys, started))
}

/// Runs the benchmark.
///
/// # Errors
/// Store or log errors.
pub fn run(args: StatePerfArgs) -> anyhow::Result<()> {
    let root = args.data_dir.join(format!("perf-state-{:08x}", rand::random::<u32>()));
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let memory = StateMemory::new(args.memory_mb << 20);
    let value = vec![b'v'; args.value_size];
    let say = |s: String| {
        if !args.json {
            println!("{s}  [rss {} MiB, cache {} MiB]", rss_kb("VmRSS:").unwrap_or(0) / 1024, memory.usage() >> 20);
        }
    };

    let raw = raw_rocksdb_puts(&root.join("raw"), &args, &memory, &value)?;
    say(format!("raw RocksDB WriteBatch puts: {raw:>12.0} /s"));

    let log = Log::open(root.join("log"), LogConfig { background_cleaner: false, ..Default::default() })?;
    let cfg = StateManagerConfig {
        task_dir: root.join("state").join("0_0"),
        application_id: "perf".into(),
        partition: 0,
        changelog_partitions: 1,
        backend: BackendKind::RocksDb,
        memory: memory.clone(),
        log: Some(Arc::new(log.clone()) as Arc<dyn LogClient>),
    };
    let spec = KeyValueSpec { name: "store".into(), cache_bytes: 0, logged: true };
    let mut m = StateManager::open(cfg.clone())?;
    let store = m.key_value_store(spec.clone())?;
    m.restore(&mut LoggingRestoreListener)?;
    let v = Bytes::from(value.clone());
    let started = Instant::now();
    let mut i = 0;
    while i < args.keys {
        let batch: Vec<(Bytes, Bytes)> =
            (i..(i + args.batch as u64).min(args.keys)).map(|j| (Bytes::from(key(j, args.keys)), v.clone())).collect();
        store.put_all(&batch)?;
        i += args.batch as u64;
    }
    m.commit()?;
    let put = rate(args.keys, started);
    say(format!("store puts (changelog + RocksDB, batches of {}): {put:>12.0} /s ({:.0}% of raw)", args.batch, 100.0 * put / raw));

    let started = Instant::now();
    for j in 0..args.single_puts {
        store.put(&key(j, args.keys), &value)?;
    }
    let single = rate(args.single_puts, started);
    if args.single_puts > 0 {
        say(format!("store single puts (one changelog append each): {single:>12.0} /s"));
    }

    let gets = args.keys.min(1_000_000);
    let started = Instant::now();
    let mut found = 0u64;
    for j in 0..gets {
        found += u64::from(store.get(&key(j.wrapping_mul(7), args.keys))?.is_some());
    }
    let get = rate(gets, started);
    anyhow::ensure!(found == gets, "only {found} of {gets} keys were found");
    say(format!("store gets: {get:>12.0} /s"));

    let scans = 10_000u64;
    let started = Instant::now();
    let mut entries = 0u64;
    for j in 0..scans {
        let first = scramble(j, args.keys.saturating_sub(100).max(1));
        entries += store.range(&key_number(first), &key_number(first + 99))?.len() as u64;
    }
    let scan = rate(scans, started);
    anyhow::ensure!(entries == scans * 100.min(args.keys), "range scans returned {entries} entries");
    say(format!("store range scans of 100 keys: {scan:>12.0} /s ({:.0} entries/s)", rate(entries, started)));
    m.close()?;
    drop((m, store));

    std::fs::remove_dir_all(root.join("state")).context("deleting local state")?;
    let mut m = StateManager::open(cfg)?;
    let store = m.key_value_store(spec)?;
    let started = Instant::now();
    let summary = m.restore(&mut LoggingRestoreListener)?;
    let restore = rate(summary.records, started);
    anyhow::ensure!(store.get(&key(1, args.keys))?.is_some(), "restore lost data");
    say(format!("restore of {} changelog records: {restore:>12.0} /s", summary.records));
    m.close()?;
    log.close()?;

    let peak_mb = rss_kb("VmHWM:").unwrap_or(0) as f64 / 1024.0;
    say(format!("peak RSS {peak_mb:.0} MiB with a {} MiB RocksDB budget ({:.2}x)", args.memory_mb, peak_mb / args.memory_mb as f64));
    let json = serde_json::json!({
        "command": "state",
        "keys": args.keys,
        "value_size": args.value_size,
        "batch": args.batch,
        "raw_rocksdb_put_per_s": raw,
        "put_per_s": put,
        "put_ratio": put / raw,
        "single_put_per_s": single,
        "get_per_s": get,
        "scan_per_s": scan,
        "restore_per_s": restore,
        "restored_records": summary.records,
        "peak_rss_mb": peak_mb,
        "memory_budget_mb": args.memory_mb,
    });
    std::fs::remove_dir_all(&root).ok();
    if args.json {
        println!("{json}");
    }
    Ok(())
}
