//! Mathematical functions: ABS, CEIL, FLOOR, ROUND, TRUNC, SIGN, SQRT,
//! CBRT, EXP, LN, LOG, POWER, trigonometry, PI, RANDOM, GREATEST, LEAST,
//! GEO_DISTANCE.
//!
//! ROUND follows ksqlDB (and Java's `Math.round`): halves round towards
//! positive infinity, so `ROUND(-1.5)` is `-1`. Doubles are rounded to a
//! number of places through their shortest decimal form, as ksqlDB does
//! with `BigDecimal.valueOf`.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{
    ambiguous, any_null, arg_f64, arg_int, int_result, intish, nullish, numish, reject, udf, EvalResult,
    TypeResult,
};
use crate::functions::Udf;
use crate::types::SqlType;
use crate::value::Value;

/// The math functions.
pub(super) fn all() -> Vec<Udf> {
    vec![
        udf!("ABS", "MATHEMATICAL", "Absolute value.", same_numeric, abs),
        udf!("CEIL", "MATHEMATICAL", "Smallest integral value not below the argument.", same_numeric, ceil),
        udf!("FLOOR", "MATHEMATICAL", "Largest integral value not above the argument.", same_numeric, floor),
        udf!("ROUND", "MATHEMATICAL", "Rounds to the nearest integer, or to a number of decimal places.", round_type, round),
        udf!("TRUNC", "MATHEMATICAL", "Truncates towards zero, optionally to a number of decimal places.", round_type, trunc),
        udf!("SIGN", "MATHEMATICAL", "The sign of a number: -1, 0 or 1.", sign_type, sign),
        udf!("SQRT", "MATHEMATICAL", "Square root.", double_1, |a, _| unary(a, f64::sqrt)),
        udf!("CBRT", "MATHEMATICAL", "Cube root.", double_1, |a, _| unary(a, f64::cbrt)),
        udf!("EXP", "MATHEMATICAL", "e raised to the argument.", double_1, |a, _| unary(a, f64::exp)),
        udf!("LN", "MATHEMATICAL", "Natural logarithm.", double_1, |a, _| unary(a, f64::ln)),
        udf!("LOG", "MATHEMATICAL", "Logarithm in base 10, or in the given base.", log_type, log),
        udf!("POWER", "MATHEMATICAL", "The first argument raised to the second.", double_2, power),
        udf!("SIN", "MATHEMATICAL", "Sine.", double_1, |a, _| unary(a, f64::sin)),
        udf!("COS", "MATHEMATICAL", "Cosine.", double_1, |a, _| unary(a, f64::cos)),
        udf!("TAN", "MATHEMATICAL", "Tangent.", double_1, |a, _| unary(a, f64::tan)),
        udf!("COT", "MATHEMATICAL", "Cotangent.", double_1, |a, _| unary(a, |x| 1.0 / x.tan())),
        udf!("ASIN", "MATHEMATICAL", "Arc sine.", double_1, |a, _| unary(a, f64::asin)),
        udf!("ACOS", "MATHEMATICAL", "Arc cosine.", double_1, |a, _| unary(a, f64::acos)),
        udf!("ATAN", "MATHEMATICAL", "Arc tangent.", double_1, |a, _| unary(a, f64::atan)),
        udf!("ATAN2", "MATHEMATICAL", "Angle of the point (x, y) given as (y, x).", double_2, atan2),
        udf!("SINH", "MATHEMATICAL", "Hyperbolic sine.", double_1, |a, _| unary(a, f64::sinh)),
        udf!("COSH", "MATHEMATICAL", "Hyperbolic cosine.", double_1, |a, _| unary(a, f64::cosh)),
        udf!("TANH", "MATHEMATICAL", "Hyperbolic tangent.", double_1, |a, _| unary(a, f64::tanh)),
        udf!("DEGREES", "MATHEMATICAL", "Radians to degrees.", double_1, |a, _| unary(a, f64::to_degrees)),
        udf!("RADIANS", "MATHEMATICAL", "Degrees to radians.", double_1, |a, _| unary(a, f64::to_radians)),
        udf!("PI", "MATHEMATICAL", "The value of pi.", no_args_double, |_, _| Ok(Value::Double(std::f64::consts::PI))),
        udf!("RANDOM", "MATHEMATICAL", "A random DOUBLE in [0, 1).", no_args_double, |_, _| Ok(Value::Double(random()))),
        udf!("GREATEST", "MATHEMATICAL", "The largest of the non-NULL arguments.", extreme_type, greatest),
        udf!("LEAST", "MATHEMATICAL", "The smallest of the non-NULL arguments.", extreme_type, least),
        udf!(
            "GEO_DISTANCE",
            "MATHEMATICAL",
            "Great-circle distance between two lat/lon points, in KM (default) or MI.",
            geo_type,
            geo_distance
        ),
    ]
}

fn same_numeric(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [t] if t.is_numeric() => Ok(t.clone()),
        [t] if nullish(t) => Ok(SqlType::Double),
        _ => Err(reject(name, a)),
    }
}

fn double_1(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [t] if numish(t) => Ok(SqlType::Double),
        _ => Err(reject(name, a)),
    }
}

fn double_2(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [x, y] if numish(x) && numish(y) => Ok(SqlType::Double),
        _ => Err(reject(name, a)),
    }
}

fn no_args_double(name: &str, a: &[SqlType]) -> TypeResult {
    if a.is_empty() {
        Ok(SqlType::Double)
    } else {
        Err(reject(name, a))
    }
}

fn log_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [t] if numish(t) => Ok(SqlType::Double),
        [b, v] if numish(b) && numish(v) => Ok(SqlType::Double),
        _ => Err(reject(name, a)),
    }
}

fn unary(a: &[Value], f: fn(f64) -> f64) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    Ok(Value::Double(f(arg_f64(a, 0)?)))
}

fn log(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    if a.len() == 1 {
        return Ok(Value::Double(arg_f64(a, 0)?.log10()));
    }
    let (b, v) = (arg_f64(a, 0)?, arg_f64(a, 1)?);
    if b <= 0.0 || b == 1.0 {
        return Ok(Value::Double(f64::NAN));
    }
    Ok(Value::Double(v.ln() / b.ln()))
}

fn power(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    Ok(Value::Double(arg_f64(a, 0)?.powf(arg_f64(a, 1)?)))
}

fn atan2(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    Ok(Value::Double(arg_f64(a, 0)?.atan2(arg_f64(a, 1)?)))
}

fn abs(a: &[Value], _: &SqlType) -> EvalResult {
    Ok(match a.first() {
        Some(Value::Int(v)) => Value::Int(v.checked_abs().ok_or("INT overflow")?),
        Some(Value::Bigint(v)) => Value::Bigint(v.checked_abs().ok_or("BIGINT overflow")?),
        Some(Value::Double(v)) => Value::Double(v.abs()),
        Some(Value::Decimal(u, s)) => Value::Decimal(u.abs(), *s),
        _ => Value::Null,
    })
}

/// Floor division.
fn div_floor(a: i128, b: i128) -> i128 {
    let q = a / b;
    if (a % b != 0) && ((a < 0) != (b < 0)) {
        q - 1
    } else {
        q
    }
}

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

/// `u` (at some scale) with its last `d` digits dropped by `mode`:
/// 0 truncate, 1 floor, 2 ceil, 3 half towards +∞. Result keeps the
/// dropped digits as zeros when `keep` is true.
fn drop_digits(u: i128, d: i32, mode: u8, keep: bool) -> Option<i128> {
    if d <= 0 {
        return Some(u);
    }
    let Some(div) = pow10(d as u32) else {
        // Every digit dropped.
        let q = match mode {
            1 if u < 0 => -1,
            2 if u > 0 => 1,
            _ => 0,
        };
        return if keep { (q == 0).then_some(0) } else { Some(q) };
    };
    let fl = div_floor(u, div);
    let r = u - fl * div;
    let q = match mode {
        0 => u / div,
        1 => fl,
        2 => {
            if r > 0 {
                fl + 1
            } else {
                fl
            }
        }
        _ => {
            if r * 2 >= div {
                fl + 1
            } else {
                fl
            }
        }
    };
    if keep {
        q.checked_mul(div)
    } else {
        Some(q)
    }
}

fn ceil(a: &[Value], _: &SqlType) -> EvalResult {
    Ok(match a.first() {
        Some(v @ (Value::Int(_) | Value::Bigint(_))) => v.clone(),
        Some(Value::Double(v)) => Value::Double(v.ceil()),
        Some(Value::Decimal(u, s)) => {
            Value::Decimal(drop_digits(*u, i32::from(*s), 2, true).ok_or("decimal overflow")?, *s)
        }
        _ => Value::Null,
    })
}

fn floor(a: &[Value], _: &SqlType) -> EvalResult {
    Ok(match a.first() {
        Some(v @ (Value::Int(_) | Value::Bigint(_))) => v.clone(),
        Some(Value::Double(v)) => Value::Double(v.floor()),
        Some(Value::Decimal(u, s)) => {
            Value::Decimal(drop_digits(*u, i32::from(*s), 1, true).ok_or("decimal overflow")?, *s)
        }
        _ => Value::Null,
    })
}

fn round_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::Decimal { precision, scale }] => {
            let p = (i32::from(*precision) - i32::from(*scale)).max(1);
            Ok(SqlType::Decimal { precision: p as u8, scale: 0 })
        }
        [t] if t.is_integer() => Ok(if name == "TRUNC" { t.clone() } else { SqlType::Bigint }),
        [t] if numish(t) => Ok(SqlType::Bigint),
        [t @ SqlType::Decimal { .. }, p] if intish(p) => Ok(t.clone()),
        [t, p] if numish(t) && intish(p) => Ok(SqlType::Double),
        _ => Err(reject(name, a)),
    }
}

/// The shortest decimal form of a finite double: `(unscaled, scale)`
/// with `v == unscaled * 10^-scale`.
pub(crate) fn double_to_decimal(v: f64) -> Option<(i128, i32)> {
    if !v.is_finite() {
        return None;
    }
    let text = format!("{v:e}");
    let (mantissa, exp) = text.split_once('e')?;
    let exp: i32 = exp.parse().ok()?;
    let negative = mantissa.starts_with('-');
    let mantissa = mantissa.trim_start_matches('-');
    let (int_part, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: String = format!("{int_part}{frac}");
    let unscaled: i128 = digits.parse().ok()?;
    let scale = frac.len() as i32 - exp;
    Some((if negative { -unscaled } else { unscaled }, scale))
}

/// `unscaled * 10^-scale` as a double, correctly rounded.
fn decimal_to_double(unscaled: i128, scale: i32) -> f64 {
    format!("{unscaled}e{}", -scale).parse().unwrap_or(f64::NAN)
}

/// Rounds (`mode` 3) or truncates (`mode` 0) a double to `places`.
fn double_places(v: f64, places: i64, mode: u8) -> f64 {
    let Some((u, s)) = double_to_decimal(v) else {
        return v;
    };
    let places = places.clamp(-400, 400) as i32;
    let d = s - places;
    if d <= 0 {
        return v;
    }
    match drop_digits(u, d, mode, false) {
        Some(q) => decimal_to_double(q, places),
        None => 0.0,
    }
}

fn round_or_trunc(a: &[Value], ret: &SqlType, mode: u8) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let places = if a.len() > 1 { Some(arg_int(a, 1)?) } else { None };
    match (&a[0], places) {
        (Value::Int(v), None) => int_result(i64::from(*v), ret),
        (Value::Bigint(v), None) => int_result(*v, ret),
        (Value::Double(v), None) => {
            if !v.is_finite() {
                return Err("not a finite number".into());
            }
            let r = if mode == 0 { v.trunc() } else { (v + 0.5).floor() };
            Ok(Value::Bigint(r as i64))
        }
        (Value::Decimal(u, s), None) => {
            Ok(Value::Decimal(drop_digits(*u, i32::from(*s), mode, false).ok_or("decimal overflow")?, 0))
        }
        (Value::Decimal(u, s), Some(p)) => {
            let d = i64::from(*s) - p;
            let d = d.clamp(-1000, 1000) as i32;
            Ok(Value::Decimal(drop_digits(*u, d, mode, true).ok_or("decimal overflow")?, *s))
        }
        (v, Some(p)) => {
            let x = v.as_f64().ok_or("not a number")?;
            Ok(Value::Double(double_places(x, p, mode)))
        }
        _ => Err("not a number".into()),
    }
}

fn round(a: &[Value], ret: &SqlType) -> EvalResult {
    round_or_trunc(a, ret, 3)
}

fn trunc(a: &[Value], ret: &SqlType) -> EvalResult {
    round_or_trunc(a, ret, 0)
}

fn sign_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [t] if numish(t) => Ok(SqlType::Int),
        _ => Err(reject(name, a)),
    }
}

fn sign(a: &[Value], _: &SqlType) -> EvalResult {
    Ok(match a.first() {
        Some(Value::Int(v)) => Value::Int(v.signum()),
        Some(Value::Bigint(v)) => Value::Int(v.signum() as i32),
        Some(Value::Decimal(u, _)) => Value::Int(u.signum() as i32),
        Some(Value::Double(v)) => {
            if v.is_nan() {
                return Err("NaN has no sign".into());
            }
            Value::Int(if *v > 0.0 {
                1
            } else if *v < 0.0 {
                -1
            } else {
                0
            })
        }
        _ => Value::Null,
    })
}

/// A pseudo-random double in [0, 1) (splitmix64 over a clock-seeded counter).
fn random() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut s = STATE.load(Ordering::Relaxed);
    if s == 0 {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9E37_79B9, |d| d.as_nanos() as u64);
        s = t | 1;
    }
    let next = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
    STATE.store(next, Ordering::Relaxed);
    let mut z = next;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Random 64 bits (shared with UUID).
pub(crate) fn random_u64() -> u64 {
    (random() * (1u64 << 53) as f64) as u64 ^ ((random() * (1u64 << 53) as f64) as u64) << 11
}

fn extreme_type(name: &str, a: &[SqlType]) -> TypeResult {
    let Some(first) = a.first() else {
        return Err(reject(name, a));
    };
    if !first.is_numeric() {
        // All of one non-numeric type (STRING, DATE, …).
        let ok = a.iter().all(|t| t == first || nullish(t));
        return if ok && matches!(first, SqlType::String | SqlType::Bytes | SqlType::Date | SqlType::Time | SqlType::Timestamp) {
            Ok(first.clone())
        } else {
            Err(reject(name, a))
        };
    }
    let typed: Vec<&SqlType> = a.iter().filter(|t| !nullish(t)).collect();
    if typed.iter().any(|t| !t.is_numeric()) {
        return Err(reject(name, a));
    }
    if typed.iter().any(|t| **t == SqlType::Double) {
        return Ok(SqlType::Double);
    }
    if typed.iter().all(|t| *t == typed[0]) {
        return Ok(typed[0].clone());
    }
    if typed.iter().all(|t| matches!(t, SqlType::Decimal { .. })) {
        let (mut int_digits, mut scale) = (0i32, 0i32);
        for t in &typed {
            if let SqlType::Decimal { precision, scale: s } = t {
                int_digits = int_digits.max(i32::from(*precision) - i32::from(*s));
                scale = scale.max(i32::from(*s));
            }
        }
        let precision = (int_digits + scale).min(38);
        return Ok(SqlType::Decimal { precision: precision as u8, scale: scale as i8 });
    }
    Err(ambiguous(name, a))
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    super::collections::compare_values(a, b)
}

/// A string argument among DATE, TIME or TIMESTAMP ones, read as ksqlDB
/// reads such literals: ISO `2022-06-14`, `09:16:00[.fff]`,
/// `2022-06-14[T09:16:00[.fff]]` (UTC).
fn temporal_from_string(s: &str, ty: &SqlType) -> Option<Value> {
    use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    let s = s.trim();
    match ty {
        SqlType::Date => {
            let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
            i32::try_from((d - epoch).num_days()).ok().map(Value::Date)
        }
        SqlType::Time => {
            let t = NaiveTime::parse_from_str(s, "%H:%M:%S%.f").or_else(|_| NaiveTime::parse_from_str(s, "%H:%M")).ok()?;
            i32::try_from(t.num_seconds_from_midnight() * 1000 + t.nanosecond() / 1_000_000).ok().map(Value::Time)
        }
        SqlType::Timestamp => {
            let dt = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
                .ok()
                .or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))?;
            Some(Value::Timestamp(dt.and_utc().timestamp_millis()))
        }
        _ => None,
    }
}

fn extreme(a: &[Value], ret: &SqlType, want: std::cmp::Ordering) -> EvalResult {
    let mut best: Option<Value> = None;
    for v in a.iter().filter(|v| !v.is_null()) {
        let v = match v {
            Value::String(s) if matches!(ret, SqlType::Date | SqlType::Time | SqlType::Timestamp) => {
                temporal_from_string(s, ret).ok_or("argument is not a date, time or timestamp")?
            }
            v => v.clone().coerce(ret).ok_or("argument does not fit the result type")?,
        };
        best = match best {
            None => Some(v),
            Some(b) => {
                if compare(&v, &b) == Some(want) {
                    Some(v)
                } else {
                    Some(b)
                }
            }
        };
    }
    Ok(best.unwrap_or(Value::Null))
}

fn greatest(a: &[Value], ret: &SqlType) -> EvalResult {
    extreme(a, ret, std::cmp::Ordering::Greater)
}

fn least(a: &[Value], ret: &SqlType) -> EvalResult {
    extreme(a, ret, std::cmp::Ordering::Less)
}

fn geo_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [x, y, z, w] if [x, y, z, w].iter().all(|t| numish(t)) => Ok(SqlType::Double),
        [x, y, z, w, u] if [x, y, z, w].iter().all(|t| numish(t)) && *u == SqlType::String => Ok(SqlType::Double),
        _ => Err(reject(name, a)),
    }
}

fn geo_distance(a: &[Value], _: &SqlType) -> EvalResult {
    if a.iter().take(4).any(Value::is_null) {
        return Ok(Value::Null);
    }
    let (lat1, lon1, lat2, lon2) = (arg_f64(a, 0)?, arg_f64(a, 1)?, arg_f64(a, 2)?, arg_f64(a, 3)?);
    let radius = match a.get(4) {
        None | Some(Value::Null) => 6371.0,
        Some(Value::String(u)) => match u.to_ascii_lowercase().as_str() {
            "mi" | "mile" | "miles" => 3959.0,
            "km" | "kilometer" | "kilometers" | "kilometre" | "kilometres" => 6371.0,
            other => return Err(format!("GEO_DISTANCE unit must be KM or MI, not {other}")),
        },
        Some(_) => return Err("bad unit".into()),
    };
    if !(-90.0..=90.0).contains(&lat1) || !(-90.0..=90.0).contains(&lat2) {
        return Err("latitude must be between -90 and 90".into());
    }
    if !(-180.0..=180.0).contains(&lon1) || !(-180.0..=180.0).contains(&lon2) {
        return Err("longitude must be between -180 and 180".into());
    }
    // As Java 8's Math.toRadians computes it (ksqlDB's outputs match).
    let rad = |x: f64| x / 180.0 * std::f64::consts::PI;
    let (p1, p2) = (rad(lat1), rad(lat2));
    let dlat = rad(lat2 - lat1);
    let dlon = rad(lon2 - lon1);
    let h = (dlat / 2.0).sin().powi(2) + (dlon / 2.0).sin().powi(2) * p1.cos() * p2.cos();
    let c = 2.0 * h.sqrt().asin();
    Ok(Value::Double(c * radius))
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{call, call_typed, rt, s};
    use super::*;

    fn d(v: f64) -> Value {
        Value::Double(v)
    }

    #[test]
    fn round_doubles_like_ksqldb() {
        let cases = [(1.5, 2), (-1.5, -1), (-1.7, -2), (12345.678, 12346), (-12345.678, -12346)];
        for (x, want) in cases {
            assert_eq!(call("ROUND", &[d(x)]), Value::Bigint(want), "ROUND({x})");
        }
        assert_eq!(call("ROUND", &[d(1.234567), Value::Int(2)]), d(1.23));
        assert_eq!(call("ROUND", &[d(-12345.678), Value::Int(2)]), d(-12345.68));
        assert_eq!(call("ROUND", &[d(12345.678), Value::Int(-2)]), d(12300.0));
        assert_eq!(call("ROUND", &[d(-1.5), Value::Int(0)]), d(-1.0));
        assert_eq!(call("ROUND", &[d(111.0), Value::Int(-1)]), d(110.0));
        assert_eq!(call("ROUND", &[d(1.2), Value::Int(-1)]), d(0.0));
        assert_eq!(call("ROUND", &[Value::Null, Value::Int(1)]), Value::Null);
    }

    #[test]
    fn round_decimals() {
        let t = SqlType::Decimal { precision: 33, scale: 16 };
        assert_eq!(rt("ROUND", &[t.clone()]), Ok(SqlType::Decimal { precision: 17, scale: 0 }));
        let v = Value::Decimal(123_456_789_876_543_212_345_678_987_654_321, 16);
        assert_eq!(
            call_typed("ROUND", &[v.clone()], &[t.clone()]),
            Value::Decimal(12_345_678_987_654_321, 0)
        );
        assert_eq!(
            call_typed("ROUND", &[v.clone(), Value::Int(-1)], &[t.clone(), SqlType::Int]),
            Value::Decimal(123_456_789_876_543_200_000_000_000_000_000, 16)
        );
        assert_eq!(
            call_typed("ROUND", &[v, Value::Int(10)], &[t, SqlType::Int]),
            Value::Decimal(123_456_789_876_543_212_345_678_988_000_000, 16)
        );
        let t = SqlType::Decimal { precision: 2, scale: 1 };
        assert_eq!(call_typed("ROUND", &[Value::Decimal(-15, 1)], &[t]), Value::Decimal(-1, 0));
    }

    #[test]
    fn trunc_and_floor_ceil() {
        assert_eq!(call("TRUNC", &[d(-1.7)]), Value::Bigint(-1));
        assert_eq!(call("TRUNC", &[d(-12345.678), Value::Int(1)]), d(-12345.6));
        assert_eq!(call("TRUNC", &[d(12345.678), Value::Int(-1)]), d(12340.0));
        let t = SqlType::Decimal { precision: 12, scale: 7 };
        assert_eq!(
            call_typed("TRUNC", &[Value::Decimal(-123_456_780_000, 7), Value::Int(2)], &[t, SqlType::Int]),
            Value::Decimal(-123_456_700_000, 7)
        );
        assert_eq!(call("FLOOR", &[Value::Decimal(-11, 1)]), Value::Decimal(-20, 1));
        assert_eq!(call("CEIL", &[Value::Decimal(11, 1)]), Value::Decimal(20, 1));
        assert_eq!(call("FLOOR", &[d(-1.5)]), d(-2.0));
        assert_eq!(call("TRUNC", &[Value::Int(5)]), Value::Int(5));
    }

    #[test]
    fn logs_and_powers() {
        assert_eq!(call("LOG", &[Value::Int(15), Value::Int(13)]), d(0.9471572411831843));
        assert!(matches!(call("LOG", &[Value::Int(1), Value::Int(13)]), Value::Double(x) if x.is_nan()));
        assert_eq!(call("LOG", &[Value::Int(15), Value::Int(0)]), d(f64::NEG_INFINITY));
        assert_eq!(call("LOG", &[Value::Int(13)]), d(1.1139433523068367));
        assert_eq!(call("POWER", &[Value::Int(15), Value::Int(-1)]), d(0.06666666666666667));
        assert_eq!(call("EXP", &[Value::Int(-1)]), d(0.36787944117144233));
        assert_eq!(call("CBRT", &[Value::Bigint(-3)]), d(-1.4422495703074083));
        assert_eq!(call("COT", &[Value::Int(0)]), d(f64::INFINITY));
        assert_eq!(call("SIGN", &[d(-3.0)]), Value::Int(-1));
        assert_eq!(call("ABS", &[Value::Decimal(-15, 1)]), Value::Decimal(15, 1));
    }

    #[test]
    fn greatest_least_types() {
        assert_eq!(rt("GREATEST", &[]), Err("Function 'greatest' does not accept parameters ().".into()));
        assert_eq!(temporal_from_string("2022-06-14", &SqlType::Date), Some(Value::Date(19157)));
        assert_eq!(temporal_from_string("09:16:00", &SqlType::Time), Some(Value::Time(33_360_000)));
        assert_eq!(temporal_from_string("2022-06-14", &SqlType::Timestamp), Some(Value::Timestamp(1_655_164_800_000)));
        assert_eq!(
            rt("GREATEST", &[SqlType::String, SqlType::Int]),
            Err("Function 'greatest' does not accept parameters (STRING, INTEGER).".into())
        );
        assert_eq!(
            rt("GREATEST", &[SqlType::Int, SqlType::Bigint]),
            Err("Function 'greatest' cannot be resolved due to ambiguous method parameters (INTEGER, BIGINT).".into())
        );
        assert_eq!(
            rt(
                "GREATEST",
                &[SqlType::Decimal { precision: 9, scale: 2 }, SqlType::Decimal { precision: 7, scale: 6 }]
            ),
            Ok(SqlType::Decimal { precision: 13, scale: 6 })
        );
        let types = [SqlType::Int, SqlType::Int, SqlType::String, SqlType::Int];
        assert_eq!(
            call_typed("GREATEST", &[Value::Int(2), Value::Int(-3), Value::Null, Value::Int(5)], &types),
            Value::Int(5)
        );
        let types = [SqlType::Int, SqlType::Bigint, SqlType::Double];
        assert_eq!(
            call_typed("GREATEST", &[Value::Int(500_000), Value::Bigint(1), d(99999.9)], &types),
            d(500_000.0)
        );
        assert_eq!(call("LEAST", &[s("b"), s("a")]), s("a"));
    }

    #[test]
    fn geo_distance_km_and_miles() {
        let p = [d(37.4439), d(-122.1663), d(51.5257), d(-0.1122)];
        assert_eq!(call("GEO_DISTANCE", &p), d(8634.659796579544));
        let mut with_unit = p.to_vec();
        with_unit.push(s("MI"));
        assert_eq!(call("GEO_DISTANCE", &with_unit), d(5365.659729188262));
        let p = [d(-33.9323), d(18.4197), d(-33.8666), d(151.1)];
        assert_eq!(call("GEO_DISTANCE", &p), d(11005.23304055582));
    }

    #[test]
    fn random_is_in_range() {
        for _ in 0..100 {
            let r = random();
            assert!((0.0..1.0).contains(&r));
        }
    }
}
