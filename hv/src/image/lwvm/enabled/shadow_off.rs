//! Shadow paging off (feature `shadow-paging` not built): no lwVM pages itself — the
//! toolkit refuses `paging = "shadow"` for such an image — so every hook is a constant.
use hv_core::ids::VmId;
use hv_lwvm::trap::LwTrap;

use super::super::super::api::Vcpu;
use super::Outcome;

/// Nothing to reset.
#[inline(always)]
pub fn reset(_vm: VmId) -> Result<(), &'static str> {
    Ok(())
}

/// Always the flat root.
#[inline(always)]
pub fn ttbr(_vm: VmId) -> Option<u64> {
    None
}

/// FAULT_HANDLER: no lwVM has its own tables.
#[inline(always)]
pub fn set_handler(_vm: VmId, _va: u64) -> i64 {
    hv_lwvm::abi::err::NOT_SUPPORTED
}

/// Buffers are read from the flat view.
#[inline(always)]
pub fn read(_vm: VmId, _va: u64, _buf: &mut [u8]) -> Option<bool> {
    None
}

/// No trap is shadow paging's.
#[inline(always)]
pub fn handle(_vm: VmId, _vcpu: &mut Vcpu, _t: &LwTrap) -> Outcome {
    Outcome::NotMine
}
