//! Transport `telemetry-null` (benchmarks): the ring is emptied without sending anything,
//! so a run measures the cost of producing events alone. The UART keeps its text.
use hv_telemetry::Ring;

pub fn send_hello(_bytes: &[u8]) {}

/// Whether the run loop should take the transport: whenever something waits.
pub fn due(pending: usize, _now: u64) -> bool {
    pending > 0
}

pub fn must_wait(_pending: usize, _capacity: usize) -> bool {
    false
}

/// Forgets what the caller's ring holds.
pub fn drain<const N: usize>(cpu: usize, rings: &[Ring<N>], _block: bool, _yield: bool) {
    rings[cpu].consume(rings[cpu].len());
}

pub fn flush() {}
