//! The physical 16550/8250-compatible UART the hypervisor writes to and reads console
//! input from, on boards without a PL011 (Rockchip's DesignWare APB UARTs).
//!
//! Register `n` lies at `base + (n << reg_shift)` and is accessed `io_width` bytes wide,
//! as the board's device tree says (`reg-shift`, `reg-io-width`; the toolkit accepts
//! shifts 0 and 2 and widths 1 and 4). The firmware that loaded the hypervisor has set
//! the baud rate and line format; this driver never touches LCR or the divisor, so the
//! DesignWare "busy" quirk (LCR writes refused while the UART is busy) does not arise.
use core::ptr::{read_volatile, write_volatile};

use hv_core::sysdesc::Ns16550Regs;

/// Receive buffer (read) / transmit holding register (write).
const RBR_THR: u64 = 0;
/// Interrupt enable.
const IER: u64 = 1;
/// Line status.
const LSR: u64 = 5;
/// LSR: a received byte is waiting.
const LSR_DR: u32 = 1 << 0;
/// LSR: the transmit holding register (or FIFO) has room.
const LSR_THRE: u32 = 1 << 5;
/// IER: interrupt on received data (and, on FIFO UARTs, on the receive timeout).
const IER_ERBFI: u32 = 1 << 0;

/// Reads register `reg`.
fn read(base: u64, r: Ns16550Regs, reg: u64) -> u32 {
    let a = base + (reg << r.reg_shift);
    // SAFETY: `base` is the board's UART, mapped as device memory in the EL2 stage-1
    // tables (or reached with the MMU off, which is device memory too); `reg` is one of
    // its eight registers, placed and sized as the validated board description says.
    unsafe {
        if r.io_width == 4 {
            read_volatile(a as *const u32)
        } else {
            u32::from(read_volatile(a as *const u8))
        }
    }
}

/// Writes register `reg`.
fn write_reg(base: u64, r: Ns16550Regs, reg: u64, v: u32) {
    let a = base + (reg << r.reg_shift);
    // SAFETY: as in `read`; only the hypervisor drives this UART.
    unsafe {
        if r.io_width == 4 {
            write_volatile(a as *mut u32, v)
        } else {
            write_volatile(a as *mut u8, v as u8)
        }
    }
}

/// Writes `bytes` to the UART at `base`, waiting for room before each.
pub fn write(base: u64, r: Ns16550Regs, bytes: &[u8]) {
    for &b in bytes {
        while read(base, r, LSR) & LSR_THRE == 0 {}
        write_reg(base, r, RBR_THR, u32::from(b));
    }
}

/// Takes one received byte, if any (reading RBR pops it and, once the FIFO is empty,
/// drops the receive interrupt).
pub fn read_byte(base: u64, r: Ns16550Regs) -> Option<u8> {
    if read(base, r, LSR) & LSR_DR == 0 {
        return None;
    }
    Some(read(base, r, RBR_THR) as u8)
}

/// Enables the receive interrupt (the hypervisor forwards input to a VM's console); the
/// transmit side stays polled.
pub fn enable_rx_interrupt(base: u64, r: Ns16550Regs) {
    write_reg(base, r, IER, IER_ERBFI);
}
