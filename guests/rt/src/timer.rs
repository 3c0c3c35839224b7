//! The EL1 virtual timer (CNTV_*_EL0) and the virtual counter (CNTVCT_EL0).
//! Its interrupt is PPI 27 ([`INTID`]), level-sensitive: mask or disable the timer
//! before the EOI.
use core::arch::asm;

/// INTID of the EL1 virtual timer.
pub const INTID: u32 = 27;
/// CNTV_CTL_EL0.ENABLE.
pub const CTL_ENABLE: u64 = 1 << 0;
/// CNTV_CTL_EL0.IMASK.
pub const CTL_IMASK: u64 = 1 << 1;
/// CNTV_CTL_EL0.ISTATUS (read-only).
pub const CTL_ISTATUS: u64 = 1 << 2;

/// CNTFRQ_EL0: counter ticks per second.
pub fn frequency() -> u64 {
    let v: u64;
    // SAFETY: reading CNTFRQ_EL0 has no side effect.
    unsafe { asm!("mrs {}, cntfrq_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// CNTVCT_EL0, read after an ISB so that it is not taken early.
pub fn now() -> u64 {
    let v: u64;
    // SAFETY: reading the virtual counter has no side effect.
    unsafe { asm!("isb", "mrs {}, cntvct_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// Ticks in `us` microseconds.
pub fn us_to_ticks(us: u64) -> u64 {
    frequency() * us / 1_000_000
}

/// Arms the timer to fire when CNTVCT_EL0 reaches `cval` (interrupt unmasked).
pub fn arm_at(cval: u64) {
    // SAFETY: programs only this vCPU's virtual timer.
    unsafe {
        asm!("msr cntv_cval_el0, {}", "msr cntv_ctl_el0, {}", "isb",
            in(reg) cval, in(reg) CTL_ENABLE, options(nomem, nostack));
    }
}

/// CNTV_CTL_EL0.
pub fn ctl() -> u64 {
    let v: u64;
    // SAFETY: reading CNTV_CTL_EL0 has no side effect.
    unsafe { asm!("mrs {}, cntv_ctl_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// CNTV_CVAL_EL0.
pub fn cval() -> u64 {
    let v: u64;
    // SAFETY: reading CNTV_CVAL_EL0 has no side effect.
    unsafe { asm!("mrs {}, cntv_cval_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// Disables the timer (its interrupt condition goes away).
pub fn disable() {
    // SAFETY: programs only this vCPU's virtual timer.
    unsafe { asm!("msr cntv_ctl_el0, xzr", "isb", options(nomem, nostack)) };
}

/// Busy-waits until `ticks` have passed or `done()` holds; returns whether it held.
pub fn spin_until(ticks: u64, mut done: impl FnMut() -> bool) -> bool {
    let end = now() + ticks;
    while now() < end {
        if done() {
            return true;
        }
    }
    done()
}
