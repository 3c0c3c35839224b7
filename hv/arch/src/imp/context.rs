//! The saved general-purpose state of a vCPU and the entry into a guest.
//!
//! `enter_guest` runs the vCPU until its next exception to EL2 and returns why it came
//! back. The vector code saves every general register into the `GuestRegs` it was given,
//! so between two entries the image crate sees and edits the guest's registers as
//! plain memory.

pub use crate::state::{Exit, GuestRegs};

unsafe extern "C" {
    fn hv_enter_guest(regs: *mut GuestRegs) -> u64;
    fn hv_take_serror() -> u64;
}

/// Whether a physical SError is pending once every memory access made so far has
/// completed (`DSB SY`; ISR_EL1.A); if so it is taken at EL2 in a controlled window and so
/// consumed. Called when a guest stops running on this CPU: its late SError (an
/// asynchronous abort of its own accesses, routed to EL2 by HCR_EL2.AMO) is then charged
/// to it, not to the next guest. Costs a DSB, an ISB and a system-register read.
#[inline(always)]
pub fn take_guest_serror() -> bool {
    let isr: u64;
    // SAFETY: a barrier and an ID-like status read; no memory or state is changed.
    unsafe {
        core::arch::asm!("dsb sy", "isb", "mrs {}, isr_el1", out(reg) isr, options(nostack));
    }
    isr & (1 << 8) != 0 && consume_serror()
}

/// Takes the pending SError in `hv_take_serror`'s window.
#[cold]
#[inline(never)]
fn consume_serror() -> bool {
    // SAFETY: the function touches only x0/x1 and PSTATE.A, which it leaves masked as the
    // run loop has it; an SError taken inside its window returns into it (the EL2 SError
    // vector), any other stays a hypervisor fault.
    unsafe { hv_take_serror() != 0 }
}

/// Runs the guest whose state is `regs` (and whose EL1/stage-2 state is loaded) until
/// its next exception to EL2.
pub fn enter_guest(regs: &mut GuestRegs) -> Exit {
    // SAFETY: `regs` is a valid, exclusively borrowed GuestRegs; the assembly saves the
    // hypervisor's callee-saved registers on its stack, restores them before returning,
    // and writes only into `regs` — apart from the image's exit fast path it may call
    // (`hv_fast_*`), which is given `regs` and otherwise touches only its own CPU's
    // telemetry state, which no Rust reference holds across this call.
    let code = unsafe { hv_enter_guest(regs) };
    match code {
        0 => Exit::Sync,
        1 => Exit::Irq,
        2 => Exit::Fiq,
        _ => Exit::SError,
    }
}
