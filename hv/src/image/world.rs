//! What is loaded in a CPU: which vCPU's EL1, timer and GIC interface state the hardware
//! holds, whose FP/SIMD registers it holds, and the world switch between vCPUs.
//! [`CpuCtx`] is the state one CPU owns, made once at boot and passed down its run loop.
//!
//! FP/SIMD registers (528 bytes) move lazily, as KVM and Xen move them: a vCPU that does
//! not own the CPU's registers runs with FP trapped; its first FP instruction saves the
//! owner's registers into the owner's state and loads its own ([`take_fp`]). A VM switch
//! between guests that do not use FP — or only one of which does — moves none.
use hv_arch::el1::El1State;
use hv_arch::pmu::{self, PmuState};
use hv_arch::{features, fpsimd, regs};
use hv_core::ids::{CpuId, VcpuId};
use hv_core::sysdesc::PmuAccess;
use hv_core::sysdesc::Slot;

use super::generated::SYSTEM;
use super::state::{Power, Vcpus};
use super::{ext, irq, vmshared};

/// PSTATE a vCPU starts with: EL1h, all of DAIF masked (the Arm ARM's reset state).
const SPSR_EL1H_MASKED: u64 = 0x3c5;

/// What one CPU owns: made once at boot by its run loop and passed down it.
pub struct CpuCtx {
    /// This CPU.
    pub id: CpuId,
    /// The vCPU whose EL1, timer and GIC interface state is in the CPU (an lwVM that runs
    /// meanwhile leaves it there).
    loaded: Option<VcpuId>,
    /// This CPU's slot table (found once: the configuration never changes).
    slots: Option<&'static [Slot]>,
    /// Whose FP/SIMD registers are in the CPU (a vCPU of this CPU; `None`: nobody's yet, or
    /// its owner restarted) — an lwVM that runs meanwhile stashes and gives them back.
    fp_owner: Option<VcpuId>,
    /// CPTR_EL2 traps the guest's FP/SIMD instructions now.
    fp_trapped: bool,
    /// The runnable (full vCPU or an extension's) that ran last on this CPU.
    last_ran: Option<VcpuId>,
    /// What MDCR_EL2 gives guests of the PMU now.
    pmu_access: PmuAccess,
    /// The loaded vCPU's own PMU (`pmu = "virtual"`) is in the hardware.
    pmu_loaded: bool,
    /// This CPU's redistributor frame (found once).
    gicr: u64,
    /// VPIDR_EL2 now (boot: the CPU's own MIDR): a big.LITTLE VM may see its cluster's.
    #[cfg(feature = "big-little")]
    vpidr: u64,
    /// The vCPUs this CPU holds (pinned here, or handed to it).
    pub vcpus: Vcpus,
}

impl CpuCtx {
    /// CPU `id`'s context at boot: nothing loaded, its slot table found, its vCPUs taken.
    pub fn new(id: CpuId) -> CpuCtx {
        CpuCtx {
            id,
            loaded: None,
            slots: SYSTEM
                .slots
                .iter()
                .find(|t| t.cpu == id.raw())
                .map(|t| t.slots),
            fp_owner: None,
            // Boot leaves FP untrapped (`features::init_cpu`).
            fp_trapped: false,
            last_ran: None,
            // Boot leaves the PMU hidden (`features::init_cpu`).
            pmu_access: PmuAccess::Hidden,
            pmu_loaded: false,
            gicr: irq::own_gicr(id),
            #[cfg(feature = "big-little")]
            vpidr: regs::midr(),
            vcpus: Vcpus::take(id),
        }
    }

    /// The vCPU whose state is in the CPU.
    #[inline(always)]
    pub fn loaded(&self) -> Option<VcpuId> {
        self.loaded
    }

    /// `next` is about to run (`None`: the CPU idles): the runnable that ran before it,
    /// if that was another one.
    #[inline(always)]
    pub fn hand_over(&mut self, next: Option<VcpuId>) -> Option<VcpuId> {
        if self.last_ran == next {
            return None;
        }
        core::mem::replace(&mut self.last_ran, next)
    }

    /// This CPU's slot table, if it has one.
    #[inline(always)]
    pub fn slots(&self) -> Option<&'static [Slot]> {
        self.slots
    }
}

/// Makes vCPU `index` (held by this CPU) runnable at `entry` with `x0` (PSCI CPU_ON
/// semantics: other registers and the EL1 state come out of reset).
pub fn power_on(ctx: &mut CpuCtx, v: VcpuId, entry: u64, x0: u64) {
    if ctx.loaded == Some(v) {
        // Unloaded first (its debug comparators off, its timer stopped and its physical
        // timer interrupt deactivated); the reset below replaces what was saved.
        unload(ctx);
    }
    if ctx.fp_owner == Some(v) {
        // The registers still hold what the old instance left; its reset state (zero) is
        // loaded at its first FP instruction.
        ctx.fp_owner = None;
    }
    let vcpu = ctx.vcpus.get(v);
    vcpu.timer_in_flight = false;
    vcpu.ptimer_in_flight = false;
    vcpu.pmu_in_flight = false;
    vcpu.regs = Default::default();
    vcpu.regs.x[0] = x0;
    vcpu.regs.elr = entry;
    vcpu.regs.spsr = SPSR_EL1H_MASKED;
    vcpu.regs.fast_page = super::fast::page(v);
    vcpu.regs.vcpu = u64::from(v.raw());
    vcpu.el1 = El1State::reset();
    vcpu.gicif = Default::default();
    vcpu.pmu = PmuState::RESET;
    vcpu.power = Power::On;
    irq::publish_on(v, true);
    let d = SYSTEM.vcpu(v);
    vmshared::with_quiet(d.vm_id(), |s| s.psci.mark_on(d.index_in_vm as usize));
}

/// Takes this CPU's pending physical interrupts after an extension's runnable was
/// interrupted: the full vCPU still loaded owns the virtual timer that may have fired.
pub fn physical_irqs(ctx: &mut CpuCtx) {
    let loaded = ctx.loaded;
    let loaded = loaded.map(|l| (l, ctx.vcpus.get(l)));
    irq::handle_physical(ctx.id, loaded);
}

/// Saves the loaded vCPU's EL1, timer and GIC interface state; the CPU then holds none.
pub fn unload(ctx: &mut CpuCtx) {
    // The loaded vCPU's FP/SIMD registers must be in the CPU to be saved (an extension's
    // runnable, an lwVM, may hold them).
    ext::before_switch(ctx.id);
    park_pmu(ctx);
    if let Some(old) = ctx.loaded.take() {
        let vcpu = ctx.vcpus.get(old);
        // The run loop never leaves a vCPU with a list register of its own filled.
        debug_assert!(!vcpu.lr_alone, "a list register left filled");
        vcpu.el1.save();
        vcpu.gicif.save();
        // The virtual timer must not fire for a vCPU that is not loaded.
        irq::unload_timer(ctx.gicr, vcpu);
        if SYSTEM.vm(SYSTEM.vm_of(old)).pmu == PmuAccess::Virtual {
            irq::unload_pmu_irq(ctx.gicr, vcpu);
        }
    }
}

/// vCPU `v` leaves this CPU for another (a big.LITTLE move): everything of it the CPU
/// still holds goes into its saved state — EL1, timers, GIC interface and PMU (if it is
/// loaded), its FP/SIMD registers (if it owns them) — so that the CPU it is handed to
/// finds all of it there. Its list registers are empty already: the run loop reads them
/// back at every exit it leaves through.
#[cfg(feature = "big-little")]
pub fn evict(ctx: &mut CpuCtx, v: VcpuId) {
    if ctx.loaded == Some(v) {
        unload(ctx);
    }
    if ctx.fp_owner == Some(v) {
        // An lwVM may have stashed them: back first (`unload` did it if `v` was loaded).
        ext::before_switch(ctx.id);
        // Untrapped: the trap covers EL2's own FP instructions too.
        release_fp(ctx);
        fpsimd::save(&mut ctx.vcpus.get(v).el1.fp);
        ctx.fp_owner = None;
    }
}

/// Switches the CPU to vCPU `v` (EL1 state, GIC interface, VMID, stage-2 root, MPIDR).
/// Nothing is done when `v` is already loaded.
pub fn switch_to(ctx: &mut CpuCtx, v: VcpuId) {
    if ctx.loaded == Some(v) {
        // An extension's runnable ran meanwhile: its own PMU back, if it has one.
        load_pmu(ctx, v);
        return;
    }
    unload(ctx);
    let d = SYSTEM.vcpu(v);
    let vm = SYSTEM.vm(d.vm_id());
    let vcpu = ctx.vcpus.get(v);
    irq::load_timer(ctx.gicr, vcpu);
    if vm.pmu == PmuAccess::Virtual {
        irq::load_pmu_irq(ctx.gicr, vcpu);
    }
    vcpu.el1.restore();
    vcpu.gicif.restore();
    regs::set_vttbr(vm.vmid, ext::stage2_root(d.vm_id()).unwrap_or(vm.s2_root));
    regs::set_vmpidr(d.vmpidr);
    #[cfg(feature = "big-little")]
    set_midr(ctx, d.vm_id());
    if ctx.pmu_access != vm.pmu {
        features::set_pmu_access(vm.pmu);
        ctx.pmu_access = vm.pmu;
    }
    ctx.loaded = Some(v);
    load_pmu(ctx, v);
}

/// The MIDR a vCPU of VM `vm` reads on this CPU: its cluster's (board `midr`) for a VM
/// with `midr = "per-cluster"`, else the CPU's own. VPIDR_EL2 is written only when that
/// changes.
#[cfg(feature = "big-little")]
fn set_midr(ctx: &mut CpuCtx, vm: hv_core::ids::VmId) {
    let own = SYSTEM.cpu(ctx.id).midr;
    let want = match super::placement::migration(vm) {
        Some(m) if m.per_cluster_midr && own != 0 => own,
        _ => regs::midr(),
    };
    if ctx.vpidr != want {
        regs::set_vpidr(want);
        ctx.vpidr = want;
    }
}

/// Loaded vCPU `v`'s own PMU into the hardware, if its VM has one and it is not there.
#[inline(always)]
fn load_pmu(ctx: &mut CpuCtx, v: VcpuId) {
    if !ctx.pmu_loaded && SYSTEM.vm(SYSTEM.vm_of(v)).pmu == PmuAccess::Virtual {
        pmu::load(&ctx.vcpus.get(v).pmu);
        ctx.pmu_loaded = true;
    }
}

/// The loaded vCPU's own PMU out of the hardware (saved, counting stopped, the PMU left
/// clear): before another vCPU or an extension's runnable runs.
#[inline(always)]
pub fn park_pmu(ctx: &mut CpuCtx) {
    if ctx.pmu_loaded
        && let Some(v) = ctx.loaded
    {
        pmu::save(&mut ctx.vcpus.get(v).pmu);
        ctx.pmu_loaded = false;
    }
}

/// Before loaded vCPU `v` runs: its FP/SIMD instructions trap unless it owns the CPU's
/// registers. CPTR_EL2 is written only when that changes.
#[inline(always)]
pub fn arm_fp(ctx: &mut CpuCtx, v: VcpuId) {
    let trap = ctx.fp_owner != Some(v);
    if trap != ctx.fp_trapped {
        fpsimd::set_trap(trap);
        ctx.fp_trapped = trap;
    }
}

/// Loaded vCPU `v` trapped on an FP/SIMD instruction: it takes the CPU's registers (the
/// owner's go into the owner's state) and the instruction is retried. False when `v`
/// owned them already: the trap was not the lazy switch's, and retrying would loop.
pub fn take_fp(ctx: &mut CpuCtx, v: VcpuId) -> bool {
    if ctx.fp_owner == Some(v) {
        return false;
    }
    // Untrapped first: the trap covers EL2's own FP instructions too.
    fpsimd::set_trap(false);
    ctx.fp_trapped = false;
    if let Some(o) = ctx.fp_owner {
        fpsimd::save(&mut ctx.vcpus.get(o).el1.fp);
    }
    fpsimd::load(&ctx.vcpus.get(v).el1.fp);
    ctx.fp_owner = Some(v);
    true
}

/// Before an extension's runnable runs: FP untrapped, so that the extension may move the
/// registers at EL2 (an lwVM stashes the owner's and loads its own; they are back before
/// a full vCPU runs, [`ext::before_switch`]).
#[inline(always)]
pub fn release_fp(ctx: &mut CpuCtx) {
    if ctx.fp_trapped {
        fpsimd::set_trap(false);
        ctx.fp_trapped = false;
    }
}
