//! Loads every VM's boot payload from the images directory.
//!
//! `layout` may run before the guests are built: then a missing file becomes a
//! zero-filled placeholder of a given size and a warning, so the memory map can be seen.

use crate::config::Config;
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
    /// Guest-physical entry point.
    pub entry_ipa: u64,
}

/// All payloads, plus what reading them produced.
#[derive(Debug, Clone, Default)]
pub struct Payloads {
    /// One per VM, in VM order.
    pub vms: Vec<Payload>,
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
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(ConfigError::Invalid(diags))
    }
}

/// Reads `<images_dir>/<name>`, or a placeholder.
fn fetch(
    cfg: &Config,
    field: &str,
    dir: &Path,
    name: &str,
    placeholder: Option<u64>,
    out: &mut Payloads,
) -> Result<Option<Vec<u8>>, Diagnostic> {
    let path = dir.join(name);
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
                entry_ipa: vm.entry.map_or(ipa, |e| e.0),
            });
        };
        let (blob, entry) = elf_to_blob(&dir.join(name), &vm.name, &data, ipa, size)?;
        return Ok(Payload {
            image: blob,
            initrd: None,
            entry_ipa: vm.entry.map_or(entry, |e| e.0),
        });
    }
    let name = vm.kernel.as_deref().unwrap_or_default();
    let field = format!("vm[{i}].kernel");
    let (kernel, kernel_size) = match fetch(cfg, &field, dir, name, placeholder, out)? {
        Some(data) => linux_kernel(&dir.join(name), &vm.name, &data, ipa, size)?,
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
    Ok(Payload {
        image: kernel,
        initrd,
        entry_ipa,
    })
}
