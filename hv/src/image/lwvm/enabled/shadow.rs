//! Shadow paging of lwVMs (feature `shadow-paging`, design in docs/SHADOW.md): the image's
//! half of `hv-shadow`.
//!
//! An lwVM with `paging = "shadow"` builds its own VMSAv8-64 tables and installs them by
//! writing TTBR0_EL1/TCR_EL1/MAIR_EL1/SCTLR_EL1, which are UNDEFINED at EL0 and arrive
//! here as EC 0x00 with no syndrome: the instruction is fetched through the lwVM's own
//! translation and decoded (`hv_shadow::insn`). Its translation and permission faults
//! fill the shadow tables `hv_shadow::Space` keeps in the lwVM's pool, or — when its own
//! tables forbid the access — enter the fault handler it registered. A store to one of
//! its live tables (mapped read-only in the shadow) is emulated, so that the shadow
//! entries derived from the descriptor go at once.
//!
//! Ownership: an lwVM is pinned to one CPU and only that CPU runs this code for it, so
//! each slot's lock is never contended; it is there so that the bookkeeping is reached
//! through safe code.
//!
//! Address space while the hypervisor edits the shadow: the flat, pregenerated root
//! (`LwvmDesc::root`) is installed first. A pool page that was a root can be handed out
//! again as a lower-level table (zeroed) by a flush; the hypervisor must never run on it
//! then.
use hv_core::ids::VmId;
use hv_core::sysdesc::{
    LwvmDesc, SHADOW_GUEST_PAGES_MAX, SHADOW_POOL_PAGES_MAX, SHADOW_SLOTS_MAX, ShadowDesc,
};
use hv_lwvm::trap::LwTrap;
use hv_shadow::insn::{SysInsn, decode_store, decode_sys, tlbi_op};
use hv_shadow::{Access, GuestFault, Resolved, Space, Stats};

use hv_core::trap::FaultStatus;

use super::super::super::api::Vcpu;
use super::super::super::generated::SYSTEM;
use super::super::super::sync::SpinLock;
use super::Outcome;
use crate::hvlog;

/// One shadow-paged lwVM's bookkeeping.
struct Slot {
    space: Space<SHADOW_POOL_PAGES_MAX, SHADOW_GUEST_PAGES_MAX>,
    /// Its fault handler (0: none).
    handler: u64,
    /// TTBR0_EL2 it runs with while its translation is on (0: off, the flat root).
    hw: u64,
}

static SLOTS: [SpinLock<Slot>; SHADOW_SLOTS_MAX] = [const {
    SpinLock::new(Slot {
        space: Space::new(),
        handler: 0,
        hw: 0,
    })
}; SHADOW_SLOTS_MAX];

/// The lwVM's shadow description, if it pages itself.
fn desc(vm: VmId) -> Option<(&'static LwvmDesc, &'static ShadowDesc)> {
    let lw = SYSTEM.vm(vm).lwvm.as_ref()?;
    Some((lw, lw.shadow.as_ref()?))
}

/// Physical memory and this CPU's TLB, as `hv-shadow` needs them.
struct Machine;

impl hv_shadow::Platform for Machine {
    fn read64(&self, pa: u64) -> u64 {
        // SAFETY: `hv-shadow` reads only the pool and the lwVM's table-holding memory,
        // both identity-mapped normal memory in the EL2 map (the toolkit maps them).
        unsafe { core::ptr::read_volatile(pa as *const u64) }
    }
    fn write64(&mut self, pa: u64, v: u64) {
        // SAFETY: as above; writes go to the pool (only the hypervisor and the table walker
        // use it) or to the lwVM's own memory, on its behalf.
        unsafe { core::ptr::write_volatile(pa as *mut u64, v) }
    }
    fn write_sized(&mut self, pa: u64, v: u64, bytes: u8) {
        let b = v.to_le_bytes();
        // SAFETY: an emulated store of the lwVM into its own memory, whose translation and
        // rights `hv-shadow` checked.
        unsafe { hv_arch::mem::write(pa, &b[..usize::from(bytes.min(8))]) }
    }
    fn tlbi_va(&mut self, asid: u16, va: u64) {
        hv_lwvm::tlbi_va(asid, va);
    }
    fn tlbi_asid(&mut self, asid: u16) {
        hv_lwvm::tlbi_asid(asid);
    }
}

/// Installs the lwVM's flat root if a shadow root is installed (see the module doc).
fn to_flat(lw: &LwvmDesc) {
    let flat = hv_lwvm::ttbr(lw.root, lw.asid);
    if hv_lwvm::installed() != flat {
        // SAFETY: the flat root is the lwVM's pregenerated table set, which holds the
        // whole EL2 map.
        unsafe { hv_lwvm::install(flat) };
    }
}

/// At every (re)boot of lwVM `vm`: no tables, translation off, no handler. `Err` if its
/// description does not fit the bookkeeping (a misbuilt image: the toolkit checks the
/// sizes): the lwVM must not run.
pub fn reset(vm: VmId) -> Result<(), &'static str> {
    let Some((lw, sh)) = desc(vm) else {
        return Ok(());
    };
    to_flat(lw);
    let mut s = SLOTS[usize::from(sh.slot)].lock();
    let layout = hv_shadow::Layout {
        pool_pa: sh.pool,
        pool_pages: sh.pool_pages,
        hw_asid_first: sh.asid_first,
        roots: sh.roots,
        hyp_root: lw.root,
        // The lwVM window: below it lies the hypervisor's identity map, in every address
        // space of the lwVM, so its own tables may map nothing there.
        va_base: SYSTEM.vm(vm).ram_ipa,
        grants: sh.grants,
    };
    s.handler = 0;
    s.hw = 0;
    s.space.reset(layout)?;
    // The roots' hardware ASIDs start clean: a restarted lwVM never meets its previous
    // life's translations.
    for k in 0..u16::from(sh.roots) {
        hv_lwvm::tlbi_asid(sh.asid_first + k);
    }
    Ok(())
}

/// TTBR0_EL2 lwVM `vm` runs with: its shadow root while its translation is on, else
/// `None` (the flat root).
#[inline]
pub fn ttbr(vm: VmId) -> Option<u64> {
    let (_, sh) = desc(vm)?;
    let hw = SLOTS[usize::from(sh.slot)].lock().hw;
    (hw != 0).then_some(hw)
}

/// FAULT_HANDLER: registers the handler of lwVM `vm`'s own page faults.
pub fn set_handler(vm: VmId, va: u64) -> i64 {
    let Some((_, sh)) = desc(vm) else {
        return hv_lwvm::abi::err::NOT_SUPPORTED;
    };
    SLOTS[usize::from(sh.slot)].lock().handler = va;
    0
}

/// Copies `buf.len()` bytes the lwVM has at its VA `va` (through its own translation
/// when it is on); `false` if any byte is not readable memory of its own.
pub fn read(vm: VmId, va: u64, buf: &mut [u8]) -> Option<bool> {
    let (_, sh) = desc(vm)?;
    let s = SLOTS[usize::from(sh.slot)].lock();
    let mut done = 0usize;
    while done < buf.len() {
        let at = va.wrapping_add(done as u64);
        let Ok(pa) = s.space.translate(&Machine, at, Access::Read) else {
            return Some(false);
        };
        let n = ((0x1000 - (at & 0xfff)) as usize).min(buf.len() - done);
        // SAFETY: `translate` resolved the page to the lwVM's own memory (a grant), which
        // the EL2 map holds.
        unsafe { hv_arch::mem::read(pa, &mut buf[done..done + n]) };
        done += n;
    }
    Some(true)
}

/// Serves what shadow paging owns of lwVM `vm`'s trap `t`.
pub fn handle(vm: VmId, vcpu: &mut Vcpu, t: &LwTrap) -> Outcome {
    let Some((lw, sh)) = desc(vm) else {
        return Outcome::NotMine;
    };
    let LwTrap::Fault(f) = t else {
        return Outcome::NotMine;
    };
    use hv_lwvm::trap::LwFault;
    to_flat(lw);
    let mut guard = SLOTS[usize::from(sh.slot)].lock();
    let s = &mut *guard;
    let before = s.space.stats();
    let r = match *f {
        LwFault::Undefined => system_instruction(s, vcpu),
        LwFault::DataAbort { status, far, write } if paging_fault(status) && s.hw != 0 => {
            let access = if write { Access::Write } else { Access::Read };
            abort(s, vcpu, far, access)
        }
        LwFault::InstructionAbort { status, far } if paging_fault(status) && s.hw != 0 => {
            abort(s, vcpu, far, Access::Exec)
        }
        _ => return Outcome::NotMine,
    };
    let delivered = r.is_err();
    let out = match r {
        Ok(o) => o,
        Err(g) => deliver(s, vcpu, g),
    };
    if !matches!(out, Outcome::NotMine) {
        let hw = s.hw;
        refresh(s);
        record(
            vm,
            &before,
            &s.space.stats(),
            [delivered, hw != s.hw],
            va_of(f),
        );
    }
    out
}

/// The VA a fault names (0 for an instruction the lwVM executed).
fn va_of(f: &hv_lwvm::trap::LwFault) -> u64 {
    use hv_lwvm::trap::LwFault;
    match *f {
        LwFault::DataAbort { far, .. } | LwFault::InstructionAbort { far, .. } => far,
        _ => 0,
    }
}

/// One `Shadow` record per kind of operation the trap did (the counts between `a` and `b`).
/// `[delivered, switched]`: a fault went to the lwVM's handler, another root is installed.
fn record(vm: VmId, a: &Stats, b: &Stats, [delivered, switched]: [bool; 2], va: u64) {
    use super::super::super::telemetry::{self, ShadowOp};
    for (n, op) in [
        (b.flushes - a.flushes, ShadowOp::Flush),
        (b.fills - a.fills, ShadowOp::Fill),
        (b.table_writes - a.table_writes, ShadowOp::TableWrite),
        (b.tlbis - a.tlbis, ShadowOp::Tlbi),
        (u64::from(delivered), ShadowOp::GuestFault),
        (u64::from(switched), ShadowOp::Switch),
    ] {
        if n > 0 {
            telemetry::shadow(vm, op, va);
        }
    }
}

/// Faults the shadow resolves: translation, access flag and permission.
fn paging_fault(s: FaultStatus) -> bool {
    matches!(
        s,
        FaultStatus::Translation(_) | FaultStatus::AccessFlag(_) | FaultStatus::Permission(_)
    )
}

/// After any change: the TTBR0_EL2 to run with, and the shadow writes made visible.
fn refresh(s: &mut Slot) {
    s.hw = s.space.hw_ttbr(&mut Machine).unwrap_or(0);
    hv_lwvm::table_barrier();
}

/// Enters the lwVM's fault handler for its own fault `g`, or stops it without one.
fn deliver(s: &mut Slot, vcpu: &mut Vcpu, g: GuestFault) -> Outcome {
    if s.handler == 0 {
        return Outcome::Fault("page fault of its own tables, and no fault handler");
    }
    if vcpu.regs.elr == s.handler {
        // Its handler cannot even be fetched: entering it again would loop forever.
        return Outcome::Fault("page fault at the first instruction of its own fault handler");
    }
    vcpu.regs.x[0] = g.va;
    vcpu.regs.x[1] = g.syndrome();
    vcpu.regs.x[2] = vcpu.regs.elr;
    vcpu.regs.elr = s.handler;
    Outcome::Done
}

/// The instruction at the lwVM's PC, fetched through its own translation.
fn fetch(s: &Slot, vcpu: &Vcpu) -> Result<u32, GuestFault> {
    let pa = s.space.translate(&Machine, vcpu.regs.elr, Access::Exec)?;
    // SAFETY: `translate` resolved the PC to the lwVM's own memory.
    Ok(unsafe { core::ptr::read_volatile(pa as *const u32) })
}

/// General register `r` as an operand (31 is XZR).
fn xreg(vcpu: &Vcpu, r: u8) -> u64 {
    if r == 31 {
        0
    } else {
        vcpu.regs.x[usize::from(r)]
    }
}

/// EC 0x00 from a shadow-paged lwVM: an MSR/MRS of its translation registers or a TLBI
/// is emulated; anything else stays the undefined instruction it is.
fn system_instruction(s: &mut Slot, vcpu: &mut Vcpu) -> Result<Outcome, GuestFault> {
    let Some(insn) = decode_sys(fetch(s, vcpu)?) else {
        return Ok(Outcome::NotMine);
    };
    match insn {
        SysInsn::Msr { reg, rt } => {
            if let Err(e) = s.space.write_reg(&mut Machine, reg, xreg(vcpu, rt)) {
                return Ok(Outcome::Fault(e));
            }
        }
        SysInsn::Mrs { reg, rt } => {
            if rt != 31 {
                vcpu.regs.x[usize::from(rt)] = s.space.read_reg(reg);
            }
        }
        SysInsn::Tlbi { op, rt } => s.space.tlbi(&mut Machine, tlbi_op(op, xreg(vcpu, rt))),
    }
    vcpu.regs.elr += 4;
    Ok(Outcome::Done)
}

/// A translation, access-flag or permission fault with the lwVM's translation on.
fn abort(s: &mut Slot, vcpu: &mut Vcpu, far: u64, access: Access) -> Result<Outcome, GuestFault> {
    match s.space.fault(&mut Machine, far, access)? {
        Resolved::Filled => Ok(Outcome::Done),
        Resolved::TableWrite => emulate_store(s, vcpu),
    }
}

/// Emulates the store at the lwVM's PC, which writes one of its live tables.
fn emulate_store(s: &mut Slot, vcpu: &mut Vcpu) -> Result<Outcome, GuestFault> {
    let Some(st) = decode_store(fetch(s, vcpu)?) else {
        return Ok(Outcome::Fault(
            "a store to its page tables that is not emulated (use STR/STP/STLR of general registers)",
        ));
    };
    let (addr, base) = st.address(|r| xreg(vcpu, r), vcpu.el1.sp_el0);
    for (k, (v, bytes)) in st
        .values(|r| xreg(vcpu, r))
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = addr.wrapping_add(k as u64 * u64::from(bytes));
        s.space.table_write(&mut Machine, at, v, bytes)?;
    }
    if let Some(b) = base {
        if st.base == 31 {
            vcpu.el1.sp_el0 = b;
        } else {
            vcpu.regs.x[usize::from(st.base)] = b;
        }
    }
    vcpu.regs.elr += 4;
    Ok(Outcome::Done)
}
