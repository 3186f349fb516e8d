//! The REST API, in ksqlDB's shapes: `POST /ksql`, `POST /query` (HTTP/1.1
//! chunked JSON array), `POST /query-stream` and `POST /inserts-stream`
//! (ksqlDB's newer API: HTTP/2 cleartext with prior knowledge or HTTP/1.1,
//! one JSON document per line), `POST /close-query`, `GET /info`,
//! `GET /healthcheck`. Errors are ksqlDB's error JSON with a 4xx/5xx
//! status.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use riffle_sql::{schema_string, PullResult, PushQuery, ResultColumn, Value};
use serde_json::{json, Value as Json};
use riffle_log::client::LogClient as _;
use tokio::sync::{mpsc, watch};

use super::engine::{Engine, QueryStart, RequestError};

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) engine: Engine,
    /// Flips to true when the server shuts down: open streams end.
    pub(crate) stop: watch::Receiver<bool>,
}

/// The router.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/ksql", post(ksql))
        .route("/query", post(query_v1))
        .route("/query-stream", post(query_stream))
        .route("/inserts-stream", post(inserts_stream))
        .route("/close-query", post(close_query))
        .route("/info", get(info))
        .route("/healthcheck", get(healthcheck))
        .fallback(not_found)
        .with_state(state)
}

const KSQL_JSON: &str = "application/json";
const DELIMITED: &str = "application/vnd.ksqlapi.delimited.v1";

fn json_response(status: StatusCode, body: &Json) -> Response {
    (status, [(header::CONTENT_TYPE, KSQL_JSON)], body.to_string()).into_response()
}

fn error_response(e: &RequestError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    json_response(status, &e.to_json())
}

async fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({"@type": "generic_error", "error_code": 40400, "message": "Unknown endpoint: see /info, /ksql, /query, /query-stream, /inserts-stream, /close-query, /healthcheck"}),
    )
}

/// The request body as a JSON object.
fn parse_body(body: &[u8]) -> Result<serde_json::Map<String, Json>, RequestError> {
    match serde_json::from_slice::<Json>(body) {
        Ok(Json::Object(m)) => Ok(m),
        Ok(_) => Err(RequestError::bad_request("The request body must be a JSON object.")),
        Err(e) => Err(RequestError::bad_request(format!("The request body is not valid JSON: {e}"))),
    }
}

/// A string field of the request (`ksql`, `sql`).
fn field_str(body: &serde_json::Map<String, Json>, name: &str) -> Result<String, RequestError> {
    match body.get(name) {
        Some(Json::String(s)) => Ok(s.clone()),
        Some(_) => Err(RequestError::bad_request(format!("\"{name}\" must be a string."))),
        None => Err(RequestError::bad_request(format!("The request has no \"{name}\" field."))),
    }
}

/// Properties (`streamsProperties` / `properties`) as strings.
fn properties(body: &serde_json::Map<String, Json>, name: &str) -> BTreeMap<String, String> {
    let Some(Json::Object(m)) = body.get(name) else { return BTreeMap::new() };
    m.iter()
        .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string)))
        .collect()
}

/// Runs blocking engine work off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, RequestError> + Send + 'static) -> Result<T, RequestError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| Err(RequestError::internal(format!("request failed: {e}"))))
}

async fn ksql(State(state): State<AppState>, body: Bytes) -> Response {
    let result = async {
        let req = parse_body(&body)?;
        let sql = field_str(&req, "ksql")?;
        let props = properties(&req, "streamsProperties");
        let engine = state.engine.clone();
        blocking(move || engine.ksql(&sql, &props)).await
    }
    .await;
    match result {
        Ok(entities) => json_response(StatusCode::OK, &Json::Array(entities)),
        Err(e) => error_response(&e),
    }
}

async fn info() -> Response {
    json_response(
        StatusCode::OK,
        &json!({"KsqlServerInfo": {
            "version": env!("CARGO_PKG_VERSION"),
            "kafkaClusterId": "riffle",
            "ksqlServiceId": "default_",
            "serverStatus": "RUNNING",
        }}),
    )
}

async fn healthcheck() -> Response {
    json_response(
        StatusCode::OK,
        &json!({"isHealthy": true, "details": {
            "metastore": {"isHealthy": true}, "kafka": {"isHealthy": true}, "commandRunner": {"isHealthy": true},
        }}),
    )
}

async fn close_query(State(state): State<AppState>, body: Bytes) -> Response {
    let result = async {
        let req = parse_body(&body)?;
        let id = field_str(&req, "queryId")?;
        let engine = state.engine.clone();
        blocking(move || {
            if !engine.has_query(&id) {
                return Err(RequestError { code: 40400, message: format!("No query with id {id}"), statement: None });
            }
            engine.stop_query(&id);
            Ok(())
        })
        .await
    }
    .await;
    match result {
        Ok(()) => (StatusCode::OK, "").into_response(),
        Err(e) => error_response(&e),
    }
}

/// A value as ksqlDB's REST API prints it.
pub fn value_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Int(i) => json!(i),
        Value::Bigint(i) => json!(i),
        Value::Double(d) => serde_json::Number::from_f64(*d).map_or(Json::Null, Json::Number),
        Value::Decimal(unscaled, scale) => {
            let text = riffle_sql::serde::java::decimal_plain(*unscaled, i32::from(*scale));
            serde_json::from_str(&text).unwrap_or(Json::String(text))
        }
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(riffle_sql::qtt::record::base64_encode(b)),
        Value::Date(d) => Json::String(
            chrono::DateTime::from_timestamp(i64::from(*d) * 86_400, 0)
                .map_or_else(|| d.to_string(), |t| t.format("%Y-%m-%d").to_string()),
        ),
        Value::Time(ms) => Json::String(
            chrono::NaiveTime::from_num_seconds_from_midnight_opt((*ms / 1000) as u32, (*ms % 1000) as u32 * 1_000_000)
                .map_or_else(|| ms.to_string(), |t| t.format("%H:%M:%S").to_string()),
        ),
        Value::Timestamp(ms) => Json::String(
            chrono::DateTime::from_timestamp_millis(*ms)
                .map_or_else(|| ms.to_string(), |t| t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()),
        ),
        Value::Array(items) => Json::Array(items.iter().map(value_json).collect()),
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| (k.as_str().map_or_else(|| value_json(k).to_string(), str::to_string), value_json(v)))
                .collect(),
        ),
        Value::Struct(fields) => Json::Object(fields.iter().map(|(k, v)| (k.clone(), value_json(v))).collect()),
    }
}

fn row_json(row: &[Value]) -> Json {
    Json::Array(row.iter().map(value_json).collect())
}

/// How a query's rows are written.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    /// `/query`: `[{"header":…},{"row":{"columns":[…]}},…,{"finalMessage":…}]`.
    V1,
    /// `/query-stream`, delimited: metadata line, then one JSON array per line.
    Delimited,
    /// `/query-stream` with `Accept: application/json`: one JSON array.
    JsonArray,
}

impl Shape {
    fn content_type(self) -> &'static str {
        match self {
            Shape::Delimited => DELIMITED,
            _ => KSQL_JSON,
        }
    }

    fn header(self, id: &str, columns: &[ResultColumn], pull: bool) -> String {
        match self {
            Shape::V1 => format!("[{}", json!({"header": {"queryId": id, "schema": schema_string(columns, pull)}})),
            Shape::Delimited | Shape::JsonArray => {
                let meta = json!({
                    "queryId": id,
                    "columnNames": columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
                    "columnTypes": columns.iter().map(|c| c.ty.to_string()).collect::<Vec<_>>(),
                });
                if self == Shape::JsonArray {
                    format!("[{meta}")
                } else {
                    format!("{meta}\n")
                }
            }
        }
    }

    fn row(self, row: &[Value]) -> String {
        self.row_with(row, false)
    }

    /// A row; `tombstone` marks a table row that left the result (ksqlDB's
    /// `/query` says so; the delimited format has no place for it).
    fn row_with(self, row: &[Value], tombstone: bool) -> String {
        match self {
            Shape::V1 if tombstone => format!(",\n{}", json!({"row": {"columns": row_json(row), "tombstone": true}})),
            Shape::V1 => format!(",\n{}", json!({"row": {"columns": row_json(row)}})),
            Shape::Delimited => format!("{}\n", row_json(row)),
            Shape::JsonArray => format!(",\n{}", row_json(row)),
        }
    }

    fn end(self, final_message: Option<&str>) -> String {
        match (self, final_message) {
            (Shape::V1, Some(m)) => format!(",\n{}]\n", json!({"finalMessage": m})),
            (Shape::V1 | Shape::JsonArray, _) => "]\n".into(),
            (Shape::Delimited, _) => String::new(),
        }
    }
}

/// A query request's SQL (field `sql_field`) and properties (`props_field`).
fn query_request(body: &[u8], sql_field: &str, props_field: &str) -> Result<(String, BTreeMap<String, String>), RequestError> {
    let req = parse_body(body)?;
    Ok((field_str(&req, sql_field)?, properties(&req, props_field)))
}

async fn query_v1(State(state): State<AppState>, body: Bytes) -> Response {
    match query_request(&body, "ksql", "streamsProperties") {
        Ok((sql, props)) => run_query(state, sql, props, Shape::V1).await,
        Err(e) => error_response(&e),
    }
}

async fn query_stream(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let shape = if accept.contains("application/json") { Shape::JsonArray } else { Shape::Delimited };
    match query_request(&body, "sql", "properties") {
        Ok((sql, props)) => run_query(state, sql, props, shape).await,
        Err(e) => error_response(&e),
    }
}

async fn run_query(state: AppState, sql: String, props: BTreeMap<String, String>, shape: Shape) -> Response {
    // Inline, not on the blocking pool: a pull query takes microseconds
    // and the hand-off would cost more; a push query only starts here.
    let started = state.engine.query(&sql, &props);
    match started {
        Err(e) => error_response(&e),
        Ok(QueryStart::Pull(result)) => pull_response(&result, shape),
        Ok(QueryStart::Push(push)) => {
            let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(64);
            let header = shape.header(&push.id, &push.columns, false);
            let engine = state.engine.clone();
            tokio::spawn(tail_push(engine, push, tx, shape, header, state.stop.clone()));
            let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, shape.content_type())
                .body(Body::from_stream(stream))
                .unwrap_or_else(|_| error_response(&RequestError::internal("could not build the response")))
        }
    }
}

fn pull_response(result: &PullResult, shape: Shape) -> Response {
    let id = format!("query_{}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    let mut out = shape.header(&id, &result.columns, result.table);
    for row in &result.rows {
        out.push_str(&shape.row(row));
    }
    // A pull query over a stream is a bounded scan: ksqlDB says when it ends.
    out.push_str(&shape.end((!result.table).then_some("Query Completed")));
    (StatusCode::OK, [(header::CONTENT_TYPE, shape.content_type())], out).into_response()
}

/// Streams a push query's rows until its limit, the client leaving, or
/// server shutdown; then stops the query.
async fn tail_push(
    engine: Engine,
    push: PushQuery,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    shape: Shape,
    header: String,
    mut stop: watch::Receiver<bool>,
) {
    let send = |s: String| Ok(Bytes::from(s));
    let mut sent = 0usize;
    let mut final_message = None;
    let mut next: Vec<i64> = Vec::new();
    if tx.send(send(header)).await.is_err() {
        engine.stop_query(&push.id);
        return;
    }
    'outer: loop {
        if push.limit.is_some_and(|l| sent >= l) {
            final_message = Some("Limit Reached");
            break;
        }
        let mut records = Vec::new();
        let n = engine.log().partition_count(&push.topic).unwrap_or(1);
        next.resize(usize::try_from(n).unwrap_or(1), 0);
        for p in 0..n {
            let slot = &mut next[p as usize];
            match engine.log().read(&push.topic, p, *slot, 1 << 20) {
                Ok(f) => {
                    *slot = f.next_offset;
                    records.extend(f.records);
                }
                Err(e) => {
                    // Closed meanwhile (`/close-query`): its topic is gone.
                    if engine.has_query(&push.id) {
                        tracing::warn!(query = %push.id, "push query read failed: {e}");
                    }
                    break 'outer;
                }
            }
        }
        if records.is_empty() {
            tokio::select! {
                () = tx.closed() => break,
                _ = stop.changed() => break,
                () = tokio::time::sleep(Duration::from_millis(10)) => {}
            }
            continue;
        }
        let rows = match push.rows(&records) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(query = %push.id, "push query rows: {e}");
                break;
            }
        };
        for row in rows {
            if row.tombstone && shape != Shape::V1 {
                continue;
            }
            if tx.send(send(shape.row_with(&row.values, row.tombstone))).await.is_err() {
                break 'outer;
            }
            sent += 1;
            if push.limit.is_some_and(|l| sent >= l) {
                final_message = Some("Limit Reached");
                break 'outer;
            }
        }
    }
    let _ = tx.send(send(shape.end(final_message))).await;
    let id = push.id.clone();
    let _ = tokio::task::spawn_blocking(move || engine.stop_query(&id)).await;
}

async fn inserts_stream(State(state): State<AppState>, body: Bytes) -> Response {
    // The first line names the target; each further line is one row. Acks
    // (or per-row errors) come back one per line, in order.
    let text = String::from_utf8_lossy(&body).into_owned();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let target = match lines.next().map(|l| parse_body(l.as_bytes())) {
        Some(Ok(m)) => match field_str(&m, "target") {
            Ok(t) => t,
            Err(e) => return error_response(&e),
        },
        Some(Err(e)) => return error_response(&e),
        None => return error_response(&RequestError::bad_request("The body must start with {\"target\": \"<stream>\"}.")),
    };
    let rows: Vec<String> = lines.map(str::to_string).collect();
    let engine = state.engine.clone();
    let acks = blocking(move || {
        let mut out = String::new();
        for (seq, line) in rows.iter().enumerate() {
            let ack = match parse_body(line.as_bytes()).and_then(|row| engine.insert_row(&target, &row)) {
                Ok(()) => json!({"status": "ok", "seq": seq}),
                Err(e) => json!({"status": "error", "seq": seq, "error_code": e.code, "message": e.message}),
            };
            out.push_str(&ack.to_string());
            out.push('\n');
        }
        Ok(out)
    })
    .await;
    match acks {
        Ok(body) => (StatusCode::OK, [(header::CONTENT_TYPE, DELIMITED)], body).into_response(),
        Err(e) => error_response(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_as_ksqldb_rest_does() {
        assert_eq!(value_json(&Value::Decimal(1230, 2)).to_string(), "12.30");
        assert_eq!(value_json(&Value::Timestamp(0)), json!("1970-01-01T00:00:00.000"));
        assert_eq!(value_json(&Value::Date(1)), json!("1970-01-02"));
        assert_eq!(value_json(&Value::Array(vec![Value::Int(1), Value::Null])), json!([1, null]));
        assert_eq!(value_json(&Value::Bytes(b"foo".to_vec())), json!("Zm9v"));
    }

    #[test]
    fn v1_shape_is_one_json_array() {
        let cols = vec![ResultColumn { name: "K".into(), ty: riffle_sql::SqlType::String, key: true }];
        let mut s = Shape::V1.header("q1", &cols, true);
        s.push_str(&Shape::V1.row(&[Value::String("a".into())]));
        s.push_str(&Shape::V1.end(Some("Limit Reached")));
        let parsed: Json = serde_json::from_str(&s).expect("valid JSON");
        assert_eq!(parsed[0]["header"]["schema"], json!("`K` STRING KEY"));
        assert_eq!(parsed[1]["row"]["columns"], json!(["a"]));
        assert_eq!(parsed[2]["finalMessage"], json!("Limit Reached"));
    }
}
