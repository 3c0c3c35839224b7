//! Copying and clearing physical memory the EL2 stage-1 tables identity-map.

/// Copies `len` bytes from physical `src` to physical `dst`.
///
/// # Safety
/// Both ranges must be identity-mapped normal memory in the EL2 tables, must not
/// overlap, and nothing else (no running vCPU) may use `dst` during the copy.
pub unsafe fn copy(dst: u64, src: u64, len: u64) {
    // SAFETY: the caller guarantees both ranges are mapped, distinct and unshared.
    unsafe { core::ptr::copy_nonoverlapping(src as *const u8, dst as *mut u8, len as usize) };
}

/// Fills `len` bytes at physical `dst` with zeros.
///
/// Whole blocks go through DC ZVA (one instruction zeroes DCZID_EL0's block, 64 bytes on
/// most cores, where a store loop takes eight): the scrub of an elastic block and the
/// wipe of a restarting VM's RAM are megabytes. The ragged ends, and everything when DC
/// ZVA is prohibited, are written with ordinary stores.
///
/// # Safety
/// The range must be identity-mapped normal memory and unused by anyone else.
pub unsafe fn zero(dst: u64, len: u64) {
    let bs = zva_block();
    let start = dst.next_multiple_of(bs.max(1));
    let end = (dst + len) & !(bs.max(1) - 1);
    if bs == 0 || end <= start {
        // SAFETY: the caller guarantees the range is mapped and unshared.
        unsafe { core::ptr::write_bytes(dst as *mut u8, 0, len as usize) };
        return;
    }
    // SAFETY: as above, for the parts before and after the whole blocks.
    unsafe {
        core::ptr::write_bytes(dst as *mut u8, 0, (start - dst) as usize);
        core::ptr::write_bytes(end as *mut u8, 0, (dst + len - end) as usize);
    }
    let mut a = start;
    while a + 4 * bs <= end {
        // SAFETY: DC ZVA zeroes the naturally aligned block at `a`, inside the range the
        // caller gave (normal memory: DC ZVA on device memory would fault).
        unsafe {
            core::arch::asm!(
                "dc zva, {a}",
                "dc zva, {b}",
                "dc zva, {c}",
                "dc zva, {d}",
                a = in(reg) a,
                b = in(reg) a + bs,
                c = in(reg) a + 2 * bs,
                d = in(reg) a + 3 * bs,
                options(nostack),
            )
        };
        a += 4 * bs;
    }
    while a < end {
        // SAFETY: as above, one block.
        unsafe { core::arch::asm!("dc zva, {}", in(reg) a, options(nostack)) };
        a += bs;
    }
}

/// Bytes DC ZVA zeroes (DCZID_EL0.BS), or 0 where it is prohibited (DZP).
fn zva_block() -> u64 {
    let id: u64;
    // SAFETY: reading DCZID_EL0 has no side effect.
    unsafe { core::arch::asm!("mrs {}, dczid_el0", out(reg) id, options(nomem, nostack)) };
    if id & (1 << 4) != 0 {
        0
    } else {
        4 << (id & 0xf)
    }
}

/// Copies `buf.len()` bytes from physical `src` into `buf`.
///
/// # Safety
/// The range must be identity-mapped normal memory. Its content may change concurrently
/// (guest memory): the bytes read are only used as data.
pub unsafe fn read(src: u64, buf: &mut [u8]) {
    // SAFETY: the caller guarantees the source is mapped; `buf` is a distinct buffer.
    unsafe { core::ptr::copy_nonoverlapping(src as *const u8, buf.as_mut_ptr(), buf.len()) };
}

/// Copies `buf` to physical `dst`.
///
/// # Safety
/// The range must be identity-mapped normal memory that no one relies on keeping (guest
/// memory the guest handed to the hypervisor to write, e.g. a virtqueue's used ring).
pub unsafe fn write(dst: u64, buf: &[u8]) {
    // SAFETY: the caller guarantees the destination is mapped; `buf` is a distinct buffer.
    unsafe { core::ptr::copy_nonoverlapping(buf.as_ptr(), dst as *mut u8, buf.len()) };
}
