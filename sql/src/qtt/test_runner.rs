//! ksqlDB's `ksql-test-runner` format: one SQL script, `input.json`
//! (`{"inputs": [record…]}`) and `output.json` (`{"outputs": [record…]}`),
//! records as in QTT files (`{topic, key?, value, timestamp?, window?,
//! headers?}`). [`run`] gives `Ok` for `>>> Test passed!` or the reason for
//! `>>>>> Test failed: <why>`.

use std::collections::BTreeMap;
use std::path::Path;

use super::json::{self, Json};
use super::record::RecordSpec;
use super::runner::{check_outputs, produce_record, statement_topic_partitions};
use super::spec::parse_record;
use crate::session::Session;

/// What `riffle test` prints on success.
pub const PASSED: &str = ">>> Test passed!";

/// The line `riffle test` prints on failure.
pub fn failed_line(why: &str) -> String {
    format!(">>>>> Test failed: {why}")
}

fn read_records(path: &Path, field: &str) -> Result<Vec<RecordSpec>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_records(&text, field).map_err(|e| format!("{}: {e}", path.display()))
}

/// The records under `field` (`inputs` / `outputs`) of a test-runner file.
///
/// # Errors
/// JSON that does not parse, a missing array, a bad record.
pub fn parse_records(text: &str, field: &str) -> Result<Vec<RecordSpec>, String> {
    let doc = json::parse(text)?;
    let list = doc.get(field).and_then(Json::as_array).ok_or_else(|| format!("no `{field}` array"))?;
    list.iter().enumerate().map(|(i, r)| parse_record(r).map_err(|e| format!("{field}[{i}]: {e}"))).collect()
}

/// Splits a script into statements at `;` outside quotes and comments
/// (used only to find `PARTITIONS` for topics to create).
fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' | '`' => {
                    quote = Some(c);
                    cur.push(c);
                }
                '-' if chars.peek() == Some(&'-') => {
                    for c in chars.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                    cur.push('\n');
                }
                ';' => out.push(std::mem::take(&mut cur)),
                c => cur.push(c),
            },
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

/// Runs a script with inputs against a fresh session and compares the
/// outputs.
///
/// # Errors
/// Why the test failed (unreadable files, a failing statement or record,
/// or the first output difference).
pub fn run_script(sql: &str, inputs: &[RecordSpec], outputs: &[RecordSpec]) -> Result<(), String> {
    let mut session = Session::new(BTreeMap::new()).map_err(|e| format!("cannot start a session: {e}"))?;
    let mut topics: Vec<(String, i32)> = Vec::new();
    for stmt in split_statements(sql) {
        if let Some((t, p)) = statement_topic_partitions(stmt.trim()) {
            if !topics.iter().any(|(n, _)| *n == t) {
                topics.push((t, p));
            }
        }
    }
    for r in inputs.iter().chain(outputs) {
        if !topics.iter().any(|(n, _)| *n == r.topic) {
            topics.push((r.topic.clone(), 1));
        }
    }
    for (t, p) in &topics {
        session.create_topic(t, *p).map_err(|e| format!("cannot create topic {t}: {e}"))?;
    }
    session.execute(sql).map_err(|e| format!("statement failed: {e}"))?;
    for (i, rec) in inputs.iter().enumerate() {
        produce_record(&mut session, rec).map_err(|e| format!("input record {i} (topic {}) failed: {e}", rec.topic))?;
    }
    check_outputs(&session, outputs)
}

/// `riffle test --sql-file S [--input-file I] --output-file O`.
///
/// # Errors
/// Why the test failed.
pub fn run(sql_file: &Path, input_file: Option<&Path>, output_file: &Path) -> Result<(), String> {
    let sql = std::fs::read_to_string(sql_file).map_err(|e| format!("cannot read {}: {e}", sql_file.display()))?;
    let inputs = match input_file {
        Some(p) => read_records(p, "inputs")?,
        None => Vec::new(),
    };
    let outputs = read_records(output_file, "outputs")?;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_script(&sql, &inputs, &outputs)));
    match result {
        Ok(r) => r,
        Err(p) => Err(format!(
            "panicked: {}",
            p.downcast_ref::<&str>().map(|s| (*s).to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_default()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_files() {
        let r = parse_records(r#"{"inputs": [{"topic": "t", "key": "k", "value": {"A": 1}, "timestamp": 3}]}"#, "inputs").unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].timestamp, Some(3));
        assert!(parse_records(r#"{"outputs": []}"#, "inputs").is_err());
    }

    #[test]
    fn statements_split_outside_quotes() {
        let s = split_statements("CREATE STREAM a WITH (kafka_topic='x;y', partitions=2);\n-- c;\nSELECT 1;");
        assert_eq!(s.len(), 2);
        assert_eq!(statement_topic_partitions(s[0].trim()), Some(("x;y".to_string(), 2)));
    }

    #[test]
    fn messages() {
        assert_eq!(failed_line("why"), ">>>>> Test failed: why");
        assert_eq!(PASSED, ">>> Test passed!");
    }
}
