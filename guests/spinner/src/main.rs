//! `spinner`: spins for 300 ms of counter time without ever waiting, and measures the
//! longest gap between two consecutive counter reads — the time it was descheduled. Two
//! spinners on one CPU with a time-slot table both make progress, each descheduled for
//! about the other's slot; without slots the lower-priority one would not run at all
//! until the other ended.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_rt::{result, timer};

    const RUN_US: u64 = 300_000;
    /// A gap longer than this counts as "descheduled".
    const PREEMPTED_US: u64 = 1_000;

    fn main() -> ! {
        let freq = timer::frequency();
        let start = timer::now();
        let end = start + timer::us_to_ticks(RUN_US);
        let (mut last, mut max_gap, mut preemptions) = (start, 0u64, 0u32);
        loop {
            let now = timer::now();
            let gap = now - last;
            if gap > timer::us_to_ticks(PREEMPTED_US) {
                preemptions += 1;
            }
            max_gap = max_gap.max(gap);
            last = now;
            if now >= end {
                break;
            }
        }
        result!("max-gap-us", "{}", max_gap * 1_000_000 / freq);
        result!("preemptions", "{preemptions}");
        guest_rt::result::pass()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("the spinner guest runs under the hypervisor: use `cargo xtask run --system slots`");
}
