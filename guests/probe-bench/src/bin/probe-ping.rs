//! `probe-ping` (higher priority on CPU 0) with `probe-pong` (lower priority, same CPU):
//! the VM↔VM switch.
//!
//! Each round: ping stamps t0 (also into the shared page) and sleeps (WFI, IRQs masked)
//! → the hypervisor switches to pong, which stamps t1 (ping→pong = t1 − t0), stamps t2
//! into the shared page and raises ping's vIRQ (VIRQ_RAISE) → the hypervisor switches
//! back to ping, which wakes from the WFI and stamps t3 (pong→ping = t3 − t2, round trip
//! = t3 − t0), then acknowledges the vIRQ by hand (ICC_IAR1/EOIR1, no IRQ exception).
//! The two directions differ by the trap that causes them: a WFI one way, a hypercall
//! that makes a higher-priority VM runnable the other way.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_probe_bench::{self as p, Samples, mbox, pmu};
    use guest_rt::{arch, gic};

    const FROM_PONG: u32 = 101;

    static RT: Samples = Samples::new("switch_round_trip");
    static BACK: Samples = Samples::new("switch_pong_to_ping");

    fn main() -> ! {
        p::detect();
        pmu::enable();
        p::header("probe-ping");
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(FROM_PONG, 0x80);
        mbox::set(mbox::STOP, 0);
        p::phase_begin(0);
        for r in 0..p::rounds() {
            let t0 = pmu::now();
            mbox::set(mbox::STAMP_A, t0);
            let t3 = loop {
                arch::wfi();
                let t3 = pmu::now();
                let id = gic::ack();
                if id < 1020 {
                    gic::eoi(id);
                }
                if id == FROM_PONG {
                    break t3;
                }
            };
            RT.round(r, t3.wrapping_sub(t0));
            BACK.round(r, t3.wrapping_sub(mbox::get(mbox::STAMP_B)));
        }
        p::phase_end(0);
        mbox::set(mbox::STOP, 1);
        p::report(0, &RT);
        p::report(1, &BACK);
        guest_rt::result::pass()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("a probe guest: use `cargo xtask experiment vm-switch`");
}
