//! PSCI calls through HVC (the conduit the hypervisor offers its VMs).
use crate::arch::hvc;

/// PSCI_VERSION.
pub const PSCI_VERSION: u64 = 0x8400_0000;
/// SYSTEM_OFF.
pub const SYSTEM_OFF: u64 = 0x8400_0008;
/// SYSTEM_RESET.
pub const SYSTEM_RESET: u64 = 0x8400_0009;
/// CPU_ON (SMC64).
pub const CPU_ON: u64 = 0xC400_0003;

/// Returns PSCI_VERSION's answer (major << 16 | minor).
pub fn version() -> u32 {
    hvc(PSCI_VERSION, 0, 0, 0)[0] as u32
}

/// Powers the VM off. Never returns.
pub fn system_off() -> ! {
    hvc(SYSTEM_OFF, 0, 0, 0);
    loop {
        crate::arch::wfi();
    }
}
