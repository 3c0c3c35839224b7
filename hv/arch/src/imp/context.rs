//! The saved general-purpose state of a vCPU and the entry into a guest.
//!
//! `enter_guest` runs the vCPU until its next exception to EL2 and returns why it came
//! back. The vector code saves every general register into the `GuestRegs` it was given,
//! so between two entries the image crate sees and edits the guest's registers as
//! plain memory.

pub use crate::state::{Exit, GuestRegs};

unsafe extern "C" {
    fn hv_enter_guest(regs: *mut GuestRegs) -> u64;
}

/// Runs the guest whose state is `regs` (and whose EL1/stage-2 state is loaded) until
/// its next exception to EL2.
pub fn enter_guest(regs: &mut GuestRegs) -> Exit {
    // SAFETY: `regs` is a valid, exclusively borrowed GuestRegs; the assembly saves the
    // hypervisor's callee-saved registers on its stack, restores them before returning,
    // and writes only into `regs`.
    let code = unsafe { hv_enter_guest(regs) };
    match code {
        0 => Exit::Sync,
        1 => Exit::Irq,
        2 => Exit::Fiq,
        _ => Exit::SError,
    }
}
