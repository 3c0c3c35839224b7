//! `probe-bl-bursty`: a bursty workload under each big.LITTLE policy (hypervisor feature
//! `big-little`; experiments/biglittle-bursty.toml runs it on one system per policy).
//!
//! Each iteration is a busy phase of `UNITS` equal work units followed by `IDLE_US` of
//! sleep (WFI until the virtual timer). Before each phase the probe gives the hint a
//! policy of hints would act on ("needs performance" before the work, "can slow down"
//! before the sleep); under the governor, a plan or a pinned vCPU the call is refused and
//! costs the same small trap everywhere. After each unit it asks where it ran (BL_POWER:
//! the core's capacity and the board's power figures for its cluster).
//!
//! QEMU runs every core at one speed, so the LITTLE cores' slowness is modelled: a unit
//! run on a core of capacity `c` counts `1024 / c` times its instructions. Reported per
//! iteration:
//! - `bursty_completion`: modelled time — the units at their modelled cost, everything
//!   else (sleep, hints, moves) as it was (instructions, or ns of virtual time under
//!   `-icount shift=0`);
//! - `bursty_energy_uj`: the units at the busy power of the core they ran on for their
//!   modelled time, plus the sleep at the idle power of the core it slept on (µJ:
//!   ns × mW / 10⁶);
//! - `bursty_big_units`: how many of the iteration's units ran on the biggest core.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_probe_bench::{self as p, Samples, pmu};
    use guest_rt::hypercall::fid::{BL_HINT, BL_POWER, BL_WHERE};
    use guest_rt::{arch, gic, irq, timer};

    const UNITS: u32 = 100;
    const UNIT_LOOPS: u64 = 5_000;
    const IDLE_US: u64 = 2_000;
    /// The capacity of the biggest cores.
    const BIG_CAPACITY: u64 = 1024;

    static COMPLETION: Samples = Samples::new("bursty_completion");
    static ENERGY: Samples = Samples::new("bursty_energy_uj");
    static BIG: Samples = Samples::new("bursty_big_units");

    /// One work unit: a fixed instruction count whatever the core.
    #[inline(never)]
    fn unit(seed: u64) -> u64 {
        let mut x = seed;
        for _ in 0..UNIT_LOOPS {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
        }
        core::hint::black_box(x)
    }

    /// (busy mW, idle mW, capacity) of the core this vCPU is on.
    fn power() -> (u64, u64, u64) {
        let r = guest_rt::hypercall::call(BL_POWER, [0; 5]);
        (r[0], r[1], r[2].max(1))
    }

    fn on_irq(intid: u32) {
        irq::record(intid);
        if intid == timer::INTID {
            timer::disable();
        }
    }

    fn main() -> ! {
        if p::detect() {
            guest_rt::result::fail("probe-bl-bursty needs the hypervisor (feature big-little)");
        }
        gic::init_distributor();
        gic::init_cpu();
        irq::set_handler(on_irq);
        gic::configure(timer::INTID, 0x80);
        pmu::enable();
        p::header("probe-bl-bursty");
        if (guest_rt::hypercall::call(BL_POWER, [0; 5])[0] as i64) < 0 {
            guest_rt::result::fail("no BL_POWER (feature big-little off?)");
        }
        // The cycle counter of every core the vCPU may reach: ask to go big, and work
        // for a while (a governor moves a busy vCPU up); enable it wherever it arrives.
        let start = guest_rt::hypercall::call(BL_WHERE, [0; 5])[0];
        p::hvc3(BL_HINT, 1, 0);
        let until = timer::now() + timer::us_to_ticks(3_000);
        let mut cpu = start;
        while timer::now() < until {
            unit(1);
            let now = guest_rt::hypercall::call(BL_WHERE, [0; 5])[0];
            if now != cpu {
                pmu::enable();
                cpu = now;
            }
        }
        arch::irq_unmask();
        p::phase_begin(0);
        for r in 0..p::rounds() {
            let t0 = pmu::now();
            let (mut work, mut modelled, mut energy_pj, mut big) = (0u64, 0u64, 0u64, 0u64);
            p::hvc3(BL_HINT, 1, 0);
            for u in 0..UNITS {
                let a = pmu::now();
                unit(u64::from(u));
                let dt = pmu::now().wrapping_sub(a);
                let (busy_mw, _, cap) = power();
                let m = dt * 1024 / cap;
                work += dt;
                modelled += m;
                energy_pj += m * busy_mw;
                big += u64::from(cap >= BIG_CAPACITY);
            }
            p::hvc3(BL_HINT, 0, 0);
            let (_, idle_mw, _) = power();
            let a = pmu::now();
            timer::arm_at(timer::now() + timer::us_to_ticks(IDLE_US));
            irq::wait_count(timer::INTID, irq::count(timer::INTID) + 1);
            let slept = pmu::now().wrapping_sub(a);
            energy_pj += slept * idle_mw;
            let total = pmu::now().wrapping_sub(t0);
            COMPLETION.round(r, total - work + modelled);
            ENERGY.round(r, energy_pj / 1_000_000);
            BIG.round(r, big);
        }
        p::phase_end(0);
        p::report(0, &COMPLETION);
        p::report(1, &ENERGY);
        p::report(2, &BIG);
        guest_rt::result::pass()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("a probe guest: use `cargo xtask experiment biglittle-bursty`");
}
