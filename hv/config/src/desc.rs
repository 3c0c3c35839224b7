//! Builds the typed [`SystemDesc`] — the contract with the hypervisor image — from a
//! validated configuration, its layout and its tables.
//!
//! The description is made of `&'static` slices, exactly as the image will hold it, so
//! the host builds it by leaking a few small allocations: a host tool builds one (or, in
//! property tests, a few hundred) per run, and the emitter and the checks then work on
//! the very type the hypervisor reads, not on a look-alike.

use crate::config::Config;
use crate::derive;
use crate::ext::{DescParts, ExtView, Extensions};
use crate::layout::Layout;
use crate::parts::{image_desc, leak, policy, text};
use crate::payload::Payloads;
use crate::system::{Access, Emulated, parse_vcpu_ref};
use crate::tables::{MAIR_EL2, TCR_EL2, Tables, VTCR_EL2};
use crate::vhe::TCR_EL2_VHE;
use hv_core::sysdesc::*;

/// FNV-1a 64 over `parts` in order.
pub fn fnv1a64<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in p {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// The configuration id: board text, system text, then every payload blob (the VMs',
/// then the extensions' guests').
pub fn config_id(cfg: &Config, payloads: &Payloads) -> u64 {
    let mut parts: Vec<&[u8]> = vec![cfg.board_text.as_bytes(), cfg.system_text.as_bytes()];
    for p in payloads.all() {
        parts.push(&p.image.bytes);
        for extra in [&p.initrd, &p.dtb].into_iter().flatten() {
            parts.push(&extra.bytes);
        }
    }
    fnv1a64(parts)
}

/// Global vCPU index of vCPU `k` of VM `vm`.
fn vcpu_index(cfg: &Config, vm: usize, k: usize) -> VcpuIndex {
    (cfg.system.vm[..vm]
        .iter()
        .map(|v| v.vcpus.len())
        .sum::<usize>()
        + k) as VcpuIndex
}

/// Assembles the description. `cfg` must be validated and `lay`/`tables` made from it
/// with the same extension list `exts`.
pub fn build(
    cfg: &Config,
    payloads: &Payloads,
    lay: &Layout,
    tables: &Tables,
    id: u64,
    exts: &Extensions,
) -> &'static SystemDesc {
    let b = &cfg.board;
    let s = &cfg.system;
    let vm_of = |name: &str| s.party_index(name).unwrap_or(0) as VmIndex;

    let mut vcpus = Vec::new();
    for (i, v) in s.vm.iter().enumerate() {
        for (k, p) in v.vcpus.iter().enumerate() {
            vcpus.push(VcpuDesc {
                vm: i as VmIndex,
                index_in_vm: k as u16,
                cpu: p.home(),
                cpus: leak(p.allowed()),
                vmpidr: (1 << 31) | k as u64,
                priority: p.priority,
            });
        }
    }
    let vms: Vec<VmDesc> =
        s.vm.iter()
            .enumerate()
            .map(|(i, v)| {
                let l = &lay.vms[i];
                let p = &payloads.vms[i];
                VmDesc {
                    name: text(&v.name),
                    vmid: l.vmid,
                    ram_ipa: l.ipa,
                    ram_pa: l.ram.base,
                    ram_size: l.ram.size,
                    s2_root: tables.regimes[i + 1].root,
                    image: image_desc(l.image_store, &p.image),
                    initrd: p
                        .initrd
                        .as_ref()
                        .zip(l.initrd_store)
                        .map(|(b, pa)| image_desc(pa, b)),
                    dtb: p
                        .dtb
                        .as_ref()
                        .zip(l.dtb_store)
                        .map(|(b, pa)| image_desc(pa, b)),
                    entry_ipa: p.entry_ipa,
                    vcpus: leak((0..v.vcpus.len()).map(|k| vcpu_index(cfg, i, k)).collect()),
                    console: v.console,
                    uart_ipa: b.uart.base.0,
                    gicd_ipa: b.gic.distributor.base.0,
                    gicr_ipa: b.gic.redistributor.base.0,
                    restart: policy(v.restart),
                    pmu: match v.pmu {
                        crate::system::Pmu::Hidden => PmuAccess::Hidden,
                        crate::system::Pmu::Shared => PmuAccess::Shared,
                        crate::system::Pmu::Virtual => PmuAccess::Virtual,
                    },
                    // Derived below, once the extensions added their VMs and channels.
                    mmio: &[],
                    spis: &[],
                    owned_spis: &[],
                    peers: &[],
                    emulates: &[],
                    lwvm: None,
                }
            })
            .collect();
    let channels = s
        .channel
        .iter()
        .map(|c| ChannelDesc {
            name: text(&c.name),
            from: vm_of(&c.from),
            to: vm_of(&c.to),
            virt_intid: c.intid.unwrap_or(0),
        })
        .collect();
    // The extensions add their VMs, execution contexts and channel targets.
    let mut parts = DescParts {
        vms,
        vcpus,
        channels,
        elastic: Vec::new(),
    };
    for (i, e) in exts.iter().enumerate() {
        let own = ExtView {
            payloads: payloads.of(i),
            layout: &lay.ext[i],
            tables,
            shared: &lay.shared,
        };
        e.describe(cfg, own, &mut parts);
    }
    let DescParts {
        mut vms,
        vcpus,
        channels,
        elastic,
    } = parts;
    let cpus = b
        .cpus()
        .into_iter()
        .enumerate()
        .map(|(n, (cluster, c, cpu))| {
            let mut on: Vec<VcpuIndex> = (0..vcpus.len())
                .filter(|&x| vcpus[x].cpus.iter().any(|&c| usize::from(c) == n))
                .map(|x| x as VcpuIndex)
                .collect();
            on.sort_by_key(|&x| std::cmp::Reverse(vcpus[usize::from(x)].priority));
            CpuDesc {
                mpidr: cpu.mpidr,
                cluster,
                capacity: c.capacity,
                busy_mw: c.power.busy_mw,
                idle_mw: c.power.idle_mw,
                midr: c.midr.unwrap_or(0),
                schedule: leak(on),
            }
        })
        .collect();

    let irqs: Vec<IrqRoute> = (0..s.vm.len())
        .flat_map(|i| {
            let devices = cfg.devices_of(i).flat_map(|d| d.intids.iter().copied());
            s.vm[i]
                .irqs
                .iter()
                .copied()
                .chain(devices)
                .map(move |q| IrqRoute {
                    intid: q,
                    vm: i as VmIndex,
                    virt_intid: q,
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let passthrough = (0..s.vm.len())
        .flat_map(|i| {
            cfg.devices_of(i)
                .map(|d| Passthrough {
                    name: text(&d.name),
                    vm: i as VmIndex,
                    pa: d.base.0,
                    size: d.size.0,
                    dma: d.dma,
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let shared = s
        .shared
        .iter()
        .zip(&lay.shared)
        .map(|(sh, p)| SharedDesc {
            name: text(&sh.name),
            pa: p.base,
            size: p.size,
            maps: leak(
                sh.maps
                    .iter()
                    .map(|m| SharedMap {
                        vm: vm_of(&m.vm),
                        ipa: m.ipa.0,
                        writable: m.access == Access::Rw,
                    })
                    .collect(),
            ),
        })
        .collect();
    let slots = s
        .slots
        .iter()
        .map(|t| SlotTable {
            cpu: t.cpu,
            slots: leak(
                t.table
                    .iter()
                    .map(|sl| Slot {
                        vcpu: sl
                            .vcpu
                            .as_deref()
                            .and_then(parse_vcpu_ref)
                            .and_then(|(vm, k)| s.vm_index(vm).map(|i| vcpu_index(cfg, i, k))),
                        length: match (sl.us, sl.ticks) {
                            (Some(us), _) => SlotLength::Micros(us),
                            (None, t) => SlotLength::Ticks(t.unwrap_or(0)),
                        },
                    })
                    .collect(),
            ),
        })
        .collect();
    let emulated = s
        .emulated
        .iter()
        .map(|e| EmulatedDesc {
            vm: vm_of(&e.vm),
            ipa: e.base.0,
            size: e.size.0,
            by: vm_of(&e.by),
            virt_intid: e.intid,
            timeout_us: e.timeout_us.unwrap_or(Emulated::DEFAULT_TIMEOUT_US),
        })
        .collect::<Vec<_>>();
    for (i, v) in vms.iter_mut().enumerate() {
        let i = i as VmIndex;
        let mmio = leak(derive::mmio_routes(i, v, &emulated, &elastic));
        let owned = derive::owned_spis(i, v, &irqs, &channels, &emulated, &elastic, b.uart.intid);
        v.mmio = mmio;
        v.owned_spis = leak(owned);
        v.spis = leak(derive::spis(i, &irqs));
        v.peers = leak(derive::peers(i, &channels));
        if let Some(lw) = v.lwvm.as_mut() {
            (lw.channels_out, lw.channels_in) = derive::channel_masks(i, &channels);
        }
        v.emulates = leak(derive::emulates(i, &emulated));
    }
    let spi_routes = leak(derive::spi_routes(&irqs));

    Box::leak(Box::new(SystemDesc {
        name: text(&s.name),
        board: text(&b.name),
        config_id: id,
        hv: HvDesc {
            image_base: lay.hv.base,
            image_size: lay.hv.size,
            tables_base: lay.tables.base,
            tables_size: lay.tables.size,
            images_base: lay.images.base,
            images_size: lay.images.size,
            ttbr0_el2: tables.regimes[0].root,
            tcr_el2: if cfg.vhe() { TCR_EL2_VHE } else { TCR_EL2 },
            mair_el2: MAIR_EL2,
            vtcr_el2: VTCR_EL2,
            e2h: cfg.vhe(),
        },
        devices: DeviceDesc {
            uart_base: b.uart.base.0,
            uart_intid: b.uart.intid,
            uart_model: b
                .uart
                .desc_model()
                .expect("validation accepts only UART models with a driver"),
            gicd_base: b.gic.distributor.base.0,
            gicr_base: b.gic.redistributor.base.0,
            gicr_stride: b.gic.redistributor.stride.0,
            maintenance_intid: b.gic.maintenance_intid,
            pmu_intid: b.gic.pmu_intid,
            vtimer_intid: b.timer.el1_virtual,
            ptimer_intid: b.timer.el1_physical,
            hyp_timer_intid: b.timer.el2_physical,
            virtio_mmio_base: b.virtio_mmio.map_or(0, |v| v.base.0),
            virtio_mmio_stride: b.virtio_mmio.map_or(0, |v| v.stride.0),
            virtio_mmio_count: b.virtio_mmio.map_or(0, |v| v.count),
            virtio_mmio_intid: b.virtio_mmio.map_or(0, |v| v.first_intid),
        },
        cpus: leak(cpus),
        vms: leak(vms),
        vcpus: leak(vcpus),
        irqs: leak(irqs),
        spi_routes,
        passthrough: leak(passthrough),
        channels: leak(channels),
        shared: leak(shared),
        slots: leak(slots),
        emulated: leak(emulated),
        elastic: leak(elastic),
        migrations: leak(migrations(cfg)),
    }))
}

/// The VMs whose vCPUs may move, with their policy (`[vm.big-little]`; the default policy
/// is the guest's hint).
fn migrations(cfg: &Config) -> Vec<MigrateDesc> {
    use crate::system::MigratePolicy as P;
    cfg.system
        .vm
        .iter()
        .enumerate()
        .filter(|(_, v)| v.vcpus.iter().any(|p| p.migratable()))
        .map(|(i, v)| {
            let b = v.big_little.clone().unwrap_or(crate::system::BigLittle {
                policy: P::Hint,
                window_us: 10_000,
                up: 70,
                down: 30,
                plan: Vec::new(),
                midr: crate::system::MidrView::Fixed,
            });
            MigrateDesc {
                vm: i as VmIndex,
                policy: match b.policy {
                    P::Hint => MigratePolicy::Hint,
                    P::Governor => MigratePolicy::Governor,
                    P::Plan => MigratePolicy::Plan,
                },
                window_us: b.window_us,
                up: b.up,
                down: b.down,
                plan: leak(
                    b.plan
                        .iter()
                        .map(|s| PlanStep {
                            cluster: cfg
                                .board
                                .cluster
                                .iter()
                                .position(|c| c.name == s.cluster)
                                .unwrap_or(0) as u16,
                            us: s.us,
                        })
                        .collect(),
                ),
                per_cluster_midr: b.midr == crate::system::MidrView::PerCluster,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn fnv_matches_reference_vectors() {
        assert_eq!(super::fnv1a64([&b""[..]]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(super::fnv1a64([&b"a"[..]]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(super::fnv1a64([&b"fo"[..], b"obar"]), 0x85944171f73967e8);
    }
}
