//! ksqlDB REST conformance: runs the visible REST query-validation tests
//! (RQTT) against in-process servers over HTTP, prints a per-file summary
//! and fails if fewer cases pass than `tests/rqtt-baseline.txt` says.
//!
//! - The suite is `$RIFFLE_RQTT_DIR`, else `../shared/ksql-tests/rqtt` or
//!   `shared/ksql-tests/rqtt` next to the workspace; without one the test
//!   says so and passes.
//! - `RIFFLE_WRITE_CONFORMANCE=1` also rewrites the RQTT section of
//!   `CONFORMANCE.md` (between its `rqtt` markers).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use riffle::server::rqtt::{self, RqttResult, Status};

const BEGIN: &str = "<!-- rqtt:begin -->";
const END: &str = "<!-- rqtt:end -->";

/// The Markdown section: one row per file.
fn section(results: &[RqttResult]) -> String {
    let mut per_file: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    for r in results {
        let file = r.case.split(" - ").next().unwrap_or_default().to_string();
        let t = per_file.entry(file).or_default();
        match r.status {
            Status::Passed => t.0 += 1,
            Status::Failed => t.1 += 1,
            Status::Skipped => t.2 += 1,
        }
    }
    let (p, f, s) = per_file.values().fold((0, 0, 0), |a, t| (a.0 + t.0, a.1 + t.1, a.2 + t.2));
    let pct = |p: usize, f: usize| if p + f == 0 { 0.0 } else { 100.0 * p as f64 / (p + f) as f64 };
    let mut out = format!(
        "{BEGIN}\n## REST API (RQTT)\n\n`riffle rqtt ../shared/ksql-tests/rqtt/` — each case on a fresh in-process server over HTTP. \
         **{p} passed, {f} failed, {s} skipped (schema-registry formats) — {:.1}% of {} runnable.**\n\n\
         | file | passed | failed | skipped | pass rate |\n|---|---:|---:|---:|---:|\n",
        pct(p, f),
        p + f
    );
    for (file, (p, f, s)) in &per_file {
        out.push_str(&format!("| {file} | {p} | {f} | {s} | {:.0}% |\n", pct(*p, *f)));
    }
    out.push_str(END);
    out.push('\n');
    out
}

#[test]
fn rqtt_conformance() {
    let Some(dir) = common::suite_dir("RIFFLE_RQTT_DIR", "rqtt") else {
        eprintln!("no RQTT suite found (set RIFFLE_RQTT_DIR); skipping");
        return;
    };
    let files = riffle_sql::qtt::collect_files(&[dir]).expect("the RQTT suite can be listed");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let mut results = Vec::new();
    for f in &files {
        results.extend(runtime.block_on(rqtt::run_file(f, None)).unwrap_or_else(|e| panic!("{}: {e}", f.display())));
    }
    let text = section(&results);
    println!("{text}");
    let lines: Vec<String> = results.iter().map(|r| r.to_json().to_string()).collect();
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let _ = std::fs::write(tmp.join("rqtt-cases.jsonl"), lines.join("\n") + "\n");
    if std::env::var_os("RIFFLE_WRITE_CONFORMANCE").is_some() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("CONFORMANCE.md");
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        let new = match (old.find(BEGIN), old.find(END)) {
            (Some(b), Some(e)) if b < e => format!("{}{text}{}", &old[..b], old[e + END.len()..].trim_start_matches('\n')),
            _ => format!("{}\n{text}", old.trim_end()),
        };
        std::fs::write(&path, new).expect("CONFORMANCE.md is writable");
    }
    let passed = results.iter().filter(|r| r.status == Status::Passed).count();
    let floor = common::baseline("rqtt-baseline.txt");
    assert!(
        passed >= floor,
        "RQTT conformance dropped: {passed} cases pass, the baseline is {floor} (per-case lines in {})",
        tmp.join("rqtt-cases.jsonl").display()
    );
}
