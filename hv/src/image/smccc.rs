//! SMCCC calls from guests (HVC #0, or SMC #0 trapped by HCR_EL2.TSC): PSCI and the
//! project's hypercalls. Unknown function IDs return SMCCC's NOT_SUPPORTED (-1).
use super::exit::Outcome;
use super::generated::SYSTEM;
use super::state::Vcpu;

const NOT_SUPPORTED: i64 = -1;
const PSCI_VERSION: u64 = 0x8400_0000;
const PSCI_SYSTEM_OFF: u64 = 0x8400_0008;
/// PSCI 1.1.
const PSCI_1_1: i64 = 0x1_0001;

/// Handles the call in the vCPU's x0..x7; writes results to x0..x3.
pub fn call(v: usize, vcpu: &mut Vcpu) -> Outcome {
    let _ = &SYSTEM.vcpus[v];
    let fid = vcpu.regs.x[0] & 0xffff_ffff;
    let (ret, out) = match fid {
        PSCI_VERSION => (PSCI_1_1, Outcome::Continue),
        PSCI_SYSTEM_OFF => (0, Outcome::VmOff),
        _ => (NOT_SUPPORTED, Outcome::Continue),
    };
    vcpu.regs.x[0] = ret as u64;
    out
}
