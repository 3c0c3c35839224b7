//! `probe-bl-taker`: the receiving half of the balloon move probe (see `probe-bl-giver`).
//! Runs while the giver sleeps; holds no block at boot.
//!
//! Metrics, per block count k = 1, 2, 4, 8 (stamps of the shared PMU cycle counter,
//! both VMs on CPU 0):
//! - `move_<k>`: request → receiver notified: the giver's stamp before BALLOON_MOVE to
//!   the taker running after its notification (the giver's release with the scrub of k
//!   blocks, its WFI, the switch);
//! - `move_wake_<k>`: the giver's stamp after its release returned → the taker runs:
//!   the notification's share (WFI trap, switch, the pending vIRQ waking the taker).
//!
//! The taker checks that it holds the k blocks, gives them back, and wakes the giver.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_probe_bench::{self as p, Samples, mbox, pmu};
    use guest_rt::hypercall::{self, balloon};
    use guest_rt::{arch, gic, result};

    const POOL: u64 = 0;
    const NOTE: u32 = 120;
    /// Channel 1 (giver → taker): the end.
    const FROM_GIVER: u32 = 102;
    /// Channel 0: taker → giver.
    const TO_GIVER: u64 = 0;
    const KS: [u64; 4] = [1, 2, 4, 8];

    static MOVE: [Samples; 4] = [
        Samples::new("move_1"),
        Samples::new("move_2"),
        Samples::new("move_4"),
        Samples::new("move_8"),
    ];
    static WAKE: [Samples; 4] = [
        Samples::new("move_wake_1"),
        Samples::new("move_wake_2"),
        Samples::new("move_wake_4"),
        Samples::new("move_wake_8"),
    ];

    fn main() -> ! {
        // its own distributor: each VM has one
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(NOTE, 0x80);
        gic::configure(FROM_GIVER, 0x80);
        let mut rounds = [0usize; 4];
        loop {
            arch::wfi();
            let t = pmu::now();
            let (mut noted, mut stop) = (false, false);
            loop {
                let id = gic::ack();
                if id >= 1020 {
                    break;
                }
                gic::eoi(id);
                noted |= id == NOTE;
                stop |= id == FROM_GIVER;
            }
            if stop || mbox::get(mbox::STOP) != 0 {
                break;
            }
            if !noted {
                continue;
            }
            let k = mbox::get(mbox::ARG);
            let Some(i) = KS.iter().position(|&x| x == k) else {
                result::fail("the giver's block count");
            };
            MOVE[i].round(rounds[i], t.wrapping_sub(mbox::get(mbox::STAMP_A)));
            WAKE[i].round(rounds[i], t.wrapping_sub(mbox::get(mbox::STAMP_B)));
            rounds[i] += 1;
            if balloon::info(POOL).map(|x| x.held) != Ok(k) {
                result::fail("the taker does not hold the blocks it was given");
            }
            if balloon::release(POOL, k) != Ok(0) {
                result::fail("the taker's release");
            }
            if hypercall::virq_raise(TO_GIVER) != 0 {
                result::fail("wake the giver");
            }
        }
        p::detect();
        p::header("probe-bl-taker");
        for i in 0..KS.len() {
            p::report(i as u64, &MOVE[i]);
            p::report(4 + i as u64, &WAKE[i]);
        }
        result::pass()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("a probe guest: use `cargo xtask experiment balloon-move`");
}
