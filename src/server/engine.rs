//! [`Engine`]: one SQL [`Session`] on the server's log, shared by every
//! request, with a driver thread that keeps its queries running.
//!
//! Statements run under one lock, in arrival order, as ksqlDB's command
//! runner does. The driver polls every query's tasks in rounds and releases
//! the lock between rounds, so requests interleave with processing; it
//! commits (stores flushed, offsets committed) at most every
//! `commit_interval`, and always when it stops.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use riffle_log::client::LogClient as _;
use riffle_log::Log;
use riffle_sql::ast::{ShowWhat, Statement};
use riffle_sql::catalog::{SourceInfo, SourceKind};
use riffle_sql::parser::{parse_statement, split_statements};
use riffle_sql::{Executed, PullResult, PushQuery, Session, SqlError};
use riffle_state::BackendKind;
use serde_json::{json, Value as Json};

/// The topic that holds the catalog: every DDL and persistent-query
/// statement, in order (ksqlDB's command topic).
pub const COMMAND_TOPIC: &str = "_riffle_command_topic";

/// An error a request gets, in ksqlDB's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestError {
    /// ksqlDB's error code: 40001 bad statement, 40000 bad request,
    /// 40400 not found, 50000 server error.
    pub code: u32,
    /// What went wrong and what to change.
    pub message: String,
    /// The statement that failed, when there is one.
    pub statement: Option<String>,
}

impl RequestError {
    /// A statement that cannot run (40001).
    pub fn statement(message: impl Into<String>, statement: &str) -> Self {
        RequestError { code: 40001, message: message.into(), statement: Some(statement.to_string()) }
    }

    /// A malformed request (40000).
    pub fn bad_request(message: impl Into<String>) -> Self {
        RequestError { code: 40000, message: message.into(), statement: None }
    }

    /// A failure on the server's side (50000).
    pub fn internal(message: impl Into<String>) -> Self {
        RequestError { code: 50000, message: message.into(), statement: None }
    }

    /// The HTTP status this error is sent with.
    pub fn http_status(&self) -> u16 {
        match self.code {
            40400 => 404,
            c if c >= 50000 => 500,
            _ => 400,
        }
    }

    /// ksqlDB's error body.
    pub fn to_json(&self) -> Json {
        match &self.statement {
            Some(s) => json!({
                "@type": "statement_error",
                "error_code": self.code,
                "message": self.message,
                "statementText": s,
                "entities": [],
            }),
            None => json!({ "@type": "generic_error", "error_code": self.code, "message": self.message }),
        }
    }
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RequestError {}

fn sql_message(e: &SqlError) -> String {
    e.to_string()
}

/// What a `/query` or `/query-stream` request turned out to be.
#[derive(Debug)]
pub enum QueryStart {
    /// A push query, running: tail its topic.
    Push(PushQuery),
    /// A pull query, answered.
    Pull(PullResult),
}

struct Shared {
    /// Pull queries read under the shared lock, side by side; everything
    /// else (statements, push-query starts, the driver) writes.
    session: RwLock<Session>,
    stop: AtomicBool,
    commit_interval: Duration,
}

/// The SQL engine of a server. Cheap to clone (a handle).
#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
    driver: Arc<Mutex<Option<JoinHandle<()>>>>,
    log: Arc<Log>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens the engine on `log`: replays the command topic (streams,
    /// tables and persistent queries come back; their state restores from
    /// `state_dir` and changelogs), then starts the driver thread.
    /// Returns the engine and the commands that failed to replay.
    ///
    /// # Errors
    /// The command topic cannot be read.
    pub fn open(
        log: Arc<Log>,
        state_dir: &std::path::Path,
        properties: BTreeMap<String, String>,
    ) -> anyhow::Result<(Engine, Vec<String>)> {
        let auto_create = properties
            .get("ksql.logging.processing.stream.auto.create")
            .is_none_or(|v| !v.eq_ignore_ascii_case("false"));
        let mut session = Session::with_log(log.clone(), state_dir, BackendKind::RocksDb, properties);
        // Statements return at once; the driver thread runs the queries
        // (a CREATE … AS SELECT over a big topic must not hold the engine).
        session.set_synchronous(false);
        // Before the catalog comes back, so every query reports bad records
        // (on by default, as in Confluent's images; the property turns it off).
        if auto_create {
            session.enable_processing_log()?;
        }
        // Replaying restores every query's state (checkpoints, changelogs)
        // and catches it up: show progress when there is something to do.
        let mut bar: Option<crate::progress::Progress> = None;
        let mut last = 0;
        let (_, failed) = session.attach_command_topic_with_progress(COMMAND_TOPIC, &mut |done, total| {
            if total == 0 {
                return;
            }
            let b = bar.get_or_insert_with(|| crate::progress::Progress::new("restoring the catalog and queries", total as u64));
            b.advance((done - last) as u64);
            last = done;
        })?;
        if let Some(b) = &mut bar {
            b.finish();
        }
        let shared = Arc::new(Shared {
            session: RwLock::new(session),
            stop: AtomicBool::new(false),
            commit_interval: Duration::from_millis(500),
        });
        let driver_shared = shared.clone();
        let driver = std::thread::Builder::new()
            .name("riffle-sql-driver".into())
            .spawn(move || drive(&driver_shared))?;
        Ok((Engine { shared, driver: Arc::new(Mutex::new(Some(driver))), log }, failed))
    }

    /// The log.
    pub fn log(&self) -> &Arc<Log> {
        &self.log
    }

    fn session(&self) -> Result<RwLockWriteGuard<'_, Session>, RequestError> {
        self.shared.session.write().map_err(|_| RequestError::internal("the SQL engine failed earlier (poisoned lock); restart the server"))
    }

    /// Runs the statements of a `/ksql` request in order; returns one
    /// ksqlDB entity per statement. The first failure stops the request
    /// (earlier statements stay done), as in ksqlDB.
    ///
    /// # Errors
    /// The failing statement, with ksqlDB's message.
    pub fn ksql(&self, sql: &str, properties: &BTreeMap<String, String>) -> Result<Vec<Json>, RequestError> {
        let statements = split_statements(sql).map_err(|e| RequestError::statement(sql_message(&e), sql))?;
        if statements.is_empty() {
            return Err(RequestError::bad_request("The request has no statements: send \"ksql\": \"<statement>;\"."));
        }
        let mut session = self.session()?;
        let mut out = Vec::new();
        for text in statements {
            let stmt = parse_statement(&text, &session.catalog().types).map_err(|e| RequestError::statement(sql_message(&e), &text))?;
            if matches!(stmt, Statement::Select(_)) {
                return Err(RequestError::statement(
                    "The following statement types should be issued to the websocket endpoint '/query': SELECT",
                    &text,
                ));
            }
            let entity = match &stmt {
                Statement::Show(what) => show(&session, what, &text),
                Statement::Describe { name, extended } => {
                    let src = session.catalog().source(name).cloned().ok_or_else(|| {
                        RequestError::statement(format!("Could not find STREAM/TABLE '{name}' in the Metastore"), &text)
                    })?;
                    describe(&session, &src, *extended, &text)
                }
                _ => {
                    let saved = with_properties(&mut session, properties);
                    let result = session.execute(&text);
                    restore_properties(&mut session, saved);
                    let executed = result.map_err(|e| RequestError::statement(sql_message(&e), &text))?;
                    status_entity(&stmt, executed.into_iter().next(), &text, session.queries().len())
                }
            };
            out.push(entity);
        }
        Ok(out)
    }

    /// Starts the query in `sql`: a push query (`EMIT CHANGES`) starts
    /// running, a pull query is answered from one snapshot.
    ///
    /// # Errors
    /// Not a single `SELECT`, or the query's own error.
    pub fn query(&self, sql: &str, properties: &BTreeMap<String, String>) -> Result<QueryStart, RequestError> {
        let query = {
            let session = self.read_session()?;
            let query = session
                .parse_select(sql)
                .map_err(|e| RequestError::statement(sql_message(&e), sql))?
                .ok_or_else(|| RequestError::statement("The /query endpoint only runs SELECT statements; send others to /ksql.", sql))?;
            if query.emit.is_none() {
                let pull = session.pull(&query, properties).map_err(|e| RequestError::statement(sql_message(&e), sql))?;
                return Ok(QueryStart::Pull(pull));
            }
            query
        };
        let mut session = self.session()?;
        let push = session.start_push(&query, sql, properties).map_err(|e| RequestError::statement(sql_message(&e), sql))?;
        Ok(QueryStart::Push(push))
    }

    fn read_session(&self) -> Result<std::sync::RwLockReadGuard<'_, Session>, RequestError> {
        self.shared.session.read().map_err(|_| RequestError::internal("the SQL engine failed earlier (poisoned lock); restart the server"))
    }

    /// Stops a push query (client gone, limit reached, `/close-query`).
    pub fn stop_query(&self, id: &str) {
        if let Ok(mut s) = self.session() {
            s.stop_push(id);
        }
    }

    /// Whether a push query with this id is running.
    pub fn has_query(&self, id: &str) -> bool {
        self.read_session().map(|s| s.query_ids().iter().any(|q| q == id)).unwrap_or(false)
    }

    /// Inserts one row (JSON object, column names case-insensitive) into
    /// stream or table `target`, as `INSERT INTO … VALUES` does.
    ///
    /// # Errors
    /// Unknown target or columns, values of the wrong type.
    pub fn insert_row(&self, target: &str, row: &serde_json::Map<String, Json>) -> Result<(), RequestError> {
        let mut names = Vec::new();
        let mut values = Vec::new();
        for (k, v) in row {
            names.push(format!("`{}`", k.to_ascii_uppercase().replace('`', "``")));
            values.push(sql_literal(v).ok_or_else(|| {
                RequestError::bad_request(format!("column {k}: nested values (objects, arrays) cannot be inserted yet"))
            })?);
        }
        let text = format!("INSERT INTO `{}` ({}) VALUES ({});", target.replace('`', "``"), names.join(", "), values.join(", "));
        let mut session = self.session()?;
        session.execute(&text).map(|_| ()).map_err(|e| RequestError::statement(sql_message(&e), &text))
    }

    /// Runs `f` on the session, under the engine's lock (for in-process
    /// use: producing test inputs, inspecting the catalog).
    ///
    /// # Errors
    /// The engine failed earlier.
    pub fn with_session<T>(&self, f: impl FnOnce(&mut Session) -> T) -> Result<T, RequestError> {
        let mut s = self.session()?;
        Ok(f(&mut s))
    }

    /// Stops the driver and commits every query.
    pub fn shutdown(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Ok(mut d) = self.driver.lock() {
            if let Some(h) = d.take() {
                let _ = h.join();
            }
        }
    }
}

/// The driver loop: poll in rounds, commit now and then, nap when idle.
fn drive(shared: &Shared) {
    let mut last_commit = Instant::now();
    let mut dirty = false;
    loop {
        let stopping = shared.stop.load(Ordering::SeqCst);
        let read = {
            let Ok(mut s) = shared.session.write() else { return };
            let read = match s.poll_once() {
                Ok(n) => n,
                Err(e) => {
                    // Back off instead of retrying (and logging) every 5 ms.
                    tracing::error!("a query failed while processing (retrying in 1 s): {e}");
                    drop(s);
                    if stopping {
                        return;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
            };
            dirty |= read > 0;
            if dirty && (stopping || last_commit.elapsed() >= shared.commit_interval || read == 0) {
                if let Err(e) = s.commit() {
                    tracing::error!("commit failed: {e}");
                }
                dirty = false;
                last_commit = Instant::now();
            }
            read
        };
        if stopping {
            return;
        }
        if read == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn with_properties(session: &mut Session, props: &BTreeMap<String, String>) -> Vec<(String, Option<String>)> {
    let mut saved = Vec::new();
    for (k, v) in props {
        let old = session.set_property(k, Some(v.clone()));
        saved.push((k.clone(), old));
    }
    saved
}

fn restore_properties(session: &mut Session, saved: Vec<(String, Option<String>)>) {
    for (k, old) in saved.into_iter().rev() {
        session.set_property(&k, old);
    }
}

/// A JSON scalar as a SQL literal.
fn sql_literal(v: &Json) -> Option<String> {
    Some(match v {
        Json::Null => "NULL".into(),
        Json::Bool(b) => b.to_string().to_ascii_uppercase(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => format!("'{}'", s.replace('\'', "''")),
        Json::Array(_) | Json::Object(_) => return None,
    })
}

/// The `currentStatus` entity of a statement that ran.
fn status_entity(stmt: &Statement, executed: Option<Executed>, text: &str, seq: usize) -> Json {
    let (message, query_id) = match executed {
        Some(Executed::QueryStarted(id)) => (format!("Created query with ID {id}"), Json::String(id)),
        Some(Executed::Message(m)) => (m, Json::Null),
        Some(Executed::Rows(rows)) => (rows.join("\n"), Json::Null),
        None => (String::new(), Json::Null),
    };
    let command_id = match stmt {
        Statement::CreateSource { kind, name, .. } | Statement::CreateAsSelect { kind, name, .. } => {
            format!("{}/`{name}`/create", kind.name().to_ascii_lowercase())
        }
        Statement::Drop { kind, name, .. } => format!("{}/`{name}`/drop", kind.name().to_ascii_lowercase()),
        Statement::Terminate(id) => format!("terminate/{}/execute", id.clone().unwrap_or_else(|| "ALL".into())),
        _ => "cluster/`CLUSTER`/execute".into(),
    };
    let message = match stmt {
        Statement::CreateSource { kind: SourceKind::Stream, .. } if message.is_empty() => "Stream created".into(),
        Statement::CreateSource { kind: SourceKind::Table, .. } if message.is_empty() => "Table created".into(),
        _ => message,
    };
    json!({
        "@type": "currentStatus",
        "statementText": text,
        "commandId": command_id,
        "commandStatus": { "status": "SUCCESS", "message": message, "queryId": query_id },
        "commandSequenceNumber": seq,
        "warnings": [],
    })
}

fn source_entry(s: &SourceInfo) -> Json {
    json!({
        "type": s.kind.name(),
        "name": s.name,
        "topic": s.topic,
        "keyFormat": s.key_format.kind.name(),
        "valueFormat": s.value_format.kind.name(),
        "isWindowed": s.window.is_some(),
    })
}

fn show(session: &Session, what: &ShowWhat, text: &str) -> Json {
    let sources = |kind: SourceKind| -> Vec<Json> {
        session.catalog().sources.values().filter(|s| s.kind == kind).map(source_entry).collect()
    };
    match what {
        ShowWhat::Streams => json!({"@type": "streams", "statementText": text, "streams": sources(SourceKind::Stream), "warnings": []}),
        ShowWhat::Tables => json!({"@type": "tables", "statementText": text, "tables": sources(SourceKind::Table), "warnings": []}),
        ShowWhat::Topics => {
            let topics: Vec<Json> = session
                .topics()
                .into_iter()
                .filter(|t| !t.starts_with("_riffle") && !t.starts_with("_confluent"))
                .map(|t| {
                    let n = session.log().partition_count(&t).unwrap_or(1);
                    json!({"name": t, "replicaInfo": vec![1; usize::try_from(n).unwrap_or(1)]})
                })
                .collect();
            json!({"@type": "kafka_topics", "statementText": text, "topics": topics, "warnings": []})
        }
        ShowWhat::Queries => {
            let queries: Vec<Json> = session
                .queries()
                .into_iter()
                .map(|(id, sink, sql)| {
                    let topic = session.catalog().source(&sink).map(|s| s.topic.clone()).unwrap_or_else(|| sink.clone());
                    json!({
                        "queryString": sql, "sinks": [sink], "sinkKafkaTopics": [topic], "id": id,
                        "statusCount": {"RUNNING": 1}, "queryType": "PERSISTENT", "state": "RUNNING",
                    })
                })
                .collect();
            json!({"@type": "queries", "statementText": text, "queries": queries, "warnings": []})
        }
        ShowWhat::Properties => {
            let props: Vec<Json> = session
                .properties()
                .iter()
                .map(|(k, v)| json!({"name": k, "scope": "KSQL", "value": v}))
                .collect();
            json!({"@type": "properties", "statementText": text, "properties": props, "overwrittenProperties": [], "defaultProperties": [], "warnings": []})
        }
        ShowWhat::Functions => {
            let fs: Vec<Json> = session
                .function_names()
                .into_iter()
                .map(|(name, kind)| json!({"name": name, "type": kind, "category": ""}))
                .collect();
            json!({"@type": "function_names", "statementText": text, "functions": fs, "warnings": []})
        }
        ShowWhat::Types => {
            let types: serde_json::Map<String, Json> = session
                .catalog()
                .types
                .iter()
                .map(|(n, t)| (n.clone(), json!({"type": t.to_string()})))
                .collect();
            json!({"@type": "type_list", "statementText": text, "types": types, "warnings": []})
        }
        ShowWhat::Variables => {
            let vars: Vec<Json> =
                session.variables().iter().map(|(k, v)| json!({"name": k, "value": v})).collect();
            json!({"@type": "variables", "statementText": text, "variables": vars, "warnings": []})
        }
    }
}

fn describe(session: &Session, s: &SourceInfo, extended: bool, text: &str) -> Json {
    let field = |c: &riffle_sql::types::Column, key: bool| {
        let mut f = json!({"name": c.name, "schema": {"type": type_name(&c.ty), "fields": null, "memberSchema": null}});
        if key {
            f["type"] = json!("KEY");
        }
        f
    };
    let mut fields: Vec<Json> = s.key.iter().map(|c| field(c, true)).collect();
    fields.extend(s.value.iter().map(|c| field(c, false)));
    let writers: Vec<Json> = session
        .queries()
        .into_iter()
        .filter(|(_, sink, _)| sink == &s.name)
        .map(|(id, sink, sql)| json!({"id": id, "queryString": sql, "sinks": [sink], "state": "RUNNING"}))
        .collect();
    let partitions = session.log().partition_count(&s.topic).unwrap_or(0);
    json!({
        "@type": "sourceDescription",
        "statementText": text,
        "sourceDescription": {
            "name": s.name, "type": s.kind.name(), "fields": fields, "topic": s.topic,
            "keyFormat": s.key_format.kind.name(), "valueFormat": s.value_format.kind.name(),
            "windowType": s.window.map(|w| w.kind.name()),
            "timestamp": s.timestamp.clone().unwrap_or_default(),
            "partitions": partitions, "replication": 1, "statement": s.sql,
            "readQueries": [], "writeQueries": writers, "extended": extended,
            "statistics": "", "errorStats": "", "sourceConstraints": [],
        },
        "warnings": [],
    })
}

/// The top-level type name ksqlDB's schema JSON uses.
fn type_name(t: &riffle_sql::SqlType) -> String {
    let s = t.to_string();
    s.split(['(', '<']).next().unwrap_or(&s).to_string()
}
