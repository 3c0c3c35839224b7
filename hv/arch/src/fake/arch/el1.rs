//! The guest's EL1 system-register state: saved from and restored to the machine's
//! [`Machine::el1`](super::super::Machine::el1), the registers "in the CPU".
use hv_core::trap::debug::VDebug;

use super::super::machine::with;
use super::fpsimd::FpRegs;

/// A guest's EL1 system registers (and the EL0 ones the kernel owns), FP/SIMD registers,
/// pointer-authentication keys and debug state. Field names are the architectural
/// register names without their `_EL1` suffix.
#[repr(C)]
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct El1State {
    pub sctlr: u64,
    pub cpacr: u64,
    pub ttbr0: u64,
    pub ttbr1: u64,
    pub tcr: u64,
    pub mair: u64,
    pub amair: u64,
    pub vbar: u64,
    pub contextidr: u64,
    pub esr: u64,
    pub far: u64,
    pub afsr0: u64,
    pub afsr1: u64,
    pub elr: u64,
    pub spsr: u64,
    pub sp_el1: u64,
    pub sp_el0: u64,
    pub tpidr_el0: u64,
    pub tpidrro_el0: u64,
    pub tpidr_el1: u64,
    pub par: u64,
    pub csselr: u64,
    pub cntkctl: u64,
    pub cntv_ctl: u64,
    pub cntv_cval: u64,
    /// The EL1 physical timer (CNTP_CTL/CVAL_EL0), the guest's own: CNTHCTL_EL2.EL1PCEN
    /// lets it program the hardware timer, which is switched with the vCPU.
    pub cntp_ctl: u64,
    pub cntp_cval: u64,
    pub mdscr: u64,
    /// TPIDR2_EL0 (SME's; no CPTR_EL2 bit traps it, so it is switched where it exists).
    pub tpidr2_el0: u64,
    /// APIAKeyLo/Hi, APIBKeyLo/Hi, APDAKeyLo/Hi, APDBKeyLo/Hi, APGAKeyLo/Hi.
    pub pauth_keys: [u64; 10],
    /// V0..V31, FPSR, FPCR.
    pub fp: FpRegs,
    /// Breakpoints, watchpoints, OS lock, claim tags: emulated (MDCR_EL2.TDA/TDOSA), in
    /// the hardware only while this vCPU runs with a comparator enabled.
    pub debug: VDebug,
}

/// SCTLR_EL1 at reset as the Arm ARM gives its RES1 bits (MMU and caches off,
/// little-endian).
pub const SCTLR_EL1_RESET: u64 = 0x30D0_0800;

impl Default for El1State {
    fn default() -> Self {
        El1State::ZERO
    }
}

impl El1State {
    /// All zero (not a valid reset state: see [`El1State::reset`]).
    pub const ZERO: El1State = El1State {
        sctlr: 0,
        cpacr: 0,
        ttbr0: 0,
        ttbr1: 0,
        tcr: 0,
        mair: 0,
        amair: 0,
        vbar: 0,
        contextidr: 0,
        esr: 0,
        far: 0,
        afsr0: 0,
        afsr1: 0,
        elr: 0,
        spsr: 0,
        sp_el1: 0,
        sp_el0: 0,
        tpidr_el0: 0,
        tpidrro_el0: 0,
        tpidr_el1: 0,
        par: 0,
        csselr: 0,
        cntkctl: 0,
        cntv_ctl: 0,
        cntv_cval: 0,
        cntp_ctl: 0,
        cntp_cval: 0,
        mdscr: 0,
        tpidr2_el0: 0,
        pauth_keys: [0; 10],
        fp: FpRegs::ZERO,
        debug: VDebug::RESET,
    };

    /// The state of a vCPU coming out of reset: every register the hypervisor switches
    /// is cleared, so nothing of an earlier life (or another VM) survives.
    pub const fn reset() -> Self {
        El1State {
            sctlr: SCTLR_EL1_RESET,
            ..El1State::ZERO
        }
    }

    /// Loads this state into the CPU.
    pub fn restore(&self) {
        with(|m| {
            m.el1 = self.clone();
            m.fp = self.fp;
        })
    }

    /// Saves the CPU's current guest state into `self`.
    pub fn save(&mut self) {
        with(|m| {
            *self = m.el1.clone();
            self.fp = m.fp;
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
