//! `probe-mmio`: a trapped MMIO access — 32-bit reads of the console UART's flag register
//! (PL011 UARTFR at 0x0900_0018), which the hypervisor emulates (its page is not mapped in
//! stage 2). Natively the same read reaches QEMU's PL011 directly.
//! `mmio_uart_fr_read` = stamps around one read, minus the cost of two stamps.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use core::ptr::read_volatile;

    use guest_probe_bench::{self as p, Samples, pmu};

    const UARTFR: usize = 0x0900_0018;

    static FR: Samples = Samples::new("mmio_uart_fr_read");

    fn main() -> ! {
        p::detect();
        pmu::enable();
        p::header("probe-mmio");
        let ovh = p::clock_overhead();
        p::phase_begin(0);
        for r in 0..p::rounds() {
            let t0 = pmu::now();
            // SAFETY: the board's PL011 as the guest sees it; a device read.
            let _ = unsafe { read_volatile(UARTFR as *const u32) };
            let t1 = pmu::now();
            FR.round(r, t1.wrapping_sub(t0).saturating_sub(ovh));
        }
        p::phase_end(0);
        p::report(0, &FR);
        guest_rt::result::pass()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("a probe guest: use `cargo xtask experiment mmio`");
}
