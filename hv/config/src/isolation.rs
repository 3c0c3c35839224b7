//! Isolation and coverage checks on generated tables, done by walking them.
//!
//! These read only the blob and the typed description (not the generator's state), so
//! they hold the generator to what the description promises:
//! - each VM reaches exactly its RAM (RWX, at the described IPA) and the shared regions
//!   it maps (with the configured rights, never executable), and nothing else: no
//!   hypervisor page (image, tables, image store), no other VM's RAM, no device;
//! - emulated ranges and the emulated GIC/UART are unmapped, so accesses trap;
//! - no VM reaches a device the hypervisor owns (its UART, the GIC, the virtio-mmio slots);
//! - no two regimes share a table;
//! - the EL2 map covers the hypervisor's image (executable), its tables, the image
//!   store, all VM RAM and shared memory (execute-never) and its devices (the virtio-mmio
//!   slots included).

use crate::Plan;
use crate::fmt::{hex, overlaps};
use crate::pagetable::{EL2_CODE, EL2_DATA, EL2_DEVICE};
use crate::walk::{Walker, coalesce, s2_perms};
use std::collections::HashSet;

/// Checks every property above; the error names the first violation.
pub fn check(plan: &Plan) -> Result<(), String> {
    let d = plan.desc;
    let w = Walker::new(&plan.tables_blob, d.hv.tables_base);
    let hv_areas = [
        (d.hv.image_base, d.hv.image_size, "hypervisor image"),
        (d.hv.tables_base, d.hv.tables_size, "page tables"),
        (d.hv.images_base, d.hv.images_size, "image store"),
    ];
    let devices = hv_devices(plan);
    let mut seen_tables = HashSet::new();
    let roots = std::iter::once(d.hv.ttbr0_el2).chain(
        d.vms
            .iter()
            .map(|v| v.lwvm.as_ref().map_or(v.s2_root, |l| l.root)),
    );
    for root in roots {
        for t in w.tables(root).map_err(|e| e.to_string())? {
            if !seen_tables.insert(t) {
                return Err(format!("table {} is shared between regimes", hex(t)));
            }
        }
    }
    // Lightweight VMs have no stage 2: their stage-1 tables are checked in isolation_lw.
    for (i, vm) in d.vms.iter().enumerate().filter(|(_, v)| v.lwvm.is_none()) {
        let leaves = coalesce(&w.leaves(vm.s2_root).map_err(|e| e.to_string())?);
        let mut ram_bytes = 0;
        for l in &leaves {
            let p = s2_perms(l.attrs);
            for (base, size, what) in hv_areas {
                if overlaps(l.pa, l.size, base, size) {
                    return Err(format!(
                        "vm {} reaches the {what} at {}",
                        vm.name,
                        hex(l.pa)
                    ));
                }
            }
            for (base, size, what) in &devices {
                if overlaps(l.pa, l.size, *base, *size) {
                    return Err(format!(
                        "vm {} reaches the hypervisor's {what} at {}",
                        vm.name,
                        hex(l.pa)
                    ));
                }
            }
            for other in d.vms.iter().filter(|o| o.vmid != vm.vmid) {
                if overlaps(l.pa, l.size, other.ram_pa, other.ram_size) {
                    return Err(format!(
                        "vm {} reaches the RAM of vm {} at {}",
                        vm.name,
                        other.name,
                        hex(l.pa)
                    ));
                }
            }
            let in_ram = l.va >= vm.ram_ipa && l.va + l.size <= vm.ram_ipa + vm.ram_size;
            if in_ram {
                if l.pa != vm.ram_pa + (l.va - vm.ram_ipa) || !(p.read && p.write && p.exec) {
                    return Err(format!(
                        "vm {}: IPA {} maps {} with {p:?}, not its RAM",
                        vm.name,
                        hex(l.va),
                        hex(l.pa)
                    ));
                }
                ram_bytes += l.size;
            } else {
                let ok = d.shared.iter().any(|s| {
                    s.maps.iter().any(|m| {
                        usize::from(m.vm) == i
                            && l.va >= m.ipa
                            && l.va + l.size <= m.ipa + s.size
                            && l.pa == s.pa + (l.va - m.ipa)
                            && p.read
                            && p.write == m.writable
                            && !p.exec
                    })
                });
                if !ok {
                    return Err(format!(
                        "vm {}: IPA {} ({:#x} bytes) maps {} outside its RAM and shared regions",
                        vm.name,
                        hex(l.va),
                        l.size,
                        hex(l.pa)
                    ));
                }
            }
        }
        if ram_bytes != vm.ram_size {
            return Err(format!(
                "vm {}: {ram_bytes:#x} of {:#x} RAM bytes mapped",
                vm.name, vm.ram_size
            ));
        }
        let traps = d
            .emulated
            .iter()
            .filter(|e| usize::from(e.vm) == i)
            .map(|e| (e.ipa, e.size));
        for (ipa, size) in traps.chain([
            (vm.uart_ipa, 0x1000),
            (vm.gicd_ipa, 0x1_0000),
            (vm.gicr_ipa, 0x2_0000),
        ]) {
            for a in (ipa..ipa + size).step_by(0x1000) {
                if w.translate(vm.s2_root, a)
                    .map_err(|e| e.to_string())?
                    .is_some()
                {
                    return Err(format!("vm {}: emulated IPA {} is mapped", vm.name, hex(a)));
                }
            }
        }
    }
    check_el2(plan, &w)?;
    crate::isolation_lw::check(plan, &w)
}

/// The device ranges the hypervisor owns: (base, size, what).
fn hv_devices(plan: &Plan) -> Vec<(u64, u64, &'static str)> {
    let d = plan.desc;
    let mut v = vec![
        (d.devices.uart_base, 0x1000, "UART"),
        (d.devices.gicd_base, 0x1_0000, "GIC distributor"),
        (
            d.devices.gicr_base,
            d.devices.gicr_stride * d.cpus.len() as u64,
            "GIC redistributors",
        ),
    ];
    if let Some(m) = &plan.config.board.virtio_mmio {
        let (base, size) = m.window();
        v.push((base, size, "virtio-mmio window"));
    }
    v
}

fn check_el2(plan: &Plan, w: &Walker) -> Result<(), String> {
    let d = plan.desc;
    let mut need = vec![
        (d.hv.image_base, d.hv.image_size, EL2_CODE),
        (d.hv.tables_base, d.hv.tables_size, EL2_DATA),
        (d.hv.images_base, d.hv.images_size, EL2_DATA),
    ];
    need.extend(
        hv_devices(plan)
            .into_iter()
            .map(|(b, s, _)| (b, s, EL2_DEVICE)),
    );
    need.extend(d.vms.iter().map(|v| (v.ram_pa, v.ram_size, EL2_DATA)));
    need.extend(d.shared.iter().map(|s| (s.pa, s.size, EL2_DATA)));
    for (base, size, attrs) in need {
        // Under E2H=1 the same rights have another encoding.
        let attrs = if d.hv.e2h {
            crate::lwvm::vhe_el2_attrs(attrs)
        } else {
            attrs
        };
        for a in (base..base + size).step_by(0x1000) {
            match w.translate(d.hv.ttbr0_el2, a).map_err(|e| e.to_string())? {
                Some(l) if l.pa + (a - l.va) == a && l.attrs == attrs => {}
                other => {
                    return Err(format!(
                        "EL2: {} is not identity-mapped with {attrs:#x}: {other:?}",
                        hex(a)
                    ));
                }
            }
        }
    }
    Ok(())
}
