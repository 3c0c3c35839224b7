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

/// FP isolation check: fills every FP/SIMD register with `pattern`, raises `channel`,
/// waits for an event (other VMs run meanwhile and use their own FP state), and checks
/// that every register still holds `pattern`. Returns (the WAIT result, intact).
pub fn fp_hold_across(pattern: u64, channel: u64) -> (u64, bool) {
    let events: u64;
    let ok: u64;
    // SAFETY: only registers change: the FP/SIMD ones (declared clobbered), x0..x3 and
    // x8/x9 (declared); the two system calls are RAISE and WAIT.
    unsafe {
        asm!(
            "dup v0.2d, {pat}",
            ".irp n, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
            "mov v\\n\\().16b, v0.16b",
            ".endr",
            "mov x0, {ch}",
            "mov x8, #2",
            "svc #0",
            "mov x8, #3",
            "svc #0",
            "mov {ok}, #1",
            ".irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
            "fmov x9, d\\n",
            "cmp x9, {pat}",
            "csel {ok}, {ok}, xzr, eq",
            "mov x9, v\\n\\().d[1]",
            "cmp x9, {pat}",
            "csel {ok}, {ok}, xzr, eq",
            ".endr",
            pat = in(reg) pattern,
            ch = in(reg) channel,
            ok = out(reg) ok,
            out("x0") events, out("x1") _, out("x2") _, out("x3") _, out("x8") _, out("x9") _,
            out("v0") _, out("v1") _, out("v2") _, out("v3") _, out("v4") _, out("v5") _,
            out("v6") _, out("v7") _, out("v8") _, out("v9") _, out("v10") _, out("v11") _,
            out("v12") _, out("v13") _, out("v14") _, out("v15") _, out("v16") _, out("v17") _,
            out("v18") _, out("v19") _, out("v20") _, out("v21") _, out("v22") _, out("v23") _,
            out("v24") _, out("v25") _, out("v26") _, out("v27") _, out("v28") _, out("v29") _,
            out("v30") _, out("v31") _,
            options(nostack),
        );
    }
    (events, ok != 0)
}
