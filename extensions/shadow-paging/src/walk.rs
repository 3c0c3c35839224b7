//! The guest's own translation: what its tables say about one VA, with the faults the
//! architecture would raise.
//!
//! The walk follows VMSAv8-64 for the configuration the guest is allowed (4 KiB granule,
//! T0SZ = 25: a 39-bit VA and a walk starting at level 1). It reads the guest's tables from
//! their current contents, so a shadow entry made from its result is exactly the
//! composition of the guest's descriptors with the grant behind the output address.
//!
//! Two limits come from where the lwVM runs rather than from the architecture:
//! - VAs below `va_base` fault at level 1: the low half of the EL2&0 VA space (level-1
//!   entries 0..256) holds the hypervisor's own map, shared with every shadow root, until
//!   the hypervisor moves to `TTBR1_EL2`;
//! - the guest runs only at EL0, and the shadow can only express what EL0 may do: a page is
//!   usable at all only if EL0 may access it (AP\[1\], no APTable\[0\] above), which rules
//!   out execute-only memory.
//!
//! Faults are checked in the architecture's order: the walk (translation, address size,
//! external abort on a table outside the `tables` grants), then the access flag, then the
//! permissions, and only then the grant behind the output address (a synchronous external
//! abort: the access would reach no memory of the guest).

use crate::desc::{self, AF, AP_EL0, AP_RO, AP_TABLE_NO_EL0, AP_TABLE_RO, OA_MASK, PA_BITS};
use crate::{Access, FaultKind, Layout, MemType, grants};

/// `TCR_EL1.EPD0`: no walks from `TTBR0_EL1`.
pub(crate) const TCR_EPD0: u64 = 1 << 7;
/// `TCR_EL1.AS`: 16-bit ASIDs.
pub(crate) const TCR_AS: u64 = 1 << 36;

/// The top of the guest's VA space (T0SZ = 25).
pub(crate) const VA_END: u64 = 1 << 39;

/// What the guest's tables say about a VA (rights before any grant is consulted).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Walked {
    /// The level of the leaf (1 and 2: blocks, 3: page).
    pub level: u8,
    /// The guest PA of the table read at level 1, 2, 3 (up to `level`).
    pub tables: [u64; 3],
    /// The guest PA of the 4 KiB page holding the VA.
    pub gpa: u64,
    /// EL0 may access it.
    pub el0: bool,
    /// EL0 may store to it.
    pub write: bool,
    /// EL0 may execute from it.
    pub exec: bool,
    /// The leaf's AttrIndx.
    pub attr: u8,
}

/// A translation the guest allows, composed with the grant behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mapping {
    /// Host PA of the 4 KiB page.
    pub pa: u64,
    /// The guest and the grant allow stores.
    pub write: bool,
    /// The guest and the grant allow instruction fetches.
    pub exec: bool,
    /// The guest's type, capped by the grant's.
    pub mem: MemType,
}

/// Walks the guest's tables (root at guest PA `base`) for `va`.
pub(crate) fn walk(
    p: &impl crate::Platform,
    layout: &Layout,
    base: u64,
    tcr: u64,
    va: u64,
) -> Result<Walked, (FaultKind, u8)> {
    if va >= VA_END || va < layout.va_base || tcr & TCR_EPD0 != 0 {
        return Err((FaultKind::Translation, 1));
    }
    if base >> PA_BITS != 0 {
        // The TTBR's own address is reported at level 0.
        return Err((FaultKind::AddressSize, 0));
    }
    let mut tables = [0u64; 3];
    let mut table = base;
    let mut no_el0 = false;
    let mut ro = false;
    let mut no_exec = false;
    for level in 1..=3u8 {
        tables[level as usize - 1] = table;
        let Some(tpa) = grants::table_pa(layout, table) else {
            return Err((FaultKind::WalkExternal, level));
        };
        let d = p.read64(tpa + 8 * desc::index(va, level) as u64);
        if d & desc::VALID == 0 {
            return Err((FaultKind::Translation, level));
        }
        let is_table = d & desc::TABLE != 0;
        if level < 3 && is_table {
            let next = d & OA_MASK;
            if next >> PA_BITS != 0 {
                return Err((FaultKind::AddressSize, level));
            }
            no_el0 |= d & AP_TABLE_NO_EL0 != 0;
            ro |= d & AP_TABLE_RO != 0;
            no_exec |= d & desc::UXN_TABLE != 0;
            table = next;
            continue;
        }
        if level == 3 && !is_table {
            // Bits[1:0] = 0b01 at level 3 is reserved: invalid.
            return Err((FaultKind::Translation, 3));
        }
        let span = 12 + 9 * (3 - level as u32);
        let oa = d & OA_MASK & !((1u64 << span) - 1);
        if oa >> PA_BITS != 0 {
            return Err((FaultKind::AddressSize, level));
        }
        if d & AF == 0 {
            return Err((FaultKind::AccessFlag, level));
        }
        let el0 = d & AP_EL0 != 0 && !no_el0;
        return Ok(Walked {
            level,
            tables,
            gpa: oa | (va & ((1u64 << span) - 1) & !0xFFF),
            el0,
            write: el0 && d & AP_RO == 0 && !ro,
            exec: el0 && d & desc::UXN == 0 && !no_exec,
            attr: ((d >> desc::ATTR_SHIFT) & 7) as u8,
        });
    }
    unreachable!("level 3 always ends the walk")
}

/// Checks `access` against what the guest allows, then against the grant behind the output.
pub(crate) fn check(
    layout: &Layout,
    mair: u64,
    w: &Walked,
    access: Access,
) -> Result<Mapping, (FaultKind, u8)> {
    let allowed = match access {
        Access::Read => w.el0,
        Access::Write => w.write,
        Access::Exec => w.exec,
    };
    if !allowed {
        return Err((FaultKind::Permission, w.level));
    }
    let g = grants::by_gpa(layout, w.gpa).ok_or((FaultKind::External, w.level))?;
    if (access == Access::Write && !g.writable) || (access == Access::Exec && !g.exec) {
        return Err((FaultKind::External, w.level));
    }
    let mem = desc::guest_mem((mair >> (8 * w.attr as u32)) as u8).min(crate::grants::mem(g));
    Ok(Mapping {
        pa: g.pa + (w.gpa - g.gpa),
        write: w.write && g.writable,
        exec: w.exec && g.exec,
        mem,
    })
}
