//! Host side: turn an arbitrary byte stream into frames, surviving damage, and account for losses.
//!
//! Invariants:
//! - A damaged frame costs exactly that frame: decoding restarts after the next 0x00, the frame
//!   is counted in [`Stats::decode_errors`], and the record it carried shows up as a sequence gap.
//! - A hello starts a connection: sequence tracking restarts, and every CPU's first record is
//!   expected to be number 0, so even records lost before the first one received are counted.
//! - Records before the first hello are skipped (their schema is unknown) and counted.
//! - An incompatible hello is fatal: [`StreamDecoder::feed`] returns the [`Mismatch`] from then on.

use std::collections::BTreeMap;
use std::vec::Vec;

use serde::Serialize;

use crate::decode::{Decoded, FrameError, decode_frame};
use crate::hello::Mismatch;
use crate::seq::{SeqEvent, SeqTracker};
use crate::wire::Event;

/// Longest frame accepted; longer runs without a delimiter are garbage and discarded.
const MAX_FRAME: usize = 64 * 1024;

/// A decoded frame as handed to the consumer (duplicates are not handed on).
pub type Item<'a> = Decoded<'a>;

/// Counters of one decoding session.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Bytes fed.
    pub bytes: u64,
    /// Frames decoded and handed on (hellos, records, unknown-kind records).
    pub frames: u64,
    /// Hellos received.
    pub hellos: u64,
    /// Frames that failed to decode (COBS, CRC, malformed, over-long).
    pub decode_errors: u64,
    /// Of those, CRC failures (damage in transport).
    pub crc_errors: u64,
    /// Records lost in transport, from per-CPU sequence gaps (net of late arrivals).
    pub seq_lost: u64,
    /// Number of gaps (a gap may lose several records).
    pub seq_gaps: u64,
    /// Records that arrived again and were ignored.
    pub duplicates: u64,
    /// Records that arrived after a later one (then not counted as lost).
    pub reordered: u64,
    /// Records of an event kind newer than this monitor (counted, skipped).
    pub unknown_kinds: u64,
    /// Records the hypervisor reported as dropped (sum of `Dropped` events).
    pub dropped_reported: u64,
    /// Records received before any hello (skipped).
    pub before_hello: u64,
}

impl Stats {
    /// Everything lost: in transport (gaps) and in the producer (reported drops).
    pub fn lost(&self) -> u64 {
        self.seq_lost + self.dropped_reported
    }
}

/// Incremental decoder: feed byte chunks of any size, get frames through a callback.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    pending: Vec<u8>,
    overflow: bool,
    seen_hello: bool,
    refused: Option<Mismatch>,
    cpus: BTreeMap<u16, SeqTracker>,
    stats: Stats,
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The mismatch that made the decoder refuse the stream, if any.
    pub fn refused(&self) -> Option<Mismatch> {
        self.refused
    }

    /// Feeds `chunk`; calls `on_item` for each decoded frame.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        mut on_item: impl FnMut(Item<'_>),
    ) -> Result<(), Mismatch> {
        if let Some(m) = self.refused {
            return Err(m);
        }
        self.stats.bytes += chunk.len() as u64;
        let mut rest = chunk;
        while !rest.is_empty() {
            match rest.iter().position(|&b| b == 0) {
                Some(i) => {
                    self.push(&rest[..i]);
                    self.end_frame(&mut on_item)?;
                    rest = &rest[i + 1..];
                }
                None => {
                    self.push(rest);
                    rest = &[];
                }
            }
        }
        Ok(())
    }

    fn push(&mut self, bytes: &[u8]) {
        if self.overflow {
            return;
        }
        if self.pending.len() + bytes.len() > MAX_FRAME {
            self.overflow = true;
            self.pending.clear();
        } else {
            self.pending.extend_from_slice(bytes);
        }
    }

    fn end_frame(&mut self, on_item: &mut impl FnMut(Item<'_>)) -> Result<(), Mismatch> {
        let mut frame = core::mem::take(&mut self.pending);
        let result = if self.overflow {
            self.overflow = false;
            self.stats.decode_errors += 1;
            Ok(())
        } else if frame.is_empty() {
            Ok(()) // back-to-back delimiters: used to flush/resync, not an error
        } else {
            self.handle(&mut frame, on_item)
        };
        frame.clear();
        self.pending = frame; // keep the allocation
        result
    }

    fn handle(
        &mut self,
        frame: &mut [u8],
        on_item: &mut impl FnMut(Item<'_>),
    ) -> Result<(), Mismatch> {
        let decoded = match decode_frame(frame) {
            Ok(d) => d,
            Err(FrameError::Hello(m)) => {
                self.refused = Some(m);
                return Err(m);
            }
            Err(e) => {
                self.stats.decode_errors += 1;
                if e == FrameError::Crc {
                    self.stats.crc_errors += 1;
                }
                return Ok(());
            }
        };
        let header = match decoded {
            Decoded::Hello(_) => {
                self.seen_hello = true;
                self.cpus.clear();
                self.stats.hellos += 1;
                self.stats.frames += 1;
                on_item(decoded);
                return Ok(());
            }
            Decoded::Record(h, _) | Decoded::Unknown { header: h, .. } => h,
        };
        if !self.seen_hello {
            self.stats.before_hello += 1;
            return Ok(());
        }
        let tracker = self
            .cpus
            .entry(header.cpu)
            .or_insert_with(SeqTracker::expecting_zero);
        match tracker.observe(header.seq) {
            SeqEvent::InOrder => {}
            SeqEvent::Gap(n) => {
                self.stats.seq_gaps += 1;
                self.stats.seq_lost += u64::from(n);
            }
            SeqEvent::Late => {
                self.stats.reordered += 1;
                self.stats.seq_lost -= 1;
            }
            SeqEvent::Duplicate => {
                self.stats.duplicates += 1;
                return Ok(());
            }
        }
        self.stats.frames += 1;
        match decoded {
            Decoded::Unknown { .. } => self.stats.unknown_kinds += 1,
            Decoded::Record(_, Event::Dropped { count }) => {
                self.stats.dropped_reported += u64::from(count)
            }
            _ => {}
        }
        on_item(decoded);
        Ok(())
    }
}
