//! Built-in accumulators for `COUNT`, `SUM`, `MIN`, `MAX`, `AVG`, and the
//! bridge to registered aggregate functions. An aggregate slot holds one
//! [`Acc`] per aggregate column; slots are serialized into the state store.

use arrow::array::{Array, ArrayRef, AsArray, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, StringBuilder};
use arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type, TimestampMillisecondType};

use crate::error::{EngineError, Result};
use crate::functions::Accumulator;
use crate::plan::{AggFunc, ScalarValue};

/// A value held by MIN/MAX.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub(crate) enum Val {
    I(i64),
    F(f64),
    S(String),
}

/// One aggregate's running state.
#[derive(Debug)]
pub(crate) enum Acc {
    Count(i64),
    SumI { sum: i64, seen: i64 },
    SumF { sum: f64, seen: i64 },
    Min(Option<Val>),
    Max(Option<Val>),
    Avg { sum: f64, count: i64 },
    Udaf(Box<dyn Accumulator>),
}

/// The argument column of an aggregate, downcast once per batch.
pub(crate) enum ArgCol<'a> {
    None,
    I32(&'a arrow::array::Int32Array),
    I64(&'a arrow::array::Int64Array),
    F64(&'a arrow::array::Float64Array),
    Ts(&'a arrow::array::TimestampMillisecondArray),
    Str(&'a arrow::array::StringArray),
    Other(&'a ArrayRef),
}

impl<'a> ArgCol<'a> {
    pub(crate) fn new(a: Option<&'a ArrayRef>) -> Self {
        let Some(a) = a else { return ArgCol::None };
        match a.data_type() {
            DataType::Int32 => ArgCol::I32(a.as_primitive::<Int32Type>()),
            DataType::Int64 => ArgCol::I64(a.as_primitive::<Int64Type>()),
            DataType::Float64 => ArgCol::F64(a.as_primitive::<Float64Type>()),
            DataType::Timestamp(arrow::datatypes::TimeUnit::Millisecond, _) => {
                ArgCol::Ts(a.as_primitive::<TimestampMillisecondType>())
            }
            DataType::Utf8 => ArgCol::Str(a.as_string::<i32>()),
            _ => ArgCol::Other(a),
        }
    }

    fn val(&self, i: usize) -> Option<Val> {
        match self {
            ArgCol::None => None,
            ArgCol::I32(a) => a.is_valid(i).then(|| Val::I(i64::from(a.value(i)))),
            ArgCol::I64(a) => a.is_valid(i).then(|| Val::I(a.value(i))),
            ArgCol::Ts(a) => a.is_valid(i).then(|| Val::I(a.value(i))),
            ArgCol::F64(a) => a.is_valid(i).then(|| Val::F(a.value(i))),
            ArgCol::Str(a) => a.is_valid(i).then(|| Val::S(a.value(i).to_string())),
            ArgCol::Other(_) => None,
        }
    }

    fn is_valid(&self, i: usize) -> bool {
        match self {
            ArgCol::None => false,
            ArgCol::I32(a) => a.is_valid(i),
            ArgCol::I64(a) => a.is_valid(i),
            ArgCol::Ts(a) => a.is_valid(i),
            ArgCol::F64(a) => a.is_valid(i),
            ArgCol::Str(a) => a.is_valid(i),
            ArgCol::Other(a) => a.is_valid(i),
        }
    }

    fn f64(&self, i: usize) -> Option<f64> {
        match self {
            ArgCol::I32(a) => a.is_valid(i).then(|| f64::from(a.value(i))),
            ArgCol::I64(a) => a.is_valid(i).then(|| a.value(i) as f64),
            ArgCol::F64(a) => a.is_valid(i).then(|| a.value(i)),
            _ => None,
        }
    }

    fn i64(&self, i: usize) -> Option<i64> {
        match self {
            ArgCol::I32(a) => a.is_valid(i).then(|| i64::from(a.value(i))),
            ArgCol::I64(a) => a.is_valid(i).then(|| a.value(i)),
            _ => None,
        }
    }
}

impl Acc {
    /// A fresh accumulator for `func` whose arguments have types `args`.
    pub(crate) fn new(func: &AggFunc, args: &[DataType]) -> Result<Acc> {
        let arg = args.first();
        Ok(match func {
            AggFunc::Count | AggFunc::CountStar => Acc::Count(0),
            AggFunc::Sum => match arg {
                Some(DataType::Float32 | DataType::Float64) => Acc::SumF { sum: 0.0, seen: 0 },
                _ => Acc::SumI { sum: 0, seen: 0 },
            },
            AggFunc::Min => Acc::Min(None),
            AggFunc::Max => Acc::Max(None),
            AggFunc::Avg => Acc::Avg { sum: 0.0, count: 0 },
            AggFunc::Udaf(u) => Acc::Udaf(u.accumulator(args)?),
        })
    }

    /// A copy of a built-in accumulator (`None` for a user-defined one,
    /// whose state only its factory can make).
    #[inline]
    fn copy_fresh(&self) -> Option<Acc> {
        Some(match self {
            Acc::Count(c) => Acc::Count(*c),
            Acc::SumI { sum, seen } => Acc::SumI { sum: *sum, seen: *seen },
            Acc::SumF { sum, seen } => Acc::SumF { sum: *sum, seen: *seen },
            Acc::Min(v) => Acc::Min(v.clone()),
            Acc::Max(v) => Acc::Max(v.clone()),
            Acc::Avg { sum, count } => Acc::Avg { sum: *sum, count: *count },
            Acc::Udaf(_) => return None,
        })
    }

    /// Adds row `i`; `star` is true for COUNT(*).
    #[inline]
    pub(crate) fn update(&mut self, arg: &ArgCol<'_>, args: &[ArrayRef], i: usize, star: bool) -> Result<()> {
        match self {
            Acc::Count(c) => {
                if star || arg.is_valid(i) {
                    *c += 1;
                }
            }
            Acc::SumI { sum, seen } => {
                if let Some(v) = arg.i64(i) {
                    *sum = sum.checked_add(v).ok_or_else(|| EngineError::expr("SUM", "BIGINT overflow"))?;
                    *seen += 1;
                }
            }
            Acc::SumF { sum, seen } => {
                if let Some(v) = arg.f64(i) {
                    *sum += v;
                    *seen += 1;
                }
            }
            Acc::Min(m) => {
                if let Some(v) = arg.val(i) {
                    if m.as_ref().is_none_or(|cur| v < *cur) {
                        *m = Some(v);
                    }
                }
            }
            Acc::Max(m) => {
                if let Some(v) = arg.val(i) {
                    if m.as_ref().is_none_or(|cur| v > *cur) {
                        *m = Some(v);
                    }
                }
            }
            Acc::Avg { sum, count } => {
                if let Some(v) = arg.f64(i) {
                    *sum += v;
                    *count += 1;
                }
            }
            Acc::Udaf(u) => u.update(args, i)?,
        }
        Ok(())
    }

    /// Removes row `i` (a table row leaving its group).
    pub(crate) fn retract(&mut self, arg: &ArgCol<'_>, args: &[ArrayRef], i: usize, star: bool) -> Result<()> {
        match self {
            Acc::Count(c) => {
                if star || arg.is_valid(i) {
                    *c -= 1;
                }
            }
            Acc::SumI { sum, seen } => {
                if let Some(v) = arg.i64(i) {
                    *sum = sum.wrapping_sub(v);
                    *seen -= 1;
                }
            }
            Acc::SumF { sum, seen } => {
                if let Some(v) = arg.f64(i) {
                    *sum -= v;
                    *seen -= 1;
                }
            }
            Acc::Avg { sum, count } => {
                if let Some(v) = arg.f64(i) {
                    *sum -= v;
                    *count -= 1;
                }
            }
            Acc::Min(_) | Acc::Max(_) => {
                return Err(EngineError::plan(
                    "Aggregate",
                    "MIN and MAX cannot be computed over a table (a removed row cannot be undone); aggregate the stream instead",
                ))
            }
            Acc::Udaf(u) => u.retract(args, i)?,
        }
        Ok(())
    }

    /// Folds `other` (same function) in: session merges.
    pub(crate) fn merge(&mut self, other: &Acc) -> Result<()> {
        match (self, other) {
            (Acc::Count(a), Acc::Count(b)) => *a += b,
            (Acc::SumI { sum, seen }, Acc::SumI { sum: s2, seen: n2 }) => {
                *sum = sum.wrapping_add(*s2);
                *seen += n2;
            }
            (Acc::SumF { sum, seen }, Acc::SumF { sum: s2, seen: n2 }) => {
                *sum += s2;
                *seen += n2;
            }
            (Acc::Min(a), Acc::Min(b)) => {
                if let Some(b) = b {
                    if a.as_ref().is_none_or(|x| b < x) {
                        *a = Some(b.clone());
                    }
                }
            }
            (Acc::Max(a), Acc::Max(b)) => {
                if let Some(b) = b {
                    if a.as_ref().is_none_or(|x| b > x) {
                        *a = Some(b.clone());
                    }
                }
            }
            (Acc::Avg { sum, count }, Acc::Avg { sum: s2, count: c2 }) => {
                *sum += s2;
                *count += c2;
            }
            (Acc::Udaf(a), Acc::Udaf(b)) => a.merge(&b.state())?,
            _ => return Err(EngineError::Internal("merging accumulators of different functions".into())),
        }
        Ok(())
    }

    /// Appends the current result to `out`.
    pub(crate) fn append_to(&self, out: &mut OutBuilder) {
        match (self, out) {
            (Acc::Count(c), OutBuilder::I64(b)) => b.append_value(*c),
            (Acc::SumI { sum, seen }, OutBuilder::I64(b)) => {
                if *seen > 0 {
                    b.append_value(*sum)
                } else {
                    b.append_null()
                }
            }
            (Acc::SumF { sum, seen }, OutBuilder::F64(b)) => {
                if *seen > 0 {
                    b.append_value(*sum)
                } else {
                    b.append_null()
                }
            }
            (Acc::Avg { sum, count }, OutBuilder::F64(b)) => {
                if *count > 0 {
                    b.append_value(*sum / *count as f64)
                } else {
                    b.append_null()
                }
            }
            (Acc::Min(v) | Acc::Max(v), out) => match (v, out) {
                (Some(Val::I(x)), OutBuilder::I64(b)) => b.append_value(*x),
                (Some(Val::I(x)), OutBuilder::I32(b)) => b.append_value(*x as i32),
                (Some(Val::F(x)), OutBuilder::F64(b)) => b.append_value(*x),
                (Some(Val::S(x)), OutBuilder::Str(b)) => b.append_value(x),
                (_, o) => o.append_null(),
            },
            (Acc::Udaf(u), o) => o.append_scalar(&u.evaluate()),
            (_, o) => o.append_null(),
        }
    }

    /// Serializes into `out`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        fn val(out: &mut Vec<u8>, v: &Option<Val>) {
            match v {
                None => out.push(0),
                Some(Val::I(x)) => {
                    out.push(1);
                    out.extend_from_slice(&x.to_be_bytes());
                }
                Some(Val::F(x)) => {
                    out.push(2);
                    out.extend_from_slice(&x.to_bits().to_be_bytes());
                }
                Some(Val::S(s)) => {
                    out.push(3);
                    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
                    out.extend_from_slice(s.as_bytes());
                }
            }
        }
        match self {
            Acc::Count(c) => out.extend_from_slice(&c.to_be_bytes()),
            Acc::SumI { sum, seen } => {
                out.extend_from_slice(&sum.to_be_bytes());
                out.extend_from_slice(&seen.to_be_bytes());
            }
            Acc::SumF { sum, seen } => {
                out.extend_from_slice(&sum.to_bits().to_be_bytes());
                out.extend_from_slice(&seen.to_be_bytes());
            }
            Acc::Avg { sum, count } => {
                out.extend_from_slice(&sum.to_bits().to_be_bytes());
                out.extend_from_slice(&count.to_be_bytes());
            }
            Acc::Min(v) | Acc::Max(v) => val(out, v),
            Acc::Udaf(u) => {
                let s = u.state();
                out.extend_from_slice(&(s.len() as u32).to_be_bytes());
                out.extend_from_slice(&s);
            }
        }
    }

    /// Replaces the state with one read from `input`, advancing it.
    pub(crate) fn decode(&mut self, input: &mut &[u8]) -> Result<()> {
        fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8]> {
            if input.len() < n {
                return Err(EngineError::Internal("aggregate state is truncated".into()));
            }
            let (a, b) = input.split_at(n);
            *input = b;
            Ok(a)
        }
        fn i64_of(input: &mut &[u8]) -> Result<i64> {
            let b = take(input, 8)?;
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            Ok(i64::from_be_bytes(a))
        }
        fn val(input: &mut &[u8]) -> Result<Option<Val>> {
            let tag = take(input, 1)?[0];
            Ok(match tag {
                0 => None,
                1 => Some(Val::I(i64_of(input)?)),
                2 => Some(Val::F(f64::from_bits(i64_of(input)? as u64))),
                3 => {
                    let n = u32::from_be_bytes(take(input, 4)?.try_into().map_err(|_| EngineError::Internal("len".into()))?);
                    let s = take(input, n as usize)?;
                    Some(Val::S(String::from_utf8_lossy(s).into_owned()))
                }
                t => return Err(EngineError::Internal(format!("unknown aggregate value tag {t}"))),
            })
        }
        match self {
            Acc::Count(c) => *c = i64_of(input)?,
            Acc::SumI { sum, seen } => {
                *sum = i64_of(input)?;
                *seen = i64_of(input)?;
            }
            Acc::SumF { sum, seen } => {
                *sum = f64::from_bits(i64_of(input)? as u64);
                *seen = i64_of(input)?;
            }
            Acc::Avg { sum, count } => {
                *sum = f64::from_bits(i64_of(input)? as u64);
                *count = i64_of(input)?;
            }
            Acc::Min(v) | Acc::Max(v) => *v = val(input)?,
            Acc::Udaf(u) => {
                let n = u32::from_be_bytes(take(input, 4)?.try_into().map_err(|_| EngineError::Internal("len".into()))?);
                u.load(take(input, n as usize)?)?;
            }
        }
        Ok(())
    }
}

/// Fresh accumulators for `aggs`, whose arguments have `arg_types`.
/// What every grouped-aggregation operator (plain, session, sliding)
/// derives from its input and its aggregates: the key's row converter, the
/// argument types, and the carried columns with their converter and the row
/// bytes of an all-NULL carry.
pub(crate) struct AggInput {
    pub key_conv: arrow::row::RowConverter,
    pub arg_types: Vec<Vec<DataType>>,
    pub carry_idx: Vec<usize>,
    pub carry_conv: Option<arrow::row::RowConverter>,
    pub null_carry: Vec<u8>,
}

fn row_converter(name: &str, types: impl Iterator<Item = DataType>) -> Result<arrow::row::RowConverter> {
    arrow::row::RowConverter::new(types.map(arrow::row::SortField::new).collect()).map_err(|e| EngineError::arrow(name, e))
}

impl AggInput {
    /// The layout for aggregating `input` with `aggs`, carrying `carry`.
    ///
    /// # Errors
    /// Unknown carried columns; argument types that do not resolve; key or
    /// carry types the row format cannot hold.
    pub(crate) fn new(name: &str, input: &crate::plan::Meta, aggs: &[crate::plan::AggExpr], carry: &[String]) -> Result<Self> {
        let fields = input.schema.fields();
        let key_conv = row_converter(name, fields[..input.key_len].iter().map(|f| f.data_type().clone()))?;
        let arg_types = aggs
            .iter()
            .map(|a| a.args.iter().map(|e| crate::physical::expr::expr_type(e, &input.schema)).collect::<Result<Vec<_>>>())
            .collect::<Result<Vec<_>>>()?;
        let carry_idx = carry
            .iter()
            .map(|c| input.schema.index_of(c).map_err(|e| EngineError::arrow(name, e)))
            .collect::<Result<Vec<_>>>()?;
        let (carry_conv, null_carry) = if carry_idx.is_empty() {
            (None, Vec::new())
        } else {
            let conv = row_converter(name, carry_idx.iter().map(|&i| fields[i].data_type().clone()))?;
            let nulls: Vec<ArrayRef> = carry_idx.iter().map(|&i| arrow::array::new_null_array(fields[i].data_type(), 1)).collect();
            let rows = conv.convert_columns(&nulls).map_err(|e| EngineError::arrow(name, e))?;
            let null_row = rows.row(0).as_ref().to_vec();
            (Some(conv), null_row)
        };
        Ok(AggInput { key_conv, arg_types, carry_idx, carry_conv, null_carry })
    }
}

/// The carried columns of a batch (`cols`) in row format, when the
/// aggregation carries any.
///
/// # Errors
/// Columns that do not match the converter.
pub(crate) fn carry_rows(
    name: &str,
    conv: Option<&arrow::row::RowConverter>,
    carry_idx: &[usize],
    cols: &[ArrayRef],
) -> Result<Option<arrow::row::Rows>> {
    let Some(c) = conv else { return Ok(None) };
    let cc: Vec<ArrayRef> = carry_idx.iter().map(|&i| cols[i].clone()).collect();
    c.convert_columns(&cc).map(Some).map_err(|e| EngineError::arrow(name, e))
}

pub(crate) fn new_accs(aggs: &[crate::plan::AggExpr], arg_types: &[Vec<DataType>]) -> Result<Vec<Acc>> {
    aggs.iter().zip(arg_types).map(|(a, t)| Acc::new(&a.func, t)).collect()
}

/// A group's accumulators, held inline for up to two aggregates (the
/// common case): a new group then costs no allocation of its own.
pub(crate) type Accs = smallvec::SmallVec<[Acc; 2]>;

/// The accumulators of a new group. Built-in aggregates start from
/// constants and are copied from a template made once; a user-defined
/// aggregate asks its factory every time.
pub(crate) struct FreshAccs {
    aggs: Vec<crate::plan::AggExpr>,
    arg_types: Vec<Vec<DataType>>,
    /// Set when every aggregate is built in.
    template: Option<Vec<Acc>>,
}

impl FreshAccs {
    pub(crate) fn new(aggs: &[crate::plan::AggExpr], arg_types: &[Vec<DataType>]) -> Result<Self> {
        let template = new_accs(aggs, arg_types)?;
        let builtin = template.iter().all(|a| a.copy_fresh().is_some());
        Ok(FreshAccs { aggs: aggs.to_vec(), arg_types: arg_types.to_vec(), template: builtin.then_some(template) })
    }

    /// A new group's accumulators.
    ///
    /// # Errors
    /// A user-defined aggregate's factory failing.
    #[inline]
    pub(crate) fn make(&self) -> Result<Accs> {
        if let Some(t) = &self.template {
            let accs: Accs = t.iter().filter_map(Acc::copy_fresh).collect();
            if accs.len() == t.len() {
                return Ok(accs);
            }
        }
        Ok(new_accs(&self.aggs, &self.arg_types)?.into_iter().collect())
    }
}

/// Serializes a group's state: the carried row (4-byte length, `u32::MAX`
/// for none) then each accumulator. Shared by the time-window and session
/// aggregates so their stores hold one layout.
pub(crate) fn encode_state(carry: Option<&[u8]>, accs: &[Acc], out: &mut Vec<u8>) {
    match carry {
        Some(c) => {
            out.extend_from_slice(&(c.len() as u32).to_be_bytes());
            out.extend_from_slice(c);
        }
        None => out.extend_from_slice(&u32::MAX.to_be_bytes()),
    }
    for a in accs {
        a.encode(out);
    }
}

/// Reads what [`encode_state`] wrote into `accs`; returns the carried row.
///
/// # Errors
/// Truncated or malformed bytes.
pub(crate) fn decode_state(mut input: &[u8], accs: &mut [Acc]) -> Result<Option<Box<[u8]>>> {
    let truncated = || EngineError::Internal("aggregate state is truncated".into());
    let n = input.get(..4).ok_or_else(truncated)?;
    let n = u32::from_be_bytes([n[0], n[1], n[2], n[3]]);
    input = &input[4..];
    let carry = if n == u32::MAX {
        None
    } else {
        let c = input.get(..n as usize).ok_or_else(truncated)?;
        input = &input[n as usize..];
        Some(c.into())
    };
    for a in accs {
        a.decode(&mut input)?;
    }
    Ok(carry)
}

/// A builder for one aggregate output column.
pub(crate) enum OutBuilder {
    I32(Int32Builder),
    I64(Int64Builder),
    F64(Float64Builder),
    Str(StringBuilder),
    Bool(BooleanBuilder),
    /// Any other type: one-element arrays, concatenated at the end.
    Any(DataType, Vec<ArrayRef>),
}

impl OutBuilder {
    pub(crate) fn new(t: &DataType, cap: usize) -> Result<Self> {
        Ok(match t {
            DataType::Int32 => OutBuilder::I32(Int32Builder::with_capacity(cap)),
            DataType::Int64 | DataType::Timestamp(_, _) => OutBuilder::I64(Int64Builder::with_capacity(cap)),
            DataType::Float64 => OutBuilder::F64(Float64Builder::with_capacity(cap)),
            DataType::Utf8 => OutBuilder::Str(StringBuilder::with_capacity(cap, cap * 8)),
            DataType::Boolean => OutBuilder::Bool(BooleanBuilder::with_capacity(cap)),
            t => OutBuilder::Any(t.clone(), Vec::with_capacity(cap)),
        })
    }

    pub(crate) fn append_null(&mut self) {
        match self {
            OutBuilder::I32(b) => b.append_null(),
            OutBuilder::I64(b) => b.append_null(),
            OutBuilder::F64(b) => b.append_null(),
            OutBuilder::Str(b) => b.append_null(),
            OutBuilder::Bool(b) => b.append_null(),
            OutBuilder::Any(t, v) => v.push(arrow::array::new_null_array(t, 1)),
        }
    }

    pub(crate) fn append_scalar(&mut self, v: &ScalarValue) {
        match (self, v) {
            (OutBuilder::I32(b), ScalarValue::Int32(x)) => b.append_value(*x),
            (OutBuilder::I64(b), ScalarValue::Int64(x) | ScalarValue::TimestampMs(x)) => b.append_value(*x),
            (OutBuilder::I64(b), ScalarValue::Int32(x)) => b.append_value(i64::from(*x)),
            (OutBuilder::F64(b), ScalarValue::Float64(x)) => b.append_value(*x),
            (OutBuilder::Str(b), ScalarValue::Utf8(x)) => b.append_value(x),
            (OutBuilder::Bool(b), ScalarValue::Boolean(x)) => b.append_value(*x),
            (OutBuilder::Any(t, v), ScalarValue::Array(a)) if a.len() == 1 && a.data_type() == t => v.push(a.clone()),
            (o, _) => o.append_null(),
        }
    }

    /// Finishes into an array of type `t`.
    pub(crate) fn finish(&mut self, t: &DataType) -> Result<ArrayRef> {
        let a: ArrayRef = match self {
            OutBuilder::I32(b) => std::sync::Arc::new(b.finish()),
            OutBuilder::I64(b) => std::sync::Arc::new(b.finish()),
            OutBuilder::F64(b) => std::sync::Arc::new(b.finish()),
            OutBuilder::Str(b) => std::sync::Arc::new(b.finish()),
            OutBuilder::Bool(b) => std::sync::Arc::new(b.finish()),
            OutBuilder::Any(t, v) => {
                let parts: Vec<&dyn arrow::array::Array> = v.iter().map(|a| a.as_ref()).collect();
                let a = if parts.is_empty() {
                    arrow::array::new_empty_array(t)
                } else {
                    arrow::compute::concat(&parts).map_err(|e| EngineError::arrow("aggregate output", e))?
                };
                v.clear();
                a
            }
        };
        if a.data_type() == t {
            Ok(a)
        } else {
            arrow::compute::cast(&a, t).map_err(|e| EngineError::arrow("aggregate output", e))
        }
    }
}
