//! The disk's sequential write rate, measured with `dd` and direct I/O, as
//! the yardstick for the log's write throughput.

use std::path::Path;
use std::process::Command;

/// Size of the `dd` test file in MiB.
const DD_MIB: u32 = 512;

/// Writes a 512 MiB file into `dir` with `dd … oflag=direct`, deletes it,
/// and returns the rate in MB/s (10^6 bytes per second).
///
/// # Errors
/// `dd` missing or failing (e.g. a file system without O_DIRECT, such as
/// tmpfs), or output that does not parse.
pub fn dd_write_mb_per_s(dir: &Path) -> anyhow::Result<f64> {
    let file = dir.join("ddtest");
    let out = Command::new("dd")
        .arg("if=/dev/zero")
        .arg(format!("of={}", file.display()))
        .args(["bs=1M", &format!("count={DD_MIB}"), "oflag=direct"])
        .output();
    let _ = std::fs::remove_file(&file);
    let out = out.map_err(|e| anyhow::anyhow!("cannot run dd: {e}; pass --no-dd to skip the disk comparison"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        anyhow::bail!("dd failed ({}): {}; pass --no-dd to skip the disk comparison", out.status, stderr.trim());
    }
    parse_dd(&stderr).ok_or_else(|| anyhow::anyhow!("cannot read dd's summary line from {:?}", stderr.trim()))
}

/// Reads GNU dd's summary, e.g.
/// `536870912 bytes (537 MB, 512 MiB) copied, 0.61 s, 880 MB/s`,
/// computing the rate from the byte count and seconds (more precise than
/// the rounded rate). Falls back to the printed rate with its unit.
fn parse_dd(stderr: &str) -> Option<f64> {
    let line = stderr.lines().rev().find(|l| l.contains("bytes") && l.contains("copied"))?;
    let bytes: f64 = line.split_whitespace().next()?.parse().ok()?;
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    let secs = fields.iter().rev().find_map(|f| f.strip_suffix(" s").and_then(|s| s.trim().parse::<f64>().ok()));
    if let Some(secs) = secs.filter(|s| *s > 0.0) {
        return Some(bytes / 1e6 / secs);
    }
    let rate = fields.last()?;
    let (num, unit) = rate.split_once(' ')?;
    let num: f64 = num.parse().ok()?;
    let scale = match unit {
        "kB/s" => 1e-3,
        "MB/s" => 1.0,
        "GB/s" => 1e3,
        "KiB/s" => 1024.0 / 1e6,
        "MiB/s" => 1048576.0 / 1e6,
        "GiB/s" => 1073741824.0 / 1e6,
        _ => return None,
    };
    Some(num * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gnu_dd_summaries() {
        let s = "512+0 records in\n512+0 records out\n536870912 bytes (537 MB, 512 MiB) copied, 0.5 s, 1.1 GB/s\n";
        let r = parse_dd(s).expect("parses");
        assert!((r - 1073.74).abs() < 0.1, "{r}");
        assert_eq!(parse_dd("garbage"), None);
    }
}
