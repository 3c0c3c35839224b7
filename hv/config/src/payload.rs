//! Loads every VM's boot payload, and generates a Linux guest's device tree.
//!
//! Where files are found: a plain name (`image = "hello"`, `kernel = "Image"`) is a file
//! in the images directory (the built guests); a value with a `/` is a path relative to
//! the folder of the system description (or absolute), e.g.
//! `kernel = "../../../target/linux/current/Image"` from `boards/<b>/systems/`.
//!
//! A Linux guest's RAM holds, in order: the kernel at `text_offset`, the initrd at the
//! next 2 MiB boundary, the DTB at the 2 MiB boundary after that (see [`crate::dtb`]).
//!
//! `layout` may run before the guests are built: then a missing file becomes a
//! zero-filled placeholder of a given size and a warning, so the memory map can be seen.

use crate::config::Config;
use crate::dtb;
use crate::error::{ConfigError, Diagnostic, read_bytes};
use crate::image::{Blob, elf_to_blob, linux_kernel};
use crate::size::{MIB2, align_up};
use std::path::{Path, PathBuf};

/// What one VM boots.
#[derive(Debug, Clone)]
pub struct Payload {
    /// The ELF blob or the Linux kernel.
    pub image: Blob,
    /// The initial RAM disk of a Linux guest.
    pub initrd: Option<Blob>,
    /// The device tree of a Linux guest (generated).
    pub dtb: Option<Blob>,
    /// Guest-physical entry point.
    pub entry_ipa: u64,
}

/// All payloads, plus what reading them produced.
#[derive(Debug, Clone, Default)]
pub struct Payloads {
    /// One per VM, in VM order.
    pub vms: Vec<Payload>,
    /// One per lwVM, in lwVM order (linked at the lwVM window).
    pub lwvms: Vec<Payload>,
    /// Placeholders used instead of missing files.
    pub warnings: Vec<String>,
    /// Files read (for `rerun-if-changed`).
    pub inputs: Vec<PathBuf>,
}

/// Reads the payload files of every VM. With `placeholder = Some(size)`, a missing file
/// is replaced by `size` zero bytes and a warning; otherwise it is an error.
pub fn load_payloads(
    cfg: &Config,
    images_dir: &Path,
    placeholder: Option<u64>,
) -> Result<Payloads, ConfigError> {
    let mut out = Payloads::default();
    let mut diags = Vec::new();
    for i in 0..cfg.system.vm.len() {
        match load_one(cfg, i, images_dir, placeholder, &mut out) {
            Ok(p) => out.vms.push(p),
            Err(d) => diags.push(d),
        }
    }
    for j in 0..cfg.system.lwvm.len() {
        match load_lwvm(cfg, j, images_dir, placeholder, &mut out) {
            Ok(p) => out.lwvms.push(p),
            Err(d) => diags.push(d),
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(ConfigError::Invalid(diags))
    }
}

/// Where the payload file `name` is: in the images directory when it is a plain name,
/// else relative to the system description's folder.
pub fn resolve(cfg: &Config, images_dir: &Path, name: &str) -> PathBuf {
    if name.contains('/') {
        cfg.system_file.parent().unwrap_or(Path::new("")).join(name)
    } else {
        images_dir.join(name)
    }
}

/// Reads the payload file `name` (see [`resolve`]), or a placeholder.
fn fetch(
    cfg: &Config,
    field: &str,
    dir: &Path,
    name: &str,
    placeholder: Option<u64>,
    out: &mut Payloads,
) -> Result<Option<Vec<u8>>, Diagnostic> {
    let path = resolve(cfg, dir, name);
    match read_bytes(&path) {
        Ok(b) => {
            out.inputs.push(path);
            Ok(Some(b))
        }
        Err(e) => match placeholder {
            Some(_) => {
                out.warnings.push(format!(
                    "{field}: {} is missing; using a placeholder",
                    path.display()
                ));
                Ok(None)
            }
            None => {
                let why = match &e {
                    ConfigError::Io { source, .. } => source.to_string(),
                    other => other.to_string(),
                };
                Err(Diagnostic::new(
                    &cfg.system_file,
                    field,
                    format!(
                        "cannot read {}: {why} (build the guest first, or check the images directory)",
                        path.display()
                    ),
                ))
            }
        },
    }
}

fn load_one(
    cfg: &Config,
    i: usize,
    dir: &Path,
    placeholder: Option<u64>,
    out: &mut Payloads,
) -> Result<Payload, Diagnostic> {
    let vm = &cfg.system.vm[i];
    let (ipa, size) = (cfg.vm_ipa(i), vm.memory.0);
    let filler = |load_ipa| Blob {
        bytes: vec![0; placeholder.unwrap_or(0) as usize],
        load_ipa,
    };
    if let Some(name) = &vm.image {
        let field = format!("vm[{i}].image");
        let Some(data) = fetch(cfg, &field, dir, name, placeholder, out)? else {
            return Ok(Payload {
                image: filler(ipa),
                initrd: None,
                dtb: None,
                entry_ipa: vm.entry.map_or(ipa, |e| e.0),
            });
        };
        let (blob, entry) = elf_to_blob(&resolve(cfg, dir, name), &vm.name, &data, ipa, size)?;
        return Ok(Payload {
            image: blob,
            initrd: None,
            dtb: None,
            entry_ipa: vm.entry.map_or(entry, |e| e.0),
        });
    }
    let name = vm.kernel.as_deref().unwrap_or_default();
    let field = format!("vm[{i}].kernel");
    let (kernel, kernel_size) = match fetch(cfg, &field, dir, name, placeholder, out)? {
        Some(data) => linux_kernel(&resolve(cfg, dir, name), &vm.name, &data, ipa, size)?,
        None => (filler(ipa), placeholder.unwrap_or(0)),
    };
    let entry_ipa = kernel.load_ipa;
    let mut initrd = None;
    if let Some(name) = &vm.initrd {
        let field = format!("vm[{i}].initrd");
        let at = align_up(kernel.load_ipa.saturating_add(kernel_size), MIB2).unwrap_or(u64::MAX);
        let bytes =
            fetch(cfg, &field, dir, name, placeholder, out)?.unwrap_or_else(|| filler(at).bytes);
        if at.saturating_add(bytes.len() as u64) > ipa.saturating_add(size) {
            return Err(Diagnostic::new(
                &cfg.system_file,
                field,
                format!(
                    "the initrd ({} bytes after the kernel) does not fit in vm \"{}\" RAM of {} bytes",
                    bytes.len(),
                    vm.name,
                    size
                ),
            ));
        }
        initrd = Some(Blob {
            bytes,
            load_ipa: at,
        });
    }
    let used_end = initrd
        .as_ref()
        .map_or(kernel.load_ipa.saturating_add(kernel_size), |b| {
            b.load_ipa.saturating_add(b.bytes.len() as u64)
        });
    let dtb = place_dtb(cfg, i, used_end, initrd.as_ref())?;
    Ok(Payload {
        image: kernel,
        initrd,
        dtb: Some(dtb),
        entry_ipa,
    })
}

/// lwVM `j`'s ELF, flattened for its window (see [`crate::lwvm::WINDOW_BASE`]).
fn load_lwvm(
    cfg: &Config,
    j: usize,
    dir: &Path,
    placeholder: Option<u64>,
    out: &mut Payloads,
) -> Result<Payload, Diagnostic> {
    let lw = &cfg.system.lwvm[j];
    let (va, size) = (crate::lwvm::WINDOW_BASE, lw.memory.0);
    let field = format!("lwvm[{j}].image");
    let Some(data) = fetch(cfg, &field, dir, &lw.image, placeholder, out)? else {
        return Ok(Payload {
            image: Blob {
                bytes: vec![0; placeholder.unwrap_or(0) as usize],
                load_ipa: va,
            },
            initrd: None,
            dtb: None,
            entry_ipa: lw.entry.map_or(va, |e| e.0),
        });
    };
    let (blob, entry) = elf_to_blob(&resolve(cfg, dir, &lw.image), &lw.name, &data, va, size)?;
    Ok(Payload {
        image: blob,
        initrd: None,
        dtb: None,
        entry_ipa: lw.entry.map_or(entry, |e| e.0),
    })
}

/// Generates VM `i`'s device tree and places it at the first 2 MiB boundary at or
/// after `used_end` (the end of the kernel or initrd).
fn place_dtb(
    cfg: &Config,
    i: usize,
    used_end: u64,
    initrd: Option<&Blob>,
) -> Result<Blob, Diagnostic> {
    let vm = &cfg.system.vm[i];
    let range = initrd.map(|b| (b.load_ipa, b.load_ipa + b.bytes.len() as u64));
    let bytes = dtb::guest_dtb(cfg, i, range).map_err(|e| {
        Diagnostic::new(
            &cfg.system_file,
            format!("vm[{i}]"),
            format!("cannot write vm \"{}\" device tree: {e}", vm.name),
        )
    })?;
    let at = align_up(used_end, MIB2).unwrap_or(u64::MAX);
    let ram_end = cfg.vm_ipa(i).saturating_add(vm.memory.0);
    if bytes.len() as u64 > dtb::MAX_DTB || at.saturating_add(bytes.len() as u64) > ram_end {
        return Err(Diagnostic::new(
            &cfg.system_file,
            format!("vm[{i}].memory"),
            format!(
                "no room for the device tree ({} bytes at IPA {}) after the kernel and initrd in vm \"{}\" RAM of {} bytes",
                bytes.len(),
                crate::fmt::hex(at),
                vm.name,
                vm.memory.0
            ),
        ));
    }
    Ok(Blob {
        bytes,
        load_ipa: at,
    })
}
