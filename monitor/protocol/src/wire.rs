//! The wire types: everything that travels between the hypervisor and the monitor.
//!
//! **This file is hashed.** [`crate::SCHEMA_HASH`] is computed at compile time from the text of
//! this file with comments and whitespace removed, so any change to a type, field, variant or
//! their order changes the hash, and a monitor built from other sources refuses the stream.
//! Comments and formatting can be edited freely. Keep every wire type in this file, and keep
//! anything that is not a wire type out of it.
//!
//! Invariants a reader must not break:
//! - [`Frame`]'s two variants and [`Hello`]'s first three fields (`magic`, `version`, `schema`)
//!   never move: they are how two different versions recognise each other.
//! - New [`Event`] variants go at the end, so an older monitor sees an unknown variant index (it
//!   counts and skips the frame) instead of misreading a known one.
//! - Payloads are borrowed (`&[u8]`, `&str`) so that the hypervisor never allocates.

use serde::{Deserialize, Serialize};

/// Top level of every frame. The variant index (a postcard varint) is the first byte.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// First frame of every connection (and repeated by the hypervisor whenever it likes, e.g.
    /// periodically on UDP so a late monitor can join).
    #[serde(borrow)]
    Hello(Hello<'a>),
    /// One telemetry event of one physical CPU.
    Record(Header, #[serde(borrow)] Event<'a>),
}

/// Identifies the producer and the format. See [`crate::Hello::new`].
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello<'a> {
    /// Always [`crate::MAGIC`]; encoded as four raw bytes.
    pub magic: [u8; 4],
    /// [`crate::VERSION`] of the producer.
    pub version: u16,
    /// [`crate::SCHEMA_HASH`] of the producer.
    pub schema: u64,
    /// Hash of the hypervisor image (code); the same value is stored in the ELF's
    /// `.hv_build_id` section so the monitor can check it was given the matching ELF.
    pub build_id: u64,
    /// Hash of the static system configuration the image was generated from.
    pub config_id: u64,
    /// Frequency of the counter used for timestamps and durations (CNTFRQ_EL0), in Hz.
    pub counter_hz: u64,
    /// Number of physical CPUs that may emit records.
    pub cpus: u16,
    /// Enabled cargo features, comma separated (e.g. `"shadow-paging,balloon"`).
    pub features: &'a str,
    /// VM names, comma separated; the position is the VM id used in events.
    pub vm_names: &'a str,
    /// For each vCPU id (the index), the VM id it belongs to.
    pub vcpu_vm: &'a [u8],
}

/// Precedes every event.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Physical CPU that produced the event.
    pub cpu: u16,
    /// Per-CPU sequence number, incremented by one per record (wrapping); gaps mean lost records.
    pub seq: u32,
    /// Counter value (ticks of [`Hello::counter_hz`]) when the event happened.
    pub ts: u64,
}

/// Why a physical CPU switched vCPUs.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SwitchReason {
    /// First vCPU started on this CPU.
    Start,
    /// The running vCPU waited for an interrupt.
    Wfi,
    /// An interrupt made a higher-priority vCPU runnable.
    Irq,
    /// The static schedule's time slot ended.
    Slot,
    /// The running vCPU stopped (PSCI CPU_OFF, VM exit).
    Exit,
    /// The running vCPU gave up the CPU with a hypercall.
    Yield,
}

/// Number of [`TrapKind`] variants (length of [`Event::Counters`]' array).
pub const TRAP_KINDS: usize = 7;

/// Class of a trap into the hypervisor.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrapKind {
    Hvc,
    Smc,
    DataAbort,
    SysReg,
    Wfi,
    Irq,
    Other,
}

/// How a VM ended.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VmExitReason {
    /// PSCI SYSTEM_OFF.
    PowerOff,
    /// PSCI SYSTEM_RESET.
    Reset,
    /// The hypervisor stopped the VM after a fault it could not handle.
    Fault,
    /// Every vCPU of the VM is off (PSCI CPU_OFF).
    AllCpusOff,
}

/// One telemetry event. vCPU and VM ids are the configuration's global indices.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// The physical CPU now runs `to` instead of `from` (`None` = idle).
    Switch {
        from: Option<u16>,
        to: Option<u16>,
        reason: SwitchReason,
    },
    /// A trap was handled; the header's `ts` is the trap entry, `duration_ticks` entry to ERET.
    Trap {
        vcpu: u16,
        kind: TrapKind,
        duration_ticks: u32,
    },
    /// A virtual interrupt was put into a list register; `latency_ticks` is the time from the
    /// entry of the trap that caused it (physical IRQ, emulated device access) to the injection.
    IrqInjected {
        vcpu: u16,
        intid: u32,
        latency_ticks: u32,
    },
    /// A hypercall (HVC function id) returned `result`.
    Hypercall { vcpu: u16, func: u32, result: i64 },
    /// Bytes a VM wrote to its (emulated) console.
    Console { vm: u16, bytes: &'a [u8] },
    /// One defmt frame of the hypervisor's own log (never a raw defmt stream on the wire).
    Log { defmt_frame: &'a [u8] },
    /// Per-CPU running totals since boot, emitted periodically; indexed by `TrapKind as usize`.
    Counters {
        traps_by_kind: [u32; TRAP_KINDS],
        switches: u32,
        injected: u32,
    },
    /// The hypervisor's ring overflowed and `count` records were never sent.
    Dropped { count: u32 },
    /// A guest- or hypervisor-defined point of interest (benchmarks, tests).
    Marker { vcpu: u16, id: u16, value: u64 },
    /// A VM stopped.
    VmExit { vm: u16, reason: VmExitReason },
    /// Elastic pool `pool` changed what VM `vm` holds: `from` blocks before, `to` after
    /// (its stage-2 set switched; released blocks scrubbed).
    Elastic {
        vm: u16,
        pool: u16,
        from: u32,
        to: u32,
    },
    /// vCPU `vcpu` moved from physical CPU `from` to `to` (big.LITTLE switching), for
    /// `cause`: the header's `ts` is when `from` had parked it and handed it over; it runs
    /// on `to` from its next `Switch` there.
    Migrated {
        vcpu: u16,
        from: u16,
        to: u16,
        cause: MigrateCause,
    },
    /// Shadow paging of lwVM `vm` did `op` for its virtual address `va` (0 where the
    /// operation has none: a flush, a TLBI of a whole address space).
    Shadow { vm: u16, op: ShadowOp, va: u64 },
}

/// What the shadow paging of an lwVM did.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShadowOp {
    /// A shadow entry made from the lwVM's tables on a fault.
    Fill,
    /// A store to one of its live tables emulated (its derived shadow entries dropped).
    TableWrite,
    /// A TLBI emulated.
    Tlbi,
    /// The pool ran out: every shadow table dropped and refilled on demand.
    Flush,
    /// A fault its own tables caused, delivered to its handler.
    GuestFault,
    /// It installed another address space (TTBR0_EL1, or translation turned on or off).
    Switch,
}

/// Why a vCPU moved to another CPU.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrateCause {
    /// The guest's hint (BL_HINT).
    Hint,
    /// The utilisation governor.
    Governor,
    /// The configuration's time plan.
    Plan,
}
