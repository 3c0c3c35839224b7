//! The hypervisor's own UART, whichever model the board has (`[uart] model`): every
//! writer and the console's input go through here.
//!
//! The model is a field of the immutable `SYSTEM` static, so each `match` below is on a
//! value the compiler knows: it keeps only the board's driver, and a PL011 board runs the
//! same code as before the 16550 existed.
use hv_core::sysdesc::UartModel;

use super::generated::SYSTEM;

/// Writes `bytes`, waiting for room in the UART as needed. Takes no lock: callers that
/// must not interleave serialise themselves (`textout`).
#[inline(always)]
pub fn write(bytes: &[u8]) {
    let base = SYSTEM.devices.uart_base;
    match SYSTEM.devices.uart_model {
        UartModel::Pl011 => hv_arch::uart::write(base, bytes),
        UartModel::Ns16550(r) => hv_arch::ns16550::write(base, r, bytes),
    }
}

/// Takes one received byte, if any.
#[inline(always)]
pub fn read_byte() -> Option<u8> {
    let base = SYSTEM.devices.uart_base;
    match SYSTEM.devices.uart_model {
        UartModel::Pl011 => hv_arch::uart::read_byte(base),
        UartModel::Ns16550(r) => hv_arch::ns16550::read_byte(base, r),
    }
}

/// Enables the UART's receive interrupt (console input forwarded to a VM).
pub fn enable_rx_interrupt() {
    let base = SYSTEM.devices.uart_base;
    match SYSTEM.devices.uart_model {
        UartModel::Pl011 => hv_arch::uart::enable_rx_interrupt(base),
        UartModel::Ns16550(r) => hv_arch::ns16550::enable_rx_interrupt(base, r),
    }
}
