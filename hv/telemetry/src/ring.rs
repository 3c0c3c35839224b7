//! A fixed-size byte ring of whole frames: single producer, single consumer, no allocation,
//! no lock, no `unsafe`.
//!
//! The producer is the CPU that owns the ring (it pushes from its trap path); the consumer is
//! whoever drains it — the owner itself, or another CPU holding the transport (the
//! `telemetry-net` transport sends every CPU's ring from the CPU that drives the device). At
//! most one consumer may act at a time: the transport's lock serialises consumers, and its
//! acquire/release orders one consumer's `tail` before the next one's.
//!
//! Memory ordering: the producer writes the bytes, then publishes `head` (release); the
//! consumer reads `head` (acquire), then the bytes, then publishes `tail` (release); the
//! producer reads `tail` (acquire) before it reuses bytes. The bytes themselves are relaxed
//! atomics (plain loads and stores on aarch64), so a misuse (two producers) garbles frames —
//! which the monitor's CRC catches — but is never undefined behaviour.
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// Byte ring of capacity `N` (one byte is never used, to tell full from empty).
pub struct Ring<const N: usize> {
    buf: [AtomicU8; N],
    /// Next byte to write (written by the producer only).
    head: AtomicUsize,
    /// Next byte to send (written by the consumer only).
    tail: AtomicUsize,
}

impl<const N: usize> Ring<N> {
    pub const fn new() -> Self {
        assert!(N >= 2, "a ring needs at least two bytes");
        Ring {
            buf: [const { AtomicU8::new(0) }; N],
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
        }
    }

    /// Bytes waiting to be sent (exact for the producer and the consumer; a snapshot for
    /// anyone else).
    pub fn len(&self) -> usize {
        let head = self.head.load(Ordering::Acquire);
        let tail = self.tail.load(Ordering::Acquire);
        (head + N - tail) % N
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Room for a frame of this many bytes (producer side).
    pub fn free(&self) -> usize {
        N - 1 - self.len()
    }

    /// Producer: appends `frame` entirely, or nothing (false) when it does not fit.
    pub fn push(&self, frame: &[u8]) -> bool {
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Acquire);
        let free = N - 1 - (head + N - tail) % N;
        if frame.len() > free {
            return false;
        }
        let mut at = head;
        for &b in frame {
            self.buf[at].store(b, Ordering::Relaxed);
            at += 1;
            if at == N {
                at = 0;
            }
        }
        self.head.store(at, Ordering::Release);
        true
    }

    /// Consumer: copies up to `out.len()` of the oldest bytes without consuming them;
    /// returns how many.
    pub fn copy_out(&self, out: &mut [u8]) -> usize {
        let head = self.head.load(Ordering::Acquire);
        let mut at = self.tail.load(Ordering::Relaxed);
        let mut n = 0;
        while at != head && n < out.len() {
            out[n] = self.buf[at].load(Ordering::Relaxed);
            n += 1;
            at += 1;
            if at == N {
                at = 0;
            }
        }
        n
    }

    /// Consumer: forgets the `n` oldest bytes (they were sent).
    pub fn consume(&self, n: usize) {
        let n = n.min(self.len());
        let tail = self.tail.load(Ordering::Relaxed);
        self.tail.store((tail + n) % N, Ordering::Release);
    }

    /// Consumer: copies the longest run of whole frames (ending with a 0x00 delimiter) that
    /// fits `out` without consuming it; returns its length (0: not even one frame fits). For
    /// datagram transports, which must not cut a frame.
    pub fn copy_frames(&self, out: &mut [u8]) -> usize {
        let n = self.copy_out(out);
        out[..n].iter().rposition(|&b| b == 0).map_or(0, |i| i + 1)
    }
}

/// Consumer of several rings (the transport lock's holder): moves whole frames from `rings`
/// into `out`, ring `first` first and then the others in turn, each ring's frames in order;
/// returns the bytes written. For datagram transports: `out` is one datagram, frames of
/// several CPUs may share it, none is cut.
pub fn pack<const N: usize>(rings: &[Ring<N>], first: usize, out: &mut [u8]) -> usize {
    let mut n = 0;
    for k in 0..rings.len() {
        let r = &rings[(first + k) % rings.len()];
        let m = r.copy_frames(&mut out[n..]);
        r.consume(m);
        n += m;
    }
    n
}

impl<const N: usize> Default for Ring<N> {
    fn default() -> Self {
        Self::new()
    }
}
