//! Choosing how to build the firmware crates for `aarch64-unknown-none`.
//!
//! Two routes, picked automatically:
//! - **native**: the active Rust toolchain has the `aarch64-unknown-none` and
//!   `aarch64-unknown-none-softfloat` targets installed (`rustup target add …`); plain
//!   `cargo build --target …`.
//! - **debian**: Debian's `rustc-web`, `cargo-web` and `rust-web-src` (bookworm-security)
//!   build `core` from source (`-Zbuild-std`, `RUSTC_BOOTSTRAP=1`) and `ld.lld` links.
//!   Missing packages are installed with apt-get when running as root; otherwise the
//!   exact command is printed and the build stops.
//!
//! The hypervisor is built for the soft-float target so that it never touches the FP/SIMD
//! registers a guest owns; guests use the ordinary target.
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Target of the guests.
pub const GUEST_TARGET: &str = "aarch64-unknown-none";
/// Target of the hypervisor image.
pub const HV_TARGET: &str = "aarch64-unknown-none-softfloat";

const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const DEBIAN_CARGO: &str = "/usr/bin/cargo";
const DEBIAN_RUST_SRC: &str = "/usr/lib/rustlib/src/rust/library";
const DEBIAN_PACKAGES: &[&str] = &["rustc-web", "cargo-web", "rust-web-src", "lld"];

/// The route the firmware is built by.
#[derive(Debug, Clone)]
pub enum Toolchain {
    /// The active toolchain has the bare-metal targets.
    Native,
    /// Debian's packaged compiler with `-Zbuild-std`.
    Debian,
}

impl fmt::Display for Toolchain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Toolchain::Native => write!(
                f,
                "firmware toolchain: native (active toolchain has {GUEST_TARGET} and {HV_TARGET})"
            ),
            Toolchain::Debian => write!(
                f,
                "firmware toolchain: debian ({DEBIAN_RUSTC} with -Zbuild-std, ld.lld)"
            ),
        }
    }
}

impl Toolchain {
    /// Picks the route, installing Debian's packages if neither is ready and we are root.
    pub fn detect_or_install() -> Result<Self> {
        if native_has_targets() {
            return Ok(Toolchain::Native);
        }
        if !debian_ready() {
            ensure_apt_packages(DEBIAN_PACKAGES, "the firmware toolchain", true)?;
            if !debian_ready() {
                bail!(
                    "Debian's Rust packages are installed but {DEBIAN_RUST_SRC} or ld.lld is missing"
                );
            }
        }
        Ok(Toolchain::Debian)
    }

    /// A `cargo build` command for `target` with the route's compiler and flags; the
    /// caller adds packages and features.
    pub fn cargo_build(&self, target: &str) -> Command {
        let mut cmd = match self {
            Toolchain::Native => {
                Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            }
            Toolchain::Debian => {
                let mut c = Command::new(DEBIAN_CARGO);
                // Forget the rustup toolchain `cargo xtask` itself runs under.
                for v in [
                    "RUSTUP_TOOLCHAIN",
                    "CARGO",
                    "RUSTC",
                    "RUSTDOC",
                    "RUSTC_WRAPPER",
                ] {
                    c.env_remove(v);
                }
                c.env("RUSTC", DEBIAN_RUSTC).env("RUSTC_BOOTSTRAP", "1");
                c
            }
        };
        cmd.current_dir(crate::paths::root())
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("RUSTFLAGS")
            .env("CARGO_TARGET_DIR", crate::paths::firmware_target())
            .args(["build", "--release", "--target", target]);
        if let Toolchain::Debian = self {
            cmd.args([
                "-Zbuild-std=core,alloc",
                "-Zbuild-std-features=compiler-builtins-mem",
            ]);
            for t in [GUEST_TARGET, HV_TARGET] {
                let var = format!("CARGO_TARGET_{}_LINKER", t.to_uppercase().replace('-', "_"));
                cmd.env(var, "ld.lld");
            }
        }
        cmd
    }
}

/// Whether the active rustc's sysroot holds both bare-metal targets.
fn native_has_targets() -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = Command::new(rustc).args(["--print", "sysroot"]).output() else {
        return false;
    };
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    [GUEST_TARGET, HV_TARGET]
        .iter()
        .all(|t| sysroot.join("lib/rustlib").join(t).join("lib").is_dir())
}

fn debian_ready() -> bool {
    Path::new(DEBIAN_RUSTC).exists()
        && Path::new(DEBIAN_CARGO).exists()
        && Path::new(DEBIAN_RUST_SRC).is_dir()
        && which("ld.lld")
}

/// Whether `prog` is on PATH.
pub fn which(prog: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Installs Debian packages with apt-get when root; otherwise stops with the exact
/// command to run. `security` selects the bookworm-security suite.
pub fn ensure_apt_packages(pkgs: &[&str], what: &str, security: bool) -> Result<()> {
    let suite = if security {
        "-t bookworm-security "
    } else {
        ""
    };
    let cmd_text = format!(
        "apt-get update && apt-get install -y {suite}{}",
        pkgs.join(" ")
    );
    if !is_root() {
        bail!("{what} is missing; install it with:\n    sudo sh -c '{cmd_text}'");
    }
    eprintln!("xtask: installing {what}: {cmd_text}");
    let status = Command::new("sh")
        .args(["-c", &cmd_text])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get")?;
    if !status.success() {
        bail!("`{cmd_text}` failed ({status})");
    }
    Ok(())
}
