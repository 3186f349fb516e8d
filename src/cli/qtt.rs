//! `riffle qtt`: runs ksqlDB's query-validation test files (QTT) against
//! the SQL layer and prints one line per case, then the totals.
//!
//! Exits with status 1 when any case failed.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use riffle_sql::qtt::{self, report, RunOptions};

/// Arguments of `riffle qtt`.
#[derive(Debug, Args)]
pub struct QttArgs {
    /// QTT files, or folders searched for `*.json` files.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// One JSON object per case and line: `{"case", "status", "reason"}`.
    #[arg(long)]
    json: bool,
    /// Run only the cases whose id matches this regex.
    #[arg(long, value_name = "REGEX")]
    filter: Option<String>,
    /// Also write a conformance report (Markdown, per file and per feature
    /// area) to FILE, e.g. CONFORMANCE.md.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Print a per-file table after the cases.
    #[arg(long)]
    summary: bool,
    /// Fail a case that runs longer than this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    timeout: u64,
}

/// Runs `riffle qtt`.
///
/// # Errors
/// Bad paths or filter, an unwritable report, and any failed case.
pub async fn run(args: QttArgs) -> anyhow::Result<()> {
    tokio::task::block_in_place(|| run_sync(&args))
}

fn run_sync(args: &QttArgs) -> anyhow::Result<()> {
    let mut opts = RunOptions::with_filter(args.filter.as_deref()).map_err(anyhow::Error::msg)?;
    opts.timeout = Duration::from_secs(args.timeout.max(1));
    let files = qtt::collect_files(&args.paths).map_err(anyhow::Error::msg)?;
    let stdout = std::io::stdout();
    let mut io_err: Option<std::io::Error> = None;
    let results = qtt::run_files(&files, &opts, |r| {
        if io_err.is_some() {
            return;
        }
        let mut out = stdout.lock();
        let line = if args.json { r.to_json().to_string() } else { r.to_line() };
        if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
            io_err = Some(e);
        }
    });
    if let Some(e) = io_err {
        return Err(e.into());
    }
    let (passed, failed, skipped) = qtt::counts(&results);
    if args.summary {
        print!("{}", report::summary_text(&results));
    } else if !args.json {
        println!("{passed} passed, {failed} failed, {skipped} skipped");
    } else {
        eprintln!("{passed} passed, {failed} failed, {skipped} skipped");
    }
    if let Some(path) = &args.report {
        std::fs::write(path, report::conformance_markdown(&results))
            .with_context(|| format!("cannot write the report to {}", path.display()))?;
    }
    if failed > 0 {
        anyhow::bail!("{failed} case(s) failed");
    }
    Ok(())
}
