//! The isolation certificate: a checker over the *linked* hypervisor ELF.
//!
//! `hvconfig certify <hv.elf>` (and `cargo xtask certify <system>`, run by every
//! `cargo xtask build`) reads the image — not the toolkit's plan — and proves the
//! properties of [`property::Property`] by walking every translation regime the image
//! contains:
//! 1. [`elf`]: the allocated sections (address, size, rights the linker gave them), the
//!    `HV_SYSTEM` symbol and the `.hv_tables` section;
//! 2. [`dwarf`] + [`decode`]: the `SystemDesc` the hypervisor reads, decoded through the
//!    layout the compiler recorded in the image's DWARF;
//! 3. [`check`]: the EL2 stage-1 regime (E2H=0 or E2H=1 encoding, as the descriptor
//!    says), every full VM's stage-2 regime and every lwVM's stage-1 regime, walked from
//!    the roots in the descriptor through the table bytes as loaded;
//! 4. [`report`]: the certificate (JSON and Markdown) with the image's SHA-256.
//!
//! The same [`check::run`] proves the plan of every `generate` before anything is built
//! ([`crate::isolation::check`]).

pub mod check;
pub(crate) mod check_derived;
mod check_el2;
mod check_elastic;
mod check_vm;
pub mod decode;
pub mod dwarf;
pub mod elf;
pub mod mutate;
pub mod property;
pub mod report;

use check::{HvSection, Report, Subject};
use dwarf::{Memory, Types, Value};
use elf::{Elf, IMAGES_SECTION, SYSTEM_SYMBOL, TABLES_SECTION};
use hv_core::sysdesc::SystemDesc;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::{Duration, Instant};

/// A certificate: what was checked, what holds, what not.
#[derive(Debug, Clone)]
pub struct Certificate {
    /// SHA-256 of the ELF file, hex.
    pub sha256: String,
    /// The descriptor's system and board names.
    pub system: String,
    /// Board name.
    pub board: String,
    /// The descriptor's configuration id.
    pub config_id: u64,
    /// Whether the EL2 regime is the E2H=1 (VHE) flavour.
    pub e2h: bool,
    /// VMs and lwVMs.
    pub vms: usize,
    /// lwVMs among them.
    pub lwvms: usize,
    /// The image's sections the EL2 map was checked against.
    pub sections: Vec<HvSection>,
    /// Regimes walked, counts and violations.
    pub report: Report,
    /// Time the whole check took (reading, decoding, walking).
    pub elapsed: Duration,
}

impl Certificate {
    /// Every property holds.
    pub fn holds(&self) -> bool {
        self.report.violations.is_empty()
    }
}

/// Decodes the descriptor of a parsed image.
pub fn descriptor(elf: &Elf) -> Result<&'static SystemDesc, String> {
    let types = Types::load(|name| elf.debug_section(name))?;
    let ty = types.named("hv_core::sysdesc::SystemDesc")?;
    let (addr, size) = elf.symbol(SYSTEM_SYMBOL)?;
    if size != 0 && size != types.size(ty)? {
        return Err(format!(
            "{SYSTEM_SYMBOL} is {size} bytes but SystemDesc is {}",
            types.size(ty)?
        ));
    }
    decode::system(&Value::new(&types, elf, addr, ty)).map_err(|e| format!("{SYSTEM_SYMBOL}: {e}"))
}

/// Checks a parsed image.
pub fn check_elf(elf: &Elf) -> Result<(&'static SystemDesc, Vec<HvSection>, Report), String> {
    let desc = descriptor(elf)?;
    let t = elf.section(TABLES_SECTION)?;
    let tables = elf.read(t.addr, t.size)?;
    elf.section(IMAGES_SECTION)?;
    let sections: Vec<HvSection> = elf
        .sections
        .iter()
        .map(|s| HvSection {
            name: s.name.clone(),
            base: s.addr,
            size: s.size,
            kind: s.kind,
        })
        .collect();
    let report = check::run(&Subject {
        desc,
        tables: &tables,
        tables_at: t.addr,
        sections: sections.clone(),
    });
    Ok((desc, sections, report))
}

/// Certifies the image in `bytes`.
pub fn certify_bytes(bytes: Vec<u8>) -> Result<Certificate, String> {
    let start = Instant::now();
    let sha256 = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let elf = Elf::parse(bytes)?;
    let (d, sections, report) = check_elf(&elf)?;
    Ok(Certificate {
        sha256,
        system: d.name.to_string(),
        board: d.board.to_string(),
        config_id: d.config_id,
        e2h: d.hv.e2h,
        vms: d.vms.len(),
        lwvms: d.vms.iter().filter(|v| v.lwvm.is_some()).count(),
        sections,
        report,
        elapsed: start.elapsed(),
    })
}

/// Certifies the image at `path`.
pub fn certify_file(path: &Path) -> Result<Certificate, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    certify_bytes(bytes).map_err(|e| format!("{}: {e}", path.display()))
}
