//! Transport `telemetry-uart`: frames on the board's UART, PL011 or 16550 (shared with
//! nothing else: with this feature the hypervisor prints no text). Each CPU sends its own
//! ring.
use hv_telemetry::Ring;

/// Sends the hello.
pub fn send_hello(bytes: &[u8]) {
    super::super::super::uart::write(bytes);
}

/// Whether the run loop should take the transport for `pending` bytes in its ring: always
/// (the UART takes bytes one by one; there is nothing to batch).
pub fn due(pending: usize, _now: u64) -> bool {
    pending > 0
}

/// Whether the run loop should wait for the transport rather than skip it when busy: no (a
/// CPU whose ring fills drops records, reported as such).
pub fn must_wait(_pending: usize, _capacity: usize) -> bool {
    false
}

/// Sends everything the caller's ring holds (the caller holds the transport), or, with
/// `yield_to_irq`, until an interrupt is pending — at a frame's end (its 0x00 delimiter):
/// the UART is shared by every CPU's frames, so a CPU never gives it up mid-frame. The
/// rest goes later.
pub fn drain<const N: usize>(cpu: usize, rings: &[Ring<N>], _block: bool, yield_to_irq: bool) {
    let ring = &rings[cpu];
    // Small pieces: an idle CPU looks for a pending interrupt after each.
    let mut buf = [0u8; 64];
    loop {
        let n = ring.copy_out(&mut buf);
        if n == 0 {
            return;
        }
        if yield_to_irq && super::yield_or_stop() {
            // Up to the end of the frame under way, then stop.
            if let Some(end) = buf[..n].iter().position(|&b| b == 0) {
                super::super::super::uart::write(&buf[..=end]);
                ring.consume(end + 1);
                return;
            }
        }
        super::super::super::uart::write(&buf[..n]);
        ring.consume(n);
    }
}

/// Nothing is buffered below the ring.
pub fn flush() {}
