//! The VHE (HCR_EL2.E2H=1) encodings of the EL2 translation regime.
//!
//! Why: under E2H=1 the EL2 stage-1 descriptors change meaning: AP\[1\] grants EL0
//! access (it is RES1 with E2H=0), bit 54 is UXN and bit 53 PXN (XN and RES0 with E2H=0),
//! nG tags a translation with the ASID in TTBR0_EL2, and TCR_EL2 has the TCR_EL1 layout.
//! The hypervisor runs so whenever the image is built with the `lwvm` feature or the
//! system asks (`[hypervisor] vhe`, or an extension that needs it): the page-table stage
//! converts its EL2 leaves with [`vhe_el2_attrs`], the description carries
//! [`TCR_EL2_VHE`], and the checks decode leaves with [`vhe_perms`].

use crate::tables::bits;

/// Descriptor bits that only exist (or change meaning) with E2H=1.
pub mod vbits {
    /// AP\[1\]: EL0 may access (E2H=1; RES1 with E2H=0).
    pub const AP_EL0: u64 = 1 << 6;
    /// AP\[2\]: read-only.
    pub const AP_RO: u64 = 1 << 7;
    /// Not global: the translation belongs to the ASID in TTBR0_EL2.
    pub const NG: u64 = 1 << 11;
    /// Privileged (EL2) execute-never.
    pub const PXN: u64 = 1 << 53;
    /// Unprivileged (EL0) execute-never (the XN bit of the E2H=0 format).
    pub const UXN: u64 = 1 << 54;
}

/// TCR_EL2 with E2H=1 (the TCR_EL1 layout): T0SZ=25, IRGN0/ORGN0=WBWA, SH0=inner,
/// TG0=4K, T1SZ=25, EPD1 (no TTBR1 walks), A1=0 (ASID from TTBR0_EL2), TG1=4K,
/// IPS=40-bit, AS=1 (16-bit ASIDs).
pub const TCR_EL2_VHE: u64 = 25
    | (1 << 8)
    | (1 << 10)
    | (3 << 12)
    | (25 << 16)
    | (1 << 23)
    | (0b10 << 30)
    | (0b010 << 32)
    | (1 << 36);

/// Converts the attributes of a hypervisor (E2H=0) leaf into the E2H=1 encoding of the
/// same rights: AP\[1\]=0 (no EL0 access), UXN always, PXN where the E2H=0 leaf was XN.
pub const fn vhe_el2_attrs(a: u64) -> u64 {
    let pxn = if a & bits::XN != 0 { vbits::PXN } else { 0 };
    (a & !vbits::AP_EL0) | vbits::UXN | pxn
}

/// Rights of a leaf of the E2H=1 regime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VhePerms {
    /// EL0 may read (and write unless `read_only`).
    pub el0: bool,
    /// Read-only at every level.
    pub read_only: bool,
    /// EL0 may execute.
    pub el0_exec: bool,
    /// EL2 may execute.
    pub el2_exec: bool,
    /// Not global (ASID-tagged).
    pub ng: bool,
}

/// Decodes the rights of an E2H=1 leaf.
pub fn vhe_perms(attrs: u64) -> VhePerms {
    VhePerms {
        el0: attrs & vbits::AP_EL0 != 0,
        read_only: attrs & vbits::AP_RO != 0,
        el0_exec: attrs & vbits::UXN == 0,
        el2_exec: attrs & vbits::PXN == 0,
        ng: attrs & vbits::NG != 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::{EL2_CODE, EL2_DATA, EL2_DEVICE};

    #[test]
    fn hypervisor_leaves_are_privileged_only_under_vhe() {
        for a in [EL2_CODE, EL2_DATA, EL2_DEVICE] {
            let p = vhe_perms(vhe_el2_attrs(a));
            assert!(!p.el0 && !p.el0_exec && !p.ng, "{a:#x}: {p:?}");
        }
        assert!(vhe_perms(vhe_el2_attrs(EL2_CODE)).el2_exec);
        assert!(!vhe_perms(vhe_el2_attrs(EL2_DATA)).el2_exec);
        assert!(!vhe_perms(vhe_el2_attrs(EL2_DEVICE)).el2_exec);
    }

    #[test]
    fn tcr_value() {
        assert_eq!(TCR_EL2_VHE, 0x12_8099_3519);
    }
}
