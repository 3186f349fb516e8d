//! `riffle broker`: the log alone, served to Kafka clients over the Kafka
//! wire protocol until Ctrl-C or SIGTERM.

use std::net::SocketAddr;

use anyhow::Context as _;
use clap::Args;
use riffle_log::kafka::{KafkaConfig, KafkaServer, DEFAULT_MAX_REQUEST_BYTES};
use riffle_log::LogConfig;

use super::{with_log, DataDirArg, DirMode};

/// Options of `riffle broker`.
#[derive(Debug, Args)]
pub struct BrokerArgs {
    #[command(flatten)]
    dir: DataDirArg,
    /// Address for Kafka clients (port 0 picks a free port; the chosen
    /// address is printed).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9092")]
    kafka: SocketAddr,
    /// Host name advertised to clients (default: the listening IP).
    #[arg(long, value_name = "HOST")]
    advertised_host: Option<String>,
    /// socket.request.max.bytes: larger requests close the connection.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_REQUEST_BYTES)]
    max_request_bytes: usize,
    /// Refuse to create unknown topics on Metadata requests.
    #[arg(long)]
    no_auto_create_topics: bool,
}

/// Runs the broker until Ctrl-C or SIGTERM, then closes the log cleanly.
///
/// # Errors
/// When the data directory cannot be opened or the address cannot be bound.
pub async fn run(a: BrokerArgs) -> anyhow::Result<()> {
    with_log(&a.dir.data_dir, DirMode::Create, LogConfig::default(), |log| async move {
        let mut config = KafkaConfig::local(a.kafka);
        config.advertised_host = a.advertised_host;
        config.max_request_bytes = a.max_request_bytes;
        config.auto_create_topics = !a.no_auto_create_topics;
        let server = KafkaServer::bind(log, config).await.with_context(|| format!("cannot listen on {}", a.kafka))?;
        println!("riffle broker: Kafka listener on {}", server.local_addr());
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        wait_for_shutdown().await?;
        println!("riffle broker: shutting down");
        server.shutdown().await;
        Ok(())
    })
    .await
}

pub(super) async fn wait_for_shutdown() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install the SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("cannot listen for Ctrl-C")?,
        _ = term.recv() => {}
    }
    Ok(())
}
