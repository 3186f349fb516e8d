//! Byte layouts of stored keys.
//!
//! User keys are arbitrary bytes. Window and session stores append times to
//! them, so the key part must be *prefix-free* (key `a` must not capture key
//! `ab` in a range) and *order-preserving* (a key range scans keys in key
//! order). The escape encoding does both: every `0x00` becomes `0x00 0xff`
//! and the key ends with `0x00 0x00`.
//!
//! ```text
//! window key:  esc(key) | start: u64 (sign flipped, big-endian) | seq: u32
//! session key: esc(key) | end:   u64 (sign flipped)              | start: u64 (sign flipped)
//! ```
//!
//! A window fetch for one key over `[from, to]` is then one contiguous range,
//! `esc(key)|from|0 ..= esc(key)|to|MAX`: one seek per segment.

/// Appends the order-preserving, prefix-free form of `key`.
pub fn escape_into(out: &mut Vec<u8>, key: &[u8]) {
    for &b in key {
        out.push(b);
        if b == 0 {
            out.push(0xff);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

/// Reads an escaped key from the start of `buf`; returns the key and the
/// number of bytes consumed, or `None` if `buf` is not a valid encoding.
pub fn unescape(buf: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut key = Vec::with_capacity(buf.len());
    let mut i = 0;
    loop {
        let b = *buf.get(i)?;
        if b != 0 {
            key.push(b);
            i += 1;
            continue;
        }
        match *buf.get(i + 1)? {
            0xff => {
                key.push(0);
                i += 2;
            }
            0 => return Some((key, i + 2)),
            _ => return None,
        }
    }
}

/// Big-endian with the sign bit flipped, so signed times sort as unsigned bytes.
pub fn time_bytes(t: i64) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

fn time_from(b: &[u8]) -> Option<i64> {
    Some((u64::from_be_bytes(b.try_into().ok()?) ^ (1 << 63)) as i64)
}

/// Encodes a window store key.
pub fn window_key(key: &[u8], start: i64, seq: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 14);
    escape_into(&mut out, key);
    out.extend_from_slice(&time_bytes(start));
    out.extend_from_slice(&seq.to_be_bytes());
    out
}

/// Decodes a window store key into `(key, window start, seq)`.
pub fn parse_window_key(buf: &[u8]) -> Option<(Vec<u8>, i64, u32)> {
    let (key, n) = unescape(buf)?;
    let rest = buf.get(n..)?;
    if rest.len() != 12 {
        return None;
    }
    Some((key, time_from(&rest[..8])?, u32::from_be_bytes(rest[8..12].try_into().ok()?)))
}

/// The window start stored in a window key (for segment routing).
pub fn window_key_time(buf: &[u8]) -> Option<i64> {
    let n = buf.len().checked_sub(12)?;
    time_from(&buf[n..n + 8])
}

/// Encodes a session store key.
pub fn session_key(key: &[u8], start: i64, end: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 18);
    escape_into(&mut out, key);
    out.extend_from_slice(&time_bytes(end));
    out.extend_from_slice(&time_bytes(start));
    out
}

/// Decodes a session store key into `(key, start, end)`.
pub fn parse_session_key(buf: &[u8]) -> Option<(Vec<u8>, i64, i64)> {
    let (key, n) = unescape(buf)?;
    let rest = buf.get(n..)?;
    if rest.len() != 16 {
        return None;
    }
    Some((key, time_from(&rest[8..16])?, time_from(&rest[..8])?))
}

/// The session end stored in a session key (for segment routing).
pub fn session_key_time(buf: &[u8]) -> Option<i64> {
    let n = buf.len().checked_sub(16)?;
    time_from(&buf[n..n + 8])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn escaping_preserves_order_and_round_trips(a: Vec<u8>, b: Vec<u8>, ta: i64, tb: i64) {
            let (mut ea, mut eb) = (Vec::new(), Vec::new());
            escape_into(&mut ea, &a);
            escape_into(&mut eb, &b);
            prop_assert_eq!(a.cmp(&b), ea.cmp(&eb));
            prop_assert_eq!(unescape(&ea), Some((a.clone(), ea.len())));
            // Prefix-free: a window key of `a` never falls inside `b`'s range unless a == b.
            let wa = window_key(&a, ta, 0);
            let lo = window_key(&b, i64::MIN, 0);
            let hi = window_key(&b, i64::MAX, u32::MAX);
            prop_assert_eq!(a == b, lo <= wa && wa <= hi);
            prop_assert_eq!(parse_window_key(&wa), Some((a.clone(), ta, 0)));
            prop_assert_eq!(window_key_time(&wa), Some(ta));
            prop_assert_eq!(ta.cmp(&tb), time_bytes(ta).cmp(&time_bytes(tb)));
            let s = session_key(&a, ta, tb);
            prop_assert_eq!(parse_session_key(&s), Some((a, ta, tb)));
            prop_assert_eq!(session_key_time(&s), Some(tb));
        }
    }

    #[test]
    fn malformed_keys_are_rejected() {
        assert_eq!(unescape(&[1, 2]), None);
        assert_eq!(unescape(&[0, 7]), None);
        assert_eq!(parse_window_key(&[0, 0, 1]), None);
    }
}
