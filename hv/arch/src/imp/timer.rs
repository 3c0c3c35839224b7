//! Generic-timer access from EL2: the loaded guest's virtual and EL1 physical timers (E2H-aware through
//! `el1`'s naming) and the hypervisor's own EL2 physical timer (CNTHP), which wakes a CPU
//! for the deadlines of vCPUs that are not loaded.
use core::arch::asm;

/// CNTx_CTL.ENABLE.
pub const CTL_ENABLE: u64 = 1 << 0;
/// CNTx_CTL.IMASK.
pub const CTL_IMASK: u64 = 1 << 1;
/// CNTx_CTL.ISTATUS.
pub const CTL_ISTATUS: u64 = 1 << 2;

/// Reads the loaded guest's CNTV_CTL.
pub fn guest_vtimer_ctl() -> u64 {
    super::el1::guest_cntv_ctl()
}

/// Writes the loaded guest's CNTV_CTL.
pub fn set_guest_vtimer_ctl(v: u64) {
    super::el1::set_guest_cntv_ctl(v);
}

/// Reads the loaded guest's CNTP_CTL (its EL1 physical timer).
pub fn guest_ptimer_ctl() -> u64 {
    super::el1::guest_cntp_ctl()
}

/// Writes the loaded guest's CNTP_CTL.
pub fn set_guest_ptimer_ctl(v: u64) {
    super::el1::set_guest_cntp_ctl(v);
}

/// Arms the EL2 physical timer for counter value `deadline`, or disarms it.
pub fn set_hyp_deadline(deadline: Option<u64>) {
    // SAFETY: the EL2 physical timer belongs to the hypervisor; programming it only
    // raises PPI 26 later.
    unsafe {
        match deadline {
            Some(d) => asm!("msr cnthp_cval_el2, {}", "msr cnthp_ctl_el2, {}", "isb",
                in(reg) d, in(reg) CTL_ENABLE, options(nostack)),
            None => asm!("msr cnthp_ctl_el2, xzr", "isb", options(nostack)),
        }
    }
}
