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
//!   needs no atomics (an owned ring, not a lock-free SPSC queue: there is no second side).
//!   Other CPUs only ever see encoded frames in the byte ring.
//! - A record that does not fit is counted ([`RawQueue::take_lost`]) and reported as a
//!   `Dropped` record with the next frames: every loss is visible to the monitor.
use hv_protocol::{Event, MigrateCause, ShadowOp, SwitchReason, TrapKind, VmExitReason};

use crate::counters::classify_esr;

/// How a guest left to EL2 (which vector was taken), as the trap path saw it; the kind of
/// a synchronous trap is decided from its ESR later, when the record is encoded. The
/// values are the arch's `Exit` codes, so the trap path stores them unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitClass {
    /// A synchronous exception: the record's `esr` says which.
    Sync = 0,
    /// A physical IRQ.
    Irq = 1,
    /// A physical FIQ.
    Fiq = 2,
    /// An SError.
    SError = 3,
}

/// One event as the trap path records it: the timestamp and the event's fixed fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Raw {
    /// A trap handled: entry time, entry-to-ERET duration, the raw facts (how it left, its
    /// ESR_EL2, x0 at the trap and at ERET) — classified at encoding, so that the trap path
    /// only copies. An HVC/SMC is sent as a `Hypercall` (function id = x0 at the trap,
    /// result = x0 at ERET) and a `Trap` record.
    Trap {
        entry: u64,
        /// When the guest was entered again (ERET).
        ret: u64,
        x0_in: u64,
        x0_out: u64,
        esr: u32,
        vcpu: u16,
        exit: ExitClass,
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
    /// An elastic pool's holder changed count.
    Elastic {
        ts: u64,
        vm: u16,
        pool: u16,
        from: u32,
        to: u32,
    },
    /// A vCPU was handed to another CPU.
    Migrated {
        ts: u64,
        vcpu: u16,
        from: u16,
        to: u16,
        cause: MigrateCause,
    },
    /// Shadow paging of an lwVM did something.
    Shadow {
        ts: u64,
        vm: u16,
        op: ShadowOp,
        va: u64,
    },
}

impl Raw {
    /// The kind of a trap record (`None` for the other records).
    pub fn trap_kind(&self) -> Option<TrapKind> {
        match *self {
            Raw::Trap { exit, esr, .. } => Some(match exit {
                ExitClass::Sync => classify_esr(esr as u64),
                ExitClass::Irq | ExitClass::Fiq => TrapKind::Irq,
                ExitClass::SError => TrapKind::Other,
            }),
            _ => None,
        }
    }

    /// The records this event becomes on the wire, with their timestamps (at most two: a
    /// hypercall trap is a `Hypercall` and a `Trap` record).
    pub fn events(&self) -> [Option<(u64, Event<'static>)>; 2] {
        match *self {
            Raw::Trap {
                entry,
                ret,
                vcpu,
                x0_in,
                x0_out,
                ..
            } => {
                let duration_ticks = ret.wrapping_sub(entry).min(u32::MAX as u64) as u32;
                let kind = self.trap_kind().unwrap_or(TrapKind::Other);
                let call = matches!(kind, TrapKind::Hvc | TrapKind::Smc)
                    .then_some((x0_in as u32, x0_out as i64));
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
            Raw::Elastic {
                ts,
                vm,
                pool,
                from,
                to,
            } => [Some((ts, Event::Elastic { vm, pool, from, to })), None],
            Raw::Migrated {
                ts,
                vcpu,
                from,
                to,
                cause,
            } => [
                Some((
                    ts,
                    Event::Migrated {
                        vcpu,
                        from,
                        to,
                        cause,
                    },
                )),
                None,
            ],
            Raw::Shadow { ts, vm, op, va } => [Some((ts, Event::Shadow { vm, op, va })), None],
        }
    }
}

/// A CPU's queue of [`Raw`] records: `N` slots (a power of two), all of which can hold a
/// record.
///
/// Owned by one CPU (`&mut`), so its indices are plain integers: no atomics, no fences —
/// a push is a bounds check, a copy and an increment. `head` and `tail` run freely
/// (wrapping), their difference is the length. `repr(C)` with the slots last, so that the
/// indices sit at small offsets (see `CpuTelemetry`).
#[repr(C)]
pub struct RawQueue<const N: usize> {
    /// Records ever pushed: the next one goes into slot `tail % N`.
    tail: usize,
    /// Records ever popped: the oldest waiting one is in slot `head % N`.
    head: usize,
    lost: u32,
    slots: [Raw; N],
}

/// What an unused slot holds (all zero bits: the queue costs no image space).
const UNUSED: Raw = Raw::Trap {
    entry: 0,
    ret: 0,
    x0_in: 0,
    x0_out: 0,
    esr: 0,
    vcpu: 0,
    exit: ExitClass::Sync,
};

impl<const N: usize> RawQueue<N> {
    pub const fn new() -> Self {
        const { assert!(N.is_power_of_two()) };
        RawQueue {
            tail: 0,
            head: 0,
            lost: 0,
            slots: [UNUSED; N],
        }
    }

    /// Appends `r`, or counts it as lost when the queue is full; returns the length
    /// after (so the caller's high-water check needs no second look). The trap path's
    /// only cost.
    #[inline(always)]
    pub fn push(&mut self, r: Raw) -> usize {
        let len = self.tail.wrapping_sub(self.head);
        if len >= N {
            self.lost = self.lost.saturating_add(1);
            return len;
        }
        self.slots[self.tail % N] = r;
        self.tail = self.tail.wrapping_add(1);
        len + 1
    }

    /// The oldest record, left in the queue.
    pub fn front(&self) -> Option<&Raw> {
        (!self.is_empty()).then(|| &self.slots[self.head % N])
    }

    /// Removes the oldest record.
    pub fn pop(&mut self) -> Option<Raw> {
        let r = *self.front()?;
        self.head = self.head.wrapping_add(1);
        Some(r)
    }

    /// Records waiting.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.tail.wrapping_sub(self.head)
    }

    pub fn is_empty(&self) -> bool {
        self.tail == self.head
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
