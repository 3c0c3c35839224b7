//! `lw-mmu-bench`: what shadow paging costs (system `shadow-bench`). Each measurement
//! runs `N` times between two counter reads and is reported as ticks per operation, as a
//! `RESULT` line and a telemetry marker (id = the measurement, value = total ticks of the
//! `N` operations, preceded by marker 0 with `N`):
//! 1 an emulated register read (`MRS SCTLR_EL1`, the cost of any trapped instruction);
//! 2 a page-fault round trip (probe of an unmapped page: the fault, the hypervisor's walk
//!   of the guest tables, entry into the handler, its return);
//! 3 an address-space switch (`MSR TTBR0_EL1` between two cached roots, ISB);
//! 4 the first touch of each of `PAGES` fresh pages (a shadow fill each);
//! 5 the second touch of the same pages (no trap);
//! 6 a break-before-make edit of a live entry (two emulated table stores, a TLBI).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[path = "../common/mmu_kit.rs"]
mod kit;

#[cfg(target_os = "none")]
mod lw {
    use lwvm_sdk::mmu::{self, PagePool, PageSource, Tables, desc, probe};
    use lwvm_sdk::{Boot, result, sys, time};

    use crate::kit::{map_own, publish, read};

    const N: u64 = 1000;
    const PAGES: u64 = 256;
    const T: u64 = 0x50_0000_0000;

    static TABLES: PagePool<16> = PagePool::new();
    static FRAME: PagePool<1> = PagePool::new();

    /// Ticks of `n` runs of `f`, reported under `id`/`key`.
    fn measure(id: u16, key: &str, n: u64, mut f: impl FnMut(u64)) {
        let t0 = time::counter();
        for i in 0..n {
            f(i);
        }
        let ticks = time::counter() - t0;
        sys::marker(0, n);
        sys::marker(id, ticks);
        result!(key, "{}.{:02} ticks", ticks / n, ticks % n * 100 / n);
    }

    fn main(_boot: Boot) {
        let info = sys::info();
        if probe::install_probe_handler().is_err() {
            result!("status", "fail no-fault-handler");
            sys::exit(1);
        }
        let frame = FRAME.alloc().expect("frame");
        let rw = desc::RW | desc::NG;
        let mut a = Tables::new(&TABLES, 1).expect("root");
        let mut b = Tables::new(&TABLES, 2).expect("root");
        map_own(&mut a, info.mem_va, info.mem_size, true).expect("flat map");
        map_own(&mut b, info.mem_va, info.mem_size, true).expect("flat map");
        for p in 0..PAGES {
            a.map_page(T + p * 4096, frame, rw).expect("page");
        }
        mmu::enable(a.ttbr());
        result!("counter-hz", "{}", time::counter_frequency());

        measure(1, "mrs-sctlr", N, |_| {
            core::hint::black_box(mmu::get_sctlr());
        });
        let hole = T + PAGES * 4096;
        measure(2, "fault-round-trip", N, |_| {
            let _ = core::hint::black_box(read(hole));
        });
        // Both roots built before timing the switches.
        mmu::switch_to(b.ttbr());
        mmu::switch_to(a.ttbr());
        measure(3, "ttbr-switch", N, |i| {
            mmu::switch_to(if i % 2 == 0 { b.ttbr() } else { a.ttbr() });
        });
        mmu::switch_to(a.ttbr());
        measure(4, "first-touch", PAGES, |p| {
            let _ = core::hint::black_box(read(T + p * 4096));
        });
        measure(5, "second-touch", PAGES, |p| {
            let _ = core::hint::black_box(read(T + p * 4096));
        });
        publish();
        measure(6, "bbm-edit", N, |_| {
            a.remap(T, 3, frame | rw | desc::PAGE).expect("remap");
        });
        result!("status", "pass");
        sys::exit(0)
    }
    lwvm_sdk::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "this lwVM runs under the hypervisor: use `cargo xtask run --system shadow-bench --features lwvm,shadow-paging`"
    );
}
