//! The guest's EL1 system-register state and its save/restore.
//!
//! This is the one place that knows whether the hypervisor runs with HCR_EL2.E2H=0 (the
//! guest's EL1 registers are reached by their own names) or E2H=1 (VHE, feature `vhe`:
//! the `*_EL1` names reach the hypervisor's own EL2 registers and the guest's are the
//! `*_EL12` aliases). The choice is made at module level; callers see one API.
//!
//! [`El1State`] is everything of a vCPU that the hardware keeps outside the general
//! registers and that a guest can reach at EL1 or EL0 — system registers, FP/SIMD,
//! pointer-authentication keys, TPIDR2_EL0, the emulated debug state — so that two VMs
//! sharing a CPU see nothing of each other (docs/TRAPS.md lists what is switched,
//! trapped or hidden instead).

use core::arch::asm;

use super::{debug, features};

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

pub use crate::state::{El1State, SCTLR_EL1_RESET};

macro_rules! keys {
    ($m:ident, $k:expr) => {
        $m!("s3_0_c2_c1_0", $k[0]);
        $m!("s3_0_c2_c1_1", $k[1]);
        $m!("s3_0_c2_c1_2", $k[2]);
        $m!("s3_0_c2_c1_3", $k[3]);
        $m!("s3_0_c2_c2_0", $k[4]);
        $m!("s3_0_c2_c2_1", $k[5]);
        $m!("s3_0_c2_c2_2", $k[6]);
        $m!("s3_0_c2_c2_3", $k[7]);
        $m!("s3_0_c2_c3_0", $k[8]);
        $m!("s3_0_c2_c3_1", $k[9]);
    };
}
macro_rules! save_to {
    ($name:literal, $slot:expr) => {
        $slot = rd!($name)
    };
}
macro_rules! load_from {
    ($name:literal, $slot:expr) => {
        wr!($name, $slot)
    };
}

impl El1State {
    /// Loads this state into the CPU — all but the FP/SIMD registers (`fp`), which the
    /// image's world switch moves lazily (`fpsimd`).
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
        wr!(el0!("cntp_cval"), self.cntp_cval);
        wr!(el0!("cntp_ctl"), self.cntp_ctl);
        wr!("sp_el1", self.sp_el1);
        wr!("sp_el0", self.sp_el0);
        wr!("tpidr_el0", self.tpidr_el0);
        wr!("tpidrro_el0", self.tpidrro_el0);
        wr!("tpidr_el1", self.tpidr_el1);
        wr!("par_el1", self.par);
        wr!("csselr_el1", self.csselr);
        wr!("mdscr_el1", self.mdscr);
        if features::sme() {
            wr!("s3_3_c13_c0_5", self.tpidr2_el0);
        }
        if features::pauth() {
            keys!(load_from, self.pauth_keys);
        }
        if self.debug.active() {
            debug::load(&self.debug, features::comparators());
        }
    }

    /// Saves the CPU's current guest state into `self` (not `fp`, see [`Self::restore`]).
    /// Afterwards no comparator of this vCPU is enabled in the hardware.
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
        self.cntp_cval = rd!(el0!("cntp_cval"));
        self.cntp_ctl = rd!(el0!("cntp_ctl"));
        self.sp_el1 = rd!("sp_el1");
        self.sp_el0 = rd!("sp_el0");
        self.tpidr_el0 = rd!("tpidr_el0");
        self.tpidrro_el0 = rd!("tpidrro_el0");
        self.tpidr_el1 = rd!("tpidr_el1");
        self.par = rd!("par_el1");
        self.csselr = rd!("csselr_el1");
        self.mdscr = rd!("mdscr_el1");
        if features::sme() {
            self.tpidr2_el0 = rd!("s3_3_c13_c0_5");
        }
        if features::pauth() {
            keys!(save_to, self.pauth_keys);
        }
        if self.debug.active() {
            debug::disable_all(features::comparators());
        }
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

/// Reads CNTP_CTL (the EL1 physical timer) of the guest currently loaded.
pub fn guest_cntp_ctl() -> u64 {
    rd!(el0!("cntp_ctl"))
}

/// Writes CNTP_CTL of the guest currently loaded.
pub fn set_guest_cntp_ctl(v: u64) {
    wr!(el0!("cntp_ctl"), v);
}
