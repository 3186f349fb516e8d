//! Transient queries and the durable catalog: what a server adds to a
//! [`Session`].
//!
//! - **Push queries** (`SELECT … EMIT CHANGES`) run like persistent queries
//!   into a private topic that the caller tails ([`Session::start_push`]);
//!   every select item is a value column, in select order.
//! - **Pull queries** (`SELECT …` without `EMIT`) read one consistent
//!   snapshot: a table's latest row per key, caught up to the end of its
//!   topic when the query starts ([`Session::pull`]). A `WHERE` that pins
//!   the key of an unwindowed table is a point lookup; anything else scans.
//! - **The command topic**: DDL and persistent-query statements are
//!   appended to a topic in the log as they succeed, and replayed in order
//!   when a session attaches to it again
//!   ([`Session::attach_command_topic`]), so a restarted server gets its
//!   streams, tables and queries back. Query state restores from changelogs;
//!   queries resume from their committed offsets.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::{Field, Schema, SchemaRef};
use bytes::Bytes;
use riffle_engine::format::FormatRef;
use riffle_engine::physical::evaluate_snapshot;
use riffle_log::client::LogClient;
use riffle_log::record::{Record, StoredRecord};
use riffle_log::TopicConfig;

use crate::ast::{BinOp, Expr, Query, Relation, Statement};
use crate::catalog::SourceKind;
use crate::error::{Result, SqlError};
use crate::parser::{parse_statement, split_statements};
use crate::serde::{engine_format, FormatKind, FormatSpec};
use crate::session::{Session, StartAt};
use crate::types::{Column, SqlType};
use crate::value::{to_array_checked, Value};

/// The topic of the processing log stream `KSQL_PROCESSING_LOG`.
pub const PROCESSING_LOG_TOPIC: &str = "default_ksql_processing_log";

/// Writes processing-log entries as JSON records, in ksqlDB's shape.
#[derive(Debug)]
struct TopicProcessingLog {
    log: Arc<riffle_log::Log>,
}

impl riffle_engine::runtime::ProcessingLog for TopicProcessingLog {
    fn record(&self, e: riffle_engine::runtime::ProcessingLogEntry) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let value = serde_json::json!({
            "LOGGER": format!("processing.{}.KsqlTopic.Source.deserializer", e.application_id),
            "LEVEL": "ERROR",
            "TIME": now,
            "MESSAGE": {
                "TYPE": 0,
                "DESERIALIZATIONERROR": {
                    "TARGET": e.target,
                    "ERRORMESSAGE": e.reason,
                    "RECORDB64": e.bytes.as_deref().map(crate::qtt::record::base64_encode),
                    "CAUSE": [],
                    "TOPIC": e.topic,
                    "PARTITION": e.partition,
                    "OFFSET": e.offset,
                },
            },
        });
        let rec = Record { key: None, value: Some(Bytes::from(value.to_string())), timestamp: Some(now), headers: Vec::new() };
        if let Err(err) = self.log.append(PROCESSING_LOG_TOPIC, 0, &[rec]) {
            tracing::error!("cannot write to the processing log: {err}");
        }
    }
}

/// Numbers transient queries (process-wide, so ids never repeat).
static TRANSIENT_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A column of a transient query's result.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultColumn {
    /// Name.
    pub name: String,
    /// Type.
    pub ty: SqlType,
    /// Whether it repeats a key column of the source.
    pub key: bool,
}

/// ksqlDB's schema string for a result header: ``"`ID` STRING KEY, `N` BIGINT"``
/// (`KEY` only where `mark_keys`).
pub fn schema_string(columns: &[ResultColumn], mark_keys: bool) -> String {
    columns
        .iter()
        .map(|c| {
            let key = if mark_keys && c.key { " KEY" } else { "" };
            format!("`{}` {}{key}", c.name, c.ty)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A started push query: tail [`PushQuery::topic`] and decode with
/// [`PushQuery::rows`].
#[derive(Debug, Clone)]
pub struct PushQuery {
    /// Query id (`transient_…`), for [`Session::stop_push`].
    pub id: String,
    /// The private topic its rows go to.
    pub topic: String,
    /// Result columns, in select order.
    pub columns: Vec<ResultColumn>,
    /// `LIMIT`, if any.
    pub limit: Option<usize>,
    value_format: FormatRef,
    value_schema: SchemaRef,
    key_format: FormatRef,
    key_schema: SchemaRef,
    /// Whether the result is a table (its deletes are rows too).
    table: bool,
}

/// One row of a push query.
#[derive(Debug, Clone, PartialEq)]
pub struct PushRow {
    /// Values, in the order of [`PushQuery::columns`].
    pub values: Vec<Value>,
    /// A table row that left the result (a tombstone): only the columns
    /// that repeat the key are set.
    pub tombstone: bool,
}

impl PushQuery {
    /// The rows carried by `records` of [`PushQuery::topic`], in order.
    ///
    /// # Errors
    /// A record that does not decode (a bug: this query wrote it).
    pub fn rows(&self, records: &[StoredRecord]) -> Result<Vec<PushRow>> {
        let payloads: Vec<&[u8]> = records.iter().filter_map(|r| r.value.as_deref()).collect();
        let decoded = self.value_format.decode(&self.value_schema, &payloads)?;
        if let Some((i, why)) = decoded.errors.first() {
            return Err(SqlError::Internal(format!("push query {}: row {i} does not decode: {why}", self.id)));
        }
        let mut values = batch_rows(&decoded.batch, 0).into_iter();
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            if r.value.is_some() {
                if let Some(v) = values.next() {
                    out.push(PushRow { values: v, tombstone: false });
                }
                continue;
            }
            // A stream has nothing to delete: a null value is no row.
            if self.table {
                out.push(PushRow { values: self.tombstone_values(r.key.as_deref()), tombstone: true });
            }
        }
        Ok(out)
    }

    /// A tombstone's row: key columns from the record key, NULL elsewhere.
    fn tombstone_values(&self, key: Option<&[u8]>) -> Vec<Value> {
        let mut key_values: Vec<(String, Value)> = Vec::new();
        if let Some(k) = key {
            if let Ok(d) = self.key_format.decode(&self.key_schema, &[k]) {
                if d.errors.is_empty() && d.batch.num_rows() == 1 {
                    for (f, c) in self.key_schema.fields().iter().zip(d.batch.columns()) {
                        key_values.push((f.name().clone(), Value::from_array(c.as_ref(), 0)));
                    }
                }
            }
        }
        self.columns
            .iter()
            .map(|c| {
                let from_key = c.key.then(|| key_values.iter().find(|(n, _)| n == &c.name)).flatten();
                from_key.map_or(Value::Null, |(_, v)| v.clone())
            })
            .collect()
    }
}

/// The answer to a pull query.
#[derive(Debug, Clone, PartialEq)]
pub struct PullResult {
    /// Result columns, in select order.
    pub columns: Vec<ResultColumn>,
    /// Rows.
    pub rows: Vec<Vec<Value>>,
    /// Records of the snapshot that did not decode (skipped).
    pub skipped: u64,
    /// Whether the source is a table (its key columns are marked `KEY` in
    /// the result header).
    pub table: bool,
}

/// A table's latest record per key, caught up to a position in its topic.
#[derive(Debug, Default)]
pub struct TableView {
    next: Vec<i64>,
    latest: HashMap<Bytes, StoredRecord>,
}

impl TableView {
    /// Reads what was appended to `topic` since the last catch-up.
    fn catch_up(&mut self, log: &dyn LogClient, topic: &str) -> Result<()> {
        let n = log.partition_count(topic).map_err(|e| SqlError::Internal(format!("topic {topic}: {e}")))?;
        self.next.resize(usize::try_from(n).unwrap_or(0), 0);
        for p in 0..n {
            let slot = &mut self.next[p as usize];
            loop {
                let f = log.read(topic, p, *slot, 1 << 20).map_err(|e| SqlError::Internal(format!("read {topic}: {e}")))?;
                if f.records.is_empty() {
                    break;
                }
                *slot = f.next_offset;
                for r in f.records {
                    // A table row cannot be addressed without a key.
                    let Some(k) = r.key.clone() else { continue };
                    if r.value.is_some() {
                        self.latest.insert(k, r);
                    } else {
                        self.latest.remove(&k);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Whether a statement changes the catalog or starts queries, so it goes to
/// the command topic.
pub(crate) fn is_durable(stmt: &Statement) -> bool {
    matches!(
        stmt,
        Statement::CreateSource { .. }
            | Statement::CreateAsSelect { .. }
            | Statement::InsertInto { .. }
            | Statement::Drop { .. }
            | Statement::Terminate(_)
            | Statement::CreateType { .. }
            | Statement::DropType { .. }
    )
}

/// `SqlType` → the engine column list of a result.
fn result_columns(planned_value: &[Column], keys: &[String]) -> Vec<ResultColumn> {
    planned_value
        .iter()
        .map(|c| ResultColumn { name: c.name.clone(), ty: c.ty.clone(), key: keys.contains(&c.name) })
        .collect()
}

/// Rows of `batch` from column `from` on.
fn batch_rows(batch: &RecordBatch, from: usize) -> Vec<Vec<Value>> {
    (0..batch.num_rows())
        .map(|r| batch.columns()[from..].iter().map(|c| Value::from_array(c.as_ref(), r)).collect())
        .collect()
}

impl Session {
    /// The single `SELECT` in `sql`, if that is what it is (a transient
    /// query), after variable substitution.
    ///
    /// # Errors
    /// Syntax errors; more than one statement with a `SELECT` among them.
    pub fn parse_select(&self, sql: &str) -> Result<Option<Query>> {
        let stmts = split_statements(sql)?;
        let mut selects = Vec::new();
        for text in &stmts {
            if let Statement::Select(q) = parse_statement(&self.substitute(text), &self.catalog.types)? {
                selects.push(q);
            }
        }
        match (stmts.len(), selects.pop()) {
            (_, None) => Ok(None),
            (1, Some(q)) => Ok(Some(q)),
            _ => Err(SqlError::semantic("A query (SELECT) must be the only statement in its request.")),
        }
    }

    /// Starts a push query: rows flow into a private topic from the current
    /// end of its sources (or from the beginning with
    /// `auto.offset.reset=earliest` in `properties`).
    ///
    /// # Errors
    /// Semantic errors of the query.
    pub fn start_push(&mut self, query: &Query, text: &str, properties: &BTreeMap<String, String>) -> Result<PushQuery> {
        let mut planner = self.planner();
        planner.transient = true;
        let planned = planner.plan_query(query, "TRANSIENT")?;
        // Not from `next_query`: persistent query ids must come out the same
        // when the command topic is replayed, whatever ran in between.
        let seq = TRANSIENT_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!("transient_{}_{seq}", source_name(&query.from));
        let topic = format!("_riffle_{id}");
        let json = FormatSpec::new(FormatKind::Json);
        let key_format = engine_format(&json, &planned.key, true)
            .or_else(|_| engine_format(&FormatSpec::new(FormatKind::Kafka), &planned.key, true))?;
        let query_key_format = key_format.clone();
        let value_format = engine_format(&json, &planned.value, false)?;
        let plan = planned.plan.sink(&topic, key_format, value_format.clone())?.build();
        let plan_for_query = plan.clone();
        self.log
            .ensure_topic(&topic, &TopicConfig::default())
            .map_err(|e| SqlError::Internal(format!("creating {topic}: {e}")))?;
        let earliest = properties
            .get("ksql.streams.auto.offset.reset")
            .or_else(|| properties.get("auto.offset.reset"))
            .or_else(|| self.properties.get("ksql.streams.auto.offset.reset"))
            .or_else(|| self.properties.get("auto.offset.reset"))
            .is_some_and(|v| v.eq_ignore_ascii_case("earliest"));
        let start = if earliest { StartAt::Committed } else { StartAt::Latest };
        self.start_query(id.clone(), text, &topic, plan_for_query, start)?;
        let meta = plan.meta();
        let value_schema = Arc::new(Schema::new(meta.schema.fields()[meta.value_start()..].to_vec()));
        let key_schema = Arc::new(Schema::new(meta.schema.fields()[..meta.key_len].to_vec()));
        Ok(PushQuery {
            id,
            topic,
            columns: result_columns(&planned.value, &planned.output_keys),
            limit: query.limit.and_then(|l| usize::try_from(l).ok()),
            value_format,
            value_schema,
            key_format: query_key_format,
            key_schema,
            table: planned.kind == SourceKind::Table,
        })
    }

    /// Stops a push query and deletes its topic. Unknown ids are ignored
    /// (the query may have ended already).
    pub fn stop_push(&mut self, id: &str) {
        if let Some(i) = self.queries.iter().position(|q| q.id == id) {
            let q = self.queries.remove(i);
            let sink = q.sink.clone();
            // Tasks close (their stores with them) before the state goes.
            drop(q);
            let _ = self.log.delete_topic(&sink);
            let _ = std::fs::remove_dir_all(self.state_dir.join(id));
        }
    }

    /// Runs a pull query against one consistent snapshot of its source;
    /// `properties` (a request's) override the session's. Takes `&self`:
    /// pull queries may run side by side.
    ///
    /// # Errors
    /// Unknown sources, queries a pull query cannot answer (aggregations,
    /// joins, windowed tables), expression errors.
    pub fn pull(&self, query: &Query, properties: &BTreeMap<String, String>) -> Result<PullResult> {
        let Relation::Source { name, .. } = &query.from else {
            return Err(SqlError::semantic("Pull queries don't support JOIN clauses. See https://cnfl.io/queries for more info.\nAdd EMIT CHANGES if you intended to issue a push query."));
        };
        let src = self
            .catalog
            .source(name)
            .cloned()
            .ok_or_else(|| SqlError::semantic(format!("{name} does not exist.")))?;
        if !query.group_by.is_empty() {
            return Err(SqlError::semantic("Pull queries don't support GROUP BY clauses. See https://cnfl.io/queries for more info.\nAdd EMIT CHANGES if you intended to issue a push query."));
        }
        if query.window.is_some() {
            return Err(SqlError::semantic("Pull queries don't support WINDOW clauses. See https://cnfl.io/queries for more info.\nAdd EMIT CHANGES if you intended to issue a push query."));
        }
        if !query.partition_by.is_empty() {
            return Err(SqlError::semantic("Pull queries don't support PARTITION BY clauses. See https://cnfl.io/queries for more info.\nAdd EMIT CHANGES if you intended to issue a push query."));
        }
        if src.kind == SourceKind::Table && src.written_by.is_none() && !self.source_tables.contains(name) {
            return Err(SqlError::semantic(format!(
                "The `{name}` table isn't queryable. To derive a queryable table, you can do 'CREATE TABLE QUERYABLE_{name} AS SELECT * FROM {name}'. See https://cnfl.io/queries for more info."
            )));
        }
        check_pseudo_columns(query)?;
        let mut planner = self.planner();
        planner.transient = true;
        let planned = planner.plan_query(query, "TRANSIENT").map_err(|e| match (e, &query.where_clause) {
            // A pull query's WHERE errors name the expression, as ksqlDB's do.
            (SqlError::Semantic(m), Some(w)) if m.starts_with("Error in WHERE expression: ") => {
                SqlError::Semantic(format!("{m}\nStatement: {}", crate::planner::display_expr(w)))
            }
            (e, _) => e,
        })?;
        if src.kind == SourceKind::Table {
            let flag = |k: &str| {
                properties.get(k).or_else(|| self.properties.get(k)).map(|v| !v.eq_ignore_ascii_case("false")).unwrap_or(true)
            };
            let key_types: Vec<(String, SqlType)> = src.key.iter().map(|c| (c.name.clone(), c.ty.clone())).collect();
            check_key_lookups(
                query.where_clause.as_ref(),
                &key_types,
                src.window.is_some(),
                flag("ksql.query.pull.table.scan.enabled"),
                flag("ksql.query.pull.range.scan.enabled"),
            )?;
        }
        let plan = planned.plan.build();
        let columns = result_columns(&planned.value, &planned.output_keys);
        let value_start = plan.meta().value_start();
        let records: Vec<StoredRecord> = if src.kind == SourceKind::Table {
            // A windowed table's record keys carry the window: scan those.
            let lookup = match &query.where_clause {
                Some(w) if src.key.len() == 1 && src.window.is_none() => key_literal(w, &src.key[0].name),
                _ => None,
            };
            let key_bytes = match lookup {
                Some(e) => self.encode_key(&src.key, &src.key_format, e)?,
                None => None,
            };
            let mut views = self.views.lock().map_err(|_| SqlError::Internal("a pull query failed earlier (poisoned lock)".into()))?;
            let view = views.entry(src.topic.clone()).or_default();
            view.catch_up(&*self.log, &src.topic)?;
            match key_bytes {
                Some(k) => view.latest.get(&k).cloned().into_iter().collect(),
                None => {
                    let mut all: Vec<StoredRecord> = view.latest.values().cloned().collect();
                    all.sort_by_key(|r| (r.offset, r.timestamp));
                    all
                }
            }
        } else {
            self.read_topic(&src.topic)?
        };
        let (batch, skipped) = evaluate_snapshot(&plan, &records)?;
        let mut rows = batch_rows(&batch.rows, value_start);
        if let Some(l) = query.limit.and_then(|l| usize::try_from(l).ok()) {
            rows.truncate(l);
        }
        Ok(PullResult { columns, rows, skipped, table: src.kind == SourceKind::Table })
    }

    /// The key bytes a single-column key `value` has in `spec`'s format.
    fn encode_key(&self, key: &[Column], spec: &FormatSpec, value: &Expr) -> Result<Option<Bytes>> {
        let constant = self.planner().constant(value)?;
        let empty = RecordBatch::try_new_with_options(
            Arc::new(Schema::empty()),
            vec![],
            &arrow::array::RecordBatchOptions::new().with_row_count(Some(1)),
        )?;
        let empty = riffle_engine::Batch::new(empty, arrow::array::Int64Array::from(vec![0i64]));
        let arr = riffle_engine::physical::expr::evaluate(&constant, &empty)?;
        let v = Value::from_array(arr.as_ref(), 0);
        if v.is_null() {
            return Ok(None);
        }
        // A literal of another type (`ID = 10` on a STRING key) scans instead.
        let Ok(a) = to_array_checked(&[v], &key[0].ty, true) else { return Ok(None) };
        if a.null_count() > 0 {
            return Ok(None);
        }
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(&key[0].name, key[0].ty.to_arrow(), true)])),
            vec![a],
        )?;
        let fmt = engine_format(spec, key, true)?;
        Ok(fmt.encode(&batch)?.pop().map(Bytes::from))
    }

    /// Reports records that queries cannot decode to the stream
    /// `KSQL_PROCESSING_LOG` (topic [`PROCESSING_LOG_TOPIC`]), which users
    /// can query like any stream — as ksqlDB does. Affects queries started
    /// from now on.
    ///
    /// # Errors
    /// The topic cannot be created.
    pub fn enable_processing_log(&mut self) -> Result<()> {
        self.log
            .ensure_topic(PROCESSING_LOG_TOPIC, &TopicConfig::default())
            .map_err(|e| SqlError::Internal(format!("creating {PROCESSING_LOG_TOPIC}: {e}")))?;
        if self.catalog.source("KSQL_PROCESSING_LOG").is_none() {
            self.execute(&format!(
                "CREATE STREAM KSQL_PROCESSING_LOG (LOGGER STRING, LEVEL STRING, TIME BIGINT, MESSAGE STRUCT<TYPE INT, \
                 DESERIALIZATIONERROR STRUCT<TARGET STRING, ERRORMESSAGE STRING, RECORDB64 STRING, CAUSE ARRAY<STRING>, \
                 `TOPIC` STRING, `PARTITION` INT, `OFFSET` BIGINT>>) \
                 WITH (kafka_topic='{PROCESSING_LOG_TOPIC}', value_format='JSON');"
            ))?;
        }
        self.processing_log = Some(Arc::new(TopicProcessingLog { log: self.log.clone() }));
        Ok(())
    }

    /// Replays the statements recorded in `topic` (creating it if needed),
    /// then records every later DDL / persistent-query statement there.
    /// Returns how many statements were replayed; one that fails now is
    /// skipped with a warning (its error is returned in the list).
    ///
    /// # Errors
    /// The topic cannot be created or read.
    pub fn attach_command_topic(&mut self, topic: &str) -> Result<(usize, Vec<String>)> {
        self.attach_command_topic_with_progress(topic, &mut |_, _| {})
    }

    /// [`Session::attach_command_topic`], calling `progress(done, total)`
    /// after each replayed command.
    ///
    /// # Errors
    /// As [`Session::attach_command_topic`].
    pub fn attach_command_topic_with_progress(
        &mut self,
        topic: &str,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<(usize, Vec<String>)> {
        self.log
            .ensure_topic(topic, &TopicConfig::default())
            .map_err(|e| SqlError::Internal(format!("creating the command topic {topic}: {e}")))?;
        let mut replayed = 0;
        let mut failed = Vec::new();
        let commands = self.read_topic(topic)?;
        let total = commands.len();
        for (i, r) in commands.into_iter().enumerate() {
            progress(i, total);
            let Some(v) = &r.value else { continue };
            let cmd: Command = match serde_json::from_slice(v) {
                Ok(c) => c,
                Err(e) => {
                    failed.push(format!("command at offset {}: not a command record: {e}", r.offset));
                    continue;
                }
            };
            let saved = std::mem::replace(&mut self.properties, cmd.properties);
            let result = self.execute(&cmd.statement);
            self.properties = saved;
            match result {
                Ok(_) => replayed += 1,
                Err(e) => {
                    tracing::warn!(offset = r.offset, statement = %cmd.statement, "command replay failed: {e}");
                    failed.push(format!("command at offset {} ({}): {e}", r.offset, cmd.statement.trim()));
                }
            }
        }
        progress(total, total);
        self.command_topic = Some(topic.to_string());
        Ok((replayed, failed))
    }

    /// Appends a statement that succeeded to the command topic, if one is
    /// attached.
    pub(crate) fn record_command(&mut self, text: &str) -> Result<()> {
        let Some(topic) = &self.command_topic else { return Ok(()) };
        let cmd = Command { statement: text.to_string(), properties: self.properties.clone() };
        let value = serde_json::to_vec(&cmd).map_err(|e| SqlError::Internal(format!("encoding a command: {e}")))?;
        let rec = Record { key: None, value: Some(Bytes::from(value)), timestamp: None, headers: Vec::new() };
        self.log
            .append(topic, 0, &[rec])
            .map_err(|e| SqlError::Internal(format!("appending to the command topic {topic}: {e}")))?;
        Ok(())
    }

    /// Whether starting a query or producing a record runs every query to
    /// quiescence first (`true`, the default: QTT semantics, one record at
    /// a time). A server sets `false` and calls [`Session::poll_once`]
    /// from its own thread, so statements return at once.
    pub fn set_synchronous(&mut self, synchronous: bool) {
        self.synchronous = synchronous;
    }

    /// Polls every query's tasks once; returns how many records were read.
    /// A server calls this in a loop (and [`Session::commit`] now and then)
    /// instead of [`Session::run`].
    ///
    /// # Errors
    /// Query failures.
    pub fn poll_once(&mut self) -> Result<usize> {
        let mut read = 0;
        for q in &mut self.queries {
            for t in q.tasks_mut() {
                read += t.poll()?;
            }
        }
        Ok(read)
    }

    /// Commits every query: stores flushed, source offsets committed.
    ///
    /// # Errors
    /// Store or log failures.
    pub fn commit(&mut self) -> Result<()> {
        for q in &mut self.queries {
            for t in q.tasks_mut() {
                t.commit()?;
            }
        }
        Ok(())
    }

    /// Sets (`Some`) or unsets (`None`) a property; returns the old value.
    pub fn set_property(&mut self, name: &str, value: Option<String>) -> Option<String> {
        match value {
            Some(v) => self.properties.insert(name.to_string(), v),
            None => self.properties.remove(name),
        }
    }

    /// The session's properties (`SET`).
    pub fn properties(&self) -> &BTreeMap<String, String> {
        &self.properties
    }

    /// The session's variables (`DEFINE`).
    pub fn variables(&self) -> &BTreeMap<String, String> {
        &self.variables
    }

    /// Every function: `(name, kind)` with kind `SCALAR`, `AGGREGATE` or
    /// `TABLE`.
    pub fn function_names(&self) -> Vec<(String, String)> {
        self.functions.list().into_iter().map(|(n, k)| (n, k.to_string())).collect()
    }

    /// Persistent queries: `(id, sink, statement)`.
    pub fn queries(&self) -> Vec<(String, String, String)> {
        self.queries
            .iter()
            .filter(|q| !q.id.starts_with("transient_"))
            .map(|q| (q.id.clone(), q.sink.clone(), q.sql.clone()))
            .collect()
    }
}

/// A command-topic record.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Command {
    statement: String,
    #[serde(default)]
    properties: BTreeMap<String, String>,
}

/// The name of the first source of a relation (for query ids).
fn source_name(r: &Relation) -> String {
    match r {
        Relation::Source { name, .. } => name.clone(),
        Relation::Join { left, .. } => source_name(left),
    }
}

/// The literal `key` is compared to when `w` is `key = literal` (either
/// side), possibly inside an `AND`.
fn key_literal<'a>(w: &'a Expr, key: &str) -> Option<&'a Expr> {
    match w {
        Expr::Binary { op: BinOp::Eq, left, right } => {
            let is_key = |e: &Expr| matches!(e, Expr::Column { name, .. } if name == key);
            let is_lit = |e: &Expr| matches!(e, Expr::Literal(_));
            if is_key(left) && is_lit(right) {
                Some(right)
            } else if is_key(right) && is_lit(left) {
                Some(left)
            } else {
                None
            }
        }
        Expr::Binary { op: BinOp::And, left, right } => key_literal(left, key).or_else(|| key_literal(right, key)),
        _ => None,
    }
}

/// Pull queries read a snapshot, which has no partitions or offsets.
fn check_pseudo_columns(query: &Query) -> Result<()> {
    let named = |e: &Expr, out: &mut Vec<String>| {
        crate::planner::walk(e, &mut |x| {
            if let Expr::Column { name, .. } = x {
                if (name == "ROWPARTITION" || name == "ROWOFFSET") && !out.contains(name) {
                    out.push(name.clone());
                }
            }
        });
    };
    let mut in_select = Vec::new();
    for item in &query.select {
        if let crate::ast::SelectItem::Expr { expr, .. } = item {
            named(expr, &mut in_select);
        }
    }
    if !in_select.is_empty() {
        return Err(SqlError::semantic(format!(
            "Pull queries don't support the following columns in SELECT clauses: {}",
            in_select.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
        )));
    }
    let mut in_where = Vec::new();
    if let Some(w) = &query.where_clause {
        named(w, &mut in_where);
    }
    if !in_where.is_empty() {
        return Err(SqlError::semantic(format!(
            "Pull queries don't support the following columns in WHERE clauses: {}",
            in_where.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(())
}

fn split<'a>(e: &'a Expr, op: BinOp, out: &mut Vec<&'a Expr>) {
    match e {
        Expr::Binary { op: o, left, right } if *o == op => {
            split(left, op, out);
            split(right, op, out);
        }
        other => out.push(other),
    }
}

fn references_column(e: &Expr) -> bool {
    let mut found = false;
    crate::planner::walk(e, &mut |x| found |= matches!(x, Expr::Column { .. }));
    found
}

/// How a key column is constrained within one disjunct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    /// `=` or `IN`: point lookups.
    Point,
    /// `<`, `<=`, `>`, `>=`, `BETWEEN`: a range.
    Range,
}

/// ksqlDB's rules for a pull query's `WHERE` on a table: literals in key
/// lookups must fit the key's type, and — with table scans disabled —
/// every disjunct must pin every key column with one comparison against a
/// value that reads no column.
fn check_key_lookups(
    where_clause: Option<&Expr>,
    keys: &[(String, SqlType)],
    windowed: bool,
    table_scan: bool,
    range_scan: bool,
) -> Result<()> {
    let key_type = |e: &Expr| match e {
        Expr::Column { name, .. } => keys.iter().find(|(k, _)| k == name),
        _ => None,
    };
    // IN lists: each literal must convert to the key's type.
    if let Some(w) = where_clause {
        let mut err = None;
        crate::planner::walk(w, &mut |x| {
            if let Expr::InList { expr, list, negated: false } = x {
                if let Some((k, ty)) = key_type(expr) {
                    for item in list {
                        match item {
                            Expr::Literal(crate::ast::Literal::Null) if err.is_none() => {
                                err = Some(format!("Primary key columns can not be NULL: ({k} = null)"));
                            }
                            Expr::Literal(crate::ast::Literal::String(s))
                                if err.is_none() && !matches!(ty, SqlType::String) =>
                            {
                                err = Some(format!("'{s}' can not be converted to the type of the key column: {k} {ty} KEY"));
                            }
                            _ => {}
                        }
                    }
                }
            }
        });
        if let Some(e) = err {
            return Err(SqlError::semantic(e));
        }
    }
    if table_scan {
        return Ok(());
    }
    let scan = || SqlError::semantic("Query requires table scan to be enabled. Timestamp filtering is also required for 'KSQL_SOURCE_TYPE' table scans.");
    let Some(w) = where_clause else { return Err(scan()) };
    let mut disjuncts = Vec::new();
    split(w, BinOp::Or, &mut disjuncts);
    let mut any_range = false;
    for d in &disjuncts {
        let mut conjuncts = Vec::new();
        split(d, BinOp::And, &mut conjuncts);
        let mut bounds: Vec<(String, Bound)> = Vec::new();
        for c in conjuncts {
            let (operand, others, bound): (&Expr, Vec<&Expr>, Option<Bound>) = match c {
                Expr::Binary { op, left, right }
                    if matches!(op, BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq) =>
                {
                    let (col, other) = if key_type(left).is_some() || key_type(right).is_none() && references_column(left) {
                        (left.as_ref(), right.as_ref())
                    } else {
                        (right.as_ref(), left.as_ref())
                    };
                    let bound = match op {
                        BinOp::Eq => Some(Bound::Point),
                        BinOp::NotEq => None,
                        _ => Some(Bound::Range),
                    };
                    (col, vec![other], bound)
                }
                Expr::InList { expr, list, negated: false } => (expr.as_ref(), list.iter().collect(), Some(Bound::Point)),
                Expr::Between { expr, low, high, negated: false } => (expr.as_ref(), vec![low.as_ref(), high.as_ref()], Some(Bound::Range)),
                _ => continue,
            };
            let Some((k, ty)) = key_type(operand) else {
                // A key inside an expression cannot be looked up.
                let mut keyed = false;
                crate::planner::walk(operand, &mut |x| keyed |= key_type(x).is_some());
                if keyed {
                    return Err(SqlError::semantic("A comparison must directly reference a key column."));
                }
                continue;
            };
            if others.iter().any(|o| references_column(o)) {
                return Err(SqlError::semantic("A comparison must be between a key column and a resolvable expression."));
            }
            let Some(bound) = bound else {
                let all: Vec<String> = keys.iter().map(|(n, t)| format!("`{n}` {t} KEY")).collect();
                return Err(SqlError::semantic(format!("Bound on key columns '[{}]' must currently be '='. ", all.join(", "))));
            };
            if bounds.iter().any(|(n, _)| n == k) {
                return Err(SqlError::semantic(
                    "A comparison condition on the key column cannot be combined with other comparisons such as an IN predicate",
                ));
            }
            if bound == Bound::Range && !(range_scan && !windowed && keys.len() == 1 && matches!(ty, SqlType::String)) {
                any_range = true;
            }
            bounds.push((k.clone(), bound));
        }
        if bounds.is_empty() && keys.len() <= 1 {
            return Err(SqlError::semantic(format!(
                "WHERE clause missing key column for disjunct: {}",
                crate::planner::display_expr(d)
            )));
        }
        if bounds.len() < keys.len() {
            return Err(SqlError::semantic("Multi-column sources must specify every key in the WHERE clause."));
        }
    }
    if any_range || (disjuncts.len() > 1 && disjuncts.iter().any(|d| !matches!(d, Expr::Binary { op: BinOp::Eq, .. } | Expr::InList { .. }))) {
        return Err(scan());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn where_of(sql: &str) -> Expr {
        match parse_statement(sql, &BTreeMap::new()) {
            Ok(Statement::Select(q)) => q.where_clause.expect("a WHERE clause"),
            other => panic!("not a select: {other:?}"),
        }
    }

    fn check(sql: &str, keys: &[(&str, SqlType)]) -> std::result::Result<(), String> {
        let keys: Vec<(String, SqlType)> = keys.iter().map(|(n, t)| ((*n).to_string(), t.clone())).collect();
        check_key_lookups(Some(&where_of(sql)), &keys, false, false, true).map_err(|e| e.to_string())
    }

    #[test]
    fn key_lookups_pass_and_scans_are_refused_without_table_scans() {
        let id = [("ID", SqlType::Int)];
        assert_eq!(check("SELECT * FROM T WHERE ID = 10;", &id), Ok(()));
        assert_eq!(check("SELECT * FROM T WHERE ID IN (1, 2) AND COUNT > 3;", &id), Ok(()));
        assert_eq!(check("SELECT * FROM T WHERE ID = 1 OR ID = 2;", &id), Ok(()));
        assert!(check("SELECT * FROM T WHERE COUNT = 100;", &id).unwrap_err().contains("missing key column for disjunct: (COUNT = 100)"));
        assert!(check("SELECT * FROM T WHERE ID = COUNT;", &id).unwrap_err().contains("resolvable expression"));
        assert!(check("SELECT * FROM T WHERE ID + 10 = 20;", &id).unwrap_err().contains("directly reference a key column"));
        assert!(check("SELECT * FROM T WHERE ID = 10 AND ID IN (1, 10);", &id).unwrap_err().contains("cannot be combined"));
        assert!(check("SELECT * FROM T WHERE ID >= 12;", &id).unwrap_err().contains("requires table scan"));
        let two = [("A", SqlType::String), ("B", SqlType::Int)];
        assert!(check("SELECT * FROM T WHERE A = 'x';", &two).unwrap_err().contains("every key"));
    }

    #[test]
    fn in_lists_must_fit_the_key_type() {
        let keys = vec![("ID".to_string(), SqlType::Int)];
        let w = where_of("SELECT * FROM T WHERE ID IN ('10', 8);");
        let err = check_key_lookups(Some(&w), &keys, false, true, true).unwrap_err().to_string();
        assert!(err.contains("'10' can not be converted to the type of the key column: ID INTEGER KEY"), "{err}");
    }
}
