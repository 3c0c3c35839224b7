//! The system description (`boards/<board>/systems/<system>.toml`): what runs on the board.
//!
//! The schema (every key kebab-case, unknown keys rejected):
//!
//! ```toml
//! name = "demo"                      # required
//! [hypervisor]
//! memory = "4M"                      # bytes for the hypervisor image; default 4M
//! vhe = false                        # run with HCR_EL2.E2H=1 (implied by [[lwvm]])
//!
//! [[vm]]
//! name = "rtos"                      # required, [A-Za-z0-9_-]+, unique
//! memory = "16M"                     # required, multiple of 4K
//! base = 0x5000_0000                 # optional fixed physical base (4K aligned)
//! ipa = 0x4000_0000                  # optional guest-physical RAM base; default board RAM base
//! image = "hello"                    # bare-metal payload at <images_dir>/hello …
//! entry = 0x4000_0000                # … optional, overrides the ELF's e_entry
//! # kernel = "Image"                 # … OR a kernel (+ initrd, bootargs)
//! # initrd = "initrd.cpio.gz"
//! # bootargs = "console=ttyAMA0"
//! dtb = true                         # generated device tree in x0; default: `kernel` only
//! vcpus = [{ cpu = 0, priority = 1 }]# required, non-empty; priority default 0
//!                                    # `cpus = [0, 2]` instead of `cpu`: the CPUs it may
//!                                    # run on, home first, one per cluster (feature
//!                                    # `big-little`, docs/BIGLITTLE.md)
//! console = true                     # emulated PL011; default false
//! irqs = [112]                       # physical SPIs owned by the VM; default none
//! devices = ["virtio-mmio-3"]        # board devices it owns (MMIO pages + their SPIs)
//! identity = true                    # RAM at IPA = PA (needed by a DMA device's owner)
//! restart = "stop"                   # "stop" (default) | "restart" on guest power-off
//! pmu = "hidden"                     # "hidden" (default) | "virtual": a PMU of its own
//!                                    # per vCPU, switched, never counting EL2 | "shared":
//!                                    # the physical PMU, not switched, shared with the
//!                                    # other "shared" VMs (for measurements: it leaks
//!                                    # their activity)
//!
//! [vm.big-little]                    # who moves its vCPUs between clusters
//! policy = "hint"                    # "hint" (default): the guest's BL_HINT hypercall
//!                                    # | "governor": utilisation over `window-us`
//! window-us = 10000                  #   (default 10 ms), up at >= `up` percent busy
//! up = 70                            #   (default 70), down at <= `down` (default 30)
//! down = 30                          # | "plan": the whole VM on each step's cluster
//! plan = [{ cluster = "big", us = 5000 }, { cluster = "little", us = 5000 }]
//! midr = "fixed"                     # "fixed" (default): one MIDR everywhere |
//!                                    # "per-cluster": the board's [[cluster]] midr
//!
//! [[lwvm]]                           # lightweight VM: an EL0 program, no kernel
//! name = "svc"                       # required, unique among VMs and lwVMs
//! memory = "1M"                      # required, multiple of 4K; at VA 0x40_0000_0000
//! base = 0x4f00_0000                 # optional fixed physical base
//! image = "lw-pong"                  # ELF linked at the lwVM VA (lwvm/sdk's lwvm.ld)
//! entry = 0x40_0000_0000             # optional, overrides e_entry
//! cpu = 0                            # required: the CPU it runs on
//! priority = 0                       # its place in that CPU's schedule; default 0
//! console = true                     # console syscall allowed; default true
//! restart = "stop"                   # on a fault: "stop" (default) | "restart"
//!
//! [[channel]]                        # `from` may raise SPI `intid` in `to`
//! name = "ping"; from = "a"; to = "b"; intid = 100   # no intid when `to` is an lwVM
//!
//! [[shared]]
//! name = "ring"; size = "64K"; base = 0x7000_0000   # base optional
//! maps = [{ vm = "a", ipa = 0x1000_0000, access = "rw" }]  # access default "rw"
//!
//! [[slots]]                          # time-partitioned CPU (optional)
//! cpu = 0
//! table = [{ vcpu = "a:0", us = 500 }, { vcpu = "b", ticks = 62500 }, { us = 100 }]
//!
//! [[emulated]]                       # accesses of `vm` to [base, base+size) are
//! vm = "linux"; base = 0x0a00_0000; size = "4K"; by = "drv"; intid = 101  # reflected to `by`
//! timeout-us = 10000                 # optional: abort the access after this long (default 10 ms)
//!
//! [[elastic]]                        # memory that moves between VMs (feature `balloon`)
//! name = "pool"; size = "16M"; blocks = 8         # blocks of 2 MiB multiples
//! vms = ["a", "b"]; ipa = 0x8000_0000            # 1 or 2 holders; window IPA in each
//! initial = [4, 0]; manager = "a"; intid = 120   # manager optional; intid: notification
//! deadline-us = 20000                # optional: revoke unreleased blocks after this long
//! ```
//!
//! Payload files (`image`, `kernel`, `initrd`): a plain name is a file in the images
//! directory (built guests); a value with a `/` is a path relative to this file's folder
//! (e.g. `"../../../target/linux/current/Image"`). A `kernel` VM also gets a generated
//! device tree (see [`crate::dtb`]); an `image` VM gets one with `dtb = true`. Either
//! key takes any of the formats QEMU's `-kernel` boots, told by the file's first bytes
//! ([`crate::image::Format`]): an ELF (loaded at the IPAs of its segments), a Linux
//! arm64 `Image` (at its `text_offset`), or a raw binary (at RAM + 0x80000, entered
//! there).
//!
//! VMs and lwVMs are both named in `[[channel]]` and `[[shared]]`. A channel into an lwVM
//! has no `intid`: the lwVM's `wait` syscall returns a bit mask of channel indices. A
//! shared map's `ipa` is a virtual address in an lwVM (inside its window, see
//! [`crate::lwvm`]).
//!
//! A slot's `vcpu` is `"vm"` (its vCPU 0) or `"vm:index"`; a slot without `vcpu` leaves
//! the CPU idle. Its length is given either in `us` (converted by the hypervisor with the
//! counter frequency it reads at boot) or in counter `ticks`, never both.

use crate::error::ConfigError;
use crate::parse::parse_toml;
use crate::size::{Size, parse_size};
use serde::Deserialize;
use std::path::Path;

/// Default bytes for the hypervisor image.
pub const DEFAULT_HV_MEMORY: u64 = 4 << 20;

/// A whole system description.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct System {
    /// System name.
    pub name: String,
    /// The hypervisor's own needs.
    #[serde(default)]
    pub hypervisor: Hypervisor,
    /// The VMs, in VMID order.
    #[serde(default)]
    pub vm: Vec<Vm>,
    /// vIRQ channels.
    #[serde(default)]
    pub channel: Vec<Channel>,
    /// Shared-memory regions.
    #[serde(default)]
    pub shared: Vec<Shared>,
    /// Per-CPU time-slot tables.
    #[serde(default)]
    pub slots: Vec<SlotTable>,
    /// Emulated (fault-reflected) regions.
    #[serde(default)]
    pub emulated: Vec<Emulated>,
    /// Lightweight VMs.
    #[serde(default)]
    pub lwvm: Vec<Lwvm>,
    /// Elastic memory pools (the `balloon` extension).
    #[serde(default)]
    pub elastic: Vec<Elastic>,
}

/// `[hypervisor]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Hypervisor {
    /// Bytes reserved for the hypervisor image (code, data, stacks).
    #[serde(default = "default_hv_memory")]
    pub memory: Size,
    /// Bytes of `memory` for code (`.text`, mapped read-only and executable at EL2);
    /// default a quarter of `memory`.
    #[serde(default)]
    pub code: Option<Size>,
    /// Bytes of `memory` for read-only data (`.rodata`, mapped read-only, execute-never);
    /// default a quarter of `memory`. The rest holds data, bss and stacks (read-write,
    /// execute-never).
    #[serde(default)]
    pub rodata: Option<Size>,
    /// Run with HCR_EL2.E2H=1 (VHE) even without lwVMs.
    #[serde(default)]
    pub vhe: bool,
}

impl Hypervisor {
    /// Bytes for code, read-only data and read-write data (in this order in memory).
    pub fn split(&self) -> (u64, u64, u64) {
        let quarter = (self.memory.0 / 4) & !0xfff;
        let code = self.code.map_or(quarter, |s| s.0);
        let rodata = self.rodata.map_or(quarter, |s| s.0);
        (code, rodata, self.memory.0.saturating_sub(code + rodata))
    }
}

fn default_hv_memory() -> Size {
    Size(DEFAULT_HV_MEMORY)
}

impl Default for Hypervisor {
    fn default() -> Self {
        Hypervisor {
            memory: default_hv_memory(),
            code: None,
            rodata: None,
            vhe: false,
        }
    }
}

/// `[[vm]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Vm {
    /// Unique name.
    pub name: String,
    /// Bytes of RAM.
    pub memory: Size,
    /// Fixed physical base of its RAM.
    #[serde(default)]
    pub base: Option<Size>,
    /// Guest-physical base of its RAM (default: the board's RAM base).
    #[serde(default)]
    pub ipa: Option<Size>,
    /// Bare-metal ELF image name (file in the images directory).
    #[serde(default)]
    pub image: Option<String>,
    /// Entry point override for `image`.
    #[serde(default)]
    pub entry: Option<Size>,
    /// Linux arm64 `Image` file.
    #[serde(default)]
    pub kernel: Option<String>,
    /// Initial RAM disk for `kernel`.
    #[serde(default)]
    pub initrd: Option<String>,
    /// Kernel command line for `kernel` (goes into the DTB).
    #[serde(default)]
    pub bootargs: Option<String>,
    /// Whether the VM is entered with a generated device tree's IPA in x0 (default:
    /// yes for `kernel`, no for `image`, whose x0 is then 0).
    #[serde(default)]
    pub dtb: Option<bool>,
    /// vCPUs and their placement.
    #[serde(default)]
    pub vcpus: Vec<VcpuPlacement>,
    /// Whether it gets an emulated console UART.
    #[serde(default)]
    pub console: bool,
    /// Physical INTIDs it owns.
    #[serde(default)]
    pub irqs: Vec<u32>,
    /// Board devices it owns (`[[device]]` names in the board).
    #[serde(default)]
    pub devices: Vec<String>,
    /// Its RAM at IPA = PA: a device it owns that masters DMA uses guest-physical
    /// addresses as physical ones (no SMMU). The toolkit places the RAM (top-down from
    /// the end of board RAM unless `base` is given) and uses the base as the IPA.
    #[serde(default)]
    pub identity: bool,
    /// What happens when the guest powers off.
    #[serde(default)]
    pub restart: Restart,
    /// Whether the VM may use the physical PMU.
    #[serde(default)]
    pub pmu: Pmu,
    /// How its vCPUs move between clusters (those with `cpus` lists).
    #[serde(default)]
    pub big_little: Option<BigLittle>,
}

/// `[vm.big-little]`: who decides on which cluster a VM's vCPUs run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BigLittle {
    /// The policy.
    #[serde(default)]
    pub policy: MigratePolicy,
    /// Governor window, microseconds.
    #[serde(default = "default_window_us")]
    pub window_us: u32,
    /// Governor: percent busy at or above which a vCPU moves up.
    #[serde(default = "default_up")]
    pub up: u8,
    /// Governor: percent busy at or below which a vCPU moves down.
    #[serde(default = "default_down")]
    pub down: u8,
    /// Plan steps (policy `plan`).
    #[serde(default)]
    pub plan: Vec<PlanStep>,
    /// What MIDR_EL1 the guest reads.
    #[serde(default)]
    pub midr: MidrView,
}

/// `[vm.big-little] midr`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MidrView {
    /// The same on every cluster (the CPU's own): transparent switching.
    #[default]
    Fixed,
    /// The board's `midr` of the cluster it is on.
    PerCluster,
}

fn default_window_us() -> u32 {
    10_000
}
fn default_up() -> u8 {
    70
}
fn default_down() -> u8 {
    30
}

/// `[vm.big-little] policy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MigratePolicy {
    /// The guest asks (BL_HINT).
    #[default]
    Hint,
    /// The hypervisor measures utilisation.
    Governor,
    /// A static time plan.
    Plan,
}

/// One step of `[vm.big-little] plan`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PlanStep {
    /// Cluster name (the board's `[[cluster]] name`).
    pub cluster: String,
    /// Microseconds on it.
    pub us: u32,
}

/// A VM's access to the performance monitors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pmu {
    /// ID_AA64DFR0_EL1.PMUVer reads 0 and every PMU register is UNDEFINED.
    #[default]
    Hidden,
    /// The physical PMU, passed through and not switched: every VM with this setting
    /// sees the counters of the others on its CPUs. For benchmark systems whose probes
    /// time themselves with the cycle counter.
    Shared,
    /// A PMU of its own per vCPU, switched with it: counts only while the vCPU runs and
    /// never at EL2; its device tree has the PMU node.
    Virtual,
}

/// One vCPU: the CPU it is pinned to (or the CPUs it may move among) and its priority.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct VcpuPlacement {
    /// Physical CPU (board numbering); exactly one of `cpu` and `cpus` is given
    /// (validation says so otherwise, and this reads as CPU 0 meanwhile).
    #[serde(default)]
    cpu: Option<u16>,
    /// The CPUs it may run on, its home first (feature `big-little`).
    #[serde(default)]
    pub cpus: Vec<u16>,
    /// Priority on its CPUs (higher runs first).
    #[serde(default)]
    pub priority: u8,
}

impl VcpuPlacement {
    /// A vCPU pinned to `cpu` (for tests and generated systems).
    pub fn pinned(cpu: u16, priority: u8) -> VcpuPlacement {
        VcpuPlacement {
            cpu: Some(cpu),
            cpus: Vec::new(),
            priority,
        }
    }
    /// Its home CPU: `cpu`, or the first of `cpus`.
    pub fn home(&self) -> u16 {
        self.cpu.or(self.cpus.first().copied()).unwrap_or(0)
    }
    /// Every CPU it may run on, home first.
    pub fn allowed(&self) -> Vec<u16> {
        match self.cpu {
            Some(c) => vec![c],
            None if self.cpus.is_empty() => vec![0],
            None => self.cpus.clone(),
        }
    }
    /// Whether it names both `cpu` and `cpus`, or neither (validation's error).
    pub fn ambiguous(&self) -> bool {
        self.cpu.is_some() != self.cpus.is_empty()
    }
    /// Whether it may move (lists more than one CPU).
    pub fn migratable(&self) -> bool {
        self.cpu.is_none() && self.cpus.len() > 1
    }
}

/// Power-off policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Restart {
    /// The VM stays off.
    #[default]
    Stop,
    /// The VM is reloaded from its pristine image and started again.
    Restart,
}

/// `[[channel]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Channel {
    /// Unique name.
    pub name: String,
    /// Sending VM.
    pub from: String,
    /// Receiving VM.
    pub to: String,
    /// SPI raised in `to` (required for a VM, absent for an lwVM).
    #[serde(default)]
    pub intid: Option<u32>,
}

/// `[[lwvm]]`: a lightweight VM.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Lwvm {
    /// Unique name (among VMs and lwVMs).
    pub name: String,
    /// Bytes of memory (image, data, stack at the top).
    pub memory: Size,
    /// Fixed physical base of its memory.
    #[serde(default)]
    pub base: Option<Size>,
    /// ELF image name (file in the images directory), linked at the lwVM window.
    pub image: String,
    /// Entry point override.
    #[serde(default)]
    pub entry: Option<Size>,
    /// The physical CPU it runs on.
    pub cpu: u16,
    /// Priority on that CPU (higher runs first).
    #[serde(default)]
    pub priority: u8,
    /// Whether its console syscall prints (tagged with its name).
    #[serde(default = "yes")]
    pub console: bool,
    /// What happens when it faults.
    #[serde(default)]
    pub restart: Restart,
    /// Who builds its address space: the toolkit (`static`, the default) or the lwVM
    /// itself (`shadow`: its own VMSAv8-64 tables, shadowed by the hypervisor; feature
    /// `shadow-paging`, docs/SHADOW.md).
    #[serde(default)]
    pub paging: Paging,
    /// Bytes of the shadow-table pool (`paging = "shadow"`): 4 KiB pages the hypervisor
    /// builds the tables the hardware walks in, never mapped to the lwVM.
    #[serde(default)]
    pub shadow_pool: Option<Size>,
    /// Shadow roots cached at once (`paging = "shadow"`): address spaces (guest TTBR0 and
    /// ASID) the lwVM can switch between without a rebuild; each has a hardware ASID.
    #[serde(default)]
    pub shadow_roots: Option<u8>,
}

/// `[[lwvm]] paging`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Paging {
    /// Pregenerated tables: its memory and shared regions, fixed at build time.
    #[default]
    Static,
    /// Guest-managed tables, shadowed from a static pool.
    Shadow,
}

impl Lwvm {
    /// Default shadow pool: 64 KiB (16 table pages).
    pub const SHADOW_POOL_DEFAULT: u64 = 64 << 10;
    /// Default number of cached shadow roots.
    pub const SHADOW_ROOTS_DEFAULT: u8 = 4;

    /// Bytes of its shadow pool (0 for static paging).
    pub fn shadow_pool_bytes(&self) -> u64 {
        match self.paging {
            Paging::Static => 0,
            Paging::Shadow => self.shadow_pool.map_or(Self::SHADOW_POOL_DEFAULT, |s| s.0),
        }
    }

    /// Shadow roots it caches (0 for static paging).
    pub fn shadow_root_count(&self) -> u8 {
        match self.paging {
            Paging::Static => 0,
            Paging::Shadow => self.shadow_roots.unwrap_or(Self::SHADOW_ROOTS_DEFAULT),
        }
    }
}

fn yes() -> bool {
    true
}

/// `[[shared]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Shared {
    /// Unique name.
    pub name: String,
    /// Bytes.
    pub size: Size,
    /// Fixed physical base.
    #[serde(default)]
    pub base: Option<Size>,
    /// Who maps it.
    #[serde(default)]
    pub maps: Vec<SharedMap>,
}

/// One mapping of a shared region.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SharedMap {
    /// The VM.
    pub vm: String,
    /// Guest-physical base in that VM.
    pub ipa: Size,
    /// Rights.
    #[serde(default)]
    pub access: Access,
}

/// Access rights of a shared mapping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Read-only.
    Ro,
    /// Read-write.
    #[default]
    Rw,
}

/// `[[slots]]`: a CPU's cyclic time-slot table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SlotTable {
    /// Physical CPU.
    pub cpu: u16,
    /// Slots in order; the table repeats.
    pub table: Vec<Slot>,
}

/// One slot.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Slot {
    /// `"vm"` or `"vm:index"`; absent = idle.
    #[serde(default)]
    pub vcpu: Option<String>,
    /// Length in microseconds.
    #[serde(default)]
    pub us: Option<u64>,
    /// Length in counter ticks.
    #[serde(default)]
    pub ticks: Option<u64>,
}

/// `[[emulated]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Emulated {
    /// The VM whose accesses trap.
    pub vm: String,
    /// Guest-physical base.
    pub base: Size,
    /// Bytes.
    pub size: Size,
    /// The VM that handles them.
    pub by: String,
    /// SPI raised in `by` when an access is reflected.
    pub intid: u32,
    /// Microseconds an access may wait for `by` before the faulting vCPU gets an external
    /// abort (also at once when `by` is off). Default [`Emulated::DEFAULT_TIMEOUT_US`].
    pub timeout_us: Option<u32>,
}

/// `[[elastic]]`: a pool of memory blocks that move between VMs at run time by switching
/// among stage-2 table sets generated offline (see [`crate::balloon`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Elastic {
    /// Unique name.
    pub name: String,
    /// Bytes of the whole pool.
    pub size: Size,
    /// Blocks it is split into (`size / blocks` a multiple of 2 MiB).
    pub blocks: u32,
    /// Its holders (one or two full VMs): the first holds the lowest blocks, the second
    /// the highest.
    pub vms: Vec<String>,
    /// Guest-physical base of the pool's window in every holder.
    pub ipa: Size,
    /// Fixed physical base of the pool.
    #[serde(default)]
    pub base: Option<Size>,
    /// Blocks each holder holds at boot (same order as `vms`); default none.
    #[serde(default)]
    pub initial: Vec<u32>,
    /// The VM whose hypercalls may move blocks between the holders.
    #[serde(default)]
    pub manager: Option<String>,
    /// SPI raised in a holder when it must release blocks or was given some (and in the
    /// manager when a holder asks for more than is free).
    pub intid: u32,
    /// Microseconds a holder has to release blocks it was asked for before they are
    /// revoked. Default [`Elastic::DEFAULT_DEADLINE_US`].
    #[serde(default)]
    pub deadline_us: Option<u32>,
    /// Moves the hypervisor makes by itself at fixed times, as a manager's BALLOON_MOVE
    /// would (a scripted scenario); in time order.
    #[serde(default)]
    pub plan: Vec<PlannedMove>,
    /// The holder that sees the pool as a virtio-mem device (a Linux VM): its driver plugs
    /// and unplugs the blocks it is given and asked for.
    #[serde(default)]
    pub virtio_mem: Option<VirtioMem>,
}

/// `[[elastic]] virtio-mem`: which holder sees the pool as a virtio-mem device, and where
/// its virtio-mmio registers are.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct VirtioMem {
    /// The holder (one of `vms`).
    pub vm: String,
    /// Guest-physical base of the device's 512-byte register window (4 KiB aligned;
    /// default [`VirtioMem::DEFAULT_IPA`]).
    #[serde(default)]
    pub ipa: Option<Size>,
}

impl VirtioMem {
    /// Where the registers are unless the file says: a page no board device of the
    /// qemu-virt board uses (between the virtio-mmio transports and the platform bus).
    pub const DEFAULT_IPA: u64 = 0x0b00_0000;

    /// The register window's base.
    pub fn ipa(&self) -> u64 {
        self.ipa.map_or(Self::DEFAULT_IPA, |s| s.0)
    }
}

/// One step of `[[elastic]] plan`: at `at-ms` after the hypervisor starts, move `blocks`
/// blocks to holder `to` (free blocks first, the rest asked of the other holder).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PlannedMove {
    /// Milliseconds after the hypervisor's run loops start.
    pub at_ms: u32,
    /// The holder that receives the blocks.
    pub to: String,
    /// How many.
    pub blocks: u32,
}

impl Elastic {
    /// 20 ms: a guest's balloon handler runs in microseconds; a guest that has not
    /// answered by then is not going to.
    pub const DEFAULT_DEADLINE_US: u32 = 20_000;
}

impl Emulated {
    /// 10 ms: far above a driver VM's service time (tens of microseconds), short enough that a
    /// faulting VM does not look hung.
    pub const DEFAULT_TIMEOUT_US: u32 = 10_000;
}

impl System {
    /// Parses a system description (`file` is used in errors).
    pub fn parse(file: &Path, text: &str) -> Result<System, ConfigError> {
        parse_toml(file, text)
    }

    /// Index of the VM called `name`.
    pub fn vm_index(&self, name: &str) -> Option<usize> {
        self.vm.iter().position(|v| v.name == name)
    }

    /// Index of the lwVM called `name` (in `lwvm`).
    pub fn lwvm_index(&self, name: &str) -> Option<usize> {
        self.lwvm.iter().position(|v| v.name == name)
    }

    /// The index of the VM or lwVM called `name` in the emitted description's `vms`
    /// (full VMs first, then lwVMs).
    pub fn party_index(&self, name: &str) -> Option<usize> {
        self.vm_index(name)
            .or_else(|| self.lwvm_index(name).map(|i| self.vm.len() + i))
    }

    /// Whether `name` is an lwVM.
    pub fn is_lwvm(&self, name: &str) -> bool {
        self.lwvm_index(name).is_some()
    }
}

/// Splits a slot's `vcpu` reference into VM name and vCPU index.
pub fn parse_vcpu_ref(text: &str) -> Option<(&str, usize)> {
    match text.split_once(':') {
        None => Some((text, 0)),
        Some((vm, idx)) => parse_size(idx)
            .and_then(|i| usize::try_from(i).ok())
            .map(|i| (vm, i)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hello() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../boards/qemu-virt/systems/hello.toml");
        let s = System::parse(&path, &std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(s.vm.len(), 1);
        assert_eq!(s.vm[0].memory.0, 16 << 20);
        assert_eq!(s.vm[0].vcpus[0].priority, 0);
        assert_eq!(s.vm[0].restart, Restart::Stop);
    }

    #[test]
    fn bad_size_names_field_path() {
        let text = "name = \"x\"\n[[vm]]\nname = \"a\"\nmemory = \"1M\"\n[[vm]]\nname = \"b\"\nmemory = \"16Q\"\n";
        let e = System::parse(Path::new("x.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("x.toml:7:10: vm[1].memory: size \"16Q\" is not"),
            "{e}"
        );
    }

    #[test]
    fn unknown_key_is_rejected_with_path() {
        let text = "name = \"x\"\n[[vm]]\nname = \"a\"\nmemory = \"1M\"\nmemroy = 1\n";
        let e = System::parse(Path::new("x.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.toml:5:1"), "{e}");
        assert!(e.contains("unknown field `memroy`"), "{e}");
    }

    #[test]
    fn vcpu_refs() {
        assert_eq!(parse_vcpu_ref("a"), Some(("a", 0)));
        assert_eq!(parse_vcpu_ref("a:2"), Some(("a", 2)));
        assert_eq!(parse_vcpu_ref("a:x"), None);
    }
}
