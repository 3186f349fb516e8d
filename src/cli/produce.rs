//! `riffle produce`: the console producer. Each stdin line becomes one
//! record; with `--key-separator` the text before the first separator is
//! the key.

use std::collections::VecDeque;
use std::io::BufRead;

use anyhow::Context as _;
use bytes::Bytes;
use clap::Args;
use riffle_log::{Compression, DeliveryFuture, Log, LogConfig, Producer, ProducerConfig, Record};

use super::{with_log, DataDirArg, DirMode};

/// Arguments of `riffle produce`.
#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// Topic to produce to (it must exist).
    topic: String,
    /// Split each line at the first SEP into key and value.
    #[arg(long, value_name = "SEP")]
    key_separator: Option<String>,
    /// Send every record to this partition (default: by key, or sticky).
    #[arg(long)]
    partition: Option<i32>,
    /// Batch compression.
    #[arg(long, default_value = "none", value_parser = parse_compression)]
    compression: Compression,
    #[command(flatten)]
    dir: DataDirArg,
}

/// Parses a codec name (`none`, `gzip`, `snappy`, `lz4`, `zstd`).
pub fn parse_compression(s: &str) -> Result<Compression, String> {
    Compression::parse(s).ok_or_else(|| format!("unknown compression {s:?}; use none, gzip, snappy, lz4 or zstd"))
}

/// How many deliveries may be outstanding before the oldest is awaited.
const MAX_IN_FLIGHT: usize = 1 << 16;

/// Runs `riffle produce`.
///
/// # Errors
/// Unknown topic or partition, a line without the key separator (nothing
/// after it is sent), a failed delivery, stdin I/O errors.
pub async fn run(args: ProduceArgs) -> anyhow::Result<()> {
    let dir = args.dir.data_dir.clone();
    let (sent, result) = with_log(&dir, DirMode::Existing, LogConfig::default(), |log| async move {
        tokio::task::block_in_place(|| produce_stdin(&log, &args))
    })
    .await?;
    match result {
        Ok(()) => {
            eprintln!("{sent} record(s) produced");
            Ok(())
        }
        Err(e) => Err(anyhow::anyhow!("{e:#} ({sent} record(s) were produced before the error)")),
    }
}

/// Produces every stdin line; returns how many records were acknowledged
/// and the outcome (an early stop still reports the count).
fn produce_stdin(log: &Log, args: &ProduceArgs) -> anyhow::Result<(u64, anyhow::Result<()>)> {
    let topic = log.topic(&args.topic)?;
    if let Some(p) = args.partition {
        log.partition(&args.topic, p)?;
    }
    if args.key_separator.as_deref() == Some("") {
        anyhow::bail!("--key-separator must not be empty");
    }
    let config = ProducerConfig { compression: args.compression, ..ProducerConfig::default() };
    let producer = Producer::new(log, config)?;
    let mut in_flight: VecDeque<DeliveryFuture> = VecDeque::new();
    let mut acked = 0u64;
    let mut outcome = Ok(());
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let n = input.read_until(b'\n', &mut line).context("reading stdin")?;
        if n == 0 {
            break;
        }
        number += 1;
        strip_line_end(&mut line);
        let record = match to_record(&line, args.key_separator.as_deref()) {
            Some(r) => r,
            None => {
                let sep = args.key_separator.as_deref().unwrap_or_default();
                outcome = Err(anyhow::anyhow!(
                    "line {number} has no key separator {sep:?}; every line must look like KEY{sep}VALUE \
                     (fix the line, or drop --key-separator to produce whole lines as values); \
                     nothing from line {number} on was sent"
                ));
                break;
            }
        };
        let sent = match args.partition {
            Some(p) => producer.send_to(topic.name(), p, record),
            None => producer.send(topic.name(), record),
        };
        match sent {
            Ok(f) => in_flight.push_back(f),
            Err(e) => {
                outcome = Err(anyhow::Error::new(e).context(format!("cannot send line {number}")));
                break;
            }
        }
        while in_flight.len() > MAX_IN_FLIGHT || in_flight.front().is_some_and(DeliveryFuture::is_done) {
            if let Some(f) = in_flight.pop_front() {
                settle(f, &mut acked, &mut outcome);
            }
        }
    }
    producer.close()?;
    for f in in_flight {
        settle(f, &mut acked, &mut outcome);
    }
    Ok((acked, outcome))
}

fn settle(f: DeliveryFuture, acked: &mut u64, outcome: &mut anyhow::Result<()>) {
    match f.wait() {
        Ok(_) => *acked += 1,
        Err(e) => {
            if outcome.is_ok() {
                *outcome = Err(anyhow::anyhow!("a record was not stored: {e}"));
            }
        }
    }
}

fn strip_line_end(line: &mut Vec<u8>) {
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
}

/// The record for one line; `None` when a separator is expected but absent.
fn to_record(line: &[u8], separator: Option<&str>) -> Option<Record> {
    let Some(sep) = separator.map(str::as_bytes) else {
        return Some(Record::value(Bytes::copy_from_slice(line)));
    };
    let at = line.windows(sep.len()).position(|w| w == sep)?;
    Some(Record::keyed(Bytes::copy_from_slice(&line[..at]), Bytes::copy_from_slice(&line[at + sep.len()..])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_first_separator() {
        let r = to_record(b"k1:v:1", Some(":")).expect("has separator");
        assert_eq!(r.key.as_deref(), Some(&b"k1"[..]));
        assert_eq!(r.value.as_deref(), Some(&b"v:1"[..]));
        assert!(to_record(b"novalue", Some(":")).is_none());
        assert_eq!(to_record(b"x", None).and_then(|r| r.value).as_deref(), Some(&b"x"[..]));
    }

    #[test]
    fn strips_crlf() {
        let mut l = b"abc\r\n".to_vec();
        strip_line_end(&mut l);
        assert_eq!(l, b"abc");
    }
}
