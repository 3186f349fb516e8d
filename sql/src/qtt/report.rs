//! Summaries of a conformance run: per file, per feature area, and the
//! `CONFORMANCE.md` page.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{counts, CaseResult, CaseStatus};

/// The feature areas files are grouped into, in report order.
pub const AREAS: &[&str] = &[
    "windows",
    "aggregates",
    "joins",
    "project/filter",
    "keys & partitioning",
    "formats",
    "types & literals",
    "functions",
];

/// Files by area (stems); others fall to name patterns, then "functions".
const AREA_FILES: &[(&str, &[&str])] = &[
    ("windows", &["session-windows", "tumbling-windows", "hopping-windows", "windowed-source", "suppress", "window-bounds"]),
    (
        "aggregates",
        &[
            "average",
            "average-udaf",
            "collect-list",
            "collect-set",
            "count",
            "earliest-offset-udaf",
            "latest-offset-udaf",
            "generic-variadic-udaf",
            "group-by",
            "histogram",
            "max-group-by",
            "min-group-by",
            "multi-arg-udaf",
            "standarddeviation",
            "sum",
            "test-custom-udaf",
            "topk-group-by",
            "topkdistinct-group-by",
            "variadic-udaf",
        ],
    ),
    ("joins", &["joins", "fk-join", "fk-n-way-join", "stream-table-join", "table-table-join", "stream-stream-join"]),
    (
        "project/filter",
        &[
            "project-filter",
            "select",
            "where",
            "insert-into",
            "insert-values",
            "source-stream",
            "table",
            "asserts",
            "timestamp-extractor",
            "sink-partitions-replicas",
            "row-offset-and-partition",
            "headers",
            "elements",
            "identifiers",
        ],
    ),
    ("keys & partitioning", &["partition-by", "key-schemas", "multi-col-keys", "key-field"]),
    ("formats", &["formats", "json", "delimited", "kafka", "avro", "protobuf", "serdes"]),
    (
        "types & literals",
        &[
            "literals",
            "decimal",
            "null",
            "create-type",
            "simple-struct",
            "bytes",
            "bytes-and-strings",
            "floating-point",
            "operators",
            "binary-arithmetic",
            "comparison-expression",
            "cast",
            "in",
            "map",
            "array",
            "create_array",
            "create-struct",
            "date",
            "timestamp",
        ],
    ),
];

/// The feature area of a QTT file, by its stem.
pub fn area_of(stem: &str) -> &'static str {
    let s = stem.to_ascii_lowercase();
    if let Some((area, _)) = AREA_FILES.iter().find(|(_, files)| files.contains(&s.as_str())) {
        return area;
    }
    if s.contains("window") {
        "windows"
    } else if s.contains("join") {
        "joins"
    } else if s.contains("udaf") || s.contains("group-by") {
        "aggregates"
    } else {
        "functions"
    }
}

/// Passed, failed and skipped counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Passed cases.
    pub passed: usize,
    /// Failed cases.
    pub failed: usize,
    /// Skipped cases.
    pub skipped: usize,
}

impl Tally {
    fn add(&mut self, s: CaseStatus) {
        match s {
            CaseStatus::Passed => self.passed += 1,
            CaseStatus::Failed => self.failed += 1,
            CaseStatus::Skipped => self.skipped += 1,
        }
    }

    /// Cases that ran (passed + failed).
    pub fn ran(&self) -> usize {
        self.passed + self.failed
    }

    /// Passed as a percentage of the cases that ran.
    pub fn percent(&self) -> f64 {
        if self.ran() == 0 {
            0.0
        } else {
            100.0 * self.passed as f64 / self.ran() as f64
        }
    }
}

/// Tallies per file stem, sorted by stem.
pub fn per_file(results: &[CaseResult]) -> BTreeMap<String, Tally> {
    let mut m: BTreeMap<String, Tally> = BTreeMap::new();
    for r in results {
        m.entry(r.file.clone()).or_default().add(r.status);
    }
    m
}

/// Tallies per feature area ([`AREAS`] order).
pub fn per_area(results: &[CaseResult]) -> Vec<(&'static str, Tally)> {
    let mut m: BTreeMap<&'static str, Tally> = BTreeMap::new();
    for r in results {
        m.entry(area_of(&r.file)).or_default().add(r.status);
    }
    AREAS.iter().filter_map(|a| m.get(a).map(|t| (*a, *t))).collect()
}

/// A plain-text table: one line per file, then the total.
pub fn summary_text(results: &[CaseResult]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:<40} {:>7} {:>7} {:>8}", "file", "passed", "failed", "skipped");
    for (file, t) in per_file(results) {
        let _ = writeln!(out, "{file:<40} {:>7} {:>7} {:>8}", t.passed, t.failed, t.skipped);
    }
    let (p, f, s) = counts(results);
    let _ = writeln!(out, "{p} passed, {f} failed, {s} skipped");
    out
}

/// The `CONFORMANCE.md` page: totals, per area, per file, and the most
/// common failure reasons.
pub fn conformance_markdown(results: &[CaseResult]) -> String {
    let (p, f, s) = counts(results);
    let total = Tally { passed: p, failed: f, skipped: s };
    let mut out = String::new();
    let _ = writeln!(out, "# ksqlDB conformance\n");
    let _ = writeln!(
        out,
        "Generated by `riffle qtt --report CONFORMANCE.md` (or `RIFFLE_WRITE_CONFORMANCE=1 cargo test --release \
         --test qtt_conformance`) from ksqlDB's query-validation tests. Skipped cases are disabled in the files or \
         need a schema registry (AVRO, PROTOBUF, JSON_SR).\n"
    );
    let _ = writeln!(
        out,
        "**{p} passed, {f} failed, {s} skipped** — {:.1}% of the {} cases that ran.\n",
        total.percent(),
        total.ran()
    );
    let _ = writeln!(out, "## By feature area\n");
    let _ = writeln!(out, "| area | passed | failed | skipped | pass rate |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    for (area, t) in per_area(results) {
        let _ = writeln!(out, "| {area} | {} | {} | {} | {:.1}% |", t.passed, t.failed, t.skipped, t.percent());
    }
    let _ = writeln!(out, "\n## By file\n");
    let _ = writeln!(out, "| file | area | passed | failed | skipped |");
    let _ = writeln!(out, "|---|---|---:|---:|---:|");
    for (file, t) in per_file(results) {
        let _ = writeln!(out, "| {file} | {} | {} | {} | {} |", area_of(&file), t.passed, t.failed, t.skipped);
    }
    // The commonest failure reasons, first line only, numbers blurred.
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for r in results.iter().filter(|r| r.status == CaseStatus::Failed) {
        let first = r.reason.as_deref().unwrap_or("").lines().next().unwrap_or("");
        let key: String = first.chars().take(120).collect();
        *reasons.entry(key).or_default() += 1;
    }
    let mut reasons: Vec<(String, usize)> = reasons.into_iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if !reasons.is_empty() {
        let _ = writeln!(out, "\n## Commonest failure reasons\n");
        let _ = writeln!(out, "| cases | reason |");
        let _ = writeln!(out, "|---:|---|");
        for (reason, n) in reasons.iter().take(25) {
            let reason = reason.replace('|', "\\|");
            let _ = writeln!(out, "| {n} | {reason} |");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(file: &str, status: CaseStatus) -> CaseResult {
        CaseResult { id: format!("{file} - x"), file: file.into(), status, reason: Some("why".into()) }
    }

    #[test]
    fn areas() {
        assert_eq!(area_of("session-windows"), "windows");
        assert_eq!(area_of("tumbling-windows"), "windows");
        assert_eq!(area_of("fk-join"), "joins");
        assert_eq!(area_of("stream-table-join"), "joins");
        assert_eq!(area_of("count"), "aggregates");
        assert_eq!(area_of("group-by"), "aggregates");
        assert_eq!(area_of("project-filter"), "project/filter");
        assert_eq!(area_of("table-functions"), "functions");
        assert_eq!(area_of("delimited"), "formats");
        assert_eq!(area_of("extract-json-field"), "functions");
        assert_eq!(area_of("instr"), "functions");
        assert_eq!(area_of("array-min-max-sort"), "functions");
        assert_eq!(area_of("partition-by"), "keys & partitioning");
        assert_eq!(area_of("decimal"), "types & literals");
    }

    #[test]
    fn markdown_counts() {
        let results = vec![
            r("count", CaseStatus::Passed),
            r("count", CaseStatus::Failed),
            r("joins", CaseStatus::Skipped),
        ];
        let md = conformance_markdown(&results);
        assert!(md.contains("**1 passed, 1 failed, 1 skipped**"), "{md}");
        assert!(md.contains("| aggregates | 1 | 1 | 0 | 50.0% |"), "{md}");
        assert!(md.contains("| count | aggregates | 1 | 1 | 0 |"), "{md}");
        let text = summary_text(&results);
        assert!(text.ends_with("1 passed, 1 failed, 1 skipped\n"), "{text}");
    }
}
