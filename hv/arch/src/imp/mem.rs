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
/// # Safety
/// The range must be identity-mapped normal memory and unused by anyone else.
pub unsafe fn zero(dst: u64, len: u64) {
    // SAFETY: the caller guarantees the range is mapped and unshared.
    unsafe { core::ptr::write_bytes(dst as *mut u8, 0, len as usize) };
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
