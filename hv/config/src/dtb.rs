//! Device trees for Linux guests: what an unmodified kernel needs to know about its VM,
//! written as a flattened DTB (with `vm-fdt`) before boot.
//!
//! The tree describes the *VM*, not the board: its RAM at its IPA, one `cpu` node per
//! vCPU (`reg` = the affinity the guest reads from MPIDR_EL1, i.e. its index in the VM),
//! PSCI through HVC (the hypervisor implements it), the emulated GICv3 with exactly one
//! redistributor frame per vCPU, the generic timer's PPIs, the emulated PL011 (only for
//! a VM with `console = true`) with a fixed 24 MHz clock, and `/chosen` with the command
//! line and the initrd's IPA range, and a node for each board device the VM owns
//! (`devices`), at its physical address (mapped at IPA = PA). Addresses of the emulated devices are the board's
//! (the hypervisor presents them at the same IPAs as on the board).
//!
//! The blob is placed by [`crate::payload`] at the first 2 MiB boundary after the
//! initrd (or the kernel): the arm64 boot protocol asks for 8-byte alignment and a blob
//! of at most 2 MiB that does not share a 2 MiB block with memory of other attributes.

use crate::config::Config;
use vm_fdt::{Error, FdtWriter};

/// phandle of the GIC node.
pub const PHANDLE_GIC: u32 = 1;
/// phandle of the UART's fixed clock.
pub const PHANDLE_CLK: u32 = 2;
/// Frequency of the fixed clock feeding the PL011 (QEMU's `apb-pclk`).
pub const UART_CLOCK_HZ: u32 = 24_000_000;
/// Largest DTB the boot protocol allows.
pub const MAX_DTB: u64 = 2 << 20;

/// GIC interrupt specifier types (first cell).
const GIC_SPI: u32 = 0;
const GIC_PPI: u32 = 1;
/// `IRQ_TYPE_LEVEL_HIGH` (third cell).
const LEVEL_HIGH: u32 = 4;
/// `IRQ_TYPE_EDGE_RISING` (third cell).
const EDGE_RISING: u32 = 1;

fn ppi(intid: u32) -> [u32; 3] {
    [GIC_PPI, intid.saturating_sub(16), LEVEL_HIGH]
}

fn spi(intid: u32) -> [u32; 3] {
    [GIC_SPI, intid.saturating_sub(32), LEVEL_HIGH]
}

/// Name of the UART node (also the `stdout-path`).
pub fn uart_path(cfg: &Config) -> String {
    format!("/pl011@{:x}", cfg.board.uart.base.0)
}

/// A device the hypervisor emulates for a VM on behalf of an extension (e.g. the
/// balloon's virtio-mem device), as its node in the VM's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestDevice {
    /// Node name (`virtio_mmio`); the unit address is appended.
    pub node: String,
    /// `compatible` strings.
    pub compatible: Vec<String>,
    /// Guest-physical base and bytes of its register window.
    pub base: u64,
    /// Bytes of its register window.
    pub size: u64,
    /// Its SPI (INTID), edge-triggered.
    pub intid: u32,
    /// Whether it reaches the VM's memory coherently (`dma-coherent`).
    pub dma_coherent: bool,
}

/// Builds the DTB of Linux VM `vm`; `initrd` is its `[start, end)` IPA range, if any;
/// `emulated` are the extensions' devices of this VM.
pub fn guest_dtb(
    cfg: &Config,
    vm: usize,
    initrd: Option<(u64, u64)>,
    emulated: &[GuestDevice],
) -> Result<Vec<u8>, Error> {
    let v = &cfg.system.vm[vm];
    let mut f = FdtWriter::new()?;
    let root = f.begin_node("")?;
    f.property_string("compatible", "linux,dummy-virt")?;
    f.property_string("model", &format!("{} vm {}", cfg.board.name, v.name))?;
    f.property_u32("#address-cells", 2)?;
    f.property_u32("#size-cells", 2)?;
    f.property_u32("interrupt-parent", PHANDLE_GIC)?;

    let chosen = f.begin_node("chosen")?;
    if let Some(args) = &v.bootargs {
        f.property_string("bootargs", args)?;
    }
    if v.console {
        f.property_string("stdout-path", &uart_path(cfg))?;
    }
    if let Some((start, end)) = initrd {
        f.property_u64("linux,initrd-start", start)?;
        f.property_u64("linux,initrd-end", end)?;
    }
    f.end_node(chosen)?;

    if v.console {
        let aliases = f.begin_node("aliases")?;
        f.property_string("serial0", &uart_path(cfg))?;
        f.end_node(aliases)?;
    }

    let ipa = cfg.vm_ipa(vm);
    let memory = f.begin_node(&format!("memory@{ipa:x}"))?;
    f.property_string("device_type", "memory")?;
    f.property_array_u64("reg", &[ipa, v.memory.0])?;
    f.end_node(memory)?;

    cpus(&mut f, v.vcpus.len())?;

    let psci = f.begin_node("psci")?;
    f.property_string_list(
        "compatible",
        vec!["arm,psci-1.0".into(), "arm,psci-0.2".into()],
    )?;
    f.property_string("method", "hvc")?;
    f.end_node(psci)?;

    gic(&mut f, cfg, v.vcpus.len() as u64)?;
    timer(&mut f, cfg)?;
    if v.pmu == crate::system::Pmu::Virtual {
        // Its own PMU, the overflow interrupt hardware-linked to the vCPU that runs.
        let pmu = f.begin_node("pmu")?;
        f.property_string("compatible", "arm,armv8-pmuv3")?;
        f.property_array_u32("interrupts", &ppi(cfg.board.gic.pmu_intid))?;
        f.end_node(pmu)?;
    }
    if v.console {
        uart(&mut f, cfg)?;
    }
    for d in cfg.devices_of(vm) {
        device(&mut f, d)?;
    }
    for d in emulated {
        let node = f.begin_node(&format!("{}@{:x}", d.node, d.base))?;
        f.property_string_list("compatible", d.compatible.clone())?;
        f.property_array_u64("reg", &[d.base, d.size])?;
        f.property_array_u32(
            "interrupts",
            &[GIC_SPI, d.intid.saturating_sub(32), EDGE_RISING],
        )?;
        if d.dma_coherent {
            f.property_null("dma-coherent")?;
        }
        f.end_node(node)?;
    }
    f.end_node(root)?;
    f.finish()
}

fn cpus(f: &mut FdtWriter, n: usize) -> Result<(), Error> {
    let cpus = f.begin_node("cpus")?;
    f.property_u32("#address-cells", 1)?;
    f.property_u32("#size-cells", 0)?;
    for k in 0..n {
        let cpu = f.begin_node(&format!("cpu@{k:x}"))?;
        f.property_string("device_type", "cpu")?;
        f.property_string("compatible", "arm,armv8")?;
        f.property_u32("reg", k as u32)?;
        f.property_string("enable-method", "psci")?;
        f.end_node(cpu)?;
    }
    f.end_node(cpus)
}

fn gic(f: &mut FdtWriter, cfg: &Config, nvcpus: u64) -> Result<(), Error> {
    let g = &cfg.board.gic;
    let gicd = g.distributor.base.0;
    let intc = f.begin_node(&format!("intc@{gicd:x}"))?;
    f.property_string("compatible", "arm,gic-v3")?;
    f.property_u32("#interrupt-cells", 3)?;
    f.property_u32("#address-cells", 0)?;
    f.property_null("interrupt-controller")?;
    f.property_array_u64(
        "reg",
        &[
            gicd,
            g.distributor.size.0,
            g.redistributor.base.0,
            nvcpus * g.redistributor.stride.0,
        ],
    )?;
    f.property_array_u32("interrupts", &ppi(g.maintenance_intid))?;
    f.property_phandle(PHANDLE_GIC)?;
    f.end_node(intc)
}

fn timer(f: &mut FdtWriter, cfg: &Config) -> Result<(), Error> {
    let t = &cfg.board.timer;
    let node = f.begin_node("timer")?;
    f.property_string("compatible", "arm,armv8-timer")?;
    // Binding order: secure physical, non-secure physical, virtual, hypervisor.
    let cells: Vec<u32> = [
        t.el1_secure_physical,
        t.el1_physical,
        t.el1_virtual,
        t.el2_physical,
    ]
    .into_iter()
    .flat_map(ppi)
    .collect();
    f.property_array_u32("interrupts", &cells)?;
    f.end_node(node)
}

/// A passed-through board device: one node per transport (`stride`) or one for the
/// window, at the board's addresses (the VM maps them at IPA = PA).
fn device(f: &mut FdtWriter, d: &crate::board::Device) -> Result<(), Error> {
    let (base, size) = (d.base.0, d.size.0);
    let step = d.stride.map_or(size, |s| s.0).max(1);
    let name = d.node.as_deref().unwrap_or(&d.name);
    let flags = if d.edge { EDGE_RISING } else { LEVEL_HIGH };
    let per_node = if d.stride.is_some() {
        1
    } else {
        d.intids.len()
    };
    for (k, at) in (base..base + size).step_by(step as usize).enumerate() {
        let node = f.begin_node(&format!("{name}@{at:x}"))?;
        f.property_string_list("compatible", d.compatible.clone())?;
        f.property_array_u64("reg", &[at, step])?;
        let cells: Vec<u32> = d
            .intids
            .iter()
            .skip(k * per_node)
            .take(per_node)
            .flat_map(|&i| [GIC_SPI, i.saturating_sub(32), flags])
            .collect();
        if !cells.is_empty() {
            f.property_array_u32("interrupts", &cells)?;
        }
        if d.dma {
            f.property_null("dma-coherent")?;
        }
        f.end_node(node)?;
    }
    Ok(())
}

fn uart(f: &mut FdtWriter, cfg: &Config) -> Result<(), Error> {
    let clk = f.begin_node("apb-pclk")?;
    f.property_string("compatible", "fixed-clock")?;
    f.property_u32("#clock-cells", 0)?;
    f.property_u32("clock-frequency", UART_CLOCK_HZ)?;
    f.property_string("clock-output-names", "clk24mhz")?;
    f.property_phandle(PHANDLE_CLK)?;
    f.end_node(clk)?;

    let u = &cfg.board.uart;
    let node = f.begin_node(&format!("pl011@{:x}", u.base.0))?;
    f.property_string_list(
        "compatible",
        vec!["arm,pl011".into(), "arm,primecell".into()],
    )?;
    f.property_array_u64("reg", &[u.base.0, u.size.0])?;
    f.property_array_u32("interrupts", &spi(u.intid))?;
    f.property_array_u32("clocks", &[PHANDLE_CLK, PHANDLE_CLK])?;
    f.property_string_list("clock-names", vec!["uartclk".into(), "apb_pclk".into()])?;
    f.end_node(node)
}
