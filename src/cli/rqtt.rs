//! `riffle rqtt`: runs ksqlDB's REST query-validation test files (RQTT)
//! against fresh in-process servers, one line per case, then the totals.
//!
//! Exits with status 1 when any case failed.

use std::path::PathBuf;

use clap::Args;
use riffle::server::rqtt;

/// Arguments of `riffle rqtt`.
#[derive(Debug, Args)]
pub struct RqttArgs {
    /// RQTT files, or folders searched for `*.json` files.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// One JSON object per case and line: `{"case", "status", "reason"}`.
    #[arg(long)]
    json: bool,
    /// Run only the cases whose id contains this text.
    #[arg(long, value_name = "TEXT")]
    filter: Option<String>,
}

/// Runs `riffle rqtt`.
///
/// # Errors
/// Unreadable files, and any failed case.
pub async fn run(args: RqttArgs) -> anyhow::Result<()> {
    let files = riffle_sql::qtt::collect_files(&args.paths).map_err(anyhow::Error::msg)?;
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for f in files {
        for r in rqtt::run_file(&f, args.filter.as_deref()).await? {
            if args.json {
                println!("{}", r.to_json());
            } else {
                let tag = match r.status {
                    rqtt::Status::Passed => "PASS",
                    rqtt::Status::Failed => "FAIL",
                    rqtt::Status::Skipped => "SKIP",
                };
                println!("{tag} {}{}", r.case, r.reason.as_deref().map(|x| format!(": {x}")).unwrap_or_default());
            }
            match r.status {
                rqtt::Status::Passed => passed += 1,
                rqtt::Status::Failed => failed += 1,
                rqtt::Status::Skipped => skipped += 1,
            }
        }
    }
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    if failed > 0 {
        anyhow::bail!("{failed} RQTT case(s) failed");
    }
    Ok(())
}
