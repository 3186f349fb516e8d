//! `riffle test`: ksqlDB's `ksql-test-runner` — runs a SQL script over
//! input records and compares the output topics with the expected records.
//!
//! Prints `>>> Test passed!` and exits 0, or `>>>>> Test failed: <why>` and
//! exits 1.

use std::io::Write as _;
use std::path::PathBuf;

use clap::Args;
use riffle_sql::qtt::test_runner;

/// Arguments of `riffle test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The SQL script (statements.sql).
    #[arg(long, short = 's', value_name = "FILE")]
    sql_file: PathBuf,
    /// Input records: `{"inputs": [{topic, key?, value, timestamp?, …}]}`.
    #[arg(long, short = 'i', value_name = "FILE")]
    input_file: Option<PathBuf>,
    /// Expected output records: `{"outputs": [{topic, key?, value, …}]}`.
    #[arg(long, short = 'o', value_name = "FILE")]
    output_file: PathBuf,
}

/// Runs `riffle test`; on failure prints the reason and exits with status 1.
///
/// # Errors
/// Never returns an error: a failed test exits the process.
pub async fn run(args: TestArgs) -> anyhow::Result<()> {
    // On a plain thread: the session may start its own runtime.
    let outcome = std::thread::spawn(move || {
        test_runner::run(&args.sql_file, args.input_file.as_deref(), &args.output_file)
    })
    .join()
    .unwrap_or_else(|_| Err("the test runner panicked".to_string()));
    let mut out = std::io::stdout().lock();
    match outcome {
        Ok(()) => {
            writeln!(out, "{}", test_runner::PASSED)?;
            out.flush()?;
            Ok(())
        }
        Err(why) => {
            writeln!(out, "{}", test_runner::failed_line(&why))?;
            out.flush()?;
            std::process::exit(1);
        }
    }
}
