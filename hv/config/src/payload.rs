//! Loads every VM's boot payload, and generates a Linux guest's device tree; the
//! extensions load their guests' payloads alongside (`ConfigExtension::load_payloads`).
//!
//! Where files are found: see [`crate::files`] (a plain name is a built guest in the
//! images directory, a value with a `/` a path relative to the system description).
//!
//! A Linux guest's RAM holds, in order: the kernel at `text_offset`, the initrd at the
//! next 2 MiB boundary, the DTB at the 2 MiB boundary after that (see [`crate::dtb`]).
//!
//! `layout` may run before the guests are built: then a missing file becomes a
//! zero-filled placeholder of a given size and a warning, so the memory map can be seen.

use crate::config::Config;
use crate::dtb;
use crate::error::{ConfigError, Diagnostic};
use crate::ext::Extensions;
use crate::files::Fetcher;
pub use crate::files::resolve;
pub use crate::image::Payload;
use crate::image::{Blob, elf_to_blob, linux_kernel};
use crate::size::{MIB2, align_up};
use std::path::{Path, PathBuf};

/// All payloads, plus what reading them produced.
#[derive(Debug, Clone, Default)]
pub struct Payloads {
    /// One per VM, in VM order.
    pub vms: Vec<Payload>,
    /// The extensions' guests: one list per extension, in the order of the extension
    /// list (`ext[i]` belongs to extension `i`); each list in that extension's order.
    /// They follow the VMs' in the image store and in the configuration id.
    pub ext: Vec<Vec<Payload>>,
    /// Placeholders used instead of missing files.
    pub warnings: Vec<String>,
    /// Files read (for `rerun-if-changed`).
    pub inputs: Vec<PathBuf>,
}

impl Payloads {
    /// Every payload in store order: the VMs', then each extension's.
    pub fn all(&self) -> impl Iterator<Item = &Payload> {
        self.vms.iter().chain(self.ext.iter().flatten())
    }

    /// Extension `i`'s payloads (none if it has none).
    pub fn of(&self, i: usize) -> &[Payload] {
        self.ext.get(i).map_or(&[], Vec::as_slice)
    }
}

/// Reads the payload files of every VM and of the extensions' guests. With
/// `placeholder = Some(size)`, a missing file is replaced by `size` zero bytes and a
/// warning; otherwise it is an error.
pub fn load_payloads(
    cfg: &Config,
    images_dir: &Path,
    placeholder: Option<u64>,
    exts: &Extensions,
) -> Result<Payloads, ConfigError> {
    let mut f = Fetcher::new(images_dir, placeholder);
    let mut out = Payloads::default();
    let mut diags = Vec::new();
    for i in 0..cfg.system.vm.len() {
        match load_one(cfg, i, &mut f) {
            Ok(p) => out.vms.push(p),
            Err(d) => diags.push(d),
        }
    }
    for e in exts {
        match e.load_payloads(cfg, &mut f) {
            Ok(p) => out.ext.push(p),
            Err(d) => {
                out.ext.push(Vec::new());
                diags.extend(d);
            }
        }
    }
    out.inputs = f.inputs;
    out.warnings = f.warnings;
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(ConfigError::Invalid(diags))
    }
}

fn load_one(cfg: &Config, i: usize, f: &mut Fetcher) -> Result<Payload, Diagnostic> {
    let vm = &cfg.system.vm[i];
    let (ipa, size) = (cfg.vm_ipa(i), vm.memory.0);
    if let Some(name) = &vm.image {
        let field = format!("vm[{i}].image");
        let Some(data) = f.fetch(cfg, &field, name)? else {
            return Ok(Payload {
                image: f.filler(ipa),
                initrd: None,
                dtb: None,
                entry_ipa: vm.entry.map_or(ipa, |e| e.0),
            });
        };
        let (blob, entry) = elf_to_blob(&f.resolve(cfg, name), &vm.name, &data, ipa, size)?;
        return Ok(Payload {
            image: blob,
            initrd: None,
            dtb: None,
            entry_ipa: vm.entry.map_or(entry, |e| e.0),
        });
    }
    let name = vm.kernel.as_deref().unwrap_or_default();
    let field = format!("vm[{i}].kernel");
    let (kernel, kernel_size) = match f.fetch(cfg, &field, name)? {
        Some(data) => linux_kernel(&f.resolve(cfg, name), &vm.name, &data, ipa, size)?,
        None => (f.filler(ipa), f.placeholder.unwrap_or(0)),
    };
    let entry_ipa = kernel.load_ipa;
    let mut initrd = None;
    if let Some(name) = &vm.initrd {
        let field = format!("vm[{i}].initrd");
        let at = align_up(kernel.load_ipa.saturating_add(kernel_size), MIB2).unwrap_or(u64::MAX);
        let bytes = f
            .fetch(cfg, &field, name)?
            .unwrap_or_else(|| f.filler(at).bytes);
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
