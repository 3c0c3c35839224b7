//! The EL1 physical timer (CNTP_*_EL0) and the physical counter (CNTPCT_EL0). Its
//! interrupt is PPI 30 ([`INTID`]), level-sensitive: mask or disable the timer before the
//! EOI. The control bits are those of [`crate::timer`].
use core::arch::asm;

/// INTID of the EL1 physical timer (non-secure).
pub const INTID: u32 = 30;

/// CNTPCT_EL0, read after an ISB so that it is not taken early.
pub fn now() -> u64 {
    let v: u64;
    // SAFETY: reading the physical counter has no side effect.
    unsafe { asm!("isb", "mrs {}, cntpct_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// Arms the timer to fire when CNTPCT_EL0 reaches `cval` (interrupt unmasked).
pub fn arm_at(cval: u64) {
    // SAFETY: programs only this vCPU's physical timer.
    unsafe {
        asm!("msr cntp_cval_el0, {}", "msr cntp_ctl_el0, {}", "isb",
            in(reg) cval, in(reg) crate::timer::CTL_ENABLE, options(nomem, nostack));
    }
}

/// Arms the timer `ticks` from now through CNTP_TVAL_EL0 (interrupt unmasked).
pub fn arm_in(ticks: u32) {
    // SAFETY: programs only this vCPU's physical timer.
    unsafe {
        asm!("msr cntp_tval_el0, {}", "msr cntp_ctl_el0, {}", "isb",
            in(reg) ticks as u64, in(reg) crate::timer::CTL_ENABLE, options(nomem, nostack));
    }
}

/// CNTP_CTL_EL0.
pub fn ctl() -> u64 {
    let v: u64;
    // SAFETY: reading CNTP_CTL_EL0 has no side effect.
    unsafe { asm!("mrs {}, cntp_ctl_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// CNTP_CVAL_EL0.
pub fn cval() -> u64 {
    let v: u64;
    // SAFETY: reading CNTP_CVAL_EL0 has no side effect.
    unsafe { asm!("mrs {}, cntp_cval_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// Disables the timer (its interrupt condition goes away).
pub fn disable() {
    // SAFETY: programs only this vCPU's physical timer.
    unsafe { asm!("msr cntp_ctl_el0, xzr", "isb", options(nomem, nostack)) };
}
