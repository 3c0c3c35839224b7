//! The physical PL011 the hypervisor writes to. Only transmit is used here.
use core::ptr::{read_volatile, write_volatile};

const DR: u64 = 0x000;
const FR: u64 = 0x018;
const FR_TXFF: u32 = 1 << 5;

/// Writes `bytes` to the PL011 at `base`, waiting while its FIFO is full.
pub fn write(base: u64, bytes: &[u8]) {
    for &b in bytes {
        // SAFETY: `base` is the board's PL011, mapped as device memory in the EL2
        // stage-1 tables (or accessed with the MMU off, which is device memory too).
        unsafe {
            while read_volatile((base + FR) as *const u32) & FR_TXFF != 0 {}
            write_volatile((base + DR) as *mut u32, b as u32);
        }
    }
}
