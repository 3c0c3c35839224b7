//! A GICv3 driver for the guest: distributor and redistributor through MMIO (emulated
//! by the hypervisor), the CPU interface through the ICC_* system registers
//! (virtualised by the ICV_* registers under the hypervisor). Affinity routing,
//! Group 1 only, like Linux's driver. Spec: Arm IHI 0069 (GICv3), GICD_*/GICR_* and
//! ICC_* register descriptions.
use core::arch::asm;
use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::arch::{MAX_VCPUS, cpu_index, mpidr};

/// Distributor base (IPA).
pub const GICD: usize = 0x0800_0000;
/// First redistributor frame (IPA).
pub const GICR: usize = 0x080A_0000;
/// Bytes between redistributor frames (RD_base + SGI_base).
pub const GICR_STRIDE: usize = 0x2_0000;
/// SGI_base offset inside a redistributor frame.
pub const SGI_BASE: usize = 0x1_0000;

/// GICD_CTLR.
pub const GICD_CTLR: usize = 0x0000;
/// GICD_TYPER.
pub const GICD_TYPER: usize = 0x0004;
/// GICD_IGROUPR<n> (also GICR_IGROUPR0 in SGI_base).
pub const IGROUPR: usize = 0x0080;
/// GICD_ISENABLER<n> (also GICR_ISENABLER0).
pub const ISENABLER: usize = 0x0100;
/// GICD_ICENABLER<n> (also GICR_ICENABLER0).
pub const ICENABLER: usize = 0x0180;
/// GICD_ISPENDR<n> (also GICR_ISPENDR0).
pub const ISPENDR: usize = 0x0200;
/// GICD_ICPENDR<n> (also GICR_ICPENDR0).
pub const ICPENDR: usize = 0x0280;
/// GICD_IPRIORITYR<n> (also GICR_IPRIORITYR<n>).
pub const IPRIORITYR: usize = 0x0400;
/// GICD_IROUTER<n> (64-bit, n = INTID).
pub const IROUTER: usize = 0x6000;
/// GICR_TYPER (64-bit).
pub const GICR_TYPER: usize = 0x0008;
/// GICR_WAKER.
pub const GICR_WAKER: usize = 0x0014;

/// GICD_CTLR.EnableGrp1 (single security state; EnableGrp1NS/A in the NS view).
pub const CTLR_ENABLE_GRP1: u32 = 1 << 1;
/// GICD_CTLR.ARE (ARE_NS in the NS view).
pub const CTLR_ARE: u32 = 1 << 4;
/// GICD_CTLR.RWP.
pub const CTLR_RWP: u32 = 1 << 31;
/// GICR_TYPER.Last.
const TYPER_LAST: u64 = 1 << 4;
/// GICR_WAKER.ProcessorSleep.
const WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
/// GICR_WAKER.ChildrenAsleep.
const WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;
/// Redistributor frames searched for this vCPU's.
const MAX_FRAMES: usize = 64;

static RD_BASE: [AtomicUsize; MAX_VCPUS] = [const { AtomicUsize::new(0) }; MAX_VCPUS];

/// Reads a 32-bit GIC register.
pub fn read32(addr: usize) -> u32 {
    // SAFETY: `addr` is a GIC register of the guest's IPA map (emulated by the
    // hypervisor); a 32-bit access is permitted to every GICD/GICR register.
    unsafe { read_volatile(addr as *const u32) }
}

/// Writes a 32-bit GIC register.
pub fn write32(addr: usize, v: u32) {
    // SAFETY: as in `read32`.
    unsafe { write_volatile(addr as *mut u32, v) }
}

/// Reads a 64-bit GIC register (GICR_TYPER, GICD_IROUTER<n>).
pub fn read64(addr: usize) -> u64 {
    // SAFETY: as in `read32`; 64-bit accesses are permitted to 64-bit registers.
    unsafe { read_volatile(addr as *const u64) }
}

/// Writes a 64-bit GIC register.
pub fn write64(addr: usize, v: u64) {
    // SAFETY: as in `read64`.
    unsafe { write_volatile(addr as *mut u64, v) }
}

/// MPIDR_EL1 affinity as GICR_TYPER.Affinity_Value / GICD_IROUTER encode it.
fn affinity_value(mpidr: u64) -> u64 {
    (mpidr & 0xff_ffff) | ((mpidr >> 32) & 0xff) << 24
}

fn wait_rwp() {
    while read32(GICD + GICD_CTLR) & CTLR_RWP != 0 {}
}

/// Enables the distributor: ARE and Group 1 (once per VM, by its first vCPU).
/// Does not clear pending state: an SPI raised before is kept, as the GIC keeps it.
pub fn init_distributor() {
    write32(GICD + GICD_CTLR, 0);
    wait_rwp();
    write32(GICD + GICD_CTLR, CTLR_ARE | CTLR_ENABLE_GRP1);
    wait_rwp();
}

/// Finds this vCPU's redistributor frame by GICR_TYPER.Affinity_Value.
fn find_redistributor() -> Option<usize> {
    let aff = affinity_value(mpidr());
    for i in 0..MAX_FRAMES {
        let frame = GICR + i * GICR_STRIDE;
        let typer = read64(frame + GICR_TYPER);
        if typer >> 32 == aff {
            return Some(frame);
        }
        if typer & TYPER_LAST != 0 {
            break;
        }
    }
    None
}

/// This vCPU's redistributor frame (after [`init_cpu`]).
pub fn redistributor() -> usize {
    RD_BASE[cpu_index() % MAX_VCPUS].load(Ordering::SeqCst)
}

/// Per-vCPU set-up: wakes this vCPU's redistributor, enables the system-register CPU
/// interface, PMR = 0xff, BPR1 = 0, EOImode 0, Group 1 on. Panics if no redistributor
/// frame has this vCPU's affinity.
pub fn init_cpu() {
    let Some(rd) = find_redistributor() else {
        panic!("no GICR frame for MPIDR {:#x}", mpidr());
    };
    RD_BASE[cpu_index() % MAX_VCPUS].store(rd, Ordering::SeqCst);
    let w = read32(rd + GICR_WAKER);
    write32(rd + GICR_WAKER, w & !WAKER_PROCESSOR_SLEEP);
    while read32(rd + GICR_WAKER) & WAKER_CHILDREN_ASLEEP != 0 {}
    // SAFETY: programs only this vCPU's (virtual) GIC CPU interface.
    unsafe {
        asm!(
            "mrs {t}, icc_sre_el1",
            "orr {t}, {t}, #1",
            "msr icc_sre_el1, {t}",
            "isb",
            "mov {t}, #0xff",
            "msr icc_pmr_el1, {t}",
            "msr icc_bpr1_el1, xzr",
            "mrs {t}, icc_ctlr_el1",
            "bic {t}, {t}, #2",
            "msr icc_ctlr_el1, {t}",
            "mov {t}, #1",
            "msr icc_igrpen1_el1, {t}",
            "isb",
            t = out(reg) _,
            options(nomem, nostack)
        );
    }
}

/// The register block (distributor or this vCPU's SGI_base) that holds `intid`.
fn block(intid: u32) -> usize {
    if intid < 32 {
        redistributor() + SGI_BASE
    } else {
        GICD
    }
}

fn set_bit(reg: usize, intid: u32) {
    write32(
        block(intid) + reg + (intid as usize / 32) * 4,
        1 << (intid % 32),
    );
}

/// Puts `intid` into Group 1 (read-modify-write of IGROUPR).
pub fn set_group1(intid: u32) {
    let a = block(intid) + IGROUPR + (intid as usize / 32) * 4;
    write32(a, read32(a) | 1 << (intid % 32));
}

/// Sets `intid`'s priority (read-modify-write of the 32-bit IPRIORITYR word).
pub fn set_priority(intid: u32, prio: u8) {
    let a = block(intid) + IPRIORITYR + (intid as usize & !3);
    let shift = (intid % 4) * 8;
    write32(a, (read32(a) & !(0xff << shift)) | (prio as u32) << shift);
}

/// The priority of `intid` as the GIC holds it.
pub fn priority(intid: u32) -> u8 {
    let a = block(intid) + IPRIORITYR + (intid as usize & !3);
    (read32(a) >> ((intid % 4) * 8)) as u8
}

/// Routes SPI `intid` to the vCPU with MPIDR `mpidr` (GICD_IROUTER, IRM = 0).
pub fn route(intid: u32, mpidr: u64) {
    // IROUTER: Aff3 [39:32], Aff2..Aff0 [23:0], IRM [31] = 0 — MPIDR's own layout.
    write64(GICD + IROUTER + intid as usize * 8, mpidr & 0xff_00ff_ffff);
}

/// Enables `intid` (ISENABLER).
pub fn enable(intid: u32) {
    set_bit(ISENABLER, intid);
    if intid >= 32 {
        wait_rwp();
    }
}

/// Disables `intid` (ICENABLER).
pub fn disable(intid: u32) {
    set_bit(ICENABLER, intid);
    if intid >= 32 {
        wait_rwp();
    }
}

/// Whether `intid` is pending (ISPENDR).
pub fn is_pending(intid: u32) -> bool {
    read32(block(intid) + ISPENDR + (intid as usize / 32) * 4) & 1 << (intid % 32) != 0
}

/// Group 1, priority `prio`, routed to this vCPU (SPIs), enabled.
pub fn configure(intid: u32, prio: u8) {
    set_group1(intid);
    set_priority(intid, prio);
    if intid >= 32 {
        route(intid, mpidr());
    }
    enable(intid);
}

/// Acknowledges the highest-priority pending interrupt (ICC_IAR1_EL1); 1023 if none.
pub fn ack() -> u32 {
    let v: u64;
    // SAFETY: reading ICC_IAR1_EL1 acknowledges an interrupt of this vCPU only.
    unsafe { asm!("mrs {}, icc_iar1_el1", out(reg) v, options(nomem, nostack)) };
    (v & 0xff_ffff) as u32
}

/// Ends `intid` (ICC_EOIR1_EL1; EOImode 0: priority drop and deactivation).
pub fn eoi(intid: u32) {
    // SAFETY: writing ICC_EOIR1_EL1 ends an interrupt of this vCPU only.
    unsafe { asm!("msr icc_eoir1_el1, {}", "isb", in(reg) intid as u64, options(nomem, nostack)) };
}

/// Targets of an SGI.
#[derive(Debug, Clone, Copy)]
pub enum SgiTarget {
    /// vCPUs with Aff3.Aff2.Aff1 = `aff` (packed Aff3 << 16 | Aff2 << 8 | Aff1) and
    /// Aff0 in `list` (bit n = Aff0 n, n < 16).
    List {
        /// Aff3.Aff2.Aff1.
        aff: u32,
        /// Target list.
        list: u16,
    },
    /// Every vCPU but the sender (IRM = 1).
    Others,
}

/// The ICC_SGI1R_EL1 value for `intid` to `target`.
pub fn sgi1r(intid: u32, target: SgiTarget) -> u64 {
    let id = ((intid & 0xf) as u64) << 24;
    match target {
        SgiTarget::Others => id | 1 << 40,
        SgiTarget::List { aff, list } => {
            id | ((aff as u64 >> 16) & 0xff) << 48
                | ((aff as u64 >> 8) & 0xff) << 32
                | (aff as u64 & 0xff) << 16
                | list as u64
        }
    }
}

/// Writes ICC_SGI1R_EL1 (generates a Group 1 SGI).
pub fn write_sgi1r(v: u64) {
    // SAFETY: generating an SGI only makes interrupts pending in this VM's vCPUs
    // (the hypervisor confines it).
    unsafe { asm!("msr icc_sgi1r_el1, {}", "isb", in(reg) v, options(nomem, nostack)) };
}

/// Sends SGI `intid` to vCPU `index` of this VM (Aff1..3 = 0, Aff0 = index).
pub fn send_sgi(intid: u32, index: u32) {
    write_sgi1r(sgi1r(
        intid,
        SgiTarget::List {
            aff: 0,
            list: 1 << index,
        },
    ));
}
