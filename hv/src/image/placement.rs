//! Where each vCPU runs now: the CPU that holds it.
//!
//! The static core pins every vCPU to one CPU (`VcpuDesc::cpu`), and that CPU's run loop
//! is the only code that touches its state (`state::Vcpus`). With the `big-little`
//! extension a vCPU may move among the CPUs its configuration lists (`VcpuDesc::cpus`);
//! it then has one holder at a time, recorded here. A move is always a hand-over by
//! the holder at the top of its run loop (`run::hand_over`): it parks the vCPU — all its
//! state goes into its `Vcpu` — and then stores the new holder, which may from then on
//! take it up. Without the feature the holder is the pinned CPU and every function here
//! is a constant expression of the description.
use hv_core::ids::{CpuId, VcpuId};

use super::generated::SYSTEM;

#[cfg(feature = "big-little")]
mod moving {
    use core::sync::atomic::{AtomicU16, Ordering};

    use hv_core::ids::{CpuId, VcpuId};

    use super::super::generated::{SYSTEM, VCPU_COUNT};

    /// Per vCPU: its holder's index plus one (0: its home, `VcpuDesc::cpu`).
    static HOLDER: [AtomicU16; VCPU_COUNT] = [const { AtomicU16::new(0) }; VCPU_COUNT];

    #[inline(always)]
    pub fn cpu_of(v: VcpuId) -> CpuId {
        // Acquire: a CPU that reads itself here sees everything the old holder saved
        // into the vCPU's state before it handed it over.
        match HOLDER[v.index()].load(Ordering::Acquire) {
            0 => SYSTEM.vcpu(v).cpu_id(),
            n => CpuId::new(n - 1),
        }
    }

    pub fn hand(v: VcpuId, to: CpuId) {
        // SeqCst, and the fence in `cpu_of_for_kick`: a CPU that raises an interrupt for
        // `v` or posts it a start request, and then reads the old holder here, did so
        // before this store; the new holder, kicked after it, then sees the request.
        HOLDER[v.index()].store(to.raw() + 1, Ordering::SeqCst);
    }

    pub fn cpu_of_for_kick(v: VcpuId) -> CpuId {
        core::sync::atomic::fence(Ordering::SeqCst);
        cpu_of(v)
    }
}

/// The CPU that holds vCPU `v` now.
#[inline(always)]
pub fn cpu_of(v: VcpuId) -> CpuId {
    #[cfg(feature = "big-little")]
    return moving::cpu_of(v);
    #[cfg(not(feature = "big-little"))]
    SYSTEM.vcpu(v).cpu_id()
}

/// [`cpu_of`] for telling `v`'s holder about something just published (an interrupt
/// raised, a start request posted): ordered after the publication, so that a move racing
/// with it either is seen here or sees the publication itself.
#[inline(always)]
pub fn cpu_of_for_kick(v: VcpuId) -> CpuId {
    #[cfg(feature = "big-little")]
    return moving::cpu_of_for_kick(v);
    #[cfg(not(feature = "big-little"))]
    SYSTEM.vcpu(v).cpu_id()
}

/// Whether CPU `cpu` holds vCPU `v`, which is in its schedule (without the feature every
/// vCPU of a schedule is its CPU's: always true, at no cost).
#[inline(always)]
pub fn holds(cpu: CpuId, v: VcpuId) -> bool {
    #[cfg(feature = "big-little")]
    return moving::cpu_of(v) == cpu;
    #[cfg(not(feature = "big-little"))]
    {
        let _ = (cpu, v);
        true
    }
}

/// Whether CPU `cpu` is vCPU `v`'s home (where it boots, and where a VM whose boot vCPU
/// it is is booted).
#[inline(always)]
pub fn is_home(cpu: CpuId, v: VcpuId) -> bool {
    SYSTEM.vcpu(v).cpu == cpu.raw()
}

/// vCPU `v`, parked by its holder, now belongs to CPU `to`.
#[cfg(feature = "big-little")]
pub fn hand(v: VcpuId, to: CpuId) {
    moving::hand(v, to);
}

/// How VM `vm`'s vCPUs move, if they may: looked up in the toolkit's per-VM index
/// (`MIGRATION_OF`), not searched — the world switch asks at every switch.
#[cfg(feature = "big-little")]
#[inline(always)]
pub fn migration(vm: hv_core::ids::VmId) -> Option<&'static hv_core::sysdesc::MigrateDesc> {
    let i = super::generated::MIGRATION_OF[vm.index()];
    SYSTEM.migrations.get(usize::from(i))
}
