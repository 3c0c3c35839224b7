//! The Linux guest: Debian's arm64 cloud kernel and a busybox initramfs, fetched and
//! built by the project's own tooling into `target/linux/` — never committed.
//!
//! - The Debian packages are pinned in one place, `guests/linux/versions.env` (compiled
//!   in here, also read by the scripts next to it).
//! - `apt-get download` fetches them (arm64 is added as a foreign architecture first),
//!   `dpkg-deb -x` extracts them; the kernel's `/boot/vmlinuz-*` becomes an arm64
//!   `Image` (gunzipped if it is compressed, its `ARM\x64` magic checked).
//! - `guests/linux/mkinitramfs.sh` packs busybox-static, `guests/linux/init` and the
//!   kernel package's virtio-mmio block modules into a reproducible gzip'd newc cpio.
//!
//! Layout: `target/linux/<LINUX_PKG_VERSION>/{Image,initrd.cpio.gz}` and a `current`
//! link to the pinned version (system descriptions name `target/linux/current/…`). A
//! second run does nothing; the initramfs is rebuilt when `init`, the script or the pins
//! change (a stamp holds their hash).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::paths;
use crate::qemu::{self, QEMU};
use crate::toolchain::{ensure_apt_packages, which};

/// The pins, as committed.
const VERSIONS: &str = include_str!("../../guests/linux/versions.env");

/// First line `/init` prints (the boot-time marker).
pub const MARKER: &str = "LINUX-GUEST: init started";
/// Last line of the workload.
pub const DONE: &str = "LINUX-GUEST: workload done";
/// Kernel command line of the native baseline (the `linux-duo` system passes the same).
pub const NATIVE_BOOTARGS: &str = "console=ttyAMA0 earlycon=pl011,0x09000000 quiet";

/// What [`fetch_and_build`] produced.
#[derive(Debug, Clone)]
pub struct LinuxArtifacts {
    /// The arm64 `Image`.
    pub kernel: PathBuf,
    /// The gzip'd newc initramfs.
    pub initrd: PathBuf,
    /// The kernel package's version (`LINUX_PKG_VERSION`).
    pub version: String,
}

/// The pinned packages.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pins {
    linux_pkg: String,
    linux_version: String,
    busybox_pkg: String,
    busybox_version: String,
}

fn parse_pins(text: &str) -> Result<Pins> {
    let get = |key: &str| -> Result<String> {
        text.lines()
            .filter_map(|l| l.trim().split_once('='))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .with_context(|| format!("guests/linux/versions.env has no `{key}=`"))
    };
    Ok(Pins {
        linux_pkg: get("LINUX_PKG")?,
        linux_version: get("LINUX_PKG_VERSION")?,
        busybox_pkg: get("BUSYBOX_PKG")?,
        busybox_version: get("BUSYBOX_PKG_VERSION")?,
    })
}

/// `target/linux/`.
pub fn linux_dir() -> PathBuf {
    paths::root().join("target").join("linux")
}

/// `guests/linux/` (scripts, init, pins).
fn recipe_dir() -> PathBuf {
    paths::root().join("guests").join("linux")
}

/// Fetches the pinned packages and builds the kernel `Image` and the initramfs, unless
/// they are already in `target/linux/<version>/`.
pub fn fetch_and_build() -> Result<LinuxArtifacts> {
    // One build at a time within this process (tests run in parallel threads).
    static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let pins = parse_pins(VERSIONS)?;
    let dir = linux_dir().join(&pins.linux_version);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let kernel = dir.join("Image");
    let initrd = dir.join("initrd.cpio.gz");
    if !kernel.is_file() {
        build_kernel(&pins, &dir, &kernel)?;
    }
    let stamp_path = dir.join("initrd.stamp");
    let stamp = initrd_stamp()?;
    let fresh = std::fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp);
    if !fresh || !initrd.is_file() {
        build_initrd(&pins, &dir, &initrd)?;
        std::fs::write(&stamp_path, &stamp)?;
    }
    link_current(&pins.linux_version)?;
    Ok(LinuxArtifacts {
        kernel,
        initrd,
        version: pins.linux_version,
    })
}

/// Points `target/linux/current` at `version`.
fn link_current(version: &str) -> Result<()> {
    let link = linux_dir().join("current");
    if std::fs::read_link(&link).is_ok_and(|t| t == Path::new(version)) {
        return Ok(());
    }
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(version, &link)
        .with_context(|| format!("linking {}", link.display()))
}

/// Hash of what the initramfs is made from.
fn initrd_stamp() -> Result<String> {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for f in ["versions.env", "init", "mkinitramfs.sh"] {
        let p = recipe_dir().join(f);
        for b in std::fs::read(&p).with_context(|| format!("reading {}", p.display()))? {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    Ok(format!("{h:016x}\n"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a shell command line, failing with `what`.
fn sh(line: &str, what: &str) -> Result<()> {
    let st = Command::new("sh")
        .args(["-c", line])
        .status()
        .with_context(|| format!("running `{line}`"))?;
    if !st.success() {
        bail!("{what}: `{line}` failed ({st})");
    }
    Ok(())
}

/// Makes sure apt knows arm64 packages (root: adds the architecture and updates).
fn ensure_arm64_arch() -> Result<()> {
    let out = Command::new("dpkg")
        .arg("--print-foreign-architectures")
        .output()
        .context("running dpkg")?;
    if String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|a| a.trim() == "arm64")
    {
        return Ok(());
    }
    let fix = "dpkg --add-architecture arm64 && apt-get update";
    if !is_root() {
        bail!("apt does not know arm64 packages yet; run:\n    sudo sh -c '{fix}'");
    }
    eprintln!("xtask: {fix}");
    sh(fix, "adding the arm64 architecture")
}

/// Downloads `pkg:arm64=version` into `dir`; returns the `.deb`.
fn download(pkg: &str, version: &str, dir: &Path) -> Result<PathBuf> {
    ensure_arm64_arch()?;
    std::fs::create_dir_all(dir)?;
    let find = || -> Option<PathBuf> {
        let prefix = format!("{pkg}_");
        std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix) && n.ends_with("_arm64.deb"))
            })
    };
    if let Some(deb) = find() {
        return Ok(deb);
    }
    let spec = format!("{pkg}:arm64={version}");
    let try_download = || {
        eprintln!("xtask: apt-get download {spec}");
        Command::new("apt-get")
            .arg("download")
            .arg(&spec)
            .current_dir(dir)
            .status()
            .is_ok_and(|s| s.success())
    };
    // A stale package list is the usual reason for a miss: update once when root.
    let ok = try_download()
        || (is_root() && sh("apt-get update -q", "updating apt").is_ok() && try_download());
    match find() {
        Some(deb) if ok => Ok(deb),
        _ => bail!(
            "cannot download Debian package {spec} (pinned in guests/linux/versions.env).\n\
             If the package list is old, run:\n    sudo apt-get update\n\
             If Debian no longer offers this version, see what it has with\n    \
             apt-cache policy '{}:arm64'\n\
             and update the pins in guests/linux/versions.env.",
            if pkg.starts_with("linux-image-") {
                "linux-image-*-cloud-arm64"
            } else {
                pkg
            }
        ),
    }
}

/// Extracts a `.deb` into a fresh `dest`.
fn extract(deb: &Path, dest: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(dest);
    let st = Command::new("dpkg-deb")
        .arg("-x")
        .arg(deb)
        .arg(dest)
        .status()
        .context("running dpkg-deb")?;
    if !st.success() {
        bail!("dpkg-deb -x {} failed ({st})", deb.display());
    }
    Ok(())
}

/// Offset and value of the arm64 `Image` magic (`ARM\x64`).
const IMAGE_MAGIC_OFFSET: usize = 0x38;
const IMAGE_MAGIC: &[u8; 4] = b"ARM\x64";

/// Turns the bytes of a `vmlinuz` into an arm64 `Image` (gunzipping if needed).
fn to_image(vmlinuz: &[u8], gunzip: impl FnOnce(&[u8]) -> Result<Vec<u8>>) -> Result<Vec<u8>> {
    let image = if vmlinuz.starts_with(&[0x1f, 0x8b]) {
        gunzip(vmlinuz)?
    } else {
        vmlinuz.to_vec()
    };
    if image.get(IMAGE_MAGIC_OFFSET..IMAGE_MAGIC_OFFSET + 4) != Some(&IMAGE_MAGIC[..]) {
        let zboot = image.get(4..8) == Some(&b"zimg"[..]);
        bail!(
            "the kernel is not an arm64 Image (no \"ARM\\x64\" magic at offset 0x38){}",
            if zboot {
                ": it is an EFI zboot image, which this recipe does not unpack"
            } else {
                ""
            }
        );
    }
    Ok(image)
}

fn gunzip(data: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut child = Command::new("gzip")
        .arg("-dc")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("running gzip")?;
    let mut stdin = child.stdin.take().expect("piped");
    let input = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output()?;
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("gzip writer panicked"))??;
    if !out.status.success() {
        bail!("gzip -dc failed ({})", out.status);
    }
    Ok(out.stdout)
}

fn build_kernel(pins: &Pins, dir: &Path, kernel: &Path) -> Result<()> {
    let deb = download(&pins.linux_pkg, &pins.linux_version, &dir.join("debs"))?;
    let root = dir.join("kernel-pkg");
    extract(&deb, &root)?;
    let boot = root.join("boot");
    let vmlinuz = std::fs::read_dir(&boot)
        .with_context(|| format!("{} has no /boot", deb.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vmlinuz-"))
        })
        .with_context(|| format!("{} has no /boot/vmlinuz-*", deb.display()))?;
    let bytes = std::fs::read(&vmlinuz)?;
    let image = to_image(&bytes, gunzip).with_context(|| format!("{}", vmlinuz.display()))?;
    let tmp = kernel.with_extension("tmp");
    std::fs::write(&tmp, &image)?;
    std::fs::rename(&tmp, kernel)?;
    std::fs::remove_dir_all(&root)?;
    eprintln!("xtask: kernel {} ({} bytes)", kernel.display(), image.len());
    Ok(())
}

fn build_initrd(pins: &Pins, dir: &Path, initrd: &Path) -> Result<()> {
    if !which("cpio") {
        ensure_apt_packages(&["cpio"], "cpio (to pack the Linux initramfs)", false)?;
    }
    let deb = download(&pins.busybox_pkg, &pins.busybox_version, &dir.join("debs"))?;
    let root = dir.join("busybox-pkg");
    extract(&deb, &root)?;
    let busybox = root.join("bin").join("busybox");
    // The kernel's virtio-mmio block modules go into the archive too.
    let kdeb = download(&pins.linux_pkg, &pins.linux_version, &dir.join("debs"))?;
    let kroot = dir.join("modules-pkg");
    extract(&kdeb, &kroot)?;
    let modules = std::fs::read_dir(kroot.join("lib/modules"))
        .with_context(|| format!("{} has no /lib/modules", kdeb.display()))?
        .flatten()
        .map(|e| e.path().join("kernel"))
        .find(|p| p.is_dir())
        .with_context(|| format!("{} has no /lib/modules/*/kernel", kdeb.display()))?;
    let st = Command::new("sh")
        .arg(recipe_dir().join("mkinitramfs.sh"))
        .arg(&busybox)
        .arg(initrd)
        .arg(&modules)
        .status()
        .context("running guests/linux/mkinitramfs.sh")?;
    if !st.success() {
        bail!("guests/linux/mkinitramfs.sh failed ({st})");
    }
    std::fs::remove_dir_all(&root)?;
    std::fs::remove_dir_all(&kroot)?;
    Ok(())
}

/// QEMU running the kernel natively (no hypervisor): the baseline of the benchmarks.
/// `interactive` adds `hvshell` to the command line (a shell instead of power-off).
/// With `dtb`, the kernel gets that device tree instead of QEMU's (QEMU still rewrites
/// `/memory` and the initrd range in it).
pub fn native_command(art: &LinuxArtifacts, interactive: bool, dtb: Option<&Path>) -> Command {
    let mut append = NATIVE_BOOTARGS.to_string();
    if interactive {
        append.push_str(" hvshell");
    }
    let mut cmd = Command::new(QEMU);
    cmd.args([
        "-M",
        "virt,gic-version=3",
        "-cpu",
        "max,pauth-impdef=on",
        "-smp",
        "2",
        "-m",
        "512M",
    ])
    .args(["-nographic", "-no-reboot", "-kernel"])
    .arg(&art.kernel)
    .arg("-initrd")
    .arg(&art.initrd)
    .args(["-append", &append]);
    if let Some(dtb) = dtb {
        cmd.arg("-dtb").arg(dtb);
    }
    cmd
}

/// Result of a native boot.
#[derive(Debug)]
pub struct NativeBoot {
    /// Wall time from starting QEMU to [`MARKER`].
    pub to_marker: Duration,
    /// Wall time until QEMU exited.
    pub total: Duration,
    /// The console output.
    pub output: String,
}

/// Boots the kernel natively (with QEMU's device tree, or `dtb`) and checks the
/// workload's lines; bounded by `timeout`.
pub fn boot_native(
    art: &LinuxArtifacts,
    dtb: Option<&Path>,
    timeout: Duration,
) -> Result<NativeBoot> {
    qemu::ensure_installed()?;
    let out = qemu::run_bounded(native_command(art, false, dtb), timeout, Some(MARKER))?;
    let tail = || {
        out.output
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    };
    let Some(to_marker) = out.first_line else {
        bail!(
            "no `{MARKER}` within {timeout:?}; console tail:\n{}",
            tail()
        );
    };
    for want in [
        "LINUX-GUEST: sha256 ok",
        "LINUX-GUEST: cpus online 0-1",
        DONE,
    ] {
        if !out.output.contains(want) {
            bail!(
                "the native boot did not print `{want}`; console tail:\n{}",
                tail()
            );
        }
    }
    if out.status.is_none() {
        bail!("QEMU did not exit (no power-off) within {timeout:?}");
    }
    Ok(NativeBoot {
        to_marker,
        total: out.elapsed,
        output: out.output,
    })
}

/// Fetches/builds, boots natively and prints the times (the baseline figure).
pub fn check_native() -> Result<NativeBoot> {
    let art = fetch_and_build()?;
    let boot = boot_native(&art, None, Duration::from_secs(120))?;
    println!(
        "linux {} native: `{MARKER}` after {:.2} s, powered off after {:.2} s",
        art.version,
        boot.to_marker.as_secs_f64(),
        boot.total.as_secs_f64()
    );
    Ok(boot)
}

/// Writes the device tree hv-config generates for VM `vm` of `system` (a path) to `out`.
pub fn generate_dtb(system: &Path, vm: &str, out: &Path) -> Result<()> {
    let board = system
        .parent()
        .and_then(Path::parent)
        .context("a system lives in boards/<board>/systems/")?;
    let st = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(paths::root())
        .args([
            "run",
            "--quiet",
            "-p",
            "hv-config",
            "--bin",
            "hvconfig",
            "--",
            "dtb",
            "--board",
        ])
        .arg(board.join("board.toml"))
        .arg("--system")
        .arg(system)
        .args(["--vm", vm, "--out"])
        .arg(out)
        .status()
        .context("running hvconfig dtb")?;
    if !st.success() {
        bail!("hvconfig dtb failed ({st})");
    }
    Ok(())
}

/// Boots the kernel natively with the device tree generated for the `linux` VM of
/// `linux-duo`: checks that an unmodified kernel accepts what the toolkit writes.
pub fn check_generated_dtb() -> Result<NativeBoot> {
    let art = fetch_and_build()?;
    let system = paths::root().join("boards/qemu-virt/systems/linux-duo.toml");
    let dtb = linux_dir().join("linux-duo-linux.dtb");
    generate_dtb(&system, "linux", &dtb)?;
    let boot = boot_native(&art, Some(&dtb), Duration::from_secs(120))?;
    println!(
        "linux {} with the generated DTB: `{MARKER}` after {:.2} s",
        art.version,
        boot.to_marker.as_secs_f64()
    );
    Ok(boot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_pins_parse() {
        let p = parse_pins(VERSIONS).unwrap();
        assert!(p.linux_pkg.starts_with("linux-image-") && p.linux_pkg.ends_with("-cloud-arm64"));
        assert!(!p.linux_version.is_empty() && !p.busybox_version.is_empty());
    }

    #[test]
    fn missing_pin_is_named() {
        let e = parse_pins("LINUX_PKG=x\n").unwrap_err().to_string();
        assert!(e.contains("LINUX_PKG_VERSION"), "{e}");
    }

    #[test]
    fn image_magic_is_checked_and_gzip_unwrapped() {
        let mut img = vec![0u8; 64];
        img[0x38..0x3c].copy_from_slice(IMAGE_MAGIC);
        assert_eq!(to_image(&img, |_| unreachable!()).unwrap(), img);
        let gz = [0x1f, 0x8b, 0, 0];
        let inner = img.clone();
        assert_eq!(to_image(&gz, move |_| Ok(inner)).unwrap(), img);
        assert!(to_image(&[0u8; 64], |_| unreachable!()).is_err());
    }

    #[test]
    fn gunzip_round_trip() {
        if !which("gzip") {
            return;
        }
        let out = Command::new("sh")
            .args(["-c", "printf hello | gzip -n"])
            .output()
            .unwrap();
        assert_eq!(gunzip(&out.stdout).unwrap(), b"hello");
    }
}
