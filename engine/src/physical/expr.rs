//! Vectorized evaluation of [`Expr`]: every expression is computed over a
//! whole [`Batch`] at once with Arrow kernels.
//!
//! Semantics follow SQL (and ksqlDB where SQL leaves room):
//!
//! - Columns are found by exact name, then case-insensitively. `ROWTIME`
//!   reads the batch's event times when the schema has no column of that name.
//! - Numbers widen `INT < BIGINT < DOUBLE` before arithmetic and comparison.
//!   Integer `/` truncates; integer `/` or `%` by zero gives NULL for that
//!   row; overflow is an error.
//! - `AND`, `OR` and `NOT` are three-valued; `IN` with a NULL in the list is
//!   NULL when nothing matches; `BETWEEN` is inclusive.
//! - `CAST` gives NULL for values that do not convert.
//! - `CASE` evaluates every branch over the whole batch and then picks per
//!   row, so an error in a branch (overflow) fails the batch even for rows
//!   that branch does not take; division by zero is NULL and so is harmless.
//!
//! Literals stay single values while they can (Arrow "scalars"), so
//! `price > 10` compares a column with one value instead of a column of
//! copies; they are broadcast only where a kernel needs equal lengths.
//!
//! [`expr_type`] and the evaluator share the type rules, so an expression
//! that type-checks against a schema evaluates over batches of that schema.

use std::sync::Arc;

use arrow::array::{
    new_null_array, Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Datum, Float64Array, Int32Array, Int64Array, MapArray,
    StringArray, TimestampMillisecondArray, UInt32Array,
};
use arrow::compute::kernels::boolean::{and_kleene, is_not_null, is_null, not, or_kleene};
use arrow::compute::kernels::cast::{can_cast_types, cast_with_options, CastOptions};
use arrow::compute::kernels::comparison::{like, nlike};
use arrow::compute::kernels::concat_elements::concat_elements_utf8;
use arrow::compute::kernels::{cmp, nullif::nullif, numeric, take::take, zip::zip};
use arrow::datatypes::{DataType, Schema, TimeUnit};
use arrow::error::ArrowError;

use crate::batch::Batch;
use crate::error::{EngineError, Result};
use crate::plan::{BinaryOp, Expr, ScalarValue, ROWTIME};

/// Result type of `expr` over `schema`. The pseudo-column `ROWTIME` (Int64) is
/// readable when the schema has no column of that name.
///
/// # Errors
/// [`EngineError::Expr`] for an unknown or ambiguous column, operands of the
/// wrong type (the message names both types), a cast Arrow cannot do, or a
/// function that rejects its argument types.
pub fn expr_type(expr: &Expr, schema: &Schema) -> Result<DataType> {
    let err = |reason: String| EngineError::expr(expr, reason);
    match expr {
        Expr::Column(name) => match resolve(schema, name).map_err(err)? {
            Resolved::Field(i) => Ok(schema.field(i).data_type().clone()),
            Resolved::Rowtime => Ok(DataType::Int64),
        },
        Expr::Literal(v) => Ok(v.data_type()),
        Expr::Binary { left, op, right } => {
            binary_type(*op, &expr_type(left, schema)?, &expr_type(right, schema)?).map_err(err)
        }
        Expr::Not(e) => {
            boolean_operand("NOT", &expr_type(e, schema)?).map_err(err)?;
            Ok(DataType::Boolean)
        }
        Expr::IsTrue(e) => {
            boolean_operand("IS TRUE", &expr_type(e, schema)?).map_err(err)?;
            Ok(DataType::Boolean)
        }
        Expr::Negative(e) => negative_type(&expr_type(e, schema)?).map_err(err),
        Expr::IsNull { expr: e, .. } => {
            expr_type(e, schema)?;
            Ok(DataType::Boolean)
        }
        Expr::Case { when_then, else_expr } => {
            let mut types = Vec::with_capacity(when_then.len() + 1);
            for (when, then) in when_then {
                boolean_operand("WHEN", &expr_type(when, schema)?).map_err(err)?;
                types.push(expr_type(then, schema)?);
            }
            if let Some(e) = else_expr {
                types.push(expr_type(e, schema)?);
            }
            case_type(&types).map_err(err)
        }
        Expr::Cast { expr: e, to } => {
            cast_check(&expr_type(e, schema)?, to).map_err(err)?;
            Ok(to.clone())
        }
        Expr::Like { expr: e, pattern, .. } => {
            like_check(&expr_type(e, schema)?, &expr_type(pattern, schema)?).map_err(err)?;
            Ok(DataType::Boolean)
        }
        Expr::InList { expr: e, list, .. } => {
            let t = expr_type(e, schema)?;
            for item in list {
                comparison_type(&t, &expr_type(item, schema)?).map_err(err)?;
            }
            Ok(DataType::Boolean)
        }
        Expr::Between { expr: e, low, high, .. } => {
            let t = expr_type(e, schema)?;
            comparison_type(&t, &expr_type(low, schema)?).map_err(err)?;
            comparison_type(&t, &expr_type(high, schema)?).map_err(err)?;
            Ok(DataType::Boolean)
        }
        Expr::Function { func, args } => {
            let types = args.iter().map(|a| expr_type(a, schema)).collect::<Result<Vec<_>>>()?;
            func.return_type(&types)
        }
    }
}

/// Evaluates `expr` over every row of `batch` (`ROWTIME` reads
/// `batch.timestamps`). Returns an array of `batch.len()` rows.
///
/// # Errors
/// The type errors of [`expr_type`], arithmetic overflow, and failures of
/// scalar functions.
pub fn evaluate(expr: &Expr, batch: &Batch) -> Result<ArrayRef> {
    let value = eval(expr, batch)?;
    value.into_array(batch.len()).map_err(|e| arrow_err(expr, e))
}

/// Evaluates a BOOLEAN predicate to a mask (NULL → false), for filters.
///
/// # Errors
/// A predicate that is not BOOLEAN, and the errors of [`evaluate`].
pub fn evaluate_predicate(expr: &Expr, batch: &Batch) -> Result<BooleanArray> {
    let value = eval(expr, batch)?;
    let value = match value.data_type() {
        DataType::Boolean => value,
        DataType::Null => return Ok(BooleanArray::from(vec![false; batch.len()])),
        other => {
            return Err(EngineError::expr(
                expr,
                format!("a condition must be BOOLEAN, got {}; compare the value, e.g. `x <> 0`", sql_type(other)),
            ))
        }
    };
    let array = value.into_array(batch.len()).map_err(|e| arrow_err(expr, e))?;
    let mask = as_bool(&array).map_err(|e| arrow_err(expr, e))?;
    Ok(match mask.nulls() {
        None => mask.clone(),
        Some(nulls) => BooleanArray::new(mask.values() & nulls.inner(), None),
    })
}

// ---- values -------------------------------------------------------------------

/// An evaluated expression: a column of the batch's length, or one value that
/// stands for every row.
#[derive(Debug, Clone)]
enum Value {
    /// One entry per row.
    Array(ArrayRef),
    /// Exactly one entry, the same for every row.
    Scalar(ArrayRef),
}

impl Datum for Value {
    fn get(&self) -> (&dyn Array, bool) {
        match self {
            Value::Array(a) => (a.as_ref(), false),
            Value::Scalar(a) => (a.as_ref(), true),
        }
    }
}

impl Value {
    fn array(&self) -> &ArrayRef {
        match self {
            Value::Array(a) | Value::Scalar(a) => a,
        }
    }

    fn data_type(&self) -> &DataType {
        self.array().data_type()
    }

    fn is_scalar(&self) -> bool {
        matches!(self, Value::Scalar(_))
    }

    fn null_scalar(t: &DataType) -> Value {
        Value::Scalar(new_null_array(t, 1))
    }

    /// The value as an array of `len` rows.
    fn into_array(self, len: usize) -> Result<ArrayRef, ArrowError> {
        match self {
            Value::Array(a) => Ok(a),
            Value::Scalar(s) if s.len() == len => Ok(s),
            Value::Scalar(s) if s.logical_null_count() == s.len() => Ok(new_null_array(s.data_type(), len)),
            Value::Scalar(s) => {
                let len = u32::try_from(len)
                    .map_err(|_| ArrowError::InvalidArgumentError(format!("batch of {len} rows is too large")))?;
                let indices = UInt32Array::from(vec![0u32; len as usize]);
                take(s.as_ref(), &indices, None)
            }
        }
    }

    /// Applies a row-wise unary kernel, keeping a scalar a scalar.
    fn map(self, f: impl FnOnce(&dyn Array) -> Result<ArrayRef, ArrowError>) -> Result<Value, ArrowError> {
        Ok(match self {
            Value::Array(a) => Value::Array(f(a.as_ref())?),
            Value::Scalar(s) => Value::Scalar(f(s.as_ref())?),
        })
    }

    /// Casts to `to` (NULL for values that do not convert).
    fn cast(self, to: &DataType) -> Result<Value, ArrowError> {
        if self.data_type() == to {
            return Ok(self);
        }
        let options = CastOptions { safe: true, ..Default::default() };
        self.map(|a| cast_with_options(a, to, &options))
    }
}

/// Applies a kernel that takes [`Datum`]s (scalar or array on either side).
fn datum_op(
    l: &Value,
    r: &Value,
    f: impl FnOnce(&dyn Datum, &dyn Datum) -> Result<ArrayRef, ArrowError>,
) -> Result<Value, ArrowError> {
    let out = f(l, r)?;
    Ok(if l.is_scalar() && r.is_scalar() { Value::Scalar(out) } else { Value::Array(out) })
}

/// Applies a kernel that needs two arrays of equal length, broadcasting a
/// scalar side to `len` rows.
fn array_op(
    l: Value,
    r: Value,
    len: usize,
    f: impl FnOnce(&dyn Array, &dyn Array) -> Result<ArrayRef, ArrowError>,
) -> Result<Value, ArrowError> {
    if l.is_scalar() && r.is_scalar() {
        return Ok(Value::Scalar(f(l.array().as_ref(), r.array().as_ref())?));
    }
    let (l, r) = (l.into_array(len)?, r.into_array(len)?);
    Ok(Value::Array(f(l.as_ref(), r.as_ref())?))
}

fn as_bool(a: &dyn Array) -> Result<&BooleanArray, ArrowError> {
    a.as_boolean_opt()
        .ok_or_else(|| ArrowError::InvalidArgumentError(format!("expected BOOLEAN values, got {}", a.data_type())))
}

fn as_utf8(a: &dyn Array) -> Result<&StringArray, ArrowError> {
    a.as_string_opt::<i32>()
        .ok_or_else(|| ArrowError::InvalidArgumentError(format!("expected STRING values, got {}", a.data_type())))
}

fn scalar_array(v: &ScalarValue) -> ArrayRef {
    match v {
        ScalarValue::Null(t) => new_null_array(t, 1),
        ScalarValue::Boolean(b) => Arc::new(BooleanArray::from(vec![*b])),
        ScalarValue::Int32(x) => Arc::new(Int32Array::from(vec![*x])),
        ScalarValue::Int64(x) => Arc::new(Int64Array::from(vec![*x])),
        ScalarValue::Float64(x) => Arc::new(Float64Array::from(vec![*x])),
        ScalarValue::Utf8(s) => Arc::new(StringArray::from(vec![s.as_str()])),
        ScalarValue::Binary(b) => Arc::new(BinaryArray::from(vec![b.as_slice()])),
        ScalarValue::TimestampMs(x) => Arc::new(TimestampMillisecondArray::from(vec![*x])),
        ScalarValue::Array(a) => a.slice(0, a.len().min(1)),
    }
}

fn arrow_err(expr: &Expr, e: ArrowError) -> EngineError {
    EngineError::arrow(format!("evaluating {expr}"), e)
}

// ---- evaluation ---------------------------------------------------------------

fn eval(expr: &Expr, batch: &Batch) -> Result<Value> {
    let n = batch.len();
    let type_err = |reason: String| EngineError::expr(expr, reason);
    let ae = |e: ArrowError| arrow_err(expr, e);
    match expr {
        Expr::Column(name) => match resolve(batch.rows.schema_ref(), name).map_err(type_err)? {
            Resolved::Field(i) => Ok(Value::Array(batch.rows.column(i).clone())),
            Resolved::Rowtime if batch.timestamps.len() == n => Ok(Value::Array(Arc::new(batch.timestamps.clone()))),
            Resolved::Rowtime => {
                Err(EngineError::Internal(format!("batch has {n} rows but {} timestamps", batch.timestamps.len())))
            }
        },
        Expr::Literal(v) => Ok(Value::Scalar(scalar_array(v))),
        Expr::Binary { left, op, right } => {
            let (l, r) = (eval(left, batch)?, eval(right, batch)?);
            eval_binary(*op, l, r, n).map_err(|e| match e {
                BinaryError::Type(reason) => type_err(reason),
                BinaryError::Arrow(e) => ae(e),
            })
        }
        Expr::IsTrue(e) => {
            let v = eval(e, batch)?;
            boolean_operand("IS TRUE", v.data_type()).map_err(type_err)?;
            v.cast(&DataType::Boolean)
                .and_then(|v| {
                    v.map(|a| {
                        let b = as_bool(a)?;
                        // NULL -> false: the values under the validity mask.
                        let values = match b.nulls() {
                            Some(n) => b.values() & n.inner(),
                            None => b.values().clone(),
                        };
                        Ok(Arc::new(BooleanArray::new(values, None)))
                    })
                })
                .map_err(ae)
        }
        Expr::Not(e) => {
            let v = eval(e, batch)?;
            boolean_operand("NOT", v.data_type()).map_err(type_err)?;
            v.cast(&DataType::Boolean).and_then(|v| v.map(|a| Ok(Arc::new(not(as_bool(a)?)?)))).map_err(ae)
        }
        Expr::Negative(e) => {
            let v = eval(e, batch)?;
            let t = negative_type(v.data_type()).map_err(type_err)?;
            if t == DataType::Null {
                return Ok(v);
            }
            v.map(numeric::neg).map_err(ae)
        }
        Expr::IsNull { expr: e, negated } => {
            let v = eval(e, batch)?;
            let f = if *negated { is_not_null } else { is_null };
            v.map(|a| Ok(Arc::new(f(a)?))).map_err(ae)
        }
        Expr::Case { when_then, else_expr } => eval_case(expr, when_then, else_expr.as_deref(), batch),
        Expr::Cast { expr: e, to } => {
            let v = eval(e, batch)?;
            cast_check(v.data_type(), to).map_err(type_err)?;
            v.cast(to).map_err(ae)
        }
        Expr::Like { expr: e, pattern, negated } => {
            let (v, p) = (eval(e, batch)?, eval(pattern, batch)?);
            like_check(v.data_type(), p.data_type()).map_err(type_err)?;
            if v.data_type() == &DataType::Null || p.data_type() == &DataType::Null {
                return Ok(Value::null_scalar(&DataType::Boolean));
            }
            let (v, p) = (v.cast(&DataType::Utf8).map_err(ae)?, p.cast(&DataType::Utf8).map_err(ae)?);
            let f = if *negated { nlike } else { like };
            datum_op(&v, &p, |a, b| Ok(Arc::new(f(a, b)?))).map_err(ae)
        }
        Expr::InList { expr: e, list, negated } => {
            let v = eval(e, batch)?;
            let mut any: Option<Value> = None;
            for item in list {
                let item = eval(item, batch)?;
                let eq = compare(BinaryOp::Eq, v.clone(), item).map_err(|e| e.into_engine(expr))?;
                any = Some(match any {
                    None => eq,
                    Some(acc) => {
                        array_op(acc, eq, n, |a, b| Ok(Arc::new(or_kleene(as_bool(a)?, as_bool(b)?)?))).map_err(ae)?
                    }
                });
            }
            let any = any.unwrap_or_else(|| Value::Scalar(Arc::new(BooleanArray::from(vec![false]))));
            if *negated {
                any.map(|a| Ok(Arc::new(not(as_bool(a)?)?))).map_err(ae)
            } else {
                Ok(any)
            }
        }
        Expr::Between { expr: e, low, high, negated } => {
            let v = eval(e, batch)?;
            let (low, high) = (eval(low, batch)?, eval(high, batch)?);
            let ge = compare(BinaryOp::GtEq, v.clone(), low).map_err(|e| e.into_engine(expr))?;
            let le = compare(BinaryOp::LtEq, v, high).map_err(|e| e.into_engine(expr))?;
            let both = array_op(ge, le, n, |a, b| Ok(Arc::new(and_kleene(as_bool(a)?, as_bool(b)?)?))).map_err(ae)?;
            if *negated {
                both.map(|a| Ok(Arc::new(not(as_bool(a)?)?))).map_err(ae)
            } else {
                Ok(both)
            }
        }
        Expr::Function { func, args } => {
            let mut arrays = Vec::with_capacity(args.len());
            for a in args {
                arrays.push(eval(a, batch)?.into_array(n).map_err(ae)?);
            }
            let out = func.invoke(&arrays, n)?;
            if out.len() != n {
                return Err(type_err(format!(
                    "function {} returned {} rows for {n} input rows; a scalar function must return one value per row",
                    func.name(),
                    out.len()
                )));
            }
            Ok(Value::Array(out))
        }
    }
}

/// A failure of a binary operator: a type error or a kernel error.
enum BinaryError {
    Type(String),
    Arrow(ArrowError),
}

impl From<ArrowError> for BinaryError {
    fn from(e: ArrowError) -> Self {
        BinaryError::Arrow(e)
    }
}

impl BinaryError {
    fn into_engine(self, expr: &Expr) -> EngineError {
        match self {
            BinaryError::Type(reason) => EngineError::expr(expr, reason),
            BinaryError::Arrow(e) => arrow_err(expr, e),
        }
    }
}

fn eval_binary(op: BinaryOp, l: Value, r: Value, n: usize) -> Result<Value, BinaryError> {
    if op.is_comparison() {
        return compare(op, l, r);
    }
    if op.is_arithmetic() {
        return arithmetic(op, l, r);
    }
    let t = binary_type(op, l.data_type(), r.data_type()).map_err(BinaryError::Type)?;
    match op {
        BinaryOp::And | BinaryOp::Or => {
            let (l, r) = (l.cast(&t)?, r.cast(&t)?);
            let f = if op == BinaryOp::And { and_kleene } else { or_kleene };
            Ok(array_op(l, r, n, |a, b| Ok(Arc::new(f(as_bool(a)?, as_bool(b)?)?)))?)
        }
        _ => {
            // `||`: both sides as STRING; NULL when either is NULL.
            let (l, r) = (l.cast(&DataType::Utf8)?, r.cast(&DataType::Utf8)?);
            Ok(array_op(l, r, n, |a, b| Ok(Arc::new(concat_elements_utf8(as_utf8(a)?, as_utf8(b)?)?)))?)
        }
    }
}

fn arithmetic(op: BinaryOp, l: Value, r: Value) -> Result<Value, BinaryError> {
    let t = arithmetic_type(op, l.data_type(), r.data_type()).map_err(BinaryError::Type)?;
    if t == DataType::Null {
        return Ok(Value::null_scalar(&t));
    }
    let (l, mut r) = (l.cast(&t)?, r.cast(&t)?);
    if matches!(op, BinaryOp::Divide | BinaryOp::Modulo) && t.is_integer() {
        r = null_zero_divisors(r)?;
    }
    let f = match op {
        BinaryOp::Plus => numeric::add,
        BinaryOp::Minus => numeric::sub,
        BinaryOp::Multiply => numeric::mul,
        BinaryOp::Divide => numeric::div,
        _ => numeric::rem,
    };
    Ok(datum_op(&l, &r, f)?)
}

/// Integer division by zero is NULL in SQL, not an error: blank the zero
/// divisors so the kernel skips those rows.
fn null_zero_divisors(r: Value) -> Result<Value, ArrowError> {
    let zero = Value::Scalar(Arc::new(Int32Array::from(vec![0]))).cast(r.data_type())?;
    let is_zero = cmp::eq(&r, &zero)?;
    if is_zero.true_count() == 0 {
        return Ok(r);
    }
    r.map(|a| nullif(a, &is_zero))
}

fn compare(op: BinaryOp, l: Value, r: Value) -> Result<Value, BinaryError> {
    let t = comparison_type(l.data_type(), r.data_type()).map_err(BinaryError::Type)?;
    if t == DataType::Null {
        return Ok(Value::null_scalar(&DataType::Boolean));
    }
    if t.is_nested() {
        let negated = match op {
            BinaryOp::Eq => false,
            BinaryOp::NotEq => true,
            _ => return Err(BinaryError::Type(format!("cannot order values of type {}; only = and <> compare them", sql_type(&t)))),
        };
        let n = match (&l, &r) {
            (Value::Array(a), _) | (_, Value::Array(a)) => a.len(),
            _ => 1,
        };
        return Ok(array_op(l, r, n, |a, b| nested_equal(a, b, negated))?);
    }
    let (l, r) = (l.cast(&t)?, r.cast(&t)?);
    let f = match op {
        BinaryOp::Eq => cmp::eq,
        BinaryOp::NotEq => cmp::neq,
        BinaryOp::Lt => cmp::lt,
        BinaryOp::LtEq => cmp::lt_eq,
        BinaryOp::Gt => cmp::gt,
        _ => cmp::gt_eq,
    };
    Ok(datum_op(&l, &r, |a, b| Ok(Arc::new(f(a, b)?)))?)
}

fn eval_case(expr: &Expr, when_then: &[(Expr, Expr)], else_expr: Option<&Expr>, batch: &Batch) -> Result<Value> {
    let n = batch.len();
    let ae = |e: ArrowError| arrow_err(expr, e);
    let mut branches = Vec::with_capacity(when_then.len());
    let mut types = Vec::with_capacity(when_then.len() + 1);
    for (when, then) in when_then {
        let cond = eval(when, batch)?;
        boolean_operand("WHEN", cond.data_type()).map_err(|r| EngineError::expr(expr, r))?;
        let value = eval(then, batch)?;
        types.push(value.data_type().clone());
        branches.push((cond, value));
    }
    let otherwise = else_expr.map(|e| eval(e, batch)).transpose()?;
    if let Some(v) = &otherwise {
        types.push(v.data_type().clone());
    }
    let t = case_type(&types).map_err(|r| EngineError::expr(expr, r))?;
    let mut result = match otherwise {
        Some(v) => v.cast(&t).map_err(ae)?,
        None => Value::null_scalar(&t),
    };
    // Last branch first, so an earlier true condition overwrites a later one.
    for (cond, value) in branches.into_iter().rev() {
        let mask = cond.cast(&DataType::Boolean).and_then(|c| c.into_array(n)).map_err(ae)?;
        let value = value.cast(&t).map_err(ae)?;
        result = Value::Array(zip(as_bool(&mask).map_err(ae)?, &value, &result).map_err(ae)?);
    }
    Ok(result)
}

// ---- columns --------------------------------------------------------------------

enum Resolved {
    Field(usize),
    Rowtime,
}

fn resolve(schema: &Schema, name: &str) -> Result<Resolved, String> {
    if let Some((i, _)) = schema.column_with_name(name) {
        return Ok(Resolved::Field(i));
    }
    let fields = schema.fields();
    let mut matches = fields.iter().enumerate().filter(|(_, f)| f.name().eq_ignore_ascii_case(name));
    match (matches.next(), matches.next()) {
        (Some((i, _)), None) => return Ok(Resolved::Field(i)),
        (Some((_, a)), Some((_, b))) => {
            return Err(format!(
                "column `{name}` is ambiguous: it matches `{}` and `{}`, which differ only in case; \
                 write the name exactly",
                a.name(),
                b.name()
            ))
        }
        _ => {}
    }
    if name.eq_ignore_ascii_case(ROWTIME) {
        return Ok(Resolved::Rowtime);
    }
    let mut available: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
    available.push(ROWTIME);
    Err(format!("unknown column `{name}`; available columns: {}", available.join(", ")))
}

// ---- type rules (shared by `expr_type` and the evaluator) -----------------------

/// The SQL name of a type, for messages.
fn sql_type(t: &DataType) -> String {
    match t {
        DataType::Null => "NULL".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Utf8 => "STRING".into(),
        DataType::Binary => "BYTES".into(),
        DataType::Timestamp(TimeUnit::Millisecond, None) => "TIMESTAMP".into(),
        other => other.to_string(),
    }
}

fn is_numeric(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 | DataType::Float32 | DataType::Float64
    )
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

fn is_timestamp_ms(t: &DataType) -> bool {
    matches!(t, DataType::Timestamp(TimeUnit::Millisecond, _))
}

/// The wider of two numeric types: `INT < BIGINT < DOUBLE`.
fn numeric_common(l: &DataType, r: &DataType) -> Option<DataType> {
    if !is_numeric(l) || !is_numeric(r) {
        return None;
    }
    if l == r {
        return Some(l.clone());
    }
    let rank = |t: &DataType| match t {
        DataType::Int8 | DataType::Int16 | DataType::Int32 => 0,
        DataType::Int64 => 1,
        _ => 2,
    };
    Some(match rank(l).max(rank(r)) {
        0 => DataType::Int32,
        1 => DataType::Int64,
        _ => DataType::Float64,
    })
}

fn arithmetic_type(op: BinaryOp, l: &DataType, r: &DataType) -> Result<DataType, String> {
    match (l, r) {
        (DataType::Null, DataType::Null) => Ok(DataType::Null),
        (DataType::Null, t) | (t, DataType::Null) if is_numeric(t) => Ok(t.clone()),
        _ => numeric_common(l, r).ok_or_else(|| {
            format!("`{op}` needs numeric operands (INT, BIGINT or DOUBLE), got {} and {}", sql_type(l), sql_type(r))
        }),
    }
}

/// The type both sides of a comparison are cast to.
fn comparison_type(l: &DataType, r: &DataType) -> Result<DataType, String> {
    let mismatch =
        || format!("cannot compare {} with {}; CAST one side to the type of the other", sql_type(l), sql_type(r));
    if l.is_nested() || r.is_nested() {
        // Collections and structs compare for equality with one of the same
        // type (element by element, NULL elements equal), nothing else.
        return match (l, r) {
            (DataType::Null, t) | (t, DataType::Null) => Ok(t.clone()),
            _ if nested_comparable(l) && l.equals_datatype(r) => Ok(l.clone()),
            _ => Err(mismatch()),
        };
    }
    if l == r {
        return Ok(l.clone());
    }
    match (l, r) {
        (DataType::Null, t) | (t, DataType::Null) => Ok(t.clone()),
        _ if is_string(l) && is_string(r) => Ok(DataType::Utf8),
        // TIMESTAMP against epoch milliseconds, or two time zones: compare the instants.
        _ if is_timestamp_ms(l) && (r.is_integer() || is_timestamp_ms(r)) => Ok(DataType::Int64),
        _ if is_timestamp_ms(r) && l.is_integer() => Ok(DataType::Int64),
        // TIMESTAMP against a string literal such as '2024-01-01T00:00:00'.
        _ if is_timestamp_ms(l) && is_string(r) => Ok(l.clone()),
        _ if is_timestamp_ms(r) && is_string(l) => Ok(r.clone()),
        _ => numeric_common(l, r).ok_or_else(mismatch),
    }
}

/// Whether values of a nested type can be compared for equality: lists
/// and structs of comparable types, and maps whose keys and values are
/// comparable but not maps themselves (a map inside a list or struct has no
/// order to compare by).
fn nested_comparable(t: &DataType) -> bool {
    fn ordered(t: &DataType) -> bool {
        match t {
            DataType::List(f) | DataType::LargeList(f) => ordered(f.data_type()),
            DataType::Struct(fs) => fs.iter().all(|f| ordered(f.data_type())),
            DataType::Map(..) => false,
            _ => true,
        }
    }
    match t {
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) => kv.iter().all(|f| ordered(f.data_type())),
            _ => false,
        },
        other => ordered(other),
    }
}

/// `l = r` (or `<>`) on lists, structs or maps, row by row: NULL when
/// either side is NULL, else whether every element (NULL elements equal)
/// matches; map entries match by key, in any order.
fn nested_equal(l: &dyn Array, r: &dyn Array, negated: bool) -> Result<ArrayRef, ArrowError> {
    if let (Some(lm), Some(rm)) = (l.as_map_opt(), r.as_map_opt()) {
        return map_equal(lm, rm, negated);
    }
    let cmp = arrow::array::make_comparator(l, r, arrow::compute::SortOptions::default())?;
    let out: BooleanArray = (0..l.len())
        .map(|i| (l.is_valid(i) && r.is_valid(i)).then(|| (cmp(i, i) == std::cmp::Ordering::Equal) != negated))
        .collect();
    Ok(Arc::new(out))
}

/// Map equality: the same number of entries, and each key of one row has
/// an equal value under an equal key in the other.
fn map_equal(l: &MapArray, r: &MapArray, negated: bool) -> Result<ArrayRef, ArrowError> {
    use std::cmp::Ordering::Equal;
    let opts = arrow::compute::SortOptions::default();
    let keys = arrow::array::make_comparator(l.keys().as_ref(), r.keys().as_ref(), opts)?;
    let values = arrow::array::make_comparator(l.values().as_ref(), r.values().as_ref(), opts)?;
    let (lo, ro) = (l.value_offsets(), r.value_offsets());
    let out: BooleanArray = (0..l.len())
        .map(|i| {
            if !(l.is_valid(i) && r.is_valid(i)) {
                return None;
            }
            let (ls, le) = (lo[i] as usize, lo[i + 1] as usize);
            let (rs, re) = (ro[i] as usize, ro[i + 1] as usize);
            let same = le - ls == re - rs
                && (ls..le).all(|j| (rs..re).any(|k| keys(j, k) == Equal && values(j, k) == Equal));
            Some(same != negated)
        })
        .collect();
    Ok(Arc::new(out))
}

fn boolean_operand(what: &str, t: &DataType) -> Result<(), String> {
    match t {
        DataType::Boolean | DataType::Null => Ok(()),
        other => Err(format!("{what} needs a BOOLEAN operand, got {}", sql_type(other))),
    }
}

fn binary_type(op: BinaryOp, l: &DataType, r: &DataType) -> Result<DataType, String> {
    if op.is_arithmetic() {
        return arithmetic_type(op, l, r);
    }
    if op.is_comparison() {
        let t = comparison_type(l, r)?;
        if t.is_nested() && !matches!(op, BinaryOp::Eq | BinaryOp::NotEq) {
            return Err(format!("cannot order values of type {}; only = and <> compare them", sql_type(&t)));
        }
        return Ok(DataType::Boolean);
    }
    match op {
        BinaryOp::And | BinaryOp::Or => {
            boolean_operand(&op.to_string(), l)?;
            boolean_operand(&op.to_string(), r)?;
            Ok(DataType::Boolean)
        }
        _ => {
            for t in [l, r] {
                if !can_cast_types(t, &DataType::Utf8) {
                    return Err(format!("`||` cannot turn a {} into a STRING", sql_type(t)));
                }
            }
            Ok(DataType::Utf8)
        }
    }
}

fn negative_type(t: &DataType) -> Result<DataType, String> {
    if is_numeric(t) || t == &DataType::Null {
        Ok(t.clone())
    } else {
        Err(format!("unary `-` needs a numeric operand, got {}", sql_type(t)))
    }
}

/// The common type of the branches of a `CASE` (NULL when all are NULL).
fn case_type(types: &[DataType]) -> Result<DataType, String> {
    let mut out = DataType::Null;
    for t in types {
        out = match (&out, t) {
            (a, b) if a == b => out,
            (DataType::Null, b) => b.clone(),
            (_, DataType::Null) => out,
            (a, b) if is_string(a) && is_string(b) => DataType::Utf8,
            (a, b) => numeric_common(a, b).ok_or_else(|| {
                format!(
                    "CASE branches have incompatible types {} and {}; CAST them to one type",
                    sql_type(a),
                    sql_type(b)
                )
            })?,
        };
    }
    Ok(out)
}

fn cast_check(from: &DataType, to: &DataType) -> Result<(), String> {
    if from == to || can_cast_types(from, to) {
        Ok(())
    } else {
        Err(format!("cannot CAST {} to {}", sql_type(from), sql_type(to)))
    }
}

fn like_check(value: &DataType, pattern: &DataType) -> Result<(), String> {
    for (what, t) in [("value", value), ("pattern", pattern)] {
        if !is_string(t) && t != &DataType::Null {
            return Err(format!("LIKE needs a STRING {what}, got {}", sql_type(t)));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::functions::ScalarFunction;
    use arrow::array::RecordBatch;
    use arrow::datatypes::Field;

    fn batch() -> Batch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("b", DataType::Int64, true),
            Field::new("x", DataType::Float64, true),
            Field::new("s", DataType::Utf8, true),
            Field::new("flag", DataType::Boolean, true),
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        ]));
        let rows = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from(vec![Some(1), Some(2), None, Some(4)])),
                Arc::new(Int64Array::from(vec![Some(10), Some(0), Some(30), None])),
                Arc::new(Float64Array::from(vec![Some(0.5), Some(1.5), None, Some(-2.0)])),
                Arc::new(StringArray::from(vec![Some("apple"), Some("banana"), None, Some("cherry")])),
                Arc::new(BooleanArray::from(vec![Some(true), Some(false), None, Some(true)])),
                Arc::new(TimestampMillisecondArray::from(vec![Some(1000), Some(2000), None, Some(4000)])),
            ],
        )
        .unwrap();
        Batch::new(rows, Int64Array::from(vec![100, 200, 300, 400]))
    }

    fn col(n: &str) -> Expr {
        Expr::col(n)
    }

    fn i64s(e: &Expr) -> Vec<Option<i64>> {
        let a = evaluate(e, &batch()).unwrap();
        a.as_primitive::<arrow::datatypes::Int64Type>().iter().collect()
    }

    fn bools(e: &Expr) -> Vec<Option<bool>> {
        let a = evaluate(e, &batch()).unwrap();
        a.as_boolean().iter().collect()
    }

    fn strs(e: &Expr) -> Vec<Option<String>> {
        let a = evaluate(e, &batch()).unwrap();
        a.as_string::<i32>().iter().map(|s| s.map(str::to_string)).collect()
    }

    fn err(e: &Expr) -> String {
        evaluate(e, &batch()).unwrap_err().to_string()
    }

    #[test]
    fn columns_case_insensitive_and_rowtime() {
        assert_eq!(i64s(&col("B")), vec![Some(10), Some(0), Some(30), None]);
        assert_eq!(i64s(&col("ROWTIME")), vec![Some(100), Some(200), Some(300), Some(400)]);
        assert_eq!(i64s(&col("rowtime")), vec![Some(100), Some(200), Some(300), Some(400)]);
        let schema = batch().rows.schema();
        assert_eq!(expr_type(&col("ROWTIME"), &schema).unwrap(), DataType::Int64);
        assert_eq!(expr_type(&col("S"), &schema).unwrap(), DataType::Utf8);
    }

    #[test]
    fn rowtime_column_wins_over_pseudo_column() {
        let schema = Arc::new(Schema::new(vec![Field::new("ROWTIME", DataType::Utf8, false)]));
        let rows = RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(vec!["r"]))]).unwrap();
        let b = Batch::new(rows, Int64Array::from(vec![5]));
        assert_eq!(expr_type(&col("ROWTIME"), &schema).unwrap(), DataType::Utf8);
        assert_eq!(evaluate(&col("ROWTIME"), &b).unwrap().as_string::<i32>().value(0), "r");
    }

    #[test]
    fn unknown_column_lists_available() {
        let msg = err(&col("nope"));
        assert!(msg.contains("unknown column `nope`"), "{msg}");
        assert!(msg.contains("available columns: a, b, x, s, flag, ts, ROWTIME"), "{msg}");
        let msg = expr_type(&col("nope").add(Expr::lit(1)), &batch().rows.schema()).unwrap_err().to_string();
        assert!(msg.contains("unknown column"), "{msg}");
    }

    #[test]
    fn ambiguous_column_is_an_error() {
        let schema =
            Schema::new(vec![Field::new("Ab", DataType::Int32, true), Field::new("aB", DataType::Int32, true)]);
        let msg = expr_type(&col("ab"), &schema).unwrap_err().to_string();
        assert!(msg.contains("ambiguous"), "{msg}");
        assert_eq!(expr_type(&col("aB"), &schema).unwrap(), DataType::Int32);
    }

    #[test]
    fn literals_broadcast() {
        let a = evaluate(&Expr::lit(7i64), &batch()).unwrap();
        assert_eq!(a.len(), 4);
        assert_eq!(i64s(&Expr::lit(7i64)), vec![Some(7); 4]);
        let n = evaluate(&Expr::lit(ScalarValue::Null(DataType::Utf8)), &batch()).unwrap();
        assert_eq!((n.len(), n.null_count(), n.data_type()), (4, 4, &DataType::Utf8));
        assert_eq!(strs(&Expr::lit("k")), vec![Some("k".to_string()); 4]);
    }

    #[test]
    fn arithmetic_widens_and_propagates_null() {
        // INT + BIGINT → BIGINT
        let e = col("a").add(col("b"));
        assert_eq!(expr_type(&e, &batch().rows.schema()).unwrap(), DataType::Int64);
        assert_eq!(i64s(&e), vec![Some(11), Some(2), None, None]);
        // INT * DOUBLE → DOUBLE
        let e = col("a").mul(col("x"));
        let a = evaluate(&e, &batch()).unwrap();
        let v: Vec<_> = a.as_primitive::<arrow::datatypes::Float64Type>().iter().collect();
        assert_eq!(v, vec![Some(0.5), Some(3.0), None, Some(-8.0)]);
        assert_eq!(i64s(&col("b").sub(Expr::lit(1i64))), vec![Some(9), Some(-1), Some(29), None]);
        // Literal-only arithmetic still has one value per row.
        assert_eq!(i64s(&Expr::lit(2i64).mul(Expr::lit(3i32))), vec![Some(6); 4]);
    }

    #[test]
    fn integer_division_truncates_and_zero_divisor_is_null() {
        let e = Expr::lit(7i64).div(col("b"));
        assert_eq!(i64s(&e), vec![Some(0), None, Some(0), None]);
        assert_eq!(i64s(&col("b").div(Expr::lit(4i64))), vec![Some(2), Some(0), Some(7), None]);
        assert_eq!(i64s(&col("b").div(Expr::lit(0i64))), vec![None; 4]);
        let m = Expr::Binary { left: Box::new(col("b")), op: BinaryOp::Modulo, right: Box::new(col("b")) };
        assert_eq!(i64s(&m), vec![Some(0), None, Some(0), None]);
        let neg = Expr::lit(-7i64).div(Expr::lit(2i64));
        assert_eq!(i64s(&neg), vec![Some(-3); 4]);
        // Doubles follow IEEE 754.
        let a = evaluate(&Expr::lit(1.0).div(Expr::lit(0.0)), &batch()).unwrap();
        assert!(a.as_primitive::<arrow::datatypes::Float64Type>().value(0).is_infinite());
    }

    #[test]
    fn overflow_is_an_error() {
        let msg = err(&Expr::lit(i64::MAX).add(col("b")));
        assert!(msg.contains("arrow error") && msg.contains("Overflow"), "{msg}");
        let msg = err(&Expr::Negative(Box::new(Expr::lit(i32::MIN))));
        assert!(msg.contains("Overflow"), "{msg}");
    }

    #[test]
    fn arithmetic_on_strings_is_a_type_error() {
        let e = col("s").add(Expr::lit(1));
        let msg = expr_type(&e, &batch().rows.schema()).unwrap_err().to_string();
        assert!(msg.contains("numeric operands") && msg.contains("STRING and INT"), "{msg}");
        assert!(err(&e).contains("STRING and INT"));
    }

    #[test]
    fn comparisons_with_coercion() {
        assert_eq!(bools(&col("a").gt(Expr::lit(1i64))), vec![Some(false), Some(true), None, Some(true)]);
        assert_eq!(bools(&col("x").lt_eq(col("a"))), vec![Some(true), Some(true), None, Some(true)]);
        assert_eq!(bools(&col("s").eq(Expr::lit("banana"))), vec![Some(false), Some(true), None, Some(false)]);
        assert_eq!(bools(&col("s").not_eq(Expr::lit("banana"))), vec![Some(true), Some(false), None, Some(true)]);
        assert_eq!(bools(&col("ts").gt_eq(Expr::lit(2000i64))), vec![Some(false), Some(true), None, Some(true)]);
        let e = col("ts").lt(Expr::lit(ScalarValue::TimestampMs(2000)));
        assert_eq!(bools(&e), vec![Some(true), Some(false), None, Some(false)]);
        let e = col("ts").eq(Expr::lit("1970-01-01T00:00:01"));
        assert_eq!(bools(&e), vec![Some(true), Some(false), None, Some(false)]);
        assert_eq!(bools(&col("a").eq(Expr::lit(ScalarValue::Null(DataType::Null)))), vec![None; 4]);
    }

    #[test]
    fn comparison_type_mismatch() {
        let e = col("s").gt(Expr::lit(1));
        let msg = expr_type(&e, &batch().rows.schema()).unwrap_err().to_string();
        assert!(msg.contains("cannot compare STRING with INT"), "{msg}");
        assert!(err(&e).contains("cannot compare STRING with INT"));
    }

    #[test]
    fn three_valued_logic() {
        let t = || Expr::lit(true);
        let f = || Expr::lit(false);
        assert_eq!(bools(&col("flag").and(t())), vec![Some(true), Some(false), None, Some(true)]);
        assert_eq!(bools(&col("flag").and(f())), vec![Some(false); 4]);
        assert_eq!(bools(&col("flag").or(t())), vec![Some(true); 4]);
        assert_eq!(bools(&col("flag").or(f())), vec![Some(true), Some(false), None, Some(true)]);
        assert_eq!(bools(&Expr::Not(Box::new(col("flag")))), vec![Some(false), Some(true), None, Some(false)]);
        let msg = expr_type(&col("a").and(t()), &batch().rows.schema()).unwrap_err().to_string();
        assert!(msg.contains("AND needs a BOOLEAN operand, got INT"), "{msg}");
    }

    #[test]
    fn negative() {
        assert_eq!(i64s(&Expr::Negative(Box::new(col("b")))), vec![Some(-10), Some(0), Some(-30), None]);
        assert!(err(&Expr::Negative(Box::new(col("s")))).contains("numeric operand"));
    }

    #[test]
    fn concat() {
        let e = col("s").concat(Expr::lit("-")).concat(col("a"));
        assert_eq!(strs(&e), vec![Some("apple-1".into()), Some("banana-2".into()), None, Some("cherry-4".into())]);
        assert_eq!(expr_type(&e, &batch().rows.schema()).unwrap(), DataType::Utf8);
    }

    #[test]
    fn is_null() {
        assert_eq!(bools(&col("a").is_null()), vec![Some(false), Some(false), Some(true), Some(false)]);
        assert_eq!(bools(&col("b").is_not_null()), vec![Some(true), Some(true), Some(true), Some(false)]);
        assert_eq!(bools(&Expr::lit(1).is_null()), vec![Some(false); 4]);
    }

    #[test]
    fn case_when() {
        let e = Expr::Case {
            when_then: vec![
                (col("a").gt(Expr::lit(3)), Expr::lit(100i64)),
                (col("a").gt(Expr::lit(1)), col("a")),
                (col("flag"), Expr::lit(-1i64)),
            ],
            else_expr: None,
        };
        assert_eq!(expr_type(&e, &batch().rows.schema()).unwrap(), DataType::Int64);
        // Row 2: a is NULL and flag is NULL, so no branch is taken.
        assert_eq!(i64s(&e), vec![Some(-1), Some(2), None, Some(100)]);
        let e = Expr::Case {
            when_then: vec![(col("s").eq(Expr::lit("apple")), Expr::lit("A"))],
            else_expr: Some(Box::new(col("s"))),
        };
        assert_eq!(strs(&e), vec![Some("A".into()), Some("banana".into()), None, Some("cherry".into())]);
        let bad = Expr::Case { when_then: vec![(Expr::lit(true), Expr::lit(1))], else_expr: Some(Box::new(col("s"))) };
        assert!(err(&bad).contains("incompatible types INT and STRING"));
        let bad = Expr::Case { when_then: vec![(col("a"), Expr::lit(1))], else_expr: None };
        assert!(err(&bad).contains("WHEN needs a BOOLEAN operand"));
    }

    #[test]
    fn is_true_turns_null_into_false() {
        assert_eq!(bools(&Expr::IsTrue(Box::new(col("flag")))), vec![Some(true), Some(false), Some(false), Some(true)]);
        let cmp = Expr::IsTrue(Box::new(col("a").eq(Expr::lit(2))));
        assert_eq!(bools(&cmp), vec![Some(false), Some(true), Some(false), Some(false)]);
        assert_eq!(bools(&Expr::Not(Box::new(cmp))), vec![Some(true), Some(false), Some(true), Some(true)]);
        assert!(err(&Expr::IsTrue(Box::new(col("s")))).contains("IS TRUE needs a BOOLEAN operand"));
    }

    #[test]
    fn lists_and_structs_compare_for_equality_only() {
        use arrow::array::{ListArray, StructArray};
        use arrow::datatypes::Int64Type;
        let lists = |rows: Vec<Option<Vec<Option<i64>>>>| Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(rows)) as ArrayRef;
        let l = lists(vec![Some(vec![Some(1), None]), Some(vec![Some(1)]), None, Some(vec![])]);
        let r = lists(vec![Some(vec![Some(1), None]), Some(vec![Some(2)]), Some(vec![]), Some(vec![])]);
        let st = |vals: Vec<Option<i64>>| {
            let f = Arc::new(Field::new("F0", DataType::Int64, true));
            Arc::new(StructArray::from(vec![(f, Arc::new(Int64Array::from(vals)) as ArrayRef)])) as ArrayRef
        };
        let schema = Arc::new(Schema::new(vec![
            Field::new("l", l.data_type().clone(), true),
            Field::new("r", r.data_type().clone(), true),
            Field::new("p", st(vec![]).data_type().clone(), true),
            Field::new("q", st(vec![]).data_type().clone(), true),
        ]));
        let rows = RecordBatch::try_new(
            schema,
            vec![l, r, st(vec![Some(1), Some(2), None, Some(4)]), st(vec![Some(1), Some(3), None, Some(4)])],
        )
        .unwrap();
        let b = Batch::new(rows, TimestampMillisecondArray::from(vec![0; 4]).reinterpret_cast::<arrow::datatypes::Int64Type>());
        let eval_bools = |e: &Expr| evaluate(e, &b).unwrap().as_boolean().iter().collect::<Vec<_>>();
        assert_eq!(eval_bools(&col("l").eq(col("r"))), vec![Some(true), Some(false), None, Some(true)]);
        assert_eq!(eval_bools(&col("l").not_eq(col("r"))), vec![Some(false), Some(true), None, Some(false)]);
        assert_eq!(eval_bools(&col("p").eq(col("q"))), vec![Some(true), Some(false), Some(true), Some(true)]);
        let within = Expr::InList { expr: Box::new(col("l")), list: vec![col("r")], negated: false };
        assert_eq!(eval_bools(&within), vec![Some(true), Some(false), None, Some(true)]);
        // Ordering is not defined on them, nor equality across types.
        assert!(evaluate(&col("l").lt(col("r")), &b).unwrap_err().to_string().contains("only = and <>"));
        assert!(evaluate(&col("l").eq(col("p")), &b).is_err());
    }

    #[test]
    fn maps_are_equal_when_their_entries_are_whatever_the_order() {
        use arrow::array::{MapBuilder, StringBuilder};
        let maps = |rows: &[Option<&[(&str, Option<i64>)]>]| {
            let mut b = MapBuilder::new(None, StringBuilder::new(), arrow::array::Int64Builder::new());
            for row in rows {
                match row {
                    Some(entries) => {
                        for (k, v) in entries.iter() {
                            b.keys().append_value(k);
                            b.values().append_option(*v);
                        }
                        b.append(true).unwrap();
                    }
                    None => b.append(false).unwrap(),
                }
            }
            Arc::new(b.finish()) as ArrayRef
        };
        let l = maps(&[Some(&[("a", Some(1)), ("b", Some(2))]), Some(&[("a", Some(1))]), Some(&[("c", None)]), None, Some(&[])]);
        let r = maps(&[Some(&[("b", Some(2)), ("a", Some(1))]), Some(&[("a", Some(1)), ("b", Some(2))]), Some(&[("c", None)]), Some(&[]), Some(&[("a", Some(1))])]);
        let schema = Arc::new(Schema::new(vec![
            Field::new("l", l.data_type().clone(), true),
            Field::new("r", r.data_type().clone(), true),
        ]));
        let rows = RecordBatch::try_new(schema, vec![l, r]).unwrap();
        let b = Batch::new(rows, TimestampMillisecondArray::from(vec![0; 5]).reinterpret_cast::<arrow::datatypes::Int64Type>());
        let eval_bools = |e: &Expr| evaluate(e, &b).unwrap().as_boolean().iter().collect::<Vec<_>>();
        let expected = vec![Some(true), Some(false), Some(true), None, Some(false)];
        assert_eq!(eval_bools(&col("l").eq(col("r"))), expected);
        let within = Expr::InList { expr: Box::new(col("l")), list: vec![col("r")], negated: false };
        assert_eq!(eval_bools(&within), expected);
        assert_eq!(eval_bools(&col("l").not_eq(col("r"))), vec![Some(false), Some(true), Some(false), None, Some(true)]);
        assert!(evaluate(&col("l").lt(col("r")), &b).unwrap_err().to_string().contains("only = and <>"));
    }

    #[test]
    fn cast_is_safe() {
        let e = Expr::lit("12").cast(DataType::Int64);
        assert_eq!(i64s(&e), vec![Some(12); 4]);
        let e = col("s").cast(DataType::Int64);
        assert_eq!(i64s(&e), vec![None; 4]);
        assert_eq!(
            strs(&col("a").cast(DataType::Utf8)),
            vec![Some("1".into()), Some("2".into()), None, Some("4".into())]
        );
        let bad = col("a").cast(DataType::Struct(Vec::<Field>::new().into()));
        assert!(expr_type(&bad, &batch().rows.schema()).is_err());
    }

    #[test]
    fn like() {
        assert_eq!(bools(&col("s").like(Expr::lit("%an%"))), vec![Some(false), Some(true), None, Some(false)]);
        assert_eq!(bools(&col("s").like(Expr::lit("_pple"))), vec![Some(true), Some(false), None, Some(false)]);
        let e = Expr::Like { expr: Box::new(col("s")), pattern: Box::new(Expr::lit("%e%")), negated: true };
        assert_eq!(bools(&e), vec![Some(false), Some(true), None, Some(false)]);
        assert!(err(&col("a").like(Expr::lit("1"))).contains("LIKE needs a STRING value, got INT"));
    }

    #[test]
    fn in_list_null_semantics() {
        let e = col("a").in_list(vec![Expr::lit(1), Expr::lit(4i64)]);
        assert_eq!(bools(&e), vec![Some(true), Some(false), None, Some(true)]);
        let e = col("a").in_list(vec![Expr::lit(1), Expr::lit(ScalarValue::Null(DataType::Int32))]);
        assert_eq!(bools(&e), vec![Some(true), None, None, None]);
        let e = Expr::InList {
            expr: Box::new(col("a")),
            list: vec![Expr::lit(1), Expr::lit(ScalarValue::Null(DataType::Int32))],
            negated: true,
        };
        assert_eq!(bools(&e), vec![Some(false), None, None, None]);
        let e = Expr::InList { expr: Box::new(col("s")), list: vec![Expr::lit("apple")], negated: true };
        assert_eq!(bools(&e), vec![Some(false), Some(true), None, Some(true)]);
        assert!(err(&col("s").in_list(vec![Expr::lit(1)])).contains("cannot compare"));
    }

    #[test]
    fn between_inclusive() {
        let e = col("a").between(Expr::lit(2), Expr::lit(4i64));
        assert_eq!(bools(&e), vec![Some(false), Some(true), None, Some(true)]);
        let e = Expr::Between {
            expr: Box::new(col("x")),
            low: Box::new(Expr::lit(0)),
            high: Box::new(Expr::lit(1)),
            negated: true,
        };
        assert_eq!(bools(&e), vec![Some(false), Some(true), None, Some(true)]);
    }

    #[derive(Debug)]
    struct Twice;

    impl ScalarFunction for Twice {
        fn name(&self) -> &str {
            "TWICE"
        }
        fn return_type(&self, args: &[DataType]) -> Result<DataType> {
            match args {
                [DataType::Int64] => Ok(DataType::Int64),
                _ => Err(EngineError::plan("TWICE", "takes one BIGINT")),
            }
        }
        fn invoke(&self, args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
            numeric::add(&args[0], &args[0]).map_err(|e| EngineError::arrow("TWICE", e))
        }
    }

    #[test]
    fn functions() {
        let e = Expr::Function { func: Arc::new(Twice), args: vec![col("b")] };
        assert_eq!(expr_type(&e, &batch().rows.schema()).unwrap(), DataType::Int64);
        assert_eq!(i64s(&e), vec![Some(20), Some(0), Some(60), None]);
        // A literal argument is broadcast to the batch length.
        let e = Expr::Function { func: Arc::new(Twice), args: vec![Expr::lit(5i64)] };
        assert_eq!(i64s(&e), vec![Some(10); 4]);
        let bad = Expr::Function { func: Arc::new(Twice), args: vec![col("s")] };
        assert!(expr_type(&bad, &batch().rows.schema()).unwrap_err().to_string().contains("takes one BIGINT"));
    }

    #[test]
    fn predicates_treat_null_as_false() {
        let m = evaluate_predicate(&col("flag"), &batch()).unwrap();
        assert_eq!(m.null_count(), 0);
        assert_eq!(m.iter().collect::<Vec<_>>(), vec![Some(true), Some(false), Some(false), Some(true)]);
        let m = evaluate_predicate(&Expr::lit(true), &batch()).unwrap();
        assert_eq!(m.true_count(), 4);
        let m = evaluate_predicate(&col("a").gt(Expr::lit(1)), &batch()).unwrap();
        assert_eq!(m.iter().collect::<Vec<_>>(), vec![Some(false), Some(true), Some(false), Some(true)]);
        let msg = evaluate_predicate(&col("a"), &batch()).unwrap_err().to_string();
        assert!(msg.contains("must be BOOLEAN, got INT"), "{msg}");
    }

    #[test]
    fn empty_batch() {
        let b = batch().slice(0, 0);
        let a = evaluate(&col("a").add(Expr::lit(1)), &b).unwrap();
        assert_eq!(a.len(), 0);
        assert_eq!(evaluate_predicate(&Expr::lit(true), &b).unwrap().len(), 0);
    }
}
