//! `probe-virq-tx`: the sender of the vIRQ delivery probe (receiver: `probe-virq-rx`).
//! Waits for the receiver's "ready" (shared page), then each round stamps t0 into the
//! shared page, raises channel 0 (VIRQ_RAISE) and sleeps until the receiver's answer
//! (channel 1). The latency is measured by the receiver.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_probe_bench::{self as p, fid, mbox, pmu};
    use guest_rt::{gic, irq};

    const FROM_RX: u32 = 101;
    const TO_RX: u64 = 0;

    fn main() -> ! {
        p::detect();
        pmu::enable();
        p::header("probe-virq-tx");
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(FROM_RX, 0x80);
        // The receiver's "ready" is a word of the shared page (a vIRQ raised before this
        // VM enabled its INTID could be lost).
        p::sleep_until(|| mbox::get(mbox::READY) != 0);
        p::phase_begin(0);
        for r in 0..p::rounds() {
            let t0 = pmu::now();
            mbox::set(mbox::STAMP_A, t0);
            p::hvc3(fid::VIRQ_RAISE, TO_RX, 0);
            irq::wait_count(FROM_RX, r as u32 + 1);
        }
        p::phase_end(0);
        mbox::set(mbox::STOP, 1);
        guest_rt::result::pass()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("a probe guest: use `cargo xtask experiment virq-local`");
}
