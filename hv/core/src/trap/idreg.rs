//! The feature-ID registers a VM reads (HCR_EL2.TID3): the hardware's values, sanitised
//! so that a VM is shown exactly the features that work for it.
//!
//! Why: with TID3 set, every EL1 read of the ID space `op0=3, op1=0, CRn=0, CRm=1..7`
//! traps. The hypervisor answers with the hardware's value passed through an allow-list:
//! each register this module knows has a list of 4-bit fields and what to do with each
//! ([`Policy`]); every field not listed reads as zero, and so does every register not
//! listed (the Arm ARM makes unallocated encodings of this space RAZ). A feature the
//! hypervisor does not virtualise is therefore hidden by default, including features of
//! architecture versions newer than this table.
//!
//! What is hidden and why (see docs/TRAPS.md for the full table):
//! - SVE, SME (their registers are not switched; CPTR_EL2 traps them), MTE (HCR_EL2.ATA
//!   is 0, tag state is not switched), AMU (CPTR_EL2.TAM), RAS (HCR_EL2.TERR, records not
//!   virtualised), MPAM, RME, SEL2, TME, LS64, MOPS, WFxT (a trapped WFIT would wait
//!   without its timeout), LOR (HCR_EL2.TLOR), CSV2 above 1 (SCXTNUM traps: EnSCXT=0);
//! - PMU, SPE, trace, TRBE, BRBE (MDCR_EL2 traps their registers; no virtual PMU);
//! - EL2, EL3-visible virtualisation features (VH, NV, FWB, EVT, FGT, HCX, VMIDBits);
//! - AArch32: EL0 AArch32 is shown where the CPU has it (a 32-bit task at a guest's EL0
//!   runs and its exits are handled), with the AArch32 ID registers (CRm 1..3) of the
//!   instruction sets, FP/SIMD and memory model; EL1 stays AArch64-only (HCR_EL2.RW). On
//!   a CPU without AArch32 those registers are UNKNOWN, so they read as zero there;
//! - the double lock (DoubleLock = 0b1111: OSDLR_EL1 is emulated RAZ/WI).
//!
//! Invariant: [`sanitise`] never shows a field value above the hardware's for an
//! unsigned field, and never changes a signed field (FP, AdvSIMD, TGran4, TGran64)
//! except by hiding nothing: those pass through as they are.
//!
//! Spec: Arm ARM (DDI 0487), "The AArch64 System register ID space" (feature ID
//! registers, reserved encodings RAZ) and the field descriptions of each register.

use super::sysreg::SysReg;

/// What a field of an ID register shows the VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// The hardware's value.
    Pass,
    /// The hardware's value, at most this (an unsigned field: lower means less).
    Max(u8),
    /// Always this value (e.g. "not implemented" encodings that are not zero).
    Fixed(u8),
    /// The physical address range, at most what the VM's stage 2 covers.
    IpaRange,
    /// The hardware's value for a VM that shares the physical PMU (`pmu = "shared"`),
    /// else zero.
    IfPmu,
}

/// A 4-bit field at `shift` and its policy.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Lowest bit of the field.
    pub shift: u8,
    /// What the VM sees.
    pub policy: Policy,
}

const fn f(shift: u8, policy: Policy) -> Field {
    Field { shift, policy }
}

use Policy::{Fixed, IfPmu, IpaRange, Max, Pass};

/// A register of the ID space this module shows (anything else reads as zero).
#[derive(Debug, Clone, Copy)]
pub struct IdReg {
    /// The register.
    pub reg: SysReg,
    /// Its fields that are not zero for a VM.
    pub fields: &'static [Field],
}

/// ID_AA64PFR0_EL1: EL0 AArch64, and AArch32 where the CPU has it; EL1 AArch64 only; EL2
/// hidden; EL3, FP, AdvSIMD, DIT, CSV3 passed; GIC system registers (GICv3 CPU interface,
/// not v4.1); CSV2 at most 1 (no SCXTNUM); RAS, SVE, SEL2, MPAM, AMU, RME hidden.
const PFR0: &[Field] = &[
    f(0, Max(2)),
    f(4, Max(1)),
    f(12, Pass),
    f(16, Pass),
    f(20, Pass),
    f(24, Max(1)),
    f(48, Pass),
    f(56, Max(1)),
    f(60, Pass),
];
/// ID_AA64PFR1_EL1: BTI and SSBS work at EL1 unaided; MTE, SME, RAS_frac, MPAM_frac,
/// RNDR_trap, CSV2_frac, NMI and newer fields hidden.
const PFR1: &[Field] = &[f(0, Pass), f(4, Pass)];
/// ID_AA64DFR0_EL1: the debug architecture (up to Armv8.4's), the breakpoints,
/// watchpoints and context comparators (emulated per vCPU); no double lock; the PMU
/// only to a VM that shares it; trace, SPE, TRBE, BRBE, MTPMU hidden.
const DFR0: &[Field] = &[
    f(0, Max(9)),
    f(8, IfPmu),
    f(12, Pass),
    f(20, Pass),
    f(28, Pass),
    f(36, Fixed(0xF)),
];
/// ID_AA64ISAR0_EL1: every instruction-set field but TME (transactional memory).
const ISAR0: &[Field] = &[
    f(4, Pass),
    f(8, Pass),
    f(12, Pass),
    f(16, Pass),
    f(20, Pass),
    f(28, Pass),
    f(32, Pass),
    f(36, Pass),
    f(40, Pass),
    f(44, Pass),
    f(48, Pass),
    f(52, Pass),
    f(56, Pass),
    f(60, Pass),
];
/// ID_AA64ISAR1_EL1: everything but LS64 (needs HCRX_EL2 enables); pointer
/// authentication is shown because its keys are switched per vCPU.
const ISAR1: &[Field] = &[
    f(0, Pass),
    f(4, Pass),
    f(8, Pass),
    f(12, Pass),
    f(16, Pass),
    f(20, Pass),
    f(24, Pass),
    f(28, Pass),
    f(32, Pass),
    f(36, Pass),
    f(40, Pass),
    f(44, Pass),
    f(48, Pass),
    f(52, Pass),
    f(56, Pass),
];
/// ID_AA64ISAR2_EL1: RPRES, QARMA3 pointer authentication, BC, PAC_frac, CLRBHB; WFxT
/// (its timeout would be lost in the WFI trap) and MOPS (HCRX_EL2.MSCEn) hidden.
const ISAR2: &[Field] = &[
    f(4, Pass),
    f(8, Pass),
    f(12, Pass),
    f(20, Pass),
    f(24, Pass),
    f(28, Pass),
];
/// ID_AA64MMFR0_EL1: PARange at most the stage-2 input range; granules, ASIDs,
/// endianness, ExS passed; stage-2 granule fields zero (no EL2 for the VM); FGT hidden;
/// ECV at most 1 (no CNTPOFF, an EL2 feature).
const MMFR0: &[Field] = &[
    f(0, IpaRange),
    f(4, Pass),
    f(8, Pass),
    f(12, Pass),
    f(16, Pass),
    f(20, Pass),
    f(24, Pass),
    f(28, Pass),
    f(44, Pass),
    f(60, Max(1)),
];
/// ID_AA64MMFR1_EL1: stage-1 features passed; VMIDBits, VH, XNX, TWED, HCX (EL2's),
/// LO (HCR_EL2.TLOR traps the LOR registers) and CMOW hidden.
const MMFR1: &[Field] = &[
    f(0, Pass),
    f(12, Pass),
    f(20, Pass),
    f(24, Pass),
    f(36, Pass),
    f(44, Pass),
    f(48, Pass),
    f(52, Pass),
    f(60, Pass),
];
/// ID_AA64MMFR2_EL1: stage-1 features passed; NV, FWB, EVT (EL2's) hidden.
const MMFR2: &[Field] = &[
    f(0, Pass),
    f(4, Pass),
    f(8, Pass),
    f(12, Pass),
    f(16, Pass),
    f(20, Pass),
    f(28, Pass),
    f(32, Pass),
    f(36, Pass),
    f(48, Pass),
    f(52, Pass),
    f(60, Pass),
];

/// Every 4-bit field of a 32-bit AArch32 ID register (instruction sets, FP/SIMD, memory
/// model: nothing there needs the hypervisor).
const ALL32: &[Field] = &[
    f(0, Pass),
    f(4, Pass),
    f(8, Pass),
    f(12, Pass),
    f(16, Pass),
    f(20, Pass),
    f(24, Pass),
    f(28, Pass),
];
/// ID_PFR0_EL1: A32, T32, Jazelle, T32EE states, DIT; CSV2 at most 1; RAS, AMU hidden.
const PFR0_32: &[Field] = &[
    f(0, Pass),
    f(4, Pass),
    f(8, Pass),
    f(12, Pass),
    f(16, Max(1)),
    f(24, Pass),
];
/// ID_PFR1_EL1: programmers' model and the generic timer; Security, Virtualization (no
/// AArch32 EL1/EL2/EL3 for a VM) and the GIC's AArch32 interface hidden.
const PFR1_32: &[Field] = &[f(0, Pass), f(16, Pass)];
/// ID_DFR0_EL1: the AArch32 debug and trace interfaces hidden (cp14 traps), the PMU only
/// to a VM that shares it.
const DFR0_32: &[Field] = &[f(24, IfPmu)];
/// ID_MMFR4_EL1: everything but XNX and EVT (stage-2 and EL2 trap features).
const MMFR4_32: &[Field] = &[
    f(0, Pass),
    f(4, Pass),
    f(12, Pass),
    f(16, Pass),
    f(20, Pass),
    f(24, Pass),
];
/// ID_PFR2_EL1: CSV3 and SSBS; RAS_frac hidden.
const PFR2_32: &[Field] = &[f(0, Pass), f(4, Pass)];
/// ID_MMFR5_EL1: ETS.
const MMFR5_32: &[Field] = &[f(0, Pass)];

/// The registers of the ID space a VM sees a nonzero value of. The arch reads exactly
/// these from the hardware (reading an encoding the CPU lacks would be UNDEFINED at
/// EL2 on older CPUs, so nothing else is read).
pub const SHOWN: &[IdReg] = &[
    IdReg {
        reg: SysReg::ID_AA64PFR0_EL1,
        fields: PFR0,
    },
    IdReg {
        reg: SysReg::ID_AA64PFR1_EL1,
        fields: PFR1,
    },
    IdReg {
        reg: SysReg::ID_AA64DFR0_EL1,
        fields: DFR0,
    },
    IdReg {
        reg: SysReg::ID_AA64ISAR0_EL1,
        fields: ISAR0,
    },
    IdReg {
        reg: SysReg::ID_AA64ISAR1_EL1,
        fields: ISAR1,
    },
    IdReg {
        reg: SysReg::ID_AA64ISAR2_EL1,
        fields: ISAR2,
    },
    IdReg {
        reg: SysReg::ID_AA64MMFR0_EL1,
        fields: MMFR0,
    },
    IdReg {
        reg: SysReg::ID_AA64MMFR1_EL1,
        fields: MMFR1,
    },
    IdReg {
        reg: SysReg::ID_AA64MMFR2_EL1,
        fields: MMFR2,
    },
    IdReg {
        reg: SysReg::ID_PFR0_EL1,
        fields: PFR0_32,
    },
    IdReg {
        reg: SysReg::ID_PFR1_EL1,
        fields: PFR1_32,
    },
    IdReg {
        reg: SysReg::ID_DFR0_EL1,
        fields: DFR0_32,
    },
    IdReg {
        reg: SysReg::ID_MMFR0_EL1,
        fields: ALL32,
    },
    IdReg {
        reg: SysReg::ID_MMFR1_EL1,
        fields: ALL32,
    },
    IdReg {
        reg: SysReg::ID_MMFR2_EL1,
        fields: ALL32,
    },
    IdReg {
        reg: SysReg::ID_MMFR3_EL1,
        fields: ALL32,
    },
    IdReg {
        reg: SysReg::ID_ISAR0_EL1,
        fields: ALL32,
    },
    IdReg {
        reg: SysReg::ID_ISAR1_EL1,
        fields: ALL32,
    },
    IdReg {
        reg: SysReg::ID_ISAR2_EL1,
        fields: ALL32,
    },
    IdReg {
        reg: SysReg::ID_ISAR3_EL1,
        fields: ALL32,
    },
    IdReg {
        reg: SysReg::ID_ISAR4_EL1,
        fields: ALL32,
    },
    IdReg {
        reg: SysReg::ID_ISAR5_EL1,
        fields: ALL32,
    },
    IdReg {
        reg: SysReg::ID_MMFR4_EL1,
        fields: MMFR4_32,
    },
    IdReg {
        reg: SysReg::ID_ISAR6_EL1,
        fields: ALL32,
    },
    IdReg {
        reg: SysReg::MVFR0_EL1,
        fields: ALL32,
    },
    IdReg {
        reg: SysReg::MVFR1_EL1,
        fields: ALL32,
    },
    IdReg {
        reg: SysReg::MVFR2_EL1,
        fields: ALL32,
    },
    IdReg {
        reg: SysReg::ID_PFR2_EL1,
        fields: PFR2_32,
    },
    IdReg {
        reg: SysReg::ID_MMFR5_EL1,
        fields: MMFR5_32,
    },
];

/// Whether `reg` is an AArch32 ID register (CRm 1..3 of the ID space).
fn is_aarch32_id(reg: SysReg) -> bool {
    reg.op0 == 3 && reg.op1 == 0 && reg.crn == 0 && (1..=3).contains(&reg.crm)
}

/// The largest ID_AA64MMFR0_EL1.PARange encoding whose size fits in `bits` of IPA
/// (0b0000 = 32 bits … 0b0110 = 52 bits).
pub const fn pa_range_for(bits: u8) -> u8 {
    const SIZES: [u8; 7] = [32, 36, 40, 42, 44, 48, 52];
    let mut i = SIZES.len();
    while i > 0 {
        i -= 1;
        if SIZES[i] <= bits {
            return i as u8;
        }
    }
    0
}

/// The IPA width a VTCR_EL2 value gives the VMs (64 − T0SZ).
pub const fn ipa_bits(vtcr: u64) -> u8 {
    64 - (vtcr & 0x3F) as u8
}

/// The entry of [`SHOWN`] for `reg`, if the VM sees anything of it.
pub fn shown(reg: SysReg) -> Option<&'static IdReg> {
    SHOWN.iter().find(|r| r.reg == reg)
}

/// What a VM's ID registers depend on besides the hardware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmView {
    /// The VMs' IPA width (stage-2 input size).
    pub ipa_bits: u8,
    /// The VM shares the physical PMU.
    pub pmu: bool,
    /// The CPU runs AArch32 at EL0 (its ID_AA64PFR0_EL1.EL0 is 2): the AArch32 ID
    /// registers then hold values, not UNKNOWN ones.
    pub aarch32_el0: bool,
}

/// The value a VM reads from ID register `reg` (in the TID3 space), given the
/// hardware's value `hw` (0 for a register not in [`SHOWN`]).
pub fn sanitise(reg: SysReg, hw: u64, vm: VmView) -> u64 {
    let Some(r) = shown(reg) else {
        return 0;
    };
    if is_aarch32_id(reg) && !vm.aarch32_el0 {
        return 0;
    }
    r.fields.iter().fold(0, |v, fld| {
        let have = ((hw >> fld.shift) & 0xF) as u8;
        let show = match fld.policy {
            Pass => have,
            Max(m) => have.min(m),
            Fixed(x) => x,
            IpaRange => have.min(pa_range_for(vm.ipa_bits)),
            IfPmu if vm.pmu => have,
            IfPmu => 0,
        };
        v | ((show as u64 & 0xF) << fld.shift)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hardware values with the features this module hides present: SVE, RAS, MTE, SME,
    /// PMUv3, trace, SPE, 52-bit PA, VH, LOR.
    const MAX_PFR0: u64 = 0x1201_1111_2222;
    const MAX_PFR1: u64 = 0x0100_0221;
    const MAX_DFR0: u64 = 0x0000_0001_f031_5696;
    const MAX_MMFR0: u64 = 0x0000_1000_0010_0f46;
    const MAX_MMFR1: u64 = 0x0011_1012_1122;

    fn field(v: u64, shift: u8) -> u64 {
        (v >> shift) & 0xF
    }

    fn view(ipa_bits: u8) -> VmView {
        VmView {
            ipa_bits,
            pmu: false,
            aarch32_el0: false,
        }
    }

    #[test]
    fn aarch32_el0_only_where_the_cpu_has_it() {
        let pfr0 = SysReg::ID_AA64PFR0_EL1;
        // The CPU runs AArch32 at EL0 and EL1 (EL0 = EL1 = 2).
        let hw = 0x22;
        let with = VmView {
            aarch32_el0: true,
            ..view(40)
        };
        assert_eq!(field(sanitise(pfr0, hw, with), 0), 2, "EL0 AArch32 shown");
        assert_eq!(
            field(sanitise(pfr0, hw, with), 4),
            1,
            "EL1 stays AArch64-only"
        );
        assert_eq!(
            field(sanitise(pfr0, 0x11, with), 0),
            1,
            "never above the hardware"
        );
        let isar5 = SysReg::ID_ISAR5_EL1;
        assert_eq!(
            sanitise(isar5, 0x1112_1111, with),
            0x1112_1111,
            "AArch32 crypto etc."
        );
        assert_eq!(
            sanitise(isar5, 0x1112_1111, view(40)),
            0,
            "UNKNOWN without AArch32"
        );
        // Security/Virtualization of ID_PFR1 and the AArch32 debug interface stay hidden.
        assert_eq!(
            sanitise(SysReg::ID_PFR1_EL1, 0x1001_1111, with),
            0x0001_0001
        );
        assert_eq!(sanitise(SysReg::ID_DFR0_EL1, 0x0303_3066, with), 0);
    }

    #[test]
    fn pmu_only_for_a_vm_that_shares_it() {
        let shared = VmView {
            ipa_bits: 40,
            pmu: true,
            aarch32_el0: false,
        };
        let dfr0 = SysReg::ID_AA64DFR0_EL1;
        assert_eq!(
            field(sanitise(dfr0, MAX_DFR0, shared), 8),
            field(MAX_DFR0, 8)
        );
        assert_eq!(field(sanitise(dfr0, MAX_DFR0, view(40)), 8), 0);
        // Shared or not, SPE and trace stay hidden.
        assert_eq!(sanitise(dfr0, MAX_DFR0, shared) >> 32 & 0xF, 0);
    }

    #[test]
    fn hidden_features_read_as_absent() {
        let pfr0 = sanitise(SysReg::ID_AA64PFR0_EL1, MAX_PFR0 | (0xF << 28), view(40));
        assert_eq!(field(pfr0, 32), 0, "SVE");
        assert_eq!(field(pfr0, 28), 0, "RAS");
        assert_eq!(field(pfr0, 44), 0, "AMU");
        assert_eq!(field(pfr0, 8), 0, "EL2");
        assert_eq!(field(pfr0, 0), 2, "EL0 AArch32 where the CPU has it");
        assert_eq!(field(pfr0, 4), 1, "EL1 AArch64 only");
        let pfr1 = sanitise(SysReg::ID_AA64PFR1_EL1, MAX_PFR1, view(40));
        assert_eq!(field(pfr1, 8), 0, "MTE");
        assert_eq!(field(pfr1, 24), 0, "SME");
        assert_eq!(field(pfr1, 0), 1, "BTI stays");
        let dfr0 = sanitise(SysReg::ID_AA64DFR0_EL1, MAX_DFR0, view(40));
        assert_eq!(field(dfr0, 8), 0, "PMUVer");
        assert_eq!(field(dfr0, 4), 0, "TraceVer");
        assert_eq!(field(dfr0, 32), 0, "PMSVer");
        assert_eq!(field(dfr0, 36), 0xF, "no double lock");
        assert_eq!(field(dfr0, 12), field(MAX_DFR0, 12), "breakpoints");
        assert_eq!(field(dfr0, 20), field(MAX_DFR0, 20), "watchpoints");
        let mmfr1 = sanitise(SysReg::ID_AA64MMFR1_EL1, MAX_MMFR1, view(40));
        assert_eq!(field(mmfr1, 8), 0, "VH");
        assert_eq!(field(mmfr1, 16), 0, "LOR");
        assert_eq!(field(mmfr1, 20), field(MAX_MMFR1, 20), "PAN stays");
    }

    #[test]
    fn unknown_and_unallocated_registers_are_raz() {
        // ID_AA64ZFR0 (SVE), ID_AA64SMFR0 (SME), ID_AA64PFR2, ID_AA64MMFR3, the AArch32
        // ID_PFR0 and MVFR0 on a CPU without AArch32, and an unallocated encoding.
        for (crm, op2) in [
            (4, 4),
            (4, 5),
            (4, 2),
            (7, 3),
            (1, 0),
            (3, 0),
            (5, 3),
            (7, 7),
        ] {
            let r = SysReg::new(3, 0, 0, crm, op2);
            assert!(r.is_id_register());
            assert_eq!(sanitise(r, u64::MAX, view(48)), 0, "{r:?}");
        }
    }

    #[test]
    fn never_more_than_the_hardware() {
        for r in SHOWN {
            for hw in [0, u64::MAX, 0x1234_5678_9abc_def0, MAX_PFR0, MAX_DFR0] {
                let with32 = VmView {
                    aarch32_el0: true,
                    ..view(52)
                };
                let v = sanitise(r.reg, hw, with32);
                for fld in r.fields {
                    let (have, show) = (field(hw, fld.shift), field(v, fld.shift));
                    match fld.policy {
                        Pass => assert_eq!(show, have),
                        Max(_) | IpaRange | IfPmu => {
                            assert!(show <= have, "{:?} {}", r.reg, fld.shift)
                        }
                        Fixed(x) => assert_eq!(show, x as u64),
                    }
                }
                // Fields not listed are zero.
                let listed: u64 = r.fields.iter().map(|f| 0xF << f.shift).sum();
                assert_eq!(v & !listed, 0, "{:?}", r.reg);
            }
        }
    }

    #[test]
    fn pa_range_follows_the_stage2() {
        assert_eq!(pa_range_for(32), 0);
        assert_eq!(pa_range_for(39), 1);
        assert_eq!(pa_range_for(40), 2);
        assert_eq!(pa_range_for(48), 5);
        assert_eq!(pa_range_for(52), 6);
        assert_eq!(pa_range_for(20), 0);
        // T0SZ 24: 40-bit IPA; the 52-bit hardware range is cut to 40 bits.
        assert_eq!(ipa_bits(0x8002_3558), 40);
        let mmfr0 = sanitise(SysReg::ID_AA64MMFR0_EL1, MAX_MMFR0, view(40));
        assert_eq!(field(mmfr0, 0), 2);
        // A smaller hardware range stays.
        assert_eq!(field(sanitise(SysReg::ID_AA64MMFR0_EL1, 1, view(48)), 0), 1);
        // 4K/64K granule fields (signed: 0 = supported, 0xF = not) pass unchanged.
        assert_eq!(field(mmfr0, 28), field(MAX_MMFR0, 28));
        assert_eq!(field(mmfr0, 24), field(MAX_MMFR0, 24));
    }
}
