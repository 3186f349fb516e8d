//! The `riffle` command-line tool: topics, console producer and consumer,
//! consumer groups, a quickstart tour and performance tests over a data
//! directory. See `riffle --help`.
//!
//! Every error is printed as `error: <message>` on stderr with exit code 1.

mod cli;

use std::process::ExitCode;

/// mimalloc instead of glibc malloc: the engine's hot paths allocate many
/// small, short-lived buffers (keys, encoded state, record bytes), and
/// glibc's free/consolidate showed up as a fifth of W1's profile.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::FAILURE } else { ExitCode::SUCCESS };
        }
    };
    init_tracing();
    // One async worker per core (TOKIO_WORKER_THREADS overrides): the Kafka
    // listener and the REST API scale with the machine. Stream threads are
    // separate OS threads (`num.stream.threads`).
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if cli::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr; the level is `warn` unless `RUST_LOG` says otherwise.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}
