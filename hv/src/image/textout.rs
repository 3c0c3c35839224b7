//! Text lines on the physical UART, whole lines under one lock so that lines from
//! different CPUs and VMs do not interleave.
use super::sync::SpinLock;
use super::uart;

/// Serialises writers of the physical UART.
static UART_LOCK: SpinLock<()> = SpinLock::new(());

/// Writes `prefix` + `line` + CRLF to the physical UART as one unit.
pub fn write_line(prefix: &[u8], line: &[u8]) {
    let _g = UART_LOCK.lock();
    uart::write(prefix);
    uart::write(line);
    uart::write(b"\r\n");
}
