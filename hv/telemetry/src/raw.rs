//! The trap path's half of telemetry: fixed-size records copied into a per-CPU queue, with
//! no encoding, no CRC and no I/O.
//!
//! Why two stages: encoding a record (postcard, CRC-32, COBS) and writing it to a UART cost
//! thousands of instructions — ten times the trap it describes. So the trap path only copies
//! a [`Raw`] record (a few words) into the CPU's [`RawQueue`]; the CPU turns records into
//! frames later ([`CpuTelemetry::pump`](crate::CpuTelemetry::pump)), when it idles or in
//! bounded batches, outside any measured window.
//!
//! Invariants a reader must not break:
//! - The queue belongs to one CPU (`&mut`): it is written and read by its owner only, so it
//!   needs no atomics. Other CPUs only ever see encoded frames in the byte ring.
//! - A record that does not fit is counted ([`RawQueue::take_lost`]) and reported as a
//!   `Dropped` record with the next frames: every loss is visible to the monitor.
use heapless::Deque;
use hv_protocol::{Event, SwitchReason, TrapKind, VmExitReason};

/// One event as the trap path records it: the timestamp and the event's fixed fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Raw {
    /// A trap handled: entry time, entry-to-ERET duration and, for HVC/SMC, the function id
    /// and the result in x0 at ERET (sent as a `Hypercall` and a `Trap` record).
    Trap {
        entry: u64,
        vcpu: u16,
        kind: TrapKind,
        duration_ticks: u32,
        call: Option<(u32, i64)>,
    },
    /// The CPU switched from one vCPU (or idle) to another.
    Switch {
        ts: u64,
        from: Option<u16>,
        to: Option<u16>,
        reason: SwitchReason,
    },
    /// A virtual interrupt entered a list register.
    IrqInjected {
        ts: u64,
        vcpu: u16,
        intid: u32,
        latency_ticks: u32,
    },
    /// An experiment marker.
    Marker {
        ts: u64,
        vcpu: u16,
        id: u16,
        value: u64,
    },
    /// A VM stopped.
    VmExit {
        ts: u64,
        vm: u16,
        reason: VmExitReason,
    },
}

impl Raw {
    /// The records this event becomes on the wire, with their timestamps (at most two: a
    /// hypercall trap is a `Hypercall` and a `Trap` record).
    pub fn events(&self) -> [Option<(u64, Event<'static>)>; 2] {
        match *self {
            Raw::Trap {
                entry,
                vcpu,
                kind,
                duration_ticks,
                call,
            } => {
                let trap = Event::Trap {
                    vcpu,
                    kind,
                    duration_ticks,
                };
                let ret = entry.wrapping_add(duration_ticks as u64);
                [
                    call.map(|(func, result)| (ret, Event::Hypercall { vcpu, func, result })),
                    Some((entry, trap)),
                ]
            }
            Raw::Switch {
                ts,
                from,
                to,
                reason,
            } => [Some((ts, Event::Switch { from, to, reason })), None],
            Raw::IrqInjected {
                ts,
                vcpu,
                intid,
                latency_ticks,
            } => [
                Some((
                    ts,
                    Event::IrqInjected {
                        vcpu,
                        intid,
                        latency_ticks,
                    },
                )),
                None,
            ],
            Raw::Marker {
                ts,
                vcpu,
                id,
                value,
            } => [Some((ts, Event::Marker { vcpu, id, value })), None],
            Raw::VmExit { ts, vm, reason } => [Some((ts, Event::VmExit { vm, reason })), None],
        }
    }
}

/// A CPU's queue of [`Raw`] records, `N` deep.
pub struct RawQueue<const N: usize> {
    q: Deque<Raw, N>,
    lost: u32,
}

impl<const N: usize> RawQueue<N> {
    pub const fn new() -> Self {
        RawQueue {
            q: Deque::new(),
            lost: 0,
        }
    }

    /// Appends `r`, or counts it as lost when the queue is full. The trap path's only cost.
    #[inline(always)]
    pub fn push(&mut self, r: Raw) {
        if self.q.push_back(r).is_err() {
            self.lost = self.lost.saturating_add(1);
        }
    }

    /// The oldest record, left in the queue.
    pub fn front(&self) -> Option<&Raw> {
        self.q.front()
    }

    /// Removes the oldest record.
    pub fn pop(&mut self) -> Option<Raw> {
        self.q.pop_front()
    }

    /// Records waiting.
    pub fn len(&self) -> usize {
        self.q.len()
    }

    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    /// Records lost to a full queue since the last call.
    pub fn take_lost(&mut self) -> u32 {
        core::mem::take(&mut self.lost)
    }
}

impl<const N: usize> Default for RawQueue<N> {
    fn default() -> Self {
        Self::new()
    }
}
