//! `lw-mmu-tiny`: shadow paging with a pool too small for the working set (system
//! `shadow-tiny`: `shadow-pool = "16K"`, four table pages, one cached root). Two address
//! spaces (ASIDs 1 and 2) each map 64 pages spread over eight level-3 tables onto 16
//! data frames; every round writes and reads all of them in both spaces, space A remaps
//! all its pages (break-before-make) to other frames, and an unmapped page must still
//! fault. Nearly every access makes the hypervisor flush its pool and rebuild; the values
//! must be right all the same (checked against a model, and at the end through the flat
//! map). Prints `RESULT` lines and `RESULT status pass`, exit 0 (else 1).
//!
//! Layout: its memory (1 MiB) is one level-3 table's worth, and the test pages share its
//! level-1 entry, so any one instruction needs at most a root, a level-2 table and two
//! level-3 tables (code/stack and one data page) — what four pool pages hold.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[path = "../common/mmu_kit.rs"]
mod kit;

#[cfg(target_os = "none")]
mod lw {
    use lwvm_sdk::mmu::probe::{self, Class};
    use lwvm_sdk::mmu::{self, PagePool, PageSource, Tables, desc};
    use lwvm_sdk::{Boot, println, sys};

    use crate::kit::{Checks, map_own, publish, rd, read, write};

    const PAGES: usize = 64;
    const FRAMES_N: usize = 16;
    const ROUNDS: u64 = 16;
    /// Test page `p` is at level-2 index 1 + p / 8, level-3 index p % 8.
    const fn va(p: usize) -> u64 {
        mmu::WINDOW_BASE + (1 + (p / 8) as u64) * mmu::BLOCK_2M + (p % 8) as u64 * 4096
    }
    /// A page next to the mapped ones in level-3 table `k`, never mapped.
    const fn hole(k: u64) -> u64 {
        mmu::WINDOW_BASE + (1 + k % 8) * mmu::BLOCK_2M + 8 * 4096
    }

    static TABLES: PagePool<24> = PagePool::new();
    static FRAMES: PagePool<FRAMES_N> = PagePool::new();
    /// What each frame's first eight words should hold.
    static mut MODEL: [[u64; 8]; FRAMES_N] = [[0; 8]; FRAMES_N];

    fn model() -> &'static mut [[u64; 8]; FRAMES_N] {
        // SAFETY: one thread; only `main` uses it, through this one borrow at a time.
        unsafe { &mut *(&raw mut MODEL) }
    }

    /// Space A's frame and word of page `p` in round `r`: rotates every round.
    fn slot_a(p: usize, r: u64) -> (usize, usize) {
        ((p + r as usize) % FRAMES_N, p / FRAMES_N)
    }

    /// Space B's (fixed): other words than A's.
    fn slot_b(p: usize) -> (usize, usize) {
        ((p + 5) % FRAMES_N, 4 + p / FRAMES_N)
    }

    struct Tally {
        mismatches: u64,
        faults: u64,
    }

    /// Writes `tag` + page into every page of the current space, then reads them all back.
    fn touch_all(
        t: &mut Tally,
        f: &[u64; FRAMES_N],
        slot: &dyn Fn(usize) -> (usize, usize),
        tag: u64,
    ) {
        let m = model();
        for p in 0..PAGES {
            let (fr, w) = slot(p);
            let v = tag | p as u64;
            match write(va(p) + 8 * w as u64, v) {
                Ok(()) => m[fr][w] = v,
                Err(s) => {
                    t.faults += 1;
                    println!("write page {p}: {}", Class::of(s));
                }
            }
        }
        for p in 0..PAGES {
            let (fr, w) = slot(p);
            match read(va(p) + 8 * w as u64) {
                Ok(v) if v == m[fr][w] => {}
                Ok(v) => {
                    t.mismatches += 1;
                    println!(
                        "page {p} (frame {} word {w}): {v:#x}, want {:#x}",
                        f[fr], m[fr][w]
                    );
                }
                Err(s) => {
                    t.faults += 1;
                    println!("read page {p}: {}", Class::of(s));
                }
            }
        }
    }

    fn main(_boot: Boot) {
        let mut c = Checks::new();
        let info = sys::info();
        if let Err(e) = probe::install_probe_handler() {
            c.report("fault-handler", false, e);
            c.finish();
        }
        let f: [u64; FRAMES_N] = core::array::from_fn(|_| FRAMES.alloc().expect("frames"));
        let rw = desc::RW | desc::NG;
        let mut a = Tables::new(&TABLES, 1).expect("root A");
        let mut b = Tables::new(&TABLES, 2).expect("root B");
        for t in [&mut a, &mut b] {
            map_own(t, info.mem_va, info.mem_size, false).expect("flat map");
        }
        for p in 0..PAGES {
            let (fa, _) = slot_a(p, 0);
            a.map_page(va(p), f[fa], rw).unwrap();
            let (fb, _) = slot_b(p);
            b.map_page(va(p), f[fb], rw).unwrap();
        }
        mmu::enable(a.ttbr());

        let mut t = Tally {
            mismatches: 0,
            faults: 0,
        };
        let mut holes = 0;
        for r in 0..ROUNDS {
            if r > 0 {
                for p in 0..PAGES {
                    let (fa, _) = slot_a(p, r);
                    a.remap(va(p), 3, f[fa] | rw | desc::PAGE).unwrap();
                }
            }
            publish();
            touch_all(&mut t, &f, &|p| slot_a(p, r), 0xa << 60 | r << 32);
            if read(hole(r)).err().map(Class::of) == Some(Class::Translation(3)) {
                holes += 1;
            }
            mmu::switch_to(b.ttbr());
            touch_all(&mut t, &f, &slot_b, 0xb << 60 | r << 32);
            if read(hole(r + 3)).err().map(Class::of) == Some(Class::Translation(3)) {
                holes += 1;
            }
            mmu::switch_to(a.ttbr());
        }
        c.count("pages", PAGES as u64, 64);
        c.count("rounds", ROUNDS, 16);
        c.count("mismatches", t.mismatches, 0);
        c.count("probe-faults", t.faults, 0);
        c.count("unmapped-faults", holes, 2 * ROUNDS);
        let m = model();
        let flat_bad = (0..FRAMES_N)
            .flat_map(|fr| (0..8).map(move |w| (fr, w)))
            .filter(|&(fr, w)| rd(f[fr] + 8 * w as u64) != m[fr][w])
            .count();
        c.count("flat-mismatches", flat_bad as u64, 0);
        c.finish()
    }
    lwvm_sdk::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "this lwVM runs under the hypervisor: use `cargo xtask run --system shadow-tiny --features lwvm,shadow-paging`"
    );
}
