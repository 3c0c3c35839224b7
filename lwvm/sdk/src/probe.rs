//! Probes for attacker programs and tests: each is one instruction an lwVM must not be
//! able to use to reach anything it does not own. Every one of them is expected to end
//! the lwVM (the hypervisor stops or restarts it); if a probe returns, the hypervisor
//! let it through.
use core::arch::asm;

/// Loads 8 bytes from `va`.
pub fn read64(va: u64) -> u64 {
    let v: u64;
    // SAFETY: a load the MMU checks; if `va` is not the lwVM's, the lwVM is stopped.
    unsafe { asm!("ldr {v}, [{a}]", a = in(reg) va, v = out(reg) v, options(nostack)) };
    v
}

/// Stores 8 bytes to `va`.
pub fn write64(va: u64, v: u64) {
    // SAFETY: a store the MMU checks; nothing of Rust's lives where a probe points.
    unsafe { asm!("str {v}, [{a}]", a = in(reg) va, v = in(reg) v, options(nostack)) };
}

/// Branches to `va` (and returns if the code there returns).
pub fn exec(va: u64) {
    // SAFETY: a fetch the MMU checks (UXN/PXN); clobbers what a call may clobber.
    unsafe { asm!("blr {a}", a = in(reg) va, clobber_abi("C"), options(nostack)) };
}

/// `MRS x0, SCTLR_EL1`.
pub fn mrs_sctlr_el1() -> u64 {
    let v: u64;
    // SAFETY: UNDEFINED at EL0; the hypervisor ends the lwVM.
    unsafe { asm!("mrs {}, sctlr_el1", out(reg) v, options(nostack)) };
    v
}

/// `MSR SCTLR_EL1, xzr`.
pub fn msr_sctlr_el1() {
    // SAFETY: UNDEFINED at EL0.
    unsafe { asm!("msr sctlr_el1, xzr", options(nostack)) };
}

/// `MRS x0, TTBR0_EL2`.
pub fn mrs_ttbr0_el2() -> u64 {
    let v: u64;
    // SAFETY: UNDEFINED at EL0.
    unsafe { asm!("mrs {}, ttbr0_el2", out(reg) v, options(nostack)) };
    v
}

/// `MSR HCR_EL2, xzr`.
pub fn msr_hcr_el2() {
    // SAFETY: UNDEFINED at EL0.
    unsafe { asm!("msr hcr_el2, xzr", options(nostack)) };
}

/// `HVC #0`.
pub fn hvc0() {
    // SAFETY: UNDEFINED at EL0.
    unsafe { asm!("hvc #0", options(nostack)) };
}

/// `SMC #0`.
pub fn smc0() {
    // SAFETY: UNDEFINED at EL0.
    unsafe { asm!("smc #0", options(nostack)) };
}

/// `MSR DAIFSet, #2` (mask IRQs: EL0 may not, SCTLR_EL2.UMA = 0).
pub fn mask_irqs() {
    // SAFETY: trapped at EL0; and IRQs target EL2 anyway.
    unsafe { asm!("msr daifset, #2", options(nostack)) };
}

/// `DC CIVAC` on `va` (cache maintenance: SCTLR_EL2.UCI = 0).
pub fn dc_civac(va: u64) {
    // SAFETY: trapped at EL0.
    unsafe { asm!("dc civac, {}", in(reg) va, options(nostack)) };
}

/// `TLBI VMALLE1` (UNDEFINED at EL0).
pub fn tlbi_vmalle1() {
    // SAFETY: UNDEFINED at EL0.
    unsafe { asm!("tlbi vmalle1", options(nostack)) };
}

/// `SVC #1` (not the ABI's immediate): returns x0.
pub fn svc1() -> i64 {
    let r: u64;
    // SAFETY: a system call the hypervisor refuses with NOT_SUPPORTED.
    unsafe { asm!("svc #1", inlateout("x0") 0u64 => r, in("x8") 0u64, options(nostack)) };
    r as i64
}
