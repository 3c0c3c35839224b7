//! The lightweight entry/exit path (aarch64): all asm of the lwVM extension.
//!
//! Model: the lwVM reuses the hypervisor's guest entry (`hv_arch::context::enter_guest`:
//! general registers, ELR/SPSR, ERET; the lower-EL vectors save them again and return
//! with the exit's cause). Around it, this module swaps what a full VM does not need and
//! an lwVM does:
//! - TTBR0_EL2: the lwVM's stage-1 root with its ASID — written only when another
//!   address space is installed ([`install`]); the hypervisor keeps running on whichever
//!   is installed, since every lwVM's tables hold a privileged copy of the EL2 map;
//! - HCR_EL2: TGE set on entry, so that EL0 is the EL2&0 regime's and every exception
//!   goes to EL2; cleared again on exit, so that the full VMs' configuration
//!   (`hcr_guest()`) is what the rest of the hypervisor sees;
//! - SP_EL0, TPIDR_EL0, TPIDRRO_EL0: EL0 registers a full VM owns as well. The loaded
//!   full VM's values are kept in registers across the lwVM's run and put back on exit,
//!   so its EL1 state stays loaded and valid; TPIDRRO_EL0 reads 0 in the lwVM.
//!
//! Not touched: EL1 system registers, VTTBR_EL2/VMID, the guest's timer, the vGIC
//! interface. FP/SIMD registers are switched lazily, only when an lwVM uses them
//! ([`fp`]).
use core::arch::asm;

pub mod fp;

use hv_arch::context::{Exit, GuestRegs, enter_guest};
use hv_arch::regs::hcr_guest;
use hv_arch::vhe::HCR_TGE;

/// HCR_EL2 while an lwVM runs: the full VMs' value (E2H set) with TGE.
pub fn hcr_lwvm() -> u64 {
    hcr_guest() | HCR_TGE
}

/// EL0 state of an lwVM beyond x0..x30, PC and PSTATE.
#[derive(Debug, Default, Clone, Copy)]
pub struct El0Regs {
    /// SP_EL0.
    pub sp: u64,
    /// TPIDR_EL0 (thread pointer).
    pub tpidr: u64,
}

/// TTBR0_EL2 for a root table and an ASID (16-bit ASIDs, TCR_EL2.AS=1).
pub const fn ttbr(root: u64, asid: u16) -> u64 {
    ((asid as u64) << 48) | root
}

/// The TTBR0_EL2 value currently installed on this CPU.
pub fn installed() -> u64 {
    let v: u64;
    // SAFETY: reading TTBR0_EL2 has no side effects.
    unsafe { asm!("mrs {}, ttbr0_el2", out(reg) v, options(nomem, nostack)) };
    v
}

/// Installs the address space `ttbr` (see [`ttbr`]).
///
/// # Safety
/// `ttbr` must name tables generated for E2H=1 that contain the hypervisor's complete
/// EL2 map (the hypervisor keeps executing through them): the root of the EL2 tables
/// or of an lwVM's.
pub unsafe fn install(ttbr: u64) {
    // SAFETY: the caller guarantees the new tables map the hypervisor exactly as the old
    // ones (global entries), so the next instruction fetch and every later access are
    // unaffected; only ASID-tagged user pages change.
    unsafe { asm!("msr ttbr0_el2, {}", "isb", in(reg) ttbr, options(nostack)) };
}

/// Runs the lwVM whose registers are `regs` and `el0` (its address space installed)
/// until its next exception to EL2, and returns why it came back.
pub fn enter(regs: &mut GuestRegs, el0: &mut El0Regs) -> Exit {
    let (host_sp, host_tpidr, host_ro): (u64, u64, u64);
    // SAFETY: SP_EL0, TPIDR_EL0 and TPIDRRO_EL0 are not used by the hypervisor at EL2;
    // the loaded full VM's values are read first and written back below before anything
    // else can run it. Setting TGE only changes how EL0/EL1 execute, and nothing runs
    // there before the ERET in `enter_guest`, which also synchronises the change.
    unsafe {
        asm!(
            "mrs {hs}, sp_el0",
            "mrs {ht}, tpidr_el0",
            "mrs {hr}, tpidrro_el0",
            "msr sp_el0, {ls}",
            "msr tpidr_el0, {lt}",
            "msr tpidrro_el0, xzr",
            "msr hcr_el2, {hcr}",
            hs = out(reg) host_sp, ht = out(reg) host_tpidr, hr = out(reg) host_ro,
            ls = in(reg) el0.sp, lt = in(reg) el0.tpidr, hcr = in(reg) hcr_lwvm(),
            options(nostack),
        );
    }
    let exit = enter_guest(regs);
    let (sp, tpidr): (u64, u64);
    // SAFETY: back at EL2; clearing TGE restores the full VMs' configuration (the ISB
    // makes it effective before the hypervisor goes on), and the loaded full VM gets its
    // EL0 registers back.
    unsafe {
        asm!(
            "msr hcr_el2, {hcr}",
            "isb",
            "mrs {ls}, sp_el0",
            "mrs {lt}, tpidr_el0",
            "msr sp_el0, {hs}",
            "msr tpidr_el0, {ht}",
            "msr tpidrro_el0, {hr}",
            ls = out(reg) sp, lt = out(reg) tpidr,
            hs = in(reg) host_sp, ht = in(reg) host_tpidr, hr = in(reg) host_ro,
            hcr = in(reg) hcr_guest(),
            options(nostack),
        );
    }
    el0.sp = sp;
    el0.tpidr = tpidr;
    exit
}

/// Makes the hypervisor's writes to shadow tables visible to this CPU's table walker
/// before the lwVM runs again (new entries need no TLB maintenance: a TLB never holds
/// an invalid entry).
pub fn table_barrier() {
    // SAFETY: a barrier; no memory or register changes.
    unsafe { asm!("dsb ishst", options(nostack, preserves_flags)) };
}

/// Invalidates this CPU's translations of page `va` tagged with ASID `asid` in the
/// EL2&0 regime, walk caches included, after making earlier table writes visible.
///
/// Why local: a shadow root's ASID is only ever installed on the CPU its lwVM is pinned
/// to. Why VAE2: with HCR_EL2.E2H=1 it names the EL2&0 regime and matches the ASID of
/// Xt\[63:48\].
pub fn tlbi_va(asid: u16, va: u64) {
    let xt = ((asid as u64) << 48) | ((va >> 12) & ((1 << 44) - 1));
    // SAFETY: TLB maintenance only drops cached translations of an lwVM's user page; the
    // hypervisor's own (global) mappings are never changed by shadow paging.
    unsafe {
        asm!("dsb ishst", "tlbi vae2, {}", "dsb nsh", "isb", in(reg) xt, options(nostack, preserves_flags))
    };
}

/// Invalidates every translation of this CPU tagged with ASID `asid` in the EL2&0 regime.
///
/// There is no ASID form of TLBI for EL2; with HCR_EL2.{E2H,TGE} = {1,1} the EL1 form
/// `TLBI ASIDE1` names the EL2&0 regime, so TGE is set around it (nothing runs at EL0/EL1
/// meanwhile) and cleared again, as [`enter`] leaves it.
pub fn tlbi_asid(asid: u16) {
    let xt = (asid as u64) << 48;
    // SAFETY: TGE changes only how EL0/EL1 execute, and nothing runs there between the two
    // writes; the ISBs make each HCR_EL2 value effective for the TLBI that follows.
    unsafe {
        asm!(
            "dsb ishst",
            "msr hcr_el2, {lw}",
            "isb",
            "tlbi aside1, {xt}",
            "dsb nsh",
            "msr hcr_el2, {full}",
            "isb",
            lw = in(reg) hcr_lwvm(), xt = in(reg) xt, full = in(reg) hcr_guest(),
            options(nostack, preserves_flags),
        )
    };
}
