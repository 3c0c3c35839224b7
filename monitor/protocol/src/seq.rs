//! Per-CPU sequence accounting: lost, duplicated and reordered records.
//!
//! Why a window: a record that arrives late (UDP reorders) was first counted as lost when its
//! successor arrived. Remembering the recently missing numbers lets the late arrival be
//! re-classified as "reordered" and taken back out of the lost count, so
//! `received + lost == sent` stays exact. Numbers older than the window stay lost.

use std::collections::BTreeSet;

/// How far back (in sequence numbers) a late record can still be recognised.
const WINDOW: u32 = 4096;

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
}

/// Sequence state of one CPU.
#[derive(Debug, Default, Clone)]
pub struct SeqTracker {
    next: Option<u32>,
    missing: BTreeSet<u32>,
}

impl SeqTracker {
    /// A tracker for a connection that starts numbering at 0 (after a hello).
    pub fn expecting_zero() -> Self {
        SeqTracker {
            next: Some(0),
            missing: BTreeSet::new(),
        }
    }

    /// Classifies `seq` and updates the state.
    pub fn observe(&mut self, seq: u32) -> SeqEvent {
        let Some(next) = self.next else {
            self.next = Some(seq.wrapping_add(1));
            return SeqEvent::InOrder;
        };
        let ahead = seq.wrapping_sub(next);
        if ahead == 0 {
            self.next = Some(seq.wrapping_add(1));
            SeqEvent::InOrder
        } else if ahead < u32::MAX / 2 {
            // forward jump: remember (up to a window of) the skipped numbers
            let remember = ahead.min(WINDOW);
            for k in (ahead - remember)..ahead {
                self.missing.insert(next.wrapping_add(k));
            }
            self.next = Some(seq.wrapping_add(1));
            self.prune(seq);
            SeqEvent::Gap(ahead)
        } else if self.missing.remove(&seq) {
            SeqEvent::Late
        } else {
            SeqEvent::Duplicate
        }
    }

    /// Forgets missing numbers that fell out of the window behind `newest`.
    fn prune(&mut self, newest: u32) {
        if self.missing.len() as u32 > WINDOW {
            let stale: std::vec::Vec<u32> = self
                .missing
                .iter()
                .copied()
                .filter(|&m| newest.wrapping_sub(m) > WINDOW)
                .collect();
            for m in stale {
                self.missing.remove(&m);
            }
        }
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
        assert_eq!(t.observe(10), SeqEvent::InOrder);
    }

    #[test]
    fn wraps() {
        let mut t = SeqTracker::default();
        t.observe(u32::MAX - 1);
        assert_eq!(t.observe(u32::MAX), SeqEvent::InOrder);
        assert_eq!(t.observe(0), SeqEvent::InOrder);
        assert_eq!(t.observe(2), SeqEvent::Gap(1));
    }
}
