//! Host tests: a fake physical memory, a guest layout, and the tests proper.

use crate::desc::{AF, AP_EL0, AP_RO, UXN};
use crate::{Grant, Layout, MemType, Platform, Space, VReg};

mod attack;
mod property;
mod space;
mod walk;

/// The lwVM's own memory (tables and data): 256 KiB.
pub const OWN_GPA: u64 = 0x40_0000_0000;
pub const OWN_PA: u64 = 0x8000_0000;
pub const OWN_SIZE: u64 = 256 << 10;
/// A region shared with someone else: writable, not executable, non-cacheable, no tables.
pub const SHARED_GPA: u64 = 0x40_1000_0000;
pub const SHARED_PA: u64 = 0x9000_0000;
/// A read-only, executable region (a "ROM").
pub const ROM_GPA: u64 = 0x40_2000_0000;
pub const ROM_PA: u64 = 0x9100_0000;
pub const SMALL: u64 = 16 << 10;
/// A guest physical address backed by nothing.
pub const HOLE_GPA: u64 = 0x40_3000_0000;

pub const POOL_PA: u64 = 0x7000_0000;
pub const HYP_ROOT: u64 = 0x6000_0000;
pub const HW_ASID: u16 = 0x100;

/// Guest TCR: T0SZ = 25, 4 KiB, 16-bit ASIDs.
pub const TCR: u64 = 25 | (1 << 36);
/// Guest MAIR: attr0 normal WB, attr1 device, attr2 normal NC, attr3 normal WT.
pub const MAIR: u64 = 0xBB_44_04_FF;

pub static GRANTS: [Grant; 3] = [
    Grant {
        gpa: OWN_GPA,
        pa: OWN_PA,
        size: OWN_SIZE,
        writable: true,
        exec: true,
        cached: true,
        tables: true,
    },
    Grant {
        gpa: SHARED_GPA,
        pa: SHARED_PA,
        size: SMALL,
        writable: true,
        exec: false,
        cached: false,
        tables: false,
    },
    Grant {
        gpa: ROM_GPA,
        pa: ROM_PA,
        size: SMALL,
        writable: false,
        exec: true,
        cached: true,
        tables: false,
    },
];

pub const PAGES: usize = 64;
pub const GUEST_PAGES: usize = (OWN_SIZE >> 12) as usize;
pub type S = Space<PAGES, GUEST_PAGES>;

pub fn layout(pool_pages: u16, roots: u8) -> Layout {
    Layout {
        pool_pa: POOL_PA,
        pool_pages,
        hw_asid_first: HW_ASID,
        roots,
        hyp_root: HYP_ROOT,
        va_base: 0x40_0000_0000,
        grants: &GRANTS,
    }
}

/// A TLB invalidation the crate asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tlbi {
    Va(u16, u64),
    Asid(u16),
}

/// Physical memory as a few word arrays. The crate may read only the guest's memory, the
/// pool and the hypervisor's root, write only the pool (`write64`) and the guest's memory
/// (`write_sized`): anything else panics.
pub struct Mem {
    regions: Vec<(u64, Vec<u64>, bool)>,
    pub log: Vec<Tlbi>,
}

impl Mem {
    pub fn new(pool_pages: u16) -> Self {
        let words = |bytes: u64| vec![0u64; (bytes / 8) as usize];
        let mut m = Mem {
            regions: vec![
                (OWN_PA, words(OWN_SIZE), false),
                (SHARED_PA, words(SMALL), false),
                (ROM_PA, words(SMALL), false),
                (POOL_PA, words(pool_pages as u64 * 4096), true),
                (HYP_ROOT, words(4096), false),
            ],
            log: Vec::new(),
        };
        // The hypervisor's map: recognisable global blocks in entries 0..256.
        for i in 0..256u64 {
            m.poke(HYP_ROOT + 8 * i, (i << 30) | 0x401);
        }
        m
    }

    fn slot(&self, pa: u64) -> (usize, usize) {
        assert_eq!(pa % 8, 0, "unaligned word {pa:#x}");
        for (r, (base, words, _)) in self.regions.iter().enumerate() {
            if pa >= *base && pa - base < words.len() as u64 * 8 {
                return (r, ((pa - base) / 8) as usize);
            }
        }
        panic!("access outside memory: {pa:#x}");
    }

    /// A test's own store, anywhere.
    pub fn poke(&mut self, pa: u64, v: u64) {
        let (r, i) = self.slot(pa);
        self.regions[r].1[i] = v;
    }

    /// A store by the guest to its guest physical address (paging off, or setting up).
    pub fn set(&mut self, gpa: u64, v: u64) {
        self.poke(gpa_to_pa(gpa).expect("gpa in a grant"), v);
    }

    pub fn get(&self, gpa: u64) -> u64 {
        self.read64(gpa_to_pa(gpa).expect("gpa in a grant"))
    }

    pub fn take_log(&mut self) -> Vec<Tlbi> {
        std::mem::take(&mut self.log)
    }
}

pub fn gpa_to_pa(gpa: u64) -> Option<u64> {
    GRANTS
        .iter()
        .find(|g| gpa >= g.gpa && gpa - g.gpa < g.size)
        .map(|g| g.pa + gpa - g.gpa)
}

impl Platform for Mem {
    fn read64(&self, pa: u64) -> u64 {
        let (r, i) = self.slot(pa);
        self.regions[r].1[i]
    }
    fn write64(&mut self, pa: u64, v: u64) {
        let (r, i) = self.slot(pa);
        assert!(self.regions[r].2, "write64 outside the pool: {pa:#x}");
        self.regions[r].1[i] = v;
    }
    fn write_sized(&mut self, pa: u64, v: u64, bytes: u8) {
        assert!(matches!(bytes, 1 | 2 | 4 | 8));
        let off = pa % 8;
        assert!(off + bytes as u64 <= 8, "a store crossing a word");
        let (r, i) = self.slot(pa - off);
        assert!(r < 3, "write_sized outside the guest's memory: {pa:#x}");
        let mask = if bytes == 8 {
            u64::MAX
        } else {
            ((1u64 << (8 * bytes)) - 1) << (8 * off)
        };
        let w = &mut self.regions[r].1[i];
        *w = (*w & !mask) | ((v << (8 * off)) & mask);
    }
    fn tlbi_va(&mut self, asid: u16, va: u64) {
        assert_eq!(va % 4096, 0);
        self.log.push(Tlbi::Va(asid, va));
    }
    fn tlbi_asid(&mut self, asid: u16) {
        self.log.push(Tlbi::Asid(asid));
    }
}

// ---- guest descriptors -----------------------------------------------------------------

pub fn table(gpa: u64) -> u64 {
    gpa | 0b11
}

/// A level-3 page, EL0 read-write, executable, attr 0.
pub fn page(gpa: u64) -> u64 {
    gpa | 0b11 | AF | AP_EL0
}

/// A level-1/2 block, EL0 read-write, executable, attr 0.
pub fn block(gpa: u64) -> u64 {
    gpa | 0b01 | AF | AP_EL0
}

pub const RO: u64 = AP_RO;
pub const XN: u64 = UXN;

pub fn attr(i: u64) -> u64 {
    i << 2
}

/// The guest PA of own page `n`.
pub const fn own(n: u64) -> u64 {
    OWN_GPA + n * 4096
}

/// The standard guest: root at own page 3, whose entry 256 points at own page 1 (level 2),
/// whose entry 0 points at own page 2 (level 3), which maps own memory 1:1 (VA = GPA,
/// read-write, executable). Its tables are written to directly (the guest set them up
/// before turning paging on).
pub fn identity(m: &mut Mem, root: u64) {
    m.set(root + 8 * 256, table(own(1)));
    m.set(own(1), table(own(2)));
    for i in 0..GUEST_PAGES as u64 {
        m.set(own(2) + 8 * i, page(own(i)));
    }
}

/// A space on the standard guest, paging on, with address space (own page 3, ASID 1).
pub fn boot(pool_pages: u16, roots: u8) -> (Box<S>, Mem) {
    let mut s = Box::new(S::new());
    s.reset(layout(pool_pages, roots)).unwrap();
    let mut m = Mem::new(pool_pages);
    identity(&mut m, own(3));
    s.write_reg(&mut m, VReg::Mair, MAIR).unwrap();
    s.write_reg(&mut m, VReg::Tcr, TCR).unwrap();
    s.write_reg(&mut m, VReg::Ttbr0, ttbr(own(3), 1)).unwrap();
    assert_eq!(s.write_reg(&mut m, VReg::Sctlr, 1), Ok(true));
    assert!(s.hw_ttbr(&mut m).is_some());
    (s, m)
}

pub fn ttbr(base: u64, asid: u16) -> u64 {
    base | (asid as u64) << 48
}
