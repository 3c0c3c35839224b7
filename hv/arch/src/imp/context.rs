//! The saved general-purpose state of a vCPU and the entry into a guest.
//!
//! `enter_guest` runs the vCPU until its next exception to EL2 and returns why it came
//! back. The vector code saves every general register into the `GuestRegs` it was given,
//! so between two entries the image crate sees and edits the guest's registers as
//! plain memory.

/// x0..x30, ELR_EL2 and SPSR_EL2 of a vCPU. Layout shared with `vectors.rs`.
#[repr(C)]
#[derive(Debug, Default, Clone)]
pub struct GuestRegs {
    /// x0..x30.
    pub x: [u64; 31],
    /// Where the guest resumes.
    pub elr: u64,
    /// PSTATE the guest resumes with.
    pub spsr: u64,
}

impl GuestRegs {
    /// Reads register `n` as an instruction operand (31 = XZR reads 0).
    pub fn get(&self, n: usize) -> u64 {
        if n < 31 { self.x[n] } else { 0 }
    }

    /// Writes register `n` (31 = XZR discards).
    pub fn set(&mut self, n: usize, v: u64) {
        if n < 31 {
            self.x[n] = v;
        }
    }
}

/// Why the guest came back to EL2 (which vector was taken; from AArch64 or AArch32 code
/// alike — SPSR_EL2.M\[4\] tells them apart). The values are those of
/// telemetry's `ExitClass`, so that the trap path stores the code as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Synchronous exception from a lower EL (AArch64): read ESR_EL2.
    Sync = 0,
    /// A physical IRQ arrived while the guest ran.
    Irq = 1,
    /// A physical FIQ arrived.
    Fiq = 2,
    /// An SError.
    SError = 3,
}

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
