//! The hypervisor side of telemetry, without the hardware: what a physical CPU keeps to turn
//! events into frames of the wire format (`hv-protocol`) and hold them until its transport
//! sends them.
//!
//! Design (DESIGN.md §4): an event is encoded at the point where it happens (trap, switch,
//! console line…) into a per-CPU fixed-size byte [`Ring`] of whole frames. The CPU that owns the
//! ring is its only producer; the ring is drained outside the trap path (in the run loop before
//! entering a guest, and when idle) by one consumer at a time: the owner, or the CPU that holds
//! the transport (see [`Ring`]). So the hot path takes no lock and writes no other CPU's memory;
//! the only lock is the transport's, taken when draining.
//!
//! Invariants a reader must not break:
//! - A ring holds whole frames only (each ends with the 0x00 delimiter): a frame that does not
//!   fit is refused entirely, never cut, so a transport may send any prefix ending in 0x00.
//! - A record takes its sequence number only when it enters the ring; refused records are
//!   counted and reported later as one `Dropped { count }` record ([`CpuTelemetry::emit`]).
//! - Counters are the hypervisor's own truth: they count every event, sent or dropped.
#![no_std]
#![forbid(unsafe_code)]

mod counters;
mod frame;
mod ring;

pub use counters::{Counters, classify_esr};
pub use ring::{Ring, pack};

use hv_protocol::{CpuSeq, Event, Header, MAX_FIXED_FRAME, max_record_len};

pub use frame::encode_record;

/// Largest payload (`Console` bytes, `Log` defmt frame) of one record; longer payloads are
/// split by the caller (console) or cut (log).
pub const MAX_PAYLOAD: usize = 288;

/// Buffer size that holds any record this crate encodes.
pub const MAX_FRAME: usize = max_record_len(MAX_PAYLOAD);

/// What one physical CPU keeps: its sequence numbers, its drop count and counters, owned by
/// that CPU (`&mut`), and its ring, which it produces into and a transport drains (`&`).
pub struct CpuTelemetry<'r, const N: usize> {
    pub ring: &'r Ring<N>,
    seq: CpuSeq,
    /// Records refused by a full ring and not yet reported.
    dropped: u32,
    /// Records refused over the whole run (benchmarks).
    pub dropped_total: u64,
    /// Records that entered the ring over the whole run.
    pub emitted_total: u64,
    pub counters: Counters,
}

impl<'r, const N: usize> CpuTelemetry<'r, N> {
    pub const fn new(cpu: u16, ring: &'r Ring<N>) -> Self {
        CpuTelemetry {
            ring,
            seq: CpuSeq::new(cpu),
            dropped: 0,
            dropped_total: 0,
            emitted_total: 0,
            counters: Counters::new(),
        }
    }

    /// Encodes `event` stamped `ts` into the ring. Reports earlier drops first (as a `Dropped`
    /// record) when there is room; if the ring is full the event is counted as dropped.
    /// Returns whether the event entered the ring.
    pub fn emit(&mut self, ts: u64, event: &Event<'_>) -> bool {
        if self.dropped != 0 {
            let d = Event::Dropped {
                count: self.dropped,
            };
            if !self.push(ts, &d, &mut [0u8; MAX_FIXED_FRAME]) {
                return self.refuse();
            }
            self.dropped = 0;
        }
        let ok = match event {
            Event::Console { .. } | Event::Log { .. } => {
                self.push(ts, event, &mut [0u8; MAX_FRAME])
            }
            _ => self.push(ts, event, &mut [0u8; MAX_FIXED_FRAME]),
        };
        if ok { true } else { self.refuse() }
    }

    fn refuse(&mut self) -> bool {
        self.dropped = self.dropped.saturating_add(1);
        self.dropped_total += 1;
        false
    }

    fn push(&mut self, ts: u64, event: &Event<'_>, buf: &mut [u8]) -> bool {
        let mut seq = self.seq.clone();
        let header: Header = seq.next_header(ts);
        let Ok(frame) = encode_record(header, event, buf) else {
            // Only a payload over MAX_PAYLOAD can get here: a caller bug, counted as a drop.
            return false;
        };
        if !self.ring.push(frame) {
            return false;
        }
        self.seq = seq;
        self.emitted_total += 1;
        true
    }

    /// Records refused and not yet reported.
    pub fn pending_drops(&self) -> u32 {
        self.dropped
    }

    /// The periodic `Counters` record of this CPU.
    pub fn counters_event(&self) -> Event<'static> {
        self.counters.event()
    }
}

#[cfg(test)]
mod tests;
