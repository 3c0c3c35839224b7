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
//!   answers), from AArch64 code. The image's vector offers only the distributor's first
//!   page ([`hpfar_of`]), so GICD_PIDR2 (offset 0xFFE8, on the last page) is decided here
//!   but answered by the run loop.
//!
//! Everything else — SMC, HVC with another immediate, AArch32 traps, any call with an
//! effect — is left to the run loop. The answers are exactly the run loop's, so whether a
//! trap took the fast path can be seen only in how long it took.
use crate::hypercall::fid;
use crate::psci::power::PsciVm;
use crate::psci::{PSCI_VERSION_1_1, fid as psci};
use crate::smccc;
use crate::trap::{DataAbort, Esr, SysRegAccess, ec};
use crate::vgic::dist::gicd_constant_read;
use crate::vgic::sgi::SgiRequest;

/// ESR_EL2 of `HVC #0` from AArch64 (EC 0x16, IL = 1, imm16 = 0).
const ESR_HVC64_IMM0: u64 = ((ec::HVC64 as u64) << 26) | (1 << 25);

/// The exception classes offered to the fast path (the `fast` word's bits, bit EC):
/// HVC from AArch64, MSR/MRS, a data abort from a lower EL.
pub const OFFERED: u64 = (1 << ec::HVC64) | (1 << ec::SYSREG) | (1 << ec::DABT_LOWER);

/// ESR_EL2 of `MSR ICC_SGI1R_EL1, Xt` from AArch64 with the Rt field (bits 9:5) clear: the
/// vector offers an MSR/MRS trap only when its syndrome, Rt masked out, is this.
pub const SGI1R_MSR: u32 =
    ((ec::SYSREG as u32) << 26) | (1 << 25) | (3 << 20) | (5 << 17) | (12 << 10) | (11 << 1);

/// HPFAR_EL2 as it reads for a stage-2 fault anywhere in the page at `ipa`
/// (FIPA = IPA\[47:12\] in bits 43:4): what the vector compares with `fast_page`.
pub const fn hpfar_of(ipa: u64) -> u64 {
    ((ipa & 0xFFFF_FFFF_F000) >> 12) << 4
}

/// What the fast path does with a trap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fast {
    /// Write x0 (the other registers are the guest's), resume after the HVC.
    X0(u64),
    /// Write the vCPU's VM_INFO results ([`VmFacts::info`]) to x0..x3, resume after the
    /// HVC. (The decision names them rather than carrying them: a 32-byte answer would be
    /// moved through the stack on every call.)
    VmInfo,
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
/// may answer. The image calls the three parts below from the vector's per-class
/// branches; this is their composition, which the tests check.
#[inline(always)]
pub fn decide(
    t: Syndrome<impl FnOnce() -> (u64, u64)>,
    x: &[u64; 31],
    spsr: u64,
    vm: impl FnOnce() -> VmFacts,
) -> Option<Fast> {
    let esr = t.esr;
    match Esr(esr).ec() {
        ec::HVC64 => decide_hvc(esr, x),
        ec::SYSREG => decide_sysreg(esr, x),
        ec::DABT_LOWER => {
            let (far, hpfar) = (t.addresses)();
            decide_dabt(esr, far, hpfar, spsr, vm)
        }
        _ => None,
    }
}

/// Whether an HVC trap with syndrome `esr` and x0 `x0` may have a constant answer: `HVC
/// #0` of VM_INFO (either convention), an architecture call (fast, owner 0, either
/// convention) or one of PSCI's three queries. Everything else is turned away on these
/// few compares, before a decoder builds any call's arguments.
#[inline(always)]
pub fn may_answer_hvc(esr: u64, x0: u64) -> bool {
    let f = x0 as u32;
    esr == ESR_HVC64_IMM0
        && match f & 0xBF00_0000 {
            0x8000_0000 => true,
            0x8400_0000 => {
                f & (1 << 30) == 0 && f & 0x00FF_FFFF <= 10 && (0x441 >> (f & 0xF)) & 1 != 0
            }
            0x8600_0000 => f | (1 << 30) == fid::VM_INFO,
            _ => false,
        }
}

/// The answer to an HVC trap with syndrome `esr`: [`common_hvc`], else [`other_hvc`].
#[inline(always)]
pub fn decide_hvc(esr: u64, x: &[u64; 31]) -> Option<Fast> {
    common_hvc(esr, x[0]).or_else(|| other_hvc(esr, x))
}

/// The calls a guest makes most, on a compare each: the version queries and VM_INFO.
#[inline(always)]
pub fn common_hvc(esr: u64, x0: u64) -> Option<Fast> {
    if esr != ESR_HVC64_IMM0 {
        return None;
    }
    match x0 as u32 {
        psci::VERSION => Some(Fast::X0(PSCI_VERSION_1_1 as u64)),
        smccc::SMCCC_VERSION => Some(Fast::X0(smccc::VERSION_1_1 as u64)),
        f if f | (1 << 30) == fid::VM_INFO => Some(Fast::VmInfo),
        _ => None,
    }
}

/// The other calls [`may_answer_hvc`] lets through, answered by [`PsciVm::constant_reply`]
/// (the same function the run loop's SMCCC handler asks first).
#[inline(always)]
pub fn other_hvc(esr: u64, x: &[u64; 31]) -> Option<Fast> {
    if !may_answer_hvc(esr, x[0]) {
        return None;
    }
    PsciVm::<1>::constant_reply([x[0], x[1], x[2], x[3]]).map(|r| Fast::X0(r as u64))
}

/// An MSR/MRS trap (syndrome `esr`): an `MSR ICC_SGI1R_EL1` with an empty target list is
/// only stepped over, as the run loop's handler does.
#[inline(always)]
pub fn decide_sysreg(esr: u64, x: &[u64; 31]) -> Option<Fast> {
    let e = Esr(esr);
    if e.instr_len() != 4 {
        return None;
    }
    let acc = SysRegAccess::from_iss(e.iss());
    let value = if acc.rt < 31 { x[acc.rt as usize] } else { 0 };
    (acc.is_icc_sgi1r_write() && SgiRequest::decode(value).is_empty()).then_some(Fast::Skip)
}

/// A data abort (syndrome `esr`, FAR_EL2 `far`, HPFAR_EL2 `hpfar`) from code with PSTATE
/// `spsr`: a word load of a constant distributor register gets the vGIC model's value.
/// AArch64 only (SPSR_EL2.M\[4\] clear): a T32 load in an IT block would need its
/// ITSTATE stepped too.
#[inline(always)]
pub fn decide_dabt(
    esr: u64,
    far: u64,
    hpfar: u64,
    spsr: u64,
    vm: impl FnOnce() -> VmFacts,
) -> Option<Fast> {
    let e = Esr(esr);
    if e.instr_len() != 4 || spsr & (1 << 4) != 0 {
        return None;
    }
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

#[cfg(test)]
mod tests;
