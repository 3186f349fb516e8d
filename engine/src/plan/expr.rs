//! Scalar expressions of the plan: what filters, projections, keys and
//! aggregate arguments compute. Evaluation is vectorized over Arrow arrays
//! in [`crate::physical::expr`].

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::DataType;

/// A constant value.
#[derive(Debug, Clone, PartialEq)]
pub enum ScalarValue {
    /// SQL NULL of a type.
    Null(DataType),
    /// BOOLEAN.
    Boolean(bool),
    /// INT (32-bit).
    Int32(i32),
    /// BIGINT (64-bit).
    Int64(i64),
    /// DOUBLE.
    Float64(f64),
    /// STRING.
    Utf8(String),
    /// BYTES.
    Binary(Vec<u8>),
    /// TIMESTAMP, milliseconds since the epoch (UTC).
    TimestampMs(i64),
    /// Any other value (decimal, date, list, map, struct, …) as a one-element
    /// Arrow array of its type.
    Array(arrow::array::ArrayRef),
}

impl ScalarValue {
    /// The Arrow type of this value.
    pub fn data_type(&self) -> DataType {
        match self {
            ScalarValue::Null(t) => t.clone(),
            ScalarValue::Boolean(_) => DataType::Boolean,
            ScalarValue::Int32(_) => DataType::Int32,
            ScalarValue::Int64(_) => DataType::Int64,
            ScalarValue::Float64(_) => DataType::Float64,
            ScalarValue::Utf8(_) => DataType::Utf8,
            ScalarValue::Binary(_) => DataType::Binary,
            ScalarValue::TimestampMs(_) => {
                DataType::Timestamp(arrow::datatypes::TimeUnit::Millisecond, None)
            }
            ScalarValue::Array(a) => a.data_type().clone(),
        }
    }

    /// Whether this is NULL.
    pub fn is_null(&self) -> bool {
        match self {
            ScalarValue::Null(_) => true,
            ScalarValue::Array(a) => a.is_empty() || a.is_null(0),
            _ => false,
        }
    }
}

impl fmt::Display for ScalarValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScalarValue::Null(_) => write!(f, "NULL"),
            ScalarValue::Boolean(b) => write!(f, "{}", if *b { "true" } else { "false" }),
            ScalarValue::Int32(v) => write!(f, "{v}"),
            ScalarValue::Int64(v) => write!(f, "{v}"),
            ScalarValue::Float64(v) => write!(f, "{v:?}"),
            ScalarValue::Utf8(s) => write!(f, "'{}'", s.replace('\'', "''")),
            ScalarValue::Binary(b) => write!(f, "X'{}'", b.iter().map(|x| format!("{x:02X}")).collect::<String>()),
            ScalarValue::TimestampMs(v) => write!(f, "TIMESTAMP({v})"),
            ScalarValue::Array(a) => match arrow::util::display::ArrayFormatter::try_new(a.as_ref(), &Default::default()) {
                Ok(fmt) if !a.is_empty() => write!(f, "{}", fmt.value(0)),
                _ => write!(f, "<{}>", a.data_type()),
            },
        }
    }
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Multiply,
    /// `/`
    Divide,
    /// `%`
    Modulo,
    /// `=`
    Eq,
    /// `<>`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `AND` (three-valued)
    And,
    /// `OR` (three-valued)
    Or,
    /// `||` string concatenation
    Concat,
}

impl BinaryOp {
    /// Whether the result is BOOLEAN from a comparison.
    pub fn is_comparison(self) -> bool {
        matches!(self, BinaryOp::Eq | BinaryOp::NotEq | BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq)
    }

    /// Whether this is `+ - * / %`.
    pub fn is_arithmetic(self) -> bool {
        matches!(self, BinaryOp::Plus | BinaryOp::Minus | BinaryOp::Multiply | BinaryOp::Divide | BinaryOp::Modulo)
    }
}

impl fmt::Display for BinaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BinaryOp::Plus => "+",
            BinaryOp::Minus => "-",
            BinaryOp::Multiply => "*",
            BinaryOp::Divide => "/",
            BinaryOp::Modulo => "%",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
            BinaryOp::Concat => "||",
        })
    }
}

/// A scalar expression over the columns of one row.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A column of the input, by name.
    Column(String),
    /// A constant.
    Literal(ScalarValue),
    /// `left op right`.
    Binary {
        /// Left operand.
        left: Box<Expr>,
        /// Operator.
        op: BinaryOp,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `NOT expr`.
    Not(Box<Expr>),
    /// `-expr`.
    Negative(Box<Expr>),
    /// `expr IS TRUE`: true when the BOOLEAN operand is true, false when it
    /// is false or NULL (never NULL). ksqlDB's comparisons are this over
    /// SQL's (a comparison with a NULL operand is false).
    IsTrue(Box<Expr>),
    /// `expr IS NULL` (or `IS NOT NULL` when `negated`).
    IsNull {
        /// Operand.
        expr: Box<Expr>,
        /// `IS NOT NULL`.
        negated: bool,
    },
    /// `CASE WHEN c THEN v … ELSE e END` (searched form; the simple form is
    /// rewritten into it by the SQL planner).
    Case {
        /// `(condition, value)` pairs, tried in order.
        when_then: Vec<(Expr, Expr)>,
        /// `ELSE` value; NULL when absent.
        else_expr: Option<Box<Expr>>,
    },
    /// `CAST(expr AS type)`.
    Cast {
        /// Operand.
        expr: Box<Expr>,
        /// Target type.
        to: DataType,
    },
    /// `expr [NOT] LIKE pattern` with `%` and `_`.
    Like {
        /// Operand.
        expr: Box<Expr>,
        /// Pattern.
        pattern: Box<Expr>,
        /// `NOT LIKE`.
        negated: bool,
    },
    /// `expr [NOT] IN (list)`.
    InList {
        /// Operand.
        expr: Box<Expr>,
        /// Values.
        list: Vec<Expr>,
        /// `NOT IN`.
        negated: bool,
    },
    /// `expr [NOT] BETWEEN low AND high` (inclusive).
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
    /// A registered scalar function (see [`crate::functions`]).
    Function {
        /// The function.
        func: Arc<dyn crate::functions::ScalarFunction>,
        /// Arguments.
        args: Vec<Expr>,
    },
}

impl PartialEq for dyn crate::functions::ScalarFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Expr {
    /// A column reference.
    pub fn col(name: impl Into<String>) -> Expr {
        Expr::Column(name.into())
    }

    /// A literal.
    pub fn lit(value: impl Into<ScalarValue>) -> Expr {
        Expr::Literal(value.into())
    }

    fn binary(self, op: BinaryOp, right: Expr) -> Expr {
        Expr::Binary { left: Box::new(self), op, right: Box::new(right) }
    }

    /// `self = right`
    pub fn eq(self, right: Expr) -> Expr {
        self.binary(BinaryOp::Eq, right)
    }
    /// `self <> right`
    pub fn not_eq(self, right: Expr) -> Expr {
        self.binary(BinaryOp::NotEq, right)
    }
    /// `self < right`
    pub fn lt(self, right: Expr) -> Expr {
        self.binary(BinaryOp::Lt, right)
    }
    /// `self <= right`
    pub fn lt_eq(self, right: Expr) -> Expr {
        self.binary(BinaryOp::LtEq, right)
    }
    /// `self > right`
    pub fn gt(self, right: Expr) -> Expr {
        self.binary(BinaryOp::Gt, right)
    }
    /// `self >= right`
    pub fn gt_eq(self, right: Expr) -> Expr {
        self.binary(BinaryOp::GtEq, right)
    }
    /// `self AND right`
    pub fn and(self, right: Expr) -> Expr {
        self.binary(BinaryOp::And, right)
    }
    /// `self OR right`
    pub fn or(self, right: Expr) -> Expr {
        self.binary(BinaryOp::Or, right)
    }
    /// `self + right`
    #[allow(clippy::should_implement_trait)]
    pub fn add(self, right: Expr) -> Expr {
        self.binary(BinaryOp::Plus, right)
    }
    /// `self - right`
    #[allow(clippy::should_implement_trait)]
    pub fn sub(self, right: Expr) -> Expr {
        self.binary(BinaryOp::Minus, right)
    }
    /// `self * right`
    #[allow(clippy::should_implement_trait)]
    pub fn mul(self, right: Expr) -> Expr {
        self.binary(BinaryOp::Multiply, right)
    }
    /// `self / right`
    #[allow(clippy::should_implement_trait)]
    pub fn div(self, right: Expr) -> Expr {
        self.binary(BinaryOp::Divide, right)
    }
    /// `self || right`
    pub fn concat(self, right: Expr) -> Expr {
        self.binary(BinaryOp::Concat, right)
    }
    /// `self IS NULL`
    pub fn is_null(self) -> Expr {
        Expr::IsNull { expr: Box::new(self), negated: false }
    }
    /// `self IS NOT NULL`
    pub fn is_not_null(self) -> Expr {
        Expr::IsNull { expr: Box::new(self), negated: true }
    }
    /// `CAST(self AS to)`
    pub fn cast(self, to: DataType) -> Expr {
        Expr::Cast { expr: Box::new(self), to }
    }
    /// `self LIKE pattern`
    pub fn like(self, pattern: Expr) -> Expr {
        Expr::Like { expr: Box::new(self), pattern: Box::new(pattern), negated: false }
    }
    /// `self IN (list)`
    pub fn in_list(self, list: Vec<Expr>) -> Expr {
        Expr::InList { expr: Box::new(self), list, negated: false }
    }
    /// `self BETWEEN low AND high`
    pub fn between(self, low: Expr, high: Expr) -> Expr {
        Expr::Between { expr: Box::new(self), low: Box::new(low), high: Box::new(high), negated: false }
    }

    /// The columns this expression reads, in first-use order.
    pub fn columns(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.visit(&mut |e| {
            if let Expr::Column(c) = e {
                if !out.contains(c) {
                    out.push(c.clone());
                }
            }
        });
        out
    }

    /// Calls `f` on this expression and every sub-expression, pre-order.
    pub fn visit(&self, f: &mut dyn FnMut(&Expr)) {
        f(self);
        match self {
            Expr::Column(_) | Expr::Literal(_) => {}
            Expr::Binary { left, right, .. } => {
                left.visit(f);
                right.visit(f);
            }
            Expr::Not(e) | Expr::Negative(e) | Expr::IsTrue(e) => e.visit(f),
            Expr::IsNull { expr, .. } | Expr::Cast { expr, .. } => expr.visit(f),
            Expr::Case { when_then, else_expr } => {
                for (w, t) in when_then {
                    w.visit(f);
                    t.visit(f);
                }
                if let Some(e) = else_expr {
                    e.visit(f);
                }
            }
            Expr::Like { expr, pattern, .. } => {
                expr.visit(f);
                pattern.visit(f);
            }
            Expr::InList { expr, list, .. } => {
                expr.visit(f);
                for e in list {
                    e.visit(f);
                }
            }
            Expr::Between { expr, low, high, .. } => {
                expr.visit(f);
                low.visit(f);
                high.visit(f);
            }
            Expr::Function { args, .. } => {
                for a in args {
                    a.visit(f);
                }
            }
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Column(c) => write!(f, "{c}"),
            Expr::Literal(v) => write!(f, "{v}"),
            Expr::Binary { left, op, right } => write!(f, "({left} {op} {right})"),
            Expr::Not(e) => write!(f, "(NOT {e})"),
            Expr::IsTrue(e) => write!(f, "({e} IS TRUE)"),
            Expr::Negative(e) => write!(f, "(-{e})"),
            Expr::IsNull { expr, negated } => {
                write!(f, "({expr} IS {}NULL)", if *negated { "NOT " } else { "" })
            }
            Expr::Case { when_then, else_expr } => {
                write!(f, "CASE")?;
                for (w, t) in when_then {
                    write!(f, " WHEN {w} THEN {t}")?;
                }
                if let Some(e) = else_expr {
                    write!(f, " ELSE {e}")?;
                }
                write!(f, " END")
            }
            Expr::Cast { expr, to } => write!(f, "CAST({expr} AS {to})"),
            Expr::Like { expr, pattern, negated } => {
                write!(f, "({expr} {}LIKE {pattern})", if *negated { "NOT " } else { "" })
            }
            Expr::InList { expr, list, negated } => {
                write!(f, "({expr} {}IN (", if *negated { "NOT " } else { "" })?;
                for (i, e) in list.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{e}")?;
                }
                write!(f, "))")
            }
            Expr::Between { expr, low, high, negated } => {
                write!(f, "({expr} {}BETWEEN {low} AND {high})", if *negated { "NOT " } else { "" })
            }
            Expr::Function { func, args } => {
                write!(f, "{}(", func.name())?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{a}")?;
                }
                write!(f, ")")
            }
        }
    }
}

macro_rules! scalar_from {
    ($t:ty, $v:ident) => {
        impl From<$t> for ScalarValue {
            fn from(v: $t) -> Self {
                ScalarValue::$v(v.into())
            }
        }
    };
}
scalar_from!(bool, Boolean);
scalar_from!(i32, Int32);
scalar_from!(i64, Int64);
scalar_from!(f64, Float64);
scalar_from!(String, Utf8);
scalar_from!(&str, Utf8);
