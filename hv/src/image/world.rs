//! What is loaded in a CPU: which vCPU's EL1, timer and GIC interface state the hardware
//! holds, and the world switch between vCPUs. [`CpuCtx`] is the state one CPU owns, made
//! once at boot and passed down its run loop.
use hv_arch::el1::El1State;
use hv_arch::regs;
use hv_core::ids::{CpuId, VcpuId};
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
    /// The vCPUs pinned to this CPU.
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
            vcpus: Vcpus::take(id),
        }
    }

    /// The vCPU whose state is in the CPU.
    #[inline(always)]
    pub fn loaded(&self) -> Option<VcpuId> {
        self.loaded
    }

    /// This CPU's slot table, if it has one.
    #[inline(always)]
    pub fn slots(&self) -> Option<&'static [Slot]> {
        self.slots
    }
}

/// Makes vCPU `index` (pinned to this CPU) runnable at `entry` with `x0` (PSCI CPU_ON
/// semantics: other registers and the EL1 state come out of reset).
pub fn power_on(ctx: &mut CpuCtx, v: VcpuId, entry: u64, x0: u64) {
    if ctx.loaded == Some(v) {
        // Unloaded first (its debug comparators off, its timer stopped and its physical
        // timer interrupt deactivated); the reset below replaces what was saved.
        unload(ctx);
    }
    let vcpu = ctx.vcpus.get(v);
    vcpu.timer_in_flight = false;
    vcpu.ptimer_in_flight = false;
    vcpu.regs = Default::default();
    vcpu.regs.x[0] = x0;
    vcpu.regs.elr = entry;
    vcpu.regs.spsr = SPSR_EL1H_MASKED;
    vcpu.el1 = El1State::reset();
    vcpu.gicif = Default::default();
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
    if let Some(old) = ctx.loaded.take() {
        let vcpu = ctx.vcpus.get(old);
        vcpu.el1.save();
        vcpu.gicif.save();
        // The virtual timer must not fire for a vCPU that is not loaded.
        irq::unload_timer(ctx.id, vcpu);
    }
}

/// Switches the CPU to vCPU `v` (EL1 state, GIC interface, VMID, stage-2 root, MPIDR).
/// Nothing is done when `v` is already loaded.
pub fn switch_to(ctx: &mut CpuCtx, v: VcpuId) {
    if ctx.loaded == Some(v) {
        return;
    }
    unload(ctx);
    let d = SYSTEM.vcpu(v);
    let vm = SYSTEM.vm(d.vm_id());
    let vcpu = ctx.vcpus.get(v);
    irq::load_timer(ctx.id, vcpu);
    vcpu.el1.restore();
    hv_arch::features::set_pmu_shared(vm.pmu_shared);
    vcpu.gicif.restore();
    regs::set_vttbr(vm.vmid, vm.s2_root);
    regs::set_vmpidr(d.vmpidr);
    ctx.loaded = Some(v);
}
