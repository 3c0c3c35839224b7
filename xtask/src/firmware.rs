//! Building the guests and a system's hypervisor image.
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::paths;
use crate::toolchain::{GUEST_TARGET, HV_TARGET, Toolchain};

/// Which system to build, and with which hypervisor features.
#[derive(Debug, Clone)]
pub struct SystemSpec {
    /// Board folder name under boards/.
    pub board: String,
    /// Path of the system description.
    pub system: PathBuf,
    /// Cargo features of the `hv` crate.
    pub features: Vec<String>,
    /// Whether the `hv` crate's default features (the UART telemetry transport) are on.
    pub default_features: bool,
}

impl SystemSpec {
    /// `system` is a name (boards/<board>/systems/<name>.toml) or a path.
    pub fn new(board: &str, system: &str, features: &str) -> Self {
        let as_path = PathBuf::from(system);
        let system = if system.ends_with(".toml") || as_path.components().count() > 1 {
            as_path
        } else {
            paths::root()
                .join("boards")
                .join(board)
                .join("systems")
                .join(format!("{system}.toml"))
        };
        let features = features
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(String::from)
            .collect();
        SystemSpec {
            board: board.to_string(),
            system,
            features,
            default_features: true,
        }
    }

    /// The same system without the image's default features (plain-text console).
    pub fn plain(mut self) -> Self {
        self.default_features = false;
        self
    }

    /// Short name: the system file's stem plus features.
    pub fn label(&self) -> String {
        let stem = self
            .system
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut label = if self.features.is_empty() {
            stem
        } else {
            format!("{stem}+{}", self.features.join("+"))
        };
        if !self.default_features {
            label.push_str("+plain");
        }
        label
    }

    fn board_file(&self) -> PathBuf {
        paths::root()
            .join("boards")
            .join(&self.board)
            .join("board.toml")
    }
}

/// A built system.
#[derive(Debug, Clone)]
pub struct SystemImage {
    /// The hypervisor ELF (QEMU `-kernel`); it embeds the guests and the tables.
    pub elf: PathBuf,
    /// What was built.
    pub spec: SystemSpec,
}

/// The guest crates: the workspace members under guests/ (except the runtime).
pub fn guest_packages() -> Result<Vec<String>> {
    let root = paths::root();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))?;
    let mut pkgs = Vec::new();
    for member in manifest
        .lines()
        .filter_map(|l| l.trim().strip_prefix("\"guests/"))
    {
        let dir = member.trim_end_matches(['"', ',']);
        if dir == "rt" {
            continue;
        }
        let text = std::fs::read_to_string(root.join("guests").join(dir).join("Cargo.toml"))?;
        if let Some(name) = text.lines().find_map(|l| {
            l.strip_prefix("name = \"")
                .and_then(|r| r.strip_suffix('"'))
        }) {
            pkgs.push(name.to_string());
        }
    }
    pkgs.sort();
    Ok(pkgs)
}

/// Runs a build with cargo's output behind a progress line (shown in full on failure).
fn run(cmd: Command, what: &str) -> Result<()> {
    crate::progress::run_build(cmd, what)
}

/// Directory holding the guest ELFs.
pub fn guest_images_dir() -> PathBuf {
    paths::firmware_target().join(GUEST_TARGET).join("release")
}

/// Guests that are also booted as raw binaries, with the RAM IPA they are linked for:
/// each ELF is flattened into `<name>.bin` beside it (what `objcopy -O binary` makes),
/// loaded at RAM + 0x80000 like QEMU's `-kernel` loads a raw binary.
const RAW_GUESTS: &[(&str, u64)] = &[("fdt-probe-raw", 0x4000_0000)];

/// Builds every guest (and the raw binaries of [`RAW_GUESTS`]).
pub fn build_guests(tc: &Toolchain) -> Result<()> {
    let mut cmd = tc.cargo_build(GUEST_TARGET);
    for p in guest_packages()? {
        cmd.args(["-p", &p]);
    }
    run(cmd, "the guests")?;
    for &(name, ram) in RAW_GUESTS {
        let elf = guest_images_dir().join(name);
        let data = std::fs::read(&elf)?;
        let (blob, entry) = hv_config::image::elf_to_blob(&elf, name, &data, ram, 1 << 30)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let at = ram + hv_config::image::RAW_OFFSET;
        if blob.load_ipa != at || entry != at {
            bail!(
                "{}: a raw guest must start and be entered at {at:#x} (it starts at {:#x}, entry {entry:#x})",
                elf.display(),
                blob.load_ipa
            );
        }
        std::fs::write(elf.with_extension("bin"), &blob.bytes)?;
    }
    Ok(())
}

/// Builds the guests and the hypervisor image of `spec`; returns the image.
pub fn build_system(spec: &SystemSpec) -> Result<SystemImage> {
    if !spec.system.is_file() {
        bail!("no system description at {}", spec.system.display());
    }
    let tc = Toolchain::detect_or_install()?;
    build_guests(&tc)?;
    fetch_payloads(spec)?;
    build_hv(&tc, spec)
}

/// Fetches and builds the Linux kernel and initramfs when the system uses them.
pub fn fetch_payloads(spec: &SystemSpec) -> Result<()> {
    let text = std::fs::read_to_string(&spec.system)?;
    if text.contains("target/linux/") {
        crate::linux::fetch_and_build()?;
    }
    Ok(())
}

/// Builds the hypervisor image of `spec` (guests must be built) and certifies it: an
/// image whose isolation certificate fails is removed and the build fails.
pub fn build_hv(tc: &Toolchain, spec: &SystemSpec) -> Result<SystemImage> {
    build_hv_certified(tc, spec).map(|(img, _)| img)
}

/// [`build_hv`], also returning the certificate (written beside the image).
pub fn build_hv_certified(
    tc: &Toolchain,
    spec: &SystemSpec,
) -> Result<(SystemImage, hv_config::certify::Certificate)> {
    let mut cmd = tc.cargo_build(HV_TARGET);
    cmd.args(["-p", "hv"])
        .env("HV_BOARD", spec.board_file())
        .env("HV_SYSTEM", &spec.system)
        .env("HV_IMAGES_DIR", guest_images_dir());
    if !spec.features.is_empty() {
        cmd.args(["--features", &spec.features.join(",")]);
    }
    if !spec.default_features {
        cmd.arg("--no-default-features");
    }
    run(cmd, &format!("the hypervisor for {}", spec.label()))?;
    let built = paths::firmware_target()
        .join(HV_TARGET)
        .join("release")
        .join("hv");
    let dir = paths::images().join(&spec.board).join(spec.label());
    std::fs::create_dir_all(&dir)?;
    let elf = dir.join("hv.elf");
    std::fs::copy(&built, &elf).with_context(|| format!("copying {}", built.display()))?;
    let cert = crate::certify::certify_image(&elf)?;
    Ok((
        SystemImage {
            elf,
            spec: spec.clone(),
        },
        cert,
    ))
}

/// `cargo xtask layout`: the configuration toolkit's memory map of a system.
pub fn print_layout(board: &str, system: &str) -> Result<()> {
    let spec = SystemSpec::new(board, system, "");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(paths::root())
        .args([
            "run",
            "--quiet",
            "-p",
            "hv-config",
            "--bin",
            "hvconfig",
            "--",
            "layout",
            "--board",
        ])
        .arg(spec.board_file())
        .arg("--system")
        .arg(&spec.system)
        .arg("--images")
        .arg(guest_images_dir())
        .status()?;
    if !status.success() {
        bail!("hvconfig layout failed");
    }
    Ok(())
}
