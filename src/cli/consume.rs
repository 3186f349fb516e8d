//! `riffle consume`: the console consumer. Prints one record per line;
//! with `--group` it joins the consumer group and commits what it printed,
//! so the next run resumes after it.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use riffle_log::{Consumer, ConsumerConfig, ConsumerRecord, IsolationLevel, Log, LogConfig, OffsetReset, TopicPartition};

use super::{with_log, DataDirArg, DirMode};

/// Arguments of `riffle consume`.
#[derive(Debug, Args)]
pub struct ConsumeArgs {
    /// Topic to read.
    topic: String,
    /// Start at the earliest offset when there is no committed one
    /// (default: only records produced from now on).
    #[arg(long, conflicts_with_all = ["offset", "timestamp"])]
    from_beginning: bool,
    /// Start at this offset in every read partition (not with --group).
    #[arg(long, conflicts_with_all = ["timestamp", "group"])]
    offset: Option<i64>,
    /// Start at the first record with a timestamp >= T (ms since the epoch;
    /// not with --group).
    #[arg(long, value_name = "T", conflicts_with = "group")]
    timestamp: Option<i64>,
    /// Consume as a member of this consumer group and commit what is printed.
    #[arg(long, value_name = "G")]
    group: Option<String>,
    /// Read only this partition.
    #[arg(long, value_name = "P")]
    partition: Option<i32>,
    /// Exit after printing this many records.
    #[arg(long, value_name = "N")]
    max_messages: Option<u64>,
    /// Exit after this long without a new record (default: run until Ctrl-C).
    #[arg(long, value_name = "MS")]
    timeout_ms: Option<u64>,
    /// Print the key before the value.
    #[arg(long)]
    print_key: bool,
    /// Separator between key and value with --print-key.
    #[arg(long, value_name = "SEP", default_value = "\t")]
    key_separator: String,
    /// Prefix each line with `Partition:P<TAB>Offset:O<TAB>`.
    #[arg(long)]
    print_offset: bool,
    /// Print committed transactional data only (stop at the last stable
    /// offset, skip aborted transactions), as `isolation.level=read_committed`.
    #[arg(long)]
    read_committed: bool,
    #[command(flatten)]
    dir: DataDirArg,
}

/// Runs `riffle consume`.
///
/// # Errors
/// Unknown topic or partition, group errors, stdout errors.
pub async fn run(args: ConsumeArgs) -> anyhow::Result<()> {
    let dir = args.dir.data_dir.clone();
    let (printed, result) =
        with_log(&dir, DirMode::Existing, LogConfig::default(), |log| async move { consume(&log, &args).await })
            .await?;
    eprintln!("Processed a total of {printed} messages");
    result
}

/// Consumes until a limit is hit; returns how many records were printed
/// and the outcome of the loop (setup errors are the outer error).
async fn consume(log: &Log, args: &ConsumeArgs) -> anyhow::Result<(u64, anyhow::Result<()>)> {
    let mut printed = 0;
    let mut consumer = setup(log, args)?;
    let result = print_loop(&mut consumer, args, &mut printed).await;
    let closed = consumer.close().context("leaving the consumer group");
    Ok((printed, result.and(closed)))
}

fn setup(log: &Log, args: &ConsumeArgs) -> anyhow::Result<Consumer> {
    let topic = log.topic(&args.topic)?;
    let config = ConsumerConfig {
        group_id: args.group.clone(),
        client_id: "riffle-console-consumer".into(),
        auto_offset_reset: if args.from_beginning { OffsetReset::Earliest } else { OffsetReset::Latest },
        // Commits are explicit: exactly what was printed.
        enable_auto_commit: false,
        isolation_level: if args.read_committed { IsolationLevel::ReadCommitted } else { IsolationLevel::ReadUncommitted },
        ..ConsumerConfig::default()
    };
    let mut consumer = Consumer::new(log, config);
    match (&args.group, args.partition) {
        (Some(_), None) => consumer.subscribe(&[topic.name()])?,
        (_, only) => {
            let parts: Vec<TopicPartition> = match only {
                Some(p) => {
                    log.partition(topic.name(), p)?;
                    vec![TopicPartition::new(topic.name(), p)]
                }
                None => (0..topic.partitions().len() as i32).map(|p| TopicPartition::new(topic.name(), p)).collect(),
            };
            consumer.assign(parts.clone())?;
            if let Some(o) = args.offset {
                for tp in &parts {
                    let p = log.partition(&tp.topic, tp.partition)?;
                    let (start, end) = (p.log_start_offset(), p.high_watermark());
                    if !(start..=end).contains(&o) {
                        anyhow::bail!(
                            "--offset {o} is outside {tp} (valid: {start}..={end}); pick an offset in range \
                             or use --from-beginning"
                        );
                    }
                    consumer.seek(tp, o)?;
                }
            }
            if let Some(ts) = args.timestamp {
                consumer.seek_to_timestamp(ts)?;
            }
        }
    }
    Ok(consumer)
}

async fn print_loop(consumer: &mut Consumer, args: &ConsumeArgs, printed: &mut u64) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let idle_limit = args.timeout_ms.map(Duration::from_millis);
    let mut last_record = Instant::now();
    let max = args.max_messages.unwrap_or(u64::MAX);
    while *printed < max {
        let wait = match idle_limit {
            Some(limit) => match limit.checked_sub(last_record.elapsed()) {
                Some(left) => left.min(Duration::from_millis(500)),
                None => break,
            },
            None => Duration::from_millis(500),
        };
        let records = consumer.poll(wait).await?;
        if records.is_empty() {
            continue;
        }
        last_record = Instant::now();
        let mut next: BTreeMap<TopicPartition, i64> = BTreeMap::new();
        let mut out = stdout.lock();
        for r in records.iter().take(usize::try_from(max - *printed).unwrap_or(usize::MAX)) {
            write_record(&mut out, r, args)?;
            next.insert(TopicPartition::new(&*r.topic, r.partition), r.offset + 1);
            *printed += 1;
        }
        out.flush()?;
        drop(out);
        if args.group.is_some() {
            consumer.commit_offsets(next.into_iter().collect()).context("committing offsets")?;
        }
    }
    Ok(())
}

fn write_record(out: &mut impl Write, r: &ConsumerRecord, args: &ConsumeArgs) -> std::io::Result<()> {
    if args.print_offset {
        write!(out, "Partition:{}\tOffset:{}\t", r.partition, r.offset)?;
    }
    if args.print_key {
        out.write_all(r.key.as_deref().unwrap_or(b"null"))?;
        out.write_all(args.key_separator.as_bytes())?;
    }
    out.write_all(r.value.as_deref().unwrap_or(b"null"))?;
    out.write_all(b"\n")
}
