//! `pmu-attacker`: runs on physical CPU 0 after `pmu-victim` (lower priority) has
//! programmed its PMU and gone to sleep. First thing, it reads every PMU register and
//! reports whether it holds the victim's set-up (`LEAKED`) or its own reset state
//! (`clean`: all zero). Then it runs a loop the victim's counters would see if they kept
//! counting, writes its own pattern, raises "go" so the victim runs, and when the
//! victim's "done" (INTID 101) wakes it, checks its own set-up came back. Last, its own
//! PMU's overflow interrupt (PPI 23): five overflows of a cycle counter, each delivered
//! once, none without an overflow behind it.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[path = "../pmustate.rs"]
mod pmustate;

#[cfg(target_os = "none")]
mod guest {
    use core::sync::atomic::{AtomicU32, Ordering};

    use super::pmustate;
    use guest_rt::{gic, hypercall, irq, println, result, result::check};

    const DONE: u32 = 101;
    /// The PMU overflow interrupt (the board's PPI 23).
    const PMU_IRQ: u32 = 23;
    /// Counter 0 restarts here: an overflow every 65,536 cycles.
    const START: u64 = 0xffff_0000;
    /// Overflows to take; the handler stops the counter at the last one, so a vCPU the
    /// host holds up between the wait and `disarm` cannot see one more.
    const OVERFLOWS: u32 = 5;
    static SPURIOUS: AtomicU32 = AtomicU32::new(0);

    /// IRQ hook: a PMU interrupt counts when counter 0 did overflow (the handler clears
    /// it); one without an overflow is spurious.
    fn on_irq(intid: u32) {
        if intid != PMU_IRQ {
            irq::record(intid);
        } else if pmustate::take_overflow(START) {
            irq::record(intid);
            if irq::count(PMU_IRQ) >= OVERFLOWS {
                pmustate::disarm();
            }
        } else {
            SPURIOUS.fetch_add(1, Ordering::Relaxed);
        }
    }
    const GO_CHANNEL: u64 = 0;
    const VICTIM: u64 = 0x5a;
    const ATTACKER: u64 = 0xa7;

    fn main() -> ! {
        let first = pmustate::read();
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(DONE, 0x80);
        let n = pmustate::counters();
        let victim = pmustate::pattern(VICTIM);
        // The victim's set-up, or its counts (they start at VICTIM << 16 and grow slowly).
        let leaked = (0..n)
            .any(|i| first.evtyper[i] == victim.evtyper[i] || first.evcntr[i] >> 16 == VICTIM)
            || first.cnten == victim.cnten
            || first.userenr == victim.userenr
            || first.ccfiltr == victim.ccfiltr
            || first.ccntr >> 20 == VICTIM;
        let zero = first.pmcr & 1 == 0
            && first.cnten == 0
            && first.inten == 0
            && first.ovs == 0
            && first.selr == 0
            && first.userenr == 0
            && first.ccfiltr == 0
            && first.ccntr == 0
            && first.evtyper.iter().chain(&first.evcntr).all(|&v| v == 0);
        if !zero {
            println!("pmu-attacker: found {first:x?}");
        }
        result!("pmu-regs", "{}", if leaked { "LEAKED" } else { "clean" });
        result!("pmu-reset-state", "{}", if zero { "yes" } else { "no" });
        check(!leaked, "victim-pmu-leaked");
        check(zero, "pmu-not-reset");

        // Work the victim's counters would count if they ran while it does not, timed
        // with this VM's own cycle counter.
        pmustate::write(&pmustate::Pmu {
            pmcr: 1,
            cnten: 1 << 31,
            ..first
        });
        let start = pmustate::read().ccntr;
        let mut x: u64 = 1;
        for i in 0..2_000_000u64 {
            x = core::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
        }
        result!("loop-cycles", "{}", pmustate::read().ccntr - start);
        pmustate::write(&pmustate::pattern(ATTACKER));
        let mine = pmustate::setup(&pmustate::read());
        check(hypercall::virq_raise(GO_CHANNEL) == 0, "virq-raise-failed");
        irq::wait_count(DONE, 1);
        let back = pmustate::setup(&pmustate::read());
        let kept = back == mine;
        if !kept {
            println!("pmu-attacker: wrote {mine:x?}\npmu-attacker: read  {back:x?}");
        }
        result!("attacker-pmu-kept", "{}", if kept { "yes" } else { "no" });
        check(kept, "attacker-pmu-changed");
        println!("pmu-attacker: loop result {x:#x}");

        gic::configure(PMU_IRQ, 0x80);
        irq::set_handler(on_irq);
        pmustate::arm_overflow(START);
        // Busy, not WFI: the PMU counts only while the vCPU runs (a waiting vCPU's is saved
        // and stopped). Bounded: 5 overflows take ~330,000 cycles; a lost interrupt ends
        // the wait with fewer.
        let mut spins = 0u64;
        while irq::count(PMU_IRQ) < OVERFLOWS && spins < 50_000_000 {
            spins = core::hint::black_box(spins + 1);
        }
        pmustate::disarm();
        result!("pmu-overflow-irqs", "{}", irq::count(PMU_IRQ));
        let spurious = SPURIOUS.load(Ordering::Relaxed);
        result!("pmu-spurious-irqs", "{}", spurious);
        check(spurious == 0, "pmu-irq-without-overflow");
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this guest runs under the hypervisor: use `cargo xtask run --system pmu-same-cpu`");
}
