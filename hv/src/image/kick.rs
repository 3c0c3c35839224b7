//! Telling a CPU to look at its schedule again: a kick SGI to another CPU, the reschedule
//! flag on this one. The lowest layer of the interrupt plumbing: anything that makes a
//! vCPU runnable (a raise, a start request, a power-off) ends here.
use core::sync::atomic::{AtomicU8, Ordering};

use hv_arch::{cpu, gic};
use hv_core::ids::{CpuId, VcpuId, VmId};

use super::generated::{CPU_COUNT, SYSTEM};

/// Per CPU (index in `SYSTEM.cpus`): a handler on that CPU made one of its vCPUs runnable
/// or changed its state, so the run loop must look at the schedule before re-entering the
/// running vCPU. Written and read by that CPU only (other CPUs kick with an SGI instead).
/// The value says why: [`RESCHED_OTHER`] or [`RESCHED_TIMER`] (the EL2 timer: a slot end or
/// a saved timer's deadline).
static RESCHED: [AtomicU8; CPU_COUNT] = [const { AtomicU8::new(0) }; CPU_COUNT];
/// Reschedule: another vCPU may have become runnable (a raise, a kick, a start request).
pub const RESCHED_OTHER: u8 = 1;
/// Reschedule: the EL2 timer fired.
pub const RESCHED_TIMER: u8 = 2;

/// Makes the CPU that runs vCPU `v` look at its schedule again: a kick SGI for another
/// CPU, the reschedule flag for this one.
pub fn kick_vcpu(v: VcpuId) {
    kick_cpu(super::placement::cpu_of_for_kick(v));
}

/// Makes CPU `c` look at its schedule again (a kick SGI, or this CPU's reschedule flag).
pub fn kick_cpu(c: CpuId) {
    let mpidr = SYSTEM.cpu(c).mpidr;
    if mpidr != cpu::mpidr() {
        gic::kick(mpidr);
    } else {
        RESCHED[c.index()].fetch_max(RESCHED_OTHER, Ordering::Relaxed);
    }
}

/// Whether this CPU (`cpu`) was asked to look at its schedule again, and why (0: it was
/// not); clears the request.
#[inline(always)]
pub fn take_resched(cpu: CpuId) -> u8 {
    let flag = &RESCHED[cpu.index()];
    if flag.load(Ordering::Relaxed) == 0 {
        return 0;
    }
    flag.swap(0, Ordering::Relaxed)
}

/// Whether this CPU (`cpu`) has a reschedule request pending (without taking it).
#[inline(always)]
pub fn resched_pending(cpu: CpuId) -> bool {
    RESCHED[cpu.index()].load(Ordering::Relaxed) != 0
}

/// Kicks the vCPUs of VM `vm` named by `mask` (bit i = vCPU i of the VM).
pub fn kick_mask(vm: VmId, mask: u64) {
    for (i, v) in SYSTEM.vm(vm).vcpu_ids().enumerate() {
        if mask & (1 << i) != 0 {
            kick_vcpu(v);
        }
    }
}

/// Asks CPU `cpu` (this one) to look at its schedule, for `why` ([`RESCHED_OTHER`] or
/// [`RESCHED_TIMER`]; the timer wins).
#[inline(always)]
pub fn resched(cpu: CpuId, why: u8) {
    RESCHED[cpu.index()].fetch_max(why, Ordering::Relaxed);
}
