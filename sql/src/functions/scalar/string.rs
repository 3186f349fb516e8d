//! String and bytes functions: case, trimming, LEN, CONCAT, CONCAT_WS,
//! SUBSTRING, REPLACE, the REGEXP_ family, INSTR, SPLIT, SPLIT_TO_MAP,
//! LPAD/RPAD, CHR, INITCAP, the MASK family, ENCODE, TO_BYTES/FROM_BYTES,
//! the *_FROM_BYTES decoders, UUID, ELT, FIELD.
//!
//! Positions are 1-based and count characters (ksqlDB counts UTF-16 code
//! units; the two agree outside the astral planes).

use regex::Regex;

use super::{any_null, arg_int, arg_str, intish, nullish, reject, udf, EvalResult, TypeResult};
use crate::functions::Udf;
use crate::types::SqlType;
use crate::value::Value;

/// The string functions.
pub(super) fn all() -> Vec<Udf> {
    vec![
        udf!("LCASE", "STRING", "Lower-cases a string.", string_1, |a, _| map_str(a, |s| s.to_lowercase())),
        udf!("UCASE", "STRING", "Upper-cases a string.", string_1, |a, _| map_str(a, |s| s.to_uppercase())),
        udf!("TRIM", "STRING", "Removes leading and trailing whitespace.", string_1, |a, _| {
            map_str(a, |s| java_trim(s, true, true).to_string())
        }),
        udf!("LTRIM", "STRING", "Removes leading whitespace.", string_1, |a, _| {
            map_str(a, |s| java_trim(s, true, false).to_string())
        }),
        udf!("RTRIM", "STRING", "Removes trailing whitespace.", string_1, |a, _| {
            map_str(a, |s| java_trim(s, false, true).to_string())
        }),
        udf!("INITCAP", "STRING", "Capitalizes the first letter of each word.", string_1, |a, _| {
            map_str(a, initcap)
        }),
        udf!("REVERSE", "STRING", "Reverses a string or bytes.", str_or_bytes_1, reverse),
        udf!("LEN", "STRING", "Length of a string (characters) or bytes.", len_type, len),
        udf!("CONCAT", "STRING", "Concatenates strings or bytes; NULLs are skipped.", concat_type, concat),
        udf!("CONCAT_WS", "STRING", "Concatenates with a separator; NULLs are skipped.", concat_ws_type, concat_ws),
        udf!("SUBSTRING", "STRING", "Part of a string or bytes, from a 1-based position.", substring_type, substring),
        udf!("REPLACE", "STRING", "Replaces every occurrence of a substring.", string_3, replace),
        udf!("REGEXP_REPLACE", "STRING", "Replaces every match of a regular expression.", string_3, regexp_replace),
        udf!("REGEXP_EXTRACT", "STRING", "The first match (or group) of a regular expression.", regexp_extract_type, regexp_extract),
        udf!(
            "REGEXP_EXTRACT_ALL",
            "STRING",
            "Every match (or group) of a regular expression.",
            regexp_extract_all_type,
            regexp_extract_all
        ),
        udf!(
            "REGEXP_SPLIT_TO_ARRAY",
            "STRING",
            "Splits a string around matches of a regular expression.",
            split_regex_type,
            regexp_split
        ),
        udf!("INSTR", "STRING", "1-based position of a substring, or 0.", instr_type, instr),
        udf!("SPLIT", "STRING", "Splits a string or bytes around a delimiter.", split_type, split),
        udf!("SPLIT_TO_MAP", "STRING", "Splits 'k=v;k=v' text into a map.", split_to_map_type, split_to_map),
        udf!("LPAD", "STRING", "Pads on the left to a length.", pad_type, |a, _| pad(a, true)),
        udf!("RPAD", "STRING", "Pads on the right to a length.", pad_type, |a, _| pad(a, false)),
        udf!("CHR", "STRING", "The character of a code point (INT or '\\uXXXX').", chr_type, chr),
        udf!("MASK", "STRING", "Masks letters and digits.", mask_type, |a, _| mask_with(a, 1, Region::All)),
        udf!("MASK_KEEP_LEFT", "STRING", "Masks all but the first n characters.", mask_n_type, |a, _| {
            mask_with(a, 2, Region::KeepLeft)
        }),
        udf!("MASK_KEEP_RIGHT", "STRING", "Masks all but the last n characters.", mask_n_type, |a, _| {
            mask_with(a, 2, Region::KeepRight)
        }),
        udf!("MASK_LEFT", "STRING", "Masks the first n characters.", mask_n_type, |a, _| mask_with(a, 2, Region::Left)),
        udf!("MASK_RIGHT", "STRING", "Masks the last n characters.", mask_n_type, |a, _| {
            mask_with(a, 2, Region::Right)
        }),
        udf!("ENCODE", "STRING", "Re-encodes a string between hex, utf8, ascii and base64.", string_3, encode),
        udf!("TO_BYTES", "STRING", "A string decoded as hex, utf8, ascii or base64.", to_bytes_type, to_bytes),
        udf!("FROM_BYTES", "STRING", "Bytes encoded as hex, utf8, ascii or base64.", from_bytes_type, from_bytes),
        udf!("INT_FROM_BYTES", "STRING", "A 4-byte INT (big endian by default).", from_bytes_num_type, |a, _| {
            num_from_bytes(a, 4)
        }),
        udf!("BIGINT_FROM_BYTES", "STRING", "An 8-byte BIGINT (big endian by default).", from_bytes_num_type, |a, _| {
            num_from_bytes(a, 8)
        }),
        udf!("DOUBLE_FROM_BYTES", "STRING", "An 8-byte DOUBLE (big endian by default).", from_bytes_num_type, |a, _| {
            num_from_bytes(a, 9)
        }),
        udf!("UUID", "STRING", "A random UUID, or the UUID in 16 bytes.", uuid_type, uuid),
        udf!("ELT", "STRING", "The n-th (1-based) of the following strings.", elt_type, elt),
        udf!("FIELD", "STRING", "1-based position of the first string among the rest, or 0.", field_type, field),
    ]
}

fn string_1(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::String] => Ok(SqlType::String),
        _ => Err(reject(name, a)),
    }
}

fn string_3(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::String, SqlType::String, SqlType::String] => Ok(SqlType::String),
        _ => Err(reject(name, a)),
    }
}

fn str_or_bytes_1(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [t @ (SqlType::String | SqlType::Bytes)] => Ok(t.clone()),
        _ => Err(reject(name, a)),
    }
}

fn map_str(a: &[Value], f: impl Fn(&str) -> String) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    Ok(Value::String(f(arg_str(a, 0)?)))
}

/// Java's `String.trim` removes every char up to U+0020.
fn java_trim(s: &str, left: bool, right: bool) -> &str {
    let ws = |c: char| c <= ' ';
    let s = if left { s.trim_start_matches(ws) } else { s };
    if right {
        s.trim_end_matches(ws)
    } else {
        s
    }
}

fn initcap(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if c.is_whitespace() {
            start = true;
            out.push(c);
        } else if start {
            out.extend(c.to_uppercase());
            start = false;
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

fn reverse(a: &[Value], _: &SqlType) -> EvalResult {
    Ok(match a.first() {
        Some(Value::String(s)) => Value::String(s.chars().rev().collect()),
        Some(Value::Bytes(b)) => Value::Bytes(b.iter().rev().copied().collect()),
        _ => Value::Null,
    })
}

fn len_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::String | SqlType::Bytes] => Ok(SqlType::Int),
        _ => Err(reject(name, a)),
    }
}

fn len(a: &[Value], _: &SqlType) -> EvalResult {
    Ok(match a.first() {
        Some(Value::String(s)) => Value::Int(s.chars().count() as i32),
        Some(Value::Bytes(b)) => Value::Int(b.len() as i32),
        _ => Value::Null,
    })
}

/// STRING, or BYTES when every typed argument is BYTES (untyped NULLs
/// arrive as STRING).
fn str_or_bytes_all(a: &[SqlType]) -> Option<SqlType> {
    if a.iter().all(|t| matches!(t, SqlType::String)) {
        Some(SqlType::String)
    } else if a.iter().all(|t| matches!(t, SqlType::String | SqlType::Bytes)) {
        Some(SqlType::Bytes)
    } else {
        None
    }
}

fn concat_type(name: &str, a: &[SqlType]) -> TypeResult {
    if a.is_empty() {
        return Err(reject(name, a));
    }
    str_or_bytes_all(a).ok_or_else(|| reject(name, a))
}

fn join_parts(parts: Vec<&Value>, sep: Option<&Value>, ret: &SqlType) -> EvalResult {
    match ret {
        SqlType::Bytes => {
            let sep: &[u8] = match sep {
                Some(Value::Bytes(b)) => b,
                _ => &[],
            };
            let mut out = Vec::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(sep);
                }
                if let Value::Bytes(b) = p {
                    out.extend_from_slice(b);
                }
            }
            Ok(Value::Bytes(out))
        }
        _ => {
            let sep = match sep {
                Some(Value::String(s)) => s.as_str(),
                _ => "",
            };
            let texts: Vec<&str> = parts.iter().filter_map(|p| p.as_str()).collect();
            Ok(Value::String(texts.join(sep)))
        }
    }
}

fn concat(a: &[Value], ret: &SqlType) -> EvalResult {
    join_parts(a.iter().filter(|v| !v.is_null()).collect(), None, ret)
}

fn concat_ws_type(name: &str, a: &[SqlType]) -> TypeResult {
    if a.len() < 2 {
        return Err(reject(name, a));
    }
    str_or_bytes_all(a).ok_or_else(|| reject(name, a))
}

fn concat_ws(a: &[Value], ret: &SqlType) -> EvalResult {
    if a[0].is_null() {
        return Ok(Value::Null);
    }
    join_parts(a[1..].iter().filter(|v| !v.is_null()).collect(), Some(&a[0]), ret)
}

fn substring_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [t @ (SqlType::String | SqlType::Bytes), p] if intish(p) => Ok(t.clone()),
        [t @ (SqlType::String | SqlType::Bytes), p, l] if intish(p) && intish(l) => Ok(t.clone()),
        _ => Err(reject(name, a)),
    }
}

/// ksqlDB's SUBSTRING bounds: `[start, end)` in a value of `len` units.
fn substring_bounds(len: i64, pos: i64, length: Option<i64>) -> (usize, usize) {
    let start = if pos < 0 { (len + pos).max(0) } else { (pos - 1).min(len).max(0) };
    let end = match length {
        Some(l) => start.saturating_add(l).min(len).max(start),
        None => len,
    };
    (start as usize, end as usize)
}

fn substring(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let pos = arg_int(a, 1)?;
    let length = if a.len() > 2 { Some(arg_int(a, 2)?) } else { None };
    match &a[0] {
        Value::String(s) => {
            let chars: Vec<char> = s.chars().collect();
            let (from, to) = substring_bounds(chars.len() as i64, pos, length);
            Ok(Value::String(chars[from..to].iter().collect()))
        }
        Value::Bytes(b) => {
            let (from, to) = substring_bounds(b.len() as i64, pos, length);
            Ok(Value::Bytes(b[from..to].to_vec()))
        }
        _ => Err("SUBSTRING of a non-string".into()),
    }
}

fn replace(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let (s, from, to) = (arg_str(a, 0)?, arg_str(a, 1)?, arg_str(a, 2)?);
    if from.is_empty() {
        // Java inserts the replacement between every character.
        let mut out = String::from(to);
        for c in s.chars() {
            out.push(c);
            out.push_str(to);
        }
        return Ok(Value::String(out));
    }
    Ok(Value::String(s.replace(from, to)))
}

/// A Java regular expression compiled with the `regex` crate.
fn java_regex(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| format!("invalid regular expression {pattern:?}: {e}"))
}

/// A Java replacement string (`$1`, `\$`) in `regex` syntax (`${1}`, `$$`).
fn java_replacement(r: &str) -> String {
    let mut out = String::with_capacity(r.len());
    let mut chars = r.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    if n == '$' {
                        out.push_str("$$");
                    } else {
                        out.push(n);
                    }
                }
            }
            '$' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    out.push_str("$$");
                } else {
                    out.push_str(&format!("${{{digits}}}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

fn regexp_replace(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let re = java_regex(arg_str(a, 1)?)?;
    Ok(Value::String(re.replace_all(arg_str(a, 0)?, java_replacement(arg_str(a, 2)?).as_str()).into_owned()))
}

fn regexp_extract_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::String, SqlType::String] => Ok(SqlType::String),
        [SqlType::String, SqlType::String, g] if intish(g) => Ok(SqlType::String),
        _ => Err(reject(name, a)),
    }
}

fn regexp_extract_all_type(name: &str, a: &[SqlType]) -> TypeResult {
    regexp_extract_type(name, a).map(|_| SqlType::Array(Box::new(SqlType::String)))
}

fn regexp_extract(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let re = java_regex(arg_str(a, 0)?)?;
    let group = if a.len() > 2 { arg_int(a, 2)? } else { 0 };
    let group = usize::try_from(group).map_err(|_| "negative group")?;
    Ok(match re.captures(arg_str(a, 1)?) {
        Some(c) => c.get(group).map_or(Value::Null, |m| Value::String(m.as_str().to_string())),
        None => Value::Null,
    })
}

fn regexp_extract_all(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let re = java_regex(arg_str(a, 0)?)?;
    let group = if a.len() > 2 { arg_int(a, 2)? } else { 0 };
    let group = usize::try_from(group).map_err(|_| "negative group")?;
    if group >= re.captures_len() {
        return Err(format!("no group {group}"));
    }
    Ok(Value::Array(
        re.captures_iter(arg_str(a, 1)?)
            .map(|c| c.get(group).map_or(Value::Null, |m| Value::String(m.as_str().to_string())))
            .collect(),
    ))
}

fn split_regex_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::String, SqlType::String] => Ok(SqlType::Array(Box::new(SqlType::String))),
        _ => Err(reject(name, a)),
    }
}

fn regexp_split(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let s = arg_str(a, 0)?;
    let pattern = arg_str(a, 1)?;
    if pattern.is_empty() {
        return Ok(Value::Array(s.chars().map(|c| Value::String(c.to_string())).collect()));
    }
    let re = java_regex(pattern)?;
    Ok(Value::Array(re.split(s).map(|p| Value::String(p.to_string())).collect()))
}

fn instr_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::String, SqlType::String] => Ok(SqlType::Int),
        [SqlType::String, SqlType::String, p] if intish(p) => Ok(SqlType::Int),
        [SqlType::String, SqlType::String, p, o] if intish(p) && intish(o) => Ok(SqlType::Int),
        _ => Err(reject(name, a)),
    }
}

/// ksqlDB's INSTR: searches forwards from a positive position, backwards
/// from a negative one (counted from the end), for the n-th occurrence.
fn instr(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let s: Vec<char> = arg_str(a, 0)?.chars().collect();
    let sub: Vec<char> = arg_str(a, 1)?.chars().collect();
    let pos = if a.len() > 2 { arg_int(a, 2)? } else { 1 };
    let occurrence = if a.len() > 3 { arg_int(a, 3)? } else { 1 };
    let n = s.len() as i64;
    let m = sub.len() as i64;
    let matches_at = |i: i64| i >= 0 && i + m <= n && s[i as usize..(i + m) as usize] == sub[..];
    let mut found = 0;
    if pos > 0 {
        let mut i = pos - 1;
        while i + m <= n {
            if matches_at(i) {
                found += 1;
                if found == occurrence {
                    return Ok(Value::Int((i + 1) as i32));
                }
            }
            i += 1;
        }
    } else if pos < 0 {
        let mut i = n + pos;
        while i >= 0 {
            if matches_at(i) {
                found += 1;
                if found == occurrence {
                    return Ok(Value::Int((i + 1) as i32));
                }
            }
            i -= 1;
        }
    }
    Ok(Value::Int(0))
}

fn split_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::String, SqlType::String] => Ok(SqlType::Array(Box::new(SqlType::String))),
        [SqlType::Bytes, SqlType::Bytes | SqlType::String] | [SqlType::String, SqlType::Bytes] => {
            Ok(SqlType::Array(Box::new(SqlType::Bytes)))
        }
        _ => Err(reject(name, a)),
    }
}

fn split_bytes(b: &[u8], d: &[u8]) -> Vec<Vec<u8>> {
    if d.is_empty() {
        return if b.is_empty() { vec![Vec::new()] } else { b.iter().map(|x| vec![*x]).collect() };
    }
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + d.len() <= b.len() {
        if &b[i..i + d.len()] == d {
            out.push(b[start..i].to_vec());
            i += d.len();
            start = i;
        } else {
            i += 1;
        }
    }
    out.push(b[start..].to_vec());
    out
}

fn split(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    match (&a[0], &a[1]) {
        (Value::String(s), Value::String(d)) => {
            if d.is_empty() {
                if s.is_empty() {
                    return Ok(Value::Array(vec![Value::String(String::new())]));
                }
                return Ok(Value::Array(s.chars().map(|c| Value::String(c.to_string())).collect()));
            }
            Ok(Value::Array(s.split(d.as_str()).map(|p| Value::String(p.to_string())).collect()))
        }
        (Value::Bytes(b), Value::Bytes(d)) => {
            Ok(Value::Array(split_bytes(b, d).into_iter().map(Value::Bytes).collect()))
        }
        _ => Err("SPLIT arguments must both be strings or both bytes".into()),
    }
}

fn split_to_map_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::String, SqlType::String, SqlType::String] => {
            Ok(SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::String)))
        }
        _ => Err(reject(name, a)),
    }
}

fn split_to_map(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let (s, entry_sep, kv_sep) = (arg_str(a, 0)?, arg_str(a, 1)?, arg_str(a, 2)?);
    if entry_sep.is_empty() || kv_sep.is_empty() || entry_sep == kv_sep {
        return Err("SPLIT_TO_MAP needs two different, non-empty delimiters".into());
    }
    let mut out: Vec<(Value, Value)> = Vec::new();
    for entry in s.split(entry_sep).filter(|e| !e.is_empty()) {
        let Some((k, v)) = entry.split_once(kv_sep) else { continue };
        let key = Value::String(k.to_string());
        let val = Value::String(v.to_string());
        if let Some(slot) = out.iter_mut().find(|(x, _)| *x == key) {
            slot.1 = val;
        } else {
            out.push((key, val));
        }
    }
    Ok(Value::Map(out))
}

fn pad_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [t @ (SqlType::String | SqlType::Bytes), l, p] if intish(l) && (p == t || nullish(p)) => Ok(t.clone()),
        _ => Err(reject(name, a)),
    }
}

fn pad_units<T: Clone>(input: &[T], target: usize, padding: &[T], left: bool) -> Vec<T> {
    if input.len() >= target {
        return input[..target].to_vec();
    }
    let need = target - input.len();
    let fill: Vec<T> = padding.iter().cycle().take(need).cloned().collect();
    if left {
        [fill, input.to_vec()].concat()
    } else {
        [input.to_vec(), fill].concat()
    }
}

fn pad(a: &[Value], left: bool) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let target = usize::try_from(arg_int(a, 1)?).map_err(|_| "negative length")?;
    match (&a[0], &a[2]) {
        (Value::String(s), Value::String(p)) => {
            if p.is_empty() {
                return Err("empty padding".into());
            }
            let s: Vec<char> = s.chars().collect();
            let p: Vec<char> = p.chars().collect();
            Ok(Value::String(pad_units(&s, target, &p, left).into_iter().collect()))
        }
        (Value::Bytes(s), Value::Bytes(p)) => {
            if p.is_empty() {
                return Err("empty padding".into());
            }
            Ok(Value::Bytes(pad_units(s, target, p, left)))
        }
        _ => Err("bad padding arguments".into()),
    }
}

fn chr_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::Int | SqlType::String] => Ok(SqlType::String),
        _ => Err(reject(name, a)),
    }
}

fn chr(a: &[Value], _: &SqlType) -> EvalResult {
    match a.first() {
        Some(Value::Int(code)) => {
            let c = u32::try_from(*code).ok().and_then(char::from_u32).ok_or("not a code point")?;
            Ok(Value::String(c.to_string()))
        }
        Some(Value::String(s)) => {
            // One or two `\uXXXX` UTF-16 units.
            let units: Vec<u16> = s
                .split("\\u")
                .skip(1)
                .map(|h| if h.len() == 4 { u16::from_str_radix(h, 16).ok() } else { None })
                .collect::<Option<_>>()
                .ok_or("not a \\uXXXX escape")?;
            if units.is_empty() || !s.starts_with("\\u") {
                return Err("not a \\uXXXX escape".into());
            }
            let text = String::from_utf16(&units).map_err(|e| e.to_string())?;
            if text.chars().count() != 1 {
                return Err("more than one character".into());
            }
            Ok(Value::String(text))
        }
        _ => Ok(Value::Null),
    }
}

fn mask_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::String] => Ok(SqlType::String),
        [SqlType::String, rest @ ..] if rest.len() <= 4 && rest.iter().all(|t| *t == SqlType::String) => {
            Ok(SqlType::String)
        }
        _ => Err(reject(name, a)),
    }
}

fn mask_n_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::String, n, rest @ ..] if intish(n) && rest.len() <= 4 && rest.iter().all(|t| *t == SqlType::String) => {
            Ok(SqlType::String)
        }
        _ => Err(reject(name, a)),
    }
}

#[derive(Clone, Copy)]
enum Region {
    All,
    KeepLeft,
    KeepRight,
    Left,
    Right,
}

/// MASK family: upper case → 'X', lower case → 'x', digits → 'n', others
/// → '-', each overridable by the trailing arguments (a NULL override
/// keeps that class unmasked).
fn mask_with(a: &[Value], first_override: usize, region: Region) -> EvalResult {
    let Some(Value::String(s)) = a.first() else {
        return Ok(Value::Null);
    };
    let n = if matches!(region, Region::All) {
        0
    } else {
        match a.get(1) {
            Some(Value::Null) | None => return Ok(Value::Null),
            _ => usize::try_from(arg_int(a, 1)?).map_err(|_| "negative length")?,
        }
    };
    let replacement = |i: usize, default: char| -> Option<char> {
        match a.get(first_override + i) {
            None => Some(default),
            Some(Value::Null) => None,
            Some(Value::String(r)) => r.chars().next(),
            Some(_) => Some(default),
        }
    };
    let (upper, lower, digit, other) =
        (replacement(0, 'X'), replacement(1, 'x'), replacement(2, 'n'), replacement(3, '-'));
    let chars: Vec<char> = s.chars().collect();
    let len = chars.len();
    let masked = |i: usize| match region {
        Region::All => true,
        Region::KeepLeft => i >= n,
        Region::KeepRight => i + n < len,
        Region::Left => i < n,
        Region::Right => i + n >= len,
    };
    Ok(Value::String(
        chars
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                if !masked(i) {
                    return c;
                }
                let r = if c.is_uppercase() {
                    upper
                } else if c.is_lowercase() {
                    lower
                } else if c.is_numeric() {
                    digit
                } else {
                    other
                };
                r.unwrap_or(c)
            })
            .collect(),
    ))
}

/// Standard base64 with padding (one encoder for the crate).
pub(crate) use crate::serde::json::encode_base64 as base64_encode;

/// Standard base64 (padding optional).
pub(crate) fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return Err(format!("invalid base64 character {:?}", c as char)),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

fn hex_digits(s: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> =
        s.chars().map(|c| c.to_digit(16).map(|d| d as u8)).collect::<Option<_>>().ok_or("invalid hex")?;
    let mut out = Vec::with_capacity(digits.len().div_ceil(2));
    let mut iter = digits.iter();
    if digits.len() % 2 == 1 {
        out.push(*iter.next().ok_or("invalid hex")?);
    }
    while let (Some(h), Some(l)) = (iter.next(), iter.next()) {
        out.push(h * 16 + l);
    }
    Ok(out)
}

/// ksqlDB's hex input: plain even-length digits, `0x…` (any length) or
/// `X'…'` (even length).
fn hex_decode(s: &str) -> Result<Vec<u8>, String> {
    if let Some(rest) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return hex_digits(rest);
    }
    if let Some(rest) = s.strip_prefix("X'").or_else(|| s.strip_prefix("x'")) {
        let inner = rest.strip_suffix('\'').ok_or("unterminated X'' literal")?;
        if inner.len() % 2 == 1 {
            return Err("odd number of hex digits".into());
        }
        return hex_digits(inner);
    }
    if s.len() % 2 == 1 {
        return Err("odd number of hex digits".into());
    }
    hex_digits(s)
}

fn hex_encode(b: &[u8], upper: bool) -> String {
    b.iter().map(|x| if upper { format!("{x:02X}") } else { format!("{x:02x}") }).collect()
}

fn decode_text(s: &str, encoding: &str) -> Result<Vec<u8>, String> {
    match encoding.to_ascii_lowercase().as_str() {
        "hex" => hex_decode(s),
        "utf8" | "utf-8" => Ok(s.as_bytes().to_vec()),
        "ascii" => Ok(s.chars().map(|c| if c.is_ascii() { c as u8 } else { b'?' }).collect()),
        "base64" => base64_decode(s),
        other => Err(format!("unknown encoding {other}")),
    }
}

fn encode_bytes(b: &[u8], encoding: &str, upper_hex: bool) -> Result<String, String> {
    match encoding.to_ascii_lowercase().as_str() {
        "hex" => Ok(hex_encode(b, upper_hex)),
        "utf8" | "utf-8" => Ok(String::from_utf8_lossy(b).into_owned()),
        "ascii" => Ok(b.iter().map(|x| if x.is_ascii() { *x as char } else { '\u{fffd}' }).collect()),
        "base64" => Ok(base64_encode(b)),
        other => Err(format!("unknown encoding {other}")),
    }
}

fn encode(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let bytes = decode_text(arg_str(a, 0)?, arg_str(a, 1)?)?;
    Ok(Value::String(encode_bytes(&bytes, arg_str(a, 2)?, false)?))
}

fn to_bytes_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::String, SqlType::String] => Ok(SqlType::Bytes),
        _ => Err(reject(name, a)),
    }
}

fn to_bytes(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    Ok(Value::Bytes(decode_text(arg_str(a, 0)?, arg_str(a, 1)?)?))
}

fn from_bytes_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::Bytes, SqlType::String] => Ok(SqlType::String),
        _ => Err(reject(name, a)),
    }
}

fn from_bytes(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let Value::Bytes(b) = &a[0] else { return Err("not bytes".into()) };
    Ok(Value::String(encode_bytes(b, arg_str(a, 1)?, true)?))
}

fn from_bytes_num_type(name: &str, a: &[SqlType]) -> TypeResult {
    let ret = match name {
        "INT_FROM_BYTES" => SqlType::Int,
        "BIGINT_FROM_BYTES" => SqlType::Bigint,
        _ => SqlType::Double,
    };
    match a {
        [SqlType::Bytes] | [SqlType::Bytes, SqlType::String] => Ok(ret),
        _ => Err(reject(name, a)),
    }
}

/// `width` 4 → INT, 8 → BIGINT, 9 → DOUBLE (8 bytes).
fn num_from_bytes(a: &[Value], width: usize) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let Value::Bytes(b) = &a[0] else { return Err("not bytes".into()) };
    let little = match a.get(1) {
        Some(Value::String(o)) => match o.to_ascii_uppercase().as_str() {
            "BIG_ENDIAN" => false,
            "LITTLE_ENDIAN" => true,
            other => return Err(format!("unknown byte order {other}")),
        },
        _ => false,
    };
    let size = width.min(8);
    if b.len() != size {
        return Err(format!("expected {size} bytes, got {}", b.len()));
    }
    Ok(match width {
        4 => {
            let arr: [u8; 4] = b[..].try_into().map_err(|_| "length")?;
            Value::Int(if little { i32::from_le_bytes(arr) } else { i32::from_be_bytes(arr) })
        }
        8 => {
            let arr: [u8; 8] = b[..].try_into().map_err(|_| "length")?;
            Value::Bigint(if little { i64::from_le_bytes(arr) } else { i64::from_be_bytes(arr) })
        }
        _ => {
            let arr: [u8; 8] = b[..].try_into().map_err(|_| "length")?;
            Value::Double(if little { f64::from_le_bytes(arr) } else { f64::from_be_bytes(arr) })
        }
    })
}

fn uuid_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [] | [SqlType::Bytes] => Ok(SqlType::String),
        _ => Err(reject(name, a)),
    }
}

fn format_uuid(b: &[u8]) -> String {
    let h = hex_encode(b, false);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn uuid(a: &[Value], _: &SqlType) -> EvalResult {
    match a.first() {
        None => {
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&super::math::random_u64().to_be_bytes());
            b[8..].copy_from_slice(&super::math::random_u64().to_be_bytes());
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            Ok(Value::String(format_uuid(&b)))
        }
        Some(Value::Bytes(b)) if b.len() == 16 => Ok(Value::String(format_uuid(b))),
        Some(Value::Null) => Ok(Value::Null),
        Some(_) => Err("UUID needs 16 bytes".into()),
    }
}

fn elt_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [n, rest @ ..] if intish(n) && rest.iter().all(|t| *t == SqlType::String) => Ok(SqlType::String),
        _ => Err(reject(name, a)),
    }
}

fn elt(a: &[Value], _: &SqlType) -> EvalResult {
    if a[0].is_null() {
        return Ok(Value::Null);
    }
    let n = arg_int(a, 0)?;
    if n < 1 || n as usize >= a.len() {
        return Ok(Value::Null);
    }
    Ok(a[n as usize].clone())
}

fn field_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::String, rest @ ..] if rest.iter().all(|t| *t == SqlType::String) => Ok(SqlType::Int),
        _ => Err(reject(name, a)),
    }
}

fn field(a: &[Value], _: &SqlType) -> EvalResult {
    if a[0].is_null() {
        return Ok(Value::Int(0));
    }
    Ok(Value::Int(a[1..].iter().position(|v| *v == a[0]).map_or(0, |i| i as i32 + 1)))
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{call, call_typed, rt, s};
    use super::*;

    fn b(x: &str) -> Value {
        Value::Bytes(base64_decode(x).unwrap())
    }

    #[test]
    fn substring_positions() {
        assert_eq!(call("SUBSTRING", &[s("some_string"), Value::Int(6)]), s("string"));
        assert_eq!(call("SUBSTRING", &[s("another"), Value::Int(6), Value::Int(3)]), s("er"));
        assert_eq!(call("SUBSTRING", &[s("short"), Value::Int(6)]), s(""));
        assert_eq!(call("SUBSTRING", &[s("some string"), Value::Int(0), Value::Int(2)]), s("so"));
        assert_eq!(call("SUBSTRING", &[s("mixed"), Value::Int(-3)]), s("xed"));
        assert_eq!(call("SUBSTRING", &[s(" \t with"), Value::Int(2), Value::Int(5)]), s("\t wit"));
        assert_eq!(call("SUBSTRING", &[b("c29tZV9zdHJpbmc="), Value::Int(6), Value::Int(3)]), b("c3Ry"));
        assert_eq!(
            call_typed("SUBSTRING", &[s("x"), Value::Null], &[SqlType::String, SqlType::String]),
            Value::Null
        );
        assert_eq!(
            rt("SUBSTRING", &[SqlType::Int]),
            Err("Function 'SUBSTRING' does not accept parameters (INTEGER).".into())
        );
    }

    #[test]
    fn concat_and_concat_ws() {
        assert_eq!(call("CONCAT", &[s("prefix-"), s("s1"), s("-postfix")]), s("prefix-s1-postfix"));
        let t = vec![SqlType::String; 6];
        assert_eq!(
            call_typed("CONCAT_WS", &[s("SEP"), s("foo"), Value::Null, s("baz"), Value::Null, s("literal")], &t),
            s("fooSEPbazSEPliteral")
        );
        assert_eq!(call_typed("CONCAT_WS", &[Value::Null, s("a"), s("b"), s("c"), s("d"), s("e")], &t), Value::Null);
        let t = [SqlType::Bytes, SqlType::Bytes, SqlType::Bytes, SqlType::String, SqlType::Bytes];
        assert_eq!(
            call_typed("CONCAT_WS", &[b("YQ=="), b("Yg=="), b("eWVz"), Value::Null, b("bm8=")], &t),
            b("YmF5ZXNhbm8=")
        );
    }

    #[test]
    fn trims_cases_initcap() {
        assert_eq!(call("TRIM", &[s(" \t with white space \t")]), s("with white space"));
        assert_eq!(call("LCASE", &[s("MiXeD")]), s("mixed"));
        assert_eq!(call("INITCAP", &[s("the QUICK  brown")]), s("The Quick  Brown"));
        assert_eq!(call("LEN", &[s("ABC")]), Value::Int(3));
        assert_eq!(call("LEN", &[b("YWJj")]), Value::Int(3));
    }

    #[test]
    fn instr_cases() {
        assert_eq!(call("INSTR", &[s("corporate floor"), s("or")]), Value::Int(2));
        assert_eq!(call("INSTR", &[s("should I stay or should I go"), s("or")]), Value::Int(15));
        assert_eq!(call("INSTR", &[s("corporate floor"), s("or"), Value::Int(4)]), Value::Int(5));
        assert_eq!(call("INSTR", &[s("corporate floor"), s("or"), Value::Int(4), Value::Int(2)]), Value::Int(14));
        assert_eq!(call("INSTR", &[s("corporate floor"), s("or"), Value::Int(-4)]), Value::Int(5));
        assert_eq!(call("INSTR", &[s("corporate floor"), s("or"), Value::Int(-4), Value::Int(2)]), Value::Int(2));
        assert_eq!(call("INSTR", &[s("short"), s("or"), Value::Int(-4), Value::Int(2)]), Value::Int(0));
    }

    #[test]
    fn chr_cases() {
        assert_eq!(call("CHR", &[Value::Int(75)]), s("K"));
        assert_eq!(call("CHR", &[Value::Int(99000)]), s("\u{182b8}"));
        assert_eq!(call("CHR", &[Value::Int(-1)]), Value::Null);
        assert_eq!(call("CHR", &[s("\\u004b")]), s("K"));
        assert_eq!(call("CHR", &[s("\\ud820\\udeb8")]), s("\u{182b8}"));
        for bad in ["75", "004b", "bogus", ""] {
            assert_eq!(call("CHR", &[s(bad)]), Value::Null, "{bad}");
        }
    }

    #[test]
    fn replace_and_regexps() {
        assert_eq!(call("REPLACE", &[s("anaconda"), s("a"), s("o")]), s("onocondo"));
        assert_eq!(call("REGEXP_REPLACE", &[s("baabbabaa"), s("(ab)+"), s("cat")]), s("bacatbcataa"));
        assert_eq!(call("REGEXP_REPLACE", &[s("abc"), s("(b)"), s("[$1]")]), s("a[b]c"));
        assert_eq!(call("REGEXP_EXTRACT", &[s("(\\d+)-(\\d+)"), s("a 12-34"), Value::Int(2)]), s("34"));
        assert_eq!(call("REGEXP_EXTRACT", &[s("x"), s("abc")]), Value::Null);
        assert_eq!(
            call("REGEXP_EXTRACT_ALL", &[s("\\d+"), s("a1b22c333")]),
            Value::Array(vec![s("1"), s("22"), s("333")])
        );
        assert_eq!(
            call("REGEXP_SPLIT_TO_ARRAY", &[s("a-b--c"), s("-+")]),
            Value::Array(vec![s("a"), s("b"), s("c")])
        );
    }

    #[test]
    fn split_cases() {
        assert_eq!(call("SPLIT", &[s("..a.."), s(".")]), Value::Array(vec![s(""), s(""), s("a"), s(""), s("")]));
        assert_eq!(call("SPLIT", &[s("abc"), s("")]), Value::Array(vec![s("a"), s("b"), s("c")]));
        assert_eq!(call("SPLIT", &[s(""), s("")]), Value::Array(vec![s("")]));
        assert_eq!(call("SPLIT", &[b("LmFiYyQk"), b("JCQ=")]), Value::Array(vec![b("LmFiYw=="), b("")]));
        assert_eq!(
            call("SPLIT_TO_MAP", &[s("a=1;b=2"), s(";"), s("=")]),
            Value::Map(vec![(s("a"), s("1")), (s("b"), s("2"))])
        );
    }

    #[test]
    fn pads() {
        let cases = [(7, "BarBfoo", "fooBarB"), (5, "Bafoo", "fooBa"), (2, "fo", "fo")];
        for (n, l, r) in cases {
            assert_eq!(call("LPAD", &[s("foo"), Value::Int(n), s("Bar")]), s(l));
            assert_eq!(call("RPAD", &[s("foo"), Value::Int(n), s("Bar")]), s(r));
        }
        assert_eq!(call("LPAD", &[s("foo"), Value::Int(-1), s("Bar")]), Value::Null);
        assert_eq!(call("LPAD", &[s("foo"), Value::Int(7), s("")]), Value::Null);
        assert_eq!(call("RPAD", &[s(""), Value::Int(7), s("Bar")]), s("BarBarB"));
    }

    #[test]
    fn encodings() {
        let e = |x: &str, from: &str, to: &str| call("ENCODE", &[s(x), s(from), s(to)]);
        assert_eq!(e("4578616d706C6521", "hex", "utf8"), s("Example!"));
        assert_eq!(e("4578616d706C6521", "hex", "base64"), s("RXhhbXBsZSE="));
        assert_eq!(e("c39c6265726d656e736368", "hex", "ascii"), s("\u{fffd}\u{fffd}bermensch"));
        assert_eq!(e("X'4578616d706C6521'", "hex", "utf8"), s("Example!"));
        assert_eq!(e("0x", "hex", "utf8"), s(""));
        assert_eq!(e("0x0x", "hex", "utf8"), Value::Null);
        assert_eq!(e("x'578616d706C6521'", "hex", "utf8"), Value::Null);
        assert_eq!(e("0x578616d706C6521", "hex", "utf8"), s("\u{5}xample!"));
        assert_eq!(e("578616d706C6521", "hex", "utf8"), Value::Null);
        assert_eq!(e("\u{395}\u{3bb}", "ascii", "hex"), s("3f3f"));
        assert_eq!(e("zpXOu867zqzOtM6x", "base64", "hex"), s("ce95cebbcebbceacceb4ceb1"));
        assert_eq!(e("RXhhbXBsZSE=", "base64", "null"), Value::Null);
        assert_eq!(call("FROM_BYTES", &[b("GrI="), s("hex")]), s("1AB2"));
        assert_eq!(call("TO_BYTES", &[s("1aB2"), s("hex")]), b("GrI="));
        assert_eq!(base64_encode(b"Example!"), "RXhhbXBsZSE=");
        assert_eq!(call("INT_FROM_BYTES", &[b("AAAH5Q==")]), Value::Int(2021));
        assert_eq!(call("BIGINT_FROM_BYTES", &[b("APIFKgEAAAA="), s("LITTLE_ENDIAN")]), Value::Bigint(5_000_000_000));
        assert_eq!(call("DOUBLE_FROM_BYTES", &[b("QICm/ZvJ9YI=")]), Value::Double(532.8738323));
    }

    #[test]
    fn masks_elt_field_uuid() {
        assert_eq!(call("MASK", &[s("AbCd#$123xy Z")]), s("XxXx--nnnxx-X"));
        assert_eq!(call("MASK_KEEP_LEFT", &[s("AbCd#$123xy Z"), Value::Int(5)]), s("AbCd#-nnnxx-X"));
        assert_eq!(call("MASK_RIGHT", &[s("AbCd#$123xy Z"), Value::Int(5)]), s("AbCd#$12nxx-X"));
        assert_eq!(call("ELT", &[Value::Int(2), s("a"), s("b")]), s("b"));
        assert_eq!(call("ELT", &[Value::Int(3), s("a"), s("b")]), Value::Null);
        assert_eq!(call("FIELD", &[s("b"), s("a"), s("b")]), Value::Int(2));
        let Value::String(u) = call("UUID", &[]) else { panic!() };
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }
}
