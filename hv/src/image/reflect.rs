//! Fault reflection (after PHIDIAS): a stage-2 fault of a VM on a region the
//! configuration marks "emulated by VM X" is handed to VM X — a vIRQ tells it, FAULT_FETCH
//! gives it the access, FAULT_COMPLETE returns the result — while the faulting vCPU waits.
//! This lets a driver VM emulate a device for another VM.
//!
//! One slot per faulting vCPU; the protocol (tokens with a generation, so that a stale or
//! forged one is refused; only the VM the region names may fetch or complete) is
//! `hv_core::reflect`'s. This module keeps the slots and signals the VMs.
use core::sync::atomic::Ordering;

use hv_core::hypercall::{FaultAction, err};
use hv_core::ids::{VcpuId, VmId};
use hv_core::reflect::{Posted, Reflection, parse_token};
use hv_core::sysdesc::MmioTarget;
use hv_core::trap::abort::{FaultStatus, MmioAccess};
use hv_core::trap::inject::GuestException;

use super::decision::Outcome;
use super::generated::SYSTEM;
use super::inject::inject_fault;
use super::state::{self, MAX_VCPUS, Power, Vcpu};
use super::sync::SpinLock;
use super::{irq, kick, vmshared};
use crate::hvlog;

/// One reflection slot per vCPU (the protocol state is `hv_core::reflect`'s).
static SLOTS: [SpinLock<Reflection>; MAX_VCPUS] =
    [const { SpinLock::new(Reflection::new()) }; MAX_VCPUS];

/// The emulated region of VM `vm` that contains `ipa` (from the VM's MMIO route table).
pub fn region_of(vm: VmId, ipa: u64) -> Option<usize> {
    match hv_core::mmio::route(SYSTEM.vm(vm).mmio, ipa) {
        Some((MmioTarget::Reflected(k), _)) => Some(usize::from(k)),
        _ => None,
    }
}

/// Reflects vCPU `v`'s access to its region's emulating VM; the vCPU waits.
pub fn reflect(
    v: VcpuId,
    vcpu: &mut Vcpu,
    region: usize,
    acc: MmioAccess,
    far: u64,
    advance: u64,
) -> Outcome {
    let e = &SYSTEM.emulated[region];
    let wait = e.timeout_us as u64 * hv_arch::cpu::counter_frequency() / 1_000_000;
    SLOTS[v.index()].lock().post(Posted {
        region,
        access: acc,
        far,
        data: acc.store_value(vcpu.regs.get(acc.reg as usize)),
        advance,
        deadline: hv_arch::cpu::counter().saturating_add(wait),
    });
    vcpu.power = Power::Reflecting;
    let by = VmId::new(e.by);
    let target = vmshared::with_quiet(by, |s| s.vgic.spi_target(e.virt_intid)).unwrap_or(0);
    let _ = irq::raise(by, target, e.virt_intid);
    Outcome::Continue
}

/// FAULT_FETCH from VM `caller`: (token, ipa, size | write << 8, data) of the oldest
/// pending fault it emulates.
pub fn fetch(caller: VmId) -> Result<[u64; 4], i64> {
    for (slot, r) in SLOTS.iter().enumerate().take(SYSTEM.vcpus.len()) {
        let mut r = r.lock();
        if r.pending_region()
            .is_some_and(|region| emulates(caller, region))
            && let Some(f) = r.fetch(slot)
        {
            return Ok(f);
        }
    }
    Err(err::NO_ENTRY)
}

/// Whether VM `vm` emulates region `region`.
fn emulates(vm: VmId, region: usize) -> bool {
    SYSTEM.emulated[region].by == vm.raw()
}

/// FAULT_COMPLETE from VM `caller`.
pub fn complete(caller: VmId, token: u64, action: FaultAction, value: u64) -> i64 {
    let Some((slot, generation)) = parse_token(token, SYSTEM.vcpus.len()) else {
        return err::INVALID;
    };
    let r = SLOTS[slot]
        .lock()
        .complete(generation, action, value, |region| emulates(caller, region));
    if r == err::SUCCESS {
        kick::kick_vcpu(VcpuId::new(slot as u16));
    }
    r
}

/// Whether vCPU `v`, waiting for its reflected fault, may resume at counter value `now`:
/// the fault was completed, or it is abandoned now because its deadline passed or its
/// emulating VM is off (the vCPU then gets an external abort).
pub fn poll(v: VcpuId, now: u64) -> bool {
    let mut r = SLOTS[v.index()].lock();
    if r.is_complete() {
        return true;
    }
    let Some(region) = r.pending_region().or_else(|| r.fetched_region()) else {
        return false;
    };
    let e = &SYSTEM.emulated[region];
    let by = VmId::new(e.by);
    if !r.expire(now, state::vm(by).alive.load(Ordering::Acquire)) {
        return false;
    }
    drop(r);
    hvlog!(
        "vm {}: access to emulated region {:#x} abandoned ({}): external abort",
        SYSTEM.vm(SYSTEM.vm_of(v)).name,
        e.ipa,
        if state::vm(by).alive.load(Ordering::Acquire) {
            "no answer in time"
        } else {
            "its emulating VM is off"
        }
    );
    true
}

/// When vCPU `v`'s reflected fault is abandoned if nobody completes it.
pub fn deadline(v: VcpuId) -> Option<u64> {
    SLOTS[v.index()].lock().deadline()
}

/// Applies a completed reflected fault to vCPU `v` (loaded on this CPU); the outcome is
/// the emulating VM's verdict (it may stop the faulting VM).
pub fn apply_completion(v: VcpuId, vcpu: &mut Vcpu) -> Outcome {
    let Some(c) = SLOTS[v.index()].lock().take_completion() else {
        return Outcome::Continue;
    };
    let acc = c.posted.access;
    match c.action {
        FaultAction::Retry => {}
        FaultAction::Skip => {
            if !acc.write {
                vcpu.regs.set(acc.reg as usize, acc.load_value(c.value));
            }
            vcpu.regs.elr += c.posted.advance;
            vcpu.regs.spsr = hv_core::trap::aarch32::advance_itstate(vcpu.regs.spsr);
        }
        FaultAction::InjectAbort => inject_fault(
            vcpu,
            GuestException::DataAbort {
                status: FaultStatus::SyncExternal,
                far: c.posted.far,
                write: acc.write,
            },
        ),
        FaultAction::Stop => return Outcome::VmFault,
    }
    Outcome::Continue
}
