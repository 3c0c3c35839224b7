//! Well-known paths of the repository.
use std::path::PathBuf;

/// Root of the workspace (the parent of xtask/).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Target directory of firmware builds (kept apart from host builds: another compiler
/// may build them).
pub fn firmware_target() -> PathBuf {
    root().join("target").join("firmware")
}

/// Where finished system images are collected: target/images/<board>/<system>[+features]/.
pub fn images() -> PathBuf {
    root().join("target").join("images")
}
