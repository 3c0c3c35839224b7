//! The guest's EL1 system-register state and its save/restore.
//!
//! This is the one place that knows whether the hypervisor runs with HCR_EL2.E2H=0 (the
//! guest's EL1 registers are reached by their own names) or E2H=1 (VHE, feature `vhe`:
//! the `*_EL1` names reach the hypervisor's own EL2 registers and the guest's are the
//! `*_EL12` aliases). The choice is made at module level; callers see one API.

use core::arch::asm;

/// Name of a guest EL1 register as seen from EL2 with E2H=0.
#[cfg(not(feature = "vhe"))]
macro_rules! el1 {
    ($n:literal) => {
        concat!($n, "_el1")
    };
}
/// Name of a guest EL1 register as seen from EL2 with E2H=1 (the `*_EL12` alias).
#[cfg(feature = "vhe")]
macro_rules! el1 {
    ($n:literal) => {
        concat!($n, "_el12")
    };
}
/// Name of a guest EL0 timer register as seen from EL2 (`*_EL02` under E2H=1).
#[cfg(not(feature = "vhe"))]
macro_rules! el0 {
    ($n:literal) => {
        concat!($n, "_el0")
    };
}
#[cfg(feature = "vhe")]
macro_rules! el0 {
    ($n:literal) => {
        concat!($n, "_el02")
    };
}

macro_rules! rd {
    ($name:expr) => {{
        let v: u64;
        // SAFETY: reading a guest context register at EL2 has no side effects.
        unsafe { asm!(concat!(".arch armv8.1-a\nmrs {}, ", $name), out(reg) v, options(nomem, nostack)) };
        v
    }};
}

macro_rules! wr {
    ($name:expr, $v:expr) => {{
        let v: u64 = $v;
        // SAFETY: guest context registers only take effect once the guest runs; the
        // hypervisor at EL2 does not depend on them.
        unsafe { asm!(concat!(".arch armv8.1-a\nmsr ", $name, ", {}"), in(reg) v, options(nomem, nostack)) };
    }};
}

/// A guest's EL1 system registers (and the EL0 ones the kernel owns). Field names are
/// the architectural register names without their `_EL1` suffix.
#[repr(C)]
#[derive(Debug, Default, Clone)]
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
    pub mdscr: u64,
}

/// SCTLR_EL1 at reset as the Arm ARM gives its RES1 bits (MMU and caches off,
/// little-endian).
pub const SCTLR_EL1_RESET: u64 = 0x30D0_0800;

impl El1State {
    /// The state of a vCPU coming out of reset.
    pub fn reset() -> Self {
        El1State {
            sctlr: SCTLR_EL1_RESET,
            ..Default::default()
        }
    }

    /// Loads this state into the CPU.
    pub fn restore(&self) {
        wr!(el1!("sctlr"), self.sctlr);
        wr!(el1!("cpacr"), self.cpacr);
        wr!(el1!("ttbr0"), self.ttbr0);
        wr!(el1!("ttbr1"), self.ttbr1);
        wr!(el1!("tcr"), self.tcr);
        wr!(el1!("mair"), self.mair);
        wr!(el1!("amair"), self.amair);
        wr!(el1!("vbar"), self.vbar);
        wr!(el1!("contextidr"), self.contextidr);
        wr!(el1!("esr"), self.esr);
        wr!(el1!("far"), self.far);
        wr!(el1!("afsr0"), self.afsr0);
        wr!(el1!("afsr1"), self.afsr1);
        wr!(el1!("elr"), self.elr);
        wr!(el1!("spsr"), self.spsr);
        wr!(el1!("cntkctl"), self.cntkctl);
        wr!(el0!("cntv_cval"), self.cntv_cval);
        wr!(el0!("cntv_ctl"), self.cntv_ctl);
        wr!("sp_el1", self.sp_el1);
        wr!("sp_el0", self.sp_el0);
        wr!("tpidr_el0", self.tpidr_el0);
        wr!("tpidrro_el0", self.tpidrro_el0);
        wr!("tpidr_el1", self.tpidr_el1);
        wr!("par_el1", self.par);
        wr!("csselr_el1", self.csselr);
        wr!("mdscr_el1", self.mdscr);
    }

    /// Saves the CPU's current guest state into `self`.
    pub fn save(&mut self) {
        self.sctlr = rd!(el1!("sctlr"));
        self.cpacr = rd!(el1!("cpacr"));
        self.ttbr0 = rd!(el1!("ttbr0"));
        self.ttbr1 = rd!(el1!("ttbr1"));
        self.tcr = rd!(el1!("tcr"));
        self.mair = rd!(el1!("mair"));
        self.amair = rd!(el1!("amair"));
        self.vbar = rd!(el1!("vbar"));
        self.contextidr = rd!(el1!("contextidr"));
        self.esr = rd!(el1!("esr"));
        self.far = rd!(el1!("far"));
        self.afsr0 = rd!(el1!("afsr0"));
        self.afsr1 = rd!(el1!("afsr1"));
        self.elr = rd!(el1!("elr"));
        self.spsr = rd!(el1!("spsr"));
        self.cntkctl = rd!(el1!("cntkctl"));
        self.cntv_cval = rd!(el0!("cntv_cval"));
        self.cntv_ctl = rd!(el0!("cntv_ctl"));
        self.sp_el1 = rd!("sp_el1");
        self.sp_el0 = rd!("sp_el0");
        self.tpidr_el0 = rd!("tpidr_el0");
        self.tpidrro_el0 = rd!("tpidrro_el0");
        self.tpidr_el1 = rd!("tpidr_el1");
        self.par = rd!("par_el1");
        self.csselr = rd!("csselr_el1");
        self.mdscr = rd!("mdscr_el1");
    }
}

/// Writes a guest exception-return pair (used to inject an exception into the guest).
pub fn set_guest_exception_regs(esr: u64, elr: u64, spsr: u64) {
    wr!(el1!("esr"), esr);
    wr!(el1!("elr"), elr);
    wr!(el1!("spsr"), spsr);
}

/// Writes FAR_EL1 of the guest currently loaded (aborts report the faulting address).
pub fn set_guest_far(far: u64) {
    wr!(el1!("far"), far);
}

/// Reads SCTLR_EL1 of the guest currently loaded.
pub fn guest_sctlr() -> u64 {
    rd!(el1!("sctlr"))
}

/// Reads VBAR_EL1 of the guest currently loaded.
pub fn guest_vbar() -> u64 {
    rd!(el1!("vbar"))
}

/// Reads CNTV_CTL of the guest currently loaded.
pub fn guest_cntv_ctl() -> u64 {
    rd!(el0!("cntv_ctl"))
}

/// Writes CNTV_CTL of the guest currently loaded.
pub fn set_guest_cntv_ctl(v: u64) {
    wr!(el0!("cntv_ctl"), v);
}
