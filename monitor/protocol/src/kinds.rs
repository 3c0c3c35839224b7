//! Names and indices of the wire enums, for the host tools (stable, lower-case, used in exports).
//!
//! The matches are exhaustive on purpose: adding a variant to `wire.rs` fails to compile here
//! until it is named, which is also the reminder to update [`crate::EVENT_KINDS`].

use crate::wire::{
    Event, MigrateCause, ShadowOp, SwitchReason, TRAP_KINDS, TrapKind, VmExitReason,
};

impl TrapKind {
    /// All kinds, in variant (and `Counters` array) order.
    pub const ALL: [TrapKind; TRAP_KINDS] = [
        TrapKind::Hvc,
        TrapKind::Smc,
        TrapKind::DataAbort,
        TrapKind::SysReg,
        TrapKind::Wfi,
        TrapKind::Irq,
        TrapKind::Other,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            TrapKind::Hvc => "hvc",
            TrapKind::Smc => "smc",
            TrapKind::DataAbort => "data_abort",
            TrapKind::SysReg => "sysreg",
            TrapKind::Wfi => "wfi",
            TrapKind::Irq => "irq",
            TrapKind::Other => "other",
        }
    }
}

impl SwitchReason {
    /// Number of reasons.
    pub const COUNT: usize = 6;
    /// All reasons, in variant order (`reason as usize` indexes this).
    pub const ALL: [SwitchReason; Self::COUNT] = [
        SwitchReason::Start,
        SwitchReason::Wfi,
        SwitchReason::Irq,
        SwitchReason::Slot,
        SwitchReason::Exit,
        SwitchReason::Yield,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            SwitchReason::Start => "start",
            SwitchReason::Wfi => "wfi",
            SwitchReason::Irq => "irq",
            SwitchReason::Slot => "slot",
            SwitchReason::Exit => "exit",
            SwitchReason::Yield => "yield",
        }
    }
}

impl VmExitReason {
    pub const fn name(self) -> &'static str {
        match self {
            VmExitReason::PowerOff => "power_off",
            VmExitReason::Reset => "reset",
            VmExitReason::Fault => "fault",
            VmExitReason::AllCpusOff => "all_cpus_off",
        }
    }
}

impl MigrateCause {
    /// Stable lower-case name.
    pub const fn name(self) -> &'static str {
        match self {
            MigrateCause::Hint => "hint",
            MigrateCause::Governor => "governor",
            MigrateCause::Plan => "plan",
        }
    }
}

impl ShadowOp {
    /// Stable lower-case name.
    pub const fn name(self) -> &'static str {
        match self {
            ShadowOp::Fill => "fill",
            ShadowOp::TableWrite => "table_write",
            ShadowOp::Tlbi => "tlbi",
            ShadowOp::Flush => "flush",
            ShadowOp::GuestFault => "guest_fault",
            ShadowOp::Switch => "switch",
        }
    }
}

impl Event<'_> {
    /// Variant index on the wire.
    pub const fn kind_index(&self) -> u32 {
        match self {
            Event::Switch { .. } => 0,
            Event::Trap { .. } => 1,
            Event::IrqInjected { .. } => 2,
            Event::Hypercall { .. } => 3,
            Event::Console { .. } => 4,
            Event::Log { .. } => 5,
            Event::Counters { .. } => 6,
            Event::Dropped { .. } => 7,
            Event::Marker { .. } => 8,
            Event::VmExit { .. } => 9,
            Event::Elastic { .. } => 10,
            Event::Migrated { .. } => 11,
            Event::Shadow { .. } => 12,
        }
    }

    /// Stable lower-case name of the variant.
    pub const fn kind_name(&self) -> &'static str {
        match self {
            Event::Switch { .. } => "switch",
            Event::Trap { .. } => "trap",
            Event::IrqInjected { .. } => "irq_injected",
            Event::Hypercall { .. } => "hypercall",
            Event::Console { .. } => "console",
            Event::Log { .. } => "log",
            Event::Counters { .. } => "counters",
            Event::Dropped { .. } => "dropped",
            Event::Marker { .. } => "marker",
            Event::VmExit { .. } => "vm_exit",
            Event::Elastic { .. } => "elastic",
            Event::Migrated { .. } => "migrated",
            Event::Shadow { .. } => "shadow",
        }
    }
}
