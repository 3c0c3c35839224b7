//! Rules about links between VMs: channels, shared memory, emulated regions, slots.

use super::{Checker, SPI_RANGE};
use crate::config::Config;
use crate::fmt::{overlaps, range};
use crate::system::parse_vcpu_ref;
use std::collections::{HashMap, HashSet};

fn unique_names<'a>(c: &mut Checker, what: &str, names: impl Iterator<Item = &'a str>) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, n) in names.enumerate() {
        if let Some(first) = seen.insert(n, i) {
            c.err(
                format!("{what}[{i}].name"),
                format!("duplicate {what} name \"{n}\" (also {what}[{first}])"),
            );
        }
    }
}

pub(crate) fn check_channels(cfg: &Config, c: &mut Checker) {
    unique_names(
        c,
        "channel",
        cfg.system.channel.iter().map(|ch| ch.name.as_str()),
    );
    for (i, ch) in cfg.system.channel.iter().enumerate() {
        let from = c.party(cfg, &format!("channel[{i}].from"), &ch.from);
        let to = c.party(cfg, &format!("channel[{i}].to"), &ch.to);
        if to.is_some_and(|to| to < cfg.system.vm.len()) && ch.intid.is_none() {
            c.err(
                format!("channel[{i}].intid"),
                format!(
                    "channel \"{}\" goes to vm \"{}\" and needs the `intid` it raises there",
                    ch.name, ch.to
                ),
            );
        }
        if from.is_some() && from == to {
            c.err(
                format!("channel[{i}].to"),
                format!(
                    "channel \"{}\" connects vm \"{}\" to itself",
                    ch.name, ch.to
                ),
            );
        }
    }
}

/// Guest-physical ranges a VM maps: its RAM and its shared maps (field, range, what).
pub(crate) fn mapped_ipas(cfg: &Config, vm: usize) -> Vec<(String, u64, u64, String)> {
    let v = &cfg.system.vm[vm];
    let mut out = vec![(
        format!("vm[{vm}].ipa"),
        cfg.vm_ipa(vm),
        v.memory.0,
        format!("vm \"{}\" RAM", v.name),
    )];
    for (i, s) in cfg.system.shared.iter().enumerate() {
        for (k, m) in s.maps.iter().enumerate() {
            if m.vm == v.name {
                out.push((
                    format!("shared[{i}].maps[{k}].ipa"),
                    m.ipa.0,
                    s.size.0,
                    format!("shared \"{}\"", s.name),
                ));
            }
        }
    }
    out
}

pub(crate) fn check_shared(cfg: &Config, c: &mut Checker) {
    unique_names(
        c,
        "shared",
        cfg.system.shared.iter().map(|s| s.name.as_str()),
    );
    for (i, s) in cfg.system.shared.iter().enumerate() {
        let p = format!("shared[{i}]");
        c.size(
            &format!("{p}.size"),
            &format!("shared \"{}\"", s.name),
            s.size.0,
        );
        if let Some(base) = s.base {
            c.base(
                &format!("{p}.base"),
                &format!("shared \"{}\"", s.name),
                base.0,
                s.size.0,
            );
        }
        if s.maps.is_empty() {
            c.err(
                format!("{p}.maps"),
                format!("shared \"{}\" is mapped by no VM", s.name),
            );
        }
        let mut vms = HashSet::new();
        for (k, m) in s.maps.iter().enumerate() {
            let f = format!("{p}.maps[{k}]");
            let Some(vm) = c.party(cfg, &format!("{f}.vm"), &m.vm) else {
                continue;
            };
            if !vms.insert(vm) {
                c.err(
                    format!("{f}.vm"),
                    format!("vm \"{}\" maps shared \"{}\" twice", m.vm, s.name),
                );
            }
            if vm >= cfg.system.vm.len() {
                // Not a full VM: the extension that adds it checks its map.
                continue;
            }
            c.base(
                &format!("{f}.ipa"),
                &format!("shared \"{}\" IPA", s.name),
                m.ipa.0,
                s.size.0,
            );
            for (dev, size, what) in super::vm::emulated_device_ipas(cfg) {
                if overlaps(m.ipa.0, s.size.0, dev, size) {
                    c.err(
                        format!("{f}.ipa"),
                        format!(
                            "shared \"{}\" at IPA {} overlaps {what} at {}",
                            s.name,
                            range(m.ipa.0, s.size.0),
                            range(dev, size)
                        ),
                    );
                }
            }
            // Against the VM's RAM and its shared maps listed before this one.
            for (field, base, size, what) in mapped_ipas(cfg, vm) {
                if field == format!("{f}.ipa") {
                    break;
                }
                if overlaps(m.ipa.0, s.size.0, base, size) {
                    c.err(
                        format!("{f}.ipa"),
                        format!(
                            "shared \"{}\" at IPA {} overlaps {what} at {} in vm \"{}\" ({field})",
                            s.name,
                            range(m.ipa.0, s.size.0),
                            range(base, size),
                            m.vm
                        ),
                    );
                }
            }
        }
    }
}

pub(crate) fn check_emulated(cfg: &Config, c: &mut Checker) {
    for (i, e) in cfg.system.emulated.iter().enumerate() {
        let p = format!("emulated[{i}]");
        let vm = c.vm(cfg, &format!("{p}.vm"), &e.vm);
        let by = c.vm(cfg, &format!("{p}.by"), &e.by);
        if vm.is_some() && vm == by {
            c.err(
                format!("{p}.by"),
                format!("vm \"{}\" cannot emulate its own region", e.by),
            );
        }
        c.size(&format!("{p}.size"), "emulated region", e.size.0);
        c.base(&format!("{p}.base"), "emulated region", e.base.0, e.size.0);
        if e.timeout_us == Some(0) {
            c.err(
                format!("{p}.timeout-us"),
                "must be at least 1 (microseconds an access may wait for its emulating VM)",
            );
        }
        let Some(vm) = vm else { continue };
        let mut clashes = mapped_ipas(cfg, vm);
        for (dev, size, what) in super::vm::emulated_device_ipas(cfg) {
            clashes.push((String::new(), dev, size, what.to_string()));
        }
        for (k, o) in cfg.system.emulated.iter().enumerate().take(i) {
            if o.vm == e.vm {
                clashes.push((
                    format!("emulated[{k}]"),
                    o.base.0,
                    o.size.0,
                    "another emulated region".into(),
                ));
            }
        }
        for (field, base, size, what) in clashes {
            if overlaps(e.base.0, e.size.0, base, size) {
                let at = if field.is_empty() {
                    String::new()
                } else {
                    format!(" ({field})")
                };
                c.err(
                    format!("{p}.base"),
                    format!(
                        "emulated region {} of vm \"{}\" overlaps {what} at {}{at}",
                        range(e.base.0, e.size.0),
                        e.vm,
                        range(base, size)
                    ),
                );
            }
        }
    }
}

/// Virtual INTIDs a VM receives must be legal SPIs and distinct from each other, from its
/// own physical IRQs and from the hypervisor's INTIDs.
pub(crate) fn check_virtual_intids(cfg: &Config, c: &mut Checker) {
    let hv = cfg.board.hv_intids();
    let mut used: HashMap<(usize, u32), String> = HashMap::new();
    for (i, v) in cfg.system.vm.iter().enumerate() {
        for (k, &irq) in v.irqs.iter().enumerate() {
            used.entry((i, irq))
                .or_insert_with(|| format!("vm[{i}].irqs[{k}]"));
        }
    }
    // Channels into lwVMs carry no INTID (checked by the lwVM extension); a missing one
    // into a VM is reported by `check_channels`.
    let incoming = cfg
        .system
        .channel
        .iter()
        .enumerate()
        .filter(|(_, ch)| !cfg.system.is_lwvm(&ch.to))
        .filter_map(|(i, ch)| Some((format!("channel[{i}]"), &ch.to, ch.intid?)));
    let reflected = cfg
        .system
        .emulated
        .iter()
        .enumerate()
        .map(|(i, e)| (format!("emulated[{i}]"), &e.by, e.intid));
    for (p, to, intid) in incoming.chain(reflected).collect::<Vec<_>>() {
        let f = format!("{p}.intid");
        if !SPI_RANGE.contains(&intid) {
            c.err(&f, format!("INTID {intid} is not an SPI (32..=1019)"));
            continue;
        }
        if let Some((_, what)) = hv.iter().find(|(id, _)| *id == intid) {
            c.err(
                &f,
                format!("INTID {intid} is used by the hypervisor ({what})"),
            );
            continue;
        }
        let Some(vm) = cfg.system.vm_index(to) else {
            continue;
        };
        match used.get(&(vm, intid)) {
            Some(other) => c.err(
                &f,
                format!("INTID {intid} of vm \"{to}\" is already used by {other}"),
            ),
            None => {
                used.insert((vm, intid), p.clone());
            }
        }
    }
}

pub(crate) fn check_slots(cfg: &Config, c: &mut Checker) {
    let ncpus = cfg.board.cpus().len();
    let mut tables: HashMap<u16, usize> = HashMap::new();
    for (i, t) in cfg.system.slots.iter().enumerate() {
        let p = format!("slots[{i}]");
        if usize::from(t.cpu) >= ncpus {
            c.err(
                format!("{p}.cpu"),
                format!(
                    "CPU {} does not exist (the board has CPUs 0..={})",
                    t.cpu,
                    ncpus.saturating_sub(1)
                ),
            );
        }
        if let Some(first) = tables.insert(t.cpu, i) {
            c.err(
                format!("{p}.cpu"),
                format!("CPU {} already has a slot table (slots[{first}])", t.cpu),
            );
        }
        if t.table.is_empty() {
            c.err(format!("{p}.table"), "a slot table needs at least one slot");
        }
        let mut listed = HashSet::new();
        for (k, s) in t.table.iter().enumerate() {
            let f = format!("{p}.table[{k}]");
            match (s.us, s.ticks) {
                (Some(0), None) | (None, Some(0)) => c.err(&f, "a slot must last longer than 0"),
                (Some(_), None) | (None, Some(_)) => {}
                _ => c.err(&f, "give a slot's length as exactly one of `us` or `ticks`"),
            }
            let Some(r) = &s.vcpu else { continue };
            let Some((name, idx)) = parse_vcpu_ref(r) else {
                c.err(
                    format!("{f}.vcpu"),
                    format!("vcpu \"{r}\" is not \"vm\" or \"vm:index\""),
                );
                continue;
            };
            let Some(vm) = c.vm(cfg, &format!("{f}.vcpu"), name) else {
                continue;
            };
            match cfg.system.vm[vm].vcpus.get(idx) {
                None => c.err(
                    format!("{f}.vcpu"),
                    format!("vm \"{name}\" has no vCPU {idx}"),
                ),
                Some(vc) if vc.home() != t.cpu => c.err(
                    format!("{f}.vcpu"),
                    format!(
                        "vCPU {idx} of vm \"{name}\" is pinned to CPU {}, not CPU {}",
                        vc.home(),
                        t.cpu
                    ),
                ),
                Some(_) => {
                    listed.insert((vm, idx));
                }
            }
        }
        for (vm, v) in cfg.system.vm.iter().enumerate() {
            for (idx, vc) in v.vcpus.iter().enumerate() {
                if vc.home() == t.cpu && !listed.contains(&(vm, idx)) {
                    c.err(format!("{p}.table"), format!("vCPU {idx} of vm \"{}\" is pinned to CPU {} but has no slot in its table", v.name, t.cpu));
                }
            }
        }
    }
}
