//! Lightweight VMs and the VHE (HCR_EL2.E2H=1) flavour of the EL2 tables.
//!
//! Why: an lwVM is a program without a kernel that the hypervisor runs at EL0 of its own
//! EL2&0 translation regime (ARMv8.1 VHE). Under E2H=1 the EL2 stage-1 descriptors change
//! meaning: AP\[1\] grants EL0 access (it is RES1 with E2H=0), bit 54 is UXN and bit 53 PXN
//! (XN and RES0 with E2H=0), nG tags a translation with the ASID in TTBR0_EL2, and TCR_EL2
//! has the TCR_EL1 layout. This module holds those encodings and the regions of an lwVM's
//! tables; [`crate::pagetable`] generates them, [`crate::isolation`] walks them back.
//!
//! Invariants:
//! - Every lwVM address space is a copy of the hypervisor's EL2 map — the same identity
//!   mappings, all privileged-only (AP\[1\]=0), global (nG=0), UXN — plus the lwVM's own
//!   pages: its memory and its shared regions in the *lwVM window*
//!   [`WINDOW_BASE`]..[`WINDOW_END`], EL0-accessible (AP\[1\]=1), PXN (the hypervisor never
//!   executes lwVM code), nG=1 (tagged with its ASID). Switching TTBR0_EL2 between the
//!   hypervisor's tables and an lwVM's therefore never changes a hypervisor translation.
//! - The window lies above every physical address the hypervisor maps (validated), so an
//!   lwVM page never shadows a hypervisor mapping.

use crate::config::Config;
use crate::layout::Layout;
use crate::pagetable::bits;
use crate::system::Access;

/// First virtual address of every lwVM's memory (each lwVM has its own address space).
pub const WINDOW_BASE: u64 = 0x40_0000_0000;
/// End of the lwVM window (the 39-bit input range ends here).
pub const WINDOW_END: u64 = 1 << 39;

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

/// An lwVM's own memory: normal write-back, EL0 read-write-execute, PXN, not global.
pub const LW_RAM: u64 =
    bits::attr_index(0) | vbits::AP_EL0 | bits::SH_INNER | bits::AF | vbits::NG | vbits::PXN;

/// An lwVM's mapping of a shared region: normal non-cacheable (MAIR attr 2, so that it
/// is coherent with a full VM that accesses the region with its MMU off), never
/// executable, read-only or read-write at EL0, not global.
pub fn lw_shared(access: Access) -> u64 {
    let ro = if access == Access::Ro {
        vbits::AP_RO
    } else {
        0
    };
    bits::attr_index(2)
        | vbits::AP_EL0
        | ro
        | bits::SH_INNER
        | bits::AF
        | vbits::NG
        | vbits::PXN
        | vbits::UXN
}

/// The user regions of lwVM `j`: (va, pa, size, attributes).
pub fn lw_regions(cfg: &Config, lay: &Layout, j: usize) -> Vec<(u64, u64, u64, u64)> {
    let v = &cfg.system.lwvm[j];
    let l = &lay.lwvms[j];
    let mut r = vec![(WINDOW_BASE, l.mem.base, l.mem.size, LW_RAM)];
    for (s, p) in cfg.system.shared.iter().zip(&lay.shared) {
        for m in s.maps.iter().filter(|m| m.vm == v.name) {
            r.push((m.ipa.0, p.base, p.size, lw_shared(m.access)));
        }
    }
    r
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
    use crate::pagetable::{EL2_CODE, EL2_DATA, EL2_DEVICE};

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
    fn lwvm_leaves_are_user_only_executable() {
        let p = vhe_perms(LW_RAM);
        assert_eq!(
            p,
            VhePerms {
                el0: true,
                read_only: false,
                el0_exec: true,
                el2_exec: false,
                ng: true
            }
        );
        let s = vhe_perms(lw_shared(Access::Ro));
        assert!(s.el0 && s.read_only && !s.el0_exec && !s.el2_exec && s.ng);
        assert!(!vhe_perms(lw_shared(Access::Rw)).read_only);
    }

    #[test]
    fn tcr_value() {
        assert_eq!(TCR_EL2_VHE, 0x12_8099_3519);
        const { assert!(WINDOW_BASE < WINDOW_END && WINDOW_END == crate::pagetable::VA_LIMIT) };
    }
}
