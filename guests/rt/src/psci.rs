//! PSCI 1.1 calls through HVC (the conduit the hypervisor offers its VMs).
//! Spec: Arm DEN 0022, "Function prototypes" and "Return error codes".
use crate::arch::hvc;

/// PSCI_VERSION.
pub const PSCI_VERSION: u64 = 0x8400_0000;
/// CPU_OFF.
pub const CPU_OFF: u64 = 0x8400_0002;
/// SYSTEM_OFF.
pub const SYSTEM_OFF: u64 = 0x8400_0008;
/// SYSTEM_RESET.
pub const SYSTEM_RESET: u64 = 0x8400_0009;
/// PSCI_FEATURES.
pub const FEATURES: u64 = 0x8400_000A;
/// CPU_ON (SMC64).
pub const CPU_ON: u64 = 0xC400_0003;
/// AFFINITY_INFO (SMC64).
pub const AFFINITY_INFO: u64 = 0xC400_0004;

/// Return codes.
pub mod ret {
    /// Success.
    pub const SUCCESS: i64 = 0;
    /// Not supported.
    pub const NOT_SUPPORTED: i64 = -1;
    /// Invalid parameters.
    pub const INVALID_PARAMETERS: i64 = -2;
    /// Denied.
    pub const DENIED: i64 = -3;
    /// Already on.
    pub const ALREADY_ON: i64 = -4;
    /// On pending.
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

/// AFFINITY_INFO answers.
pub mod affinity {
    /// ON.
    pub const ON: i64 = 0;
    /// OFF.
    pub const OFF: i64 = 1;
    /// ON_PENDING.
    pub const ON_PENDING: i64 = 2;
}

/// Returns PSCI_VERSION's answer (major << 16 | minor).
pub fn version() -> u32 {
    hvc(PSCI_VERSION, 0, 0, 0)[0] as u32
}

/// CPU_ON(target MPIDR affinity, entry IPA, context id) → PSCI return code.
pub fn cpu_on(target: u64, entry: u64, context: u64) -> i64 {
    hvc(CPU_ON, target, entry, context)[0] as i64
}

/// AFFINITY_INFO(target, lowest affinity level) → state or error.
pub fn affinity_info(target: u64, lowest_level: u64) -> i64 {
    hvc(AFFINITY_INFO, target, lowest_level, 0)[0] as i64
}

/// PSCI_FEATURES(function id).
pub fn features(fid: u64) -> i64 {
    hvc(FEATURES, fid, 0, 0)[0] as i64
}

/// CPU_OFF: powers this vCPU off. Returns only on failure (with the error).
pub fn cpu_off() -> i64 {
    hvc(CPU_OFF, 0, 0, 0)[0] as i64
}

/// Resets the VM (SYSTEM_RESET): it boots again from its image. Never returns.
pub fn system_reset() -> ! {
    hvc(SYSTEM_RESET, 0, 0, 0);
    loop {
        crate::arch::wfi();
    }
}

/// Powers the VM off. Never returns.
pub fn system_off() -> ! {
    hvc(SYSTEM_OFF, 0, 0, 0);
    loop {
        crate::arch::wfi();
    }
}
