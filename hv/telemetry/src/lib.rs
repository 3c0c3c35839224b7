//! The hypervisor side of telemetry, without the hardware: what a physical CPU keeps to turn
//! events into frames of the wire format (`hv-protocol`) and hold them until its transport
//! sends them.
//!
//! Design (DESIGN.md §4), in two stages:
//! 1. The trap path copies a fixed-size [`Raw`] record (timestamp + a few words) into its
//!    CPU's [`RawQueue`] ([`CpuTelemetry::record`]): no encoding, no lock, no I/O.
//! 2. Outside the trap path — when the CPU idles, or in bounded batches — the CPU encodes its
//!    records into its fixed-size byte [`Ring`] of whole frames ([`CpuTelemetry::pump`]), and
//!    the ring is drained to the transport by one consumer at a time: the owner, or the CPU
//!    that holds the transport (see [`Ring`]).
//!
//! Events with a payload (console bytes, log lines) are rare and encoded at once
//! ([`CpuTelemetry::emit`]), after the records queued before them, so a CPU's stream stays in
//! order. The hot path writes no other CPU's memory; the only lock is the transport's.
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
mod raw;
mod ring;

pub use counters::{Counters, classify_esr};
pub use raw::{ExitClass, Raw, RawQueue};
pub use ring::{Ring, pack};

use hv_protocol::{CpuSeq, Event, Header, MAX_FIXED_FRAME, max_record_len};

pub use frame::encode_record;

/// Largest payload (`Console` bytes, `Log` defmt frame) of one record; longer payloads are
/// split by the caller (console) or cut (log).
pub const MAX_PAYLOAD: usize = 288;

/// Buffer size that holds any record this crate encodes.
pub const MAX_FRAME: usize = max_record_len(MAX_PAYLOAD);

/// Slots of a CPU's [`RawQueue`] (a power of two).
const RAW_SLOTS: usize = 1024;
/// Depth of a CPU's [`RawQueue`]: records the trap path can queue before the CPU encodes.
pub const RAW_DEPTH: usize = RAW_SLOTS;

/// Room a pump keeps in the byte ring per record: a record becomes at most two fixed frames,
/// and a `Dropped` report may precede them.
const PUMP_ROOM: usize = 3 * MAX_FIXED_FRAME;

/// What one physical CPU keeps: its queue of raw records, sequence numbers, drop count and
/// counters, owned by that CPU (`&mut`), and its ring, which it produces into and a transport
/// drains (`&`).
///
/// `repr(C)`, the queue last: the fields the trap path touches (the queue's length and
/// indices) then sit at small offsets, one instruction each to reach.
#[repr(C)]
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
    raw: RawQueue<RAW_SLOTS>,
}

impl<'r, const N: usize> CpuTelemetry<'r, N> {
    pub const fn new(cpu: u16, ring: &'r Ring<N>) -> Self {
        CpuTelemetry {
            ring,
            raw: RawQueue::new(),
            seq: CpuSeq::new(cpu),
            dropped: 0,
            dropped_total: 0,
            emitted_total: 0,
            counters: Counters::new(),
        }
    }

    /// Queues a fixed-size record (the trap path: a copy, nothing else); returns the
    /// number of records queued after it.
    #[inline(always)]
    pub fn record(&mut self, r: Raw) -> usize {
        self.raw.push(r)
    }

    /// Records queued and not yet encoded.
    #[inline(always)]
    pub fn queued(&self) -> usize {
        self.raw.len()
    }

    /// Encodes up to `budget` queued records into the ring, oldest first, while the ring has
    /// room (what does not fit stays queued, nothing is lost here); returns how many.
    pub fn pump(&mut self, budget: usize) -> usize {
        self.pump_while(budget, || true)
    }

    /// [`CpuTelemetry::pump`], asking `go` before each record whether to go on: an idle CPU
    /// encodes until an interrupt is pending, not a whole batch.
    pub fn pump_while(&mut self, budget: usize, mut go: impl FnMut() -> bool) -> usize {
        let lost = self.raw.take_lost();
        self.dropped = self.dropped.saturating_add(lost);
        self.dropped_total += lost as u64;
        let mut n = 0;
        while n < budget && !self.raw.is_empty() && self.ring.free() >= PUMP_ROOM && go() {
            let Some(r) = self.raw.pop() else { break };
            // Traps and injections are counted as they are encoded (the trap path only
            // copies).
            if let Some(kind) = r.trap_kind() {
                self.counters.trap(kind);
            } else if let Raw::IrqInjected { .. } = r {
                self.counters.injected();
            }
            for (ts, e) in r.events().into_iter().flatten() {
                self.emit_now(ts, &e);
            }
            n += 1;
        }
        n
    }

    /// Encodes `event` stamped `ts` into the ring, after the records queued before it (so the
    /// stream stays in order). For events with a payload and the rare ones off the trap
    /// path. Returns whether the event entered the ring.
    pub fn emit(&mut self, ts: u64, event: &Event<'_>) -> bool {
        self.pump(usize::MAX);
        self.emit_now(ts, event)
    }

    /// Encodes `event` into the ring now. Reports earlier drops first (as a `Dropped` record)
    /// when there is room; if the ring is full the event is counted as dropped.
    fn emit_now(&mut self, ts: u64, event: &Event<'_>) -> bool {
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
