//! Small CPU operations.
use core::arch::asm;

use aarch64_cpu::registers::{MPIDR_EL1, Readable};

/// MPIDR_EL1 affinity fields (Aff3..Aff0) of the running CPU.
pub fn mpidr() -> u64 {
    MPIDR_EL1.get() & 0xff_00ff_ffff
}

/// Waits for an event (cheap idle).
pub fn wait_for_event() {
    // SAFETY: WFE only pauses the CPU.
    unsafe { asm!("wfe", options(nomem, nostack)) }
}

/// Waits for an interrupt.
pub fn wait_for_interrupt() {
    // SAFETY: WFI only pauses the CPU.
    unsafe { asm!("wfi", options(nomem, nostack)) }
}

/// Signals an event to all CPUs (wakes WFE).
pub fn send_event() {
    // SAFETY: SEV has no memory effect.
    unsafe { asm!("dsb ish", "sev", options(nostack)) }
}

/// A YIELD hint: what this CPU does now is low-priority work that others may go before
/// (an idle CPU sending telemetry). On hardware with several threads per core it lets the
/// others run; QEMU's round-robin TCG switches to the next CPU on it, so that work done
/// by an idle CPU does not hold up the CPUs it is emulated in turn with.
#[inline(always)]
pub fn relax() {
    // SAFETY: YIELD is a hint with no architectural effect.
    unsafe { asm!("yield", options(nomem, nostack)) }
}

/// Reads the physical counter (CNTPCT_EL0).
pub fn counter() -> u64 {
    let v: u64;
    // SAFETY: reading the counter has no side effects.
    unsafe { asm!("isb", "mrs {}, cntpct_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// Reads the physical counter without the ISB that orders it after the instructions
/// before it: a timestamp for telemetry, where being a few instructions early is harmless
/// and one barrier per stamp is not (two per trap). Not for deadlines.
#[inline(always)]
pub fn stamp() -> u64 {
    let v: u64;
    // SAFETY: reading the counter has no side effects.
    unsafe { asm!("mrs {}, cntpct_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// Counter frequency in Hz (CNTFRQ_EL0).
pub fn counter_frequency() -> u64 {
    let v: u64;
    // SAFETY: reading CNTFRQ_EL0 has no side effects.
    unsafe { asm!("mrs {}, cntfrq_el0", out(reg) v, options(nomem, nostack)) };
    v
}
