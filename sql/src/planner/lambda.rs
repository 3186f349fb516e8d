//! Lambda functions: `TRANSFORM`, `FILTER` and `REDUCE` over arrays and
//! maps. The lambda body is evaluated row by row by a small interpreter over
//! [`Value`]s (literals, the lambda's parameters, operators, `CASE`, field
//! and subscript access, scalar functions and nested lambda calls); its type
//! is inferred from the parameter types at plan time.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::DataType;
use riffle_engine::functions::ScalarFunction;
use riffle_engine::{EngineError, Result as EngineResult};

use super::structural::common_type;
use crate::ast::{BinOp, Expr, Literal};
use crate::functions::Functions;
use crate::types::SqlType;
use crate::value::{to_array, Value};

/// Which lambda function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LambdaKind {
    /// `TRANSFORM(collection, lambda[, lambda])`
    Transform,
    /// `FILTER(collection, lambda)`
    Filter,
    /// `REDUCE(collection, initial, lambda)`
    Reduce,
}

/// A call of a lambda function; the engine passes the collection (and the
/// initial state for `REDUCE`) as arguments.
#[derive(Debug)]
pub struct LambdaCall {
    /// Which function.
    pub kind: LambdaKind,
    /// `(parameters, body)` of each lambda argument.
    pub lambdas: Vec<(Vec<String>, Expr)>,
    /// Functions the bodies may call.
    pub functions: Arc<Functions>,
}

fn plan_err(msg: impl Into<String>) -> EngineError {
    EngineError::plan("lambda", msg.into())
}

impl LambdaCall {
    fn name_str(&self) -> &'static str {
        match self.kind {
            LambdaKind::Transform => "TRANSFORM",
            LambdaKind::Filter => "FILTER",
            LambdaKind::Reduce => "REDUCE",
        }
    }

    fn lambda(&self, i: usize, arity: usize) -> EngineResult<&(Vec<String>, Expr)> {
        let l = self.lambdas.get(i).ok_or_else(|| plan_err(format!("{} needs a lambda argument", self.name_str())))?;
        if l.0.len() != arity {
            return Err(plan_err(format!(
                "{}: the lambda takes {} argument(s) here, not {}",
                self.name_str(),
                arity,
                l.0.len()
            )));
        }
        Ok(l)
    }

    fn result_type(&self, args: &[SqlType]) -> EngineResult<SqlType> {
        let coll = args.first().ok_or_else(|| plan_err("lambda function without a collection"))?;
        let env = |names: &[String], types: &[SqlType]| -> HashMap<String, SqlType> {
            names.iter().cloned().zip(types.iter().cloned()).collect()
        };
        match (self.kind, coll) {
            (LambdaKind::Transform, SqlType::Array(e)) => {
                let (p, b) = self.lambda(0, 1)?;
                Ok(SqlType::Array(Box::new(infer(b, &env(p, &[(**e).clone()]), &self.functions)?)))
            }
            (LambdaKind::Transform, SqlType::Map(k, v)) => {
                let kv = [(**k).clone(), (**v).clone()];
                let (pk, bk) = self.lambda(0, 2)?;
                let (pv, bv) = self.lambda(1, 2)?;
                Ok(SqlType::Map(
                    Box::new(infer(bk, &env(pk, &kv), &self.functions)?),
                    Box::new(infer(bv, &env(pv, &kv), &self.functions)?),
                ))
            }
            (LambdaKind::Filter, SqlType::Array(_)) => {
                self.lambda(0, 1)?;
                Ok(coll.clone())
            }
            (LambdaKind::Filter, SqlType::Map(_, _)) => {
                self.lambda(0, 2)?;
                Ok(coll.clone())
            }
            (LambdaKind::Reduce, SqlType::Array(_) | SqlType::Map(_, _)) => {
                let init = args.get(1).cloned().ok_or_else(|| plan_err("REDUCE needs an initial state"))?;
                self.lambda(0, if matches!(coll, SqlType::Array(_)) { 2 } else { 3 })?;
                Ok(init)
            }
            (_, other) => Err(plan_err(format!("{} needs an ARRAY or MAP, got {other}", self.name_str()))),
        }
    }

    fn apply(&self, args: &[Value], ret: &SqlType) -> Value {
        let run = |i: usize, vals: &[Value]| -> Value {
            let (params, body) = &self.lambdas[i];
            let env: HashMap<String, Value> = params.iter().cloned().zip(vals.iter().cloned()).collect();
            eval(body, &env, &self.functions)
        };
        match (self.kind, &args[0]) {
            (_, Value::Null) => Value::Null,
            (LambdaKind::Transform, Value::Array(items)) => Value::Array(items.iter().map(|x| run(0, std::slice::from_ref(x))).collect()),
            (LambdaKind::Transform, Value::Map(entries)) => Value::Map(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let kv = [k.clone(), v.clone()];
                        (run(0, &kv), run(1, &kv))
                    })
                    .collect(),
            ),
            (LambdaKind::Filter, Value::Array(items)) => {
                Value::Array(items.iter().filter(|x| run(0, std::slice::from_ref(*x)) == Value::Boolean(true)).cloned().collect())
            }
            (LambdaKind::Filter, Value::Map(entries)) => Value::Map(
                entries.iter().filter(|(k, v)| run(0, &[k.clone(), v.clone()]) == Value::Boolean(true)).cloned().collect(),
            ),
            (LambdaKind::Reduce, Value::Array(items)) => {
                let mut state = args.get(1).cloned().unwrap_or(Value::Null);
                for x in items {
                    state = run(0, &[state, x.clone()]).coerce(ret).unwrap_or(Value::Null);
                }
                state
            }
            (LambdaKind::Reduce, Value::Map(entries)) => {
                let mut state = args.get(1).cloned().unwrap_or(Value::Null);
                for (k, v) in entries {
                    state = run(0, &[state, k.clone(), v.clone()]).coerce(ret).unwrap_or(Value::Null);
                }
                state
            }
            _ => Value::Null,
        }
    }
}

impl ScalarFunction for LambdaCall {
    fn name(&self) -> &str {
        self.name_str()
    }

    fn return_type(&self, args: &[DataType]) -> EngineResult<DataType> {
        let types = args
            .iter()
            .map(|t| SqlType::from_arrow(t).map_err(|e| plan_err(e.to_string())))
            .collect::<EngineResult<Vec<_>>>()?;
        Ok(self.result_type(&types)?.to_arrow())
    }

    fn invoke(&self, args: &[ArrayRef], rows: usize) -> EngineResult<ArrayRef> {
        let types: Vec<DataType> = args.iter().map(|a| a.data_type().clone()).collect();
        let ret = SqlType::from_arrow(&self.return_type(&types)?).map_err(|e| plan_err(e.to_string()))?;
        let mut out = Vec::with_capacity(rows);
        for r in 0..rows {
            let row: Vec<Value> = args.iter().map(|a| Value::from_array(a.as_ref(), r)).collect();
            out.push(self.apply(&row, &ret));
        }
        to_array(&out, &ret).map_err(|e| EngineError::Internal(e.to_string()))
    }
}

fn literal_type(l: &Literal) -> SqlType {
    match l {
        Literal::Null | Literal::String(_) => SqlType::String,
        Literal::Boolean(_) => SqlType::Boolean,
        Literal::Integer(v) if i32::try_from(*v).is_ok() => SqlType::Int,
        Literal::Integer(_) => SqlType::Bigint,
        Literal::Decimal(_) | Literal::Double(_) => SqlType::Double,
    }
}

fn literal_value(l: &Literal) -> Value {
    match l {
        Literal::Null => Value::Null,
        Literal::Boolean(b) => Value::Boolean(*b),
        Literal::Integer(v) => i32::try_from(*v).map_or(Value::Bigint(*v), Value::Int),
        Literal::Decimal(d) => d.parse().map_or(Value::Null, Value::Double),
        Literal::Double(d) => Value::Double(*d),
        Literal::String(s) => Value::String(s.clone()),
    }
}

/// The type of `e` with lambda parameters typed by `env`.
fn infer(e: &Expr, env: &HashMap<String, SqlType>, functions: &Functions) -> EngineResult<SqlType> {
    Ok(match e {
        Expr::Column { qualifier: None, name } => {
            env.get(name).cloned().ok_or_else(|| plan_err(format!("unknown lambda variable {name}")))?
        }
        Expr::Literal(l) => literal_type(l),
        Expr::Binary { op, left, right } => match op {
            BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq | BinOp::And | BinOp::Or => {
                SqlType::Boolean
            }
            BinOp::Concat => SqlType::String,
            _ => {
                let (l, r) = (infer(left, env, functions)?, infer(right, env, functions)?);
                if l == SqlType::String && *op == BinOp::Add {
                    SqlType::String
                } else {
                    common_type(&[l, r]).ok_or_else(|| plan_err("lambda arithmetic on non-numbers"))?
                }
            }
        },
        Expr::Not(_) | Expr::IsNull { .. } | Expr::Between { .. } | Expr::InList { .. } | Expr::Like { .. } => SqlType::Boolean,
        Expr::Negate(x) => infer(x, env, functions)?,
        Expr::Case { whens, else_expr, .. } => {
            let mut types = Vec::new();
            for (_, t) in whens {
                if !matches!(t, Expr::Literal(Literal::Null)) {
                    types.push(infer(t, env, functions)?);
                }
            }
            if let Some(x) = else_expr {
                if !matches!(**x, Expr::Literal(Literal::Null)) {
                    types.push(infer(x, env, functions)?);
                }
            }
            common_type(&types).unwrap_or(SqlType::String)
        }
        Expr::Cast { ty, .. } => ty.clone(),
        Expr::Field { expr, field } => match infer(expr, env, functions)? {
            SqlType::Struct(fs) => fs
                .into_iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(field))
                .map(|(_, t)| t)
                .ok_or_else(|| plan_err(format!("no field {field}")))?,
            other => return Err(plan_err(format!("'->' needs a STRUCT, got {other}"))),
        },
        Expr::Subscript { expr, .. } => match infer(expr, env, functions)? {
            SqlType::Array(e) | SqlType::Map(_, e) => *e,
            other => return Err(plan_err(format!("subscript needs an ARRAY or MAP, got {other}"))),
        },
        Expr::Function { name, args } => {
            let types = args.iter().map(|a| infer(a, env, functions)).collect::<EngineResult<Vec<_>>>()?;
            let f = functions.scalar(name).ok_or_else(|| plan_err(format!("Can't find any functions with the name '{name}'")))?;
            (f.return_type)(&types).map_err(plan_err)?
        }
        other => return Err(plan_err(format!("unsupported expression in a lambda: {other:?}"))),
    })
}

fn num_op(op: BinOp, a: &Value, b: &Value) -> Value {
    use Value::*;
    match (a, b) {
        (Null, _) | (_, Null) => Null,
        (Int(x), Int(y)) => match op {
            BinOp::Add => Int(x.wrapping_add(*y)),
            BinOp::Sub => Int(x.wrapping_sub(*y)),
            BinOp::Mul => Int(x.wrapping_mul(*y)),
            BinOp::Div => x.checked_div(*y).map_or(Null, Int),
            BinOp::Mod => x.checked_rem(*y).map_or(Null, Int),
            _ => Null,
        },
        (x, y) if x.as_i64().is_some() && y.as_i64().is_some() => {
            let (x, y) = (x.as_i64().unwrap_or_default(), y.as_i64().unwrap_or_default());
            match op {
                BinOp::Add => Bigint(x.wrapping_add(y)),
                BinOp::Sub => Bigint(x.wrapping_sub(y)),
                BinOp::Mul => Bigint(x.wrapping_mul(y)),
                BinOp::Div => x.checked_div(y).map_or(Null, Bigint),
                BinOp::Mod => x.checked_rem(y).map_or(Null, Bigint),
                _ => Null,
            }
        }
        (String(x), String(y)) if matches!(op, BinOp::Add) => String(format!("{x}{y}")),
        (x, y) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => match op {
                BinOp::Add => Double(x + y),
                BinOp::Sub => Double(x - y),
                BinOp::Mul => Double(x * y),
                BinOp::Div => Double(x / y),
                BinOp::Mod => Double(x % y),
                _ => Null,
            },
            _ => Null,
        },
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => None,
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Boolean(x), Value::Boolean(y)) => Some(x.cmp(y)),
        (x, y) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
        },
    }
}

/// Evaluates a lambda body. Failures give NULL, as ksqlDB's functions do.
fn eval(e: &Expr, env: &HashMap<String, Value>, functions: &Functions) -> Value {
    let rec = |x: &Expr| eval(x, env, functions);
    match e {
        Expr::Column { qualifier: None, name } => env.get(name).cloned().unwrap_or(Value::Null),
        Expr::Literal(l) => literal_value(l),
        Expr::Binary { op, left, right } => {
            let (l, r) = (rec(left), rec(right));
            match op {
                BinOp::And => match (l, r) {
                    (Value::Boolean(false), _) | (_, Value::Boolean(false)) => Value::Boolean(false),
                    (Value::Boolean(true), Value::Boolean(true)) => Value::Boolean(true),
                    _ => Value::Null,
                },
                BinOp::Or => match (l, r) {
                    (Value::Boolean(true), _) | (_, Value::Boolean(true)) => Value::Boolean(true),
                    (Value::Boolean(false), Value::Boolean(false)) => Value::Boolean(false),
                    _ => Value::Null,
                },
                BinOp::Concat => match (l, r) {
                    (Value::String(a), Value::String(b)) => Value::String(a + &b),
                    _ => Value::Null,
                },
                BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq => {
                    let ord = if matches!(op, BinOp::Eq | BinOp::NotEq) && !l.is_null() && !r.is_null() && compare(&l, &r).is_none() {
                        Some(if l == r { std::cmp::Ordering::Equal } else { std::cmp::Ordering::Less })
                    } else {
                        compare(&l, &r)
                    };
                    match ord {
                        None => Value::Null,
                        Some(o) => Value::Boolean(match op {
                            BinOp::Eq => o.is_eq(),
                            BinOp::NotEq => o.is_ne(),
                            BinOp::Lt => o.is_lt(),
                            BinOp::LtEq => o.is_le(),
                            BinOp::Gt => o.is_gt(),
                            _ => o.is_ge(),
                        }),
                    }
                }
                _ => num_op(*op, &l, &r),
            }
        }
        Expr::Not(x) => match rec(x) {
            Value::Boolean(b) => Value::Boolean(!b),
            _ => Value::Null,
        },
        Expr::Negate(x) => num_op(BinOp::Sub, &Value::Int(0), &rec(x)),
        Expr::IsNull { expr, negated } => Value::Boolean(rec(expr).is_null() != *negated),
        Expr::Case { operand, whens, else_expr } => {
            let op = operand.as_ref().map(|o| rec(o));
            for (w, t) in whens {
                let hit = match &op {
                    Some(o) => compare(o, &rec(w)).is_some_and(|x| x.is_eq()),
                    None => rec(w) == Value::Boolean(true),
                };
                if hit {
                    return rec(t);
                }
            }
            else_expr.as_ref().map_or(Value::Null, |x| rec(x))
        }
        Expr::Cast { expr, ty } => {
            let v = rec(expr);
            match (v, ty) {
                (Value::String(s), SqlType::Int) => s.trim().parse().map_or(Value::Null, Value::Int),
                (Value::String(s), SqlType::Bigint) => s.trim().parse().map_or(Value::Null, Value::Bigint),
                (Value::String(s), SqlType::Double) => s.trim().parse().map_or(Value::Null, Value::Double),
                (v, SqlType::String) => match v {
                    Value::Null => Value::Null,
                    Value::String(s) => Value::String(s),
                    Value::Double(d) => Value::String(format!("{d:?}")),
                    other => other.as_i64().map_or(Value::Null, |i| Value::String(i.to_string())),
                },
                (Value::Double(d), SqlType::Int) => Value::Int(d as i32),
                (Value::Double(d), SqlType::Bigint) => Value::Bigint(d as i64),
                (v, t) => v.coerce(t).unwrap_or(Value::Null),
            }
        }
        Expr::Field { expr, field } => match rec(expr) {
            Value::Struct(fs) => fs.into_iter().find(|(n, _)| n.eq_ignore_ascii_case(field)).map_or(Value::Null, |(_, v)| v),
            _ => Value::Null,
        },
        Expr::Subscript { expr, index } => super::structural::subscript(&rec(expr), &rec(index)),
        Expr::Function { name, args } => {
            let Some(f) = functions.scalar(name) else { return Value::Null };
            let vals: Vec<Value> = args.iter().map(&rec).collect();
            let types: Vec<SqlType> = vals.iter().map(|v| v.sql_type().unwrap_or(SqlType::String)).collect();
            match (f.return_type)(&types) {
                Ok(ret) => (f.eval)(&vals, &ret).unwrap_or(Value::Null),
                Err(_) => Value::Null,
            }
        }
        _ => Value::Null,
    }
}
