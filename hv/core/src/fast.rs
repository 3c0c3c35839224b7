//! The exit fast path's decisions: which synchronous traps are answered completely from
//! the exception vector, before the run loop sees them, and with what.
//!
//! A trap qualifies only when its answer depends on nothing but the trapping vCPU's own
//! registers and facts fixed offline, and when it cannot change what any CPU runs:
//!
//! - `HVC #0` with a constant SMCCC answer (SMCCC_VERSION, SMCCC_ARCH_FEATURES,
//!   PSCI_VERSION, PSCI_FEATURES, MIGRATE_INFO_TYPE: [`PsciVm::constant_reply`], the same
//!   function the run loop's SMCCC handler asks first) or VM_INFO (the vCPU's identity
//!   and RAM, from the system description);
//! - `MSR ICC_SGI1R_EL1` whose target list is empty (no SGI is sent: the write is only
//!   stepped over, as the run loop's handler does).
//!
//! Everything else — SMC, HVC with another immediate, AArch32 traps, any call with an
//! effect — is left to the run loop. The answers are exactly the run loop's, so whether a
//! trap took the fast path can be seen only in how long it took.
use crate::hypercall::fid;
use crate::psci::power::PsciVm;
use crate::trap::{Esr, SysRegAccess, ec};
use crate::vgic::sgi::SgiRequest;

/// ESR_EL2 of `HVC #0` from AArch64 (EC 0x16, IL = 1, imm16 = 0).
const ESR_HVC64_IMM0: u64 = ((ec::HVC64 as u64) << 26) | (1 << 25);

/// What the fast path does with a trap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fast {
    /// Write x0 (the other registers are the guest's), resume after the HVC.
    X0(u64),
    /// Write x0..x3, resume after the HVC.
    X0To3([u64; 4]),
    /// Step over the trapped instruction (4 bytes) and resume.
    Skip,
}

/// The fast path's answer to the synchronous trap `esr` of a vCPU with registers `x`, or
/// `None` for the run loop. `vm_info` gives VM_INFO's four results (asked only for it).
#[inline(always)]
pub fn decide(esr: u64, x: &[u64; 31], vm_info: impl FnOnce() -> [u64; 4]) -> Option<Fast> {
    if esr == ESR_HVC64_IMM0 {
        // SMCCC: the function ID is w0; VM_INFO in its SMC32 or SMC64 form.
        if (x[0] as u32) | (1 << 30) == fid::VM_INFO {
            return Some(Fast::X0To3(vm_info()));
        }
        return PsciVm::<1>::constant_reply([x[0], x[1], x[2], x[3]]).map(|r| Fast::X0(r as u64));
    }
    let e = Esr(esr);
    if e.ec() == ec::SYSREG && e.instr_len() == 4 {
        let acc = SysRegAccess::from_iss(e.iss());
        let value = if acc.rt < 31 { x[acc.rt as usize] } else { 0 };
        if acc.is_icc_sgi1r_write() && SgiRequest::decode(value).is_empty() {
            return Some(Fast::Skip);
        }
    }
    None
}

#[cfg(test)]
mod tests;
