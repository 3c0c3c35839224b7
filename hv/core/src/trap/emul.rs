//! What a trapped system-register access (EC 0x18) gets: the emulation table.
//!
//! Why a table here: which registers are emulated, read as zero or UNDEFINED is a pure
//! decision on the encoding, host-testable, and docs/TRAPS.md lists the same rows. The
//! image applies the decision (reads the hardware ID registers, runs the debug model,
//! executes the cache maintenance).
//!
//! Rows (anything else, e.g. IMPDEF registers trapped by HCR_EL2.TIDCP, RAS error
//! records by TERR, LOR registers by TLOR, PMU/SPE/trace/AMU registers by MDCR_EL2 and
//! CPTR_EL2, SCXTNUM by HCR_EL2.EnSCXT=0, MTE registers by HCR_EL2.ATA=0, is
//! UNDEFINED, which is what the Arm ARM gives for a register of a feature the ID
//! registers say is not implemented):
//! - the feature-ID space (TID3): reads sanitised ([`super::idreg`]), writes UNDEFINED;
//! - DC ISW/CSW/CISW (TSW): executed as DC CISW on the same set/way, so a VM can never
//!   discard (invalidate without clean) lines that hold another VM's or the hypervisor's
//!   data; over a guest's whole set/way loop it cleans and invalidates the local caches,
//!   which is what such a loop is for;
//! - ACTLR_EL1 (TACR): RAZ/WI — its bits are IMPLEMENTATION DEFINED and would act on the
//!   physical CPU, shared with other VMs;
//! - the debug registers ([`super::debug`]).

use super::debug::DebugReg;
use super::sysreg::{SysReg, SysRegAccess};

/// What to do with a trapped access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emul {
    /// A read of the feature-ID space: the sanitised value.
    IdRead(SysReg),
    /// Set/way maintenance: DC CISW with the guest's Rt (set, way, level).
    SetWay,
    /// Reads as zero, writes ignored.
    RazWi,
    /// A debug register, emulated per vCPU.
    Debug(DebugReg),
    /// UNDEFINED: inject the exception.
    Undefined,
}

/// Classifies a trapped access. The GIC CPU-interface registers are not in this table
/// (the vGIC handles them).
pub fn classify(acc: &SysRegAccess) -> Emul {
    let r = acc.reg;
    if r.is_id_register() {
        return if acc.read {
            Emul::IdRead(r)
        } else {
            Emul::Undefined
        };
    }
    if r.is_set_way_op() {
        return Emul::SetWay;
    }
    if r == SysReg::ACTLR_EL1 {
        return Emul::RazWi;
    }
    match DebugReg::decode(r) {
        Some(d) => Emul::Debug(d),
        None => Emul::Undefined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(reg: SysReg, read: bool) -> SysRegAccess {
        SysRegAccess { reg, rt: 1, read }
    }

    #[test]
    fn table() {
        assert_eq!(
            classify(&acc(SysReg::ID_AA64PFR1_EL1, true)),
            Emul::IdRead(SysReg::ID_AA64PFR1_EL1)
        );
        assert_eq!(
            classify(&acc(SysReg::ID_AA64PFR1_EL1, false)),
            Emul::Undefined
        );
        for op in [SysReg::DC_ISW, SysReg::DC_CSW, SysReg::DC_CISW] {
            assert_eq!(classify(&acc(op, false)), Emul::SetWay);
        }
        assert_eq!(classify(&acc(SysReg::ACTLR_EL1, true)), Emul::RazWi);
        assert_eq!(
            classify(&acc(SysReg::new(2, 0, 0, 0, 4), false)),
            Emul::Debug(DebugReg::Bvr(0))
        );
        // IMPDEF (CRn 15), an ERX* RAS record (ERXSTATUS_EL1), PMCR_EL0, TFSR_EL1,
        // SCXTNUM_EL1, LORC_EL1, AMCR_EL0, TRFCR_EL1: hidden features → UNDEFINED.
        for r in [
            SysReg::new(3, 0, 15, 2, 0),
            SysReg::new(3, 0, 5, 4, 2),
            SysReg::new(3, 3, 9, 12, 0),
            SysReg::new(3, 0, 5, 6, 0),
            SysReg::new(3, 0, 13, 0, 7),
            SysReg::new(3, 0, 10, 4, 3),
            SysReg::new(3, 3, 13, 2, 0),
            SysReg::new(3, 0, 1, 2, 1),
        ] {
            assert_eq!(classify(&acc(r, true)), Emul::Undefined, "{r:?}");
            assert_eq!(classify(&acc(r, false)), Emul::Undefined, "{r:?}");
        }
    }
}
