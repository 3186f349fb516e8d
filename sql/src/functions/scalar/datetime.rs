//! Date and time functions: UNIX_TIMESTAMP, UNIX_DATE, FROM_UNIXTIME,
//! FROM_DAYS, TIMESTAMPTOSTRING, STRINGTOTIMESTAMP, FORMAT_/PARSE_
//! TIMESTAMP, DATE and TIME, DATETOSTRING, STRINGTODATE, DATEADD/DATESUB,
//! TIMEADD/TIMESUB, TIMESTAMPADD/TIMESTAMPSUB, CONVERT_TZ.
//!
//! Patterns are Java `DateTimeFormatter` patterns (`yyyy-MM-dd'T'HH:mm:ss.SSSX`),
//! tokenized here and formatted or parsed directly (chrono does the
//! calendar arithmetic, chrono-tz the zone rules). Time units arrive as
//! string values (`'DAYS'`), the planner passing a bare unit identifier as
//! a STRING literal.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::{any_null, arg_int, arg_str, intish, reject, udf, EvalResult, TypeResult};
use crate::functions::Udf;
use crate::types::SqlType;
use crate::value::Value;

/// The date and time functions.
pub(super) fn all() -> Vec<Udf> {
    vec![
        udf!("UNIX_TIMESTAMP", "DATE / TIME", "Milliseconds since the epoch, now or of a TIMESTAMP.", unix_ts_type, unix_timestamp),
        udf!("UNIX_DATE", "DATE / TIME", "Days since the epoch, today or of a DATE.", unix_date_type, unix_date),
        udf!("FROM_UNIXTIME", "DATE / TIME", "A TIMESTAMP from milliseconds since the epoch.", from_unixtime_type, from_unixtime),
        udf!("FROM_DAYS", "DATE / TIME", "A DATE from days since the epoch.", from_days_type, from_days),
        udf!("TIMESTAMPTOSTRING", "DATE / TIME", "Epoch milliseconds formatted with a pattern.", ts_to_string_type, format_ts),
        udf!("FORMAT_TIMESTAMP", "DATE / TIME", "A TIMESTAMP formatted with a pattern.", format_ts_type, format_ts),
        udf!("STRINGTOTIMESTAMP", "DATE / TIME", "Epoch milliseconds parsed with a pattern.", parse_ts_bigint_type, parse_ts),
        udf!("PARSE_TIMESTAMP", "DATE / TIME", "A TIMESTAMP parsed with a pattern.", parse_ts_type, parse_ts),
        udf!("DATETOSTRING", "DATE / TIME", "Epoch days formatted with a pattern.", date_to_string_type, format_date),
        udf!("FORMAT_DATE", "DATE / TIME", "A DATE formatted with a pattern.", format_date_type, format_date),
        udf!("STRINGTODATE", "DATE / TIME", "Epoch days parsed with a pattern.", parse_date_int_type, parse_date),
        udf!("PARSE_DATE", "DATE / TIME", "A DATE parsed with a pattern.", parse_date_type, parse_date),
        udf!("FORMAT_TIME", "DATE / TIME", "A TIME formatted with a pattern.", format_time_type, format_time),
        udf!("PARSE_TIME", "DATE / TIME", "A TIME parsed with a pattern.", parse_time_type, parse_time),
        udf!("DATEADD", "DATE / TIME", "Adds an interval to a DATE.", date_add_type, |a, _| date_add(a, 1)),
        udf!("DATESUB", "DATE / TIME", "Subtracts an interval from a DATE.", date_add_type, |a, _| date_add(a, -1)),
        udf!("TIMEADD", "DATE / TIME", "Adds an interval to a TIME (wrapping at midnight).", time_add_type, |a, _| time_add(a, 1)),
        udf!("TIMESUB", "DATE / TIME", "Subtracts an interval from a TIME.", time_add_type, |a, _| time_add(a, -1)),
        udf!("TIMESTAMPADD", "DATE / TIME", "Adds an interval to a TIMESTAMP.", ts_add_type, |a, _| ts_add(a, 1)),
        udf!("TIMESTAMPSUB", "DATE / TIME", "Subtracts an interval from a TIMESTAMP.", ts_add_type, |a, _| ts_add(a, -1)),
        udf!("CONVERT_TZ", "DATE / TIME", "Moves a TIMESTAMP's wall-clock time from one zone to another.", convert_tz_type, convert_tz),
    ]
}

const MS_PER_DAY: i64 = 86_400_000;

fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(1970, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or_default()
}

fn ms_to_naive(ms: i64) -> Result<NaiveDateTime, String> {
    DateTime::<Utc>::from_timestamp_millis(ms).map(|d| d.naive_utc()).ok_or_else(|| format!("timestamp {ms} out of range"))
}

fn days_to_date(days: i32) -> Result<NaiveDate, String> {
    epoch().date().checked_add_signed(Duration::days(i64::from(days))).ok_or_else(|| format!("date {days} out of range"))
}

fn date_to_days(d: NaiveDate) -> i32 {
    (d - epoch().date()).num_days() as i32
}

/// ISO date (`1972-09-27`).
pub(crate) fn date_iso(days: i32) -> String {
    days_to_date(days).map_or_else(|_| days.to_string(), |d| d.format("%Y-%m-%d").to_string())
}

/// ISO time (`16:43:40`, with `.SSS` when there are milliseconds).
pub(crate) fn time_iso(ms: i32) -> String {
    let (h, m, s, f) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    if f == 0 {
        format!("{h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}.{f:03}")
    }
}

/// ISO timestamp with milliseconds (`1971-11-28T23:46:40.000`).
pub(crate) fn timestamp_iso(ms: i64) -> String {
    ms_to_naive(ms).map_or_else(|_| ms.to_string(), |t| t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string())
}

/// A time zone: an IANA zone or a fixed offset.
#[derive(Clone, Copy)]
enum Zone {
    Named(Tz),
    Fixed(i32),
}

/// Parses `+HH`, `+HHMM`, `+HH:MM` (and `GMT`/`UTC` prefixed forms).
fn parse_offset(s: &str) -> Option<i32> {
    let s = s.strip_prefix("UTC").or_else(|| s.strip_prefix("GMT")).unwrap_or(s);
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        4 => (digits[..2].parse::<i32>().ok()?, digits[2..].parse::<i32>().ok()?),
        _ => return None,
    };
    (h <= 18 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

fn parse_zone(s: &str) -> Result<Zone, String> {
    let t = s.trim();
    if let Some(off) = parse_offset(t) {
        return Ok(Zone::Fixed(off));
    }
    let named = match t.to_ascii_uppercase().as_str() {
        "Z" | "UTC" | "GMT" | "UT" => return Ok(Zone::Fixed(0)),
        "PST" | "PDT" => "America/Los_Angeles",
        "MST" | "MDT" => "America/Denver",
        "CST" | "CDT" => "America/Chicago",
        "EST" | "EDT" => "America/New_York",
        "BST" => "Europe/London",
        "CET" | "CEST" => "Europe/Paris",
        "IST" => "Asia/Kolkata",
        "JST" => "Asia/Tokyo",
        _ => t,
    };
    named.parse::<Tz>().map(Zone::Named).map_err(|_| format!("Unknown time-zone ID: {s}"))
}

impl Zone {
    /// Offset (seconds east of UTC) and abbreviation at an instant.
    fn at_utc(self, ms: i64) -> Result<(i32, String, String), String> {
        match self {
            Zone::Fixed(off) => Ok((off, offset_text(off, true, true), offset_text(off, true, true))),
            Zone::Named(tz) => {
                let utc = DateTime::<Utc>::from_timestamp_millis(ms).ok_or("timestamp out of range")?;
                let local = utc.with_timezone(&tz);
                let off = local.offset().fix().local_minus_utc();
                Ok((off, local.format("%Z").to_string(), tz.name().to_string()))
            }
        }
    }

    /// The instant of a wall-clock time in this zone (earliest if ambiguous,
    /// shifted forward over a gap).
    fn to_utc(self, local: NaiveDateTime) -> Result<i64, String> {
        match self {
            Zone::Fixed(off) => Ok(local
                .checked_sub_signed(Duration::seconds(i64::from(off)))
                .ok_or("timestamp out of range")?
                .and_utc()
                .timestamp_millis()),
            Zone::Named(tz) => {
                let resolved = tz
                    .from_local_datetime(&local)
                    .earliest()
                    .or_else(|| {
                        let later = local.checked_add_signed(Duration::hours(1))?;
                        tz.from_local_datetime(&later).earliest()
                    })
                    .ok_or("local time does not exist in the zone")?;
                Ok(resolved.timestamp_millis())
            }
        }
    }
}

/// `+HH:MM` / `+HHMM` text of an offset (`Z` for zero when `z_for_zero`).
fn offset_text(off: i32, colon: bool, z_for_zero: bool) -> String {
    if off == 0 && z_for_zero {
        return "Z".into();
    }
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.abs();
    if colon {
        format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60)
    } else {
        format!("{sign}{:02}{:02}", a / 3600, a / 60 % 60)
    }
}

/// One element of a Java date-time pattern.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A pattern letter repeated `n` times.
    Field(char, usize),
    /// Literal text.
    Lit(String),
}

fn tokenize(p: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = p.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            if chars.get(i + 1) == Some(&'\'') {
                out.push(Tok::Lit("'".into()));
                i += 2;
                continue;
            }
            let mut lit = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(format!("unterminated quote in pattern {p}")),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        lit.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        lit.push(*ch);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Lit(lit));
        } else if c.is_ascii_alphabetic() {
            let mut n = 1;
            while chars.get(i + n) == Some(&c) {
                n += 1;
            }
            if !"GuyYMLdDEeaHkKhmsSnAzZXxVOQqwW".contains(c) {
                return Err(format!("Unknown pattern letter: {c}"));
            }
            out.push(Tok::Field(c, n));
            i += n;
        } else if c == '[' || c == ']' {
            // Optional sections: treated as plain (required) content.
            i += 1;
        } else {
            out.push(Tok::Lit(c.to_string()));
            i += 1;
        }
    }
    Ok(out)
}

const MONTHS: [&str; 12] =
    ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

fn pad(v: i64, n: usize) -> String {
    if v < 0 {
        format!("-{:0n$}", -v)
    } else {
        format!("{v:0n$}")
    }
}

/// What a pattern may use: dates have no time-of-day or zone fields,
/// times no date or zone fields.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Date,
    Time,
}

fn check_kind(toks: &[Tok], kind: Kind) -> Result<(), String> {
    for t in toks {
        if let Tok::Field(c, _) = t {
            let time_field = "aHkKhmsSnA".contains(*c);
            let zone_field = "zZXxVO".contains(*c);
            let date_field = "GuyYMLdDEeQqwW".contains(*c);
            let bad = match kind {
                Kind::Date => time_field || zone_field,
                Kind::Time => date_field || zone_field,
            };
            if bad {
                return Err(format!("Unsupported field: {c}"));
            }
        }
    }
    Ok(())
}

/// Formats a wall-clock time with zone details (`offset`, short name, id).
fn format_with(toks: &[Tok], t: NaiveDateTime, zone: &(i32, String, String)) -> String {
    let mut out = String::new();
    for tok in toks {
        match tok {
            Tok::Lit(s) => out.push_str(s),
            Tok::Field(c, n) => {
                let n = *n;
                let s = match c {
                    'G' => if t.year() > 0 { "AD" } else { "BC" }.to_string(),
                    'y' | 'u' | 'Y' => {
                        if n == 2 {
                            pad(i64::from(t.year().rem_euclid(100)), 2)
                        } else {
                            pad(i64::from(t.year()), n)
                        }
                    }
                    'M' | 'L' => match n {
                        1 | 2 => pad(i64::from(t.month()), n),
                        3 => MONTHS[t.month0() as usize][..3].to_string(),
                        _ => MONTHS[t.month0() as usize].to_string(),
                    },
                    'd' => pad(i64::from(t.day()), n),
                    'D' => pad(i64::from(t.ordinal()), n),
                    'E' | 'e' => {
                        let d = DAYS[t.weekday().num_days_from_monday() as usize];
                        if *c == 'e' && n <= 2 {
                            pad(i64::from(t.weekday().number_from_sunday()), n)
                        } else if n >= 4 {
                            d.to_string()
                        } else {
                            d[..3].to_string()
                        }
                    }
                    'a' => if t.hour() < 12 { "AM" } else { "PM" }.to_string(),
                    'H' => pad(i64::from(t.hour()), n),
                    'k' => pad(i64::from(if t.hour() == 0 { 24 } else { t.hour() }), n),
                    'K' => pad(i64::from(t.hour() % 12), n),
                    'h' => pad(i64::from(if t.hour() % 12 == 0 { 12 } else { t.hour() % 12 }), n),
                    'm' => pad(i64::from(t.minute()), n),
                    's' => pad(i64::from(t.second()), n),
                    'S' => {
                        let nanos = format!("{:09}", t.nanosecond() % 1_000_000_000);
                        if n <= 9 {
                            nanos[..n].to_string()
                        } else {
                            format!("{nanos}{}", "0".repeat(n - 9))
                        }
                    }
                    'n' => t.nanosecond().to_string(),
                    'A' => (t.num_seconds_from_midnight() as i64 * 1000 + i64::from(t.nanosecond() / 1_000_000)).to_string(),
                    'z' => zone.1.clone(),
                    'V' | 'O' => zone.2.clone(),
                    'Z' => {
                        if n >= 4 {
                            if zone.0 == 0 { "GMT".into() } else { format!("GMT{}", offset_text(zone.0, true, false)) }
                        } else {
                            offset_text(zone.0, false, false)
                        }
                    }
                    'X' | 'x' => {
                        let z = *c == 'X';
                        if zone.0 == 0 && z {
                            "Z".into()
                        } else if n == 1 {
                            let t = offset_text(zone.0, false, false);
                            if zone.0 % 3600 == 0 { t[..3].to_string() } else { t }
                        } else {
                            offset_text(zone.0, n >= 3, false)
                        }
                    }
                    'Q' | 'q' => pad(i64::from(t.month0() / 3 + 1), n),
                    'w' => pad(i64::from(t.iso_week().week()), n),
                    'W' => pad(i64::from((t.day() + 6) / 7), n),
                    _ => String::new(),
                };
                out.push_str(&s);
            }
        }
    }
    out
}

/// Fields read from text.
#[derive(Default)]
struct Parsed {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    day_of_year: Option<u32>,
    hour: Option<u32>,
    hour12: Option<u32>,
    pm: Option<bool>,
    minute: u32,
    second: u32,
    nanos: u32,
    offset: Option<i32>,
    zone: Option<Zone>,
}

fn is_numeric_field(t: Option<&Tok>) -> bool {
    matches!(t, Some(Tok::Field(c, n)) if "yuYdDHkKhmsS".contains(*c) || ("ML".contains(*c) && *n <= 2))
}

fn parse_with(toks: &[Tok], text: &str) -> Result<Parsed, String> {
    let s: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut p = Parsed::default();
    let bad = || format!("Text '{text}' could not be parsed");
    for (ti, tok) in toks.iter().enumerate() {
        match tok {
            Tok::Lit(l) => {
                for lc in l.chars() {
                    match s.get(i) {
                        Some(c) if c.eq_ignore_ascii_case(&lc) => i += 1,
                        _ => return Err(bad()),
                    }
                }
            }
            Tok::Field(c, n) => {
                let n = *n;
                let adjacent = is_numeric_field(toks.get(ti + 1));
                let mut number = |min: usize, max: usize| -> Result<(i64, usize), String> {
                    let mut neg = false;
                    if *c == 'y' || *c == 'u' {
                        if s.get(i) == Some(&'-') {
                            neg = true;
                            i += 1;
                        }
                    }
                    let start = i;
                    let limit = if adjacent { min } else { max };
                    while i < s.len() && i - start < limit && s[i].is_ascii_digit() {
                        i += 1;
                    }
                    if i - start < min {
                        return Err(bad());
                    }
                    let digits: String = s[start..i].iter().collect();
                    let v: i64 = digits.parse().map_err(|_| bad())?;
                    Ok((if neg { -v } else { v }, i - start))
                };
                match c {
                    'y' | 'u' | 'Y' => {
                        if n == 2 {
                            let (v, _) = number(2, 2)?;
                            p.year = Some(2000 + v as i32);
                        } else {
                            let (v, _) = number(n, 10)?;
                            p.year = Some(i32::try_from(v).map_err(|_| bad())?);
                        }
                    }
                    'M' | 'L' if n >= 3 => {
                        let rest: String = s[i..].iter().collect::<String>().to_ascii_lowercase();
                        let mut found = None;
                        for (mi, m) in MONTHS.iter().enumerate() {
                            let name = if n == 3 { &m[..3] } else { m };
                            if rest.starts_with(&name.to_ascii_lowercase()) {
                                found = Some((mi as u32 + 1, name.chars().count()));
                                break;
                            }
                        }
                        let (m, len) = found.ok_or_else(bad)?;
                        p.month = Some(m);
                        i += len;
                    }
                    'M' | 'L' => p.month = Some(number(n, 2)?.0 as u32),
                    'd' => p.day = Some(number(n, 2)?.0 as u32),
                    'D' => p.day_of_year = Some(number(n, 3)?.0 as u32),
                    'H' | 'k' => p.hour = Some(number(n, 2)?.0 as u32 % 24),
                    'K' | 'h' => p.hour12 = Some(number(n, 2)?.0 as u32 % 12),
                    'm' => p.minute = number(n, 2)?.0 as u32,
                    's' => p.second = number(n, 2)?.0 as u32,
                    'S' => {
                        let (v, len) = number(n, 9)?;
                        p.nanos = (v as u32) * 10u32.pow(9 - len.min(9) as u32);
                    }
                    'a' => {
                        let rest: String = s[i..].iter().take(2).collect::<String>().to_ascii_uppercase();
                        p.pm = Some(match rest.as_str() {
                            "AM" => false,
                            "PM" => true,
                            _ => return Err(bad()),
                        });
                        i += 2;
                    }
                    'E' => {
                        let rest: String = s[i..].iter().collect::<String>().to_ascii_lowercase();
                        let len = DAYS
                            .iter()
                            .find_map(|d| {
                                let full = d.to_ascii_lowercase();
                                if n >= 4 && rest.starts_with(&full) {
                                    Some(full.len())
                                } else if n < 4 && rest.starts_with(&full[..3]) {
                                    Some(3)
                                } else {
                                    None
                                }
                            })
                            .ok_or_else(bad)?;
                        i += len;
                    }
                    'G' => {
                        if i + 2 <= s.len() {
                            i += 2;
                        }
                    }
                    'X' | 'x' | 'Z' => {
                        if s.get(i).is_some_and(|c| *c == 'Z' || *c == 'z') && *c != 'x' {
                            p.offset = Some(0);
                            i += 1;
                        } else {
                            let start = i;
                            if *c == 'Z' && s[i..].iter().collect::<String>().starts_with("GMT") {
                                i += 3;
                            }
                            if matches!(s.get(i), Some('+' | '-')) {
                                i += 1;
                            }
                            while i < s.len() && (s[i].is_ascii_digit() || s[i] == ':') {
                                i += 1;
                            }
                            let t: String = s[start..i].iter().collect();
                            p.offset = Some(if t == "GMT" { 0 } else { parse_offset(&t).ok_or_else(bad)? });
                        }
                    }
                    'z' | 'V' | 'O' => {
                        let start = i;
                        while i < s.len() && (s[i].is_alphanumeric() || "/_+-:".contains(s[i])) {
                            i += 1;
                        }
                        let t: String = s[start..i].iter().collect();
                        p.zone = Some(parse_zone(&t).map_err(|_| bad())?);
                    }
                    _ => {
                        number(1, 9)?;
                    }
                }
            }
        }
    }
    if i != s.len() {
        return Err(format!("Text '{text}' could not be parsed, unparsed text found at index {i}"));
    }
    Ok(p)
}

impl Parsed {
    fn date(&self) -> Result<NaiveDate, String> {
        let year = self.year.unwrap_or(1970);
        if let Some(doy) = self.day_of_year {
            return NaiveDate::from_yo_opt(year, doy).ok_or_else(|| "invalid day of year".into());
        }
        NaiveDate::from_ymd_opt(year, self.month.unwrap_or(1), self.day.unwrap_or(1))
            .ok_or_else(|| "invalid date".into())
    }

    fn time(&self) -> Result<NaiveTime, String> {
        let hour = match (self.hour, self.hour12, self.pm) {
            (Some(h), _, _) => h,
            (None, Some(h), pm) => h + if pm == Some(true) { 12 } else { 0 },
            (None, None, _) => 0,
        };
        NaiveTime::from_hms_nano_opt(hour, self.minute, self.second, self.nanos).ok_or_else(|| "invalid time".into())
    }
}

fn zone_arg(a: &[Value], i: usize) -> Result<Zone, String> {
    match a.get(i) {
        None => Ok(Zone::Fixed(0)),
        Some(Value::String(z)) => parse_zone(z),
        Some(_) => Err("time zone must be a string".into()),
    }
}

fn unix_ts_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [] | [SqlType::Timestamp] => Ok(SqlType::Bigint),
        _ => Err(reject(name, a)),
    }
}

fn unix_timestamp(a: &[Value], _: &SqlType) -> EvalResult {
    match a.first() {
        None => Ok(Value::Bigint(Utc::now().timestamp_millis())),
        Some(Value::Timestamp(t)) => Ok(Value::Bigint(*t)),
        _ => Ok(Value::Null),
    }
}

fn unix_date_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [] | [SqlType::Date] => Ok(SqlType::Int),
        _ => Err(reject(name, a)),
    }
}

fn unix_date(a: &[Value], _: &SqlType) -> EvalResult {
    match a.first() {
        None => Ok(Value::Int(Utc::now().timestamp_millis().div_euclid(MS_PER_DAY) as i32)),
        Some(Value::Date(d)) => Ok(Value::Int(*d)),
        _ => Ok(Value::Null),
    }
}

fn from_unixtime_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [t] if intish(t) => Ok(SqlType::Timestamp),
        _ => Err(reject(name, a)),
    }
}

fn from_unixtime(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    Ok(Value::Timestamp(arg_int(a, 0)?))
}

fn from_days_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [t] if intish(t) => Ok(SqlType::Date),
        _ => Err(reject(name, a)),
    }
}

fn from_days(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    Ok(Value::Date(i32::try_from(arg_int(a, 0)?).map_err(|_| "days out of range")?))
}

fn ts_to_string_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        // ROWTIME is BIGINT in ksqlDB; a TIMESTAMP is taken as well.
        [t, SqlType::String] | [t, SqlType::String, SqlType::String] if intish(t) || *t == SqlType::Timestamp => {
            Ok(SqlType::String)
        }
        _ => Err(reject(name, a)),
    }
}

fn format_ts_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::Timestamp, SqlType::String] | [SqlType::Timestamp, SqlType::String, SqlType::String] => {
            Ok(SqlType::String)
        }
        _ => Err(reject(name, a)),
    }
}

fn format_ts(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let ms = match &a[0] {
        Value::Timestamp(t) | Value::Bigint(t) => *t,
        Value::Int(t) => i64::from(*t),
        _ => return Err("not a timestamp".into()),
    };
    let toks = tokenize(arg_str(a, 1)?)?;
    let zone = zone_arg(a, 2)?;
    let info = zone.at_utc(ms)?;
    let local = ms_to_naive(ms)?
        .checked_add_signed(Duration::seconds(i64::from(info.0)))
        .ok_or("timestamp out of range")?;
    Ok(Value::String(format_with(&toks, local, &info)))
}

fn parse_ts_bigint_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::String, SqlType::String] | [SqlType::String, SqlType::String, SqlType::String] => {
            Ok(SqlType::Bigint)
        }
        _ => Err(reject(name, a)),
    }
}

fn parse_ts_type(name: &str, a: &[SqlType]) -> TypeResult {
    parse_ts_bigint_type(name, a).map(|_| SqlType::Timestamp)
}

fn parse_ts(a: &[Value], ret: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let toks = tokenize(arg_str(a, 1)?)?;
    let p = parse_with(&toks, arg_str(a, 0)?)?;
    let local = p.date()?.and_time(p.time()?);
    let ms = match (p.offset, p.zone) {
        (Some(off), _) => Zone::Fixed(off).to_utc(local)?,
        (None, Some(z)) => z.to_utc(local)?,
        (None, None) => zone_arg(a, 2)?.to_utc(local)?,
    };
    Ok(if *ret == SqlType::Bigint { Value::Bigint(ms) } else { Value::Timestamp(ms) })
}

fn date_to_string_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [t, SqlType::String] if intish(t) => Ok(SqlType::String),
        _ => Err(reject(name, a)),
    }
}

fn format_date_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::Date, SqlType::String] => Ok(SqlType::String),
        _ => Err(reject(name, a)),
    }
}

fn format_date(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let days = match &a[0] {
        Value::Date(d) | Value::Int(d) => *d,
        Value::Bigint(d) => i32::try_from(*d).map_err(|_| "days out of range")?,
        _ => return Err("not a date".into()),
    };
    let toks = tokenize(arg_str(a, 1)?)?;
    check_kind(&toks, Kind::Date)?;
    let t = days_to_date(days)?.and_time(NaiveTime::MIN);
    Ok(Value::String(format_with(&toks, t, &(0, "UTC".into(), "UTC".into()))))
}

fn parse_date_int_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::String, SqlType::String] => Ok(SqlType::Int),
        _ => Err(reject(name, a)),
    }
}

fn parse_date_type(name: &str, a: &[SqlType]) -> TypeResult {
    parse_date_int_type(name, a).map(|_| SqlType::Date)
}

fn parse_date(a: &[Value], ret: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let toks = tokenize(arg_str(a, 1)?)?;
    check_kind(&toks, Kind::Date)?;
    let days = date_to_days(parse_with(&toks, arg_str(a, 0)?)?.date()?);
    Ok(if *ret == SqlType::Int { Value::Int(days) } else { Value::Date(days) })
}

fn format_time_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::Time, SqlType::String] => Ok(SqlType::String),
        _ => Err(reject(name, a)),
    }
}

fn format_time(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let Value::Time(ms) = a[0] else { return Err("not a time".into()) };
    let toks = tokenize(arg_str(a, 1)?)?;
    check_kind(&toks, Kind::Time)?;
    let t = epoch() + Duration::milliseconds(i64::from(ms));
    Ok(Value::String(format_with(&toks, t, &(0, "UTC".into(), "UTC".into()))))
}

fn parse_time_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::String, SqlType::String] => Ok(SqlType::Time),
        _ => Err(reject(name, a)),
    }
}

fn parse_time(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let toks = tokenize(arg_str(a, 1)?)?;
    check_kind(&toks, Kind::Time)?;
    let t = parse_with(&toks, arg_str(a, 0)?)?.time()?;
    Ok(Value::Time((t.num_seconds_from_midnight() * 1000 + t.nanosecond() / 1_000_000) as i32))
}

/// Milliseconds in one of a Java `TimeUnit` name (`DAYS`, `HOURS`, …), as
/// a rational `num / den` so sub-millisecond units divide.
fn unit_ms(unit: &str) -> Result<(i64, i64), String> {
    Ok(match unit.trim().to_ascii_uppercase().as_str() {
        "NANOSECONDS" => (1, 1_000_000),
        "MICROSECONDS" => (1, 1000),
        "MILLISECONDS" => (1, 1),
        "SECONDS" => (1000, 1),
        "MINUTES" => (60_000, 1),
        "HOURS" => (3_600_000, 1),
        "DAYS" => (MS_PER_DAY, 1),
        other => return Err(format!("unknown time unit {other}")),
    })
}

fn unit_type(name: &str, a: &[SqlType], target: &SqlType) -> TypeResult {
    match a {
        [SqlType::String, n, t] if intish(n) && (t == target) => Ok(target.clone()),
        _ => Err(reject(name, a)),
    }
}

fn date_add_type(name: &str, a: &[SqlType]) -> TypeResult {
    unit_type(name, a, &SqlType::Date)
}

fn time_add_type(name: &str, a: &[SqlType]) -> TypeResult {
    unit_type(name, a, &SqlType::Time)
}

fn ts_add_type(name: &str, a: &[SqlType]) -> TypeResult {
    unit_type(name, a, &SqlType::Timestamp)
}

/// The interval `n unit` in milliseconds, negated for subtraction.
fn interval_ms(a: &[Value], sign: i64) -> Result<i64, String> {
    let (num, den) = unit_ms(arg_str(a, 0)?)?;
    let n = arg_int(a, 1)?;
    Ok(sign * n.checked_mul(num).ok_or("interval overflow")? / den)
}

fn date_add(a: &[Value], sign: i64) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let Value::Date(d) = a[2] else { return Err("not a date".into()) };
    let days = interval_ms(a, sign)? / MS_PER_DAY;
    Ok(Value::Date(i32::try_from(i64::from(d) + days).map_err(|_| "date out of range")?))
}

fn time_add(a: &[Value], sign: i64) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let Value::Time(t) = a[2] else { return Err("not a time".into()) };
    Ok(Value::Time((i64::from(t) + interval_ms(a, sign)?).rem_euclid(MS_PER_DAY) as i32))
}

fn ts_add(a: &[Value], sign: i64) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let Value::Timestamp(t) = a[2] else { return Err("not a timestamp".into()) };
    Ok(Value::Timestamp(t.checked_add(interval_ms(a, sign)?).ok_or("timestamp overflow")?))
}

fn convert_tz_type(name: &str, a: &[SqlType]) -> TypeResult {
    match a {
        [SqlType::Timestamp, SqlType::String, SqlType::String] => Ok(SqlType::Timestamp),
        _ => Err(reject(name, a)),
    }
}

fn convert_tz(a: &[Value], _: &SqlType) -> EvalResult {
    if any_null(a) {
        return Ok(Value::Null);
    }
    let Value::Timestamp(t) = a[0] else { return Err("not a timestamp".into()) };
    let (from, to) = (parse_zone(arg_str(a, 1)?)?, parse_zone(arg_str(a, 2)?)?);
    // The wall-clock time `t` in `from` is an instant; show that instant's
    // wall-clock time in `to`.
    let instant = from.to_utc(ms_to_naive(t)?)?;
    let (off, _, _) = to.at_utc(instant)?;
    Ok(Value::Timestamp(instant + i64::from(off) * 1000))
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{call, call_typed, rt, s};
    use super::*;

    #[test]
    fn formats_timestamps_with_zones() {
        let ts = Value::Timestamp(1_526_075_913_000);
        assert_eq!(
            call("FORMAT_TIMESTAMP", &[ts.clone(), s("yyyy-MM-dd HH:mm:ss zzz"), s("America/Los_Angeles")]),
            s("2018-05-11 14:58:33 PDT")
        );
        assert_eq!(call("FORMAT_TIMESTAMP", &[ts.clone(), s("yyyy-MM-dd HH:mm:ss")]), s("2018-05-11 21:58:33"));
        assert_eq!(
            call("TIMESTAMPTOSTRING", &[Value::Bigint(1_526_075_913_000), s("yyyy-MM-dd HH:mm:ss zzz"), s("Europe/London")]),
            s("2018-05-11 22:58:33 BST")
        );
        assert_eq!(
            call("FORMAT_TIMESTAMP", &[ts, s("yyyy-MM-dd'T'HH:mm:ss.SSSXXX")]),
            s("2018-05-11T21:58:33.000Z")
        );
    }

    #[test]
    fn parses_timestamps() {
        let p = |t: &str, f: &str| call("STRINGTOTIMESTAMP", &[s(t), s(f)]);
        assert_eq!(p("2018-05-11T21:58:33Z", "yyyy-MM-dd'T'HH:mm:ssX"), Value::Bigint(1_526_075_913_000));
        assert_eq!(p("2020-05-11T21:58:33z", "yyyy-MM-dd'T'HH:mm:ssX"), Value::Bigint(1_589_234_313_000));
        assert_eq!(p("2019-08-27T13:31:09.2+0000", "yyyy-MM-dd'T'HH:mm:ss.SX"), Value::Bigint(1_566_912_669_200));
        assert_eq!(
            call("PARSE_TIMESTAMP", &[s("2018-05-11T21:58:33 PST"), s("yyyy-MM-dd'T'HH:mm:ss zzz")]),
            Value::Timestamp(1_526_101_113_000)
        );
        assert_eq!(
            call("PARSE_TIMESTAMP", &[s("2018-05-11T21:58:33"), s("yyyy-MM-dd'T'HH:mm:ss")]),
            Value::Timestamp(1_526_075_913_000)
        );
        assert_eq!(p("garbage", "yyyy"), Value::Null);
    }

    #[test]
    fn dates() {
        let f = |d: i32, p: &str| call("FORMAT_DATE", &[Value::Date(d), s(p)]);
        assert_eq!(f(17662, "yyyy-MM-dd"), s("2018-05-11"));
        assert_eq!(f(18027, "dd/MM/yyyy"), s("11/05/2019"));
        assert_eq!(f(18993, "dd-MMM-yyyy"), s("01-Jan-2022"));
        assert_eq!(f(-1, "dd-MM-yyyy'Sophia'"), s("31-12-1969Sophia"));
        assert_eq!(call("DATETOSTRING", &[Value::Int(0), s("dd-MM-yyyy")]), s("01-01-1970"));
        let p = |t: &str, f: &str| call("PARSE_DATE", &[s(t), s(f)]);
        assert_eq!(p("2018-05-11Lit", "yyyy-MM-dd'Lit'"), Value::Date(17662));
        assert_eq!(p("01-JAN-2022", "dd-MMM-yyyy"), Value::Date(18993));
        assert_eq!(p("JAN-2022", "MMM-yyyy"), Value::Date(18993));
        assert_eq!(call("STRINGTODATE", &[s("20220101"), s("yyyyMMdd")]), Value::Int(18993));
        assert_eq!(call("FORMAT_DATE", &[Value::Date(0), s("HH")]), Value::Null);
    }

    #[test]
    fn times() {
        assert_eq!(call("FORMAT_TIME", &[Value::Time(60_220_000), s("HH:mm:ss")]), s("16:43:40"));
        assert_eq!(call("PARSE_TIME", &[s("16:43:40.5"), s("HH:mm:ss.S")]), Value::Time(60_220_500));
        assert_eq!(call("PARSE_TIME", &[s("04:43 PM"), s("hh:mm a")]), Value::Time(60_180_000));
    }

    #[test]
    fn intervals() {
        assert_eq!(call("DATEADD", &[s("DAYS"), Value::Int(-5), Value::Date(2)]), Value::Date(-3));
        assert_eq!(call("DATESUB", &[s("DAYS"), Value::Int(5), Value::Date(10)]), Value::Date(5));
        assert_eq!(call("TIMEADD", &[s("MILLISECONDS"), Value::Int(10), Value::Time(86_399_995)]), Value::Time(5));
        assert_eq!(call("TIMEADD", &[s("MILLISECONDS"), Value::Int(-5), Value::Time(2)]), Value::Time(86_399_997));
        assert_eq!(call("TIMESTAMPADD", &[s("MILLISECONDS"), Value::Int(-5), Value::Timestamp(2)]), Value::Timestamp(-3));
        assert_eq!(
            call_typed("DATEADD", &[s("MILLISECONDS"), Value::Null, Value::Date(5)], &[SqlType::String, SqlType::Int, SqlType::Date]),
            Value::Null
        );
        assert_eq!(
            rt("DATEADD", &[SqlType::Date, SqlType::Int, SqlType::Date]),
            Err("Function 'dateadd' does not accept parameters (DATE, INTEGER, DATE).".into())
        );
        assert_eq!(
            rt("TIMESTAMPADD", &[SqlType::Timestamp, SqlType::Int, SqlType::Timestamp]),
            Err("Function 'timestampadd' does not accept parameters (TIMESTAMP, INTEGER, TIMESTAMP).".into())
        );
    }

    #[test]
    fn convert_tz_and_unix() {
        assert_eq!(call("CONVERT_TZ", &[Value::Timestamp(100), s("+0200"), s("+0500")]), Value::Timestamp(10_800_100));
        assert_eq!(
            call("CONVERT_TZ", &[Value::Timestamp(1_589_234_313_000), s("America/Los_Angeles"), s("America/New_York")]),
            Value::Timestamp(1_589_245_113_000)
        );
        assert_eq!(call("UNIX_TIMESTAMP", &[Value::Timestamp(100)]), Value::Bigint(100));
        assert!(matches!(call("UNIX_TIMESTAMP", &[]), Value::Bigint(t) if t > 100));
        assert_eq!(call("FROM_DAYS", &[Value::Int(-10)]), Value::Date(-10));
        assert_eq!(call("FROM_UNIXTIME", &[Value::Bigint(100)]), Value::Timestamp(100));
        assert_eq!(date_iso(1000), "1972-09-27");
        assert_eq!(timestamp_iso(60_220_000_000), "1971-11-28T23:46:40.000");
    }
}
