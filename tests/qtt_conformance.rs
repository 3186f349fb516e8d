//! ksqlDB conformance: runs the visible query-validation tests (QTT) through
//! the SQL layer in-process, prints a per-file summary (also written to
//! `qtt-summary.txt` under Cargo's target tmp dir) and fails if fewer cases
//! pass than `tests/qtt-baseline.txt` says.
//!
//! - The suite is `$RIFFLE_QTT_DIR`, else `../shared/ksql-tests/qtt` or
//!   `shared/ksql-tests/qtt` next to the workspace; without one the test
//!   says so and passes.
//! - `RIFFLE_WRITE_CONFORMANCE=1` also writes `CONFORMANCE.md` at the
//!   workspace root.
//! - `RIFFLE_QTT_FILTER=REGEX` runs only matching case ids (the baseline is
//!   then not enforced).

mod common;

use std::path::Path;

use riffle_sql::qtt::{self, report, RunOptions};

#[test]
fn qtt_conformance() {
    let Some(dir) = common::suite_dir("RIFFLE_QTT_DIR", "qtt") else {
        eprintln!("no QTT suite found (set RIFFLE_QTT_DIR); skipping");
        return;
    };
    let filter = std::env::var("RIFFLE_QTT_FILTER").ok();
    let opts = RunOptions::with_filter(filter.as_deref()).expect("RIFFLE_QTT_FILTER is a regex");
    let files = qtt::collect_files(&[dir]).expect("the QTT suite can be listed");
    let results = qtt::run_files(&files, &opts, |_| {});
    let summary = report::summary_text(&results);
    println!("{summary}");
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let _ = std::fs::write(tmp.join("qtt-summary.txt"), &summary);
    let lines: Vec<String> = results.iter().map(|r| r.to_line()).collect();
    let _ = std::fs::write(tmp.join("qtt-cases.txt"), lines.join("\n") + "\n");
    if std::env::var_os("RIFFLE_WRITE_CONFORMANCE").is_some() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("CONFORMANCE.md");
        // Keep the REST (RQTT) section that tests/rqtt_conformance.rs writes.
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        let rqtt = match (old.find("<!-- rqtt:begin -->"), old.find("<!-- rqtt:end -->")) {
            (Some(b), Some(e)) if b < e => format!("\n{}\n", &old[b..e + "<!-- rqtt:end -->".len()]),
            _ => String::new(),
        };
        std::fs::write(&path, report::conformance_markdown(&results) + &rqtt).expect("CONFORMANCE.md is writable");
        println!("wrote {}", path.display());
    }
    let (passed, _, _) = qtt::counts(&results);
    if filter.is_none() {
        let floor = common::baseline("qtt-baseline.txt");
        assert!(
            passed >= floor,
            "QTT conformance dropped: {passed} cases pass, the baseline is {floor} (per-case lines in {})",
            tmp.join("qtt-cases.txt").display()
        );
    }
}
