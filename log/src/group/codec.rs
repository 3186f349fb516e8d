//! Kafka's primitive wire types as the group payloads use them.
//!
//! The consumer protocol ([`super::protocol`]) and the `__consumer_offsets`
//! records ([`super::offsets`]) are both written in Kafka's classic
//! (non-flexible) encoding: big-endian integers, `int16`-length strings,
//! `int32`-length byte arrays (`-1` = null) and `int32`-count arrays.
//!
//! [`Reader`] never panics: every read checks the remaining length and
//! reports where it stopped. Writers refuse values that the format cannot
//! represent (a string longer than `i16::MAX` bytes) instead of silently
//! writing a corrupt length.

use std::fmt;

use bytes::{BufMut, BytesMut};

/// Why a decode stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError {
    /// Byte offset where the failing field starts.
    pub position: usize,
    /// The field being read, e.g. `"topic name"`.
    pub field: &'static str,
    /// What was wrong.
    pub problem: Problem,
}

/// The kind of decode failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    /// Fewer bytes left than the field needs.
    Truncated {
        /// Bytes the field needs.
        needed: usize,
        /// Bytes that were left.
        left: usize,
    },
    /// A negative length where the field is not nullable.
    NegativeLength(i32),
    /// A string that is not UTF-8.
    InvalidUtf8,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            Problem::Truncated { needed, left } => write!(
                f,
                "truncated at byte {} reading {}: needs {needed} byte(s), {left} left",
                self.position, self.field
            ),
            Problem::NegativeLength(n) => write!(
                f,
                "invalid length {n} at byte {} for {} (not nullable)",
                self.position, self.field
            ),
            Problem::InvalidUtf8 => {
                write!(f, "{} at byte {} is not valid UTF-8", self.field, self.position)
            }
        }
    }
}

/// A bounds-checked cursor over a Kafka-encoded payload.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the first byte of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let left = self.remaining();
        if n > left {
            return Err(DecodeError {
                position: self.pos,
                field,
                problem: Problem::Truncated { needed: n, left },
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    /// Reads a big-endian `int16`.
    pub fn i16(&mut self, field: &'static str) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.array(field)?))
    }

    /// Reads a big-endian `int32`.
    pub fn i32(&mut self, field: &'static str) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array(field)?))
    }

    /// Reads a big-endian `int64`.
    pub fn i64(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array(field)?))
    }

    /// Reads an `int16`-length string; `None` when the length is `-1`.
    pub fn nullable_string(&mut self, field: &'static str) -> Result<Option<String>, DecodeError> {
        let at = self.pos;
        let len = self.i16(field)?;
        if len < 0 {
            return if len == -1 {
                Ok(None)
            } else {
                Err(DecodeError { position: at, field, problem: Problem::NegativeLength(len.into()) })
            };
        }
        let start = self.pos;
        let raw = self.take(len as usize, field)?;
        match std::str::from_utf8(raw) {
            Ok(s) => Ok(Some(s.to_owned())),
            Err(_) => Err(DecodeError { position: start, field, problem: Problem::InvalidUtf8 }),
        }
    }

    /// Reads a non-nullable `int16`-length string.
    pub fn string(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let at = self.pos;
        self.nullable_string(field)?.ok_or(DecodeError {
            position: at,
            field,
            problem: Problem::NegativeLength(-1),
        })
    }

    /// Reads `int32`-length bytes; `None` when the length is `-1`.
    pub fn nullable_bytes(&mut self, field: &'static str) -> Result<Option<&'a [u8]>, DecodeError> {
        let at = self.pos;
        let len = self.i32(field)?;
        if len < 0 {
            return if len == -1 {
                Ok(None)
            } else {
                Err(DecodeError { position: at, field, problem: Problem::NegativeLength(len) })
            };
        }
        self.take(len as usize, field).map(Some)
    }

    /// Reads an `int32` array count. Rejects negative counts, and counts that
    /// cannot fit in what is left (each element takes at least `min_elem`
    /// bytes), so a garbage count never causes a huge allocation.
    pub fn array_len(&mut self, field: &'static str, min_elem: usize) -> Result<usize, DecodeError> {
        let at = self.pos;
        let n = self.i32(field)?;
        if n < 0 {
            return Err(DecodeError { position: at, field, problem: Problem::NegativeLength(n) });
        }
        let n = n as usize;
        let needed = n.saturating_mul(min_elem.max(1));
        if needed > self.remaining() {
            return Err(DecodeError {
                position: self.pos,
                field,
                problem: Problem::Truncated { needed, left: self.remaining() },
            });
        }
        Ok(n)
    }
}

/// A value that the encoding cannot represent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EncodeError {
    /// The field being written.
    pub field: &'static str,
    /// Its length in bytes (or elements).
    pub len: usize,
    /// The most the encoding allows.
    pub max: usize,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is {} long; the Kafka encoding allows at most {}", self.field, self.len, self.max)
    }
}

/// Writes a non-nullable `int16`-length string.
pub(crate) fn put_string(buf: &mut BytesMut, s: &str, field: &'static str) -> Result<(), EncodeError> {
    let len = i16::try_from(s.len())
        .map_err(|_| EncodeError { field, len: s.len(), max: i16::MAX as usize })?;
    buf.put_i16(len);
    buf.put_slice(s.as_bytes());
    Ok(())
}

/// Writes an `int16`-length string, `-1` for `None`.
pub(crate) fn put_nullable_string(
    buf: &mut BytesMut,
    s: Option<&str>,
    field: &'static str,
) -> Result<(), EncodeError> {
    match s {
        Some(s) => put_string(buf, s, field),
        None => {
            buf.put_i16(-1);
            Ok(())
        }
    }
}

/// Writes `int32`-length bytes, `-1` for `None`.
pub(crate) fn put_nullable_bytes(
    buf: &mut BytesMut,
    b: Option<&[u8]>,
    field: &'static str,
) -> Result<(), EncodeError> {
    match b {
        Some(b) => {
            buf.put_i32(array_count(b.len(), field)?);
            buf.put_slice(b);
        }
        None => buf.put_i32(-1),
    }
    Ok(())
}

/// Converts a length to an `int32` count.
pub(crate) fn array_count(len: usize, field: &'static str) -> Result<i32, EncodeError> {
    i32::try_from(len).map_err(|_| EncodeError { field, len, max: i32::MAX as usize })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reader_reports_truncation_position() {
        let mut r = Reader::new(&[0, 5, b'a', b'b']);
        let err = r.string("topic name").unwrap_err();
        assert_eq!(err.position, 2);
        assert_eq!(err.problem, Problem::Truncated { needed: 5, left: 2 });
        assert!(err.to_string().contains("topic name"));
    }

    #[test]
    fn null_and_negative_lengths() {
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
        assert_eq!(r.nullable_bytes("user data").unwrap(), None);
        assert!(matches!(r.nullable_string("rack").unwrap_err().problem, Problem::NegativeLength(-2)));
    }

    #[test]
    fn huge_array_count_is_rejected_without_allocating() {
        let mut r = Reader::new(&[0x7f, 0xff, 0xff, 0xff, 0, 0]);
        assert!(r.array_len("topics", 2).is_err());
    }

    #[test]
    fn oversized_string_is_refused() {
        let mut buf = BytesMut::new();
        let long = "x".repeat(40_000);
        assert!(put_string(&mut buf, &long, "metadata").is_err());
        assert!(buf.is_empty());
    }
}
