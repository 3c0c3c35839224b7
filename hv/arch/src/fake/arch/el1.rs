//! The guest's EL1 system-register state: saved from and restored to the machine's
//! [`Machine::el1`](super::super::Machine::el1), the registers "in the CPU".

use super::super::machine::with;

pub use crate::state::{El1State, SCTLR_EL1_RESET};

impl El1State {
    /// Loads this state into the CPU (not the FP/SIMD registers: the image's world
    /// switch moves those lazily, as on the hardware).
    pub fn restore(&self) {
        with(|m| m.el1 = self.clone())
    }

    /// Saves the CPU's current guest state into `self` (FP/SIMD left as it is).
    pub fn save(&mut self) {
        with(|m| {
            let fp = self.fp;
            *self = m.el1.clone();
            self.fp = fp;
        })
    }
}

/// Writes a guest exception-return pair (used to inject an exception into the guest).
pub fn set_guest_exception_regs(esr: u64, elr: u64, spsr: u64) {
    with(|m| {
        m.el1.esr = esr;
        m.el1.elr = elr;
        m.el1.spsr = spsr;
    })
}

/// Writes FAR_EL1 of the guest currently loaded.
pub fn set_guest_far(far: u64) {
    with(|m| m.el1.far = far)
}

/// Reads SCTLR_EL1 of the guest currently loaded.
pub fn guest_sctlr() -> u64 {
    with(|m| m.el1.sctlr)
}

/// Reads VBAR_EL1 of the guest currently loaded.
pub fn guest_vbar() -> u64 {
    with(|m| m.el1.vbar)
}

/// Reads CNTV_CTL of the guest currently loaded.
pub fn guest_cntv_ctl() -> u64 {
    super::timer::guest_vtimer_ctl()
}

/// Writes CNTV_CTL of the guest currently loaded.
pub fn set_guest_cntv_ctl(v: u64) {
    super::timer::set_guest_vtimer_ctl(v)
}

/// Reads CNTP_CTL of the guest currently loaded.
pub fn guest_cntp_ctl() -> u64 {
    super::timer::guest_ptimer_ctl()
}

/// Writes CNTP_CTL of the guest currently loaded.
pub fn set_guest_cntp_ctl(v: u64) {
    super::timer::set_guest_ptimer_ctl(v)
}
