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
//!   stepped over, as the run loop's handler does);
//! - a word load from the emulated distributor's registers that never change for the VM
//!   (GICD_TYPER, GICD_IIDR, GICD_PIDR2: [`gicd_constant_read`], what the vGIC model
//!   answers), from AArch64 code.
//!
//! Everything else — SMC, HVC with another immediate, AArch32 traps, any call with an
//! effect — is left to the run loop. The answers are exactly the run loop's, so whether a
//! trap took the fast path can be seen only in how long it took.
use crate::hypercall::fid;
use crate::psci::power::PsciVm;
use crate::trap::{DataAbort, Esr, SysRegAccess, ec};
use crate::vgic::dist::gicd_constant_read;
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
    /// Write `value` to register `reg` (31: discarded), step over the load (4 bytes).
    Load { reg: u8, value: u64 },
}

/// The facts about the trapping vCPU's VM that answers need, all fixed offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmFacts {
    /// VM_INFO's four results for this vCPU.
    pub info: [u64; 4],
    /// Guest-physical base of its emulated distributor.
    pub gicd_ipa: u64,
    /// Its GICD_TYPER ([`crate::vgic::dist::gicd_typer`]).
    pub gicd_typer: u32,
}

/// The trap as the vector left it: the syndrome, and FAR_EL2/HPFAR_EL2 (read only for a
/// data abort).
pub struct Syndrome<F: FnOnce() -> (u64, u64)> {
    /// ESR_EL2.
    pub esr: u64,
    /// FAR_EL2 and HPFAR_EL2.
    pub addresses: F,
}

/// The fast path's answer to the synchronous trap `t` of a vCPU with registers `x` and
/// PSTATE `spsr` (SPSR_EL2), or `None` for the run loop. `vm` is asked only for a trap it
/// may answer.
#[inline(always)]
pub fn decide(
    t: Syndrome<impl FnOnce() -> (u64, u64)>,
    x: &[u64; 31],
    spsr: u64,
    vm: impl FnOnce() -> VmFacts,
) -> Option<Fast> {
    let esr = t.esr;
    if esr == ESR_HVC64_IMM0 {
        // SMCCC: the function ID is w0; VM_INFO in its SMC32 or SMC64 form.
        if (x[0] as u32) | (1 << 30) == fid::VM_INFO {
            return Some(Fast::X0To3(vm().info));
        }
        return PsciVm::<1>::constant_reply([x[0], x[1], x[2], x[3]]).map(|r| Fast::X0(r as u64));
    }
    let e = Esr(esr);
    match e.ec() {
        ec::SYSREG if e.instr_len() == 4 => {
            let acc = SysRegAccess::from_iss(e.iss());
            let value = if acc.rt < 31 { x[acc.rt as usize] } else { 0 };
            (acc.is_icc_sgi1r_write() && SgiRequest::decode(value).is_empty()).then_some(Fast::Skip)
        }
        // AArch64 only (SPSR_EL2.M[4] clear): a T32 load in an IT block would need its
        // ITSTATE stepped too.
        ec::DABT_LOWER if e.instr_len() == 4 && spsr & (1 << 4) == 0 => {
            let (far, hpfar) = (t.addresses)();
            let acc = DataAbort::from_iss(e.iss(), true, far, hpfar).mmio()?;
            if acc.write {
                return None;
            }
            let f = vm();
            let raw = gicd_constant_read(acc.ipa.wrapping_sub(f.gicd_ipa), acc.size, f.gicd_typer)?;
            Some(Fast::Load {
                reg: acc.reg,
                value: acc.load_value(raw),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
