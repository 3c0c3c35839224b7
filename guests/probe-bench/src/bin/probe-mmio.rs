//! `probe-mmio`: trapped MMIO accesses, 32-bit reads of two registers the hypervisor
//! emulates (their pages are not mapped in stage 2); natively the same reads reach QEMU's
//! devices directly. Each metric = stamps around one read, minus the cost of two stamps.
//! - `mmio_uart_fr_read`: the console UART's flag register (PL011 UARTFR, 0x0900_0018);
//! - `mmio_gicd_typer_read`: the distributor's GICD_TYPER (0x0800_0004), answered by the
//!   vGIC's distributor model (a constant of the VM's configuration).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use core::ptr::read_volatile;

    use guest_probe_bench::{self as p, Samples, pmu};
    use guest_rt::gic;

    const UARTFR: usize = 0x0900_0018;

    static FR: Samples = Samples::new("mmio_uart_fr_read");
    static TYPER: Samples = Samples::new("mmio_gicd_typer_read");

    /// Times `rounds()` 32-bit reads of `addr` as metric `id`.
    fn timed(id: u64, s: &Samples, addr: usize, ovh: u64) {
        p::phase_begin(id);
        for r in 0..p::rounds() {
            let t0 = pmu::now();
            // SAFETY: a device register of the board as the guest sees it (the PL011, the
            // GIC distributor); reading it has no side effect.
            let _ = unsafe { read_volatile(addr as *const u32) };
            let t1 = pmu::now();
            s.round(r, t1.wrapping_sub(t0).saturating_sub(ovh));
        }
        p::phase_end(id);
    }

    fn main() -> ! {
        p::detect();
        pmu::enable();
        p::header("probe-mmio");
        let ovh = p::clock_overhead();
        timed(0, &FR, UARTFR, ovh);
        timed(1, &TYPER, gic::GICD + gic::GICD_TYPER, ovh);
        p::report(0, &FR);
        p::report(1, &TYPER);
        guest_rt::result::pass()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("a probe guest: use `cargo xtask experiment mmio`");
}
