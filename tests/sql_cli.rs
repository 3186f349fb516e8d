//! `riffle test` (ksql-test-runner compatible) and `riffle qtt`, run as the
//! built binary.

use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_riffle"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("the riffle binary runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

const SQL: &str = "
CREATE STREAM pageviews (user_id STRING KEY, page STRING) WITH (kafka_topic='pageviews', value_format='JSON');
CREATE TABLE views AS SELECT page, COUNT(*) AS n FROM pageviews GROUP BY page EMIT CHANGES;
";

const INPUT: &str = r#"{"inputs": [
 {"topic": "pageviews", "key": "u1", "value": {"page": "/a"}, "timestamp": 1},
 {"topic": "pageviews", "key": "u2", "value": {"page": "/a"}, "timestamp": 2},
 {"topic": "pageviews", "key": "u1", "value": {"page": "/b"}, "timestamp": 3}
]}"#;

fn files(dir: &Path, second_count: u32) -> [String; 3] {
    let s = dir.join("statements.sql");
    let i = dir.join("input.json");
    let o = dir.join("output.json");
    std::fs::write(&s, SQL).unwrap();
    std::fs::write(&i, INPUT).unwrap();
    std::fs::write(
        &o,
        format!(
            r#"{{"outputs": [
 {{"topic": "VIEWS", "key": "/a", "value": {{"N": 1}}, "timestamp": 1}},
 {{"topic": "VIEWS", "key": "/a", "value": {{"N": {second_count}}}, "timestamp": 2}},
 {{"topic": "VIEWS", "key": "/b", "value": {{"N": 1}}, "timestamp": 3}}
]}}"#
        ),
    )
    .unwrap();
    [s, i, o].map(|p| p.display().to_string())
}

#[test]
fn riffle_test_passes_matching_output_and_fails_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let [s, i, o] = files(dir.path(), 2);
    let out = run(&["test", "--sql-file", &s, "--input-file", &i, "--output-file", &o]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(">>> Test passed!"), "{}", text(&out));

    let [s, i, o] = files(dir.path(), 3);
    let out = run(&["test", "--sql-file", &s, "--input-file", &i, "--output-file", &o]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(">>>>> Test failed: topic VIEWS, record 1"), "{}", text(&out));
}

#[test]
fn riffle_test_reports_bad_sql_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let [s, i, o] = files(dir.path(), 2);
    std::fs::write(&s, "CREATE STREAM s (k INT (KEY)) WITH (kafka_topic='t', value_format='JSON');").unwrap();
    let out = run(&["test", "--sql-file", &s, "--input-file", &i, "--output-file", &o]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("line 1:25: Syntax Error"), "{}", text(&out));
}

#[test]
fn riffle_qtt_prints_json_lines_with_case_ids() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mini.json");
    std::fs::write(
        &file,
        r#"{"tests": [
          // comments are allowed
          {"name": "project", "format": ["JSON"],
           "statements": ["CREATE STREAM I (K STRING KEY, V INT) WITH (kafka_topic='i', value_format='{FORMAT}');",
                          "CREATE STREAM O AS SELECT K, V * 2 AS D FROM I;"],
           "inputs": [{"topic": "i", "key": "a", "value": {"V": 2}}],
           "outputs": [{"topic": "O", "key": "a", "value": {"D": 4}}]},
          {"name": "wrong", "statements": ["CREATE STREAM I (K STRING KEY, V INT) WITH (kafka_topic='i', value_format='JSON');",
                          "CREATE STREAM O AS SELECT K, V FROM I;"],
           "inputs": [{"topic": "i", "key": "a", "value": {"V": 2}}],
           "outputs": [{"topic": "O", "key": "a", "value": {"V": 3}}]},
          {"name": "registry", "statements": ["CREATE STREAM I (K STRING KEY) WITH (kafka_topic='i', value_format='AVRO');"]}
        ]}"#,
    )
    .unwrap();
    let out = run(&["qtt", "--json", &file.display().to_string()]);
    assert_eq!(out.status.code(), Some(1), "one case fails: {}", text(&out));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let status = |id: &str| lines.iter().find(|l| l["case"] == id).map(|l| l["status"].as_str().unwrap().to_string());
    assert_eq!(status("mini - project - JSON").as_deref(), Some("passed"), "{lines:?}");
    assert_eq!(status("mini - wrong").as_deref(), Some("failed"));
    assert_eq!(status("mini - registry").as_deref(), Some("skipped"));
}
