//! The human-readable account of a plan: memory map, VMs (then each extension's section,
//! `ConfigExtension::explain`), vCPU placement and schedule, page-table statistics.
//! Printed by `hvconfig layout`, written to `layout.txt`.

use crate::fmt::hex;
use crate::layout::{Placed, free_ranges};
use crate::plan::Plan;
use crate::size::human;
use hv_core::sysdesc::SlotLength;
use std::fmt::Write;

/// Renders the plan.
pub fn explain(plan: &Plan) -> String {
    let d = plan.desc;
    let b = &plan.config.board;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "system \"{}\" on board \"{}\" (config id {:#018x})",
        d.name, d.board, d.config_id
    );
    for w in &plan.payloads.warnings {
        let _ = writeln!(o, "warning: {w}");
    }

    let _ = writeln!(o, "\nphysical memory map");
    let _ = writeln!(o, "  {:<13} {:<13} {:>6}  owner", "start", "end", "size");
    let ram = Placed {
        base: b.memory.ram.base.0,
        size: b.memory.ram.size.0,
    };
    let mut rows: Vec<(Placed, String)> = plan
        .layout
        .map
        .iter()
        .map(|m| (m.at, m.owner.clone()))
        .collect();
    rows.extend(
        free_ranges(ram, &plan.layout.map)
            .into_iter()
            .map(|f| (f, "(free)".to_string())),
    );
    rows.sort_by_key(|r| r.0.base);
    for (at, owner) in rows {
        let _ = writeln!(
            o,
            "  {:<13} {:<13} {:>6}  {owner}",
            hex(at.base),
            hex(at.end()),
            human(at.size)
        );
    }

    let _ = writeln!(o, "\nVMs");
    for v in d.vms.iter().filter(|v| v.lwvm.is_none()) {
        let _ = writeln!(
            o,
            "  vmid {:<2} {:<12} RAM IPA {} -> PA {} ({}), entry {}, image {} bytes, stage-2 root {}{}",
            v.vmid,
            v.name,
            hex(v.ram_ipa),
            hex(v.ram_pa),
            human(v.ram_size),
            hex(v.entry_ipa),
            v.image.size,
            hex(v.s2_root),
            if v.console { ", console" } else { "" }
        );
        for (what, blob) in [("initrd", &v.initrd), ("dtb", &v.dtb)] {
            if let Some(b) = blob {
                let _ = writeln!(
                    o,
                    "           {what:<12} IPA {}..{} ({} bytes)",
                    hex(b.load_ipa),
                    hex(b.load_ipa + b.size),
                    b.size
                );
            }
        }
        let vm = d.vms.iter().position(|x| x.name == v.name);
        for p in d
            .passthrough
            .iter()
            .filter(|p| Some(usize::from(p.vm)) == vm)
        {
            let spis: Vec<String> = d
                .irqs
                .iter()
                .filter(|r| Some(usize::from(r.vm)) == vm)
                .map(|r| r.intid.to_string())
                .collect();
            let _ = writeln!(
                o,
                "           device {:<5} {} at IPA = PA{}, SPIs of the VM: {}",
                p.name,
                crate::fmt::range(p.pa, p.size),
                if p.dma { ", DMA" } else { "" },
                spis.join(" ")
            );
        }
    }

    // The extensions' sections (their VMs are not full VMs: listed by them).
    for x in plan.extensions {
        x.explain(d, &mut o);
    }

    let _ = writeln!(o, "\nvCPUs");
    for (i, v) in d.vcpus.iter().enumerate() {
        let vm = d.vms[usize::from(v.vm)].name;
        let _ = writeln!(
            o,
            "  vcpu {i:<3} {vm}:{} on cpu {} priority {} vmpidr {}",
            v.index_in_vm,
            match v.cpus {
                [_, _, ..] => format!(
                    "{} (may move to {})",
                    v.cpu,
                    v.cpus[1..]
                        .iter()
                        .map(|c| c.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => v.cpu.to_string(),
            },
            v.priority,
            hex(v.vmpidr)
        );
    }
    let _ = writeln!(o, "\nschedule (highest priority first)");
    let name = |x: u16| {
        let v = &d.vcpus[usize::from(x)];
        let vm = &d.vms[usize::from(v.vm)];
        if vm.lwvm.is_some() {
            format!("{} (lwvm)", vm.name)
        } else {
            format!("{}:{}", vm.name, v.index_in_vm)
        }
    };
    for (n, c) in d.cpus.iter().enumerate() {
        let list: Vec<String> = c.schedule.iter().map(|&x| name(x)).collect();
        let list = if list.is_empty() {
            "(idle)".to_string()
        } else {
            list.join(", ")
        };
        let _ = writeln!(
            o,
            "  cpu {n} (mpidr {}, capacity {}): {list}",
            hex(c.mpidr),
            c.capacity
        );
    }
    for t in d.slots {
        let slots: Vec<String> = t
            .slots
            .iter()
            .map(|s| {
                let who = s.vcpu.map_or("idle".to_string(), name);
                match s.length {
                    SlotLength::Micros(us) => format!("{who} {us}us"),
                    SlotLength::Ticks(t) => format!("{who} {t} ticks"),
                }
            })
            .collect();
        let _ = writeln!(o, "  cpu {} slots: {}", t.cpu, slots.join(" | "));
    }

    let _ = writeln!(
        o,
        "\npage tables at {} ({} of {} used)",
        hex(d.hv.tables_base),
        human(plan.tables.size()),
        human(d.hv.tables_size)
    );
    for r in &plan.tables.regimes {
        let _ = writeln!(
            o,
            "  {:<16} root {}  {:>3} tables  {:>4} x 2M  {:>5} x 4K",
            r.name,
            hex(r.root),
            r.tables,
            r.blocks_2m,
            r.pages_4k
        );
    }
    let _ = writeln!(
        o,
        "  TCR_EL2 {}  MAIR_EL2 {}  VTCR_EL2 {}  E2H {}",
        hex(d.hv.tcr_el2),
        hex(d.hv.mair_el2),
        hex(d.hv.vtcr_el2),
        u8::from(d.hv.e2h)
    );
    let l = &plan.layout;
    let _ = writeln!(
        o,
        "  EL2 W^X: code {} RX | read-only data {} R | data, bss, stacks {} RW; tables, image store R",
        l.hv_code, l.hv_rodata, l.hv_data
    );
    o
}
