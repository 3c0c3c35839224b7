//! The shadow side: leaves, roots, the watch, exact invalidation, the pool, TLBIs and
//! the virtual registers.

use super::*;
use crate::desc;
use crate::{Access, Resolved, TlbiOp};

use Access::{Exec, Read, Write};

const ROOT: u64 = own(3);
const L2: u64 = own(4);
const L3: u64 = own(5);
const L3B: u64 = own(6);
/// L1 entry 257.
const VA: u64 = 0x40_4000_0000;
const T: u64 = ROOT | 1 << 48;
const ASID0: u16 = HW_ASID;

/// The standard guest plus root[257] -> L2, L2[0] -> L3, L2[1] -> L3B, and data pages
/// 16.. mapped at VA (L3) and VA + 2 MiB (L3B).
fn guest(pool: u16, roots: u8) -> (Box<S>, Mem) {
    let (s, mut m) = boot(pool, roots);
    m.set(ROOT + 8 * 257, table(L2));
    m.set(L2, table(L3));
    m.set(L2 + 8, table(L3B));
    for i in 0..8 {
        m.set(L3 + 8 * i, page(own(16 + i)));
        m.set(L3B + 8 * i, page(own(24 + i)));
    }
    (s, m)
}

/// The raw shadow descriptor of `va` in the current root.
fn raw(s: &mut S, m: &mut Mem, va: u64) -> u64 {
    let mut t = s.hw_ttbr(m).unwrap() & 0xFFFF_FFFF_F000;
    for level in 1..=3u8 {
        let d = m.read64(t + 8 * desc::index(va, level) as u64);
        if level == 3 || d & 1 == 0 {
            return d;
        }
        t = d & desc::OA_MASK;
    }
    unreachable!()
}

#[test]
fn a_root_copies_the_hypervisor_map_and_nothing_else() {
    let (mut s, mut m) = guest(8, 2);
    let hw = s.hw_ttbr(&mut m).unwrap();
    assert_eq!(hw >> 48, ASID0 as u64);
    let root = hw & 0xFFFF_FFFF_F000;
    assert!((POOL_PA..POOL_PA + 8 * 4096).contains(&root));
    for i in 0..512u64 {
        let want = if i < 256 { (i << 30) | 0x401 } else { 0 };
        assert_eq!(m.read64(root + 8 * i), want);
    }
    assert_eq!(s.stats().roots_made, 1);
    assert_eq!(s.pool_usage(), (1, 7));
}

#[test]
fn a_fill_makes_one_hardware_leaf_with_the_guest_s_rights() {
    let (mut s, mut m) = guest(8, 2);
    m.set(L3 + 8, page(own(17)) | RO | XN | attr(2));
    assert_eq!(s.fault(&mut m, VA + 4, Write), Ok(Resolved::Filled));
    let d = raw(&mut s, &mut m, VA);
    let want = (OWN_PA + 16 * 4096)
        | 0b11
        | desc::AP_EL0
        | desc::SH_INNER
        | desc::AF
        | desc::NG
        | desc::PXN;
    assert_eq!(d, want);
    assert_eq!(s.fault(&mut m, VA + 4096, Read), Ok(Resolved::Filled));
    let d = raw(&mut s, &mut m, VA + 4096);
    assert_eq!(d, (want + 4096) | desc::AP_RO | desc::UXN | (2 << 2));
    // A device leaf: no shareability.
    m.set(L3 + 16, page(own(18)) | attr(1));
    s.fault(&mut m, VA + 8192, Exec).unwrap();
    let d = raw(&mut s, &mut m, VA + 8192);
    assert_eq!(d & (0b111 << 2 | desc::SH_INNER), 1 << 2);
    // Root + L2 + L3; no TLBI for filling invalid entries.
    assert_eq!(s.pool_usage(), (3, 5));
    assert_eq!(s.stats().fills, 3);
    assert!(m.take_log().is_empty());
    s.check(&m).unwrap();
}

#[test]
fn table_pages_are_read_only_and_their_stores_are_table_writes() {
    let (mut s, mut m) = guest(8, 2);
    // L3 is mapped by the identity region at VA = L3 (own page 5).
    s.fault(&mut m, VA, Read).unwrap(); // L3 becomes watched
    assert!(s.is_watched(L3) && s.is_watched(L2) && s.is_watched(ROOT));
    assert!(!s.is_watched(own(16)));
    assert_eq!(s.fault(&mut m, L3, Write), Ok(Resolved::TableWrite));
    let leaf = s.shadow_leaf(&m, T, L3).unwrap();
    assert!(!leaf.el0_write, "a table page is mapped read-only");
    // A data page is mapped writable at once.
    assert_eq!(s.fault(&mut m, own(16), Write), Ok(Resolved::Filled));
    assert!(s.shadow_leaf(&m, T, own(16)).unwrap().el0_write);
    // The guest's own rights win over TableWrite.
    m.set(own(2) + 8 * 5, page(own(5)) | RO);
    s.tlbi(&mut m, TlbiOp::All);
    assert_eq!(
        s.fault(&mut m, L3, Write).unwrap_err().kind,
        crate::FaultKind::Permission
    );
    s.check(&m).unwrap();
}

#[test]
fn a_table_write_invalidates_exactly_the_entries_derived_from_the_descriptor() {
    let (mut s, mut m) = guest(8, 2);
    for va in [VA, VA + 4096, VA + (2 << 20)] {
        assert_eq!(s.fault(&mut m, va, Read), Ok(Resolved::Filled));
    }
    m.take_log();
    // A leaf descriptor: only that page goes, by VA.
    assert_eq!(s.fault(&mut m, L3 + 8, Write), Ok(Resolved::TableWrite));
    s.table_write(&mut m, L3 + 8, page(own(30)), 8).unwrap();
    assert_eq!(m.get(L3 + 8), page(own(30)));
    assert!(s.shadow_leaf(&m, T, VA).is_some());
    assert!(s.shadow_leaf(&m, T, VA + 4096).is_none());
    assert!(s.shadow_leaf(&m, T, VA + (2 << 20)).is_some());
    assert_eq!(m.take_log(), vec![Tlbi::Va(ASID0, VA + 4096)]);
    // The refill sees the new descriptor.
    s.fault(&mut m, VA + 4096, Read).unwrap();
    assert_eq!(
        s.shadow_leaf(&m, T, VA + 4096).unwrap().pa,
        OWN_PA + 30 * 4096
    );
    // A store that changes nothing invalidates nothing.
    s.table_write(&mut m, L3 + 8, page(own(30)), 8).unwrap();
    assert!(m.take_log().is_empty());
    // A table descriptor: its subtree goes, by ASID; the sibling stays.
    let before = s.pool_usage();
    s.table_write(&mut m, L2 + 8, table(L3), 8).unwrap();
    assert!(s.shadow_leaf(&m, T, VA + (2 << 20)).is_none());
    assert!(s.shadow_leaf(&m, T, VA).is_some());
    assert!(s.shadow_leaf(&m, T, VA + 4096).is_some());
    assert_eq!(m.take_log(), vec![Tlbi::Asid(ASID0)]);
    assert_eq!(s.pool_usage(), (before.0 - 1, before.1 + 1));
    assert!(!s.is_watched(L3B));
    // A sized store into a descriptor's high half (UXN): that leaf goes.
    let high = (page(own(30)) | desc::UXN) >> 32;
    s.table_write(&mut m, L3 + 8 + 4, high, 4).unwrap();
    assert!(s.shadow_leaf(&m, T, VA + 4096).is_none());
    assert!(s.shadow_leaf(&m, T, VA).is_some());
    assert_eq!(m.get(L3 + 8), page(own(30)) | desc::UXN);
    assert_eq!(s.stats().table_writes, 4);
    // A level-1 descriptor: everything under it goes, the identity region stays.
    s.fault(&mut m, own(9), Read).unwrap();
    s.table_write(&mut m, ROOT + 8 * 257, 0, 8).unwrap();
    assert!(s.shadow_leaf(&m, T, VA).is_none());
    assert!(s.shadow_leaf(&m, T, own(9)).is_some());
    assert!(!s.is_watched(L2) && !s.is_watched(L3));
    s.check(&m).unwrap();
}

#[test]
fn a_table_that_is_its_own_next_level_is_invalidated_in_both_roles() {
    let (mut s, mut m) = guest(8, 2);
    // root[258] -> X as level 2; X[0] -> X as level 3; X[0], X[1] as pages.
    let x = own(8);
    let va = 258 << 30;
    m.set(ROOT + 8 * 258, table(x));
    m.set(x, page(x));
    m.set(x + 8, page(own(17)));
    s.fault(&mut m, va, Read).unwrap();
    s.fault(&mut m, va + 4096, Read).unwrap();
    assert_eq!(s.shadow_leaf(&m, T, va).unwrap().pa, OWN_PA + 8 * 4096);
    assert!(!s.shadow_leaf(&m, T, va).unwrap().el0_write, "X is a table");
    m.take_log();
    s.table_write(&mut m, x + 8, page(own(18)), 8).unwrap();
    assert_eq!(m.take_log(), vec![Tlbi::Va(ASID0, va + 4096)]);
    assert!(s.shadow_leaf(&m, T, va).is_some());
    s.check(&m).unwrap();
    // X[0] is both the leaf of `va` and the level-2 entry above it: both go.
    s.table_write(&mut m, x, 0, 8).unwrap();
    assert!(s.shadow_leaf(&m, T, va).is_none());
    assert_eq!(m.take_log(), vec![Tlbi::Va(ASID0, va), Tlbi::Asid(ASID0)]);
    assert!(s.is_watched(x), "still the level-2 table");
    s.check(&m).unwrap();
}

#[test]
fn a_write_to_a_descriptor_reaches_every_root_that_mirrors_it() {
    let (mut s, mut m) = guest(16, 2);
    s.fault(&mut m, VA, Read).unwrap();
    // Second address space: same root table, other ASID.
    s.write_reg(&mut m, VReg::Ttbr0, ttbr(ROOT, 2)).unwrap();
    let hw2 = s.hw_ttbr(&mut m).unwrap();
    assert_eq!(hw2 >> 48, ASID0 as u64 + 1);
    s.fault(&mut m, VA, Read).unwrap();
    m.take_log();
    s.table_write(&mut m, L3, 0, 8).unwrap();
    let mut log = m.take_log();
    log.sort_by_key(|t| format!("{t:?}"));
    assert_eq!(log, vec![Tlbi::Va(ASID0, VA), Tlbi::Va(ASID0 + 1, VA)]);
    assert!(s.shadow_leaf(&m, T, VA).is_none());
    assert!(s.shadow_leaf(&m, ttbr(ROOT, 2), VA).is_none());
    s.check(&m).unwrap();
}

#[test]
fn a_page_that_becomes_a_table_loses_its_writable_leaves() {
    let (mut s, mut m) = guest(16, 2);
    // own(20) is data, mapped writable through the identity region and through VA + 4 pages.
    assert_eq!(s.fault(&mut m, own(20), Write), Ok(Resolved::Filled));
    assert_eq!(s.fault(&mut m, VA + 4 * 4096, Write), Ok(Resolved::Filled));
    m.take_log();
    // The guest makes own(20) a level-3 table under VA + 4 MiB, then touches it.
    m.set(own(20), page(own(21)));
    s.table_write(&mut m, L2 + 16, table(own(20)), 8).unwrap();
    assert!(m.take_log().is_empty(), "L2[2] was not shadowed yet");
    s.fault(&mut m, VA + (4 << 20), Read).unwrap();
    assert!(s.is_watched(own(20)));
    assert_eq!(s.stats().protects, 1);
    assert!(!s.shadow_leaf(&m, T, own(20)).unwrap().el0_write);
    assert!(!s.shadow_leaf(&m, T, VA + 4 * 4096).unwrap().el0_write);
    let mut log = m.take_log();
    log.sort_by_key(|t| format!("{t:?}"));
    assert_eq!(
        log,
        vec![Tlbi::Va(ASID0, own(20)), Tlbi::Va(ASID0, VA + 4 * 4096)]
    );
    // When it stops being a table, a write fault makes the leaf writable again.
    assert_eq!(s.fault(&mut m, own(20), Write), Ok(Resolved::TableWrite));
    s.table_write(&mut m, L2 + 16, 0, 8).unwrap();
    assert!(!s.is_watched(own(20)));
    assert_eq!(s.fault(&mut m, own(20), Write), Ok(Resolved::Filled));
    assert!(s.shadow_leaf(&m, T, own(20)).unwrap().el0_write);
    assert_eq!(m.take_log().last(), Some(&Tlbi::Va(ASID0, own(20))));
    s.check(&m).unwrap();
}

#[test]
fn an_exhausted_pool_is_flushed_and_the_fill_retried() {
    let (mut s, mut m) = guest(4, 2);
    let hw = s.hw_ttbr(&mut m).unwrap();
    // Root + identity L2 + L3, then VA's L2 + L3 do not fit.
    s.fault(&mut m, own(9), Read).unwrap();
    assert_eq!(s.pool_usage(), (3, 1));
    assert_eq!(s.fault(&mut m, VA, Read), Ok(Resolved::Filled));
    assert_eq!(s.stats().flushes, 1);
    assert!(m.take_log().contains(&Tlbi::Asid(ASID0)));
    assert_eq!(s.hw_ttbr(&mut m), Some(hw), "the current root survives");
    assert!(s.shadow_leaf(&m, T, own(9)).is_none());
    assert!(s.shadow_leaf(&m, T, VA).is_some());
    s.check(&m).unwrap();
}

#[test]
fn roots_are_cached_per_address_space_and_evicted_lru() {
    let (mut s, mut m) = guest(16, 2);
    let other = own(7);
    identity(&mut m, other);
    let spaces = [ttbr(ROOT, 1), ttbr(other, 2), ttbr(ROOT, 3)];
    let mut hw = Vec::new();
    for t in &spaces[..2] {
        s.write_reg(&mut m, VReg::Ttbr0, *t).unwrap();
        hw.push(s.hw_ttbr(&mut m).unwrap());
        s.fault(&mut m, own(9), Read).unwrap();
    }
    assert_ne!(hw[0] >> 48, hw[1] >> 48);
    // Back to the first: cached, same root, same hardware ASID, nothing refilled.
    assert_eq!(s.write_reg(&mut m, VReg::Ttbr0, spaces[0]), Ok(true));
    assert_eq!(s.hw_ttbr(&mut m), Some(hw[0]));
    assert_eq!(s.stats().roots_made, 2);
    assert!(s.shadow_leaf(&m, spaces[0], own(9)).is_some());
    // A third evicts the least recently used (the second).
    m.take_log();
    s.write_reg(&mut m, VReg::Ttbr0, spaces[2]).unwrap();
    let hw3 = s.hw_ttbr(&mut m).unwrap();
    assert_eq!(hw3 >> 48, hw[1] >> 48, "the evicted root's hardware ASID");
    assert_eq!(m.take_log(), vec![Tlbi::Asid((hw[1] >> 48) as u16)]);
    assert_eq!(s.stats().root_evictions, 1);
    let mut cached: Vec<u64> = s.cached_roots().collect();
    cached.sort();
    assert_eq!(cached, vec![spaces[0], spaces[2]]);
    assert!(!s.is_watched(other));
    s.check(&m).unwrap();
}

#[test]
fn guest_tlbis_drop_what_they_name() {
    let (mut s, mut m) = guest(16, 2);
    s.fault(&mut m, VA, Read).unwrap();
    s.fault(&mut m, VA + 4096, Read).unwrap();
    let t2 = ttbr(ROOT, 2);
    s.write_reg(&mut m, VReg::Ttbr0, t2).unwrap();
    s.hw_ttbr(&mut m).unwrap();
    s.fault(&mut m, VA, Read).unwrap();
    m.take_log();
    let by_va = TlbiOp::Va {
        asid: 1,
        va: VA,
        all_asids: false,
        last_level: true,
    };
    s.tlbi(&mut m, by_va);
    assert!(s.shadow_leaf(&m, T, VA).is_none());
    assert!(
        s.shadow_leaf(&m, t2, VA).is_none(),
        "over-invalidation is allowed"
    );
    assert!(s.shadow_leaf(&m, T, VA + 4096).is_some());
    s.fault(&mut m, VA, Read).unwrap();
    m.take_log();
    s.tlbi(&mut m, TlbiOp::Asid(1));
    assert!(s.shadow_leaf(&m, T, VA + 4096).is_none());
    assert!(s.shadow_leaf(&m, t2, VA).is_some());
    assert_eq!(m.take_log(), vec![Tlbi::Asid(ASID0)]);
    s.tlbi(&mut m, TlbiOp::All);
    assert!(s.shadow_leaf(&m, t2, VA).is_none());
    assert_eq!(s.pool_usage(), (2, 14), "two empty roots remain");
    assert_eq!(s.stats().tlbis, 3);
    s.check(&m).unwrap();
}

#[test]
fn virtual_registers() {
    let mut s = Box::new(S::new());
    s.reset(layout(8, 2)).unwrap();
    let mut m = Mem::new(8);
    for r in [VReg::Ttbr0, VReg::Tcr, VReg::Mair, VReg::Sctlr] {
        assert_eq!(s.read_reg(r), 0);
    }
    assert_eq!(s.hw_ttbr(&mut m), None);
    // Paging on with an unsupported TCR is refused and leaves paging off.
    assert!(s.write_reg(&mut m, VReg::Sctlr, 1).is_err());
    s.write_reg(&mut m, VReg::Tcr, 25 | 1 << 14).unwrap(); // 64K granule: not yet checked
    assert!(s.write_reg(&mut m, VReg::Sctlr, 1).is_err());
    assert_eq!(s.read_reg(VReg::Sctlr), 0);
    assert_eq!(s.write_reg(&mut m, VReg::Tcr, TCR), Ok(false));
    assert_eq!(s.write_reg(&mut m, VReg::Ttbr0, T), Ok(false), "paging off");
    assert_eq!(s.write_reg(&mut m, VReg::Sctlr, 0x30d0_0801), Ok(true));
    assert_eq!(s.read_reg(VReg::Sctlr), 0x30d0_0801);
    assert!(s.hw_ttbr(&mut m).is_some());
    assert!(s.write_reg(&mut m, VReg::Tcr, 24 | 1 << 36).is_err());
    assert!(s.write_reg(&mut m, VReg::Tcr, TCR | 1 << 22).is_err());
    assert_eq!(s.read_reg(VReg::Tcr), TCR);
    assert_eq!(s.write_reg(&mut m, VReg::Ttbr0, T), Ok(false), "same space");
    assert_eq!(
        s.write_reg(&mut m, VReg::Ttbr0, T | 1),
        Ok(false),
        "CnP is not the space"
    );
    assert_eq!(s.write_reg(&mut m, VReg::Ttbr0, ttbr(ROOT, 9)), Ok(true));
    assert_eq!(s.write_reg(&mut m, VReg::Mair, 0xFF), Ok(false));
    assert_eq!(s.read_reg(VReg::Mair), 0xFF);
    // 8-bit ASIDs: the top byte is not part of the space.
    s.write_reg(&mut m, VReg::Tcr, 25).unwrap();
    assert_eq!(
        s.write_reg(&mut m, VReg::Ttbr0, ttbr(ROOT, 0x109)),
        Ok(false)
    );
}

#[test]
fn mair_changes_and_paging_off_empty_the_roots() {
    let (mut s, mut m) = guest(8, 2);
    s.fault(&mut m, VA, Read).unwrap();
    assert_eq!(s.shadow_leaf(&m, T, VA).unwrap().mem, MemType::Normal);
    s.write_reg(&mut m, VReg::Mair, 0x04).unwrap();
    assert!(s.shadow_leaf(&m, T, VA).is_none());
    s.fault(&mut m, VA, Read).unwrap();
    assert_eq!(s.shadow_leaf(&m, T, VA).unwrap().mem, MemType::Device);
    // Off: the guest edits its tables unwatched; on again, nothing stale survives.
    assert_eq!(s.write_reg(&mut m, VReg::Sctlr, 0), Ok(true));
    m.set(L3, page(own(40)));
    assert_eq!(s.write_reg(&mut m, VReg::Sctlr, 1), Ok(true));
    s.hw_ttbr(&mut m).unwrap();
    assert!(s.shadow_leaf(&m, T, VA).is_none());
    s.fault(&mut m, VA, Read).unwrap();
    assert_eq!(s.shadow_leaf(&m, T, VA).unwrap().pa, OWN_PA + 40 * 4096);
    s.check(&m).unwrap();
}

#[test]
fn reset_refuses_layouts_that_do_not_fit() {
    let mut s = Box::new(S::new());
    assert!(s.reset(layout(3, 1)).is_err());
    assert!(s.reset(layout(PAGES as u16 + 1, 1)).is_err());
    assert!(s.reset(layout(8, 0)).is_err());
    assert!(s.reset(layout(8, crate::MAX_ROOTS as u8 + 1)).is_err());
    let mut small = Box::new(Space::<8, 16>::new());
    assert!(small.reset(layout(8, 1)).is_err(), "64 own pages > 16");
    assert!(s.reset(layout(4, 1)).is_ok());
}

#[test]
fn an_unaligned_store_across_pages_lands_in_both_guest_pages() {
    let (mut s, mut m) = guest(8, 2);
    // The page after VA is another, non-adjacent guest page; the one after that is
    // unmapped.
    m.set(L3 + 8, page(own(30)));
    m.set(L3 + 16, 0);
    s.fault(&mut m, VA, Read).unwrap();
    s.table_write(&mut m, VA + 0xffc, 0x1122_3344_5566_7788, 8)
        .unwrap();
    assert_eq!(m.get(own(16) + 0xff8) >> 32, 0x5566_7788);
    assert_eq!(m.get(own(30)) & 0xffff_ffff, 0x1122_3344);
    assert_eq!(
        m.get(own(17)),
        0,
        "the next host page is not the next VA page"
    );
    // Into an unmapped page: the bytes before it are written, the fault names the first
    // byte that has no mapping.
    let f = s.table_write(&mut m, VA + 0x1ffe, u64::MAX, 4).unwrap_err();
    assert_eq!((f.va, f.kind), (VA + 0x2000, crate::FaultKind::Translation));
    assert_eq!(m.get(own(30) + 0xff8) >> 48, 0xffff);
    s.check(&m).unwrap();
}
