//! `bl-mover`: vCPU 0 may run on CPU 0 (big) or CPU 2 (LITTLE) and asks to move 1,000
//! times (BL_HINT, alternately "can slow down" and "needs performance") while a
//! checksum workload runs and three interrupt sources keep it busy: its own virtual
//! timer every 200 us, SGIs from vCPU 1 (pinned to CPU 1) and a channel vIRQ from
//! `bl-pinger` (CPU 3), each sent only after the one before was taken, so each must
//! arrive exactly once. Across every move the whole vCPU state must survive: the
//! FP/SIMD registers are loaded with a pattern before the hint and read back after it
//! returned on the other CPU, the EL1 registers (`regstate`) and the debug comparators
//! are compared every round, and BL_WHERE must report the CPU the hint asked for.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[path = "../regstate.rs"]
mod regstate;

#[cfg(target_os = "none")]
mod guest {
    use core::sync::atomic::{AtomicU32, Ordering};

    use super::regstate::{self, State, VICTIM};
    use guest_rt::hypercall::{big_little, fid};
    use guest_rt::{arch, gic, irq, println, result, result::check, smp, timer};

    /// Hint round trips (each one a move).
    const ROUNDS: u32 = 1000;
    /// SGIs vCPU 1 sends, and channel vIRQs bl-pinger raises.
    const SGIS: u32 = 200;
    const PINGS: u32 = 200;
    const SGI: u32 = 1;
    const PING: u32 = 100;
    const TICK_US: u64 = 200;
    /// MIDR_EL1 of each cluster (boards/qemu-virt/board.toml; the VM has
    /// `midr = "per-cluster"`).
    const MIDR_BIG: u64 = 0x414f_d0b1;
    const MIDR_LITTLE: u64 = 0x412f_d050;
    /// Shared with bl-pinger: [0] = pings taken, [1] = pinger done.
    const SHARED: usize = 0x5000_0000;

    static TICKS: AtomicU32 = AtomicU32::new(0);
    static V1_DONE: AtomicU32 = AtomicU32::new(0);
    static V1_LOST: AtomicU32 = AtomicU32::new(0);

    fn shared(i: usize) -> *mut u32 {
        (SHARED + 4 * i) as *mut u32
    }

    fn on_irq(intid: u32) {
        irq::record(intid);
        if intid == timer::INTID {
            TICKS.store(TICKS.load(Ordering::Relaxed) + 1, Ordering::SeqCst);
            timer::arm_at(timer::now() + timer::us_to_ticks(TICK_US));
        } else if intid == PING {
            // SAFETY: the shared page is mapped rw in this VM (system bl-migrate).
            unsafe { shared(0).write_volatile(irq::count(PING)) };
            arch::dsb();
        }
    }

    fn secondary(_index: usize) -> ! {
        gic::init_cpu();
        for i in 1..=SGIS {
            gic::send_sgi(SGI, 0);
            let ok =
                timer::spin_until(timer::us_to_ticks(2_000_000), || irq::count_on(0, SGI) >= i);
            if !ok {
                V1_LOST.store(i, Ordering::SeqCst);
                break;
            }
        }
        V1_DONE.store(1, Ordering::SeqCst);
        loop {
            arch::wfi();
        }
    }

    /// The workload: a checksum over a table, folded `n` times.
    fn checksum(seed: u32, n: u32) -> u32 {
        let mut h = 0x811c_9dc5u32 ^ seed;
        for i in 0..n {
            h = (h ^ i).wrapping_mul(0x0100_0193);
            h = h.rotate_left(5) ^ (i.wrapping_mul(0x9e37_79b9));
        }
        h
    }

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        irq::set_handler(on_irq);
        gic::configure(timer::INTID, 0x80);
        gic::configure(SGI, 0x80);
        gic::configure(PING, 0x80);

        let start = big_little::where_am_i();
        result!("start-cpu", "{}", start.cpu);
        result!("hint-malformed", "{}", big_little::hint_raw(7));

        let (brps, wrps) = regstate::comparators();
        let debug = State::debug(VICTIM, brps, wrps);
        regstate::write_debug(&debug, brps, wrps);
        regstate::write_sys(&State::sys(VICTIM));

        check(smp::start(1, secondary) == 0, "cpu-on");
        timer::arm_at(timer::now() + timer::us_to_ticks(TICK_US));
        arch::irq_unmask();

        // The reference, computed before any move.
        let reference: u32 = (0..ROUNDS).fold(0, |a, i| a ^ checksum(i, 64));
        let mut sum = 0u32;
        let (mut moved, mut fp_kept, mut sys_kept, mut debug_kept, mut placed) =
            (0u32, 0u32, 0u32, 0u32, 0u32);
        let mut midr_right = 0u32;
        let mut sys_want = regstate::read_sys();
        sys_want.el1[6] = 0; // CNTV_CVAL: the tick re-arms it
        let mut back = State::fp(0);
        for i in 0..ROUNDS {
            sum ^= checksum(i, 64);
            let perf = i % 2 == 1;
            let mut fp = State::fp(VICTIM);
            fp.q[i as usize % 32] ^= u128::from(i) << 8;
            arch::irq_mask();
            let r = regstate::fp_load_call_store(&fp, &mut back, fid::BL_HINT, u64::from(perf));
            let mut sys = regstate::read_sys();
            let dbg = regstate::read_debug(brps, wrps);
            arch::irq_unmask();
            sys.el1[6] = 0;
            moved += u32::from(r == 1);
            fp_kept += u32::from(back == fp);
            sys_kept += u32::from(sys == sys_want);
            debug_kept += u32::from(dbg == debug);
            let want_cpu = if perf { 0 } else { 2 };
            let here = big_little::where_am_i();
            placed += u32::from(here.cpu == want_cpu);
            let want_midr = if here.cluster == 0 {
                MIDR_BIG
            } else {
                MIDR_LITTLE
            };
            midr_right += u32::from(arch::midr() == want_midr);
            if back != fp && fp_kept == i {
                // The first round that lost it.
                println!("bl-mover: round {i}: FP/SIMD state changed across the move");
            }
        }
        let ticks_at_end = TICKS.load(Ordering::SeqCst);
        // The timer keeps firing after the last move.
        let more = timer::spin_until(timer::us_to_ticks(2_000_000), || {
            TICKS.load(Ordering::SeqCst) >= ticks_at_end + 5
        });
        let v1 = timer::spin_until(timer::us_to_ticks(10_000_000), || {
            V1_DONE.load(Ordering::SeqCst) == 1
        });
        // SAFETY: the shared page is mapped rw in this VM.
        let pinger = timer::spin_until(timer::us_to_ticks(10_000_000), || unsafe {
            shared(1).read_volatile() == 1
        });
        arch::irq_mask();
        timer::disable();
        let moves = big_little::where_am_i().moves;
        println!(
            "bl-mover: {moved} moves, {} ticks, {} SGIs, {} pings",
            TICKS.load(Ordering::SeqCst),
            irq::count(SGI),
            irq::count(PING)
        );
        result!("rounds", "{ROUNDS}");
        result!("moved", "{moved}");
        result!("moves-counted", "{moves}");
        result!("placed", "{placed}");
        result!("fp-kept", "{fp_kept}");
        result!("sys-kept", "{sys_kept}");
        result!("debug-kept", "{debug_kept}");
        result!("midr-of-cluster", "{midr_right}");
        result!(
            "checksum",
            "{}",
            if sum == reference { "right" } else { "wrong" }
        );
        result!(
            "ticks-after-last-move",
            "{}",
            if more { "yes" } else { "no" }
        );
        result!("sgis", "{}", irq::count(SGI));
        result!("sgi-lost-at", "{}", V1_LOST.load(Ordering::SeqCst));
        result!("pings", "{}", irq::count(PING));
        check(v1 && pinger, "senders-not-done");
        check(moved == ROUNDS && placed == ROUNDS, "moves");
        check(midr_right == ROUNDS, "midr");
        check(
            fp_kept == ROUNDS && sys_kept == ROUNDS && debug_kept == ROUNDS,
            "state",
        );
        check(sum == reference && more, "workload-or-timer");
        check(
            irq::count(SGI) == SGIS && irq::count(PING) == PINGS,
            "interrupts",
        );
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "this guest runs under the hypervisor: use `cargo xtask run bl-migrate --features big-little`"
    );
}
