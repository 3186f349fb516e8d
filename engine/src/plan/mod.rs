//! The logical plan: one IR for the Rust DSL and the SQL layer.
//!
//! A plan is a tree (a DAG when an input is shared) of [`LogicalPlan`]
//! nodes made by [`crate::PlanBuilder`]. Every node carries a [`Meta`]: its
//! Arrow schema (key columns first, then for windowed nodes `WINDOWSTART`
//! and `WINDOWEND`, then value columns), whether it is a stream or a table,
//! its window and where its event time comes from. Repartitions are explicit
//! nodes: the physical planner cuts the plan into sub-topologies there.
//!
//! `Display` prints an indented tree, one node per line (what `EXPLAIN`
//! shows).

mod display;
mod expr;
mod window;

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;

pub use expr::{BinaryOp, Expr, ScalarValue};
pub use window::{WindowKind, WindowSpec, DEFAULT_GRACE_MS};

use crate::format::FormatRef;
use crate::functions::{AggregateFunction, TableFunction};
use crate::processor::ProcessorSupplier;

/// Name of the window-start column of windowed nodes.
pub const WINDOWSTART: &str = "WINDOWSTART";
/// Name of the window-end column of windowed nodes.
pub const WINDOWEND: &str = "WINDOWEND";
/// Pseudo-column for a row's event time, readable by every expression.
pub const ROWTIME: &str = "ROWTIME";
/// Column a source with record metadata fills with each record's partition.
pub const ROWPARTITION: &str = "ROWPARTITION";
/// Column a source with record metadata fills with each record's offset.
pub const ROWOFFSET: &str = "ROWOFFSET";

/// Stream (every record is an event) or table (every record updates the
/// row with its key; a tombstone deletes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An append-only stream of events.
    Stream,
    /// A changelog: the latest row per key.
    Table,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Stream => "stream",
            Kind::Table => "table",
        })
    }
}

/// Where a source's event time comes from.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum TimestampSpec {
    /// The Kafka record timestamp.
    #[default]
    Record,
    /// A BIGINT column in epoch milliseconds (or a TIMESTAMP column).
    Column(String),
    /// An expression over the decoded row giving BIGINT epoch milliseconds
    /// or a TIMESTAMP, such as a string column parsed with a pattern. A
    /// NULL result (an unparsable value) skips the record, as a negative
    /// time does.
    Expr(Expr),
}

/// What every node knows about its output.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    /// Output schema: key columns, then window bounds if windowed, then values.
    pub schema: SchemaRef,
    /// How many leading columns are the key.
    pub key_len: usize,
    /// Stream or table.
    pub kind: Kind,
    /// The window of windowed tables (their key includes the window).
    pub window: Option<WindowSpec>,
    /// Where event time came from at the source.
    pub time: TimestampSpec,
}

impl Meta {
    /// Names of the key columns.
    pub fn key_columns(&self) -> Vec<&str> {
        self.schema.fields()[..self.key_len].iter().map(|f| f.name().as_str()).collect()
    }

    /// Index of the first value column (past the key and window bounds).
    pub fn value_start(&self) -> usize {
        self.key_len + if self.window.is_some() { 2 } else { 0 }
    }

    /// Names of the value columns.
    pub fn value_columns(&self) -> Vec<&str> {
        self.schema.fields()[self.value_start()..].iter().map(|f| f.name().as_str()).collect()
    }
}

/// Reads a topic. Key and value bytes are decoded by the formats into the
/// key columns and the value columns of `meta.schema`.
#[derive(Debug, Clone)]
pub struct Source {
    /// Topic to read.
    pub topic: String,
    /// Key format (decodes the key columns; unused when there are none).
    pub key_format: FormatRef,
    /// Value format.
    pub value_format: FormatRef,
    /// On a stream: pass records with a null value on as rows with NULL
    /// value columns marked deleted (written as null values by sinks), as
    /// ksqlDB's stateless queries do, instead of skipping them.
    pub keep_null_values: bool,
    /// Whether the rows end with [`ROWPARTITION`] (INT) and [`ROWOFFSET`]
    /// (BIGINT): where each record was read from.
    pub record_metadata: bool,
    /// Columns read from the record's headers, after the value columns:
    /// `None` for all headers (a list of `{KEY, VALUE}` structs, in record
    /// order), `Some(key)` for the last value of that header (binary).
    pub headers: Vec<Option<String>>,
    /// Output.
    pub meta: Meta,
}

/// Keeps rows where `predicate` is true (NULL counts as false). On a table,
/// a row that stops matching becomes a tombstone.
#[derive(Debug, Clone)]
pub struct Filter {
    /// Input.
    pub input: Arc<LogicalPlan>,
    /// BOOLEAN expression.
    pub predicate: Expr,
    /// Output (the input's).
    pub meta: Meta,
}

/// Computes value columns from expressions; the key (and window) columns
/// pass through unchanged.
#[derive(Debug, Clone)]
pub struct Project {
    /// Input.
    pub input: Arc<LogicalPlan>,
    /// `(expression, output name)` per value column.
    pub exprs: Vec<(Expr, String)>,
    /// Output.
    pub meta: Meta,
}

/// Each input row gives zero or more rows: a table function's values are
/// appended as the column `name`.
#[derive(Debug, Clone)]
pub struct FlatMap {
    /// Input (a stream).
    pub input: Arc<LogicalPlan>,
    /// The table functions, applied side by side: an input row yields as
    /// many rows as its longest result, the shorter results padded with
    /// NULL (ksqlDB's semantics for several table functions in one select).
    pub calls: Vec<TableCall>,
    /// Output: the input's columns, then one column per call.
    pub meta: Meta,
}

/// One table function call of a [`FlatMap`].
#[derive(Debug, Clone)]
pub struct TableCall {
    /// The function.
    pub func: Arc<dyn TableFunction>,
    /// Its arguments.
    pub args: Vec<Expr>,
    /// Name of the produced column.
    pub name: String,
}

/// Replaces the key with computed columns (`PARTITION BY`, `selectKey`).
/// Rows whose new key lands in another partition only get there through a
/// following [`Repartition`].
#[derive(Debug, Clone)]
pub struct SelectKey {
    /// Input (a stream).
    pub input: Arc<LogicalPlan>,
    /// `(expression, name)` of each new key column.
    pub key: Vec<(Expr, String)>,
    /// Output: the new key columns, then the input's value columns.
    pub meta: Meta,
}

/// Writes rows to an internal topic partitioned by their key and reads them
/// back in the next sub-topology: the cut between tasks.
#[derive(Debug, Clone)]
pub struct Repartition {
    /// Input.
    pub input: Arc<LogicalPlan>,
    /// Suffix of the topic name (`<app>-<name>-repartition`).
    pub name: String,
    /// Partitions of the topic (default: the input's).
    pub partitions: Option<i32>,
    /// Output (the input's).
    pub meta: Meta,
}

/// A built-in or registered aggregate function.
#[derive(Debug, Clone)]
pub enum AggFunc {
    /// `COUNT(x)`: non-null values.
    Count,
    /// `COUNT(*)`: rows.
    CountStar,
    /// `SUM(x)`.
    Sum,
    /// `MIN(x)`.
    Min,
    /// `MAX(x)`.
    Max,
    /// `AVG(x)` as DOUBLE.
    Avg,
    /// A registered function.
    Udaf(Arc<dyn AggregateFunction>),
}

impl fmt::Display for AggFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AggFunc::Count | AggFunc::CountStar => f.write_str("COUNT"),
            AggFunc::Sum => f.write_str("SUM"),
            AggFunc::Min => f.write_str("MIN"),
            AggFunc::Max => f.write_str("MAX"),
            AggFunc::Avg => f.write_str("AVG"),
            AggFunc::Udaf(u) => f.write_str(u.name()),
        }
    }
}

/// One aggregate column.
#[derive(Debug, Clone)]
pub struct AggExpr {
    /// The function.
    pub func: AggFunc,
    /// Its arguments (empty for `COUNT(*)`).
    pub args: Vec<Expr>,
    /// Output column name.
    pub name: String,
}

/// Groups rows by the input's key and folds aggregates, per window when
/// `window` is set. Input must already be partitioned by that key (the
/// builder inserts [`SelectKey`] + [`Repartition`] when it is not).
///
/// Output is a table keyed by the group key (and the window): one update per
/// input row, or per key per commit with the cache on. On a table input,
/// a row that moves groups is retracted from the old one.
#[derive(Debug, Clone)]
pub struct Aggregate {
    /// Input, keyed by the group key.
    pub input: Arc<LogicalPlan>,
    /// Aggregates, in output order after the key columns.
    pub aggs: Vec<AggExpr>,
    /// Window, if any.
    pub window: Option<WindowSpec>,
    /// Value columns of the input copied into the output as they are in the
    /// latest row of the group (ksqlDB's non-aggregate select items are
    /// group-by columns; this carries them). Usually empty.
    pub carry: Vec<String>,
    /// The name of its store, for interactive queries (Kafka Streams'
    /// `Materialized.as`); generated from the plan when `None`.
    pub store: Option<String>,
    /// Output.
    pub meta: Meta,
}

/// Holds a windowed table's updates until the window closes
/// (stream time ≥ window end + grace), then emits one final row per key and
/// window (`EMIT FINAL`, Kafka Streams' `suppress(untilWindowCloses)`).
#[derive(Debug, Clone)]
pub struct Suppress {
    /// Input: a windowed table.
    pub input: Arc<LogicalPlan>,
    /// Output (the input's).
    pub meta: Meta,
}

/// Join flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JoinKind {
    /// Rows with a match on both sides.
    Inner,
    /// Every left row; right columns NULL without a match.
    Left,
    /// Rows from either side; the missing side NULL.
    Outer,
}

impl fmt::Display for JoinKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JoinKind::Inner => "INNER",
            JoinKind::Left => "LEFT",
            JoinKind::Outer => "OUTER",
        })
    }
}

/// The time bounds of a stream-stream join: a right row joins a left row
/// when `left.ts - before <= right.ts <= left.ts + after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JoinWindow {
    /// How far the right row may precede the left, ms.
    pub before_ms: i64,
    /// How far the right row may follow the left, ms.
    pub after_ms: i64,
    /// How long after the window a late row is still joined, ms.
    pub grace_ms: i64,
    /// Emit a left/outer row without a match at once (and the joined row
    /// later, if a match arrives) instead of when its window closes:
    /// ksqlDB's behaviour for `WITHIN` without `GRACE PERIOD`.
    pub eager: bool,
}

/// Joins two inputs on their keys (both must be keyed by the join key and
/// co-partitioned). The flavour follows the inputs' kinds:
/// stream-stream needs a [`JoinWindow`]; stream-table looks the stream row
/// up in the table (table updates emit nothing); table-table emits on
/// updates from either side.
///
/// Output schema: the key columns, the left value columns, the right value
/// columns (renamed by the builder when they clash).
#[derive(Debug, Clone)]
pub struct Join {
    /// Left input.
    pub left: Arc<LogicalPlan>,
    /// Right input.
    pub right: Arc<LogicalPlan>,
    /// Flavour.
    pub kind: JoinKind,
    /// Time bounds (stream-stream only).
    pub window: Option<JoinWindow>,
    /// Output.
    pub meta: Meta,
}

/// Table-table join where the left row names the right row's key through
/// `foreign_key` (Kafka Streams' KIP-213). Output is keyed like the left.
#[derive(Debug, Clone)]
pub struct ForeignKeyJoin {
    /// Left table.
    pub left: Arc<LogicalPlan>,
    /// Right table.
    pub right: Arc<LogicalPlan>,
    /// Expression over the left row giving the right key.
    pub foreign_key: Expr,
    /// Inner or left.
    pub kind: JoinKind,
    /// Output.
    pub meta: Meta,
}

/// Interleaves streams of the same schema.
#[derive(Debug, Clone)]
pub struct Merge {
    /// Inputs.
    pub inputs: Vec<Arc<LogicalPlan>>,
    /// Output.
    pub meta: Meta,
}

/// Reinterprets a stream as a table (each record upserts its key; a row
/// whose value columns are all NULL deletes it), materialized in a store.
#[derive(Debug, Clone)]
pub struct ToTable {
    /// Input stream.
    pub input: Arc<LogicalPlan>,
    /// Output.
    pub meta: Meta,
}

/// A table's changelog as a stream of its updates (tombstones dropped).
#[derive(Debug, Clone)]
pub struct ToStream {
    /// Input table.
    pub input: Arc<LogicalPlan>,
    /// Output.
    pub meta: Meta,
}

/// Writes rows to a topic: the key columns (plus window) through the key
/// format, value columns through the value format, with the row's event time
/// as the record timestamp. Table tombstones become null values.
#[derive(Debug, Clone)]
pub struct Sink {
    /// Input.
    pub input: Arc<LogicalPlan>,
    /// Topic.
    pub topic: String,
    /// Key format.
    pub key_format: FormatRef,
    /// Value format.
    pub value_format: FormatRef,
    /// Partitions to create the topic with (default: the input's).
    pub partitions: Option<i32>,
    /// Where each record's timestamp comes from (ksqlDB's `TIMESTAMP`
    /// property on a sink): the row's event time ([`TimestampSpec::Record`]);
    /// a BIGINT or TIMESTAMP column, falling back to the event time when it
    /// is NULL; or an expression, such as a string column parsed with a
    /// pattern, whose NULL result (an unparsable value) drops the row.
    pub timestamp: TimestampSpec,
    /// Output (the input's).
    pub meta: Meta,
}

/// A user-defined operator (the processor API) with its own stores.
#[derive(Debug, Clone)]
pub struct Process {
    /// Input.
    pub input: Arc<LogicalPlan>,
    /// Display name.
    pub name: String,
    /// Makes one operator per task.
    pub supplier: Arc<dyn ProcessorSupplier>,
    /// Output.
    pub meta: Meta,
}

/// One node of the logical plan. See the module docs.
#[derive(Debug, Clone)]
pub enum LogicalPlan {
    /// Read a topic.
    Source(Source),
    /// Keep matching rows.
    Filter(Filter),
    /// Compute value columns.
    Project(Project),
    /// One row to many.
    FlatMap(FlatMap),
    /// New key.
    SelectKey(SelectKey),
    /// Cut + redistribute by key.
    Repartition(Repartition),
    /// Grouped (windowed) aggregation.
    Aggregate(Aggregate),
    /// Emit final.
    Suppress(Suppress),
    /// Key join.
    Join(Join),
    /// Foreign-key table join.
    ForeignKeyJoin(ForeignKeyJoin),
    /// Union of streams.
    Merge(Merge),
    /// Stream → table.
    ToTable(ToTable),
    /// Table → stream.
    ToStream(ToStream),
    /// Write a topic.
    Sink(Sink),
    /// User operator.
    Process(Process),
}

impl LogicalPlan {
    /// The node's output description.
    pub fn meta(&self) -> &Meta {
        match self {
            LogicalPlan::Source(n) => &n.meta,
            LogicalPlan::Filter(n) => &n.meta,
            LogicalPlan::Project(n) => &n.meta,
            LogicalPlan::FlatMap(n) => &n.meta,
            LogicalPlan::SelectKey(n) => &n.meta,
            LogicalPlan::Repartition(n) => &n.meta,
            LogicalPlan::Aggregate(n) => &n.meta,
            LogicalPlan::Suppress(n) => &n.meta,
            LogicalPlan::Join(n) => &n.meta,
            LogicalPlan::ForeignKeyJoin(n) => &n.meta,
            LogicalPlan::Merge(n) => &n.meta,
            LogicalPlan::ToTable(n) => &n.meta,
            LogicalPlan::ToStream(n) => &n.meta,
            LogicalPlan::Sink(n) => &n.meta,
            LogicalPlan::Process(n) => &n.meta,
        }
    }

    /// The node's inputs.
    pub fn inputs(&self) -> Vec<&Arc<LogicalPlan>> {
        match self {
            LogicalPlan::Source(_) => vec![],
            LogicalPlan::Filter(n) => vec![&n.input],
            LogicalPlan::Project(n) => vec![&n.input],
            LogicalPlan::FlatMap(n) => vec![&n.input],
            LogicalPlan::SelectKey(n) => vec![&n.input],
            LogicalPlan::Repartition(n) => vec![&n.input],
            LogicalPlan::Aggregate(n) => vec![&n.input],
            LogicalPlan::Suppress(n) => vec![&n.input],
            LogicalPlan::Join(n) => vec![&n.left, &n.right],
            LogicalPlan::ForeignKeyJoin(n) => vec![&n.left, &n.right],
            LogicalPlan::Merge(n) => n.inputs.iter().collect(),
            LogicalPlan::ToTable(n) => vec![&n.input],
            LogicalPlan::ToStream(n) => vec![&n.input],
            LogicalPlan::Sink(n) => vec![&n.input],
            LogicalPlan::Process(n) => vec![&n.input],
        }
    }

    /// Short name of the node kind (`Filter`, `Aggregate`, …).
    pub fn name(&self) -> &'static str {
        match self {
            LogicalPlan::Source(_) => "Source",
            LogicalPlan::Filter(_) => "Filter",
            LogicalPlan::Project(_) => "Project",
            LogicalPlan::FlatMap(_) => "FlatMap",
            LogicalPlan::SelectKey(_) => "SelectKey",
            LogicalPlan::Repartition(_) => "Repartition",
            LogicalPlan::Aggregate(_) => "Aggregate",
            LogicalPlan::Suppress(_) => "Suppress",
            LogicalPlan::Join(_) => "Join",
            LogicalPlan::ForeignKeyJoin(_) => "ForeignKeyJoin",
            LogicalPlan::Merge(_) => "Merge",
            LogicalPlan::ToTable(_) => "ToTable",
            LogicalPlan::ToStream(_) => "ToStream",
            LogicalPlan::Sink(_) => "Sink",
            LogicalPlan::Process(_) => "Process",
        }
    }
}
