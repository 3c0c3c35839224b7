//! `bl-bursty`: a bursty workload under the utilisation governor (`[vm.big-little]
//! policy = "governor"`). Six rounds of 40 ms busy (a spin, no WFI) then 40 ms asleep
//! (WFI until its timer): after each busy phase it should be on the big CPU (0), after
//! each sleep on the LITTLE one (2) — the governor measures 5 ms windows and moves it at
//! 70 % and 30 %. A hint from a governed VM is refused (DENIED).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_rt::hypercall::big_little;
    use guest_rt::{arch, gic, irq, println, result, result::check, timer};

    const ROUNDS: u32 = 6;
    const PHASE_US: u64 = 40_000;

    fn on_irq(intid: u32) {
        irq::record(intid);
        if intid == timer::INTID {
            timer::disable();
        }
    }

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        irq::set_handler(on_irq);
        gic::configure(timer::INTID, 0x80);
        result!("hint-refused", "{}", big_little::hint_raw(1));
        let (mut big_after_busy, mut little_after_sleep) = (0u32, 0u32);
        for i in 0..ROUNDS {
            let until = timer::now() + timer::us_to_ticks(PHASE_US);
            let mut x = 0u64;
            while timer::now() < until {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
            core::hint::black_box(x);
            let busy = big_little::where_am_i();
            big_after_busy += u32::from(busy.cpu == 0);
            timer::arm_at(timer::now() + timer::us_to_ticks(PHASE_US));
            irq::wait_count(timer::INTID, i + 1);
            let slept = big_little::where_am_i();
            little_after_sleep += u32::from(slept.cpu == 2);
            println!(
                "bl-bursty: round {i}: after busy on CPU {}, after sleep on CPU {}",
                busy.cpu, slept.cpu
            );
        }
        arch::irq_mask();
        let moves = big_little::where_am_i().moves;
        result!("big-after-busy", "{big_after_busy}");
        result!("little-after-sleep", "{little_after_sleep}");
        result!("moved-enough", "{}", if moves >= 6 { "yes" } else { "no" });
        // Timing under an emulator that shares the host: most rounds, not all.
        check(big_after_busy >= ROUNDS - 2, "not-up-when-busy");
        check(little_after_sleep >= ROUNDS - 2, "not-down-when-idle");
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "this guest runs under the hypervisor: use `cargo xtask run bl-governor --features big-little`"
    );
}
