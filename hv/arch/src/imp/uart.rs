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

const FR_RXFE: u32 = 1 << 4;
const IMSC: u64 = 0x038;
const ICR: u64 = 0x044;
/// Receive and receive-timeout interrupts.
const RX_INTERRUPTS: u32 = (1 << 4) | (1 << 6);

/// Takes one received byte, if any.
pub fn read_byte(base: u64) -> Option<u8> {
    // SAFETY: `base` is the board's PL011, mapped as device memory in the EL2 tables;
    // reading DR pops one byte of its receive FIFO, which only the hypervisor uses.
    unsafe {
        if read_volatile((base + FR) as *const u32) & FR_RXFE != 0 {
            return None;
        }
        Some(read_volatile((base + DR) as *const u32) as u8)
    }
}

/// Enables the receive interrupts (the hypervisor forwards input to a VM's console).
pub fn enable_rx_interrupt(base: u64) {
    // SAFETY: as in `read_byte`; IMSC/ICR only change which interrupts the UART raises.
    unsafe {
        write_volatile((base + ICR) as *mut u32, RX_INTERRUPTS);
        write_volatile((base + IMSC) as *mut u32, RX_INTERRUPTS);
    }
}
