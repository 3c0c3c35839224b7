//! `probe-timer`: EL1 virtual timer interrupt latency, under the hypervisor and natively
//! (the same ELF boots from QEMU's `-kernel` at EL1 without `virtualization=on`).
//!
//! Each round arms CNTV_CVAL_EL0 `LEAD` ticks ahead; the IRQ handler stamps PMCCNTR
//! (aligned with the generic counter in ns, see `pmu::sync_to_counter`); the latency is
//! stamp − CVAL × ns-per-tick: from the moment the timer condition is met to the guest's
//! handler (after its vector, register save and ICC_IAR1 acknowledge).
//! - `timer_irq_busy`: the guest spins with IRQs unmasked (under the hypervisor the
//!   physical virtual-timer PPI traps to EL2 and is injected through a list register);
//! - `timer_irq_idle`: the guest sleeps in WFI (under the hypervisor the vCPU waits, the
//!   CPU idles on the EL2 timer armed for the guest's deadline).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

    use guest_probe_bench::{self as p, Samples, pmu};
    use guest_rt::{arch, gic, irq, timer};

    /// Ticks between arming and the deadline (16 µs at 62.5 MHz).
    const LEAD: u64 = 1000;

    static BUSY: Samples = Samples::new("timer_irq_busy");
    static IDLE: Samples = Samples::new("timer_irq_idle");
    static FIRED: AtomicU32 = AtomicU32::new(0);
    static AT: AtomicU64 = AtomicU64::new(0);
    static LATE: AtomicU32 = AtomicU32::new(0);

    fn on_irq(intid: u32) {
        let t = pmu::now();
        if intid == timer::INTID {
            // Level-sensitive: silence the source before the EOI.
            timer::disable();
            AT.store(t, Ordering::Relaxed);
            FIRED.store(FIRED.load(Ordering::Relaxed) + 1, Ordering::SeqCst);
        }
        irq::record(intid);
    }

    fn run(id: u64, s: &Samples, sleep: bool, ns_per_tick: u64) {
        p::phase_begin(id);
        for r in 0..p::rounds() {
            let f0 = FIRED.load(Ordering::SeqCst);
            let cval = pmu::cntvct() + LEAD;
            timer::arm_at(cval);
            if pmu::cntvct() >= cval {
                LATE.store(LATE.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            }
            if sleep {
                loop {
                    arch::irq_mask();
                    if FIRED.load(Ordering::SeqCst) != f0 {
                        arch::irq_unmask();
                        break;
                    }
                    arch::wfi();
                    arch::irq_unmask();
                }
            } else {
                arch::irq_unmask();
                while FIRED.load(Ordering::SeqCst) == f0 {}
            }
            arch::irq_mask();
            // Without icount the cycle counter's alignment with the generic counter is
            // only as good as host timing: a stamp "before" CVAL counts as 0.
            s.round(
                r,
                AT.load(Ordering::Relaxed)
                    .saturating_sub(cval * ns_per_tick),
            );
        }
        p::phase_end(id);
    }

    fn main() -> ! {
        p::detect();
        pmu::enable();
        p::header("probe-timer");
        gic::init_distributor();
        gic::init_cpu();
        irq::set_handler(on_irq);
        gic::configure(timer::INTID, 0x80);
        let ns_per_tick = 1_000_000_000 / timer::frequency();
        run(0, &BUSY, false, ns_per_tick);
        run(1, &IDLE, true, ns_per_tick);
        guest_rt::println!(
            "probe-timer: {} rounds armed too late",
            LATE.load(Ordering::Relaxed)
        );
        p::report(0, &BUSY);
        p::report(1, &IDLE);
        guest_rt::result::pass()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("a probe guest: use `cargo xtask experiment timer-latency`");
}
