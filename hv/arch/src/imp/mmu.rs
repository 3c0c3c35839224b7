//! Turns on the hypervisor's own MMU from the pregenerated EL2 stage-1 tables.
// Under VHE the E2H=1 path of `vhe` replaces the E2H=0 one below.
#![cfg_attr(feature = "vhe", allow(dead_code, unused_imports))]
use core::arch::asm;

/// SCTLR_EL2 (E2H=0) RES1 bits.
const SCTLR_EL2_RES1: u64 = (1 << 29)
    | (1 << 28)
    | (1 << 23)
    | (1 << 22)
    | (1 << 18)
    | (1 << 16)
    | (1 << 11)
    | (1 << 5)
    | (1 << 4);
const SCTLR_M: u64 = 1 << 0;
const SCTLR_A: u64 = 1 << 1;
const SCTLR_C: u64 = 1 << 2;
const SCTLR_SA: u64 = 1 << 3;
const SCTLR_I: u64 = 1 << 12;

/// Under VHE (feature `vhe`) the MMU comes on with E2H=1: see `vhe::enable_el2`.
#[cfg(feature = "vhe")]
pub use super::vhe::enable_el2;

/// Loads MAIR/TCR/TTBR0_EL2 and enables the MMU and caches.
///
/// # Safety
/// `ttbr0` must be the root of tables that identity-map at least the code executing,
/// its stack and everything the hypervisor touches afterwards, with attributes matching
/// `mair` and `tcr`.
#[cfg(not(feature = "vhe"))]
pub unsafe fn enable_el2(mair: u64, tcr: u64, ttbr0: u64) {
    let sctlr = SCTLR_EL2_RES1 | SCTLR_M | SCTLR_A | SCTLR_C | SCTLR_SA | SCTLR_I;
    // SAFETY: the caller guarantees the tables identity-map the running code, so the
    // instruction after the SCTLR write is fetched from the same address.
    unsafe {
        asm!(
            "msr mair_el2, {mair}",
            "msr tcr_el2, {tcr}",
            "msr ttbr0_el2, {ttbr}",
            "isb",
            "tlbi alle2",
            "dsb sy",
            "ic iallu",
            "dsb sy",
            "isb",
            "msr sctlr_el2, {sctlr}",
            "isb",
            mair = in(reg) mair, tcr = in(reg) tcr, ttbr = in(reg) ttbr0, sctlr = in(reg) sctlr,
            options(nostack),
        );
    }
}
