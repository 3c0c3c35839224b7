//! Per-VM rules: names, memory, boot payload, vCPUs, owned IRQs.

use super::{Checker, SPI_RANGE};
use crate::config::Config;
use crate::fmt::{hex, overlaps, range};
use crate::size::{MIB2, is_aligned};
use std::collections::HashMap;

/// Guest-physical ranges every VM sees as emulated devices (same IPAs as on the board).
pub(crate) fn emulated_device_ipas(cfg: &Config) -> [(u64, u64, &'static str); 3] {
    let b = &cfg.board;
    [
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
        (b.uart.base.0, b.uart.size.0, "the emulated UART"),
    ]
}

pub(crate) fn check_vms(cfg: &Config, c: &mut Checker) {
    let hv_intids = cfg.board.hv_intids();
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut irq_owner: HashMap<u32, (usize, usize)> = HashMap::new();
    for (i, v) in cfg.system.vm.iter().enumerate() {
        let p = format!("vm[{i}]");
        if v.name.is_empty()
            || !v
                .name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
        {
            c.err(
                format!("{p}.name"),
                format!(
                    "vm name \"{}\" must be non-empty letters, digits, '_' or '-'",
                    v.name
                ),
            );
        }
        if let Some(first) = names.insert(&v.name, i) {
            c.err(
                format!("{p}.name"),
                format!("duplicate vm name \"{}\" (also vm[{first}])", v.name),
            );
        }
        let mem = v.memory.0;
        c.size(
            &format!("{p}.memory"),
            &format!("vm \"{}\" memory", v.name),
            mem,
        );
        if let Some(base) = v.base {
            c.base(
                &format!("{p}.base"),
                &format!("vm \"{}\" memory", v.name),
                base.0,
                mem,
            );
        }
        let ipa = cfg.vm_ipa(i);
        c.base(
            &format!("{p}.ipa"),
            &format!("vm \"{}\" RAM IPA", v.name),
            ipa,
            mem,
        );
        for (dev, size, what) in emulated_device_ipas(cfg) {
            if overlaps(ipa, mem, dev, size) {
                c.err(
                    format!("{p}.ipa"),
                    format!(
                        "vm \"{}\" RAM at IPA {} overlaps {what} at {}",
                        v.name,
                        range(ipa, mem),
                        range(dev, size)
                    ),
                );
            }
        }
        check_payload(cfg, c, i, &p);
        check_vcpus(cfg, c, &p, v);
        for (k, &irq) in v.irqs.iter().enumerate() {
            let f = format!("{p}.irqs[{k}]");
            if !SPI_RANGE.contains(&irq) {
                c.err(&f, format!("IRQ {irq} is not an SPI (32..=1019): SGIs and PPIs stay with the hypervisor"));
            } else if let Some((_, what)) = hv_intids.iter().find(|(id, _)| *id == irq) {
                c.err(
                    &f,
                    format!("IRQ {irq} is needed by the hypervisor ({what})"),
                );
            } else if let Some(slot) = cfg.board.virtio_slot_of_intid(irq) {
                c.err(
                    &f,
                    format!("IRQ {irq} is the interrupt of virtio-mmio slot {slot}, which the hypervisor keeps for itself (its telemetry-net transport probes the slots)"),
                );
            } else if let Some((vm, idx)) = irq_owner.insert(irq, (i, k)) {
                let other = &cfg.system.vm[vm].name;
                c.err(
                    &f,
                    format!("IRQ {irq} is already owned by vm \"{other}\" (vm[{vm}].irqs[{idx}])"),
                );
                irq_owner.insert(irq, (vm, idx));
            }
        }
    }
}

fn check_payload(cfg: &Config, c: &mut Checker, i: usize, p: &str) {
    let v = &cfg.system.vm[i];
    match (&v.image, &v.kernel) {
        (Some(_), Some(_)) => c.err(
            format!("{p}.kernel"),
            format!("vm \"{}\" has both `image` and `kernel`: give one", v.name),
        ),
        (None, None) => c.err(
            p,
            format!(
                "vm \"{}\" has neither `image` (bare-metal ELF) nor `kernel` (Linux Image)",
                v.name
            ),
        ),
        (Some(_), None) => {
            for (set, key) in [
                (v.initrd.is_some(), "initrd"),
                (v.bootargs.is_some(), "bootargs"),
            ] {
                if set {
                    c.err(
                        format!("{p}.{key}"),
                        format!(
                            "`{key}` needs a Linux `kernel`; vm \"{}\" boots a bare-metal `image`",
                            v.name
                        ),
                    );
                }
            }
        }
        (None, Some(_)) => {
            if v.entry.is_some() {
                c.err(format!("{p}.entry"), "`entry` applies to a bare-metal `image`; a Linux kernel is entered at its load address");
            }
            let ipa = cfg.vm_ipa(i);
            if !is_aligned(ipa, MIB2) {
                c.err(format!("{p}.ipa"), format!("a Linux guest's RAM IPA must be 2M aligned (the arm64 boot protocol), not {}", hex(ipa)));
            }
        }
    }
    if let Some(entry) = v.entry {
        let ipa = cfg.vm_ipa(i);
        if entry.0 < ipa || entry.0 >= ipa.saturating_add(v.memory.0) {
            c.err(
                format!("{p}.entry"),
                format!(
                    "entry {} lies outside vm \"{}\" RAM at IPA {}",
                    hex(entry.0),
                    v.name,
                    range(ipa, v.memory.0)
                ),
            );
        }
    }
}

fn check_vcpus(cfg: &Config, c: &mut Checker, p: &str, v: &crate::system::Vm) {
    let cpus = cfg.board.cpus();
    let ncpus = cpus.len();
    if v.vcpus.is_empty() {
        c.err(
            format!("{p}.vcpus"),
            format!("vm \"{}\" has no vCPU", v.name),
        );
    }
    if v.vcpus.len() > 256 {
        c.err(
            format!("{p}.vcpus"),
            "a VM has at most 256 vCPUs (VMPIDR Aff0)",
        );
    }
    // Every CPU any vCPU of the VM may run on, and which vCPU: two vCPUs of one VM never
    // share a CPU, whichever placement each is in (the static guarantee moves keep).
    let mut used: HashMap<u16, usize> = HashMap::new();
    for (k, vc) in v.vcpus.iter().enumerate() {
        if vc.ambiguous() {
            let what = if vc.cpus.is_empty() {
                "gives neither `cpu` nor `cpus`"
            } else {
                "gives both `cpu` and `cpus`"
            };
            c.err(
                format!("{p}.vcpus[{k}]"),
                format!(
                    "vCPU {k} of vm \"{}\" {what}: give one, `cpu` (pinned) or `cpus` (the CPUs it may move among)",
                    v.name
                ),
            );
            continue;
        }
        let field = if vc.migratable() || !vc.cpus.is_empty() {
            "cpus"
        } else {
            "cpu"
        };
        let f = format!("{p}.vcpus[{k}].{field}");
        let mut clusters: HashMap<u16, u16> = HashMap::new();
        for cpu in vc.allowed() {
            let Some((cluster, cl, _)) = cpus.get(usize::from(cpu)) else {
                c.err(
                    &f,
                    format!(
                        "CPU {cpu} does not exist (the board has CPUs 0..={})",
                        ncpus.saturating_sub(1)
                    ),
                );
                continue;
            };
            if let Some(first) = used.insert(cpu, k)
                && first != k
            {
                if vc.migratable() || v.vcpus[first].migratable() {
                    c.err(&f, format!("vCPUs {first} and {k} of vm \"{}\" may both run on CPU {cpu}: a VM's vCPUs need distinct CPUs wherever they move", v.name));
                } else {
                    c.err(&f, format!("vCPUs {first} and {k} of vm \"{}\" are both on CPU {cpu}: a VM's vCPUs need distinct CPUs", v.name));
                }
            }
            if vc.migratable() {
                if let Some(other) = clusters.insert(*cluster, cpu) {
                    c.err(
                        &f,
                        format!(
                            "CPUs {other} and {cpu} are both in cluster \"{}\": a vCPU may run on one CPU per cluster",
                            cl.name
                        ),
                    );
                }
                if cfg.system.slots.iter().any(|t| t.cpu == cpu) {
                    c.err(
                        &f,
                        format!("CPU {cpu} is time-partitioned ([[slots]]): a vCPU that moves may not run on it"),
                    );
                }
            }
        }
    }
    check_big_little(cfg, c, p, v);
}

/// `[vm.big-little]`: only on a VM with a vCPU that may move; a plan names the board's
/// clusters, each one every vCPU of the VM may run on.
fn check_big_little(cfg: &Config, c: &mut Checker, p: &str, v: &crate::system::Vm) {
    use crate::system::MigratePolicy;
    let movable = v.vcpus.iter().any(|x| x.migratable());
    let Some(b) = &v.big_little else {
        return;
    };
    let f = format!("{p}.big-little");
    if !movable {
        c.err(
            &f,
            format!(
                "vm \"{}\" has no vCPU that may move, so nothing follows `[vm.big-little]` (give a vCPU `cpus = [..]` with CPUs of two or more clusters)",
                v.name
            ),
        );
    }
    match b.policy {
        MigratePolicy::Governor => {
            if b.window_us < 100 {
                c.err(
                    format!("{f}.window-us"),
                    "the governor's window is at least 100 us",
                );
            }
            if b.down >= b.up || b.up > 100 {
                c.err(
                    format!("{f}.up"),
                    format!(
                        "the governor needs down < up <= 100 (hysteresis), not down = {} and up = {}",
                        b.down, b.up
                    ),
                );
            }
        }
        MigratePolicy::Plan if b.plan.is_empty() => {
            c.err(
                format!("{f}.plan"),
                "policy \"plan\" needs at least one step",
            );
        }
        _ => {}
    }
    if b.policy != MigratePolicy::Plan && !b.plan.is_empty() {
        let policy = match b.policy {
            MigratePolicy::Hint => "hint",
            MigratePolicy::Governor => "governor",
            MigratePolicy::Plan => "plan",
        };
        c.err(
            format!("{f}.plan"),
            format!(
                "a plan is only followed with policy = \"plan\", and vm \"{}\" has policy = \"{policy}\"",
                v.name
            ),
        );
    }
    let cpus = cfg.board.cpus();
    if b.midr == crate::system::MidrView::PerCluster {
        for (k, vc) in v.vcpus.iter().enumerate() {
            for cpu in vc.allowed() {
                if let Some((_, cl, _)) = cpus.get(usize::from(cpu))
                    && cl.midr.is_none()
                {
                    c.err(
                        format!("{f}.midr"),
                        format!(
                            "vCPU {k} of vm \"{}\" may run in cluster \"{}\", whose `midr` board \"{}\" does not give",
                            v.name, cl.name, cfg.board.name
                        ),
                    );
                }
            }
        }
    }
    for (j, step) in b.plan.iter().enumerate() {
        let sf = format!("{f}.plan[{j}]");
        let Some(ci) = cfg
            .board
            .cluster
            .iter()
            .position(|cl| cl.name == step.cluster)
        else {
            let names: Vec<&str> = cfg.board.cluster.iter().map(|c| c.name.as_str()).collect();
            c.err(
                format!("{sf}.cluster"),
                format!(
                    "board \"{}\" has no cluster \"{}\" (it has: {})",
                    cfg.board.name,
                    step.cluster,
                    names.join(", ")
                ),
            );
            continue;
        };
        if step.us < 100 {
            c.err(format!("{sf}.us"), "a plan step lasts at least 100 us");
        }
        for (k, vc) in v.vcpus.iter().enumerate() {
            let here = vc.allowed().iter().any(|&cpu| {
                cpus.get(usize::from(cpu))
                    .is_some_and(|x| usize::from(x.0) == ci)
            });
            if !here {
                c.err(
                    format!("{sf}.cluster"),
                    format!(
                        "vCPU {k} of vm \"{}\" has no CPU in cluster \"{}\", where this step runs the whole VM (add one of the cluster's CPUs to its `cpus`)",
                        v.name, step.cluster
                    ),
                );
            }
        }
    }
}
