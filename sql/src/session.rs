//! [`Session`]: runs ksqlDB statements against an embedded log.
//!
//! Persistent queries (`CREATE … AS SELECT`, `INSERT INTO … SELECT`) run
//! synchronously: every [`Session::produce`] appends one record and then
//! runs every query's tasks until nothing is left to read, so outputs of one
//! query feed the next, one record at a time — the semantics of ksqlDB's
//! query-validation tests. Stores are in memory and the record cache is off
//! (every update is emitted) unless `ksql.streams.cache.max.bytes.buffering`
//! says otherwise.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchOptions};
use arrow::datatypes::{Field, Schema};
use bytes::Bytes;
use riffle_engine::physical::expr::evaluate;
use riffle_engine::physical::Topology;
use riffle_engine::runtime::{prepare_topics, StreamTask};
use riffle_engine::StreamsConfig;
use riffle_log::client::LogClient;
use riffle_log::record::{Header, Record};
use riffle_log::{Log, LogConfig, StoredRecord, TopicConfig};
use riffle_state::BackendKind;

use crate::ast::{Literal, Props, Query, ShowWhat, Statement};
use crate::catalog::{Catalog, SourceInfo, SourceKind, WindowInfo, WindowType};
use crate::error::{Result, SqlError};
use crate::functions::Functions;
use crate::parser::{parse_statement, split_statements};
use crate::planner::{display_expr, Planner};
use crate::serde::{engine_format, FormatKind, FormatSpec};
use crate::types::{Column, SqlType};
use crate::value::{to_array_checked, Value};

/// What a statement did.
#[derive(Debug, Clone, PartialEq)]
pub enum Executed {
    /// A DDL or DML statement: its message (`Stream created`, …).
    Message(String),
    /// A persistent query started: its id.
    QueryStarted(String),
    /// Rows of a `SHOW`/`DESCRIBE`/`EXPLAIN`, as text.
    Rows(Vec<String>),
}

/// A running persistent (or transient push) query.
pub(crate) struct RunningQuery {
    pub(crate) id: String,
    pub(crate) sql: String,
    pub(crate) sink: String,
    pub(crate) topology: Arc<Topology>,
    /// Behind a lock only so that a `Session` can be shared (`Sync`) for
    /// pull queries; tasks run under `&mut Session`, through
    /// [`RunningQuery::tasks_mut`], without contention.
    pub(crate) tasks: std::sync::Mutex<Vec<StreamTask>>,
}

impl RunningQuery {
    /// The tasks, for running them.
    pub(crate) fn tasks_mut(&mut self) -> &mut Vec<StreamTask> {
        self.tasks.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Where a new query starts reading its sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartAt {
    /// From the committed offsets, else the beginning (persistent queries).
    Committed,
    /// From the end of each source partition (push queries under
    /// `auto.offset.reset=latest`).
    Latest,
}

impl std::fmt::Debug for RunningQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningQuery").field("id", &self.id).field("sink", &self.sink).finish()
    }
}

/// A ksqlDB session over an embedded log. See the module docs.
#[derive(Debug)]
pub struct Session {
    /// The temporary directory of a session that owns its log.
    _dir: Option<tempfile::TempDir>,
    pub(crate) state_dir: std::path::PathBuf,
    pub(crate) backend: BackendKind,
    pub(crate) log: Arc<Log>,
    pub(crate) catalog: Catalog,
    pub(crate) functions: Functions,
    pub(crate) properties: BTreeMap<String, String>,
    pub(crate) variables: BTreeMap<String, String>,
    pub(crate) queries: Vec<RunningQuery>,
    pub(crate) next_query: usize,
    /// Where DDL and persistent-query statements are recorded (the command
    /// topic), once attached; see [`Session::attach_command_topic`].
    pub(crate) command_topic: Option<String>,
    /// Whether starting a query and producing a record run every query to
    /// quiescence before returning (QTT semantics; the default). A server
    /// turns it off and drives the queries from its own thread.
    pub(crate) synchronous: bool,
    /// Where queries report records they cannot decode, once enabled; see
    /// [`Session::enable_processing_log`].
    pub(crate) processing_log: Option<Arc<dyn riffle_engine::runtime::ProcessingLog>>,
    /// Streams and tables declared with `CREATE SOURCE` (read-only; tables
    /// among them are queryable by pull
    /// queries without a persistent query).
    pub(crate) source_tables: std::collections::HashSet<String>,
    /// Materialized snapshots of tables for pull queries, by topic.
    /// (Behind a lock so that pull queries can run under `&self`, side by
    /// side.)
    pub(crate) views: std::sync::Mutex<std::collections::HashMap<String, crate::transient::TableView>>,
    /// When set, persistent queries are planned and collected here instead
    /// of started (for running them elsewhere, e.g. on a threaded
    /// `StreamsApp`).
    collected: Option<Vec<(String, Arc<riffle_engine::plan::LogicalPlan>)>>,
}

fn prop<'p>(props: &'p Props, name: &str) -> Option<&'p Literal> {
    props.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn prop_str(props: &Props, name: &str) -> Option<String> {
    prop(props, name).map(|l| match l {
        Literal::String(s) => s.clone(),
        Literal::Integer(i) => i.to_string(),
        Literal::Boolean(b) => b.to_string(),
        Literal::Decimal(d) => d.clone(),
        Literal::Double(d) => d.to_string(),
        Literal::Null => String::new(),
    })
}

fn delimiter(props: &Props, name: &str) -> Result<Option<char>> {
    let Some(d) = prop_str(props, name) else { return Ok(None) };
    let c = match d.to_ascii_uppercase().as_str() {
        "TAB" => '\t',
        "SPACE" => ' ',
        _ => {
            let mut it = d.chars();
            match (it.next(), it.next()) {
                (Some(c), None) => c,
                (None, _) => {
                    return Err(SqlError::semantic(format!(
                        "Failed to prepare statement: Configuration {name} is invalid: Delimiter cannot be empty, if you meant to have a tab or space for delimiter, please use the special values 'TAB' or 'SPACE'\nExample valid value: ';'"
                    )))
                }
                _ => {
                    return Err(SqlError::semantic(format!(
                        "Failed to prepare statement: Configuration {name} is invalid: Delimiter must be a single character or TAB or SPACE\nExample valid value: ';'"
                    )))
                }
            }
        }
    };
    Ok(Some(c))
}

impl Session {
    /// A session over a fresh embedded log in a temporary directory, with
    /// these properties (`ksql.…` settings, as in `SET`).
    ///
    /// # Errors
    /// I/O creating the log.
    pub fn new(properties: BTreeMap<String, String>) -> Result<Session> {
        let dir = tempfile::tempdir().map_err(|e| SqlError::Internal(format!("session temp dir: {e}")))?;
        let log = Arc::new(
            Log::open(dir.path().join("log"), LogConfig::default())
                .map_err(|e| SqlError::Internal(format!("opening the embedded log: {e}")))?,
        );
        let mut s = Session::with_log(log, dir.path().join("state"), BackendKind::Memory, properties);
        s._dir = Some(dir);
        Ok(s)
    }

    /// A session over an existing log (a server's), keeping query state
    /// under `state_dir` in `backend` stores.
    pub fn with_log(
        log: Arc<Log>,
        state_dir: impl Into<std::path::PathBuf>,
        backend: BackendKind,
        properties: BTreeMap<String, String>,
    ) -> Session {
        Session {
            _dir: None,
            state_dir: state_dir.into(),
            backend,
            log,
            catalog: Catalog::default(),
            functions: Functions::builtin(),
            properties,
            variables: BTreeMap::new(),
            queries: Vec::new(),
            next_query: 0,
            command_topic: None,
            synchronous: true,
            processing_log: None,
            source_tables: std::collections::HashSet::new(),
            views: std::sync::Mutex::new(std::collections::HashMap::new()),
            collected: None,
        }
    }

    /// The log this session runs on.
    pub fn log(&self) -> &Arc<Log> {
        &self.log
    }

    /// Parses and runs every statement in `sql`, in order; stops at the
    /// first failure.
    ///
    /// # Errors
    /// Parse, semantic and runtime errors, with ksqlDB's wording where the
    /// conformance files pin it.
    pub fn execute(&mut self, sql: &str) -> Result<Vec<Executed>> {
        let mut out = Vec::new();
        for text in split_statements(sql)? {
            let text = self.substitute(&text);
            let stmt = parse_statement(&text, &self.catalog.types)?;
            let durable = crate::transient::is_durable(&stmt);
            out.push(self.run_statement(stmt, &text)?);
            if durable && self.collected.is_none() {
                self.record_command(&text)?;
            }
        }
        Ok(out)
    }

    /// `stream` or `table` when `name` was declared with `CREATE SOURCE`
    /// (read-only: nothing may write to it).
    fn read_only_kind(&self, name: &str) -> Option<String> {
        if !self.source_tables.contains(name) {
            return None;
        }
        self.catalog.source(name).map(|s| s.kind.name().to_ascii_lowercase())
    }

    /// `${name}` replaced by `DEFINE`d variables.
    pub(crate) fn substitute(&self, text: &str) -> String {
        let mut s = text.to_string();
        for (k, v) in &self.variables {
            s = s.replace(&format!("${{{k}}}"), v).replace(&format!("${{{}}}", k.to_ascii_lowercase()), v);
        }
        s
    }

    fn run_statement(&mut self, stmt: Statement, text: &str) -> Result<Executed> {
        match stmt {
            Statement::CreateSource { kind, or_replace, if_not_exists, read_only, name, columns, props } => {
                if or_replace && (read_only || self.source_tables.contains(&name)) {
                    let k = kind.name().to_ascii_lowercase();
                    return Err(SqlError::semantic(format!(
                        "Cannot add {k} '{name}': CREATE OR REPLACE is not supported on source {k}s."
                    )));
                }
                let created = name.clone();
                let out = self.create_source(kind, or_replace, if_not_exists, name, columns, &props, text)?;
                // `CREATE SOURCE TABLE` is materialized: pull queries may read it.
                if read_only {
                    self.source_tables.insert(created);
                } else {
                    self.source_tables.remove(&created);
                }
                Ok(out)
            }
            Statement::CreateAsSelect { kind, or_replace, if_not_exists, name, props, query } => {
                if self.catalog.source(&name).is_some() {
                    if if_not_exists {
                        return Ok(Executed::Message(format!("Cannot add {}: already exists", name)));
                    }
                    if !or_replace {
                        return Err(SqlError::semantic(format!(
                            "Cannot add {} '{name}': A {} with the same name already exists",
                            kind.name().to_ascii_lowercase(),
                            kind.name().to_ascii_lowercase()
                        )));
                    }
                    self.terminate_writers(&name);
                }
                self.create_as_select(kind, &name, &props, &query, text)
            }
            Statement::InsertInto { target, query } => {
                if let Some(kind) = self.read_only_kind(&target) {
                    return Err(SqlError::semantic(format!("Cannot insert into read-only {kind}: {target}")));
                }
                self.insert_into(&target, &query, text)
            }
            Statement::InsertValues { target, columns, values } => {
                if let Some(kind) = self.read_only_kind(&target) {
                    return Err(SqlError::semantic(format!("Cannot insert values into read-only {kind}: {target}")));
                }
                self.insert_values(&target, columns, &values)
            }
            Statement::Drop { kind, if_exists, name, delete_topic } => {
                let Some(src) = self.catalog.source(&name).cloned() else {
                    if if_exists {
                        return Ok(Executed::Message(format!("Source `{name}` does not exist.")));
                    }
                    return Err(SqlError::semantic(format!(
                        "{} {name} does not exist.",
                        if kind == SourceKind::Stream { "Stream" } else { "Table" }
                    )));
                };
                if src.kind != kind {
                    return Err(SqlError::semantic(format!(
                        "Incompatible data source type is {}, but statement was DROP {}",
                        src.kind.name(),
                        kind.name()
                    )));
                }
                if delete_topic && self.source_tables.contains(&name) {
                    return Err(SqlError::semantic(format!("Cannot delete topic for read-only source: {name}")));
                }
                self.terminate_writers(&name);
                self.catalog.sources.remove(&name);
                self.source_tables.remove(&name);
                if let Ok(v) = self.views.get_mut() {
                    v.remove(&src.topic);
                }
                if delete_topic {
                    let _ = self.log.delete_topic(&src.topic);
                }
                Ok(Executed::Message(format!("Source `{name}` (topic: {}) was dropped.", src.topic)))
            }
            Statement::Show(what) => Ok(Executed::Rows(self.show(&what))),
            Statement::Describe { name, extended: _ } => {
                let src = self
                    .catalog
                    .source(&name)
                    .ok_or_else(|| SqlError::semantic(format!("Could not find STREAM/TABLE '{name}' in the Metastore")))?;
                let mut rows = vec![format!("Name: {}", src.name), format!("Type: {}", src.kind.name())];
                rows.extend(src.key.iter().map(|c| format!("{} {} (key)", c.name, c.ty)));
                rows.extend(src.value.iter().map(|c| format!("{} {}", c.name, c.ty)));
                Ok(Executed::Rows(rows))
            }
            Statement::DescribeFunction(name) => {
                let known = self.functions.list().into_iter().find(|(n, _)| n == &name.to_ascii_uppercase());
                match known {
                    Some((n, kind)) => Ok(Executed::Rows(vec![format!("Name: {n}"), format!("Type: {kind}")])),
                    None => Err(SqlError::semantic(format!("Can't find any functions with the name '{name}'"))),
                }
            }
            Statement::Explain(target) => match *target {
                crate::ast::ExplainTarget::QueryId(id) => {
                    let q = self
                        .queries
                        .iter()
                        .find(|q| q.id.eq_ignore_ascii_case(&id))
                        .ok_or_else(|| SqlError::semantic(format!("Query with id:{id} does not exist")))?;
                    Ok(Executed::Rows(vec![q.sql.clone(), q.topology.to_string()]))
                }
                crate::ast::ExplainTarget::Statement(s) => Ok(Executed::Rows(self.explain(&s)?)),
            },
            Statement::Terminate(id) => {
                match id {
                    None => self.queries.clear(),
                    Some(id) => {
                        let before = self.queries.len();
                        self.queries.retain(|q| !q.id.eq_ignore_ascii_case(&id));
                        if before == self.queries.len() {
                            return Err(SqlError::semantic(format!("Unknown queryId: {id}")));
                        }
                    }
                }
                Ok(Executed::Message("Query terminated.".into()))
            }
            Statement::Set(k, v) => {
                self.properties.insert(k, v);
                Ok(Executed::Message("Property set".into()))
            }
            Statement::Unset(k) => {
                self.properties.remove(&k);
                Ok(Executed::Message("Property unset".into()))
            }
            Statement::Define(k, v) => {
                self.variables.insert(k, v);
                Ok(Executed::Message("Variable defined".into()))
            }
            Statement::Undefine(k) => {
                self.variables.remove(&k);
                Ok(Executed::Message("Variable undefined".into()))
            }
            Statement::CreateType { name, ty, if_not_exists } => {
                if self.catalog.types.contains_key(&name) && !if_not_exists {
                    return Err(SqlError::semantic(format!("Cannot register custom type '{name}' since it is already registered with type: {}", self.catalog.types[&name])));
                }
                self.catalog.types.insert(name.clone(), ty);
                Ok(Executed::Message(format!("Registered custom type with name '{name}'")))
            }
            Statement::DropType { name, if_exists } => {
                if self.catalog.types.remove(&name).is_none() && !if_exists {
                    return Err(SqlError::semantic(format!("Type {name} does not exist.")));
                }
                Ok(Executed::Message(format!("Dropped type '{name}'")))
            }
            Statement::Print { topic, .. } => {
                let recs = self.read_topic(&topic)?;
                Ok(Executed::Rows(
                    recs.iter()
                        .map(|r| {
                            format!(
                                "rowtime: {}, key: {}, value: {}",
                                r.timestamp,
                                r.key.as_ref().map_or("<null>".into(), |k| String::from_utf8_lossy(k).into_owned()),
                                r.value.as_ref().map_or("<null>".into(), |v| String::from_utf8_lossy(v).into_owned())
                            )
                        })
                        .collect(),
                ))
            }
            Statement::Select(_) => Err(SqlError::semantic(
                "Transient queries (push and pull SELECTs) run through the server's /query endpoint, not in a script.",
            )),
            Statement::Assert(_) => Ok(Executed::Message("Assertion accepted".into())),
        }
    }

    /// A planner over this session's catalog, functions and properties.
    pub(crate) fn planner(&self) -> Planner<'_> {
        let mut p = Planner::new(&self.catalog, &self.functions);
        let limit = |k: &str| self.properties.get(k).and_then(|v| v.trim().parse::<i64>().ok());
        p.collect_limits =
            (limit("ksql.functions.collect_list.limit"), limit("ksql.functions.collect_set.limit"));
        p
    }

    fn show(&self, what: &ShowWhat) -> Vec<String> {
        match what {
            ShowWhat::Streams | ShowWhat::Tables => {
                let kind = if *what == ShowWhat::Streams { SourceKind::Stream } else { SourceKind::Table };
                self.catalog
                    .sources
                    .values()
                    .filter(|s| s.kind == kind)
                    .map(|s| format!("{} | {} | {} | {}", s.name, s.topic, s.key_format.kind.name(), s.value_format.kind.name()))
                    .collect()
            }
            ShowWhat::Topics => self.topics(),
            ShowWhat::Queries => self.queries.iter().map(|q| format!("{} | {} | {}", q.id, q.sink, q.sql)).collect(),
            ShowWhat::Functions => self.functions.list().into_iter().map(|(n, k)| format!("{n} | {k}")).collect(),
            ShowWhat::Properties => self.properties.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            ShowWhat::Types => self.catalog.types.iter().map(|(k, v)| format!("{k} | {v}")).collect(),
            ShowWhat::Variables => self.variables.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        }
    }

    fn explain(&self, s: &Statement) -> Result<Vec<String>> {
        let (query, name) = match s {
            Statement::CreateAsSelect { query, name, .. } => (query, name.clone()),
            Statement::InsertInto { query, target } => (query, target.clone()),
            Statement::Select(q) => (q, "TRANSIENT".to_string()),
            _ => return Err(SqlError::semantic("EXPLAIN needs a query or a query id.")),
        };
        let planner = self.planner();
        let planned = planner.plan_query(query, &name)?;
        Ok(planned.plan.build().to_string().lines().map(str::to_string).collect())
    }

    fn terminate_writers(&mut self, name: &str) {
        self.queries.retain(|q| q.sink != name);
    }

    #[allow(clippy::too_many_arguments)]
    fn create_source(
        &mut self,
        kind: SourceKind,
        or_replace: bool,
        if_not_exists: bool,
        name: String,
        columns: Vec<crate::ast::ColumnDef>,
        props: &Props,
        text: &str,
    ) -> Result<Executed> {
        let kind_word = kind.name().to_ascii_lowercase();
        if self.catalog.source(&name).is_some() {
            if if_not_exists {
                return Ok(Executed::Message(format!("Cannot add {kind_word} '{name}': already exists")));
            }
            if or_replace {
                return Err(SqlError::semantic(format!(
                    "Cannot add {kind_word} '{name}': CREATE OR REPLACE is not supported on source {kind_word}s."
                )));
            } else {
                return Err(SqlError::semantic(format!(
                    "Cannot add {kind_word} '{name}': A {kind_word} with the same name already exists"
                )));
            }
        }
        let topic = prop_str(props, "KAFKA_TOPIC").ok_or_else(|| {
            SqlError::semantic(format!("Missing required property \"KAFKA_TOPIC\" for {kind_word} {name}"))
        })?;
        for c in &columns {
            if matches!(c.name.as_str(), "ROWTIME" | "ROWPARTITION" | "ROWOFFSET" | "WINDOWSTART" | "WINDOWEND") {
                return Err(SqlError::semantic(format!(
                    "'{}' is a reserved column name. You cannot use it as a name for a column.",
                    c.name
                )));
            }
        }
        let mut key = Vec::new();
        let mut value = Vec::new();
        let mut headers = Vec::new();
        for c in &columns {
            if c.primary && kind == SourceKind::Stream {
                return Err(SqlError::semantic(format!(
                    "Column `{}` is a 'PRIMARY KEY' column: please use 'KEY' for streams.\nTables have PRIMARY KEYs, which are unique and NON NULL.\nStreams have KEYs, which have no uniqueness or NON NULL constraints.",
                    c.name
                )));
            }
            if c.key && !c.primary && kind == SourceKind::Table {
                return Err(SqlError::semantic(format!(
                    "Column `{}` is a 'KEY' column: please use 'PRIMARY KEY' for tables.\nTables have PRIMARY KEYs, which are unique and NON NULL.\nStreams have KEYs, which have no uniqueness or NON NULL constraints.",
                    c.name
                )));
            }
            let col = Column::new(c.name.clone(), c.ty.clone());
            if let Some(h) = &c.header {
                let want = match h {
                    None => SqlType::Array(Box::new(SqlType::Struct(vec![
                        ("KEY".to_string(), SqlType::String),
                        ("VALUE".to_string(), SqlType::Bytes),
                    ]))),
                    Some(_) => SqlType::Bytes,
                };
                if c.ty != want {
                    let what = match h {
                        None => "HEADERS".to_string(),
                        Some(_) => "HEADER('key')".to_string(),
                    };
                    return Err(SqlError::semantic(format!("Invalid type for {what} column: expected {want}, got {}", c.ty)));
                }
                headers.push((col, h.clone()));
            } else if c.key {
                check_key_type(&c.name, &c.ty)?;
                key.push(col);
            } else {
                value.push(col);
            }
        }
        if kind == SourceKind::Table && key.is_empty() {
            return Err(SqlError::semantic("Tables require a PRIMARY KEY. Please define the PRIMARY KEY."));
        }
        let (key_format, value_format) = self.formats_from_props(props, None)?;
        check_formats(&key_format, &value_format)?;
        if prop_str(props, "WINDOW_TYPE").is_some_and(|t| t.eq_ignore_ascii_case("SESSION")) && prop(props, "WINDOW_SIZE").is_some() {
            return Err(SqlError::semantic("'WINDOW_SIZE' should not be set for SESSION windows."));
        }
        let window = match prop_str(props, "WINDOW_TYPE") {
            Some(t) => Some(WindowInfo {
                kind: match t.to_ascii_uppercase().as_str() {
                    "TUMBLING" => WindowType::Tumbling,
                    "HOPPING" => WindowType::Hopping,
                    "SESSION" => WindowType::Session,
                    other => return Err(SqlError::semantic(format!("Unknown WINDOW_TYPE: {other}"))),
                },
                size_ms: prop_str(props, "WINDOW_SIZE").map(|s| parse_duration(&s)).transpose()?,
            }),
            None => None,
        };
        if let Some(w) = &window {
            if key.is_empty() {
                return Err(SqlError::semantic("Windowed sources require a key column."));
            }
            if w.kind != WindowType::Session && w.size_ms.is_none() {
                return Err(SqlError::semantic(
                    "Tumbling and Hopping window types should set WINDOW_SIZE in the WITH clause.",
                ));
            }
        }
        let timestamp = prop_str(props, "TIMESTAMP").map(|t| t.trim_matches('`').to_ascii_uppercase());
        if let Some(t) = &timestamp {
            let col = key
                .iter()
                .chain(&value)
                .find(|c| &c.name == t)
                .ok_or_else(|| SqlError::semantic(format!("The TIMESTAMP column set in the WITH clause does not exist in the schema: '{t}'")))?;
            if !matches!(col.ty, SqlType::Bigint | SqlType::Timestamp) && prop_str(props, "TIMESTAMP_FORMAT").is_none() {
                return Err(SqlError::semantic(format!(
                    "Timestamp column, `{t}`, should be LONG(INT64), TIMESTAMP, or a String with a timestamp_format specified."
                )));
            }
        }
        key_format_for(&key_format, &key)?;
        engine_format(&value_format, &value, false)?;
        let partitions = prop_str(props, "PARTITIONS").map(|p| p.parse::<i32>()).transpose().map_err(|_| {
            SqlError::semantic("PARTITIONS must be a positive integer")
        })?;
        self.ensure_topic(&topic, partitions.unwrap_or(1))?;
        let info = SourceInfo {
            name: name.clone(),
            kind,
            topic,
            key_format,
            value_format,
            key,
            value,
            headers,
            window,
            timestamp,
            timestamp_format: prop_str(props, "TIMESTAMP_FORMAT"),
            written_by: None,
            sql: text.to_string(),
        };
        self.catalog.sources.insert(name, info);
        Ok(Executed::Message(format!("{} created", if kind == SourceKind::Stream { "Stream" } else { "Table" })))
    }

    /// Key and value formats from `WITH` properties, defaulting to `inherit`
    /// (the source of a query) or to ksqlDB's defaults.
    fn formats_from_props(&self, props: &Props, inherit: Option<(&FormatSpec, &FormatSpec)>) -> Result<(FormatSpec, FormatSpec)> {
        let both = prop_str(props, "FORMAT");
        for which in ["KEY_FORMAT", "VALUE_FORMAT"] {
            if both.is_some() && prop(props, which).is_some() {
                return Err(SqlError::semantic(format!(
                    "Cannot supply both '{which}' and 'FORMAT' properties, as 'FORMAT' sets both key and value formats. Either use just 'FORMAT', or use 'KEY_FORMAT' and 'VALUE_FORMAT'."
                )));
            }
        }
        let key_name = prop_str(props, "KEY_FORMAT").or_else(|| both.clone());
        let value_name = prop_str(props, "VALUE_FORMAT").or_else(|| both.clone());
        let mut key = match (key_name, inherit) {
            (Some(n), _) => FormatSpec::new(FormatKind::parse(&n)?),
            (None, Some((k, _))) => k.clone(),
            (None, None) => FormatSpec::new(match self.properties.get("ksql.persistence.default.format.key") {
                Some(n) => FormatKind::parse(n)?,
                None => FormatKind::Kafka,
            }),
        };
        let mut value = match (value_name, inherit) {
            (Some(n), _) => FormatSpec::new(FormatKind::parse(&n)?),
            (None, Some((_, v))) => v.clone(),
            (None, None) => match self.properties.get("ksql.persistence.default.format.value") {
                Some(n) => FormatSpec::new(FormatKind::parse(n)?),
                None => {
                    return Err(SqlError::semantic(
                        "Statement is missing the 'VALUE_FORMAT' property from the WITH clause. Either provide one or set a default via the 'ksql.persistence.default.format.value' config.",
                    ))
                }
            },
        };
        if let Some(d) = delimiter(props, "VALUE_DELIMITER")? {
            value.delimiter = Some(d);
        }
        if let Some(d) = delimiter(props, "KEY_DELIMITER")? {
            key.delimiter = Some(d);
        }
        if let Some(w) = prop(props, "WRAP_SINGLE_VALUE") {
            value.wrap_single_value = Some(matches!(w, Literal::Boolean(true)) || matches!(w, Literal::String(s) if s.eq_ignore_ascii_case("true")));
        } else if let Some(w) = self.properties.get("ksql.persistence.wrap.single.values") {
            value.wrap_single_value = Some(w.eq_ignore_ascii_case("true"));
        }
        Ok((key, value))
    }

    fn ensure_topic(&self, topic: &str, partitions: i32) -> Result<i32> {
        LogClient::ensure_topic(&*self.log, topic, &TopicConfig::with_partitions(partitions.max(1)))
            .map_err(|e| SqlError::Internal(format!("topic {topic}: {e}")))
    }

    fn create_as_select(&mut self, kind: SourceKind, name: &str, props: &Props, query: &Query, text: &str) -> Result<Executed> {
        let mut planner = self.planner();
        planner.statement = match kind {
            SourceKind::Table => "CREATE TABLE AS SELECT",
            SourceKind::Stream => "CREATE STREAM AS SELECT",
        };
        let planned = planner.plan_query(query, name)?;
        if planned.kind != kind {
            return Err(SqlError::semantic(match kind {
                SourceKind::Stream => "Invalid result type. Your SELECT query produces a TABLE. Please use CREATE TABLE AS SELECT statement instead.".to_string(),
                SourceKind::Table => "Invalid result type. Your SELECT query produces a STREAM. Please use CREATE STREAM AS SELECT statement instead.".to_string(),
            }));
        }
        let first = self.first_source(&query.from)?;
        let (key_format, mut value_format) =
            self.formats_from_props(props, Some((&first.key_format, &first.value_format)))?;
        // A sink does not inherit its source's WRAP_SINGLE_VALUE.
        if prop(props, "WRAP_SINGLE_VALUE").is_none() && !self.properties.contains_key("ksql.persistence.wrap.single.values") {
            value_format.wrap_single_value = None;
        }
        let explicit_key_format = prop(props, "KEY_FORMAT").is_some() || prop(props, "FORMAT").is_some();
        let key_format = if planned.key.is_empty() {
            if prop(props, "KEY_FORMAT").is_some() && key_format.kind != FormatKind::None {
                return Err(SqlError::semantic("Key format specified for stream without key columns."));
            }
            // No key columns: no key (ksqlDB writes keyless output as NONE).
            FormatSpec::new(FormatKind::None)
        } else if key_format.kind == FormatKind::None && !explicit_key_format {
            // A keyless source whose query gains a key (PARTITION BY, GROUP
            // BY, a join) takes the default key format.
            FormatSpec::new(FormatKind::Kafka)
        } else {
            key_format
        };
        check_formats(&key_format, &value_format)?;
        for c in &planned.key {
            check_key_type(&c.name, &c.ty)?;
        }
        let topic = prop_str(props, "KAFKA_TOPIC").unwrap_or_else(|| name.to_string());
        let src_partitions = self.log.partition_count(&first.topic).unwrap_or(1);
        let partitions = prop_str(props, "PARTITIONS").and_then(|p| p.parse().ok()).unwrap_or(src_partitions);
        let prefix = if kind == SourceKind::Stream { "CSAS" } else { "CTAS" };
        let id = format!("{prefix}_{name}_{}", self.next_query);
        let timestamp = prop_str(props, "TIMESTAMP").map(|t| t.to_ascii_uppercase());
        let info = SourceInfo {
            name: name.to_string(),
            kind,
            topic: topic.clone(),
            key_format: key_format.clone(),
            value_format: value_format.clone(),
            key: planned.key.clone(),
            value: planned.value.clone(),
            headers: Vec::new(),
            window: planned.window,
            timestamp: timestamp.clone(),
            timestamp_format: prop_str(props, "TIMESTAMP_FORMAT"),
            written_by: Some(id.clone()),
            sql: text.to_string(),
        };
        let kf = key_format_for(&key_format, &planned.key)?;
        let vf = engine_format(&value_format, &planned.value, false)?;
        let mut sink = planned.plan.sink_with_partitions(&topic, kf, vf, Some(partitions))?;
        // `WITH (TIMESTAMP='col')` on the sink: records carry that column's time.
        if let Some(t) = &timestamp {
            let col = planned.key.iter().chain(&planned.value).find(|c| &c.name == t).ok_or_else(|| {
                SqlError::semantic(format!("The TIMESTAMP column set in the WITH clause does not exist in the schema: '{t}'"))
            })?;
            match (&col.ty, prop_str(props, "TIMESTAMP_FORMAT")) {
                (SqlType::Bigint | SqlType::Timestamp, _) => sink = sink.with_output_timestamp(t)?,
                (SqlType::String, Some(format)) => {
                    sink = sink.with_output_timestamp_expr(crate::planner::parse_timestamp(&self.functions, t, &format)?)?;
                }
                _ => {
                    return Err(SqlError::semantic(format!(
                        "Timestamp column, `{t}`, should be LONG(INT64), TIMESTAMP, or a String with a timestamp_format specified."
                    )))
                }
            }
        }
        let plan = sink.build();
        self.ensure_topic(&topic, partitions)?;
        self.start_query(id.clone(), text, name, plan, StartAt::Committed)?;
        self.catalog.sources.insert(name.to_string(), info);
        Ok(Executed::QueryStarted(id))
    }

    fn first_source(&self, r: &crate::ast::Relation) -> Result<SourceInfo> {
        match r {
            crate::ast::Relation::Source { name, .. } => {
                self.catalog.source(name).cloned().ok_or_else(|| SqlError::semantic(format!("{name} does not exist.")))
            }
            crate::ast::Relation::Join { left, .. } => self.first_source(left),
        }
    }

    fn insert_into(&mut self, target: &str, query: &Query, text: &str) -> Result<Executed> {
        let sink = self
            .catalog
            .source(target)
            .cloned()
            .ok_or_else(|| SqlError::semantic(format!("{target} does not exist.")))?;
        if sink.kind == SourceKind::Table {
            return Err(SqlError::semantic(format!(
                "INSERT INTO can only be used to insert into a stream. {target} is a table."
            )));
        }
        if !sink.headers.is_empty() {
            return Err(SqlError::semantic(format!("Cannot insert into {target} because it has header columns")));
        }
        let planner = self.planner();
        let planned = planner.plan_query(query, target)?;
        if planned.kind != SourceKind::Stream {
            return Err(SqlError::semantic(format!(
                "Incompatible data sink and query result. Data sink ({target}) type is STREAM but select query result is TABLE."
            )));
        }
        let same = |a: &[Column], b: &[Column]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.ty == y.ty && x.name == y.name);
        if !same(&planned.value, &sink.value) || planned.key.len() != sink.key.len() {
            let show = |k: &[Column], v: &[Column]| {
                let mut p: Vec<String> = k.iter().map(|c| format!("`{}` {} KEY", c.name, c.ty)).collect();
                p.extend(v.iter().map(|c| format!("`{}` {}", c.name, c.ty)));
                p.join(", ")
            };
            return Err(SqlError::semantic(format!(
                "Incompatible schema between results and sink.\nResult schema is {}\nSink schema is {}",
                show(&planned.key, &planned.value),
                show(&sink.key, &sink.value)
            )));
        }
        self.next_query += 1;
        let id = format!("INSERTQUERY_{}", self.next_query);
        let kf = engine_format(&sink.key_format, &sink.key, true)?;
        let vf = engine_format(&sink.value_format, &sink.value, false)?;
        let plan = planned.plan.sink(&sink.topic, kf, vf)?.build();
        self.start_query(id.clone(), text, target, plan, StartAt::Committed)?;
        Ok(Executed::QueryStarted(id))
    }

    /// Plans persistent queries from `sql` (DDL runs as usual) without
    /// starting them, and returns `(query id, plan)` for each: the plans a
    /// [`riffle_engine::StreamsApp`] runs. Sources must name the topics the
    /// app will read.
    ///
    /// # Errors
    /// As [`Session::execute`].
    pub fn compile(&mut self, sql: &str) -> Result<Vec<(String, Arc<riffle_engine::plan::LogicalPlan>)>> {
        self.collected = Some(Vec::new());
        let result = self.execute(sql);
        let plans = self.collected.take().unwrap_or_default();
        result.map(|_| plans)
    }

    pub(crate) fn start_query(
        &mut self,
        id: String,
        text: &str,
        sink: &str,
        plan: Arc<riffle_engine::plan::LogicalPlan>,
        start: StartAt,
    ) -> Result<()> {
        self.next_query += 1;
        if let Some(c) = &mut self.collected {
            c.push((id, plan));
            return Ok(());
        }
        let app_id = format!("_confluent-ksql-default_query_{id}");
        let topology = Arc::new(Topology::lower(&app_id, &[plan])?);
        for t in topology.source_topics() {
            self.ensure_topic(&t, 1)?;
        }
        let mut config = StreamsConfig::new(&app_id, self.state_dir.join(&id));
        config.backend = self.backend;
        config.processing_log = self.processing_log.clone();
        let cache = self
            .properties
            .get("ksql.streams.cache.max.bytes.buffering")
            .or_else(|| self.properties.get("cache.max.bytes.buffering"))
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        config.cache_max_bytes = cache;
        let log: Arc<dyn LogClient> = self.log.clone();
        let task_ids = prepare_topics(&topology, &*log)?;
        if start == StartAt::Latest {
            let mut ends = Vec::new();
            for t in topology.source_topics() {
                let n = log.partition_count(&t).map_err(|e| SqlError::Internal(format!("topic {t}: {e}")))?;
                for p in 0..n {
                    let (_, end) = log.offsets(&t, p).map_err(|e| SqlError::Internal(format!("topic {t}: {e}")))?;
                    ends.push((riffle_log::TopicPartition::new(t.clone(), p), end));
                }
            }
            log.commit_offsets(&app_id, &ends).map_err(|e| SqlError::Internal(format!("committing start offsets: {e}")))?;
        }
        let mut tasks = Vec::new();
        for tid in task_ids {
            tasks.push(StreamTask::new(&topology, tid, &config, log.clone())?);
        }
        self.queries.push(RunningQuery { id, sql: text.to_string(), sink: sink.to_string(), topology, tasks: std::sync::Mutex::new(tasks) });
        if self.synchronous {
            self.run()?;
        }
        Ok(())
    }

    fn insert_values(&mut self, target: &str, columns: Option<Vec<String>>, values: &[crate::ast::Expr]) -> Result<Executed> {
        let src = self
            .catalog
            .source(target)
            .cloned()
            .ok_or_else(|| {
                // A source whose name differs only in case: say how to quote.
                let hint = match self.catalog.sources.keys().find(|n| n.eq_ignore_ascii_case(target)) {
                    Some(n) if n.to_ascii_uppercase() == *n => {
                        format!("\nDid you mean {n}? Hint: try removing double quotes from the source name.")
                    }
                    Some(n) => format!(
                        "\nDid you mean \"{n}\"? Hint: wrap the source name in double quotes to make it case-sensitive."
                    ),
                    None => String::new(),
                };
                SqlError::semantic(format!("Cannot insert values into an unknown stream/table: `{target}`{hint}"))
            })?;
        // Header columns count among "all columns" (so that a full VALUES
        // list names them, and is refused below).
        let all: Vec<String> =
            src.key.iter().chain(&src.value).chain(src.headers.iter().map(|(c, _)| c)).map(|c| c.name.clone()).collect();
        if let Some(cols) = &columns {
            if let Some(pseudo) = cols.iter().find(|c| *c == "ROWPARTITION" || *c == "ROWOFFSET") {
                return Err(SqlError::semantic(format!("Inserting into column `{pseudo}` is not allowed.")));
            }
            if cols.len() != values.len() {
                return Err(SqlError::semantic(format!(
                    "Failed to prepare statement: Expected number columns and values to match: {}, {}",
                    cols.len(),
                    values.len()
                )));
            }
        }
        let names = columns.unwrap_or_else(|| all.clone());
        if names.len() != values.len() {
            return Err(SqlError::semantic(format!(
                "Expected a value for each column. Expected Columns: [{}]. Got {}",
                names.join(", "),
                values.iter().map(display_expr).collect::<Vec<_>>().join(", ")
            )));
        }
        for (col, _) in &src.headers {
            if names.contains(&col.name) {
                return Err(SqlError::semantic(format!("Cannot insert into HEADER columns: {}", col.name)));
            }
        }
        // Evaluate each value over one empty row.
        let empty = RecordBatch::try_new_with_options(
            Arc::new(Schema::empty()),
            vec![],
            &RecordBatchOptions::new().with_row_count(Some(1)),
        )?;
        let empty = riffle_engine::Batch::new(empty, arrow::array::Int64Array::from(vec![0i64]));
        let planner = self.planner();
        let mut row: BTreeMap<String, Value> = BTreeMap::new();
        let mut ts = None;
        for (n, e) in names.iter().zip(values) {
            // ksqlDB prepares the values before it inserts them.
            let ee = planner.constant(e).map_err(|err| match err {
                SqlError::Semantic(m) if m.contains("is not a valid stream/table name or alias") => {
                    SqlError::Semantic(format!("Failed to prepare statement: {m}"))
                }
                other => other,
            })?;
            let arr = evaluate(&ee, &empty).map_err(|err| SqlError::semantic(format!("Failed to insert values into '{target}'. {err}")))?;
            let v = Value::from_array(arr.as_ref(), 0);
            if n == "ROWTIME" {
                ts = v.as_i64();
                continue;
            }
            if !all.contains(n) {
                return Err(SqlError::semantic(format!("Column name {n} does not exist.")));
            }
            row.insert(n.clone(), v);
        }
        let encode = |cols: &[Column], spec: &FormatSpec, is_key: bool| -> Result<Option<Bytes>> {
            if cols.is_empty() {
                return Ok(None);
            }
            if is_key && cols.iter().all(|c| row.get(&c.name).is_none_or(Value::is_null)) {
                return Ok(None);
            }
            let mut arrays = Vec::new();
            let mut fields = Vec::new();
            for c in cols {
                let v = row.get(&c.name).cloned().unwrap_or(Value::Null);
                let a = to_array_checked(&[v.clone()], &c.ty, true).map_err(|_| {
                    SqlError::semantic(format!(
                        "Failed to insert values into '{target}'. Expected type {} for column {} but got {:?}",
                        c.ty, c.name, v
                    ))
                })?;
                arrays.push(a);
                fields.push(Field::new(&c.name, c.ty.to_arrow(), true));
            }
            let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?;
            let fmt = engine_format(spec, cols, is_key)?;
            let mut out = fmt.encode(&batch)?;
            Ok(out.pop().map(Bytes::from))
        };
        let key = encode(&src.key, &src.key_format, true)?;
        let value = encode(&src.value, &src.value_format, false)?.or_else(|| {
            // A value without columns (NONE) is still a record.
            Some(Bytes::new()).filter(|_| src.value.is_empty() && src.value_format.kind != FormatKind::None)
        });
        self.produce(&src.topic, key, value, ts.unwrap_or(0), Vec::new())?;
        Ok(Executed::Message("Inserted".into()))
    }

    /// Creates `topic` with `partitions` partitions if it does not exist.
    ///
    /// # Errors
    /// Log failures.
    pub fn create_topic(&mut self, topic: &str, partitions: i32) -> Result<()> {
        self.ensure_topic(topic, partitions).map(|_| ())
    }

    /// Appends one record to `topic` (partition from the key's murmur2
    /// hash, as Kafka's default partitioner) and runs every query until
    /// nothing is left to read.
    ///
    /// # Errors
    /// Unknown topic; query failures.
    pub fn produce(
        &mut self,
        topic: &str,
        key: Option<Bytes>,
        value: Option<Bytes>,
        timestamp: i64,
        headers: Vec<(String, Option<Bytes>)>,
    ) -> Result<()> {
        let n = self.ensure_topic(topic, 1)?;
        let partition = key.as_ref().map_or(0, |k| riffle_log::partitioner::partition_for_key(k, n));
        let rec = Record {
            key,
            value,
            timestamp: Some(timestamp),
            headers: headers.into_iter().map(|(k, v)| Header { key: k, value: v }).collect(),
        };
        self.log.append(topic, partition, &[rec]).map_err(|e| SqlError::Internal(format!("append to {topic}: {e}")))?;
        if self.synchronous {
            self.run()?;
        }
        Ok(())
    }

    /// Runs every query's tasks until nothing is left to read, then commits.
    ///
    /// # Errors
    /// Query failures.
    pub fn run(&mut self) -> Result<()> {
        loop {
            let mut read = 0;
            for q in &mut self.queries {
                for t in q.tasks_mut() {
                    read += t.poll()?;
                }
            }
            if read == 0 {
                break;
            }
        }
        for q in &mut self.queries {
            for t in q.tasks_mut() {
                t.commit()?;
            }
        }
        Ok(())
    }

    /// Every record of `topic`, partition by partition, in offset order.
    ///
    /// # Errors
    /// Unknown topic.
    pub fn read_topic(&self, topic: &str) -> Result<Vec<StoredRecord>> {
        let n = self.log.partition_count(topic).map_err(|e| SqlError::semantic(format!("topic {topic}: {e}")))?;
        let mut out = Vec::new();
        for p in 0..n {
            let mut pos = 0;
            loop {
                let f = self.log.read(topic, p, pos, 1 << 20).map_err(|e| SqlError::Internal(format!("read {topic}: {e}")))?;
                if f.records.is_empty() {
                    break;
                }
                pos = f.next_offset;
                out.extend(f.records);
            }
        }
        Ok(out)
    }

    /// Names of every topic in the log (internal ones included).
    pub fn topics(&self) -> Vec<String> {
        let mut v: Vec<String> = self.log.topics().iter().map(|t| t.name().to_string()).collect();
        v.sort();
        v
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The source registered on `topic` that tells how its records are
    /// serialized (a sink's source first), if any.
    pub fn topic_source(&self, topic: &str) -> Option<&SourceInfo> {
        let on: Vec<&SourceInfo> = self.catalog.sources.values().filter(|s| s.topic == topic).collect();
        on.iter().find(|s| s.written_by.is_some()).or(on.first()).copied()
    }

    /// Ids of the running persistent queries.
    pub fn query_ids(&self) -> Vec<String> {
        self.queries.iter().map(|q| q.id.clone()).collect()
    }
}

/// The key format for `key`, or ksqlDB's "Key format does not support
/// schema" error.
fn key_format_for(spec: &FormatSpec, key: &[Column]) -> Result<riffle_engine::format::FormatRef> {
    engine_format(spec, key, true).map_err(|e| {
        if e.to_string().starts_with("Key format does not support schema") {
            return e;
        }
        let cols: Vec<String> = key.iter().map(|c| format!("`{}` {} KEY", c.name, c.ty)).collect();
        SqlError::semantic(format!(
            "Key format does not support schema.\nformat: {}\nschema: Persistence{{columns=[{}], features=[]}}\nreason: {e}",
            spec.kind.name(),
            cols.join(", ")
        ))
    })
}

/// ksqlDB refuses map-typed key columns.
fn check_key_type(name: &str, ty: &SqlType) -> Result<()> {
    fn has_map(t: &SqlType) -> bool {
        match t {
            SqlType::Map(_, _) => true,
            SqlType::Array(e) => has_map(e),
            SqlType::Struct(fs) => fs.iter().any(|(_, t)| has_map(t)),
            _ => false,
        }
    }
    if has_map(ty) {
        return Err(SqlError::semantic(format!(
            "Map keys, including types that contain maps, are not supported as they may lead to unexpected behavior due to inconsistent serialization. Key column name: `{name}`. Column type: {ty}. See https://github.com/confluentinc/ksql/issues/6621 for more."
        )));
    }
    Ok(())
}

fn check_formats(key: &FormatSpec, value: &FormatSpec) -> Result<()> {
    for f in [key, value] {
        if f.kind.needs_schema_registry() {
            return Err(SqlError::semantic(format!(
                "The {} format needs a schema registry, which Riffle does not support yet.",
                f.kind.name()
            )));
        }
    }
    Ok(())
}

/// `'1 HOUR'`, `'10 SECONDS'` → milliseconds.
fn parse_duration(s: &str) -> Result<i64> {
    let mut parts = s.split_whitespace();
    let (Some(n), Some(unit)) = (parts.next(), parts.next()) else {
        return Err(SqlError::semantic(format!("Invalid duration: '{s}'")));
    };
    let n: i64 = n.parse().map_err(|_| SqlError::semantic(format!("Invalid duration: '{s}'")))?;
    let ms = match unit.to_ascii_uppercase().trim_end_matches('S') {
        "MILLISECOND" => 1,
        "SECOND" => 1000,
        "MINUTE" => 60_000,
        "HOUR" => 3_600_000,
        "DAY" => 86_400_000,
        _ => return Err(SqlError::semantic(format!("Invalid duration unit: '{unit}'"))),
    };
    Ok(n * ms)
}
