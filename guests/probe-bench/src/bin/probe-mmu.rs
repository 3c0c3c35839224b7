//! `probe-mmu`: what memory management costs a full VM under nested paging — its own
//! stage-1 tables at EL1 over the hypervisor's stage 2 (experiment `shadow-paging`,
//! variant `nested`; `probe-lw-shadow` in guests/probe-lwvm is the same measurement in a
//! shadow-paged lwVM, metric by metric).
//!
//! The VM turns its MMU on with tables it builds like the lwVM's: 4 KiB granule, T0SZ =
//! 25 (39-bit VAs, walk from level 1), its RAM identity-mapped with 2 MiB blocks, the
//! first GiB (UART, GIC) as device memory, and `PAGES` test pages from [`T`] on, all
//! mapping one frame (nG, ASID 1). A second address space (ASID 2) maps RAM and devices
//! only.
//!
//! Metrics (PMCCNTR counts minus `clock_overhead`; under icount one count = one
//! instruction; ids and names shared with `probe-lw-shadow`):
//! - `pf_round_trip`: a load of an unmapped VA (translation fault at level 2) → the VM's
//!   own EL1 synchronous handler → back to the probe's caller (as the lwVM's SDK handler
//!   returns);
//! - `as_switch`: `MSR TTBR0_EL1` to the other address space + ISB, alternating;
//! - `map_change`: break-before-make of one live test PTE (invalid, DSB, TLBI VAE1, DSB,
//!   the new entry, DSB, ISB) and a load through it;
//! - `touch_first_16/256/4096`: after TLBI VMALLE1 (DSB, ISB), one load from each of `N`
//!   distinct test pages; the sample is the total over `N` (per page);
//! - `touch_again_256`: the same 256-page sweep with no TLBI before it (per page);
//! - `hypercall`: VM_INFO (HVC), the full VM's service call;
//! - `clock_overhead`: two back-to-back stamps (subtracted from the others).
//!
//! Under icount a hardware table walk costs no instructions, so the touch sweeps show
//! only the loads and the loop: nested paging's two-dimensional walk is invisible here
//! (docs/SHADOW.md, "Measured").
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use core::arch::{asm, global_asm};
    use core::ptr::{read_volatile, write_volatile};

    use guest_probe_bench::{self as p, ITERS, Samples, WARMUP, fid, pmu};

    /// First test VA (level-1 index 320: an L1 entry of its own, as in the lwVM).
    const T: u64 = 0x50_0000_0000;
    /// Test pages mapped (8 level-3 tables).
    const PAGES: u64 = 4096;
    /// An unmapped VA: level-2 index 8 of the test range has no table.
    const HOLE: u64 = T + PAGES * 4096;
    /// Rounds of `touch_first_4096` (each sweeps 4096 pages; the lwVM's costs a shadow
    /// fill per page, so it runs fewer rounds than the others).
    const BIG_ITERS: usize = if ITERS < 20 { ITERS } else { 20 };
    const BIG_WARMUP: usize = if WARMUP < 1 { WARMUP } else { 1 };

    const RAM: u64 = 0x4000_0000;
    const ASID_A: u64 = 1;
    const ASID_B: u64 = 2;

    // Descriptor bits (VMSAv8-64, stage 1, 4 KiB granule).
    const TABLE: u64 = 0b11;
    const BLOCK: u64 = 0b01;
    const PAGE: u64 = 0b11;
    const SH_INNER: u64 = 0b11 << 8;
    const AF: u64 = 1 << 10;
    const NG: u64 = 1 << 11;
    const PXN: u64 = 1 << 53;
    const UXN: u64 = 1 << 54;
    const OA_MASK: u64 = 0x0000_ffff_ffff_f000;
    /// Normal write-back (MAIR index 0), EL1 read/write/execute.
    const NORMAL: u64 = SH_INNER | AF | UXN;
    /// Device nGnRE (MAIR index 2), never executed.
    const DEVICE: u64 = (2 << 2) | AF | PXN | UXN;
    /// A test page: normal, EL1 read/write, not executable, tagged with the ASID.
    const TEST: u64 = SH_INNER | AF | NG | PXN | UXN;

    /// MAIR_EL1: 0xFF normal WB, 0x44 normal NC, 0x04 device nGnRE (the lwVM SDK's).
    const MAIR: u64 = 0xff | (0x44 << 8) | (0x04 << 16);
    /// TCR_EL1: T0SZ = 25, inner/outer WB, inner shareable, TG0 = 4 KiB, EPD1, IPS = 40
    /// bits, 8-bit ASIDs from TTBR0.
    const TCR: u64 = 25 | (0b01 << 8) | (0b01 << 10) | (0b11 << 12) | (1 << 23) | (0b010 << 32);

    static PF: Samples = Samples::new("pf_round_trip");
    static SWITCH: Samples = Samples::new("as_switch");
    static MAP: Samples = Samples::new("map_change");
    static T16: Samples = Samples::new("touch_first_16");
    static T256: Samples = Samples::new("touch_first_256");
    static T4096: Samples = Samples::new("touch_first_4096");
    static AGAIN: Samples = Samples::new("touch_again_256");
    static HVC: Samples = Samples::new("hypercall");
    static OVERHEAD: Samples = Samples::new("clock_overhead");

    /// One 4 KiB table page.
    #[repr(C, align(4096))]
    struct Page([u64; 512]);

    const POOL_PAGES: usize = 16;
    /// Table pages and the test frame (zero in `.bss`; handed out before the MMU is on).
    static mut POOL: [Page; POOL_PAGES] = [const { Page([0; 512]) }; POOL_PAGES];
    static mut USED: usize = 0;

    fn alloc() -> u64 {
        // SAFETY: one vCPU, before anything else reads the pool; the page is zero.
        unsafe {
            let i = USED;
            assert!(i < POOL_PAGES, "table pool used up");
            USED = i + 1;
            (&raw mut POOL[i]) as u64
        }
    }

    fn index(va: u64, level: u64) -> u64 {
        (va >> (39 - 9 * level)) & 511
    }

    fn entry(table: u64, va: u64, level: u64) -> *mut u64 {
        (table + 8 * index(va, level)) as *mut u64
    }

    /// `va`'s entry at `level` under `root`, making the tables above it.
    fn entry_alloc(root: u64, va: u64, level: u64) -> *mut u64 {
        let mut table = root;
        for l in 1..level {
            let e = entry(table, va, l);
            // SAFETY: `e` is an entry of a pool page (identity-mapped RAM).
            let d = unsafe { read_volatile(e) };
            table = if d & 1 == 0 {
                let t = alloc();
                // SAFETY: as above.
                unsafe { write_volatile(e, t | TABLE) };
                t
            } else {
                d & OA_MASK
            };
        }
        entry(table, va, level)
    }

    fn set(root: u64, va: u64, level: u64, d: u64) {
        // SAFETY: an entry of a pool page.
        unsafe { write_volatile(entry_alloc(root, va, level), d) };
    }

    unsafe extern "C" {
        static __image_end: u8;
        fn probe_mmu_read(va: u64) -> Ret;
        fn probe_mmu_sweep(va: u64, n: u64) -> u64;
        static probe_mmu_vectors: u8;
    }

    #[repr(C)]
    struct Ret {
        x0: u64,
        x1: u64,
    }

    // The probe load, the timed sweep and the vector table. A fault of the probe load
    // returns to the probe's caller with x0 = ESR_EL1, x1 = 1 (x0..x1 are a call's to
    // clobber) — what the lwVM SDK's handler does; every other exception goes on to the
    // runtime's vectors with all registers as they were.
    global_asm!(
        r#"
        .pushsection .text.probe_mmu, "ax"
        .balign 4
        .global probe_mmu_read
    probe_mmu_read:
        mov x1, x0
    probe_mmu_ld_insn:
        ldr x0, [x1]
        mov x1, #0
        ret

        // x0 = first VA, x1 = pages (>= 1) -> x0 = counts of the sweep, both stamps in
        // one 64-byte block (no page boundary inside the timed window).
        .balign 64
        .global probe_mmu_sweep
    probe_mmu_sweep:
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

        .macro pm_fwd off
        .balign 0x80
        b rt_vectors + \off
        .endm
        .macro pm_sync off
        .balign 0x80
        stp x0, x1, [sp, #-16]!
        mrs x0, elr_el1
        adr x1, probe_mmu_ld_insn
        cmp x0, x1
        b.ne 1f
        add sp, sp, #16
        mrs x0, esr_el1
        mov x1, #1
        msr elr_el1, x30
        eret
    1:  ldp x0, x1, [sp], #16
        b rt_vectors + \off
        .endm

        .balign 0x800
        .global probe_mmu_vectors
    probe_mmu_vectors:
        pm_sync 0x000
        pm_fwd 0x080
        pm_fwd 0x100
        pm_fwd 0x180
        pm_sync 0x200
        pm_fwd 0x280
        pm_fwd 0x300
        pm_fwd 0x380
        pm_fwd 0x400
        pm_fwd 0x480
        pm_fwd 0x500
        pm_fwd 0x580
        pm_fwd 0x600
        pm_fwd 0x680
        pm_fwd 0x700
        pm_fwd 0x780
        .popsection
    "#
    );

    fn ttbr(root: u64, asid: u64) -> u64 {
        root | (asid << 48)
    }

    fn set_ttbr0(v: u64) {
        // SAFETY: both address spaces map RAM and devices alike: the code and its data
        // stay where they are.
        unsafe { asm!("msr ttbr0_el1, {}", "isb", in(reg) v, options(nostack)) };
    }

    fn tlbi_all() {
        // SAFETY: TLB maintenance of this VM's stage 1.
        unsafe { asm!("tlbi vmalle1", "dsb ish", "isb", options(nostack)) };
    }

    /// Builds both address spaces, installs the probe vectors and turns the MMU on.
    fn mmu_on() -> (u64, u64, *mut u64, u64) {
        // SAFETY: a linker symbol; only its address is used.
        let end = unsafe { &raw const __image_end } as u64;
        let ram_end = (end + (2 << 20) - 1) & !((2 << 20) - 1);
        let a = alloc();
        let b = alloc();
        let frame = alloc();
        for root in [a, b] {
            set(root, 0, 1, DEVICE | BLOCK);
            let mut va = RAM;
            while va < ram_end {
                set(root, va, 2, va | NORMAL | BLOCK);
                va += 2 << 20;
            }
        }
        for i in 0..PAGES {
            set(a, T + i * 4096, 3, frame | TEST | PAGE);
        }
        let pte = entry_alloc(a, T, 3);
        // SAFETY: the tables map this program identity (RAM) and its devices; the
        // vector table forwards everything but the probe's own fault to the runtime's.
        unsafe {
            asm!(
                "msr vbar_el1, {vbar}",
                "msr mair_el1, {mair}",
                "msr tcr_el1, {tcr}",
                "msr ttbr0_el1, {ttbr}",
                "dsb ish",
                "isb",
                "tlbi vmalle1",
                "dsb ish",
                "isb",
                "mrs {t}, sctlr_el1",
                "orr {t}, {t}, #1",        // M
                "orr {t}, {t}, #4",        // C
                "orr {t}, {t}, #0x1000",   // I
                "msr sctlr_el1, {t}",
                "isb",
                vbar = in(reg) &raw const probe_mmu_vectors as u64,
                mair = in(reg) MAIR,
                tcr = in(reg) TCR,
                ttbr = in(reg) ttbr(a, ASID_A),
                t = out(reg) _,
                options(nostack),
            )
        };
        (ttbr(a, ASID_A), ttbr(b, ASID_B), pte, frame | TEST | PAGE)
    }

    fn timed(id: u64, s: &Samples, rounds: usize, warmup: usize, mut f: impl FnMut(usize) -> u64) {
        p::phase_begin(id);
        for r in 0..rounds {
            let v = f(r);
            if r >= warmup {
                s.push(v);
            }
        }
        p::phase_end(id);
    }

    fn sweep(s: &Samples, id: u64, n: u64, flush: bool, rounds: usize, warmup: usize, ovh: u64) {
        timed(id, s, rounds, warmup, |_| {
            if flush {
                tlbi_all();
            }
            // SAFETY: the test pages are mapped (to one frame) and only read.
            let t = unsafe { probe_mmu_sweep(T, n) };
            t.saturating_sub(ovh) / n
        });
    }

    fn main() -> ! {
        p::detect();
        pmu::enable();
        p::header("probe-mmu");
        let (ta, tb, pte, d) = mmu_on();
        let ovh = p::clock_overhead();
        OVERHEAD.push(ovh);

        // SAFETY: HOLE is unmapped: the probe load faults and the vector returns.
        let r = unsafe { probe_mmu_read(HOLE) };
        if r.x1 != 1 || (r.x0 >> 26) & 0x3f != 0x25 {
            guest_rt::result::fail("pf-probe-did-not-fault");
        }
        timed(0, &PF, p::rounds(), WARMUP, |_| {
            let t0 = pmu::now();
            // SAFETY: as above.
            let r = unsafe { probe_mmu_read(HOLE) };
            let t1 = pmu::now();
            core::hint::black_box(r.x1);
            t1.wrapping_sub(t0).saturating_sub(ovh)
        });

        timed(1, &SWITCH, p::rounds(), WARMUP, |r| {
            let v = if r % 2 == 0 { tb } else { ta };
            let t0 = pmu::now();
            set_ttbr0(v);
            let t1 = pmu::now();
            t1.wrapping_sub(t0).saturating_sub(ovh)
        });
        set_ttbr0(ta);

        let tlbi_arg = (ASID_A << 48) | (T >> 12);
        timed(2, &MAP, p::rounds(), WARMUP, |_| {
            let t0 = pmu::now();
            // SAFETY: break-before-make of the first test page's entry (a pool page),
            // then a load through the new entry (the frame).
            unsafe {
                write_volatile(pte, 0);
                asm!("dsb ishst", "tlbi vae1, {}", "dsb ish", in(reg) tlbi_arg, options(nostack));
                write_volatile(pte, d);
                asm!("dsb ishst", "isb", options(nostack));
                core::hint::black_box(read_volatile(T as *const u64));
            }
            let t1 = pmu::now();
            t1.wrapping_sub(t0).saturating_sub(ovh)
        });

        sweep(&T16, 3, 16, true, p::rounds(), WARMUP, ovh);
        sweep(&T256, 4, 256, true, p::rounds(), WARMUP, ovh);
        sweep(&AGAIN, 6, 256, false, p::rounds(), WARMUP, ovh);
        sweep(
            &T4096,
            5,
            4096,
            true,
            BIG_ITERS + BIG_WARMUP,
            BIG_WARMUP,
            ovh,
        );

        timed(7, &HVC, p::rounds(), WARMUP, |_| {
            let t0 = pmu::now();
            p::hvc3(fid::VM_INFO, 0, 0);
            let t1 = pmu::now();
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
            p::report(id, s);
        }
        guest_rt::result::pass()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("a probe guest: use `cargo xtask experiment shadow-paging`");
}
