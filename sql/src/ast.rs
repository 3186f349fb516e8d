//! The syntax tree of ksqlDB statements, as the parser produces it: names
//! are already case-folded (unquoted identifiers upper case), nothing is
//! resolved yet.

use crate::catalog::SourceKind;
use crate::types::SqlType;

/// A literal value as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `NULL`
    Null,
    /// `TRUE` / `FALSE`
    Boolean(bool),
    /// An integer literal (INT when it fits, else BIGINT).
    Integer(i64),
    /// A literal with a decimal point: DECIMAL, digits as written.
    Decimal(String),
    /// A literal with an exponent: DOUBLE.
    Double(f64),
    /// `'text'`
    String(String),
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `=`
    Eq,
    /// `<>` / `!=`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `AND`
    And,
    /// `OR`
    Or,
    /// `||`
    Concat,
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A column, optionally qualified by a source name or alias.
    Column {
        /// `S` in `S.COL`.
        qualifier: Option<String>,
        /// Column name.
        name: String,
    },
    /// A literal.
    Literal(Literal),
    /// `left op right`
    Binary {
        /// Operator.
        op: BinOp,
        /// Left side.
        left: Box<Expr>,
        /// Right side.
        right: Box<Expr>,
    },
    /// `NOT e`
    Not(Box<Expr>),
    /// `-e`
    Negate(Box<Expr>),
    /// `e IS [NOT] NULL`
    IsNull {
        /// Operand.
        expr: Box<Expr>,
        /// `IS NOT NULL`.
        negated: bool,
    },
    /// `e [NOT] BETWEEN low AND high`
    Between {
        /// Operand.
        expr: Box<Expr>,
        /// Lower bound.
        low: Box<Expr>,
        /// Upper bound.
        high: Box<Expr>,
        /// `NOT BETWEEN`.
        negated: bool,
    },
    /// `e [NOT] IN (list)`
    InList {
        /// Operand.
        expr: Box<Expr>,
        /// Values.
        list: Vec<Expr>,
        /// `NOT IN`.
        negated: bool,
    },
    /// `e [NOT] LIKE pattern [ESCAPE c]`
    Like {
        /// Operand.
        expr: Box<Expr>,
        /// Pattern.
        pattern: Box<Expr>,
        /// Escape character.
        escape: Option<char>,
        /// `NOT LIKE`.
        negated: bool,
    },
    /// `CASE [operand] WHEN … THEN … [ELSE …] END`
    Case {
        /// Simple-form operand.
        operand: Option<Box<Expr>>,
        /// `(when, then)` pairs.
        whens: Vec<(Expr, Expr)>,
        /// `ELSE`.
        else_expr: Option<Box<Expr>>,
    },
    /// `CAST(e AS type)`
    Cast {
        /// Operand.
        expr: Box<Expr>,
        /// Target type.
        ty: SqlType,
    },
    /// `name(args)`; `COUNT(*)` has the single argument [`Expr::Star`].
    Function {
        /// Function name, upper case.
        name: String,
        /// Arguments.
        args: Vec<Expr>,
    },
    /// `*` as a function argument.
    Star,
    /// `e[index]`: array element (1-based, negative from the end) or map
    /// value.
    Subscript {
        /// The array or map.
        expr: Box<Expr>,
        /// Index or key.
        index: Box<Expr>,
    },
    /// `e->field`
    Field {
        /// The struct.
        expr: Box<Expr>,
        /// Field name.
        field: String,
    },
    /// `(x, y) => body`
    Lambda {
        /// Parameter names.
        params: Vec<String>,
        /// Body.
        body: Box<Expr>,
    },
    /// `ARRAY[a, b]`
    Array(Vec<Expr>),
    /// `MAP(k := v, …)`
    Map(Vec<(Expr, Expr)>),
    /// `STRUCT(name := v, …)`
    Struct(Vec<(String, Expr)>),
    /// A time unit keyword argument (`DAYS` in `DATEADD(DAYS, 1, d)`); also
    /// an interval `1 DAY` written as `(amount, unit)`.
    Interval {
        /// Amount.
        amount: Box<Expr>,
        /// Unit, upper case.
        unit: String,
    },
}

/// A column definition in `CREATE STREAM|TABLE (…)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    /// Name.
    pub name: String,
    /// Type.
    pub ty: SqlType,
    /// `KEY` (streams) or `PRIMARY KEY` (tables).
    pub key: bool,
    /// Whether it said `PRIMARY KEY`.
    pub primary: bool,
    /// `HEADERS` (all headers) or `HEADER('k')`.
    pub header: Option<Option<String>>,
}

/// `WITH (…)` properties: upper-case name → literal.
pub type Props = Vec<(String, Literal)>;

/// A window clause.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowClause {
    /// Window kind and sizes.
    pub kind: WindowKind,
    /// `RETENTION`.
    pub retention_ms: Option<i64>,
    /// `GRACE PERIOD`.
    pub grace_ms: Option<i64>,
}

/// Window kind and sizes, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// `TUMBLING (SIZE …)`
    Tumbling {
        /// Size.
        size_ms: i64,
    },
    /// `HOPPING (SIZE …, ADVANCE BY …)`
    Hopping {
        /// Size.
        size_ms: i64,
        /// Advance.
        advance_ms: i64,
    },
    /// `SESSION (gap)`
    Session {
        /// Inactivity gap.
        gap_ms: i64,
    },
}

/// Join types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinType {
    /// `[INNER] JOIN`
    Inner,
    /// `LEFT [OUTER] JOIN`
    Left,
    /// `RIGHT [OUTER] JOIN`
    Right,
    /// `FULL [OUTER] JOIN`
    Full,
}

/// `FROM` items.
#[derive(Debug, Clone, PartialEq)]
pub enum Relation {
    /// A named source with an optional alias.
    Source {
        /// Source name.
        name: String,
        /// Alias.
        alias: Option<String>,
    },
    /// `left JOIN right [WITHIN …] ON cond`
    Join {
        /// Left input.
        left: Box<Relation>,
        /// Right input.
        right: Box<Relation>,
        /// Join type.
        kind: JoinType,
        /// `ON` condition.
        on: Expr,
        /// `WITHIN` (before, after, grace) in ms.
        within: Option<(i64, i64, Option<i64>)>,
    },
}

/// A select-list item.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// `*`
    Star,
    /// `S.*`
    QualifiedStar(String),
    /// `expr [AS alias]`
    Expr {
        /// Expression.
        expr: Expr,
        /// Alias.
        alias: Option<String>,
    },
}

/// `EMIT CHANGES` / `EMIT FINAL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emit {
    /// Every change.
    Changes,
    /// One final result per window.
    Final,
}

/// A `SELECT`.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// Select list.
    pub select: Vec<SelectItem>,
    /// `FROM`.
    pub from: Relation,
    /// `WINDOW`.
    pub window: Option<WindowClause>,
    /// `WHERE`.
    pub where_clause: Option<Expr>,
    /// `GROUP BY`.
    pub group_by: Vec<Expr>,
    /// `PARTITION BY`.
    pub partition_by: Vec<Expr>,
    /// `HAVING`.
    pub having: Option<Expr>,
    /// `EMIT`.
    pub emit: Option<Emit>,
    /// `LIMIT`.
    pub limit: Option<i64>,
}

/// `SHOW …` targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShowWhat {
    /// `SHOW STREAMS`
    Streams,
    /// `SHOW TABLES`
    Tables,
    /// `SHOW TOPICS`
    Topics,
    /// `SHOW QUERIES`
    Queries,
    /// `SHOW FUNCTIONS`
    Functions,
    /// `SHOW PROPERTIES`
    Properties,
    /// `SHOW TYPES`
    Types,
    /// `SHOW VARIABLES`
    Variables,
}

/// A statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `CREATE [OR REPLACE] [SOURCE] STREAM|TABLE [IF NOT EXISTS] name (cols) WITH (…)`
    CreateSource {
        /// Stream or table.
        kind: SourceKind,
        /// `OR REPLACE`.
        or_replace: bool,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
        /// `CREATE SOURCE …` (read-only).
        read_only: bool,
        /// Name.
        name: String,
        /// Columns (may be empty when a schema registry would supply them).
        columns: Vec<ColumnDef>,
        /// `WITH` properties.
        props: Props,
    },
    /// `CREATE [OR REPLACE] STREAM|TABLE name [WITH (…)] AS SELECT …`
    CreateAsSelect {
        /// Stream or table.
        kind: SourceKind,
        /// `OR REPLACE`.
        or_replace: bool,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
        /// Name.
        name: String,
        /// `WITH` properties.
        props: Props,
        /// The query.
        query: Query,
    },
    /// `INSERT INTO target [WITH (…)] SELECT …`
    InsertInto {
        /// Target source.
        target: String,
        /// The query.
        query: Query,
    },
    /// `INSERT INTO target [(cols)] VALUES (…)`
    InsertValues {
        /// Target source.
        target: String,
        /// Column names, if listed.
        columns: Option<Vec<String>>,
        /// Values.
        values: Vec<Expr>,
    },
    /// `DROP STREAM|TABLE [IF EXISTS] name [DELETE TOPIC]`
    Drop {
        /// Stream or table.
        kind: SourceKind,
        /// `IF EXISTS`.
        if_exists: bool,
        /// Name.
        name: String,
        /// `DELETE TOPIC`.
        delete_topic: bool,
    },
    /// `SHOW …` / `LIST …`
    Show(ShowWhat),
    /// `DESCRIBE [EXTENDED] name` / `DESCRIBE STREAMS|TABLES`.
    Describe {
        /// Source name.
        name: String,
        /// `EXTENDED`.
        extended: bool,
    },
    /// `DESCRIBE FUNCTION name`
    DescribeFunction(String),
    /// `EXPLAIN statement` or `EXPLAIN query_id`.
    Explain(Box<ExplainTarget>),
    /// `TERMINATE id` / `TERMINATE ALL` (None).
    Terminate(Option<String>),
    /// `SET 'k'='v'`
    Set(String, String),
    /// `UNSET 'k'`
    Unset(String),
    /// `PRINT topic [FROM BEGINNING] [LIMIT n]`
    Print {
        /// Topic.
        topic: String,
        /// `FROM BEGINNING`.
        from_beginning: bool,
        /// `LIMIT`.
        limit: Option<i64>,
    },
    /// `CREATE TYPE name AS type`
    CreateType {
        /// Name.
        name: String,
        /// Type.
        ty: SqlType,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
    },
    /// `DROP TYPE [IF EXISTS] name`
    DropType {
        /// Name.
        name: String,
        /// `IF EXISTS`.
        if_exists: bool,
    },
    /// `DEFINE name = 'value'`
    Define(String, String),
    /// `UNDEFINE name`
    Undefine(String),
    /// A bare `SELECT` (push or pull query).
    Select(Query),
    /// `ASSERT …` statements (accepted, checked loosely).
    Assert(String),
}

/// What `EXPLAIN` explains.
#[derive(Debug, Clone, PartialEq)]
pub enum ExplainTarget {
    /// A statement.
    Statement(Statement),
    /// A running query by id.
    QueryId(String),
}
