//! Loads every VM's boot payload, and generates a Linux guest's device tree; the
//! extensions load their guests' payloads alongside (`ConfigExtension::load_payloads`).
//!
//! Where files are found: see [`crate::files`] (a plain name is a built guest in the
//! images directory, a value with a `/` a path relative to the system description).
//!
//! A payload is an ELF, a Linux `Image` or a raw binary, whichever key names it
//! ([`crate::image::Format`]). A Linux `Image` VM's RAM holds, in order: the kernel at
//! `text_offset`, the initrd at the next 2 MiB boundary, the DTB at the 2 MiB boundary
//! after that (see [`crate::dtb`]). An ELF or raw payload's DTB (a `kernel`, or an
//! `image` with `dtb = true`) lies at the first 2 MiB boundary at or above both the end
//! of the payload (and initrd) and RAM + min(size / 2, 128 MiB), where QEMU's loader
//! puts it: the guest's own memory use past its file is not known here.
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
use crate::image::{Blob, Format, Loaded, load};
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
        match load_one(cfg, i, &mut f, exts) {
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

fn load_one(
    cfg: &Config,
    i: usize,
    f: &mut Fetcher,
    exts: &Extensions,
) -> Result<Payload, Diagnostic> {
    let vm = &cfg.system.vm[i];
    let (ipa, size) = (cfg.vm_ipa(i), vm.memory.0);
    let (key, name) = match (&vm.image, &vm.kernel) {
        (Some(name), _) => ("image", name.as_str()),
        (None, kernel) => ("kernel", kernel.as_deref().unwrap_or_default()),
    };
    let field = format!("vm[{i}].{key}");
    let loaded = match f.fetch(cfg, &field, name)? {
        Some(data) => load(&f.resolve(cfg, name), &vm.name, &data, ipa, size)?,
        // A placeholder is loaded at the RAM base as a kernel of its size would be.
        None => Loaded {
            blob: f.filler(ipa),
            entry: ipa,
            end: ipa.saturating_add(f.placeholder.unwrap_or(0)),
            format: if key == "image" {
                Format::Elf
            } else {
                Format::LinuxImage
            },
        },
    };
    let entry_ipa = vm.entry.map_or(loaded.entry, |e| e.0);
    let mut initrd = None;
    if let Some(name) = &vm.initrd {
        let field = format!("vm[{i}].initrd");
        let at = align_up(loaded.end, MIB2).unwrap_or(u64::MAX);
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
    let used_end = initrd.as_ref().map_or(loaded.end, |b| {
        b.load_ipa.saturating_add(b.bytes.len() as u64)
    });
    let dtb = if vm.dtb.unwrap_or(vm.kernel.is_some()) {
        // A Linux kernel finds its tree anywhere; other payloads may use the memory after
        // their file (BSS, stacks, heaps the toolkit does not see): their tree goes where
        // QEMU puts it, half-way up the RAM (at most 128 MiB up), unless the payload
        // reaches further.
        let floor = match loaded.format {
            Format::LinuxImage => used_end,
            Format::Elf | Format::Raw => used_end.max(ipa + (size / 2).min(128 << 20)),
        };
        let emulated: Vec<_> = exts.iter().flat_map(|e| e.guest_devices(cfg, i)).collect();
        Some(place_dtb(cfg, i, floor, initrd.as_ref(), &emulated)?)
    } else {
        None
    };
    Ok(Payload {
        image: loaded.blob,
        initrd,
        dtb,
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
    emulated: &[dtb::GuestDevice],
) -> Result<Blob, Diagnostic> {
    let vm = &cfg.system.vm[i];
    let range = initrd.map(|b| (b.load_ipa, b.load_ipa + b.bytes.len() as u64));
    let bytes = dtb::guest_dtb(cfg, i, range, emulated).map_err(|e| {
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
