//! Shadow paging for lightweight VMs: the pure core.
//!
//! An lwVM runs at EL0 of the EL2&0 regime (VHE, `HCR_EL2.{E2H,TGE}` = 1), so the
//! hardware walks the hypervisor's `TTBR0_EL2`, never tables of the guest's own. A
//! *shadow* lwVM still wants to run its own VMSAv8-64 stage-1 tables (an OS with
//! processes, copy-on-write, guard pages): it builds them in its memory and installs them
//! through virtual `TTBR0_EL1`/`TCR_EL1`/`MAIR_EL1`/`SCTLR_EL1`, which trap. This crate
//! turns those guest tables (guest VA → guest "physical" address, i.e. a window VA of the
//! lwVM's flat view) into *shadow* tables (guest VA → host PA) that the hardware can walk,
//! built on demand in a static pool of table pages as the lwVM faults.
//!
//! Correctness rests on one rule: a shadow entry is always derived from the guest's
//! *current* descriptors. Every guest page that some shadow table mirrors is *watched*:
//! the shadow maps it read-only, so each store to it traps, is emulated by
//! [`Space::table_write`], and drops exactly the shadow entries derived from the
//! descriptor it changed. The guest's TLBI instructions are then honoured for their
//! architectural meaning, but correctness does not depend on the guest issuing them.
//!
//! The crate does no memory access and no TLB maintenance of its own: everything goes
//! through [`Platform`], which the hypervisor implements over its physical memory and
//! host tests implement over a fake one. That keeps the logic testable on the host, and
//! the pool's metadata fixed in size (`no_std`, no allocation) so that it can live in a
//! `static` of the hypervisor image.
//!
//! Modules, one concern each:
//! - [`desc`]: the bits of guest and shadow descriptors;
//! - `grants`: guest "physical" memory, i.e. the lwVM's grants, and its own pages;
//! - `walk`: the guest's translation, with the architectural faults;
//! - [`space`]: the shadow tables, their pool, the watch lists and the root cache;
//! - [`insn`]: decoding the instructions the hypervisor must emulate.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod desc;
mod grants;
pub mod insn;
pub mod space;
mod walk;

pub use space::{MAX_ROOTS, ShadowLeaf, Space};

/// Physical memory and the TLB, as the hypervisor sees them.
///
/// Every table access of this crate (guest tables, shadow tables, the hypervisor's root
/// template) and every invalidation goes through here, so the crate itself stays free of
/// `unsafe` and of barriers.
pub trait Platform {
    /// The 64-bit word at host physical address `pa` (8-aligned).
    fn read64(&self, pa: u64) -> u64;
    /// Stores the 64-bit word `v` at host physical address `pa` (8-aligned).
    fn write64(&mut self, pa: u64, v: u64);
    /// A guest store of `bytes` (1, 2, 4, 8) little-endian bytes of `v` at `pa`, within one
    /// 4 KiB page (the crate splits a store across pages) but not necessarily within one
    /// 8-byte word or naturally aligned.
    fn write_sized(&mut self, pa: u64, v: u64, bytes: u8);
    /// Invalidates this CPU's TLB entries of (hardware) ASID `asid` for page `va`, after the
    /// table write is made visible (the hypervisor does `dsb ishst; tlbi vae2; dsb; isb`).
    fn tlbi_va(&mut self, asid: u16, va: u64);
    /// Invalidates every TLB entry of (hardware) ASID `asid`, walk caches included.
    fn tlbi_asid(&mut self, asid: u16);
}

/// The memory type of a mapping, from the least to the most cacheable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MemType {
    /// Device-nGnRE: MMIO, no speculation, no gathering.
    Device,
    /// Normal non-cacheable: memory shared with another agent that does not snoop.
    NonCacheable,
    /// Normal write-back cacheable.
    Normal,
}

/// One range of the guest's "physical" memory: guest physical `gpa .. gpa + size` is host
/// physical `pa .. pa + size`, all multiples of 4 KiB. The toolkit's type, so that the
/// hypervisor hands the grants of its static description over as they are: a shadow
/// mapping is never more cacheable than the grant (`cached: false`, a shared region, is
/// non-cacheable whatever the guest's MAIR says), and guest tables may only live where
/// `tables` is set (the lwVM's own memory, never a region another VM could change
/// behind the watch).
pub use hv_core::sysdesc::ShadowGrant as Grant;

/// The fixed shape of one shadow lwVM, from the offline toolkit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Host PA of the pool of shadow table pages (4 KiB aligned).
    pub pool_pa: u64,
    /// Number of 4 KiB pages in the pool.
    pub pool_pages: u16,
    /// Hardware ASIDs `hw_asid_first .. hw_asid_first + roots`, one per cached root.
    pub hw_asid_first: u16,
    /// How many shadow roots are cached (address spaces kept across switches).
    pub roots: u8,
    /// Host PA of a level-1 table whose entries 0..256 (the hypervisor's privileged global
    /// map) are copied into each new shadow root; entries 256..512 start invalid.
    pub hyp_root: u64,
    /// The bottom of the lwVM window (0x40_0000_0000): guest VAs below it are never mapped.
    pub va_base: u64,
    /// The guest's physical memory.
    pub grants: &'static [Grant],
}

/// The kind of a guest access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A data load.
    Read,
    /// A data store.
    Write,
    /// An instruction fetch.
    Exec,
}

/// Why the guest's own translation refuses an access (what the guest's handler sees).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// No valid descriptor, or a VA outside what the guest may map.
    Translation,
    /// A leaf with AF = 0 (there is no hardware access-flag management to emulate).
    AccessFlag,
    /// The descriptors forbid this access at EL0.
    Permission,
    /// A table or output address beyond the guest's 40-bit physical address space.
    AddressSize,
    /// A table outside the grants' `tables` memory (synchronous external abort on walk).
    WalkExternal,
    /// An output address outside every grant, or a right the grant lacks (synchronous
    /// external abort: never a mapping).
    External,
}

/// A fault to deliver to the guest's own handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestFault {
    /// The faulting virtual address (its FAR).
    pub va: u64,
    /// What was attempted.
    pub access: Access,
    /// Why it failed.
    pub kind: FaultKind,
    /// The translation level it is reported at.
    pub level: u8,
}

impl GuestFault {
    /// The architectural DFSC/IFSC: address size `0b0000LL`, translation `0b0001LL`, access
    /// flag `0b0010LL`, permission `0b0011LL`, external abort on walk `0b0101LL`, external
    /// abort `0b010000`.
    pub fn fsc(&self) -> u8 {
        let l = self.level & 3;
        match self.kind {
            FaultKind::AddressSize => l,
            FaultKind::Translation => 0b0100 | l,
            FaultKind::AccessFlag => 0b1000 | l,
            FaultKind::Permission => 0b1100 | l,
            FaultKind::WalkExternal => 0b1_0100 | l,
            FaultKind::External => 0b1_0000,
        }
    }

    /// What the guest's handler gets: `fsc | WnR << 6` for a store, `| 1 << 32` for an
    /// instruction fetch (so the hypervisor reports an instruction abort rather than a data
    /// abort).
    pub fn syndrome(&self) -> u64 {
        let mut s = self.fsc() as u64;
        match self.access {
            Access::Write => s |= 1 << 6,
            Access::Exec => s |= 1 << 32,
            Access::Read => {}
        }
        s
    }
}

/// The virtual EL1 registers of the guest's translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VReg {
    /// `TTBR0_EL1`: table base and ASID.
    Ttbr0,
    /// `TCR_EL1`: only T0SZ = 25, TG0 = 4K, A1 = 0 are supported; EPD0 and AS are honoured.
    Tcr,
    /// `MAIR_EL1`: the memory types AttrIndx selects.
    Mair,
    /// `SCTLR_EL1`: only M (paging on) is honoured.
    Sctlr,
}

/// Counters, for the telemetry and the tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Faults resolved by making (or upgrading) a shadow leaf.
    pub fills: u64,
    /// Guest stores emulated by [`Space::table_write`].
    pub table_writes: u64,
    /// Guest TLBI instructions handled.
    pub tlbis: u64,
    /// Pool exhaustions (every table freed).
    pub flushes: u64,
    /// Faults reflected to the guest.
    pub guest_faults: u64,
    /// Searches for writable leaves of a page that became watched.
    pub protects: u64,
    /// Shadow roots made.
    pub roots_made: u64,
    /// Shadow roots evicted from the cache to make room.
    pub root_evictions: u64,
}

/// What the hypervisor does after [`Space::fault`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    /// Shadow entry made (or made writable): retry the instruction.
    Filled,
    /// A store to a page that holds one of the guest's live tables: the hypervisor must
    /// emulate the store instruction and report it with [`Space::table_write`].
    TableWrite,
}

/// A guest TLB invalidation, decoded (see [`insn::tlbi_op`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlbiOp {
    /// `TLBI VMALLE1`: everything.
    All,
    /// `TLBI ASIDE1`: one guest ASID.
    Asid(u16),
    /// `TLBI VAE1` and its variants: one page.
    Va {
        /// The guest ASID (ignored if `all_asids`).
        asid: u16,
        /// The page's VA.
        va: u64,
        /// `VAAE1`/`VAALE1`: every ASID.
        all_asids: bool,
        /// `VALE1`/`VAALE1`: leaf entries only.
        last_level: bool,
    },
}

#[cfg(test)]
mod tests;
