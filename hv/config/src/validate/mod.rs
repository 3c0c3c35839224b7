//! Validation: every rule a description must keep before it is laid out.
//!
//! Decisions recorded here (and tested in `tests.rs`):
//! - Alignment: every size, base and IPA must be a multiple of 4 KiB (the translation
//!   granule). 2 MiB alignment is only preferred: the layout uses 2 MiB blocks where
//!   it can. A Linux guest's RAM IPA must be 2 MiB aligned (the arm64 boot protocol).
//! - Two vCPUs of one VM on the same CPU are rejected: they gain no parallelism, and
//!   with the static priority schedule a spinning vCPU would starve its sibling that
//!   holds the lock it waits for.
//! - A VM may own SPIs only (32..=1019): SGIs and PPIs are per CPU and stay with the
//!   hypervisor, as do the UART's SPI and the timer/maintenance PPIs.
//! - Channel and emulation-notification INTIDs are *virtual* SPIs (32..=1019) of the
//!   receiving VM; they must not collide with that VM's own physical IRQs, with other
//!   virtual INTIDs it receives, or with the INTIDs the hypervisor uses (the vUART's
//!   SPI is the board UART's).
//! - Addresses (physical and guest-physical) must lie below 2^39: the tables cover a
//!   39-bit space (T0SZ = 25).

mod devices;
mod links;
#[cfg(test)]
pub(crate) mod tests;
mod uart;
mod vm;

pub use crate::diag::Checker;
pub use crate::diag::{ADDR_LIMIT, SPI_RANGE};
pub(crate) use links::mapped_ipas;
pub(crate) use vm::emulated_device_ipas;

use crate::config::Config;
use crate::error::ConfigError;
use crate::ext::Extensions;
use crate::fmt::{hex, overlaps, range};
use crate::size::{KIB4, is_aligned};

/// Checks the board and the system together, with the rules of every extension in
/// `exts` (after the VMs' rules); all problems are reported at once.
pub fn validate(cfg: &Config, exts: &Extensions) -> Result<(), ConfigError> {
    let mut all = Vec::new();
    let mut b = Checker::new(&cfg.board_file);
    check_board(cfg, &mut b);
    uart::check_uart_and_psci(&cfg.board, &mut b);
    devices::check_board_devices(cfg, &mut b);
    b.finish(&mut all);
    let mut s = Checker::new(&cfg.system_file);
    if cfg.system.name.is_empty() {
        s.err("name", "the system name must not be empty");
    }
    s.size(
        "hypervisor.memory",
        "hypervisor",
        cfg.system.hypervisor.memory.0,
    );
    let h = &cfg.system.hypervisor;
    let (code, rodata, _) = h.split();
    s.size("hypervisor.code", "hypervisor code", code);
    s.size("hypervisor.rodata", "hypervisor read-only data", rodata);
    if code.saturating_add(rodata) >= h.memory.0 {
        s.err(
            if h.code.is_some() {
                "hypervisor.code"
            } else {
                "hypervisor.rodata"
            },
            format!(
                "code ({}) and read-only data ({}) leave no room for data, bss and stacks in the hypervisor's {}",
                crate::size::human(code),
                crate::size::human(rodata),
                crate::size::human(h.memory.0)
            ),
        );
    }
    if cfg.system.vm.is_empty() && cfg.system.lwvm.is_empty() {
        s.err("vm", "the system has no VM");
    }
    vm::check_vms(cfg, &mut s);
    devices::check_given_devices(cfg, &mut s);
    for e in exts {
        e.validate(cfg, &mut s);
    }
    check_fixed_memory(cfg, exts, &mut s);
    links::check_channels(cfg, &mut s);
    links::check_shared(cfg, &mut s);
    links::check_emulated(cfg, &mut s);
    links::check_virtual_intids(cfg, &mut s);
    links::check_slots(cfg, &mut s);
    s.finish(&mut all);
    if all.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::Invalid(all))
    }
}

fn check_board(cfg: &Config, c: &mut Checker) {
    let b = &cfg.board;
    let (ram, size) = (b.memory.ram.base.0, b.memory.ram.size.0);
    c.size("memory.ram", "RAM", size);
    c.base("memory.ram", "RAM", ram, size);
    for (i, r) in b.memory.reserved.iter().enumerate() {
        let f = format!("memory.reserved[{i}]");
        c.size(&f, "reserved", r.size.0);
        c.base(&f, "reserved", r.base.0, r.size.0);
        if r.base.0 < ram || r.base.0.saturating_add(r.size.0) > b.ram_end() {
            c.err(
                f,
                format!(
                    "reserved {} lies outside RAM {}",
                    range(r.base.0, r.size.0),
                    range(ram, size)
                ),
            );
        }
    }
    if b.cpus().is_empty() {
        c.err("cluster", "the board has no CPU");
    }
    if b.gic.version != 3 {
        c.err(
            "gic.version",
            format!("GIC version {} is not supported (only 3)", b.gic.version),
        );
    }
    let r = &b.gic.redistributor;
    if r.stride.0 == 0 || !is_aligned(r.stride.0, KIB4) {
        c.err(
            "gic.redistributor.stride",
            format!(
                "stride {} must be a non-zero multiple of 4K",
                hex(r.stride.0)
            ),
        );
    } else if r.stride.0 * b.cpus().len() as u64 > r.size.0 {
        c.err(
            "gic.redistributor.size",
            format!(
                "{} CPUs need {} of redistributor frames, the region has {}",
                b.cpus().len(),
                hex(r.stride.0 * b.cpus().len() as u64),
                hex(r.size.0)
            ),
        );
    }
    for (field, base, size) in [
        (
            "gic.distributor",
            b.gic.distributor.base.0,
            b.gic.distributor.size.0,
        ),
        ("uart", b.uart.base.0, b.uart.size.0),
    ] {
        c.base(field, field, base, size);
        if overlaps(base, size, ram, size_of_ram(b)) {
            c.err(field, format!("device {} overlaps RAM", range(base, size)));
        }
    }
}

fn size_of_ram(b: &crate::board::Board) -> u64 {
    b.memory.ram.size.0
}

/// A fixed physical range and who claims it (for overlap messages).
struct Claim {
    base: u64,
    size: u64,
    who: String,
    field: String,
}

/// Fixed bases (the VMs', the extensions', the shared regions') must stay in RAM, off
/// reserved ranges and off each other.
fn check_fixed_memory(cfg: &Config, exts: &Extensions, c: &mut Checker) {
    let b = &cfg.board;
    let mut claims: Vec<Claim> = Vec::new();
    for (i, v) in cfg.system.vm.iter().enumerate() {
        if let Some(base) = cfg.vm_base(i) {
            let key = if v.base.is_some() { "base" } else { "identity" };
            claims.push(Claim {
                base,
                size: v.memory.0,
                who: format!("vm \"{}\"", v.name),
                field: format!("vm[{i}].{key}"),
            });
        }
    }
    for f in exts.iter().flat_map(|e| e.fixed_memory(cfg)) {
        claims.push(Claim {
            base: f.base,
            size: f.size,
            who: f.who,
            field: f.field,
        });
    }
    for (i, s) in cfg.system.shared.iter().enumerate() {
        if let Some(base) = s.base {
            claims.push(Claim {
                base: base.0,
                size: s.size.0,
                who: format!("shared \"{}\"", s.name),
                field: format!("shared[{i}].base"),
            });
        }
    }
    for (n, a) in claims.iter().enumerate() {
        let end = a.base.saturating_add(a.size);
        if a.base < b.memory.ram.base.0 || end > b.ram_end() {
            c.err(
                &a.field,
                format!(
                    "{} memory {} lies beyond the board's RAM {}",
                    a.who,
                    range(a.base, a.size),
                    range(b.memory.ram.base.0, b.memory.ram.size.0)
                ),
            );
        }
        for r in &b.memory.reserved {
            if overlaps(a.base, a.size, r.base.0, r.size.0) {
                let why = r.why.as_deref().unwrap_or("reserved");
                c.err(
                    &a.field,
                    format!(
                        "{} memory {} overlaps reserved {} ({why})",
                        a.who,
                        range(a.base, a.size),
                        range(r.base.0, r.size.0)
                    ),
                );
            }
        }
        for other in &claims[..n] {
            if overlaps(a.base, a.size, other.base, other.size) {
                c.err(
                    &a.field,
                    format!(
                        "{} memory {} overlaps {} ({})",
                        a.who,
                        range(a.base, a.size),
                        other.who,
                        range(other.base, other.size)
                    ),
                );
            }
        }
    }
}
