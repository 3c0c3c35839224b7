//! The hardware side of the guests' emulated debug state (`hv_core::trap::debug`) and
//! of trapped set/way cache maintenance.
//!
//! The breakpoint and watchpoint registers hold a vCPU's (sanitised) comparators only
//! while that vCPU is loaded and has some enabled ([`load`]); otherwise every comparator
//! is disabled ([`disable_all`]). MDSCR_EL1 is part of the guest's EL1 context (`el1`):
//! the emulation reads and writes the loaded one here.
use core::arch::asm;

use hv_core::trap::debug::{Comparators, VDebug};

macro_rules! dbg_msr {
    ($kind:literal, $i:literal, $v:expr) => {
        // SAFETY: a debug comparator only takes effect for the guest (HMC and SSC are
        // cleared by `VDebug::hw_*`, so it never matches at EL2); callers pass `n` below
        // the hardware's count, so the register exists.
        unsafe {
            asm!(concat!("msr dbg", $kind, stringify!($i), "_el1, {}"), in(reg) $v, options(nomem, nostack))
        }
    };
}

macro_rules! wr_dbg {
    ($kind:literal, $n:expr, $v:expr) => {{
        let v: u64 = $v;
        match $n {
            0 => dbg_msr!($kind, 0, v),
            1 => dbg_msr!($kind, 1, v),
            2 => dbg_msr!($kind, 2, v),
            3 => dbg_msr!($kind, 3, v),
            4 => dbg_msr!($kind, 4, v),
            5 => dbg_msr!($kind, 5, v),
            6 => dbg_msr!($kind, 6, v),
            7 => dbg_msr!($kind, 7, v),
            8 => dbg_msr!($kind, 8, v),
            9 => dbg_msr!($kind, 9, v),
            10 => dbg_msr!($kind, 10, v),
            11 => dbg_msr!($kind, 11, v),
            12 => dbg_msr!($kind, 12, v),
            13 => dbg_msr!($kind, 13, v),
            14 => dbg_msr!($kind, 14, v),
            _ => dbg_msr!($kind, 15, v),
        }
    }};
}

/// Loads `d`'s comparators into the hardware (the vCPU is loaded and `d.active()`).
pub fn load(d: &VDebug, c: Comparators) {
    for n in 0..c.breakpoints as usize {
        wr_dbg!("bcr", n, 0);
        wr_dbg!("bvr", n, d.bvr(n));
        wr_dbg!("bcr", n, d.hw_bcr(n));
    }
    for n in 0..c.watchpoints as usize {
        wr_dbg!("wcr", n, 0);
        wr_dbg!("wvr", n, d.wvr(n));
        wr_dbg!("wcr", n, d.hw_wcr(n));
    }
    isb();
}

/// Disables every comparator (values left behind are unreachable: guests' reads are
/// emulated).
pub fn disable_all(c: Comparators) {
    for n in 0..c.breakpoints as usize {
        wr_dbg!("bcr", n, 0);
    }
    for n in 0..c.watchpoints as usize {
        wr_dbg!("wcr", n, 0);
    }
    isb();
}

/// MDSCR_EL1 of the loaded guest.
pub fn guest_mdscr() -> u64 {
    let v: u64;
    // SAFETY: reading MDSCR_EL1 has no side effects.
    unsafe { asm!("mrs {}, mdscr_el1", out(reg) v, options(nomem, nostack)) };
    v
}

/// Writes MDSCR_EL1 of the loaded guest (`v` masked to the bits a guest may set).
pub fn set_guest_mdscr(v: u64) {
    // SAFETY: MDSCR_EL1 controls debug exceptions targeting EL1 (TDE = 0), the guest's.
    unsafe { asm!("msr mdscr_el1, {}", "isb", in(reg) v, options(nomem, nostack)) };
}

/// DC CISW with a guest's set/way/level operand: cleans and invalidates that line of
/// the local caches, whoever's data it holds.
pub fn clean_invalidate_set_way(sw: u64) {
    // SAFETY: cache maintenance by set/way never faults; a clean+invalidate writes dirty
    // data back before dropping the line, so no VM's or hypervisor data is lost.
    // Out-of-range fields are CONSTRAINED UNPREDICTABLE, limited to a maintenance of some
    // line or none.
    unsafe { asm!("dc cisw, {}", "dsb sy", in(reg) sw, options(nostack)) };
}

fn isb() {
    // SAFETY: ISB has no memory effect.
    unsafe { asm!("isb", options(nomem, nostack)) }
}
