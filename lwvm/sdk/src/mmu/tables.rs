//! A small table builder: 4 KiB table pages from a bump allocator over a static array in
//! the program, reached at VA = PA (every address space maps the program's own memory
//! flat, so the same pointer works with translation on or off). Entries are written with
//! single volatile 64-bit stores, the only kind of store the hypervisor emulates on a
//! live table page, and nothing ever clears a page at run time (a memset could use
//! stores it does not emulate): pages come zeroed from `.bss` and are never freed.
use core::cell::{Cell, UnsafeCell};
use core::ptr::{read_volatile, write_volatile};

use super::{desc, dsb, dsb_st, index, isb, level_size, tlbi_vae1};

/// One 4 KiB page, aligned as a table must be.
#[repr(C, align(4096))]
pub struct Page(pub [u64; 512]);

/// Where table pages come from.
pub trait PageSource {
    /// A zeroed page (its PA = VA), or `None` when the source is used up.
    fn alloc(&self) -> Option<u64>;
    /// Whether `pa` is one of its pages (the builder only follows such table pointers).
    fn owns(&self, pa: u64) -> bool;
}

/// A bump allocator over `N` pages of the program's `.bss`:
/// `static TABLES: PagePool<32> = PagePool::new();`.
pub struct PagePool<const N: usize> {
    pages: UnsafeCell<[Page; N]>,
    next: Cell<usize>,
}

// SAFETY: an lwVM is one thread of execution, and the SDK's fault handler never touches
// a pool; `Cell` is only reached from that one thread.
unsafe impl<const N: usize> Sync for PagePool<N> {}

impl<const N: usize> PagePool<N> {
    /// `N` zero pages (all-zero: the pool lives in `.bss`, which the hypervisor zeroes).
    pub const fn new() -> Self {
        PagePool {
            pages: UnsafeCell::new([const { Page([0; 512]) }; N]),
            next: Cell::new(0),
        }
    }

    /// Address of the first page.
    pub fn base(&self) -> u64 {
        self.pages.get() as u64
    }

    /// Pages handed out so far.
    pub fn used(&self) -> usize {
        self.next.get()
    }

    /// Pages in the pool.
    pub const fn capacity(&self) -> usize {
        N
    }
}

impl<const N: usize> Default for PagePool<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> PageSource for PagePool<N> {
    fn alloc(&self) -> Option<u64> {
        let i = self.next.get();
        if i >= N {
            return None;
        }
        self.next.set(i + 1);
        Some(self.base() + i as u64 * 4096)
    }

    fn owns(&self, pa: u64) -> bool {
        let base = self.base();
        pa >= base && pa < base + (N as u64) * 4096 && pa % 4096 == 0
    }
}

/// Why a mapping could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapError {
    /// The page source is used up.
    NoPages,
    /// `va` or `pa` is not aligned to the mapping's size, or `va` is beyond 39 bits.
    Misaligned,
    /// The entry is already valid (use [`Tables::remap`]).
    Busy,
    /// A block, or a table this builder does not own, is in the way.
    Conflict,
}

/// One address space: a level-1 root and the tables below it, tagged with an ASID.
pub struct Tables<'p> {
    pages: &'p dyn PageSource,
    root: u64,
    asid: u16,
}

impl<'p> Tables<'p> {
    /// An empty address space (a zero root page from `pages`) for `asid`.
    pub fn new(pages: &'p dyn PageSource, asid: u16) -> Option<Self> {
        Some(Tables {
            pages,
            root: pages.alloc()?,
            asid,
        })
    }

    /// PA of the level-1 table.
    pub fn root(&self) -> u64 {
        self.root
    }

    /// Its ASID.
    pub fn asid(&self) -> u16 {
        self.asid
    }

    /// Its TTBR0_EL1 value.
    pub fn ttbr(&self) -> u64 {
        super::ttbr(self.root, self.asid)
    }

    /// Pointer to `va`'s entry at `level` (1..=3), following existing tables only.
    /// `None` if a level above has no table there, or one this builder does not own.
    pub fn entry(&self, va: u64, level: u8) -> Option<*mut u64> {
        let mut table = self.root;
        for l in 1..level {
            let d = read(entry_at(table, va, l));
            if d & 0b11 != desc::TABLE || !self.pages.owns(d & desc::OA_MASK) {
                return None;
            }
            table = d & desc::OA_MASK;
        }
        Some(entry_at(table, va, level))
    }

    /// Like [`Tables::entry`], making the missing tables on the way (with `table_bits`,
    /// e.g. [`desc::UXN_TABLE`], on the entries it makes).
    pub fn entry_alloc(
        &mut self,
        va: u64,
        level: u8,
        table_bits: u64,
    ) -> Result<*mut u64, MapError> {
        if va >= super::VA_END || !(1..=3).contains(&level) {
            return Err(MapError::Misaligned);
        }
        let mut table = self.root;
        for l in 1..level {
            let e = entry_at(table, va, l);
            let d = read(e);
            if d & 1 == 0 {
                let page = self.pages.alloc().ok_or(MapError::NoPages)?;
                write(e, page | table_bits | desc::TABLE);
                table = page;
            } else if d & 0b11 == desc::TABLE && self.pages.owns(d & desc::OA_MASK) {
                table = d & desc::OA_MASK;
            } else {
                return Err(MapError::Conflict);
            }
        }
        Ok(entry_at(table, va, level))
    }

    /// The descriptor of `va` at `level` (0 if there is no table to hold it).
    pub fn get(&self, va: u64, level: u8) -> u64 {
        self.entry(va, level).map_or(0, read)
    }

    /// The leaf that maps `va`: (level, descriptor), `None` if nothing valid does.
    pub fn leaf(&self, va: u64) -> Option<(u8, u64)> {
        let mut table = self.root;
        for l in 1..=3 {
            let d = read(entry_at(table, va, l));
            if d & 1 == 0 {
                return None;
            }
            if l == 3 || d & 0b11 == desc::BLOCK {
                return Some((l, d));
            }
            if !self.pages.owns(d & desc::OA_MASK) {
                return None;
            }
            table = d & desc::OA_MASK;
        }
        None
    }

    /// Writes `d` into `va`'s entry at `level` as it is (the caller keeps the TLB right:
    /// for an entry that was invalid nothing is needed). Makes missing tables.
    pub fn set(&mut self, va: u64, level: u8, d: u64) -> Result<(), MapError> {
        let e = self.entry_alloc(va, level, 0)?;
        write(e, d);
        Ok(())
    }

    fn map(&mut self, va: u64, pa: u64, attrs: u64, level: u8, kind: u64) -> Result<(), MapError> {
        let size = level_size(level);
        if va % size != 0 || pa % size != 0 {
            return Err(MapError::Misaligned);
        }
        let e = self.entry_alloc(va, level, 0)?;
        if read(e) & 1 != 0 {
            return Err(MapError::Busy);
        }
        write(e, (pa & desc::OA_MASK) | attrs | kind);
        Ok(())
    }

    /// Maps the 4 KiB page `va` to `pa` with `attrs` (e.g. [`desc::RW`] | [`desc::NG`])
    /// where nothing was mapped.
    pub fn map_page(&mut self, va: u64, pa: u64, attrs: u64) -> Result<(), MapError> {
        self.map(va, pa, attrs, 3, desc::PAGE)
    }

    /// Maps the 2 MiB block `va` to `pa` (both 2 MiB aligned) where nothing was mapped.
    pub fn map_block(&mut self, va: u64, pa: u64, attrs: u64) -> Result<(), MapError> {
        self.map(va, pa, attrs, 2, desc::BLOCK)
    }

    /// Maps `len` bytes (whole pages) from `va` to `pa`.
    pub fn map_range(&mut self, va: u64, pa: u64, len: u64, attrs: u64) -> Result<(), MapError> {
        let mut off = 0;
        while off < len {
            self.map_page(va + off, pa + off, attrs)?;
            off += 4096;
        }
        Ok(())
    }

    /// Break-before-make of `va`'s entry at `level`, with `invalidate` as the TLB
    /// maintenance between the two stores: invalid, `dsb ishst`, `invalidate(va, asid)`,
    /// `dsb ish`, the new entry `d`, `dsb ishst`, `isb`. Returns the old entry.
    pub fn remap_with(
        &mut self,
        va: u64,
        level: u8,
        d: u64,
        invalidate: impl FnOnce(u64, u16),
    ) -> Result<u64, MapError> {
        let e = self.entry(va, level).ok_or(MapError::Conflict)?;
        let old = read(e);
        write(e, 0);
        dsb_st();
        invalidate(va, self.asid);
        dsb();
        write(e, d);
        dsb_st();
        isb();
        Ok(old)
    }

    /// Break-before-make with `TLBI VAE1` of this ASID.
    pub fn remap(&mut self, va: u64, level: u8, d: u64) -> Result<u64, MapError> {
        self.remap_with(va, level, d, tlbi_vae1)
    }

    /// Replaces `va`'s entry at `level` in place with `d` and invalidates it — for
    /// changes the architecture allows without break-before-make (permissions, AF, the
    /// same output address).
    pub fn update(&mut self, va: u64, level: u8, d: u64) -> Result<u64, MapError> {
        let e = self.entry(va, level).ok_or(MapError::Conflict)?;
        let old = read(e);
        write(e, d);
        dsb_st();
        tlbi_vae1(va, self.asid);
        dsb();
        isb();
        Ok(old)
    }

    /// Removes the leaf mapping `va` (page or block) and invalidates it; returns the old
    /// descriptor.
    pub fn unmap(&mut self, va: u64) -> Option<u64> {
        let (level, d) = self.leaf(va)?;
        let e = self.entry(va, level)?;
        write(e, 0);
        dsb_st();
        tlbi_vae1(va, self.asid);
        dsb();
        isb();
        Some(d)
    }
}

fn entry_at(table: u64, va: u64, level: u8) -> *mut u64 {
    (table + 8 * index(va, level) as u64) as *mut u64
}

fn read(e: *mut u64) -> u64 {
    // SAFETY: `e` is an entry of a table page of the builder's page source (mapped flat
    // in every address space the program uses), 8-aligned.
    unsafe { read_volatile(e) }
}

fn write(e: *mut u64, v: u64) {
    // SAFETY: as in `read`; one 64-bit store, which the hypervisor emulates on a live
    // table page.
    unsafe { write_volatile(e, v) }
}
