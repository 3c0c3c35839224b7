//! Calls to the platform firmware's PSCI through SMC (QEMU's built-in PSCI when there
//! is no EL3, or TF-A on boards).
use core::arch::asm;

const CPU_ON_64: u64 = 0xC400_0003;
const SYSTEM_OFF: u64 = 0x8400_0008;
const SYSTEM_RESET: u64 = 0x8400_0009;

fn smc(fid: u64, a1: u64, a2: u64, a3: u64) -> i64 {
    let r: u64;
    // SAFETY: an SMCCC fast call: the firmware may clobber x0..x17 (SMCCC 1.0 allows
    // it), which we declare; it does not touch our memory.
    unsafe {
        asm!("smc #0",
            inout("x0") fid => r, inout("x1") a1 => _, inout("x2") a2 => _, inout("x3") a3 => _,
            out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _, out("x9") _,
            out("x10") _, out("x11") _, out("x12") _, out("x13") _, out("x14") _,
            out("x15") _, out("x16") _, out("x17") _,
            options(nostack));
    }
    r as i64
}

/// Starts physical CPU `mpidr` (affinity fields only, bit 31 clear) at `entry` with
/// `context` in x0. Returns the PSCI status (0 = success).
pub fn cpu_on(mpidr: u64, entry: u64, context: u64) -> i64 {
    smc(CPU_ON_64, mpidr & 0xff_00ff_ffff, entry, context)
}

/// Powers the machine off (QEMU exits with status 0).
pub fn system_off() -> ! {
    smc(SYSTEM_OFF, 0, 0, 0);
    loop {
        super::cpu::wait_for_event();
    }
}

/// Resets the machine (QEMU started with `-no-reboot` exits instead). Used after a
/// hypervisor failure, so that a run ends instead of hanging.
pub fn system_reset() -> ! {
    smc(SYSTEM_RESET, 0, 0, 0);
    loop {
        super::cpu::wait_for_interrupt();
    }
}
