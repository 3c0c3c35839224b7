//! Checks of the hypervisor's own regime (EL2 stage 1, E2H=0 or E2H=1) and of the
//! lightweight VMs' stage-1 regimes, which contain a privileged copy of it.

use super::check::{Report, Subject, hit, hv_devices, hv_memory};
use super::elf::Kind;
use super::property::Property as P;
use crate::fmt::{hex, overlaps};
use crate::lwvm::{WINDOW_BASE, WINDOW_END};
use crate::vhe::vhe_perms;
use crate::walk::{Leaf, Walker, el2_perms};

/// Rights of a leaf as the hypervisor (EL2) sees them: (write, execute).
fn el2_rights(e2h: bool, attrs: u64) -> (bool, bool) {
    if e2h {
        let p = vhe_perms(attrs);
        (!p.read_only, p.el2_exec)
    } else {
        let p = el2_perms(attrs);
        (p.write, p.exec)
    }
}

/// MAIR index of a stage-1 leaf: 0 normal write-back, 1 device, 2 normal non-cacheable.
fn attr_index(attrs: u64) -> u64 {
    (attrs >> 2) & 0b111
}

/// No leaf W and X; the page tables read-only. Shared by the EL2 map and the lwVM maps.
fn wx_and_tables(s: &Subject, regime: &str, leaves: &[Leaf], r: &mut Report) {
    let h = &s.desc.hv;
    for l in leaves {
        r.count(P::El2WxorX, l.size / 0x1000);
        let (wr, ex) = el2_rights(h.e2h, l.attrs);
        if wr && ex {
            r.fail(
                P::El2WxorX,
                regime,
                Some(l.va),
                format!(
                    "{:#x} bytes -> {} are writable and executable at EL2",
                    l.size,
                    hex(l.pa)
                ),
            );
        }
        if overlaps(l.pa, l.size, h.tables_base, h.tables_size) {
            r.count(P::TablesReadOnly, 1);
            let el0_writes = h.e2h && {
                let p = vhe_perms(l.attrs);
                p.el0 && !p.read_only
            };
            if wr || el0_writes {
                // The first byte of the tables this (possibly coalesced) leaf reaches.
                let pa = l.pa.max(h.tables_base);
                r.fail(
                    P::TablesReadOnly,
                    regime,
                    Some(l.va + (pa - l.pa)),
                    format!("the page tables at {} are writable", hex(pa)),
                );
            }
        }
    }
}

/// The EL2 regime: coverage, W^X per section, tables read-only, nothing at EL0.
pub(crate) fn check_el2(s: &Subject, w: &Walker, leaves: &[Leaf], r: &mut Report) {
    let d = s.desc;
    let e2h = d.hv.e2h;
    let root = d.hv.ttbr0_el2;
    wx_and_tables(s, "EL2", leaves, r);
    if e2h {
        for l in leaves {
            let p = vhe_perms(l.attrs);
            if p.el0 || p.ng || p.el0_exec {
                r.fail(
                    P::LwvmConfined,
                    "EL2",
                    Some(l.va),
                    format!("the hypervisor's page is reachable from EL0 or not global: {p:?}"),
                );
            }
        }
    }
    // Every page of every section with the rights of its kind; a page that holds two
    // kinds cannot have both.
    let mut page_kind: std::collections::BTreeMap<u64, (Kind, &str)> = Default::default();
    for sec in &s.sections {
        let first = sec.base & !0xfff;
        for page in (first..sec.base + sec.size).step_by(0x1000) {
            match page_kind.get(&page) {
                Some((k, other)) if *k != sec.kind => r.fail(
                    P::El2WxorX,
                    "EL2",
                    Some(page),
                    format!(
                        "page holds {other} ({k:?}) and {} ({:?})",
                        sec.name, sec.kind
                    ),
                ),
                _ => {
                    page_kind.insert(page, (sec.kind, &sec.name));
                }
            }
        }
    }
    for (&page, &(kind, name)) in &page_kind {
        r.count(P::El2Coverage, 1);
        match w.translate(root, page) {
            Ok(Some(l)) if l.pa + (page - l.va) == page && attr_index(l.attrs) == 0 => {
                let (wr, ex) = el2_rights(e2h, l.attrs);
                let ok = match kind {
                    Kind::Code => ex && !wr,
                    Kind::ReadOnly => !ex && !wr,
                    Kind::Writable => wr && !ex,
                };
                if !ok {
                    r.fail(
                        P::El2WxorX,
                        "EL2",
                        Some(page),
                        format!(
                            "{name} ({kind:?}) is mapped {}{}",
                            if wr { "writable" } else { "read-only" },
                            if ex {
                                ", executable"
                            } else {
                                ", execute-never"
                            }
                        ),
                    );
                }
            }
            other => r.fail(
                P::El2Coverage,
                "EL2",
                Some(page),
                format!("{name} is not identity-mapped as normal memory: {other:?}"),
            ),
        }
    }
    // Memory the hypervisor reads and writes: normal, XN; its devices: device, XN.
    let mut need: Vec<(u64, u64, String, u64, bool)> = Vec::new();
    for v in d.vms {
        need.push((v.ram_pa, v.ram_size, format!("RAM of {}", v.name), 0, true));
    }
    for sh in d.shared {
        need.push((
            sh.pa,
            sh.size,
            format!("shared region {}", sh.name),
            0,
            true,
        ));
    }
    // Elastic pools: the hypervisor scrubs released blocks.
    for e in d.elastic {
        let size = u64::from(e.blocks) * e.block_size;
        need.push((e.pa, size, format!("elastic pool {}", e.name), 0, true));
    }
    for (b, n, what) in hv_devices(d) {
        need.push((b, n, what, 1, true));
    }
    for (base, size, what, index, writable) in need {
        for a in (base..base + size).step_by(0x1000) {
            r.count(P::El2Coverage, 1);
            let ok = match w.translate(root, a) {
                Ok(Some(l)) => {
                    let (wr, ex) = el2_rights(e2h, l.attrs);
                    l.pa + (a - l.va) == a && attr_index(l.attrs) == index && wr == writable && !ex
                }
                _ => false,
            };
            if !ok {
                let ty = if index == 1 { "device" } else { "normal" };
                r.fail(
                    P::El2Coverage,
                    "EL2",
                    Some(a),
                    format!("the {what} is not identity-mapped as {ty} memory, read-write, execute-never"),
                );
                break;
            }
        }
    }
}

/// lwVM `i`: its privileged part is exactly the EL2 map; its EL0 pages are its own.
pub(crate) fn check_lwvm(
    s: &Subject,
    i: usize,
    regime: &str,
    leaves: &[Leaf],
    el2: Option<&[Leaf]>,
    r: &mut Report,
) {
    let d = s.desc;
    let vm = &d.vms[i];
    if !d.hv.e2h {
        r.fail(
            P::LwvmConfined,
            regime,
            None,
            "an lwVM in an image without E2H=1",
        );
        return;
    }
    wx_and_tables(s, regime, leaves, r);
    let (user, privileged): (Vec<&Leaf>, Vec<&Leaf>) =
        leaves.iter().partition(|l| vhe_perms(l.attrs).el0);
    if let Some(el2) = el2 {
        let same =
            privileged.len() == el2.len() && privileged.iter().zip(el2).all(|(a, b)| **a == *b);
        if !same {
            let at = privileged
                .iter()
                .zip(el2)
                .find(|(a, b)| ***a != **b)
                .map(|(a, _)| a.va);
            r.fail(
                P::LwvmConfined,
                regime,
                at,
                format!(
                    "the privileged mappings of lwvm {} are not exactly the EL2 map",
                    vm.name
                ),
            );
        }
    }
    let hv = hv_memory(s);
    let devices = hv_devices(d);
    let mut mem_bytes = 0;
    for l in user {
        for prop in [P::LwvmConfined, P::NoHypervisorMemory, P::NoForeignDevice] {
            r.count(prop, l.size / 0x1000);
        }
        let p = vhe_perms(l.attrs);
        let at = Some(l.va);
        if let Some((_, _, what)) = hit(&hv, l.pa, l.size) {
            r.fail(
                P::NoHypervisorMemory,
                regime,
                at,
                format!("lwvm {}'s EL0 reaches the {what} at {}", vm.name, hex(l.pa)),
            );
            continue;
        }
        if let Some((_, _, what)) = hit(&devices, l.pa, l.size) {
            r.fail(
                P::NoForeignDevice,
                regime,
                at,
                format!(
                    "lwvm {}'s EL0 reaches the hypervisor's {what} at {}",
                    vm.name,
                    hex(l.pa)
                ),
            );
            continue;
        }
        if let Some(o) = d
            .vms
            .iter()
            .enumerate()
            .find(|(j, o)| *j != i && overlaps(l.pa, l.size, o.ram_pa, o.ram_size))
        {
            r.fail(
                P::VmMemoryDisjoint,
                regime,
                at,
                format!(
                    "lwvm {} reaches the memory of {} at {}",
                    vm.name,
                    o.1.name,
                    hex(l.pa)
                ),
            );
            continue;
        }
        if l.va < WINDOW_BASE || l.va + l.size > WINDOW_END {
            r.fail(
                P::LwvmConfined,
                regime,
                at,
                "EL0-accessible outside the lwVM window",
            );
            continue;
        }
        if p.el2_exec || !p.ng {
            r.fail(
                P::LwvmConfined,
                regime,
                at,
                format!("a user page the hypervisor could execute or that is global: {p:?}"),
            );
            continue;
        }
        let own = l.va >= vm.ram_ipa && l.va + l.size <= vm.ram_ipa + vm.ram_size;
        if own {
            if l.pa != vm.ram_pa + (l.va - vm.ram_ipa) || p.read_only || !p.el0_exec {
                r.fail(
                    P::VmMemoryExact,
                    regime,
                    at,
                    format!("maps {} with {p:?}, not its memory", hex(l.pa)),
                );
            }
            mem_bytes += l.size;
            continue;
        }
        let declared = d.shared.iter().any(|sh| {
            sh.maps.iter().any(|m| {
                usize::from(m.vm) == i
                    && l.va >= m.ipa
                    && l.va + l.size <= m.ipa + sh.size
                    && l.pa == sh.pa + (l.va - m.ipa)
                    && p.read_only != m.writable
                    && !p.el0_exec
            })
        });
        if !declared {
            r.fail(
                P::VmMemoryExact,
                regime,
                at,
                format!(
                    "{:#x} bytes -> {} are neither its memory nor a shared region it declares",
                    l.size,
                    hex(l.pa)
                ),
            );
        }
    }
    if mem_bytes != vm.ram_size {
        r.fail(
            P::VmMemoryExact,
            regime,
            Some(vm.ram_ipa),
            format!("{mem_bytes:#x} of {:#x} memory bytes mapped", vm.ram_size),
        );
    }
}
