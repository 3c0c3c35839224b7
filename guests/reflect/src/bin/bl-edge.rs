//! `bl-edge`: big.LITTLE moves at awkward moments. Both vCPUs of this VM move between the
//! clusters every millisecond by a plan (system `bl-edge`), whatever they are doing:
//! - vCPU 0 reads the COUNTER of a device `bl-edge-emu` emulates: each read is reflected
//!   to the other VM, and the vCPU waits for the answer — a move may come meanwhile;
//! - vCPU 0 powers vCPU 1 on (PSCI CPU_ON), vCPU 1 counts itself and powers off
//!   (CPU_OFF), vCPU 0 waits for AFFINITY_INFO to say OFF — moves may come at any step;
//! - after 200 rounds of both, the first boot resets the VM (SYSTEM_RESET) wherever its
//!   vCPUs are; the second boot checks the same and powers off.
//!
//! Every counter read must return the next value, every CPU_ON must run vCPU 1 exactly
//! once, and the second boot must come (the emulator counts boots).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use core::sync::atomic::{AtomicU32, Ordering};

    use guest_rt::psci::{self, affinity};
    use guest_rt::{println, probe, result, result::check, smp, timer};

    /// The emulated device (bl-edge-emu): HELLO (write: a boot starts; the counter
    /// restarts), BOOTS (read: boots so far), COUNTER (read: 0, 1, 2, …), DONE (write).
    const DEVICE: usize = 0x1000_0000;
    const REG_HELLO: usize = 0x00;
    const REG_BOOTS: usize = 0x04;
    const REG_COUNTER: usize = 0x08;
    const REG_DONE: usize = 0x0c;
    const ROUNDS: u32 = 200;

    static V1_RUNS: AtomicU32 = AtomicU32::new(0);

    fn secondary(_index: usize) -> ! {
        V1_RUNS.store(V1_RUNS.load(Ordering::SeqCst) + 1, Ordering::SeqCst);
        psci::cpu_off();
        loop {
            guest_rt::arch::wfi();
        }
    }

    fn main() -> ! {
        let hello = probe::write32(DEVICE + REG_HELLO, 1);
        let boots = probe::read32(DEVICE + REG_BOOTS).unwrap_or(0);
        check(hello.is_ok(), "hello");
        println!("bl-edge: boot {boots}");
        let (mut counted, mut cycled) = (0u32, 0u32);
        for i in 0..ROUNDS {
            if probe::read32(DEVICE + REG_COUNTER) == Ok(i) {
                counted += 1;
            }
            let before = V1_RUNS.load(Ordering::SeqCst);
            if smp::start(1, secondary) != 0 {
                continue;
            }
            // First its run (memory only), then AFFINITY_INFO now and then: a query
            // per spin would flood the telemetry stream with hypercall records.
            let ran = timer::spin_until(timer::us_to_ticks(2_000_000), || {
                V1_RUNS.load(Ordering::SeqCst) == before + 1
            });
            let off = ran
                && timer::spin_until(timer::us_to_ticks(2_000_000), || {
                    let t = timer::now() + timer::us_to_ticks(20);
                    while timer::now() < t {}
                    psci::affinity_info(1, 0) == affinity::OFF
                });
            cycled += u32::from(off && V1_RUNS.load(Ordering::SeqCst) == before + 1);
        }
        result!("boot", "{boots}");
        if boots == 1 {
            // Reset while both vCPUs keep moving: the second boot must come.
            result!("boot1-counted", "{counted}");
            result!("boot1-cycled", "{cycled}");
            check(counted == ROUNDS && cycled == ROUNDS, "boot1");
            psci::system_reset();
        }
        result!("counted", "{counted}");
        result!("cycled", "{cycled}");
        check(boots == 2, "boots");
        check(counted == ROUNDS && cycled == ROUNDS, "boot2");
        let _ = probe::write32(DEVICE + REG_DONE, 1);
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "this guest runs under the hypervisor: use `cargo xtask run bl-edge --features big-little`"
    );
}
