//! Running one case against a [`Session`].
//!
//! A fresh session with the case's properties; the topics the case names
//! (its `topics`, the topics of its statements' `WITH` clauses that give
//! `PARTITIONS`, and every input and output topic) are created first, one
//! partition unless given; statements run in order; inputs are produced in
//! file order; then each output topic is compared and the `post` checks
//! run.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use bytes::Bytes;
use regex::Regex;

use super::compare::{compare_record, describe_actual, describe_expected};
use super::record::{decode_output, encode_input, RecordSpec};
use super::spec::{FormatCheck, PostSpec, TestCase};
use super::{CaseResult, CaseStatus};
use crate::catalog::SourceInfo;
use crate::session::Session;

#[allow(clippy::unwrap_used)] // constant patterns
fn regexes() -> &'static (Regex, Regex, Regex, Regex) {
    static RE: OnceLock<(Regex, Regex, Regex, Regex)> = OnceLock::new();
    RE.get_or_init(|| {
        (
            Regex::new(
                r"(?is)^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:SOURCE\s+)?(?:STREAM|TABLE)\s+(?:IF\s+NOT\s+EXISTS\s+)?(`[^`]+`|[A-Za-z_][A-Za-z0-9_@]*)",
            )
            .unwrap(),
            Regex::new(r"(?i)\bKAFKA_TOPIC\s*=\s*'([^']*)'").unwrap(),
            Regex::new(r"(?i)\bPARTITIONS\s*=\s*'?(\d+)'?").unwrap(),
            Regex::new(r"\s*([,()<>])\s*").unwrap(),
        )
    })
}

/// `(topic, partitions)` for a `CREATE STREAM|TABLE … WITH (PARTITIONS=n)`
/// statement: the topic is `KAFKA_TOPIC`, else the source's name.
pub fn statement_topic_partitions(stmt: &str) -> Option<(String, i32)> {
    let (create, topic_re, parts_re, _) = regexes();
    let name = create.captures(stmt)?.get(1)?.as_str();
    let partitions = parts_re.captures(stmt)?.get(1)?.as_str().parse::<i32>().ok()?;
    let topic = match topic_re.captures(stmt).and_then(|c| c.get(1)) {
        Some(t) => t.as_str().to_string(),
        None => match name.strip_prefix('`').and_then(|n| n.strip_suffix('`')) {
            Some(quoted) => quoted.to_string(),
            None => name.to_ascii_uppercase(),
        },
    };
    Some((topic, partitions))
}

/// The topics to create before a case runs, with partition counts, in a
/// stable order.
pub fn topics_to_create(case: &TestCase) -> Vec<(String, i32)> {
    let mut out: Vec<(String, i32)> = Vec::new();
    let mut add = |name: &str, partitions: Option<i32>, force: bool| {
        if let Some(existing) = out.iter_mut().find(|(n, _)| n == name) {
            if force {
                if let Some(p) = partitions {
                    existing.1 = p;
                }
            }
        } else {
            out.push((name.to_string(), partitions.unwrap_or(1)));
        }
    };
    for t in &case.topics {
        add(&t.name, t.partitions, true);
    }
    for s in &case.statements {
        if let Some((t, p)) = statement_topic_partitions(s) {
            add(&t, Some(p), false);
        }
    }
    for r in case.inputs.iter().chain(&case.outputs) {
        add(&r.topic, None, false);
    }
    out
}

/// Whether `message` satisfies an expected exception message.
fn message_matches(expected: Option<&str>, message: &str) -> bool {
    expected.is_none_or(|m| message.contains(m))
}

fn expected_failure(case: &TestCase, stage: &str, message: &str) -> CaseResult {
    let want = case.expected_exception.as_ref().and_then(|e| e.message.as_deref());
    if message_matches(want, message) {
        CaseResult::new(case, CaseStatus::Passed, None)
    } else {
        CaseResult::new(
            case,
            CaseStatus::Failed,
            Some(format!("{stage} failed with {message:?}, but the expected message is {:?}", want.unwrap_or_default())),
        )
    }
}

/// Produces one input record.
///
/// # Errors
/// The session's error.
pub fn produce_record(session: &mut Session, rec: &RecordSpec) -> crate::Result<()> {
    let source: Option<SourceInfo> = session.topic_source(&rec.topic).cloned();
    let (key, value) = encode_input(source.as_ref(), rec);
    let headers = rec.headers.clone().unwrap_or_default().into_iter().map(|(k, v)| (k, v.map(Bytes::from))).collect();
    session.produce(&rec.topic, key.map(Bytes::from), value.map(Bytes::from), rec.timestamp.unwrap_or(0), headers)
}

/// Compares every topic named in `outputs` with what the session holds.
///
/// # Errors
/// The first topic whose records differ, and how.
pub fn check_outputs(session: &Session, outputs: &[RecordSpec]) -> Result<(), String> {
    let mut topics: Vec<&str> = Vec::new();
    for r in outputs {
        if !topics.contains(&r.topic.as_str()) {
            topics.push(&r.topic);
        }
    }
    for topic in topics {
        let expected: Vec<&RecordSpec> = outputs.iter().filter(|r| r.topic == topic).collect();
        let stored = session.read_topic(topic).map_err(|e| format!("cannot read output topic {topic}: {e}"))?;
        let source = session.topic_source(topic);
        let actual: Vec<_> = stored.iter().map(|r| decode_output(source, r)).collect();
        for (i, (e, a)) in expected.iter().zip(&actual).enumerate() {
            compare_record(e, a, source).map_err(|why| {
                format!(
                    "topic {topic}, record {i}: {why}\n    expected {}\n    actual   {}",
                    describe_expected(e),
                    describe_actual(a)
                )
            })?;
        }
        if expected.len() != actual.len() {
            let detail = if actual.len() > expected.len() {
                format!("first unexpected: {}", describe_actual(&actual[expected.len()]))
            } else {
                format!("first missing: {}", describe_expected(expected[actual.len()]))
            };
            return Err(format!(
                "topic {topic}: expected {} records, got {}; {detail}",
                expected.len(),
                actual.len()
            ));
        }
    }
    Ok(())
}

/// A schema string compared leniently: unquoted names upper-cased, no
/// backticks, single spaces, none around `,()<>`, `INTEGER` as `INT`,
/// `VARCHAR` as `STRING`, `PRIMARY KEY` as `KEY`.
pub fn normalize_schema(s: &str) -> String {
    let (_, _, _, punct) = regexes();
    let (integer, varchar, primary) = type_word_regexes();
    // Unquoted identifiers are upper-cased, as ksqlDB's parser does;
    // back-quoted ones keep their case.
    let mut unquoted = String::with_capacity(s.len());
    for (i, part) in s.split('`').enumerate() {
        if i % 2 == 0 {
            unquoted.push_str(&part.to_uppercase());
        } else {
            unquoted.push_str(part);
        }
    }
    let s = unquoted.split_whitespace().collect::<Vec<_>>().join(" ");
    let s = punct.replace_all(&s, "$1");
    let s = integer.replace_all(&s, "INT");
    let s = varchar.replace_all(&s, "STRING");
    let s = primary.replace_all(&s, "KEY");
    s.trim().to_string()
}

#[allow(clippy::unwrap_used)] // constant patterns
fn type_word_regexes() -> &'static (Regex, Regex, Regex) {
    static RE: OnceLock<(Regex, Regex, Regex)> = OnceLock::new();
    RE.get_or_init(|| {
        (
            Regex::new(r"(?i)\bINTEGER\b").unwrap(),
            Regex::new(r"(?i)\bVARCHAR\b").unwrap(),
            Regex::new(r"(?i)\bPRIMARY KEY\b").unwrap(),
        )
    })
}

fn check_format(what: &str, want: &FormatCheck, got: &crate::serde::FormatSpec, window: Option<&crate::catalog::WindowInfo>, is_key: bool) -> Result<(), String> {
    if let Some(f) = &want.format {
        if !f.eq_ignore_ascii_case(got.kind.name()) {
            return Err(format!("{what}: expected format {f}, got {}", got.kind.name()));
        }
    }
    if is_key {
        if let Some(wt) = &want.window_type {
            match window {
                Some(w) if w.kind.name().eq_ignore_ascii_case(wt) => {}
                Some(w) => return Err(format!("{what}: expected window type {wt}, got {}", w.kind.name())),
                None => return Err(format!("{what}: expected window type {wt}, got an unwindowed key")),
            }
        }
        if let Some(size) = want.window_size {
            let got_size = window.and_then(|w| w.size_ms);
            if got_size != Some(size) {
                return Err(format!("{what}: expected window size {size}, got {got_size:?}"));
            }
        }
    }
    Ok(())
}

/// Runs the `post` checks.
///
/// # Errors
/// The first check that fails.
pub fn check_post(session: &Session, post: &PostSpec) -> Result<(), String> {
    let catalog = session.catalog();
    for want in &post.sources {
        let src = catalog
            .source(&want.name)
            .or_else(|| catalog.source(&want.name.to_ascii_uppercase()))
            .ok_or_else(|| format!("post: no source {}", want.name))?;
        if let Some(k) = &want.kind {
            if !k.eq_ignore_ascii_case(src.kind.name()) {
                return Err(format!("post: source {} is a {}, expected a {}", src.name, src.kind.name(), k.to_uppercase()));
            }
        }
        if let Some(schema) = &want.schema {
            let got = src.schema_string();
            if normalize_schema(schema) != normalize_schema(&got) {
                return Err(format!("post: source {} schema: expected {schema:?}, got {got:?}", src.name));
            }
        }
        if let Some(kf) = &want.key_format {
            check_format(&format!("post: source {} key", src.name), kf, &src.key_format, src.window.as_ref(), true)?;
        }
        if let Some(vf) = &want.value_format {
            check_format(&format!("post: source {} value", src.name), vf, &src.value_format, None, false)?;
        }
    }
    let topics = session.topics();
    for want in &post.topics {
        // Internal topic names depend on ksqlDB's query ids: not checked.
        if want.name.starts_with("_confluent-ksql") {
            continue;
        }
        if !topics.iter().any(|t| *t == want.name) {
            return Err(format!("post: no topic {}", want.name));
        }
        if let Some(src) = session.topic_source(&want.name) {
            if let Some(kf) = &want.key_format {
                check_format(&format!("post: topic {} key", want.name), kf, &src.key_format, src.window.as_ref(), true)?;
            }
            if let Some(vf) = &want.value_format {
                check_format(&format!("post: topic {} value", want.name), vf, &src.value_format, None, false)?;
            }
        }
    }
    if let Some(pattern) = &post.blacklist {
        let re = Regex::new(&format!("^(?:{pattern})$")).map_err(|e| format!("post: bad blacklist regex {pattern:?}: {e}"))?;
        if let Some(t) = topics.iter().find(|t| re.is_match(t)) {
            return Err(format!("post: topic {t} matches the blacklist {pattern:?}"));
        }
    }
    Ok(())
}

/// Runs one case (see the module docs). Panics inside the session are the
/// caller's to catch ([`super::run_case`] does).
pub fn run_case_inner(case: &TestCase) -> CaseResult {
    if let Some(why) = &case.skip {
        return CaseResult::new(case, CaseStatus::Skipped, Some(why.clone()));
    }
    if let Some(why) = &case.invalid {
        return CaseResult::new(case, CaseStatus::Failed, Some(format!("bad test case: {why}")));
    }
    let fail = |why: String| CaseResult::new(case, CaseStatus::Failed, Some(why));
    let props: BTreeMap<String, String> = case.properties.clone();
    let mut session = match Session::new(props) {
        Ok(s) => s,
        Err(e) => return fail(format!("cannot start a session: {e}")),
    };
    for (topic, partitions) in topics_to_create(case) {
        if let Err(e) = session.create_topic(&topic, partitions) {
            return fail(format!("cannot create topic {topic}: {e}"));
        }
    }
    for (i, stmt) in case.statements.iter().enumerate() {
        if let Err(e) = session.execute(stmt) {
            let msg = e.to_string();
            if case.expected_exception.is_some() {
                return expected_failure(case, &format!("statement {}", i + 1), &msg);
            }
            return fail(format!("statement {} failed: {msg}\n    {}", i + 1, stmt.trim()));
        }
    }
    for (i, rec) in case.inputs.iter().enumerate() {
        if let Err(e) = produce_record(&mut session, rec) {
            let msg = e.to_string();
            if case.expected_exception.is_some() {
                return expected_failure(case, &format!("input record {i}"), &msg);
            }
            return fail(format!("input record {i} (topic {}) failed: {msg}", rec.topic));
        }
    }
    if let Some(ex) = &case.expected_exception {
        return fail(format!(
            "expected an error{}, but every statement and record succeeded",
            ex.message.as_ref().map(|m| format!(" containing {m:?}")).unwrap_or_default()
        ));
    }
    if let Err(why) = check_outputs(&session, &case.outputs) {
        return fail(why);
    }
    if let Err(why) = check_post(&session, &case.post) {
        return fail(why);
    }
    CaseResult::new(case, CaseStatus::Passed, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qtt::spec::parse_file;

    #[test]
    fn statement_partitions() {
        assert_eq!(
            statement_topic_partitions("CREATE STREAM s (a INT) WITH (kafka_topic='t', partitions=4, value_format='JSON');"),
            Some(("t".to_string(), 4))
        );
        assert_eq!(
            statement_topic_partitions("create table if not exists foo WITH (PARTITIONS = 2) AS SELECT * FROM x;"),
            Some(("FOO".to_string(), 2))
        );
        assert_eq!(statement_topic_partitions("CREATE STREAM s WITH (kafka_topic='t') AS SELECT * FROM x;"), None);
        assert_eq!(statement_topic_partitions("INSERT INTO s VALUES (1);"), None);
    }

    #[test]
    fn topics_are_collected_once() {
        let cases = parse_file(
            "f",
            r#"{"tests": [{"name": "n",
              "statements": ["CREATE STREAM S (A INT) WITH (kafka_topic='b', partitions=3, value_format='JSON');"],
              "topics": [{"name": "a", "partitions": 2}],
              "inputs": [{"topic": "a", "value": 1}, {"topic": "c", "value": 1}],
              "outputs": [{"topic": "b", "value": 1}, {"topic": "a", "value": 1}]}]}"#,
        )
        .unwrap();
        assert_eq!(
            topics_to_create(&cases[0]),
            vec![("a".to_string(), 2), ("b".to_string(), 3), ("c".to_string(), 1)]
        );
    }

    #[test]
    fn schema_normalization() {
        assert_eq!(
            normalize_schema("`ID` INTEGER KEY, `V` MAP<STRING, INTEGER>, `D` DECIMAL(4, 2)"),
            normalize_schema("ID INT KEY, V MAP<STRING,INT>, D DECIMAL(4,2)")
        );
        assert_eq!(normalize_schema("`K` STRING PRIMARY KEY, `X` VARCHAR"), normalize_schema("K STRING KEY, X STRING"));
        assert_ne!(normalize_schema("A INT"), normalize_schema("A BIGINT"));
        assert_eq!(normalize_schema("hex STRING, s STRUCT<f1 INT>"), normalize_schema("`HEX` STRING, `S` STRUCT<`F1` INTEGER>"));
        assert_ne!(normalize_schema("`a` INT"), normalize_schema("`A` INT"));
    }

    #[test]
    fn expected_messages() {
        assert!(message_matches(Some("Unknown format"), "Unknown format: FOO"));
        assert!(!message_matches(Some("Unknown format"), "line 1:2: mismatched input"));
        assert!(message_matches(None, "anything"));
    }
}
