//! Crash test: a child process appends with `Durability::Fsync` and reports
//! every acknowledged record; the parent SIGKILLs it at random moments and
//! checks after each kill that every acknowledged record is there, at its
//! offset, with its content, and that the partition reads back without
//! errors or garbage.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use riffle_log::{decode_batch, AppendOptions, Compression, Durability, Log, LogConfig, Record, TopicConfig};

const DIR_VAR: &str = "RIFFLE_CRASH_TEST_DIR";
const ROUND_VAR: &str = "RIFFLE_CRASH_TEST_ROUND";
const CHILD: &str = "crash_child_appends_until_killed";

fn log_config(durability: Durability) -> LogConfig {
    LogConfig { durability, background_cleaner: false, ..Default::default() }
}

fn topic_config() -> TopicConfig {
    // Small segments, so kills also land around rolls.
    TopicConfig { segment_bytes: 16 * 1024, retention_ms: None, ..TopicConfig::with_partitions(1) }
}

/// A payload whose content can be checked on its own: round, sequence
/// number, a padding length and a checksum of the three.
fn payload(round: u64, seq: u64) -> String {
    let pad = (seq * 37 + round * 11) % 300;
    let sum = round.wrapping_mul(1_000_003) ^ seq.wrapping_mul(7_919) ^ pad;
    format!("{round}:{seq}:{sum}:{}", "p".repeat(pad as usize))
}

fn payload_is_well_formed(s: &str) -> bool {
    let mut it = s.splitn(4, ':');
    let (Some(r), Some(q), Some(sum)) = (it.next(), it.next(), it.next()) else { return false };
    let (Ok(r), Ok(q)) = (r.parse::<u64>(), q.parse::<u64>()) else { return false };
    sum.parse::<u64>().is_ok() && payload(r, q) == s
}

/// The child: does nothing unless started by the parent.
#[test]
#[ignore = "run by crash_kills_lose_no_acknowledged_record as a child process"]
fn crash_child_appends_until_killed() {
    let Ok(dir) = std::env::var(DIR_VAR) else { return };
    let round: u64 = std::env::var(ROUND_VAR).ok().and_then(|r| r.parse().ok()).unwrap_or(0);
    let log = Log::open(&dir, log_config(Durability::Fsync)).expect("child opens the log");
    log.ensure_topic("t", topic_config()).expect("topic");
    let p = log.partition("t", 0).expect("partition");
    let stdout = std::io::stdout();
    let codecs = [Compression::None, Compression::Lz4, Compression::Zstd, Compression::Snappy, Compression::Gzip];
    let started = Instant::now();
    let mut seq = 0u64;
    while started.elapsed() < Duration::from_secs(60) {
        let n = 1 + (seq % 3) as usize;
        let values: Vec<String> = (0..n as u64).map(|i| payload(round, seq + i)).collect();
        let recs: Vec<Record> = values.iter().map(|v| Record::value(v.clone())).collect();
        let opts = AppendOptions { compression: codecs[(seq % 5) as usize], ..Default::default() };
        let info = p.append(&recs, &opts).expect("append");
        let mut out = stdout.lock();
        for (i, v) in values.iter().enumerate() {
            writeln!(out, "ACK {} {v}", info.base_offset + i as i64).expect("stdout");
        }
        out.flush().expect("flush");
        drop(out);
        seq += n as u64;
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Runs one child until the random kill; returns its acknowledged records.
fn run_child_and_kill(dir: &Path, round: u64, kill_after: Duration) -> Vec<(i64, String)> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", CHILD, "--nocapture", "--include-ignored", "--test-threads=1"])
        .env(DIR_VAR, dir)
        .env(ROUND_VAR, round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stdout = child.stdout.take().unwrap();
    let reader = {
        let acked = acked.clone();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut line = String::new();
            loop {
                line.clear();
                match r.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                // A line cut by the kill (no newline) was not acknowledged to us.
                let Some(l) = line.strip_suffix('\n') else { return };
                if let Some(rest) = l.strip_prefix("ACK ") {
                    let (o, v) = rest.split_once(' ').expect("ack line");
                    acked.lock().unwrap().push((o.parse::<i64>().unwrap(), v.to_string()));
                }
            }
        })
    };
    // Wait for the first acknowledgement, then kill at a random moment.
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "child never acknowledged an append");
        if let Ok(Some(status)) = child.try_wait() {
            panic!("child exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(kill_after);
    child.kill().expect("SIGKILL the child");
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child was killed, not finished");
    reader.join().unwrap();
    let v = acked.lock().unwrap().clone();
    v
}

#[test]
fn crash_kills_lose_no_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ std::process::id() as u64);
    let mut all_acked: Vec<(i64, String)> = Vec::new();
    for round in 0..6 {
        let kill_after = Duration::from_millis(20 + rng.next() % 181);
        let acked = run_child_and_kill(dir.path(), round, kill_after);
        assert!(!acked.is_empty());
        // Offsets continue where the previous round's acknowledged data ended.
        if let (Some(prev), Some(first)) = (all_acked.last(), acked.first()) {
            assert!(first.0 > prev.0, "round {round}: offsets went backwards");
        }
        eprintln!("round {round}: killed after {kill_after:?}, {} records acknowledged", acked.len());
        all_acked.extend(acked);

        let log = Log::open(dir.path(), log_config(Durability::PageCache)).expect("reopen after kill");
        let p = log.partition("t", 0).unwrap();
        let hw = p.high_watermark();
        let last_acked = all_acked.last().unwrap().0;
        assert!(hw > last_acked, "round {round}: hw {hw} lost acknowledged offset {last_acked}");
        // Read the whole partition: no error, no garbage, dense offsets.
        let mut stored = Vec::new();
        let mut offset = 0;
        while offset < hw {
            let f = p.read(offset, 256 * 1024).unwrap_or_else(|e| panic!("round {round}: read at {offset}: {e}"));
            assert!(!f.is_empty());
            for b in f.batches() {
                let (h, recs) = decode_batch(&b).expect("stored batches decode");
                for r in recs.into_iter().filter(|r| r.offset >= offset) {
                    assert_eq!(r.offset, stored.len() as i64, "dense offsets");
                    let v = String::from_utf8(r.value.unwrap().to_vec()).expect("utf-8 payload");
                    assert!(payload_is_well_formed(&v), "round {round}: garbage at {}: {v:?}", r.offset);
                    stored.push(v);
                }
                offset = h.next_offset();
            }
        }
        assert_eq!(stored.len() as i64, hw);
        eprintln!("round {round}: hw {hw}, {} segments", p.segment_count());
        for (o, v) in &all_acked {
            assert_eq!(stored.get(*o as usize), Some(v), "round {round}: acknowledged offset {o}");
        }
        // Alternate clean and unclean hand-over to the next child.
        if round % 2 == 0 {
            log.close().unwrap();
        }
        drop(p);
        drop(log);
    }
    assert!(all_acked.len() > 6);
}
