//! `probe-pong`: the lower-priority half of the VM↔VM switch probe (see `probe-ping`).
//! Runs only while ping sleeps; each return from its VIRQ_RAISE is a switch back from
//! ping. Stops when ping sets the shared page's STOP word.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_probe_bench::{self as p, Samples, fid, mbox, pmu};

    /// Channel 0 of exp-switch: pong → ping.
    const TO_PING: u64 = 0;

    static THERE: Samples = Samples::new("switch_ping_to_pong");

    fn main() -> ! {
        // The first stamp comes after this VM's boot: a warm-up round.
        let mut r = 0;
        loop {
            let t1 = pmu::now();
            if mbox::get(mbox::STOP) != 0 {
                break;
            }
            THERE.round(r, t1.wrapping_sub(mbox::get(mbox::STAMP_A)));
            r += 1;
            let t2 = pmu::now();
            mbox::set(mbox::STAMP_B, t2);
            p::hvc3(fid::VIRQ_RAISE, TO_PING, 0);
        }
        p::detect();
        p::header("probe-pong");
        p::report(2, &THERE);
        guest_rt::result::pass()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("a probe guest: use `cargo xtask experiment vm-switch`");
}
