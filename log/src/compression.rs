//! The five RecordBatch compression codecs, byte-compatible with Kafka.
//!
//! - gzip: RFC 1952 stream;
//! - snappy: Kafka's Java client writes the *xerial* framing (a magic header,
//!   then `[i32 length][raw snappy block]*`); librdkafka reads both it and raw
//!   snappy. We write xerial and read either.
//! - lz4: the LZ4 frame format;
//! - zstd: a zstd frame.
//!
//! Decompression is bounded ([`MAX_DECOMPRESSED`]) so a hostile batch cannot
//! make the log allocate without limit.

use std::io::{Read, Write};

/// Largest record section a batch may decompress to.
pub const MAX_DECOMPRESSED: usize = 256 << 20;

const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const XERIAL_BLOCK: usize = 32 * 1024;

/// A RecordBatch compression codec (attribute bits 0..=2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression.
    #[default]
    None,
    /// gzip.
    Gzip,
    /// snappy (xerial framing).
    Snappy,
    /// lz4 frame.
    Lz4,
    /// zstd.
    Zstd,
}

impl Compression {
    /// Every codec, in attribute order.
    pub const ALL: [Compression; 5] =
        [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd];

    /// The attribute bits for this codec.
    pub fn attribute(self) -> i16 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// The codec for attribute bits, if known.
    pub fn from_attribute(attributes: i16) -> Option<Self> {
        Some(match attributes & 0x7 {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            _ => return None,
        })
    }

    /// Parses Kafka's `compression.type` names.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "none" => Compression::None,
            "gzip" => Compression::Gzip,
            "snappy" => Compression::Snappy,
            "lz4" => Compression::Lz4,
            "zstd" => Compression::Zstd,
            _ => return None,
        })
    }

    /// Compresses `data`.
    pub fn compress(self, data: &[u8]) -> std::io::Result<Vec<u8>> {
        match self {
            Compression::None => Ok(data.to_vec()),
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(data)?;
                e.finish()
            }
            Compression::Snappy => {
                let mut out = Vec::with_capacity(data.len() / 2 + 32);
                out.extend_from_slice(&XERIAL_MAGIC);
                out.extend_from_slice(&1i32.to_be_bytes());
                out.extend_from_slice(&1i32.to_be_bytes());
                let mut enc = snap::raw::Encoder::new();
                for chunk in data.chunks(XERIAL_BLOCK) {
                    let c = enc.compress_vec(chunk).map_err(std::io::Error::other)?;
                    out.extend_from_slice(&(c.len() as i32).to_be_bytes());
                    out.extend_from_slice(&c);
                }
                Ok(out)
            }
            Compression::Lz4 => {
                let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
                e.write_all(data)?;
                e.finish().map_err(std::io::Error::other)
            }
            Compression::Zstd => zstd::bulk::compress(data, 3),
        }
    }

    /// Decompresses `data`, refusing output larger than [`MAX_DECOMPRESSED`].
    ///
    /// # Errors
    /// A message saying what is malformed.
    pub fn decompress(self, data: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(data.len() * 2);
        self.decompress_into(data, &mut out)?;
        Ok(out)
    }

    /// [`decompress`](Self::decompress) into `out` (cleared first), so a
    /// caller can reuse one buffer across batches.
    ///
    /// # Errors
    /// A message saying what is malformed.
    pub fn decompress_into(self, data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        out.clear();
        let mut bounded = |r: &mut dyn Read| -> Result<(), String> {
            r.take(MAX_DECOMPRESSED as u64 + 1).read_to_end(out).map_err(|e| e.to_string())?;
            if out.len() > MAX_DECOMPRESSED {
                return Err(format!("decompresses to more than {MAX_DECOMPRESSED} bytes"));
            }
            Ok(())
        };
        match self {
            Compression::None => {
                out.extend_from_slice(data);
                Ok(())
            }
            Compression::Gzip => bounded(&mut flate2::read::GzDecoder::new(data)).map_err(|e| format!("gzip: {e}")),
            Compression::Lz4 => {
                bounded(&mut lz4_flex::frame::FrameDecoder::new(data)).map_err(|e| format!("lz4: {e}"))
            }
            Compression::Zstd => {
                let mut d = zstd::stream::read::Decoder::new(data).map_err(|e| format!("zstd: {e}"))?;
                bounded(&mut d).map_err(|e| format!("zstd: {e}"))
            }
            Compression::Snappy => {
                *out = snappy_decompress(data).map_err(|e| format!("snappy: {e}"))?;
                Ok(())
            }
        }
    }
}

fn snappy_decompress(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut dec = snap::raw::Decoder::new();
    let mut raw_block = |block: &[u8], out: &mut Vec<u8>| -> Result<(), String> {
        let n = snap::raw::decompress_len(block).map_err(|e| e.to_string())?;
        if out.len() + n > MAX_DECOMPRESSED {
            return Err(format!("decompresses to more than {MAX_DECOMPRESSED} bytes"));
        }
        let start = out.len();
        out.resize(start + n, 0);
        dec.decompress(block, &mut out[start..]).map_err(|e| e.to_string())?;
        Ok(())
    };
    let mut out = Vec::new();
    if !data.starts_with(&XERIAL_MAGIC) {
        raw_block(data, &mut out)?;
        return Ok(out);
    }
    let mut pos = XERIAL_MAGIC.len() + 8;
    if data.len() < pos {
        return Err("truncated xerial header".into());
    }
    while pos < data.len() {
        let len_bytes: [u8; 4] = data
            .get(pos..pos + 4)
            .and_then(|s| s.try_into().ok())
            .ok_or("truncated xerial block length")?;
        let len = i32::from_be_bytes(len_bytes);
        pos += 4;
        let block = usize::try_from(len)
            .ok()
            .and_then(|l| data.get(pos..pos + l))
            .ok_or("xerial block length runs past the end")?;
        raw_block(block, &mut out)?;
        pos += block.len();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_codec_round_trips(data in proptest::collection::vec(any::<u8>(), 0..100_000)) {
            for c in Compression::ALL {
                let z = c.compress(&data).unwrap();
                prop_assert_eq!(c.decompress(&z).unwrap(), data.clone(), "{:?}", c);
            }
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            for c in Compression::ALL {
                let _ = c.decompress(&data);
            }
        }
    }

    #[test]
    fn raw_snappy_is_read_too() {
        let data = b"hello hello hello hello".repeat(10);
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(Compression::Snappy.decompress(&raw).unwrap(), data);
        assert!(Compression::Snappy.compress(&data).unwrap().starts_with(&XERIAL_MAGIC));
    }

    #[test]
    fn attributes_match_kafka() {
        for c in Compression::ALL {
            assert_eq!(Compression::from_attribute(c.attribute()), Some(c));
        }
        assert_eq!(Compression::from_attribute(5), None);
    }
}
