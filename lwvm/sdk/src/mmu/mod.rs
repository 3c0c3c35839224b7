//! Shadow paging (`paging = "shadow"` in the lwVM's `[[lwvm]]` entry): the program is its
//! own kernel. It builds VMSAv8-64 stage-1 tables (4 KiB granule, 39-bit VAs, walk from
//! level 1) in its own memory and installs them the way an EL1 kernel would, with `MSR`
//! to `TTBR0_EL1`/`TCR_EL1`/`MAIR_EL1`/`SCTLR_EL1` and `TLBI` — instructions that are
//! UNDEFINED at EL0, so each one traps and the hypervisor emulates it on the lwVM's
//! virtual registers and on the shadow tables the hardware really walks.
//!
//! Rules the emulated MMU keeps (why the helpers here look the way they do):
//! - "Physical" addresses are the lwVM's flat view: its memory at PA = VA
//!   [`WINDOW_BASE`] .. + memory size (where it runs with translation off), shared
//!   regions at their `ipa`. An output address anywhere else is an external abort, never
//!   a mapping.
//! - VAs below [`WINDOW_BASE`] are the hypervisor's: a mapping there always faults
//!   (translation, level 1). An address space lives in `WINDOW_BASE .. 1 << 39`.
//! - The code keeps running when `SCTLR.M` turns on only if every address space maps the
//!   program's own memory at VA = PA; the table builder ([`Tables`]) relies on the same
//!   identity to reach table pages by their PA.
//! - The lwVM runs at EL0: a page needs AP\[1\] ([`desc::AP_EL0`]) and AF.
//! - Table entries are edited with plain 64-bit stores (the hypervisor emulates stores
//!   to live table pages and cannot emulate exclusives or SIMD stores): the builder uses
//!   `write_volatile` of `u64` only.
//! - Page faults the lwVM's own tables cause go to the handler it registers
//!   ([`crate::sys::fault_handler`]); [`probe`] provides one that turns faults of its
//!   probe instructions into `Err(syndrome)`.
//!
//! A kernel's sequence: build the tables, [`enable`] (MAIR, TCR, TTBR0, then `SCTLR.M`);
//! switch address spaces with [`switch_to`] (ASID-tagged, no TLBI); edit a live entry
//! with break-before-make ([`Tables::remap`]).
use core::arch::asm;

pub mod probe;
mod tables;

pub use tables::{MapError, Page, PagePool, PageSource, Tables};

/// First VA (and PA) of the lwVM window: its own memory starts here.
pub const WINDOW_BASE: u64 = 0x40_0000_0000;
/// End of the 39-bit VA range (TCR.T0SZ = 25).
pub const VA_END: u64 = 1 << 39;
/// Bytes of a page.
pub const PAGE_SIZE: u64 = 4096;
/// Bytes of a level-2 block.
pub const BLOCK_2M: u64 = 2 << 20;

/// Descriptor bits (VMSAv8-64, 4 KiB granule) as an EL0-only program needs them.
pub mod desc {
    /// Valid.
    pub const VALID: u64 = 1;
    /// Table descriptor (levels 1 and 2).
    pub const TABLE: u64 = 0b11;
    /// Block descriptor (1 GiB at level 1, 2 MiB at level 2).
    pub const BLOCK: u64 = 0b01;
    /// Page descriptor (level 3; `0b01` there is invalid).
    pub const PAGE: u64 = 0b11;
    /// AttrIndx: index into MAIR_EL1.
    pub const fn attr(index: u64) -> u64 {
        (index & 7) << 2
    }
    /// AP\[1\]: EL0 may access. Without it the lwVM (at EL0) cannot touch the page.
    pub const AP_EL0: u64 = 1 << 6;
    /// AP\[2\]: read-only.
    pub const AP_RO: u64 = 1 << 7;
    /// Inner shareable.
    pub const SH_INNER: u64 = 0b11 << 8;
    /// Access flag: without it an access takes an access-flag fault (no hardware AF).
    pub const AF: u64 = 1 << 10;
    /// Not global: tagged with the ASID of TTBR0.
    pub const NG: u64 = 1 << 11;
    /// Privileged execute-never (meaningless for an EL0 program; a kernel sets it).
    pub const PXN: u64 = 1 << 53;
    /// Unprivileged (EL0) execute-never.
    pub const UXN: u64 = 1 << 54;
    /// Table: PXN for everything below.
    pub const PXN_TABLE: u64 = 1 << 59;
    /// Table: UXN for everything below.
    pub const UXN_TABLE: u64 = 1 << 60;
    /// Table: APTable\[0\], no EL0 access below.
    pub const AP_TABLE_NO_EL0: u64 = 1 << 61;
    /// Table: APTable\[1\], read-only below.
    pub const AP_TABLE_RO: u64 = 1 << 62;
    /// Output-address bits of a descriptor.
    pub const OA_MASK: u64 = 0x0000_ffff_ffff_f000;

    /// Normal write-back memory (MAIR index [`super::ATTR_NORMAL`]), EL0 read/write/execute.
    pub const RWX: u64 = attr(super::ATTR_NORMAL) | AP_EL0 | SH_INNER | AF | PXN;
    /// EL0 read/write, no execute.
    pub const RW: u64 = RWX | UXN;
    /// EL0 read-only, no execute.
    pub const RO: u64 = RW | AP_RO;
    /// EL0 read and execute.
    pub const RX: u64 = RWX | AP_RO;
}

/// MAIR index of normal write-back memory.
pub const ATTR_NORMAL: u64 = 0;
/// MAIR index of normal non-cacheable memory.
pub const ATTR_NC: u64 = 1;
/// MAIR index of device memory.
pub const ATTR_DEVICE: u64 = 2;
/// MAIR_EL1 for the three indices: 0xFF normal WB, 0x44 normal NC, 0x04 device nGnRE.
pub const MAIR: u64 = 0xff | (0x44 << 8) | (0x04 << 16);
/// TCR_EL1.EPD0: no walks of TTBR0 (every access faults).
pub const TCR_EPD0: u64 = 1 << 7;
/// TCR_EL1.EPD1: no walks of TTBR1 (not emulated: the lwVM has one half).
pub const TCR_EPD1: u64 = 1 << 23;
/// TCR_EL1: T0SZ = 25 (39-bit VAs, walk from level 1), TG0 = 4 KiB, inner/outer
/// write-back, inner shareable, EPD1, A1 = 0 (ASID from TTBR0). The emulation requires
/// T0SZ = 25 and TG0 = 0 and ignores the cacheability fields.
pub const TCR: u64 = 25 | (0b01 << 8) | (0b01 << 10) | (0b11 << 12) | TCR_EPD1;
/// SCTLR_EL1.M: stage-1 translation on (the only bit the emulation honours).
pub const SCTLR_M: u64 = 1;

/// A TTBR0_EL1 value: table base `root` tagged with `asid`.
pub const fn ttbr(root: u64, asid: u16) -> u64 {
    (root & desc::OA_MASK) | ((asid as u64) << 48)
}

/// Index of `va`'s entry in its level-`level` table (1..=3).
pub const fn index(va: u64, level: u8) -> usize {
    ((va >> (39 - 9 * level as u64)) & 511) as usize
}

/// Bytes one entry covers at `level` (1 GiB, 2 MiB, 4 KiB).
pub const fn level_size(level: u8) -> u64 {
    1 << (39 - 9 * level as u64)
}

macro_rules! sysreg {
    ($(#[$m:meta])* $set:ident, $get:ident, $reg:literal) => {
        $(#[$m])*
        /// Written with `MSR` (trapped and emulated); follow with [`isb`] before relying on it.
        pub fn $set(v: u64) {
            // SAFETY: a trapped register write; it may change what every address maps
            // to, so it is not `nomem`: the compiler keeps memory accesses on their side.
            unsafe { asm!(concat!("msr ", $reg, ", {}"), in(reg) v, options(nostack, preserves_flags)) };
        }
        $(#[$m])*
        /// Read with `MRS` (trapped and emulated).
        pub fn $get() -> u64 {
            let v: u64;
            // SAFETY: a trapped register read, no side effects.
            unsafe { asm!(concat!("mrs {}, ", $reg), out(reg) v, options(nostack, preserves_flags)) };
            v
        }
    };
}

sysreg!(
    /// TTBR0_EL1: root table and ASID of the current address space.
    set_ttbr0, get_ttbr0, "ttbr0_el1"
);
sysreg!(
    /// TCR_EL1: the translation regime's shape ([`TCR`]).
    set_tcr, get_tcr, "tcr_el1"
);
sysreg!(
    /// MAIR_EL1: memory attributes by AttrIndx ([`MAIR`]).
    set_mair, get_mair, "mair_el1"
);
sysreg!(
    /// SCTLR_EL1: bit 0 ([`SCTLR_M`]) turns translation on.
    set_sctlr, get_sctlr, "sctlr_el1"
);

/// `DSB ISH`: table stores and TLB maintenance complete.
pub fn dsb() {
    // SAFETY: a barrier.
    unsafe { asm!("dsb ish", options(nostack, preserves_flags)) };
}

/// `DSB ISHST`: table stores visible to the walker before a TLBI.
pub fn dsb_st() {
    // SAFETY: a barrier.
    unsafe { asm!("dsb ishst", options(nostack, preserves_flags)) };
}

/// `ISB`: later instructions see the new context (registers, TLB state).
pub fn isb() {
    // SAFETY: a barrier.
    unsafe { asm!("isb", options(nostack, preserves_flags)) };
}

/// Xt of a TLBI by VA: ASID in \[63:48\], VA\[55:12\] in \[43:0\].
pub const fn tlbi_arg(va: u64, asid: u16) -> u64 {
    ((asid as u64) << 48) | ((va >> 12) & ((1 << 44) - 1))
}

macro_rules! tlbi_xt {
    ($(#[$m:meta])* $name:ident, $op:literal) => {
        $(#[$m])*
        pub fn $name(va: u64, asid: u16) {
            // SAFETY: TLB maintenance (trapped and emulated); not `nomem`: it must stay
            // after the table stores it publishes.
            unsafe { asm!(concat!("tlbi ", $op, ", {}"), in(reg) tlbi_arg(va, asid), options(nostack, preserves_flags)) };
        }
    };
}

tlbi_xt!(
    /// `TLBI VAE1`: the entries of page `va` for `asid` (and global ones).
    tlbi_vae1, "vae1"
);
tlbi_xt!(
    /// `TLBI VAE1IS` (inner shareable: the same for a one-CPU lwVM).
    tlbi_vae1is, "vae1is"
);
tlbi_xt!(
    /// `TLBI VALE1`: as [`tlbi_vae1`], last-level entries only.
    tlbi_vale1, "vale1"
);
tlbi_xt!(
    /// `TLBI VALE1IS`.
    tlbi_vale1is, "vale1is"
);

/// `TLBI VAAE1`: the entries of page `va` for every ASID.
pub fn tlbi_vaae1(va: u64) {
    // SAFETY: as in `tlbi_vae1`.
    unsafe { asm!("tlbi vaae1, {}", in(reg) tlbi_arg(va, 0), options(nostack, preserves_flags)) };
}

/// `TLBI VAALE1`: last-level entries of page `va` for every ASID.
pub fn tlbi_vaale1(va: u64) {
    // SAFETY: as in `tlbi_vae1`.
    unsafe { asm!("tlbi vaale1, {}", in(reg) tlbi_arg(va, 0), options(nostack, preserves_flags)) };
}

/// `TLBI ASIDE1`: every non-global entry of `asid`.
pub fn tlbi_aside1(asid: u16) {
    // SAFETY: as in `tlbi_vae1`.
    unsafe {
        asm!("tlbi aside1, {}", in(reg) tlbi_arg(0, asid), options(nostack, preserves_flags))
    };
}

/// `TLBI ASIDE1IS`.
pub fn tlbi_aside1is(asid: u16) {
    // SAFETY: as in `tlbi_vae1`.
    unsafe {
        asm!("tlbi aside1is, {}", in(reg) tlbi_arg(0, asid), options(nostack, preserves_flags))
    };
}

/// `TLBI VMALLE1`: everything.
pub fn tlbi_vmalle1() {
    // SAFETY: as in `tlbi_vae1`.
    unsafe { asm!("tlbi vmalle1", options(nostack, preserves_flags)) };
}

/// `TLBI VMALLE1IS`.
pub fn tlbi_vmalle1is() {
    // SAFETY: as in `tlbi_vae1`.
    unsafe { asm!("tlbi vmalle1is", options(nostack, preserves_flags)) };
}

/// Turns translation on with `ttbr0` (see [`ttbr`]): MAIR = [`MAIR`], TCR = [`TCR`],
/// TTBR0, then SCTLR.M. The tables must map the program's own memory at VA = PA.
pub fn enable(ttbr0: u64) {
    set_mair(MAIR);
    set_tcr(TCR);
    set_ttbr0(ttbr0);
    isb();
    set_sctlr(get_sctlr() | SCTLR_M);
    isb();
}

/// Turns translation off: the flat view again.
pub fn disable() {
    set_sctlr(get_sctlr() & !SCTLR_M);
    isb();
}

/// Switches to another address space: with distinct ASIDs no TLB maintenance is needed.
pub fn switch_to(ttbr0: u64) {
    set_ttbr0(ttbr0);
    isb();
}
