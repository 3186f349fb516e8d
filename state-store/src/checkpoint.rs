//! The checkpoint file: which changelog offsets a task's local state covers.
//!
//! Written after a successful flush, through a temporary file and an atomic
//! rename, with a CRC-32C over its content:
//!
//! ```text
//! riffle-checkpoint 1
//! <topic> <partition> <offset>
//! ...
//! crc <8 hex digits>
//! ```
//!
//! A checkpoint that does not parse or whose CRC is wrong is *corrupt*: the
//! caller wipes local state and restores from the start of the changelog.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Result, StateError};

const HEADER: &str = "riffle-checkpoint 1";

/// `(topic, partition) → next changelog offset` covered by local state.
pub type Offsets = BTreeMap<(String, i32), i64>;

/// A task's checkpoint file.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    path: PathBuf,
}

/// What reading a checkpoint found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointState {
    /// No file.
    Missing,
    /// A valid file.
    Valid(Offsets),
    /// A file that cannot be trusted, and why.
    Corrupt(String),
}

impl Checkpoint {
    /// The checkpoint at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Checkpoint { path: path.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the file.
    ///
    /// # Errors
    /// I/O errors other than "not found" (a missing file is `Missing`).
    pub fn read(&self) -> Result<CheckpointState> {
        let text = match fs::read(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(CheckpointState::Missing),
            Err(e) => return Err(StateError::io(&self.path, e)),
        };
        Ok(match parse(&text) {
            Ok(o) => CheckpointState::Valid(o),
            Err(why) => CheckpointState::Corrupt(why),
        })
    }

    /// Writes `offsets` atomically (temp file, fsync, rename).
    ///
    /// # Errors
    /// I/O errors; the previous checkpoint is then left as it was.
    pub fn write(&self, offsets: &Offsets) -> Result<()> {
        let mut body = format!("{HEADER}\n");
        for ((topic, partition), offset) in offsets {
            body.push_str(&format!("{topic} {partition} {offset}\n"));
        }
        let crc = crc32c::crc32c(body.as_bytes());
        body.push_str(&format!("crc {crc:08x}\n"));
        let tmp = self.path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(body.as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| StateError::io(&self.path, e))
    }

    /// Removes the file (before wiping local state).
    ///
    /// # Errors
    /// I/O errors other than "not found".
    pub fn delete(&self) -> Result<()> {
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StateError::io(&self.path, e)),
        }
    }
}

fn parse(bytes: &[u8]) -> std::result::Result<Offsets, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())?;
    let crc_at = text.rfind("crc ").ok_or("no crc line")?;
    let (body, crc_line) = text.split_at(crc_at);
    let stored = u32::from_str_radix(crc_line.trim().trim_start_matches("crc ").trim(), 16)
        .map_err(|_| format!("bad crc line {:?}", crc_line.trim()))?;
    let actual = crc32c::crc32c(body.as_bytes());
    if stored != actual {
        return Err(format!("crc mismatch: stored {stored:08x}, computed {actual:08x}"));
    }
    let mut lines = body.lines();
    if lines.next() != Some(HEADER) {
        return Err(format!("unknown header (expected {HEADER:?})"));
    }
    let mut out = Offsets::new();
    for (n, line) in lines.enumerate() {
        let parts: Vec<&str> = line.split(' ').collect();
        let [topic, partition, offset] = parts.as_slice() else {
            return Err(format!("line {}: expected `<topic> <partition> <offset>`", n + 2));
        };
        let p = partition.parse().map_err(|_| format!("line {}: bad partition", n + 2))?;
        let o = offset.parse().map_err(|_| format!("line {}: bad offset", n + 2))?;
        out.insert((topic.to_string(), p), o);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let c = Checkpoint::new(dir.path().join(".checkpoint"));
        assert_eq!(c.read().unwrap(), CheckpointState::Missing);
        let mut o = Offsets::new();
        o.insert(("app-counts-changelog".into(), 3), 42);
        c.write(&o).unwrap();
        assert_eq!(c.read().unwrap(), CheckpointState::Valid(o));
        let mut bytes = fs::read(c.path()).unwrap();
        let i = bytes.iter().position(|&b| b == b'4').unwrap();
        bytes[i] = b'5';
        fs::write(c.path(), &bytes).unwrap();
        assert!(matches!(c.read().unwrap(), CheckpointState::Corrupt(why) if why.contains("crc mismatch")));
        fs::write(c.path(), b"garbage").unwrap();
        assert!(matches!(c.read().unwrap(), CheckpointState::Corrupt(_)));
    }
}
