//! The lwVMs in the description and in the `layout` report.
//!
//! lwVMs are `vms` entries after the full VMs (their index is the schema's party index,
//! `System::party_index`), each with one execution context after the full VMs' vCPUs,
//! in its CPU's priority schedule. ASIDs are 1.. in lwVM order (0 is the hypervisor's own
//! address space). A channel into an lwVM carries the event bit of its own index.

use super::WINDOW_BASE;
use crate::alloc::Placed;
use crate::config::Config;
use crate::ext::{DescParts, ExtView};
use crate::fmt::hex;
use crate::parts::{image_desc, leak, policy, text};
use crate::size::human;
use crate::system::{Access, Paging};
use hv_core::sysdesc::{
    LwvmDesc, PmuAccess, ShadowDesc, ShadowGrant, SystemDesc, VcpuDesc, VcpuIndex, VmDesc, VmIndex,
};
use std::fmt::Write;

/// Adds every lwVM, its execution context and its channels' event bits.
pub(crate) fn describe(cfg: &Config, own: ExtView<'_>, d: &mut DescParts) {
    let s = &cfg.system;
    let mut pools = own.layout.memory[s.lwvm.len()..].iter();
    // Shadow roots' hardware ASIDs come after every lwVM's own.
    let mut next_asid = s.lwvm.len() as u16 + 1;
    let mut next_slot = 0u8;
    for (j, lw) in s.lwvm.iter().enumerate() {
        let mem = own.layout.memory[j];
        let p = &own.payloads[j];
        let vcpu = d.vcpus.len() as VcpuIndex;
        let vm = d.vms.len() as VmIndex;
        let name = format!("lwvm {}", lw.name);
        let root = own
            .tables
            .regimes
            .iter()
            .find(|r| r.name == name)
            .map_or(0, |r| r.root);
        d.vcpus.push(VcpuDesc {
            vm,
            index_in_vm: 0,
            cpu: lw.cpu,
            cpus: leak(vec![lw.cpu]),
            vmpidr: 1 << 31,
            priority: lw.priority,
        });
        d.vms.push(VmDesc {
            name: text(&lw.name),
            vmid: 0,
            ram_ipa: WINDOW_BASE,
            ram_pa: mem.base,
            ram_size: mem.size,
            s2_root: 0,
            image: image_desc(own.layout.image_store[j], &p.image),
            initrd: None,
            dtb: None,
            entry_ipa: p.entry_ipa,
            vcpus: leak(vec![vcpu]),
            console: lw.console,
            uart_ipa: 0,
            gicd_ipa: 0,
            gicr_ipa: 0,
            restart: policy(lw.restart),
            pmu: PmuAccess::Hidden,
            // Derived by the core's description builder after every extension ran.
            mmio: &[],
            spis: &[],
            owned_spis: &[],
            peers: &[],
            emulates: &[],
            lwvm: Some(LwvmDesc {
                asid: (j + 1) as u16,
                root,
                stack_top: WINDOW_BASE + mem.size,
                // Derived with the peers, once every channel is known.
                channels_out: 0,
                channels_in: 0,
                shadow: (lw.paging == Paging::Shadow).then(|| {
                    let pool = pools.next().copied().unwrap_or(Placed { base: 0, size: 0 });
                    let roots = lw.shadow_root_count();
                    let asid_first = next_asid;
                    let slot = next_slot;
                    next_slot += 1;
                    next_asid += u16::from(roots);
                    ShadowDesc {
                        slot,
                        pool: pool.base,
                        pool_pages: (pool.size / crate::size::KIB4) as u16,
                        asid_first,
                        roots,
                        grants: leak(grants(cfg, own.shared, j, mem)),
                    }
                }),
            }),
        });
    }
    // A channel into an lwVM raises the event bit of its own index.
    for (k, (c, ch)) in d.channels.iter_mut().zip(&s.channel).enumerate() {
        if s.is_lwvm(&ch.to) {
            c.virt_intid = k as u32;
        }
    }
}

/// What shadow-paged lwVM `j` (memory at `mem`) may map: its memory (tables may live
/// there) and the shared regions it names, with the rights its flat view gives them.
fn grants(cfg: &Config, shared: &[Placed], j: usize, mem: Placed) -> Vec<ShadowGrant> {
    let name = &cfg.system.lwvm[j].name;
    let mut g = vec![ShadowGrant {
        gpa: WINDOW_BASE,
        pa: mem.base,
        size: mem.size,
        writable: true,
        exec: true,
        cached: true,
        tables: true,
    }];
    for (sh, p) in cfg.system.shared.iter().zip(shared) {
        for m in sh.maps.iter().filter(|m| m.vm == *name) {
            g.push(ShadowGrant {
                gpa: m.ipa.0,
                pa: p.base,
                size: p.size,
                writable: m.access != Access::Ro,
                exec: false,
                cached: false,
                tables: false,
            });
        }
    }
    g
}

/// The report's section on lwVMs (none when the system has none).
pub(crate) fn explain(d: &SystemDesc, o: &mut String) {
    let lws: Vec<_> = d
        .vms
        .iter()
        .filter_map(|v| v.lwvm.map(|l| (v, l)))
        .collect();
    if !lws.is_empty() {
        let _ = writeln!(o, "\nlightweight VMs (EL0 of the EL2&0 regime, E2H=1)");
    }
    for (v, l) in lws {
        let _ = writeln!(
            o,
            "  asid {:<2} {:<12} VA {} -> PA {} ({}), entry {}, image {} bytes, stage-1 root {}{}, restart {:?}",
            l.asid,
            v.name,
            hex(v.ram_ipa),
            hex(v.ram_pa),
            human(v.ram_size),
            hex(v.entry_ipa),
            v.image.size,
            hex(l.root),
            if v.console { ", console" } else { "" },
            v.restart
        );
        if let Some(sh) = l.shadow {
            let _ = writeln!(
                o,
                "           shadow paging: pool {} ({} table pages), {} roots on hardware ASIDs {}..={}, {} grants",
                hex(sh.pool),
                sh.pool_pages,
                sh.roots,
                sh.asid_first,
                sh.asid_first + u16::from(sh.roots) - 1,
                sh.grants.len()
            );
        }
    }
}
