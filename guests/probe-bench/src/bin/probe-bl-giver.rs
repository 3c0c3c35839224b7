//! `probe-bl-giver`: the requesting half of the balloon move probe
//! (boards/qemu-virt/systems/exp-balloon-move.toml; `probe-bl-taker` is the other). Both
//! VMs share CPU 0; the giver (higher priority) holds the pool's 8 blocks and manages it.
//!
//! Each round, for k = 1, 2, 4, 8: stamp (mailbox STAMP_A), BALLOON_MOVE of k blocks to
//! the taker — asked of the giver itself, which holds them — then BALLOON_RELEASE of
//! those k (the move completes: the giver shrinks, its blocks are scrubbed, the taker
//! grows and is notified), stamp again (STAMP_B), sleep. The taker runs, stamps, gives
//! the blocks back to the pool and wakes the giver, which takes them back
//! (BALLOON_ACQUIRE) for the next round. The taker computes and reports the figures.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_probe_bench::{self as p, mbox, pmu};
    use guest_rt::hypercall::balloon;
    use guest_rt::{arch, gic, result};

    const POOL: u64 = 0;
    /// The pool's notification INTID.
    const NOTE: u32 = 120;
    /// Channel 0 (taker → giver) arrives here.
    const FROM_TAKER: u32 = 101;
    /// Channel 1: giver → taker.
    const TO_TAKER: u64 = 1;
    /// The taker's VM index in exp-balloon-move.
    const TAKER: u64 = 1;
    const KS: [u64; 4] = [1, 2, 4, 8];

    /// Acknowledges every pending interrupt (the pool's notifications of the giver's
    /// own moves): WFI must sleep until the taker's wake-up, not return at once.
    fn drain() {
        loop {
            let id = gic::ack();
            if id >= 1020 {
                break;
            }
            gic::eoi(id);
        }
    }

    fn must<T: PartialEq + core::fmt::Debug>(got: Result<T, i64>, want: T, what: &'static str) {
        if got != Ok(want) {
            guest_rt::println!("probe-bl-giver: {what}: {got:?}");
            result::fail(what);
        }
    }

    fn main() -> ! {
        if p::detect() {
            result::fail("probe-bl-giver needs the hypervisor (feature balloon)");
        }
        pmu::enable();
        p::header("probe-bl-giver");
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(NOTE, 0x80);
        gic::configure(FROM_TAKER, 0x80);
        mbox::set(mbox::STOP, 0);
        for (i, &k) in KS.iter().enumerate() {
            p::phase_begin(i as u64);
            for _ in 0..p::rounds() {
                mbox::set(mbox::ARG, k);
                let t0 = pmu::now();
                mbox::set(mbox::STAMP_A, t0);
                must(
                    balloon::move_to(POOL, TAKER, k),
                    true,
                    "move asked of the giver",
                );
                must(balloon::release(POOL, k), 8 - k, "release");
                let t1 = pmu::now();
                mbox::set(mbox::STAMP_B, t1);
                drain();
                loop {
                    arch::wfi();
                    let id = gic::ack();
                    if id < 1020 {
                        gic::eoi(id);
                    }
                    if id == FROM_TAKER {
                        break;
                    }
                }
                must(balloon::acquire(POOL, k), false, "take back");
                drain();
            }
            p::phase_end(i as u64);
        }
        mbox::set(mbox::STOP, 1);
        if guest_rt::hypercall::virq_raise(TO_TAKER) != 0 {
            result::fail("wake the taker");
        }
        result::pass()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("a probe guest: use `cargo xtask experiment balloon-move`");
}
