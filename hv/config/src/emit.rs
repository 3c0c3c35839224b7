//! Writes a plan as build inputs of the hypervisor image:
//! `system.rs` (the `SYSTEM` literal, capacities as consts, the blob statics),
//! `tables.bin`, `images.bin`, `memory.x` (linker symbols) and `layout.txt`.
//!
//! The source is built as plain strings: the literal mirrors `hv_core::sysdesc` field
//! by field, so a field added there without being emitted here fails the image build.

use crate::error::{ConfigError, write_file};
use crate::fmt::hex;
use crate::plan::Plan;
use hv_core::sysdesc::*;
use std::path::Path;

const P: &str = "hv_core::sysdesc::";

/// Indents every line but the first by four spaces.
fn nest(v: &str) -> String {
    v.replace('\n', "\n    ")
}

/// `Ty { a: v, … }` over several lines.
fn strukt(ty: &str, fields: &[(&str, String)]) -> String {
    let mut s = format!("{P}{ty} {{\n");
    for (name, v) in fields {
        s += &format!("    {name}: {},\n", nest(v));
    }
    s + "}"
}

/// `&[a, …]` over several lines (or `&[]`).
fn slice(items: impl IntoIterator<Item = String>) -> String {
    let items: Vec<String> = items.into_iter().collect();
    if items.is_empty() {
        return "&[]".into();
    }
    if items.iter().all(|i| !i.contains('\n'))
        && items.iter().map(|i| i.len() + 2).sum::<usize>() < 80
    {
        return format!("&[{}]", items.join(", "));
    }
    let mut s = "&[\n".to_string();
    for i in items {
        s += &format!("    {},\n", nest(&i));
    }
    s + "]"
}

fn opt(v: Option<String>) -> String {
    v.map_or("None".into(), |v| format!("Some({v})"))
}

fn image(i: &ImageDesc) -> String {
    strukt(
        "ImageDesc",
        &[
            ("store_pa", hex(i.store_pa)),
            ("size", hex(i.size)),
            ("load_ipa", hex(i.load_ipa)),
        ],
    )
}

fn vm(v: &VmDesc) -> String {
    let restart = match v.restart {
        RestartPolicy::Stop => "Stop",
        RestartPolicy::Restart => "Restart",
    };
    strukt(
        "VmDesc",
        &[
            ("name", format!("{:?}", v.name)),
            ("vmid", v.vmid.to_string()),
            ("ram_ipa", hex(v.ram_ipa)),
            ("ram_pa", hex(v.ram_pa)),
            ("ram_size", hex(v.ram_size)),
            ("s2_root", hex(v.s2_root)),
            ("image", image(&v.image)),
            ("initrd", opt(v.initrd.as_ref().map(image))),
            ("dtb", opt(v.dtb.as_ref().map(image))),
            ("entry_ipa", hex(v.entry_ipa)),
            ("vcpus", slice(v.vcpus.iter().map(|x| x.to_string()))),
            ("console", v.console.to_string()),
            ("uart_ipa", hex(v.uart_ipa)),
            ("gicd_ipa", hex(v.gicd_ipa)),
            ("gicr_ipa", hex(v.gicr_ipa)),
            ("restart", format!("{P}RestartPolicy::{restart}")),
            ("pmu", format!("{P}PmuAccess::{:?}", v.pmu)),
            ("mmio", slice(v.mmio.iter().map(mmio_route))),
            ("spis", slice(v.spis.iter().map(irq_route))),
            (
                "owned_spis",
                slice(v.owned_spis.iter().map(|x| x.to_string())),
            ),
            ("peers", slice(v.peers.iter().map(|&x| vm_id(x)))),
            ("emulates", slice(v.emulates.iter().map(|x| x.to_string()))),
            ("lwvm", opt(v.lwvm.as_ref().map(lwvm))),
        ],
    )
}

fn vm_id(v: hv_core::ids::VmId) -> String {
    format!("hv_core::ids::VmId::new({})", v.raw())
}

fn irq_route(i: &IrqRoute) -> String {
    strukt(
        "IrqRoute",
        &[
            ("intid", i.intid.to_string()),
            ("vm", i.vm.to_string()),
            ("virt_intid", i.virt_intid.to_string()),
        ],
    )
}

fn mmio_route(m: &MmioRoute) -> String {
    let target = match m.target {
        MmioTarget::Uart => "Uart".to_string(),
        MmioTarget::Gicd => "Gicd".to_string(),
        MmioTarget::Gicr => "Gicr".to_string(),
        MmioTarget::Reflected(k) => format!("Reflected({k})"),
        MmioTarget::Extension(k) => format!("Extension({k})"),
    };
    strukt(
        "MmioRoute",
        &[
            ("base", hex(m.base)),
            ("size", hex(m.size)),
            ("target", format!("{P}MmioTarget::{target}")),
        ],
    )
}

fn uart_model(m: UartModel) -> String {
    match m {
        UartModel::Pl011 => format!("{P}UartModel::Pl011"),
        UartModel::Ns16550(r) => format!(
            "{P}UartModel::Ns16550({})",
            strukt(
                "Ns16550Regs",
                &[
                    ("reg_shift", r.reg_shift.to_string()),
                    ("io_width", r.io_width.to_string()),
                ],
            )
        ),
    }
}

fn spi_route(r: &Option<SpiRoute>) -> String {
    opt(r.as_ref().map(|r| {
        format!(
            "{P}SpiRoute {{ vm: {}, virt_intid: {} }}",
            vm_id(r.vm),
            r.virt_intid
        )
    }))
}

fn lwvm(l: &LwvmDesc) -> String {
    strukt(
        "LwvmDesc",
        &[
            ("asid", l.asid.to_string()),
            ("root", hex(l.root)),
            ("stack_top", hex(l.stack_top)),
            ("channels_out", hex(l.channels_out)),
            ("channels_in", hex(l.channels_in)),
            ("shadow", opt(l.shadow.as_ref().map(shadow))),
        ],
    )
}

fn shadow(s: &hv_core::sysdesc::ShadowDesc) -> String {
    let grants = s.grants.iter().map(|g| {
        strukt(
            "ShadowGrant",
            &[
                ("gpa", hex(g.gpa)),
                ("pa", hex(g.pa)),
                ("size", hex(g.size)),
                ("writable", g.writable.to_string()),
                ("exec", g.exec.to_string()),
                ("cached", g.cached.to_string()),
                ("tables", g.tables.to_string()),
            ],
        )
    });
    strukt(
        "ShadowDesc",
        &[
            ("slot", s.slot.to_string()),
            ("pool", hex(s.pool)),
            ("pool_pages", s.pool_pages.to_string()),
            ("asid_first", s.asid_first.to_string()),
            ("roots", s.roots.to_string()),
            (
                "grants",
                format!("&[{}]", grants.collect::<Vec<_>>().join(", ")),
            ),
        ],
    )
}

/// The `SystemDesc` literal.
pub fn system_literal(d: &SystemDesc) -> String {
    let h = &d.hv;
    let dv = &d.devices;
    strukt(
        "SystemDesc",
        &[
            ("name", format!("{:?}", d.name)),
            ("board", format!("{:?}", d.board)),
            ("config_id", format!("{:#018x}", d.config_id)),
            (
                "hv",
                strukt(
                    "HvDesc",
                    &[
                        ("image_base", hex(h.image_base)),
                        ("image_size", hex(h.image_size)),
                        ("tables_base", hex(h.tables_base)),
                        ("tables_size", hex(h.tables_size)),
                        ("images_base", hex(h.images_base)),
                        ("images_size", hex(h.images_size)),
                        ("ttbr0_el2", hex(h.ttbr0_el2)),
                        ("tcr_el2", hex(h.tcr_el2)),
                        ("mair_el2", hex(h.mair_el2)),
                        ("vtcr_el2", hex(h.vtcr_el2)),
                        ("e2h", h.e2h.to_string()),
                    ],
                ),
            ),
            (
                "devices",
                strukt(
                    "DeviceDesc",
                    &[
                        ("uart_base", hex(dv.uart_base)),
                        ("uart_intid", dv.uart_intid.to_string()),
                        ("uart_model", uart_model(dv.uart_model)),
                        ("gicd_base", hex(dv.gicd_base)),
                        ("gicr_base", hex(dv.gicr_base)),
                        ("gicr_stride", hex(dv.gicr_stride)),
                        ("maintenance_intid", dv.maintenance_intid.to_string()),
                        ("pmu_intid", dv.pmu_intid.to_string()),
                        ("vtimer_intid", dv.vtimer_intid.to_string()),
                        ("ptimer_intid", dv.ptimer_intid.to_string()),
                        ("hyp_timer_intid", dv.hyp_timer_intid.to_string()),
                        ("virtio_mmio_base", hex(dv.virtio_mmio_base)),
                        ("virtio_mmio_stride", hex(dv.virtio_mmio_stride)),
                        ("virtio_mmio_count", dv.virtio_mmio_count.to_string()),
                        ("virtio_mmio_intid", dv.virtio_mmio_intid.to_string()),
                    ],
                ),
            ),
            (
                "cpus",
                slice(d.cpus.iter().map(|c| {
                    strukt(
                        "CpuDesc",
                        &[
                            ("mpidr", hex(c.mpidr)),
                            ("cluster", c.cluster.to_string()),
                            ("capacity", c.capacity.to_string()),
                            ("busy_mw", c.busy_mw.to_string()),
                            ("idle_mw", c.idle_mw.to_string()),
                            ("midr", hex(c.midr)),
                            ("schedule", slice(c.schedule.iter().map(|x| x.to_string()))),
                        ],
                    )
                })),
            ),
            ("vms", slice(d.vms.iter().map(vm))),
            (
                "vcpus",
                slice(d.vcpus.iter().map(|v| {
                    let f = [
                        ("vm", v.vm.to_string()),
                        ("index_in_vm", v.index_in_vm.to_string()),
                        ("cpu", v.cpu.to_string()),
                        ("cpus", slice(v.cpus.iter().map(|c| c.to_string()))),
                        ("vmpidr", hex(v.vmpidr)),
                        ("priority", v.priority.to_string()),
                    ];
                    strukt("VcpuDesc", &f)
                })),
            ),
            ("irqs", slice(d.irqs.iter().map(irq_route))),
            ("spi_routes", slice(d.spi_routes.iter().map(spi_route))),
            (
                "passthrough",
                slice(d.passthrough.iter().map(|p| {
                    strukt(
                        "Passthrough",
                        &[
                            ("name", format!("{:?}", p.name)),
                            ("vm", p.vm.to_string()),
                            ("pa", hex(p.pa)),
                            ("size", hex(p.size)),
                            ("dma", p.dma.to_string()),
                        ],
                    )
                })),
            ),
            (
                "channels",
                slice(d.channels.iter().map(|c| {
                    let f = [
                        ("name", format!("{:?}", c.name)),
                        ("from", c.from.to_string()),
                        ("to", c.to.to_string()),
                        ("virt_intid", c.virt_intid.to_string()),
                    ];
                    strukt("ChannelDesc", &f)
                })),
            ),
            (
                "shared",
                slice(d.shared.iter().map(|s| {
                    let maps = slice(s.maps.iter().map(|m| {
                        strukt(
                            "SharedMap",
                            &[
                                ("vm", m.vm.to_string()),
                                ("ipa", hex(m.ipa)),
                                ("writable", m.writable.to_string()),
                            ],
                        )
                    }));
                    strukt(
                        "SharedDesc",
                        &[
                            ("name", format!("{:?}", s.name)),
                            ("pa", hex(s.pa)),
                            ("size", hex(s.size)),
                            ("maps", maps),
                        ],
                    )
                })),
            ),
            (
                "slots",
                slice(d.slots.iter().map(|t| {
                    let slots = slice(t.slots.iter().map(|s| {
                        let len = match s.length {
                            SlotLength::Ticks(n) => format!("{P}SlotLength::Ticks({n})"),
                            SlotLength::Micros(n) => format!("{P}SlotLength::Micros({n})"),
                        };
                        strukt(
                            "Slot",
                            &[("vcpu", format!("{:?}", s.vcpu)), ("length", len)],
                        )
                    }));
                    strukt("SlotTable", &[("cpu", t.cpu.to_string()), ("slots", slots)])
                })),
            ),
            (
                "emulated",
                slice(d.emulated.iter().map(|e| {
                    let f = [
                        ("vm", e.vm.to_string()),
                        ("ipa", hex(e.ipa)),
                        ("size", hex(e.size)),
                        ("by", e.by.to_string()),
                        ("virt_intid", e.virt_intid.to_string()),
                        ("timeout_us", e.timeout_us.to_string()),
                    ];
                    strukt("EmulatedDesc", &f)
                })),
            ),
            (
                "elastic",
                slice(d.elastic.iter().map(|e| {
                    let holders = slice(e.holders.iter().map(|h| {
                        let roots = slice(h.roots.iter().map(|r| hex(*r)));
                        let f = [
                            ("vm", h.vm.to_string()),
                            ("ipa", hex(h.ipa)),
                            ("initial", h.initial.to_string()),
                            ("virtio_ipa", opt(h.virtio_ipa.map(hex))),
                            ("roots", roots),
                        ];
                        strukt("ElasticHolder", &f)
                    }));
                    let f = [
                        ("name", format!("{:?}", e.name)),
                        ("pa", hex(e.pa)),
                        ("block_size", hex(e.block_size)),
                        ("blocks", e.blocks.to_string()),
                        ("holders", holders),
                        ("manager", opt(e.manager.map(|m| m.to_string()))),
                        ("virt_intid", e.virt_intid.to_string()),
                        ("deadline_us", e.deadline_us.to_string()),
                        (
                            "plan",
                            slice(e.plan.iter().map(|m| {
                                let f = [
                                    ("at_us", m.at_us.to_string()),
                                    ("to", m.to.to_string()),
                                    ("blocks", m.blocks.to_string()),
                                ];
                                strukt("PlannedMove", &f)
                            })),
                        ),
                    ];
                    strukt("ElasticDesc", &f)
                })),
            ),
            (
                "migrations",
                slice(d.migrations.iter().map(|m| {
                    let plan = slice(m.plan.iter().map(|s| {
                        let f = [("cluster", s.cluster.to_string()), ("us", s.us.to_string())];
                        strukt("PlanStep", &f)
                    }));
                    let f = [
                        ("vm", m.vm.to_string()),
                        ("policy", format!("{P}MigratePolicy::{:?}", m.policy)),
                        ("window_us", m.window_us.to_string()),
                        ("up", m.up.to_string()),
                        ("down", m.down.to_string()),
                        ("plan", plan),
                        ("per_cluster_midr", m.per_cluster_midr.to_string()),
                    ];
                    strukt("MigrateDesc", &f)
                })),
            ),
        ],
    )
}

/// The whole `system.rs`.
pub fn system_rs(plan: &Plan) -> String {
    let d = plan.desc;
    let cfg = &plan.config;
    let max_vcpus_per_cpu = d.cpus.iter().map(|c| c.schedule.len()).max().unwrap_or(0);
    format!(
        "// @generated by hv-config from {board} and {system}. Do not edit.\n\
         \n\
         /// Identifies this configuration (FNV-1a 64 of the descriptions and guest images).\n\
         pub const CONFIG_ID: u64 = {id:#018x};\n\
         /// Number of VMs.\npub const VM_COUNT: usize = {vms};\n\
         /// Number of vCPUs over all VMs.\npub const VCPU_COUNT: usize = {vcpus};\n\
         /// Number of physical CPUs.\npub const CPU_COUNT: usize = {cpus};\n\
         /// Most vCPUs placed on one CPU.\npub const MAX_VCPUS_PER_CPU: usize = {maxv};\n\
         /// Number of elastic memory pools.\npub const ELASTIC_COUNT: usize = {pools};\n\
         /// Elastic pools with a static plan.\npub const ELASTIC_PLANNED: u32 = {planned};\n\
         /// Some VM's vCPUs move by a governor or a plan (timed big.LITTLE decisions).\n\
         pub const MIGRATIONS_TIMED: bool = {timed};\n\
         /// Per VM: its entry in `SYSTEM.migrations` (u16::MAX: its vCPUs do not move).\n\
         pub const MIGRATION_OF: [u16; VM_COUNT] = {migration_of:?};\n\
         \n\
         /// The static system description. Exported and kept under a fixed name: the\n\
         /// isolation certificate reads it from the linked image (hv-config's certify).\n\
         // SAFETY: a unique symbol name; the section is kept by the linker script.\n\
         #[unsafe(export_name = \"HV_SYSTEM\")]\n\
         #[unsafe(link_section = \".rodata.hv_system\")]\n\
         #[used]\n\
         pub static SYSTEM: hv_core::sysdesc::SystemDesc = {lit};\n\
         \n\
         /// Page alignment for the blobs below.\n\
         #[repr(C, align(4096))]\n\
         pub struct PageAligned<T: ?Sized>(pub T);\n\
         \n\
         /// EL2 and stage-2 page tables, generated for physical address {tb}.\n\
         // SAFETY: the section is placed by the linker script at the address the tables were generated for.\n\
         #[unsafe(link_section = \".hv_tables\")]\n\
         #[used]\n\
         pub static TABLES: PageAligned<[u8; {tn}]> = PageAligned(*include_bytes!(\"tables.bin\"));\n\
         \n\
         /// Pristine guest images, generated for physical address {ib}.\n\
         // SAFETY: the section is placed by the linker script at the address the tables were generated for.\n\
         #[unsafe(link_section = \".hv_images\")]\n\
         #[used]\n\
         pub static IMAGES: PageAligned<[u8; {im}]> = PageAligned(*include_bytes!(\"images.bin\"));\n",
        board = cfg.board_file.display(),
        system = cfg.system_file.display(),
        id = d.config_id,
        vms = d.vms.len(),
        vcpus = d.vcpus.len(),
        cpus = d.cpus.len(),
        maxv = max_vcpus_per_cpu,
        pools = d.elastic.len(),
        planned = d.elastic.iter().filter(|e| !e.plan.is_empty()).count(),
        timed = d.migrations.iter().any(|m| m.policy != MigratePolicy::Hint),
        migration_of = (0..d.vms.len())
            .map(|i| {
                d.migrations
                    .iter()
                    .position(|m| usize::from(m.vm) == i)
                    .map_or(u16::MAX, |p| p as u16)
            })
            .collect::<Vec<u16>>(),
        lit = system_literal(d),
        tb = hex(d.hv.tables_base),
        tn = plan.tables_blob.len(),
        ib = hex(d.hv.images_base),
        im = plan.layout.store.len(),
    )
}

/// The linker-script fragment.
pub fn memory_x(plan: &Plan) -> String {
    let h = &plan.desc.hv;
    let l = &plan.layout;
    let mut s = format!(
        "/* @generated by hv-config for system \"{}\" on board \"{}\". */\n",
        plan.desc.name, plan.desc.board
    );
    for (name, v) in [
        ("HV_BASE", h.image_base),
        ("HV_SIZE", h.image_size),
        ("HV_CODE_BASE", l.hv_code.base),
        ("HV_CODE_SIZE", l.hv_code.size),
        ("HV_RODATA_BASE", l.hv_rodata.base),
        ("HV_RODATA_SIZE", l.hv_rodata.size),
        ("HV_DATA_BASE", l.hv_data.base),
        ("HV_DATA_SIZE", l.hv_data.size),
        ("TABLES_BASE", h.tables_base),
        ("TABLES_SIZE", h.tables_size),
        ("IMAGES_BASE", h.images_base),
        ("IMAGES_SIZE", h.images_size),
    ] {
        s += &format!("{name} = {v:#x};\n");
    }
    s
}

/// Writes every output into `out`.
pub fn write_all(plan: &Plan, layout_text: &str, out: &Path) -> Result<(), ConfigError> {
    std::fs::create_dir_all(out).map_err(|source| ConfigError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    write_file(&out.join("tables.bin"), &plan.tables_blob)?;
    write_file(&out.join("images.bin"), &plan.layout.store)?;
    write_file(&out.join("system.rs"), system_rs(plan))?;
    write_file(&out.join("memory.x"), memory_x(plan))?;
    write_file(&out.join("layout.txt"), layout_text)
}
