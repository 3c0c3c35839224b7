//! The hypervisor under ARMv8.1 VHE (feature `vhe`): HCR_EL2.E2H=1 from boot on.
//!
//! Why: with E2H=1 the EL2 translation regime becomes the EL2&0 regime, in which the
//! hypervisor can run lightweight VMs at EL0 (lwvm/) with no EL1 state of their own. What
//! changes for the hypervisor itself: TCR_EL2 and SCTLR_EL2 take the `*_EL1` layouts,
//! CPTR_EL2 and CNTHCTL_EL2 the CPACR_EL1/CNTKCTL_EL1-like ones, and the guests' EL1
//! registers are reached through the `*_EL12` aliases (see `el1`). Full VMs do not see
//! any of this: their EL1&0 regime, stage 2, vGIC and timers work as with E2H=0.
//!
//! Invariant: E2H is set once, before the MMU is turned on, and never cleared; every
//! HCR_EL2 value the hypervisor writes afterwards carries it ([`HCR_E2H`]).
use core::arch::asm;

/// HCR_EL2.E2H.
pub const HCR_E2H: u64 = 1 << 34;
/// HCR_EL2.TGE: EL0 runs in the EL2&0 regime and its exceptions go to EL2.
pub const HCR_TGE: u64 = 1 << 27;

/// SCTLR_EL2 with E2H=1 (the SCTLR_EL1 layout), besides M/A/C/SA/I: SA0 (EL0 stack
/// alignment check), CP15BEN, EOS/EIS (exception exit/entry synchronise), TSCXT (EL0
/// SCXTNUM traps), nTLSMD/LSMAOE. Left 0, so that EL0 (a lightweight VM) traps: UMA
/// (DAIF), DZE (DC ZVA), UCT (CTR_EL0), nTWI/nTWE (WFI/WFE), UCI (cache maintenance), the
/// pointer-authentication key enables; and SPAN, so that every exception to EL2 sets
/// PSTATE.PAN: the hypervisor cannot touch an lwVM's (EL0-accessible) pages by mistake.
pub const SCTLR_EL2_VHE: u64 = (1 << 29)
    | (1 << 28)
    | (1 << 22)
    | (1 << 20)
    | (1 << 12)
    | (1 << 11)
    | (1 << 5)
    | (1 << 4)
    | (1 << 3)
    | (1 << 2)
    | (1 << 1)
    | (1 << 0);

/// CPTR_EL2 with E2H=1 (CPACR_EL1 layout). FPEN=0b01 traps FP/SIMD only at EL0 *with
/// TGE=1*, that is in a lightweight VM (lwvm/ switches FP state lazily on that trap and
/// then opens FPEN for the FP owner, [`cptr_el2`]); full VMs and EL2 are not trapped
/// for FP (the world switch moves their registers). ZEN=0b00 and SMEN=0b00 trap SVE and
/// SME everywhere (hidden from every VM; the hypervisor uses neither), TTA (bit 28)
/// traps the trace registers (hidden). The same rights as the E2H=0 value
/// (`features::CPTR_EL2_NVHE`).
pub const CPTR_EL2_VHE: u64 = (0b01 << 20) | (1 << 28);
/// [`CPTR_EL2_VHE`] with FP/SIMD open to EL0 as well (SVE and SME stay trapped).
pub const CPTR_EL2_VHE_FP_OPEN: u64 = (0b11 << 20) | (1 << 28);

/// The CPTR_EL2 value to run with: [`CPTR_EL2_VHE`] (or, with FP open to an lwVM,
/// [`CPTR_EL2_VHE_FP_OPEN`]), plus TAM when the CPU has activity monitors (hidden from
/// VMs; the bit is RES0 otherwise).
pub fn cptr_el2(fp_el0_open: bool) -> u64 {
    let base = if fp_el0_open {
        CPTR_EL2_VHE_FP_OPEN
    } else {
        CPTR_EL2_VHE
    };
    base | super::features::cptr_tam()
}

/// CNTHCTL_EL2 with E2H=1: EL1PCTEN and EL1PCEN (guests read the physical counter and own
/// the EL1 physical timer, switched per vCPU, as with E2H=0), EL0PCTEN/EL0VCTEN (a
/// lightweight VM reads both counters) and EL0PTEN/EL0VTEN=0 (it has no timer registers).
pub const CNTHCTL_EL2_VHE: u64 = (1 << 11) | (1 << 10) | (1 << 1) | (1 << 0);

/// Whether the CPU implements VHE (ID_AA64MMFR1_EL1.VH).
pub fn supported() -> bool {
    let v: u64;
    // SAFETY: reading an ID register has no side effects.
    unsafe { asm!("mrs {}, id_aa64mmfr1_el1", out(reg) v, options(nomem, nostack)) };
    (v >> 8) & 0xf != 0
}

/// Sets E2H, then loads MAIR/TCR/TTBR0_EL2 (E2H=1 formats) and enables the MMU and caches.
///
/// # Safety
/// The CPU must implement VHE ([`supported`]); `ttbr0` must be the root of tables in the
/// E2H=1 format that identity-map at least the code executing, its stack and everything
/// the hypervisor touches afterwards, with attributes matching `mair` and `tcr`.
pub unsafe fn enable_el2(mair: u64, tcr: u64, ttbr0: u64) {
    // SAFETY: the caller guarantees VHE and tables for this regime that identity-map the
    // running code, so the instruction after the SCTLR write is fetched from the same
    // address; E2H is set with the MMU still off, when no translation depends on it.
    unsafe {
        asm!(
            ".arch armv8.1-a",
            "msr hcr_el2, {hcr}",
            "isb",
            "msr cptr_el2, {cptr}",
            "msr cnthctl_el2, {cnthctl}",
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
            "msr pan, #1",
            "isb",
            hcr = in(reg) HCR_E2H, cptr = in(reg) CPTR_EL2_VHE, cnthctl = in(reg) CNTHCTL_EL2_VHE,
            mair = in(reg) mair, tcr = in(reg) tcr, ttbr = in(reg) ttbr0, sctlr = in(reg) SCTLR_EL2_VHE,
            options(nostack),
        );
    }
}
