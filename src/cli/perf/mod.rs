//! `riffle perf produce | consume | state | workload | nexmark | kafka`: end-to-end throughput and latency of the
//! embedded log and the state stores, in the spirit of `kafka-producer-perf-test` and
//! `kafka-consumer-perf-test`.
//!
//! Figures use decimal units (1 MB = 10^6 bytes, like `dd`) and count
//! record payload bytes (key + value), not batch overhead. With `--json`
//! the human summary is skipped and the last line on stdout is one JSON
//! object.

mod consume;
mod disk;
#[cfg(feature = "kafka-bench")]
mod kafka;
mod latency;
mod nexmark;
mod produce;
mod pull;
mod state;
mod workload;

use clap::Subcommand;

pub use consume::ConsumePerfArgs;
pub use nexmark::NexmarkPerfArgs;
pub use produce::ProducePerfArgs;
pub use pull::PullPerfArgs;
pub use state::StatePerfArgs;
pub use workload::WorkloadPerfArgs;

/// Performance tests.
#[derive(Debug, Subcommand)]
pub enum PerfCommand {
    /// Produce N records of S bytes with one producer; report throughput,
    /// send→ack latency and the disk's direct-IO write rate for comparison.
    Produce(ProducePerfArgs),
    /// Read a whole topic with one consumer; report throughput.
    Consume(ConsumePerfArgs),
    /// State stores: puts through store + changelog vs raw RocksDB, gets,
    /// scans, restore, peak RSS.
    State(StatePerfArgs),
    /// Pull-query key lookups on a large table: in process (latency) and
    /// over the REST API (lookups/s).
    Pull(PullPerfArgs),
    /// The engine end to end on pre-loaded events: W1 (windowed count and
    /// sum per user, emit final) or F1 (filter + project).
    Workload(WorkloadPerfArgs),
    /// Nexmark queries (q0–q5, q7, q8) as ksqlDB SQL on generated
    /// person / auction / bid events; events/s and peak RSS per query.
    Nexmark(NexmarkPerfArgs),
    /// A librdkafka load generator for a Kafka broker (riffle's listener or
    /// any other): produce throughput and end-to-end latency through the
    /// wire protocol. Only in builds with `--features kafka-bench`.
    #[cfg(feature = "kafka-bench")]
    #[command(subcommand)]
    Kafka(kafka::KafkaPerfCommand),
}

/// Runs a perf command.
///
/// # Errors
/// Bad arguments, log errors, records that were not stored.
pub async fn run(cmd: PerfCommand) -> anyhow::Result<()> {
    match cmd {
        PerfCommand::Produce(a) => produce::run(a).await,
        PerfCommand::Consume(a) => consume::run(a).await,
        PerfCommand::State(a) => tokio::task::block_in_place(|| state::run(a)),
        PerfCommand::Pull(a) => pull::run(a).await,
        PerfCommand::Workload(a) => tokio::task::block_in_place(|| workload::run(a)),
        PerfCommand::Nexmark(a) => tokio::task::block_in_place(|| nexmark::run(a)),
        #[cfg(feature = "kafka-bench")]
        PerfCommand::Kafka(c) => kafka::run(c).await,
    }
}

/// Megabytes (10^6 bytes) per second.
fn mb_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs.max(1e-9)
}
