//! QTT files: the test shape, expansion into cases and skip rules.
//!
//! A test with `"format": [A, B]` becomes one case per format with
//! `{FORMAT}` substituted; with `"config": [v1, v2]` one case per value,
//! substituted into the property whose value is `"{CONFIG}"`. Case ids are
//! `<file stem> - <name>[ - <FORMAT>][ - <key>=<value>]`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use regex::Regex;

use super::json::{self, Json};
use super::record::{base64_decode, RecordSpec, WindowKind, WindowSpec};

/// A topic named in a test's `topics` list.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicSpec {
    /// Topic name.
    pub name: String,
    /// Partition count, if given.
    pub partitions: Option<i32>,
    /// Key format, if given.
    pub key_format: Option<String>,
    /// Value format, if given.
    pub value_format: Option<String>,
}

/// What `expectedException` asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedException {
    /// ksqlDB's exception class (informational).
    pub type_name: Option<String>,
    /// A substring the error message must contain.
    pub message: Option<String>,
}

/// A format expected by a `post` check.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FormatCheck {
    /// Format name, if given.
    pub format: Option<String>,
    /// Window type (`TUMBLING`, `HOPPING`, `SESSION`), if given.
    pub window_type: Option<String>,
    /// Window size in ms, if given.
    pub window_size: Option<i64>,
}

/// A `post.sources` entry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourceCheck {
    /// Source name.
    pub name: String,
    /// `stream` or `table`, if given.
    pub kind: Option<String>,
    /// Schema string, if given.
    pub schema: Option<String>,
    /// Key format, if given.
    pub key_format: Option<FormatCheck>,
    /// Value format, if given.
    pub value_format: Option<FormatCheck>,
}

/// A `post.topics.topics` entry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TopicCheck {
    /// Topic name.
    pub name: String,
    /// Key format, if given.
    pub key_format: Option<FormatCheck>,
    /// Value format, if given.
    pub value_format: Option<FormatCheck>,
    /// Partition count, if given.
    pub partitions: Option<i32>,
}

/// The `post` section.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PostSpec {
    /// Expected sources.
    pub sources: Vec<SourceCheck>,
    /// Expected topics.
    pub topics: Vec<TopicCheck>,
    /// A regex no topic may match.
    pub blacklist: Option<String>,
}

/// One expanded test case, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct TestCase {
    /// `<file stem> - <name>[ - <FORMAT>][ - <key>=<value>]`.
    pub id: String,
    /// The file stem.
    pub file: String,
    /// The test's name.
    pub name: String,
    /// Statements, in order, `{FORMAT}` substituted.
    pub statements: Vec<String>,
    /// Session properties.
    pub properties: BTreeMap<String, String>,
    /// Topics to create up front.
    pub topics: Vec<TopicSpec>,
    /// Input records, in file order.
    pub inputs: Vec<RecordSpec>,
    /// Expected output records, in file order.
    pub outputs: Vec<RecordSpec>,
    /// The expected failure, if any.
    pub expected_exception: Option<ExpectedException>,
    /// Checks after the run.
    pub post: PostSpec,
    /// Why the case is skipped, if it is.
    pub skip: Option<String>,
    /// Why the case cannot even be read, if so (it then fails).
    pub invalid: Option<String>,
}

/// Reads a QTT file and expands its tests into cases.
///
/// # Errors
/// Unreadable files and JSON that does not parse even leniently.
pub fn load_file(path: &Path) -> Result<Vec<TestCase>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    parse_file(&stem, &text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses QTT text (the file stem names the cases) and expands its tests.
///
/// # Errors
/// JSON that does not parse, or a file without a `tests` array.
pub fn parse_file(stem: &str, text: &str) -> Result<Vec<TestCase>, String> {
    let doc = json::parse(text)?;
    let tests = doc.get("tests").and_then(Json::as_array).ok_or("no `tests` array")?;
    let mut out = Vec::new();
    for (i, t) in tests.iter().enumerate() {
        out.extend(expand(stem, i, t));
    }
    Ok(out)
}

/// The text of a JSON scalar used as a property value or config value.
fn scalar_text(v: &Json) -> String {
    v.to_plain_string()
}

/// Expands one test into its cases.
pub fn expand(stem: &str, index: usize, test: &Json) -> Vec<TestCase> {
    let name = test.get("name").and_then(Json::as_str).map(str::to_string).unwrap_or_else(|| format!("test #{index}"));
    let formats: Vec<Option<String>> = match test.get("format").and_then(Json::as_array) {
        Some(f) if !f.is_empty() => f.iter().map(|v| Some(scalar_text(v))).collect(),
        _ => vec![None],
    };
    let base_props: Vec<(String, String)> = match test.get("properties") {
        Some(Json::Object(fields)) => fields.iter().map(|(k, v)| (k.clone(), scalar_text(v))).collect(),
        _ => Vec::new(),
    };
    let config_key = base_props.iter().find(|(_, v)| v == "{CONFIG}").map(|(k, _)| k.clone());
    let configs: Vec<Option<(String, String)>> = match test.get("config").and_then(Json::as_array) {
        Some(c) if !c.is_empty() => {
            let key = config_key.clone().unwrap_or_else(|| "config".to_string());
            c.iter().map(|v| Some((key.clone(), scalar_text(v)))).collect()
        }
        _ => vec![None],
    };
    let enabled = test.get("enabled").and_then(Json::as_bool).unwrap_or(true);

    let mut cases = Vec::new();
    for format in &formats {
        for config in &configs {
            let mut id = format!("{stem} - {name}");
            if let Some(f) = format {
                id.push_str(" - ");
                id.push_str(f);
            }
            if let Some((k, v)) = config {
                id.push_str(&format!(" - {k}={v}"));
            }
            let subst = |s: &str| match format {
                Some(f) => s.replace("{FORMAT}", f),
                None => s.to_string(),
            };
            let mut case = TestCase {
                id,
                file: stem.to_string(),
                name: name.clone(),
                statements: Vec::new(),
                properties: BTreeMap::new(),
                topics: Vec::new(),
                inputs: Vec::new(),
                outputs: Vec::new(),
                expected_exception: None,
                post: PostSpec::default(),
                skip: None,
                invalid: None,
            };
            for (k, v) in &base_props {
                let v = match config {
                    Some((ck, cv)) if ck == k && v == "{CONFIG}" => cv.clone(),
                    _ => subst(v),
                };
                case.properties.insert(k.clone(), v);
            }
            if let Err(e) = fill(&mut case, test, &subst) {
                case.invalid = Some(e);
            }
            if !enabled {
                case.skip = Some("disabled in the test file (enabled: false)".into());
            } else if let Some(why) = needs_schema_registry(&case) {
                case.skip = Some(why);
            }
            cases.push(case);
        }
    }
    cases
}

fn fill(case: &mut TestCase, test: &Json, subst: &dyn Fn(&str) -> String) -> Result<(), String> {
    if let Some(stmts) = test.get("statements") {
        let stmts = stmts.as_array().ok_or("`statements` is not an array")?;
        for s in stmts {
            case.statements.push(subst(s.as_str().ok_or("a statement is not a string")?));
        }
    }
    if let Some(Json::Array(topics)) = test.get("topics") {
        for t in topics {
            let Some(name) = t.get("name").and_then(Json::as_str) else { continue };
            case.topics.push(TopicSpec {
                name: name.to_string(),
                partitions: t.get("partitions").and_then(Json::as_i64).and_then(|p| i32::try_from(p).ok()),
                key_format: t.get("keyFormat").map(|f| subst(&format_name(f).unwrap_or_default())),
                value_format: t
                    .get("valueFormat")
                    .or_else(|| t.get("format"))
                    .map(|f| subst(&format_name(f).unwrap_or_default())),
            });
        }
    }
    for (field, into) in [("inputs", &mut case.inputs), ("outputs", &mut case.outputs)] {
        if let Some(records) = test.get(field) {
            let records = records.as_array().ok_or_else(|| format!("`{field}` is not an array"))?;
            for (i, r) in records.iter().enumerate() {
                into.push(parse_record(r).map_err(|e| format!("{field}[{i}]: {e}"))?);
            }
        }
    }
    if let Some(ex) = test.get("expectedException") {
        case.expected_exception = Some(ExpectedException {
            type_name: ex.get("type").and_then(Json::as_str).map(str::to_string),
            message: ex.get("message").and_then(Json::as_str).map(subst),
        });
    }
    if let Some(post) = test.get("post") {
        case.post = parse_post(post);
    }
    Ok(())
}

/// The format name of a `keyFormat`/`valueFormat` entry: a string, or an
/// object with `format`.
fn format_name(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Object(_) => v.get("format").and_then(Json::as_str).map(str::to_string),
        _ => None,
    }
}

fn format_check(v: &Json) -> FormatCheck {
    FormatCheck {
        format: format_name(v),
        window_type: v.get("windowType").and_then(Json::as_str).map(str::to_string),
        window_size: v.get("windowSize").and_then(Json::as_i64),
    }
}

fn parse_post(post: &Json) -> PostSpec {
    let mut spec = PostSpec::default();
    if let Some(Json::Array(sources)) = post.get("sources") {
        for s in sources {
            let Some(name) = s.get("name").and_then(Json::as_str) else { continue };
            spec.sources.push(SourceCheck {
                name: name.to_string(),
                kind: s.get("type").and_then(Json::as_str).map(str::to_string),
                schema: s.get("schema").and_then(Json::as_str).map(str::to_string),
                key_format: s.get("keyFormat").map(format_check),
                value_format: s.get("valueFormat").map(format_check),
            });
        }
    }
    if let Some(topics) = post.get("topics") {
        spec.blacklist = topics.get("blacklist").and_then(Json::as_str).map(str::to_string);
        if let Some(Json::Array(list)) = topics.get("topics") {
            for t in list {
                let Some(name) = t.get("name").and_then(Json::as_str) else { continue };
                spec.topics.push(TopicCheck {
                    name: name.to_string(),
                    key_format: t.get("keyFormat").map(format_check),
                    value_format: t.get("valueFormat").map(format_check),
                    partitions: t.get("partitions").and_then(Json::as_i64).and_then(|p| i32::try_from(p).ok()),
                });
            }
        }
    }
    spec
}

/// Reads one record of `inputs`/`outputs`.
///
/// # Errors
/// A record without a topic, a bad window or a bad header.
pub fn parse_record(r: &Json) -> Result<RecordSpec, String> {
    let topic = r.get("topic").and_then(Json::as_str).ok_or("record without a `topic`")?.to_string();
    let timestamp = match r.get("timestamp") {
        None | Some(Json::Null) => None,
        Some(t) => Some(t.as_i64().ok_or_else(|| format!("bad timestamp {t}"))?),
    };
    let window = match r.get("window") {
        None | Some(Json::Null) => None,
        Some(w) => {
            let start = w.get("start").and_then(Json::as_i64).ok_or("window without `start`")?;
            let end = w.get("end").and_then(Json::as_i64).ok_or("window without `end`")?;
            let kind = match w.get("type").and_then(Json::as_str).map(str::to_ascii_lowercase).as_deref() {
                Some("session") => WindowKind::Session,
                Some("time") | None => WindowKind::Time,
                Some(other) => return Err(format!("unknown window type {other:?}")),
            };
            Some(WindowSpec { start, end, kind })
        }
    };
    let headers = match r.get("headers") {
        None | Some(Json::Null) => None,
        Some(Json::Array(hs)) => {
            let mut out = Vec::new();
            for h in hs {
                let key = h.get("KEY").and_then(Json::as_str).ok_or("header without `KEY`")?.to_string();
                let value = match h.get("VALUE") {
                    None | Some(Json::Null) => None,
                    Some(Json::String(b64)) => Some(base64_decode(b64).ok_or_else(|| format!("header value {b64:?} is not base64"))?),
                    Some(other) => return Err(format!("header value {other} is not a base64 string")),
                };
                out.push((key, value));
            }
            Some(out)
        }
        Some(other) => return Err(format!("`headers` is not an array: {other}")),
    };
    Ok(RecordSpec {
        topic,
        key: r.get("key").cloned().unwrap_or(Json::Null),
        value: r.get("value").cloned().unwrap_or(Json::Null),
        timestamp,
        window,
        headers,
    })
}

fn sr_format_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        #[allow(clippy::unwrap_used)] // a constant pattern
        Regex::new(r"(?i)\b(AVRO|PROTOBUF_NOSR|PROTOBUF|JSON_SR)\b").unwrap()
    })
}

fn schema_id_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        #[allow(clippy::unwrap_used)] // a constant pattern
        Regex::new(r"(?i)\b(KEY|VALUE)_SCHEMA_(ID|FULL_NAME)\b").unwrap()
    })
}

/// Why `case` needs a schema registry (or a codec Riffle lacks), if it does:
/// AVRO, PROTOBUF, PROTOBUF_NOSR or JSON_SR in a statement, a property, or a
/// topic's format, or a schema id in a statement.
pub fn needs_schema_registry(case: &TestCase) -> Option<String> {
    let re = sr_format_regex();
    let texts = case
        .statements
        .iter()
        .chain(case.properties.values())
        .chain(case.topics.iter().filter_map(|t| t.key_format.as_ref()))
        .chain(case.topics.iter().filter_map(|t| t.value_format.as_ref()));
    for t in texts {
        if let Some(m) = re.find(t) {
            let f = m.as_str().to_ascii_uppercase();
            return Some(if f == "PROTOBUF_NOSR" {
                "needs the PROTOBUF_NOSR format (no protobuf codec)".to_string()
            } else {
                format!("needs a schema registry ({f})")
            });
        }
    }
    if let Some(m) = case.statements.iter().find_map(|s| schema_id_regex().find(s)) {
        return Some(format!("needs a schema registry ({})", m.as_str().to_ascii_uppercase()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"{
      "comments": ["stray"],
      "tests": [
        {
          "name": "plain",
          "statements": ["CREATE STREAM A (K INT KEY, V INT) WITH (kafka_topic='a', value_format='JSON');"],
          "inputs": [{"topic": "a", "key": 1, "value": {"V": 2}, "timestamp": 5}],
          "outputs": [{"topic": "b", "value": {"V": 2}, "headers": [{"KEY": "h", "VALUE": "IQ=="}, {"KEY": "n", "VALUE": null}]}]
        },
        // a comment between tests
        {
          "name": "formats",
          "format": ["JSON", "AVRO"],
          "statements": ["CREATE STREAM A (V INT) WITH (kafka_topic='a', value_format='{FORMAT}');"]
        },
        {
          "name": "configs",
          "config": ["true", "false"],
          "properties": {"ksql.new.query.planner.enabled": "{CONFIG}", "other": 4},
          "statements": ["x"],
          "expectedException": {"type": "T", "message": "boom"}
        },
        {"name": "off", "enabled": false, "statements": []},
        {
          "name": "windowed",
          "statements": [],
          "outputs": [{"topic": "S2", "key": 0, "value": "0", "window": {"start": 0, "end": 10, "type": "session"}}],
          "post": {"sources": [{"name": "S2", "type": "table", "schema": "ID BIGINT KEY",
                     "keyFormat": {"format": "KAFKA", "windowType": "SESSION", "windowSize": null}}],
                   "topics": {"blacklist": ".*-repartition"}}
        }
      ]
    }"#;

    fn cases() -> Vec<TestCase> {
        parse_file("sample", FILE).unwrap()
    }

    #[test]
    fn ids_follow_ksqldb() {
        let ids: Vec<String> = cases().into_iter().map(|c| c.id).collect();
        assert_eq!(
            ids,
            vec![
                "sample - plain",
                "sample - formats - JSON",
                "sample - formats - AVRO",
                "sample - configs - ksql.new.query.planner.enabled=true",
                "sample - configs - ksql.new.query.planner.enabled=false",
                "sample - off",
                "sample - windowed",
            ]
        );
    }

    #[test]
    fn format_and_config_substitution() {
        let c = cases();
        assert_eq!(c[1].statements[0], "CREATE STREAM A (V INT) WITH (kafka_topic='a', value_format='JSON');");
        assert_eq!(c[1].skip, None);
        assert_eq!(c[2].skip.as_deref(), Some("needs a schema registry (AVRO)"));
        assert_eq!(c[3].properties.get("ksql.new.query.planner.enabled").map(String::as_str), Some("true"));
        assert_eq!(c[4].properties.get("ksql.new.query.planner.enabled").map(String::as_str), Some("false"));
        assert_eq!(c[4].properties.get("other").map(String::as_str), Some("4"));
        assert_eq!(c[4].expected_exception.as_ref().and_then(|e| e.message.as_deref()), Some("boom"));
    }

    #[test]
    fn disabled_cases_are_skipped() {
        let c = cases();
        assert!(c[5].skip.as_deref().is_some_and(|s| s.contains("enabled: false")));
        assert_eq!(c[0].skip, None);
    }

    #[test]
    fn records_and_post() {
        let c = cases();
        let input = &c[0].inputs[0];
        assert_eq!((input.topic.as_str(), input.timestamp), ("a", Some(5)));
        assert_eq!(input.key, Json::Number("1".into()));
        let out = &c[0].outputs[0];
        assert_eq!(out.key, Json::Null);
        assert_eq!(out.timestamp, None);
        assert_eq!(out.headers, Some(vec![("h".to_string(), Some(vec![0x21])), ("n".to_string(), None)]));
        let w = &c[6];
        assert_eq!(w.outputs[0].window, Some(WindowSpec { start: 0, end: 10, kind: WindowKind::Session }));
        assert_eq!(w.post.blacklist.as_deref(), Some(".*-repartition"));
        let s = &w.post.sources[0];
        assert_eq!(s.kind.as_deref(), Some("table"));
        let kf = s.key_format.as_ref().unwrap();
        assert_eq!((kf.format.as_deref(), kf.window_type.as_deref(), kf.window_size), (Some("KAFKA"), Some("SESSION"), None));
    }

    #[test]
    fn schema_registry_detection() {
        let mut c = cases().remove(0);
        assert_eq!(needs_schema_registry(&c), None);
        c.statements = vec!["CREATE STREAM X WITH (kafka_topic='x', value_format='json_sr');".into()];
        assert_eq!(needs_schema_registry(&c).as_deref(), Some("needs a schema registry (JSON_SR)"));
        c.statements = vec!["CREATE STREAM X WITH (kafka_topic='x', format='PROTOBUF_NOSR');".into()];
        assert!(needs_schema_registry(&c).is_some_and(|s| s.contains("PROTOBUF_NOSR")));
        c.statements = vec!["CREATE STREAM AVRO_THING (A INT) WITH (kafka_topic='x', format='JSON');".into()];
        assert_eq!(needs_schema_registry(&c), None);
        c.properties.insert("ksql.persistence.default.format.value".into(), "AVRO".into());
        assert!(needs_schema_registry(&c).is_some());
    }
}
