//! The FP/SIMD register file (V0..V31, FPSR, FPCR): moved lazily between the vCPUs of
//! one CPU (the image's `world`: a vCPU that does not own the registers runs with FP
//! trapped, [`set_trap`]) and between full VMs and lightweight VMs (lwvm/).
//!
//! The hypervisor is built soft-float, so these registers only ever hold a guest's
//! values. [`save`] and [`load`] are called only with FP untrapped: the FP trap of a
//! vCPU that does not own the registers (CPTR_EL2.TFP, or FPEN = 0b00 under VHE)
//! traps EL2 as well, so it is lifted before the registers move.
use core::arch::asm;

/// Traps (`on`) or stops trapping FP/SIMD instructions of the guest: on while the loaded
/// vCPU does not own the CPU's registers, off (followed by an ISB, EL2 then moves them)
/// when it takes them. SVE, SME, trace and activity monitors stay trapped either way.
pub fn set_trap(on: bool) {
    #[cfg(not(feature = "vhe"))]
    let cptr = super::features::CPTR_EL2_NVHE | super::features::cptr_tam() | ((on as u64) << 10);
    // FPEN = 0b00 traps EL0, EL1 and EL2; off is the value lightweight VMs expect
    // (FPEN = 0b01: only EL0 under TGE traps, lwvm/ opens it for its FP owner).
    #[cfg(feature = "vhe")]
    let cptr = if on {
        super::vhe::cptr_el2(false) & !(0b11 << 20)
    } else {
        super::vhe::cptr_el2(false)
    };
    // SAFETY: CPTR_EL2 decides which FP/SVE/SME/trace/AMU accesses trap; both values trap
    // SVE, SME, trace and AMU as boot set them. With `on`, EL2's own FP use would trap:
    // the hypervisor has none but `save`/`load`, which run only after `set_trap(false)`.
    unsafe {
        if on {
            // The ERET into the guest synchronises it.
            asm!("msr cptr_el2, {}", in(reg) cptr, options(nomem, nostack));
        } else {
            asm!("msr cptr_el2, {}", "isb", in(reg) cptr, options(nomem, nostack));
        }
    }
}

pub use crate::state::FpRegs;

/// Saves the CPU's FP/SIMD registers into `r`.
pub fn save(r: &mut FpRegs) {
    // SAFETY: called with FP untrapped (module docs: CPTR_EL2.TFP = 0, or FPEN = 0b01/0b11
    // under VHE); the hypervisor itself never uses these registers, and `r` is 16-byte
    // aligned and 528 bytes long, all written below.
    unsafe {
        asm!(
            ".arch_extension fp",
            ".arch_extension simd",
            "stp q0, q1, [{p}, #0]",
            "stp q2, q3, [{p}, #32]",
            "stp q4, q5, [{p}, #64]",
            "stp q6, q7, [{p}, #96]",
            "stp q8, q9, [{p}, #128]",
            "stp q10, q11, [{p}, #160]",
            "stp q12, q13, [{p}, #192]",
            "stp q14, q15, [{p}, #224]",
            "stp q16, q17, [{p}, #256]",
            "stp q18, q19, [{p}, #288]",
            "stp q20, q21, [{p}, #320]",
            "stp q22, q23, [{p}, #352]",
            "stp q24, q25, [{p}, #384]",
            "stp q26, q27, [{p}, #416]",
            "stp q28, q29, [{p}, #448]",
            "stp q30, q31, [{p}, #480]",
            "mrs {t}, fpsr",
            "str {t}, [{p}, #512]",
            "mrs {t}, fpcr",
            "str {t}, [{p}, #520]",
            p = in(reg) r as *mut FpRegs,
            t = out(reg) _,
            options(nostack),
        );
    }
}

/// Loads `r` into the CPU's FP/SIMD registers.
pub fn load(r: &FpRegs) {
    // SAFETY: as in `save`; the registers belong to the context the caller hands them
    // to, and nothing at EL2 depends on their contents.
    unsafe {
        asm!(
            ".arch_extension fp",
            ".arch_extension simd",
            "ldp q0, q1, [{p}, #0]",
            "ldp q2, q3, [{p}, #32]",
            "ldp q4, q5, [{p}, #64]",
            "ldp q6, q7, [{p}, #96]",
            "ldp q8, q9, [{p}, #128]",
            "ldp q10, q11, [{p}, #160]",
            "ldp q12, q13, [{p}, #192]",
            "ldp q14, q15, [{p}, #224]",
            "ldp q16, q17, [{p}, #256]",
            "ldp q18, q19, [{p}, #288]",
            "ldp q20, q21, [{p}, #320]",
            "ldp q22, q23, [{p}, #352]",
            "ldp q24, q25, [{p}, #384]",
            "ldp q26, q27, [{p}, #416]",
            "ldp q28, q29, [{p}, #448]",
            "ldp q30, q31, [{p}, #480]",
            "ldr {t}, [{p}, #512]",
            "msr fpsr, {t}",
            "ldr {t}, [{p}, #520]",
            "msr fpcr, {t}",
            p = in(reg) r as *const FpRegs,
            t = out(reg) _,
            options(nostack, readonly),
        );
    }
}
