//! The saved general-purpose state of a vCPU and the entry into its scripted guest.

/// x0..x30, ELR_EL2 and SPSR_EL2 of a vCPU.
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

/// Why the guest came back to EL2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Synchronous exception: read the syndrome.
    Sync = 0,
    /// A physical IRQ arrived while the guest ran.
    Irq = 1,
    /// A physical FIQ arrived.
    Fiq = 2,
    /// An SError.
    SError = 3,
}

/// Runs one step of the loaded vCPU's guest script (or is interrupted at once by a
/// pending physical interrupt).
pub fn enter_guest(regs: &mut GuestRegs) -> Exit {
    super::super::machine::enter_guest(regs)
}
