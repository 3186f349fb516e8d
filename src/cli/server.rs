//! `riffle server`: the log, the engine and SQL in one process, with the
//! ksqlDB-compatible REST API and the Kafka listener, until Ctrl-C or
//! SIGTERM.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use riffle::server::{Server, ServerConfig};
use riffle_log::LogConfig;

use super::{with_log, DataDirArg, DirMode};

/// Options of `riffle server`.
#[derive(Debug, Args)]
pub struct ServerArgs {
    #[command(flatten)]
    dir: DataDirArg,
    /// Address of the REST API (port 0 picks a free port; the chosen
    /// address is printed).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8088")]
    rest: SocketAddr,
    /// Address for Kafka clients.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9092")]
    kafka: SocketAddr,
    /// Do not start the Kafka listener.
    #[arg(long)]
    no_kafka: bool,
    /// A properties file (`name=value` lines, `#` comments): server-wide
    /// `ksql.…` settings.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Reads a Java-style properties file.
fn read_properties(path: &std::path::Path) -> anyhow::Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the config file {}", path.display()))?;
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let Some((k, v)) = line.split_once(['=', ':']) else {
            anyhow::bail!("{}:{}: expected name=value, got {line:?}", path.display(), i + 1);
        };
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(out)
}

/// Runs the server until Ctrl-C or SIGTERM.
///
/// # Errors
/// Bad config, a data directory that cannot be opened, addresses in use.
pub async fn run(a: ServerArgs) -> anyhow::Result<()> {
    let properties = match &a.config {
        Some(p) => read_properties(p)?,
        None => BTreeMap::new(),
    };
    let dir = a.dir.data_dir.clone();
    with_log(&a.dir.data_dir, DirMode::Create, LogConfig::default(), |log| async move {
        let config = ServerConfig { rest: a.rest, kafka: (!a.no_kafka).then_some(a.kafka), properties };
        let server = Server::start(log, &dir, config).await?;
        for f in server.replay_failures() {
            eprintln!("riffle server: warning: {f}");
        }
        println!("riffle server: REST API on http://{}", server.rest_addr());
        if let Some(k) = server.kafka_addr() {
            println!("riffle server: Kafka listener on {k}");
        }
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        super::broker::wait_for_shutdown().await?;
        println!("riffle server: shutting down");
        server.shutdown().await;
        Ok(())
    })
    .await
}
