//! Records and their Kafka v2 encoding (varints, headers).
//!
//! A record inside a RecordBatch v2 is:
//!
//! ```text
//! length: varint | attributes: i8 | timestampDelta: varlong | offsetDelta: varint
//! keyLength: varint (-1 = null) | key | valueLength: varint (-1 = null) | value
//! headerCount: varint | [headerKeyLength: varint | key | headerValueLength: varint | value]*
//! ```
//!
//! Varints are zig-zag encoded, as in protobuf.

use bytes::{BufMut, Bytes};

/// One record header. Keys may repeat; order is preserved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header key (UTF-8 in Kafka; kept as given).
    pub key: String,
    /// Header value; `None` is a null value.
    pub value: Option<Bytes>,
}

/// A record to produce: what the caller gives the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// Nullable key. Compaction and the default partitioner use it.
    pub key: Option<Bytes>,
    /// Nullable value; `None` is a tombstone.
    pub value: Option<Bytes>,
    /// Timestamp in milliseconds since the epoch (CreateTime). `None` = now.
    pub timestamp: Option<i64>,
    /// Ordered headers; duplicate keys allowed.
    pub headers: Vec<Header>,
}

impl Record {
    /// A record with a value and no key.
    pub fn value(value: impl Into<Bytes>) -> Self {
        Record { value: Some(value.into()), ..Default::default() }
    }

    /// A record with a key and a value.
    pub fn keyed(key: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        Record { key: Some(key.into()), value: Some(value.into()), ..Default::default() }
    }

    /// A tombstone for `key`.
    pub fn tombstone(key: impl Into<Bytes>) -> Self {
        Record { key: Some(key.into()), ..Default::default() }
    }

    /// Sets the timestamp.
    #[must_use]
    pub fn with_timestamp(mut self, ts: i64) -> Self {
        self.timestamp = Some(ts);
        self
    }

    /// Appends a header.
    #[must_use]
    pub fn with_header(mut self, key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        self.headers.push(Header { key: key.into(), value: Some(value.into()) });
        self
    }

    /// Bytes this record takes in a batch, roughly (for batching decisions).
    pub fn approx_size(&self) -> usize {
        let h: usize = self.headers.iter().map(|h| h.key.len() + h.value.as_ref().map_or(0, Bytes::len) + 4).sum();
        self.key.as_ref().map_or(0, Bytes::len) + self.value.as_ref().map_or(0, Bytes::len) + h + 16
    }
}

/// A record read back from the log, with its offset and final timestamp.
///
/// Key, value and header values are slices of the fetched batch buffer: no
/// per-record copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// Offset in the partition.
    pub offset: i64,
    /// Timestamp (ms): CreateTime, or the batch's LogAppendTime.
    pub timestamp: i64,
    /// Key.
    pub key: Option<Bytes>,
    /// Value; `None` is a tombstone.
    pub value: Option<Bytes>,
    /// Headers in order.
    pub headers: Vec<Header>,
}

// ---- varints -----------------------------------------------------------------

/// Appends a zig-zag varint (Kafka `varint`, 32 bit).
#[inline]
pub fn put_varint(buf: &mut impl BufMut, v: i32) {
    put_uvarint(buf, ((v << 1) ^ (v >> 31)) as u32 as u64);
}

/// Appends a zig-zag varlong (Kafka `varlong`, 64 bit).
#[inline]
pub fn put_varlong(buf: &mut impl BufMut, v: i64) {
    put_uvarint(buf, ((v << 1) ^ (v >> 63)) as u64);
}

#[inline]
fn put_uvarint(buf: &mut impl BufMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Size of a zig-zag varint.
#[inline]
pub fn varint_len(v: i32) -> usize {
    uvarint_len(((v << 1) ^ (v >> 31)) as u32 as u64)
}

/// Size of a zig-zag varlong.
#[inline]
pub fn varlong_len(v: i64) -> usize {
    uvarint_len(((v << 1) ^ (v >> 63)) as u64)
}

#[inline]
fn uvarint_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// A bounds-checked reader over a record section. Every method returns
/// `Err(&'static str)` naming what was truncated or malformed.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn uvarint(&mut self, max_bytes: usize) -> Result<u64, &'static str> {
        let mut v = 0u64;
        for i in 0..max_bytes {
            let b = *self.buf.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint is too long")
    }

    pub(crate) fn varint(&mut self) -> Result<i32, &'static str> {
        let u = self.uvarint(5)? as u32;
        Ok(((u >> 1) as i32) ^ -((u & 1) as i32))
    }

    pub(crate) fn varlong(&mut self) -> Result<i64, &'static str> {
        let u = self.uvarint(10)?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    pub(crate) fn i8(&mut self) -> Result<i8, &'static str> {
        let b = *self.buf.get(self.pos).ok_or("truncated record attributes")?;
        self.pos += 1;
        Ok(b as i8)
    }

    /// Reads `len` bytes (`len == -1` → None) as a range into the buffer.
    pub(crate) fn nullable(&mut self, len: i32) -> Result<Option<std::ops::Range<usize>>, &'static str> {
        if len < 0 {
            return if len == -1 { Ok(None) } else { Err("negative length") };
        }
        let len = len as usize;
        if len > self.remaining() {
            return Err("length runs past the end of the batch");
        }
        let r = self.pos..self.pos + len;
        self.pos += len;
        Ok(Some(r))
    }
}

/// Size of `record` encoded at the given deltas, *without* the length prefix.
fn body_len(r: &Record, ts_delta: i64, offset_delta: i32) -> usize {
    let nlen = |b: &Option<Bytes>| b.as_ref().map_or(varint_len(-1), |b| varint_len(b.len() as i32) + b.len());
    let mut n = 1 + varlong_len(ts_delta) + varint_len(offset_delta) + nlen(&r.key) + nlen(&r.value);
    n += varint_len(r.headers.len() as i32);
    for h in &r.headers {
        n += varint_len(h.key.len() as i32) + h.key.len() + nlen(&h.value);
    }
    n
}

/// Appends one record in v2 format.
pub(crate) fn encode_record(buf: &mut impl BufMut, r: &Record, ts_delta: i64, offset_delta: i32) {
    fn put_nullable(buf: &mut impl BufMut, b: &Option<Bytes>) {
        match b {
            Some(b) => {
                put_varint(buf, b.len() as i32);
                buf.put_slice(b);
            }
            None => put_varint(buf, -1),
        }
    }
    put_varint(buf, body_len(r, ts_delta, offset_delta) as i32);
    buf.put_i8(0);
    put_varlong(buf, ts_delta);
    put_varint(buf, offset_delta);
    put_nullable(buf, &r.key);
    put_nullable(buf, &r.value);
    put_varint(buf, r.headers.len() as i32);
    for h in &r.headers {
        put_varint(buf, h.key.len() as i32);
        buf.put_slice(h.key.as_bytes());
        put_nullable(buf, &h.value);
    }
}

/// Encoded size of one record including its length prefix.
pub(crate) fn encoded_len(r: &Record, ts_delta: i64, offset_delta: i32) -> usize {
    let b = body_len(r, ts_delta, offset_delta);
    varint_len(b as i32) + b
}

/// Checks one record's structure as [`decode_record`] does, without copying
/// anything out. Returns (offset delta, whether it has a key).
pub(crate) fn skip_record(cur: &mut Cursor<'_>) -> Result<(i32, bool), &'static str> {
    let len = cur.varint()?;
    if len < 0 || len as usize > cur.remaining() {
        return Err("record length runs past the end of the batch");
    }
    let end = cur.pos + len as usize;
    let _attributes = cur.i8()?;
    let _ts_delta = cur.varlong()?;
    let offset_delta = cur.varint()?;
    let key_len = cur.varint()?;
    let has_key = cur.nullable(key_len)?.is_some();
    let value_len = cur.varint()?;
    cur.nullable(value_len)?;
    let n_headers = cur.varint()?;
    if n_headers < 0 || n_headers as usize > cur.remaining() {
        return Err("header count is larger than the record");
    }
    for _ in 0..n_headers {
        let klen = cur.varint()?;
        cur.nullable(klen)?.ok_or("null header key")?;
        let vlen = cur.varint()?;
        cur.nullable(vlen)?;
    }
    if cur.pos != end {
        return Err("record length does not match its fields");
    }
    Ok((offset_delta, has_key))
}

/// Decodes one record from `buf` (a slice of `whole`, the decompressed record
/// section). Returns (offset delta, timestamp delta, record fields).
pub(crate) fn decode_record(
    whole: &Bytes,
    cur: &mut Cursor<'_>,
) -> Result<(i32, i64, Option<Bytes>, Option<Bytes>, Vec<Header>), &'static str> {
    let len = cur.varint()?;
    if len < 0 || len as usize > cur.remaining() {
        return Err("record length runs past the end of the batch");
    }
    let end = cur.pos + len as usize;
    let _attributes = cur.i8()?;
    let ts_delta = cur.varlong()?;
    let offset_delta = cur.varint()?;
    let key_len = cur.varint()?;
    let key = cur.nullable(key_len)?.map(|r| whole.slice(r));
    let value_len = cur.varint()?;
    let value = cur.nullable(value_len)?.map(|r| whole.slice(r));
    let n_headers = cur.varint()?;
    if n_headers < 0 || n_headers as usize > cur.remaining() {
        return Err("header count is larger than the record");
    }
    let mut headers = Vec::with_capacity(n_headers as usize);
    for _ in 0..n_headers {
        let klen = cur.varint()?;
        let k = cur.nullable(klen)?.ok_or("null header key")?;
        let key = String::from_utf8_lossy(&whole[k]).into_owned();
        let vlen = cur.varint()?;
        let value = cur.nullable(vlen)?.map(|r| whole.slice(r));
        headers.push(Header { key, value });
    }
    if cur.pos != end {
        return Err("record length does not match its fields");
    }
    Ok((offset_delta, ts_delta, key, value, headers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varints_round_trip(v: i32, l: i64) {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            prop_assert_eq!(buf.len(), varint_len(v));
            put_varlong(&mut buf, l);
            prop_assert_eq!(buf.len(), varint_len(v) + varlong_len(l));
            let mut c = Cursor::new(&buf);
            prop_assert_eq!(c.varint().unwrap(), v);
            prop_assert_eq!(c.varlong().unwrap(), l);
            prop_assert_eq!(c.remaining(), 0);
        }
    }

    #[test]
    fn known_zigzag_bytes() {
        // From Kafka's ByteUtilsTest: zig-zag of -1 is 1, of 1 is 2, of 300 is 600 = [0xd8, 0x04].
        let mut b = Vec::new();
        put_varint(&mut b, -1);
        put_varint(&mut b, 1);
        put_varint(&mut b, 300);
        assert_eq!(b, vec![0x01, 0x02, 0xd8, 0x04]);
    }

    #[test]
    fn truncated_varint_is_an_error() {
        assert_eq!(Cursor::new(&[0x80]).varint(), Err("truncated varint"));
        assert_eq!(Cursor::new(&[0xff; 6]).varint(), Err("varint is too long"));
    }
}
