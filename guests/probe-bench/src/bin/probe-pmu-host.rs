//! `probe-pmu-host`: the full VM that lends an lwVM probe the cycle counter. An lwVM runs
//! at EL0 and cannot program the PMU; this VM (higher priority on the lwVM's CPU, `pmu =
//! "shared"`) enables PMCCNTR_EL0 with PMCCFILTR_EL0.NSH (counting at EL2 too) and sets
//! PMUSERENR_EL0.{EN,CR} (`pmu::enable`), then sleeps until the lwVM raises its channel
//! (SPI 101) and powers its VM off. It prints no `PROBE` line: the lwVM's figures are
//! the measurement.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_probe_bench::pmu;
    use guest_rt::{arch, gic};

    /// The channel from the lwVM (the systems give it this SPI).
    const DONE: u32 = 101;

    fn main() -> ! {
        pmu::enable();
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(DONE, 0x80);
        loop {
            arch::wfi();
            let id = gic::ack();
            if id < 1020 {
                gic::eoi(id);
            }
            if id == DONE {
                break;
            }
        }
        guest_rt::psci::system_off()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("a probe guest: use `cargo xtask experiment shadow-paging`");
}
