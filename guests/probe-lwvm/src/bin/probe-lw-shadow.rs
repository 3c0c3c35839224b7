//! `probe-lw-shadow`: what memory management costs a shadow-paged lwVM (`paging =
//! "shadow"`, docs/SHADOW.md) — `probe-mmu` (guests/probe-bench, a full VM under nested
//! paging) as an lwVM program, metric by metric with the same names, ids and operations
//! (experiment `shadow-paging`, variant `shadow`).
//!
//! The program builds its tables with the SDK (`lwvm_sdk::mmu`): its own memory flat
//! (2 MiB blocks, global), `PAGES` test pages from [`T`] on mapping one frame (nG, ASID
//! 1), a second address space (ASID 2) with its memory only. What each metric costs here:
//! - `pf_round_trip`: the load of an unmapped VA traps, the hypervisor walks the guest's
//!   tables and enters the FAULT_HANDLER upcall (the SDK's probe handler), which returns
//!   to the probe's caller;
//! - `as_switch`: `MSR TTBR0_EL1` traps (emulated; a cached shadow root), ISB;
//! - `map_change`: each table store traps (the page is read-only in the shadow) and is
//!   emulated, the TLBI traps, the load through the new entry is a shadow fill;
//! - `touch_first_N`: TLBI VMALLE1 drops the shadow, so each page's first load is a
//!   shadow fill (per page);
//! - `touch_again_256`: the pages are in the shadow: no trap;
//! - `hypercall`: INFO, the lwVM's system call (SVC);
//! - `clock_overhead`: two back-to-back stamps.
//!
//! Stamps are PMCCNTR_EL0 reads at EL0: `probe-pmu-host`, a full VM of higher priority
//! on the same CPU with `pmu = "shared"`, enables the counter and PMUSERENR_EL0 and
//! sleeps until this program raises its channel at the end. Output in the probes'
//! format; under the telemetry image the samples and phases are also markers.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod lw {
    use core::arch::{asm, global_asm};
    use core::ptr::{read_volatile, write_volatile};
    use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    use lwvm_sdk::mmu::probe::{self, Class};
    use lwvm_sdk::mmu::{self, PagePool, PageSource, Tables, desc};
    use lwvm_sdk::{Boot, println, sys};

    const T: u64 = 0x50_0000_0000;
    const PAGES: u64 = 4096;
    const HOLE: u64 = T + PAGES * 4096;

    use lwvm_sdk::build_number as parse;
    /// Samples a metric keeps (the lwVM's memory holds nine such buffers).
    const CAP: usize = 4096;
    const ITERS: usize = {
        let n = parse(option_env!("PROBE_ITERS"), 1000);
        if n > CAP {
            CAP
        } else if n == 0 {
            1
        } else {
            n
        }
    };
    const WARMUP: usize = parse(option_env!("PROBE_WARMUP"), 16);
    const QUIET: bool = option_env!("PROBE_QUIET").is_some();
    /// As in probe-mmu: `touch_first_4096` runs fewer rounds (4096 fills each).
    const BIG_ITERS: usize = if ITERS < 20 { ITERS } else { 20 };
    const BIG_WARMUP: usize = if WARMUP < 1 { WARMUP } else { 1 };

    /// Marker ids of the probes (guests/probe-bench/src/lib.rs).
    const MARKER_BEGIN: u16 = 1;
    const MARKER_END: u16 = 2;
    const MARKER_SAMPLE: u16 = 0x100;

    static TABLES: PagePool<16> = PagePool::new();
    static FRAME: PagePool<1> = PagePool::new();

    struct Samples {
        name: &'static str,
        buf: [AtomicU64; CAP],
        n: AtomicUsize,
    }

    impl Samples {
        const fn new(name: &'static str) -> Self {
            Samples {
                name,
                buf: [const { AtomicU64::new(0) }; CAP],
                n: AtomicUsize::new(0),
            }
        }
        fn push(&self, v: u64) {
            let n = self.n.load(Ordering::Relaxed);
            if n < CAP {
                self.buf[n].store(v, Ordering::Relaxed);
                self.n.store(n + 1, Ordering::Relaxed);
            }
        }
        fn len(&self) -> usize {
            self.n.load(Ordering::Relaxed)
        }
        fn get(&self, i: usize) -> u64 {
            self.buf[i].load(Ordering::Relaxed)
        }
    }

    static PF: Samples = Samples::new("pf_round_trip");
    static SWITCH: Samples = Samples::new("as_switch");
    static MAP: Samples = Samples::new("map_change");
    static T16: Samples = Samples::new("touch_first_16");
    static T256: Samples = Samples::new("touch_first_256");
    static T4096: Samples = Samples::new("touch_first_4096");
    static AGAIN: Samples = Samples::new("touch_again_256");
    static HVC: Samples = Samples::new("hypercall");
    static OVERHEAD: Samples = Samples::new("clock_overhead");

    unsafe extern "C" {
        fn probe_lw_sweep(va: u64, n: u64) -> u64;
    }

    // The timed sweep of probe-mmu: both stamps in one 64-byte block, so that no code
    // page is filled inside the window (TLBI VMALLE1 dropped the code's shadow too).
    global_asm!(
        r#"
        .pushsection .text.probe_lw_sweep, "ax"
        .balign 64
        .global probe_lw_sweep
    probe_lw_sweep:
        isb
        mrs x2, pmccntr_el0
    1:  ldr x3, [x0]
        add x0, x0, #4096
        subs x1, x1, #1
        b.ne 1b
        isb
        mrs x3, pmccntr_el0
        sub x0, x3, x2
        ret
        .popsection
    "#
    );

    #[inline(always)]
    fn now() -> u64 {
        let v: u64;
        // SAFETY: reading the cycle counter (EL0 access granted by PMUSERENR_EL0) has no
        // side effect.
        unsafe { asm!("isb", "mrs {}, pmccntr_el0", out(reg) v, options(nomem, nostack)) };
        v
    }

    fn clock_overhead() -> u64 {
        let mut best = u64::MAX;
        for _ in 0..64 {
            let t0 = now();
            let t1 = now();
            best = best.min(t1.wrapping_sub(t0));
        }
        best
    }

    fn timed(id: u16, s: &Samples, rounds: usize, warmup: usize, mut f: impl FnMut(usize) -> u64) {
        sys::marker(MARKER_BEGIN, u64::from(id));
        for r in 0..rounds {
            let v = f(r);
            if r >= warmup {
                s.push(v);
            }
        }
        sys::marker(MARKER_END, u64::from(id));
    }

    fn sweep(s: &Samples, id: u16, n: u64, flush: bool, rounds: usize, warmup: usize, ovh: u64) {
        timed(id, s, rounds, warmup, |_| {
            if flush {
                mmu::tlbi_vmalle1();
                mmu::dsb();
                mmu::isb();
            }
            // SAFETY: the test pages map one frame and are only read; a missing shadow
            // entry is filled by the hypervisor, transparently.
            let t = unsafe { probe_lw_sweep(T, n) };
            t.saturating_sub(ovh) / n
        });
    }

    fn report(id: u16, s: &Samples) {
        if QUIET {
            return;
        }
        let n = s.len();
        println!("METRIC {id} {} {n}", s.name);
        let mut i = 0;
        while i < n {
            let end = (i + 16).min(n);
            let mut line = [0u8; 400];
            let mut len = 0;
            let mut put = |b: &[u8]| {
                for &c in b {
                    if len < line.len() {
                        line[len] = c;
                        len += 1;
                    }
                }
            };
            put(b"SAMPLES ");
            put(&[b'0' + id as u8]);
            for k in i..end {
                let mut d = [0u8; 20];
                let (mut v, mut j) = (s.get(k), 20);
                loop {
                    j -= 1;
                    d[j] = b'0' + (v % 10) as u8;
                    v /= 10;
                    if v == 0 {
                        break;
                    }
                }
                put(b" ");
                put(&d[j..]);
            }
            println!("{}", core::str::from_utf8(&line[..len]).unwrap_or(""));
            i = end;
        }
        for k in 0..n {
            sys::marker(MARKER_SAMPLE + id, s.get(k));
        }
    }

    fn fail(why: &str) -> ! {
        println!("RESULT status fail {why}");
        sys::exit(1)
    }

    fn main(_boot: Boot) {
        let info = sys::info();
        if probe::install_probe_handler().is_err() {
            fail("no-fault-handler");
        }
        let frame = FRAME.alloc().expect("frame");
        let rw = desc::RW | desc::NG;
        let mut a = Tables::new(&TABLES, 1).expect("root");
        let mut b = Tables::new(&TABLES, 2).expect("root");
        for t in [&mut a, &mut b] {
            let mut va = info.mem_va;
            while va < info.mem_va + info.mem_size {
                if va % mmu::BLOCK_2M == 0 && va + mmu::BLOCK_2M <= info.mem_va + info.mem_size {
                    t.map_block(va, va, desc::RWX).expect("flat block");
                    va += mmu::BLOCK_2M;
                } else {
                    t.map_page(va, va, desc::RWX).expect("flat page");
                    va += mmu::PAGE_SIZE;
                }
            }
        }
        for p in 0..PAGES {
            a.map_page(T + p * 4096, frame, rw).expect("test page");
        }
        let pte = a.entry(T, 3).expect("test entry");
        let d = frame | rw | desc::PAGE;
        mmu::dsb_st();
        mmu::enable(a.ttbr());
        let (ta, tb) = (a.ttbr(), b.ttbr());

        println!("PROBE probe-lw-shadow hv iters={ITERS} warmup={WARMUP}");
        let ovh = clock_overhead();
        OVERHEAD.push(ovh);

        match probe::read_u64(HOLE) {
            Err(s) if Class::of(s) == Class::Translation(2) => {}
            _ => fail("pf-probe-did-not-fault"),
        }
        let rounds = WARMUP + ITERS;
        timed(0, &PF, rounds, WARMUP, |_| {
            let t0 = now();
            let r = probe::read_u64(HOLE);
            let t1 = now();
            core::hint::black_box(r.is_err());
            t1.wrapping_sub(t0).saturating_sub(ovh)
        });

        // Both roots in the shadow's root cache before timing.
        mmu::switch_to(tb);
        mmu::switch_to(ta);
        timed(1, &SWITCH, rounds, WARMUP, |r| {
            let v = if r % 2 == 0 { tb } else { ta };
            let t0 = now();
            mmu::switch_to(v);
            let t1 = now();
            t1.wrapping_sub(t0).saturating_sub(ovh)
        });
        mmu::switch_to(ta);

        timed(2, &MAP, rounds, WARMUP, |_| {
            let t0 = now();
            // SAFETY: break-before-make of the first test page's entry (a table page of
            // the pool, reached flat), then a load through the new entry (the frame).
            unsafe {
                write_volatile(pte, 0);
                mmu::dsb_st();
                mmu::tlbi_vae1(T, 1);
                mmu::dsb();
                write_volatile(pte, d);
                mmu::dsb_st();
                mmu::isb();
                core::hint::black_box(read_volatile(T as *const u64));
            }
            let t1 = now();
            t1.wrapping_sub(t0).saturating_sub(ovh)
        });

        sweep(&T16, 3, 16, true, rounds, WARMUP, ovh);
        sweep(&T256, 4, 256, true, rounds, WARMUP, ovh);
        sweep(&AGAIN, 6, 256, false, rounds, WARMUP, ovh);
        sweep(
            &T4096,
            5,
            4096,
            true,
            BIG_ITERS + BIG_WARMUP,
            BIG_WARMUP,
            ovh,
        );

        timed(7, &HVC, rounds, WARMUP, |_| {
            let t0 = now();
            core::hint::black_box(sys::info());
            let t1 = now();
            t1.wrapping_sub(t0).saturating_sub(ovh)
        });

        for (id, s) in [
            (0, &PF),
            (1, &SWITCH),
            (2, &MAP),
            (3, &T16),
            (4, &T256),
            (5, &T4096),
            (6, &AGAIN),
            (7, &HVC),
            (8, &OVERHEAD),
        ] {
            report(id, s);
        }
        println!("RESULT status pass");
        // Tell the PMU host (the full VM) that the measurement is over: it powers off.
        let (out, _) = sys::channels();
        if out != 0 {
            sys::raise(u64::from(out.trailing_zeros()));
        }
        sys::exit(0)
    }
    lwvm_sdk::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("a probe lwVM: use `cargo xtask experiment shadow-paging`");
}
