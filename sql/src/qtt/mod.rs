//! The conformance runner: ksqlDB's query-validation tests (QTT) and the
//! ksql-test-runner format, run against a [`Session`](crate::Session).
//!
//! - [`json`]: lenient JSON (comments, trailing commas, numbers as written).
//! - [`spec`]: the QTT file shape, expansion into cases, case ids, skips.
//! - [`record`]: records ↔ topic bytes (formats, windowed keys, headers).
//! - [`compare`]: ksqlDB's comparison rules.
//! - [`runner`]: one case against a fresh session; `post` checks.
//! - [`report`]: per-file and per-area summaries, `CONFORMANCE.md`.
//! - [`test_runner`]: `riffle test` (statements.sql, input.json,
//!   output.json).
//!
//! Entry points: [`collect_files`], [`load_cases`], [`run_case`],
//! [`run_files`].

pub mod compare;
pub use crate::json;
pub mod record;
pub mod report;
pub mod runner;
pub mod spec;
pub mod test_runner;

use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;

pub use spec::TestCase;

/// A case's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseStatus {
    /// Ran and matched.
    Passed,
    /// Ran and did not match, or could not run.
    Failed,
    /// Not run (disabled, or needs a schema registry).
    Skipped,
}

impl CaseStatus {
    /// `passed`, `failed` or `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Passed => "passed",
            CaseStatus::Failed => "failed",
            CaseStatus::Skipped => "skipped",
        }
    }
}

/// The result of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    /// Case id: `<file stem> - <name>[ - <FORMAT>][ - <key>=<value>]`.
    pub id: String,
    /// The file stem the case comes from.
    pub file: String,
    /// Outcome.
    pub status: CaseStatus,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
}

impl CaseResult {
    /// A result for `case`.
    pub fn new(case: &TestCase, status: CaseStatus, reason: Option<String>) -> Self {
        CaseResult { id: case.id.clone(), file: case.file.clone(), status, reason }
    }

    /// The result as one JSON object: `{"case", "status", "reason"}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"case": self.id, "status": self.status.as_str(), "reason": self.reason})
    }

    /// One human-readable line (reasons keep their own indented lines).
    pub fn to_line(&self) -> String {
        let tag = match self.status {
            CaseStatus::Passed => "PASS",
            CaseStatus::Failed => "FAIL",
            CaseStatus::Skipped => "SKIP",
        };
        match &self.reason {
            Some(r) => format!("{tag}  {}: {r}", self.id),
            None => format!("{tag}  {}", self.id),
        }
    }
}

/// How [`run_files`] runs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Only cases whose id matches (unanchored).
    pub filter: Option<Regex>,
    /// The most one case may take; a case still running then fails (its
    /// thread is left behind).
    pub timeout: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { filter: None, timeout: Duration::from_secs(60) }
    }
}

impl RunOptions {
    /// Options with `filter` compiled.
    ///
    /// # Errors
    /// A filter that is not a regex.
    pub fn with_filter(filter: Option<&str>) -> Result<Self, String> {
        let filter = match filter {
            Some(f) => Some(Regex::new(f).map_err(|e| format!("bad --filter regex {f:?}: {e}"))?),
            None => None,
        };
        Ok(RunOptions { filter, ..RunOptions::default() })
    }
}

/// The `.json` files under `paths` (files as given, folders searched
/// recursively), sorted within each folder.
///
/// # Errors
/// A path that does not exist or cannot be listed.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out)?;
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(format!("no such file or folder: {}", p.display()));
        }
    }
    Ok(out)
}

/// The cases of one file: [`spec::load_file`].
///
/// # Errors
/// As [`spec::load_file`].
pub fn load_cases(path: &Path) -> Result<Vec<TestCase>, String> {
    spec::load_file(path)
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string())
}

/// Runs one case on its own thread: a panic fails the case, and so does
/// running past `timeout`.
pub fn run_case(case: &TestCase, timeout: Duration) -> CaseResult {
    if case.skip.is_some() {
        return runner::run_case_inner(case);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let owned = case.clone();
    let spawned = std::thread::Builder::new().name("qtt-case".into()).stack_size(32 << 20).spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runner::run_case_inner(&owned)));
        let r = r.unwrap_or_else(|p| {
            CaseResult::new(&owned, CaseStatus::Failed, Some(format!("panicked: {}", panic_message(p.as_ref()))))
        });
        let _ = tx.send(r);
    });
    if let Err(e) = spawned {
        return CaseResult::new(case, CaseStatus::Failed, Some(format!("cannot start a thread: {e}")));
    }
    match rx.recv_timeout(timeout) {
        Ok(r) => r,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            CaseResult::new(case, CaseStatus::Failed, Some(format!("timed out after {} s", timeout.as_secs_f64())))
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            CaseResult::new(case, CaseStatus::Failed, Some("the case's thread ended without a result".into()))
        }
    }
}

/// Runs every case of `files` that the filter selects, calling `on_result`
/// after each; a file that cannot be read gives one failed result named
/// after it.
pub fn run_files(files: &[PathBuf], opts: &RunOptions, mut on_result: impl FnMut(&CaseResult)) -> Vec<CaseResult> {
    let mut results = Vec::new();
    for f in files {
        let cases = match load_cases(f) {
            Ok(c) => c,
            Err(e) => {
                let stem = f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                let r = CaseResult { id: stem.clone(), file: stem, status: CaseStatus::Failed, reason: Some(e) };
                on_result(&r);
                results.push(r);
                continue;
            }
        };
        for case in &cases {
            if opts.filter.as_ref().is_some_and(|re| !re.is_match(&case.id)) {
                continue;
            }
            let r = run_case(case, opts.timeout);
            on_result(&r);
            results.push(r);
        }
    }
    results
}

/// `(passed, failed, skipped)` counts.
pub fn counts(results: &[CaseResult]) -> (usize, usize, usize) {
    let n = |s| results.iter().filter(|r| r.status == s).count();
    (n(CaseStatus::Passed), n(CaseStatus::Failed), n(CaseStatus::Skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The visible suite, when this checkout has one next to it.
    fn suite() -> Option<PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::env::var_os("RIFFLE_QTT_DIR")
            .map(PathBuf::from)
            .into_iter()
            .chain([root.join("../../shared/ksql-tests/qtt"), root.join("../shared/ksql-tests/qtt")])
            .find(|p| p.is_dir())
    }

    #[test]
    fn visible_suite_loads() {
        let Some(dir) = suite() else { return };
        let files = collect_files(&[dir]).unwrap();
        assert!(!files.is_empty());
        let mut ids = std::collections::HashSet::new();
        let (mut total, mut skipped, mut invalid) = (0, 0, Vec::new());
        for f in &files {
            let cases = load_cases(f).unwrap_or_else(|e| panic!("{e}"));
            for c in cases {
                total += 1;
                skipped += usize::from(c.skip.is_some());
                if let Some(why) = &c.invalid {
                    invalid.push(format!("{}: {why}", c.id));
                }
                ids.insert(c.id);
            }
        }
        assert!(invalid.is_empty(), "{invalid:#?}");
        assert!(total > 1000 && skipped < total, "{total} cases, {skipped} skipped");
        // Ids are (nearly) unique: ksqlDB's files repeat a name only rarely.
        assert!(ids.len() * 100 >= total * 99, "{} ids for {total} cases", ids.len());
    }

    #[test]
    fn skipped_cases_are_not_run() {
        let cases = spec::parse_file("f", r#"{"tests": [{"name": "n", "enabled": false, "statements": ["boom"]}]}"#).unwrap();
        let r = run_case(&cases[0], Duration::from_secs(5));
        assert_eq!(r.status, CaseStatus::Skipped);
        assert_eq!(r.to_json()["status"], "skipped");
        assert!(r.to_line().starts_with("SKIP  f - n: "));
    }

    /// `RIFFLE_QTT_RUN=1 cargo test --release -p riffle-sql --lib qtt --
    /// --nocapture` runs the visible suite against the real session and
    /// prints the per-file table (with `RIFFLE_QTT_FILTER=REGEX`, the
    /// matching cases and why they failed; with `RIFFLE_QTT_REPORT=FILE`,
    /// the Markdown report too).
    #[test]
    fn run_visible_suite_when_asked() {
        if std::env::var_os("RIFFLE_QTT_RUN").is_none() {
            return;
        }
        let Some(dir) = suite() else { return };
        let files = collect_files(&[dir]).unwrap();
        let filter = std::env::var("RIFFLE_QTT_FILTER").ok();
        let opts = RunOptions::with_filter(filter.as_deref()).unwrap();
        let results = run_files(&files, &opts, |r| {
            if filter.is_some() {
                println!("{}", r.to_line());
            }
        });
        print!("{}", report::summary_text(&results));
        if let Some(path) = std::env::var_os("RIFFLE_QTT_REPORT") {
            std::fs::write(path, report::conformance_markdown(&results)).unwrap();
        }
    }
}
