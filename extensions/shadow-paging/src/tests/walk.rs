//! The guest walk, through `translate` and `fault`: every fault kind at every level,
//! hierarchical permissions, blocks, the access flag, memory types.

use super::*;
use crate::desc::{AP_TABLE_NO_EL0, AP_TABLE_RO, UXN_TABLE};
use crate::{Access, FaultKind, GuestFault, Resolved};

/// L1 entry 257, L2 entry 0, L3 entry 0.
const VA: u64 = 0x40_4000_0000;
const ROOT: u64 = own(3);
const L2: u64 = own(4);
const L3: u64 = own(5);

/// The standard guest plus root[257] -> L2, L2[0] -> L3, L3[0] = `leaf`.
fn guest(leaf: u64) -> (Box<S>, Mem) {
    let (s, mut m) = boot(16, 2);
    m.set(ROOT + 8 * 257, table(L2));
    m.set(L2, table(L3));
    m.set(L3, leaf);
    (s, m)
}

fn fault(kind: FaultKind, level: u8, va: u64, access: Access) -> GuestFault {
    GuestFault {
        va,
        access,
        kind,
        level,
    }
}

fn tr(s: &S, m: &Mem, va: u64, access: Access) -> Result<u64, (FaultKind, u8)> {
    s.translate(m, va, access).map_err(|f| {
        assert_eq!((f.va, f.access), (va, access));
        (f.kind, f.level)
    })
}

use Access::{Exec, Read, Write};
use FaultKind::*;

#[test]
fn a_page_translates_to_the_grant_behind_it() {
    let (s, m) = guest(page(own(9)));
    assert_eq!(tr(&s, &m, VA + 0x123, Read), Ok(OWN_PA + 9 * 4096 + 0x123));
    assert_eq!(tr(&s, &m, VA, Write), Ok(OWN_PA + 9 * 4096));
    assert_eq!(tr(&s, &m, VA, Exec), Ok(OWN_PA + 9 * 4096));
    // The identity region of the standard guest.
    assert_eq!(tr(&s, &m, own(7) + 8, Read), Ok(OWN_PA + 7 * 4096 + 8));
}

#[test]
fn vas_outside_the_window_or_the_39_bits_fault_at_level_1() {
    let (mut s, mut m) = guest(page(own(9)));
    assert_eq!(tr(&s, &m, 0x1000, Read), Err((Translation, 1)));
    assert_eq!(tr(&s, &m, 0x3F_FFFF_F000, Read), Err((Translation, 1)));
    assert_eq!(tr(&s, &m, 1 << 39, Read), Err((Translation, 1)));
    assert_eq!(
        tr(&s, &m, 0xFFFF_FF80_0000_0000, Read),
        Err((Translation, 1))
    );
    // EPD0: every walk fails.
    s.write_reg(&mut m, VReg::Tcr, TCR | (1 << 7)).unwrap();
    assert_eq!(tr(&s, &m, VA, Read), Err((Translation, 1)));
    assert_eq!(
        s.fault(&mut m, VA, Read),
        Err(fault(Translation, 1, VA, Read))
    );
}

#[test]
fn invalid_descriptors_fault_at_their_level() {
    let (mut s, mut m) = guest(page(own(9)));
    assert_eq!(tr(&s, &m, VA + (1 << 30), Read), Err((Translation, 1)));
    assert_eq!(tr(&s, &m, VA + (1 << 21), Read), Err((Translation, 2)));
    assert_eq!(tr(&s, &m, VA + (1 << 12), Read), Err((Translation, 3)));
    // Bits[1:0] = 0b01 is reserved at level 3.
    m.set(L3, block(own(9)));
    assert_eq!(tr(&s, &m, VA, Read), Err((Translation, 3)));
    assert_eq!(
        s.fault(&mut m, VA, Write),
        Err(fault(Translation, 3, VA, Write))
    );
    assert_eq!(s.stats().guest_faults, 1);
}

#[test]
fn addresses_beyond_40_bits_are_address_size_faults() {
    let (mut s, mut m) = guest(page(own(9)));
    m.set(L3, page(own(9)) | (1 << 40));
    assert_eq!(tr(&s, &m, VA, Read), Err((AddressSize, 3)));
    m.set(L3, page(own(9)) | (1 << 48));
    assert_eq!(tr(&s, &m, VA, Read), Err((AddressSize, 3)));
    m.set(L2, table(L3) | (1 << 45));
    assert_eq!(tr(&s, &m, VA, Read), Err((AddressSize, 2)));
    m.set(ROOT + 8 * 257, block(0x100_0000_0000));
    assert_eq!(tr(&s, &m, VA, Read), Err((AddressSize, 1)));
    // The TTBR's own base: level 0.
    s.write_reg(&mut m, VReg::Ttbr0, ttbr(1 << 44, 1)).unwrap();
    assert_eq!(tr(&s, &m, VA, Read), Err((AddressSize, 0)));
}

#[test]
fn tables_outside_own_memory_are_external_aborts_on_the_walk() {
    let (mut s, mut m) = guest(page(own(9)));
    m.set(L2, table(SHARED_GPA));
    assert_eq!(tr(&s, &m, VA, Read), Err((WalkExternal, 3)));
    m.set(ROOT + 8 * 257, table(HOLE_GPA));
    assert_eq!(tr(&s, &m, VA, Read), Err((WalkExternal, 2)));
    s.write_reg(&mut m, VReg::Ttbr0, ttbr(ROM_GPA, 1)).unwrap();
    assert_eq!(tr(&s, &m, VA, Read), Err((WalkExternal, 1)));
}

#[test]
fn the_access_flag_comes_before_permissions() {
    let (s, mut m) = guest((page(own(9)) & !AF) | RO);
    assert_eq!(tr(&s, &m, VA, Write), Err((AccessFlag, 3)));
    m.set(L2, block(OWN_GPA) & !AF);
    assert_eq!(tr(&s, &m, VA, Read), Err((AccessFlag, 2)));
    m.set(ROOT + 8 * 257, block(OWN_GPA) & !AF);
    assert_eq!(tr(&s, &m, VA, Read), Err((AccessFlag, 1)));
}

#[test]
fn leaf_permissions_for_el0() {
    let (s, mut m) = guest(page(own(9)) & !AP_EL0);
    for a in [Read, Write, Exec] {
        assert_eq!(tr(&s, &m, VA, a), Err((Permission, 3)));
    }
    m.set(L3, page(own(9)) | RO);
    assert!(tr(&s, &m, VA, Read).is_ok());
    assert!(tr(&s, &m, VA, Exec).is_ok());
    assert_eq!(tr(&s, &m, VA, Write), Err((Permission, 3)));
    m.set(L3, page(own(9)) | XN);
    assert!(tr(&s, &m, VA, Write).is_ok());
    assert_eq!(tr(&s, &m, VA, Exec), Err((Permission, 3)));
    // No WXN: writable and executable at once.
    m.set(L3, page(own(9)));
    assert!(tr(&s, &m, VA, Write).is_ok() && tr(&s, &m, VA, Exec).is_ok());
}

#[test]
fn table_permissions_are_hierarchical() {
    let (s, mut m) = guest(page(own(9)));
    m.set(ROOT + 8 * 257, table(L2) | AP_TABLE_NO_EL0);
    assert_eq!(tr(&s, &m, VA, Read), Err((Permission, 3)));
    m.set(ROOT + 8 * 257, table(L2) | AP_TABLE_RO);
    assert!(tr(&s, &m, VA, Read).is_ok());
    assert_eq!(tr(&s, &m, VA, Write), Err((Permission, 3)));
    m.set(ROOT + 8 * 257, table(L2));
    m.set(L2, table(L3) | UXN_TABLE);
    assert!(tr(&s, &m, VA, Write).is_ok());
    assert_eq!(tr(&s, &m, VA, Exec), Err((Permission, 3)));
    // PXNTable is about EL1: nothing for the lwVM.
    m.set(L2, table(L3) | crate::desc::PXN_TABLE);
    assert!(tr(&s, &m, VA, Exec).is_ok());
    // Block permissions are reported at the block's level.
    m.set(L2, block(OWN_GPA) | RO);
    assert_eq!(tr(&s, &m, VA, Write), Err((Permission, 2)));
}

#[test]
fn outputs_outside_the_grants_or_their_rights_are_external_aborts() {
    let (mut s, mut m) = guest(page(HOLE_GPA));
    assert_eq!(tr(&s, &m, VA, Read), Err((External, 3)));
    m.set(L3, page(ROM_GPA));
    assert_eq!(tr(&s, &m, VA, Read), Ok(ROM_PA));
    assert_eq!(tr(&s, &m, VA, Write), Err((External, 3)));
    m.set(L3, page(SHARED_GPA));
    assert_eq!(tr(&s, &m, VA, Write), Ok(SHARED_PA));
    assert_eq!(tr(&s, &m, VA, Exec), Err((External, 3)));
    assert_eq!(
        s.fault(&mut m, VA, Exec).unwrap_err().fsc(),
        0b010000,
        "synchronous external abort"
    );
}

#[test]
fn blocks_are_split_into_4k_shadow_pages() {
    let (mut s, mut m) = guest(0);
    m.set(L2, block(ROM_GPA) | RO);
    let va = VA + 0x2000;
    assert_eq!(tr(&s, &m, va + 4, Read), Ok(ROM_PA + 0x2004));
    assert_eq!(s.fault(&mut m, va, Read), Ok(Resolved::Filled));
    let t = ttbr(ROOT, 1);
    let leaf = s.shadow_leaf(&m, t, va).unwrap();
    assert_eq!(
        (leaf.pa, leaf.el0_write, leaf.el0_exec),
        (ROM_PA + 0x2000, false, true)
    );
    assert_eq!(
        s.shadow_leaf(&m, t, va + 0x1000),
        None,
        "only the faulting page"
    );
    // Past the grant's end inside the block: external.
    assert_eq!(tr(&s, &m, VA + SMALL, Read), Err((External, 2)));
    // A 1 GiB block onto own memory.
    m.set(ROOT + 8 * 257, block(OWN_GPA));
    assert_eq!(tr(&s, &m, VA + 0x3008, Write), Ok(OWN_PA + 0x3008));
    assert_eq!(tr(&s, &m, VA + OWN_SIZE, Write), Err((External, 1)));
}

#[test]
fn memory_types_follow_mair_capped_by_the_grant() {
    let (mut s, mut m) = guest(0);
    let t = ttbr(ROOT, 1);
    let cases = [
        (page(own(9)), MemType::Normal),
        (page(own(9)) | attr(1), MemType::Device),
        (page(own(9)) | attr(2), MemType::NonCacheable),
        (page(own(9)) | attr(3), MemType::Normal),
        (page(SHARED_GPA), MemType::NonCacheable),
        (page(SHARED_GPA) | attr(1), MemType::Device),
        (page(own(9)) | attr(7), MemType::Device), // MAIR byte 7 is 0x00
    ];
    for (i, (d, mem)) in cases.into_iter().enumerate() {
        let va = VA + 4096 * i as u64;
        m.set(L3 + 8 * i as u64, d);
        assert_eq!(s.fault(&mut m, va, Read), Ok(Resolved::Filled));
        assert_eq!(s.shadow_leaf(&m, t, va).unwrap().mem, mem, "case {i}");
    }
}

#[test]
fn fault_status_codes_and_syndromes() {
    let f = |kind, level, access| fault(kind, level, 0, access);
    assert_eq!(f(AddressSize, 0, Read).fsc(), 0b000000);
    assert_eq!(f(Translation, 1, Read).fsc(), 0b000101);
    assert_eq!(f(AccessFlag, 2, Read).fsc(), 0b001010);
    assert_eq!(f(Permission, 3, Read).fsc(), 0b001111);
    assert_eq!(f(WalkExternal, 2, Read).fsc(), 0b010110);
    assert_eq!(f(External, 3, Read).fsc(), 0b010000);
    assert_eq!(f(Permission, 3, Write).syndrome(), 0b001111 | 1 << 6);
    assert_eq!(f(Translation, 3, Exec).syndrome(), 0b000111 | 1 << 32);
    assert_eq!(f(Translation, 3, Read).syndrome(), 0b000111);
}

#[test]
fn paging_off_is_the_flat_view() {
    let (mut s, mut m) = guest(page(own(9)));
    assert_eq!(s.write_reg(&mut m, VReg::Sctlr, 0), Ok(true));
    assert_eq!(s.hw_ttbr(&mut m), None);
    assert_eq!(
        s.translate(&m, own(9) + 8, Write),
        Ok(OWN_PA + 9 * 4096 + 8)
    );
    assert_eq!(s.translate(&m, ROM_GPA, Exec), Ok(ROM_PA));
    let ext = |va, access| Err(fault(External, 0, va, access));
    assert_eq!(s.translate(&m, ROM_GPA, Write), ext(ROM_GPA, Write));
    assert_eq!(s.translate(&m, SHARED_GPA, Exec), ext(SHARED_GPA, Exec));
    assert_eq!(s.translate(&m, HOLE_GPA, Read), ext(HOLE_GPA, Read));
    assert_eq!(
        s.fault(&mut m, HOLE_GPA, Read),
        Err(fault(External, 0, HOLE_GPA, Read))
    );
    assert_eq!(s.fault(&mut m, own(1), Write), Ok(Resolved::Filled));
}
