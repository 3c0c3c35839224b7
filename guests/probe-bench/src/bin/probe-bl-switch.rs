//! `probe-bl-switch`: what moving a vCPU between clusters costs (hypervisor feature
//! `big-little`). The probe's one vCPU may run on CPU 0 (big) or CPU 2 (LITTLE)
//! (boards/qemu-virt/systems/exp-bl-switch.toml); nothing else runs, so the destination
//! CPU is idle in WFI when a move starts — the hypervisor's kick wakes it.
//!
//! Measured (cycle-counter stamps around one `hvc #0`, aligned to the generic counter on
//! both CPUs, so a stamp taken on CPU 0 and one on CPU 2 compare; under `-icount` they
//! count the instructions of every CPU in between):
//! - `bl_move_down` / `bl_move_up`: BL_HINT that moves it big → LITTLE / LITTLE → big,
//!   from the stamp before the call on one CPU to the stamp after its return on the
//!   other: the trap, the decision, the park (EL1, timer, GIC interface and FP/SIMD state
//!   saved), the hand-over, the destination waking and loading it, the return;
//! - `bl_hint_stay`: BL_HINT when it is there already (the decision, no move);
//! - `bl_where`: BL_WHERE (an extension's call answered on the trap path);
//! - `bl_timer_during_move` / `bl_timer_no_move`: the vCPU's virtual timer is armed to
//!   come due `LEAD` ticks later (128 instructions under `-icount shift=0`: after the HVC
//!   has trapped, well before a move is done), then it makes a hint that moves it (or one
//!   that does not); the latency is from the timer's deadline to its IRQ handler — the
//!   interrupt comes due while the vCPU is in the trap, parked or handed over, and is
//!   taken on the CPU it arrives on (its timer state moved with it).
//!
//! Natively there is no hypervisor to ask: the probe only runs under one.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

    use guest_probe_bench::{self as p, Samples, pmu};
    use guest_rt::hypercall::fid::{BL_HINT, BL_WHERE};
    use guest_rt::{arch, gic, irq, timer};

    static DOWN: Samples = Samples::new("bl_move_down");
    static UP: Samples = Samples::new("bl_move_up");
    static STAY: Samples = Samples::new("bl_hint_stay");
    static WHERE: Samples = Samples::new("bl_where");
    static OVERHEAD: Samples = Samples::new("clock_overhead");
    static TIMER_MOVE: Samples = Samples::new("bl_timer_during_move");
    static TIMER_STAY: Samples = Samples::new("bl_timer_no_move");
    /// Ticks from arming the timer to its deadline (62.5 MHz: 16 ns each).
    const LEAD: u64 = 8;
    static FIRED: AtomicU32 = AtomicU32::new(0);
    static AT: AtomicU64 = AtomicU64::new(0);

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

    /// Arms the timer one tick ahead, makes BL_HINT(`x1`) with IRQs unmasked, waits for
    /// the interrupt: deadline → handler, in ns (cycles under `-icount shift=0`).
    fn timer_across_hint(x1: u64, ns_per_tick: u64) -> u64 {
        let f0 = FIRED.load(Ordering::SeqCst);
        let cval = pmu::cntvct() + LEAD;
        timer::arm_at(cval);
        arch::irq_unmask();
        p::hvc3(BL_HINT, x1, 0);
        while FIRED.load(Ordering::SeqCst) == f0 {}
        arch::irq_mask();
        AT.load(Ordering::Relaxed)
            .saturating_sub(cval * ns_per_tick)
    }

    /// One timed call; a call that does not answer `want` ends the probe (the figure of
    /// another path would be measured as if it were this one).
    fn timed(f: u64, x1: u64, want: Option<u64>, ovh: u64) -> u64 {
        let t0 = pmu::now();
        let r = p::hvc3(f, x1, 0);
        let t1 = pmu::now();
        if want.is_some_and(|w| r != w) {
            guest_rt::println!("probe-bl-switch: call {f:#x} x1={x1} answered {}", r as i64);
            guest_rt::result::fail("a big.LITTLE call did not do what the probe measures");
        }
        t1.wrapping_sub(t0).saturating_sub(ovh)
    }

    fn main() -> ! {
        if p::detect() {
            guest_rt::result::fail("probe-bl-switch needs the hypervisor (feature big-little)");
        }
        pmu::enable();
        p::header("probe-bl-switch");
        // The cycle counter of the LITTLE CPU too (each physical CPU has its own).
        if p::hvc3(BL_HINT, 0, 0) != 1 {
            guest_rt::result::fail("no move to the LITTLE CPU (feature big-little off?)");
        }
        pmu::enable();
        if p::hvc3(BL_HINT, 1, 0) != 1 {
            guest_rt::result::fail("no move back to the big CPU");
        }
        let ovh = p::clock_overhead();
        OVERHEAD.push(ovh);
        p::phase_begin(0);
        for r in 0..p::rounds() {
            DOWN.round(r, timed(BL_HINT, 0, Some(1), ovh));
            UP.round(r, timed(BL_HINT, 1, Some(1), ovh));
        }
        p::phase_end(0);
        p::phase_begin(1);
        for r in 0..p::rounds() {
            STAY.round(r, timed(BL_HINT, 1, Some(0), ovh));
        }
        p::phase_end(1);
        p::phase_begin(2);
        for r in 0..p::rounds() {
            WHERE.round(r, timed(BL_WHERE, 0, None, ovh));
        }
        p::phase_end(2);
        gic::init_distributor();
        gic::init_cpu();
        irq::set_handler(on_irq);
        gic::configure(timer::INTID, 0x80);
        let ns_per_tick = 1_000_000_000 / timer::frequency();
        // On the big CPU now: each round moves down and back up, timed both ways.
        p::phase_begin(3);
        for r in 0..p::rounds() {
            TIMER_MOVE.round(r, timer_across_hint(0, ns_per_tick));
            TIMER_MOVE.round(r, timer_across_hint(1, ns_per_tick));
        }
        p::phase_end(3);
        p::phase_begin(4);
        for r in 0..p::rounds() {
            TIMER_STAY.round(r, timer_across_hint(1, ns_per_tick));
        }
        p::phase_end(4);
        p::report(0, &DOWN);
        p::report(1, &UP);
        p::report(2, &STAY);
        p::report(3, &WHERE);
        p::report(4, &OVERHEAD);
        p::report(5, &TIMER_MOVE);
        p::report(6, &TIMER_STAY);
        guest_rt::result::pass()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("a probe guest: use `cargo xtask experiment biglittle-switch`");
}
