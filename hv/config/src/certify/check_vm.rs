//! Checks of the full VMs: their stage-2 regimes, interrupt routes, TLB tags and vCPU
//! placement.

use super::check::{Report, Subject, hit, hv_devices, hv_memory, passthrough_at};
use super::property::Property as P;
use crate::fmt::{hex, overlaps};
use crate::walk::{Leaf, Walker, s2_perms as stage2_perms};
use hv_core::sysdesc::{Passthrough, SystemDesc};
use std::collections::{HashMap, HashSet};

/// SPIs a VM may own or receive.
const SPIS: std::ops::RangeInclusive<u32> = 32..=1019;

/// Leaves of VM `i`'s stage 2: exact memory, disjointness, no hypervisor memory or
/// device, emulated frames unmapped.
pub(crate) fn check_stage2(
    s: &Subject,
    w: &Walker,
    i: usize,
    regime: &str,
    leaves: &[Leaf],
    r: &mut Report,
) {
    let d = s.desc;
    let vm = &d.vms[i];
    let hv = hv_memory(s);
    let devices = hv_devices(d);
    let mut ram_bytes = 0;
    for l in leaves {
        for prop in [P::VmMemoryExact, P::NoHypervisorMemory, P::NoForeignDevice] {
            r.count(prop, l.size / 0x1000);
        }
        let p = stage2_perms(l.attrs);
        if let Some((_, _, what)) = hit(&hv, l.pa, l.size) {
            r.fail(
                P::NoHypervisorMemory,
                regime,
                Some(l.va),
                format!("vm {} reaches the {what} at {}", vm.name, hex(l.pa)),
            );
            continue;
        }
        if let Some(msg) = passthrough_leaf(d, i, l) {
            if !msg.is_empty() {
                r.fail(P::NoForeignDevice, regime, Some(l.va), msg);
            }
            continue;
        }
        if let Some((_, _, what)) = hit(&devices, l.pa, l.size) {
            r.fail(
                P::NoForeignDevice,
                regime,
                Some(l.va),
                format!(
                    "vm {} reaches the hypervisor's {what} at {}",
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
                Some(l.va),
                format!(
                    "vm {} reaches the RAM of vm {} at {}",
                    vm.name,
                    o.1.name,
                    hex(l.pa)
                ),
            );
            continue;
        }
        if let Some(ok) = super::check_elastic::window_leaf(d, i, l) {
            // Elastic memory: the pool must be no one else's memory either.
            let shared = d
                .shared
                .iter()
                .find(|sh| overlaps(l.pa, l.size, sh.pa, sh.size));
            if let Some(sh) = shared {
                r.fail(
                    P::VmMemoryDisjoint,
                    regime,
                    Some(l.va),
                    format!(
                        "vm {}: its elastic window reaches shared region {}",
                        vm.name, sh.name
                    ),
                );
            } else if !ok {
                r.fail(
                    P::ElasticSets,
                    regime,
                    Some(l.va),
                    format!(
                        "vm {}: its elastic window maps {} with {p:?}, not the pool block of that position",
                        vm.name,
                        hex(l.pa)
                    ),
                );
            }
            continue;
        }
        let in_ram = l.va >= vm.ram_ipa && l.va + l.size <= vm.ram_ipa + vm.ram_size;
        if in_ram {
            if l.pa != vm.ram_pa + (l.va - vm.ram_ipa) || !(p.read && p.write && p.exec) {
                r.fail(
                    P::VmMemoryExact,
                    regime,
                    Some(l.va),
                    format!("vm {}: maps {} with {p:?}, not its RAM", vm.name, hex(l.pa)),
                );
            }
            ram_bytes += l.size;
            continue;
        }
        let declared = d.shared.iter().any(|sh| {
            sh.maps.iter().any(|m| {
                usize::from(m.vm) == i
                    && l.va >= m.ipa
                    && l.va + l.size <= m.ipa + sh.size
                    && l.pa == sh.pa + (l.va - m.ipa)
                    && p.read
                    && p.write == m.writable
                    && !p.exec
            })
        });
        if declared {
            continue;
        }
        let foreign = d
            .shared
            .iter()
            .find(|sh| overlaps(l.pa, l.size, sh.pa, sh.size));
        let (prop, msg) = match foreign {
            Some(sh) if !sh.maps.iter().any(|m| usize::from(m.vm) == i) => (
                P::VmMemoryDisjoint,
                format!(
                    "reaches shared region {} which vm {} does not declare",
                    sh.name, vm.name
                ),
            ),
            _ => (
                P::VmMemoryExact,
                format!(
                    "{:#x} bytes map {} with {p:?} outside its RAM and declared shared regions",
                    l.size,
                    hex(l.pa)
                ),
            ),
        };
        r.fail(prop, regime, Some(l.va), format!("vm {}: {msg}", vm.name));
    }
    if ram_bytes != vm.ram_size {
        r.fail(
            P::VmMemoryExact,
            regime,
            Some(vm.ram_ipa),
            format!(
                "vm {}: {ram_bytes:#x} of {:#x} RAM bytes mapped",
                vm.name, vm.ram_size
            ),
        );
    }
    let traps = d
        .emulated
        .iter()
        .filter(|e| usize::from(e.vm) == i)
        .map(|e| (e.ipa, e.size, "emulated range"));
    for (ipa, size, what) in traps.chain([
        (vm.uart_ipa, 0x1000, "emulated UART"),
        (vm.gicd_ipa, 0x1_0000, "emulated GIC distributor"),
        (
            vm.gicr_ipa,
            0x2_0000 * vm.vcpus.len().max(1) as u64,
            "emulated GIC redistributors",
        ),
    ]) {
        for a in (ipa..ipa + size).step_by(0x1000) {
            r.count(P::EmulatedTrap, 1);
            if let Ok(Some(_)) = w.translate(vm.s2_root, a) {
                r.fail(
                    P::EmulatedTrap,
                    regime,
                    Some(a),
                    format!("the {what} of vm {} is mapped", vm.name),
                );
                break;
            }
        }
    }
}

/// A stage-2 leaf of VM `i` on a passed-through device page: `None` if it is none,
/// `Some("")` if it is VM `i`'s own device mapped as it must be (IPA = PA, within the
/// grant, Device-nGnRE, read-write, never executable), else what is wrong.
fn passthrough_leaf(d: &SystemDesc, i: usize, l: &Leaf) -> Option<String> {
    let name = d.vms[i].name;
    let pages = (l.pa..l.pa.saturating_add(l.size)).step_by(0x1000);
    let grants: Vec<&Passthrough> = pages.filter_map(|a| passthrough_at(d, a)).collect();
    let g = grants.first()?;
    if let Some(o) = grants.iter().find(|g| usize::from(g.vm) != i) {
        let owner = d.vms.get(usize::from(o.vm)).map_or("?", |v| v.name);
        return Some(format!(
            "vm {name} reaches device {} at {} (leaf at {}), which is given to vm {owner}: a device page in two VMs",
            o.name,
            hex(o.pa),
            hex(l.pa)
        ));
    }
    let p = stage2_perms(l.attrs);
    let device = (l.attrs >> 2) & 0b1111 == 0b0001;
    let inside = l.pa >= g.pa && l.pa + l.size <= g.pa + g.size;
    if l.va != l.pa || !inside || !device || !p.read || !p.write || p.exec {
        return Some(format!(
            "vm {name} maps its device {} at IPA {} with {p:?} (device memory: {device}), not at IPA = PA as read-write, execute-never Device-nGnRE",
            g.name,
            hex(l.va)
        ));
    }
    Some(String::new())
}

/// VMIDs and ASIDs, and the descriptor's memory ranges being disjoint.
pub(crate) fn check_tags(d: &SystemDesc, r: &mut Report) {
    let (mut vmids, mut asids) = (HashMap::new(), HashMap::new());
    for v in d.vms {
        r.count(P::TlbTagsUnique, 1);
        let (tag, seen, what) = match &v.lwvm {
            None => (v.vmid, &mut vmids, "VMID"),
            Some(l) => (l.asid, &mut asids, "ASID"),
        };
        if tag == 0 {
            r.fail(
                P::TlbTagsUnique,
                "descriptor",
                None,
                format!("{} has {what} 0 (reserved)", v.name),
            );
        } else if let Some(other) = seen.insert(tag, v.name) {
            r.fail(
                P::TlbTagsUnique,
                "descriptor",
                None,
                format!("{} and {other} share {what} {tag}", v.name),
            );
        }
        // A shadow-paged lwVM's roots run with hardware ASIDs of their own.
        for k in v.lwvm.and_then(|l| l.shadow).map_or(0..0, |s| {
            s.asid_first..s.asid_first.saturating_add(u16::from(s.roots))
        }) {
            r.count(P::TlbTagsUnique, 1);
            if let Some(other) = asids.insert(k, v.name) {
                r.fail(
                    P::TlbTagsUnique,
                    "descriptor",
                    None,
                    format!("a shadow root of {} and {other} share ASID {k}", v.name),
                );
            }
        }
    }
    let mut areas: Vec<(u64, u64, String)> = d
        .vms
        .iter()
        .map(|v| (v.ram_pa, v.ram_size, format!("RAM of {}", v.name)))
        .collect();
    areas.extend(
        d.shared
            .iter()
            .map(|s| (s.pa, s.size, format!("shared region {}", s.name))),
    );
    // A shadow pool holds the tables the hardware walks for an lwVM: no VM may reach it,
    // so it lies apart from every memory a VM is given (and the walker finds no user
    // mapping outside those).
    areas.extend(d.vms.iter().filter_map(|v| {
        let s = v.lwvm?.shadow?;
        Some((
            s.pool,
            u64::from(s.pool_pages) * 4096,
            format!("shadow pool of {}", v.name),
        ))
    }));
    for (k, a) in areas.iter().enumerate() {
        r.count(P::VmMemoryDisjoint, 1);
        if let Some(b) = areas[..k].iter().find(|b| overlaps(a.0, a.1, b.0, b.1)) {
            r.fail(
                P::VmMemoryDisjoint,
                "descriptor",
                Some(a.0),
                format!("the {} overlaps the {}", a.2, b.2),
            );
        }
    }
}

/// Physical interrupt routes and the virtual INTIDs each VM receives.
pub(crate) fn check_irqs(s: &Subject, r: &mut Report) {
    let d = s.desc;
    let dv = &d.devices;
    let hv_ids = [
        (dv.uart_intid, "the hypervisor's UART"),
        (dv.maintenance_intid, "the GIC maintenance interrupt"),
        (dv.pmu_intid, "the PMU overflow interrupt"),
        (dv.vtimer_intid, "the EL1 virtual timer"),
        (dv.ptimer_intid, "the EL1 physical timer"),
        (dv.hyp_timer_intid, "the EL2 physical timer"),
    ];
    let virtio = dv.virtio_mmio_intid..dv.virtio_mmio_intid + dv.virtio_mmio_count;
    let mut owner: HashMap<u32, usize> = HashMap::new();
    let mut received: HashSet<(u16, u32)> = HashSet::new();
    for (k, route) in d.irqs.iter().enumerate() {
        r.count(P::IrqOwnership, 1);
        let at = format!("irqs[{k}]");
        let mut fail =
            |m: String| r.fail(P::IrqOwnership, "descriptor", None, format!("{at}: {m}"));
        let to = d.vms.get(usize::from(route.vm));
        match to {
            None => fail(format!(
                "routes INTID {} to VM index {}, which does not exist",
                route.intid, route.vm
            )),
            Some(v) if v.lwvm.is_some() => fail(format!(
                "routes INTID {} to lwvm {}, which has no interrupt controller",
                route.intid, v.name
            )),
            _ => {}
        }
        if !SPIS.contains(&route.intid) {
            fail(format!("INTID {} is not an SPI", route.intid));
        }
        if let Some((_, what)) = hv_ids.iter().find(|(id, _)| *id == route.intid) {
            fail(format!(
                "INTID {} is used by the hypervisor ({what})",
                route.intid
            ));
        }
        let slot_pa =
            |id: u32| dv.virtio_mmio_base + u64::from(id - virtio.start) * dv.virtio_mmio_stride;
        let passed = virtio.contains(&route.intid)
            && passthrough_at(d, slot_pa(route.intid)).is_some_and(|p| p.vm == route.vm);
        if virtio.contains(&route.intid) && !passed {
            let slot = route.intid - virtio.start;
            fail(format!(
                "INTID {} is the interrupt of virtio-mmio slot {slot}, a hypervisor device",
                route.intid
            ));
        }
        if let Some(prev) = owner.insert(route.intid, k) {
            let name = |i: usize| d.vms.get(usize::from(d.irqs[i].vm)).map_or("?", |v| v.name);
            fail(format!(
                "INTID {} is routed to {} and, by irqs[{prev}], to {}: owned twice",
                route.intid,
                name(k),
                name(prev)
            ));
        }
        if !SPIS.contains(&route.virt_intid) || !received.insert((route.vm, route.virt_intid)) {
            fail(format!(
                "virtual INTID {} is not a free SPI of its VM",
                route.virt_intid
            ));
        }
    }
    let incoming = d
        .channels
        .iter()
        .filter(|c| {
            d.vms
                .get(usize::from(c.to))
                .is_some_and(|v| v.lwvm.is_none())
        })
        .map(|c| (format!("channel {}", c.name), c.to, c.virt_intid));
    let reflected = d
        .emulated
        .iter()
        .map(|e| ("an emulated range".to_string(), e.by, e.virt_intid));
    for (what, to, id) in incoming.chain(reflected) {
        r.count(P::IrqOwnership, 1);
        if usize::from(to) >= d.vms.len() {
            r.fail(
                P::IrqOwnership,
                "descriptor",
                None,
                format!("{what} goes to VM index {to}, which does not exist"),
            );
        } else if !SPIS.contains(&id) || !received.insert((to, id)) {
            r.fail(
                P::IrqOwnership,
                "descriptor",
                None,
                format!(
                    "{what} raises INTID {id} in {}, which is not a free SPI there",
                    d.vms[usize::from(to)].name
                ),
            );
        }
    }
}

/// vCPU placement and schedules.
pub(crate) fn check_placement(d: &SystemDesc, r: &mut Report) {
    let mut fail = |m: String| r.fail(P::VcpuPlacement, "descriptor", None, m);
    let mut on_cpu: HashSet<(u16, u16)> = HashSet::new();
    for (k, v) in d.vcpus.iter().enumerate() {
        let Some(vm) = d.vms.get(usize::from(v.vm)) else {
            fail(format!(
                "vcpu {k} belongs to VM index {}, which does not exist",
                v.vm
            ));
            continue;
        };
        if usize::from(v.cpu) >= d.cpus.len() {
            fail(format!(
                "vcpu {k} of {} is on CPU {}, which does not exist",
                vm.name, v.cpu
            ));
            continue;
        }
        if vm
            .vcpus
            .get(usize::from(v.index_in_vm))
            .map(|&x| usize::from(x))
            != Some(k)
        {
            fail(format!(
                "vcpu {k} is not vcpus[{}] of {}",
                v.index_in_vm, vm.name
            ));
        }
        if v.cpus.first() != Some(&v.cpu) {
            fail(format!(
                "vcpu {k} of {} starts on CPU {}, which is not the first it may run on ({:?})",
                vm.name, v.cpu, v.cpus
            ));
        }
        // Two vCPUs of one VM never share a CPU, in any placement a move can reach; a
        // vCPU that moves has one CPU per cluster and no lwVM (not movable) among them.
        let mut clusters = HashSet::new();
        for &c in v.cpus {
            if !on_cpu.insert((v.vm, c)) {
                fail(format!("two vCPUs of {} may be on CPU {c}", vm.name));
            }
            match d.cpus.get(usize::from(c)) {
                None => fail(format!(
                    "vcpu {k} of {} may run on CPU {c}, which does not exist",
                    vm.name
                )),
                Some(cpu) if v.cpus.len() > 1 && !clusters.insert(cpu.cluster) => fail(format!(
                    "vcpu {k} of {} may run on two CPUs of cluster {}",
                    vm.name, cpu.cluster
                )),
                Some(_) => {}
            }
        }
        if v.cpus.len() > 1
            && (vm.lwvm.is_some() || d.migration(hv_core::ids::VmId::new(v.vm)).is_none())
        {
            fail(format!(
                "vcpu {k} of {} may move but its VM has no migration policy",
                vm.name
            ));
        }
        for (c, cpu) in d.cpus.iter().enumerate() {
            let n = cpu
                .schedule
                .iter()
                .filter(|&&x| usize::from(x) == k)
                .count();
            let want = usize::from(v.cpus.iter().any(|&x| usize::from(x) == c));
            if n != want {
                fail(format!(
                    "vcpu {k} of {} appears {n} times in CPU {c}'s schedule (it may run on {:?})",
                    vm.name, v.cpus
                ));
            }
        }
    }
    for (c, cpu) in d.cpus.iter().enumerate() {
        for &x in cpu.schedule {
            if usize::from(x) >= d.vcpus.len() {
                fail(format!(
                    "CPU {c}'s schedule names vcpu {x}, which does not exist"
                ));
            }
        }
    }
    for (i, vm) in d.vms.iter().enumerate() {
        for &x in vm.vcpus {
            if d.vcpus
                .get(usize::from(x))
                .is_none_or(|v| usize::from(v.vm) != i)
            {
                fail(format!("{} lists vcpu {x}, which is not its own", vm.name));
            }
        }
        if vm.vcpus.is_empty() || (vm.lwvm.is_some() && vm.vcpus.len() != 1) {
            fail(format!("{} has {} vCPUs", vm.name, vm.vcpus.len()));
        }
    }
    let mut tables = HashSet::new();
    for t in d.slots {
        if usize::from(t.cpu) >= d.cpus.len() || !tables.insert(t.cpu) {
            fail(format!(
                "slot table of CPU {}: no such CPU, or a second table",
                t.cpu
            ));
        }
        for s in t.slots.iter().filter_map(|s| s.vcpu) {
            if d.vcpus
                .get(usize::from(s))
                .is_none_or(|v| v.cpu != t.cpu || v.cpus.len() != 1)
            {
                fail(format!(
                    "slot table of CPU {} names vcpu {s}, which is not pinned there",
                    t.cpu
                ));
            }
        }
    }
    r.count(P::VcpuPlacement, d.vcpus.len() as u64);
}
