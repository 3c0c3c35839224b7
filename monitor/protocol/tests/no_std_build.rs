//! The hypervisor side builds the crate without `std` (and without alloc).
//!
//! Checks for `aarch64-unknown-none` when that target is installed (the real consumer), otherwise
//! for the host with `--no-default-features`; a separate target dir avoids waiting on the lock of
//! the build that runs this test.

use std::process::Command;

#[test]
fn builds_without_std() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let sysroot = Command::new("rustc").args(["--print", "sysroot"]).output();
    let has_target = sysroot.ok().is_some_and(|o| {
        let root = String::from_utf8_lossy(&o.stdout).trim().to_string();
        std::path::Path::new(&root)
            .join("lib/rustlib/aarch64-unknown-none")
            .exists()
    });
    let mut cmd = Command::new(cargo);
    cmd.args([
        "check",
        "--quiet",
        "-p",
        "hv-protocol",
        "--no-default-features",
    ])
    .current_dir(env!("CARGO_MANIFEST_DIR"))
    .env(
        "CARGO_TARGET_DIR",
        concat!(env!("CARGO_TARGET_TMPDIR"), "/no-std-check"),
    );
    if has_target {
        cmd.args(["--target", "aarch64-unknown-none"]);
    }
    let out = cmd.output().expect("run cargo");
    assert!(
        out.status.success(),
        "hv-protocol does not build without std (target installed: {has_target}):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
