//! Device passthrough rules: the board's `[[device]]` list (whole pages, distinct, SPIs
//! that are the board's to give) and the systems' `devices = [...]` (each device to one
//! VM, its SPIs not owned otherwise, DMA only into a VM whose RAM is at IPA = PA).

use super::{Checker, SPI_RANGE};
use crate::config::Config;
use crate::error::suggest;
use crate::fmt::{hex, overlaps, range};
use crate::size::{KIB4, is_aligned};
use std::collections::HashMap;

/// The board's devices on their own and against the hypervisor's devices.
pub(crate) fn check_board_devices(cfg: &Config, c: &mut Checker) {
    let b = &cfg.board;
    let hv_intids = b.hv_intids();
    let frames = b.gic.redistributor.stride.0 * b.cpus().len() as u64;
    let hv_mmio = [
        (b.uart.base.0, b.uart.size.0, "the hypervisor's UART"),
        (
            b.gic.distributor.base.0,
            b.gic.distributor.size.0,
            "the GIC distributor",
        ),
        (b.gic.redistributor.base.0, frames, "the GIC redistributors"),
    ];
    let mut intids: HashMap<u32, usize> = HashMap::new();
    for (i, d) in b.device.iter().enumerate() {
        let p = format!("device[{i}]");
        let what = format!("device \"{}\"", d.name);
        if d.size.0 == 0 || !is_aligned(d.size.0, KIB4) || !is_aligned(d.base.0, KIB4) {
            c.err(
                format!("{p}.size"),
                format!(
                    "{what} at {} is not whole 4K pages: stage 2 gives a VM pages, so a device is owned per page (describe the page that holds it)",
                    range(d.base.0, d.size.0)
                ),
            );
        }
        if b.device[..i].iter().any(|o| o.name == d.name) {
            c.err(format!("{p}.name"), format!("duplicate {what}"));
        }
        if let Some(o) = b.device[..i]
            .iter()
            .find(|o| overlaps(d.base.0, d.size.0, o.base.0, o.size.0))
        {
            c.err(
                format!("{p}.base"),
                format!("{what} overlaps device \"{}\"", o.name),
            );
        }
        for (base, size, hv) in hv_mmio {
            if overlaps(d.base.0, d.size.0, base, size) {
                c.err(format!("{p}.base"), format!("{what} overlaps {hv}"));
            }
        }
        if d.compatible.is_empty() {
            c.err(
                format!("{p}.compatible"),
                format!("{what} needs a `compatible` for its device-tree node"),
            );
        }
        if let Some(st) = d.stride {
            let n = d.size.0.checked_div(st.0).unwrap_or(0);
            if n == 0 || d.size.0 % st.0 != 0 || n as usize != d.intids.len() {
                c.err(
                    format!("{p}.stride"),
                    format!(
                        "{what}: a stride of {} must divide its {} bytes into one transport per INTID ({} given)",
                        hex(st.0),
                        hex(d.size.0),
                        d.intids.len()
                    ),
                );
            }
        }
        for (k, &id) in d.intids.iter().enumerate() {
            let f = format!("{p}.intids[{k}]");
            if !SPI_RANGE.contains(&id) {
                c.err(
                    &f,
                    format!("INTID {id} of {what} is not an SPI (32..=1019)"),
                );
            } else if let Some((_, hv)) = hv_intids.iter().find(|(h, _)| *h == id) {
                c.err(&f, format!("INTID {id} of {what} is {hv}"));
            } else if let Some(o) = intids.insert(id, i) {
                c.err(
                    &f,
                    format!(
                        "INTID {id} of {what} is also device \"{}\"'s",
                        b.device[o].name
                    ),
                );
            }
        }
    }
}

/// The devices a system gives its VMs.
pub(crate) fn check_given_devices(cfg: &Config, c: &mut Checker) {
    let b = &cfg.board;
    let mut owner: HashMap<&str, (usize, usize)> = HashMap::new();
    for (i, v) in cfg.system.vm.iter().enumerate() {
        if v.identity && v.ipa.is_some() {
            c.err(
                format!("vm[{i}].ipa"),
                format!(
                    "vm \"{}\" has `identity = true`: its RAM's IPA is its physical base, drop `ipa`",
                    v.name
                ),
            );
        }
        for (k, name) in v.devices.iter().enumerate() {
            let f = format!("vm[{i}].devices[{k}]");
            let Some(d) = b.device(name) else {
                let hint = suggest(name, b.device.iter().map(|d| d.name.as_str()));
                c.err(
                    &f,
                    format!("board \"{}\" has no device \"{name}\"{hint}", b.name),
                );
                continue;
            };
            if let Some((o, ok)) = owner.insert(name, (i, k)) {
                c.err(
                    &f,
                    format!(
                        "device \"{name}\" is already given to vm \"{}\" (vm[{o}].devices[{ok}]): a device has one owner",
                        cfg.system.vm[o].name
                    ),
                );
                owner.insert(name, (o, ok));
            }
            if d.dma && !v.identity {
                c.err(
                    &f,
                    format!(
                        "device \"{name}\" masters DMA, which reaches physical addresses (no SMMU): vm \"{}\" needs `identity = true` (RAM at IPA = PA)",
                        v.name
                    ),
                );
            }
            for &id in &d.intids {
                for (j, o) in cfg.system.vm.iter().enumerate() {
                    if let Some(n) = o.irqs.iter().position(|&x| x == id) {
                        c.err(
                            format!("vm[{j}].irqs[{n}]"),
                            format!(
                                "IRQ {id} is device \"{name}\"'s, given to vm \"{}\" ({f})",
                                v.name
                            ),
                        );
                    }
                }
            }
            let ipa = cfg.vm_ipa(i);
            if overlaps(d.base.0, d.size.0, ipa, v.memory.0) {
                c.err(
                    &f,
                    format!(
                        "device \"{name}\" at {} overlaps vm \"{}\" RAM at IPA {}",
                        range(d.base.0, d.size.0),
                        v.name,
                        range(ipa, v.memory.0)
                    ),
                );
            }
        }
    }
}
