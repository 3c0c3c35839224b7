//! Per-CPU sequence accounting: lost, duplicated, reordered and renumbered records.
//!
//! Why a window: a record that arrives late (UDP reorders) was first counted as lost when its
//! successor arrived. Remembering the recently missing numbers (a bitmap of [`WINDOW`] numbers
//! behind the newest) lets the late arrival be re-classified as "reordered" and taken back out
//! of the lost count, so `received + lost == sent` stays exact. Numbers older than the window
//! stay lost.
//!
//! Why jumps are not gaps: one damaged-but-valid frame (or a producer that restarted without a
//! hello) can carry a number far from the expected one. Counting the distance as lost would
//! report billions of losses and then drop every real record as a "duplicate". A number more
//! than [`MAX_GAP`] ahead, or more than [`WINDOW`] behind, is a *jump*: the record is handed on
//! and counted, the expectation stays; only when the next record continues from the jumped-to
//! number is the CPU *resynchronised* onto the new numbering.
//!
//! Memory: one tracker is a fixed [`WINDOW`]-bit map plus a few words, whatever the input.

/// How far back (in sequence numbers) a late record can still be recognised.
pub const WINDOW: u32 = 4096;
/// The largest forward step still taken as a gap (records lost in transport); beyond it, a
/// jump. UART damage loses single frames and UDP whole datagrams (tens of records), far below.
pub const MAX_GAP: u32 = 1 << 16;

const WORDS: usize = WINDOW as usize / 64;

/// What one sequence number meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqEvent {
    /// The expected next number (or the first of this CPU).
    InOrder,
    /// Skipped `n` numbers, now counted as lost.
    Gap(u32),
    /// A number counted as lost arrived after all.
    Late,
    /// Seen before (or too old to tell): ignore the record.
    Duplicate,
    /// A number far from the expected one: handed on, counted, the expectation is kept.
    Jump,
    /// The record after a jump continued from it: the CPU now follows the new numbering.
    Resync,
}

/// Sequence state of one CPU.
#[derive(Debug, Clone)]
pub struct SeqTracker {
    next: Option<u32>,
    /// Bit `i` set: number `next - 1 - i` is missing.
    missing: [u64; WORDS],
    /// After a jump to `n`: the number that would confirm it (`n + 1`).
    candidate: Option<u32>,
    /// After a repeated hello: the next record may continue the numbering or restart at 0.
    soft: bool,
}

impl Default for SeqTracker {
    fn default() -> Self {
        SeqTracker {
            next: None,
            missing: [0; WORDS],
            candidate: None,
            soft: false,
        }
    }
}

impl SeqTracker {
    /// A tracker for a connection that starts numbering at 0 (after a hello).
    pub fn expecting_zero() -> Self {
        SeqTracker {
            next: Some(0),
            ..Self::default()
        }
    }

    /// A tracker that expects `next`, or a restart from 0 (a hello came again).
    pub fn continuing(next: u32) -> Self {
        SeqTracker {
            next: Some(next),
            soft: true,
            ..Self::default()
        }
    }

    /// The next number expected, if known.
    pub fn expected(&self) -> Option<u32> {
        self.next
    }

    /// The next record may continue the numbering or restart at 0 (a hello was repeated).
    pub fn soften(&mut self) {
        self.soft = true;
    }

    /// Classifies `seq` and updates the state.
    pub fn observe(&mut self, seq: u32) -> SeqEvent {
        let Some(next) = self.next else {
            self.restart(seq);
            return SeqEvent::InOrder;
        };
        let ahead = seq.wrapping_sub(next);
        if std::mem::take(&mut self.soft) && ahead != 0 && seq < WINDOW {
            // numbering restarted after the hello: 0..seq were lost
            self.next = Some(0);
            self.missing = [0; WORDS];
            self.candidate = None;
            return self.forward(seq);
        }
        if ahead == 0 {
            self.candidate = None;
            self.advance(1);
            SeqEvent::InOrder
        } else if ahead <= MAX_GAP {
            self.candidate = None;
            self.forward(ahead)
        } else {
            let behind = next.wrapping_sub(seq);
            if behind <= WINDOW {
                if self.take_missing(behind - 1) {
                    SeqEvent::Late
                } else {
                    SeqEvent::Duplicate
                }
            } else if self.candidate == Some(seq) {
                self.restart(seq);
                SeqEvent::Resync
            } else {
                self.candidate = Some(seq.wrapping_add(1));
                SeqEvent::Jump
            }
        }
    }

    /// Starts over with `seq` as the only number seen.
    fn restart(&mut self, seq: u32) {
        self.next = Some(seq.wrapping_add(1));
        self.missing = [0; WORDS];
        self.candidate = None;
    }

    /// `ahead` numbers were skipped before the one just received.
    fn forward(&mut self, ahead: u32) -> SeqEvent {
        if ahead == 0 {
            self.advance(1);
            return SeqEvent::InOrder;
        }
        // the skipped numbers become bits 1..=ahead after the shift (bit 0 is the new one)
        self.advance(ahead + 1);
        for i in 1..=ahead.min(WINDOW - 1) {
            self.set_missing(i);
        }
        SeqEvent::Gap(ahead)
    }

    /// Moves `next` on by `n`, shifting the bitmap.
    fn advance(&mut self, n: u32) {
        self.next = self.next.map(|x| x.wrapping_add(n));
        if n >= WINDOW {
            self.missing = [0; WORDS];
            return;
        }
        let (words, bits) = ((n / 64) as usize, n % 64);
        for i in (0..WORDS).rev() {
            let lo = i.checked_sub(words).map_or(0, |j| self.missing[j]);
            let below = i.checked_sub(words + 1).map_or(0, |j| self.missing[j]);
            self.missing[i] = if bits == 0 {
                lo
            } else {
                (lo << bits) | (below >> (64 - bits))
            };
        }
    }

    fn set_missing(&mut self, i: u32) {
        self.missing[(i / 64) as usize] |= 1 << (i % 64);
    }

    fn take_missing(&mut self, i: u32) -> bool {
        let (w, b) = ((i / 64) as usize, i % 64);
        let was = self.missing[w] & (1 << b) != 0;
        self.missing[w] &= !(1 << b);
        was
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        let mut t = SeqTracker::default();
        assert_eq!(t.observe(5), SeqEvent::InOrder);
        assert_eq!(t.observe(6), SeqEvent::InOrder);
        assert_eq!(t.observe(9), SeqEvent::Gap(2));
        assert_eq!(t.observe(7), SeqEvent::Late);
        assert_eq!(t.observe(7), SeqEvent::Duplicate);
        assert_eq!(t.observe(9), SeqEvent::Duplicate);
        assert_eq!(t.observe(8), SeqEvent::Late);
        assert_eq!(t.observe(10), SeqEvent::InOrder);
    }

    #[test]
    fn wraps() {
        let mut t = SeqTracker::default();
        t.observe(u32::MAX - 1);
        assert_eq!(t.observe(u32::MAX), SeqEvent::InOrder);
        assert_eq!(t.observe(0), SeqEvent::InOrder);
        assert_eq!(t.observe(2), SeqEvent::Gap(1));
        assert_eq!(t.observe(1), SeqEvent::Late);
    }

    #[test]
    fn late_records_are_recognised_across_word_boundaries() {
        let mut t = SeqTracker::expecting_zero();
        assert_eq!(t.observe(0), SeqEvent::InOrder);
        assert_eq!(t.observe(200), SeqEvent::Gap(199));
        for s in [1, 63, 64, 65, 128, 199] {
            assert_eq!(t.observe(s), SeqEvent::Late, "seq {s}");
        }
        assert_eq!(t.observe(64), SeqEvent::Duplicate);
        // out of the window: too old to tell
        assert_eq!(t.observe(200 + WINDOW + 10), SeqEvent::Gap(WINDOW + 9));
        assert_eq!(t.observe(2), SeqEvent::Jump);
    }

    #[test]
    fn a_far_jump_is_not_a_loss_and_resyncs_when_confirmed() {
        let mut t = SeqTracker::expecting_zero();
        assert_eq!(t.observe(0), SeqEvent::InOrder);
        // one frame far ahead: jump, the real numbering goes on
        assert_eq!(t.observe(0x7fff_0000), SeqEvent::Jump);
        assert_eq!(t.observe(1), SeqEvent::InOrder);
        assert_eq!(t.observe(2), SeqEvent::InOrder);
        // the producer restarted without a hello: two in a row confirm it
        assert_eq!(t.observe(1_000_000), SeqEvent::Jump);
        assert_eq!(t.observe(1_000_001), SeqEvent::Resync);
        assert_eq!(t.observe(1_000_002), SeqEvent::InOrder);
    }

    #[test]
    fn after_a_repeated_hello_both_continuing_and_restarting_work() {
        let mut t = SeqTracker::continuing(500);
        assert_eq!(t.observe(500), SeqEvent::InOrder);
        let mut r = SeqTracker::continuing(500);
        assert_eq!(r.observe(0), SeqEvent::InOrder);
        assert_eq!(r.observe(1), SeqEvent::InOrder);
        let mut g = SeqTracker::continuing(500);
        assert_eq!(g.observe(3), SeqEvent::Gap(3));
        assert_eq!(g.observe(1), SeqEvent::Late);
    }
}
