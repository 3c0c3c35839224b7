//! `bl-planned`: two vCPUs under a static plan (`[vm.big-little] policy = "plan"`: the
//! whole VM 20 ms on cluster "big", then 20 ms on "little"). Each vCPU samples where it
//! runs every 100 us for 300 ms and counts the cluster changes it sees; both must see
//! both clusters several times, and a hint from a planned VM is refused (DENIED).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use core::sync::atomic::{AtomicU32, Ordering};

    use guest_rt::hypercall::big_little;
    use guest_rt::{arch, result, result::check, smp, timer};

    const RUN_US: u64 = 300_000;

    static V1_CHANGES: AtomicU32 = AtomicU32::new(u32::MAX);
    static V1_BIG: AtomicU32 = AtomicU32::new(0);

    static MIDR_CHANGED: AtomicU32 = AtomicU32::new(0);

    /// Samples BL_WHERE for `RUN_US`: (cluster changes seen, samples on cluster 0).
    /// The MIDR must not change meanwhile (the VM's `midr` is "fixed").
    fn sample() -> (u32, u32) {
        let midr0 = arch::midr();
        let end = timer::now() + timer::us_to_ticks(RUN_US);
        let mut last = big_little::where_am_i().cluster;
        let (mut changes, mut big) = (0, 0);
        while timer::now() < end {
            let w = big_little::where_am_i();
            changes += u32::from(w.cluster != last);
            big += u32::from(w.cluster == 0);
            last = w.cluster;
            if arch::midr() != midr0 {
                MIDR_CHANGED.store(1, Ordering::SeqCst);
            }
            let t = timer::now() + timer::us_to_ticks(100);
            while timer::now() < t {}
        }
        (changes, big)
    }

    fn secondary(_index: usize) -> ! {
        let (c, b) = sample();
        V1_BIG.store(b, Ordering::SeqCst);
        V1_CHANGES.store(c, Ordering::SeqCst);
        loop {
            arch::wfi();
        }
    }

    fn main() -> ! {
        result!("hint-refused", "{}", big_little::hint_raw(0));
        check(smp::start(1, secondary) == 0, "cpu-on");
        let (c0, b0) = sample();
        let done = timer::spin_until(timer::us_to_ticks(5_000_000), || {
            V1_CHANGES.load(Ordering::SeqCst) != u32::MAX
        });
        let c1 = V1_CHANGES.load(Ordering::SeqCst);
        let b1 = V1_BIG.load(Ordering::SeqCst);
        guest_rt::println!(
            "bl-planned: vCPU 0 saw {c0} changes ({b0} samples big), vCPU 1 {c1} ({b1})"
        );
        // 300 ms of a 40 ms cycle: 15 boundaries; a loaded host stretches the samples.
        let enough = |c: u32| (4..=40).contains(&c);
        result!(
            "vcpu0-changes-ok",
            "{}",
            if enough(c0) { "yes" } else { "no" }
        );
        result!(
            "vcpu1-changes-ok",
            "{}",
            if done && enough(c1) { "yes" } else { "no" }
        );
        check(enough(c0) && done && enough(c1), "plan-not-followed");
        check(b0 > 0 && b1 > 0, "never-big");
        let fixed = MIDR_CHANGED.load(Ordering::SeqCst) == 0;
        result!("midr-fixed", "{}", if fixed { "yes" } else { "no" });
        check(fixed, "midr-changed");
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "this guest runs under the hypervisor: use `cargo xtask run bl-plan --features big-little`"
    );
}
