//! `ptimer`: sleeps on the EL1 physical timer (CNTP_*, PPI 30) ten times — armed through
//! CVAL and through TVAL in turn — and checks that each wake-up came from INTID 30 with
//! CNTP_CTL_EL0.ISTATUS set, not before the deadline, and that CNTP_CVAL_EL0 reads back
//! what was written. The delay is this VM's index + 1 milliseconds, so that two VMs
//! sharing a CPU run different schedules on the same hardware timer.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
    use guest_rt::{gic, hypercall, irq, println, ptimer, result, result::check, timer};

    const ROUNDS: u32 = 10;

    static FIRED: AtomicU32 = AtomicU32::new(0);
    static OTHER: AtomicU32 = AtomicU32::new(0);
    static AT: AtomicU64 = AtomicU64::new(0);
    static ISTATUS: AtomicU32 = AtomicU32::new(0);

    fn on_irq(intid: u32) {
        irq::record(intid);
        if intid == ptimer::INTID {
            AT.store(ptimer::now(), Ordering::SeqCst);
            if ptimer::ctl() & timer::CTL_ISTATUS != 0 {
                ISTATUS.fetch_add(1, Ordering::SeqCst);
            }
            // Level-sensitive: silence the source before the EOI.
            ptimer::disable();
            FIRED.fetch_add(1, Ordering::SeqCst);
        } else {
            OTHER.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        irq::set_handler(on_irq);
        gic::configure(ptimer::INTID, 0x80);
        let vm = hypercall::vm_info().map(|i| i.vm).unwrap_or(0);
        let delay = timer::us_to_ticks(1_000 * (vm + 1));
        println!("ptimer: vm {vm}, {delay} ticks per round");
        let (mut early, mut cval_ok) = (0, true);
        for i in 1..=ROUNDS {
            let start = ptimer::now();
            let deadline = start + delay;
            if i % 2 == 0 {
                ptimer::arm_at(deadline);
                cval_ok &= ptimer::cval() == deadline;
            } else {
                ptimer::arm_in(delay as u32);
            }
            irq::wait_count(ptimer::INTID, i);
            if AT.load(Ordering::SeqCst) < deadline {
                early += 1;
            }
        }
        let fired = FIRED.load(Ordering::SeqCst);
        result!("ptimer-irqs", "{fired}");
        result!("ptimer-early", "{early}");
        result!("ptimer-istatus", "{}", ISTATUS.load(Ordering::SeqCst));
        result!("ptimer-cval", "{}", if cval_ok { "ok" } else { "wrong" });
        result!("other-irqs", "{}", OTHER.load(Ordering::SeqCst));
        check(fired == ROUNDS, "ptimer-irq-count");
        check(early == 0, "ptimer-fired-early");
        check(ISTATUS.load(Ordering::SeqCst) == ROUNDS, "istatus-not-set");
        check(cval_ok, "cval-readback");
        check(OTHER.load(Ordering::SeqCst) == 0, "unexpected-irq");
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this guest runs under the hypervisor: use `cargo xtask run --system ptimer`");
}
