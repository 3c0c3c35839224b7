//! FP/SIMD state of lwVMs, switched lazily.
//!
//! The loaded full vCPU's FP/SIMD registers are in the CPU (the world switch moves them
//! with the rest of its EL1 context). An lwVM must neither read them nor disturb them,
//! yet most lwVMs never use FP. So CPTR_EL2 traps FP at EL0 under TGE=1
//! (`vhe::cptr_el2(false)`); on the
//! first FP instruction of an lwVM the image saves whoever's registers are in the CPU,
//! loads the lwVM's and opens FP to it ([`set_el0_fp`]) until another context needs
//! them. The registers are moved by `hv_arch::fpsimd` (shared with the full VMs' world
//! switch); the ownership bookkeeping is the image's.
use core::arch::asm;

pub use hv_arch::fpsimd::{FpRegs, load, save};
use hv_arch::vhe::cptr_el2;

/// Opens (`true`) or closes FP/SIMD to EL0 under TGE=1 — to the lwVM about to run.
pub fn set_el0_fp(open: bool) {
    let v = cptr_el2(open);
    // SAFETY: CPTR_EL2 only decides which FP/SVE/SME/trace/AMU accesses trap; with E2H=1
    // neither value traps FP at EL2 or in a full VM (TGE=0), and both keep SVE, SME,
    // trace and AMU trapped. The ERET into the lwVM synchronises.
    unsafe { asm!("msr cptr_el2, {}", in(reg) v, options(nomem, nostack)) };
}
