//! End-to-end tests of the `riffle` command line: each runs the built
//! binary against a fresh data directory.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn riffle(dir: &Path, args: &[&str]) -> Output {
    riffle_with_stdin(dir, args, "")
}

fn riffle_with_stdin(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_riffle"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the riffle binary runs");
    child.stdin.take().expect("stdin is piped").write_all(stdin.as_bytes()).expect("stdin accepts input");
    child.wait_with_output().expect("riffle finishes")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn ok(o: Output) -> Output {
    assert!(o.status.success(), "exit {:?}\nstdout:\n{}\nstderr:\n{}", o.status, stdout(&o), stderr(&o));
    o
}

#[track_caller]
fn fails(o: Output) -> String {
    assert_eq!(o.status.code(), Some(1), "stdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    assert!(err.starts_with("error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn topic_create_list_describe_delete() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    ok(riffle(d, &["topic", "create", "orders", "--partitions", "3", "--config", "retention.ms=60000"]));
    let list = stdout(&ok(riffle(d, &["topic", "list"])));
    assert!(list.lines().any(|l| l == "orders"), "{list}");

    let desc = stdout(&ok(riffle(d, &["topic", "describe", "orders"])));
    assert!(desc.contains("PartitionCount: 3"), "{desc}");
    assert!(desc.contains("retention.ms=60000"), "{desc}");
    assert!(desc.contains("TopicId: "), "{desc}");
    let rows: Vec<&str> = desc.lines().skip_while(|l| !l.contains("HIGH-WATERMARK")).skip(1).collect();
    assert_eq!(rows.len(), 3, "{desc}");

    let again = fails(riffle(d, &["topic", "create", "orders"]));
    assert!(again.contains("already exists"), "{again}");

    ok(riffle(d, &["topic", "delete", "orders"]));
    let list = stdout(&ok(riffle(d, &["topic", "list"])));
    assert!(!list.lines().any(|l| l == "orders"), "{list}");
    let gone = fails(riffle(d, &["topic", "describe", "orders"]));
    assert!(gone.contains("unknown topic \"orders\""), "{gone}");
}

#[test]
fn bad_topic_name_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let err = fails(riffle(dir.path(), &["topic", "create", "no spaces/please"]));
    assert!(err.contains("invalid topic name"), "{err}");
    assert!(err.contains("use only ASCII letters"), "{err}");
    let err = fails(riffle(dir.path(), &["topic", "create", "t", "--config", "retention.ms=soon"]));
    assert!(err.contains("retention.ms"), "{err}");
}

#[test]
fn a_missing_data_dir_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let err = fails(riffle(&dir.path().join("typo"), &["topic", "list"]));
    assert!(err.contains("no riffle data directory"), "{err}");
}

#[test]
fn produce_then_consume_from_beginning() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    ok(riffle(d, &["topic", "create", "lines"]));
    let p = ok(riffle_with_stdin(d, &["produce", "lines"], "one\ntwo\r\nthree\n"));
    assert!(stdout(&p).is_empty(), "produce prints nothing on stdout");
    assert!(stderr(&p).contains("3 record(s) produced"), "{}", stderr(&p));

    let c = ok(riffle(d, &["consume", "lines", "--from-beginning", "--max-messages", "3"]));
    assert_eq!(stdout(&c), "one\ntwo\nthree\n");
    let c = ok(riffle(d, &["consume", "lines", "--from-beginning", "--max-messages", "2"]));
    assert_eq!(stdout(&c), "one\ntwo\n");
    let c = ok(riffle(d, &["consume", "lines", "--offset", "1", "--timeout-ms", "300", "--print-offset"]));
    assert_eq!(stdout(&c), "Partition:0\tOffset:1\ttwo\nPartition:0\tOffset:2\tthree\n");
    // Without --from-beginning only new records are read.
    let c = ok(riffle(d, &["consume", "lines", "--timeout-ms", "200"]));
    assert_eq!(stdout(&c), "");
}

#[test]
fn key_separator_splits_keys_and_refuses_lines_without_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    ok(riffle(d, &["topic", "create", "kv", "--partitions", "2"]));
    ok(riffle_with_stdin(d, &["produce", "kv", "--key-separator", ":"], "alice:1\nbob:2:x\nalice:3\n"));
    let c = ok(riffle(d, &["consume", "kv", "--from-beginning", "--max-messages", "3", "--print-key"]));
    let mut lines: Vec<String> = stdout(&c).lines().map(String::from).collect();
    lines.sort();
    assert_eq!(lines, ["alice\t1", "alice\t3", "bob\t2:x"]);
    // Same key, same partition, in order.
    let c = ok(riffle(
        d,
        &["consume", "kv", "--from-beginning", "--timeout-ms", "300", "--print-key", "--key-separator", "="],
    ));
    let text = stdout(&c);
    let alice: Vec<&str> = text.lines().filter(|l| l.starts_with("alice=")).collect();
    assert_eq!(alice, ["alice=1", "alice=3"]);

    let o = riffle_with_stdin(d, &["produce", "kv", "--key-separator", ":"], "carol:4\nno separator\ndave:5\n");
    let err = fails(o);
    assert!(err.contains("line 2 has no key separator"), "{err}");
    assert!(err.contains("1 record(s) were produced before the error"), "{err}");
    let c = ok(riffle(d, &["consume", "kv", "--from-beginning", "--timeout-ms", "300"]));
    assert_eq!(stdout(&c).lines().count(), 4, "carol was produced, dave was not");
}

#[test]
fn group_consumer_resumes_after_committed_offsets_and_lag_shows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    ok(riffle(d, &["topic", "create", "events", "--partitions", "2"]));
    let input: String = (0..10).map(|i| format!("k{i}:v{i}\n")).collect();
    ok(riffle_with_stdin(d, &["produce", "events", "--key-separator", ":"], &input));

    let first =
        stdout(&ok(riffle(d, &["consume", "events", "--group", "g1", "--from-beginning", "--max-messages", "4"])));
    assert_eq!(first.lines().count(), 4, "{first}");

    let desc = stdout(&ok(riffle(d, &["groups", "describe", "g1"])));
    assert!(desc.contains("LAG"), "{desc}");
    let lag: i64 = desc
        .lines()
        .filter(|l| l.starts_with("events"))
        .map(|l| l.split_whitespace().nth(4).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0))
        .sum();
    let committed_partitions = desc.lines().filter(|l| l.starts_with("events")).count();
    assert!(committed_partitions >= 1, "{desc}");
    // Partitions without a commit are not listed; their records are lag too.
    assert!(lag <= 6, "{desc}");

    let second =
        stdout(&ok(riffle(d, &["consume", "events", "--group", "g1", "--from-beginning", "--timeout-ms", "500"])));
    assert_eq!(second.lines().count(), 6, "the second run resumes after the 4 committed records:\n{second}");
    let mut all: Vec<&str> = first.lines().chain(second.lines()).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 10, "no record is read twice");

    let desc = stdout(&ok(riffle(d, &["groups", "describe", "g1"])));
    for l in desc.lines().filter(|l| l.starts_with("events")) {
        assert_eq!(l.split_whitespace().nth(4), Some("0"), "{desc}");
    }
    let list = stdout(&ok(riffle(d, &["groups", "list"])));
    assert!(list.contains("g1"), "{list}");
    let err = fails(riffle(d, &["groups", "describe", "nope"]));
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn consuming_an_unknown_topic_fails_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    ok(riffle(dir.path(), &["topic", "create", "t"]));
    let err = fails(riffle(dir.path(), &["consume", "nope", "--timeout-ms", "100"]));
    assert!(err.contains("unknown topic \"nope\""), "{err}");
    let err = fails(riffle(dir.path(), &["consume", "t", "--partition", "5", "--timeout-ms", "100"]));
    assert!(err.contains("partition 5 does not exist"), "{err}");
}

#[test]
fn quickstart_finishes_with_zero_lag() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_riffle"))
        .args(["quickstart", "--data-dir"])
        .arg(dir.path().join("qs"))
        .output()
        .expect("riffle runs");
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains("Consumed 10000 records"), "{text}");
    assert!(text.contains("lag: 0"), "{text}");
    assert!(text.contains("What to try next"), "{text}");
}

#[test]
fn perf_produce_and_consume_print_json_last() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let o = ok(riffle(
        d,
        &[
            "perf",
            "produce",
            "--records",
            "20000",
            "--record-size",
            "100",
            "--topic",
            "bench",
            "--partitions",
            "2",
            "--json",
        ],
    ));
    let last = stdout(&o).lines().last().map(String::from).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&last).expect("the last line is JSON");
    assert_eq!(v["records"], 20000);
    assert!(v["records_per_s"].as_f64().is_some_and(|r| r > 0.0), "{v}");
    assert!(v["p99_ms"].as_f64().is_some(), "{v}");
    let o = ok(riffle(d, &["perf", "consume", "--topic", "bench", "--json"]));
    let last = stdout(&o).lines().last().map(String::from).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&last).expect("the last line is JSON");
    assert_eq!(v["records"], 20000);
    assert_eq!(v["bytes"], 2_000_000);
    assert!(v["mb_per_s"].as_f64().is_some_and(|r| r > 0.0), "{v}");
}
