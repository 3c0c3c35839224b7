//! Decoding of a synchronous exception taken to EL2 into a typed [`Trap`].
//!
//! Why: the exception vector in the arch crate reads `ESR_EL2`, `FAR_EL2` and
//! `HPFAR_EL2` and must decide what happened. Doing the bit-twiddling here, as a pure
//! function of those three values, keeps it host-testable and keeps the arch glue free of
//! encodings. Spec: Arm ARM (DDI 0487), register descriptions of ESR_EL2 (EC and ISS
//! encodings, per EC), HPFAR_EL2 and FAR_EL2.
//!
//! Invariants a reader must not break:
//! - [`Trap::decode`] never panics and accepts every 64-bit value: encodings it does not
//!   know become [`Trap::Other`] (or [`Trap::Unknown`] for EC 0), never an error.
//! - The preferred return address differs per exception class: an `HVC` returns to the
//!   *next* instruction already, while a trapped `SMC`, `WFx`, system-register access or
//!   data abort returns to the trapping instruction itself. [`Trap::pc_advance`] encodes
//!   this so the arch adds it to `ELR_EL2` when it emulates the instruction.
//!
//! Submodules: [`abort`] (data/instruction aborts, fault status codes, MMIO accesses),
//! [`sysreg`] (EC 0x18 MSR/MRS accesses and the registers the hypervisor knows) and
//! [`inject`] (building a synchronous exception to inject into a guest); for trapped
//! system registers, [`emul`] (what each gets), [`idreg`] (the sanitised feature-ID
//! registers) and [`debug`] (the per-vCPU debug registers).

pub mod aarch32;
pub mod abort;
pub mod debug;
pub mod emul;
pub mod idreg;
pub mod inject;
pub mod sysreg;

pub use abort::{DataAbort, FaultStatus, InstructionAbort, MmioAccess};
pub use sysreg::{SysReg, SysRegAccess};

/// Exception class values (`ESR_ELx.EC`, bits \[31:26\]) — Arm ARM, ESR_EL2.
pub mod ec {
    /// Unknown reason (also: undefined instruction).
    pub const UNKNOWN: u8 = 0x00;
    /// Trapped WFI, WFE, WFIT or WFET.
    pub const WFX: u8 = 0x01;
    /// Access to SVE, Advanced SIMD or floating point trapped by CPACR/CPTR.
    pub const FP_ASIMD: u8 = 0x07;
    /// Illegal execution state.
    pub const ILLEGAL_STATE: u8 = 0x0E;
    /// SVC from AArch32.
    pub const SVC32: u8 = 0x11;
    /// HVC from AArch32.
    pub const HVC32: u8 = 0x12;
    /// SMC from AArch32.
    pub const SMC32: u8 = 0x13;
    /// SVC from AArch64.
    pub const SVC64: u8 = 0x15;
    /// HVC from AArch64.
    pub const HVC64: u8 = 0x16;
    /// SMC from AArch64 (trapped by HCR_EL2.TSC).
    pub const SMC64: u8 = 0x17;
    /// MSR, MRS or system instruction from AArch64.
    pub const SYSREG: u8 = 0x18;
    /// SVE access trapped.
    pub const SVE: u8 = 0x19;
    /// Instruction abort from a lower exception level.
    pub const IABT_LOWER: u8 = 0x20;
    /// Instruction abort from the current exception level.
    pub const IABT_CURRENT: u8 = 0x21;
    /// PC alignment fault.
    pub const PC_ALIGN: u8 = 0x22;
    /// Data abort from a lower exception level.
    pub const DABT_LOWER: u8 = 0x24;
    /// Data abort from the current exception level.
    pub const DABT_CURRENT: u8 = 0x25;
    /// SP alignment fault.
    pub const SP_ALIGN: u8 = 0x26;
    /// SError interrupt.
    pub const SERROR: u8 = 0x2F;
    /// BRK instruction from AArch64.
    pub const BRK64: u8 = 0x3C;
}

/// `ESR_ELx.IL`, bit 25: 1 = 32-bit instruction trapped.
pub const ESR_IL: u64 = 1 << 25;
/// Shift of `ESR_ELx.EC`.
pub const ESR_EC_SHIFT: u32 = 26;
/// Mask of `ESR_ELx.ISS` (bits \[24:0\]).
pub const ESR_ISS_MASK: u64 = 0x01FF_FFFF;

/// The raw fields of ESR_EL2 common to every exception class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Esr(pub u64);

impl Esr {
    /// Exception class, bits \[31:26\].
    pub const fn ec(self) -> u8 {
        ((self.0 >> ESR_EC_SHIFT) & 0x3F) as u8
    }
    /// Instruction length bit: `true` for a 32-bit instruction.
    pub const fn il(self) -> bool {
        self.0 & ESR_IL != 0
    }
    /// Instruction-specific syndrome, bits \[24:0\].
    pub const fn iss(self) -> u32 {
        (self.0 & ESR_ISS_MASK) as u32
    }
    /// ISS2, bits \[55:32\] (FEAT_LS64 and later; zero otherwise).
    pub const fn iss2(self) -> u32 {
        ((self.0 >> 32) & 0x00FF_FFFF) as u32
    }
    /// Bytes of the trapped instruction: 4 when IL is set, 2 for a 16-bit T32 one.
    #[inline]
    pub const fn instr_len(self) -> u64 {
        if self.il() { 4 } else { 2 }
    }
}

/// A decoded synchronous exception taken to EL2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trap {
    /// `HVC #imm` from AArch64 (EC 0x16). ELR_EL2 already points past the instruction.
    Hvc {
        /// The 16-bit immediate.
        imm: u16,
    },
    /// `SMC #imm` from AArch64 trapped by HCR_EL2.TSC (EC 0x17). ELR_EL2 points at the
    /// SMC itself.
    Smc {
        /// The 16-bit immediate.
        imm: u16,
    },
    /// Data abort from the guest (EC 0x24) or from EL2 itself (EC 0x25).
    DataAbort(DataAbort),
    /// Instruction abort from the guest (EC 0x20) or from EL2 itself (EC 0x21).
    InstructionAbort(InstructionAbort),
    /// Trapped WFI/WFE (EC 0x01; also WFIT/WFET).
    Wfx {
        /// `true` for WFE/WFET, `false` for WFI/WFIT.
        wfe: bool,
        /// `true` for the timeout variants WFIT/WFET (FEAT_WFxT).
        timeout: bool,
    },
    /// MSR/MRS/system instruction trapped (EC 0x18).
    SysReg(SysRegAccess),
    /// Floating point / Advanced SIMD access trapped (EC 0x07).
    FpAccess,
    /// Exception for an unknown reason (EC 0x00), e.g. an undefined instruction at EL2.
    Unknown,
    /// Any other exception class, left raw.
    Other {
        /// Exception class.
        ec: u8,
        /// Instruction-specific syndrome.
        iss: u32,
    },
}

impl Trap {
    /// Decodes `ESR_EL2`, with `FAR_EL2` and `HPFAR_EL2` as read at the same exception
    /// (only used for aborts; pass anything otherwise).
    #[inline]
    pub fn decode(esr: u64, far: u64, hpfar: u64) -> Trap {
        let esr = Esr(esr);
        let iss = esr.iss();
        match esr.ec() {
            ec::UNKNOWN => Trap::Unknown,
            ec::HVC64 => Trap::Hvc { imm: iss as u16 },
            ec::SMC64 => Trap::Smc { imm: iss as u16 },
            ec::DABT_LOWER | ec::DABT_CURRENT => Trap::DataAbort(DataAbort::from_iss(
                iss,
                esr.ec() == ec::DABT_LOWER,
                far,
                hpfar,
            )),
            ec::IABT_LOWER | ec::IABT_CURRENT => Trap::InstructionAbort(
                InstructionAbort::from_iss(iss, esr.ec() == ec::IABT_LOWER, far, hpfar),
            ),
            ec::WFX => Trap::Wfx {
                wfe: iss & 1 != 0,
                timeout: iss & 2 != 0,
            },
            ec::SYSREG => Trap::SysReg(SysRegAccess::from_iss(iss)),
            ec::FP_ASIMD => Trap::FpAccess,
            ec => Trap::Other { ec, iss },
        }
    }

    /// Bytes to add to `ELR_EL2` after emulating the trapping instruction so the guest
    /// continues after it (Arm ARM, "preferred exception return address").
    ///
    /// `HVC` needs 0 (its return address is already the next instruction); `SMC` needs
    /// 4 (an A64 SMC is always 32 bits); `WFx`, system-register accesses and data aborts
    /// use the IL bit. Other classes return 0: they are not "emulate and skip" traps.
    #[inline]
    pub fn pc_advance(&self, esr: u64) -> u64 {
        match self {
            Trap::Hvc { .. } => 0,
            Trap::Smc { .. } => 4,
            Trap::Wfx { .. } | Trap::SysReg(_) | Trap::DataAbort(_) => Esr(esr).instr_len(),
            _ => 0,
        }
    }
}

/// Computes the faulting IPA from `HPFAR_EL2` and `FAR_EL2`:
/// `(HPFAR_EL2.FIPA << 8) | FAR_EL2[11:0]` (Arm ARM, HPFAR_EL2). FIPA is bits \[47:4\]
/// (bits \[43:4\] without FEAT_LPA); bit 63 (NS) is dropped.
pub const fn fault_ipa(far: u64, hpfar: u64) -> u64 {
    ((hpfar & 0x0000_FFFF_FFFF_FFF0) << 8) | (far & 0xFFF)
}

#[cfg(test)]
mod tests;
