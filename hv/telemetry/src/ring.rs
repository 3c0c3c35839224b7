//! A fixed-size byte ring of whole frames (no allocation, no locks: its owner CPU is both the
//! producer and the consumer).

/// Byte ring of capacity `N` (one byte is never used, to tell full from empty).
pub struct Ring<const N: usize> {
    buf: [u8; N],
    /// Next byte to write.
    head: usize,
    /// Next byte to send.
    tail: usize,
}

impl<const N: usize> Ring<N> {
    pub const fn new() -> Self {
        assert!(N >= 2, "a ring needs at least two bytes");
        Ring { buf: [0; N], head: 0, tail: 0 }
    }

    /// Bytes waiting to be sent.
    pub fn len(&self) -> usize {
        (self.head + N - self.tail) % N
    }

    pub fn is_empty(&self) -> bool {
        self.head == self.tail
    }

    /// Room for a frame of this many bytes.
    pub fn free(&self) -> usize {
        N - 1 - self.len()
    }

    /// Appends `frame` entirely, or nothing (false) when it does not fit.
    pub fn push(&mut self, frame: &[u8]) -> bool {
        if frame.len() > self.free() {
            return false;
        }
        let first = frame.len().min(N - self.head);
        self.buf[self.head..self.head + first].copy_from_slice(&frame[..first]);
        self.buf[..frame.len() - first].copy_from_slice(&frame[first..]);
        self.head = (self.head + frame.len()) % N;
        true
    }

    /// The waiting bytes as (up to) two slices, oldest first.
    pub fn peek(&self) -> (&[u8], &[u8]) {
        if self.head >= self.tail {
            (&self.buf[self.tail..self.head], &[])
        } else {
            (&self.buf[self.tail..], &self.buf[..self.head])
        }
    }

    /// Forgets the `n` oldest bytes (they were sent).
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len());
        self.tail = (self.tail + n) % N;
    }

    /// Copies the longest run of whole frames (ending with a 0x00 delimiter) that fits `out`
    /// without consuming it; returns its length (0: not even one frame fits). For datagram
    /// transports, which must not cut a frame.
    pub fn copy_frames(&self, out: &mut [u8]) -> usize {
        let (a, b) = self.peek();
        let mut n = 0;
        let mut whole = 0;
        for &byte in a.iter().chain(b.iter()) {
            if n == out.len() {
                break;
            }
            out[n] = byte;
            n += 1;
            if byte == 0 {
                whole = n;
            }
        }
        whole
    }
}

impl<const N: usize> Default for Ring<N> {
    fn default() -> Self {
        Self::new()
    }
}
