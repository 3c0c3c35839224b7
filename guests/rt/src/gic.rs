//! The guest's GICv3 driver: the `arm-gic` crate (the one the hypervisor drives the
//! physical GIC with) does the distributor, the redistributors and the CPU interface;
//! this module keeps the few calls the guests make, in the terms they use (raw INTIDs,
//! this vCPU's redistributor). Affinity routing, Group 1 only, like Linux's driver.
//! Under the hypervisor the distributor and redistributors are emulated and the ICC_*
//! registers are the virtual ICV_* ones. Spec: Arm IHI 0069 (GICv3).
//!
//! The raw accessors ([`read32`] …) stay for the tests that poke registers on purpose
//! (the attacker, the probes that read back what the GIC holds).
use core::arch::asm;
use core::ptr::{NonNull, read_volatile, write_volatile};
use core::sync::atomic::{AtomicUsize, Ordering};

use arm_gic::gicv3::registers::{Gicd, GicdCtlr, GicrSgi};
use arm_gic::gicv3::{
    GicCpuInterface, GicDistributor, GicError, GicRedistributor, Group, SgiTarget as Targets,
    SgiTargetGroup,
};
use arm_gic::{IntId, InterruptGroup, UniqueMmioPointer};

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
/// Redistributor frames searched for this vCPU's.
const MAX_FRAMES: usize = 64;

/// Per vCPU (by [`cpu_index`]): the index of its redistributor frame + 1 (0: not found yet).
static RD_INDEX: [AtomicUsize; MAX_VCPUS] = [const { AtomicUsize::new(0) }; MAX_VCPUS];

/// A handle on this VM's distributor, for one call. No driver state is kept between
/// calls (and so no lock: the guests run with the MMU off, where the runtime avoids
/// exclusive accesses); the GIC's registers are the state.
fn dist() -> GicDistributor<'static> {
    // SAFETY: GICD is this VM's distributor frame (device memory: the MMU is off). The
    // handle lives for one call; vCPUs that reconfigure the same interrupt at the same
    // time would race on its read-modify-write registers as they would with any driver
    // without a lock — the guests configure an SPI from one vCPU, and private
    // interrupts each in their own redistributor.
    GicDistributor::new(unsafe {
        UniqueMmioPointer::new(NonNull::new(GICD as *mut Gicd).expect("GICD"))
    })
}

/// A handle on redistributor frame `i` (RD_base and SGI_base), for one call.
fn redist(i: usize) -> GicRedistributor<'static> {
    // SAFETY: frame `i` exists (found by GICR_TYPER in `find_redistributor`) and is only
    // used by the vCPU it belongs to; the handle lives for one call.
    GicRedistributor::new(unsafe {
        UniqueMmioPointer::new(
            NonNull::new((GICR + i * GICR_STRIDE) as *mut GicrSgi).expect("GICR"),
        )
    })
}

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

/// Enables the distributor: ARE and Group 1 (once per VM, by its first vCPU).
/// Does not clear pending state: an SPI raised before is kept, as the GIC keeps it.
pub fn init_distributor() {
    let mut d = dist();
    // ARE may only change while every group is disabled; both wait for RWP.
    d.modify_control(GicdCtlr::all() - GicdCtlr::RWP, false);
    d.modify_control(GicdCtlr::ARE_S | GicdCtlr::EnableGrp1NS, true);
}

/// The index of this vCPU's redistributor frame, found by GICR_TYPER.Affinity_Value.
fn find_redistributor() -> Option<usize> {
    let aff = affinity_value(mpidr());
    for i in 0..MAX_FRAMES {
        let typer = read64(GICR + i * GICR_STRIDE + GICR_TYPER);
        if typer >> 32 == aff {
            return Some(i);
        }
        if typer & TYPER_LAST != 0 {
            break;
        }
    }
    None
}

/// The index of this vCPU's redistributor frame (after [`init_cpu`]).
fn rd_index() -> usize {
    match RD_INDEX[cpu_index() % MAX_VCPUS].load(Ordering::SeqCst) {
        0 => panic!("gic::init_cpu has not run on this vCPU"),
        i => i - 1,
    }
}

/// This vCPU's redistributor frame (after [`init_cpu`]).
pub fn redistributor() -> usize {
    GICR + rd_index() * GICR_STRIDE
}

/// Per-vCPU set-up: wakes this vCPU's redistributor, enables the system-register CPU
/// interface, PMR = 0xff, BPR1 = 0, EOImode 0, Group 1 on. Panics if no redistributor
/// frame has this vCPU's affinity.
pub fn init_cpu() {
    let Some(rd) = find_redistributor() else {
        panic!("no GICR frame for MPIDR {:#x}", mpidr());
    };
    RD_INDEX[cpu_index() % MAX_VCPUS].store(rd + 1, Ordering::SeqCst);
    GicCpuInterface::enable_system_register_el1();
    redist(rd).mark_core_awake().expect("GICR_WAKER");
    GicCpuInterface::set_priority_mask(0xff);
    // SAFETY: programs only this vCPU's (virtual) CPU interface, where arm-gic has no
    // call: BPR1 = 0 (no preemption groups split), ICC_CTLR_EL1.EOImode = 0 (an EOI
    // also deactivates).
    unsafe {
        asm!(
            "msr icc_bpr1_el1, xzr",
            "mrs {t}, icc_ctlr_el1",
            "bic {t}, {t}, #2",
            "msr icc_ctlr_el1, {t}",
            "isb",
            t = out(reg) _,
            options(nomem, nostack)
        )
    };
    GicCpuInterface::enable_group1(true);
}

/// `intid` as arm-gic names it, with the redistributor that holds it if private.
fn id(intid: u32) -> (IntId, Option<usize>) {
    let id = IntId::try_from(intid).unwrap_or_else(|_| panic!("INTID {intid} is reserved"));
    (id, id.is_private().then(rd_index))
}

/// The register block (distributor or this vCPU's SGI_base) that holds `intid`.
fn block(intid: u32) -> usize {
    if intid < 32 {
        redistributor() + SGI_BASE
    } else {
        GICD
    }
}

/// Runs `f` on the block that holds `intid`: this vCPU's redistributor for an SGI or
/// PPI, the distributor for an SPI (waiting for its register writes to complete).
fn on_block(
    intid: u32,
    dist_op: impl FnOnce(&mut GicDistributor<'static>, IntId) -> Result<(), GicError>,
    redist_op: impl FnOnce(&mut GicRedistributor<'static>, IntId) -> Result<(), GicError>,
) {
    let (id, rd) = id(intid);
    let r = match rd {
        Some(i) => redist_op(&mut redist(i), id),
        None => {
            let mut d = dist();
            let r = dist_op(&mut d, id);
            d.wait_for_pending_write();
            r
        }
    };
    if let Err(e) = r {
        panic!("GIC: INTID {intid}: {e}");
    }
}

/// Puts `intid` into Group 1 (non-secure).
pub fn set_group1(intid: u32) {
    on_block(
        intid,
        |d, id| d.set_group(id, Group::Group1NS),
        |r, id| r.set_group(id, Group::Group1NS),
    );
}

/// Sets `intid`'s priority.
pub fn set_priority(intid: u32, prio: u8) {
    on_block(
        intid,
        |d, id| d.set_interrupt_priority(id, prio),
        |r, id| r.set_interrupt_priority(id, prio),
    );
}

/// The priority of `intid` as the GIC holds it (read back from IPRIORITYR).
pub fn priority(intid: u32) -> u8 {
    let a = block(intid) + IPRIORITYR + (intid as usize & !3);
    (read32(a) >> ((intid % 4) * 8)) as u8
}

/// Routes SPI `intid` to the vCPU with MPIDR `mpidr` (GICD_IROUTER, IRM = 0).
pub fn route(intid: u32, mpidr: u64) {
    on_block(
        intid,
        |d, id| d.set_routing(id, Some(mpidr)),
        |_, id| Err(GicError::InvalidGicdIntid(id)),
    );
}

fn set_enabled(intid: u32, on: bool) {
    on_block(
        intid,
        |d, id| d.enable_interrupt(id, on),
        |r, id| r.enable_interrupt(id, on),
    );
}

/// Enables `intid`.
pub fn enable(intid: u32) {
    set_enabled(intid, true);
}

/// Disables `intid`.
pub fn disable(intid: u32) {
    set_enabled(intid, false);
}

/// Whether `intid` is pending (read back from ISPENDR).
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
    GicCpuInterface::get_and_acknowledge_interrupt(InterruptGroup::Group1).map_or(1023, u32::from)
}

/// Ends `intid` (ICC_EOIR1_EL1; EOImode 0: priority drop and deactivation).
pub fn eoi(intid: u32) {
    let Ok(id) = IntId::try_from(intid) else {
        return;
    };
    GicCpuInterface::end_interrupt(id, InterruptGroup::Group1);
    // SAFETY: a barrier only.
    unsafe { asm!("isb", options(nomem, nostack)) };
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
    let target = Targets::List {
        affinity3: 0,
        affinity2: 0,
        affinity1: 0,
        target_list: 1 << index,
    };
    GicCpuInterface::send_sgi(IntId::sgi(intid), target, SgiTargetGroup::CurrentGroup1)
        .expect("an SGI INTID");
    // SAFETY: a barrier only.
    unsafe { asm!("isb", options(nomem, nostack)) };
}
