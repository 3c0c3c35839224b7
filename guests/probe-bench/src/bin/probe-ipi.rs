//! `probe-ipi`: vIPI round trip between two vCPUs of one VM on two physical CPUs.
//! vCPU 0 stamps t0 and sends SGI 1 to vCPU 1 (ICC_SGI1R_EL1, trapped and emulated);
//! vCPU 1's handler stamps its arrival and sends SGI 2 back; vCPU 0's handler stamps
//! the answer. `ipi_one_way` = arrival − t0 (stamps of two CPUs, aligned to the generic
//! counter), `ipi_round_trip` = answer − t0. vCPU 0 sleeps (WFI) while it waits, so that
//! under icount (which sums all CPUs) it adds few instructions of its own.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use core::sync::atomic::{AtomicU64, Ordering};

    use guest_probe_bench::{self as p, Samples, pmu};
    use guest_rt::{arch, gic, irq, smp};

    const SGI_PING: u32 = 1;
    const SGI_PONG: u32 = 2;

    static RT: Samples = Samples::new("ipi_round_trip");
    static ONE: Samples = Samples::new("ipi_one_way");
    static T_RX: AtomicU64 = AtomicU64::new(0);
    static T_BACK: AtomicU64 = AtomicU64::new(0);

    fn on_irq(intid: u32) {
        let t = pmu::now();
        match intid {
            SGI_PING => {
                T_RX.store(t, Ordering::SeqCst);
                gic::send_sgi(SGI_PONG, 0);
            }
            SGI_PONG => T_BACK.store(t, Ordering::SeqCst),
            _ => {}
        }
        irq::record(intid);
    }

    fn secondary(_index: usize) -> ! {
        pmu::enable();
        gic::init_cpu();
        gic::configure(SGI_PING, 0x80);
        // "Ready": the first SGI 2 (vCPU 0 sleeps until it arrives; spinning would starve
        // this CPU under -icount).
        gic::send_sgi(SGI_PONG, 0);
        arch::irq_unmask();
        loop {
            arch::wfi();
        }
    }

    fn main() -> ! {
        p::detect();
        pmu::enable();
        p::header("probe-ipi");
        gic::init_distributor();
        gic::init_cpu();
        irq::set_handler(on_irq);
        gic::configure(SGI_PONG, 0x80);
        if smp::start(1, secondary) != 0 {
            guest_rt::result::fail("cpu-on");
        }
        irq::wait_count(SGI_PONG, 1);
        p::phase_begin(0);
        for r in 0..p::rounds() {
            let t0 = pmu::now();
            gic::send_sgi(SGI_PING, 1);
            irq::wait_count(SGI_PONG, r as u32 + 2);
            RT.round(r, T_BACK.load(Ordering::SeqCst).wrapping_sub(t0));
            ONE.round(r, T_RX.load(Ordering::SeqCst).wrapping_sub(t0));
        }
        p::phase_end(0);
        p::report(0, &RT);
        p::report(1, &ONE);
        guest_rt::result::pass()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("a probe guest: use `cargo xtask experiment ipi`");
}
