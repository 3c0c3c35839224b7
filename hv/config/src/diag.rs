//! The collector every validation rule reports through: one [`Checker`] per file, with
//! the checks many rules share (sizes, bases, names of VMs).
//!
//! Why a module of its own: validation rules live in two places, the core's
//! ([`crate::validate`]) and the extensions' (their `ConfigExtension::validate`), and both
//! must report in the same style (file, field, message). The checker sits below both.

use crate::config::Config;
use crate::error::{Diagnostic, suggest};
use crate::fmt::{hex, range};
use crate::size::{KIB4, is_aligned};
use std::path::Path;

/// Translated address spaces end here (T0SZ = 25).
pub const ADDR_LIMIT: u64 = 1 << 39;
/// First and last INTID a VM may own or receive (SPIs).
pub const SPI_RANGE: std::ops::RangeInclusive<u32> = 32..=1019;

/// Collects diagnostics for one file.
pub struct Checker<'a> {
    file: &'a Path,
    diags: Vec<Diagnostic>,
}

impl<'a> Checker<'a> {
    pub fn new(file: &'a Path) -> Self {
        Checker {
            file,
            diags: Vec::new(),
        }
    }

    pub fn err(&mut self, field: impl Into<String>, msg: impl Into<String>) {
        self.diags.push(Diagnostic::new(self.file, field, msg));
    }

    /// Size must be non-zero and a multiple of 4 KiB.
    pub fn size(&mut self, field: &str, what: &str, size: u64) {
        if size == 0 {
            self.err(field, format!("{what} size must not be zero"));
        } else if !is_aligned(size, KIB4) {
            self.err(
                field,
                format!(
                    "{what} size {} is not a multiple of 4K (the translation granule)",
                    hex(size)
                ),
            );
        }
    }

    /// Address must be 4 KiB aligned and the range below [`ADDR_LIMIT`].
    pub fn base(&mut self, field: &str, what: &str, base: u64, size: u64) {
        if !is_aligned(base, KIB4) {
            self.err(
                field,
                format!(
                    "{what} base {} is not 4K aligned (the translation granule)",
                    hex(base)
                ),
            );
        }
        if base.checked_add(size).is_none_or(|end| end > ADDR_LIMIT) {
            self.err(
                field,
                format!(
                    "{what} {} reaches beyond the 39-bit address space",
                    range(base, size)
                ),
            );
        }
    }

    /// Resolves a VM name, reporting an unknown one with a suggestion.
    pub fn vm(&mut self, cfg: &Config, field: &str, name: &str) -> Option<usize> {
        let found = cfg.system.vm_index(name);
        if found.is_none() && cfg.system.is_lwvm(name) {
            self.err(
                field,
                format!("\"{name}\" is a lightweight VM ([[lwvm]]); only a full VM fits here"),
            );
            return None;
        }
        if found.is_none() {
            let hint = suggest(name, cfg.system.vm.iter().map(|v| v.name.as_str()));
            self.err(field, format!("unknown vm \"{name}\"{hint}"));
        }
        found
    }

    /// Resolves the name of a VM or an lwVM to its index in the description's `vms`
    /// (full VMs first, then lwVMs), reporting an unknown one with a suggestion.
    pub fn party(&mut self, cfg: &Config, field: &str, name: &str) -> Option<usize> {
        let found = cfg.system.party_index(name);
        if found.is_none() {
            let names = cfg.system.vm.iter().map(|v| v.name.as_str());
            let hint = suggest(
                name,
                names.chain(cfg.system.lwvm.iter().map(|v| v.name.as_str())),
            );
            let what = if cfg.system.lwvm.is_empty() {
                "vm"
            } else {
                "vm or lwvm"
            };
            self.err(field, format!("unknown {what} \"{name}\"{hint}"));
        }
        found
    }

    pub fn finish(self, all: &mut Vec<Diagnostic>) {
        all.extend(self.diags);
    }
}
