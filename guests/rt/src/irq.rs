//! IRQ dispatch: acknowledge (ICC_IAR1_EL1), call the hook, end (ICC_EOIR1_EL1).
//!
//! The default hook counts each INTID per vCPU ([`count`]) and appends it to the vCPU's
//! delivery log ([`log`]); guests that need more (e.g. silencing a level-sensitive
//! source before the EOI) install their own with [`set_handler`] and may call
//! [`record`] from it. All counters have a single writer (their vCPU), so plain
//! loads and stores suffice (no exclusives: guests run with the MMU off).
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use crate::arch::{MAX_VCPUS, cpu_index, irq_mask, irq_unmask, wfi};
use crate::gic;

/// INTIDs counted (SGIs, PPIs and SPIs up to 1019).
pub const NR_INTIDS: usize = 1020;
/// Entries of each vCPU's delivery log.
pub const LOG_LEN: usize = 64;

static COUNTS: [[AtomicU32; NR_INTIDS]; MAX_VCPUS] =
    [const { [const { AtomicU32::new(0) }; NR_INTIDS] }; MAX_VCPUS];
static LOG: [[AtomicU32; LOG_LEN]; MAX_VCPUS] =
    [const { [const { AtomicU32::new(0) }; LOG_LEN] }; MAX_VCPUS];
static LOG_N: [AtomicU32; MAX_VCPUS] = [const { AtomicU32::new(0) }; MAX_VCPUS];
static HANDLER: AtomicUsize = AtomicUsize::new(0);

/// Installs `f` as the IRQ hook of every vCPU (called with the acknowledged INTID,
/// before its EOI, with IRQs masked).
pub fn set_handler(f: fn(u32)) {
    HANDLER.store(f as usize, Ordering::SeqCst);
}

/// Counts `intid` on this vCPU and logs it (what the default hook does).
pub fn record(intid: u32) {
    let cpu = cpu_index() % MAX_VCPUS;
    if let Some(c) = COUNTS[cpu].get(intid as usize) {
        c.store(c.load(Ordering::Relaxed) + 1, Ordering::SeqCst);
    }
    let n = LOG_N[cpu].load(Ordering::Relaxed);
    if (n as usize) < LOG_LEN {
        LOG[cpu][n as usize].store(intid, Ordering::Relaxed);
    }
    LOG_N[cpu].store(n + 1, Ordering::SeqCst);
}

/// How often `intid` was delivered to this vCPU.
pub fn count(intid: u32) -> u32 {
    count_on(cpu_index(), intid)
}

/// How often `intid` was delivered to vCPU `cpu`.
pub fn count_on(cpu: usize, intid: u32) -> u32 {
    COUNTS[cpu % MAX_VCPUS]
        .get(intid as usize)
        .map_or(0, |c| c.load(Ordering::SeqCst))
}

/// Total deliveries logged on this vCPU.
pub fn log_len() -> usize {
    LOG_N[cpu_index() % MAX_VCPUS].load(Ordering::SeqCst) as usize
}

/// The `i`-th INTID delivered to this vCPU (first [`LOG_LEN`] kept).
pub fn log(i: usize) -> Option<u32> {
    (i < log_len().min(LOG_LEN)).then(|| LOG[cpu_index() % MAX_VCPUS][i].load(Ordering::SeqCst))
}

/// Forgets this vCPU's delivery log (counts are kept).
pub fn clear_log() {
    LOG_N[cpu_index() % MAX_VCPUS].store(0, Ordering::SeqCst);
}

/// Sleeps (WFI) until `intid` has been delivered to this vCPU at least `n` times.
/// Race-free: IRQs are masked while checking, and WFI wakes on a pending IRQ even so.
pub fn wait_count(intid: u32, n: u32) {
    loop {
        irq_mask();
        if count(intid) >= n {
            irq_unmask();
            return;
        }
        wfi();
        irq_unmask();
    }
}

/// Called from the IRQ vector.
pub(crate) fn dispatch() {
    loop {
        let intid = gic::ack();
        if intid >= 1020 {
            return;
        }
        match HANDLER.load(Ordering::SeqCst) {
            0 => record(intid),
            f => {
                // SAFETY: HANDLER only ever holds 0 or a `fn(u32)` stored by `set_handler`.
                let f: fn(u32) = unsafe { core::mem::transmute::<usize, fn(u32)>(f) };
                f(intid)
            }
        }
        gic::eoi(intid);
    }
}
