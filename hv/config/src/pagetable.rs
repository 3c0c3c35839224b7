//! The page-table stage: what the hypervisor's EL2 map and each VM's stage 2 contain,
//! generated with [`crate::tables`] in this order: the EL2 stage-1 root first, its
//! sub-tables as they are needed, then each VM's stage-2 root and tables, then the
//! extensions' regimes (in the order of the extension list). The order is part of the
//! output: the tables' addresses follow it.

use crate::alloc::Placed;
use crate::config::Config;
use crate::ext::{El2Region, Extensions, TablesInput};
use crate::layout::Layout;
use crate::tables::{EL2_CODE, EL2_DATA, EL2_DEVICE, EL2_RO, S2_DEVICE, S2_RAM, Tables, s2_shared};
use crate::vhe::vhe_el2_attrs;

/// One identity-mapped EL2 region: (base, size, attributes, what).
pub fn el2_regions(cfg: &Config, lay: &Layout, exts: &Extensions) -> Vec<El2Region> {
    let b = &cfg.board;
    // W^X: code RX, read-only data R, data RW+XN; the tables and the pristine images
    // never change at run time: read-only.
    let mut r = vec![
        (
            lay.hv_code.base,
            lay.hv_code.size,
            EL2_CODE,
            "hypervisor code".to_string(),
        ),
        (
            lay.hv_rodata.base,
            lay.hv_rodata.size,
            EL2_RO,
            "hypervisor read-only data".into(),
        ),
        (
            lay.hv_data.base,
            lay.hv_data.size,
            EL2_DATA,
            "hypervisor data".into(),
        ),
        (
            lay.tables.base,
            lay.tables.size,
            EL2_RO,
            "page tables".into(),
        ),
        (
            lay.images.base,
            lay.images.size,
            EL2_RO,
            "image store".into(),
        ),
    ];
    for (v, l) in cfg.system.vm.iter().zip(&lay.vms) {
        r.push((
            l.ram.base,
            l.ram.size,
            EL2_DATA,
            format!("vm {} RAM", v.name),
        ));
    }
    for (e, own) in exts.iter().zip(&lay.ext) {
        r.extend(e.el2_regions(cfg, own));
    }
    for (s, p) in cfg.system.shared.iter().zip(&lay.shared) {
        r.push((p.base, p.size, EL2_DATA, format!("shared {}", s.name)));
    }
    r.push((b.uart.base.0, b.uart.size.0, EL2_DEVICE, "UART".into()));
    r.push((
        b.gic.distributor.base.0,
        b.gic.distributor.size.0,
        EL2_DEVICE,
        "GICD".into(),
    ));
    // Only the frames of the board's CPUs: the region as described may be larger (and on
    // qemu-virt, 15872K from 0x080A_0000 runs into the UART).
    let frames = b.gic.redistributor.stride.0 * b.cpus().len() as u64;
    r.push((
        b.gic.redistributor.base.0,
        frames.min(b.gic.redistributor.size.0),
        EL2_DEVICE,
        "GICR".into(),
    ));
    // The virtio-mmio slots: the hypervisor's own devices (the `telemetry-net` transport
    // probes them), except the pages of board devices given to VMs, which only their
    // owner maps.
    if let Some(v) = &b.virtio_mmio {
        let (base, size) = v.window();
        for (at, len) in hv_pages(cfg, base, size) {
            r.push((at, len, EL2_DEVICE, "virtio-mmio".into()));
        }
    }
    r.retain(|x| x.1 != 0);
    r
}

/// The runs of pages of `[base, base + size)` that no VM owns as a device.
fn hv_pages(cfg: &Config, base: u64, size: u64) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for pa in (base..base + size).step_by(0x1000) {
        if cfg.device_owner(pa).is_some() {
            continue;
        }
        match out.last_mut() {
            Some((at, len)) if *at + *len == pa => *len += 0x1000,
            _ => out.push((pa, 0x1000)),
        }
    }
    out
}

/// Stage-2 regions of VM `i`: (ipa, pa, size, attributes).
pub fn s2_regions(cfg: &Config, lay: &Layout, i: usize) -> Vec<(u64, u64, u64, u64)> {
    let v = &cfg.system.vm[i];
    let l = &lay.vms[i];
    let mut r = vec![(l.ipa, l.ram.base, l.ram.size, S2_RAM)];
    for (s, p) in cfg.system.shared.iter().zip(&lay.shared) {
        for m in s.maps.iter().filter(|m| m.vm == v.name) {
            r.push((m.ipa.0, p.base, p.size, s2_shared(m.access)));
        }
    }
    // Passed-through devices at their physical addresses: the guest's drivers and the
    // generated device tree use the board's addresses.
    for d in cfg.devices_of(i) {
        r.push((d.base.0, d.base.0, d.size.0, S2_DEVICE));
    }
    r
}

/// Generates every table for a layout; errors describe a mapping conflict.
pub fn generate(cfg: &Config, lay: &Layout, exts: &Extensions) -> Result<Tables, String> {
    let mut t = Tables {
        base: lay.tables.base,
        tables: Vec::new(),
        regimes: Vec::new(),
    };
    // Under E2H=1 (VHE) the same rights have another encoding (crate::vhe).
    let el2: Vec<El2Region> = el2_regions(cfg, lay, exts)
        .into_iter()
        .map(|(base, size, attrs, what)| {
            let attrs = if cfg.vhe() {
                vhe_el2_attrs(attrs)
            } else {
                attrs
            };
            (base, size, attrs, what)
        })
        .collect();
    let root = t.start_regime("EL2".into());
    for (base, size, attrs, what) in &el2 {
        t.map(root, *base, *base, *size, *attrs)
            .map_err(|e| format!("EL2 map of {what}: {e}"))?;
    }
    for (i, v) in cfg.system.vm.iter().enumerate() {
        let root = t.start_regime(format!("vm {}", v.name));
        for (ipa, pa, size, attrs) in s2_regions(cfg, lay, i) {
            t.map(root, ipa, pa, size, attrs)
                .map_err(|e| format!("stage-2 map of vm {}: {e}", v.name))?;
        }
    }
    let vm_ram: Vec<Placed> = lay.vms.iter().map(|v| v.ram).collect();
    for (e, own) in exts.iter().zip(&lay.ext) {
        let input = TablesInput {
            own,
            vm_ram: &vm_ram,
            shared: &lay.shared,
            el2: &el2,
        };
        e.tables(cfg, input, &mut t)?;
    }
    Ok(t)
}
