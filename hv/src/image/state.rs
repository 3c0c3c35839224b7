//! Run-time state of vCPUs and VMs: fixed arrays sized at build time, no allocation.
//!
//! Ownership rule: a vCPU is held by one physical CPU at a time — the one the
//! configuration pins it to, or (feature `big-little`) the one it was last handed to
//! ([`super::placement`]) — and only that CPU's run loop touches its [`Vcpu`], through
//! the CPU's [`Vcpus`]. What other CPUs
//! may need to see (a VM's life, a request to start a vCPU, the VM's emulated UART) is in
//! the per-VM [`VmState`] or the per-vCPU atomics here, indexed by typed id.
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use hv_arch::context::GuestRegs;
use hv_arch::el1::El1State;
use hv_arch::gic::VcpuIfState as GicIfState;
use hv_arch::pmu::PmuState;
use hv_core::pl011::Pl011;
use hv_core::vgic::lr::MAX_LRS;

use hv_core::ids::{CpuId, VcpuId, VmId};

use super::generated::{CPU_COUNT, SYSTEM};
use super::linebuf::LineBuf;
use super::sync::SpinLock;

/// vCPUs of the system (the arrays below are sized by the configuration).
pub const MAX_VCPUS: usize = super::generated::VCPU_COUNT;
/// VMs of the system.
pub const MAX_VMS: usize = super::generated::VM_COUNT;

/// Power state of a vCPU (PSCI's view).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    /// Not started, or turned off with CPU_OFF.
    Off,
    /// Runnable or running.
    On,
    /// Waiting in WFI (or WAIT_EVENT) for an interrupt.
    Waiting,
    /// Waiting for another VM to complete a reflected fault.
    Reflecting,
}

/// A vCPU's saved state.
pub struct Vcpu {
    /// General registers, ELR and SPSR.
    pub regs: GuestRegs,
    /// EL1 system registers (valid while the vCPU is not loaded on its CPU).
    pub el1: El1State,
    /// PSCI power state.
    pub power: Power,
    /// Virtual CPU interface state outside the list registers (VMCR, APRs).
    pub gicif: GicIfState,
    /// List registers the last entry filled (read back and emptied at the exit).
    pub lrs_used: u8,
    /// The last fill asked for a maintenance interrupt (ICH_HCR_EL2.UIE/NPIE), cleared
    /// at the exit.
    pub lrs_maintenance: bool,
    /// List register 0 holds a timer or PMU tick the trap path put there by itself
    /// (`Vgic::raise_alone`): the model's list-register bookkeeping does not know it, so
    /// it comes back through `irq::after_exit` — or `irq::leave` when the vCPU leaves the
    /// CPU before it runs again.
    pub lr_alone: bool,
    /// The values of the list registers: what the last entry wrote, then what the exit
    /// read back. Kept here so neither path zeroes a buffer of its own.
    pub lrs: [u64; MAX_LRS],
    /// Its reflected fault was completed; the result is applied once it is loaded.
    pub reflect_done: bool,
    /// Its hardware-linked virtual timer interrupt was pending or active when it was
    /// unloaded (or raised since): the physical one is made active again when it is loaded.
    pub timer_in_flight: bool,
    /// The same for its EL1 physical timer's interrupt.
    pub ptimer_in_flight: bool,
    /// Its own PMU (a VM with `pmu = "virtual"`), in the hardware while it is loaded.
    pub pmu: PmuState,
    /// The same as `timer_in_flight` for its PMU's overflow interrupt.
    pub pmu_in_flight: bool,
}

impl Vcpu {
    const fn new() -> Self {
        Vcpu {
            regs: GuestRegs {
                x: [0; 31],
                elr: 0,
                spsr: 0,
                fast: 0,
                fast_page: 0,
                vcpu: 0,
            },
            el1: El1State::ZERO,
            power: Power::Off,
            gicif: GicIfState {
                vmcr: 0,
                ap1r0: 0,
                ap0r0: 0,
            },
            lrs_used: 0,
            lrs_maintenance: false,
            lr_alone: false,
            lrs: [0; MAX_LRS],
            reflect_done: false,
            timer_in_flight: false,
            ptimer_in_flight: false,
            pmu: PmuState::RESET,
            pmu_in_flight: false,
        }
    }
}

struct VcpuSlot(UnsafeCell<Vcpu>);

// SAFETY: a slot is only dereferenced through `Vcpus::get` of the one `Vcpus` of the CPU
// that holds the vCPU (checked there), which hands out one reference at a time.
unsafe impl Sync for VcpuSlot {}

static VCPUS: [VcpuSlot; MAX_VCPUS] = [const { VcpuSlot(UnsafeCell::new(Vcpu::new())) }; MAX_VCPUS];

/// Whether each CPU has made its [`Vcpus`].
static TAKEN: [AtomicBool; CPU_COUNT] = [const { AtomicBool::new(false) }; CPU_COUNT];

/// The vCPUs one physical CPU owns: those the configuration pins to it. Made once per CPU
/// at boot and passed down its run loop; the only way to a [`Vcpu`].
///
/// Why this is sound: each vCPU has exactly one holder at a time (`placement`: a holder
/// hands it over only after its last use, and the new one takes it up only after), a CPU
/// makes its `Vcpus` once (checked), and [`get`](Self::get) refuses a vCPU another CPU
/// holds; so a vCPU's state is reachable from one `Vcpus` only, and `&mut self` lets it
/// hand out one reference at a time.
pub struct Vcpus {
    cpu: CpuId,
}

impl Vcpus {
    /// CPU `cpu`'s vCPUs. Panics if that CPU's were already taken (a boot bug).
    pub fn take(cpu: CpuId) -> Vcpus {
        assert!(
            !TAKEN[cpu.index()].swap(true, Ordering::AcqRel),
            "the vCPUs of a CPU are taken once"
        );
        Vcpus { cpu }
    }

    /// The state of vCPU `v`, which this CPU must hold (a bug otherwise: panics).
    #[inline(always)]
    pub fn get(&mut self, v: VcpuId) -> &mut Vcpu {
        assert!(
            super::placement::cpu_of(v) == self.cpu,
            "a vCPU of another CPU"
        );
        // SAFETY: this CPU holds `v` (pinned here, or handed over to it: `placement`),
        // and this is its only `Vcpus` (see the type's docs); the reference borrows
        // `self` mutably, so no other one exists meanwhile.
        unsafe { &mut *VCPUS[v.index()].0.get() }
    }
}

/// A request from another CPU to start a vCPU (PSCI CPU_ON).
pub struct StartRequest {
    pending: AtomicBool,
    entry: AtomicU64,
    context: AtomicU64,
}

impl StartRequest {
    /// Posts a start request; the owner CPU picks it up in its run loop.
    pub fn post(&self, entry: u64, context: u64) {
        self.entry.store(entry, Ordering::Relaxed);
        self.context.store(context, Ordering::Relaxed);
        self.pending.store(true, Ordering::Release);
    }

    /// Takes a pending request: (entry, context id).
    #[inline(always)]
    pub fn take(&self) -> Option<(u64, u64)> {
        // A plain load first: the run loop asks on every pass, and a request is rare.
        if self.pending.load(Ordering::Relaxed) && self.pending.swap(false, Ordering::Acquire) {
            Some((
                self.entry.load(Ordering::Relaxed),
                self.context.load(Ordering::Relaxed),
            ))
        } else {
            None
        }
    }

    /// Whether a request waits.
    pub fn is_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }
}

/// Start requests, one per vCPU (see [`start`]).
static START: [StartRequest; MAX_VCPUS] = [const {
    StartRequest {
        pending: AtomicBool::new(false),
        entry: AtomicU64::new(0),
        context: AtomicU64::new(0),
    }
}; MAX_VCPUS];

/// vCPU `v`'s start request.
#[inline(always)]
pub fn start(v: VcpuId) -> &'static StartRequest {
    &START[v.index()]
}

/// Whether each vCPU is on (visible to other CPUs for PSCI AFFINITY_INFO / CPU_ON).
static VCPU_ON: [AtomicBool; MAX_VCPUS] = [const { AtomicBool::new(false) }; MAX_VCPUS];

/// A VM's emulated console: the UART model and the line being assembled.
pub struct VmConsole {
    /// Register-level PL011 model.
    pub uart: Pl011,
    /// Bytes since the last newline.
    pub line: LineBuf,
    /// How many of them already went out as telemetry (a partial line sent while the VM
    /// waits, e.g. a shell prompt); the text console still prints the whole line.
    pub sent: usize,
    /// MPIDR of the CPU that wrote the line's last byte (its telemetry ring holds the
    /// line's earlier pieces, so a partial line goes out through it too).
    pub writer: u64,
    /// The interrupt line level the vGIC was last told.
    pub irq_line: bool,
}

impl VmConsole {
    /// The model's interrupt level if it differs from what the vGIC was last told (and
    /// records it as told).
    pub fn sync_irq_line(&mut self) -> Option<bool> {
        let level = self.uart.irq_level();
        (level != self.irq_line).then(|| {
            self.irq_line = level;
            level
        })
    }
}

/// Shared per-VM state.
pub struct VmState {
    /// Set while the VM runs; cleared by SYSTEM_OFF or a fatal fault.
    pub alive: AtomicBool,
    /// The VM's emulated UART.
    pub console: SpinLock<VmConsole>,
}

/// Per-VM state (see [`vm`]).
static VMS: [VmState; MAX_VMS] = [const {
    VmState {
        alive: AtomicBool::new(false),
        console: SpinLock::new(VmConsole {
            uart: Pl011::new(),
            line: LineBuf::new(),
            sent: 0,
            writer: 0,
            irq_line: false,
        }),
    }
}; MAX_VMS];

/// Whether vCPU `v` is on, as other CPUs see it.
#[inline(always)]
pub fn vcpu_on(v: VcpuId) -> &'static AtomicBool {
    &VCPU_ON[v.index()]
}

/// VM `vm`'s shared state.
#[inline(always)]
pub fn vm(vm: VmId) -> &'static VmState {
    &VMS[vm.index()]
}

/// VMs still alive; when it drops to zero the machine powers off.
pub static LIVE_VMS: AtomicUsize = AtomicUsize::new(0);

/// Checks that the board's CPUs fit the image's per-CPU stacks.
pub fn check_capacity() -> Result<(), &'static str> {
    if SYSTEM.cpus.len() > hv_arch::boot::MAX_CPUS {
        return Err("more CPUs than the image has stacks for (MAX_CPUS)");
    }
    Ok(())
}
