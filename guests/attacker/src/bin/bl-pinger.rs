//! `bl-pinger`: raises channel 0 into `bl-mover` 200 times, each time only after
//! bl-mover's handler counted the one before (the count is in the shared page), so
//! every vIRQ must arrive exactly once while bl-mover's vCPU moves between clusters.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_rt::{arch, hypercall, result, result::check, timer};

    const PINGS: u32 = 200;
    const SHARED: usize = 0x5000_0000;

    fn shared(i: usize) -> *mut u32 {
        (SHARED + 4 * i) as *mut u32
    }

    fn main() -> ! {
        // bl-mover's GIC set-up comes first: wait until its first move (a started
        // mover configured its interrupts before it asks).
        timer::spin_until(timer::us_to_ticks(200_000), || false);
        let mut sent = 0;
        for i in 1..=PINGS {
            check(hypercall::virq_raise(0) == 0, "virq-raise");
            // SAFETY: the shared page is mapped rw in this VM.
            let taken = timer::spin_until(timer::us_to_ticks(2_000_000), || unsafe {
                shared(0).read_volatile() >= i
            });
            if !taken {
                break;
            }
            sent = i;
        }
        // SAFETY: as above.
        unsafe { shared(1).write_volatile(1) };
        arch::dsb();
        result!("pings-taken", "{sent}");
        check(sent == PINGS, "pings-lost");
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "this guest runs under the hypervisor: use `cargo xtask run bl-migrate --features big-little`"
    );
}
