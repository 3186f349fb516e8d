//! Shared by the conformance tests: where the visible ksqlDB suites are,
//! and the baselines they must not fall below.

use std::path::{Path, PathBuf};

/// The suite folder: `$<env_var>`, else `../shared/ksql-tests/<name>` or
/// `shared/ksql-tests/<name>` next to the workspace.
pub fn suite_dir(env_var: &str, name: &str) -> Option<PathBuf> {
    if let Some(d) = std::env::var_os(env_var) {
        return Some(PathBuf::from(d));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    [root.join("../shared/ksql-tests").join(name), root.join("shared/ksql-tests").join(name)].into_iter().find(|p| p.is_dir())
}

/// The pass count recorded in `tests/<file>` (first line that is not a
/// comment).
pub fn baseline(file: &str) -> usize {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .and_then(|l| l.parse().ok())
        .unwrap_or_else(|| panic!("{} must hold the baseline pass count", path.display()))
}
