//! `probe-balloon`: what moving blocks of an elastic pool costs (hypervisor feature
//! `balloon`), one VM on CPU 0, the only holder of a pool of 8 blocks of 2 MiB
//! (boards/qemu-virt/systems/exp-balloon.toml). No other CPU runs the VM, so a set
//! switch waits for no acknowledgement: the figures are the work of the calling CPU.
//!
//! Measured (PMCCNTR counts around one `hvc #0`, minus two back-to-back stamps):
//! - `balloon_info`: BALLOON_INFO — dispatch, the pool's lock, its state read: the floor
//!   under every balloon call ("protocol");
//! - `balloon_grow_<k>`: BALLOON_ACQUIRE of `k` free blocks — the decision and the switch
//!   to the VM's set for `k` (free blocks are scrubbed already);
//! - `balloon_shrink_<k>`: BALLOON_RELEASE of those `k` — the switch back, the TLB
//!   invalidation of the VM's VMID, and the scrub (zero + clean to PoC) of `k` blocks.
//!
//! Derived per round from the measured ones (same round, so the same state):
//! - `balloon_scrub_per_mib`: (shrink_8 − shrink_1) / 14 MiB;
//! - `balloon_shrink_fixed`: shrink_1 − the scrub of one block (2 MiB at that rate): a
//!   shrink without its scrub — decision, set switch and the TLB invalidation by VMID
//!   (under TCG a TLBI is one emulated instruction; what it costs QEMU, its soft TLB
//!   flushed and refilled, shows in the wall-clock mode only);
//! - `balloon_set_switch`: grow_1 − info: a decision, a stage-2 set switch and the
//!   notification of the receiver (its vIRQ made pending).
//!
//! Natively there is no hypervisor to ask: the probe only runs under one.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_probe_bench::{self as p, Samples, pmu};
    use guest_rt::hypercall::balloon;

    /// Block counts moved, one metric each (the pool has the last).
    const KS: [u64; 4] = [1, 2, 4, 8];
    const POOL: u64 = 0;
    use guest_rt::hypercall::fid::{
        BALLOON_ACQUIRE as ACQUIRE, BALLOON_INFO as INFO_FID, BALLOON_RELEASE as RELEASE,
    };

    static INFO: Samples = Samples::new("balloon_info");
    static GROW: [Samples; 4] = [
        Samples::new("balloon_grow_1"),
        Samples::new("balloon_grow_2"),
        Samples::new("balloon_grow_4"),
        Samples::new("balloon_grow_8"),
    ];
    static SHRINK: [Samples; 4] = [
        Samples::new("balloon_shrink_1"),
        Samples::new("balloon_shrink_2"),
        Samples::new("balloon_shrink_4"),
        Samples::new("balloon_shrink_8"),
    ];
    static SCRUB: Samples = Samples::new("balloon_scrub_per_mib");
    static FIXED: Samples = Samples::new("balloon_shrink_fixed");
    static SWITCH: Samples = Samples::new("balloon_set_switch");
    static OVERHEAD: Samples = Samples::new("clock_overhead");

    /// One timed call; a refused call ends the probe (a figure of an error path would
    /// be measured as if it were a move).
    fn timed(f: u64, k: u64, ovh: u64) -> u64 {
        let t0 = pmu::now();
        let r = p::hvc3(f, POOL, k);
        let t1 = pmu::now();
        if (r as i64) < 0 {
            guest_rt::println!("probe-balloon: call {f:#x} k={k} refused: {}", r as i64);
            guest_rt::result::fail("a balloon call was refused");
        }
        t1.wrapping_sub(t0).saturating_sub(ovh)
    }

    fn main() -> ! {
        if p::detect() {
            guest_rt::result::fail("probe-balloon needs the hypervisor (feature balloon)");
        }
        pmu::enable();
        p::header("probe-balloon");
        let info = match balloon::info(POOL) {
            Ok(i) if i.blocks == 8 && i.held == 0 => i,
            Ok(i) => {
                guest_rt::println!("probe-balloon: pool {i:?}, want 8 blocks, none held");
                guest_rt::result::fail("the pool is not the one exp-balloon declares");
            }
            Err(e) => {
                guest_rt::println!("probe-balloon: BALLOON_INFO: {e} (feature balloon off?)");
                guest_rt::result::fail("no elastic pool");
            }
        };
        let mib = info.block_size >> 20;
        let ovh = p::clock_overhead();
        OVERHEAD.push(ovh);

        p::phase_begin(0);
        for r in 0..p::rounds() {
            INFO.round(r, timed(INFO_FID, 0, ovh));
        }
        p::phase_end(0);
        for (i, &k) in KS.iter().enumerate() {
            // One phase per k: a grow and its shrink (two traps an iteration).
            let id = 1 + i as u64;
            p::phase_begin(id);
            for r in 0..p::rounds() {
                GROW[i].round(r, timed(ACQUIRE, k, ovh));
                SHRINK[i].round(r, timed(RELEASE, k, ovh));
            }
            p::phase_end(id);
        }
        for r in 0..INFO.len() {
            let (s1, s8) = (SHRINK[0].get(r), SHRINK[3].get(r));
            let (g1, i0) = (GROW[0].get(r), INFO.get(r));
            let per_block = s8.saturating_sub(s1) / 7;
            SCRUB.push(per_block / mib.max(1));
            FIXED.push(s1.saturating_sub(per_block));
            SWITCH.push(g1.saturating_sub(i0));
        }
        p::report(0, &INFO);
        for i in 0..KS.len() {
            p::report(1 + i as u64, &GROW[i]);
            p::report(5 + i as u64, &SHRINK[i]);
        }
        p::report(9, &SCRUB);
        p::report(10, &FIXED);
        p::report(11, &SWITCH);
        p::report(12, &OVERHEAD);
        guest_rt::result::pass()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("a probe guest: use `cargo xtask experiment balloon-move`");
}
