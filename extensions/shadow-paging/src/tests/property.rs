//! The property: whatever the guest does to its tables, registers and TLB, every shadow
//! leaf of every cached root is the composition of the guest's *current* tables with the
//! grants (same PA, same exec right and memory type, a write right only where the guest
//! and the grant give one and the page holds no live table), and the pool's accounting
//! stays exact.
//!
//! The guest has 256 KiB of own memory holding its tables and data, two root tables and
//! three address spaces (two ASIDs share a root table) for two cached roots, so roots are
//! evicted. Own pages 1 and 2 map all own memory 1:1 under level-1 entry 256 of both roots
//! and are never edited, so the harness can always reach any table page to store to it
//! (that is how the guest's own table code works too); everything else under level-1
//! entries 257 and 258 is random. The expected translation comes from a reference walk
//! written here independently of `walk`.

use super::*;
use crate::desc::{AP_TABLE_NO_EL0, AP_TABLE_RO, UXN_TABLE};
use crate::{Access, Resolved, TlbiOp};

/// splitmix64: deterministic, no dependency.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub(super) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub(super) fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

pub(super) const ROOTS: [u64; 2] = [own(3), own(4)];
pub(super) const SPACES: [(u64, u16); 3] = [(own(3), 1), (own(4), 2), (own(3), 3)];
/// The identity map's level-2 and level-3 tables.
pub(super) const FIXED: [u64; 2] = [own(1), own(2)];
/// Pages that random edits write to (the roots only in entries 257, 258).
pub(super) const EDITED: core::ops::Range<u64> = 3..16;

/// The VA pages the check covers: the identity region and a corner of entries 257, 258.
pub(super) fn vas() -> Vec<u64> {
    let mut v: Vec<u64> = (0..GUEST_PAGES as u64).map(own).collect();
    for i1 in [257u64, 258] {
        for i2 in 0..4u64 {
            for i3 in 0..8u64 {
                v.push((i1 << 30) | (i2 << 21) | (i3 << 12));
            }
        }
    }
    v
}

pub(super) fn random_desc(r: &mut Rng) -> u64 {
    match r.below(100) {
        0..15 => 0,
        15..45 => {
            let t = match r.below(100) {
                0..5 => SHARED_GPA,
                5..8 => 1 << 45,
                _ => own(1 + r.below(15)),
            };
            let mut d = table(t);
            if r.chance(8) {
                d |= AP_TABLE_NO_EL0;
            }
            if r.chance(15) {
                d |= AP_TABLE_RO;
            }
            if r.chance(15) {
                d |= UXN_TABLE;
            }
            d
        }
        _ => {
            let is_block = r.chance(30);
            let oa = if is_block {
                r.pick(&[OWN_GPA, OWN_GPA, SHARED_GPA, ROM_GPA, HOLE_GPA])
            } else {
                match r.below(100) {
                    0..40 => own(r.below(GUEST_PAGES as u64)),
                    40..70 => own(r.below(16)),
                    70..80 => SHARED_GPA + 4096 * r.below(4),
                    80..90 => ROM_GPA + 4096 * r.below(4),
                    90..95 => HOLE_GPA,
                    _ => 1 << 41,
                }
            };
            let mut d = oa | if is_block { 0b01 } else { 0b11 };
            if r.chance(92) {
                d |= crate::desc::AF;
            }
            if r.chance(88) {
                d |= crate::desc::AP_EL0;
            }
            if r.chance(40) {
                d |= RO;
            }
            if r.chance(35) {
                d |= XN;
            }
            d | attr(r.below(4))
        }
    }
}

/// What the guest's tables and the grants give EL0 at `va`: `None` if not even a read.
#[derive(Debug)]
struct Expected {
    pa: u64,
    gpa: u64,
    write: bool,
    exec: bool,
    mem: MemType,
}

fn reference(m: &Mem, base: u64, tcr: u64, mair: u64, va: u64) -> Option<Expected> {
    let oa_mask = 0x000F_FFFF_FFFF_F000u64;
    if tcr & (1 << 7) != 0 || !(OWN_GPA..1 << 39).contains(&va) || base >> 40 != 0 {
        return None;
    }
    let (mut no_el0, mut ro, mut nx) = (false, false, false);
    let mut t = base;
    for level in 1..=3u32 {
        let g = GRANTS
            .iter()
            .find(|g| g.tables && t >= g.gpa && t - g.gpa < g.size)?;
        let index = (va >> (12 + 9 * (3 - level))) & 511;
        let d = m.read64(g.pa + (t - g.gpa) + 8 * index);
        if d & 1 == 0 {
            return None;
        }
        if level < 3 && d & 2 != 0 {
            t = d & oa_mask;
            if t >> 40 != 0 {
                return None;
            }
            no_el0 |= d >> 61 & 1 != 0;
            ro |= d >> 62 & 1 != 0;
            nx |= d >> 60 & 1 != 0;
            continue;
        }
        if level == 3 && d & 2 == 0 {
            return None;
        }
        let size = 1u64 << (12 + 9 * (3 - level));
        let oa = d & oa_mask & !(size - 1);
        if oa >> 40 != 0 || d & (1 << 10) == 0 || d & (1 << 6) == 0 || no_el0 {
            return None;
        }
        let gpa = oa + (va & (size - 1) & !0xFFF);
        let g = GRANTS
            .iter()
            .find(|g| gpa >= g.gpa && gpa - g.gpa < g.size)?;
        let byte = (mair >> (8 * ((d >> 2) & 7))) as u8;
        let mem = if byte >> 4 == 0 {
            MemType::Device
        } else if byte == 0x44 {
            MemType::NonCacheable
        } else {
            MemType::Normal
        };
        return Some(Expected {
            pa: g.pa + (gpa - g.gpa),
            gpa,
            write: d & (1 << 7) == 0 && !ro && g.writable,
            exec: d & (1 << 54) == 0 && !nx && g.exec,
            mem: mem.min(crate::grants::mem(g)),
        });
    }
    unreachable!()
}

fn allows(e: &Option<Expected>, access: Access) -> bool {
    match (e, access) {
        (None, _) => false,
        (Some(_), Access::Read) => true,
        (Some(e), Access::Write) => e.write,
        (Some(e), Access::Exec) => e.exec,
    }
}

struct World {
    s: Box<S>,
    m: Mem,
    r: Rng,
    pool: u16,
    space: usize,
    on: bool,
    tcr: u64,
    mair: u64,
    vas: Vec<u64>,
}

impl World {
    fn new(seed: u64, pool: u16) -> Self {
        let mut s = Box::new(S::new());
        s.reset(layout(pool, 2)).unwrap();
        let mut m = Mem::new(pool);
        for root in ROOTS {
            identity(&mut m, root);
        }
        s.write_reg(&mut m, VReg::Mair, MAIR).unwrap();
        s.write_reg(&mut m, VReg::Tcr, TCR).unwrap();
        let (base, asid) = SPACES[0];
        s.write_reg(&mut m, VReg::Ttbr0, ttbr(base, asid)).unwrap();
        s.write_reg(&mut m, VReg::Sctlr, 1).unwrap();
        s.hw_ttbr(&mut m).unwrap();
        World {
            s,
            m,
            r: Rng(seed),
            pool,
            space: 0,
            on: true,
            tcr: TCR,
            mair: MAIR,
            vas: vas(),
        }
    }

    fn ttbr(&self) -> u64 {
        let (base, asid) = SPACES[self.space];
        ttbr(base, asid)
    }

    /// A random edit of a random table word (through the watch when paging is on).
    fn edit(&mut self) {
        let page = own(self.r.below(EDITED.end - EDITED.start) + EDITED.start);
        let index = if ROOTS.contains(&page) {
            self.r.pick(&[257, 258])
        } else {
            self.r.below(8)
        };
        let gpa = page + 8 * index;
        let v = random_desc(&mut self.r);
        if !self.on {
            self.m.set(gpa, v);
        } else if self.r.chance(20) {
            // Two 32-bit halves, as a guest might write them.
            self.s
                .table_write(&mut self.m, gpa, v & 0xFFFF_FFFF, 4)
                .unwrap();
            self.s
                .table_write(&mut self.m, gpa + 4, v >> 32, 4)
                .unwrap();
        } else {
            self.s.table_write(&mut self.m, gpa, v, 8).unwrap();
        }
        assert_eq!(self.m.get(gpa), v);
    }

    fn access(&mut self) {
        let access = self.r.pick(&[Access::Read, Access::Write, Access::Exec]);
        let va = self.r.pick(&self.vas) + 8 * self.r.below(512);
        if !self.on {
            // The flat view: VA = GPA, the grants' rights.
            let g = GRANTS.iter().find(|g| va >= g.gpa && va - g.gpa < g.size);
            let ok = g.is_some_and(|g| match access {
                Access::Read => true,
                Access::Write => g.writable,
                Access::Exec => g.exec,
            });
            assert_eq!(self.s.fault(&mut self.m, va, access).is_ok(), ok);
            return;
        }
        let (base, _) = SPACES[self.space];
        let e = reference(&self.m, base, self.tcr, self.mair, va & !0xFFF);
        let ok = allows(&e, access);
        match self.s.fault(&mut self.m, va, access) {
            Ok(Resolved::Filled) => {
                assert!(
                    ok,
                    "filled what the guest forbids: {va:#x} {access:?} {e:?}"
                );
                if self.on {
                    let l = self
                        .s
                        .shadow_leaf(&self.m, self.ttbr(), va)
                        .expect("a leaf");
                    let retried = match access {
                        Access::Read => true,
                        Access::Write => l.el0_write,
                        Access::Exec => l.el0_exec,
                    };
                    assert!(retried, "the retry faults again: {va:#x} {access:?}");
                }
            }
            Ok(Resolved::TableWrite) => {
                assert!(ok && access == Access::Write, "{va:#x} {access:?} {e:?}");
                let e = e.unwrap();
                assert!(self.s.is_watched(e.gpa));
                let l = self
                    .s
                    .shadow_leaf(&self.m, self.ttbr(), va)
                    .expect("a leaf");
                assert!(!l.el0_write);
                // The store the hypervisor emulates: a new descriptor, except in the pages
                // the harness relies on.
                let word = e.gpa + (va & 0xFF8);
                let keep =
                    FIXED.contains(&e.gpa) || (ROOTS.contains(&e.gpa) && va & 0xFF8 == 8 * 256);
                let v = if keep {
                    self.m.get(word)
                } else {
                    random_desc(&mut self.r)
                };
                self.s.table_write(&mut self.m, va & !7, v, 8).unwrap();
            }
            Err(f) => {
                assert!(!ok, "a fault the guest does not have: {f:?} {e:?}");
                assert_eq!((f.va, f.access), (va, access));
            }
        }
    }

    fn tlbi(&mut self) {
        let op = match self.r.below(3) {
            0 => TlbiOp::All,
            1 => TlbiOp::Asid(self.r.pick(&[1, 2, 3])),
            _ => TlbiOp::Va {
                asid: self.r.pick(&[1, 2, 3]),
                va: self.r.pick(&self.vas),
                all_asids: self.r.chance(50),
                last_level: self.r.chance(50),
            },
        };
        self.s.tlbi(&mut self.m, op);
    }

    fn switch(&mut self) {
        self.space = self.r.below(SPACES.len() as u64) as usize;
        let t = self.ttbr();
        let changed = self.s.write_reg(&mut self.m, VReg::Ttbr0, t).unwrap();
        if changed {
            let hw = self.s.hw_ttbr(&mut self.m).unwrap();
            assert!((HW_ASID..HW_ASID + 2).contains(&((hw >> 48) as u16)));
        }
    }

    fn mair(&mut self) {
        self.mair = self.r.pick(&[MAIR, 0xFF_04_44_FF, 0x44_44_44_44]);
        self.s
            .write_reg(&mut self.m, VReg::Mair, self.mair)
            .unwrap();
    }

    /// Paging off, some unwatched edits (and maybe a switch), paging on again.
    fn off_and_on(&mut self) {
        assert_eq!(self.s.write_reg(&mut self.m, VReg::Sctlr, 0), Ok(true));
        self.on = false;
        assert_eq!(self.s.hw_ttbr(&mut self.m), None);
        self.check();
        for _ in 0..self.r.below(4) {
            self.edit();
        }
        if self.r.chance(50) {
            self.switch();
        }
        self.access();
        assert_eq!(self.s.write_reg(&mut self.m, VReg::Sctlr, 1), Ok(true));
        self.on = true;
        self.s.hw_ttbr(&mut self.m).unwrap();
    }

    fn step(&mut self) {
        match self.r.below(100) {
            0..40 => self.access(),
            40..72 => self.edit(),
            72..80 => self.tlbi(),
            80..92 => self.switch(),
            92..95 => self.mair(),
            _ => self.off_and_on(),
        }
    }

    fn check(&self) {
        let (s, m) = (&self.s, &self.m);
        if let Err(e) = s.check(m) {
            panic!("metadata: {e}");
        }
        let (used, free) = s.pool_usage();
        assert_eq!(used + free, self.pool);
        for t in s.cached_roots() {
            let base = t & 0xFFFF_FFFF_F000;
            for &va in &self.vas {
                let Some(l) = s.shadow_leaf(m, t, va) else {
                    continue;
                };
                let e = reference(m, base, self.tcr, self.mair, va)
                    .unwrap_or_else(|| panic!("a leaf the guest does not map: {t:#x} {va:#x}"));
                let ctx = || format!("{t:#x} {va:#x}: {l:?} vs {e:?}");
                assert_eq!(l.pa, e.pa, "{}", ctx());
                assert_eq!(l.el0_exec, e.exec, "{}", ctx());
                assert_eq!(l.mem, e.mem, "{}", ctx());
                if l.el0_write {
                    assert!(e.write, "{}", ctx());
                    assert!(!s.is_watched(e.gpa), "a watched page writable: {}", ctx());
                }
                assert!(gpa_to_pa(e.gpa) == Some(l.pa));
            }
        }
    }
}

fn run(seed: u64, pool: u16, steps: usize) -> crate::Stats {
    let mut w = World::new(seed, pool);
    for _ in 0..steps {
        w.step();
        w.check();
    }
    w.s.stats()
}

#[test]
fn the_shadow_is_the_guest_s_translation_after_every_step() {
    let mut total = crate::Stats::default();
    for seed in 1..=4 {
        let st = run(seed, 48, 3000);
        eprintln!("seed {seed}: {st:?}");
        total.fills += st.fills;
        total.table_writes += st.table_writes;
        total.root_evictions += st.root_evictions;
        total.protects += st.protects;
        total.guest_faults += st.guest_faults;
    }
    assert!(total.fills > 1000, "{total:?}");
    assert!(total.table_writes > 1000, "{total:?}");
    assert!(total.root_evictions > 10, "{total:?}");
    assert!(total.protects > 0, "{total:?}");
    assert!(total.guest_faults > 100, "{total:?}");
}

#[test]
fn a_tiny_pool_flushes_and_stays_exact() {
    for (seed, pool) in [(11, 4), (12, 5), (13, 6)] {
        let st = run(seed, pool, 3000);
        eprintln!("pool {pool}: {st:?}");
        assert!(st.flushes > 0, "pool {pool}: {st:?}");
        assert!(st.fills > 100, "pool {pool}: {st:?}");
    }
}
