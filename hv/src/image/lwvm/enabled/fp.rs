//! Lazy FP/SIMD switching between the full VMs and the lwVMs of one CPU.
//!
//! The CPU's FP registers belong to one *owner*: the full VMs (they share them, as they
//! always did) or one lwVM. An lwVM that is not the owner traps on its first FP
//! instruction ([`take`]): the owner's registers are saved (full VMs' into this CPU's
//! pool), the lwVM's loaded, and FP opened to it. Before a full vCPU runs,
//! [`before_full_vm`] gives the registers back to the full VMs if an lwVM holds them.
//! An lwVM that never uses FP costs one comparison per entry.
//!
//! Ownership: every slot here is touched only by its CPU (an lwVM's by the CPU it is
//! pinned to).
use core::cell::UnsafeCell;

use hv_core::ids::{CpuId, VmId};
use hv_lwvm::fp::{self, FpRegs};

use super::super::super::api::MAX_VMS;
use super::super::super::generated::{CPU_COUNT, SYSTEM};

struct CpuFp {
    /// Whose registers are in the CPU: an lwVM, or (`None`) the full VMs.
    owner: Option<VmId>,
    /// CPTR_EL2 currently opens FP to EL0.
    open: bool,
    /// The full VMs' registers while an lwVM owns the CPU's.
    pool: FpRegs,
}

struct Slot<T>(UnsafeCell<T>);

// SAFETY: a slot is only dereferenced by the one CPU that owns it (see the module docs).
unsafe impl<T> Sync for Slot<T> {}

static CPUS: [Slot<CpuFp>; CPU_COUNT] = [const {
    Slot(UnsafeCell::new(CpuFp {
        owner: None,
        open: false,
        pool: FpRegs::ZERO,
    }))
}; CPU_COUNT];
static LWVMS: [Slot<FpRegs>; MAX_VMS] = [const { Slot(UnsafeCell::new(FpRegs::ZERO)) }; MAX_VMS];

fn cpu(c: CpuId) -> &'static mut CpuFp {
    // SAFETY: called on CPU `c` only, never holding two references at once.
    unsafe { &mut *CPUS[c.index()].0.get() }
}

fn lwvm(vm: VmId) -> &'static mut FpRegs {
    // SAFETY: called on the CPU lwVM `vm` is pinned to only, one reference at a time.
    unsafe { &mut *LWVMS[vm.index()].0.get() }
}

/// Before lwVM `vm` runs on CPU `c`: FP is open to it exactly when it owns the registers.
pub fn before_lwvm(c: CpuId, vm: VmId) {
    let s = cpu(c);
    let open = s.owner == Some(vm);
    if s.open != open {
        fp::set_el0_fp(open);
        s.open = open;
    }
}

/// lwVM `vm` trapped on an FP instruction on CPU `c`: make it the owner.
pub fn take(c: CpuId, vm: VmId) {
    let s = cpu(c);
    if s.owner != Some(vm) {
        match s.owner {
            None => fp::save(&mut s.pool),
            Some(o) => fp::save(lwvm(o)),
        }
        fp::load(lwvm(vm));
        s.owner = Some(vm);
    }
    fp::set_el0_fp(true);
    s.open = true;
}

/// Before a full vCPU runs on CPU `c`: the full VMs get their registers back.
pub fn before_full_vm(c: CpuId) {
    let s = cpu(c);
    if let Some(o) = s.owner.take() {
        fp::save(lwvm(o));
        fp::load(&s.pool);
    }
}

/// lwVM `vm` (re)starts: a fresh, zero FP state — also in the CPU if it owns it.
pub fn reset(vm: VmId) {
    *lwvm(vm) = FpRegs::ZERO;
    let c = SYSTEM.vcpu(SYSTEM.vm(vm).vcpu_id(0)).cpu_id();
    if cpu(c).owner == Some(vm) {
        fp::load(lwvm(vm));
    }
}
