//! Rules for elastic memory pools (`[[elastic]]`): the balloon extension's
//! `ConfigExtension::validate`. Every problem names its field.
//!
//! Decisions recorded here (tested in `tests.rs`):
//! - Blocks are multiples of 2 MiB: the table sets map them with 2 MiB block
//!   descriptors, so a set costs one level-2 table and never a level-3 one.
//! - One or two holders, full VMs, each listed once: with count-indexed sets only the
//!   two ends of the pool can be given out without overlap (see `crate::balloon`).
//! - The window (`ipa`, the pool's size) is 2 MiB aligned and lies in one 1 GiB slot of
//!   the input range, which holds nothing else of the holder (checked here for the
//!   trapped devices, by the table stage for every mapping).
//! - Initial counts add up to at most `blocks`.
//! - The notification INTID is an SPI the holders and the manager use for nothing else.

use super::{SLOT, block_size};
use crate::config::Config;
use crate::diag::Checker;
use crate::fmt::{hex, overlaps, range};
use crate::size::MIB2;
use hv_balloon::virtio_mem::MAX_BLOCKS;
use hv_core::mmio::VIRTIO_MMIO_SIZE;
use std::collections::HashSet;

const SPI_RANGE: std::ops::RangeInclusive<u32> = 32..=1019;

/// Every rule, pool by pool.
pub(crate) fn check(cfg: &Config, c: &mut Checker) {
    let mut names = HashSet::new();
    for (p, e) in cfg.system.elastic.iter().enumerate() {
        let f = |x: &str| format!("elastic[{p}].{x}");
        if e.name.is_empty() || !names.insert(e.name.as_str()) {
            c.err(
                f("name"),
                format!("elastic pool name \"{}\" is empty or used twice", e.name),
            );
        }
        if e.blocks == 0 {
            c.err(f("blocks"), "an elastic pool needs at least one block");
            continue;
        }
        let bs = e.size.0 / u64::from(e.blocks);
        if e.size.0 == 0 || e.size.0 % u64::from(e.blocks) != 0 || bs % MIB2 != 0 {
            c.err(
                f("blocks"),
                format!(
                    "{} split into {} blocks does not give blocks of a multiple of 2M (the table sets map blocks with 2M descriptors)",
                    hex(e.size.0),
                    e.blocks
                ),
            );
        }
        if let Some(base) = e.base {
            c.base(&f("base"), "elastic pool", base.0, e.size.0);
            if base.0 % MIB2 != 0 {
                c.err(
                    f("base"),
                    format!("elastic pool base {} is not 2M aligned", hex(base.0)),
                );
            }
        }
        check_holders(cfg, c, p);
        check_window(cfg, c, p);
        if let Some(m) = &e.manager {
            c.vm(cfg, &f("manager"), m);
        }
        check_intid(cfg, c, p);
        check_plan(c, p, e);
        check_virtio(cfg, c, p);
    }
}

/// Linux's memory block on arm64 with 4 KiB pages (SECTION_SIZE_BITS = 27): it adds
/// hot-plugged memory in whole blocks, so a window not aligned to it would be unusable.
pub const LINUX_MEMORY_BLOCK: u64 = 128 << 20;

/// `virtio-mem`: a holder, a register page clear of everything else of that VM, and a
/// pool the Linux driver can use (power-of-two blocks, at most 64 of them, the window in
/// whole Linux memory blocks).
fn check_virtio(cfg: &Config, c: &mut Checker, p: usize) {
    let e = &cfg.system.elastic[p];
    let Some(v) = &e.virtio_mem else { return };
    let f = |x: &str| format!("elastic[{p}].virtio-mem.{x}");
    if !e.vms.contains(&v.vm) {
        c.err(
            f("vm"),
            format!(
                "\"{}\" is not a holder of pool \"{}\" (vms = {:?})",
                v.vm, e.name, e.vms
            ),
        );
    }
    let bs = block_size(e);
    if !bs.is_power_of_two() {
        c.err(
            format!("elastic[{p}].blocks"),
            format!(
                "a virtio-mem pool has power-of-two blocks (the device's block size); {} is not",
                hex(bs)
            ),
        );
    }
    if e.blocks > MAX_BLOCKS {
        c.err(
            format!("elastic[{p}].blocks"),
            format!(
                "a virtio-mem pool has at most {MAX_BLOCKS} blocks, not {}",
                e.blocks
            ),
        );
    }
    if !e.ipa.0.is_multiple_of(LINUX_MEMORY_BLOCK) || !e.size.0.is_multiple_of(LINUX_MEMORY_BLOCK) {
        c.err(
            format!("elastic[{p}].ipa"),
            format!(
                "window {} is not made of whole 128M blocks at a 128M boundary: Linux hot-plugs memory in such blocks, and would not use the rest",
                range(e.ipa.0, e.size.0)
            ),
        );
    }
    let ipa = v.ipa();
    if ipa % 0x1000 != 0 {
        c.err(
            f("ipa"),
            format!("register page {} is not 4K aligned", hex(ipa)),
        );
        return;
    }
    let Some(vm) = cfg.system.vm_index(&v.vm) else {
        return;
    };
    let mut clashes: Vec<(u64, u64, String)> = crate::validate::mapped_ipas(cfg, vm)
        .into_iter()
        .map(|(_, base, size, what)| (base, size, what))
        .collect();
    for (base, size, what) in crate::validate::emulated_device_ipas(cfg) {
        clashes.push((base, size, what.to_string()));
    }
    for d in cfg.devices_of(vm) {
        clashes.push((d.base.0, d.size.0, format!("device \"{}\"", d.name)));
    }
    for em in cfg.system.emulated.iter().filter(|em| em.vm == v.vm) {
        clashes.push((em.base.0, em.size.0, "an emulated region".to_string()));
    }
    for o in cfg.system.elastic.iter().filter(|o| o.vms.contains(&v.vm)) {
        clashes.push((
            o.ipa.0,
            o.size.0,
            format!("the window of pool \"{}\"", o.name),
        ));
    }
    for (base, size, what) in clashes {
        if overlaps(ipa, VIRTIO_MMIO_SIZE, base, size) {
            c.err(
                f("ipa"),
                format!(
                    "register page {} of vm \"{}\" overlaps {what} at {}",
                    range(ipa, VIRTIO_MMIO_SIZE),
                    v.vm,
                    range(base, size)
                ),
            );
        }
    }
}

/// The plan's steps: each to a holder, of 1 ..= `blocks` blocks, strictly later than the
/// one before.
fn check_plan(c: &mut Checker, p: usize, e: &crate::system::Elastic) {
    let mut last = None;
    for (i, m) in e.plan.iter().enumerate() {
        let f = |x: &str| format!("elastic[{p}].plan[{i}].{x}");
        if !e.vms.contains(&m.to) {
            c.err(
                f("to"),
                format!(
                    "\"{}\" is not a holder of pool \"{}\" (vms = {:?})",
                    m.to, e.name, e.vms
                ),
            );
        }
        if m.blocks == 0 || m.blocks > e.blocks {
            c.err(
                f("blocks"),
                format!(
                    "{} blocks: a move is of 1 to {} (the pool)",
                    m.blocks, e.blocks
                ),
            );
        }
        if last.is_some_and(|t| m.at_ms <= t) {
            c.err(
                f("at-ms"),
                format!(
                    "{} ms is not after the step before ({} ms): the plan is in time order",
                    m.at_ms,
                    last.unwrap_or(0)
                ),
            );
        }
        last = Some(m.at_ms);
    }
}

fn check_holders(cfg: &Config, c: &mut Checker, p: usize) {
    let e = &cfg.system.elastic[p];
    if e.vms.is_empty() || e.vms.len() > 2 {
        c.err(
            format!("elastic[{p}].vms"),
            format!(
                "an elastic pool has one or two holders, not {} (each holder's table sets are indexed by its count, so only the pool's two ends can be handed out without overlap)",
                e.vms.len()
            ),
        );
    }
    let mut seen = HashSet::new();
    for (h, name) in e.vms.iter().enumerate() {
        let f = format!("elastic[{p}].vms[{h}]");
        if !seen.insert(name.as_str()) {
            c.err(&f, format!("vm \"{name}\" is listed twice"));
        }
        c.vm(cfg, &f, name);
    }
    if !e.initial.is_empty() && e.initial.len() != e.vms.len() {
        c.err(
            format!("elastic[{p}].initial"),
            format!(
                "{} initial counts for {} holders",
                e.initial.len(),
                e.vms.len()
            ),
        );
    }
    let sum: u64 = e.initial.iter().map(|&n| u64::from(n)).sum();
    if sum > u64::from(e.blocks) {
        c.err(
            format!("elastic[{p}].initial"),
            format!(
                "the holders start with {sum} blocks; the pool has {}",
                e.blocks
            ),
        );
    }
}

fn check_window(cfg: &Config, c: &mut Checker, p: usize) {
    let e = &cfg.system.elastic[p];
    let f = format!("elastic[{p}].ipa");
    let (ipa, size) = (e.ipa.0, e.size.0);
    if ipa % MIB2 != 0 {
        c.err(&f, format!("window {} is not 2M aligned", hex(ipa)));
        return;
    }
    if size == 0 || ipa / SLOT != (ipa + size - 1) / SLOT {
        c.err(
            &f,
            format!(
                "window {} crosses a 1G boundary (a window lies in one level-1 slot)",
                range(ipa, size)
            ),
        );
        return;
    }
    if ipa + size > crate::tables::VA_LIMIT {
        c.err(
            &f,
            format!(
                "window {} lies beyond the 39-bit IPA range",
                range(ipa, size)
            ),
        );
        return;
    }
    let b = &cfg.board;
    let trapped = [
        (b.uart.base.0, b.uart.size.0, "the emulated UART"),
        (
            b.gic.distributor.base.0,
            b.gic.distributor.size.0,
            "the emulated GIC distributor",
        ),
        (
            b.gic.redistributor.base.0,
            b.gic.redistributor.size.0,
            "the emulated GIC redistributors",
        ),
    ];
    let slot = (ipa / SLOT * SLOT, SLOT);
    for (base, len, what) in trapped {
        if overlaps(slot.0, slot.1, base, len) {
            c.err(
                &f,
                format!(
                    "window {} shares its 1G slot with {what} at {}; the slot must hold nothing else of the holders",
                    range(ipa, size),
                    range(base, len)
                ),
            );
        }
    }
    for (k, em) in cfg.system.emulated.iter().enumerate() {
        if e.vms.contains(&em.vm) && overlaps(slot.0, slot.1, em.base.0, em.size.0) {
            c.err(
                &f,
                format!(
                    "window {} shares its 1G slot with emulated[{k}] of vm \"{}\"",
                    range(ipa, size),
                    em.vm
                ),
            );
        }
    }
}

fn check_intid(cfg: &Config, c: &mut Checker, p: usize) {
    let e = &cfg.system.elastic[p];
    let f = format!("elastic[{p}].intid");
    let intid = e.intid;
    if !SPI_RANGE.contains(&intid) {
        c.err(&f, format!("INTID {intid} is not an SPI (32..=1019)"));
        return;
    }
    if let Some((_, what)) = cfg.board.hv_intids().iter().find(|(id, _)| *id == intid) {
        c.err(
            &f,
            format!("INTID {intid} is used by the hypervisor ({what})"),
        );
        return;
    }
    let s = &cfg.system;
    let parties = e.vms.iter().chain(e.manager.iter());
    for name in parties {
        let Some(i) = s.vm_index(name) else { continue };
        let v = &s.vm[i];
        let clash = if v.irqs.contains(&intid) {
            Some(format!("vm[{i}].irqs"))
        } else if let Some(k) = s
            .channel
            .iter()
            .position(|ch| ch.to == *name && ch.intid == Some(intid))
        {
            Some(format!("channel[{k}]"))
        } else if let Some(k) = s
            .emulated
            .iter()
            .position(|em| em.by == *name && em.intid == intid)
        {
            Some(format!("emulated[{k}]"))
        } else {
            s.elastic[..p]
                .iter()
                .position(|o| {
                    o.intid == intid && (o.vms.contains(name) || o.manager.as_ref() == Some(name))
                })
                .map(|k| format!("elastic[{k}]"))
        };
        if let Some(other) = clash {
            c.err(
                &f,
                format!("INTID {intid} of vm \"{name}\" is already used by {other}"),
            );
        }
    }
}
