//! Text lines on the physical UART, whole lines under one lock so that lines from
//! different CPUs and VMs do not interleave.
use super::generated::SYSTEM;
use super::sync::SpinLock;

/// Serialises writers of the physical UART.
static UART_LOCK: SpinLock<()> = SpinLock::new(());

/// Writes `prefix` + `line` + CRLF to the physical UART as one unit.
pub fn write_line(prefix: &[u8], line: &[u8]) {
    let _g = UART_LOCK.lock();
    let base = SYSTEM.devices.uart_base;
    hv_arch::uart::write(base, prefix);
    hv_arch::uart::write(base, line);
    hv_arch::uart::write(base, b"\r\n");
}
