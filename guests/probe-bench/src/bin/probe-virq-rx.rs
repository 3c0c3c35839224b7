//! `probe-virq-rx`: the receiver of the vIRQ delivery probe. Sleeps (WFI, IRQs
//! unmasked); its IRQ handler stamps the arrival: `virq_latency` = handler stamp − the
//! sender's stamp before its VIRQ_RAISE (shared page), i.e. hypercall, injection, switch
//! or cross-CPU kick, ERET, the guest's IRQ vector and acknowledge. Then it answers on
//! channel 1.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use core::sync::atomic::{AtomicUsize, Ordering};

    use guest_probe_bench::{self as p, Samples, fid, mbox, pmu};
    use guest_rt::{arch, gic, irq};

    const FROM_TX: u32 = 100;
    const TO_TX: u64 = 1;

    static LAT: Samples = Samples::new("virq_latency");
    static N: AtomicUsize = AtomicUsize::new(0);

    fn on_irq(intid: u32) {
        let t = pmu::now();
        irq::record(intid);
        if intid == FROM_TX {
            let r = N.load(Ordering::Relaxed);
            LAT.round(r, t.wrapping_sub(mbox::get(mbox::STAMP_A)));
            N.store(r + 1, Ordering::SeqCst);
            p::hvc3(fid::VIRQ_RAISE, TO_TX, 0);
        }
    }

    fn main() -> ! {
        p::detect();
        pmu::enable();
        gic::init_distributor();
        gic::init_cpu();
        irq::set_handler(on_irq);
        gic::configure(FROM_TX, 0x80);
        mbox::set(mbox::STOP, 0);
        mbox::set(mbox::READY, 1);
        arch::irq_unmask();
        while N.load(Ordering::SeqCst) < p::rounds() {
            arch::wfi();
        }
        arch::irq_mask();
        // Print only after the sender closed its timed phase (the console output would
        // fall into it otherwise).
        p::sleep_until(|| mbox::get(mbox::STOP) != 0);
        p::header("probe-virq-rx");
        p::report(0, &LAT);
        guest_rt::result::pass()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("a probe guest: use `cargo xtask experiment virq-local`");
}
