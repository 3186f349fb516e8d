//! A compact binary encoding of [`Value`]s, for aggregate state in state
//! stores.
//!
//! The encoding is self-describing: every value starts with a one-byte tag,
//! so [`decode`] needs no type. Integers are zig-zag LEB128 varints (small
//! numbers take one or two bytes), doubles are their IEEE-754 bits (little
//! endian, so NaN payloads and `-0.0` survive), lengths and counts are
//! unsigned varints.
//!
//! | tag | value      | payload                                        |
//! |-----|------------|------------------------------------------------|
//! | 0   | NULL       | —                                              |
//! | 1   | FALSE      | —                                              |
//! | 2   | TRUE       | —                                              |
//! | 3   | INT        | zig-zag varint                                 |
//! | 4   | BIGINT     | zig-zag varint                                 |
//! | 5   | DOUBLE     | 8 bytes, little endian bits                    |
//! | 6   | DECIMAL    | scale (1 byte, signed), zig-zag varint of the unscaled `i128` |
//! | 7   | STRING     | length, UTF-8 bytes                            |
//! | 8   | BYTES      | length, bytes                                  |
//! | 9   | DATE       | zig-zag varint (days)                          |
//! | 10  | TIME       | zig-zag varint (milliseconds)                  |
//! | 11  | TIMESTAMP  | zig-zag varint (milliseconds)                  |
//! | 12  | ARRAY      | count, elements                                |
//! | 13  | MAP        | count, key and value of each entry             |
//! | 14  | STRUCT     | count, name (length, UTF-8) and value of each field |
//!
//! Decoding checks every length against the bytes left (so corrupt input
//! cannot make it allocate wildly), limits nesting depth, and rejects
//! trailing bytes.

use crate::error::{Result, SqlError};
use crate::value::Value;

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const INT: u8 = 3;
const BIGINT: u8 = 4;
const DOUBLE: u8 = 5;
const DECIMAL: u8 = 6;
const STRING: u8 = 7;
const BYTES: u8 = 8;
const DATE: u8 = 9;
const TIME: u8 = 10;
const TIMESTAMP: u8 = 11;
const ARRAY: u8 = 12;
const MAP: u8 = 13;
const STRUCT: u8 = 14;

/// Deepest nesting of arrays, maps and structs that [`decode`] accepts.
const MAX_DEPTH: usize = 256;

/// Encodes `v`.
pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(&mut out, v);
    out
}

/// Decodes what [`encode`] wrote.
///
/// # Errors
/// Bytes that are not an encoded value: unknown tags, truncated input,
/// invalid UTF-8, out-of-range numbers, nesting deeper than 256 levels, or
/// bytes left over after the value.
pub fn decode(bytes: &[u8]) -> Result<Value> {
    let mut r = Reader { bytes, pos: 0 };
    let v = r.value(0)?;
    if r.pos != bytes.len() {
        return Err(corrupt(format!("{} trailing bytes after the value", bytes.len() - r.pos)));
    }
    Ok(v)
}

fn corrupt(why: impl std::fmt::Display) -> SqlError {
    SqlError::serde(format!("corrupt aggregate state: {why}"))
}

fn write_uvarint(out: &mut Vec<u8>, mut v: u128) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn write_ivarint(out: &mut Vec<u8>, v: i128) {
    // Zig-zag: 0, -1, 1, -2, … map to 0, 1, 2, 3, …
    let z = ((v << 1) ^ (v >> 127)) as u128;
    write_uvarint(out, z);
}

fn write_len(out: &mut Vec<u8>, len: usize) {
    write_uvarint(out, len as u128);
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    write_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.push(NULL),
        Value::Boolean(false) => out.push(FALSE),
        Value::Boolean(true) => out.push(TRUE),
        Value::Int(i) => {
            out.push(INT);
            write_ivarint(out, i128::from(*i));
        }
        Value::Bigint(i) => {
            out.push(BIGINT);
            write_ivarint(out, i128::from(*i));
        }
        Value::Double(d) => {
            out.push(DOUBLE);
            out.extend_from_slice(&d.to_bits().to_le_bytes());
        }
        Value::Decimal(u, s) => {
            out.push(DECIMAL);
            out.push(*s as u8);
            write_ivarint(out, *u);
        }
        Value::String(s) => {
            out.push(STRING);
            write_str(out, s);
        }
        Value::Bytes(b) => {
            out.push(BYTES);
            write_len(out, b.len());
            out.extend_from_slice(b);
        }
        Value::Date(d) => {
            out.push(DATE);
            write_ivarint(out, i128::from(*d));
        }
        Value::Time(t) => {
            out.push(TIME);
            write_ivarint(out, i128::from(*t));
        }
        Value::Timestamp(t) => {
            out.push(TIMESTAMP);
            write_ivarint(out, i128::from(*t));
        }
        Value::Array(items) => {
            out.push(ARRAY);
            write_len(out, items.len());
            for item in items {
                write_value(out, item);
            }
        }
        Value::Map(entries) => {
            out.push(MAP);
            write_len(out, entries.len());
            for (k, x) in entries {
                write_value(out, k);
                write_value(out, x);
            }
        }
        Value::Struct(fields) => {
            out.push(STRUCT);
            write_len(out, fields.len());
            for (name, x) in fields {
                write_str(out, name);
                write_value(out, x);
            }
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8> {
        let b = *self.bytes.get(self.pos).ok_or_else(|| corrupt("unexpected end of input"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| corrupt("unexpected end of input"))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn uvarint(&mut self) -> Result<u128> {
        let mut v: u128 = 0;
        let mut shift = 0u32;
        loop {
            let b = self.byte()?;
            let bits = u128::from(b & 0x7f);
            if shift >= 128 || (shift > 121 && bits >> (128 - shift) != 0) {
                return Err(corrupt("varint too long"));
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
            shift += 7;
        }
    }

    fn ivarint(&mut self) -> Result<i128> {
        let z = self.uvarint()?;
        Ok(((z >> 1) as i128) ^ -((z & 1) as i128))
    }

    fn i32(&mut self) -> Result<i32> {
        let v = self.ivarint()?;
        i32::try_from(v).map_err(|_| corrupt(format!("{v} out of range for a 32-bit value")))
    }

    fn i64(&mut self) -> Result<i64> {
        let v = self.ivarint()?;
        i64::try_from(v).map_err(|_| corrupt(format!("{v} out of range for a 64-bit value")))
    }

    /// A count of items that each take at least one byte: never more than
    /// the bytes left.
    fn count(&mut self) -> Result<usize> {
        let n = self.uvarint()?;
        let left = self.bytes.len() - self.pos;
        match usize::try_from(n) {
            Ok(n) if n <= left => Ok(n),
            _ => Err(corrupt(format!("length {n} exceeds the {left} bytes left"))),
        }
    }

    fn string(&mut self) -> Result<String> {
        let n = self.count()?;
        let raw = self.take(n)?;
        std::str::from_utf8(raw).map(str::to_owned).map_err(|e| corrupt(format!("invalid UTF-8: {e}")))
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        let tag = self.byte()?;
        Ok(match tag {
            NULL => Value::Null,
            FALSE => Value::Boolean(false),
            TRUE => Value::Boolean(true),
            INT => Value::Int(self.i32()?),
            BIGINT => Value::Bigint(self.i64()?),
            DOUBLE => {
                let raw = self.take(8)?;
                let mut b = [0u8; 8];
                b.copy_from_slice(raw);
                Value::Double(f64::from_bits(u64::from_le_bytes(b)))
            }
            DECIMAL => {
                let scale = self.byte()? as i8;
                Value::Decimal(self.ivarint()?, scale)
            }
            STRING => Value::String(self.string()?),
            BYTES => {
                let n = self.count()?;
                Value::Bytes(self.take(n)?.to_vec())
            }
            DATE => Value::Date(self.i32()?),
            TIME => Value::Time(self.i32()?),
            TIMESTAMP => Value::Timestamp(self.i64()?),
            ARRAY | MAP | STRUCT => {
                if depth >= MAX_DEPTH {
                    return Err(corrupt("nesting too deep"));
                }
                let n = self.count()?;
                match tag {
                    ARRAY => {
                        let mut items = Vec::with_capacity(n);
                        for _ in 0..n {
                            items.push(self.value(depth + 1)?);
                        }
                        Value::Array(items)
                    }
                    MAP => {
                        let mut entries = Vec::with_capacity(n);
                        for _ in 0..n {
                            let k = self.value(depth + 1)?;
                            let x = self.value(depth + 1)?;
                            entries.push((k, x));
                        }
                        Value::Map(entries)
                    }
                    _ => {
                        let mut fields = Vec::with_capacity(n);
                        for _ in 0..n {
                            let name = self.string()?;
                            let x = self.value(depth + 1)?;
                            fields.push((name, x));
                        }
                        Value::Struct(fields)
                    }
                }
            }
            other => return Err(corrupt(format!("unknown tag {other}"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Boolean),
            any::<i32>().prop_map(Value::Int),
            any::<i64>().prop_map(Value::Bigint),
            // NaN != NaN, so NaN is checked bit for bit separately.
            any::<f64>().prop_filter("not NaN", |d| !d.is_nan()).prop_map(Value::Double),
            (any::<i128>(), any::<i8>()).prop_map(|(u, s)| Value::Decimal(u, s)),
            ".{0,12}".prop_map(Value::String),
            proptest::collection::vec(any::<u8>(), 0..12).prop_map(Value::Bytes),
            any::<i32>().prop_map(Value::Date),
            any::<i32>().prop_map(Value::Time),
            any::<i64>().prop_map(Value::Timestamp),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(4, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec((inner.clone(), inner.clone()), 0..4).prop_map(Value::Map),
                proptest::collection::vec(("[A-Za-z_]{0,6}", inner), 0..4).prop_map(Value::Struct),
            ]
        })
    }

    proptest! {
        #[test]
        fn round_trips(v in value()) {
            let bytes = encode(&v);
            prop_assert_eq!(decode(&bytes).unwrap(), v);
        }

        #[test]
        fn truncated_input_is_an_error_not_a_panic(v in value()) {
            let bytes = encode(&v);
            for cut in 0..bytes.len() {
                prop_assert!(decode(&bytes[..cut]).is_err());
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&bytes);
        }
    }

    #[test]
    fn small_values_are_compact() {
        assert_eq!(encode(&Value::Null), vec![NULL]);
        assert_eq!(encode(&Value::Bigint(5)), vec![BIGINT, 10]);
        assert_eq!(encode(&Value::Int(-1)), vec![INT, 1]);
        assert_eq!(encode(&Value::String("ab".into())), vec![STRING, 2, b'a', b'b']);
        assert_eq!(
            encode(&Value::Struct(vec![("C".into(), Value::Bigint(3))])),
            vec![STRUCT, 1, 1, b'C', BIGINT, 6]
        );
    }

    #[test]
    fn extremes_round_trip() {
        for v in [
            Value::Int(i32::MIN),
            Value::Int(i32::MAX),
            Value::Bigint(i64::MIN),
            Value::Bigint(i64::MAX),
            Value::Decimal(i128::MIN, -128),
            Value::Decimal(i128::MAX, 127),
            Value::Double(-0.0),
            Value::Double(f64::INFINITY),
        ] {
            assert_eq!(decode(&encode(&v)).unwrap(), v);
        }
        let nan = f64::from_bits(0x7ff8_0000_0000_1234);
        match decode(&encode(&Value::Double(nan))).unwrap() {
            Value::Double(d) => assert_eq!(d.to_bits(), nan.to_bits()),
            other => panic!("decoded {other:?}"),
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(decode(&[]).is_err());
        assert!(decode(&[99]).is_err());
        assert!(decode(&[NULL, NULL]).is_err(), "trailing bytes");
        assert!(decode(&[INT, 0x80, 0x80, 0x80, 0x80, 0x10]).is_err(), "int out of range");
        assert!(decode(&[STRING, 2, 0xff, 0xfe]).is_err(), "invalid UTF-8");
        assert!(decode(&[ARRAY, 0xff, 0xff, 0xff, 0x0f]).is_err(), "count beyond input");
        let deep: Vec<u8> = std::iter::repeat([ARRAY, 1]).take(MAX_DEPTH + 1).flatten().chain([NULL]).collect();
        assert!(decode(&deep).is_err());
        assert!(decode(&[BIGINT, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]).is_err());
    }
}
