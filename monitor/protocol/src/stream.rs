//! Host side: turn an arbitrary byte stream into frames, surviving damage, and account for losses.
//!
//! Invariants:
//! - A damaged frame costs exactly that frame: decoding restarts after the next 0x00, the frame
//!   is counted in [`Stats::decode_errors`], and the record it carried shows up as a sequence gap.
//! - The first hello of a stream that starts with it: every CPU's first record is expected to
//!   be number 0, so even records lost before the first one received are counted. A monitor
//!   that joined late (records came before the hello) takes each CPU's numbering as it finds it.
//! - A hello again (periodic, or the producer restarted): each CPU may continue its numbering
//!   or restart at 0; neither is a loss. A hello of another producer (build or configuration
//!   differ) starts over.
//! - Records before the first hello are skipped (their schema is unknown) and counted as
//!   undecodable ([`Stats::before_hello`]), never as lost.
//! - CPU ids are bounded by the hello (and [`MAX_CPUS`]): a record naming another CPU is
//!   counted ([`Stats::bad_cpu`]) and skipped, so no input grows the decoder's state.
//! - A far-off sequence number is a jump ([`Stats::seq_jumps`]), not billions of losses (see
//!   [`crate::SeqTracker`]).
//! - An incompatible hello is fatal: [`StreamDecoder::feed`] returns the [`Mismatch`] from then on.
//! - [`StreamDecoder::finish`] counts an unfinished last frame ([`Stats::truncated`]).
//!
//! Memory: at most [`MAX_FRAME`] bytes of pending frame and [`MAX_CPUS`] trackers of ~530 bytes.

use std::vec::Vec;

use serde::Serialize;

use crate::decode::{Decoded, FrameError, decode_frame};
use crate::hello::Mismatch;
use crate::seq::{SeqEvent, SeqTracker};
use crate::wire::{Event, Hello};

/// Longest frame accepted; longer runs without a delimiter are garbage and discarded.
pub const MAX_FRAME: usize = 64 * 1024;

/// Most physical CPUs a stream may have (a hello claiming more is cut to this).
pub const MAX_CPUS: usize = 256;

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
    /// Records received before any hello (skipped: undecodable without it).
    pub before_hello: u64,
    /// Records naming a CPU the hello does not have (skipped).
    pub bad_cpu: u64,
    /// Records whose sequence number was far from the expected one (handed on).
    pub seq_jumps: u64,
    /// CPUs that moved onto a new numbering after a confirmed jump.
    pub resyncs: u64,
    /// Bytes at the end of the stream that never got their delimiter (an unfinished frame).
    pub truncated_bytes: u64,
}

impl Stats {
    /// Everything lost: in transport (gaps) and in the producer (reported drops).
    pub fn lost(&self) -> u64 {
        self.seq_lost + self.dropped_reported
    }

    /// Frames and records received but not usable: damaged, before the hello, naming an
    /// unknown CPU, or cut off at the end (an unfinished frame counts as one).
    pub fn undecodable(&self) -> u64 {
        self.decode_errors + self.before_hello + self.bad_cpu + u64::from(self.truncated_bytes > 0)
    }

    /// Whether anything was lost, undecodable or out of sequence.
    pub fn clean(&self) -> bool {
        self.lost() == 0 && self.undecodable() == 0 && self.seq_jumps == 0
    }
}

/// What identifies a producer across hellos.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Producer {
    build_id: u64,
    config_id: u64,
    cpus: u16,
}

impl Producer {
    fn of(h: &Hello<'_>) -> Self {
        Producer {
            build_id: h.build_id,
            config_id: h.config_id,
            cpus: h.cpus,
        }
    }
}

/// Incremental decoder: feed byte chunks of any size, get frames through a callback.
#[derive(Debug)]
pub struct StreamDecoder {
    pending: Vec<u8>,
    overflow: bool,
    producer: Option<Producer>,
    refused: Option<Mismatch>,
    /// By CPU id (at most the hello's CPU count, at most [`MAX_CPUS`]).
    cpus: Vec<Option<SeqTracker>>,
    /// Before the first hello: the last number seen of each CPU (bounded by [`MAX_CPUS`]).
    early: Vec<Option<u32>>,
    stats: Stats,
}

impl Default for StreamDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamDecoder {
    pub fn new() -> Self {
        StreamDecoder {
            pending: Vec::new(),
            overflow: false,
            producer: None,
            refused: None,
            cpus: Vec::new(),
            early: std::vec![None; MAX_CPUS],
            stats: Stats::default(),
        }
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The mismatch that made the decoder refuse the stream, if any.
    pub fn refused(&self) -> Option<Mismatch> {
        self.refused
    }

    /// Ends the stream: an unfinished last frame is counted in [`Stats::truncated_bytes`].
    pub fn finish(&mut self) {
        if self.overflow {
            self.overflow = false;
            self.stats.decode_errors += 1;
        }
        self.stats.truncated_bytes += self.pending.len() as u64;
        self.pending.clear();
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
            Decoded::Hello(h) => {
                self.hello(&h);
                self.stats.hellos += 1;
                self.stats.frames += 1;
                on_item(decoded);
                return Ok(());
            }
            Decoded::Record(h, _) | Decoded::Unknown { header: h, .. } => h,
        };
        let cpu = usize::from(header.cpu);
        if self.producer.is_none() {
            self.stats.before_hello += 1;
            if let Some(e) = self.early.get_mut(cpu) {
                *e = Some(header.seq);
            }
            return Ok(());
        }
        let Some(slot) = self.cpus.get_mut(cpu) else {
            self.stats.bad_cpu += 1;
            return Ok(());
        };
        let tracker = slot.get_or_insert_with(SeqTracker::expecting_zero);
        match tracker.observe(header.seq) {
            SeqEvent::InOrder => {}
            SeqEvent::Gap(n) => {
                self.stats.seq_gaps += 1;
                self.stats.seq_lost += u64::from(n);
            }
            SeqEvent::Late => {
                self.stats.reordered += 1;
                self.stats.seq_lost = self.stats.seq_lost.saturating_sub(1);
            }
            SeqEvent::Duplicate => {
                self.stats.duplicates += 1;
                return Ok(());
            }
            SeqEvent::Jump => self.stats.seq_jumps += 1,
            SeqEvent::Resync => self.stats.resyncs += 1,
        }
        self.stats.frames += 1;
        match decoded {
            Decoded::Unknown { .. } => self.stats.unknown_kinds += 1,
            Decoded::Record(_, Event::Dropped { count }) => {
                self.stats.dropped_reported += u64::from(count)
            }
            Decoded::Record(_, _) => {}
            Decoded::Hello(_) => {}
        }
        on_item(decoded);
        Ok(())
    }

    /// A hello: the first one sets up the CPUs; a repeated one of the same producer lets
    /// every CPU continue or restart; another producer's starts over.
    fn hello(&mut self, h: &Hello<'_>) {
        let p = Producer::of(h);
        let n = usize::from(h.cpus).min(MAX_CPUS);
        match self.producer {
            Some(old) if old == p => {
                for t in self.cpus.iter_mut().flatten() {
                    t.soften();
                }
            }
            Some(_) => {
                self.cpus = std::vec![None; n];
            }
            None => {
                let joined_late = self.stats.before_hello > 0;
                self.cpus = (0..n)
                    .map(|c| match self.early.get(c).copied().flatten() {
                        Some(last) => Some(SeqTracker::continuing(last.wrapping_add(1))),
                        None if joined_late => Some(SeqTracker::default()),
                        None => None,
                    })
                    .collect();
                self.early = Vec::new();
            }
        }
        self.producer = Some(p);
    }
}
