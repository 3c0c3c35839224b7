//! Trapped `MSR`/`MRS`/system instructions (EC 0x18) and the system registers the
//! hypervisor recognises.
//!
//! Why: the guest's GIC CPU-interface SGI register (`ICC_SGI1R_EL1`, trapped through
//! ICH_HCR_EL2.TC), set/way cache maintenance (HCR_EL2.TSW), ID registers (HCR_EL2.TID3),
//! ACTLR_EL1 (HCR_EL2.TACR), IMPDEF registers (HCR_EL2.TIDCP), RAS error records
//! (HCR_EL2.TERR), LOR registers (HCR_EL2.TLOR), the debug, OS lock and ROM address
//! registers (MDCR_EL2.TDA/TDOSA/TDRA) and PMU, SPE, trace, AMU registers (MDCR_EL2,
//! CPTR_EL2) arrive here; [`super::emul`] says what each gets. A register is identified by its
//! encoding `(op0, op1, CRn, CRm, op2)`, so the decoder stays a pure bit-field extraction
//! and the known registers are data ([`SysReg`] constants), not a growing `match`.
//!
//! Spec: Arm ARM (DDI 0487), ESR_EL2 "ISS encoding for an exception from MSR, MRS, or System
//! instruction execution in AArch64 state"; register encodings from the register
//! descriptions (and IHI 0069 for ICC_*).
//!
//! Note: `rt == 31` means XZR here (reads as zero, writes discarded), not SP.

/// A system register (or system instruction) encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SysReg {
    /// Op0 (2 bits).
    pub op0: u8,
    /// Op1 (3 bits).
    pub op1: u8,
    /// CRn (4 bits).
    pub crn: u8,
    /// CRm (4 bits).
    pub crm: u8,
    /// Op2 (3 bits).
    pub op2: u8,
}

macro_rules! sysregs {
    ($($name:ident = ($op0:expr, $op1:expr, $crn:expr, $crm:expr, $op2:expr);)*) => {
        impl SysReg {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                pub const $name: SysReg = SysReg::new($op0, $op1, $crn, $crm, $op2);
            )*
            /// Every register named in this module, for [`SysReg::name`].
            pub const KNOWN: &'static [(SysReg, &'static str)] = &[
                $((SysReg::$name, stringify!($name)),)*
            ];
        }
    };
}

sysregs! {
    // GICv3 CPU interface (IHI 0069).
    ICC_PMR_EL1 = (3, 0, 4, 6, 0);
    ICC_DIR_EL1 = (3, 0, 12, 11, 1);
    ICC_SGI1R_EL1 = (3, 0, 12, 11, 5);
    ICC_ASGI1R_EL1 = (3, 0, 12, 11, 6);
    ICC_SGI0R_EL1 = (3, 0, 12, 11, 7);
    ICC_IAR1_EL1 = (3, 0, 12, 12, 0);
    ICC_EOIR1_EL1 = (3, 0, 12, 12, 1);
    ICC_HPPIR1_EL1 = (3, 0, 12, 12, 2);
    ICC_BPR1_EL1 = (3, 0, 12, 12, 3);
    ICC_CTLR_EL1 = (3, 0, 12, 12, 4);
    ICC_SRE_EL1 = (3, 0, 12, 12, 5);
    ICC_IGRPEN0_EL1 = (3, 0, 12, 12, 6);
    ICC_IGRPEN1_EL1 = (3, 0, 12, 12, 7);
    // Generic timer.
    CNTPCT_EL0 = (3, 3, 14, 0, 1);
    CNTP_TVAL_EL0 = (3, 3, 14, 2, 0);
    CNTP_CTL_EL0 = (3, 3, 14, 2, 1);
    CNTP_CVAL_EL0 = (3, 3, 14, 2, 2);
    // Virtual memory control (HCR_EL2.TVM/TRVM).
    SCTLR_EL1 = (3, 0, 1, 0, 0);
    ACTLR_EL1 = (3, 0, 1, 0, 1);
    TTBR0_EL1 = (3, 0, 2, 0, 0);
    TTBR1_EL1 = (3, 0, 2, 0, 1);
    TCR_EL1 = (3, 0, 2, 0, 2);
    // ID registers (HCR_EL2.TID3).
    ID_AA64PFR0_EL1 = (3, 0, 0, 4, 0);
    ID_AA64PFR1_EL1 = (3, 0, 0, 4, 1);
    ID_AA64DFR0_EL1 = (3, 0, 0, 5, 0);
    ID_AA64ISAR0_EL1 = (3, 0, 0, 6, 0);
    ID_AA64ISAR1_EL1 = (3, 0, 0, 6, 1);
    ID_AA64ISAR2_EL1 = (3, 0, 0, 6, 2);
    ID_AA64MMFR0_EL1 = (3, 0, 0, 7, 0);
    ID_AA64MMFR1_EL1 = (3, 0, 0, 7, 1);
    ID_AA64MMFR2_EL1 = (3, 0, 0, 7, 2);
    // AArch32 ID registers (what a 32-bit task at EL0 can use).
    ID_PFR0_EL1 = (3, 0, 0, 1, 0);
    ID_PFR1_EL1 = (3, 0, 0, 1, 1);
    ID_DFR0_EL1 = (3, 0, 0, 1, 2);
    ID_MMFR0_EL1 = (3, 0, 0, 1, 4);
    ID_MMFR1_EL1 = (3, 0, 0, 1, 5);
    ID_MMFR2_EL1 = (3, 0, 0, 1, 6);
    ID_MMFR3_EL1 = (3, 0, 0, 1, 7);
    ID_ISAR0_EL1 = (3, 0, 0, 2, 0);
    ID_ISAR1_EL1 = (3, 0, 0, 2, 1);
    ID_ISAR2_EL1 = (3, 0, 0, 2, 2);
    ID_ISAR3_EL1 = (3, 0, 0, 2, 3);
    ID_ISAR4_EL1 = (3, 0, 0, 2, 4);
    ID_ISAR5_EL1 = (3, 0, 0, 2, 5);
    ID_MMFR4_EL1 = (3, 0, 0, 2, 6);
    ID_ISAR6_EL1 = (3, 0, 0, 2, 7);
    MVFR0_EL1 = (3, 0, 0, 3, 0);
    MVFR1_EL1 = (3, 0, 0, 3, 1);
    MVFR2_EL1 = (3, 0, 0, 3, 2);
    ID_PFR2_EL1 = (3, 0, 0, 3, 4);
    ID_MMFR5_EL1 = (3, 0, 0, 3, 6);
    // OS lock and power-down debug (MDCR_EL2.TDOSA).
    OSLAR_EL1 = (2, 0, 1, 0, 4);
    OSLSR_EL1 = (2, 0, 1, 1, 4);
    OSDLR_EL1 = (2, 0, 1, 3, 4);
    DBGPRCR_EL1 = (2, 0, 1, 4, 4);
    OSECCR_EL1 = (2, 0, 0, 6, 2);
    // Debug (MDCR_EL2.TDA; the breakpoint and watchpoint registers are
    // DBG{B,W}{V,C}R<n>_EL1 = (2, 0, 0, n, 4..7)) and MDCR_EL2.TDRA.
    MDSCR_EL1 = (2, 0, 0, 2, 2);
    MDCCINT_EL1 = (2, 0, 0, 2, 0);
    OSDTRRX_EL1 = (2, 0, 0, 0, 2);
    OSDTRTX_EL1 = (2, 0, 0, 3, 2);
    MDCCSR_EL0 = (2, 3, 0, 1, 0);
    DBGDTR_EL0 = (2, 3, 0, 4, 0);
    DBGDTRRX_EL0 = (2, 3, 0, 5, 0);
    DBGCLAIMSET_EL1 = (2, 0, 7, 8, 6);
    DBGCLAIMCLR_EL1 = (2, 0, 7, 9, 6);
    DBGAUTHSTATUS_EL1 = (2, 0, 7, 14, 6);
    MDRAR_EL1 = (2, 0, 1, 0, 0);
    // Set/way cache maintenance (HCR_EL2.TSW).
    DC_ISW = (1, 0, 7, 6, 2);
    DC_CSW = (1, 0, 7, 10, 2);
    DC_CISW = (1, 0, 7, 14, 2);
}

impl SysReg {
    /// Builds an encoding.
    pub const fn new(op0: u8, op1: u8, crn: u8, crm: u8, op2: u8) -> SysReg {
        SysReg {
            op0,
            op1,
            crn,
            crm,
            op2,
        }
    }

    /// The architectural name, when the register is one of [`SysReg::KNOWN`].
    pub fn name(self) -> Option<&'static str> {
        SysReg::KNOWN
            .iter()
            .find(|(r, _)| *r == self)
            .map(|(_, n)| *n)
    }

    /// Whether this is a GICv3 CPU-interface register (`ICC_*_EL1`).
    pub const fn is_gic_cpu_interface(self) -> bool {
        self.op0 == 3
            && self.op1 == 0
            && ((self.crn == 12 && self.crm >= 8) || (self.crn == 4 && self.crm == 6))
    }

    /// Whether this is in the AArch64 feature-ID space (op0=3, op1=0, CRn=0, CRm 1..=7),
    /// trapped by HCR_EL2.TID3.
    pub const fn is_id_register(self) -> bool {
        self.op0 == 3 && self.op1 == 0 && self.crn == 0 && self.crm >= 1 && self.crm <= 7
    }

    /// Whether this is a data-cache maintenance by set/way (DC ISW/CSW/CISW).
    pub const fn is_set_way_op(self) -> bool {
        self.op0 == 1 && self.op1 == 0 && self.crn == 7 && self.op2 == 2 && {
            let m = self.crm;
            m == 6 || m == 10 || m == 14
        }
    }

    /// The ISS bits of this encoding (without Rt and direction).
    pub const fn iss_bits(self) -> u32 {
        ((self.op0 as u32 & 3) << 20)
            | ((self.op2 as u32 & 7) << 17)
            | ((self.op1 as u32 & 7) << 14)
            | ((self.crn as u32 & 0xF) << 10)
            | ((self.crm as u32 & 0xF) << 1)
    }
}

/// A trapped system-register access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SysRegAccess {
    /// Which register.
    pub reg: SysReg,
    /// General-purpose register transferred (31 = XZR).
    pub rt: u8,
    /// `true` for MRS (read into Rt), `false` for MSR or a system instruction (write).
    pub read: bool,
}

impl SysRegAccess {
    /// Decodes the ISS of EC 0x18.
    pub const fn from_iss(iss: u32) -> SysRegAccess {
        SysRegAccess {
            reg: SysReg {
                op0: ((iss >> 20) & 3) as u8,
                op2: ((iss >> 17) & 7) as u8,
                op1: ((iss >> 14) & 7) as u8,
                crn: ((iss >> 10) & 0xF) as u8,
                crm: ((iss >> 1) & 0xF) as u8,
            },
            rt: ((iss >> 5) & 0x1F) as u8,
            read: iss & 1 != 0,
        }
    }

    /// Re-encodes into an ISS (inverse of [`SysRegAccess::from_iss`]).
    pub const fn to_iss(self) -> u32 {
        self.reg.iss_bits() | ((self.rt as u32 & 0x1F) << 5) | (self.read as u32)
    }

    /// Whether this is the given register.
    pub fn is(&self, reg: SysReg) -> bool {
        self.reg == reg
    }

    /// A write to `ICC_SGI1R_EL1` (the guest sending a Group 1 SGI).
    pub fn is_icc_sgi1r_write(&self) -> bool {
        !self.read && self.reg == SysReg::ICC_SGI1R_EL1
    }

    /// A write to any of the SGI generation registers (SGI0R, SGI1R, ASGI1R).
    pub fn is_sgi_generation(&self) -> bool {
        !self.read
            && (self.reg == SysReg::ICC_SGI1R_EL1
                || self.reg == SysReg::ICC_ASGI1R_EL1
                || self.reg == SysReg::ICC_SGI0R_EL1)
    }
}
