//! The board description (`boards/<board>/board.toml`): what the hardware offers.
//!
//! Data only; [`crate::validate`] checks it together with the system that uses it. CPUs
//! are numbered across clusters in file order: `cpu = 2` in a system description is the
//! first CPU of the second cluster on `qemu-virt`.

use crate::error::ConfigError;
use crate::parse::parse_toml;
use crate::size::Size;
use hv_core::sysdesc::{Ns16550Regs, UartModel};
use serde::Deserialize;
use std::path::Path;

/// A whole board description.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Board {
    /// Board name (reported in the emitted description).
    pub name: String,
    /// Physical memory.
    pub memory: BoardMemory,
    /// CPU clusters, in boot order.
    pub cluster: Vec<Cluster>,
    /// Interrupt controller.
    pub gic: Gic,
    /// Generic timer interrupts.
    pub timer: Timer,
    /// The UART the hypervisor owns.
    pub uart: Uart,
    /// How the firmware's PSCI is called (default: SMC).
    #[serde(default)]
    pub psci: Psci,
    /// Optional virtio-mmio transport slots.
    #[serde(default)]
    pub virtio_mmio: Option<VirtioMmio>,
    /// Devices that can be given to a VM (`devices = [...]` in a system).
    #[serde(default)]
    pub device: Vec<Device>,
}

/// `[[device]]`: an MMIO window of whole 4 KiB pages and its SPIs, which one VM may own
/// (passed through: mapped in its stage 2, its interrupts hardware-linked). Ownership is
/// per page because stage 2 maps pages: a window smaller than a page (a virtio-mmio slot
/// is 0x200 bytes) is described as the page that holds it, with everything in it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Device {
    /// Name systems give it by.
    pub name: String,
    /// First byte (4K aligned).
    pub base: Size,
    /// Bytes (a multiple of 4K).
    pub size: Size,
    /// Its interrupts (SPIs); with `stride`, transport `i`'s is `intids[i]`.
    #[serde(default)]
    pub intids: Vec<u32>,
    /// `compatible` of its device-tree node(s).
    pub compatible: Vec<String>,
    /// Node name in the device tree (default: the device's name).
    #[serde(default)]
    pub node: Option<String>,
    /// The window holds `size / stride` transports, one device-tree node each (e.g. the
    /// eight virtio-mmio slots of a page); default: one node for the whole window.
    #[serde(default)]
    pub stride: Option<Size>,
    /// Its interrupts are edge-triggered in the device tree (QEMU's virtio-mmio);
    /// default level-high.
    #[serde(default)]
    pub edge: bool,
    /// It masters DMA: without an SMMU it reaches physical addresses, so only a VM with
    /// `identity = true` (RAM at IPA = PA) may own it.
    #[serde(default)]
    pub dma: bool,
}

/// RAM and the parts of it that must not be used.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BoardMemory {
    /// The RAM range.
    pub ram: Region,
    /// Ranges inside RAM that firmware or the loader use.
    #[serde(default)]
    pub reserved: Vec<Reserved>,
}

/// A physical address range.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Region {
    /// First byte.
    pub base: Size,
    /// Bytes.
    pub size: Size,
}

/// A reserved RAM range, with the reason.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Reserved {
    /// First byte.
    pub base: Size,
    /// Bytes.
    pub size: Size,
    /// Why it is reserved (shown in the memory map).
    #[serde(default)]
    pub why: Option<String>,
}

/// CPUs that share a micro-architecture.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Cluster {
    /// Cluster name.
    pub name: String,
    /// Relative capacity; 1024 is the largest core.
    pub capacity: u16,
    /// Energy model of one of its cores (`power = { busy-mw = 750, idle-mw = 40 }`):
    /// what big.LITTLE experiments estimate energy with. Absent: unknown (0).
    #[serde(default)]
    pub power: Power,
    /// MIDR_EL1 of its cores (`midr = 0x414f_d0b1`), what a VM with `midr = "per-cluster"`
    /// sees on it. Absent: unknown (such a VM is refused).
    #[serde(default)]
    pub midr: Option<u64>,
    /// Architecture features (`"vhe"`, …).
    #[serde(default)]
    pub features: Vec<String>,
    /// The CPUs.
    pub cpus: Vec<BoardCpu>,
}

/// A core's power draw, in milliwatts, running and idle (in WFI).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Power {
    /// Running.
    pub busy_mw: u32,
    /// Idle.
    pub idle_mw: u32,
}

/// One physical CPU.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BoardCpu {
    /// MPIDR affinity fields (bit 31 clear).
    pub mpidr: u64,
}

/// GICv3 description.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Gic {
    /// Architecture version (3).
    pub version: u8,
    /// Distributor frame.
    pub distributor: Region,
    /// Redistributor region.
    pub redistributor: Redistributor,
    /// Maintenance interrupt INTID.
    pub maintenance_intid: u32,
    /// The PMU's overflow interrupt INTID (a PPI); default 23, the SBSA assignment.
    #[serde(default = "default_pmu_intid")]
    pub pmu_intid: u32,
}

fn default_pmu_intid() -> u32 {
    23
}

/// GICv3 redistributor region.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Redistributor {
    /// First frame.
    pub base: Size,
    /// Bytes of the whole region.
    pub size: Size,
    /// Bytes between two CPUs' frames.
    pub stride: Size,
}

/// Generic timer PPIs.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Timer {
    /// Secure EL1 physical timer INTID: only described to Linux guests (their timer
    /// binding lists four PPIs); default 29, the SBSA assignment.
    #[serde(default = "default_secure_timer")]
    pub el1_secure_physical: u32,
    /// EL1 physical timer INTID.
    pub el1_physical: u32,
    /// EL1 virtual timer INTID.
    pub el1_virtual: u32,
    /// EL2 physical timer INTID.
    pub el2_physical: u32,
}

fn default_secure_timer() -> u32 {
    29
}

/// The hypervisor's console UART. Whatever the model, a VM's console is an emulated
/// PL011 at the same guest-physical address; only the hypervisor drives this one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Uart {
    /// Device model: `"pl011"` or `"ns16550"` (16550/8250-compatible, e.g. the
    /// DesignWare APB UART of Rockchip SoCs, `snps,dw-apb-uart`).
    pub model: String,
    /// MMIO base.
    pub base: Size,
    /// MMIO size.
    pub size: Size,
    /// INTID.
    pub intid: u32,
    /// `ns16550` only, the device tree's `reg-shift`: register `n` is at
    /// `base + (n << reg-shift)`; 0 (default) or 2.
    #[serde(default)]
    pub reg_shift: Option<u8>,
    /// `ns16550` only, the device tree's `reg-io-width`: bytes per access, 1 (default)
    /// or 4.
    #[serde(default)]
    pub reg_io_width: Option<u8>,
}

/// The UART models the hypervisor has a driver for (`[uart] model`).
pub const UART_MODELS: [&str; 2] = ["pl011", "ns16550"];

impl Uart {
    /// The register interface for the image, or `None` for a model without a driver
    /// (validation reports it).
    pub fn desc_model(&self) -> Option<UartModel> {
        match self.model.as_str() {
            "pl011" => Some(UartModel::Pl011),
            "ns16550" => Some(UartModel::Ns16550(Ns16550Regs {
                reg_shift: self.reg_shift.unwrap_or(0),
                io_width: self.reg_io_width.unwrap_or(1),
            })),
            _ => None,
        }
    }
}

/// `[psci]`: how the platform firmware's PSCI is reached.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Psci {
    /// `"smc"` (the device tree's `method`). Only SMC is accepted: the hypervisor runs at
    /// EL2, where an HVC would trap to itself.
    pub conduit: String,
}

impl Default for Psci {
    fn default() -> Self {
        Psci {
            conduit: "smc".into(),
        }
    }
}

/// virtio-mmio transport slots.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct VirtioMmio {
    /// First slot.
    pub base: Size,
    /// Bytes between slots.
    pub stride: Size,
    /// Number of slots.
    pub count: u32,
    /// INTID of the first slot.
    pub first_intid: u32,
}

impl VirtioMmio {
    /// The window all slots occupy, `(base, size)`, its size rounded up to whole 4K pages.
    pub fn window(&self) -> (u64, u64) {
        let size = self.stride.0 * u64::from(self.count);
        (self.base.0, size.div_ceil(0x1000) * 0x1000)
    }
}

impl Board {
    /// Parses a board description (`file` is used in errors).
    pub fn parse(file: &Path, text: &str) -> Result<Board, ConfigError> {
        parse_toml(file, text)
    }

    /// All CPUs in system numbering, with their cluster index.
    pub fn cpus(&self) -> Vec<(u16, &Cluster, BoardCpu)> {
        let mut out = Vec::new();
        for (i, c) in self.cluster.iter().enumerate() {
            for cpu in &c.cpus {
                out.push((i as u16, c, *cpu));
            }
        }
        out
    }

    /// End (exclusive) of RAM.
    pub fn ram_end(&self) -> u64 {
        self.memory
            .ram
            .base
            .0
            .saturating_add(self.memory.ram.size.0)
    }

    /// The virtio-mmio slot whose interrupt is `intid`, if any: the slots are the
    /// hypervisor's devices, so no VM may own their SPIs.
    pub fn virtio_slot_of_intid(&self, intid: u32) -> Option<u32> {
        let v = self.virtio_mmio.as_ref()?;
        (v.first_intid..v.first_intid + v.count)
            .contains(&intid)
            .then(|| intid - v.first_intid)
    }

    /// The board device called `name`.
    pub fn device(&self, name: &str) -> Option<&Device> {
        self.device.iter().find(|d| d.name == name)
    }

    /// INTIDs the hypervisor keeps for itself, with what they are for.
    pub fn hv_intids(&self) -> Vec<(u32, &'static str)> {
        vec![
            (self.uart.intid, "the hypervisor's UART"),
            (self.gic.maintenance_intid, "the GIC maintenance interrupt"),
            (self.timer.el1_physical, "the EL1 physical timer"),
            (self.timer.el1_virtual, "the EL1 virtual timer"),
            (self.timer.el2_physical, "the EL2 physical timer"),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_qemu_virt_board() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../boards/qemu-virt/board.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let b = Board::parse(&path, &text).unwrap();
        assert_eq!(b.cpus().len(), 4);
        assert_eq!(b.memory.ram.base.0, 0x4000_0000);
        assert_eq!(b.gic.redistributor.stride.0, 128 << 10);
        assert_eq!(b.ram_end(), 0x8000_0000);
    }

    #[test]
    fn unknown_board_key_names_file_and_position() {
        let text = "name = \"b\"\nbogus = 1\n";
        let e = Board::parse(Path::new("b.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("b.toml:2:1"), "{e}");
        assert!(e.contains("unknown field `bogus`"), "{e}");
    }
}
