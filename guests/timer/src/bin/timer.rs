//! `timer`: once spinning (IRQs unmasked, no WFI: delivery alone), then ten times, arms the EL1 virtual timer 10 ms ahead, sleeps (WFI) and checks
//! that the wake-up came from INTID 27 with CNTV_CTL_EL0.ISTATUS set and that
//! CNTVCT_EL0 advanced by at least the delay.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
    use guest_rt::{gic, irq, println, result, result::check, timer};

    const ROUNDS: u32 = 10;
    const DELAY_US: u64 = 10_000;

    static FIRED: AtomicU32 = AtomicU32::new(0);
    static OTHER: AtomicU32 = AtomicU32::new(0);
    static AT: AtomicU64 = AtomicU64::new(0);
    static ISTATUS: AtomicU32 = AtomicU32::new(0);

    fn on_irq(intid: u32) {
        irq::record(intid);
        if intid == timer::INTID {
            let now = timer::now();
            if timer::ctl() & timer::CTL_ISTATUS != 0 {
                ISTATUS.store(ISTATUS.load(Ordering::Relaxed) + 1, Ordering::SeqCst);
            }
            AT.store(now, Ordering::SeqCst);
            // Level-sensitive: silence the source before the EOI.
            timer::disable();
            FIRED.store(FIRED.load(Ordering::Relaxed) + 1, Ordering::SeqCst);
        } else {
            OTHER.store(OTHER.load(Ordering::Relaxed) + 1, Ordering::SeqCst);
        }
    }

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        irq::set_handler(on_irq);
        gic::configure(timer::INTID, 0x80);
        let freq = timer::frequency();
        println!("timer: CNTFRQ_EL0 = {freq}");
        check(freq != 0, "cntfrq-zero");
        let delay = timer::us_to_ticks(DELAY_US);
        // Round 0 spins (IRQs unmasked) instead of sleeping: delivery without WFI.
        let cval = timer::now() + delay;
        timer::arm_at(cval);
        guest_rt::arch::irq_unmask();
        let got = timer::spin_until(delay * 10, || irq::count(timer::INTID) >= 1);
        guest_rt::arch::irq_mask();
        println!("timer: spin round CNTV_CTL_EL0 = {:#x}", timer::ctl());
        result!("timer-spin-irq", "{}", if got { "yes" } else { "no" });
        check(got, "timer-irq-not-delivered");
        if !got {
            guest_rt::result::finish();
        }
        let mut early = 0;
        for i in 2..=ROUNDS + 1 {
            let start = timer::now();
            let cval = start + delay;
            timer::arm_at(cval);
            irq::wait_count(timer::INTID, i);
            let at = AT.load(Ordering::SeqCst);
            if at < cval || at - start < delay {
                early += 1;
            }
        }
        result!("timer-irqs", "{}", FIRED.load(Ordering::SeqCst) - 1);
        result!("timer-early", "{early}");
        result!(
            "timer-istatus",
            "{}",
            ISTATUS.load(Ordering::SeqCst).saturating_sub(1)
        );
        result!("other-irqs", "{}", OTHER.load(Ordering::SeqCst));
        check(
            FIRED.load(Ordering::SeqCst) == ROUNDS + 1,
            "timer-irq-count",
        );
        check(early == 0, "timer-fired-early");
        check(
            ISTATUS.load(Ordering::SeqCst) == ROUNDS + 1,
            "istatus-not-set",
        );
        check(OTHER.load(Ordering::SeqCst) == 0, "unexpected-irq");
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this guest runs under the hypervisor: use `cargo xtask run --system timer`");
}
