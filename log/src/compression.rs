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
//!
//! Produced batches are decompressed once to be checked (see
//! `batch::validate_batch`), so that path has its own entry,
//! [`Compression::decompress_reusing`]: LZ4 frames are decoded block by
//! block straight from the batch into a reused buffer, without the stream
//! decoder's intermediate copies.

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

    /// Decompresses `data` into `buf` for reading in place: the result is
    /// `buf[..n]` for the returned `n`. `buf` is only ever grown, never
    /// cleared, so a buffer reused across batches is not zeroed again for
    /// each one. Accepts what [`decompress`](Self::decompress) accepts,
    /// except LZ4 frames without their end mark.
    ///
    /// # Errors
    /// A message saying what is malformed.
    pub fn decompress_reusing(self, data: &[u8], buf: &mut Vec<u8>) -> Result<usize, String> {
        if self == Compression::Lz4 {
            if let Some(n) = lz4_frames_into(data, buf)? {
                return Ok(n);
            }
        }
        self.decompress_into(data, buf)?;
        Ok(buf.len())
    }
}

const LZ4_MAGIC: u32 = 0x184D_2204;
/// How far back an LZ4 match may reach (the linked-block dictionary).
const LZ4_WINDOW: usize = 64 * 1024;

/// Decodes an LZ4 frame (Kafka clients write one per batch, in independent
/// blocks of 64 KiB) from `data` into `buf[..n]`, each block straight from
/// the input into place, and returns `n`. Checks what lz4_flex's
/// `FrameDecoder` checks (version, reserved bits, block size, header,
/// block and content checksums, content size) and also requires the end
/// mark. `None` for input this path leaves to `FrameDecoder`: legacy and
/// skippable frames, dictionary ids, bytes after the frame.
fn lz4_frames_into(data: &[u8], buf: &mut Vec<u8>) -> Result<Option<usize>, String> {
    let u32_at = |at: usize| -> Option<u32> { Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?)) };
    let xxh32 = |b: &[u8]| twox_hash::XxHash32::oneshot(0, b);
    if data.is_empty() {
        return Ok(Some(0));
    }
    if u32_at(0) != Some(LZ4_MAGIC) {
        return Ok(None);
    }
    let (flg, bd) = match data.get(4..6) {
        Some(&[flg, bd]) => (flg, bd),
        _ => return Err("lz4: truncated frame header".into()),
    };
    if flg >> 6 != 1 {
        return Err(format!("lz4: unsupported frame version {}", flg >> 6));
    }
    if flg & 0b10 != 0 || bd & 0b1000_1111 != 0 {
        return Err("lz4: reserved bits set in the frame header".into());
    }
    if flg & 1 != 0 {
        return Ok(None);
    }
    let independent = flg & 0x20 != 0;
    let block_checksums = flg & 0x10 != 0;
    let content_checksum = flg & 0x04 != 0;
    let max_block = match (bd >> 4) & 7 {
        4 => 64 << 10,
        5 => 256 << 10,
        6 => 1 << 20,
        7 => 4 << 20,
        id => return Err(format!("lz4: unsupported block size id {id}")),
    };
    let mut p = 6;
    let content_size = if flg & 0x08 != 0 {
        let b = data.get(6..14).ok_or("lz4: truncated frame header")?;
        p = 14;
        Some(u64::from_le_bytes(b.try_into().map_err(|_| "lz4: truncated frame header")?))
    } else {
        None
    };
    let hc = *data.get(p).ok_or("lz4: truncated frame header")?;
    if (xxh32(&data[4..p]) >> 8) as u8 != hc {
        return Err("lz4: frame header checksum mismatch".into());
    }
    p += 1;
    let mut out = 0usize;
    loop {
        let size = u32_at(p).ok_or("lz4: frame ends without an end mark")?;
        p += 4;
        if size == 0 {
            break;
        }
        let len = (size & 0x7FFF_FFFF) as usize;
        if len > max_block {
            return Err(format!("lz4: block of {len} bytes is above the frame's {max_block}"));
        }
        let block = data.get(p..p + len).ok_or("lz4: block runs past the end of the data")?;
        p += len;
        if block_checksums {
            let sum = u32_at(p).ok_or("lz4: truncated block checksum")?;
            p += 4;
            if xxh32(block) != sum {
                return Err("lz4: block checksum mismatch".into());
            }
        }
        if buf.len() < out + max_block {
            buf.resize(out + max_block, 0);
        }
        let (done, free) = buf.split_at_mut(out);
        let dst = &mut free[..max_block];
        out += if size & 0x8000_0000 != 0 {
            dst[..len].copy_from_slice(block);
            len
        } else if independent {
            lz4_flex::block::decompress_into(block, dst).map_err(|e| format!("lz4: {e}"))?
        } else {
            let dict = &done[out.saturating_sub(LZ4_WINDOW)..];
            lz4_flex::block::decompress_into_with_dict(block, dst, dict).map_err(|e| format!("lz4: {e}"))?
        };
        if out > MAX_DECOMPRESSED {
            return Err(format!("decompresses to more than {MAX_DECOMPRESSED} bytes"));
        }
    }
    if content_size.is_some_and(|n| n != out as u64) {
        return Err("lz4: content size mismatch".into());
    }
    if content_checksum {
        let sum = u32_at(p).ok_or("lz4: truncated content checksum")?;
        p += 4;
        if xxh32(&buf[..out]) != sum {
            return Err("lz4: content checksum mismatch".into());
        }
    }
    if p != data.len() {
        return Ok(None);
    }
    Ok(Some(out))
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

    /// Frames of every shape lz4_flex writes (independent or linked blocks,
    /// block and content checksums, content size, block sizes).
    fn lz4_frame(data: &[u8], linked: bool, checksums: bool, size: bool, block: lz4_flex::frame::BlockSize) -> Vec<u8> {
        use lz4_flex::frame::{BlockMode, FrameEncoder, FrameInfo};
        let mode = if linked { BlockMode::Linked } else { BlockMode::Independent };
        let info = FrameInfo::new()
            .block_mode(mode)
            .block_size(block)
            .block_checksums(checksums)
            .content_checksum(checksums)
            .content_size(size.then_some(data.len() as u64));
        let mut e = FrameEncoder::with_frame_info(info, Vec::new());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    proptest! {
        #[test]
        fn lz4_fast_path_matches_the_frame_decoder(
            words in proptest::collection::vec(0u8..40, 0..60_000),
            linked: bool, checksums: bool, size: bool, big: bool, frames in 1usize..3,
        ) {
            // Two frames are left to the stream decoder, which answers the same.
            // Few distinct bytes: long matches, as in real record sections.
            let data: Vec<u8> = words.iter().map(|w| b'a' + w % 20).collect();
            let block = if big { lz4_flex::frame::BlockSize::Max256KB } else { lz4_flex::frame::BlockSize::Max64KB };
            let z: Vec<u8> = (0..frames).flat_map(|_| lz4_frame(&data, linked, checksums, size, block)).collect();
            let mut buf = vec![7u8; 100]; // stale contents must not matter
            let n = Compression::Lz4.decompress_reusing(&z, &mut buf).unwrap();
            prop_assert_eq!(&buf[..n], &Compression::Lz4.decompress(&z).unwrap()[..]);
            if frames == 1 {
                prop_assert_eq!(&buf[..n], &data[..]);
            }
        }

        #[test]
        fn lz4_fast_path_never_panics_on_damage(data in proptest::collection::vec(any::<u8>(), 0..5_000), at: usize, bit in 0u8..8) {
            let mut z = lz4_frame(&data, at % 2 == 0, at % 3 == 0, at % 5 == 0, lz4_flex::frame::BlockSize::Max64KB);
            let i = at % z.len();
            z[i] ^= 1 << bit;
            let _ = Compression::Lz4.decompress_reusing(&z, &mut Vec::new());
            z.truncate(at % z.len());
            let _ = Compression::Lz4.decompress_reusing(&z, &mut Vec::new());
        }
    }

    #[test]
    fn lz4_fast_path_refuses_what_is_broken() {
        let data = b"abcdefgh".repeat(20_000);
        let z = lz4_frame(&data, false, true, true, lz4_flex::frame::BlockSize::Max64KB);
        let mut buf = Vec::new();
        assert_eq!(Compression::Lz4.decompress_reusing(&z, &mut buf), Ok(data.len()));
        // No end mark, a cut block, a bad header checksum, a bad content checksum.
        for bad in [z[..z.len() - 8].to_vec(), z[..z.len() - 20].to_vec()] {
            assert!(Compression::Lz4.decompress_reusing(&bad, &mut buf).is_err());
        }
        let mut hc = z.clone();
        hc[14] ^= 1;
        assert!(Compression::Lz4.decompress_reusing(&hc, &mut buf).unwrap_err().contains("header checksum"));
        let mut content = z.clone();
        let last = content.len() - 1;
        content[last] ^= 1;
        assert!(Compression::Lz4.decompress_reusing(&content, &mut buf).unwrap_err().contains("content checksum"));
        // Not an LZ4 frame at all: left to the stream decoder, which refuses it.
        assert!(Compression::Lz4.decompress_reusing(b"not an lz4 frame", &mut buf).is_err());
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
