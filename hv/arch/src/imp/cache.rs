//! Cache maintenance for memory the hypervisor writes and a guest then reads with its
//! MMU (and so its caches) off: image copies must reach the point of coherency.
use core::arch::asm;

fn dcache_line() -> usize {
    let ctr: u64;
    // SAFETY: reading CTR_EL0 has no side effects.
    unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack)) };
    4 << ((ctr >> 16) & 0xf)
}

/// Cleans and invalidates the data cache to the point of coherency for `[pa, pa+len)`
/// and invalidates the instruction cache.
pub fn clean_to_poc(pa: u64, len: u64) {
    let line = dcache_line() as u64;
    let mut a = pa & !(line - 1);
    // four lines an iteration: elastic blocks are cleaned whole, megabytes at a time
    while a + 4 * line <= pa + len {
        // SAFETY: DC CIVAC on identity-mapped addresses only affects caches.
        unsafe {
            asm!(
                "dc civac, {a}",
                "dc civac, {b}",
                "dc civac, {c}",
                "dc civac, {d}",
                a = in(reg) a,
                b = in(reg) a + line,
                c = in(reg) a + 2 * line,
                d = in(reg) a + 3 * line,
                options(nostack),
            )
        };
        a += 4 * line;
    }
    while a < pa + len {
        // SAFETY: DC CIVAC on an identity-mapped address only affects caches.
        unsafe { asm!("dc civac, {}", in(reg) a, options(nostack)) };
        a += line;
    }
    // SAFETY: barriers and I-cache invalidation have no memory-safety effect.
    unsafe { asm!("dsb sy", "ic iallu", "dsb sy", "isb", options(nostack)) };
}
