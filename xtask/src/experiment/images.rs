//! Builds for the experiments: the probe guests (with the experiment's sample count) and one
//! hypervisor image per variant.
//!
//! By default they go to their own target directory, `target/firmware-exp/`, so that a
//! build of another system in the same checkout (another shell, another person) cannot
//! replace a binary between its build and its copy; [`Place::Shared`] uses the normal
//! `target/firmware/` (warm after `cargo xtask test`, for the smoke case).
//!
//! The builds show one progress line as `cargo xtask run`'s do ([`crate::progress::run_build`]:
//! the crate being compiled and the time; cargo's output in full only when a build fails).
//! The first experiment in a checkout compiles everything into its own directory (with the
//! Debian toolchain `core` too), which takes minutes: the line says what it is doing.
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::firmware::{SystemImage, SystemSpec};
use crate::paths;
use crate::progress::run_build;
use crate::toolchain::{GUEST_TARGET, HV_TARGET, Toolchain};

/// The probe crates (guests/probe-bench; guests/probe-lwvm, an lwVM program).
pub const PROBE_PACKAGES: &[&str] = &["guest-probe-bench", "guest-probe-lwvm"];

/// Which target directory the builds use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Isolated,
    Shared,
}

impl Place {
    fn target_dir(self) -> PathBuf {
        match self {
            Place::Isolated => paths::root().join("target").join("firmware-exp"),
            Place::Shared => paths::firmware_target(),
        }
    }

    /// The target directory as the progress line names it.
    pub fn name(self) -> String {
        let dir = self.target_dir();
        dir.strip_prefix(paths::root())
            .unwrap_or(&dir)
            .display()
            .to_string()
    }

    /// Where the probe ELFs land.
    pub fn guest_dir(self) -> PathBuf {
        self.target_dir().join(GUEST_TARGET).join("release")
    }
}

/// Builds the probe guests for `iterations` timed rounds after `warmup` ones (`quiet`: they
/// print no samples, for profiling).
pub fn build_probes(
    tc: &Toolchain,
    place: Place,
    iterations: usize,
    warmup: usize,
    quiet: bool,
) -> Result<()> {
    build_guests(tc, place, PROBE_PACKAGES, iterations, warmup, quiet)
}

/// Builds the guest `packages` into `place` (the probes read `PROBE_ITERS`, `PROBE_WARMUP`
/// and `PROBE_QUIET` at build time; other guests ignore them).
pub fn build_guests(
    tc: &Toolchain,
    place: Place,
    packages: &[&str],
    iterations: usize,
    warmup: usize,
    quiet: bool,
) -> Result<()> {
    let mut cmd = tc.cargo_build(GUEST_TARGET);
    for p in packages {
        cmd.args(["-p", p]);
    }
    cmd.env("CARGO_TARGET_DIR", place.target_dir())
        .env("PROBE_ITERS", iterations.to_string())
        .env("PROBE_WARMUP", warmup.to_string());
    if quiet {
        cmd.env("PROBE_QUIET", "1");
    } else {
        cmd.env_remove("PROBE_QUIET");
    }
    run_build(
        cmd,
        &format!("the guests for the experiments ({})", place.name()),
    )
}

/// Builds the hypervisor image of `spec` with the probes of `place`; the ELF is copied to
/// `target/experiments/images/<board>/<label>/hv.elf`.
pub fn build_hv(tc: &Toolchain, place: Place, spec: &SystemSpec) -> Result<SystemImage> {
    let mut cmd = tc.cargo_build(HV_TARGET);
    cmd.args(["-p", "hv"])
        .env("CARGO_TARGET_DIR", place.target_dir())
        .env(
            "HV_BOARD",
            paths::root()
                .join("boards")
                .join(&spec.board)
                .join("board.toml"),
        )
        .env("HV_SYSTEM", &spec.system)
        .env("HV_IMAGES_DIR", place.guest_dir());
    if !spec.features.is_empty() {
        cmd.args(["--features", &spec.features.join(",")]);
    }
    if !spec.default_features {
        cmd.arg("--no-default-features");
    }
    run_build(
        cmd,
        &format!("the hypervisor for {} ({})", spec.label(), place.name()),
    )?;
    let built = place
        .target_dir()
        .join(HV_TARGET)
        .join("release")
        .join("hv");
    let dir = paths::root()
        .join("target")
        .join("experiments")
        .join("images")
        .join(&spec.board)
        .join(spec.label());
    std::fs::create_dir_all(&dir)?;
    let elf = dir.join("hv.elf");
    std::fs::copy(&built, &elf).with_context(|| format!("copying {}", built.display()))?;
    Ok(SystemImage {
        elf,
        spec: spec.clone(),
    })
}

/// A probe ELF for a native boot, copied next to the images.
pub fn native_probe(place: Place, probe: &str) -> Result<PathBuf> {
    let built = place.guest_dir().join(probe);
    if !built.is_file() {
        bail!(
            "no probe `{probe}` in {} (a [[bin]] of guests/probe-bench?)",
            place.guest_dir().display()
        );
    }
    let dir = paths::root()
        .join("target")
        .join("experiments")
        .join("images")
        .join("native");
    std::fs::create_dir_all(&dir)?;
    let elf = dir.join(probe);
    std::fs::copy(&built, &elf)?;
    Ok(elf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_names_the_target_directory() {
        assert_eq!(Place::Isolated.name(), "target/firmware-exp");
        assert!(
            Place::Shared
                .guest_dir()
                .starts_with(paths::firmware_target())
        );
    }
}
