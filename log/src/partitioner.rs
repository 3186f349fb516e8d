//! Kafka's default partitioner: `murmur2(key) & 0x7fffffff % partitions` for
//! keyed records, so a key lands on the same partition as it would in Kafka
//! (Java client and librdkafka's `murmur2_random`). Records without a key are
//! spread with Kafka's *sticky* strategy: one partition per batch, rotating.

/// Kafka's murmur2 hash (seed `0x9747b28c`), as in `Utils.murmur2`.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = SEED ^ len as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition Kafka's default partitioner picks for `key`.
///
/// # Panics
/// Never; `partitions` below 1 is treated as 1.
///
/// # Examples
/// ```
/// assert_eq!(riffle_log::partition_for_key(b"foobar", 4), riffle_log::partition_for_key(b"foobar", 4));
/// ```
pub fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    (murmur2(key) & 0x7fff_ffff) % partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_kafka_murmur2_vectors() {
        // Kafka's UtilsTest.testMurmur2.
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
            (b"abc", 479_470_107),
        ];
        for (k, h) in cases {
            assert_eq!(murmur2(k), h, "{}", String::from_utf8_lossy(k));
        }
    }

    #[test]
    fn partitions_are_positive_modulo() {
        // toPositive(-790332482) = 1357151166; % 3 = 0, % 7 = 3.
        assert_eq!(partition_for_key(b"foobar", 3), 1_357_151_166 % 3);
        assert_eq!(partition_for_key(b"foobar", 7), 1_357_151_166 % 7);
        for p in 1..20 {
            assert!((0..p).contains(&partition_for_key(b"21", p)));
        }
    }
}
