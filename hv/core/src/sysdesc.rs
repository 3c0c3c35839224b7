//! The static system description: the typed hand-off from the offline configuration
//! toolkit (`hv-config`) to the hypervisor image.
//!
//! `hv-config` emits one `pub static SYSTEM: SystemDesc = …;` literal built from these
//! types into the image build's `OUT_DIR`. Nothing here is created or changed at run
//! time: the hypervisor only reads it. Indices are positions in the slices of
//! [`SystemDesc`]; the accessors below turn them into the typed ids of [`crate::ids`].
use crate::ids::{CpuId, VcpuId, VmId};

/// Index of a physical CPU in [`SystemDesc::cpus`].
pub type CpuIndex = u16;
/// Index of a VM in [`SystemDesc::vms`]; the VMID programmed into VTTBR_EL2 is
/// [`VmDesc::vmid`].
pub type VmIndex = u16;
/// Index of a vCPU in [`SystemDesc::vcpus`].
pub type VcpuIndex = u16;

/// The whole system, as decided before boot.
#[derive(Debug)]
pub struct SystemDesc {
    /// Name of the system description (the TOML file's `name`).
    pub name: &'static str,
    /// Name of the board the system was laid out for.
    pub board: &'static str,
    /// Hash of the board and system descriptions and the guest images (FNV-1a 64):
    /// identifies the configuration in telemetry and logs.
    pub config_id: u64,
    /// The hypervisor's own memory and translation set-up.
    pub hv: HvDesc,
    /// Devices the hypervisor drives itself.
    pub devices: DeviceDesc,
    /// Every physical CPU of the board, in board order (index 0 boots first); a CPU with an
    /// empty schedule has nothing to run.
    pub cpus: &'static [CpuDesc],
    /// Every VM: the full VMs in configuration order, then the lightweight VMs
    /// ([`VmDesc::lwvm`] is `Some`), so that channels and shared regions name both kinds
    /// by one index.
    pub vms: &'static [VmDesc],
    /// Every vCPU of every VM.
    pub vcpus: &'static [VcpuDesc],
    /// Physical interrupt dispatch: one entry per physical INTID routed to a VM (its
    /// `irqs` and the SPIs of the devices it owns), grouped by VM in VM order; each is
    /// hardware-linked to the VM's virtual interrupt, so the guest's deactivation ends
    /// the physical one.
    pub irqs: &'static [IrqRoute],
    /// The same routes indexed by physical INTID − 32 (entry `i` is SPI `32 + i`, `None`
    /// when no VM owns it), up to the highest routed SPI: what a physical interrupt
    /// looks up ([`SystemDesc::spi_route`]) instead of searching `irqs`.
    pub spi_routes: &'static [Option<SpiRoute>],
    /// Board device pages given to VMs (mapped at IPA = PA in the owner's stage 2, absent
    /// from the hypervisor's map).
    pub passthrough: &'static [Passthrough],
    /// vIRQ channels allowed between VMs.
    pub channels: &'static [ChannelDesc],
    /// Shared-memory regions (also mapped in the stage-2 tables of the VMs that name them).
    pub shared: &'static [SharedDesc],
    /// Time-slot tables of the CPUs that are time-partitioned (at most one per CPU); a CPU
    /// without one runs its [`CpuDesc::schedule`] by priority.
    pub slots: &'static [SlotTable],
    /// Guest-physical ranges whose accesses are reflected to another VM (left unmapped in
    /// the stage-2 tables of `vm`, so every access traps).
    pub emulated: &'static [EmulatedDesc],
    /// Elastic memory pools (the `balloon` extension): blocks that move between VMs by
    /// switching among stage-2 table sets generated offline.
    pub elastic: &'static [ElasticDesc],
    /// VMs whose vCPUs may move between clusters (the `big-little` extension), one entry
    /// per such VM in VM order; a VM not listed keeps every vCPU on [`VcpuDesc::cpu`].
    pub migrations: &'static [MigrateDesc],
}

/// Memory and translation set-up of the hypervisor (EL2 stage 1).
#[derive(Debug)]
pub struct HvDesc {
    /// Physical base of the hypervisor image (code, data, stacks).
    pub image_base: u64,
    /// Bytes reserved for the image.
    pub image_size: u64,
    /// Physical base of the pregenerated page-table area.
    pub tables_base: u64,
    /// Bytes of the table area.
    pub tables_size: u64,
    /// Physical base of the pristine guest images.
    pub images_base: u64,
    /// Bytes of the guest image store.
    pub images_size: u64,
    /// Physical address of the EL2 stage-1 root table (TTBR0_EL2).
    pub ttbr0_el2: u64,
    /// Value for TCR_EL2 (E2H=0 layout) matching the generated tables.
    pub tcr_el2: u64,
    /// Value for MAIR_EL2 matching the attribute indices used in the tables.
    pub mair_el2: u64,
    /// Value for VTCR_EL2 matching every VM's stage-2 tables.
    pub vtcr_el2: u64,
    /// The tables and `tcr_el2` are for HCR_EL2.E2H=1 (ARMv8.1 VHE: the EL2&0 regime,
    /// TCR_EL1 layout, AP\[1\] = EL0 access, UXN/PXN): the image must be built with the
    /// `lwvm` feature. `false`: the classic E2H=0 EL2 regime.
    pub e2h: bool,
}

/// Devices the hypervisor owns. All addresses are physical.
#[derive(Debug)]
pub struct DeviceDesc {
    /// UART the hypervisor writes its console (and telemetry) to, and reads console
    /// input from.
    pub uart_base: u64,
    /// Its interrupt (INTID).
    pub uart_intid: u32,
    /// Its register interface: the image picks the driver from this constant, so a
    /// board's choice costs nothing at run time.
    pub uart_model: UartModel,
    /// GICv3 distributor.
    pub gicd_base: u64,
    /// GICv3 redistributor region (first frame).
    pub gicr_base: u64,
    /// Bytes between two CPUs' redistributor frames.
    pub gicr_stride: u64,
    /// GIC maintenance interrupt (INTID of the PPI).
    pub maintenance_intid: u32,
    /// PMU overflow interrupt (INTID of the PPI), hardware-linked to a vCPU with a
    /// virtual PMU.
    pub pmu_intid: u32,
    /// EL1 virtual timer interrupt (INTID of the PPI).
    pub vtimer_intid: u32,
    /// EL1 physical timer interrupt (INTID of the PPI).
    pub ptimer_intid: u32,
    /// EL2 physical timer interrupt (INTID of the PPI).
    pub hyp_timer_intid: u32,
    /// virtio-mmio transport slots (mapped at EL2 as device memory, never into a VM):
    /// first slot, bytes between slots, number of slots (0: the board has none).
    pub virtio_mmio_base: u64,
    pub virtio_mmio_stride: u64,
    pub virtio_mmio_count: u32,
    /// INTID of the first virtio-mmio slot (slot `i` raises this + `i`): SPIs no VM may own.
    pub virtio_mmio_intid: u32,
}

/// Register interface of the hypervisor's UART (the board's `[uart] model`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UartModel {
    /// Arm PL011 (QEMU `virt`).
    Pl011,
    /// 16550/8250-compatible (`ns16550a`, Synopsys DesignWare APB UART on Rockchip SoCs),
    /// with its register placement.
    Ns16550(Ns16550Regs),
}

/// Where a 16550's registers lie: register `n` is at `base + (n << reg_shift)`, accessed
/// `io_width` bytes wide (the device tree's `reg-shift` and `reg-io-width`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ns16550Regs {
    /// log2 of the bytes between two registers: 0 (packed) or 2 (one per 32-bit word).
    pub reg_shift: u8,
    /// Access width in bytes: 1 or 4 (a DesignWare APB UART needs 32-bit accesses).
    pub io_width: u8,
}

/// One physical CPU.
#[derive(Debug)]
pub struct CpuDesc {
    /// MPIDR_EL1 affinity fields (Aff3..Aff0, bit 31 clear) — the PSCI CPU_ON target.
    pub mpidr: u64,
    /// Index of the cluster in the board description.
    pub cluster: u16,
    /// Relative capacity (big.LITTLE); 1024 is the largest core.
    pub capacity: u16,
    /// Its cluster's energy model: milliwatts running and idle (0: not given).
    pub busy_mw: u32,
    pub idle_mw: u32,
    /// Its cluster's MIDR from the board (0: not given), what a VM with a per-cluster
    /// MIDR sees on it ([`MigrateDesc::per_cluster_midr`]).
    pub midr: u64,
    /// vCPUs placed on this CPU, highest priority first (the static schedule).
    pub schedule: &'static [VcpuIndex],
}

/// One virtual machine.
#[derive(Debug)]
pub struct VmDesc {
    /// Name from the system description; used to tag console output.
    pub name: &'static str,
    /// VMID programmed into VTTBR_EL2 (never 0: 0 is left unused).
    pub vmid: u16,
    /// Guest-physical (IPA) base of the VM's RAM.
    pub ram_ipa: u64,
    /// Physical base of the VM's RAM.
    pub ram_pa: u64,
    /// Bytes of RAM.
    pub ram_size: u64,
    /// Physical address of the VM's stage-2 root table (VTTBR_EL2.BADDR).
    pub s2_root: u64,
    /// The VM's boot payload, kept pristine in the image store and copied into its RAM
    /// when the VM starts (and again when it resets).
    pub image: ImageDesc,
    /// Optional initial RAM disk, copied like the image.
    pub initrd: Option<ImageDesc>,
    /// Optional device tree blob, copied like the image; its IPA goes in x0 at entry.
    pub dtb: Option<ImageDesc>,
    /// Guest-physical entry point of the first vCPU.
    pub entry_ipa: u64,
    /// The VM's vCPUs (indices into [`SystemDesc::vcpus`]); the first one boots.
    pub vcpus: &'static [VcpuIndex],
    /// Whether the VM has an emulated console UART.
    pub console: bool,
    /// Guest-physical base of the emulated PL011.
    pub uart_ipa: u64,
    /// Guest-physical base of the emulated GIC distributor.
    pub gicd_ipa: u64,
    /// Guest-physical base of the emulated GIC redistributors.
    pub gicr_ipa: u64,
    /// What happens when the guest powers off (PSCI SYSTEM_OFF or its last CPU_OFF).
    pub restart: RestartPolicy,
    /// What the VM has of the performance monitors (`pmu` in the system file).
    pub pmu: PmuAccess,
    /// Where its trapped accesses go: the emulated devices' windows and the ranges other
    /// VMs emulate for it, sorted by base and disjoint ([`crate::mmio::route`] searches
    /// them). Empty for an lwVM.
    pub mmio: &'static [MmioRoute],
    /// Its routed physical SPIs: the entries of [`SystemDesc::irqs`] that name it.
    pub spis: &'static [IrqRoute],
    /// The virtual SPIs its vGIC model owns, ascending: its routed SPIs, the channels
    /// and emulated ranges that signal it, its console UART's. Empty for an lwVM.
    pub owned_spis: &'static [u32],
    /// The VMs it shares a vIRQ channel with (either direction), ascending, itself
    /// excluded: those it may observe (VM_STATE).
    pub peers: &'static [VmId],
    /// The entries of [`SystemDesc::emulated`] it emulates (indices), ascending.
    pub emulates: &'static [u16],
    /// `Some` for a lightweight VM (lwVM): a program without a kernel that runs at EL0 in
    /// the hypervisor's EL2&0 regime (E2H=1, TGE=1) with its own stage-1 tables and no
    /// stage 2. Its one execution context is its single entry in [`SystemDesc::vcpus`],
    /// scheduled by priority like any vCPU. For an lwVM, `ram_ipa` is the virtual
    /// address of its memory, `entry_ipa` its entry VA, `vmid`/`s2_root`/`*_ipa` of the
    /// emulated devices are unused (0), and `restart` applies to its faults.
    pub lwvm: Option<LwvmDesc>,
}

/// The part of a lightweight VM that a full VM does not have.
#[derive(Debug, Clone, Copy)]
pub struct LwvmDesc {
    /// ASID tagging its non-global translations (1..; 0 is the hypervisor's own).
    pub asid: u16,
    /// Physical address of its stage-1 root table (TTBR0_EL2.BADDR while it runs): a copy
    /// of the EL2 map (privileged only) plus its own user pages.
    pub root: u64,
    /// Initial SP_EL0: the top of its memory (virtual).
    pub stack_top: u64,
    /// Bit `c` set: it sends on channel `c` (the CHANNELS system call's first answer,
    /// decided offline; channels past 63 have no bit).
    pub channels_out: u64,
    /// Bit `c` set: channel `c` raises into it.
    pub channels_in: u64,
    /// `Some` when it manages its own page tables (`paging = "shadow"`, feature
    /// `shadow-paging`): `root` is then its flat view, used while its translation is off.
    pub shadow: Option<ShadowDesc>,
}

/// Most table pages one shadow pool holds (2 MiB): the hypervisor's per-page metadata is
/// sized for it.
pub const SHADOW_POOL_PAGES_MAX: usize = 512;
/// Most 4 KiB pages of memory a shadow-paged lwVM may have (16 MiB): the hypervisor keeps
/// a word of bookkeeping per page.
pub const SHADOW_GUEST_PAGES_MAX: usize = 4096;
/// Most shadow-paged lwVMs in one system: the hypervisor's bookkeeping for each is static.
pub const SHADOW_SLOTS_MAX: usize = 4;
/// Most shadow roots one lwVM caches.
pub const SHADOW_ROOTS_MAX: u8 = 16;

/// The offline half of an lwVM's shadow paging: where its pool is, which hardware ASIDs
/// its shadow roots use, and what its "physical" addresses may reach.
#[derive(Debug, Clone, Copy)]
pub struct ShadowDesc {
    /// Its slot among the system's shadow-paged lwVMs (0..[`SHADOW_SLOTS_MAX`]): the index
    /// of the hypervisor's bookkeeping it uses.
    pub slot: u8,
    /// Physical base of its pool of table pages (mapped for the hypervisor only).
    pub pool: u64,
    /// Table pages in the pool (4..=[`SHADOW_POOL_PAGES_MAX`]).
    pub pool_pages: u16,
    /// First hardware ASID of its cached roots; root `k` runs with `asid_first + k`.
    pub asid_first: u16,
    /// Roots cached at once (1..=[`SHADOW_ROOTS_MAX`]).
    pub roots: u8,
    /// What its own tables may map: its memory and its shared regions, by "physical"
    /// address (the VA of its flat view).
    pub grants: &'static [ShadowGrant],
}

/// One range of a shadow-paged lwVM's "physical" memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShadowGrant {
    /// Its "physical" address (its VA in the flat view).
    pub gpa: u64,
    /// Host physical address.
    pub pa: u64,
    /// Bytes.
    pub size: u64,
    /// It may be written.
    pub writable: bool,
    /// It may be executed.
    pub exec: bool,
    /// Normal write-back memory (false: normal non-cacheable, as shared regions are).
    pub cached: bool,
    /// Its page tables may live here (its own memory only: another VM could change a
    /// shared region behind the hypervisor's back).
    pub tables: bool,
}

/// A VM's access to the performance monitors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PmuAccess {
    /// Hidden: ID_AA64DFR0_EL1.PMUVer reads 0, every PMU register traps → UNDEFINED.
    Hidden,
    /// The physical PMU passed through, not switched (benchmarks that time themselves
    /// with the cycle counter, EL2 included).
    Shared,
    /// A PMU of its own: each vCPU's counters, event types, enables, overflow and
    /// interrupt state switched with it; counting only while it runs, never at EL2.
    Virtual,
}

impl PmuAccess {
    /// Whether the VM sees a PMU (its ID registers show the hardware's PMUVer).
    pub fn visible(self) -> bool {
        self != PmuAccess::Hidden
    }
}

/// What the hypervisor does when a VM powers off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    /// The VM stays off.
    Stop,
    /// The VM's RAM is reloaded from the pristine images and its boot vCPU restarted.
    Restart,
}

/// A blob in the image store and where it goes in the VM.
#[derive(Debug, Clone, Copy)]
pub struct ImageDesc {
    /// Physical address of the pristine copy in the image store.
    pub store_pa: u64,
    /// Bytes to copy.
    pub size: u64,
    /// Guest-physical address the blob is copied to (inside the VM's RAM).
    pub load_ipa: u64,
}

/// One virtual CPU.
#[derive(Debug)]
pub struct VcpuDesc {
    /// The VM it belongs to.
    pub vm: VmIndex,
    /// Position within the VM (0 = boot vCPU).
    pub index_in_vm: u16,
    /// Physical CPU it starts on (its home); pinned there unless `cpus` lists more.
    pub cpu: CpuIndex,
    /// Every CPU it may run on, home first, at most one per cluster (the `big-little`
    /// extension moves it among them; it is in each one's schedule). `[cpu]` when pinned.
    pub cpus: &'static [CpuIndex],
    /// Value the guest reads from MPIDR_EL1 (VMPIDR_EL2), bit 31 set as the Arm ARM requires.
    pub vmpidr: u64,
    /// Priority in its CPU's schedule (higher runs first).
    pub priority: u8,
}

/// A physical interrupt owned by a VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IrqRoute {
    /// Physical INTID.
    pub intid: u32,
    /// Owning VM.
    pub vm: VmIndex,
    /// INTID the VM sees (usually the same).
    pub virt_intid: u32,
}

/// Where a routed physical SPI goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpiRoute {
    /// Owning VM.
    pub vm: VmId,
    /// INTID the VM sees.
    pub virt_intid: u32,
}

/// One window of a VM's guest-physical space whose accesses trap to the hypervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MmioRoute {
    /// Guest-physical base.
    pub base: u64,
    /// Bytes.
    pub size: u64,
    /// What handles an access there.
    pub target: MmioTarget,
}

/// What handles an access to an [`MmioRoute`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MmioTarget {
    /// The console PL011 model.
    Uart,
    /// The GIC distributor model.
    Gicd,
    /// The GIC redistributor models (offset from the first one).
    Gicr,
    /// Another VM: entry `.0` of [`SystemDesc::emulated`] (fault reflection).
    Reflected(u16),
    /// A device an extension emulates; `.0` is the extension's own number for it (the
    /// balloon extension's virtio-mem device: the pool's index).
    Extension(u16),
}

/// A board device given to a VM: `size` bytes of whole pages at physical `pa`, mapped at
/// the same IPA in `vm`'s stage 2 as Device-nGnRE.
#[derive(Debug)]
pub struct Passthrough {
    /// The board's name for it.
    pub name: &'static str,
    /// Owning VM.
    pub vm: VmIndex,
    /// Physical (and guest-physical) base.
    pub pa: u64,
    /// Bytes.
    pub size: u64,
    /// It masters DMA (the owner's RAM is at IPA = PA; isolation rests on the device).
    pub dma: bool,
}

/// A vIRQ channel: `from` may raise `virt_intid` in `to`. When `to` is an lwVM (it has
/// no GIC), `virt_intid` is the channel's own index: the event bit its `wait` returns.
#[derive(Debug)]
pub struct ChannelDesc {
    /// Name from the configuration (for telemetry and errors).
    pub name: &'static str,
    /// Sending VM.
    pub from: VmIndex,
    /// Receiving VM.
    pub to: VmIndex,
    /// INTID raised in the receiving VM.
    pub virt_intid: u32,
}

/// A shared-memory region and who maps it.
#[derive(Debug)]
pub struct SharedDesc {
    /// Name from the configuration.
    pub name: &'static str,
    /// Physical base.
    pub pa: u64,
    /// Bytes.
    pub size: u64,
    /// Each VM that maps it, where, and how.
    pub maps: &'static [SharedMap],
}

/// One VM's mapping of a shared region.
#[derive(Debug)]
pub struct SharedMap {
    /// The VM.
    pub vm: VmIndex,
    /// Guest-physical base in that VM.
    pub ipa: u64,
    /// Whether the VM may write.
    pub writable: bool,
}

/// A CPU's cyclic time-slot table: the slots run in order, then the table repeats.
#[derive(Debug)]
pub struct SlotTable {
    /// The CPU.
    pub cpu: CpuIndex,
    /// The slots, in order.
    pub slots: &'static [Slot],
}

/// One time slot.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    /// The vCPU that runs (it is pinned to the table's CPU); `None` leaves the CPU idle.
    pub vcpu: Option<VcpuIndex>,
    /// How long the slot lasts.
    pub length: SlotLength,
}

/// Length of a time slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotLength {
    /// Generic-counter ticks.
    Ticks(u64),
    /// Microseconds, converted with CNTFRQ_EL0 at boot (the frequency is not board data).
    Micros(u64),
}

/// A guest-physical range of `vm` that is emulated by another VM: a stage-2 fault there
/// is reflected to `by`, which is notified with `virt_intid`.
#[derive(Debug)]
pub struct EmulatedDesc {
    /// The VM whose accesses trap.
    pub vm: VmIndex,
    /// Guest-physical base in `vm`.
    pub ipa: u64,
    /// Bytes.
    pub size: u64,
    /// The VM that emulates the range.
    pub by: VmIndex,
    /// INTID raised in `by` when an access is reflected.
    pub virt_intid: u32,
    /// Microseconds a reflected access may wait for `by`; then (or as soon as `by` is
    /// off) the faulting vCPU gets an external abort instead.
    pub timeout_us: u32,
}

/// An elastic memory pool (`[[elastic]]`): `blocks` blocks of `block_size` bytes from
/// physical `pa`, each held at any moment by at most one of its `holders` (or by none).
///
/// Why at most two holders: every holder has one pregenerated stage-2 set per number of
/// blocks it can hold, so which blocks a count maps is fixed offline. Holder 0 holds the
/// pool's lowest blocks, holder 1 its highest; their sets are disjoint whenever their
/// counts add up to at most `blocks`, which the run-time protocol keeps and the
/// certificate proves for every such pair.
#[derive(Debug)]
pub struct ElasticDesc {
    /// Name from the configuration (telemetry, reports).
    pub name: &'static str,
    /// Physical base of the pool.
    pub pa: u64,
    /// Bytes per block (a multiple of 2 MiB: the sets map blocks with 2 MiB descriptors).
    pub block_size: u64,
    /// Blocks in the pool.
    pub blocks: u32,
    /// The VMs that can hold blocks (one or two).
    pub holders: &'static [ElasticHolder],
    /// The VM whose hypercalls may move blocks between holders (`None`: only requests of
    /// the holders themselves, served from free blocks).
    pub manager: Option<VmIndex>,
    /// Virtual SPI raised in a holder when it is asked to release blocks or was given
    /// some, and in the manager when a holder asks for more than is free.
    pub virt_intid: u32,
    /// Microseconds a holder has to release what it was asked for; then the blocks are
    /// revoked anyway (its later accesses there fault like any unmapped address).
    pub deadline_us: u32,
    /// Moves the hypervisor makes by itself, in time order (`[[elastic]] plan`).
    pub plan: &'static [PlannedMove],
}

/// One step of an elastic pool's plan: at `at_us` after the run loops start, move
/// `blocks` blocks to holder `to`, as a manager's BALLOON_MOVE would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedMove {
    /// Microseconds after the hypervisor's run loops start.
    pub at_us: u64,
    /// Holder index (0: the lowest blocks, 1: the highest).
    pub to: u8,
    /// How many blocks.
    pub blocks: u32,
}

/// One holder of an elastic pool.
#[derive(Debug)]
pub struct ElasticHolder {
    /// The VM.
    pub vm: VmIndex,
    /// Guest-physical base of the pool's window in that VM: its `k` blocks are mapped at
    /// `[ipa, ipa + k * block_size)`.
    pub ipa: u64,
    /// Blocks it holds at first boot. A restart returns its blocks to the pool, scrubbed:
    /// it restarts holding none.
    pub initial: u32,
    /// Guest-physical base of the virtio-mem device (virtio-mmio transport) through which
    /// this holder sees the pool (`[[elastic]] virtio-mem`, for a Linux VM), or `None`:
    /// it uses the BALLOON_* calls.
    pub virtio_ipa: Option<u64>,
    /// `roots[k]`: the physical address of its stage-2 root when it holds `k` blocks
    /// (`roots.len() == blocks + 1`). Everything outside the window is the same in every
    /// set (they share those tables).
    pub roots: &'static [u64],
}

impl ElasticDesc {
    /// Physical address of the block that window block `i` of holder `h` maps.
    pub fn block_pa(&self, h: usize, i: u32) -> u64 {
        let b = if h == 0 { i } else { self.blocks - 1 - i };
        self.pa + u64::from(b) * self.block_size
    }
}

/// How the vCPUs of one VM move between clusters (`[vm.big-little]`).
#[derive(Debug)]
pub struct MigrateDesc {
    /// The VM.
    pub vm: VmIndex,
    /// Who decides.
    pub policy: MigratePolicy,
    /// Governor: the window over which a vCPU's utilisation (its share of time not
    /// waiting in WFI) is measured, in microseconds.
    pub window_us: u32,
    /// Governor: utilisation (percent) at or above which a vCPU moves to a bigger core.
    pub up: u8,
    /// Governor: utilisation (percent) at or below which it moves to a smaller core.
    pub down: u8,
    /// Plan: the clusters the whole VM runs on in turn (the cycle repeats).
    pub plan: &'static [PlanStep],
    /// The guest reads the MIDR of the cluster it is on (`CpuDesc::midr`); otherwise the
    /// CPU's own, the same on every cluster of an emulator (transparent switching).
    pub per_cluster_midr: bool,
}

/// Who decides where a migratable VM's vCPUs run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigratePolicy {
    /// The guest, with the BL_HINT hypercall (need performance / can slow down).
    Hint,
    /// The hypervisor's utilisation governor (per vCPU, with hysteresis).
    Governor,
    /// A static time plan: every vCPU of the VM on one cluster, then the next.
    Plan,
}

/// One step of a migration plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanStep {
    /// Index of the cluster in the board description.
    pub cluster: u16,
    /// How long, in microseconds.
    pub us: u32,
}

// ------------------------------------------------------------------ typed accessors

impl SystemDesc {
    /// vCPU `v`'s descriptor.
    #[inline(always)]
    pub fn vcpu(&self, v: VcpuId) -> &VcpuDesc {
        &self.vcpus[v.index()]
    }
    /// VM `vm`'s descriptor.
    #[inline(always)]
    pub fn vm(&self, vm: VmId) -> &VmDesc {
        &self.vms[vm.index()]
    }
    /// CPU `c`'s descriptor.
    #[inline(always)]
    pub fn cpu(&self, c: CpuId) -> &CpuDesc {
        &self.cpus[c.index()]
    }
    /// The VM vCPU `v` belongs to.
    #[inline(always)]
    pub fn vm_of(&self, v: VcpuId) -> VmId {
        VmId::new(self.vcpu(v).vm)
    }
    /// Where physical SPI `intid` goes, if a VM owns it.
    #[inline(always)]
    pub fn spi_route(&self, intid: u32) -> Option<&SpiRoute> {
        let i = intid.checked_sub(32)?;
        self.spi_routes.get(i as usize)?.as_ref()
    }
    /// Every VM.
    pub fn vm_ids(&self) -> impl Iterator<Item = VmId> + use<> {
        (0..self.vms.len() as VmIndex).map(VmId::new)
    }
    /// Every vCPU.
    pub fn vcpu_ids(&self) -> impl Iterator<Item = VcpuId> + use<> {
        (0..self.vcpus.len() as VcpuIndex).map(VcpuId::new)
    }
    /// How VM `vm`'s vCPUs move, if they may.
    pub fn migration(&self, vm: VmId) -> Option<&MigrateDesc> {
        self.migrations.iter().find(|m| m.vm == vm.raw())
    }
}

impl ChannelDesc {
    /// The receiving VM and the INTID (or lwVM event bit) raised there.
    #[inline(always)]
    pub fn target(&self) -> (VmId, u32) {
        (VmId::new(self.to), self.virt_intid)
    }
}

impl VcpuDesc {
    /// The VM it belongs to.
    #[inline(always)]
    pub fn vm_id(&self) -> VmId {
        VmId::new(self.vm)
    }
    /// The CPU it is pinned to.
    #[inline(always)]
    pub fn cpu_id(&self) -> CpuId {
        CpuId::new(self.cpu)
    }
}

impl VmDesc {
    /// Its vCPUs, in VM order (position `i` is its vCPU `i`).
    pub fn vcpu_ids(&self) -> impl Iterator<Item = VcpuId> + Clone + '_ {
        self.vcpus.iter().map(|&v| VcpuId::new(v))
    }
    /// Its vCPU `i` (position in the VM).
    #[inline(always)]
    pub fn vcpu_id(&self, i: usize) -> VcpuId {
        VcpuId::new(self.vcpus[i])
    }
}

impl CpuDesc {
    /// Its schedule, highest priority first.
    pub fn schedule_ids(&self) -> impl Iterator<Item = VcpuId> + Clone + '_ {
        self.schedule.iter().map(|&v| VcpuId::new(v))
    }
}
