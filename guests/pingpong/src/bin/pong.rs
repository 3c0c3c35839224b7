//! `pong`: raises channel 1 (pong→ping) once as "ready", then answers each of N vIRQs
//! from `ping` (INTID 100) with one raise of channel 1.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_rt::{gic, hypercall, irq, println, result, result::check};

    const ROUNDS: u32 = 1000;
    const TO_PING: u64 = 1;
    const FROM_PING: u32 = 100;

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(FROM_PING, 0x80);
        let r = hypercall::virq_raise(TO_PING);
        println!("pong: ready raised ({r}), waiting for ping (INTID {FROM_PING})");
        check(r == 0, "ready-raise-failed");
        let mut answered = 0;
        for i in 1..=ROUNDS {
            irq::wait_count(FROM_PING, i);
            let r = hypercall::virq_raise(TO_PING);
            if !check(r == 0, "virq-raise-failed") {
                println!("VIRQ_RAISE returned {r} in round {i}");
                break;
            }
            answered = i;
        }
        result!("answers", "{answered}");
        check(irq::count(FROM_PING) == ROUNDS, "request-count");
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this guest runs under the hypervisor: use `cargo xtask run --system pingpong`");
}
