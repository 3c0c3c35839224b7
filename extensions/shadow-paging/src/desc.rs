//! The bits of VMSAv8-64 descriptors (4 KiB granule), on both sides.
//!
//! Guest descriptors are read with the EL1&0 meaning the guest wrote them for; shadow
//! descriptors are written with the EL2&0 meaning under `E2H` = 1, where the lwVM is the
//! EL0 of that regime. The two sides share the layout of a descriptor, not its policy: the
//! shadow always sets AP\[1\] (the lwVM is EL0), nG (each root has its own hardware ASID),
//! PXN (the hypervisor never executes lwVM memory) and AF (no access-flag faults of its
//! own), and encodes the memory type through the hypervisor's MAIR rather than the guest's.

use crate::MemType;

/// Valid.
pub const VALID: u64 = 1 << 0;
/// Table (levels 1, 2) or page (level 3).
pub const TABLE: u64 = 1 << 1;
/// AttrIndx\[2:0\]: which MAIR byte gives the memory type.
pub const ATTR_SHIFT: u32 = 2;
/// AP\[1\]: EL0 may access.
pub const AP_EL0: u64 = 1 << 6;
/// AP\[2\]: read-only.
pub const AP_RO: u64 = 1 << 7;
/// SH\[1:0\] = inner shareable.
pub const SH_INNER: u64 = 0b11 << 8;
/// Access flag.
pub const AF: u64 = 1 << 10;
/// Not global: the entry belongs to the current ASID.
pub const NG: u64 = 1 << 11;
/// Privileged execute-never.
pub const PXN: u64 = 1 << 53;
/// Unprivileged (EL0) execute-never.
pub const UXN: u64 = 1 << 54;
/// PXNTable: no privileged execution below.
pub const PXN_TABLE: u64 = 1 << 59;
/// UXNTable: no EL0 execution below.
pub const UXN_TABLE: u64 = 1 << 60;
/// APTable\[0\]: no EL0 access below.
pub const AP_TABLE_NO_EL0: u64 = 1 << 61;
/// APTable\[1\]: no writes below.
pub const AP_TABLE_RO: u64 = 1 << 62;
/// Output address bits \[51:12\]; bits \[51:40\] set are an address size fault, since the
/// guest's physical address space has 40 bits.
pub const OA_MASK: u64 = 0x000F_FFFF_FFFF_F000;
/// The guest's physical address space: 40 bits.
pub const PA_BITS: u32 = 40;

/// The hardware `MAIR_EL2` the shadow's AttrIndx values refer to: attr0 normal write-back
/// (0xFF), attr1 device-nGnRE (0x04), attr2 normal non-cacheable (0x44).
pub const HW_MAIR: u64 = 0x44_04_FF;

/// The entry index of `va` in the table at `level` (1..=3).
pub const fn index(va: u64, level: u8) -> usize {
    ((va >> (12 + 9 * (3 - level as u32))) & 511) as usize
}

/// The memory type the guest's MAIR byte `attr` asks for: `0b0000_xxxx` is device, 0x44
/// normal non-cacheable, anything else normal cacheable (the hardware has no finer grain to
/// offer the lwVM).
pub const fn guest_mem(attr: u8) -> MemType {
    if attr & 0xF0 == 0 {
        MemType::Device
    } else if attr == 0x44 {
        MemType::NonCacheable
    } else {
        MemType::Normal
    }
}

/// A shadow table descriptor pointing at the table page `pa`.
pub const fn shadow_table(pa: u64) -> u64 {
    pa | VALID | TABLE
}

/// A shadow level-3 page descriptor.
pub const fn shadow_page(pa: u64, write: bool, exec: bool, mem: MemType) -> u64 {
    let (attr, sh) = match mem {
        MemType::Normal => (0, SH_INNER),
        MemType::Device => (1, 0),
        MemType::NonCacheable => (2, SH_INNER),
    };
    let mut d = pa | VALID | TABLE | (attr << ATTR_SHIFT) | AP_EL0 | sh | AF | NG | PXN;
    if !write {
        d |= AP_RO;
    }
    if !exec {
        d |= UXN;
    }
    d
}

/// The memory type of a shadow page descriptor.
pub const fn shadow_mem(d: u64) -> MemType {
    match (d >> ATTR_SHIFT) & 7 {
        1 => MemType::Device,
        2 => MemType::NonCacheable,
        _ => MemType::Normal,
    }
}

/// A shadow page descriptor lets the lwVM store.
pub const fn shadow_writable(d: u64) -> bool {
    d & AP_RO == 0
}
