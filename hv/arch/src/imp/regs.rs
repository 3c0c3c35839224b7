//! EL2 control registers: the trap configuration for guests, stage-2 selection and the
//! syndrome registers read after a guest exit.
use core::arch::asm;

use aarch64_cpu::registers::{
    CNTHCTL_EL2, CNTVOFF_EL2, ESR_EL2, FAR_EL2, HCR_EL2, HPFAR_EL2, MIDR_EL1, Readable, VMPIDR_EL2,
    VTCR_EL2, VTTBR_EL2, Writeable,
};

/// HCR_EL2 for running a guest at EL1 (AArch64), E2H=0:
/// VM (stage 2 on), SWIO, FMO/IMO/AMO (physical interrupts to EL2, virtual ones to the
/// guest), FB + BSU=inner shareable (broadcast TLB/cache maintenance within the inner
/// domain), TWI (WFI traps so an idle vCPU yields), TSC (SMC traps: PSCI over SMC is
/// emulated), TID3 (feature-ID registers read the sanitised values), TIDCP (IMPLEMENTATION
/// DEFINED registers trap: UNDEFINED), TACR (ACTLR_EL1 traps: RAZ/WI), TSW (set/way cache
/// maintenance traps: executed as clean+invalidate), RW (EL1 is AArch64), APK/API
/// (pointer authentication does not trap: the keys are switched with the EL1 state);
/// plus E2H under VHE (feature `vhe`), which full VMs do not notice. Left clear on
/// purpose: ATA (MTE tag access and MTE registers trap: MTE is hidden), EnSCXT (SCXTNUM
/// traps), TME. [`hcr_guest`] adds the bits of optional features.
pub const HCR_GUEST: u64 = HCR_E2H
    | (1 << 0)
    | (1 << 1)
    | (1 << 3)
    | (1 << 4)
    | (1 << 5)
    | (1 << 9)
    | (1 << 10)
    | (1 << 13)
    | (1 << 18)
    | (1 << 19)
    | (1 << 20)
    | (1 << 21)
    | (1 << 22)
    | (1 << 31)
    | (1 << 40)
    | (1 << 41);

/// The HCR_EL2 value guests run with: [`HCR_GUEST`] plus TERR (RAS error records trap:
/// UNDEFINED, RAS is hidden) and TLOR (LOR registers trap: UNDEFINED, LOR is hidden)
/// where the CPU has those features (the bits are RES0 otherwise). Valid after
/// `features::init_cpu`.
pub fn hcr_guest() -> u64 {
    HCR_GUEST | super::features::hcr_extra()
}

#[cfg(feature = "vhe")]
use super::vhe::HCR_E2H;
#[cfg(not(feature = "vhe"))]
const HCR_E2H: u64 = 0;

/// CNTHCTL_EL2: EL1PCTEN and EL1PCEN (E2H=0 layout), or their E2H=1 equivalent: guests read
/// the physical counter and own the EL1 physical timer, which is switched per vCPU.
#[cfg(not(feature = "vhe"))]
const CNTHCTL: u64 = (1 << 1) | (1 << 0);
#[cfg(feature = "vhe")]
const CNTHCTL: u64 = super::vhe::CNTHCTL_EL2_VHE;

/// Sets HCR_EL2.
pub fn set_hcr(v: u64) {
    HCR_EL2.set(v);
    isb();
}

/// Sets VTCR_EL2 (stage-2 translation control, shared by all VMs).
pub fn set_vtcr(v: u64) {
    VTCR_EL2.set(v);
    isb();
}

/// Selects the stage-2 tables and VMID of the guest about to run.
pub fn set_vttbr(vmid: u16, root: u64) {
    VTTBR_EL2.set(((vmid as u64) << 48) | root);
    isb();
}

/// VTTBR_EL2: the VMID (bits 63:48) and stage-2 root the CPU translates guests with.
pub fn vttbr() -> u64 {
    VTTBR_EL2.get()
}

/// Invalidates, on every CPU of the inner shareable domain, the stage-1 and stage-2 TLB
/// entries tagged with `vmid`, whatever VM this CPU has loaded: VTTBR_EL2 is pointed at
/// that VMID for the invalidation (and HCR_EL2.TGE cleared, so that the EL1&0 regime is
/// the one meant), then both are restored.
pub fn tlb_flush_for(vmid: u16) {
    let saved = VTTBR_EL2.get();
    let hcr = HCR_EL2.get();
    const TGE: u64 = 1 << 27;
    if hcr & TGE != 0 {
        HCR_EL2.set(hcr & !TGE);
    }
    VTTBR_EL2.set(((vmid as u64) << 48) | (saved & 0x0000_ffff_ffff_ffff));
    isb();
    tlb_flush_vmid();
    VTTBR_EL2.set(saved);
    if hcr & TGE != 0 {
        HCR_EL2.set(hcr);
    }
    isb();
}

/// Sets the MPIDR_EL1 value the guest reads.
pub fn set_vmpidr(v: u64) {
    VMPIDR_EL2.set(v);
}

/// This CPU's own MIDR_EL1.
pub fn midr() -> u64 {
    MIDR_EL1.get()
}

/// Sets the MIDR_EL1 value the guest reads (VPIDR_EL2). Its reset value is UNKNOWN: boot
/// sets it to the CPU's own MIDR (`boot::init_cpu`), a big.LITTLE VM may see its
/// cluster's.
pub fn set_vpidr(v: u64) {
    // SAFETY: VPIDR_EL2 only sets what EL1 reads from MIDR_EL1 (aarch64-cpu has no
    // accessor for it); it takes effect at the next exception return.
    unsafe { asm!("msr vpidr_el2, {}", in(reg) v, options(nomem, nostack)) };
}

/// Guests read the physical counter and program the EL1 physical timer (switched per
/// vCPU, like the virtual one); the virtual counter has no offset.
pub fn init_timer_traps() {
    CNTHCTL_EL2.set(CNTHCTL);
    CNTVOFF_EL2.set(0);
}

/// The syndrome of the last exception taken to EL2.
#[derive(Debug, Clone, Copy)]
pub struct Syndrome {
    /// ESR_EL2.
    pub esr: u64,
    /// FAR_EL2.
    pub far: u64,
    /// HPFAR_EL2.
    pub hpfar: u64,
}

/// Reads ESR/FAR/HPFAR_EL2 (call right after a `Sync` exit).
pub fn syndrome() -> Syndrome {
    Syndrome {
        esr: ESR_EL2.get(),
        far: FAR_EL2.get(),
        hpfar: HPFAR_EL2.get(),
    }
}

/// Reads FAR_EL2 and HPFAR_EL2 (after a data or instruction abort).
#[inline(always)]
pub fn fault_addresses() -> (u64, u64) {
    (FAR_EL2.get(), HPFAR_EL2.get())
}

/// Reads ESR_EL2 alone (classifying a trap needs nothing else).
#[inline(always)]
pub fn esr() -> u64 {
    ESR_EL2.get()
}

/// Invalidates all stage-1 and stage-2 TLB entries of the current VMID (inner shareable).
pub fn tlb_flush_vmid() {
    // SAFETY: TLB maintenance only affects translation caches.
    unsafe {
        asm!(
            "dsb ishst",
            "tlbi vmalls12e1is",
            "dsb ish",
            "isb",
            options(nostack)
        )
    }
}

fn isb() {
    // SAFETY: ISB has no memory effect.
    unsafe { asm!("isb", options(nomem, nostack)) }
}
