//! `reflect-stranded`: accesses emulated regions whose emulating VM never answers
//! (`reflect-silent`) or is off (`hello`, which ends at once). Each access must end in a
//! synchronous external abort — after the region's timeout, or at once when the emulating
//! VM is off — instead of waiting forever.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_rt::{hypercall, println, probe, result, result::check, timer};

    /// Emulated by `reflect-silent` (timeout 2 ms in the system file).
    const SILENT: usize = 0x1000_0000;
    /// Emulated by the `hello` VM (index 2), which powers off at once.
    const ORPHAN: usize = 0x1000_1000;
    const HELLO_VM: u64 = 2;
    /// Channel 0: tells `reflect-silent` to end.
    const TO_SILENT: u64 = 0;

    fn aborted(r: Result<u32, probe::Fault>, at: usize) -> bool {
        matches!(r, Err(f) if f.is_data_abort() && f.is_external() && f.far == at as u64)
    }

    fn main() -> ! {
        let t0 = timer::now();
        let r = probe::read32(SILENT);
        let waited_us = (timer::now() - t0) * 1_000_000 / timer::frequency();
        println!("reflect-stranded: silent emulator: {r:?} after {waited_us} us");
        let ok = aborted(r, SILENT);
        result!("silent-access", "{}", if ok { "abort" } else { "no-abort" });
        check(ok, "silent-access");
        // The timeout is 2 ms: not before it, and not long after (a bound, not a hang).
        let bounded = (2_000..500_000).contains(&waited_us);
        result!(
            "silent-wait",
            "{}",
            if bounded { "bounded" } else { "unbounded" }
        );
        check(bounded, "silent-wait");

        // Asked once a millisecond (a spinning hypercall would flood the telemetry).
        while hypercall::vm_state(HELLO_VM) != 1 {
            let until = timer::now() + timer::us_to_ticks(1_000);
            while timer::now() < until {
                core::hint::spin_loop();
            }
        }
        let t0 = timer::now();
        let r = probe::read32(ORPHAN);
        let waited_us = (timer::now() - t0) * 1_000_000 / timer::frequency();
        println!("reflect-stranded: emulator off: {r:?} after {waited_us} us");
        let ok = aborted(r, ORPHAN);
        result!("orphan-access", "{}", if ok { "abort" } else { "no-abort" });
        check(ok, "orphan-access");
        // Its emulating VM is off: no need to wait for the (10 ms default) timeout.
        let prompt = waited_us < 10_000;
        result!(
            "orphan-wait",
            "{}",
            if prompt { "prompt" } else { "timeout" }
        );
        check(prompt, "orphan-wait");

        hypercall::virq_raise(TO_SILENT);
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "this guest runs under the hypervisor: use `cargo xtask run --system reflect-stranded`"
    );
}
