//! URL functions: URL_EXTRACT_HOST, _PATH, _PORT, _PROTOCOL, _QUERY,
//! _FRAGMENT, _PARAMETER, URL_ENCODE_PARAM, URL_DECODE_PARAM.
//!
//! URLs are split the way `java.net.URI` splits them
//! (`scheme://user@host:port/path?query#fragment`); a string without a
//! scheme has only a path.

use super::{any_null, arg_str, reject, udf, EvalResult, TypeResult};
use crate::functions::Udf;
use crate::types::SqlType;
use crate::value::Value;

/// The URL functions.
pub(super) fn all() -> Vec<Udf> {
    vec![
        udf!("URL_EXTRACT_HOST", "URL", "The host of a URL.", string_1, |a, _| part(a, |u| u.host)),
        udf!("URL_EXTRACT_PATH", "URL", "The path of a URL.", string_1, |a, _| part(a, |u| Some(u.path))),
        udf!("URL_EXTRACT_PROTOCOL", "URL", "The scheme of a URL.", string_1, |a, _| part(a, |u| u.scheme)),
        udf!("URL_EXTRACT_QUERY", "URL", "The query string of a URL, still encoded.", string_1, |a, _| {
            part(a, |u| u.query)
        }),
        udf!("URL_EXTRACT_FRAGMENT", "URL", "The fragment of a URL.", string_1, |a, _| part(a, |u| u.fragment)),
        udf!("URL_EXTRACT_PORT", "URL", "The port of a URL.", port_type, port),
        udf!("URL_EXTRACT_PARAMETER", "URL", "The first value of a query parameter.", string_2, parameter),
        udf!("URL_ENCODE_PARAM", "URL", "Encodes text for a query parameter (form encoding).", string_1, |a, _| {
            if any_null(a) {
                return Ok(Value::Null);
            }
            Ok(Value::String(encode_param(arg_str(a, 0)?)))
        }),
        udf!("URL_DECODE_PARAM", "URL", "Decodes a form-encoded query parameter.", string_1, |a, _| {
            if any_null(a) {
                return Ok(Value::Null);
            }
            decode_param(arg_str(a, 0)?).map(Value::String)
        }),
    ]
}

fn string_1(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::String] => Ok(SqlType::String),
        _ => Err(reject(name, a)),
    }
}

fn string_2(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::String, SqlType::String] => Ok(SqlType::String),
        _ => Err(reject(name, a)),
    }
}

fn port_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::String] => Ok(SqlType::Int),
        _ => Err(reject(name, a)),
    }
}

/// The parts of a URL.
struct Url {
    scheme: Option<String>,
    host: Option<String>,
    port: Option<i32>,
    path: String,
    query: Option<String>,
    fragment: Option<String>,
}

fn parse_url(s: &str) -> Result<Url, String> {
    if s.contains(' ') {
        return Err(format!("Illegal character in URL: {s}"));
    }
    let (rest, fragment) = match s.split_once('#') {
        Some((r, f)) => (r, Some(f.to_string())),
        None => (s, None),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q.to_string())),
        None => (rest, None),
    };
    let scheme_end = rest.find(':').filter(|&i| {
        i > 0
            && rest[..i].chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && rest[..i].chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    let (scheme, rest) = match scheme_end {
        Some(i) => (Some(rest[..i].to_string()), &rest[i + 1..]),
        None => (None, rest),
    };
    let (mut host, mut port, path) = (None, None, rest.to_string());
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find('/').unwrap_or(after.len());
        let authority = &after[..end];
        let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (h, p) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => (h, Some(p)),
            _ => (hostport, None),
        };
        if !h.is_empty() {
            host = Some(h.to_string());
        }
        if let Some(p) = p.filter(|p| !p.is_empty()) {
            port = Some(p.parse().map_err(|_| format!("bad port in URL {s}"))?);
        }
        return Ok(Url { scheme, host, port, path: after[end..].to_string(), query, fragment });
    }
    Ok(Url { scheme, host, port, path, query, fragment })
}

fn part(a: &[Value], f: fn(Url) -> Option<String>) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    Ok(f(parse_url(arg_str(a, 0)?)?).map_or(Value::Null, Value::String))
}

fn port(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    Ok(parse_url(arg_str(a, 0)?)?.port.map_or(Value::Null, Value::Int))
}

fn parameter(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let name = arg_str(a, 1)?;
    let Some(query) = parse_url(arg_str(a, 0)?)?.query else { return Ok(Value::Null) };
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').map_or((pair, None), |(k, v)| (k, Some(v)));
        if decode_param(k).as_deref() == Ok(name) {
            return Ok(v.map_or(Value::Null, |v| Value::String(v.to_string())));
        }
    }
    Ok(Value::Null)
}

/// `application/x-www-form-urlencoded` encoding, as Java's `URLEncoder`.
fn encode_param(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Form decoding, as Java's `URLDecoder`.
fn decode_param(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let h = b.get(i + 1..i + 3).ok_or("incomplete % escape")?;
                let h = std::str::from_utf8(h).map_err(|e| e.to_string())?;
                out.push(u8::from_str_radix(h, 16).map_err(|_| format!("bad % escape {h}"))?);
                i += 3;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{call, s};
    use super::*;

    #[test]
    fn extracts_parts() {
        assert_eq!(call("URL_EXTRACT_FRAGMENT", &[s("http://www.test.com/?query#fragment")]), s("fragment"));
        assert_eq!(call("URL_EXTRACT_FRAGMENT", &[s("http://www.nofragment.com")]), Value::Null);
        assert_eq!(call("URL_EXTRACT_HOST", &[s("http://test@confluent.io:8080")]), s("confluent.io"));
        assert_eq!(call("URL_EXTRACT_PATH", &[s("http://www.test.com?query#fragment")]), s(""));
        assert_eq!(call("URL_EXTRACT_PATH", &[s("http://test@confluent.io:8080/nested/path?query&jobs")]), s("/nested/path"));
        assert_eq!(call("URL_EXTRACT_PORT", &[s("http://test@confluent.io")]), Value::Null);
        assert_eq!(call("URL_EXTRACT_PORT", &[s("http://test@confluent.io:8080/x")]), Value::Int(8080));
        assert_eq!(call("URL_EXTRACT_PROTOCOL", &[s("https://test@confluent.io:8080/")]), s("https"));
        assert_eq!(call("URL_EXTRACT_PROTOCOL", &[s("www.confluent.io")]), Value::Null);
        assert_eq!(call("URL_EXTRACT_QUERY", &[s("http://www.test.com/path?q1&q2")]), s("q1&q2"));
        assert_eq!(call("URL_EXTRACT_QUERY", &[s("http://test@confluent.io:8080/path")]), Value::Null);
        let u = s("http://www.test.com/?one=a&two=url%20encoded&three");
        assert_eq!(call("URL_EXTRACT_PARAMETER", &[u.clone(), s("one")]), s("a"));
        assert_eq!(call("URL_EXTRACT_PARAMETER", &[u, s("two")]), s("url%20encoded"));
    }

    #[test]
    fn encodes_and_decodes() {
        assert_eq!(call("URL_ENCODE_PARAM", &[s("?foo $bar")]), s("%3Ffoo+%24bar"));
        assert_eq!(call("URL_ENCODE_PARAM", &[s("hello&world")]), s("hello%26world"));
        assert_eq!(call("URL_DECODE_PARAM", &[s("%3Ffoo+%24bar")]), s("?foo $bar"));
        assert_eq!(call("URL_DECODE_PARAM", &[s("url%20encoded")]), s("url encoded"));
    }
}
