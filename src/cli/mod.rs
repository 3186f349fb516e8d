//! Argument parsing and dispatch for the `riffle` subcommands.
//!
//! Each subcommand lives in its own module; they share only
//! [`DataDirArg`] and [`with_log`], which opens the log, runs the command
//! and closes the log cleanly whatever the command's outcome.

mod broker;
mod consume;
mod groups;
mod perf;
mod produce;
mod qtt;
mod quickstart;
mod rqtt;
mod server;
mod shell;
mod test;
mod topic;

use std::future::Future;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use riffle_log::{Log, LogConfig};

/// Riffle: a Kafka-compatible log, streams engine and SQL in one binary.
#[derive(Debug, Parser)]
#[command(name = "riffle", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// A one-minute tour: create a topic, produce, consume through a group.
    Quickstart(quickstart::QuickstartArgs),
    /// Create, list, describe and delete topics.
    #[command(subcommand)]
    Topic(topic::TopicCommand),
    /// Produce records read from stdin, one per line.
    Produce(produce::ProduceArgs),
    /// Print records of a topic to stdout, one per line.
    Consume(consume::ConsumeArgs),
    /// List and describe consumer groups (offsets and lag).
    #[command(subcommand)]
    Groups(groups::GroupsCommand),
    /// Performance tests in the spirit of kafka-*-perf-test.
    #[command(subcommand)]
    Perf(perf::PerfCommand),
    /// Run the log as a Kafka broker (Kafka wire protocol) until Ctrl-C.
    Broker(broker::BrokerArgs),
    /// Run the server: log, engine and SQL with the ksqlDB-compatible REST
    /// API and the Kafka listener, until Ctrl-C.
    Server(server::ServerArgs),
    /// The SQL shell (like the ksql CLI): against a server with --server,
    /// else embedded on --data-dir.
    Sql(shell::ShellArgs),
    /// Run ksqlDB REST query-validation test files (RQTT) against
    /// in-process servers.
    Rqtt(rqtt::RqttArgs),
    /// Run ksqlDB query-validation test files (QTT) against the SQL layer.
    Qtt(qtt::QttArgs),
    /// Run a SQL script over input records and check the outputs
    /// (ksqlDB's ksql-test-runner).
    Test(test::TestArgs),
}

/// The `--data-dir` option every subcommand takes.
#[derive(Debug, Clone, Args)]
pub struct DataDirArg {
    /// Directory holding the log's topics and group offsets.
    #[arg(long, value_name = "DIR", default_value = "./riffle-data")]
    pub data_dir: PathBuf,
}

/// Runs the parsed command line.
///
/// # Errors
/// Whatever the command fails with; the message says what to do.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Quickstart(a) => quickstart::run(a).await,
        Command::Topic(c) => topic::run(c),
        Command::Produce(a) => produce::run(a).await,
        Command::Consume(a) => consume::run(a).await,
        Command::Groups(c) => groups::run(c),
        Command::Perf(c) => perf::run(c).await,
        Command::Broker(a) => broker::run(a).await,
        Command::Server(a) => server::run(a).await,
        Command::Sql(a) => shell::run(a).await,
        Command::Rqtt(a) => rqtt::run(a).await,
        Command::Qtt(a) => qtt::run(a).await,
        Command::Test(a) => test::run(a).await,
    }
}

/// Whether a command may create a missing data directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirMode {
    /// Create the directory if missing (commands that write new topics).
    Create,
    /// Refuse a missing directory: it is most likely a wrong `--data-dir`.
    Existing,
}

/// Opens the log in `dir` with `config`.
///
/// # Errors
/// A missing directory in [`DirMode::Existing`]; the log's own error (it
/// names the path and what to do).
pub fn open_log(dir: &std::path::Path, mode: DirMode, config: LogConfig) -> anyhow::Result<Log> {
    if mode == DirMode::Existing && !dir.join("topics").is_dir() {
        anyhow::bail!(
            "no riffle data directory at {}; pass the right --data-dir, or create a topic there first \
             (`riffle topic create NAME --data-dir {}`)",
            dir.display(),
            dir.display()
        );
    }
    Log::open(dir, config).with_context(|| format!("cannot open the data directory {}", dir.display()))
}

/// Opens the log in `dir`, runs `f`, then closes the log. The command's
/// error wins over an error while closing.
///
/// # Errors
/// The command's error, else the close error.
pub async fn with_log<T, F, Fut>(dir: &std::path::Path, mode: DirMode, config: LogConfig, f: F) -> anyhow::Result<T>
where
    F: FnOnce(Log) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let log = open_log(dir, mode, config)?;
    let out = f(log.clone()).await;
    let closed = log.close().context("closing the log");
    let out = out?;
    closed?;
    Ok(out)
}

/// Synchronous [`with_log`].
///
/// # Errors
/// As [`with_log`].
pub fn with_log_sync<T>(
    dir: &std::path::Path,
    mode: DirMode,
    f: impl FnOnce(&Log) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let log = open_log(dir, mode, LogConfig::default())?;
    let out = f(&log);
    let closed = log.close().context("closing the log");
    let out = out?;
    closed?;
    Ok(out)
}

/// True when the error is a closed stdout (e.g. `riffle consume … | head`):
/// not a failure.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

/// Parses `key=value`.
pub fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .ok_or_else(|| format!("expected key=value, got {s:?}"))
}
