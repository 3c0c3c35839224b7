//! PSCI 1.1 as the hypervisor offers it to its VMs: function IDs, call decoding and
//! return codes. The per-VM vCPU power-state machine is in [`power`].
//!
//! Why: guests (Linux in particular) bring up secondary vCPUs, power them off and end
//! the system through PSCI over HVC or SMC. The hypervisor emulates PSCI for each VM,
//! confined to that VM's vCPUs and RAM. Spec: Arm DEN 0022 (PSCI) 1.1: "Function
//! prototypes" (IDs, arguments), "Return error codes", and the per-call semantics;
//! SMC32 arguments are 32-bit (DEN 0028), so they are truncated here.
//!
//! Invariant: decoding is total — every (x0..x3) gives a [`PsciCall`], unknown IDs as
//! [`PsciCall::Unknown`] (answered `NOT_SUPPORTED`).

pub mod power;

pub use power::{PowerState, PsciDecision, PsciVm};

use crate::smccc::FunctionId;

/// PSCI return codes (DEN 0022, "Return error codes").
pub mod ret {
    /// Success.
    pub const SUCCESS: i64 = 0;
    /// Function not supported.
    pub const NOT_SUPPORTED: i64 = -1;
    /// Invalid parameters.
    pub const INVALID_PARAMETERS: i64 = -2;
    /// Denied.
    pub const DENIED: i64 = -3;
    /// Target CPU already on.
    pub const ALREADY_ON: i64 = -4;
    /// Target CPU is being turned on.
    pub const ON_PENDING: i64 = -5;
    /// Internal failure.
    pub const INTERNAL_FAILURE: i64 = -6;
    /// Not present.
    pub const NOT_PRESENT: i64 = -7;
    /// Disabled.
    pub const DISABLED: i64 = -8;
    /// Invalid address.
    pub const INVALID_ADDRESS: i64 = -9;
}

/// PSCI function IDs, SMC32 form. The SMC64 form of a call that has one is the same
/// value with bit 30 set ([`fid::SMC64`]).
pub mod fid {
    /// Bit 30: SMC64 variant.
    pub const SMC64: u32 = 1 << 30;
    /// PSCI_VERSION.
    pub const VERSION: u32 = 0x8400_0000;
    /// CPU_SUSPEND (also SMC64).
    pub const CPU_SUSPEND: u32 = 0x8400_0001;
    /// CPU_OFF.
    pub const CPU_OFF: u32 = 0x8400_0002;
    /// CPU_ON (also SMC64).
    pub const CPU_ON: u32 = 0x8400_0003;
    /// AFFINITY_INFO (also SMC64).
    pub const AFFINITY_INFO: u32 = 0x8400_0004;
    /// MIGRATE (also SMC64).
    pub const MIGRATE: u32 = 0x8400_0005;
    /// MIGRATE_INFO_TYPE.
    pub const MIGRATE_INFO_TYPE: u32 = 0x8400_0006;
    /// MIGRATE_INFO_UP_CPU (also SMC64).
    pub const MIGRATE_INFO_UP_CPU: u32 = 0x8400_0007;
    /// SYSTEM_OFF.
    pub const SYSTEM_OFF: u32 = 0x8400_0008;
    /// SYSTEM_RESET.
    pub const SYSTEM_RESET: u32 = 0x8400_0009;
    /// PSCI_FEATURES.
    pub const FEATURES: u32 = 0x8400_000A;
    /// CPU_FREEZE.
    pub const CPU_FREEZE: u32 = 0x8400_000B;
    /// CPU_DEFAULT_SUSPEND (also SMC64).
    pub const CPU_DEFAULT_SUSPEND: u32 = 0x8400_000C;
    /// NODE_HW_STATE (also SMC64).
    pub const NODE_HW_STATE: u32 = 0x8400_000D;
    /// SYSTEM_SUSPEND (also SMC64).
    pub const SYSTEM_SUSPEND: u32 = 0x8400_000E;
    /// PSCI_SET_SUSPEND_MODE.
    pub const SET_SUSPEND_MODE: u32 = 0x8400_000F;
    /// PSCI_STAT_RESIDENCY (also SMC64).
    pub const STAT_RESIDENCY: u32 = 0x8400_0010;
    /// PSCI_STAT_COUNT (also SMC64).
    pub const STAT_COUNT: u32 = 0x8400_0011;
    /// SYSTEM_RESET2 (also SMC64).
    pub const SYSTEM_RESET2: u32 = 0x8400_0012;
    /// MEM_PROTECT.
    pub const MEM_PROTECT: u32 = 0x8400_0013;
    /// MEM_PROTECT_CHECK_RANGE (also SMC64).
    pub const MEM_PROTECT_CHECK_RANGE: u32 = 0x8400_0014;
    /// Calls that have an SMC64 variant (by their SMC32 ID).
    pub const HAS_SMC64: &[u32] = &[
        CPU_SUSPEND,
        CPU_ON,
        AFFINITY_INFO,
        MIGRATE,
        MIGRATE_INFO_UP_CPU,
        CPU_DEFAULT_SUSPEND,
        NODE_HW_STATE,
        SYSTEM_SUSPEND,
        STAT_RESIDENCY,
        STAT_COUNT,
        SYSTEM_RESET2,
        MEM_PROTECT_CHECK_RANGE,
    ];
}

/// The PSCI version implemented: 1.1 (`major << 16 | minor`).
pub const PSCI_VERSION_1_1: i64 = 0x1_0001;

/// MIGRATE_INFO_TYPE answer: 2 = no Trusted OS, or one that needs no migration.
pub const MIGRATE_INFO_TYPE_NOT_PRESENT: i64 = 2;

/// A decoded PSCI call; addresses and MPIDRs already truncated for SMC32 calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PsciCall {
    /// PSCI_VERSION.
    Version,
    /// CPU_SUSPEND.
    CpuSuspend {
        /// Requested power state (x1).
        power_state: u64,
        /// Resume entry point for power-down states (x2).
        entry: u64,
        /// Context ID passed back in x0 on resume (x3).
        context_id: u64,
    },
    /// CPU_OFF.
    CpuOff,
    /// CPU_ON.
    CpuOn {
        /// MPIDR affinity of the target (x1).
        target: u64,
        /// Entry point (x2).
        entry: u64,
        /// Context ID, in the target's x0 at entry (x3).
        context_id: u64,
    },
    /// AFFINITY_INFO.
    AffinityInfo {
        /// MPIDR affinity of the target (x1).
        target: u64,
        /// Lowest affinity level considered (x2).
        lowest_level: u64,
    },
    /// MIGRATE_INFO_TYPE.
    MigrateInfoType,
    /// SYSTEM_OFF.
    SystemOff,
    /// SYSTEM_RESET.
    SystemReset,
    /// PSCI_FEATURES.
    Features {
        /// The function ID asked about (w1).
        fid: u32,
    },
    /// A PSCI call this hypervisor does not implement (MIGRATE, SYSTEM_SUSPEND, …),
    /// or an ID outside PSCI.
    Unknown(u32),
}

impl PsciCall {
    /// Decodes a call from x0..x3.
    #[inline]
    pub fn decode(x: [u64; 4]) -> PsciCall {
        let f = FunctionId::from_x0(x[0]);
        let a = |i: usize| f.arg(x[i]);
        let is_64 = f.is_64();
        let id32 = f.as_32();
        // A 64-bit variant of a call that has none is unknown.
        if is_64 && !fid::HAS_SMC64.contains(&id32) {
            return PsciCall::Unknown(f.0);
        }
        match id32 {
            fid::VERSION => PsciCall::Version,
            fid::CPU_SUSPEND => PsciCall::CpuSuspend {
                power_state: x[1] & 0xFFFF_FFFF,
                entry: a(2),
                context_id: a(3),
            },
            fid::CPU_OFF => PsciCall::CpuOff,
            fid::CPU_ON => PsciCall::CpuOn {
                target: a(1),
                entry: a(2),
                context_id: a(3),
            },
            fid::AFFINITY_INFO => PsciCall::AffinityInfo {
                target: a(1),
                lowest_level: a(2),
            },
            fid::MIGRATE_INFO_TYPE => PsciCall::MigrateInfoType,
            fid::SYSTEM_OFF => PsciCall::SystemOff,
            fid::SYSTEM_RESET => PsciCall::SystemReset,
            fid::FEATURES => PsciCall::Features { fid: x[1] as u32 },
            _ => PsciCall::Unknown(f.0),
        }
    }

    /// Whether x0 is in the PSCI range (standard secure service, functions 0..=0x1F).
    pub const fn is_psci(x0: u64) -> bool {
        let f = FunctionId::from_x0(x0);
        f.is_fast() && f.owner() == crate::smccc::owner::STANDARD && f.number() <= 0x1F
    }
}

/// Whether this hypervisor implements `fid` (the PSCI_FEATURES answer is SUCCESS).
pub const fn implemented(id: u32) -> bool {
    matches!(
        id,
        fid::VERSION
            | fid::CPU_OFF
            | fid::MIGRATE_INFO_TYPE
            | fid::SYSTEM_OFF
            | fid::SYSTEM_RESET
            | fid::FEATURES
            | crate::smccc::SMCCC_VERSION
    ) || matches!(
        id & !fid::SMC64,
        fid::CPU_SUSPEND | fid::CPU_ON | fid::AFFINITY_INFO
    )
}

#[cfg(test)]
mod tests;
