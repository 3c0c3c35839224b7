//! The shadow tables of one lwVM: their pool, the watch on the guest's tables, the cache of
//! roots, and the virtual registers that select what the hardware walks.
//!
//! # Structure
//! Shadow tables mirror the guest's level for level: shadow level-1 entry `i` is derived
//! from guest level-1 entry `i`, and so on, so a guest descriptor maps to shadow entries by
//! its position alone. A guest block (1 GiB, 2 MiB) becomes a shadow table that mirrors no
//! guest page, filled with 4 KiB leaves, because the hardware must not map more than the
//! guest's grants and the pool holds only what was touched.
//!
//! # The watch
//! Each pool page records the guest table page it mirrors; the pool pages mirroring one
//! guest page are linked in a list through their metadata, headed in that guest page's
//! metadata. A guest page is a live table page exactly when its list is non-empty. Shadow
//! leaves map live table pages read-only, so the guest's stores to its tables trap and are
//! emulated ([`Space::table_write`]); the written word's index, applied to every pool page
//! of the list, names exactly the shadow entries to drop. A per-page count of writable
//! leaves makes the rare case cheap to detect: when a page becomes watched while some leaf
//! maps it writable, those leaves are found by a search of the pool's level-3 pages and made
//! read-only (the only scan; fills and table writes follow the lists).
//!
//! # The pool
//! Fixed at build time: the metadata is an array in this struct, the pages themselves are
//! host memory at `pool_pa`. When a fill finds the pool empty, everything is flushed and the
//! fill retried once (a fill takes at most two pages besides the root). The current root's
//! page survives a flush, emptied: the hardware's `TTBR0_EL2` keeps pointing at it, so a
//! fault never has to change the translation base under the hypervisor's feet.
//!
//! # Roots
//! A guest address space is a (table base, ASID) pair. The last `roots` of them keep their
//! shadow root, each tagged with its own hardware ASID, so that switching between processes
//! costs neither a refill nor a TLB flush; the least recently used one is evicted.

use crate::desc::{self, OA_MASK, PA_BITS, VALID};
use crate::walk::{self, Mapping, TCR_AS, TCR_EPD0, VA_END, Walked};
use crate::{
    Access, FaultKind, GuestFault, Layout, MemType, Platform, Resolved, Stats, TlbiOp, VReg, grants,
};

/// The most roots a layout may cache (the size of the root table in [`Space`]).
pub const MAX_ROOTS: usize = 64;

/// "No page" in the u16 links of the metadata.
const NONE: u16 = u16::MAX;
/// Level-1 entries 0..256 of a root are the hypervisor's.
const HYP_ENTRIES: usize = 256;
const PAGE: u64 = 4096;

/// `SCTLR_EL1.M`.
const SCTLR_M: u64 = 1;
/// `TCR_EL1.TG0`.
const TCR_TG0: u64 = 0b11 << 14;
/// `TCR_EL1.A1`.
const TCR_A1: u64 = 1 << 22;
/// `TCR_EL1.T0SZ`.
const TCR_T0SZ: u64 = 0x3F;
/// `TTBR0_EL1.BADDR` for a 4 KiB-aligned level-1 table.
const TTBR_BADDR: u64 = 0x0000_FFFF_FFFF_F000;

/// The metadata of one pool page.
#[derive(Debug, Clone, Copy)]
struct Meta {
    /// 0: free; 1: a root (level-1 table); 2, 3: a table of that level.
    level: u8,
    /// The root slot it belongs to (its hardware ASID).
    slot: u8,
    /// The table holding the descriptor that points at it (NONE for a root).
    parent: u16,
    /// That descriptor's index.
    index: u16,
    /// The own page it mirrors (NONE: derived from a block, or a table outside own memory).
    mirror: u16,
    /// Next in the watch list of `mirror`, or in the free list.
    next: u16,
    /// Previous in the watch list of `mirror`.
    prev: u16,
}

impl Meta {
    const FREE: Meta = Meta {
        level: 0,
        slot: 0,
        parent: NONE,
        index: 0,
        mirror: NONE,
        next: NONE,
        prev: NONE,
    };
}

/// The metadata of one own page of the guest.
#[derive(Debug, Clone, Copy)]
struct Own {
    /// First pool page of its watch list.
    head: u16,
    /// How many shadow leaves map it writable.
    writable: u32,
}

impl Own {
    const NEW: Own = Own {
        head: NONE,
        writable: 0,
    };
}

/// One cached root.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Its pool page (NONE: slot empty).
    page: u16,
    /// The guest table base it shadows.
    base: u64,
    /// The guest ASID.
    asid: u16,
    /// When it was last installed (for LRU eviction).
    used: u64,
}

impl Slot {
    const EMPTY: Slot = Slot {
        page: NONE,
        base: 0,
        asid: 0,
        used: 0,
    };
}

/// One shadow leaf, decoded (see [`Space::shadow_leaf`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShadowLeaf {
    /// Host PA of the page.
    pub pa: u64,
    /// The lwVM may store.
    pub el0_write: bool,
    /// The lwVM may execute.
    pub el0_exec: bool,
    /// The memory type the hardware uses.
    pub mem: MemType,
}

/// The pool ran dry in the middle of a fill.
struct Exhausted;

/// An empty layout, so that [`Space::new`] can be `const` (no grants, no pool: nothing
/// works until [`Space::reset`]).
const NO_LAYOUT: Layout = Layout {
    pool_pa: 0,
    pool_pages: 0,
    hw_asid_first: 0,
    roots: 0,
    hyp_root: 0,
    va_base: VA_END,
    grants: &[],
};

/// The shadow paging state of one lwVM: metadata only, the tables live in the pool.
///
/// `PAGES` bounds the pool, `GUEST_PAGES` the lwVM's own (`tables`) memory in pages.
#[derive(Debug)]
pub struct Space<const PAGES: usize, const GUEST_PAGES: usize> {
    layout: Layout,
    meta: [Meta; PAGES],
    own: [Own; GUEST_PAGES],
    /// Head of the free list (linked through `Meta::next`).
    free: u16,
    free_count: u16,
    slots: [Slot; MAX_ROOTS],
    /// The slot of the root the hardware walks.
    cur: Option<u8>,
    clock: u64,
    ttbr0: u64,
    tcr: u64,
    mair: u64,
    sctlr: u64,
    stats: Stats,
}

impl<const PAGES: usize, const GUEST_PAGES: usize> Default for Space<PAGES, GUEST_PAGES> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const PAGES: usize, const GUEST_PAGES: usize> Space<PAGES, GUEST_PAGES> {
    /// An idle space, usable in a `static`; [`Space::reset`] gives it its layout.
    pub const fn new() -> Self {
        Space {
            layout: NO_LAYOUT,
            meta: [Meta::FREE; PAGES],
            own: [Own::NEW; GUEST_PAGES],
            free: NONE,
            free_count: 0,
            slots: [Slot::EMPTY; MAX_ROOTS],
            cur: None,
            clock: 0,
            ttbr0: 0,
            tcr: 0,
            mair: 0,
            sctlr: 0,
            stats: Stats {
                fills: 0,
                table_writes: 0,
                tlbis: 0,
                flushes: 0,
                guest_faults: 0,
                protects: 0,
                roots_made: 0,
                root_evictions: 0,
            },
        }
    }

    /// (Re)starts: every pool page free, no root, the virtual registers at their reset
    /// values (SCTLR.M = 0, TTBR0 = TCR = MAIR = 0), counters zero.
    ///
    /// Nothing is invalidated here (there is no [`Platform`] to do it with): the hypervisor
    /// invalidates the layout's hardware ASIDs when it (re)starts the lwVM.
    pub fn reset(&mut self, layout: Layout) -> Result<(), &'static str> {
        if PAGES >= NONE as usize {
            return Err("shadow: PAGES must fit the u16 links");
        }
        if layout.pool_pages as usize > PAGES {
            return Err("shadow: pool larger than the metadata (PAGES)");
        }
        if layout.pool_pages < 4 {
            return Err("shadow: the pool needs at least 4 pages (a root and a fill)");
        }
        if layout.roots == 0 || layout.roots as usize > MAX_ROOTS {
            return Err("shadow: roots must be 1..=MAX_ROOTS");
        }
        if layout.hw_asid_first as u32 + layout.roots as u32 > 1 << 16 {
            return Err("shadow: hardware ASIDs beyond 16 bits");
        }
        if (layout.pool_pa | layout.hyp_root) & (PAGE - 1) != 0 {
            return Err("shadow: pool and hypervisor root must be page aligned");
        }
        if layout.va_base < 1 << 38 || layout.va_base >= VA_END {
            return Err("shadow: va_base must be in the upper half of the 39-bit VA space");
        }
        for g in layout.grants {
            if (g.gpa | g.pa | g.size) & (PAGE - 1) != 0 {
                return Err("shadow: grants must be page aligned");
            }
        }
        if grants::own_pages(&layout) > GUEST_PAGES as u64 {
            return Err("shadow: own memory larger than the metadata (GUEST_PAGES)");
        }
        if grants::own_pages(&layout) >= NONE as u64 {
            // Own pages are numbered in u16, and NONE means "not own memory".
            return Err("shadow: own memory must have fewer than 65535 pages");
        }
        // In place, field by field: a `Space` is tens of KiB, more than a hypervisor stack
        // may hold as a temporary (`*self = Self::new()` would build one there).
        self.meta.fill(Meta::FREE);
        self.own.fill(Own::NEW);
        self.slots.fill(Slot::EMPTY);
        self.cur = None;
        self.clock = 0;
        (self.ttbr0, self.tcr, self.mair, self.sctlr) = (0, 0, 0, 0);
        self.stats = Stats::default();
        self.layout = layout;
        let n = layout.pool_pages;
        for i in 0..n {
            self.meta[i as usize].next = if i + 1 < n { i + 1 } else { NONE };
        }
        self.free = 0;
        self.free_count = n;
        Ok(())
    }

    /// MRS of a virtual register: the value last written.
    pub fn read_reg(&self, r: VReg) -> u64 {
        match r {
            VReg::Ttbr0 => self.ttbr0,
            VReg::Tcr => self.tcr,
            VReg::Mair => self.mair,
            VReg::Sctlr => self.sctlr,
        }
    }

    /// MSR of a virtual register. `Ok(true)`: the address space the hardware must use
    /// changed (the hypervisor calls [`Space::hw_ttbr`]). Turning paging on, or writing
    /// TTBR0/TCR while it is on, with a TCR this crate cannot shadow is an `Err` (the
    /// hypervisor stops the lwVM with that message); the register keeps its old value.
    ///
    /// Changes that alter every translation (MAIR, TCR.EPD0/AS) empty every root; turning
    /// paging off empties them too, because the guest's stores to its tables are not
    /// watched while it runs on its flat view.
    pub fn write_reg(
        &mut self,
        p: &mut impl Platform,
        r: VReg,
        v: u64,
    ) -> Result<bool, &'static str> {
        let on = self.paging();
        let old_key = self.key();
        match r {
            VReg::Ttbr0 => {
                if on {
                    check_tcr(self.tcr)?;
                }
                self.ttbr0 = v;
            }
            VReg::Tcr => {
                if on {
                    check_tcr(v)?;
                }
                let changed = (self.tcr ^ v) & (TCR_EPD0 | TCR_AS) != 0;
                self.tcr = v;
                if on && changed {
                    self.empty_all(p);
                }
            }
            VReg::Mair => {
                let changed = self.mair != v;
                self.mair = v;
                if on && changed {
                    self.empty_all(p);
                }
            }
            VReg::Sctlr => {
                let now = v & SCTLR_M != 0;
                if now && !on {
                    if self.layout.roots == 0 {
                        // `reset` never succeeded: no pool, no roots to shadow with.
                        return Err("shadow paging: no layout (its reset failed)");
                    }
                    check_tcr(self.tcr)?;
                }
                self.sctlr = v;
                if on && !now {
                    self.empty_all(p);
                    self.cur = None;
                }
                return Ok(on != now);
            }
        }
        Ok(on && self.key() != old_key)
    }

    /// Paging on: `Some(TTBR0_EL2)` = the root page's PA | its hardware ASID << 48, for the
    /// current (guest table base, guest ASID), from the cache or made (evicting the least
    /// recently used root: its tables freed, its hardware ASID invalidated). Paging off:
    /// `None`, the hypervisor runs the lwVM on its flat pregenerated tables.
    pub fn hw_ttbr(&mut self, p: &mut impl Platform) -> Option<u64> {
        if !self.paging() {
            self.cur = None;
            return None;
        }
        let s = self.ensure_root(p);
        Some(self.page_pa(self.slots[s as usize].page) | (self.hw_asid(s) as u64) << 48)
    }

    /// A translation or permission fault of the lwVM at `va` (paging on): walks the guest's
    /// tables and fills the shadow with the 4 KiB leaf of `va` (with every right the guest
    /// and the grant give, so that other accesses to the page do not fault again), or
    /// reports the guest's own fault, or [`Resolved::TableWrite`] for a store the guest
    /// allows to a page the shadow keeps read-only because it holds live guest tables.
    ///
    /// The fill goes into the root [`Space::hw_ttbr`] last returned, which the hypervisor
    /// asks for whenever [`Space::write_reg`] says the address space changed. A flush on an
    /// empty pool keeps that root's page, so the `TTBR0_EL2` in use stays valid.
    ///
    /// With paging off, the flat view answers: `Filled` (retry) if the grants allow the
    /// access, else the external abort.
    pub fn fault(
        &mut self,
        p: &mut impl Platform,
        va: u64,
        access: Access,
    ) -> Result<Resolved, GuestFault> {
        if !self.paging() {
            return match self.translate(p, va, access) {
                Ok(_) => Ok(Resolved::Filled),
                Err(f) => {
                    self.stats.guest_faults += 1;
                    Err(f)
                }
            };
        }
        let (w, m) = match self.guest(p, self.key().0, va, access) {
            Ok(x) => x,
            Err(f) => {
                self.stats.guest_faults += 1;
                return Err(f);
            }
        };
        let s = self.current_slot(p);
        let write = match self.fill(p, s, va, &w, &m) {
            Ok(write) => write,
            Err(Exhausted) => {
                self.flush(p, Some(s));
                match self.fill(p, s, va, &w, &m) {
                    Ok(write) => write,
                    Err(Exhausted) => unreachable!("a fill fits in a flushed pool"),
                }
            }
        };
        if access == Access::Write && !write {
            return Ok(Resolved::TableWrite);
        }
        self.stats.fills += 1;
        Ok(Resolved::Filled)
    }

    /// The host PA the guest's access at `va` reaches, with the guest's rights and the
    /// grant checked, without filling anything (to fetch an instruction for emulation, or to
    /// emulate a store). Paging off: the flat view through the grants.
    pub fn translate(&self, p: &impl Platform, va: u64, access: Access) -> Result<u64, GuestFault> {
        if !self.paging() {
            let fault = GuestFault {
                va,
                access,
                kind: FaultKind::External,
                level: 0,
            };
            let g = grants::by_gpa(&self.layout, va).ok_or(fault)?;
            if (access == Access::Write && !g.writable) || (access == Access::Exec && !g.exec) {
                return Err(fault);
            }
            return Ok(g.pa + (va - g.gpa));
        }
        let (_, m) = self.guest(p, self.key().0, va, access)?;
        Ok(m.pa | (va & (PAGE - 1)))
    }

    /// Emulates the guest's store of `bytes` (1, 2, 4, 8) bytes of `v` at `va`, a page
    /// [`Space::fault`] said holds live tables: checks the guest's rights, writes guest
    /// memory, and drops exactly the shadow entries derived from the descriptor(s) it
    /// changed, in every root: a table-level entry loses its whole subtree (and its root's
    /// hardware ASID is invalidated, walk caches included), a leaf is invalidated by VA.
    pub fn table_write(
        &mut self,
        p: &mut impl Platform,
        va: u64,
        v: u64,
        bytes: u8,
    ) -> Result<(), GuestFault> {
        debug_assert!(matches!(bytes, 1 | 2 | 4 | 8));
        if (va & (PAGE - 1)) + u64::from(bytes) > PAGE {
            // An unaligned store across a page boundary: the next VA page need not be the
            // next host page, so each byte is translated and written on its own (the bytes
            // before a faulting one stay written, as the architecture allows).
            for i in 0..u64::from(bytes) {
                let b = (v >> (8 * i)) & 0xff;
                self.table_write(p, va.wrapping_add(i), b, 1)?;
            }
            return Ok(());
        }
        let pa = match self.translate(p, va, Access::Write) {
            Ok(pa) => pa,
            Err(f) => {
                self.stats.guest_faults += 1;
                return Err(f);
            }
        };
        self.stats.table_writes += 1;
        let watched = grants::own_by_pa(&self.layout, pa).filter(|&g| self.watched(g));
        let Some(g) = watched else {
            p.write_sized(pa, v, bytes);
            return Ok(());
        };
        let first = pa & !7;
        let last = (pa + bytes.max(1) as u64 - 1) & !7;
        let old = [p.read64(first), p.read64(last)];
        p.write_sized(pa, v, bytes);
        if p.read64(first) != old[0] {
            self.invalidate(p, g, ((first & (PAGE - 1)) >> 3) as usize);
        }
        if last != first && p.read64(last) != old[1] {
            self.invalidate(p, g, ((last & (PAGE - 1)) >> 3) as usize);
        }
        Ok(())
    }

    /// A guest TLBI, with its architectural meaning or more: by VA drops that VA's leaf in
    /// every root (global entries of the guest and every ASID are covered at once), by ASID
    /// empties the roots of that guest ASID, `All` empties every root. Roots are emptied in
    /// place rather than freed, so that the hardware's TTBR0_EL2 stays valid.
    ///
    /// The watch already keeps the shadow exact, so this only gives back pool pages and
    /// makes the guest's own maintenance observable; it is never needed for correctness.
    pub fn tlbi(&mut self, p: &mut impl Platform, op: TlbiOp) {
        self.stats.tlbis += 1;
        let mask = self.asid_mask();
        for s in 0..self.layout.roots {
            let slot = self.slots[s as usize];
            if slot.page == NONE {
                continue;
            }
            match op {
                TlbiOp::All => self.empty_root(p, s),
                TlbiOp::Asid(a) if a & mask == slot.asid => self.empty_root(p, s),
                TlbiOp::Asid(_) => {}
                TlbiOp::Va { va, .. } => self.drop_leaf(p, s, va),
            }
        }
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The shadow leaf for `va` in the cached root of (`ttbr0`'s table base, its ASID), if
    /// any (for tests and the isolation certificate).
    pub fn shadow_leaf(&self, p: &impl Platform, ttbr0: u64, va: u64) -> Option<ShadowLeaf> {
        if !(self.layout.va_base..VA_END).contains(&va) {
            return None;
        }
        let (base, asid) = self.key_of(ttbr0);
        let s = self.find(base, asid)?;
        let mut table = self.slots[s as usize].page;
        for level in 1..=2 {
            let d = p.read64(self.page_pa(table) + 8 * desc::index(va, level) as u64);
            if d & VALID == 0 {
                return None;
            }
            table = self.page_of(d & OA_MASK);
        }
        let d = p.read64(self.page_pa(table) + 8 * desc::index(va, 3) as u64);
        (d & VALID != 0).then(|| ShadowLeaf {
            pa: d & OA_MASK,
            el0_write: desc::shadow_writable(d),
            el0_exec: d & desc::UXN == 0,
            mem: desc::shadow_mem(d),
        })
    }

    /// The cached roots, as the guest TTBR0 values (table base | ASID << 48) they shadow.
    pub fn cached_roots(&self) -> impl Iterator<Item = u64> + '_ {
        self.slots[..self.layout.roots as usize]
            .iter()
            .filter(|s| s.page != NONE)
            .map(|s| s.base | (s.asid as u64) << 48)
    }

    /// The guest page at `gpa` holds live tables (some shadow table mirrors it), so every
    /// shadow leaf maps it read-only.
    pub fn is_watched(&self, gpa: u64) -> bool {
        grants::own_by_gpa(&self.layout, gpa).is_some_and(|g| self.watched(g))
    }

    /// Pool pages (in use, free).
    pub fn pool_usage(&self) -> (u16, u16) {
        let used = self.meta[..self.layout.pool_pages as usize]
            .iter()
            .filter(|m| m.level != 0)
            .count() as u16;
        (used, self.free_count)
    }

    /// A full consistency check of the metadata against the shadow tables (it scans the
    /// pool: for tests and the certificate, not for trap paths): the free list and the used
    /// pages partition the pool; every table is linked from its parent and in the watch
    /// list of the page it mirrors; the writable-leaf counts are exact; no writable leaf
    /// maps a watched page; no leaf maps outside the grants. It recounts on the stack
    /// (4 bytes per own page).
    pub fn check(&self, p: &impl Platform) -> Result<(), &'static str> {
        let n = self.layout.pool_pages as usize;
        let mut free = 0usize;
        let mut q = self.free;
        while q != NONE {
            if self.meta[q as usize].level != 0 {
                return Err("a used page on the free list");
            }
            free += 1;
            if free > n {
                return Err("the free list loops");
            }
            q = self.meta[q as usize].next;
        }
        let used = self.meta[..n].iter().filter(|m| m.level != 0).count();
        if free != self.free_count as usize || free + used != n {
            return Err("used + free != pool_pages");
        }
        let mut writable = [0u32; GUEST_PAGES];
        let mut mirrors = 0usize;
        for (i, m) in self.meta[..n].iter().enumerate() {
            if m.level == 0 {
                continue;
            }
            let slot = self.slots[m.slot as usize];
            if m.level == 1 {
                if slot.page != i as u16 {
                    return Err("a root page not in its slot");
                }
            } else {
                let parent = self.meta[m.parent as usize];
                let d = p.read64(self.page_pa(m.parent) + 8 * m.index as u64);
                if parent.level + 1 != m.level
                    || parent.slot != m.slot
                    || d != desc::shadow_table(self.page_pa(i as u16))
                {
                    return Err("a table not linked from its parent");
                }
            }
            if m.mirror != NONE {
                mirrors += 1;
                let mut q = self.own[m.mirror as usize].head;
                while q != NONE && q != i as u16 {
                    q = self.meta[q as usize].next;
                }
                if q == NONE {
                    return Err("a table missing from its watch list");
                }
            }
            if m.level == 3 {
                for e in 0..512u64 {
                    let d = p.read64(self.page_pa(i as u16) + 8 * e);
                    if d & VALID == 0 {
                        continue;
                    }
                    let pa = d & OA_MASK;
                    if !self
                        .layout
                        .grants
                        .iter()
                        .any(|g| pa >= g.pa && pa - g.pa < g.size)
                    {
                        return Err("a leaf outside the grants");
                    }
                    if desc::shadow_writable(d)
                        && let Some(g) = grants::own_by_pa(&self.layout, pa)
                    {
                        if self.watched(g) {
                            return Err("a watched page mapped writable");
                        }
                        writable[g as usize] += 1;
                    }
                }
            }
        }
        let mut linked = 0usize;
        for (g, o) in self.own.iter().enumerate() {
            if o.writable != writable[g] {
                return Err("a writable-leaf count is off");
            }
            let mut q = o.head;
            let mut prev = NONE;
            while q != NONE {
                let m = self.meta[q as usize];
                if m.level == 0 || m.mirror != g as u16 || m.prev != prev {
                    return Err("a watch list is inconsistent");
                }
                linked += 1;
                if linked > n {
                    return Err("a watch list loops");
                }
                prev = q;
                q = m.next;
            }
        }
        if linked != mirrors {
            return Err("watch lists and mirrors disagree");
        }
        Ok(())
    }

    // ---- the guest side -------------------------------------------------------------

    fn paging(&self) -> bool {
        self.sctlr & SCTLR_M != 0
    }

    fn asid_mask(&self) -> u16 {
        if self.tcr & TCR_AS != 0 { 0xFFFF } else { 0xFF }
    }

    /// (table base, ASID) of a TTBR0 value, under the current TCR.AS.
    fn key_of(&self, ttbr0: u64) -> (u64, u16) {
        (ttbr0 & TTBR_BADDR, (ttbr0 >> 48) as u16 & self.asid_mask())
    }

    fn key(&self) -> (u64, u16) {
        self.key_of(self.ttbr0)
    }

    /// The guest's translation of `va` from the table at `base`, checked for `access`.
    fn guest(
        &self,
        p: &impl Platform,
        base: u64,
        va: u64,
        access: Access,
    ) -> Result<(Walked, Mapping), GuestFault> {
        let fault = |(kind, level)| GuestFault {
            va,
            access,
            kind,
            level,
        };
        let w = walk::walk(p, &self.layout, base, self.tcr, va).map_err(fault)?;
        let m = walk::check(&self.layout, self.mair, &w, access).map_err(fault)?;
        Ok((w, m))
    }

    fn watched(&self, g: u16) -> bool {
        self.own[g as usize].head != NONE
    }

    // ---- the pool --------------------------------------------------------------------

    fn page_pa(&self, q: u16) -> u64 {
        self.layout.pool_pa + q as u64 * PAGE
    }

    fn page_of(&self, pa: u64) -> u16 {
        ((pa - self.layout.pool_pa) / PAGE) as u16
    }

    fn hw_asid(&self, s: u8) -> u16 {
        self.layout.hw_asid_first + s as u16
    }

    /// The VA of entry `i` of level-3 table `q`.
    fn leaf_va(&self, q: u16, i: usize) -> u64 {
        let m = self.meta[q as usize];
        let i1 = self.meta[m.parent as usize].index as u64;
        (i1 << 30) | (m.index as u64) << 21 | (i as u64) << 12
    }

    fn take_free(&mut self) -> Option<u16> {
        let q = self.free;
        if q == NONE {
            return None;
        }
        self.free = self.meta[q as usize].next;
        self.free_count -= 1;
        Some(q)
    }

    /// Makes free page `q` a table of `level`, linked from entry `index` of `parent`
    /// (NONE for a root), mirroring own page `mirror` (NONE: none). The caller writes the
    /// parent's descriptor.
    #[allow(clippy::too_many_arguments)]
    fn init_table(
        &mut self,
        p: &mut impl Platform,
        q: u16,
        slot: u8,
        level: u8,
        parent: u16,
        index: u16,
        mirror: u16,
    ) {
        let pa = self.page_pa(q);
        for i in 0..512u64 {
            let v = if level == 1 && (i as usize) < HYP_ENTRIES {
                p.read64(self.layout.hyp_root + 8 * i)
            } else {
                0
            };
            p.write64(pa + 8 * i, v);
        }
        self.meta[q as usize] = Meta {
            level,
            slot,
            parent,
            index,
            mirror,
            next: NONE,
            prev: NONE,
        };
        if mirror != NONE {
            self.link(p, q, mirror);
        }
    }

    /// Puts pool page `q` on the watch list of own page `g`; if that makes `g` watched
    /// while some leaf maps it writable, those leaves become read-only.
    fn link(&mut self, p: &mut impl Platform, q: u16, g: u16) {
        let head = self.own[g as usize].head;
        self.meta[q as usize].next = head;
        self.meta[q as usize].prev = NONE;
        if head != NONE {
            self.meta[head as usize].prev = q;
        }
        self.own[g as usize].head = q;
        if head == NONE && self.own[g as usize].writable > 0 {
            self.protect(p, g);
        }
    }

    fn unlink(&mut self, q: u16) {
        let m = self.meta[q as usize];
        if m.prev != NONE {
            self.meta[m.prev as usize].next = m.next;
        } else {
            self.own[m.mirror as usize].head = m.next;
        }
        if m.next != NONE {
            self.meta[m.next as usize].prev = m.prev;
        }
    }

    /// Makes every writable leaf of own page `g` read-only: a search of the pool's level-3
    /// tables, stopping once the count says none is left (pages become watched while mapped
    /// writable rarely: when the guest turns a data page into a table).
    fn protect(&mut self, p: &mut impl Platform, g: u16) {
        self.stats.protects += 1;
        let Some(target) = grants::own_pa(&self.layout, g) else {
            return;
        };
        for q in 0..self.layout.pool_pages {
            if self.meta[q as usize].level != 3 {
                continue;
            }
            for i in 0..512usize {
                if self.own[g as usize].writable == 0 {
                    return;
                }
                let e = self.page_pa(q) + 8 * i as u64;
                let d = p.read64(e);
                if d & VALID != 0 && desc::shadow_writable(d) && d & OA_MASK == target {
                    p.write64(e, d | desc::AP_RO);
                    self.own[g as usize].writable -= 1;
                    p.tlbi_va(self.hw_asid(self.meta[q as usize].slot), self.leaf_va(q, i));
                }
            }
        }
    }

    /// Forgets leaf descriptor `d` in the writable counts.
    fn uncount(&mut self, d: u64) {
        if d & VALID != 0
            && desc::shadow_writable(d)
            && let Some(g) = grants::own_by_pa(&self.layout, d & OA_MASK)
        {
            self.own[g as usize].writable -= 1;
        }
    }

    fn free_page(&mut self, q: u16) {
        if self.meta[q as usize].mirror != NONE {
            self.unlink(q);
        }
        self.meta[q as usize] = Meta {
            next: self.free,
            ..Meta::FREE
        };
        self.free = q;
        self.free_count += 1;
    }

    /// Frees table `q` (level 2 or 3) and everything below it. The caller has cleared the
    /// descriptor pointing at it and invalidates the TLB.
    fn free_tree(&mut self, p: &impl Platform, q: u16) {
        let level = self.meta[q as usize].level;
        for i in 0..512u64 {
            let d = p.read64(self.page_pa(q) + 8 * i);
            if d & VALID == 0 {
                continue;
            }
            if level == 3 {
                self.uncount(d);
            } else {
                self.free_tree(p, self.page_of(d & OA_MASK));
            }
        }
        self.free_page(q);
    }

    /// Frees everything below root `s` (its own page stays, with the hypervisor's entries).
    fn empty_root(&mut self, p: &mut impl Platform, s: u8) {
        let root = self.slots[s as usize].page;
        let mut any = false;
        for i in HYP_ENTRIES..512 {
            let e = self.page_pa(root) + 8 * i as u64;
            let d = p.read64(e);
            if d & VALID != 0 {
                p.write64(e, 0);
                self.free_tree(p, self.page_of(d & OA_MASK));
                any = true;
            }
        }
        if any {
            p.tlbi_asid(self.hw_asid(s));
        }
    }

    fn empty_all(&mut self, p: &mut impl Platform) {
        for s in 0..self.layout.roots {
            if self.slots[s as usize].page != NONE {
                self.empty_root(p, s);
            }
        }
    }

    fn free_root(&mut self, p: &mut impl Platform, s: u8) {
        self.empty_root(p, s);
        let root = self.slots[s as usize].page;
        self.free_page(root);
        self.slots[s as usize] = Slot::EMPTY;
        if self.cur == Some(s) {
            self.cur = None;
        }
    }

    /// The pool is empty: frees every root and table, except that root `keep` (the one the
    /// hardware walks, if any) is only emptied.
    fn flush(&mut self, p: &mut impl Platform, keep: Option<u8>) {
        self.stats.flushes += 1;
        for s in 0..self.layout.roots {
            if self.slots[s as usize].page == NONE {
                continue;
            }
            if keep == Some(s) {
                self.empty_root(p, s);
            } else {
                self.free_root(p, s);
            }
        }
    }

    // ---- roots -------------------------------------------------------------------------

    fn find(&self, base: u64, asid: u16) -> Option<u8> {
        (0..self.layout.roots).find(|&s| {
            let slot = self.slots[s as usize];
            slot.page != NONE && slot.base == base && slot.asid == asid
        })
    }

    /// The slot of the current address space's root, made if need be.
    fn ensure_root(&mut self, p: &mut impl Platform) -> u8 {
        let (base, asid) = self.key();
        self.clock += 1;
        if let Some(s) = self.find(base, asid) {
            self.slots[s as usize].used = self.clock;
            self.cur = Some(s);
            return s;
        }
        let roots = &self.slots[..self.layout.roots as usize];
        let s = match roots.iter().position(|s| s.page == NONE) {
            Some(s) => s as u8,
            None => {
                let (victim, _) = roots
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, s)| s.used)
                    .expect("roots >= 1");
                self.free_root(p, victim as u8);
                self.stats.root_evictions += 1;
                victim as u8
            }
        };
        let q = match self.take_free() {
            Some(q) => q,
            None => {
                self.flush(p, None);
                self.take_free().expect("an empty pool has pages")
            }
        };
        let mirror = if base >> PA_BITS == 0 {
            grants::own_by_gpa(&self.layout, base).unwrap_or(NONE)
        } else {
            NONE
        };
        self.slots[s as usize] = Slot {
            page: q,
            base,
            asid,
            used: self.clock,
        };
        self.init_table(p, q, s, 1, NONE, 0, mirror);
        self.stats.roots_made += 1;
        self.cur = Some(s);
        s
    }

    /// The slot the hardware walks (normally recorded by [`Space::hw_ttbr`]).
    fn current_slot(&mut self, p: &mut impl Platform) -> u8 {
        if let Some(s) = self.cur {
            let slot = self.slots[s as usize];
            if slot.page != NONE && (slot.base, slot.asid) == self.key() {
                return s;
            }
        }
        self.ensure_root(p)
    }

    // ---- fill and invalidation ----------------------------------------------------------

    /// The table below entry `index` of `parent`, made if absent.
    #[allow(clippy::too_many_arguments)]
    fn child(
        &mut self,
        p: &mut impl Platform,
        s: u8,
        parent: u16,
        index: usize,
        level: u8,
        mirror: u16,
    ) -> Result<u16, Exhausted> {
        let e = self.page_pa(parent) + 8 * index as u64;
        let d = p.read64(e);
        if d & VALID != 0 {
            let q = self.page_of(d & OA_MASK);
            debug_assert_eq!(self.meta[q as usize].mirror, mirror, "a stale shadow table");
            return Ok(q);
        }
        let q = self.take_free().ok_or(Exhausted)?;
        self.init_table(p, q, s, level, parent, index as u16, mirror);
        p.write64(e, desc::shadow_table(self.page_pa(q)));
        Ok(q)
    }

    /// Makes the shadow leaf of `va` in root `s` from the guest's walk `w` and mapping `m`;
    /// returns whether it is writable.
    fn fill(
        &mut self,
        p: &mut impl Platform,
        s: u8,
        va: u64,
        w: &Walked,
        m: &Mapping,
    ) -> Result<bool, Exhausted> {
        let own = |gpa| grants::own_by_gpa(&self.layout, gpa).unwrap_or(NONE);
        let m2 = if w.level >= 2 { own(w.tables[1]) } else { NONE };
        let m3 = if w.level == 3 { own(w.tables[2]) } else { NONE };
        let root = self.slots[s as usize].page;
        let l2 = self.child(p, s, root, desc::index(va, 1), 2, m2)?;
        let l3 = self.child(p, s, l2, desc::index(va, 2), 3, m3)?;
        let target = grants::own_by_pa(&self.layout, m.pa);
        let write = m.write && !target.is_some_and(|g| self.watched(g));
        let d = desc::shadow_page(m.pa, write, m.exec, m.mem);
        let e = self.page_pa(l3) + 8 * desc::index(va, 3) as u64;
        let old = p.read64(e);
        if old != d {
            if old & VALID != 0 {
                // Break before make: the TLB may hold the old entry.
                self.uncount(old);
                p.write64(e, 0);
                p.tlbi_va(self.hw_asid(s), va & !(PAGE - 1));
            }
            p.write64(e, d);
            if write && let Some(g) = target {
                self.own[g as usize].writable += 1;
            }
        }
        Ok(write)
    }

    /// Own page `g` (watched) had its word `w` changed: drops the shadow entries derived
    /// from it in every pool page that mirrors `g`.
    fn invalidate(&mut self, p: &mut impl Platform, g: u16, w: usize) {
        // Freeing a subtree takes its pages off their watch lists, possibly this one (a
        // table that is its own next level): start over after each subtree. Every pass
        // clears an entry, so this ends.
        'list: loop {
            let mut q = self.own[g as usize].head;
            while q != NONE {
                let m = self.meta[q as usize];
                let e = self.page_pa(q) + 8 * w as u64;
                let d = if m.level == 1 && w < HYP_ENTRIES {
                    0
                } else {
                    p.read64(e)
                };
                if d & VALID != 0 {
                    p.write64(e, 0);
                    if m.level == 3 {
                        self.uncount(d);
                        p.tlbi_va(self.hw_asid(m.slot), self.leaf_va(q, w));
                    } else {
                        self.free_tree(p, self.page_of(d & OA_MASK));
                        p.tlbi_asid(self.hw_asid(m.slot));
                        continue 'list;
                    }
                }
                q = m.next;
            }
            break;
        }
    }

    /// Drops the leaf of `va` in root `s`, if any.
    fn drop_leaf(&mut self, p: &mut impl Platform, s: u8, va: u64) {
        if !(self.layout.va_base..VA_END).contains(&va) {
            return;
        }
        let mut table = self.slots[s as usize].page;
        for level in 1..=2 {
            let d = p.read64(self.page_pa(table) + 8 * desc::index(va, level) as u64);
            if d & VALID == 0 {
                return;
            }
            table = self.page_of(d & OA_MASK);
        }
        let e = self.page_pa(table) + 8 * desc::index(va, 3) as u64;
        let d = p.read64(e);
        if d & VALID != 0 {
            p.write64(e, 0);
            self.uncount(d);
            p.tlbi_va(self.hw_asid(s), va & !(PAGE - 1));
        }
    }
}

/// Whether this crate can shadow the guest's TCR: 39-bit VAs (T0SZ = 25), 4 KiB granule,
/// ASID from TTBR0 (A1 = 0). EPD0 and AS are honoured; the rest (cacheability of walks,
/// TTBR1 half, IPS) has no effect on what the shadow maps.
fn check_tcr(tcr: u64) -> Result<(), &'static str> {
    if tcr & TCR_T0SZ != 25 {
        return Err("shadow paging: TCR_EL1.T0SZ must be 25 (39-bit VA)");
    }
    if tcr & TCR_TG0 != 0 {
        return Err("shadow paging: TCR_EL1.TG0 must be 4 KiB");
    }
    if tcr & TCR_A1 != 0 {
        return Err("shadow paging: TCR_EL1.A1 must be 0 (ASID in TTBR0)");
    }
    Ok(())
}
