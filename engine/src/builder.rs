//! [`PlanBuilder`]: the one way plans are made. The Rust DSL and the SQL
//! planner both call it; it computes every node's [`Meta`], checks types,
//! and inserts the repartitions a regrouping needs.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::error::{EngineError, Result};
use crate::format::FormatRef;
use crate::functions::TableFunction;
use crate::physical::expr::expr_type;
use crate::plan::*;
use crate::processor::ProcessorSupplier;

/// Builds a [`LogicalPlan`] bottom-up. Cheap to clone (the plan is shared).
///
/// ```
/// use std::sync::Arc;
/// use arrow::datatypes::{DataType, Field, Schema};
/// use riffle_engine::{PlanBuilder, plan::{Expr, AggFunc, TimestampSpec, WindowSpec}, format::{JsonFormat, KafkaFormat}};
///
/// let value = Schema::new(vec![Field::new("page", DataType::Utf8, true), Field::new("user", DataType::Utf8, true)]);
/// let plan = PlanBuilder::stream("pageviews", Arc::new(KafkaFormat), Arc::new(JsonFormat), &[], value, TimestampSpec::Record)?
///     .group_by(vec![(Expr::col("page"), "page".into())])?
///     .aggregate(Some(WindowSpec::tumbling(60_000, 0)), vec![(AggFunc::CountStar, vec![], "views".into())])?
///     .suppress()?
///     .to_stream()?
///     .sink("pageview-counts", Arc::new(KafkaFormat), Arc::new(JsonFormat))?
///     .build();
/// println!("{plan}");
/// # Ok::<(), riffle_engine::EngineError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PlanBuilder {
    plan: Arc<LogicalPlan>,
}

fn schema_of(fields: Vec<Field>) -> SchemaRef {
    Arc::new(Schema::new(fields))
}

fn nullable(f: &Field) -> Field {
    f.clone().with_nullable(true)
}

impl PlanBuilder {
    /// Continues from an existing plan.
    pub fn from_plan(plan: Arc<LogicalPlan>) -> Self {
        PlanBuilder { plan }
    }

    /// The plan so far.
    pub fn build(self) -> Arc<LogicalPlan> {
        self.plan
    }

    /// The current node's output description.
    pub fn meta(&self) -> &Meta {
        self.plan.meta()
    }

    fn source(
        topic: &str,
        kind: Kind,
        key_format: FormatRef,
        value_format: FormatRef,
        key: &[Field],
        value: Schema,
        time: TimestampSpec,
    ) -> Result<Self> {
        if topic.is_empty() {
            return Err(EngineError::plan("Source", "topic name is empty"));
        }
        if kind == Kind::Table && key.is_empty() {
            return Err(EngineError::plan(
                format!("Source {topic}"),
                "a table needs at least one key column (its rows are upserts by key)",
            ));
        }
        let mut fields: Vec<Field> = key.iter().map(nullable).collect();
        fields.extend(value.fields().iter().map(|f| nullable(f)));
        let schema = schema_of(fields);
        check_unique(&schema, &format!("Source {topic}"))?;
        if let TimestampSpec::Column(c) = &time {
            let f = schema.field_with_name(c).map_err(|_| {
                EngineError::plan(format!("Source {topic}"), format!("timestamp column {c:?} is not a column"))
            })?;
            if !matches!(f.data_type(), DataType::Int64 | DataType::Timestamp(_, _)) {
                return Err(EngineError::plan(
                    format!("Source {topic}"),
                    format!("timestamp column {c:?} must be BIGINT or TIMESTAMP, not {}", f.data_type()),
                ));
            }
        }
        if let TimestampSpec::Expr(e) = &time {
            let t = expr_type(e, &schema)?;
            if !matches!(t, DataType::Int64 | DataType::Timestamp(_, _)) {
                return Err(EngineError::plan(
                    format!("Source {topic}"),
                    format!("timestamp expression {e} must be BIGINT or TIMESTAMP, not {t}"),
                ));
            }
        }
        let meta = Meta { schema, key_len: key.len(), kind, window: None, time };
        Ok(PlanBuilder {
            plan: Arc::new(LogicalPlan::Source(Source {
                topic: topic.into(),
                key_format,
                value_format,
                keep_null_values: false,
                record_metadata: false,
                headers: Vec::new(),
                meta,
            })),
        })
    }

    /// A stream read from `topic`: key columns `key` (decoded by
    /// `key_format`), value columns `value` (by `value_format`), event time
    /// from `time`.
    ///
    /// # Errors
    /// Duplicate column names; a timestamp column that is missing or not
    /// BIGINT/TIMESTAMP.
    pub fn stream(
        topic: &str,
        key_format: FormatRef,
        value_format: FormatRef,
        key: &[Field],
        value: Schema,
        time: TimestampSpec,
    ) -> Result<Self> {
        Self::source(topic, Kind::Stream, key_format, value_format, key, value, time)
    }

    /// A table read from `topic` (a changelog: each record upserts its key,
    /// a null value deletes it).
    ///
    /// # Errors
    /// As [`PlanBuilder::stream`]; a table without key columns.
    pub fn table(
        topic: &str,
        key_format: FormatRef,
        value_format: FormatRef,
        key: &[Field],
        value: Schema,
        time: TimestampSpec,
    ) -> Result<Self> {
        Self::source(topic, Kind::Table, key_format, value_format, key, value, time)
    }

    /// On a source: its record keys are windowed — Kafka Streams' windowed
    /// key layout, the key then an 8-byte big-endian window start (time
    /// windows) or end then start (session windows). The rows gain
    /// `WINDOWSTART`/`WINDOWEND` after the key columns; a time window's end
    /// is its start plus the window size.
    ///
    /// # Errors
    /// Not a source, or a source that is already windowed.
    pub fn with_key_window(self, window: WindowSpec) -> Result<Self> {
        let LogicalPlan::Source(s) = &*self.plan else {
            return Err(EngineError::plan(self.node_name("Source"), "only a source reads windowed keys"));
        };
        if s.meta.window.is_some() {
            return Err(EngineError::plan(format!("Source {}", s.topic), "the source is already windowed"));
        }
        let mut s = s.clone();
        let fields = s.meta.schema.fields();
        let mut out: Vec<Field> = fields[..s.meta.key_len].iter().map(|f| f.as_ref().clone()).collect();
        out.push(Field::new(WINDOWSTART, DataType::Int64, false));
        out.push(Field::new(WINDOWEND, DataType::Int64, false));
        out.extend(fields[s.meta.key_len..].iter().map(|f| f.as_ref().clone()));
        let schema = schema_of(out);
        check_unique(&schema, &format!("Source {}", s.topic))?;
        s.meta.schema = schema;
        s.meta.window = Some(window);
        Ok(PlanBuilder { plan: Arc::new(LogicalPlan::Source(s)) })
    }

    /// On a source: the rows gain two last columns, [`ROWPARTITION`] (INT)
    /// and [`ROWOFFSET`] (BIGINT), the partition and offset each record was
    /// read from (ksqlDB's pseudo-columns).
    ///
    /// # Errors
    /// Not a source; a source that has them already, or columns of those
    /// names.
    pub fn with_record_metadata(self) -> Result<Self> {
        let LogicalPlan::Source(s) = &*self.plan else {
            return Err(EngineError::plan(self.node_name("Source"), "only a source has record metadata"));
        };
        if s.record_metadata {
            return Err(EngineError::plan(format!("Source {}", s.topic), "record metadata is already on"));
        }
        let mut s = s.clone();
        let mut fields: Vec<Field> = s.meta.schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new(ROWPARTITION, DataType::Int32, true));
        fields.push(Field::new(ROWOFFSET, DataType::Int64, true));
        let schema = schema_of(fields);
        check_unique(&schema, &format!("Source {}", s.topic))?;
        s.meta.schema = schema;
        s.record_metadata = true;
        Ok(PlanBuilder { plan: Arc::new(LogicalPlan::Source(s)) })
    }

    /// Adds columns read from each record's headers after the value columns
    /// (ksqlDB's `HEADERS` and `HEADER('key')` columns): `(field, None)`
    /// takes all headers as a list of `{KEY: Utf8, VALUE: Binary}` structs,
    /// `(field, Some(key))` the last value of header `key` as Binary (NULL
    /// when the record has none). Must come before
    /// [`PlanBuilder::with_record_metadata`].
    ///
    /// # Errors
    /// Not a source; record metadata already on; a field whose type does
    /// not fit what it reads; a name clash.
    pub fn with_header_columns(self, columns: Vec<(Field, Option<String>)>) -> Result<Self> {
        let LogicalPlan::Source(s) = &*self.plan else {
            return Err(EngineError::plan(self.node_name("Source"), "only a source has header columns"));
        };
        let at = format!("Source {}", s.topic);
        if s.record_metadata {
            return Err(EngineError::plan(at, "header columns go before record metadata"));
        }
        let mut s = s.clone();
        let mut fields: Vec<Field> = s.meta.schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        for (f, key) in columns {
            let fits = match (&key, f.data_type()) {
                (Some(_), DataType::Binary) => true,
                (None, DataType::List(item)) => matches!(item.data_type(), DataType::Struct(fs)
                    if fs.len() == 2 && fs[0].data_type() == &DataType::Utf8 && fs[1].data_type() == &DataType::Binary),
                _ => false,
            };
            if !fits {
                return Err(EngineError::plan(
                    at,
                    format!(
                        "header column {} has type {}; all headers need a list of {{Utf8, Binary}} structs, one header Binary",
                        f.name(),
                        f.data_type()
                    ),
                ));
            }
            fields.push(f);
            s.headers.push(key);
        }
        let schema = schema_of(fields);
        check_unique(&schema, &at)?;
        s.meta.schema = schema;
        Ok(PlanBuilder { plan: Arc::new(LogicalPlan::Source(s)) })
    }

    /// On a stream source: records with a null value flow on as rows with
    /// NULL value columns, marked deleted, so stateless pipelines forward
    /// them as null values (ksqlDB's behaviour). Stateful operators must
    /// not see them, so use it only for filter/project/re-key pipelines.
    /// Other nodes are returned unchanged.
    pub fn keep_null_values(self) -> Self {
        match &*self.plan {
            LogicalPlan::Source(s) if s.meta.kind == Kind::Stream => {
                let mut s = s.clone();
                s.keep_null_values = true;
                PlanBuilder { plan: Arc::new(LogicalPlan::Source(s)) }
            }
            _ => self,
        }
    }

    /// On a sink: take each record's timestamp from `column` (BIGINT or
    /// TIMESTAMP) instead of the row's event time.
    ///
    /// # Errors
    /// Not a sink; an unknown column or one of another type.
    pub fn with_output_timestamp(self, column: &str) -> Result<Self> {
        let LogicalPlan::Sink(s) = &*self.plan else {
            return Err(EngineError::plan(self.node_name("Sink"), "an output timestamp column needs a sink"));
        };
        let f = s.meta.schema.field_with_name(column).map_err(|_| {
            EngineError::plan(format!("Sink {}", s.topic), format!("timestamp column {column:?} is not a column"))
        })?;
        if !matches!(f.data_type(), DataType::Int64 | DataType::Timestamp(_, _)) {
            return Err(EngineError::plan(
                format!("Sink {}", s.topic),
                format!("timestamp column {column:?} must be BIGINT or TIMESTAMP, not {}", f.data_type()),
            ));
        }
        let mut s = s.clone();
        s.timestamp = TimestampSpec::Column(column.to_string());
        Ok(PlanBuilder { plan: Arc::new(LogicalPlan::Sink(s)) })
    }

    /// On a sink: take each record's timestamp from `expr` (BIGINT or
    /// TIMESTAMP, e.g. a string column parsed with `STRINGTOTIMESTAMP`); a
    /// row whose `expr` is NULL is not written, as ksqlDB drops a row whose
    /// timestamp cannot be extracted.
    ///
    /// # Errors
    /// Not a sink; an expression of another type.
    pub fn with_output_timestamp_expr(self, expr: Expr) -> Result<Self> {
        let LogicalPlan::Sink(s) = &*self.plan else {
            return Err(EngineError::plan(self.node_name("Sink"), "an output timestamp needs a sink"));
        };
        let t = expr_type(&expr, &s.meta.schema)?;
        if !matches!(t, DataType::Int64 | DataType::Timestamp(_, _)) {
            return Err(EngineError::plan(
                format!("Sink {}", s.topic),
                format!("timestamp expression {expr} must be BIGINT or TIMESTAMP, not {t}"),
            ));
        }
        let mut s = s.clone();
        s.timestamp = TimestampSpec::Expr(expr);
        Ok(PlanBuilder { plan: Arc::new(LogicalPlan::Sink(s)) })
    }

    fn node_name(&self, what: &str) -> String {
        format!("{what} over {}", self.plan.name())
    }

    /// Keeps rows matching `predicate`.
    ///
    /// # Errors
    /// A predicate that is not BOOLEAN or reads unknown columns.
    pub fn filter(self, predicate: Expr) -> Result<Self> {
        // A filter keeps only TRUE rows: `p IS TRUE` there is `p`.
        let predicate = match predicate {
            Expr::IsTrue(p) => *p,
            p => p,
        };
        let t = expr_type(&predicate, &self.meta().schema)?;
        if t != DataType::Boolean && t != DataType::Null {
            return Err(EngineError::plan(
                self.node_name("Filter"),
                format!("predicate {predicate} is {t}, not BOOLEAN"),
            ));
        }
        let meta = self.meta().clone();
        Ok(PlanBuilder {
            plan: Arc::new(LogicalPlan::Filter(Filter { input: self.plan, predicate, meta })),
        })
    }

    /// Replaces the value columns by `exprs` (key and window columns stay).
    ///
    /// # Errors
    /// Unknown columns, type errors, duplicate output names.
    pub fn project(self, exprs: Vec<(Expr, String)>) -> Result<Self> {
        let input = self.meta().clone();
        let mut fields: Vec<Field> = input.schema.fields()[..input.value_start()].iter().map(|f| (**f).clone()).collect();
        for (e, name) in &exprs {
            let t = expr_type(e, &input.schema)?;
            fields.push(Field::new(name, t, true));
        }
        let schema = schema_of(fields);
        check_unique(&schema, &self.node_name("Project"))?;
        let meta = Meta { schema, ..input };
        Ok(PlanBuilder {
            plan: Arc::new(LogicalPlan::Project(Project { input: self.plan, exprs, meta })),
        })
    }

    /// Applies a table function: each row becomes one row per produced
    /// value, with the value in the new column `name`.
    ///
    /// # Errors
    /// On tables (ksqlDB allows table functions on streams only); type errors.
    pub fn flat_map(self, func: Arc<dyn TableFunction>, args: Vec<Expr>, name: &str) -> Result<Self> {
        self.flat_map_zip(vec![TableCall { func, args, name: name.into() }])
    }

    /// Applies several table functions side by side: each input row yields
    /// as many rows as its longest result, the other results padded with
    /// NULL; one new column per call.
    ///
    /// # Errors
    /// As [`PlanBuilder::flat_map`]; no calls.
    pub fn flat_map_zip(self, calls: Vec<TableCall>) -> Result<Self> {
        let input = self.meta().clone();
        if input.kind != Kind::Stream {
            return Err(EngineError::plan(self.node_name("FlatMap"), "table functions apply to streams only"));
        }
        if calls.is_empty() {
            return Err(EngineError::plan(self.node_name("FlatMap"), "no table function to apply"));
        }
        let mut fields: Vec<Field> = input.schema.fields().iter().map(|f| (**f).clone()).collect();
        for c in &calls {
            let types = c.args.iter().map(|a| expr_type(a, &input.schema)).collect::<Result<Vec<_>>>()?;
            fields.push(Field::new(&c.name, c.func.return_type(&types)?, true));
        }
        let schema = schema_of(fields);
        check_unique(&schema, &self.node_name("FlatMap"))?;
        let meta = Meta { schema, ..input };
        Ok(PlanBuilder { plan: Arc::new(LogicalPlan::FlatMap(FlatMap { input: self.plan, calls, meta })) })
    }

    /// Sets a new key computed from the row (`PARTITION BY`), then
    /// repartitions by it. The old key columns are dropped unless the new
    /// key reuses them; value columns stay.
    ///
    /// # Errors
    /// Type errors; windowed input.
    pub fn select_key(self, key: Vec<(Expr, String)>) -> Result<Self> {
        let keyed = self.select_key_local(key)?;
        keyed.repartition(None)
    }

    /// Recomputes the key from the row **without** a repartition. Only
    /// correct when every row keeps its partition — renaming key columns,
    /// or a key that is a function of the old key alone on a single
    /// partition. The SQL planner uses it to give key columns their
    /// projected names.
    ///
    /// # Errors
    /// As [`PlanBuilder::select_key`].
    pub fn rekey_local(self, key: Vec<(Expr, String)>) -> Result<Self> {
        self.select_key_local(key)
    }

    fn select_key_local(self, key: Vec<(Expr, String)>) -> Result<Self> {
        let input = self.meta().clone();
        if input.window.is_some() {
            return Err(EngineError::plan(self.node_name("SelectKey"), "cannot re-key a windowed table"));
        }
        let mut fields = Vec::new();
        for (e, name) in &key {
            fields.push(Field::new(name, expr_type(e, &input.schema)?, true));
        }
        for f in &input.schema.fields()[input.value_start()..] {
            if !key.iter().any(|(_, n)| n == f.name()) {
                fields.push((**f).clone());
            }
        }
        let schema = schema_of(fields);
        check_unique(&schema, &self.node_name("SelectKey"))?;
        let meta = Meta { schema, key_len: key.len(), ..input };
        Ok(PlanBuilder {
            plan: Arc::new(LogicalPlan::SelectKey(SelectKey { input: self.plan, key, meta })),
        })
    }

    /// Redistributes rows by their current key through an internal topic.
    ///
    /// # Errors
    /// None today; reserved for invalid partition counts.
    pub fn repartition(self, partitions: Option<i32>) -> Result<Self> {
        if let Some(p) = partitions {
            if p <= 0 {
                return Err(EngineError::plan(self.node_name("Repartition"), "partition count must be positive"));
            }
        }
        let meta = self.meta().clone();
        let name = format!("{}-{}", self.plan.name(), fingerprint(&self.plan));
        Ok(PlanBuilder {
            plan: Arc::new(LogicalPlan::Repartition(Repartition { input: self.plan, name, partitions, meta })),
        })
    }

    /// Groups by `key` for a following [`PlanBuilder::aggregate`]: when the
    /// key differs from the current one, inserts a `SelectKey` and a
    /// `Repartition` (as Kafka Streams' `groupBy`); otherwise nothing
    /// (`groupByKey`; on a table, the aggregate retracts each update's old
    /// row itself).
    ///
    /// # Errors
    /// As [`PlanBuilder::select_key`].
    pub fn group_by(self, key: Vec<(Expr, String)>) -> Result<Self> {
        let same = {
            let cur = self.meta().key_columns();
            key.len() == cur.len()
                && key.iter().zip(cur.iter()).all(|((e, n), c)| matches!(e, Expr::Column(x) if x == c) && n == c)
        };
        if same {
            return Ok(self);
        }
        self.select_key(key)
    }

    /// Aggregates by the current key, optionally per window. Output is a
    /// table: key columns, `WINDOWSTART`/`WINDOWEND` when windowed, then one
    /// column per aggregate.
    ///
    /// # Errors
    /// Bad window, type errors (SUM over a string), windows on a table.
    pub fn aggregate(self, window: Option<WindowSpec>, aggs: Vec<(AggFunc, Vec<Expr>, String)>) -> Result<Self> {
        self.aggregate_with_carry(window, aggs, vec![])
    }

    /// [`PlanBuilder::aggregate`] that also carries value columns of the
    /// latest row of each group into the output.
    ///
    /// # Errors
    /// As [`PlanBuilder::aggregate`]; unknown carried columns.
    pub fn aggregate_with_carry(
        self,
        window: Option<WindowSpec>,
        aggs: Vec<(AggFunc, Vec<Expr>, String)>,
        carry: Vec<String>,
    ) -> Result<Self> {
        let input = self.meta().clone();
        let node = self.node_name("Aggregate");
        if let Some(w) = &window {
            w.validate().map_err(|r| EngineError::plan(&node, r))?;
            if input.kind == Kind::Table {
                return Err(EngineError::plan(&node, "windowed aggregation needs a stream, not a table"));
            }
        }
        if input.window.is_some() {
            return Err(EngineError::plan(&node, "input is already windowed"));
        }
        let mut fields: Vec<Field> = input.schema.fields()[..input.key_len].iter().map(|f| (**f).clone()).collect();
        if window.is_some() {
            fields.push(Field::new(WINDOWSTART, DataType::Int64, false));
            fields.push(Field::new(WINDOWEND, DataType::Int64, false));
        }
        for c in &carry {
            let f = input
                .schema
                .field_with_name(c)
                .map_err(|_| EngineError::plan(&node, format!("carried column {c:?} is not a column")))?;
            fields.push(f.clone().with_nullable(true));
        }
        let mut out = Vec::new();
        for (func, args, name) in aggs {
            let types = args.iter().map(|a| expr_type(a, &input.schema)).collect::<Result<Vec<_>>>()?;
            let t = agg_type(&func, &types).map_err(|r| EngineError::plan(&node, format!("{name}: {r}")))?;
            fields.push(Field::new(&name, t, true));
            out.push(AggExpr { func, args, name });
        }
        let schema = schema_of(fields);
        check_unique(&schema, &node)?;
        let meta = Meta { schema, key_len: input.key_len, kind: Kind::Table, window, time: input.time };
        Ok(PlanBuilder {
            plan: Arc::new(LogicalPlan::Aggregate(Aggregate { input: self.plan, aggs: out, window, carry, store: None, meta })),
        })
    }

    /// Names the store of the aggregation just added, so that a running
    /// app can be queried by that name ([`StreamsApp::query`](crate::StreamsApp::query));
    /// Kafka Streams' `Materialized.as(name)`. The changelog topic becomes
    /// `<application id>-<name>-changelog`.
    ///
    /// A named windowed store keeps closed windows until its retention
    /// (window size + grace, or the window spec's retention) passes them.
    /// An unnamed one has no readers once a window closes, so its closed
    /// windows are emitted and dropped without being written to the store.
    ///
    /// # Errors
    /// The current node is not an aggregation; a name that cannot be part
    /// of a topic name.
    pub fn materialize_as(self, name: &str) -> Result<Self> {
        let node = self.node_name("Materialized");
        let LogicalPlan::Aggregate(a) = &*self.plan else {
            return Err(EngineError::plan(&node, "materialize_as names an aggregation's store; call it right after the aggregation"));
        };
        riffle_log::validate_topic_name(&format!("x-{name}-changelog")).map_err(|e| {
            EngineError::plan(&node, format!("store name {name:?} cannot be part of a changelog topic name: {e}"))
        })?;
        let mut a = a.clone();
        a.store = Some(name.to_string());
        Ok(PlanBuilder { plan: Arc::new(LogicalPlan::Aggregate(a)) })
    }

    /// Emits only final results of a windowed table, once per key and window
    /// when the window closes.
    ///
    /// # Errors
    /// Input that is not a windowed table.
    pub fn suppress(self) -> Result<Self> {
        let meta = self.meta().clone();
        if meta.window.is_none() || meta.kind != Kind::Table {
            return Err(EngineError::plan(self.node_name("Suppress"), "EMIT FINAL / suppress needs a windowed aggregation"));
        }
        Ok(PlanBuilder { plan: Arc::new(LogicalPlan::Suppress(Suppress { input: self.plan, meta })) })
    }

    /// The table's changelog as a stream.
    ///
    /// # Errors
    /// Input that is already a stream.
    pub fn to_stream(self) -> Result<Self> {
        let mut meta = self.meta().clone();
        if meta.kind != Kind::Table {
            return Err(EngineError::plan(self.node_name("ToStream"), "input is already a stream"));
        }
        meta.kind = Kind::Stream;
        Ok(PlanBuilder { plan: Arc::new(LogicalPlan::ToStream(ToStream { input: self.plan, meta })) })
    }

    /// The stream as a table keyed by its key.
    ///
    /// # Errors
    /// Input that is already a table, or has no key.
    pub fn to_table(self) -> Result<Self> {
        let mut meta = self.meta().clone();
        if meta.kind != Kind::Stream || meta.key_len == 0 {
            return Err(EngineError::plan(self.node_name("ToTable"), "needs a keyed stream"));
        }
        meta.kind = Kind::Table;
        Ok(PlanBuilder { plan: Arc::new(LogicalPlan::ToTable(ToTable { input: self.plan, meta })) })
    }

    /// Joins with `right` on the key. Both sides must have the same key
    /// types. `window` is required for stream-stream joins and not allowed
    /// otherwise. Right value columns that clash with left ones are prefixed
    /// with `right_`.
    ///
    /// # Errors
    /// Kind combinations Kafka Streams does not have (table-stream, outer
    /// stream-table), missing or extra windows, key type mismatches.
    pub fn join(self, right: PlanBuilder, kind: JoinKind, window: Option<JoinWindow>) -> Result<Self> {
        let l = self.meta().clone();
        let r = right.meta().clone();
        let node = self.node_name("Join");
        match (l.kind, r.kind, window.is_some()) {
            (Kind::Stream, Kind::Stream, false) => {
                return Err(EngineError::plan(&node, "a stream-stream join needs a WITHIN window"))
            }
            (Kind::Stream, Kind::Stream, true) => {}
            (_, _, true) => return Err(EngineError::plan(&node, "only stream-stream joins take a WITHIN window")),
            (Kind::Table, Kind::Stream, _) => {
                return Err(EngineError::plan(&node, "put the stream on the left of a stream-table join"))
            }
            (Kind::Stream, Kind::Table, _) if kind == JoinKind::Outer => {
                return Err(EngineError::plan(&node, "stream-table joins are INNER or LEFT"))
            }
            _ => {}
        }
        if l.window.is_some() || r.window.is_some() {
            return Err(EngineError::plan(&node, "windowed tables cannot be joined"));
        }
        if l.key_len != r.key_len
            || (0..l.key_len).any(|i| l.schema.field(i).data_type() != r.schema.field(i).data_type())
        {
            return Err(EngineError::plan(
                &node,
                format!(
                    "join keys differ: left ({}) vs right ({}); re-key one side first",
                    l.key_columns().join(", "),
                    r.key_columns().join(", ")
                ),
            ));
        }
        let mut fields: Vec<Field> = l.schema.fields().iter().map(|f| (**f).clone().with_nullable(true)).collect();
        for f in &r.schema.fields()[r.value_start()..] {
            let name = if fields.iter().any(|x| x.name() == f.name()) { format!("right_{}", f.name()) } else { f.name().clone() };
            fields.push(Field::new(name, f.data_type().clone(), true));
        }
        let schema = schema_of(fields);
        check_unique(&schema, &node)?;
        let out_kind = if l.kind == Kind::Table && r.kind == Kind::Table { Kind::Table } else { Kind::Stream };
        let meta = Meta { schema, key_len: l.key_len, kind: out_kind, window: None, time: l.time };
        Ok(PlanBuilder {
            plan: Arc::new(LogicalPlan::Join(Join { left: self.plan, right: right.plan, kind, window, meta })),
        })
    }

    /// Table-table join on a foreign key: `foreign_key` over the left row
    /// gives the right row's key.
    ///
    /// # Errors
    /// Non-table inputs, outer kind, a foreign-key type unlike the right key.
    pub fn foreign_key_join(self, right: PlanBuilder, foreign_key: Expr, kind: JoinKind) -> Result<Self> {
        let l = self.meta().clone();
        let r = right.meta().clone();
        let node = self.node_name("ForeignKeyJoin");
        if l.kind != Kind::Table || r.kind != Kind::Table {
            return Err(EngineError::plan(&node, "foreign-key joins are between two tables"));
        }
        if kind == JoinKind::Outer {
            return Err(EngineError::plan(&node, "foreign-key joins are INNER or LEFT"));
        }
        let t = expr_type(&foreign_key, &l.schema)?;
        if r.key_len != 1 || r.schema.field(0).data_type() != &t {
            return Err(EngineError::plan(&node, format!("foreign key {foreign_key} ({t}) does not match the right table's key")));
        }
        let mut fields: Vec<Field> = l.schema.fields().iter().map(|f| (**f).clone().with_nullable(true)).collect();
        for f in &r.schema.fields()[r.value_start()..] {
            let name = if fields.iter().any(|x| x.name() == f.name()) { format!("right_{}", f.name()) } else { f.name().clone() };
            fields.push(Field::new(name, f.data_type().clone(), true));
        }
        let schema = schema_of(fields);
        let meta = Meta { schema, ..l };
        Ok(PlanBuilder {
            plan: Arc::new(LogicalPlan::ForeignKeyJoin(ForeignKeyJoin {
                left: self.plan,
                right: right.plan,
                foreign_key,
                kind,
                meta,
            })),
        })
    }

    /// Interleaves this stream with others of the same schema.
    ///
    /// # Errors
    /// Schemas or kinds that differ.
    pub fn merge(self, others: Vec<PlanBuilder>) -> Result<Self> {
        let meta = self.meta().clone();
        for o in &others {
            if o.meta().schema.fields() != meta.schema.fields() || o.meta().kind != Kind::Stream || meta.kind != Kind::Stream {
                return Err(EngineError::plan(self.node_name("Merge"), "merged inputs must be streams with the same schema"));
            }
        }
        let mut inputs = vec![self.plan];
        inputs.extend(others.into_iter().map(|o| o.plan));
        Ok(PlanBuilder { plan: Arc::new(LogicalPlan::Merge(Merge { inputs, meta })) })
    }

    /// A user operator (processor API) whose output has `schema` and kind.
    ///
    /// # Errors
    /// A schema whose key columns differ from the input's.
    pub fn process(self, name: &str, supplier: Arc<dyn ProcessorSupplier>, meta: Option<Meta>) -> Result<Self> {
        let meta = meta.unwrap_or_else(|| self.meta().clone());
        Ok(PlanBuilder {
            plan: Arc::new(LogicalPlan::Process(Process { input: self.plan, name: name.into(), supplier, meta })),
        })
    }

    /// Writes to `topic`.
    ///
    /// # Errors
    /// An empty topic name.
    pub fn sink(self, topic: &str, key_format: FormatRef, value_format: FormatRef) -> Result<Self> {
        self.sink_with_partitions(topic, key_format, value_format, None)
    }

    /// Writes to `topic`, creating it with `partitions` when missing.
    ///
    /// # Errors
    /// An empty topic name, a non-positive partition count.
    pub fn sink_with_partitions(
        self,
        topic: &str,
        key_format: FormatRef,
        value_format: FormatRef,
        partitions: Option<i32>,
    ) -> Result<Self> {
        if topic.is_empty() || partitions.is_some_and(|p| p <= 0) {
            return Err(EngineError::plan(self.node_name("Sink"), "sink needs a topic name and a positive partition count"));
        }
        let meta = self.meta().clone();
        Ok(PlanBuilder {
            plan: Arc::new(LogicalPlan::Sink(Sink {
                input: self.plan,
                topic: topic.into(),
                key_format,
                value_format,
                partitions,
                timestamp: TimestampSpec::Record,
                meta,
            })),
        })
    }
}

/// Result type of an aggregate over argument types.
pub(crate) fn agg_type(func: &AggFunc, args: &[DataType]) -> std::result::Result<DataType, String> {
    let one = || args.first().cloned().ok_or_else(|| format!("{func} takes one argument"));
    match func {
        AggFunc::Count | AggFunc::CountStar => Ok(DataType::Int64),
        AggFunc::Sum => match one()? {
            DataType::Int32 | DataType::Int64 => Ok(DataType::Int64),
            DataType::Float32 | DataType::Float64 => Ok(DataType::Float64),
            t => Err(format!("SUM needs a number, got {t}")),
        },
        AggFunc::Avg => match one()? {
            DataType::Int32 | DataType::Int64 | DataType::Float32 | DataType::Float64 => Ok(DataType::Float64),
            t => Err(format!("AVG needs a number, got {t}")),
        },
        AggFunc::Min | AggFunc::Max => match one()? {
            t @ (DataType::Int32 | DataType::Int64 | DataType::Float64 | DataType::Utf8) => Ok(t),
            DataType::Timestamp(u, z) => Ok(DataType::Timestamp(u, z)),
            t => Err(format!("{func} needs a number, string or timestamp, got {t}")),
        },
        AggFunc::Udaf(u) => u.return_type(args).map_err(|e| e.to_string()),
    }
}

fn check_unique(schema: &Schema, node: &str) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for f in schema.fields() {
        if !seen.insert(f.name().as_str()) {
            return Err(EngineError::plan(node, format!("column {:?} appears twice; rename one with AS", f.name())));
        }
    }
    Ok(())
}

/// A short stable tag for a plan node (from its tree), used to name internal
/// topics and stores deterministically so a restarted app finds them again.
pub(crate) fn fingerprint(plan: &LogicalPlan) -> String {
    // FNV-1a over the displayed tree: stable across runs and builds.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in plan.to_string().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:08x}", h as u32)
}
