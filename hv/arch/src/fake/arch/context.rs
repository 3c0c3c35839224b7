//! The saved general-purpose state of a vCPU and the entry into its scripted guest.

pub use crate::state::{Exit, GuestRegs};

/// Runs one step of the loaded vCPU's guest script (or is interrupted at once by a
/// pending physical interrupt).
pub fn enter_guest(regs: &mut GuestRegs) -> Exit {
    super::super::machine::enter_guest(regs)
}

/// Whether a physical SError is pending ([`Machine::serror_pending`]); taking it clears it.
///
/// [`Machine::serror_pending`]: super::super::Machine::serror_pending
pub fn take_guest_serror() -> bool {
    super::super::machine::with(|m| core::mem::take(&mut m.serror_pending))
}
