//! The Riffle server: the log, the engine and the SQL layer in one process,
//! with a ksqlDB-compatible REST API and, optionally, the Kafka wire
//! listener on the same log.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use riffle::log::{Log, LogConfig};
//! use riffle::server::{Server, ServerConfig};
//! let dir = std::path::Path::new("./riffle-data");
//! let log = Log::open(dir, LogConfig::default())?;
//! let server = Server::start(log, dir, ServerConfig::default()).await?;
//! println!("REST API on http://{}", server.rest_addr());
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! The catalog (streams, tables, types, persistent queries) is the command
//! topic [`COMMAND_TOPIC`]: a restart replays it, queries restore their
//! stores (RocksDB under `<data-dir>/state`, plus changelogs) and resume
//! from their committed offsets.

pub mod client;
mod engine;
mod rest;
pub mod rqtt;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use riffle_log::kafka::{KafkaConfig, KafkaServer};
use riffle_log::Log;
use tokio::sync::watch;

pub use client::{QueryRows, RestClient, RestResponse};
pub use engine::{Engine, QueryStart, RequestError, COMMAND_TOPIC};
pub use rest::value_json;

/// How a server listens.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// REST API address (port 0 picks a free one).
    pub rest: SocketAddr,
    /// Kafka listener address, if any.
    pub kafka: Option<SocketAddr>,
    /// Server-wide properties (`ksql.…`, as in `SET`).
    pub properties: BTreeMap<String, String>,
}

impl Default for ServerConfig {
    /// REST on 127.0.0.1:8088, no Kafka listener.
    fn default() -> Self {
        ServerConfig { rest: SocketAddr::from(([127, 0, 0, 1], 8088)), kafka: None, properties: BTreeMap::new() }
    }
}

/// A running server.
pub struct Server {
    engine: Engine,
    rest_addr: SocketAddr,
    kafka: Option<KafkaServer>,
    stop: watch::Sender<bool>,
    http: tokio::task::JoinHandle<()>,
    log: Log,
    replay_failures: Vec<String>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("rest_addr", &self.rest_addr).finish_non_exhaustive()
    }
}

impl Server {
    /// Replays the catalog, starts the queries and binds the listeners.
    ///
    /// # Errors
    /// An address that cannot be bound, a command topic that cannot be read.
    pub async fn start(log: Log, data_dir: &Path, config: ServerConfig) -> anyhow::Result<Server> {
        let shared = Arc::new(log.clone());
        let state_dir = data_dir.join("state");
        let props = config.properties.clone();
        let (engine, replay_failures) =
            tokio::task::spawn_blocking(move || Engine::open(shared, &state_dir, props)).await.context("engine start")??;
        for f in &replay_failures {
            tracing::warn!("{f}");
        }
        let listener = tokio::net::TcpListener::bind(config.rest)
            .await
            .with_context(|| format!("cannot listen for REST on {}", config.rest))?;
        let rest_addr = listener.local_addr()?;
        let (stop, stop_rx) = watch::channel(false);
        let app = rest::router(rest::AppState { engine: engine.clone(), stop: stop_rx.clone() });
        let mut shutdown_rx = stop_rx;
        let http = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = shutdown_rx.wait_for(|s| *s).await;
            });
            if let Err(e) = serve.await {
                tracing::error!("REST server failed: {e}");
            }
        });
        let kafka = match config.kafka {
            Some(addr) => Some(
                KafkaServer::bind(log.clone(), KafkaConfig::local(addr))
                    .await
                    .with_context(|| format!("cannot listen for Kafka clients on {addr}"))?,
            ),
            None => None,
        };
        Ok(Server { engine, rest_addr, kafka, stop, http, log, replay_failures })
    }

    /// The REST API's address.
    pub fn rest_addr(&self) -> SocketAddr {
        self.rest_addr
    }

    /// The Kafka listener's address, if there is one.
    pub fn kafka_addr(&self) -> Option<SocketAddr> {
        self.kafka.as_ref().map(KafkaServer::local_addr)
    }

    /// The SQL engine (for in-process use: the shell, tests, benchmarks).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Commands of the catalog that failed to replay at start.
    pub fn replay_failures(&self) -> &[String] {
        &self.replay_failures
    }

    /// Ends open streams, stops the listeners, commits every query. The
    /// log stays open (the caller closes it).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.http.await;
        if let Some(k) = self.kafka {
            k.shutdown().await;
        }
        let engine = self.engine.clone();
        let _ = tokio::task::spawn_blocking(move || engine.shutdown()).await;
        drop(self.log);
    }
}
