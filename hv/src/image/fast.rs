//! The exit fast path: the vector offers a synchronous exit of the classes it may answer
//! to [`hv_fast_hvc`], [`hv_fast_sgi`] or [`hv_fast_dabt`] once the guest's registers are
//! saved, before it returns to the run loop. What `hv_core::fast` answers (a constant
//! SMCCC answer, VM_INFO, an SGI write with no target, a constant distributor register)
//! resumes the guest from the vector: no pass of the run loop, no scheduler, no vGIC work.
//!
//! Every full vCPU's registers offer the path (the run loop sets their `fast` word when it
//! takes the vCPU up, unless a reschedule request is pending: the path never looks at
//! it). A trap it answers changes nothing but the vCPU's own registers, so what the run
//! loop would have done at that exit can wait for the next one it sees: list registers
//! the entry filled stay loaded and are read back then (they are the hardware's until
//! that exit), and anything that must change what runs — a kick, a maintenance
//! interrupt, the timer — is a physical interrupt, taken as an IRQ exit the moment the
//! guest resumes. Telemetry records the trap with the same record the run loop's hooks
//! make.
use hv_arch::context::GuestRegs;
use hv_core::fast::{Fast, VmFacts, common_hvc, decide_dabt, decide_sysreg, hpfar_of, other_hvc};
use hv_core::ids::VcpuId;
use hv_core::vgic::dist::gicd_typer;

use super::generated::SYSTEM;

/// The `fast_page` word of vCPU `v`'s registers: its VM's distributor's first page, where
/// the constant registers are.
pub fn page(v: VcpuId) -> u64 {
    hpfar_of(SYSTEM.vm(SYSTEM.vcpu(v).vm_id()).gicd_ipa)
}

/// The facts of vCPU `v`'s VM that answers need (all fixed offline).
#[inline(always)]
fn facts(v: VcpuId) -> VmFacts {
    let d = SYSTEM.vcpu(v);
    let vm = SYSTEM.vm(d.vm_id());
    VmFacts {
        info: super::smccc::vm_info(v),
        gicd_ipa: vm.gicd_ipa,
        // its model's owned SPIs are these (ascending)
        gicd_typer: gicd_typer(vm.owned_spis.last().copied(), vm.vcpus.len()),
    }
}

/// The vector's branch for an HVC: nonzero when answered (the guest resumes at once).
/// The common calls are answered here without a stack frame (in the plain image); the
/// rest go on to [`hvc_other`] (a tail call). Every branch stamps the trap's arrival
/// first (telemetry; nothing in the plain image).
#[unsafe(no_mangle)]
extern "C" fn hv_fast_hvc(regs: *mut GuestRegs, esr: u64) -> u64 {
    let entry = super::telemetry::stamp();
    // SAFETY: `regs` are the registers the run loop lent `enter_guest`, which is still
    // running (this is its exit path); nothing else refers to them until it returns.
    let regs = unsafe { &mut *regs };
    if let Some(a) = common_hvc(esr, regs.x[0]) {
        return apply(regs, esr, entry, a);
    }
    hvc_other(regs, esr, entry)
}

/// [`hv_fast_hvc`] of the calls [`hv_core::fast::other_hvc`] answers.
#[inline(never)]
fn hvc_other(regs: &mut GuestRegs, esr: u64, entry: u64) -> u64 {
    answer(regs, esr, entry, |r| other_hvc(esr, &r.x))
}

/// The vector's branch for an `MSR ICC_SGI1R_EL1` with no target: nonzero when answered.
#[unsafe(no_mangle)]
extern "C" fn hv_fast_sgi(regs: *mut GuestRegs, esr: u64) -> u64 {
    let entry = super::telemetry::stamp();
    // SAFETY: as in `hv_fast_hvc`.
    let regs = unsafe { &mut *regs };
    answer(regs, esr, entry, |r| decide_sysreg(esr, &r.x))
}

/// The vector's branch for a data abort on the distributor's first page: nonzero when
/// answered.
#[unsafe(no_mangle)]
extern "C" fn hv_fast_dabt(regs: *mut GuestRegs, esr: u64) -> u64 {
    let entry = super::telemetry::stamp();
    // SAFETY: as in `hv_fast_hvc`.
    let regs = unsafe { &mut *regs };
    answer(regs, esr, entry, |r| {
        let (far, hpfar) = hv_arch::regs::fault_addresses();
        decide_dabt(esr, far, hpfar, r.spsr, || {
            facts(VcpuId::new(r.vcpu as u16))
        })
    })
}

/// Applies what `decide` answers (if anything) to `regs` and records the trap, which
/// arrived at `entry`.
#[inline(always)]
fn answer(
    regs: &mut GuestRegs,
    esr: u64,
    entry: u64,
    decide: impl FnOnce(&GuestRegs) -> Option<Fast>,
) -> u64 {
    match decide(regs) {
        Some(a) => apply(regs, esr, entry, a),
        None => 0,
    }
}

/// Carries out answer `a` to the trap with syndrome `esr` (arrived at `entry`) and
/// records it: 1 (resume).
#[inline(always)]
fn apply(regs: &mut GuestRegs, esr: u64, entry: u64, a: Fast) -> u64 {
    let x0_in = regs.x[0];
    match a {
        Fast::X0(r) => regs.x[0] = r,
        Fast::VmInfo => regs.x[..4].copy_from_slice(&facts(VcpuId::new(regs.vcpu as u16)).info),
        Fast::Skip => regs.elr += 4,
        Fast::Load { reg, value } => {
            regs.set(usize::from(reg), value);
            regs.elr += 4;
        }
    }
    super::telemetry::answered(VcpuId::new(regs.vcpu as u16), esr, entry, x0_in, regs.x[0]);
    1
}
