//! Functions the planner builds for syntax rather than by name: struct
//! field access (`s->f`), subscripts (`a[1]`, `m['k']`), and the `ARRAY[…]`,
//! `MAP(…)` and `STRUCT(…)` constructors. They carry what the syntax fixes
//! (a field name, constructor field names) so their result types are known
//! at plan time.

use arrow::array::ArrayRef;
use arrow::datatypes::DataType;
use riffle_engine::functions::ScalarFunction;
use riffle_engine::{EngineError, Result as EngineResult};

use crate::types::SqlType;
use crate::value::{to_array, Value};

fn sql(t: &DataType) -> EngineResult<SqlType> {
    SqlType::from_arrow(t).map_err(|e| EngineError::Internal(e.to_string()))
}

fn rows_of(args: &[ArrayRef], rows: usize, f: impl Fn(&[Value]) -> Value) -> Vec<Value> {
    let mut out = Vec::with_capacity(rows);
    let mut row = Vec::with_capacity(args.len());
    for r in 0..rows {
        row.clear();
        row.extend(args.iter().map(|a| Value::from_array(a.as_ref(), r)));
        out.push(f(&row));
    }
    out
}

fn finish(values: &[Value], ty: &SqlType) -> EngineResult<ArrayRef> {
    to_array(values, ty).map_err(|e| EngineError::Internal(e.to_string()))
}

/// `expr->field`.
#[derive(Debug)]
pub struct FieldAccess {
    /// Field name as declared.
    pub field: String,
    /// Display name (`->FIELD`).
    pub label: String,
}

impl FieldAccess {
    fn field_type(&self, t: &DataType) -> EngineResult<SqlType> {
        match sql(t)? {
            SqlType::Struct(fields) => fields
                .into_iter()
                .find(|(n, _)| n == &self.field || n.eq_ignore_ascii_case(&self.field))
                .map(|(_, t)| t)
                .ok_or_else(|| EngineError::plan("->", format!("Could not find field '{}' in struct", self.field))),
            other => Err(EngineError::plan("->", format!("'->' needs a STRUCT, got {other}"))),
        }
    }
}

impl ScalarFunction for FieldAccess {
    fn name(&self) -> &str {
        &self.label
    }

    fn return_type(&self, args: &[DataType]) -> EngineResult<DataType> {
        Ok(self.field_type(&args[0])?.to_arrow())
    }

    fn invoke(&self, args: &[ArrayRef], rows: usize) -> EngineResult<ArrayRef> {
        let ty = self.field_type(args[0].data_type())?;
        let out = rows_of(args, rows, |row| match &row[0] {
            Value::Struct(fields) => fields
                .iter()
                .find(|(n, _)| n == &self.field || n.eq_ignore_ascii_case(&self.field))
                .map_or(Value::Null, |(_, v)| v.clone()),
            _ => Value::Null,
        });
        finish(&out, &ty)
    }
}

/// `array[index]` (1-based; negative counts from the end) and `map[key]`.
#[derive(Debug)]
pub struct Subscript;

/// One subscript: element `index` of an array (1-based, negative from the
/// end) or the value of `index` in a map; NULL when absent.
pub fn subscript(container: &Value, index: &Value) -> Value {
    match container {
        Value::Array(items) => match index.as_i64() {
            Some(i) if i > 0 => items.get((i - 1) as usize).cloned().unwrap_or(Value::Null),
            Some(i) if i < 0 => usize::try_from(items.len() as i64 + i).ok().and_then(|n| items.get(n).cloned()).unwrap_or(Value::Null),
            _ => Value::Null,
        },
        Value::Map(entries) => entries.iter().find(|(k, _)| k == index).map_or(Value::Null, |(_, v)| v.clone()),
        _ => Value::Null,
    }
}

fn subscript_type(t: &DataType) -> EngineResult<SqlType> {
    match sql(t)? {
        SqlType::Array(e) => Ok(*e),
        SqlType::Map(_, v) => Ok(*v),
        other => Err(EngineError::plan("[]", format!("subscript needs an ARRAY or MAP, got {other}"))),
    }
}

impl ScalarFunction for Subscript {
    fn name(&self) -> &str {
        "SUBSCRIPT"
    }

    fn return_type(&self, args: &[DataType]) -> EngineResult<DataType> {
        Ok(subscript_type(&args[0])?.to_arrow())
    }

    fn invoke(&self, args: &[ArrayRef], rows: usize) -> EngineResult<ArrayRef> {
        let ty = subscript_type(args[0].data_type())?;
        let out = rows_of(args, rows, |row| subscript(&row[0], &row[1]));
        finish(&out, &ty)
    }
}

/// The type every value of `types` widens to (ksqlDB's rules for
/// constructors and CASE branches): numbers widen INT → BIGINT → DECIMAL →
/// DOUBLE; NULL literals take the other types.
pub fn common_type(types: &[SqlType]) -> Option<SqlType> {
    let mut out: Option<SqlType> = None;
    for t in types {
        out = Some(match (out, t) {
            (None, t) => t.clone(),
            (Some(a), b) if &a == b => a,
            (Some(a), b) if a.is_numeric() && b.is_numeric() => {
                let rank = |t: &SqlType| match t {
                    SqlType::Int => 0,
                    SqlType::Bigint => 1,
                    SqlType::Decimal { .. } => 2,
                    _ => 3,
                };
                if rank(&a) >= rank(b) {
                    a
                } else {
                    b.clone()
                }
            }
            _ => return None,
        });
    }
    out
}

/// `ARRAY[a, b, …]`.
#[derive(Debug)]
pub struct ArrayConstructor {
    /// Which argument types are untyped NULL literals (they take the
    /// others' type).
    pub null_args: Vec<bool>,
}

impl ArrayConstructor {
    fn elem(&self, args: &[DataType]) -> EngineResult<SqlType> {
        let types: Vec<SqlType> = args
            .iter()
            .zip(&self.null_args)
            .filter(|(_, n)| !**n)
            .map(|(t, _)| sql(t))
            .collect::<EngineResult<_>>()?;
        common_type(&types).ok_or_else(|| {
            EngineError::plan("ARRAY", "invalid input syntax: all array elements must be of the same type")
        })
    }
}

impl ScalarFunction for ArrayConstructor {
    fn name(&self) -> &str {
        "ARRAY"
    }

    fn return_type(&self, args: &[DataType]) -> EngineResult<DataType> {
        if args.iter().zip(&self.null_args).all(|(_, n)| *n) {
            return Ok(SqlType::Array(Box::new(SqlType::String)).to_arrow());
        }
        Ok(SqlType::Array(Box::new(self.elem(args)?)).to_arrow())
    }

    fn invoke(&self, args: &[ArrayRef], rows: usize) -> EngineResult<ArrayRef> {
        let types: Vec<DataType> = args.iter().map(|a| a.data_type().clone()).collect();
        let ty = sql(&self.return_type(&types)?)?;
        let out = rows_of(args, rows, |row| Value::Array(row.to_vec()));
        finish(&out, &ty)
    }
}

/// `MAP(k1 := v1, …)`: arguments alternate keys and values.
#[derive(Debug)]
pub struct MapConstructor;

impl ScalarFunction for MapConstructor {
    fn name(&self) -> &str {
        "MAP"
    }

    fn return_type(&self, args: &[DataType]) -> EngineResult<DataType> {
        let keys: Vec<SqlType> = args.iter().step_by(2).filter(|t| **t != DataType::Null).map(sql).collect::<EngineResult<_>>()?;
        let vals: Vec<SqlType> =
            args.iter().skip(1).step_by(2).filter(|t| **t != DataType::Null).map(sql).collect::<EngineResult<_>>()?;
        let k = common_type(&keys).unwrap_or(SqlType::String);
        let v = common_type(&vals).ok_or_else(|| EngineError::plan("MAP", "all map values must be of the same type"))?;
        Ok(SqlType::Map(Box::new(k), Box::new(v)).to_arrow())
    }

    fn invoke(&self, args: &[ArrayRef], rows: usize) -> EngineResult<ArrayRef> {
        let types: Vec<DataType> = args.iter().map(|a| a.data_type().clone()).collect();
        let ty = sql(&self.return_type(&types)?)?;
        let out = rows_of(args, rows, |row| {
            Value::Map(row.chunks(2).filter(|kv| kv.len() == 2).map(|kv| (kv[0].clone(), kv[1].clone())).collect())
        });
        finish(&out, &ty)
    }
}

/// `STRUCT(name := value, …)`.
#[derive(Debug)]
pub struct StructConstructor {
    /// Field names, in order.
    pub names: Vec<String>,
}

impl ScalarFunction for StructConstructor {
    fn name(&self) -> &str {
        "STRUCT"
    }

    fn return_type(&self, args: &[DataType]) -> EngineResult<DataType> {
        let fields = self
            .names
            .iter()
            .zip(args)
            .map(|(n, t)| Ok((n.clone(), if *t == DataType::Null { SqlType::String } else { sql(t)? })))
            .collect::<EngineResult<Vec<_>>>()?;
        Ok(SqlType::Struct(fields).to_arrow())
    }

    fn invoke(&self, args: &[ArrayRef], rows: usize) -> EngineResult<ArrayRef> {
        let types: Vec<DataType> = args.iter().map(|a| a.data_type().clone()).collect();
        let ty = sql(&self.return_type(&types)?)?;
        let out = rows_of(args, rows, |row| Value::Struct(self.names.iter().cloned().zip(row.iter().cloned()).collect()));
        finish(&out, &ty)
    }
}

/// `CAST(x AS STRING)` of an ARRAY, MAP or STRUCT: the text Java's
/// `toString` gives the value ksqlDB holds (`[1, 2]`, `{a=1, b=2}`,
/// `Struct{F0=1,F1=x}`; a struct leaves out its NULL fields, as Kafka
/// Connect's `Struct` does).
#[derive(Debug)]
pub struct CollectionToString;

impl CollectionToString {
    fn write(out: &mut String, v: &Value) {
        use std::fmt::Write as _;
        match v {
            Value::Null => out.push_str("null"),
            Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Bigint(i) | Value::Timestamp(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Double(d) => out.push_str(&crate::serde::java::format_double(*d)),
            Value::Decimal(unscaled, scale) => out.push_str(&crate::serde::java::decimal_plain(*unscaled, i32::from(*scale))),
            Value::String(s) => out.push_str(s),
            Value::Bytes(b) => {
                use base64::Engine as _;
                out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
            }
            Value::Date(d) | Value::Time(d) => {
                let _ = write!(out, "{d}");
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    Self::write(out, item);
                }
                out.push(']');
            }
            Value::Map(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    Self::write(out, k);
                    out.push('=');
                    Self::write(out, v);
                }
                out.push('}');
            }
            Value::Struct(fields) => {
                out.push_str("Struct{");
                for (i, (name, v)) in fields.iter().filter(|(_, v)| !v.is_null()).enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(name);
                    out.push('=');
                    Self::write(out, v);
                }
                out.push('}');
            }
        }
    }
}

impl ScalarFunction for CollectionToString {
    fn name(&self) -> &str {
        "CAST"
    }

    fn return_type(&self, _args: &[DataType]) -> EngineResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke(&self, args: &[ArrayRef], rows: usize) -> EngineResult<ArrayRef> {
        let out = rows_of(args, rows, |row| match row.first() {
            None | Some(Value::Null) => Value::Null,
            Some(v) => {
                let mut s = String::new();
                Self::write(&mut s, v);
                Value::String(s)
            }
        });
        finish(&out, &SqlType::String)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collections_print_as_java_prints_them() {
        let text = |v: Value| {
            let mut s = String::new();
            CollectionToString::write(&mut s, &v);
            s
        };
        assert_eq!(text(Value::Array(vec![Value::Int(1), Value::Null, Value::Double(2.0)])), "[1, null, 2.0]");
        assert_eq!(
            text(Value::Map(vec![(Value::String("a".into()), Value::Int(1)), (Value::String("b".into()), Value::Null)])),
            "{a=1, b=null}"
        );
        // Kafka Connect's Struct leaves NULL fields out.
        let s = Value::Struct(vec![
            ("F0".into(), Value::Int(1)),
            ("gone".into(), Value::Null),
            ("f1".into(), Value::Array(vec![Value::String("x".into())])),
        ]);
        assert_eq!(text(s), "Struct{F0=1,f1=[x]}");
    }

    #[test]
    fn struct_casts_match_fields_by_name() {
        use arrow::array::{Array, AsArray, Int64Array, StringArray, StructArray};
        use arrow::datatypes::{Field, Fields};
        use std::sync::Arc;
        let source = StructArray::try_new(
            Fields::from(vec![Field::new("F0", DataType::Int64, true), Field::new("F1", DataType::Utf8, true)]),
            vec![Arc::new(Int64Array::from(vec![Some(1), Some(2)])), Arc::new(StringArray::from(vec![Some("a"), Some("b")]))],
            Some(vec![true, false].into()),
        )
        .unwrap();
        let to = DataType::Struct(Fields::from(vec![Field::new("F0", DataType::Utf8, true), Field::new("F3", DataType::Utf8, true)]));
        let out = StructCast { to: to.clone() }.invoke(&[Arc::new(source)], 2).unwrap();
        assert_eq!(out.data_type(), &to);
        let out = out.as_struct();
        assert_eq!(out.column(0).as_string::<i32>().value(0), "1", "F0 cast to STRING");
        assert!(out.column(1).is_null(0), "F3 is not in the source");
        assert!(out.is_null(1), "a NULL struct stays NULL");
    }
}

/// `CAST(s AS STRUCT<…>)` between structs: fields match by name (exactly,
/// as ksqlDB's are case-sensitive), each cast to its new type; a target
/// field the source lacks is NULL, and source fields the target lacks are
/// dropped. (Arrow's own struct cast goes by position.)
#[derive(Debug)]
pub struct StructCast {
    /// The target struct type.
    pub to: DataType,
}

impl ScalarFunction for StructCast {
    fn name(&self) -> &str {
        "CAST"
    }

    fn return_type(&self, args: &[DataType]) -> EngineResult<DataType> {
        match (args.first(), &self.to) {
            (Some(DataType::Struct(_) | DataType::Null), DataType::Struct(_)) => Ok(self.to.clone()),
            (other, to) => Err(EngineError::plan("CAST", format!("cannot cast {other:?} to {to}"))),
        }
    }

    fn invoke(&self, args: &[ArrayRef], rows: usize) -> EngineResult<ArrayRef> {
        use arrow::array::{new_null_array, Array, StructArray};
        let DataType::Struct(targets) = &self.to else {
            return Err(EngineError::Internal("StructCast needs a struct type".into()));
        };
        let Some(input) = args.first() else { return Ok(new_null_array(&self.to, rows)) };
        let Some(source) = input.as_any().downcast_ref::<StructArray>() else {
            return Ok(new_null_array(&self.to, rows));
        };
        let opts = arrow::compute::CastOptions { safe: true, ..Default::default() };
        let columns = targets
            .iter()
            .map(|f| match source.column_by_name(f.name()) {
                Some(c) => arrow::compute::cast_with_options(c, f.data_type(), &opts)
                    .map_err(|e| EngineError::plan("CAST", format!("field {}: {e}", f.name()))),
                None => Ok(new_null_array(f.data_type(), source.len())),
            })
            .collect::<EngineResult<Vec<_>>>()?;
        let out = StructArray::try_new(targets.clone(), columns, source.nulls().cloned())
            .map_err(|e| EngineError::plan("CAST", e.to_string()))?;
        Ok(std::sync::Arc::new(out))
    }
}
