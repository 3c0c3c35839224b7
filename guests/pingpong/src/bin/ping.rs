//! `ping` (higher priority on CPU 0): waits for `pong`'s "ready", then N times raises
//! channel 0 (ping→pong, INTID 100 in `pong`) and sleeps (WFI) until `pong`'s answer
//! arrives on INTID 101 (channel 1).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_rt::{gic, hypercall, irq, println, result, result::check, timer};

    const ROUNDS: u32 = 1000;
    const TO_PONG: u64 = 0;
    const FROM_PONG: u32 = 101;

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(FROM_PONG, 0x80);
        // Round 0: pong's "ready".
        println!("ping: waiting for pong's ready (INTID {FROM_PONG})");
        irq::wait_count(FROM_PONG, 1);
        let t0 = timer::now();
        let mut done = 0;
        for i in 1..=ROUNDS {
            let r = hypercall::virq_raise(TO_PONG);
            if !check(r == 0, "virq-raise-failed") {
                println!("VIRQ_RAISE returned {r} in round {i}");
                break;
            }
            irq::wait_count(FROM_PONG, i + 1);
            done = i;
        }
        let ticks = timer::now() - t0;
        println!(
            "ping: {} ticks per round trip",
            ticks / u64::from(done.max(1))
        );
        result!("round-trips", "{done}");
        check(irq::count(FROM_PONG) == ROUNDS + 1, "reply-count");
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this guest runs under the hypervisor: use `cargo xtask run --system pingpong`");
}
