//! Reads the system descriptor out of the linked image, field by field, through the
//! layout the image's DWARF gives, into an `hv_core::sysdesc::SystemDesc` (strings and
//! slices leaked: a certificate run decodes one descriptor).

use super::dwarf::Value;
use hv_core::sysdesc::*;

fn leak<T>(v: Vec<T>) -> &'static [T] {
    Vec::leak(v)
}

fn s(v: String) -> &'static str {
    Box::leak(v.into_boxed_str())
}

fn u16_(v: &Value, f: &str) -> Result<u16, String> {
    let x = v.u(f)?;
    u16::try_from(x).map_err(|_| format!("{f} = {x} does not fit 16 bits"))
}

fn u32_(v: &Value, f: &str) -> Result<u32, String> {
    let x = v.u(f)?;
    u32::try_from(x).map_err(|_| format!("{f} = {x} does not fit 32 bits"))
}

fn each<T>(
    v: &Value,
    f: &str,
    g: impl Fn(&Value) -> Result<T, String>,
) -> Result<&'static [T], String> {
    let items = v.slice(f)?;
    let mut out = Vec::with_capacity(items.len());
    for (i, it) in items.iter().enumerate() {
        out.push(g(it).map_err(|e| format!("{f}[{i}]: {e}"))?);
    }
    Ok(leak(out))
}

fn indices(v: &Value, f: &str) -> Result<&'static [u16], String> {
    each(v, f, |x| {
        let n = x.uint()?;
        u16::try_from(n).map_err(|_| format!("index {n} does not fit 16 bits"))
    })
}

fn image(v: &Value) -> Result<ImageDesc, String> {
    Ok(ImageDesc {
        store_pa: v.u("store_pa")?,
        size: v.u("size")?,
        load_ipa: v.u("load_ipa")?,
    })
}

fn option<T>(
    v: &Value,
    f: &str,
    g: impl Fn(&Value) -> Result<T, String>,
) -> Result<Option<T>, String> {
    optional(&v.field(f)?, f, g)
}

/// An `Option` value (a field's, or a slice element's).
fn optional<T>(
    v: &Value,
    f: &str,
    g: impl Fn(&Value) -> Result<T, String>,
) -> Result<Option<T>, String> {
    match v.active(f)? {
        (n, None) if n == "None" => Ok(None),
        (n, Some(p)) if n == "Some" => g(&p).map(Some).map_err(|e| format!("{f}: {e}")),
        (n, _) => Err(format!("{f}: unexpected variant {n}")),
    }
}

/// A `VmId` (a newtype around the raw index).
fn vm_id(v: &Value) -> Result<hv_core::ids::VmId, String> {
    let n = v.u("__0")?;
    u16::try_from(n)
        .map(hv_core::ids::VmId::new)
        .map_err(|_| format!("VM index {n} does not fit 16 bits"))
}

fn irq_route(i: &Value) -> Result<IrqRoute, String> {
    Ok(IrqRoute {
        intid: u32_(i, "intid")?,
        vm: u16_(i, "vm")?,
        virt_intid: u32_(i, "virt_intid")?,
    })
}

fn mmio_route(m: &Value) -> Result<MmioRoute, String> {
    let target = match m.variant("target")? {
        (n, None) if n == "Uart" => MmioTarget::Uart,
        (n, None) if n == "Gicd" => MmioTarget::Gicd,
        (n, None) if n == "Gicr" => MmioTarget::Gicr,
        (n, Some(k)) if n == "Reflected" => {
            let k = k.uint()?;
            MmioTarget::Reflected(u16::try_from(k).map_err(|_| format!("region {k}"))?)
        }
        (n, Some(k)) if n == "Extension" => {
            let k = k.uint()?;
            MmioTarget::Extension(u16::try_from(k).map_err(|_| format!("device {k}"))?)
        }
        (n, _) => return Err(format!("target: unexpected variant {n}")),
    };
    Ok(MmioRoute {
        base: m.u("base")?,
        size: m.u("size")?,
        target,
    })
}

fn vm(v: &Value) -> Result<VmDesc, String> {
    let restart = match v.variant("restart")?.0.as_str() {
        "Stop" => RestartPolicy::Stop,
        "Restart" => RestartPolicy::Restart,
        other => return Err(format!("restart: unknown policy {other}")),
    };
    Ok(VmDesc {
        name: s(v.string("name")?),
        vmid: u16_(v, "vmid")?,
        ram_ipa: v.u("ram_ipa")?,
        ram_pa: v.u("ram_pa")?,
        ram_size: v.u("ram_size")?,
        s2_root: v.u("s2_root")?,
        image: image(&v.field("image")?)?,
        initrd: option(v, "initrd", image)?,
        dtb: option(v, "dtb", image)?,
        entry_ipa: v.u("entry_ipa")?,
        vcpus: indices(v, "vcpus")?,
        console: v.flag("console")?,
        uart_ipa: v.u("uart_ipa")?,
        gicd_ipa: v.u("gicd_ipa")?,
        gicr_ipa: v.u("gicr_ipa")?,
        pmu: match v.variant("pmu")?.0.as_str() {
            "Hidden" => PmuAccess::Hidden,
            "Shared" => PmuAccess::Shared,
            "Virtual" => PmuAccess::Virtual,
            other => return Err(format!("pmu: unknown access {other}")),
        },
        restart,
        mmio: each(v, "mmio", mmio_route)?,
        spis: each(v, "spis", irq_route)?,
        owned_spis: each(v, "owned_spis", |x| {
            let n = x.uint()?;
            u32::try_from(n).map_err(|_| format!("INTID {n} does not fit 32 bits"))
        })?,
        peers: each(v, "peers", vm_id)?,
        emulates: indices(v, "emulates")?,
        lwvm: option(v, "lwvm", |l| {
            Ok(LwvmDesc {
                asid: u16_(l, "asid")?,
                root: l.u("root")?,
                stack_top: l.u("stack_top")?,
                channels_out: l.u("channels_out")?,
                channels_in: l.u("channels_in")?,
                shadow: option(l, "shadow", |sh| {
                    Ok(ShadowDesc {
                        slot: u8::try_from(sh.u("slot")?).map_err(|_| "slot".to_string())?,
                        pool: sh.u("pool")?,
                        pool_pages: u16_(sh, "pool_pages")?,
                        asid_first: u16_(sh, "asid_first")?,
                        roots: u8::try_from(sh.u("roots")?).map_err(|_| "roots".to_string())?,
                        grants: each(sh, "grants", |g| {
                            Ok(ShadowGrant {
                                gpa: g.u("gpa")?,
                                pa: g.u("pa")?,
                                size: g.u("size")?,
                                writable: g.flag("writable")?,
                                exec: g.flag("exec")?,
                                cached: g.flag("cached")?,
                                tables: g.flag("tables")?,
                            })
                        })?,
                    })
                })?,
            })
        })?,
    })
}

fn slot(v: &Value) -> Result<Slot, String> {
    let vcpu = option(v, "vcpu", |x| {
        let n = x.uint()?;
        u16::try_from(n).map_err(|_| format!("vCPU {n} does not fit 16 bits"))
    })?;
    let length = match v.variant("length")? {
        (n, Some(p)) if n == "Ticks" => SlotLength::Ticks(p.uint()?),
        (n, Some(p)) if n == "Micros" => SlotLength::Micros(p.uint()?),
        (n, _) => return Err(format!("length: unexpected variant {n}")),
    };
    Ok(Slot { vcpu, length })
}

/// The hypervisor UART's register interface (`DeviceDesc::uart_model`).
fn uart_model(dv: &Value) -> Result<UartModel, String> {
    let narrow = |r: &Value, f: &str| {
        let x = r.u(f)?;
        u8::try_from(x).map_err(|_| format!("uart_model.{f} = {x} does not fit 8 bits"))
    };
    match dv.variant("uart_model")? {
        (n, None) if n == "Pl011" => Ok(UartModel::Pl011),
        (n, Some(r)) if n == "Ns16550" => Ok(UartModel::Ns16550(Ns16550Regs {
            reg_shift: narrow(&r, "reg_shift")?,
            io_width: narrow(&r, "io_width")?,
        })),
        (n, _) => Err(format!("uart_model: unexpected variant {n}")),
    }
}

/// Decodes the `SystemDesc` at `v`.
pub fn system(v: &Value) -> Result<&'static SystemDesc, String> {
    let h = v.field("hv")?;
    let dv = v.field("devices")?;
    let d = SystemDesc {
        name: s(v.string("name")?),
        board: s(v.string("board")?),
        config_id: v.u("config_id")?,
        hv: HvDesc {
            image_base: h.u("image_base")?,
            image_size: h.u("image_size")?,
            tables_base: h.u("tables_base")?,
            tables_size: h.u("tables_size")?,
            images_base: h.u("images_base")?,
            images_size: h.u("images_size")?,
            ttbr0_el2: h.u("ttbr0_el2")?,
            tcr_el2: h.u("tcr_el2")?,
            mair_el2: h.u("mair_el2")?,
            vtcr_el2: h.u("vtcr_el2")?,
            e2h: h.flag("e2h")?,
        },
        devices: DeviceDesc {
            uart_base: dv.u("uart_base")?,
            uart_intid: u32_(&dv, "uart_intid")?,
            uart_model: uart_model(&dv)?,
            gicd_base: dv.u("gicd_base")?,
            gicr_base: dv.u("gicr_base")?,
            gicr_stride: dv.u("gicr_stride")?,
            maintenance_intid: u32_(&dv, "maintenance_intid")?,
            pmu_intid: u32_(&dv, "pmu_intid")?,
            vtimer_intid: u32_(&dv, "vtimer_intid")?,
            ptimer_intid: u32_(&dv, "ptimer_intid")?,
            hyp_timer_intid: u32_(&dv, "hyp_timer_intid")?,
            virtio_mmio_base: dv.u("virtio_mmio_base")?,
            virtio_mmio_stride: dv.u("virtio_mmio_stride")?,
            virtio_mmio_count: u32_(&dv, "virtio_mmio_count")?,
            virtio_mmio_intid: u32_(&dv, "virtio_mmio_intid")?,
        },
        cpus: each(v, "cpus", |c| {
            Ok(CpuDesc {
                mpidr: c.u("mpidr")?,
                cluster: u16_(c, "cluster")?,
                capacity: u16_(c, "capacity")?,
                busy_mw: u32_(c, "busy_mw")?,
                idle_mw: u32_(c, "idle_mw")?,
                midr: c.u("midr")?,
                schedule: indices(c, "schedule")?,
            })
        })?,
        vms: each(v, "vms", vm)?,
        vcpus: each(v, "vcpus", |c| {
            let p = c.u("priority")?;
            Ok(VcpuDesc {
                vm: u16_(c, "vm")?,
                index_in_vm: u16_(c, "index_in_vm")?,
                cpu: u16_(c, "cpu")?,
                cpus: indices(c, "cpus")?,
                vmpidr: c.u("vmpidr")?,
                priority: u8::try_from(p).map_err(|_| format!("priority {p}"))?,
            })
        })?,
        irqs: each(v, "irqs", irq_route)?,
        spi_routes: each(v, "spi_routes", |r| {
            optional(r, "route", |r| {
                Ok(SpiRoute {
                    vm: vm_id(&r.field("vm")?)?,
                    virt_intid: u32_(r, "virt_intid")?,
                })
            })
        })?,
        passthrough: each(v, "passthrough", |p| {
            Ok(Passthrough {
                name: s(p.string("name")?),
                vm: u16_(p, "vm")?,
                pa: p.u("pa")?,
                size: p.u("size")?,
                dma: p.flag("dma")?,
            })
        })?,
        channels: each(v, "channels", |c| {
            Ok(ChannelDesc {
                name: s(c.string("name")?),
                from: u16_(c, "from")?,
                to: u16_(c, "to")?,
                virt_intid: u32_(c, "virt_intid")?,
            })
        })?,
        shared: each(v, "shared", |x| {
            Ok(SharedDesc {
                name: s(x.string("name")?),
                pa: x.u("pa")?,
                size: x.u("size")?,
                maps: each(x, "maps", |m| {
                    Ok(SharedMap {
                        vm: u16_(m, "vm")?,
                        ipa: m.u("ipa")?,
                        writable: m.flag("writable")?,
                    })
                })?,
            })
        })?,
        slots: each(v, "slots", |t| {
            Ok(SlotTable {
                cpu: u16_(t, "cpu")?,
                slots: each(t, "slots", slot)?,
            })
        })?,
        emulated: each(v, "emulated", |e| {
            Ok(EmulatedDesc {
                vm: u16_(e, "vm")?,
                ipa: e.u("ipa")?,
                size: e.u("size")?,
                by: u16_(e, "by")?,
                virt_intid: u32_(e, "virt_intid")?,
                timeout_us: u32_(e, "timeout_us")?,
            })
        })?,
        elastic: each(v, "elastic", |e| {
            Ok(ElasticDesc {
                name: s(e.string("name")?),
                pa: e.u("pa")?,
                block_size: e.u("block_size")?,
                blocks: u32_(e, "blocks")?,
                holders: each(e, "holders", |h| {
                    Ok(ElasticHolder {
                        vm: u16_(h, "vm")?,
                        ipa: h.u("ipa")?,
                        initial: u32_(h, "initial")?,
                        virtio_ipa: option(h, "virtio_ipa", |v| v.uint())?,
                        roots: each(h, "roots", |r| r.uint())?,
                    })
                })?,
                manager: option(e, "manager", |m| {
                    let n = m.uint()?;
                    u16::try_from(n).map_err(|_| format!("index {n} does not fit 16 bits"))
                })?,
                virt_intid: u32_(e, "virt_intid")?,
                deadline_us: u32_(e, "deadline_us")?,
                plan: each(e, "plan", |m| {
                    let to = m.u("to")?;
                    Ok(PlannedMove {
                        at_us: m.u("at_us")?,
                        to: u8::try_from(to)
                            .map_err(|_| format!("holder {to} does not fit 8 bits"))?,
                        blocks: u32_(m, "blocks")?,
                    })
                })?,
            })
        })?,
        migrations: each(v, "migrations", |m| {
            let p = |f: &str| {
                let x = m.u(f)?;
                u8::try_from(x).map_err(|_| format!("{f} {x}"))
            };
            Ok(MigrateDesc {
                vm: u16_(m, "vm")?,
                policy: match m.variant("policy")?.0.as_str() {
                    "Hint" => MigratePolicy::Hint,
                    "Governor" => MigratePolicy::Governor,
                    "Plan" => MigratePolicy::Plan,
                    other => return Err(format!("policy: unknown policy {other}")),
                },
                window_us: u32_(m, "window_us")?,
                up: p("up")?,
                down: p("down")?,
                plan: each(m, "plan", |s| {
                    Ok(PlanStep {
                        cluster: u16_(s, "cluster")?,
                        us: u32_(s, "us")?,
                    })
                })?,
                per_cluster_midr: m.flag("per_cluster_midr")?,
            })
        })?,
    };
    Ok(Box::leak(Box::new(d)))
}
