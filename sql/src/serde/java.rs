//! Number text the way the JVM writes and reads it, since ksqlDB's formats
//! are Java code: `Double.toString`, `Double.parseDouble`,
//! `Integer.parseInt`, `new BigDecimal(String)` and
//! `BigDecimal.toPlainString`, plus ksqlDB's `DecimalUtil.ensureFit`.

/// `x` as Java's `Double.toString` prints it: `1.0`, `0.001`, `1.0E7`,
/// `1.0E-4`, `NaN`, `Infinity`, `-0.0`. Digits are the shortest that read
/// back as `x` (what current JDKs print).
pub fn format_double(x: f64) -> String {
    let mut out = Vec::with_capacity(24);
    write_double(&mut out, x);
    String::from_utf8(out).unwrap_or_default()
}

/// A small stack buffer for `core::fmt` output.
struct StackBuf {
    buf: [u8; 40],
    len: usize,
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Appends [`format_double`]'s text to `out` without allocating.
pub fn write_double(out: &mut Vec<u8>, x: f64) {
    use std::fmt::Write as _;
    if x.is_nan() {
        out.extend_from_slice(b"NaN");
        return;
    }
    if x.is_infinite() {
        out.extend_from_slice(if x > 0.0 { b"Infinity" } else { b"-Infinity" });
        return;
    }
    if x == 0.0 {
        out.extend_from_slice(if x.is_sign_negative() { b"-0.0" } else { b"0.0" });
        return;
    }
    if x < 0.0 {
        out.push(b'-');
    }
    let abs = x.abs();
    // Rust's `{:e}` prints the shortest round-tripping digits: `1.2345e6`.
    let mut sci = StackBuf { buf: [0; 40], len: 0 };
    if write!(sci, "{abs:e}").is_err() {
        out.extend_from_slice(abs.to_string().as_bytes());
        return;
    }
    let sci = &sci.buf[..sci.len];
    let e_at = sci.iter().position(|&b| b == b'e').unwrap_or(sci.len());
    let exp: i32 = std::str::from_utf8(&sci[(e_at + 1).min(sci.len())..]).ok().and_then(|t| t.parse().ok()).unwrap_or(0);
    let mut digits = [0u8; 40];
    let mut n = 0;
    for &b in &sci[..e_at] {
        if b.is_ascii_digit() {
            digits[n] = b;
            n += 1;
        }
    }
    let digits = &digits[..n.max(1)];
    if (1e-3..1e7).contains(&abs) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.extend_from_slice(digits);
                out.extend(std::iter::repeat_n(b'0', int_len - digits.len()));
                out.extend_from_slice(b".0");
            } else {
                out.extend_from_slice(&digits[..int_len]);
                out.push(b'.');
                out.extend_from_slice(&digits[int_len..]);
            }
        } else {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-exp - 1) as usize));
            out.extend_from_slice(digits);
        }
    } else {
        out.push(digits[0]);
        out.push(b'.');
        if digits.len() > 1 {
            out.extend_from_slice(&digits[1..]);
        } else {
            out.push(b'0');
        }
        out.push(b'E');
        let mut e = StackBuf { buf: [0; 40], len: 0 };
        let _ = write!(e, "{exp}");
        out.extend_from_slice(&e.buf[..e.len]);
    }
}

/// Java's `Double.parseDouble`: surrounding whitespace ignored, optional
/// sign, `NaN`, `Infinity`, decimal digits with optional point and
/// exponent, and an optional `d`/`f` suffix. `None` where Java throws.
pub fn parse_double(text: &str) -> Option<f64> {
    let s = text.trim_matches(|c: char| c <= ' ');
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let negative = s.starts_with('-');
    match unsigned {
        "NaN" => return Some(f64::NAN),
        "Infinity" => return Some(if negative { f64::NEG_INFINITY } else { f64::INFINITY }),
        _ => {}
    }
    let body = unsigned.strip_suffix(['d', 'D', 'f', 'F']).unwrap_or(unsigned);
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')) {
        return None;
    }
    if !body.bytes().next().is_some_and(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let v: f64 = body.parse().ok()?;
    Some(if negative { -v } else { v })
}

/// Java's `Integer.parseInt` (optional sign, ASCII digits, in range).
pub fn parse_int(text: &str) -> Option<i32> {
    text.parse().ok()
}

/// Java's `Long.parseLong`.
pub fn parse_long(text: &str) -> Option<i64> {
    text.parse().ok()
}

/// A decimal number as its unscaled digits and scale (`1.10` is
/// `(110, 2)`), read as Java's `new BigDecimal(String)` reads it: optional
/// sign, digits with an optional point (at least one digit), optional
/// exponent. `None` for text that is not a number or needs more than 38
/// digits.
pub fn parse_decimal(text: &str) -> Option<(i128, i32)> {
    let (mantissa, exp) = match text.find(['e', 'E']) {
        Some(i) => {
            let e = &text[i + 1..];
            let e = e.strip_prefix('+').unwrap_or(e);
            if e.is_empty() || e.starts_with('+') {
                return None;
            }
            (&text[..i], e.parse::<i32>().ok()?)
        }
        None => (text, 0),
    };
    let negative = mantissa.starts_with('-');
    let m = mantissa.strip_prefix(['+', '-']).unwrap_or(mantissa);
    let (int_part, frac_part) = m.split_once('.').unwrap_or((m, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut unscaled: i128 = 0;
    let mut any = false;
    for b in int_part.bytes().chain(frac_part.bytes()) {
        if !b.is_ascii_digit() {
            return None;
        }
        any = true;
        unscaled = unscaled.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
    }
    if !any {
        return None;
    }
    let scale = i32::try_from(frac_part.len()).ok()?.checked_sub(exp)?;
    Some((if negative { -unscaled } else { unscaled }, scale))
}

/// Java's `BigDecimal.precision()`: the number of digits of the unscaled
/// value (1 for zero).
pub fn decimal_precision(unscaled: i128) -> u32 {
    unscaled.unsigned_abs().checked_ilog10().map_or(1, |d| d + 1)
}

/// Java's `BigDecimal.toPlainString()`: `(110, 2)` is `1.10`, `(-5, 3)` is
/// `-0.005`, `(12, -2)` is `1200`.
pub fn decimal_plain(unscaled: i128, scale: i32) -> String {
    let digits = unscaled.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + 4);
    if unscaled < 0 {
        out.push('-');
    }
    if scale <= 0 {
        out.push_str(&digits);
        if unscaled != 0 {
            out.extend(std::iter::repeat_n('0', scale.unsigned_abs() as usize));
        }
        return out;
    }
    let scale = scale as usize;
    if digits.len() > scale {
        out.push_str(&digits[..digits.len() - scale]);
        out.push('.');
        out.push_str(&digits[digits.len() - scale..]);
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', scale - digits.len()));
        out.push_str(&digits);
    }
    out
}

/// ksqlDB's `DecimalUtil.ensureFit`: the value `unscaled`×10^-`scale` as
/// the unscaled value of a `DECIMAL(precision, target)`, without rounding.
///
/// # Errors
/// ksqlDB's messages: `Numeric field overflow: …` when the integer part
/// needs more than `precision - target` digits, `Cannot fit decimal … without
/// rounding` when digits after the point would be lost.
pub fn ensure_fit(unscaled: i128, scale: i32, precision: u8, target: i8) -> Result<i128, String> {
    let digits = i32::from(precision) - i32::from(target);
    let plain = || decimal_plain(unscaled, scale);
    let overflow = || {
        format!(
            "Numeric field overflow: A field with precision {precision} and scale {target} must round to an \
             absolute value less than 10^{digits}. Got {}",
            plain()
        )
    };
    // Integer part of |value|.
    let int_part = if scale > 0 {
        10u128.checked_pow(scale as u32).map_or(0, |d| unscaled.unsigned_abs() / d)
    } else {
        match 10u128.checked_pow(scale.unsigned_abs()).and_then(|m| unscaled.unsigned_abs().checked_mul(m)) {
            Some(v) => v,
            None => return Err(overflow()),
        }
    };
    // `digits` is at most 38 and 10^38 fits a u128; a negative count
    // (scale above precision) leaves no room for any integer part.
    let limit = if digits < 0 { 0 } else { 10u128.checked_pow(digits as u32).unwrap_or(u128::MAX) };
    if int_part >= limit && !(digits < 0 && int_part == 0) {
        return Err(overflow());
    }
    let diff = i32::from(target) - scale;
    let no_rounding = || {
        format!(
            "Cannot fit decimal '{}' into DECIMAL({precision}, {target}) without rounding. (Requires {},{})",
            plain(),
            decimal_precision(unscaled),
            scale
        )
    };
    if diff >= 0 {
        10i128.checked_pow(diff as u32).and_then(|m| unscaled.checked_mul(m)).ok_or_else(overflow)
    } else {
        let d = 10i128.checked_pow(diff.unsigned_abs()).ok_or_else(no_rounding)?;
        if unscaled % d != 0 {
            return Err(no_rounding());
        }
        Ok(unscaled / d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(format_double(1.0), "1.0");
        assert_eq!(format_double(-2.5), "-2.5");
        assert_eq!(format_double(1.0e7), "1.0E7");
        assert_eq!(format_double(9_999_999.0), "9999999.0");
        assert_eq!(format_double(0.001), "0.001");
        assert_eq!(format_double(0.0001), "1.0E-4");
        assert_eq!(format_double(1234.589), "1234.589");
        assert_eq!(format_double(1.2345e-7), "1.2345E-7");
        assert_eq!(format_double(4.611686018427388E18), "4.611686018427388E18");
        assert_eq!(format_double(100.0), "100.0");
        assert_eq!(format_double(0.0), "0.0");
        assert_eq!(format_double(-0.0), "-0.0");
        assert_eq!(format_double(f64::NAN), "NaN");
        assert_eq!(format_double(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(format_double(22026.465794806718), "22026.465794806718");
    }

    #[test]
    fn doubles_parse_like_java() {
        assert_eq!(parse_double(" 1.5 "), Some(1.5));
        assert_eq!(parse_double("1e3"), Some(1000.0));
        assert_eq!(parse_double(".5"), Some(0.5));
        assert_eq!(parse_double("-2d"), Some(-2.0));
        assert_eq!(parse_double("Infinity"), Some(f64::INFINITY));
        assert!(parse_double("NaN").is_some_and(f64::is_nan));
        assert_eq!(parse_double("inf"), None);
        assert_eq!(parse_double("abc"), None);
        assert_eq!(parse_double(""), None);
        assert_eq!(parse_int("+7"), Some(7));
        assert_eq!(parse_int(" 7"), None);
        assert_eq!(parse_int("2147483648"), None);
    }

    #[test]
    fn decimals_parse_and_print_like_bigdecimal() {
        assert_eq!(parse_decimal("1.10"), Some((110, 2)));
        assert_eq!(parse_decimal(".12"), Some((12, 2)));
        assert_eq!(parse_decimal("-12345.12"), Some((-1234512, 2)));
        assert_eq!(parse_decimal("1e3"), Some((1, -3)));
        assert_eq!(parse_decimal("1.5E-2"), Some((15, 3)));
        assert_eq!(parse_decimal("5."), Some((5, 0)));
        assert_eq!(parse_decimal("."), None);
        assert_eq!(parse_decimal("1x"), None);
        assert_eq!(parse_decimal(""), None);
        assert_eq!(decimal_plain(110, 2), "1.10");
        assert_eq!(decimal_plain(-5, 3), "-0.005");
        assert_eq!(decimal_plain(12, -2), "1200");
        assert_eq!(decimal_plain(0, 2), "0.00");
    }

    #[test]
    fn ensure_fit_matches_ksqldb() {
        assert_eq!(ensure_fit(12, 2, 33, 16), Ok(12 * 10i128.pow(14)));
        assert_eq!(ensure_fit(10, 0, 6, 4), Ok(100_000));
        assert!(ensure_fit(100, 0, 4, 2).is_err_and(|e| e.starts_with("Numeric field overflow")));
        assert!(ensure_fit(12345, 5, 6, 4).is_err_and(|e| e.starts_with("Cannot fit decimal '0.12345'")));
        assert_eq!(ensure_fit(1230, 3, 4, 2), Ok(123));
    }
}
