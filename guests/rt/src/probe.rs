//! Single-instruction memory and system probes that may fault: each runs inside
//! [`crate::exceptions::catch`], so a fault is returned instead of ending the guest.
use core::arch::asm;

pub use crate::exceptions::Fault;

/// Value a probe read returns when it faulted (the load did not write its register).
pub const POISON: u64 = 0xDEAD_DEAD_DEAD_DEAD;

/// 32-bit load from `addr`.
pub fn read32(addr: usize) -> Result<u32, Fault> {
    let mut v: u64 = POISON;
    let f = crate::exceptions::catch(|| {
        // SAFETY: the access may fault; `catch` armed the handler, which records the
        // fault and skips this one instruction. No Rust object lives at `addr`.
        unsafe { asm!("ldr {v:w}, [{a}]", a = in(reg) addr, v = inout(reg) v, options(nostack)) };
    });
    f.map_or(Ok(v as u32), Err)
}

/// 64-bit load from `addr`.
pub fn read64(addr: usize) -> Result<u64, Fault> {
    let mut v: u64 = POISON;
    let f = crate::exceptions::catch(|| {
        // SAFETY: as in `read32`.
        unsafe { asm!("ldr {v}, [{a}]", a = in(reg) addr, v = inout(reg) v, options(nostack)) };
    });
    f.map_or(Ok(v), Err)
}

/// 8-bit load from `addr`.
pub fn read8(addr: usize) -> Result<u8, Fault> {
    let mut v: u64 = POISON;
    let f = crate::exceptions::catch(|| {
        // SAFETY: as in `read32`.
        unsafe { asm!("ldrb {v:w}, [{a}]", a = in(reg) addr, v = inout(reg) v, options(nostack)) };
    });
    f.map_or(Ok(v as u8), Err)
}

/// 32-bit store of `v` to `addr`.
pub fn write32(addr: usize, v: u32) -> Result<(), Fault> {
    let f = crate::exceptions::catch(|| {
        // SAFETY: as in `read32`; a store to memory the guest does not own is the point
        // of the probe and is expected to fault.
        unsafe { asm!("str {v:w}, [{a}]", a = in(reg) addr, v = in(reg) v, options(nostack)) };
    });
    f.map_or(Ok(()), Err)
}

/// 64-bit store of `v` to `addr`.
pub fn write64(addr: usize, v: u64) -> Result<(), Fault> {
    let f = crate::exceptions::catch(|| {
        // SAFETY: as in `write32`.
        unsafe { asm!("str {v}, [{a}]", a = in(reg) addr, v = in(reg) v, options(nostack)) };
    });
    f.map_or(Ok(()), Err)
}

/// `smc #1` with x0 = `fid` (SMCCC requires immediate 0): the fault, or x0 returned.
pub fn smc_imm1(fid: u64) -> Result<u64, Fault> {
    let mut x0 = fid;
    let f = crate::exceptions::catch(|| {
        // SAFETY: the SMC traps to the hypervisor (or is undefined); it writes at most
        // x0..x17 (SMCCC), all declared clobbered.
        unsafe {
            asm!("smc #1", inout("x0") x0, out("x1") _, out("x2") _, out("x3") _,
                out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _,
                out("x9") _, out("x10") _, out("x11") _, out("x12") _, out("x13") _,
                out("x14") _, out("x15") _, out("x16") _, out("x17") _, options(nostack))
        };
    });
    f.map_or(Ok(x0), Err)
}

/// `hvc #1` with x0 = `fid`: the fault, or x0 returned.
pub fn hvc_imm1(fid: u64) -> Result<u64, Fault> {
    let mut x0 = fid;
    let f = crate::exceptions::catch(|| {
        // SAFETY: as in `smc_imm1`.
        unsafe {
            asm!("hvc #1", inout("x0") x0, out("x1") _, out("x2") _, out("x3") _,
                out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _,
                out("x9") _, out("x10") _, out("x11") _, out("x12") _, out("x13") _,
                out("x14") _, out("x15") _, out("x16") _, out("x17") _, options(nostack))
        };
    });
    f.map_or(Ok(x0), Err)
}

/// `smc #0` with x0 = `fid` (SMC conduit): the fault, or x0 returned.
pub fn smc0(fid: u64) -> Result<u64, Fault> {
    let mut x0 = fid;
    let f = crate::exceptions::catch(|| {
        // SAFETY: as in `smc_imm1`.
        unsafe {
            asm!("smc #0", inout("x0") x0, out("x1") _, out("x2") _, out("x3") _,
                out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _,
                out("x9") _, out("x10") _, out("x11") _, out("x12") _, out("x13") _,
                out("x14") _, out("x15") _, out("x16") _, out("x17") _, options(nostack))
        };
    });
    f.map_or(Ok(x0), Err)
}

/// Reads VTTBR_EL2 from EL1: UNDEFINED by the architecture (EL2 register).
pub fn read_vttbr_el2() -> Result<u64, Fault> {
    let mut v: u64 = POISON;
    let f = crate::exceptions::catch(|| {
        // SAFETY: the access is undefined at EL1 and is expected to fault; if it did not,
        // it only reads a register.
        unsafe { asm!("mrs {v}, vttbr_el2", v = inout(reg) v, options(nomem, nostack)) };
    });
    f.map_or(Ok(v), Err)
}
