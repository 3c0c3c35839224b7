//! Telemetry benchmark guest: rounds of `N` cheap hypercalls (TELEMETRY_MARKER, which
//! the hypervisor answers without work), each round timed with the virtual counter, then
//! power-off. Every hypercall is one trap, so the hypervisor emits a `Trap` and a
//! `Hypercall` record (and a `Marker` where markers are wired) per call; the monitor
//! counts what arrives, the guest prints the ticks per call:
//! `tmbench: round R: N calls in T ticks`.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use core::arch::asm;

    use guest_rt::{println, psci};

    /// Calls per round, and rounds.
    const N: u64 = 2000;
    const ROUNDS: u64 = 5;
    /// SMCCC fast call TELEMETRY_MARKER (hv-core `hypercall::fid`).
    const TELEMETRY_MARKER: u64 = 0xC600_0004;

    fn counter() -> u64 {
        let v: u64;
        // SAFETY: reading the virtual counter has no side effects.
        unsafe { asm!("isb", "mrs {}, cntvct_el0", out(reg) v, options(nomem, nostack)) };
        v
    }

    fn marker(id: u64, value: u64) -> u64 {
        let mut x0 = TELEMETRY_MARKER;
        // SAFETY: an SMCCC call through HVC #0; the hypervisor clobbers only x0..x3.
        unsafe {
            asm!("hvc #0", inout("x0") x0, inout("x1") id => _, inout("x2") value => _,
                 out("x3") _, options(nostack))
        };
        x0
    }

    fn main() -> ! {
        println!("tmbench: {} rounds of {} hypercalls", ROUNDS, N);
        for r in 0..ROUNDS {
            let t0 = counter();
            for i in 0..N {
                marker(r, i);
            }
            let t1 = counter();
            println!("tmbench: round {}: {} calls in {} ticks", r, N, t1 - t0);
        }
        println!("tmbench: done");
        psci::system_off()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("the tmbench guest runs under the hypervisor: use `cargo xtask bench telemetry`");
}
