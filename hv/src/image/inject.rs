//! Injecting a synchronous exception into the loaded guest (the decision is
//! `hv_core::trap::inject`'s; this applies it to the guest's registers).
use hv_arch::el1;
use hv_core::trap::inject::{GuestException, GuestState, inject};

use super::state::Vcpu;

/// Injects a synchronous exception into the (loaded) guest at its current PC.
pub fn inject_fault(vcpu: &mut Vcpu, exc: GuestException) {
    let guest = GuestState {
        spsr: vcpu.regs.spsr,
        elr: vcpu.regs.elr,
        vbar_el1: el1::guest_vbar(),
        sctlr_el1: el1::guest_sctlr(),
    };
    let inj = inject(exc, guest);
    el1::set_guest_exception_regs(inj.esr_el1, inj.elr_el1, inj.spsr_el1);
    if let Some(far) = inj.far_el1 {
        el1::set_guest_far(far);
    }
    vcpu.regs.elr = inj.new_pc;
    vcpu.regs.spsr = inj.new_spsr;
}
