//! `smp-ipi`: one VM, two vCPUs (CPUs 0 and 1). vCPU 0 checks PSCI CPU_ON and
//! AFFINITY_INFO answers, starts vCPU 1, and the two exchange SGIs through
//! ICC_SGI1R_EL1 in lock-step (SGI 1 to vCPU 1, SGI 2 back) 100 times each way; then
//! one broadcast (IRM = 1, SGI 3) and vCPU 1 powers itself off (CPU_OFF).
//! Only vCPU 0 prints; vCPU 1 reports through memory.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use core::sync::atomic::{AtomicI64, AtomicU32, Ordering};
    use guest_rt::psci::{self, affinity, ret};
    use guest_rt::{gic, irq, println, result, result::check, smp, timer};

    const ROUNDS: u32 = 100;
    const SGI_PING: u32 = 1;
    const SGI_PONG: u32 = 2;
    const SGI_BCAST: u32 = 3;

    /// vCPU 1's progress: 1 = running and GIC set up, 2 = SGIs done, 3 = broadcast seen.
    static STAGE: AtomicU32 = AtomicU32::new(0);
    static V1_RECEIVED: AtomicU32 = AtomicU32::new(0);
    static V1_CPU_OFF: AtomicI64 = AtomicI64::new(0);

    fn secondary(index: usize) -> ! {
        if index != 1 {
            loop {
                guest_rt::arch::wfi();
            }
        }
        gic::init_cpu();
        gic::configure(SGI_PING, 0x80);
        gic::configure(SGI_BCAST, 0x80);
        STAGE.store(1, Ordering::SeqCst);
        for i in 1..=ROUNDS {
            irq::wait_count(SGI_PING, i);
            gic::send_sgi(SGI_PONG, 0);
        }
        V1_RECEIVED.store(irq::count(SGI_PING), Ordering::SeqCst);
        STAGE.store(2, Ordering::SeqCst);
        irq::wait_count(SGI_BCAST, 1);
        STAGE.store(3, Ordering::SeqCst);
        // CPU_OFF does not return on success.
        let r = psci::cpu_off();
        V1_CPU_OFF.store(r, Ordering::SeqCst);
        loop {
            guest_rt::arch::wfi();
        }
    }

    fn wait_stage(n: u32) -> bool {
        timer::spin_until(timer::us_to_ticks(2_000_000), || {
            STAGE.load(Ordering::SeqCst) >= n
        })
    }

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(SGI_PONG, 0x80);

        let r = psci::affinity_info(1, 0);
        result!("affinity-before", "{r}");
        check(r == affinity::OFF, "affinity-before");
        let r = psci::affinity_info(0, 0);
        result!("affinity-self", "{r}");
        check(r == affinity::ON, "affinity-self");
        let r = psci::affinity_info(7, 0);
        result!("affinity-nonexistent", "{r}");
        check(r == ret::INVALID_PARAMETERS, "affinity-nonexistent");

        let r = smp::start(0, secondary);
        result!("cpu-on-self", "{r}");
        check(r == ret::ALREADY_ON, "cpu-on-self");
        let r = smp::start(7, secondary);
        result!("cpu-on-nonexistent", "{r}");
        check(r == ret::INVALID_PARAMETERS, "cpu-on-nonexistent");
        let r = smp::start(0x100, secondary);
        result!("cpu-on-bad-aff1", "{r}");
        check(r == ret::INVALID_PARAMETERS, "cpu-on-bad-aff1");

        let r = smp::start(1, secondary);
        result!("cpu-on", "{r}");
        if !check(r == ret::SUCCESS, "cpu-on") {
            guest_rt::result::finish();
        }
        let r = smp::start(1, secondary);
        // Either is right, depending on how far vCPU 1 got.
        let again = if r == ret::ALREADY_ON || r == ret::ON_PENDING {
            "refused"
        } else {
            "wrong"
        };
        println!("smp-ipi: second CPU_ON of vCPU 1 returned {r}");
        result!("cpu-on-again", "{again}");
        check(again == "refused", "cpu-on-again");

        if !check(wait_stage(1), "vcpu1-did-not-start") {
            guest_rt::result::finish();
        }
        let r = psci::affinity_info(1, 0);
        result!("affinity-on", "{r}");
        check(r == affinity::ON, "affinity-on");

        let t0 = timer::now();
        for i in 1..=ROUNDS {
            gic::send_sgi(SGI_PING, 1);
            irq::wait_count(SGI_PONG, i);
        }
        let ticks = timer::now() - t0;
        println!(
            "smp-ipi: {} ticks per SGI round trip",
            ticks / u64::from(ROUNDS)
        );
        check(wait_stage(2), "vcpu1-stuck");
        result!("sgis-received-vcpu0", "{}", irq::count(SGI_PONG));
        result!(
            "sgis-received-vcpu1",
            "{}",
            V1_RECEIVED.load(Ordering::SeqCst)
        );
        check(irq::count(SGI_PONG) == ROUNDS, "vcpu0-sgi-count");
        check(
            V1_RECEIVED.load(Ordering::SeqCst) == ROUNDS,
            "vcpu1-sgi-count",
        );

        // IRM = 1: every vCPU but the sender.
        gic::write_sgi1r(gic::sgi1r(SGI_BCAST, gic::SgiTarget::Others));
        let seen = wait_stage(3);
        result!(
            "sgi-broadcast",
            "{}",
            if seen { "delivered" } else { "lost" }
        );
        check(seen, "sgi-broadcast");
        check(irq::count(SGI_BCAST) == 0, "broadcast-reached-sender");

        let off = timer::spin_until(timer::us_to_ticks(2_000_000), || {
            psci::affinity_info(1, 0) == affinity::OFF
        });
        result!("affinity-after-off", "{}", psci::affinity_info(1, 0));
        check(off, "cpu-off");
        if V1_CPU_OFF.load(Ordering::SeqCst) != 0 {
            println!(
                "smp-ipi: CPU_OFF returned {}",
                V1_CPU_OFF.load(Ordering::SeqCst)
            );
        }
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this guest runs under the hypervisor: use `cargo xtask run --system smp-ipi`");
}
