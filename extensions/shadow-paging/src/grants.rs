//! The guest's "physical" memory: its grants, and the numbering of its own pages.
//!
//! Guest tables may only live in `tables` grants (the lwVM's own memory), so those are the
//! only pages that can be watched; numbering them densely (grant after grant, in layout
//! order) gives each a slot in a fixed array of per-page metadata. A layout has a handful
//! of grants, so a lookup is a short linear search, never a search over memory.

use crate::{Grant, Layout, MemType};

/// The memory type of grant `g` itself.
pub(crate) fn mem(g: &Grant) -> MemType {
    if g.cached {
        MemType::Normal
    } else {
        MemType::NonCacheable
    }
}

/// The grant holding guest physical address `gpa`.
pub(crate) fn by_gpa(layout: &Layout, gpa: u64) -> Option<&'static Grant> {
    layout
        .grants
        .iter()
        .find(|g| gpa >= g.gpa && gpa - g.gpa < g.size)
}

/// The host PA of the guest table page at `gpa`, if tables may live there.
pub(crate) fn table_pa(layout: &Layout, gpa: u64) -> Option<u64> {
    by_gpa(layout, gpa)
        .filter(|g| g.tables)
        .map(|g| g.pa + (gpa - g.gpa))
}

/// The index of the own page holding guest physical address `gpa`.
pub(crate) fn own_by_gpa(layout: &Layout, gpa: u64) -> Option<u16> {
    let mut first = 0u64;
    for g in layout.grants.iter().filter(|g| g.tables) {
        if gpa >= g.gpa && gpa - g.gpa < g.size {
            return Some((first + ((gpa - g.gpa) >> 12)) as u16);
        }
        first += g.size >> 12;
    }
    None
}

/// The index of the own page holding host physical address `pa`.
pub(crate) fn own_by_pa(layout: &Layout, pa: u64) -> Option<u16> {
    let mut first = 0u64;
    for g in layout.grants.iter().filter(|g| g.tables) {
        if pa >= g.pa && pa - g.pa < g.size {
            return Some((first + ((pa - g.pa) >> 12)) as u16);
        }
        first += g.size >> 12;
    }
    None
}

/// The host PA of own page `n`.
pub(crate) fn own_pa(layout: &Layout, n: u16) -> Option<u64> {
    let mut first = 0u64;
    for g in layout.grants.iter().filter(|g| g.tables) {
        let pages = g.size >> 12;
        if (n as u64) < first + pages {
            return Some(g.pa + ((n as u64 - first) << 12));
        }
        first += pages;
    }
    None
}

/// How many own pages the layout has.
pub(crate) fn own_pages(layout: &Layout) -> u64 {
    layout
        .grants
        .iter()
        .filter(|g| g.tables)
        .map(|g| g.size >> 12)
        .sum()
}
