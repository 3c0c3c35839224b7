//! `heartbeat`: the bare-metal neighbour of a Linux VM (system `linux-duo`). vCPU 0
//! starts vCPU 1; both beat every 200 ms, woken by their virtual timers from WFI. vCPU 0
//! prints `heartbeat <n> vcpu1 <m>` with vCPU 1's count (one writer per console line). vCPU 0 watches the VM `WATCHED` (index 0) through VM_STATE (the
//! system gives the two a channel, which is what grants the view); once that VM is off
//! it beats three more times, prints its RESULT lines and powers the VM off — the last
//! VM, so the machine powers off.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use core::sync::atomic::{AtomicU32, Ordering};

    use guest_rt::{gic, hypercall, irq, println, result, smp, timer};

    /// vCPU 1's beats (it is the only writer).
    static VCPU1_BEATS: AtomicU32 = AtomicU32::new(0);

    /// Index of the watched VM in the system description.
    const WATCHED: u64 = 0;
    const PERIOD_US: u64 = 200_000;

    fn beat_forever(vcpu: usize, mut until: impl FnMut(u32) -> bool) -> u32 {
        let period = timer::us_to_ticks(PERIOD_US);
        let mut n = 0;
        loop {
            n += 1;
            timer::arm_at(timer::now() + period);
            irq::wait_count(timer::INTID, n);
            if vcpu == 0 {
                println!("heartbeat {n} vcpu1 {}", VCPU1_BEATS.load(Ordering::SeqCst));
            } else {
                VCPU1_BEATS.store(n, Ordering::SeqCst);
            }
            if until(n) {
                return n;
            }
        }
    }

    fn on_irq(intid: u32) {
        irq::record(intid);
        if intid == timer::INTID {
            // Level-sensitive: silence the source before the EOI; the loop re-arms it.
            timer::disable();
        }
    }

    fn secondary(index: usize) -> ! {
        gic::init_cpu();
        gic::configure(timer::INTID, 0x80);
        beat_forever(index, |_| false);
        unreachable!()
    }

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        irq::set_handler(on_irq);
        gic::configure(timer::INTID, 0x80);
        let started = smp::start(1, secondary);
        result!("vcpu1-start", "{started}");
        let mut off_at = None;
        let beats = beat_forever(0, |n| {
            if off_at.is_none() && hypercall::vm_state(WATCHED) == 1 {
                println!("heartbeat: the watched VM is off");
                off_at = Some(n);
            }
            off_at.is_some_and(|at| n >= at + 3)
        });
        result!("beats", "{beats}");
        result!(
            "vcpu1-beating",
            "{}",
            if VCPU1_BEATS.load(Ordering::SeqCst) > 1 {
                "yes"
            } else {
                "no"
            }
        );
        result!("watched-off-seen", "yes");
        guest_rt::result::pass()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "the heartbeat guest runs under the hypervisor: use `cargo xtask run --system linux-duo`"
    );
}
