//! Transport `telemetry-uart`: frames on the board's PL011 (shared with nothing else: with
//! this feature the hypervisor prints no text).
use hv_telemetry::Ring;

use super::super::super::generated::SYSTEM;

/// Sends the hello.
pub fn send_hello(bytes: &[u8]) {
    hv_arch::uart::write(SYSTEM.devices.uart_base, bytes);
}

/// Sends everything the ring holds (the caller holds the transport).
pub fn drain<const N: usize>(ring: &mut Ring<N>) {
    let (a, b) = ring.peek();
    let n = a.len() + b.len();
    hv_arch::uart::write(SYSTEM.devices.uart_base, a);
    hv_arch::uart::write(SYSTEM.devices.uart_base, b);
    ring.consume(n);
}

/// Nothing is buffered below the ring.
pub fn flush() {}
