//! The physical GICv3: distributor and redistributor set-up through the `arm-gic` crate,
//! the EL2 view of the CPU interface (acknowledge, end of interrupt, SGIs to other
//! CPUs) and the virtual CPU interface (`ICH_*_EL2`: list registers, VMCR, active
//! priorities) that delivers virtual interrupts to guests.
use core::arch::asm;
use core::ptr::NonNull;

use aarch64_cpu::registers::*;
use arm_gic::gicv3::{GicCpuInterface, GicV3, Group};
use arm_gic::{IntId, InterruptGroup, UniqueMmioPointer};

/// The hypervisor's SGI for "re-evaluate your schedule" kicks between CPUs.
pub const KICK_SGI: u32 = 8;

/// Owner of the distributor and redistributor MMIO (one instance, CPU 0 creates it).
pub struct Gic(GicV3<'static>);

// SAFETY: the GicV3 holds MMIO pointers to the GIC, which every CPU may access; the
// hypervisor keeps the one instance behind a lock, so accesses are serialised.
unsafe impl Send for Gic {}

impl Gic {
    /// Takes the GIC at `gicd`/`gicr` with `cpus` redistributors and sets the
    /// distributor up (affinity routing, group 1 non-secure, everything disabled).
    ///
    /// # Safety
    /// The addresses must be the board's GICv3, mapped as device memory in the EL2 tables,
    /// and this must be the only instance ever created.
    pub unsafe fn take(gicd: u64, gicr: u64, cpus: usize) -> Result<Gic, &'static str> {
        GicCpuInterface::enable_system_register_el2(true);
        // SAFETY: the caller guarantees these are the GIC's registers, mapped, unaliased.
        let g = unsafe {
            GicV3::new(
                UniqueMmioPointer::new(NonNull::new(gicd as *mut _).ok_or("null GICD")?),
                NonNull::new(gicr as *mut _).ok_or("null GICR")?,
                cpus,
            )
        }
        .map_err(|_| "redistributor frames not recognised")?;
        let mut gic = Gic(g);
        gic.0.setup(0);
        Ok(gic)
    }

    /// Per-CPU set-up of `cpu`'s redistributor and CPU interface; enables the private
    /// interrupts the hypervisor uses (`ppis`, plus the kick SGI). Must run on `cpu`.
    pub fn init_cpu(&mut self, cpu: usize, ppis: &[u32]) {
        GicCpuInterface::enable_system_register_el2(true);
        self.0.init_cpu(cpu);
        for &i in ppis.iter().chain(core::iter::once(&KICK_SGI)) {
            let id = if i < 16 {
                IntId::sgi(i)
            } else {
                IntId::ppi(i - 16)
            };
            let _ = self.0.set_group(id, Some(cpu), Group::Group1NS);
            let _ = self.0.set_interrupt_priority(id, Some(cpu), 0x80);
            let _ = self.0.enable_interrupt(id, Some(cpu), true);
        }
        GicCpuInterface::set_priority_mask(0xff);
        GicCpuInterface::enable_group1(true);
    }
}

impl Gic {
    /// Enables shared peripheral interrupt `intid` (routed to the boot CPU) for the
    /// hypervisor itself.
    pub fn enable_spi(&mut self, intid: u32) {
        let id = IntId::spi(intid - 32);
        let _ = self.0.set_group(id, None, Group::Group1NS);
        let _ = self.0.set_interrupt_priority(id, None, 0x80);
        let _ = self.0.enable_interrupt(id, None, true);
    }
}

impl Gic {
    /// Enables shared peripheral interrupt `intid` of a device a VM owns, routed to the
    /// CPU with affinity `mpidr` (where the VM's boot vCPU runs): group 1, the
    /// hypervisor's priority, level-sensitive as [`Gic::take`] configured every SPI.
    pub fn route_spi(&mut self, intid: u32, mpidr: u64) {
        let id = IntId::spi(intid - 32);
        let _ = self.0.set_group(id, None, Group::Group1NS);
        let _ = self.0.set_interrupt_priority(id, None, 0x80);
        let _ = self.0.distributor().set_routing(id, Some(mpidr));
        let _ = self.0.enable_interrupt(id, None, true);
    }
}

/// Clears the active state of shared interrupt `intid` and enables or disables it, in
/// the distributor at `gicd` (GICD_ICACTIVER, GICD_ISENABLER / GICD_ICENABLER): ends a
/// hardware-linked device interrupt its VM will never deactivate (the VM is off or
/// being reset).
///
/// # Safety
/// `gicd` must be the GIC distributor, mapped as device memory at EL2; `intid` an SPI.
pub unsafe fn release_spi(gicd: u64, intid: u32, enable: bool) {
    let (word, bit) = (u64::from(intid / 32) * 4, 1u32 << (intid % 32));
    let enable_reg = if enable { 0x100 } else { 0x180 };
    for reg in [enable_reg, 0x380] {
        // SAFETY: by the contract, a mapped GICD register; writing 1 changes only that
        // interrupt's bit.
        unsafe { core::ptr::write_volatile((gicd + reg + word) as *mut u32, bit) };
    }
    // SAFETY: a barrier.
    unsafe { asm!("dsb sy", options(nostack)) };
}

/// Acknowledges the highest-priority pending physical interrupt (None if spurious).
pub fn ack() -> Option<u32> {
    GicCpuInterface::get_and_acknowledge_interrupt(InterruptGroup::Group1).map(u32::from)
}

/// Whether a Group 1 interrupt is pending for this CPU (ICC_HPPIR1_EL1 names one), without
/// acknowledging it: lets long work at EL2 with interrupts masked (sending telemetry while
/// idle) give the CPU back early.
pub fn irq_pending() -> bool {
    let v: u64;
    // SAFETY: reading ICC_HPPIR1_EL1 has no side effect.
    unsafe { asm!("mrs {}, icc_hppir1_el1", out(reg) v, options(nomem, nostack)) };
    (v & 0xff_ffff) < 1020
}

/// Ends (drops priority and deactivates) physical interrupt `intid`.
pub fn end(intid: u32) {
    drop_priority(intid);
    deactivate(intid);
}

/// Drops the running priority of physical `intid` without deactivating it (EOImode=1): the
/// guest's deactivation of the hardware-linked virtual interrupt deactivates it later.
pub fn drop_priority(intid: u32) {
    // SAFETY: ICC_EOIR1_EL1 only changes the CPU interface's running priority.
    unsafe { asm!("msr icc_eoir1_el1, {}", "isb", in(reg) intid as u64, options(nostack)) };
}

/// Deactivates physical `intid` on this CPU (EOImode=1; no effect on an inactive one).
pub fn deactivate(intid: u32) {
    // SAFETY: ICC_DIR_EL1 only changes the interrupt's active state.
    unsafe { asm!("msr icc_dir_el1, {}", "isb", in(reg) intid as u64, options(nostack)) };
}

/// Splits end of interrupt into priority drop (ICC_EOIR1) and deactivation (ICC_DIR):
/// ICC_CTLR_EL1.EOImode = 1, so that a hardware-linked virtual interrupt can stay active
/// physically until the guest deactivates it.
pub fn split_eoi() {
    // SAFETY: sets one mode bit of this CPU's interface; [`end`] does both halves.
    unsafe {
        asm!(
            "mrs {t}, icc_ctlr_el1",
            "orr {t}, {t}, #2",
            "msr icc_ctlr_el1, {t}",
            "isb",
            t = out(reg) _,
            options(nostack)
        )
    };
}

/// Sets or clears the active state of private interrupt `intid` (< 32) in the
/// redistributor at `gicr` (this CPU's frame): GICR_ISACTIVER0 / GICR_ICACTIVER0 in its SGI
/// frame. Restores the physical side of a hardware-linked interrupt when a vCPU is loaded.
///
/// # Safety
/// `gicr` must be this CPU's redistributor, mapped as device memory at EL2.
pub unsafe fn set_private_active(gicr: u64, intid: u32, active: bool) {
    const SGI_FRAME: u64 = 0x1_0000;
    let reg = gicr + SGI_FRAME + if active { 0x300 } else { 0x380 };
    // SAFETY: by the contract, a mapped GICR register; writing 1 changes only that bit.
    unsafe { core::ptr::write_volatile(reg as *mut u32, 1 << (intid & 31)) };
    // SAFETY: a barrier.
    unsafe { asm!("dsb sy", options(nostack)) };
}

/// Whether private interrupt `intid` (< 32) is active in the redistributor at `gicr` (this
/// CPU's frame): GICR_ISACTIVER0 in its SGI frame.
///
/// # Safety
/// `gicr` must be this CPU's redistributor, mapped as device memory at EL2.
pub unsafe fn private_active(gicr: u64, intid: u32) -> bool {
    const SGI_FRAME: u64 = 0x1_0000;
    // SAFETY: by the contract, a mapped GICR register; reading it has no side effect.
    let v = unsafe { core::ptr::read_volatile((gicr + SGI_FRAME + 0x300) as *const u32) };
    v & (1 << (intid & 31)) != 0
}

/// Sends the kick SGI to the CPU with affinity `mpidr`.
pub fn kick(mpidr: u64) {
    let aff0 = mpidr & 0xff;
    let aff1 = (mpidr >> 8) & 0xff;
    let aff2 = (mpidr >> 16) & 0xff;
    let aff3 = (mpidr >> 32) & 0xff;
    // ICC_SGI1R_EL1: TargetList bit Aff0 % 16 (RS = Aff0 / 16), INTID, Aff1..3.
    let v = (aff3 << 48)
        | (aff2 << 32)
        | ((KICK_SGI as u64) << 24)
        | ((aff0 >> 4) << 44)
        | (aff1 << 16)
        | (1 << (aff0 & 0xf));
    // The stores that tell the target what to look at (pending state, dirty flags, start
    // requests) must be visible before the SGI can arrive: DSB first, as Linux does.
    // SAFETY: the barrier and SGI generation have no memory-safety effect.
    unsafe { asm!("dsb ishst", "msr icc_sgi1r_el1, {}", "isb", in(reg) v, options(nostack)) };
}

/// Number of list registers (ICH_VTR_EL2.ListRegs + 1).
pub fn list_registers() -> usize {
    (ICH_VTR_EL2.get() & 0x1f) as usize + 1
}

macro_rules! lr_access {
    ($($n:literal => $reg:ident),* $(,)?) => {
        /// Reads ICH_LR<n>_EL2.
        pub fn read_lr(n: usize) -> u64 {
            match n { $($n => $reg.get(),)* _ => 0 }
        }
        /// Writes ICH_LR<n>_EL2.
        pub fn write_lr(n: usize, v: u64) {
            match n { $($n => $reg.set(v),)* _ => {} }
        }
    };
}

lr_access!(
    0 => ICH_LR0_EL2, 1 => ICH_LR1_EL2, 2 => ICH_LR2_EL2, 3 => ICH_LR3_EL2,
    4 => ICH_LR4_EL2, 5 => ICH_LR5_EL2, 6 => ICH_LR6_EL2, 7 => ICH_LR7_EL2,
    8 => ICH_LR8_EL2, 9 => ICH_LR9_EL2, 10 => ICH_LR10_EL2, 11 => ICH_LR11_EL2,
    12 => ICH_LR12_EL2, 13 => ICH_LR13_EL2, 14 => ICH_LR14_EL2, 15 => ICH_LR15_EL2,
);

/// ICH_HCR_EL2.En: the virtual CPU interface is on.
pub const ICH_HCR_EN: u64 = 1;

/// Writes ICH_HCR_EL2.
pub fn set_ich_hcr(v: u64) {
    ICH_HCR_EL2.set(v);
}

/// ICH_MISR_EL2: why the maintenance interrupt fired.
pub fn misr() -> u64 {
    ICH_MISR_EL2.get()
}

pub use crate::state::VcpuIfState;

impl VcpuIfState {
    /// Saves the current vCPU's interface state.
    pub fn save(&mut self) {
        self.vmcr = ICH_VMCR_EL2.get();
        self.ap1r0 = ICH_AP1R0_EL2.get();
        self.ap0r0 = ICH_AP0R0_EL2.get();
    }

    /// Loads a vCPU's interface state.
    pub fn restore(&self) {
        ICH_VMCR_EL2.set(self.vmcr);
        ICH_AP1R0_EL2.set(self.ap1r0);
        ICH_AP0R0_EL2.set(self.ap0r0);
    }
}
