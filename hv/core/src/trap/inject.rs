//! Injecting a synchronous exception into a guest's EL1: "a guest doing something
//! illegal gets a fault injected".
//!
//! Why: when a guest touches an IPA nothing backs, executes something the hypervisor
//! refuses, or makes a bad access to an emulated device, the hypervisor does what the
//! hardware would have done had the guest run alone: take a synchronous exception to the
//! guest's EL1. This module computes every value the arch must write, from the guest
//! state it read; the arch then writes ESR_EL1, FAR_EL1, ELR_EL1, SPSR_EL1, and ERETs to
//! `new_pc` with `new_spsr`.
//!
//! Spec: Arm ARM (DDI 0487), "Exception entry" (PSTATE on taking an exception to AArch64 EL1),
//! the vector table offsets ( current EL with SP_EL0 0x000, current EL with
//! SP_ELx 0x200, lower EL using AArch64 0x400, lower EL using AArch32 0x600),
//! ESR_ELx (IL is RES1 for EC 0x00, instruction aborts, and data aborts
//! with ISV=0).
//!
//! Invariant: the exception class of an injected abort depends on where the guest was:
//! from EL0 it is the "lower EL" class (0x24/0x20), from EL1 the "current EL" class
//! (0x25/0x21) — exactly what the guest's handler expects from real hardware.

use super::abort::FaultStatus;
use super::{ESR_EC_SHIFT, ESR_IL, ec};

/// `SPSR.M[4]`: the interrupted state was AArch32.
const SPSR_M_AARCH32: u64 = 1 << 4;
/// D, A, I, F mask bits of SPSR (bits 9..6).
const SPSR_DAIF: u64 = 0xF << 6;
/// `SPSR.M` value for EL1 using SP_EL1 (EL1h).
const SPSR_M_EL1H: u64 = 0b0101;
/// PSTATE.PAN (bit 22).
const SPSR_PAN: u64 = 1 << 22;
/// PSTATE.SSBS (bit 12).
const SPSR_SSBS: u64 = 1 << 12;
/// SCTLR_EL1.SPAN (bit 23): 0 = set PAN on exception entry to EL1.
const SCTLR_SPAN: u64 = 1 << 23;
/// SCTLR_EL1.DSSBS (bit 44): value of PSTATE.SSBS on exception entry.
const SCTLR_DSSBS: u64 = 1 << 44;

/// The kind of synchronous exception to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestException {
    /// Undefined instruction (EC 0x00, "unknown reason").
    Undefined,
    /// Data abort at virtual address `far` with the given fault status, e.g.
    /// `FaultStatus::SyncExternal` (0x10) or `FaultStatus::Translation(3)`.
    DataAbort {
        /// Fault status code to report (DFSC).
        status: FaultStatus,
        /// Faulting virtual address (goes to FAR_EL1).
        far: u64,
        /// Whether the access was a write (ISS.WnR).
        write: bool,
    },
    /// Instruction abort at virtual address `far`.
    InstructionAbort {
        /// Fault status code to report (IFSC).
        status: FaultStatus,
        /// Faulting virtual address (goes to FAR_EL1).
        far: u64,
    },
}

/// The guest state the arch reads before injecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestState {
    /// SPSR_EL2 at the trap: the guest's PSTATE.
    pub spsr: u64,
    /// ELR_EL2 at the trap: the address of the instruction that faulted.
    pub elr: u64,
    /// The guest's VBAR_EL1.
    pub vbar_el1: u64,
    /// The guest's SCTLR_EL1 (for PSTATE.PAN and PSTATE.SSBS on entry).
    pub sctlr_el1: u64,
}

/// Where the guest was when the exception is taken, which selects the vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorSource {
    /// EL1 using SP_EL0 (EL1t): offset 0x000.
    CurrentElSp0,
    /// EL1 using SP_EL1 (EL1h): offset 0x200.
    CurrentElSpx,
    /// EL0 in AArch64: offset 0x400.
    LowerElAarch64,
    /// EL0 in AArch32: offset 0x600.
    LowerElAarch32,
}

impl VectorSource {
    /// Classifies a guest SPSR (as saved in SPSR_EL2).
    pub const fn from_spsr(spsr: u64) -> VectorSource {
        if spsr & SPSR_M_AARCH32 != 0 {
            return VectorSource::LowerElAarch32;
        }
        let el = (spsr >> 2) & 3;
        if el == 0 {
            VectorSource::LowerElAarch64
        } else if spsr & 1 == 0 {
            VectorSource::CurrentElSp0
        } else {
            VectorSource::CurrentElSpx
        }
    }

    /// Offset of the synchronous-exception vector from VBAR_EL1 (add 0x80 for IRQ,
    /// 0x100 for FIQ, 0x180 for SError).
    pub const fn sync_offset(self) -> u64 {
        match self {
            VectorSource::CurrentElSp0 => 0x000,
            VectorSource::CurrentElSpx => 0x200,
            VectorSource::LowerElAarch64 => 0x400,
            VectorSource::LowerElAarch32 => 0x600,
        }
    }

    /// Whether the exception comes from a lower EL (the guest's EL0).
    pub const fn from_lower_el(self) -> bool {
        matches!(
            self,
            VectorSource::LowerElAarch64 | VectorSource::LowerElAarch32
        )
    }
}

/// Everything the arch writes to inject the exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Injection {
    /// Value for ESR_EL1.
    pub esr_el1: u64,
    /// Value for FAR_EL1, if the exception sets it (aborts); leave FAR_EL1 alone if `None`.
    pub far_el1: Option<u64>,
    /// Value for ELR_EL1: the faulting instruction.
    pub elr_el1: u64,
    /// Value for SPSR_EL1: the guest's PSTATE at the fault.
    pub spsr_el1: u64,
    /// New ELR_EL2: the guest's vector entry.
    pub new_pc: u64,
    /// New SPSR_EL2: PSTATE on entry to the guest's EL1 handler.
    pub new_spsr: u64,
}

/// Builds the ESR_EL1 value for `exc`, taken from `source`.
pub const fn esr_for(exc: GuestException, source: VectorSource) -> u64 {
    let lower = source.from_lower_el();
    let (class, iss) = match exc {
        GuestException::Undefined => (ec::UNKNOWN, 0),
        GuestException::DataAbort { status, write, .. } => (
            if lower {
                ec::DABT_LOWER
            } else {
                ec::DABT_CURRENT
            },
            status.code() as u64 | if write { 1 << 6 } else { 0 },
        ),
        GuestException::InstructionAbort { status, .. } => (
            if lower {
                ec::IABT_LOWER
            } else {
                ec::IABT_CURRENT
            },
            status.code() as u64,
        ),
    };
    ((class as u64) << ESR_EC_SHIFT) | ESR_IL | iss
}

/// PSTATE on taking an exception to EL1h (Arm ARM "Exception entry", SCTLR_EL1.SPAN and DSSBS).
pub const fn entry_pstate(old_spsr: u64, sctlr_el1: u64) -> u64 {
    let mut p = SPSR_M_EL1H | SPSR_DAIF;
    // PAN: set when SCTLR_EL1.SPAN == 0, otherwise unchanged.
    if sctlr_el1 & SCTLR_SPAN == 0 || old_spsr & SPSR_PAN != 0 {
        p |= SPSR_PAN;
    }
    if sctlr_el1 & SCTLR_DSSBS != 0 {
        p |= SPSR_SSBS;
    }
    p
}

/// Computes the full injection of `exc` into a guest in state `guest`.
pub const fn inject(exc: GuestException, guest: GuestState) -> Injection {
    let source = VectorSource::from_spsr(guest.spsr);
    let far_el1 = match exc {
        GuestException::Undefined => None,
        GuestException::DataAbort { far, .. } | GuestException::InstructionAbort { far, .. } => {
            Some(far)
        }
    };
    Injection {
        esr_el1: esr_for(exc, source),
        far_el1,
        elr_el1: guest.elr,
        spsr_el1: guest.spsr,
        new_pc: guest.vbar_el1.wrapping_add(source.sync_offset()),
        new_spsr: entry_pstate(guest.spsr, guest.sctlr_el1),
    }
}
