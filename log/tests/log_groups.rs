//! Consumer groups end to end through [`Consumer`]: assignment, rebalances
//! on join, leave and session expiry (range and cooperative-sticky), and
//! committed offsets that survive a restart and resume consumption exactly.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use riffle_log::consumer::Assignor;
use riffle_log::group::CoordinatorConfig;
use riffle_log::topic::TopicPartition;
use riffle_log::{
    AppendOptions, Consumer, ConsumerConfig, ConsumerRecord, Log, LogConfig, OffsetReset, Record, TopicConfig,
    OFFSETS_TOPIC,
};

const PARTITIONS: i32 = 6;

fn open(dir: &Path) -> Log {
    let group = CoordinatorConfig {
        initial_rebalance_delay: Duration::ZERO,
        min_session_timeout: Duration::from_millis(100),
        ..Default::default()
    };
    Log::open(dir, LogConfig { background_cleaner: false, group, ..Default::default() }).expect("open log")
}

fn consumer_config(group: &str, assignor: Assignor) -> ConsumerConfig {
    ConsumerConfig {
        auto_offset_reset: OffsetReset::Earliest,
        enable_auto_commit: false,
        session_timeout: Duration::from_secs(1),
        heartbeat_interval: Duration::from_millis(100),
        rebalance_timeout: Duration::from_secs(5),
        assignors: vec![assignor],
        ..ConsumerConfig::group(group)
    }
}

fn all_partitions(topic: &str) -> BTreeSet<TopicPartition> {
    (0..PARTITIONS).map(|p| TopicPartition::new(topic, p)).collect()
}

/// A consumer polling in its own task, publishing its assignment.
struct Poller {
    assignment: Arc<Mutex<BTreeSet<TopicPartition>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<(Consumer, Vec<ConsumerRecord>)>,
}

impl Poller {
    fn start(mut consumer: Consumer) -> Self {
        let assignment = Arc::new(Mutex::new(BTreeSet::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let task = {
            let (assignment, stop) = (assignment.clone(), stop.clone());
            tokio::spawn(async move {
                let mut got = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let recs = consumer.poll(Duration::from_millis(50)).await.expect("poll");
                    got.extend(recs);
                    *assignment.lock().unwrap() = consumer.assignment().into_iter().collect();
                }
                (consumer, got)
            })
        };
        Poller { assignment, stop, task }
    }

    fn assigned(&self) -> BTreeSet<TopicPartition> {
        self.assignment.lock().unwrap().clone()
    }

    /// Stops polling and hands the consumer back (still a group member).
    async fn stop(self) -> (Consumer, Vec<ConsumerRecord>) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("poller task")
    }
}

async fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn produce(log: &Log, topic: &str, per_partition: i64) {
    for p in 0..PARTITIONS {
        let part = log.partition(topic, p).unwrap();
        for i in 0..per_partition {
            part.append(&[Record::keyed(format!("p{p}"), format!("{p}-{i}"))], &AppendOptions::default()).unwrap();
        }
    }
}

fn split_is_exact(a: &BTreeSet<TopicPartition>, b: &BTreeSet<TopicPartition>, topic: &str) -> bool {
    !a.is_empty() && !b.is_empty() && a.is_disjoint(b) && a.union(b).cloned().collect::<BTreeSet<_>>() == all_partitions(topic)
}

async fn members_split_and_recombine(assignor: Assignor) {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("t", TopicConfig::with_partitions(PARTITIONS)).unwrap();
    produce(&log, "t", 5);
    let group = format!("g-{assignor:?}");

    let mut a = Consumer::new(&log, consumer_config(&group, assignor));
    a.subscribe(&["t"]).unwrap();
    let a = Poller::start(a);
    wait_until("the only member owns every partition", Duration::from_secs(10), || a.assigned() == all_partitions("t")).await;

    let mut b = Consumer::new(&log, consumer_config(&group, assignor));
    b.subscribe(&["t"]).unwrap();
    let b = Poller::start(b);
    wait_until("two members split the partitions", Duration::from_secs(10), || {
        split_is_exact(&a.assigned(), &b.assigned(), "t")
    })
    .await;
    // Stays split (no flapping) while both keep polling.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (sa, sb) = (a.assigned(), b.assigned());
    assert!(split_is_exact(&sa, &sb, "t"), "{sa:?} / {sb:?}");
    assert_eq!((sa.len(), sb.len()), (3, 3), "balanced");
    let desc = log.groups().describe_group(&group).expect("group exists");
    assert_eq!(desc.members.len(), 2);

    // B leaves cleanly: A gets everything.
    let (mut b, _) = b.stop().await;
    b.close().unwrap();
    wait_until("the remaining member owns every partition", Duration::from_secs(10), || {
        a.assigned() == all_partitions("t")
    })
    .await;
    assert_eq!(log.groups().describe_group(&group).unwrap().members.len(), 1);
    let (mut a, got) = a.stop().await;
    // Every record was read at least once, and each partition's records in order.
    let seen: BTreeSet<(i32, i64)> = got.iter().map(|r| (r.partition, r.offset)).collect();
    assert_eq!(seen.len(), (PARTITIONS * 5) as usize);
    a.close().unwrap();
    log.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_members_split_partitions_and_take_over_on_leave() {
    members_split_and_recombine(Assignor::Range).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_sticky_members_split_partitions_and_take_over_on_leave() {
    members_split_and_recombine(Assignor::CooperativeSticky).await;
}

async fn a_silent_member_is_replaced_after_its_session_timeout(assignor: Assignor) {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    log.create_topic("t", TopicConfig::with_partitions(PARTITIONS)).unwrap();
    let group = format!("silent-{assignor:?}");
    let mut a = Consumer::new(&log, consumer_config(&group, assignor));
    a.subscribe(&["t"]).unwrap();
    let a = Poller::start(a);
    let mut b = Consumer::new(&log, consumer_config(&group, assignor));
    b.subscribe(&["t"]).unwrap();
    let b = Poller::start(b);
    wait_until("two members split the partitions", Duration::from_secs(10), || {
        split_is_exact(&a.assigned(), &b.assigned(), "t")
    })
    .await;
    // B stops polling but stays alive (no leave): only its session can expire.
    let (b, _) = b.stop().await;
    let stopped = Instant::now();
    wait_until("the live member owns every partition", Duration::from_secs(10), || a.assigned() == all_partitions("t")).await;
    let took = stopped.elapsed();
    assert!(took >= Duration::from_millis(700), "taken over after {took:?}, before the 1 s session timeout");
    let desc = log.groups().describe_group(&group).unwrap();
    assert_eq!(desc.members.len(), 1, "the silent member was removed");
    drop(b);
    let (mut a, _) = a.stop().await;
    a.close().unwrap();
    log.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_silent_member_dies_after_session_timeout() {
    a_silent_member_is_replaced_after_its_session_timeout(Assignor::Range).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_sticky_silent_member_dies_after_session_timeout() {
    a_silent_member_is_replaced_after_its_session_timeout(Assignor::CooperativeSticky).await;
}

/// Polls until `n` records arrived (or panics after a while).
async fn poll_n(c: &mut Consumer, n: usize) -> Vec<ConsumerRecord> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = Vec::new();
    while out.len() < n {
        assert!(Instant::now() < deadline, "only {} of {n} records arrived", out.len());
        out.extend(c.poll(Duration::from_millis(100)).await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_survive_a_restart_and_show_as_lag() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = open(dir.path());
        log.create_topic("t", TopicConfig::with_partitions(PARTITIONS)).unwrap();
        produce(&log, "t", 10);
        let mut c = Consumer::new(&log, consumer_config("g", Assignor::Range));
        c.subscribe(&["t"]).unwrap();
        let got = poll_n(&mut c, (PARTITIONS * 10) as usize).await;
        assert_eq!(got.len(), (PARTITIONS * 10) as usize);
        // Commit 4 of partition 0, 7 of partition 1, all of the rest.
        let mut offsets = vec![(TopicPartition::new("t", 0), 4), (TopicPartition::new("t", 1), 7)];
        offsets.extend((2..PARTITIONS).map(|p| (TopicPartition::new("t", p), 10)));
        c.commit_offsets(offsets).unwrap();
        assert_eq!(c.committed(&TopicPartition::new("t", 1)), Some(7));
        c.close().unwrap();
        produce(&log, "t", 2);
        log.close().unwrap();
    }
    let log = open(dir.path());
    assert!(log.partition(OFFSETS_TOPIC, 0).unwrap().high_watermark() > 0, "commits are stored in {OFFSETS_TOPIC}");
    let lag = log.group_lag("g");
    assert_eq!(lag.len(), PARTITIONS as usize);
    for l in lag {
        let committed = match l.partition.partition {
            0 => 4,
            1 => 7,
            _ => 10,
        };
        assert_eq!(l.committed, committed, "{}", l.partition);
        assert_eq!(l.high_watermark, Some(12));
        assert_eq!(l.lag, Some(12 - committed));
    }
    assert!(log.group_lag("nobody").is_empty());
    log.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_consumer_resumes_exactly_after_the_committed_records() {
    let dir = tempfile::tempdir().unwrap();
    let total = (PARTITIONS * 20) as usize;
    let log = open(dir.path());
    log.create_topic("t", TopicConfig::with_partitions(PARTITIONS)).unwrap();
    produce(&log, "t", 20);
    for assignor in [Assignor::Range, Assignor::CooperativeSticky] {
        let group = format!("resume-{assignor:?}");
        let config = ConsumerConfig { max_poll_records: 25, ..consumer_config(&group, assignor) };
        let mut seen: Vec<(i32, i64, Vec<u8>)> = Vec::new();
        // Several consumers in turn, each reading a few polls, committing and closing.
        let mut rounds = 0;
        while seen.len() < total {
            rounds += 1;
            assert!(rounds < 50, "no progress");
            let mut c = Consumer::new(&log, config.clone());
            c.subscribe(&["t"]).unwrap();
            let recs = poll_n(&mut c, 1).await;
            assert!(recs.len() <= 25);
            seen.extend(recs.iter().map(|r| (r.partition, r.offset, r.value.as_ref().unwrap().to_vec())));
            c.commit().unwrap();
            c.close().unwrap();
        }
        assert!(rounds > 2);
        let unique: BTreeSet<(i32, i64)> = seen.iter().map(|s| (s.0, s.1)).collect();
        assert_eq!(unique.len(), seen.len(), "{group}: a record was delivered twice");
        assert_eq!(seen.len(), total, "{group}: every record exactly once");
        for (p, o, v) in &seen {
            assert_eq!(v, format!("{p}-{o}").as_bytes());
        }
        assert!(log.group_lag(&group).iter().all(|l| l.lag == Some(0)));
    }
    // After a restart, a consumer of the finished group sees nothing old.
    log.close().unwrap();
    drop(log);
    let log = open(dir.path());
    let mut c = Consumer::new(&log, consumer_config("resume-Range", Assignor::Range));
    c.subscribe(&["t"]).unwrap();
    assert!(c.poll(Duration::from_millis(300)).await.unwrap().is_empty());
    log.partition("t", 3).unwrap().append(&[Record::value("3-20")], &AppendOptions::default()).unwrap();
    let recs = poll_n(&mut c, 1).await;
    assert_eq!((recs[0].partition, recs[0].offset), (3, 20));
    c.close().unwrap();
    log.close().unwrap();
}
