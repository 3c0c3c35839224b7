//! Attacks on the isolation of a shadow lwVM: what a hostile guest can do to its tables,
//! registers and TLB, against a model of the hardware TLB (leaf entries and walk caches,
//! tagged by hardware ASID, dropped only by the TLBIs the crate asks for).
//!
//! The model's rule: whenever the hardware walks with (root, ASID), every entry it holds
//! for that ASID must still be what the shadow tables say now. A stale entry is a hole
//! (a mapping the shadow dropped, or a write right to a page that became a table) or a
//! livelock (a stale read-only entry that faults forever while the shadow says writable).

use std::collections::HashMap;

use super::property::{EDITED, FIXED, ROOTS, Rng, SPACES, random_desc, vas};
use super::*;
use crate::desc::{self, OA_MASK};
use crate::{Access, Resolved, TlbiOp};

/// Physical memory plus a TLB model.
struct Hw {
    mem: Mem,
    /// Leaf entries: (hardware ASID, VA page) -> level-3 descriptor.
    leaf: HashMap<(u16, u64), u64>,
    /// Walk caches: (hardware ASID, level of the table read, VA prefix) -> descriptor.
    walk: HashMap<(u16, u8, u64), u64>,
    /// TTBR0_EL2 while the lwVM runs on a shadow root (None: the flat root).
    installed: Option<u64>,
}

impl Platform for Hw {
    fn read64(&self, pa: u64) -> u64 {
        self.mem.read64(pa)
    }
    fn write64(&mut self, pa: u64, v: u64) {
        self.mem.write64(pa, v)
    }
    fn write_sized(&mut self, pa: u64, v: u64, bytes: u8) {
        // Byte by byte: a store may straddle two words.
        for i in 0..u64::from(bytes) {
            let a = pa + i;
            self.mem.write_sized(a, (v >> (8 * i)) & 0xFF, 1);
        }
    }
    fn tlbi_va(&mut self, asid: u16, va: u64) {
        // TLBI VAE2: every level of the walk of that VA.
        self.leaf.remove(&(asid, va >> 12));
        self.walk.remove(&(asid, 1, va >> 30));
        self.walk.remove(&(asid, 2, va >> 21));
    }
    fn tlbi_asid(&mut self, asid: u16) {
        self.leaf.retain(|k, _| k.0 != asid);
        self.walk.retain(|k, _| k.0 != asid);
    }
}

impl Hw {
    fn new(pool: u16) -> Self {
        Hw {
            mem: Mem::new(pool),
            leaf: HashMap::new(),
            walk: HashMap::new(),
            installed: None,
        }
    }

    /// The descriptor at `level` of the walk of `va` from shadow root `root`, read now.
    fn now(&self, root: u64, level: u8, va: u64) -> Option<u64> {
        let mut t = root;
        for l in 1..=3u8 {
            let d = self.mem.read64(t + 8 * desc::index(va, l) as u64);
            if d & 1 == 0 {
                return None;
            }
            if l == level {
                return Some(d);
            }
            t = d & OA_MASK;
        }
        None
    }

    /// Every cached entry of the installed ASID agrees with the shadow tables.
    fn check_coherent(&self) {
        let Some(hw) = self.installed else { return };
        let (root, asid) = (hw & 0xFFFF_FFFF_F000, (hw >> 48) as u16);
        for (&(a, page), &d) in &self.leaf {
            if a == asid {
                let va = page << 12;
                assert_eq!(
                    self.now(root, 3, va),
                    Some(d),
                    "stale TLB leaf: ASID {a:#x} VA {va:#x} caches {d:#x}"
                );
            }
        }
        for (&(a, level, prefix), &d) in &self.walk {
            if a == asid {
                let va = prefix << (if level == 1 { 30 } else { 21 });
                assert_eq!(
                    self.now(root, level, va),
                    Some(d),
                    "stale walk cache: ASID {a:#x} level {level} VA {va:#x} caches {d:#x}"
                );
            }
        }
    }

    /// An access of the lwVM on the installed shadow root: `true` if the hardware lets it
    /// through (from the TLB or a walk, which it then caches).
    fn access(&mut self, va: u64, access: Access) -> bool {
        let Some(hw) = self.installed else {
            return false;
        };
        if !(OWN_GPA..1 << 39).contains(&va) {
            // The hypervisor's privileged half, or beyond T0SZ: a fault at EL0.
            return false;
        }
        self.check_coherent();
        let (root, asid) = (hw & 0xFFFF_FFFF_F000, (hw >> 48) as u16);
        let d = match self.leaf.get(&(asid, va >> 12)) {
            Some(&d) => d,
            None => {
                let mut t = root;
                let mut leaf = 0;
                for (level, key) in [(1u8, va >> 30), (2, va >> 21), (3, va >> 12)] {
                    let d = if level < 3 {
                        match self.walk.get(&(asid, level, key)) {
                            Some(&d) => d,
                            None => self.mem.read64(t + 8 * desc::index(va, level) as u64),
                        }
                    } else {
                        self.mem.read64(t + 8 * desc::index(va, level) as u64)
                    };
                    if d & 1 == 0 {
                        return false;
                    }
                    if level < 3 {
                        self.walk.insert((asid, level, key), d);
                        t = d & OA_MASK;
                    } else {
                        leaf = d;
                    }
                }
                self.leaf.insert((asid, va >> 12), leaf);
                leaf
            }
        };
        match access {
            Access::Read => d & desc::AP_EL0 != 0,
            Access::Write => d & desc::AP_EL0 != 0 && d & desc::AP_RO == 0,
            Access::Exec => d & desc::AP_EL0 != 0 && d & desc::UXN == 0,
        }
    }
}

/// The property test's guest, run on the TLB model.
struct World {
    s: Box<S>,
    hw: Hw,
    r: Rng,
    space: usize,
    on: bool,
    vas: Vec<u64>,
}

impl World {
    fn new(seed: u64, pool: u16, roots: u8) -> Self {
        let mut s = Box::new(S::new());
        s.reset(layout(pool, roots)).unwrap();
        let mut hw = Hw::new(pool);
        for root in ROOTS {
            identity(&mut hw.mem, root);
        }
        s.write_reg(&mut hw, VReg::Mair, MAIR).unwrap();
        s.write_reg(&mut hw, VReg::Tcr, TCR).unwrap();
        let (base, asid) = SPACES[0];
        s.write_reg(&mut hw, VReg::Ttbr0, ttbr(base, asid)).unwrap();
        s.write_reg(&mut hw, VReg::Sctlr, 1).unwrap();
        hw.installed = s.hw_ttbr(&mut hw);
        World {
            s,
            hw,
            r: Rng(seed),
            space: 0,
            on: true,
            vas: vas(),
        }
    }

    /// The hypervisor's trap path: flat root while it works, the shadow root after.
    fn trap<R>(&mut self, f: impl FnOnce(&mut S, &mut Hw, &mut Rng) -> R) -> R {
        self.hw.installed = None;
        let r = f(&mut self.s, &mut self.hw, &mut self.r);
        self.hw.installed = self.s.hw_ttbr(&mut self.hw);
        r
    }

    fn edit(&mut self) {
        let page = own(self.r.below(EDITED.end - EDITED.start) + EDITED.start);
        let index = if ROOTS.contains(&page) {
            self.r.pick(&[257, 258])
        } else {
            self.r.below(8)
        };
        let gpa = page + 8 * index;
        let v = random_desc(&mut self.r);
        if self.on {
            self.trap(|s, hw, _| s.table_write(hw, gpa, v, 8)).unwrap();
        } else {
            self.hw.mem.set(gpa, v);
        }
    }

    fn access(&mut self) {
        if !self.on {
            return;
        }
        let access = self.r.pick(&[Access::Read, Access::Write, Access::Exec]);
        let va = self.r.pick(&self.vas) + 8 * self.r.below(512);
        for _ in 0..3 {
            if self.hw.access(va, access) {
                return;
            }
            let r = self.trap(|s, hw, _| s.fault(hw, va, access));
            match r {
                Ok(Resolved::Filled) => continue,
                Ok(Resolved::TableWrite) => {
                    let word = va & !7;
                    let keep = FIXED.iter().chain(&ROOTS).any(|&t| word & !0xFFF == t);
                    let v = if keep {
                        self.hw.mem.get(word)
                    } else {
                        random_desc(&mut self.r)
                    };
                    self.trap(|s, hw, _| s.table_write(hw, word, v, 8)).unwrap();
                    return;
                }
                Err(_) => return,
            }
        }
        panic!("{access:?} at {va:#x} faults again after every fill");
    }

    fn step(&mut self) {
        match self.r.below(100) {
            0..45 => self.access(),
            45..75 => self.edit(),
            75..82 => {
                let op = match self.r.below(3) {
                    0 => TlbiOp::All,
                    1 => TlbiOp::Asid(self.r.pick(&[1, 2, 3])),
                    _ => TlbiOp::Va {
                        asid: 1,
                        va: self.r.pick(&self.vas),
                        all_asids: true,
                        last_level: false,
                    },
                };
                self.trap(|s, hw, _| s.tlbi(hw, op));
            }
            82..94 => {
                self.space = self.r.below(SPACES.len() as u64) as usize;
                let (base, asid) = SPACES[self.space];
                self.trap(|s, hw, _| s.write_reg(hw, VReg::Ttbr0, ttbr(base, asid)))
                    .unwrap();
            }
            94..97 => {
                let mair = self.r.pick(&[MAIR, 0xFF_04_44_FF]);
                self.trap(|s, hw, _| s.write_reg(hw, VReg::Mair, mair))
                    .unwrap();
            }
            _ => {
                self.on = !self.on;
                let on = self.on as u64;
                self.trap(|s, hw, _| s.write_reg(hw, VReg::Sctlr, on))
                    .unwrap();
            }
        }
        self.hw.check_coherent();
        self.s.check(&self.hw).unwrap();
    }
}

#[test]
fn no_stale_tlb_entry_survives_any_guest_step() {
    for (seed, pool, roots) in [(21, 48, 2), (22, 8, 2), (23, 5, 3), (24, 4, 1), (25, 16, 4)] {
        let mut w = World::new(seed, pool, roots);
        for _ in 0..4000 {
            w.step();
        }
        eprintln!("seed {seed}: {:?}", w.s.stats());
    }
}

/// A hostile guest: garbage in every table word it owns (roots' hypervisor half, tables
/// that are their own parents, blocks over its tables), garbage TTBR0/TCR/MAIR/SCTLR,
/// stores of every size at every alignment, TLBIs of anything, accesses anywhere. The
/// hypervisor must neither panic nor lose its invariants, and the TLB stays coherent.
#[test]
fn garbage_from_the_guest_never_panics_or_breaks_the_invariants() {
    fn word(r: &mut Rng) -> u64 {
        match r.below(10) {
            0 => r.next(),
            1..4 => random_desc(r) | (r.next() & 0xFFF0_0000_0000_0F7C),
            _ => {
                // Tables and pages anywhere in own memory, blocks over it.
                let oa = own(r.below(GUEST_PAGES as u64)) & !(r.pick(&[0xFFF, 0x1F_FFFF]));
                oa | r.pick(&[0b11, 0b01, 0b11]) | desc::AF | desc::AP_EL0 | (r.next() & (RO | XN))
            }
        }
    }
    for seed in 31..39u64 {
        let pool = [4u16, 5, 9, 48][seed as usize % 4];
        let mut w = World::new(seed, pool, 1 + (seed % 3) as u8);
        for _ in 0..3000 {
            let r = &mut w.r;
            match r.below(100) {
                0..30 => {
                    // A store of any size at any alignment into own memory (but the
                    // identity map, which keeps the guest's tables reachable).
                    let bytes = r.pick(&[1u8, 2, 4, 8, 8, 8]);
                    let page = own(3 + r.below(13));
                    let off = if ROOTS.contains(&page) && r.chance(70) {
                        8 * r.pick(&[0u64, 255, 257, 258, 511])
                    } else if r.chance(70) {
                        8 * r.below(8)
                    } else {
                        r.below(4096)
                    };
                    let mut gpa = (page + off) & !(u64::from(bytes) - 1);
                    if ROOTS.contains(&page) && (gpa & 0xFF8) == 8 * 256 {
                        gpa += 8;
                    }
                    let v = word(r);
                    if w.on {
                        let _ = w.trap(|s, hw, _| s.table_write(hw, gpa, v, bytes));
                    } else {
                        let pa = gpa_to_pa(gpa).unwrap();
                        w.hw.write_sized(pa, v, bytes);
                    }
                }
                30..60 => {
                    let va = match r.below(4) {
                        0 => r.next(),
                        1 => r.next() & ((1 << 40) - 1),
                        _ => w.vas[r.below(w.vas.len() as u64) as usize] + r.below(4096),
                    };
                    let access = r.pick(&[Access::Read, Access::Write, Access::Exec]);
                    if w.hw.access(va, access) {
                        continue;
                    }
                    let _ = w.trap(|s, hw, _| {
                        let _ = s.translate(hw, va, access);
                        s.fault(hw, va, access)
                    });
                }
                60..66 => {
                    let v = match r.below(8) {
                        0 => r.next(),
                        1..6 => {
                            let (base, asid) = SPACES[r.below(3) as usize];
                            ttbr(base, asid)
                        }
                        _ => ttbr(own(r.below(16)), r.below(4) as u16) | (r.next() & 1),
                    };
                    let _ = w.trap(|s, hw, _| s.write_reg(hw, VReg::Ttbr0, v));
                }
                66..70 => {
                    let v = match r.below(6) {
                        0 => r.next(),
                        1..3 => TCR,
                        3 => TCR | (1 << 7),
                        _ => TCR & !(r.next() & (1 << 36)),
                    };
                    let _ = w.trap(|s, hw, _| s.write_reg(hw, VReg::Tcr, v));
                }
                70..73 => {
                    let v = if r.chance(50) { r.next() } else { MAIR };
                    let _ = w.trap(|s, hw, _| s.write_reg(hw, VReg::Mair, v));
                }
                73..78 => {
                    let v = (r.next() & 0xE) | u64::from(r.chance(80));
                    let _ = w.trap(|s, hw, _| s.write_reg(hw, VReg::Sctlr, v));
                    w.on = w.s.read_reg(VReg::Sctlr) & 1 != 0;
                }
                _ => {
                    let xt = r.next();
                    let kind = r.pick(&[
                        crate::insn::TlbiKind::Vmalle1,
                        crate::insn::TlbiKind::Vae1,
                        crate::insn::TlbiKind::Aside1,
                        crate::insn::TlbiKind::Vaae1,
                        crate::insn::TlbiKind::Vale1,
                        crate::insn::TlbiKind::Vaale1,
                    ]);
                    let op = crate::insn::tlbi_op(kind, xt);
                    w.trap(|s, hw, _| s.tlbi(hw, op));
                }
            }
            w.hw.check_coherent();
            w.s.check(&w.hw).unwrap();
        }
        eprintln!("seed {seed}: {:?}", w.s.stats());
    }
}

/// The store decoder against encodings from an assembler (llvm-mc): what the hypervisor
/// writes is what the CPU would have written, and everything else is refused.
#[test]
fn stores_decode_as_the_cpu_executes_them() {
    use crate::insn::{Store, decode_store};
    let x = |r: u8| 0x1000 * u64::from(r) + 0x40_0000_0000;
    let sp = 0x40_0003_fff0;
    // (encoding, address, writeback, values)
    type Case = (u32, u64, Option<u64>, [Option<(u64, u8)>; 2]);
    let cases: [Case; 15] = [
        // str x1, [x2, #8]
        (0xf9000441, x(2) + 8, None, [Some((x(1), 8)), None]),
        // strb w1, [sp, #3]
        (0x39000fe1, sp + 3, None, [Some((x(1) & 0xff, 1)), None]),
        // stur x1, [x2, #-8]
        (0xf81f8041, x(2) - 8, None, [Some((x(1), 8)), None]),
        // str x1, [x2, #16]!
        (
            0xf8010c41,
            x(2) + 16,
            Some(x(2) + 16),
            [Some((x(1), 8)), None],
        ),
        // str x1, [x2], #-16
        (0xf81f0441, x(2), Some(x(2) - 16), [Some((x(1), 8)), None]),
        // str x1, [x2, w3, sxtw #3]
        (
            0xf823d841,
            x(2).wrapping_add((x(3) as u32 as i32 as i64 as u64) << 3),
            None,
            [Some((x(1), 8)), None],
        ),
        // str x1, [x2, x3, lsl #3]
        (
            0xf8237841,
            x(2) + (x(3) << 3),
            None,
            [Some((x(1), 8)), None],
        ),
        // str w1, [x2, w3, uxtw]
        (
            0xb8234841,
            x(2) + (x(3) & 0xFFFF_FFFF),
            None,
            [Some((x(1) & 0xFFFF_FFFF, 4)), None],
        ),
        // strh w1, [x2, x3]
        (
            0x78236841,
            x(2) + x(3),
            None,
            [Some((x(1) & 0xFFFF, 2)), None],
        ),
        // stp x1, x2, [sp, #-16]!
        (
            0xa9bf0be1,
            sp - 16,
            Some(sp - 16),
            [Some((x(1), 8)), Some((x(2), 8))],
        ),
        // stp w1, w2, [x3], #8
        (
            0x28810861,
            x(3),
            Some(x(3) + 8),
            [Some((x(1) & 0xFFFF_FFFF, 4)), Some((x(2) & 0xFFFF_FFFF, 4))],
        ),
        // stnp x1, x2, [x3, #16]
        (
            0xa8010861,
            x(3) + 16,
            None,
            [Some((x(1), 8)), Some((x(2), 8))],
        ),
        // stlr x1, [x2]
        (0xc89ffc41, x(2), None, [Some((x(1), 8)), None]),
        // stlrb w1, [sp]
        (0x089fffe1, sp, None, [Some((x(1) & 0xFF, 1)), None]),
        // sttr x1, [x2, #8]
        (0xf8008841, x(2) + 8, None, [Some((x(1), 8)), None]),
    ];
    for (insn, addr, wb, vals) in cases {
        let st: Store = decode_store(insn).unwrap_or_else(|| panic!("{insn:#x} not decoded"));
        assert_eq!(st.address(x, sp), (addr, wb), "{insn:#x}: {st:?}");
        assert_eq!(st.values(x), vals, "{insn:#x}: {st:?}");
    }
    // stgp, stlur, stxr, stllr, st64b, stadd, swp, ldr x1, [x2], ldp, str q0: not stores
    // the emulation may replay.
    for insn in [
        0x69008861u32,
        0xd9008041,
        0xc8037c41,
        0xc89f7c41,
        0xf83f9020,
        0xf821005f,
        0xf8218062,
        0xf9400441,
        0xa9400be1,
        0x3d800040,
    ] {
        assert_eq!(decode_store(insn), None, "{insn:#x}");
    }
}

/// A `Space` whose `reset` failed (the hypervisor logs the error and runs the lwVM
/// anyway) has no roots and no pool: turning paging on must be refused, not panic in
/// `hw_ttbr` ("roots >= 1") on the lwVM's `MSR SCTLR_EL1`.
#[test]
fn paging_on_without_a_layout_is_refused_not_a_panic() {
    let mut s = Box::new(S::new());
    let mut m = Mem::new(4);
    assert!(
        s.reset(layout(2, 1)).is_err(),
        "a pool of 2 pages is refused"
    );
    s.write_reg(&mut m, VReg::Tcr, TCR).unwrap();
    s.write_reg(&mut m, VReg::Ttbr0, ttbr(own(3), 1)).unwrap();
    assert!(s.write_reg(&mut m, VReg::Sctlr, 1).is_err());
    assert_eq!(s.hw_ttbr(&mut m), None);
    assert!(s.fault(&mut m, own(0), Access::Read).is_err());
}

/// Own pages are numbered in u16 with u16::MAX meaning "none": a layout with 65535 or
/// more own pages would alias page 65535 with "not own memory" (a live table there never
/// watched, so mapped writable) and wrap the numbering beyond. `reset` must refuse it.
#[test]
fn own_memory_beyond_the_u16_numbering_is_refused() {
    static BIG: [Grant; 1] = [Grant {
        gpa: OWN_GPA,
        pa: OWN_PA,
        size: 65536 << 12,
        writable: true,
        exec: true,
        cached: true,
        tables: true,
    }];
    let mut s = Box::new(Space::<8, 65536>::new());
    let l = Layout {
        grants: &BIG,
        ..layout(8, 1)
    };
    assert!(s.reset(l).is_err());
}
