//! A runner for ksqlDB's REST query-validation tests (RQTT): each case
//! runs against a fresh in-process server over its REST API.
//!
//! Statements before the first `SELECT` go to `POST /ksql`; then the
//! inputs are produced and every query has processed them; then the
//! remaining statements run in order (queries through `POST /query`).
//! `responses` are matched partially (only the keys the file names); query
//! rows compare as a multiset. `expectedError` must match the first failing
//! statement's message (substring) and HTTP status; `outputs` are compared
//! as QTT compares them.

use std::path::Path;
use std::time::Duration;

use riffle_log::{Log, LogConfig};
use riffle_sql::json::Json as LJson;
use riffle_sql::qtt::runner::{check_outputs, produce_record};
use riffle_sql::qtt::record::RecordSpec;
use riffle_sql::qtt::spec::parse_record;
use serde_json::{json, Value as Json};

use super::{RestClient, Server, ServerConfig};

/// One case's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct RqttResult {
    /// `<file stem> - <test name>`.
    pub case: String,
    /// Passed, failed or skipped.
    pub status: Status,
    /// Why it failed.
    pub reason: Option<String>,
}

/// A case's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Everything matched.
    Passed,
    /// Something did not; see the reason.
    Failed,
    /// Needs a schema-registry format (AVRO, PROTOBUF, JSON_SR).
    Skipped,
}

impl RqttResult {
    /// One JSON line: `{"case", "status", "reason"}`.
    pub fn to_json(&self) -> Json {
        let status = match self.status {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        };
        json!({"case": self.case, "status": status, "reason": self.reason})
    }
}

/// `test` with `{FORMAT}` replaced by `format` in its statements.
fn with_format(test: &Json, format: &str) -> Json {
    let mut t = test.clone();
    if let Some(stmts) = t["statements"].as_array_mut() {
        for s in stmts {
            if let Some(text) = s.as_str() {
                *s = Json::String(text.replace("{FORMAT}", format));
            }
        }
    }
    t
}

/// Why a case cannot run without a schema registry, if it cannot.
fn needs_schema_registry(test: &Json) -> Option<String> {
    let stmts = test["statements"].as_array()?;
    for s in stmts {
        let upper = s.as_str().unwrap_or_default().to_ascii_uppercase().replace(' ', "");
        for f in ["AVRO", "PROTOBUF", "JSON_SR"] {
            if upper.contains(&format!("FORMAT='{f}'")) {
                return Some(format!("{f} needs a schema registry, which Riffle does not support yet"));
            }
        }
    }
    None
}

/// Runs every case of one RQTT file (those whose id contains `filter`).
///
/// # Errors
/// The file cannot be read or is not an RQTT file.
pub async fn run_file(path: &Path, filter: Option<&str>) -> anyhow::Result<Vec<RqttResult>> {
    let text = std::fs::read_to_string(path)?;
    let doc = riffle_sql::json::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let tests = doc.get("tests").and_then(LJson::as_array).ok_or_else(|| anyhow::anyhow!("{}: no \"tests\" array", path.display()))?;
    let mut out = Vec::new();
    for t in tests {
        let name = t.get("name").and_then(LJson::as_str).unwrap_or("unnamed");
        let case = format!("{stem} - {name}");
        if t.get("enabled").and_then(LJson::as_bool) == Some(false) || filter.is_some_and(|f| !case.contains(f)) {
            continue;
        }
        let test = t.to_serde();
        // `"format": [A, B]` runs the test once per format, `{FORMAT}`
        // replaced in its statements; the case id gains ` - A`.
        let formats: Vec<Option<String>> = match test["format"].as_array() {
            Some(f) if !f.is_empty() => f.iter().map(|v| v.as_str().map(str::to_string)).collect(),
            _ => vec![None],
        };
        for format in formats {
            let (case, test) = match &format {
                Some(f) => (format!("{case} - {f}"), with_format(&test, f)),
                None => (case.clone(), test.clone()),
            };
            if let Some(why) = needs_schema_registry(&test) {
                out.push(RqttResult { case, status: Status::Skipped, reason: Some(why) });
                continue;
            }
            let outcome = tokio::time::timeout(Duration::from_secs(30), run_case(&test)).await;
            let reason = match outcome {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e),
                Err(_) => Some("timed out after 30 s".into()),
            };
            let status = if reason.is_none() { Status::Passed } else { Status::Failed };
            out.push(RqttResult { case, status, reason });
        }
    }
    Ok(out)
}

fn is_query(stmt: &str) -> bool {
    let s = stmt.trim_start();
    s.len() >= 6 && s[..6].eq_ignore_ascii_case("SELECT")
}

/// What one statement got back.
enum Reply {
    Ok(Json),
    Err { status: u16, body: Json },
}

async fn run_case(test: &Json) -> Result<(), String> {
    let statements: Vec<String> = test["statements"]
        .as_array()
        .ok_or("no statements")?
        .iter()
        .map(|s| s.as_str().unwrap_or_default().to_string())
        .collect();
    let inputs: Vec<RecordSpec> = records(&test["inputs"])?;
    let outputs: Vec<RecordSpec> = records(&test["outputs"])?;
    let mut properties: serde_json::Map<String, Json> = test["properties"].as_object().cloned().unwrap_or_default();
    properties.entry("ksql.streams.auto.offset.reset").or_insert(json!("earliest"));
    let props = Json::Object(properties.clone());

    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let log = Log::open(dir.path().join("log"), LogConfig::default()).map_err(|e| e.to_string())?;
    let config = ServerConfig {
        rest: "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
        kafka: None,
        properties: properties.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect(),
    };
    let server = Server::start(log.clone(), dir.path(), config).await.map_err(|e| format!("server start: {e:#}"))?;
    let client = RestClient::new(server.rest_addr());
    let result = drive(&server, &client, &statements, &inputs, &outputs, &props, test).await;
    server.shutdown().await;
    let _ = log.close();
    result
}

fn records(v: &Json) -> Result<Vec<RecordSpec>, String> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|r| parse_record(&LJson::from_serde(r)))
        .collect()
}

async fn drive(
    server: &Server,
    client: &RestClient,
    statements: &[String],
    inputs: &[RecordSpec],
    outputs: &[RecordSpec],
    props: &Json,
    test: &Json,
) -> Result<(), String> {
    let first_query = statements.iter().position(|s| is_query(s)).unwrap_or(statements.len());
    let mut replies = Vec::new();
    let mut produced = false;
    for (i, stmt) in statements.iter().enumerate() {
        if i >= first_query && !produced {
            produce(server, inputs).await?;
            produced = true;
        }
        let reply = if is_query(stmt) {
            // A push query without LIMIT never ends: read as many rows as
            // the file expects (then a moment more, to catch extras).
            let want_rows = test["responses"]
                .get(i)
                .and_then(|r| r["query"].as_array())
                .map(|q| q.iter().filter(|e| e.get("row").is_some()).count());
            read_query(client, stmt, props, want_rows).await?
        } else {
            let r = client.ksql(stmt, props).await.map_err(|e| format!("{e:#}"))?;
            if r.status >= 400 { Reply::Err { status: r.status, body: r.body } } else { Reply::Ok(r.body) }
        };
        let failed = matches!(reply, Reply::Err { .. });
        replies.push(reply);
        if failed {
            break;
        }
    }
    if !produced {
        produce(server, inputs).await?;
    }
    // An expected error: the first failure must match it.
    if let Some(expected) = test.get("expectedError").filter(|e| !e.is_null()) {
        let Some(Reply::Err { status, body }) = replies.iter().find(|r| matches!(r, Reply::Err { .. })) else {
            return Err(format!("expected an error ({}), every statement succeeded", expected["message"]));
        };
        let message = body["message"].as_str().unwrap_or_default();
        if let Some(want) = expected["message"].as_str() {
            if !message.contains(want) {
                return Err(format!("expected error containing {want:?}, got {message:?}"));
            }
        }
        if let Some(want) = expected["status"].as_u64() {
            if u64::from(*status) != want {
                return Err(format!("expected HTTP status {want}, got {status} ({message})"));
            }
        }
        return Ok(());
    }
    for (i, r) in replies.iter().enumerate() {
        if let Reply::Err { body, .. } = r {
            return Err(format!("statement {} failed: {}", i + 1, body["message"].as_str().unwrap_or("?")));
        }
    }
    if let Some(expected) = test["responses"].as_array() {
        for (i, (want, got)) in expected.iter().zip(&replies).enumerate() {
            let Reply::Ok(got) = got else { continue };
            check_response(want, got).map_err(|e| format!("response {} ({}): {e}", i + 1, statements[i].trim()))?;
        }
    }
    if !outputs.is_empty() {
        server
            .engine()
            .with_session(|s| check_outputs(s, outputs))
            .map_err(|e| e.message)?
            .map_err(|e| format!("outputs: {e}"))?;
    }
    Ok(())
}

/// Runs a query through `/query`, collecting its elements until the
/// response ends, or — for a push query — `want_rows` rows arrived and no
/// more came for a short while.
async fn read_query(client: &RestClient, stmt: &str, props: &Json, want_rows: Option<usize>) -> Result<Reply, String> {
    let mut rows = match client.query_elements(stmt, props).await.map_err(|e| format!("{e:#}"))? {
        Ok(rows) => rows,
        Err(r) => return Ok(Reply::Err { status: r.status, body: r.body }),
    };
    let push = stmt.to_ascii_uppercase().contains("EMIT ");
    let mut elements = Vec::new();
    let mut got_rows = 0;
    loop {
        let wait = if push && want_rows.is_some_and(|w| got_rows >= w) { 200 } else { 10_000 };
        match tokio::time::timeout(Duration::from_millis(wait), rows.next()).await {
            Ok(Ok(Some(e))) => {
                got_rows += usize::from(e.get("row").is_some());
                elements.push(e);
            }
            Ok(Ok(None)) => break,
            Ok(Err(e)) => return Err(format!("reading {stmt}: {e:#}")),
            Err(_) if push && want_rows.is_some_and(|w| got_rows >= w) => break,
            Err(_) => return Err(format!("query gave {got_rows} rows and nothing more in 10 s: {stmt}")),
        }
    }
    Ok(Reply::Ok(Json::Array(elements)))
}

/// Produces the inputs and lets every query process them.
async fn produce(server: &Server, inputs: &[RecordSpec]) -> Result<(), String> {
    let inputs = inputs.to_vec();
    let engine = server.engine().clone();
    tokio::task::spawn_blocking(move || {
        engine
            .with_session(|s| {
                // One record at a time through every query, as ksqlDB's
                // test harness feeds them.
                s.set_synchronous(true);
                let produced = inputs
                    .iter()
                    .try_for_each(|r| produce_record(s, r).map_err(|e| format!("producing to {}: {e}", r.topic)))
                    .and_then(|()| s.run().map_err(|e| format!("processing inputs: {e}")));
                s.set_synchronous(false);
                produced
            })
            .map_err(|e| e.message)?
    })
    .await
    .map_err(|e| e.to_string())?
}

fn check_response(want: &Json, got: &Json) -> Result<(), String> {
    if let Some(admin) = want.get("admin") {
        let entity = got.as_array().and_then(|a| a.first()).ok_or("no entity in the /ksql response")?;
        return partial_match(admin, entity, "admin");
    }
    if let Some(query) = want.get("query").and_then(Json::as_array) {
        let got = got.as_array().ok_or("the /query response is not an array")?;
        let (want_header, got_header) = (query.iter().find(|e| e.get("header").is_some()), got.iter().find(|e| e.get("header").is_some()));
        if let (Some(w), Some(g)) = (want_header, got_header) {
            partial_match(&w["header"], &g["header"], "header")?;
        }
        let rows = |v: &[Json]| -> Vec<Json> { v.iter().filter_map(|e| e.get("row").cloned()).collect() };
        let (mut want_rows, got_rows) = (rows(query), rows(got));
        if want_rows.len() != got_rows.len() {
            return Err(format!("expected {} rows, got {}: {}", want_rows.len(), got_rows.len(), Json::Array(got_rows)));
        }
        for g in &got_rows {
            match want_rows.iter().position(|w| partial_match(w, g, "row").is_ok()) {
                Some(i) => {
                    want_rows.remove(i);
                }
                None => return Err(format!("unexpected row {g}; expected one of {}", Json::Array(want_rows))),
            }
        }
        let finals = |v: &[Json]| v.iter().find_map(|e| e.get("finalMessage").cloned());
        if let Some(w) = finals(query) {
            if finals(got).as_ref() != Some(&w) {
                return Err(format!("expected finalMessage {w}, got {:?}", finals(got)));
            }
        }
        return Ok(());
    }
    Ok(())
}

/// Every key of `want` matches in `got` (objects partially, arrays in
/// full, numbers by value).
fn partial_match(want: &Json, got: &Json, path: &str) -> Result<(), String> {
    match (want, got) {
        (Json::Object(w), Json::Object(g)) => {
            for (k, wv) in w {
                let gv = g.get(k).ok_or_else(|| format!("{path}.{k}: missing (got {got})"))?;
                partial_match(wv, gv, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        (Json::Array(w), Json::Array(g)) => {
            if w.len() != g.len() {
                return Err(format!("{path}: expected {want}, got {got}"));
            }
            for (i, (a, b)) in w.iter().zip(g).enumerate() {
                partial_match(a, b, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Json::Number(a), Json::Number(b)) if a.as_f64().zip(b.as_f64()).is_some_and(|(x, y)| (x - y).abs() < 1e-9) => Ok(()),
        _ if want == got => Ok(()),
        _ => Err(format!("{path}: expected {want}, got {got}")),
    }
}
